//! Outbound trunks made at Twilio from a provider account: `POST /sip/create-outbound-trunk`
//! with `trunk_config: {"provider_account_id", "numbers"}` creates an Elastic SIP Trunk (its
//! domain derived from its sid), a credential list holding a generated credential associated
//! for termination, and the numbers on the trunk; then LiveKit's outbound trunk with that
//! domain and credential, through the usual create path (which seals the password).
//!
//! The Twilio side is a provisioned resource of its own (`PT_…`, converged by the engine:
//! `provisioning::provider_side`), so a failure on the way, a crash, an out-of-band change
//! or delete at Twilio are all repaired the same way as LiveKit's objects.

use super::connect::{service_error, AccountClient};
use crate::provisioning::provider_side::twilio_domain;
use crate::provisioning::{Created, TwilioSideConfig};
use crate::records;
use crate::{ServiceError, ServiceResult, Services};
use serde::Serialize;
use serde_json::{Map, Value};
use trunkline_domain::trunk::{validate_numbers, RawSipTrunkConfig};
use trunkline_domain::{ids::random_hex, TrunkConfig, TrunkType, ValidationErrors};
use trunkline_providers::twilio::TwilioClient;
use trunkline_store::{OutboundTrunkRow, ProviderTrunkRow};

/// The provider side of a trunk as `GET /sip/trunks/{id}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderSide {
    pub provider: &'static str,
    pub provider_account_id: String,
    /// trunkline's id of the provider side (`PT_…`), carried in the provider objects' names.
    pub provider_trunk_id: String,
    /// `provisioned`; `unprovisioned` while the provider cannot be reached (or before the
    /// first pass after an upgrade); `error` when the provider refused the configuration.
    pub status: String,
    /// Why the provider side is not `provisioned`.
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twilio_trunk_sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_list_sid: Option<String>,
    /// The domain calls go to: Twilio's termination domain (derived from the trunk's sid),
    /// Exotel's `<account_sid>.pstn.exotel.com`.
    pub domain_name: Option<String>,
    pub numbers: Vec<String>,
    /// Where Twilio sends the numbers' calls (LiveKit's SIP endpoint), for an inbound trunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origination_url: Option<String>,
    /// Exotel: the vSIP trunk's `trunk_sid`, its name (`tl_…`, trunkline's marker), the
    /// whitelisted IPs (the bridge's) and the destination URIs (inbound).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub exotel: Option<super::exotel_trunks::ExotelView>,
}

/// What Twilio requires of a credential's password (12 or more, a digit, both cases).
fn generated_password() -> String {
    format!("Tl9{}", &crate::sealing::generate_secret_token()[..29])
}

impl Services {
    /// Makes both sides of a Twilio trunk from `trunk_config`.
    pub async fn create_twilio_trunk(
        &self,
        tenant_id: &str,
        name: &str,
        trunk_type: &str,
        trunk_config: Map<String, Value>,
    ) -> ServiceResult<(Created, ProviderSide)> {
        if trunk_type != "twilio" {
            return Err(ServiceError::field(
                "trunk_type",
                "must be \"twilio\" or \"exotel\" with a provider_account_id: automated trunks are made at Twilio and Exotel",
            ));
        }
        let mut errors = ValidationErrors::default();
        for k in trunk_config.keys() {
            if !["provider_account_id", "numbers"].contains(&k.as_str()) {
                errors.push(
                    format!("trunk_config.{k}"),
                    "is not taken with provider_account_id: trunkline makes the address and credentials at Twilio",
                );
            }
        }
        let numbers: Vec<String> = match trunk_config.get("numbers") {
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => {
                errors.push(
                    "trunk_config.numbers",
                    "is required: a list of E.164 numbers of the Twilio account",
                );
                vec![]
            }
        };
        let numbers = validate_numbers(&mut errors, "trunk_config.numbers", &numbers);
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let account_id = trunk_config
            .get("provider_account_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.create_twilio_outbound(tenant_id, name, account_id, &numbers, None, "trunk_config.")
            .await
    }

    /// Makes both sides of an outbound trunk automated at Twilio for `numbers`; with
    /// `origination`, the Twilio trunk also sends the numbers' inbound calls there (a number
    /// used both ways, on one Twilio trunk). `prefix` goes before the field names of errors.
    pub(super) async fn create_twilio_outbound(
        &self,
        tenant_id: &str,
        name: &str,
        account_id: &str,
        numbers: &[trunkline_domain::E164],
        origination: Option<String>,
        prefix: &str,
    ) -> ServiceResult<(Created, ProviderSide)> {
        let (account, tw) = self
            .twilio_account_for(tenant_id, account_id, prefix)
            .await?;
        self.check_numbers_free(&tw, numbers, prefix).await?;
        let hex = random_hex();
        let username = format!("tl{}", &hex[..16]);
        let password = generated_password();
        let side_config = TwilioSideConfig {
            numbers: numbers.iter().map(|n| n.as_str().to_owned()).collect(),
            username: username.clone(),
            password: Some(password.clone()),
            origination,
        };
        // The Twilio side through the engine's create path: recorded `pending` first, so a
        // crash mid-way leaves a row the reconciler finds and cleans up with its objects.
        let wanted_numbers = side_config.numbers.clone();
        self.with_twilio_side(
            tenant_id,
            name,
            &account.id,
            &tw,
            &side_config,
            |side| async move {
                let tk = side
                    .provider_trunk_sid
                    .ok_or_else(|| ServiceError::internal("Twilio trunk without a sid"))?;
                let config = RawSipTrunkConfig {
                    address: Some(twilio_domain(&tk)),
                    numbers: Some(wanted_numbers),
                    username: Some(Some(username)),
                    password: Some(Some(password)),
                    transport: None,
                    media_encryption: None,
                }
                .validate(TrunkType::Twilio, "trunk_config")
                .map_err(|e| ServiceError::internal(format!("generated trunk config: {e}")))?;
                self.provisioner
                    .create(
                        tenant_id,
                        name,
                        TrunkType::Twilio,
                        &TrunkConfig::Sip(config),
                    )
                    .await
            },
        )
        .await
    }

    /// Makes the Twilio side, then the LiveKit side through `livekit` (the shared path,
    /// `sides.rs`: the Twilio side is removed again if LiveKit's fails).
    pub(super) async fn with_twilio_side<F, Fut>(
        &self,
        tenant_id: &str,
        name: &str,
        account_id: &str,
        tw: &TwilioClient,
        side_config: &TwilioSideConfig,
        livekit: F,
    ) -> ServiceResult<(Created, ProviderSide)>
    where
        F: FnOnce(ProviderTrunkRow) -> Fut,
        Fut: std::future::Future<Output = ServiceResult<Created>>,
    {
        let made = self
            .provisioner
            .create_twilio_side(tenant_id, name, account_id, tw, side_config)
            .await?;
        self.with_side(tenant_id, tw, made, livekit).await
    }

    /// Changes the Twilio side's numbers (if they change), then the LiveKit side through
    /// `livekit`; if that fails, Twilio gets the old numbers back (or, if it cannot be
    /// reached, the next pass puts the stored ones back).
    pub(super) async fn with_twilio_numbers<Fut>(
        &self,
        side_row: &ProviderTrunkRow,
        name: &str,
        numbers: Vec<String>,
        livekit: Fut,
    ) -> ServiceResult<()>
    where
        Fut: std::future::Future<Output = ServiceResult<()>>,
    {
        let before = TwilioSideConfig::of(side_row)?;
        let tw = self.twilio_client_of(side_row).await?;
        let changes = numbers != before.numbers;
        if changes {
            let wanted = TwilioSideConfig {
                numbers,
                ..before.clone()
            };
            self.provisioner
                .update_twilio_side(side_row, &tw, name, &wanted)
                .await?;
        }
        let Err(e) = livekit.await else {
            return Ok(());
        };
        if changes {
            if let Some(now) = self.store.provider_trunks().live(&side_row.id).await? {
                if let Err(undo) = self
                    .provisioner
                    .update_twilio_side(&now, &tw, &now.name, &before)
                    .await
                {
                    tracing::warn!(provider_trunk = %side_row.id, error = %undo, "Twilio keeps the new numbers until a pass puts the stored ones back");
                }
            }
        }
        Err(e)
    }

    /// A PATCH of an automated trunk: its address and credential are trunkline's (refused
    /// if changed); new numbers go to Twilio first, then to LiveKit and the trunk. If LiveKit
    /// refuses, Twilio gets the old numbers back.
    pub async fn update_twilio_trunk(
        &self,
        row: &OutboundTrunkRow,
        side_row: &ProviderTrunkRow,
        name: &str,
        config: &TrunkConfig,
    ) -> ServiceResult<()> {
        if crate::provisioning::ExotelSideConfig::is(side_row) {
            return self.update_exotel_trunk(row, name, config).await;
        }
        let TrunkConfig::Sip(new) = config else {
            return Err(ServiceError::internal("an automated trunk that is not SIP"));
        };
        let TrunkConfig::Sip(old) = records::open(&self.keyring, row)? else {
            return Err(ServiceError::internal("an automated trunk that is not SIP"));
        };
        let mut errors = ValidationErrors::default();
        let managed = "is made by trunkline at Twilio for this trunk and cannot be changed";
        if new.address != old.address {
            errors.push("trunk_config.address", managed);
        }
        if new.username != old.username {
            errors.push("trunk_config.username", managed);
        }
        if new.password != old.password {
            errors.push("trunk_config.password", managed);
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let numbers: Vec<String> = new.numbers.iter().map(|n| n.as_str().to_owned()).collect();
        self.with_twilio_numbers(
            side_row,
            name,
            numbers,
            self.provisioner.update(row, name, config),
        )
        .await
    }

    /// The tenant's Twilio account `account_id` and its client; a 400 naming
    /// `{prefix}provider_account_id` otherwise.
    pub(super) async fn twilio_account_for(
        &self,
        tenant_id: &str,
        account_id: &str,
        prefix: &str,
    ) -> ServiceResult<(trunkline_store::ProviderAccountRow, TwilioClient)> {
        let field = format!("{prefix}provider_account_id");
        let wrong = "this takes a Twilio account (an outbound trunk from an Exotel account: trunk_type \"exotel\"; see the README's provider automation section)";
        match self
            .account_client_for(tenant_id, account_id, &field, "twilio", wrong)
            .await?
        {
            (account, AccountClient::Twilio(tw)) => Ok((account, tw)),
            _ => Err(ServiceError::internal(
                "a Twilio account without a Twilio client",
            )),
        }
    }

    /// Every number must be the account's and on no trunk yet: trunkline never takes a
    /// number off a trunk it did not make.
    pub(super) async fn check_numbers_free(
        &self,
        tw: &TwilioClient,
        numbers: &[trunkline_domain::E164],
        prefix: &str,
    ) -> ServiceResult<()> {
        for (i, n) in numbers.iter().enumerate() {
            let found = tw
                .find_incoming_number(n.as_str())
                .await
                .map_err(|e| service_error(e, "nothing was created"))?;
            match found {
                None => {
                    return Err(ServiceError::field(
                        format!("{prefix}numbers[{i}]"),
                        format!("{n} is not a number of this Twilio account"),
                    ))
                }
                Some(p) if p.trunk_sid.is_some() => {
                    return Err(ServiceError::Conflict(format!(
                        "{n} is already on Twilio trunk {}: take it off that trunk first (trunkline does not move numbers it did not place)",
                        p.trunk_sid.unwrap_or_default()
                    )))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The Twilio client of the account a provider trunk was made from.
    pub(super) async fn twilio_client_of(
        &self,
        side_row: &ProviderTrunkRow,
    ) -> ServiceResult<TwilioClient> {
        match self.client_of(side_row).await? {
            AccountClient::Twilio(tw) => Ok(tw),
            _ => Err(ServiceError::internal(
                "a provider trunk of a non-Twilio account",
            )),
        }
    }

    /// The provider side of trunk `row`, if trunkline made one.
    pub async fn provider_side(
        &self,
        row: &OutboundTrunkRow,
    ) -> ServiceResult<Option<ProviderSide>> {
        Ok(self
            .store
            .provider_trunk_of(&row.id)
            .await?
            .as_ref()
            .map(super::sides::side))
    }

    /// Removes the provider's objects of trunk `row` before the trunk itself goes: an outage
    /// leaves both sides as they were (503), and a second delete finishes the job.
    pub async fn delete_provider_side(&self, row: &OutboundTrunkRow) -> ServiceResult<()> {
        let Some(side_row) = self.store.provider_trunk_of(&row.id).await? else {
            return Ok(());
        };
        self.remove_provider_side(&side_row).await
    }
}

pub(super) fn side(row: &ProviderTrunkRow) -> ProviderSide {
    let config = TwilioSideConfig::of(row).unwrap_or_default();
    ProviderSide {
        provider: "twilio",
        provider_account_id: row.account_id.clone(),
        provider_trunk_id: row.id.clone(),
        status: row.status.to_string(),
        last_error: row.last_error.clone(),
        twilio_trunk_sid: row.provider_trunk_sid.clone(),
        credential_list_sid: row.credential_list_sid.clone(),
        domain_name: row.provider_trunk_sid.as_deref().map(twilio_domain),
        numbers: config.numbers,
        origination_url: config.origination,
        exotel: None,
    }
}
