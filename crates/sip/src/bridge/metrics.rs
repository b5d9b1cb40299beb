//! The bridge's metrics: names, help texts and one function per event, so each call site in
//! the driver and the call task is one line. Label values come from closed sets (methods,
//! status classes, drop reasons), never a Call-ID, number or address. Nothing here is on the
//! RTP path: the relay keeps plain atomics that the binary reads at scrape time
//! (`RtpRelay::totals`).

use super::guard::Drop;
use metrics::{counter, describe_counter, describe_gauge, gauge};

pub const CALLS_ACTIVE: &str = "trunkline_bridge_calls_active";
pub const CALLS: &str = "trunkline_bridge_calls_total";
pub const SIP_MESSAGES: &str = "trunkline_bridge_sip_messages_total";
pub const EDGE_DROPS: &str = "trunkline_bridge_edge_drops_total";
pub const CONNECTIONS: &str = "trunkline_bridge_connections";
pub const RTP_PACKETS: &str = "trunkline_bridge_rtp_packets_total";
pub const RTP_BYTES: &str = "trunkline_bridge_rtp_bytes_total";
pub const RTP_DROPPED: &str = "trunkline_bridge_rtp_dropped_packets_total";
pub const RELAY_PORTS: &str = "trunkline_bridge_relay_ports";

/// Registers the help texts (once, when the recorder is installed).
pub fn describe() {
    describe_gauge!(CALLS_ACTIVE, "Calls the bridge is carrying now");
    describe_counter!(
        CALLS,
        "Calls ended, by the final SIP status the caller got for its INVITE (none: the call ended before one)"
    );
    describe_counter!(
        SIP_MESSAGES,
        "SIP messages, by direction (in, out), method (for responses, the CSeq method) and status class (request for requests, 1xx..6xx)"
    );
    describe_counter!(
        EDGE_DROPS,
        "Messages, connections and calls refused at the edge, by reason (not_allowed, rate_limited, scanner, too_many_connections, too_many_calls, too_many_ports)"
    );
    describe_gauge!(
        CONNECTIONS,
        "Open TCP/TLS connections, by role (accepted from LiveKit or the provider, dialed to the callee) and transport"
    );
    describe_counter!(
        RTP_PACKETS,
        "Packets relayed, by channel (rtp, rtcp) and direction (to_provider, to_livekit)"
    );
    describe_counter!(
        RTP_BYTES,
        metrics::Unit::Bytes,
        "Bytes relayed, by channel (rtp, rtcp) and direction (to_provider, to_livekit)"
    );
    describe_counter!(
        RTP_DROPPED,
        "Media packets dropped by the relay, by reason: wrong_source (not the negotiated peer), no_peer (nowhere to send yet, or on hold), other (oversized, or the send failed)"
    );
    describe_gauge!(
        RELAY_PORTS,
        "The relay's UDP ports, by state (in_use, free)"
    );
}

/// Copies the relay's counters into the registry: run at each scrape. The relay keeps plain
/// atomics per session (no lock, no allocation per packet); this sums them.
pub fn record_relay(relay: &crate::rtp::RtpRelay) {
    let t = relay.totals();
    for (channel, direction, flow) in [
        ("rtp", "to_provider", t.rtp_a_to_b),
        ("rtp", "to_livekit", t.rtp_b_to_a),
        ("rtcp", "to_provider", t.rtcp_a_to_b),
        ("rtcp", "to_livekit", t.rtcp_b_to_a),
    ] {
        counter!(RTP_PACKETS, "channel" => channel, "direction" => direction)
            .absolute(flow.packets);
        counter!(RTP_BYTES, "channel" => channel, "direction" => direction).absolute(flow.bytes);
    }
    for (reason, n) in [
        ("wrong_source", t.dropped_wrong_source),
        ("no_peer", t.dropped_no_peer),
        ("other", t.dropped_other),
    ] {
        counter!(RTP_DROPPED, "reason" => reason).absolute(n);
    }
    let (in_use, free) = relay.ports();
    gauge!(RELAY_PORTS, "state" => "in_use").set(in_use as f64);
    gauge!(RELAY_PORTS, "state" => "free").set(free as f64);
}

const METHODS: [&str; 14] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "PRACK",
    "UPDATE",
    "INFO",
    "REFER",
    "NOTIFY",
    "SUBSCRIBE",
    "MESSAGE",
    "PUBLISH",
];

pub(super) fn method_label(token: &[u8]) -> &'static str {
    METHODS
        .iter()
        .find(|m| m.as_bytes() == token)
        .copied()
        .unwrap_or("other")
}

/// The method and status class of a message, from its bytes: the start line, and for a
/// response the CSeq header. No parse, no allocation.
pub fn classify(bytes: &[u8]) -> (&'static str, &'static str) {
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    let head = &bytes[..head_end];
    let mut lines = head
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let start = lines.next().unwrap_or_default();
    if let Some(rest) = start.strip_prefix(b"SIP/2.0 ") {
        let class = match rest.first() {
            Some(b'1') => "1xx",
            Some(b'2') => "2xx",
            Some(b'3') => "3xx",
            Some(b'4') => "4xx",
            Some(b'5') => "5xx",
            Some(b'6') => "6xx",
            _ => "other",
        };
        let method = lines
            .find_map(|l| {
                let (name, value) = l.split_at(l.iter().position(|b| *b == b':')?);
                name.trim_ascii()
                    .eq_ignore_ascii_case(b"CSeq")
                    .then(|| value[1..].trim_ascii().rsplit(|b| *b == b' ').next())
                    .flatten()
            })
            .map_or("other", method_label);
        return (method, class);
    }
    let token = start.split(|b| *b == b' ').next().unwrap_or_default();
    (method_label(token), "request")
}

/// A message received (`"in"`) or sent (`"out"`).
pub fn sip_message(direction: &'static str, bytes: &[u8]) {
    let (method, class) = classify(bytes);
    counter!(SIP_MESSAGES, "direction" => direction, "method" => method, "status_class" => class)
        .increment(1);
}

/// Something refused at the edge.
pub fn edge_drop(why: Drop) {
    let reason = match why {
        Drop::NotAllowed => "not_allowed",
        Drop::RateLimited => "rate_limited",
        Drop::TooManyConnections => "too_many_connections",
        Drop::Scanner => "scanner",
        Drop::TooManyCalls => "too_many_calls",
        Drop::TooManyPorts => "too_many_ports",
    };
    counter!(EDGE_DROPS, "reason" => reason).increment(1);
}

/// A call task started (`+1`) or ended (`-1`).
pub fn call_started() {
    gauge!(CALLS_ACTIVE).increment(1.0);
}

/// A call ended with `status` the final answer to its INVITE (`None`: no final answer).
pub fn call_ended(status: Option<u16>) {
    gauge!(CALLS_ACTIVE).decrement(1.0);
    let status = match status {
        // A three-digit code is a bounded label (at most 600 values, a few dozen in practice).
        Some(s @ 100..=699) => s.to_string(),
        _ => "none".to_owned(),
    };
    counter!(CALLS, "status" => status).increment(1);
}

/// A TCP/TLS connection opened (`delta` 1) or closed (`-1`).
pub fn connection(role: &'static str, transport: &'static str, delta: f64) {
    gauge!(CONNECTIONS, "role" => role, "transport" => transport).increment(delta);
}

#[cfg(test)]
mod tests {
    use super::classify;

    #[test]
    fn messages_are_classified_from_their_bytes() {
        let cases: [(&[u8], (&str, &str)); 7] = [
            (
                b"INVITE sip:a@b SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n",
                ("INVITE", "request"),
            ),
            (b"BYE sip:a@b SIP/2.0\r\n\r\n", ("BYE", "request")),
            (b"FOO sip:a@b SIP/2.0\r\n\r\n", ("other", "request")),
            (
                b"SIP/2.0 486 Busy Here\r\nVia: x\r\nCSeq: 1 INVITE\r\n\r\n",
                ("INVITE", "4xx"),
            ),
            (
                b"SIP/2.0 200 OK\r\ncseq :  7   BYE\r\n\r\nCSeq: 1 INVITE",
                ("BYE", "2xx"),
            ),
            (b"SIP/2.0 100 Trying\r\n\r\n", ("other", "1xx")),
            (b"", ("other", "request")),
        ];
        for (bytes, want) in cases {
            assert_eq!(classify(bytes), want, "{}", String::from_utf8_lossy(bytes));
        }
    }
}
