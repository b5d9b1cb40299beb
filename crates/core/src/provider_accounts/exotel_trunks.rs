//! Outbound trunks made at Exotel from a provider account: `POST /sip/create-outbound-trunk`
//! with `trunk_type "exotel"` and `trunk_config: {"provider_account_id", "exotel_number"}`
//! makes a vSIP trunk (named after trunkline's id, `tl_…`), whitelists the bridge's public IP
//! on it (`TRUNKLINE_BRIDGE_PUBLIC_ADDRESS`) and maps the number (mode `pstn`); then the
//! trunkline Exotel trunk, which reaches Exotel through the bridge as any Exotel trunk does.
//!
//! The Exotel side is a provider trunk (`PT_…`) converged by the engine like Twilio's
//! (`provisioning::exotel_side`).

use super::connect::{service_error, AccountClient};
use super::sides::ProviderSide;
use crate::provisioning::{Created, ExotelSideConfig};
use crate::records;
use crate::{ServiceError, ServiceResult, Services};
use serde_json::{Map, Value};
use std::net::{IpAddr, Ipv4Addr};
use trunkline_domain::trunk::RawExotelConfig;
use trunkline_domain::{TrunkConfig, TrunkType, ValidationErrors, E164};
use trunkline_providers::exotel::{domain_name, ExotelClient};
use trunkline_store::{OutboundTrunkRow, ProviderAccountRow};

/// How an automated Exotel trunk is reached (overrides of the defaults) and how errors name
/// the request's fields.
pub(super) struct BridgeTarget<'a> {
    pub sip_host: Option<String>,
    pub sip_port: Option<i64>,
    /// Before `provider_account_id` in errors.
    pub prefix: &'a str,
    /// The field holding the number.
    pub number_field: &'a str,
}

const AUTOMATED_FIELDS: [&str; 4] = [
    "provider_account_id",
    "exotel_number",
    "sip_host",
    "sip_port",
];

impl Services {
    /// Makes both sides of an Exotel trunk from `trunk_config`.
    pub async fn create_exotel_trunk(
        &self,
        tenant_id: &str,
        name: &str,
        trunk_config: Map<String, Value>,
    ) -> ServiceResult<(Created, ProviderSide)> {
        let mut errors = ValidationErrors::default();
        for k in trunk_config.keys() {
            if !AUTOMATED_FIELDS.contains(&k.as_str()) {
                errors.push(
                    format!("trunk_config.{k}"),
                    "is not taken with provider_account_id: trunkline makes the vSIP trunk at Exotel (only exotel_number, and optionally sip_host and sip_port, are)",
                );
            }
        }
        let number = match trunk_config.get("exotel_number") {
            Some(Value::String(n)) => {
                errors.take(E164::parse_indian("trunk_config.exotel_number", n))
            }
            _ => {
                errors.push(
                    "trunk_config.exotel_number",
                    "is required: an ExoPhone of the Exotel account (E.164, or 0 and 10 digits)",
                );
                None
            }
        };
        let sip_port = match trunk_config.get("sip_port") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_i64() {
                Some(p) => Some(p),
                None => {
                    errors.push("trunk_config.sip_port", "must be a port number");
                    None
                }
            },
        };
        let sip_host = match trunk_config.get("sip_host") {
            None | Some(Value::Null) => None,
            Some(Value::String(h)) => Some(h.clone()),
            Some(_) => {
                errors.push("trunk_config.sip_host", "must be a host name");
                None
            }
        };
        let (Some(number), true) = (number, errors.is_empty()) else {
            return Err(errors.into());
        };
        let account_id = trunk_config
            .get("provider_account_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let target = BridgeTarget {
            sip_host,
            sip_port,
            prefix: "trunk_config.",
            number_field: "trunk_config.exotel_number",
        };
        self.create_exotel_outbound(tenant_id, name, account_id, &number, target)
            .await
    }

    /// Makes both sides of an outbound trunk automated at Exotel for `number` (the shared
    /// part of `POST /sip/create-outbound-trunk` and `POST /numbers`).
    pub(super) async fn create_exotel_outbound(
        &self,
        tenant_id: &str,
        name: &str,
        account_id: &str,
        number: &E164,
        target: BridgeTarget<'_>,
    ) -> ServiceResult<(Created, ProviderSide)> {
        let BridgeTarget {
            sip_host,
            sip_port,
            prefix,
            number_field,
        } = target;
        let (account, client) = self
            .exotel_account_for(tenant_id, account_id, prefix)
            .await?;
        let AccountClient::Exotel(ex) = &client else {
            return Err(ServiceError::internal(
                "an Exotel account without an Exotel client",
            ));
        };
        let ip = self.bridge_public_ip()?;
        let domain = domain_name(ex.account_sid());
        if trunkline_domain::HostName::domain("domain", &domain).is_err() {
            return Err(ServiceError::field(
                format!("{prefix}provider_account_id"),
                format!("is an Exotel account whose account_sid cannot begin a SIP domain ({domain}), so its trunks cannot be automated; nothing was created"),
            ));
        }
        // The trunk as the bridge dials it: Exotel's SIP server is the account's domain
        // (seed 003's PBX settings), the bridge's default port unless one is given.
        let config = RawExotelConfig {
            exotel_number: Some(number.as_str().to_owned()),
            sip_host: Some(Some(sip_host.unwrap_or_else(|| domain.clone()))),
            sip_port: Some(sip_port),
            sip_domain: Some(Some(domain.clone())),
            auth_username: None,
            auth_password: None,
        }
        .validate("trunk_config")?;
        self.check_exophone(ex, account_id, number, number_field)
            .await?;
        let side_config = ExotelSideConfig {
            numbers: vec![number.as_str().to_owned()],
            whitelisted_ips: vec![ip.to_string()],
            domain_name: domain,
            ..Default::default()
        };
        let made = self
            .provisioner
            .create_exotel_side(tenant_id, name, account_id, ex, &side_config)
            .await?;
        let config = TrunkConfig::Exotel(config);
        self.with_made_side(tenant_id, &account, &client, made, |_| {
            self.provisioner
                .create(tenant_id, name, TrunkType::Exotel, &config)
        })
        .await
    }

    /// A PATCH of a trunk automated at Exotel: the number, domain and credentials are what
    /// trunkline set up at Exotel (refused if changed: Exotel's API cannot unmap a number);
    /// the name, `sip_host` and `sip_port` change as on any Exotel trunk.
    pub async fn update_exotel_trunk(
        &self,
        row: &OutboundTrunkRow,
        name: &str,
        config: &TrunkConfig,
    ) -> ServiceResult<()> {
        let (TrunkConfig::Exotel(new), TrunkConfig::Exotel(old)) =
            (config, records::open(&self.keyring, row)?)
        else {
            return Err(ServiceError::internal(
                "an Exotel-automated trunk that is not Exotel",
            ));
        };
        let mut errors = ValidationErrors::default();
        let managed = "is set up by trunkline at Exotel for this trunk and cannot be changed (Exotel's API cannot unmap a number): create another trunk";
        if new.exotel_number != old.exotel_number {
            errors.push("trunk_config.exotel_number", managed);
        }
        if new.sip_domain != old.sip_domain {
            errors.push("trunk_config.sip_domain", managed);
        }
        if new.auth_username != old.auth_username || new.auth_password != old.auth_password {
            errors.push("trunk_config.auth_username", managed);
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        self.provisioner.update(row, name, config).await
    }

    /// The tenant's Exotel account `account_id` and its client; a 400 naming
    /// `{prefix}provider_account_id` otherwise.
    pub(super) async fn exotel_account_for(
        &self,
        tenant_id: &str,
        account_id: &str,
        prefix: &str,
    ) -> ServiceResult<(ProviderAccountRow, AccountClient)> {
        let field = format!("{prefix}provider_account_id");
        let (account, client) = self.account_client(tenant_id, account_id, &field).await?;
        if account.provider != "exotel" {
            return Err(ServiceError::field(
                field,
                format!(
                    "is a {} account: trunk_type \"exotel\" takes an Exotel account",
                    account.provider
                ),
            ));
        }
        Ok((account, client))
    }

    /// The IPv4 address Exotel must whitelist: the bridge's public address. Unset (or not
    /// IPv4, which Exotel's ACLs cannot hold): 503, nothing made.
    pub(super) fn bridge_public_ip(&self) -> ServiceResult<Ipv4Addr> {
        match self.providers.bridge_public_address.map(|a| a.ip()) {
            Some(IpAddr::V4(ip)) => Ok(ip),
            Some(IpAddr::V6(_)) => Err(ServiceError::Unavailable(
                "TRUNKLINE_BRIDGE_PUBLIC_ADDRESS is an IPv6 address, and Exotel whitelists IPv4 only; nothing was created".into(),
            )),
            None => Err(ServiceError::Unavailable(
                "TRUNKLINE_BRIDGE_PUBLIC_ADDRESS is not set on this server, so trunkline cannot tell Exotel which IP to whitelist (the bridge's public address); nothing was created".into(),
            )),
        }
    }

    /// The number must be an ExoPhone of the account, and in no other live trunk trunkline
    /// made at Exotel.
    pub(super) async fn check_exophone(
        &self,
        ex: &ExotelClient,
        account_id: &str,
        number: &E164,
        field: &str,
    ) -> ServiceResult<()> {
        let phones = ex
            .list_exophones()
            .await
            .map_err(|e| service_error(e, "nothing was created"))?;
        let ours = phones
            .iter()
            .any(|p| E164::parse_indian("", &p.phone_number).is_ok_and(|n| n == *number));
        if !ours {
            return Err(ServiceError::field(
                field,
                format!("{number} is not an ExoPhone of this Exotel account (GET /provider-accounts/{account_id}/numbers lists them)"),
            ));
        }
        for row in self.store.provider_trunks().all_live().await? {
            if row.account_id == account_id
                && ExotelSideConfig::of(&row)
                    .is_ok_and(|c| c.numbers.contains(&number.as_str().to_owned()))
            {
                return Err(ServiceError::Conflict(format!(
                    "{number} is already mapped to the vSIP trunk of provider trunk {}: delete that trunk first",
                    row.id
                )));
            }
        }
        Ok(())
    }
}
