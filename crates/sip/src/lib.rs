//! trunkline's SIP edge: the trunk probe (`probe::run`), the Exotel bridge (`bridge`), and the
//! stream transports toward a carrier (`transport`: TCP, and TLS as carriers use it).
//!
//! The SIP stack is rsipstack (its vendored rsip message types), reached only through
//! `wire`, so nothing outside this crate names it.

pub mod bridge;
pub mod digest;
pub mod probe;
pub mod rtp;
pub mod sdp;
pub mod target;
pub mod transport;
mod wire;

pub use probe::{
    diagnose, run as run_probe, Credentials, Diagnosis, Method, Outcome, ProbeOptions, ProbeReport,
    ProbeRequest, ProbeTransport, Seen, Timers,
};
