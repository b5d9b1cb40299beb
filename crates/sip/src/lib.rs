//! trunkline's SIP edge: the trunk probe (`probe::run`), the Exotel bridge (`bridge`), and the
//! stream transports toward a carrier (`transport`: TCP, and TLS as carriers use it).
//!
//! SIP messages, for the probe and the bridge alike, are `msg::SipMsg`: one model, its grammar
//! checked against RFC 4475 (README, "One SIP message model").

pub mod bridge;
pub mod digest;
pub mod msg;
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
