//! The Exotel side of automated trunks: a vSIP trunk per row, named after the row's id
//! (`exotel_remote::trunk_name_for`), with the bridge's public IP whitelisted and the numbers
//! mapped (outbound), or destination URIs (inbound). One instance of the kind answers for
//! one provider account.

use super::super::engine::{ConvergeKind, Wanted};
use super::super::exotel_remote::{owner_of, trunk_name_for, ExotelTrunk, ID_HEX};
use super::super::requests::{NoClaims, RequestKind, Uncertain};
use super::super::Provisioner;
use crate::ServiceError;
use serde::{Deserialize, Serialize};
use trunkline_domain::ids::random_hex;
use trunkline_store::{ProviderTrunkRow, Status};

/// The `provider` an Exotel provider trunk's stored configuration names (a Twilio one names
/// none).
pub const EXOTEL: &str = "exotel";

pub(in super::super) struct ExotelTrunks {
    pub account_id: String,
}

/// An Exotel provider trunk's stored desired state (`config`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExotelSideConfig {
    /// Always `exotel`: how a provider trunk's row says whose it is.
    pub provider: String,
    /// Numbers mapped to the trunk (mode `pstn`): the ExoPhones calls go out from.
    pub numbers: Vec<String>,
    /// IPv4 addresses whitelisted on the trunk: the bridge's public address.
    #[serde(default)]
    pub whitelisted_ips: Vec<String>,
    /// Destination URIs (`host:port;transport=tls|tcp`): where Exotel delivers inbound calls.
    #[serde(default)]
    pub destinations: Vec<String>,
    /// The trunk's domain (`<account_sid>.pstn.exotel.com`), for display.
    #[serde(default)]
    pub domain_name: String,
}

impl ExotelSideConfig {
    pub fn of(row: &ProviderTrunkRow) -> Result<Self, ServiceError> {
        serde_json::from_str(&row.config).map_err(|e| {
            ServiceError::internal(format!("provider trunk {} config unreadable: {e}", row.id))
        })
    }

    /// Whether `row` is an Exotel provider trunk.
    pub fn is(row: &ProviderTrunkRow) -> bool {
        serde_json::from_str::<serde_json::Value>(&row.config)
            .is_ok_and(|v| v.get("provider").and_then(|p| p.as_str()) == Some(EXOTEL))
    }

    fn stored(&self) -> Result<String, ServiceError> {
        let mut c = self.clone();
        c.provider = EXOTEL.into();
        serde_json::to_string(&c)
            .map_err(|e| ServiceError::internal(format!("provider trunk config: {e}")))
    }
}

impl ConvergeKind for ExotelTrunks {
    type Row = ProviderTrunkRow;
    type Object = ExotelTrunk;
    const NOUN: &'static str = "provider trunk";
    const OBJECT: &'static str = "vSIP trunk";

    fn remote_id(o: &ExotelTrunk) -> &str {
        &o.sid
    }
    fn owner(o: &ExotelTrunk) -> Option<String> {
        owner_of(&o.trunk_name)
    }
    fn covers(&self, row: &ProviderTrunkRow) -> bool {
        row.account_id == self.account_id
    }
    fn skips(&self, _: &Provisioner, row: &ProviderTrunkRow) -> bool {
        row.status == Status::Error
    }
    async fn wanted(
        &self,
        _: &Provisioner,
        row: &ProviderTrunkRow,
    ) -> Result<Wanted<ExotelTrunk>, ServiceError> {
        let config = ExotelSideConfig::of(row)?;
        Ok(Wanted::Object(ExotelTrunk {
            sid: row.provider_trunk_sid.clone().unwrap_or_default(),
            trunk_name: trunk_name_for(&row.id),
            ips: config.whitelisted_ips.iter().cloned().collect(),
            numbers: config
                .numbers
                .iter()
                .map(|n| (n.clone(), (String::new(), true)))
                .collect(),
            destinations: config.destinations.iter().cloned().collect(),
        }))
    }
    fn drifted(actual: &ExotelTrunk, wanted: &ExotelTrunk) -> bool {
        actual.drifted(wanted)
    }
}

impl RequestKind for ExotelTrunks {
    type Config = ExotelSideConfig;
    type Claims = NoClaims;
    /// A trunk half-made by a timed-out step holds the account's number: remove it now.
    const UNCERTAIN: Uncertain = Uncertain::SweepNow;

    async fn new_row(
        &self,
        _: &Provisioner,
        tenant_id: &str,
        name: &str,
        config: &ExotelSideConfig,
        remote: bool,
    ) -> Result<ProviderTrunkRow, ServiceError> {
        // Short enough for the whole id to ride in Exotel's 16-character trunk name.
        let id = format!("PT_{}", &random_hex()[..ID_HEX]);
        Ok(super::provider::fresh_row(
            id,
            tenant_id,
            &self.account_id,
            name,
            config.stored()?,
            "{}".to_owned(),
            remote,
        ))
    }

    fn changed_row(
        &self,
        _: &Provisioner,
        row: &ProviderTrunkRow,
        name: &str,
        config: &ExotelSideConfig,
    ) -> Result<ProviderTrunkRow, ServiceError> {
        Ok(ProviderTrunkRow {
            name: name.to_owned(),
            config: config.stored()?,
            ..row.clone()
        })
    }

    fn claims(&self, _: &Provisioner, _: &ProviderTrunkRow) -> Result<NoClaims, ServiceError> {
        Ok(NoClaims)
    }
}
