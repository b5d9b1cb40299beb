//! LiveKit's trunk validation (livekit/protocol `livekit/sip.go`,
//! `livekit/sip_validation.go`, `livekit/types.go`), with the exact error strings. Only hard
//! errors are reproduced: "soft" errors are merely logged by the server.

use crate::twirp::TwirpError;
use livekit_protocol::{
    ListUpdate, SipInboundTrunkInfo, SipInboundTrunkUpdate, SipMediaConfig, SipOutboundTrunkInfo,
    SipOutboundTrunkUpdate,
};
use std::collections::HashMap;

/// `SIPOutboundTrunkInfo.ValidateResult`.
pub(crate) fn trunk(p: &SipOutboundTrunkInfo) -> Result<(), String> {
    if p.numbers.is_empty() {
        return Err("no trunk numbers specified".into());
    }
    if p.address.is_empty() {
        return Err("no outbound address specified".into());
    }
    hostname_format(&p.address, "trunk address")?;
    hostname_format(&p.from_host, "from_host")?;
    headers(&p.headers)?;
    header_maps(&p.attributes_to_headers, &p.headers_to_attributes)?;
    media(p.media.as_ref())
}

/// `SIPOutboundTrunkUpdate.Validate`: checked up front, so failures are `invalid_argument`.
pub(crate) fn update(p: &SipOutboundTrunkUpdate) -> Result<(), String> {
    if let Some(u) = &p.numbers {
        list_update(u)?;
    }
    media(p.media.as_ref())
}

/// `SIPInboundTrunkInfo.ValidateResult`. The error carries the code it reaches the wire with
/// when a handler returns it unwrapped (`xtwirp.ToError`): the two `psrpc.NewErrorf`
/// failures keep `invalid_argument`, plain Go errors become `unknown`.
pub(crate) fn inbound_trunk(p: &SipInboundTrunkInfo) -> Result<(), TwirpError> {
    let has_auth = !p.auth_username.is_empty() || !p.auth_password.is_empty();
    if !has_auth && p.allowed_addresses.is_empty() && p.numbers.is_empty() {
        return Err(TwirpError::invalid_argument(
            "for security, one of the fields must be set: AuthUsername+AuthPassword, AllowedAddresses or Numbers",
        ));
    }
    media(p.media.as_ref()).map_err(TwirpError::unknown)?;
    // Added with the field in protocol v1.52.1 (the copy livekit-protocol 0.8.2 bundles);
    // servers pinning an older protocol store any value.
    let c = p.ringing_timeout_status;
    if c != 0 && !(400..=699).contains(&c) {
        return Err(TwirpError::invalid_argument(format!(
            "ringing timeout status must be 4xx-6xx, got {c}"
        )));
    }
    headers(&p.headers).map_err(TwirpError::unknown)?;
    header_maps(&p.attributes_to_headers, &p.headers_to_attributes).map_err(TwirpError::unknown)
}

/// `SIPInboundTrunkUpdate.Validate`.
pub(crate) fn inbound_update(p: &SipInboundTrunkUpdate) -> Result<(), String> {
    for u in [&p.numbers, &p.allowed_addresses, &p.allowed_numbers]
        .into_iter()
        .flatten()
    {
        list_update(u)?;
    }
    media(p.media.as_ref())
}

/// `validateAttributesToHeaders` (header names are the values) then
/// `validateHeaderToAttributes` (the keys).
fn header_maps(
    attributes_to_headers: &HashMap<String, String>,
    headers_to_attributes: &HashMap<String, String>,
) -> Result<(), String> {
    // Go ranges over maps in random order; sorting makes the reported entry deterministic.
    for name in sorted(attributes_to_headers).into_iter().map(|(_, v)| v) {
        header_name(name, false).map_err(|e| format!("invalid header name: {e}"))?;
    }
    for (name, _) in sorted(headers_to_attributes) {
        header_name(name, false).map_err(|e| format!("invalid header name: {e}"))?;
    }
    Ok(())
}

/// `SIPMediaConfig.UpgradeWith`, as every `Upgrade()` calls it: media is materialised
/// (possibly empty) and takes the legacy encryption when it has none and that is not DISABLE.
pub(crate) fn upgrade_media(media: &mut Option<SipMediaConfig>, encryption: i32) {
    let m = media.get_or_insert_with(SipMediaConfig::default);
    if m.encryption.is_none() && encryption != 0 {
        m.encryption = Some(encryption);
    }
}

/// `updateMediaConfig` then `Upgrade()`: media is replaced whole when given, materialised on
/// every update, and the legacy enum then mirrors its encryption.
pub(crate) fn update_media_config(
    media: &mut Option<SipMediaConfig>,
    encryption: &mut i32,
    new_media: Option<SipMediaConfig>,
    new_encryption: Option<i32>,
) {
    if new_media.is_some() {
        *media = new_media;
    }
    if let Some(e) = new_encryption {
        *encryption = e;
    }
    upgrade_media(media, *encryption);
    *encryption = media.as_ref().and_then(|m| m.encryption).unwrap_or(0);
}

/// `validateHostnameFormat`.
fn hostname_format(value: &str, field: &str) -> Result<(), String> {
    if value.contains("transport=") {
        return Err(format!("{field} should not contain transport parameter"));
    }
    if value.contains(['@', ';']) || value.starts_with("sip:") || value.starts_with("sips:") {
        return Err(format!("{field} should be a hostname or IP, not SIP URI"));
    }
    Ok(())
}

fn sorted(m: &HashMap<String, String>) -> Vec<(&String, &String)> {
    let mut v: Vec<_> = m.iter().collect();
    v.sort();
    v
}

/// `validateHeaders`.
fn headers(h: &HashMap<String, String>) -> Result<(), String> {
    for (name, value) in sorted(h) {
        header_name(name, true).map_err(|e| format!("invalid header name: {e}"))?;
        header_value(name, value).map_err(|e| format!("invalid header value for {name}: {e}"))?;
    }
    Ok(())
}

/// RFC 3261 `token` characters (`tokenCharacters` in `sip_validation.go`).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// Headers users may not set (`ForbiddenSipHeaderNames`).
const FORBIDDEN: &[&str] = &[
    "accept",
    "accept-encoding",
    "accept-language",
    "allow",
    "allow-events",
    "call-id",
    "contact",
    "content-encoding",
    "content-length",
    "content-type",
    "cseq",
    "event",
    "expires",
    "from",
    "max-forwards",
    "record-route",
    "refer-to",
    "reply-to",
    "k",
    "l",
    "m",
    "o",
    "r",
    "t",
    "u",
    "v",
];

/// `ValidateHeaderName`.
fn header_name(name: &str, restrict: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    if name.len() > 255 {
        return Err("header name too long (max 255 characters)".into());
    }
    for c in name.chars() {
        let err = if c as u32 >= 128 {
            format!(
                "char {} out of range, consider explicilty adding utf8 characters",
                c as u32
            )
        } else if !is_token_char(c) {
            format!("char {} not allowed", c as u32)
        } else {
            continue;
        };
        return Err(format!(
            "header name {name} contains invalid characters: {err}"
        ));
    }
    if restrict && FORBIDDEN.contains(&name.to_lowercase().as_str()) {
        return Err(format!("header name {name} not supported"));
    }
    Ok(())
}

/// `ValidateHeaderValueResult`, hard failures only.
fn header_value(name: &str, value: &str) -> Result<(), String> {
    if value.len() > 1024 {
        return Err(format!(
            "header {name}: value too long (max 1024 characters)"
        ));
    }
    for c in value.chars() {
        let printable = c == '\t' || (' '..='~').contains(&c) || c as u32 >= 128;
        if !printable {
            return Err(format!(
                "header {name}: value: char {} not allowed",
                c as u32
            ));
        }
    }
    Ok(())
}

/// `SIPMediaConfig.Validate` (and `SIPCodec.Validate`).
pub(crate) fn media(m: Option<&SipMediaConfig>) -> Result<(), String> {
    let Some(m) = m else { return Ok(()) };
    for c in &m.codecs {
        if c.name.is_empty() {
            return Err("missing codec name".into());
        }
        if c.name.contains([' ', '\t', '\n', '\r']) {
            return Err("invalid codec name".into());
        }
        if c.name.contains('/') {
            return Err("codec name must not contain '/'".into());
        }
    }
    if let Some(d) = &m.media_timeout {
        if d.seconds < 0 || (d.seconds == 0 && d.nanos < 0) {
            return Err("media_timeout must not be negative".into());
        }
        // MaxSIPMediaTimeout = 10 * time.Minute, printed by Go as "10m0s".
        if d.seconds > 600 || (d.seconds == 600 && d.nanos > 0) {
            return Err("media_timeout must not exceed 10m0s".into());
        }
    }
    Ok(())
}

/// `ListUpdate.Validate` (`livekit/types.go`).
pub(crate) fn list_update(p: &ListUpdate) -> Result<(), String> {
    let change = !p.set.is_empty() || !p.add.is_empty() || !p.remove.is_empty();
    if !p.clear && !change {
        return Err("unsupported list update operation".into());
    }
    if p.clear && change {
        return Err("cannot clear and change the list at the same time".into());
    }
    if !p.set.is_empty() && (!p.add.is_empty() || !p.remove.is_empty()) {
        return Err("cannot set and change the list at the same time".into());
    }
    if p.set
        .iter()
        .chain(&p.add)
        .chain(&p.remove)
        .any(String::is_empty)
    {
        return Err("empty element in the list".into());
    }
    Ok(())
}

/// `applyListUpdate`: clear, else set, else remove-then-add (add skips duplicates).
pub(crate) fn apply_list_update(dst: &mut Vec<String>, u: &ListUpdate) {
    if u.clear {
        dst.clear();
        return;
    }
    if !u.set.is_empty() {
        *dst = u.set.clone();
        return;
    }
    for v in &u.remove {
        if let Some(i) = dst.iter().position(|x| x == v) {
            dst.remove(i);
        }
    }
    for v in &u.add {
        if !dst.contains(v) {
            dst.push(v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_trunk() -> SipOutboundTrunkInfo {
        SipOutboundTrunkInfo {
            address: "sip.example.com".into(),
            numbers: vec!["+15550100".into()],
            ..Default::default()
        }
    }

    #[test]
    fn headers_are_checked() {
        let mut t = ok_trunk();
        t.headers.insert("X-Ok".into(), "fine".into());
        assert_eq!(trunk(&t), Ok(()));
        t.headers.insert("Contact".into(), "x".into());
        assert_eq!(
            trunk(&t),
            Err("invalid header name: header name Contact not supported".into())
        );
        t.headers.remove("Contact");
        t.headers.insert("X Bad".into(), "x".into());
        assert_eq!(
            trunk(&t),
            Err("invalid header name: header name X Bad contains invalid characters: char 32 not allowed".into())
        );
        t.headers.remove("X Bad");
        t.headers.insert("X-Ctl".into(), "a\u{1}".into());
        assert_eq!(
            trunk(&t),
            Err("invalid header value for X-Ctl: header X-Ctl: value: char 1 not allowed".into())
        );
    }

    #[test]
    fn from_host_and_media() {
        let mut t = ok_trunk();
        t.from_host = "sip:me@x".into();
        assert_eq!(
            trunk(&t),
            Err("from_host should be a hostname or IP, not SIP URI".into())
        );
        t.from_host.clear();
        t.media = Some(SipMediaConfig {
            codecs: vec![Default::default()],
            ..Default::default()
        });
        assert_eq!(trunk(&t), Err("missing codec name".into()));
    }

    #[test]
    fn list_updates() {
        let mut v = vec!["a".to_string(), "b".into()];
        let u = ListUpdate {
            add: vec!["b".into(), "c".into()],
            remove: vec!["a".into()],
            ..Default::default()
        };
        apply_list_update(&mut v, &u);
        assert_eq!(v, ["b", "c"]);
        assert_eq!(
            list_update(&ListUpdate::default()),
            Err("unsupported list update operation".into())
        );
    }
}
