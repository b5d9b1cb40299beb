//! The kinds of provisioned resource trunkline converges a remote side to (LiveKit's trunks
//! and rules; a provider account's trunks), each a plug-in of
//! the converge engine ([`ConvergeKind`](super::engine::ConvergeKind): what LiveKit should hold
//! for a row, how to tell drift, how LiveKit's object names its row) and of the API's request
//! path ([`RequestKind`](super::requests::RequestKind): how a configuration becomes a row, what
//! the row claims). A new kind is one more file here implementing both.
//!
//! A provider trunk (`provider.rs`, one kind for every provider, each plugging in its own
//! object) is converged per provider account, before LiveKit's kinds:
//! the LiveKit trunk it serves follows its domain and numbers. For LiveKit the engine runs
//! the rest in this order: dispatch rules name inbound trunks by their LiveKit
//! ids, so rules come after trunks and follow a trunk recreated in the same pass (their wanted
//! object is computed afresh from the trunks' rows).

mod exotel;
mod inbound;
mod outbound;
mod provider;
mod rules;

pub use exotel::ExotelSideConfig;
pub(super) use exotel::ExotelTrunks;
pub(super) use inbound::InboundTrunks;
pub(super) use outbound::OutboundTrunks;
pub use provider::ProviderSideConfig;
pub(super) use provider::ProviderTrunks;
pub(crate) use provider::{marked, marker, SideObject};
pub(super) use rules::{follow_trunks, DispatchRules};

/// The status a new row starts in: `pending` when the remote side is asked right away.
fn initial_status(remote: bool) -> trunkline_store::Status {
    if remote {
        trunkline_store::Status::Pending
    } else {
        trunkline_store::Status::Unprovisioned
    }
}
