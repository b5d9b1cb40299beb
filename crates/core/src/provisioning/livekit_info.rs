//! The LiveKit side of a trunk, derived from its stored configuration.

use trunkline_domain::{ExotelConfig, MediaEncryption, SipTrunkConfig, Transport};
use trunkline_livekit::proto;

/// LiveKit trunk metadata marking a trunk as ours, so a trunk created just before a crash can
/// be found again (and adopted or removed) by the trunkline id it carries.
pub fn metadata(trunk_id: &str) -> String {
    serde_json::json!({ "trunkline_trunk_id": trunk_id }).to_string()
}

/// The trunkline id a LiveKit trunk's metadata names, if it is one of ours.
pub fn owner(info: &proto::SipOutboundTrunkInfo) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(&info.metadata).ok()?;
    v.get("trunkline_trunk_id")?.as_str().map(str::to_owned)
}

fn transport(t: Transport) -> proto::SipTransport {
    match t {
        Transport::Auto => proto::SipTransport::Auto,
        Transport::Udp => proto::SipTransport::Udp,
        Transport::Tcp => proto::SipTransport::Tcp,
        Transport::Tls => proto::SipTransport::Tls,
    }
}

fn encryption(m: MediaEncryption) -> proto::SipMediaEncryption {
    match m {
        MediaEncryption::Disabled => proto::SipMediaEncryption::SipMediaEncryptDisable,
        MediaEncryption::Allowed => proto::SipMediaEncryption::SipMediaEncryptAllow,
        MediaEncryption::Required => proto::SipMediaEncryption::SipMediaEncryptRequire,
    }
}

#[allow(deprecated)] // media_encryption: set beside `media` for LiveKit servers that predate it
pub fn outbound_trunk(
    trunk_id: &str,
    name: &str,
    c: &SipTrunkConfig,
) -> proto::SipOutboundTrunkInfo {
    proto::SipOutboundTrunkInfo {
        name: name.to_owned(),
        metadata: metadata(trunk_id),
        address: c.address.to_string(),
        transport: transport(c.transport) as i32,
        numbers: c.numbers.iter().map(|n| n.as_str().to_owned()).collect(),
        auth_username: c.username.clone().unwrap_or_default(),
        auth_password: c
            .password
            .as_ref()
            .map(|p| p.expose().to_owned())
            .unwrap_or_default(),
        media_encryption: encryption(c.media_encryption) as i32,
        media: Some(proto::SipMediaConfig {
            encryption: Some(encryption(c.media_encryption) as i32),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Where LiveKit's SIP service reaches trunkline's SIP bridge (`TRUNKLINE_BRIDGE_SIP_ADDRESS`).
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeTarget {
    /// `host[:port]`, as LiveKit's outbound trunk `address` wants it.
    pub address: String,
    pub transport: Transport,
}

/// The LiveKit side of an Exotel trunk: an outbound trunk to the bridge, which forwards to
/// Exotel. Its digest user name is the trunk id and its password is generated per trunk, so
/// the bridge knows the tenant's trunk from the credentials it challenges for, and no
/// credential is shared between trunks.
pub fn bridge_trunk(
    trunk_id: &str,
    name: &str,
    c: &ExotelConfig,
    bridge: &BridgeTarget,
    password: &str,
) -> proto::SipOutboundTrunkInfo {
    proto::SipOutboundTrunkInfo {
        name: name.to_owned(),
        metadata: metadata(trunk_id),
        address: bridge.address.clone(),
        transport: transport(bridge.transport) as i32,
        numbers: vec![c.exotel_number.as_str().to_owned()],
        auth_username: trunk_id.to_owned(),
        auth_password: password.to_owned(),
        ..Default::default()
    }
}

/// Whether LiveKit's copy differs from what we want, in the fields we own. A password LiveKit
/// does not return (redacted) is not counted as drift.
pub fn drifted(actual: &proto::SipOutboundTrunkInfo, wanted: &proto::SipOutboundTrunkInfo) -> bool {
    let enc = |i: &proto::SipOutboundTrunkInfo| {
        i.media
            .as_ref()
            .and_then(|m| m.encryption)
            .unwrap_or_default()
    };
    actual.name != wanted.name
        || actual.address != wanted.address
        || actual.transport != wanted.transport
        || actual.numbers != wanted.numbers
        || actual.auth_username != wanted.auth_username
        || (!actual.auth_password.is_empty() && actual.auth_password != wanted.auth_password)
        || enc(actual) != enc(wanted)
        || actual.metadata != wanted.metadata
}
