//! The Exotel double answered over raw HTTP, checked against EX-REF's examples.

mod common;
use common::*;
use provider_doubles::ExotelDouble;
use serde_json::{json, Value};

const SID: &str = "exoteltest";
const KEY: &str = "exotel-key";
const TOKEN: &str = "exotel-token";

fn post(ex: &ExotelDouble, path: &str, body: Value) -> reqwest::RequestBuilder {
    http()
        .post(format!("{}/v2/accounts/{SID}{path}", ex.url()))
        .basic_auth(KEY, Some(TOKEN))
        .header("Content-Type", "application/json")
        .body(body.to_string())
}

fn get(ex: &ExotelDouble, path: &str) -> reqwest::RequestBuilder {
    http()
        .get(format!("{}/v2/accounts/{SID}{path}", ex.url()))
        .basic_auth(KEY, Some(TOKEN))
}

/// The single-object envelope: returns `response`.
fn single(a: &Answer, http_code: u16, method: &str) -> Value {
    assert_eq!(a.status, http_code, "{}", a.text);
    let j = a.json();
    assert_eq!(
        keys(&j),
        ["http_code", "method", "request_id", "response"],
        "{j}"
    );
    assert_eq!(
        (j["http_code"].clone(), j["method"].clone()),
        (json!(http_code), json!(method))
    );
    assert_eq!(
        keys(&j["response"]),
        ["code", "data", "error_data", "status"]
    );
    j["response"].clone()
}

async fn trunk(ex: &ExotelDouble, name: &str) -> String {
    let a = send(post(ex, "/trunks", json!({"trunk_name": name, "nso_code": "ANY-ANY", "domain_name": "exoteltest.pstn.exotel.com"}))).await;
    single(&a, 200, "POST")["data"]["trunk_sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn create_trunk_answers_the_documented_envelope() {
    let ex = ExotelDouble::start(SID, KEY, TOKEN).await;
    let a = send(post(&ex, "/trunks", json!({"trunk_name": "outbound_trunk", "nso_code": "ANY-ANY", "domain_name": "exoteltest.pstn.exotel.com"}))).await;
    let r = single(&a, 200, "POST");
    assert_eq!(
        (
            r["code"].clone(),
            r["status"].clone(),
            r["error_data"].clone()
        ),
        (json!(200), json!("success"), Value::Null)
    );
    let d = &r["data"];
    assert_eq!(
        keys(d),
        [
            "auth_type",
            "credentials",
            "date_created",
            "date_updated",
            "destination_uris",
            "domain_name",
            "edge_preference",
            "nso_code",
            "phone_numbers",
            "registration_enabled",
            "secure_trunking",
            "status",
            "trunk_name",
            "trunk_sid",
            "whitelisted_ips"
        ]
    );
    let sid = d["trunk_sid"].as_str().unwrap();
    assert!(
        sid.len() == 28
            && sid.starts_with("trmum")
            && sid
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "{sid}"
    );
    assert_eq!(d["auth_type"], "IP-WHITELIST");
    assert_eq!(
        d["phone_numbers"],
        format!("/v2/accounts/{SID}/trunks/{sid}/phone-numbers")
    );
    let created = d["date_created"].as_str().unwrap();
    assert!(created.len() == 20 && created.ends_with('Z'), "{created}");

    // Rules: name, duplicate name, missing field, domain.
    let a = send(post(&ex, "/trunks", json!({"trunk_name": "way_too_long_name_x", "nso_code": "ANY-ANY", "domain_name": "exoteltest.pstn.exotel.com"}))).await;
    let r = single(&a, 400, "POST");
    assert_eq!(
        (r["code"].clone(), r["status"].clone(), r["data"].clone()),
        (json!(400), json!("failure"), Value::Null)
    );
    assert_eq!(keys(&r["error_data"]), ["code", "description", "message"]);
    assert_eq!(r["error_data"]["code"], 1002);
    let a = send(post(&ex, "/trunks", json!({"trunk_name": "outbound_trunk", "nso_code": "ANY-ANY", "domain_name": "exoteltest.pstn.exotel.com"}))).await;
    assert_eq!(single(&a, 409, "POST")["error_data"]["code"], 1008);
    let a = send(post(
        &ex,
        "/trunks",
        json!({"trunk_name": "t2", "domain_name": "exoteltest.pstn.exotel.com"}),
    ))
    .await;
    assert_eq!(single(&a, 400, "POST")["error_data"]["code"], 1001);
}

#[tokio::test]
async fn encoding_and_auth() {
    let ex = ExotelDouble::start(SID, KEY, TOKEN).await;
    let a = send(
        http()
            .get(format!("{}/v2/accounts/{SID}/trunks/trmumx", ex.url()))
            .basic_auth(KEY, Some("wrong")),
    )
    .await;
    assert_eq!(single(&a, 401, "GET")["error_data"]["code"], 1010);
    let a = send(
        http()
            .post(format!("{}/v2/accounts/{SID}/trunks", ex.url()))
            .basic_auth(KEY, Some(TOKEN))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("trunk_name=x"),
    )
    .await;
    assert_eq!(single(&a, 415, "POST")["error_data"]["code"], 1011);
    let a = send(
        http()
            .post(format!("{}/v2/accounts/{SID}/trunks", ex.url()))
            .basic_auth(KEY, Some(TOKEN))
            .header("Content-Type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!(single(&a, 400, "POST")["error_data"]["code"], 1007);
    let a = send(get(&ex, "/trunks/trmum0000000000000000000000a1n")).await;
    assert_eq!(single(&a, 404, "GET")["error_data"]["code"], 1000);
}

#[tokio::test]
async fn duplicate_number_and_ip_answer_200_outside_409_inside() {
    let ex = ExotelDouble::start(SID, KEY, TOKEN).await;
    let t = trunk(&ex, "dups").await;
    let a = send(post(
        &ex,
        &format!("/trunks/{t}/phone-numbers"),
        json!({"phone_number": "+919876543210"}),
    ))
    .await;
    let d = single(&a, 200, "POST")["data"].clone();
    assert_eq!(
        keys(&d),
        [
            "date_created",
            "date_updated",
            "id",
            "mode",
            "phone_number",
            "trunk_sid"
        ]
    );
    assert!(
        d["id"]
            .as_str()
            .unwrap()
            .bytes()
            .all(|b| b.is_ascii_digit()),
        "ids are numeric strings"
    );
    assert_eq!(d["mode"], Value::Null, "an omitted mode is stored as null");
    let a = send(post(
        &ex,
        &format!("/trunks/{t}/phone-numbers"),
        json!({"phone_number": "+919876543210"}),
    ))
    .await;
    let r = single(&a, 200, "POST");
    assert_eq!(
        (
            r["code"].clone(),
            r["error_data"]["code"].clone(),
            r["status"].clone()
        ),
        (json!(409), json!(1008), json!("failure"))
    );

    let a = send(post(
        &ex,
        &format!("/trunks/{t}/whitelisted-ips"),
        json!({"ip": "44.248.146.10", "mask": 32}),
    ))
    .await;
    assert_eq!(single(&a, 200, "POST")["data"]["mask"], 32);
    let a = send(post(
        &ex,
        &format!("/trunks/{t}/whitelisted-ips"),
        json!({"ip": "44.248.146.10", "mask": 32}),
    ))
    .await;
    assert_eq!(single(&a, 200, "POST")["code"], 409);
    let a = send(post(
        &ex,
        &format!("/trunks/{t}/whitelisted-ips"),
        json!({"ip": "256.1.2.3"}),
    ))
    .await;
    assert_eq!(single(&a, 400, "POST")["error_data"]["code"], 1002);

    // Update mode addresses the mapping id and needs the same number.
    let id = d["id"].as_str().unwrap();
    let put = |body: Value| {
        http()
            .put(format!(
                "{}/v2/accounts/{SID}/trunks/{t}/phone-numbers/{id}",
                ex.url()
            ))
            .basic_auth(KEY, Some(TOKEN))
            .header("Content-Type", "application/json")
            .body(body.to_string())
    };
    let a = send(put(
        json!({"phone_number": "+919876543210", "mode": "flow"}),
    ))
    .await;
    assert_eq!(single(&a, 200, "PUT")["data"]["mode"], "flow");
    let a = send(put(
        json!({"phone_number": "+910000000000", "mode": "pstn"}),
    ))
    .await;
    assert_eq!(single(&a, 400, "PUT")["error_data"]["code"], 1002);
    let a = send(put(
        json!({"phone_number": "+919876543210", "mode": "PSTN"}),
    ))
    .await;
    assert_eq!(single(&a, 400, "PUT")["error_data"]["code"], 1002);
}

#[tokio::test]
async fn destination_batches_answer_207_per_item() {
    let ex = ExotelDouble::start(SID, KEY, TOKEN).await;
    let t = trunk(&ex, "dests").await;
    let a = send(post(
        &ex,
        &format!("/trunks/{t}/destination-uris"),
        json!({"destinations": [{"destination": "44.248.146.11:5061;transport=tls"}, {"destination": "sip.mycompany.com:5061;transport=tls"}, {"destination": "nonsense"}]}),
    ))
    .await;
    assert_eq!(a.status, 207, "{}", a.text);
    let j = a.json();
    assert_eq!(j["http_code"], 207);
    assert_eq!(
        j["metadata"],
        json!({"failed": 2, "total": 3, "success": 1})
    );
    let items = j["response"].as_array().unwrap();
    assert_eq!(
        items[0]["error_data"]["description"],
        "Destination not whitelisted"
    );
    assert_eq!(
        items[1]["data"]["destination"],
        "sip:sip.mycompany.com:5061;transport=tls"
    );
    assert_eq!(
        (
            items[1]["data"]["priority"].clone(),
            items[1]["data"]["weight"].clone(),
            items[1]["data"]["type"].clone()
        ),
        (json!(0), json!(1), json!("public"))
    );
    assert_eq!(
        items[2]["error_data"]["description"],
        "Destination is not a valid Ip or Fqdn"
    );

    send(post(
        &ex,
        &format!("/trunks/{t}/whitelisted-ips"),
        json!({"ip": "44.248.146.11"}),
    ))
    .await;
    let a = send(post(
        &ex,
        &format!("/trunks/{t}/destination-uris"),
        json!({"destinations": [{"destination": "44.248.146.11:5061;transport=tls"}]}),
    ))
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["metadata"], json!({"total": 1, "success": 1}));
}

#[tokio::test]
async fn lists_page_and_deletes_take_query_parameters() {
    let ex = ExotelDouble::start(SID, KEY, TOKEN).await;
    let t = trunk(&ex, "lists").await;
    for i in 0..3 {
        send(post(
            &ex,
            &format!("/trunks/{t}/phone-numbers"),
            json!({"phone_number": format!("+91987654321{i}")}),
        ))
        .await;
    }
    let a = send(get(
        &ex,
        &format!("/trunks/{t}/phone-numbers?offset=0&page_size=2"),
    ))
    .await;
    let j = a.json();
    assert_eq!(
        keys(&j),
        ["http_code", "metadata", "method", "request_id", "response"]
    );
    assert_eq!(j["response"].as_array().unwrap().len(), 2);
    assert_eq!(j["metadata"]["page_size"], 2);
    let next = j["metadata"]["next_page_uri"].as_str().unwrap();
    assert_eq!(
        next,
        format!("/v2/accounts/{SID}/trunks/{t}/phone-numbers?offset=2&page_size=2")
    );
    let b = send(
        http()
            .get(format!("{}{next}", ex.url()))
            .basic_auth(KEY, Some(TOKEN)),
    )
    .await
    .json();
    assert_eq!(b["response"].as_array().unwrap().len(), 1);
    assert!(b["metadata"]["next_page_uri"].is_null());

    let a = send(post(
        &ex,
        &format!("/trunks/{t}/credentials"),
        json!({"user_name": "u1", "password": "p-secret-1", "friendly_name": "f"}),
    ))
    .await;
    let cred = single(&a, 200, "POST")["data"].clone();
    assert!(!a.text.contains("p-secret-1"), "no password in the answer");
    let id = cred["id"].as_str().unwrap();
    let del = |q: String| {
        http()
            .delete(format!(
                "{}/v2/accounts/{SID}/trunks/{t}/credentials{q}",
                ex.url()
            ))
            .basic_auth(KEY, Some(TOKEN))
    };
    let a = send(del(format!("?id={id}"))).await;
    assert_eq!(single(&a, 200, "DELETE")["data"]["user_name"], "u1");
    assert_eq!(
        single(&send(del(String::new())).await, 400, "DELETE")["error_data"]["code"],
        1001
    );

    let a = send(
        http()
            .delete(format!(
                "{}/v2/accounts/{SID}/trunks?trunk_sid={t}",
                ex.url()
            ))
            .basic_auth(KEY, Some(TOKEN)),
    )
    .await;
    let d = single(&a, 200, "DELETE")["data"].clone();
    assert_eq!(d["trunk_sid"], t);
    assert!(
        d.get("phone_numbers").is_none(),
        "the deleted trunk comes without sub-resource paths"
    );
    assert!(ex.numbers(&t).is_empty(), "cascaded");
    let a = send(
        http()
            .delete(format!("{}/v2/accounts/{SID}/trunks/{t}", ex.url()))
            .basic_auth(KEY, Some(TOKEN)),
    )
    .await;
    assert_eq!(a.status, 404, "a path delete is not Exotel's API");
}

#[tokio::test]
async fn exophones_and_the_rate_limit() {
    let ex = ExotelDouble::start(SID, KEY, TOKEN).await;
    ex.add_exophone("+918040000001");
    let a = send(
        http()
            .get(format!(
                "{}/v2_beta/Accounts/{SID}/IncomingPhoneNumbers",
                ex.url()
            ))
            .basic_auth(KEY, Some(TOKEN)),
    )
    .await;
    assert_eq!(a.status, 200);
    let j = a.json();
    assert_eq!(
        j["incoming_phone_numbers"][0]["phone_number"],
        "+918040000001"
    );
    assert_eq!(
        (j["page"].clone(), j["page_size"].clone()),
        (json!(0), json!(50))
    );

    ex.set_rate_limit(Some((3, std::time::Duration::from_secs(60))));
    for _ in 0..3 {
        assert_eq!(send(get(&ex, "/trunks/trmumx")).await.status, 404);
    }
    let a = send(get(&ex, "/trunks/trmumx")).await;
    let r = single(&a, 429, "GET");
    assert_eq!(
        (r["code"].clone(), r["error_data"]["code"].clone()),
        (json!(429), json!(1030))
    );
}
