//! trunkline's SIP edge. For now the trunk probe (`probe::run`); the Exotel bridge follows.
//!
//! The SIP stack is rsipstack (its vendored rsip message types), reached only through
//! `wire`, so nothing outside this crate names it.

pub mod bridge;
pub mod digest;
pub mod probe;
pub mod rtp;
pub mod sdp;
mod wire;

pub use probe::{
    diagnose, run as run_probe, Credentials, Diagnosis, Method, Outcome, ProbeOptions, ProbeReport,
    ProbeRequest, ProbeTransport, Seen, Timers,
};
