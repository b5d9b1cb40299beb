//! The bridge against real SIP peers: the bridge runs in-process on free
//! ports (UDP and TCP toward LiveKit) with the RTP relay (`rtp::RtpRelay`) on loopback; SIPp
//! (Debian `sip-tester`) plays LiveKit's SIP service (UAC over UDP, answering the bridge's
//! 401 with `[authentication]`) and Exotel (UAS over TCP, challenging the bridge's INVITE with
//! 401 and checking the answer with `verifyauth`). Each test asserts both SIPp verdicts (exit
//! 0: every call ran its scenario to the end) and that every relay port went back to the
//! pool. SIPp's error log and final screen, written to a temporary directory, are quoted in
//! the assertion messages. Without the `sipp` binary the tests skip with a message.

#[path = "support/sipp_bridge.rs"]
mod sipp_bridge;

use sipp_bridge::*;
use std::time::{Duration, Instant};

#[test]
fn answered_call_hung_up_by_livekit() {
    if !sipp_available() {
        return;
    }
    let logs = Logs::new("lk_bye");
    let (exotel, exo_port) = Sipp::exotel(&logs.0, "bridge_exo_answer.xml", 1, &[]);
    let bridge = Bridge::start(exo_port);
    let livekit = Sipp::livekit(
        &logs.0,
        &scenario("bridge_lk_call.xml"),
        bridge.port,
        LK_PASSWORD,
        &["-m", "1", "-d", "200"],
    );
    both_succeed(livekit, exotel);
    bridge.assert_media_released();
}

#[test]
fn answered_call_hung_up_by_exotel() {
    if !sipp_available() {
        return;
    }
    let logs = Logs::new("exo_bye");
    let (exotel, exo_port) = Sipp::exotel(&logs.0, "bridge_exo_hangup.xml", 1, &["-d", "200"]);
    let bridge = Bridge::start(exo_port);
    let livekit = Sipp::livekit(
        &logs.0,
        &scenario("bridge_lk_wait_bye.xml"),
        bridge.port,
        LK_PASSWORD,
        &["-m", "1"],
    );
    both_succeed(livekit, exotel);
    bridge.assert_media_released();
}

#[test]
fn cancel_while_ringing_is_487_on_both_legs() {
    if !sipp_available() {
        return;
    }
    let logs = Logs::new("cancel");
    let (exotel, exo_port) = Sipp::exotel(&logs.0, "bridge_exo_cancel.xml", 1, &[]);
    let bridge = Bridge::start(exo_port);
    let livekit = Sipp::livekit(
        &logs.0,
        &scenario("bridge_lk_cancel.xml"),
        bridge.port,
        LK_PASSWORD,
        &["-m", "1"],
    );
    both_succeed(livekit, exotel);
    bridge.assert_media_released();
}

#[test]
fn busy_from_exotel_is_relayed_as_486() {
    if !sipp_available() {
        return;
    }
    let logs = Logs::new("busy");
    let (exotel, exo_port) = Sipp::exotel(&logs.0, "bridge_exo_busy.xml", 1, &[]);
    let bridge = Bridge::start(exo_port);
    let livekit = Sipp::livekit(
        &logs.0,
        &reject_scenario(&logs.0, 486),
        bridge.port,
        LK_PASSWORD,
        &["-m", "1"],
    );
    both_succeed(livekit, exotel);
    bridge.assert_media_released();
}

#[test]
fn exotel_unreachable_is_503() {
    if !sipp_available() {
        return;
    }
    let logs = Logs::new("unreachable");
    // Bound, then closed: nothing listens there, the connect is refused.
    let bridge = Bridge::start(free_tcp_port());
    let started = Instant::now();
    let livekit = Sipp::livekit(
        &logs.0,
        &reject_scenario(&logs.0, 503),
        bridge.port,
        LK_PASSWORD,
        &["-m", "1"],
    );
    if let Err(e) = livekit.finish(LIMIT) {
        panic!("{e}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a refused connection is reported at once, not after Timer B: {:?}",
        started.elapsed()
    );
    bridge.assert_media_released();
}

#[test]
fn wrong_credentials_from_livekit_are_403() {
    if !sipp_available() {
        return;
    }
    let logs = Logs::new("wrong_password");
    // Exotel would refuse the connection: the call must never get that far.
    let bridge = Bridge::start(free_tcp_port());
    let livekit = Sipp::livekit(
        &logs.0,
        &reject_scenario(&logs.0, 403),
        bridge.port,
        "not-the-password",
        &["-m", "1"],
    );
    if let Err(e) = livekit.finish(LIMIT) {
        panic!("{e}");
    }
    bridge.assert_media_released();
    assert!(
        bridge.media().is_empty(),
        "no relay session for a refused call"
    );
}

/// 100 calls, 20 at a time, each playing 0.4 s of PCMU (20 packets) toward Exotel, which
/// echoes it: every call must succeed on both sides, and each call's relay session must have
/// carried its own stream only (no more than 20 packets each way, nothing from a wrong source).
#[test]
fn concurrent_calls_with_rtp_through_the_relay() {
    if !sipp_available() {
        return;
    }
    const CALLS: usize = 100;
    const PACKETS: u64 = 20;
    let logs = Logs::new("concurrent");
    // Raw PCMU for SIPp's rtp_stream: 160 bytes per 20 ms packet.
    std::fs::write(
        logs.0.join("bridge_rtp.pcmu"),
        vec![0xffu8; 160 * PACKETS as usize],
    )
    .unwrap();
    let (exotel, exo_port) = Sipp::exotel(&logs.0, "bridge_exo_answer.xml", CALLS as u32, &[]);
    let bridge = Bridge::start(exo_port);
    let livekit = Sipp::livekit(
        &logs.0,
        &scenario("bridge_lk_rtp.xml"),
        bridge.port,
        LK_PASSWORD,
        &[
            "-m",
            &CALLS.to_string(),
            "-l",
            "20",
            "-r",
            "40",
            "-d",
            "800",
        ],
    );
    both_succeed(livekit, exotel);
    bridge.assert_media_released();

    let media = bridge.media();
    assert_eq!(media.len(), CALLS, "one relay session per call");
    let mut ids: Vec<&str> = media.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), CALLS, "distinct Call-IDs");
    let (mut to_b, mut to_a) = (0, 0);
    for (id, s) in &media {
        let show = format!("call {id}: {s:?}");
        assert!(
            (1..=PACKETS).contains(&s.rtp_a_to_b.packets),
            "LiveKit's stream reached Exotel, and only its own: {show}"
        );
        assert!(
            (1..=s.rtp_a_to_b.packets).contains(&s.rtp_b_to_a.packets),
            "the echo came back, and only this call's: {show}"
        );
        assert_eq!(s.dropped_wrong_source, 0, "no foreign packets: {show}");
        to_b += s.rtp_a_to_b.packets;
        to_a += s.rtp_b_to_a.packets;
    }
    // Loopback loses nothing; a loaded machine may end a call before its last echo is back.
    let sent = CALLS as u64 * PACKETS;
    assert!(
        to_b * 10 >= sent * 9 && to_a * 10 >= sent * 8,
        "relayed {to_b} of {sent} packets toward Exotel and {to_a} echoed back"
    );
}

/// The inbound direction: Exotel (SIPp, UAC over TCP) calls the tenant's ExoPhone, written
/// nationally; the bridge finds the inbound trunk by the number in E.164 and calls LiveKit
/// (SIPp, UAS over TCP) with it, answering LiveKit's challenge with the inbound trunk's
/// credentials (checked by `verifyauth`); RTP flows through the relay both ways (Exotel's
/// stream, LiveKit's echo); Exotel hangs up and LiveKit gets the BYE.
#[test]
fn inbound_call_from_exotel_reaches_livekit_with_rtp() {
    if !sipp_available() {
        return;
    }
    const PACKETS: u64 = 25;
    let logs = Logs::new("inbound");
    std::fs::write(
        logs.0.join("bridge_rtp.pcmu"),
        vec![0xffu8; 160 * PACKETS as usize],
    )
    .unwrap();
    let (livekit, lk_port) = Sipp::uas("livekit", &logs.0, "bridge_exo_answer.xml", 1, &[]);
    let bridge = Bridge::start_with(Setup {
        livekit_sip: Some(lk_port),
        ..Setup::outbound(9)
    });
    let exotel = Sipp::exotel_calling(
        &logs.0,
        "bridge_in_exo_call.xml",
        bridge.provider_port.unwrap(),
        &["-m", "1", "-d", "1000"],
    );
    both_succeed(exotel, livekit);
    bridge.assert_media_released();
    let media = bridge.media();
    assert_eq!(media.len(), 1, "one relay session: {media:?}");
    let s = &media[0].1;
    // The caller's leg is Exotel's here: its stream goes A → B (to LiveKit), the echo B → A.
    assert!(
        (1..=PACKETS).contains(&s.rtp_a_to_b.packets) && s.rtp_b_to_a.packets >= 1,
        "media both ways through the relay: {s:?}"
    );
    assert_eq!(s.dropped_wrong_source, 0, "{s:?}");
}

#[test]
fn inbound_call_to_a_number_nobody_holds_is_404() {
    if !sipp_available() {
        return;
    }
    let logs = Logs::new("inbound_404");
    let bridge = Bridge::start_with(Setup {
        // Nothing listens there: the call must not get as far as LiveKit.
        livekit_sip: Some(9),
        ..Setup::outbound(9)
    });
    let exotel = Sipp::exotel_calling(
        &logs.0,
        "bridge_in_exo_unknown.xml",
        bridge.provider_port.unwrap(),
        &["-m", "1"],
    );
    if let Err(e) = exotel.finish(LIMIT) {
        panic!("{e}");
    }
    assert!(bridge.media().is_empty(), "no relay session for a 404");
}

/// An answered call whose media stops on both sides (neither SIPp sends RTP here) is ended
/// by the bridge after the relay's RTP timeout: BYE to LiveKit and to Exotel, each SIPp
/// answering it, and every port back in the pool.
#[test]
fn answered_call_without_rtp_is_ended_by_the_rtp_timeout() {
    if !sipp_available() {
        return;
    }
    let logs = Logs::new("rtp_timeout");
    let (exotel, exo_port) = Sipp::exotel(&logs.0, "bridge_exo_answer.xml", 1, &[]);
    let bridge = Bridge::start_with(Setup {
        rtp_timeout: Duration::from_secs(1),
        ..Setup::outbound(exo_port)
    });
    let started = Instant::now();
    let livekit = Sipp::livekit(
        &logs.0,
        &scenario("bridge_lk_wait_bye.xml"),
        bridge.port,
        LK_PASSWORD,
        &["-m", "1"],
    );
    both_succeed(livekit, exotel);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(15),
        "ended after {took:?}, not by the 1 s RTP timeout"
    );
    bridge.assert_media_released();
}

#[test]
fn inbound_call_to_a_user_that_is_no_number_is_484() {
    if !sipp_available() {
        return;
    }
    let logs = Logs::new("inbound_484");
    let bridge = Bridge::start_with(Setup {
        livekit_sip: Some(9),
        ..Setup::outbound(9)
    });
    let exotel = Sipp::exotel_calling(
        &logs.0,
        "bridge_in_exo_not_a_number.xml",
        bridge.provider_port.unwrap(),
        &["-m", "1"],
    );
    if let Err(e) = exotel.finish(LIMIT) {
        panic!("{e}");
    }
    assert!(bridge.media().is_empty(), "no relay session for a 484");
}

/// As a deployment runs it: the relay listens on every interface (0.0.0.0), LiveKit reaches
/// the bridge at 127.0.0.2 and Exotel at 127.0.0.3 (Linux answers on all of 127/8). The SDP
/// toward each side must carry that side's address in `c=` and `o=` (SIPp checks each, and
/// fails the call otherwise), and RTP must flow both ways through those addresses.
fn relay_on_all_interfaces(exotel_port: u16, livekit_sip: Option<u16>) -> Bridge {
    Bridge::start_with(Setup {
        relay_bind: [0, 0, 0, 0].into(),
        livekit_media_ip: Some([127, 0, 0, 2].into()),
        provider_media_ip: Some([127, 0, 0, 3].into()),
        livekit_sip,
        ..Setup::outbound(exotel_port)
    })
}

#[test]
fn outbound_sdp_names_each_side_its_relay_address() {
    if !sipp_available() {
        return;
    }
    const PACKETS: u64 = 25;
    let logs = Logs::new("advertised_out");
    std::fs::write(
        logs.0.join("bridge_rtp.pcmu"),
        vec![0xffu8; 160 * PACKETS as usize],
    )
    .unwrap();
    // Exotel sees 127.0.0.3 in the INVITE; LiveKit 127.0.0.2 in the 200.
    let exo_scenario = with_sdp_address(
        &logs.0,
        "bridge_exo_answer.xml",
        r#"<recv request="INVITE" rrs="true">"#,
        "127.0.0.3",
    );
    let (exotel, exo_port) = Sipp::exotel(&logs.0, exo_scenario.to_str().unwrap(), 1, &[]);
    let bridge = relay_on_all_interfaces(exo_port, None);
    let lk_scenario = with_sdp_address(
        &logs.0,
        "bridge_lk_rtp.xml",
        r#"<recv response="200" rrs="true" rtd="true"/>"#,
        "127.0.0.2",
    );
    let livekit = Sipp::livekit(
        &logs.0,
        &lk_scenario,
        bridge.port,
        LK_PASSWORD,
        &["-m", "1", "-d", "1000"],
    );
    both_succeed(livekit, exotel);
    bridge.assert_media_released();
    let media = bridge.media();
    assert_eq!(media.len(), 1, "{media:?}");
    let s = &media[0].1;
    assert!(
        s.rtp_a_to_b.packets >= 1 && s.rtp_b_to_a.packets >= 1,
        "RTP both ways through the advertised addresses: {s:?}"
    );
    assert_eq!(s.dropped_wrong_source, 0, "{s:?}");
}

#[test]
fn inbound_sdp_names_each_side_its_relay_address() {
    if !sipp_available() {
        return;
    }
    const PACKETS: u64 = 25;
    let logs = Logs::new("advertised_in");
    std::fs::write(
        logs.0.join("bridge_rtp.pcmu"),
        vec![0xffu8; 160 * PACKETS as usize],
    )
    .unwrap();
    // LiveKit sees 127.0.0.2 in the INVITE; Exotel 127.0.0.3 in the 200.
    let lk_scenario = with_sdp_address(
        &logs.0,
        "bridge_exo_answer.xml",
        r#"<recv request="INVITE" rrs="true">"#,
        "127.0.0.2",
    );
    let (livekit, lk_port) = Sipp::uas("livekit", &logs.0, lk_scenario.to_str().unwrap(), 1, &[]);
    let bridge = relay_on_all_interfaces(9, Some(lk_port));
    let exo_scenario = with_sdp_address(
        &logs.0,
        "bridge_in_exo_call.xml",
        r#"<recv response="200" rrs="true" rtd="true"/>"#,
        "127.0.0.3",
    );
    let exotel = Sipp::exotel_calling(
        &logs.0,
        exo_scenario.to_str().unwrap(),
        bridge.provider_port.unwrap(),
        &["-m", "1", "-d", "1000"],
    );
    both_succeed(exotel, livekit);
    bridge.assert_media_released();
    let media = bridge.media();
    assert_eq!(media.len(), 1, "{media:?}");
    let s = &media[0].1;
    assert!(
        s.rtp_a_to_b.packets >= 1 && s.rtp_b_to_a.packets >= 1,
        "RTP both ways through the advertised addresses: {s:?}"
    );
    assert_eq!(s.dropped_wrong_source, 0, "{s:?}");
}
