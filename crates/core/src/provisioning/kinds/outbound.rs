//! Outbound trunks: LiveKit's outbound SIP trunks, marked with our id in their metadata. An
//! Exotel trunk reaches LiveKit through trunkline's SIP bridge, so it has a LiveKit side only
//! when a bridge is configured, and then carries a generated bridge password.

use super::super::engine::{ConvergeKind, Wanted};
use super::super::requests::{NoClaims, RequestKind};
use super::super::{livekit_info, Provisioner};
use crate::records;
use crate::ServiceError;
use trunkline_domain::{TrunkConfig, TrunkId, TrunkType};
use trunkline_livekit::proto;
use trunkline_store::{now_micros, OutboundTrunkRow, Status};

pub(in super::super) struct OutboundTrunks;

impl ConvergeKind for OutboundTrunks {
    type Row = OutboundTrunkRow;
    type Object = proto::SipOutboundTrunkInfo;
    const NOUN: &'static str = "trunk";
    const OBJECT: &'static str = "trunk";

    fn remote_id(o: &Self::Object) -> &str {
        &o.sip_trunk_id
    }
    fn owner(o: &Self::Object) -> Option<String> {
        livekit_info::owner(o)
    }
    fn skips(&self, p: &Provisioner, row: &OutboundTrunkRow) -> bool {
        // An Exotel trunk without a bridge has no LiveKit side to converge.
        let Ok(kind) = records::outbound_trunk_type(row) else {
            return true;
        };
        !p.provisionable(kind) || row.status == Status::Error
    }
    async fn wanted(
        &self,
        p: &Provisioner,
        row: &OutboundTrunkRow,
    ) -> Result<Wanted<Self::Object>, ServiceError> {
        let config = records::open(&p.keyring, row)?;
        // An Exotel trunk stored before a bridge was configured has no bridge password yet:
        // give it one (conditionally on the secrets read), and provision on the next pass.
        let secrets = with_bridge_password(p, &row.id, &config, &row.secrets);
        if secrets != row.secrets {
            p.store
                .outbound_trunks()
                .replace_secrets(&row.id, &row.secrets, &secrets)
                .await?;
            return Ok(Wanted::Later);
        }
        Ok(
            match livekit_trunk(p, &row.id, &row.name, &config, &row.secrets)? {
                Some(w) => Wanted::Object(w),
                None => Wanted::Later,
            },
        )
    }
    fn drifted(actual: &Self::Object, wanted: &Self::Object) -> bool {
        livekit_info::drifted(actual, wanted)
    }
}

impl RequestKind for OutboundTrunks {
    /// A trunk's type and configuration.
    type Config = (TrunkType, TrunkConfig);
    type Claims = NoClaims;

    async fn new_row(
        &self,
        p: &Provisioner,
        tenant_id: &str,
        name: &str,
        (kind, config): &Self::Config,
        remote: bool,
    ) -> Result<OutboundTrunkRow, ServiceError> {
        let id = TrunkId::generate().to_string();
        let (public, secrets) = records::seal(&p.keyring, &id, config);
        let secrets = with_bridge_password(p, &id, config, &secrets);
        let status = if p.provisionable(*kind) {
            super::initial_status(remote)
        } else {
            Status::AwaitingBridge
        };
        let now = now_micros();
        Ok(OutboundTrunkRow {
            id,
            tenant_id: tenant_id.to_owned(),
            name: name.to_owned(),
            trunk_type: kind.as_str().to_owned(),
            config: public,
            secrets,
            status,
            livekit_trunk_id: None,
            desired_version: 1,
            synced_version: 0,
            last_error: None,
            synced_at: None,
            created_at: now,
            updated_at: now,
        })
    }

    /// The type cannot change (the API refuses it); the bridge password, not part of the
    /// client's configuration, is kept across edits.
    fn changed_row(
        &self,
        p: &Provisioner,
        row: &OutboundTrunkRow,
        name: &str,
        (_, config): &Self::Config,
    ) -> Result<OutboundTrunkRow, ServiceError> {
        let (public, secrets) = records::seal(&p.keyring, &row.id, config);
        let secrets = records::carry_sealed_field(&row.secrets, &secrets, records::BRIDGE_PASSWORD);
        let secrets = with_bridge_password(p, &row.id, config, &secrets);
        let secrets = records::keep_unchanged_sealed(&p.keyring, &row.secrets, &secrets, |f| {
            records::aad(&row.id, f)
        });
        Ok(OutboundTrunkRow {
            name: name.to_owned(),
            config: public,
            secrets,
            ..row.clone()
        })
    }

    fn claims(&self, _: &Provisioner, _: &OutboundTrunkRow) -> Result<NoClaims, ServiceError> {
        Ok(NoClaims)
    }
}

/// The LiveKit trunk a stored configuration wants, or `None` when it has no LiveKit side yet
/// (an Exotel trunk without a bridge, or without its bridge password).
fn livekit_trunk(
    p: &Provisioner,
    id: &str,
    name: &str,
    config: &TrunkConfig,
    secrets_json: &str,
) -> Result<Option<proto::SipOutboundTrunkInfo>, ServiceError> {
    Ok(match (config, &p.bridge) {
        (TrunkConfig::Sip(sip), _) => Some(livekit_info::outbound_trunk(id, name, sip)),
        (TrunkConfig::Exotel(ex), Some(bridge)) => {
            records::open_field(&p.keyring, id, secrets_json, records::BRIDGE_PASSWORD)?
                .map(|pw| livekit_info::bridge_trunk(id, name, ex, bridge, &pw))
        }
        (TrunkConfig::Exotel(_), None) => None,
    })
}

/// An Exotel trunk's sealed secrets with a bridge password, generated if it has none.
fn with_bridge_password(
    p: &Provisioner,
    id: &str,
    config: &TrunkConfig,
    secrets_json: &str,
) -> String {
    let has = serde_json::from_str::<std::collections::BTreeMap<String, String>>(secrets_json)
        .map(|m| m.contains_key(records::BRIDGE_PASSWORD))
        .unwrap_or(false);
    if !matches!(config, TrunkConfig::Exotel(_)) || p.bridge.is_none() || has {
        return secrets_json.to_owned();
    }
    records::with_sealed_field(
        &p.keyring,
        id,
        secrets_json,
        records::BRIDGE_PASSWORD,
        &crate::sealing::generate_secret_token(),
    )
}
