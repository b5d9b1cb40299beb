//! The three kinds of provisioned resource trunkline converges LiveKit to, as plug-ins of the
//! converge engine (`engine.rs`). The engine runs them in this order: dispatch rules name
//! inbound trunks by their LiveKit ids, so rules come after trunks and follow a trunk
//! recreated in the same pass (their wanted object is computed afresh from the trunks' rows).

use super::dispatch::{self, Target, FOLLOW_FAILED};
use super::engine::{ConvergeKind, Wanted};
use super::{inbound, livekit_info, Provisioner};
use crate::records;
use trunkline_livekit::proto;
use trunkline_store::{DispatchRuleRow, InboundTrunkRow, Status, TrunkRow};

/// Outbound trunks: LiveKit's outbound SIP trunks, marked with our id in their metadata.
pub(super) struct OutboundTrunks;

/// Inbound trunks: LiveKit's inbound SIP trunks, marked with our id in their metadata.
pub(super) struct InboundTrunks;

/// Dispatch rules: LiveKit's dispatch rules, marked with our id in an attribute.
pub(super) struct DispatchRules;

impl ConvergeKind for OutboundTrunks {
    type Row = TrunkRow;
    type Object = proto::SipOutboundTrunkInfo;
    const NOUN: &'static str = "trunk";
    const OBJECT: &'static str = "trunk";

    fn remote_id(o: &Self::Object) -> &str {
        &o.sip_trunk_id
    }
    fn owner(o: &Self::Object) -> Option<String> {
        livekit_info::owner(o)
    }
    fn skips(&self, p: &Provisioner, row: &TrunkRow) -> bool {
        // An Exotel trunk without a bridge has no LiveKit side to converge.
        let Ok(kind) = records::trunk_type(row) else {
            return true;
        };
        !p.provisionable(kind) || row.status == Status::Error
    }
    async fn wanted(
        &self,
        p: &Provisioner,
        row: &TrunkRow,
    ) -> Result<Wanted<Self::Object>, String> {
        let config = records::open(&p.keyring, row)
            .map_err(|e| format!("cannot read the stored trunk: {e:?}"))?;
        // An Exotel trunk stored before a bridge was configured has no bridge password yet:
        // give it one (conditionally on the secrets read), and provision on the next pass.
        let secrets = p.with_bridge_password(&row.id, &config, &row.secrets);
        if secrets != row.secrets {
            p.store
                .outbound_trunks()
                .replace_secrets(&row.id, &row.secrets, &secrets)
                .await
                .map_err(|e| format!("could not store a bridge password: {e}"))?;
            return Ok(Wanted::Later);
        }
        match p.wanted(&row.id, &row.name, &config, &row.secrets) {
            Ok(Some(w)) => Ok(Wanted::Object(w)),
            Ok(None) => Ok(Wanted::Later),
            Err(e) => Err(format!("cannot derive the LiveKit trunk: {e:?}")),
        }
    }
    fn drifted(actual: &Self::Object, wanted: &Self::Object) -> bool {
        livekit_info::drifted(actual, wanted)
    }
}

impl ConvergeKind for InboundTrunks {
    type Row = InboundTrunkRow;
    type Object = proto::SipInboundTrunkInfo;
    const NOUN: &'static str = "inbound trunk";
    const OBJECT: &'static str = "trunk";

    fn remote_id(o: &Self::Object) -> &str {
        &o.sip_trunk_id
    }
    fn owner(o: &Self::Object) -> Option<String> {
        inbound::owner(o)
    }
    fn skips(&self, _: &Provisioner, row: &InboundTrunkRow) -> bool {
        row.status == Status::Error
    }
    async fn wanted(
        &self,
        p: &Provisioner,
        row: &InboundTrunkRow,
    ) -> Result<Wanted<Self::Object>, String> {
        let config = inbound::open(&p.keyring, row)
            .map_err(|e| format!("cannot read the stored inbound trunk: {e:?}"))?;
        let unapproved = p
            .unapproved_numbers(&row.tenant_id, &config)
            .await
            .map_err(|e| format!("cannot read the number approvals: {e:?}"))?;
        if !unapproved.is_empty() {
            return Ok(Wanted::Wait(Status::AwaitingApproval));
        }
        Ok(Wanted::Object(inbound::livekit_trunk(
            &row.id, &row.name, &config,
        )))
    }
    fn drifted(actual: &Self::Object, wanted: &Self::Object) -> bool {
        inbound_drifted(actual, wanted)
    }
}

impl ConvergeKind for DispatchRules {
    type Row = DispatchRuleRow;
    type Object = proto::SipDispatchRuleInfo;
    const NOUN: &'static str = "dispatch rule";
    const OBJECT: &'static str = "dispatch rule";

    fn remote_id(o: &Self::Object) -> &str {
        &o.sip_dispatch_rule_id
    }
    fn owner(o: &Self::Object) -> Option<String> {
        dispatch::owner(o)
    }
    /// A rule LiveKit refused waits for a PATCH; one that only failed to follow its trunks is
    /// retried.
    fn skips(&self, _: &Provisioner, row: &DispatchRuleRow) -> bool {
        row.status == Status::Error && row.last_error.as_deref() != Some(FOLLOW_FAILED)
    }
    async fn wanted(
        &self,
        p: &Provisioner,
        row: &DispatchRuleRow,
    ) -> Result<Wanted<Self::Object>, String> {
        let config = dispatch::open(row).map_err(|e| format!("{e:?}"))?;
        let target = p
            .target(&row.tenant_id, &row.id, &row.name, &config)
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(match target {
            Target::Rule(wanted) => Wanted::Object(*wanted),
            Target::Nothing => Wanted::Wait(Status::AwaitingTrunk),
        })
    }
    fn drifted(actual: &Self::Object, wanted: &Self::Object) -> bool {
        rule_drifted(actual, wanted)
    }
}

/// Whether LiveKit's copy differs from what we want, in the fields we own. A password LiveKit
/// does not return (redacted) is not counted as drift.
fn inbound_drifted(
    actual: &proto::SipInboundTrunkInfo,
    wanted: &proto::SipInboundTrunkInfo,
) -> bool {
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

/// Whether LiveKit's copy differs from what we want, in the fields we own. Trunk ids are
/// compared as a set: their order means nothing to LiveKit.
fn rule_drifted(actual: &proto::SipDispatchRuleInfo, wanted: &proto::SipDispatchRuleInfo) -> bool {
    let set = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v
    };
    actual.rule != wanted.rule
        || set(&actual.trunk_ids) != set(&wanted.trunk_ids)
        || actual.numbers != wanted.numbers
        || actual.inbound_numbers != wanted.inbound_numbers
        || actual.name != wanted.name
        || actual.metadata != wanted.metadata
        || actual.attributes != wanted.attributes
        || actual.room_config != wanted.room_config
}
