//! The provider side of automated trunks: one object per row at the provider (a Twilio
//! Elastic SIP trunk, a Telnyx connection), marked with the row's id in its name, carrying the
//! generated credential and the numbers. The kind is the same for every provider; what
//! differs is the object ([`SideObject`]) and the account's API (its `Remote`). One instance
//! of the kind answers for one provider account.

use super::super::engine::{ConvergeKind, Wanted};
use super::super::requests::{NoClaims, RequestKind, Uncertain};
use super::super::Provisioner;
use crate::records;
use crate::ServiceError;
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;
use trunkline_domain::ids::random_hex;
use trunkline_domain::TrunkConfig;
use trunkline_providers::Secret;
use trunkline_store::{now_micros, NewProviderTrunk, ProviderTrunkRow, Status};

/// The sealed field holding the generated credential's password.
const PASSWORD: &str = "password";

/// The name prefix that marks a provider's object as trunkline's.
const MARK: &str = "trunkline ";

/// The name (friendly name, connection name) of the provider objects made for provider
/// trunk `id`.
pub(crate) fn marker(id: &str) -> String {
    format!("{MARK}{id}")
}

/// The provider-trunk id a name marks, if it is one of ours.
pub(crate) fn marked(name: Option<&str>) -> Option<String> {
    name.and_then(|n| n.strip_prefix(MARK))
        .filter(|id| id.starts_with("PT_"))
        .map(str::to_owned)
}

/// What a provider plugs in: the object a row wants at the provider, how it names its row,
/// how to tell drift, and where LiveKit dials it.
pub(crate) trait SideObject: Clone + Send + Sync + 'static {
    /// The provider's id of the object.
    fn remote_id(&self) -> &str;
    /// The provider-trunk id (`PT_…`) the object's name marks, if it is one of ours.
    fn owner(&self) -> Option<String>;
    /// The object row `row` wants: `config`, with the credential LiveKit presents (username
    /// empty for a side that only takes inbound calls) and its password.
    fn wanted(
        row: &ProviderTrunkRow,
        config: &ProviderSideConfig,
        username: String,
        password: Option<Secret>,
    ) -> Self;
    /// Whether the object differs from `wanted` in what trunkline owns.
    fn drifted(&self, wanted: &Self) -> bool;
    /// The address LiveKit's outbound trunk dials for the object `remote_id`.
    fn livekit_address(remote_id: &str) -> String;
}

pub(in super::super) struct ProviderTrunks<O> {
    pub account_id: String,
    object: PhantomData<fn() -> O>,
}

impl<O> ProviderTrunks<O> {
    pub(in super::super) fn of(account_id: &str) -> Self {
        Self {
            account_id: account_id.to_owned(),
            object: PhantomData,
        }
    }
}

/// A provider trunk's stored desired state (`config`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderSideConfig {
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
    /// The numbers are LiveKit's caller ids only and stay where they are at the provider:
    /// another side of the same setup routes their inbound calls (a Telnyx number has one
    /// connection; see `provider_accounts::telnyx_numbers`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub caller_ids_only: bool,
}

impl ProviderSideConfig {
    pub fn of(row: &ProviderTrunkRow) -> Result<Self, ServiceError> {
        serde_json::from_str(&row.config).map_err(|e| {
            ServiceError::internal(format!("provider trunk {} config unreadable: {e}", row.id))
        })
    }
}

impl<O: SideObject> ConvergeKind for ProviderTrunks<O> {
    type Row = ProviderTrunkRow;
    type Object = O;
    const NOUN: &'static str = "provider trunk";
    const OBJECT: &'static str = "trunk";

    fn remote_id(o: &O) -> &str {
        o.remote_id()
    }
    fn owner(o: &O) -> Option<String> {
        o.owner()
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
    ) -> Result<Wanted<O>, ServiceError> {
        let config = ProviderSideConfig::of(row)?;
        let sealed = records::open_field(&p.keyring, &row.id, &row.secrets, PASSWORD)?;
        let (username, password) = match (config.username.is_empty(), sealed) {
            (false, Some(pw)) => (config.username.clone(), Some(pw)),
            // Inbound only: the provider sends calls to LiveKit and needs no credential.
            (true, _) if config.origination.is_some() => (String::new(), None),
            // A row from before the provider side was converged: its credential is the
            // one its LiveKit trunk presents.
            _ => match linked_credential(p, row).await? {
                Some((u, pw)) => (u, Some(pw)),
                None => return Ok(Wanted::Later),
            },
        };
        Ok(Wanted::Object(O::wanted(
            row,
            &config,
            username,
            password.map(Secret::new),
        )))
    }
    fn drifted(actual: &O, wanted: &O) -> bool {
        actual.drifted(wanted)
    }
}

/// A new provider trunk row (any provider's kind), not yet linked to a trunk.
pub(super) fn fresh_row(
    id: String,
    tenant_id: &str,
    account_id: &str,
    name: &str,
    config: String,
    secrets: String,
    remote: bool,
) -> ProviderTrunkRow {
    ProviderTrunkRow::fresh(
        NewProviderTrunk {
            id,
            tenant_id: tenant_id.to_owned(),
            account_id: account_id.to_owned(),
            trunk_id: None,
            name: name.to_owned(),
            config,
            secrets,
            provider_trunk_sid: None,
            credential_list_sid: None,
        },
        super::initial_status(remote),
        now_micros(),
    )
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

impl<O: SideObject> RequestKind for ProviderTrunks<O> {
    type Config = ProviderSideConfig;
    type Claims = NoClaims;
    /// An object half-made by a timed-out create holds the account's numbers: remove it now.
    const UNCERTAIN: Uncertain = Uncertain::SweepNow;

    async fn new_row(
        &self,
        p: &Provisioner,
        tenant_id: &str,
        name: &str,
        config: &ProviderSideConfig,
        remote: bool,
    ) -> Result<ProviderTrunkRow, ServiceError> {
        let id = format!("PT_{}", random_hex());
        let secrets = match config.password.as_deref() {
            Some(pw) => records::with_sealed_field(&p.keyring, &id, "{}", PASSWORD, pw),
            None => "{}".to_owned(),
        };
        let stored = serde_json::to_string(config)
            .map_err(|e| ServiceError::internal(format!("provider trunk config: {e}")))?;
        Ok(fresh_row(
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
        config: &ProviderSideConfig,
    ) -> Result<ProviderTrunkRow, ServiceError> {
        let mut stored = ProviderSideConfig::of(row)?;
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
