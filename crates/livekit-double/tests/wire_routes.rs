//! The double over raw HTTP: listing semantics, the JSON codec, routing and bad bodies.

mod common;

use common::*;
use livekit_protocol::*;

#[tokio::test]
async fn list_filters_and_pages_like_the_redis_store() {
    let lk = start().await;
    let mut ids = Vec::new();
    for n in ["1", "2", "1", "3"] {
        ids.push(create(&lk, trunk("h", &[n])).await.unwrap().sip_trunk_id);
    }
    let mut sorted = ids.clone();
    sorted.sort();
    let page = |after: &str, limit| {
        Some(Pagination {
            after_id: after.into(),
            limit,
        })
    };
    // `limit` is only the store's batch size: the reply holds everything after the cursor.
    assert_eq!(
        list(
            &lk,
            ListSipOutboundTrunkRequest {
                page: page("", 1),
                ..Default::default()
            }
        )
        .await,
        sorted
    );
    assert_eq!(
        list(
            &lk,
            ListSipOutboundTrunkRequest {
                page: page(&sorted[1], 2),
                ..Default::default()
            }
        )
        .await,
        sorted[2..]
    );
    assert_eq!(
        list(
            &lk,
            ListSipOutboundTrunkRequest {
                page: page(&sorted[3], 0),
                ..Default::default()
            }
        )
        .await,
        Vec::<String>::new()
    );
    // trunk_ids only filters: sorted by id, unknown ids dropped.
    let wanted = vec![ids[2].clone(), "ST_unknown".into(), ids[0].clone()];
    let mut expect = vec![ids[0].clone(), ids[2].clone()];
    expect.sort();
    assert_eq!(
        list(
            &lk,
            ListSipOutboundTrunkRequest {
                trunk_ids: wanted,
                ..Default::default()
            }
        )
        .await,
        expect
    );
    assert_eq!(
        list(
            &lk,
            ListSipOutboundTrunkRequest {
                numbers: vec!["1".into()],
                ..Default::default()
            }
        )
        .await,
        expect
    );
    // A trunk without numbers passes any numbers filter.
    let bare = lk.insert_out_of_band(SipOutboundTrunkInfo {
        sip_trunk_id: "ST_zzzz".into(),
        ..Default::default()
    });
    let got = list(
        &lk,
        ListSipOutboundTrunkRequest {
            numbers: vec!["3".into()],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(got, vec![ids[3].clone(), bare]);
}

#[tokio::test]
async fn json_in_both_spellings_and_snake_case_out() {
    let lk = start().await;
    let auth = format!("Bearer {}", admin_token());
    let headers = [
        ("Content-Type", "application/json; charset=utf-8"),
        ("Authorization", auth.as_str()),
    ];
    let body = br#"{"trunk": {"address": "h", "numbers": ["1"], "authUsername": "u", "auth_password": "p", "unknownField": 1}} trailing"#;
    let r = send(
        lk.addr(),
        "POST",
        &path("CreateSIPOutboundTrunk"),
        &headers,
        body,
    )
    .await
    .unwrap();
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("application/json")),
        "{}",
        r.text()
    );
    let j = r.json();
    assert_eq!(
        (j["auth_username"].as_str(), j["auth_password"].as_str()),
        (Some("u"), Some("p"))
    );
    let id = j["sip_trunk_id"].as_str().unwrap().to_owned();
    assert_eq!(lk.outbound_trunk(&id).unwrap().auth_username, "u");

    let get = format!(r#"{{"sipTrunkId": "{id}"}}"#);
    let r = send(
        lk.addr(),
        "POST",
        &path("GetSIPOutboundTrunk"),
        &headers,
        get.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(
        r.json()["trunk"]["sip_trunk_id"].as_str(),
        Some(id.as_str())
    );

    for bad in [&b""[..], b"{", b"[1]", br#"{"trunk": {"numbers": "x"}}"#] {
        let r = send(
            lk.addr(),
            "POST",
            &path("CreateSIPOutboundTrunk"),
            &headers,
            bad,
        )
        .await
        .unwrap();
        assert_eq!(
            r.twirp(),
            (
                400,
                "malformed".into(),
                "the json request could not be decoded".into()
            )
        );
    }
}

#[tokio::test]
async fn json_dispatch_rule_with_agents_and_map_keys() {
    let lk = start().await;
    let body = r#"{"dispatch_rule": {"rule": {"dispatchRuleIndividual": {"room_prefix": "call-"}},
        "attributes": {"someKey": "v"},
        "roomConfig": {"agents": [{"agentName": "receptionist", "metadata": "{}"}], "tags": {"myTag": "t"}}}}"#;
    let r = call_json(&lk, "CreateSIPDispatchRule", body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(
        j["rule"]["dispatch_rule_individual"]["room_prefix"],
        "call-"
    );
    assert_eq!(j["room_config"]["agents"][0]["agent_name"], "receptionist");
    // Map keys are data: left as sent.
    assert_eq!(j["attributes"]["someKey"], "v");
    assert_eq!(j["room_config"]["tags"]["myTag"], "t");
    assert_eq!(j["media"], serde_json::json!({}));
    let id = j["sip_dispatch_rule_id"].as_str().unwrap();
    let rule = lk.dispatch_rule(id).unwrap();
    assert_eq!(rule.room_config.unwrap().agents[0].metadata, "{}");
}

#[tokio::test]
async fn routing_errors_are_twirp_bad_route() {
    let lk = start().await;
    let auth = format!("Bearer {}", admin_token());
    let pb = [
        ("Content-Type", "application/protobuf"),
        ("Authorization", auth.as_str()),
    ];
    let r = send(lk.addr(), "POST", &path("X"), &pb, b"").await.unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text(),
        r#"{"code":"bad_route","msg":"no handler for path \"/twirp/livekit.SIP/X\"","meta":{"twirp_invalid_route":"POST /twirp/livekit.SIP/X"}}"#
    );
    let r = send(lk.addr(), "GET", &path("GetSIPOutboundTrunk"), &pb, b"")
        .await
        .unwrap();
    let msg = "unsupported method \"GET\" (only POST is allowed)";
    assert_eq!(r.twirp(), (404, "bad_route".into(), msg.into()));
    let text = [
        ("Content-Type", "text/plain"),
        ("Authorization", auth.as_str()),
    ];
    let r = send(lk.addr(), "POST", &path("GetSIPOutboundTrunk"), &text, b"")
        .await
        .unwrap();
    assert_eq!(
        r.twirp(),
        (
            404,
            "bad_route".into(),
            "unexpected Content-Type: \"text/plain\"".into()
        )
    );
    let r = send(
        lk.addr(),
        "POST",
        &path("GetSIPOutboundTrunk"),
        &[("Authorization", auth.as_str())],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(
        r.twirp(),
        (
            404,
            "bad_route".into(),
            "unexpected Content-Type: \"\"".into()
        )
    );
    // Real methods the double does not implement are routed and decoded, then refused.
    let r = send(lk.addr(), "POST", &path("ListSIPTrunk"), &pb, b"")
        .await
        .unwrap();
    assert_eq!(r.twirp().0, 501);
    // Outside the SIP service: Go's mux.
    let r = send(lk.addr(), "GET", "/nothing", &[], b"").await.unwrap();
    assert_eq!((r.status, r.text()), (404, "404 page not found\n".into()));
    let r = send(lk.addr(), "GET", "/", &[], b"").await.unwrap();
    assert_eq!((r.status, r.text()), (200, "OK".into()));
}

#[tokio::test]
async fn bad_bodies_are_malformed_or_too_large() {
    let lk = start().await;
    let auth = format!("Bearer {}", admin_token());
    let pb = [
        ("Content-Type", "application/protobuf"),
        ("Authorization", auth.as_str()),
    ];
    // Garbage, a truncated field, and a string (trunk.name) that is not UTF-8.
    for junk in [
        &b"\xff\xff\xff"[..],
        b"\x0a\x05ab",
        b"\x0a\x04\x12\x02\xc3\x28",
    ] {
        let r = send(
            lk.addr(),
            "POST",
            &path("CreateSIPOutboundTrunk"),
            &pb,
            junk,
        )
        .await
        .unwrap();
        assert_eq!(
            r.twirp(),
            (
                400,
                "malformed".into(),
                "the protobuf request could not be decoded".into()
            )
        );
    }
    let huge = [
        ("Content-Type", "application/protobuf"),
        ("Content-Length", "10485761"),
    ];
    let r = send(
        lk.addr(),
        "POST",
        &path("CreateSIPOutboundTrunk"),
        &huge,
        b"",
    )
    .await
    .unwrap();
    assert_eq!((r.status, r.text()), (413, "request body too large".into()));
    // No declared length: the limit is hit while reading, after auth (Go's MaxBytesReader).
    let mut chunked = format!("{:x}\r\n", 10 * 1024 * 1024 + 1).into_bytes();
    chunked.extend(std::iter::repeat_n(0x0a_u8, 10 * 1024 * 1024 + 1));
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let te = [
        ("Content-Type", "application/protobuf"),
        ("Transfer-Encoding", "chunked"),
        ("Authorization", auth.as_str()),
    ];
    let sent = send(
        lk.addr(),
        "POST",
        &path("CreateSIPOutboundTrunk"),
        &te,
        &chunked,
    )
    .await;
    if let Ok(r) = sent {
        let msg = "failed to read request body";
        assert_eq!(r.twirp(), (400, "malformed".into(), msg.into()));
    }
    assert!(lk.outbound_trunks().is_empty());
}
