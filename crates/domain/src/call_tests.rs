use super::*;

#[test]
fn sip_codes_map_to_statuses() {
    use CallStatus::*;
    let table: &[(u16, SipVerdict)] = &[
        (486, SipVerdict::Final(Busy)),
        (600, SipVerdict::Final(Busy)),
        (603, SipVerdict::Final(Rejected)),
        (607, SipVerdict::Final(Rejected)),
        (608, SipVerdict::Final(Rejected)),
        (480, SipVerdict::Final(NoAnswer)),
        (487, SipVerdict::Final(NoAnswer)),
        (408, SipVerdict::Retry),
        (503, SipVerdict::Retry),
        (404, SipVerdict::Final(Failed)),
        (484, SipVerdict::Final(Failed)),
        (401, SipVerdict::Final(Failed)),
        (403, SipVerdict::Final(Failed)),
        (407, SipVerdict::Final(Failed)),
        (488, SipVerdict::Final(Failed)),
        (500, SipVerdict::Final(Failed)),
        (502, SipVerdict::Final(Failed)),
        (604, SipVerdict::Final(Failed)),
    ];
    for (code, want) in table {
        assert_eq!(sip_verdict(*code), *want, "{code}");
    }
}

#[test]
fn never_retry_where_the_callee_could_ring_twice() {
    for code in [486, 600, 603, 404, 480, 487, 200] {
        assert_ne!(sip_verdict(code), SipVerdict::Retry, "{code}");
    }
}

#[test]
fn disconnect_reasons_map_to_statuses() {
    assert_eq!(
        unanswered_left_status("USER_REJECTED"),
        CallStatus::Rejected
    );
    assert_eq!(
        unanswered_left_status("USER_UNAVAILABLE"),
        CallStatus::NoAnswer
    );
    assert_eq!(
        unanswered_left_status("SIP_TRUNK_FAILURE"),
        CallStatus::Failed
    );
    assert_eq!(unanswered_left_status("ROOM_DELETED"), CallStatus::Failed);
}

#[test]
fn statuses_round_trip_and_only_move_forward() {
    for s in CallStatus::ALL {
        assert_eq!(CallStatus::parse(s.as_str()), Some(s));
        assert!(s
            .predecessors()
            .iter()
            .all(|p| { CallStatus::parse(p).unwrap().rank() < s.rank() }));
    }
    assert_eq!(CallStatus::Claimed.public(), "queued");
    assert!(CallStatus::Answered.predecessors().contains(&"ringing"));
    assert!(!CallStatus::Answered.predecessors().contains(&"busy"));
    assert!(CallStatus::Completed.predecessors().contains(&"answered"));
    assert!(!CallStatus::Completed.predecessors().contains(&"cancelled"));
    let finals: Vec<_> = CallStatus::ALL
        .into_iter()
        .filter(|s| s.is_final())
        .collect();
    assert_eq!(finals.len(), 6);
}

#[test]
fn backoff_grows_and_is_capped() {
    assert_eq!(retry_delay(1), Duration::from_secs(2));
    assert_eq!(retry_delay(2), Duration::from_secs(4));
    assert_eq!(retry_delay(3), Duration::from_secs(8));
    assert_eq!(retry_delay(30), Duration::from_secs(60));
}
