//! The Telnyx double answered over raw HTTP, checked against TX-OAI.

mod common;
use common::*;
use provider_doubles::{Fault, TelnyxDouble};
use serde_json::{json, Value};

const KEY: &str = "KEY_telnyx_test";

fn call(
    tx: &TelnyxDouble,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::RequestBuilder {
    let r = http()
        .request(method, format!("{}/v2{path}", tx.url()))
        .bearer_auth(KEY);
    match body {
        Some(b) => r
            .header("Content-Type", "application/json")
            .body(b.to_string()),
        None => r,
    }
}

fn assert_error(a: &Answer, status: u16, code: &str) -> Value {
    assert_eq!(a.status, status, "{}", a.text);
    let e = a.json()["errors"][0].clone();
    assert_eq!(e["code"], code, "{}", a.text);
    assert!(e["title"].is_string() && e["detail"].is_string());
    e
}

#[tokio::test]
async fn connections_and_profiles_on_the_wire() {
    let tx = TelnyxDouble::start(KEY).await;
    let a = send(call(
        &tx,
        reqwest::Method::POST,
        "/outbound_voice_profiles",
        Some(json!({"name": "p"})),
    ))
    .await;
    assert_eq!(
        a.status, 200,
        "an outbound voice profile create answers 200: {}",
        a.text
    );
    let ovp = a.json()["data"].clone();
    assert_eq!(ovp["record_type"], "outbound_voice_profile");
    let id = ovp["id"].as_str().unwrap();
    assert!(
        id.len() == 19 && id.bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );

    let body = json!({"connection_name": "c", "user_name": "abcd1234", "password": "password1",
        "outbound": {"outbound_voice_profile_id": id}});
    let a = send(call(
        &tx,
        reqwest::Method::POST,
        "/credential_connections",
        Some(body),
    ))
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let conn = a.json()["data"].clone();
    assert_eq!(conn["record_type"], "credential_connection");
    assert_eq!(conn["password"], "password1", "Telnyx echoes the password");
    assert_eq!(conn["outbound"]["outbound_voice_profile_id"], id);
    assert!(conn["created_at"].as_str().unwrap().ends_with('Z'));
    let cid = conn["id"].as_str().unwrap().to_owned();

    let a = send(call(
        &tx,
        reqwest::Method::PATCH,
        &format!("/credential_connections/{cid}"),
        Some(json!({"inbound": {"dnis_number_format": "+e164"}})),
    ))
    .await;
    assert_eq!(a.status, 200);
    let patched = a.json()["data"].clone();
    assert_eq!(patched["inbound"]["dnis_number_format"], "+e164");
    assert_eq!(
        patched["inbound"]["ani_number_format"], "E.164-national",
        "PATCH merges"
    );

    let a = send(call(
        &tx,
        reqwest::Method::DELETE,
        &format!("/credential_connections/{cid}"),
        None,
    ))
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json()["data"]["id"],
        cid.as_str(),
        "DELETE answers the deleted object"
    );
    assert_error(
        &send(call(
            &tx,
            reqwest::Method::GET,
            &format!("/credential_connections/{cid}"),
            None,
        ))
        .await,
        404,
        "10005",
    );
}

#[tokio::test]
async fn validation_is_422_with_a_pointer() {
    let tx = TelnyxDouble::start(KEY).await;
    let cases = [
        (
            json!({"connection_name": "c", "user_name": "ab", "password": "password1"}),
            "/user_name",
        ),
        (
            json!({"connection_name": "c", "user_name": "abcd1234", "password": "short"}),
            "/password",
        ),
        (
            json!({"connection_name": "c", "user_name": "abcd1234", "password": "password1", "inbound": {"dnis_number_format": "E164"}}),
            "/inbound/dnis_number_format",
        ),
        (
            json!({"connection_name": "c", "user_name": "abcd1234", "password": "password1", "outbound": {"outbound_voice_profile_id": "1"}}),
            "/outbound/outbound_voice_profile_id",
        ),
        (
            json!({"connection_name": "c", "username": "abcd1234", "password": "password1"}),
            "/username",
        ),
    ];
    for (body, pointer) in cases {
        let a = send(call(
            &tx,
            reqwest::Method::POST,
            "/credential_connections",
            Some(body),
        ))
        .await;
        let e = assert_error(&a, 422, "10015");
        assert_eq!(e["source"]["pointer"], pointer);
    }
    let a = send(call(
        &tx,
        reqwest::Method::POST,
        "/fqdns",
        Some(json!({"connection_id": "1", "fqdn": "x.example", "dns_record_type": "a"})),
    ))
    .await;
    assert_eq!(
        assert_error(&a, 422, "10015")["source"]["pointer"],
        "/connection_id"
    );
    let a = send(call(
        &tx,
        reqwest::Method::PATCH,
        "/outbound_voice_profiles/1",
        Some(json!({})),
    ))
    .await;
    assert_error(&a, 404, "10005");
}

#[tokio::test]
async fn auth_paging_filters_and_rate_limits() {
    let tx = TelnyxDouble::start(KEY).await;
    let a = send(http().get(format!("{}/v2/phone_numbers", tx.url()))).await;
    assert_error(&a, 401, "10009");
    let a = send(
        http()
            .get(format!("{}/v2/phone_numbers", tx.url()))
            .bearer_auth("other"),
    )
    .await;
    assert_error(&a, 401, "10009");

    for i in 0..3 {
        tx.add_number(&format!("+1312555010{i}"));
    }
    let a = send(call(
        &tx,
        reqwest::Method::GET,
        "/phone_numbers?page[number]=2&page[size]=2",
        None,
    ))
    .await
    .json();
    assert_eq!(
        a["meta"],
        json!({"page_number": 2, "page_size": 2, "total_pages": 2, "total_results": 3})
    );
    assert_eq!(a["data"].as_array().unwrap().len(), 1);
    assert_eq!(a["data"][0]["record_type"], "phone_number");
    let a = send(call(
        &tx,
        reqwest::Method::GET,
        "/phone_numbers?page[size]=251",
        None,
    ))
    .await;
    assert_error(&a, 422, "10015");
    let a = send(call(
        &tx,
        reqwest::Method::GET,
        "/phone_numbers?filter[phone_number]=%2B13125550102",
        None,
    ))
    .await
    .json();
    assert_eq!(a["data"].as_array().unwrap().len(), 1);

    let conn = send(call(
        &tx,
        reqwest::Method::POST,
        "/fqdn_connections",
        Some(json!({"connection_name": "in"})),
    ))
    .await
    .json()["data"]
        .clone();
    let n = a["data"][0]["id"].as_str().unwrap();
    let p = send(call(
        &tx,
        reqwest::Method::PATCH,
        &format!("/phone_numbers/{n}"),
        Some(json!({"connection_id": conn["id"]})),
    ))
    .await;
    assert_eq!(p.status, 200);
    assert_eq!(p.json()["data"]["connection_name"], "in");

    tx.push_fault(Fault::RateLimited {
        retry_after_secs: Some(3),
    });
    let a = send(call(&tx, reqwest::Method::GET, "/phone_numbers", None)).await;
    assert_error(&a, 429, "10011");
    assert_eq!(
        (
            a.header("x-ratelimit-remaining"),
            a.header("x-ratelimit-reset")
        ),
        (Some("0"), Some("3"))
    );
}
