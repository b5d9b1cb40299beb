//! Provisioning states of a trunk, as stored and as shown in its details.

/// A create in flight; no client has been told about the trunk yet, so no read shows it.
pub const PENDING: &str = trunkline_store::PENDING_STATUS;
/// LiveKit holds the trunk as stored.
pub const PROVISIONED: &str = "provisioned";
/// Stored; LiveKit is not configured (or not yet reached). The reconciler provisions it.
pub const UNPROVISIONED: &str = "unprovisioned";
/// LiveKit refused the stored configuration; `last_error` says why.
pub const ERROR: &str = "error";
/// Exotel trunks reach LiveKit through trunkline's SIP bridge, which provisions them.
pub const AWAITING_BRIDGE: &str = "awaiting_bridge";

/// A sentence for the details view, so a user knows what to do next.
pub fn describe(status: &str, livekit_configured: bool) -> &'static str {
    match status {
        PROVISIONED => "LiveKit holds this trunk as configured.",
        UNPROVISIONED if livekit_configured => "Stored; trunkline will provision it in LiveKit on its next reconcile pass.",
        UNPROVISIONED => "Stored, not provisioned: LiveKit is not configured (set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET).",
        ERROR => "LiveKit refused this trunk's configuration; see last_error, then PATCH the trunk.",
        AWAITING_BRIDGE => "Stored. Exotel trunks reach LiveKit through trunkline's SIP bridge: set TRUNKLINE_BRIDGE_SIP_ADDRESS (where LiveKit reaches the bridge) and trunkline provisions it.",
        _ => "Provisioning is in progress.",
    }
}
