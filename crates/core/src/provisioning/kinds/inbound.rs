//! Inbound trunks: LiveKit's inbound SIP trunks, marked with our id in their metadata. A
//! trunk claims its (number, caller) pairs, as LiveKit's conflict check counts them, in the
//! database first; dispatch rules name trunks, so rules follow a trunk that comes or goes.

use super::super::engine::{ConvergeKind, Wanted};
use super::super::inbound::{self as stored, claims, conflict, in_use};
use super::super::requests::{ClaimSet, RequestKind, Uncertain};
use super::super::Provisioner;
use crate::ServiceError;
use trunkline_domain::inbound::InboundTrunkConfig;
use trunkline_domain::TrunkId;
use trunkline_livekit::proto;
use trunkline_store::{now_micros, InboundTrunkRow, NewInboundTrunk, NumberClaim, Status};

pub(in super::super) struct InboundTrunks;

impl ConvergeKind for InboundTrunks {
    type Row = InboundTrunkRow;
    type Object = proto::SipInboundTrunkInfo;
    const NOUN: &'static str = "inbound trunk";
    const OBJECT: &'static str = "trunk";

    fn remote_id(o: &Self::Object) -> &str {
        &o.sip_trunk_id
    }
    fn owner(o: &Self::Object) -> Option<String> {
        stored::owner(o)
    }
    fn skips(&self, _: &Provisioner, row: &InboundTrunkRow) -> bool {
        row.status == Status::Error
    }
    async fn wanted(
        &self,
        p: &Provisioner,
        row: &InboundTrunkRow,
    ) -> Result<Wanted<Self::Object>, ServiceError> {
        let config = stored::open(&p.keyring, row)?;
        if !p
            .unapproved_numbers(&row.tenant_id, &config)
            .await?
            .is_empty()
        {
            return Ok(Wanted::Wait(Status::AwaitingApproval));
        }
        Ok(Wanted::Object(stored::livekit_trunk(
            &row.id, &row.name, &config,
        )))
    }
    fn drifted(actual: &Self::Object, wanted: &Self::Object) -> bool {
        drifted(actual, wanted)
    }
}

impl RequestKind for InboundTrunks {
    type Config = InboundTrunkConfig;
    type Claims = Vec<NumberClaim>;
    /// A trunk LiveKit may hold would keep its numbers claimed there by a trunk nobody knows.
    const UNCERTAIN: Uncertain = Uncertain::SweepNow;

    async fn new_row(
        &self,
        p: &Provisioner,
        tenant_id: &str,
        name: &str,
        config: &InboundTrunkConfig,
        remote: bool,
    ) -> Result<InboundTrunkRow, ServiceError> {
        stored::check_size(config)?;
        let id = TrunkId::generate().to_string();
        let (public, secrets) = stored::seal(&p.keyring, &id, config);
        // A number the operator has not approved for the tenant keeps the trunk out of LiveKit.
        let status = if p.unapproved_numbers(tenant_id, config).await?.is_empty() {
            super::initial_status(remote)
        } else {
            Status::AwaitingApproval
        };
        Ok(InboundTrunkRow::fresh(
            NewInboundTrunk {
                id,
                tenant_id: tenant_id.to_owned(),
                name: name.to_owned(),
                config: public,
                secrets,
                livekit_trunk_id: None,
            },
            status,
            now_micros(),
        ))
    }

    fn changed_row(
        &self,
        p: &Provisioner,
        row: &InboundTrunkRow,
        name: &str,
        config: &InboundTrunkConfig,
    ) -> Result<InboundTrunkRow, ServiceError> {
        stored::check_size(config)?;
        let (public, secrets) = stored::seal(&p.keyring, &row.id, config);
        let secrets =
            crate::records::keep_unchanged_sealed(&p.keyring, &row.secrets, &secrets, |f| {
                stored::aad(&row.id, f)
            });
        Ok(InboundTrunkRow {
            name: name.to_owned(),
            config: public,
            secrets,
            ..row.clone()
        })
    }

    fn claims(
        &self,
        p: &Provisioner,
        row: &InboundTrunkRow,
    ) -> Result<Vec<NumberClaim>, ServiceError> {
        Ok(claims(&stored::open(&p.keyring, row)?))
    }

    async fn may_delete(&self, p: &Provisioner, row: &InboundTrunkRow) -> Result<(), ServiceError> {
        match p.store.rule_naming_trunk(&row.id).await? {
            Some(r) => Err(in_use(r)),
            None => Ok(()),
        }
    }

    async fn delete_row(
        &self,
        p: &Provisioner,
        row: &InboundTrunkRow,
    ) -> Result<bool, ServiceError> {
        match p
            .store
            .mark_inbound_deleted(&row.tenant_id, &row.id)
            .await?
        {
            Ok(done) => Ok(done),
            Err(r) => {
                // A rule naming the trunk landed between the check and the delete: LiveKit's
                // copy is gone, so say so on the row and refuse.
                let _ = p.store.inbound_trunks().mark_unsynced(&row.id).await;
                Err(in_use(r))
            }
        }
    }

    async fn followers(&self, p: &Provisioner, tenant_id: &str) {
        super::follow_trunks(p, tenant_id).await;
    }
}

impl ClaimSet<InboundTrunkRow> for Vec<NumberClaim> {
    async fn insert(&self, p: &Provisioner, row: &InboundTrunkRow) -> Result<(), ServiceError> {
        p.store
            .insert_claiming(row, self.as_slice())
            .await?
            .map_err(conflict)
    }
    async fn reserve(&self, p: &Provisioner, row: &InboundTrunkRow) -> Result<(), ServiceError> {
        p.store
            .reserve_claims(&row.tenant_id, &row.id, self.as_slice())
            .await?
            .map_err(conflict)
    }
    async fn settle(&self, p: &Provisioner, row: &InboundTrunkRow) -> Result<(), ServiceError> {
        Ok(p.store
            .settle_claims(&row.tenant_id, &row.id, self.as_slice())
            .await?)
    }
}

/// Whether LiveKit's copy differs from what we want, in the fields we own. A password LiveKit
/// does not return (redacted) is not counted as drift.
fn drifted(actual: &proto::SipInboundTrunkInfo, wanted: &proto::SipInboundTrunkInfo) -> bool {
    // A server that predates `media` keeps only the legacy field.
    #[allow(deprecated)]
    let enc = |i: &proto::SipInboundTrunkInfo| {
        i.media
            .as_ref()
            .and_then(|m| m.encryption)
            .unwrap_or(i.media_encryption)
    };
    actual.name != wanted.name
        || actual.metadata != wanted.metadata
        || actual.numbers != wanted.numbers
        || actual.allowed_addresses != wanted.allowed_addresses
        || actual.allowed_numbers != wanted.allowed_numbers
        || actual.auth_username != wanted.auth_username
        || (!actual.auth_password.is_empty() && actual.auth_password != wanted.auth_password)
        || actual.krisp_enabled != wanted.krisp_enabled
        || actual.ringing_timeout != wanted.ringing_timeout
        || actual.max_call_duration != wanted.max_call_duration
        || enc(actual) != enc(wanted)
}
