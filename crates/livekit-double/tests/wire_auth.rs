//! The API-key middleware and grants, fault injection, latency, recording and shutdown.

mod common;

use common::*;
use jsonwebtoken::Algorithm;
use livekit_double::{Outcome, SipGrant};
use livekit_protocol::*;
use serde_json::json;
use std::time::{Duration, Instant};

fn list_req() -> ListSipOutboundTrunkRequest {
    ListSipOutboundTrunkRequest::default()
}

/// A protobuf List with this Authorization header value (none when `None`).
async fn list_with(
    lk: &livekit_double::LiveKitDouble,
    authorization: Option<&str>,
) -> HttpResponse {
    let mut headers = vec![("Content-Type", "application/protobuf")];
    if let Some(a) = authorization {
        headers.push(("Authorization", a));
    }
    send(
        lk.addr(),
        "POST",
        &path("ListSIPOutboundTrunk"),
        &headers,
        &prost::Message::encode_to_vec(&list_req()),
    )
    .await
    .unwrap()
}

/// A 401 from the middleware: plain text, not Twirp JSON.
fn plain_401(r: &HttpResponse) -> String {
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    r.text()
}

#[tokio::test]
async fn missing_grants_are_twirp_unauthenticated() {
    let lk = start().await;
    let denied = (
        401,
        "unauthenticated".to_string(),
        "permissions denied".to_string(),
    );
    // No token at all: the middleware lets it through, the handler refuses.
    assert_eq!(
        call_raw(&lk, "ListSIPOutboundTrunk", None, &list_req())
            .await
            .twirp(),
        denied
    );
    for grants in [
        json!({}),
        json!({"video": {"roomAdmin": true}}),
        json!({"sip": {"call": true}}),
        json!({"sip": null}),
    ] {
        let t = sign_with(Algorithm::HS256, SECRET, &claims(grants.clone()));
        assert_eq!(
            call_raw(&lk, "ListSIPOutboundTrunk", Some(&t), &list_req())
                .await
                .twirp(),
            denied,
            "{grants}"
        );
    }
    // Checked before validation: an invalid create without grants is still "permissions denied".
    let r = call_raw(
        &lk,
        "CreateSIPOutboundTrunk",
        None,
        &CreateSipOutboundTrunkRequest::default(),
    )
    .await;
    assert_eq!(
        r.text(),
        r#"{"code":"unauthenticated","msg":"permissions denied"}"#
    );
    // An empty Authorization header counts as absent; the query parameter is honoured.
    assert_eq!(list_with(&lk, Some("")).await.twirp(), denied);
    let q = format!(
        "{}?access_token={}",
        path("ListSIPOutboundTrunk"),
        admin_token()
    );
    let r = send(
        lk.addr(),
        "POST",
        &q,
        &[("Content-Type", "application/protobuf")],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn bad_tokens_are_plain_text_401s() {
    let lk = start().await;
    let cases: Vec<(String, &str)> = vec![
        (
            "Basic abc".into(),
            "invalid authorization header. Must start with Bearer ",
        ),
        (
            format!("bearer {}", admin_token()),
            "invalid authorization header. Must start with Bearer ",
        ),
        ("Bearer not-a-jwt".into(), "invalid authorization token"),
        ("Bearer a.b.c".into(), "invalid authorization token"),
    ];
    for (header, body) in cases {
        assert_eq!(
            plain_401(&list_with(&lk, Some(&header)).await),
            body,
            "{header}"
        );
    }
    let bearer = |claims: serde_json::Value, alg, secret: &str| {
        format!("Bearer {}", sign_with(alg, secret, &claims))
    };
    let admin = || claims(json!({"sip": {"admin": true}}));
    let mut wrong_key = admin();
    wrong_key["iss"] = json!("APIother");
    let mut no_iss = admin();
    no_iss.as_object_mut().unwrap().remove("iss");
    let mut expired = admin();
    expired["exp"] = json!(now() - 120);
    let mut no_exp = admin();
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut future = admin();
    future["nbf"] = json!(now() + 600);
    let mut both = expired.clone();
    both["nbf"] = json!(now() + 600);
    let mut bad_sip = admin();
    bad_sip["sip"] = json!("admin");
    let cases = [
        (bearer(wrong_key, Algorithm::HS256, SECRET), "invalid API key".to_string()),
        // The key check comes before the signature check.
        (bearer(no_iss, Algorithm::HS256, "other"), "invalid API key".into()),
        (bearer(admin(), Algorithm::HS256, "other-secret"), "invalid authorization token: token signature is invalid: signature is invalid".into()),
        (bearer(admin(), Algorithm::HS384, SECRET), "invalid authorization token: token signature is invalid: signing method HS384 is invalid".into()),
        (bearer(expired, Algorithm::HS256, SECRET), "invalid authorization token: token has invalid claims: token is expired".into()),
        (bearer(no_exp, Algorithm::HS256, SECRET), "invalid authorization token: token has invalid claims: token is missing required claim: exp claim is required".into()),
        (bearer(future, Algorithm::HS256, SECRET), "invalid authorization token: token has invalid claims: token is not valid yet".into()),
        (bearer(both, Algorithm::HS256, SECRET), "invalid authorization token: token has invalid claims: token is expired, token is not valid yet".into()),
        (bearer(bad_sip, Algorithm::HS256, SECRET), "invalid authorization token: token is malformed: could not JSON decode claim: json: cannot unmarshal string into Go struct field tokenClaims.sip of type auth.SIPGrant".into()),
    ];
    for (header, body) in cases {
        assert_eq!(plain_401(&list_with(&lk, Some(&header)).await), body);
    }
    // Within the minute of leeway an expired token still works.
    let mut recent = admin();
    recent["exp"] = json!(now() - 30);
    assert_eq!(
        list_with(&lk, Some(&bearer(recent, Algorithm::HS256, SECRET)))
            .await
            .status,
        200
    );
    // The middleware runs before routing: a bad token on a bad route is still a 401.
    let r = send(
        lk.addr(),
        "POST",
        &path("Nope"),
        &[("Authorization", "Basic x")],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn requests_are_recorded_with_grants() {
    let lk = start().await;
    assert_eq!(
        list_with(&lk, Some(&format!("Bearer {}", admin_token())))
            .await
            .status,
        200
    );
    assert_eq!(list_with(&lk, Some("Basic x")).await.status, 401);
    assert_eq!(
        call_raw(&lk, "ListSIPOutboundTrunk", None, &list_req())
            .await
            .status,
        401
    );
    let seen = lk.requests();
    assert_eq!(seen.len(), 3);
    assert!(seen
        .iter()
        .all(|r| r.method == "ListSIPOutboundTrunk" && r.content_type == "application/protobuf"));
    assert!(seen[0].ok());
    let g = seen[0].grants.as_ref().unwrap();
    assert_eq!((g.api_key.as_str(), g.identity.as_str()), (KEY, "tester"));
    assert_eq!(
        g.sip,
        Some(SipGrant {
            admin: true,
            call: false
        })
    );
    assert!(g.sip_admin());
    let body = "invalid authorization header. Must start with Bearer ".to_string();
    assert_eq!(seen[1].outcome, Outcome::Http { status: 401, body });
    assert_eq!(seen[1].grants, None);
    let denied = Outcome::Twirp {
        code: "unauthenticated".into(),
        msg: "permissions denied".into(),
    };
    assert_eq!((seen[2].status, &seen[2].outcome), (401, &denied));
    lk.clear_requests();
    assert!(lk.requests().is_empty());
}

#[tokio::test]
async fn fail_next_answers_one_injected_error() {
    let lk = start().await;
    let create = CreateSipOutboundTrunkRequest {
        trunk: Some(SipOutboundTrunkInfo {
            address: "h".into(),
            numbers: vec!["1".into()],
            ..Default::default()
        }),
    };
    lk.fail_next("unavailable", "try later");
    // Refused by the middleware: does not consume the injection.
    assert_eq!(list_with(&lk, Some("Basic x")).await.status, 401);
    let r: Result<SipOutboundTrunkInfo, _> = call(&lk, "CreateSIPOutboundTrunk", &create).await;
    assert_eq!(
        r.unwrap_err(),
        (503, "unavailable".into(), "try later".into())
    );
    assert!(
        lk.outbound_trunks().is_empty(),
        "the handler must not have run"
    );
    let ok: SipOutboundTrunkInfo = call(&lk, "CreateSIPOutboundTrunk", &create).await.unwrap();
    assert_eq!(lk.outbound_trunks(), vec![ok]);
    for (code, status) in [
        ("resource_exhausted", 429),
        ("deadline_exceeded", 408),
        ("already_exists", 409),
        ("internal", 500),
    ] {
        lk.fail_next(code, "boom");
        let r = call_raw(
            &lk,
            "ListSIPOutboundTrunk",
            Some(&admin_token()),
            &list_req(),
        )
        .await;
        assert_eq!(r.twirp(), (status, code.to_string(), "boom".to_string()));
    }
}

#[tokio::test]
async fn out_of_band_changes_are_visible() {
    let lk = start().await;
    let id = lk.insert_out_of_band(SipOutboundTrunkInfo {
        address: "h".into(),
        numbers: vec!["1".into()],
        ..Default::default()
    });
    let r: GetSipOutboundTrunkResponse = call(
        &lk,
        "GetSIPOutboundTrunk",
        &GetSipOutboundTrunkRequest {
            sip_trunk_id: id.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(r.trunk.unwrap().sip_trunk_id, id);
    assert!(lk.delete_out_of_band(&id));
    assert!(!lk.delete_out_of_band(&id));
    let r: Result<GetSipOutboundTrunkResponse, _> = call(
        &lk,
        "GetSIPOutboundTrunk",
        &GetSipOutboundTrunkRequest { sip_trunk_id: id },
    )
    .await;
    assert_eq!(r.unwrap_err().1, "not_found");
}

#[tokio::test]
async fn latency_delays_answers() {
    let lk = start().await;
    lk.set_latency(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(
        call_raw(
            &lk,
            "ListSIPOutboundTrunk",
            Some(&admin_token()),
            &list_req()
        )
        .await
        .status,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    lk.set_latency(Duration::ZERO);
    let started = Instant::now();
    call_raw(
        &lk,
        "ListSIPOutboundTrunk",
        Some(&admin_token()),
        &list_req(),
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn shutdown_refuses_new_connections() {
    let lk = start().await;
    let addr = lk.addr();
    let keep = lk.clone();
    assert_eq!(
        call_raw(
            &lk,
            "ListSIPOutboundTrunk",
            Some(&admin_token()),
            &list_req()
        )
        .await
        .status,
        200
    );
    // An idle keep-alive connection must not hold shutdown up.
    let _idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), lk.shutdown())
        .await
        .expect("shutdown finishes");
    let err = tokio::net::TcpStream::connect(addr)
        .await
        .expect_err("connect must be refused");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(keep.requests().len(), 1, "state stays readable");
}
