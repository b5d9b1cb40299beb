//! What the long-running commands tell operators: Prometheus metrics on a listener of their
//! own (`metrics`), and the log format (`logs`).

pub mod logs;
pub mod metrics;
