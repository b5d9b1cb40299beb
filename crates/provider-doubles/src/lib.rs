//! Local doubles of the carriers' provisioning APIs, faithful to their wire (PROVIDERS.md
//! §5): [`TwilioDouble`] (trunking v1 and api 2010), [`ExotelDouble`] (vSIP and ExoPhones)
//! and [`TelnyxDouble`] (v2). Each is an axum server on 127.0.0.1 started in-process, with
//! scripted failures ([`Fault`]: 5xx, 429, hangs), slow answers, outages (connections
//! refused), a request log, and methods to inspect and change its state behind the client's
//! back.
//!
//! ```no_run
//! # async fn demo() {
//! use provider_doubles::{Fault, TwilioDouble};
//! let tw = TwilioDouble::start("AC00000000000000000000000000000000", "token").await;
//! tw.push_fault(Fault::RateLimited { retry_after_secs: Some(1) });
//! // point trunkline's Twilio client at tw.url() ...
//! assert!(tw.trunks().is_empty());
//! tw.shutdown().await;
//! # }
//! ```

pub mod exotel;
mod server;
pub mod telnyx;
pub mod twilio;
mod wire;

pub use exotel::ExotelDouble;
pub use telnyx::TelnyxDouble;
pub use twilio::TwilioDouble;
pub use wire::{Fault, Recorded};
