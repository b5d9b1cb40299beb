//! The double over raw HTTP: the inbound-trunk RPCs, their validation messages and the
//! server's conflict check between trunks.

mod common;

use common::*;
use livekit_double::LiveKitDouble;
use livekit_protocol::update_sip_inbound_trunk_request::Action;
use livekit_protocol::*;

type Err3 = (u16, String, String);

fn inbound(numbers: &[&str]) -> SipInboundTrunkInfo {
    SipInboundTrunkInfo {
        name: "pbx".into(),
        numbers: numbers.iter().map(|n| n.to_string()).collect(),
        ..Default::default()
    }
}

async fn create_in(
    lk: &LiveKitDouble,
    t: SipInboundTrunkInfo,
) -> Result<SipInboundTrunkInfo, Err3> {
    let req = CreateSipInboundTrunkRequest { trunk: Some(t) };
    call(lk, "CreateSIPInboundTrunk", &req).await
}

async fn update_in(lk: &LiveKitDouble, id: &str, a: Action) -> Result<SipInboundTrunkInfo, Err3> {
    let req = UpdateSipInboundTrunkRequest {
        sip_trunk_id: id.into(),
        action: Some(a),
    };
    call(lk, "UpdateSIPInboundTrunk", &req).await
}

async fn get_in(lk: &LiveKitDouble, id: &str) -> Result<GetSipInboundTrunkResponse, Err3> {
    let req = GetSipInboundTrunkRequest {
        sip_trunk_id: id.into(),
    };
    call(lk, "GetSIPInboundTrunk", &req).await
}

async fn list_in(lk: &LiveKitDouble, req: ListSipInboundTrunkRequest) -> Vec<String> {
    let r: ListSipInboundTrunkResponse = call(lk, "ListSIPInboundTrunk", &req).await.unwrap();
    r.items.into_iter().map(|t| t.sip_trunk_id).collect()
}

fn set_numbers(n: &[&str], clear: bool) -> Action {
    Action::Update(SipInboundTrunkUpdate {
        numbers: Some(ListUpdate {
            set: n.iter().map(|x| x.to_string()).collect(),
            clear,
            ..Default::default()
        }),
        ..Default::default()
    })
}

const NOT_FOUND: &str = "requested sip trunk does not exist";

#[tokio::test]
async fn create_get_list_update_delete() {
    let lk = start().await;
    let sent = SipInboundTrunkInfo {
        allowed_addresses: vec!["10.0.0.0/8".into()],
        auth_username: "u".into(),
        auth_password: "p".into(),
        ..inbound(&["+15550100"])
    };
    let created = create_in(&lk, sent.clone()).await.unwrap();
    let id = created.sip_trunk_id.clone();
    assert!(id.starts_with("ST_") && id.len() == 15, "{id}");
    // Stored as sent plus the id: no media materialised, no timestamps, password echoed.
    assert_eq!(
        created,
        SipInboundTrunkInfo {
            sip_trunk_id: id.clone(),
            ..sent
        }
    );
    assert_eq!(lk.inbound_trunk(&id), Some(created.clone()));
    assert_eq!(get_in(&lk, &id).await.unwrap().trunk, Some(created));
    // Separate hashes: an inbound id is no outbound trunk and vice versa.
    let out = create(&lk, trunk("h", &["1"])).await.unwrap().sip_trunk_id;
    assert_eq!(
        get_in(&lk, &out).await.unwrap_err(),
        (404, "not_found".into(), NOT_FOUND.into())
    );
    let r: Result<GetSipOutboundTrunkResponse, _> = call(
        &lk,
        "GetSIPOutboundTrunk",
        &GetSipOutboundTrunkRequest {
            sip_trunk_id: id.clone(),
        },
    )
    .await;
    assert_eq!(r.unwrap_err().1, "not_found");
    assert_eq!(
        get_in(&lk, "").await.unwrap_err(),
        invalid("trunk ID is required")
    );

    // Replace keeps only the id; Update applies the diff and materialises media.
    let replaced = update_in(&lk, &id, Action::Replace(inbound(&["+1 555 0199"])))
        .await
        .unwrap();
    assert_eq!(
        replaced,
        SipInboundTrunkInfo {
            sip_trunk_id: id.clone(),
            ..inbound(&["+1 555 0199"])
        }
    );
    let diff = SipInboundTrunkUpdate {
        allowed_numbers: Some(ListUpdate {
            add: vec!["+1999".into()],
            ..Default::default()
        }),
        auth_realm: Some("realm".into()),
        ..Default::default()
    };
    let updated = update_in(&lk, &id, Action::Update(diff)).await.unwrap();
    assert_eq!(
        (updated.allowed_numbers.clone(), updated.auth_realm.as_str()),
        (vec!["+1999".to_string()], "realm")
    );
    assert_eq!(updated.media, Some(SipMediaConfig::default()));
    assert_eq!(lk.inbound_trunk(&id), Some(updated));

    // Numbers filter compares as sent or normalised; number-less trunks always pass.
    let bare = lk.insert_inbound_out_of_band(SipInboundTrunkInfo {
        auth_username: "x".into(),
        ..Default::default()
    });
    let mut both = vec![id.clone(), bare.clone()];
    both.sort();
    let by_number = |n: &str| ListSipInboundTrunkRequest {
        numbers: vec![n.into()],
        ..Default::default()
    };
    assert_eq!(list_in(&lk, by_number("15550199")).await, both);
    assert_eq!(list_in(&lk, by_number("+2")).await, vec![bare.clone()]);
    let by_ids = ListSipInboundTrunkRequest {
        trunk_ids: vec![id.clone(), out.clone()],
        ..Default::default()
    };
    assert_eq!(list_in(&lk, by_ids).await, vec![id.clone()]);
    let paged = ListSipInboundTrunkRequest {
        page: Some(Pagination {
            after_id: both[0].clone(),
            limit: 1,
        }),
        ..Default::default()
    };
    assert_eq!(list_in(&lk, paged).await, both[1..]);

    // DeleteSIPTrunk removes inbound trunks too and answers just the id, known or not.
    for del in [id.clone(), id.clone()] {
        let r: SipTrunkInfo = call(
            &lk,
            "DeleteSIPTrunk",
            &DeleteSipTrunkRequest {
                sip_trunk_id: del.clone(),
            },
        )
        .await
        .unwrap();
        assert_eq!(
            r,
            SipTrunkInfo {
                sip_trunk_id: del,
                ..Default::default()
            }
        );
    }
    assert_eq!(lk.inbound_trunks().len(), 1);
    assert!(lk.delete_out_of_band(&bare) && lk.inbound_trunks().is_empty());
    assert_eq!(lk.outbound_trunks().len(), 1);
}

#[tokio::test]
async fn validation_messages() {
    let lk = start().await;
    let r: Result<SipInboundTrunkInfo, _> = call(
        &lk,
        "CreateSIPInboundTrunk",
        &CreateSipInboundTrunkRequest { trunk: None },
    )
    .await;
    assert_eq!(r.unwrap_err(), invalid("missing trunk"));
    let security = "for security, one of the fields must be set: AuthUsername+AuthPassword, AllowedAddresses or Numbers";
    let mut with_header = inbound(&["1"]);
    with_header.headers.insert("Call-ID".into(), "x".into());
    let mut bad_attr = inbound(&["1"]);
    bad_attr
        .attributes_to_headers
        .insert("a".into(), "X Bad".into());
    let cases = [
        (SipInboundTrunkInfo { sip_trunk_id: "ST_x".into(), ..inbound(&[]) }, "trunk id must not be set"),
        (inbound(&[]), security),
        (SipInboundTrunkInfo { media: Some(SipMediaConfig { codecs: vec![Default::default()], ..Default::default() }), ..inbound(&[]) }, security),
        (SipInboundTrunkInfo { media: Some(SipMediaConfig { codecs: vec![Default::default()], ..Default::default() }), ..inbound(&["1"]) }, "missing codec name"),
        (SipInboundTrunkInfo { ringing_timeout_status: 302, ..inbound(&["1"]) }, "ringing timeout status must be 4xx-6xx, got 302"),
        (with_header, "invalid header name: header name Call-ID not supported"),
        (bad_attr, "invalid header name: header name X Bad contains invalid characters: char 32 not allowed"),
    ];
    for (t, msg) in cases {
        assert_eq!(create_in(&lk, t).await.unwrap_err(), invalid(msg));
    }
    // Any one of password, username, addresses (not checked as CIDRs) or numbers will do.
    for t in [
        SipInboundTrunkInfo {
            auth_password: "p".into(),
            ..inbound(&[])
        },
        SipInboundTrunkInfo {
            allowed_addresses: vec!["not a cidr".into()],
            ..inbound(&["+1"])
        },
        SipInboundTrunkInfo {
            ringing_timeout_status: 486,
            ..inbound(&["+2"])
        },
    ] {
        create_in(&lk, t).await.unwrap();
    }

    let id = create_in(&lk, inbound(&["+3"])).await.unwrap().sip_trunk_id;
    assert_eq!(
        update_in(&lk, "", set_numbers(&["1"], false))
            .await
            .unwrap_err(),
        invalid("trunk id must be set")
    );
    let r: Result<SipInboundTrunkInfo, _> = call(
        &lk,
        "UpdateSIPInboundTrunk",
        &UpdateSipInboundTrunkRequest {
            sip_trunk_id: id.clone(),
            action: None,
        },
    )
    .await;
    assert_eq!(
        r.unwrap_err(),
        invalid("missing or unsupported update action")
    );
    let other = SipInboundTrunkInfo {
        sip_trunk_id: "ST_other".into(),
        ..inbound(&["1"])
    };
    assert_eq!(
        update_in(&lk, &id, Action::Replace(other))
            .await
            .unwrap_err(),
        invalid("trunk id in the info must be empty or match the id in the update")
    );
    assert_eq!(
        update_in(&lk, &id, Action::Replace(inbound(&[])))
            .await
            .unwrap_err(),
        invalid(security)
    );
    assert_eq!(
        update_in(&lk, &id, set_numbers(&["1"], true))
            .await
            .unwrap_err(),
        invalid("cannot clear and change the list at the same time")
    );
    // Request validation comes before the lookup.
    assert_eq!(
        update_in(&lk, "ST_missing", Action::Replace(inbound(&[])))
            .await
            .unwrap_err(),
        invalid(security)
    );
    assert_eq!(
        update_in(&lk, "ST_missing", set_numbers(&["9"], false))
            .await
            .unwrap_err(),
        (404, "not_found".into(), NOT_FOUND.into())
    );
    // Emptying the last safeguard fails after applying. Unlike outbound trunks (a plain Go
    // error, `unknown` 500) this is a psrpc InvalidArgument, so it stays 400.
    assert_eq!(
        update_in(&lk, &id, set_numbers(&[], true))
            .await
            .unwrap_err(),
        invalid(security)
    );
    assert_eq!(lk.inbound_trunk(&id).unwrap().numbers, ["+3"]);
}

#[tokio::test]
async fn conflicting_trunks_are_rejected() {
    let lk = start().await;
    let a = create_in(&lk, inbound(&["+1 555"]))
        .await
        .unwrap()
        .sip_trunk_id;
    // The only stored match is walked first, so the new trunk is the first one named.
    let msg = format!(
        r#"Conflicting inbound SIP Trunks: "<new>" and "{a}", using the same number(s) ["15 55"] without AllowedNumbers set"#
    );
    assert_eq!(
        create_in(&lk, inbound(&["15 55"])).await.unwrap_err(),
        invalid(&msg)
    );
    // Distinct allowed callers on the same number are fine; a shared one is not.
    let callers = |c: &[&str]| SipInboundTrunkInfo {
        allowed_numbers: c.iter().map(|x| x.to_string()).collect(),
        ..inbound(&["+1555"])
    };
    let b = create_in(&lk, callers(&["+100"]))
        .await
        .unwrap()
        .sip_trunk_id;
    let c = create_in(&lk, callers(&["+200"]))
        .await
        .unwrap()
        .sip_trunk_id;
    let mut stored = [a.clone(), b.clone(), c.clone()];
    stored.sort();
    let clash = stored.iter().position(|x| *x == b || *x == c).unwrap();
    let (clash_id, clash_num) = if stored[clash] == b {
        (&b, "+100")
    } else {
        (&c, "+200")
    };
    let err = create_in(&lk, callers(&["+100", "+200"]))
        .await
        .unwrap_err();
    // Round-robin walk (stored[0], new, stored[1], ...): a clash with stored[0] names the new
    // trunk first; a later clash names the stored trunk first and the new one second.
    let expect = if clash == 0 {
        format!(
            r#"Conflicting inbound SIP Trunks: "<new>" and "{clash_id}", using the same number(s) ["+1555"] and AllowedNumber "{clash_num}""#
        )
    } else {
        format!(
            r#"Conflicting inbound SIP Trunks: "{clash_id}" and "<new>", using the same number(s) ["+1555"] and AllowedNumber "{clash_num}""#
        )
    };
    assert_eq!(err, invalid(&expect));

    // Two trunks without numbers and without allowed callers clash too, even auth-only ones.
    let auth = |u: &str| SipInboundTrunkInfo {
        auth_username: u.into(),
        ..inbound(&[])
    };
    let d = create_in(&lk, auth("one")).await.unwrap().sip_trunk_id;
    let first = lk.inbound_trunks()[0].sip_trunk_id.clone();
    let pair = if first == d {
        format!(r#""<new>" and "{d}""#)
    } else {
        format!(r#""{d}" and "<new>""#)
    };
    let msg = format!("Conflicting inbound SIP Trunks: {pair}, using the same number(s) <any> without AllowedNumbers set");
    assert_eq!(
        create_in(&lk, auth("two")).await.unwrap_err(),
        invalid(&msg)
    );

    // Updates are checked against the others, not against the trunk's stored self...
    update_in(&lk, &a, Action::Replace(inbound(&["+1555", "+1 555"])))
        .await
        .unwrap();
    let e = create_in(&lk, inbound(&["+7"])).await.unwrap().sip_trunk_id;
    let (status, code, msg) = update_in(&lk, &e, set_numbers(&["+7", "+1555"], false))
        .await
        .unwrap_err();
    assert_eq!((status, code.as_str()), (400, "invalid_argument"));
    assert!(msg.starts_with("Conflicting inbound SIP Trunks: "), "{msg}");
    // ...but only when its stored self shares one of the new numbers: moving wholly onto a
    // taken number skips the check, and the conflict is stored.
    update_in(&lk, &e, set_numbers(&["+1555"], false))
        .await
        .unwrap();
    assert_eq!(lk.inbound_trunk(&e).unwrap().numbers, ["+1555"]);
    // From then on every create sharing that number fails on the stored pair.
    assert!(create_in(&lk, callers(&["+300"])).await.is_err());
}

#[tokio::test]
async fn json_create_and_list() {
    let lk = start().await;
    let body = r#"{"trunk": {"name": "pbx", "numbers": ["+1"], "allowedAddresses": ["1.2.3.4"], "headers_to_attributes": {"X-Customer": "customer"}, "ringing_timeout": "30s"}}"#;
    let r = call_json(&lk, "CreateSIPInboundTrunk", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["allowed_addresses"][0], "1.2.3.4");
    assert_eq!(j["headers_to_attributes"]["X-Customer"], "customer");
    let id = j["sip_trunk_id"].as_str().unwrap().to_owned();
    let r = call_json(&lk, "ListSIPInboundTrunk", r#"{"numbers": ["1"]}"#).await;
    assert_eq!(
        r.json()["items"][0]["sip_trunk_id"].as_str(),
        Some(id.as_str())
    );
    let r = call_json(&lk, "CreateSIPInboundTrunk", r#"{"trunk": {}}"#).await;
    assert_eq!(r.twirp().2, "for security, one of the fields must be set: AuthUsername+AuthPassword, AllowedAddresses or Numbers");
}
