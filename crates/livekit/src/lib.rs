//! LiveKit's SIP service, spoken the way LiveKit's own SDKs speak it: Twirp over HTTP with
//! protobuf bodies (`livekit-protocol` types) and a short-lived HS256 access token carrying
//! only the grants each call needs.
//!
//! `livekit-api` has a SIP client too, but it lacks Get*, list filters and several fields, and
//! has no TLS unless a feature is on; this crate is the thin part we need, on the same types.

mod calls;
mod client;
mod error;
pub mod metrics;
mod room_admin;
mod sip_inbound;
mod token;
mod webhook;

pub use calls::seconds;
pub use client::{LiveKitClient, LiveKitConfig};
pub use error::{ErrorKind, LiveKitError};
pub use livekit_protocol as proto;
pub use token::{Claims, Grants, SipGrant, VideoGrant};
pub use webhook::{verify_webhook, WebhookError};
