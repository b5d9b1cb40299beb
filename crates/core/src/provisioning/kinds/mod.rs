//! The kinds of provisioned resource trunkline converges a remote side to (LiveKit's trunks
//! and rules; a provider account's trunks), each a plug-in of
//! the converge engine ([`ConvergeKind`](super::engine::ConvergeKind): what LiveKit should hold
//! for a row, how to tell drift, how LiveKit's object names its row) and of the API's request
//! path ([`RequestKind`](super::requests::RequestKind): how a configuration becomes a row, what
//! the row claims). A new kind is one more file here implementing both.
//!
//! A provider trunk (`twilio.rs`, `exotel.rs`) is converged per provider account, before LiveKit's kinds:
//! the LiveKit trunk it serves follows its domain and numbers. For LiveKit the engine runs
//! the rest in this order: dispatch rules name inbound trunks by their LiveKit
//! ids, so rules come after trunks and follow a trunk recreated in the same pass (their wanted
//! object is computed afresh from the trunks' rows).

mod exotel;
mod inbound;
mod outbound;
mod rules;
mod twilio;

pub use exotel::ExotelSideConfig;
pub(super) use exotel::ExotelTrunks;
pub(super) use inbound::InboundTrunks;
pub(super) use outbound::OutboundTrunks;
pub(super) use rules::{follow_trunks, DispatchRules};
pub use twilio::TwilioSideConfig;
pub(super) use twilio::TwilioTrunks;

/// The status a new row starts in: `pending` when the remote side is asked right away.
fn initial_status(remote: bool) -> trunkline_store::Status {
    if remote {
        trunkline_store::Status::Pending
    } else {
        trunkline_store::Status::Unprovisioned
    }
}

/// A new provider trunk row of `account_id` (any provider), not yet linked to a trunk.
fn new_provider_row(
    id: String,
    tenant_id: &str,
    account_id: &str,
    name: &str,
    config: String,
    secrets: String,
    remote: bool,
) -> trunkline_store::ProviderTrunkRow {
    let now = trunkline_store::now_micros();
    trunkline_store::ProviderTrunkRow {
        id,
        tenant_id: tenant_id.to_owned(),
        account_id: account_id.to_owned(),
        trunk_id: None,
        name: name.to_owned(),
        config,
        secrets,
        status: initial_status(remote),
        provider_trunk_sid: None,
        credential_list_sid: None,
        desired_version: 1,
        synced_version: 0,
        last_error: None,
        synced_at: None,
        created_at: now,
        updated_at: now,
    }
}
