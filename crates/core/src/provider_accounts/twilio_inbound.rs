//! Inbound trunks automated at Twilio: `POST /sip/inbound-trunks` with `provider_account_id`
//! and `numbers` makes an Elastic SIP trunk whose origination URL is LiveKit's SIP endpoint
//! (`LIVEKIT_SIP_URI`), with the numbers on it, then LiveKit's inbound trunk for those numbers.
//! The Twilio side is a provider trunk (`PT_…`) converged like the outbound ones, made by
//! what every provider shares (`sides.rs`); this file says where a provider's API cannot.

/// What a user must do in the provider's console where trunkline cannot route inbound calls
/// through the provider's API; `None` where it can (Twilio, Telnyx).
pub fn console_steps(provider: &str, livekit_sip_uri: &str) -> Option<String> {
    let endpoint = livekit_sip_uri.trim_start_matches("sip:");
    match provider {
        // Exotel's vSIP API makes destination URIs, but routing a number to one takes a Flow
        // whose Connect applet dials the trunk, made in the dashboard (PROVIDERS.md §3.3).
        "exotel" => Some(format!(
            "is an Exotel account: Exotel's API cannot route numbers to a SIP trunk, so inbound calls are not automated for Exotel. \
             In the Exotel dashboard: (1) under vSIP trunks, add the destination URI {endpoint}:5061;transport=tls (or the bridge's public address when calls go through trunkline's bridge); \
             (2) create a Flow whose Connect applet dials sip:<your trunk_sid>; (3) assign each ExoPhone to that Flow (Manage > ExoPhones). \
             Then create this inbound trunk without provider_account_id"
        )),
        _ => None,
    }
}
