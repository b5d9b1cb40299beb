//! The Twilio side of automated outbound trunks: an Elastic SIP trunk per row, marked with
//! the row's id in its friendly name, carrying the generated credential and the numbers. One
//! instance of the kind answers for one provider account (its remote is that account's API).

use super::super::engine::{ConvergeKind, Wanted};
use super::super::requests::{NoClaims, RequestKind, Uncertain};
use super::super::twilio_remote::{marked, marker, TwilioTrunk};
use super::super::Provisioner;
use crate::records;
use crate::ServiceError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use trunkline_domain::ids::random_hex;
use trunkline_domain::TrunkConfig;
use trunkline_providers::Secret;
use trunkline_store::{ProviderTrunkRow, Status};

/// The sealed field holding the generated credential's password.
const PASSWORD: &str = "password";

pub(in super::super) struct TwilioTrunks {
    pub account_id: String,
}

/// A provider trunk's stored desired state (`config`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TwilioSideConfig {
    pub numbers: Vec<String>,
    /// The generated credential's username (set by the create; kept by changes).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// Only on a create: the generated password, sealed into `secrets`.
    #[serde(skip)]
    pub password: Option<String>,
    /// Where the trunk sends inbound calls (`LIVEKIT_SIP_URI`), for a trunk serving a
    /// trunkline inbound trunk; such a trunk has no credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origination: Option<String>,
}

impl TwilioSideConfig {
    pub fn of(row: &ProviderTrunkRow) -> Result<Self, ServiceError> {
        serde_json::from_str(&row.config).map_err(|e| {
            ServiceError::internal(format!("provider trunk {} config unreadable: {e}", row.id))
        })
    }
}

impl ConvergeKind for TwilioTrunks {
    type Row = ProviderTrunkRow;
    type Object = TwilioTrunk;
    const NOUN: &'static str = "provider trunk";
    const OBJECT: &'static str = "trunk";

    fn remote_id(o: &TwilioTrunk) -> &str {
        &o.sid
    }
    fn owner(o: &TwilioTrunk) -> Option<String> {
        marked(o.friendly_name.as_deref())
    }
    fn covers(&self, row: &ProviderTrunkRow) -> bool {
        row.account_id == self.account_id
    }
    fn skips(&self, _: &Provisioner, row: &ProviderTrunkRow) -> bool {
        row.status == Status::Error
    }
    async fn wanted(
        &self,
        p: &Provisioner,
        row: &ProviderTrunkRow,
    ) -> Result<Wanted<TwilioTrunk>, ServiceError> {
        let config = TwilioSideConfig::of(row)?;
        let sealed = records::open_field(&p.keyring, &row.id, &row.secrets, PASSWORD)?;
        let (username, password) = match (config.username.is_empty(), sealed) {
            (false, Some(pw)) => (config.username.clone(), Some(pw)),
            // Inbound only: Twilio sends calls to LiveKit and needs no credential.
            (true, _) if config.origination.is_some() => (String::new(), None),
            // A row from before the provider side was converged: its credential is the
            // one its LiveKit trunk presents.
            _ => match linked_credential(p, row).await? {
                Some((u, pw)) => (u, Some(pw)),
                None => return Ok(Wanted::Later),
            },
        };
        Ok(Wanted::Object(TwilioTrunk {
            sid: row.provider_trunk_sid.clone().unwrap_or_default(),
            friendly_name: Some(marker(&row.id)),
            domain_name: None,
            credential_lists: vec![],
            numbers: config.numbers.iter().cloned().collect::<BTreeSet<_>>(),
            origination_urls: vec![],
            origination: config.origination.clone(),
            username,
            password: password.map(Secret::new),
        }))
    }
    fn drifted(actual: &TwilioTrunk, wanted: &TwilioTrunk) -> bool {
        actual.drifted(wanted)
    }
}

/// The username and password of the LiveKit trunk a provider trunk serves.
async fn linked_credential(
    p: &Provisioner,
    row: &ProviderTrunkRow,
) -> Result<Option<(String, String)>, ServiceError> {
    let Some(trunk_id) = &row.trunk_id else {
        return Ok(None);
    };
    let Some(trunk) = p.store.outbound_trunks().live(trunk_id).await? else {
        return Ok(None);
    };
    let TrunkConfig::Sip(sip) = records::open(&p.keyring, &trunk)? else {
        return Ok(None);
    };
    Ok(match (sip.username, sip.password) {
        (Some(u), Some(pw)) => Some((u, pw.expose().to_owned())),
        _ => None,
    })
}

impl RequestKind for TwilioTrunks {
    type Config = TwilioSideConfig;
    type Claims = NoClaims;
    /// A trunk half-made by a timed-out create holds the account's numbers: remove it now.
    const UNCERTAIN: Uncertain = Uncertain::SweepNow;

    async fn new_row(
        &self,
        p: &Provisioner,
        tenant_id: &str,
        name: &str,
        config: &TwilioSideConfig,
        remote: bool,
    ) -> Result<ProviderTrunkRow, ServiceError> {
        let id = format!("PT_{}", random_hex());
        let secrets = match config.password.as_deref() {
            Some(pw) => records::with_sealed_field(&p.keyring, &id, "{}", PASSWORD, pw),
            None => "{}".to_owned(),
        };
        let stored = serde_json::to_string(config)
            .map_err(|e| ServiceError::internal(format!("provider trunk config: {e}")))?;
        Ok(super::new_provider_row(
            id,
            tenant_id,
            &self.account_id,
            name,
            stored,
            secrets,
            remote,
        ))
    }

    /// Only the numbers (and name) change; the credential stays the one LiveKit presents.
    fn changed_row(
        &self,
        _: &Provisioner,
        row: &ProviderTrunkRow,
        name: &str,
        config: &TwilioSideConfig,
    ) -> Result<ProviderTrunkRow, ServiceError> {
        let mut stored = TwilioSideConfig::of(row)?;
        stored.numbers = config.numbers.clone();
        let stored = serde_json::to_string(&stored)
            .map_err(|e| ServiceError::internal(format!("provider trunk config: {e}")))?;
        Ok(ProviderTrunkRow {
            name: name.to_owned(),
            config: stored,
            ..row.clone()
        })
    }

    fn claims(&self, _: &Provisioner, _: &ProviderTrunkRow) -> Result<NoClaims, ServiceError> {
        Ok(NoClaims)
    }
}
