//! Provisioning states of a provisioned resource, as shown in its details.

pub use trunkline_store::Status;

/// A sentence for the details view, so a user knows what to do next.
pub fn describe(status: Status, livekit_configured: bool) -> &'static str {
    match status {
        Status::Provisioned => "LiveKit holds this trunk as configured.",
        Status::Unprovisioned if livekit_configured => "Stored; trunkline will provision it in LiveKit on its next reconcile pass.",
        Status::Unprovisioned => "Stored, not provisioned: LiveKit is not configured (set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET).",
        Status::Error => "LiveKit refused this trunk's configuration; see last_error, then PATCH the trunk.",
        Status::AwaitingBridge => "Stored. Exotel trunks reach LiveKit through trunkline's SIP bridge: set TRUNKLINE_BRIDGE_SIP_ADDRESS (where LiveKit reaches the bridge) and trunkline provisions it.",
        Status::AwaitingApproval => "Stored. This deployment requires the operator to approve each number for your account before its calls reach you: ask them to run `trunkline approvals approve <your account email> <number>`; trunkline then provisions the trunk in LiveKit on its next reconcile pass.",
        _ => "Provisioning is in progress.",
    }
}
