//! The Twilio double answered over raw HTTP, checked against twilio-oai's shapes.

mod common;
use common::*;
use provider_doubles::{Fault, TwilioDouble};
use serde_json::Value;

const AC: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "auth-token-0123456789";

fn form(tw: &TwilioDouble, path: &str, body: impl Into<String>) -> reqwest::RequestBuilder {
    http()
        .post(format!("{}{path}", tw.url()))
        .basic_auth(AC, Some(TOKEN))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.into())
}

fn get(tw: &TwilioDouble, path: &str) -> reqwest::RequestBuilder {
    http()
        .get(format!("{}{path}", tw.url()))
        .basic_auth(AC, Some(TOKEN))
}

fn assert_error(a: &Answer, status: u16, code: u64) {
    assert_eq!(a.status, status, "{}", a.text);
    let j = a.json();
    assert_eq!(keys(&j), ["code", "message", "more_info", "status"], "{j}");
    assert_eq!(j["code"], code);
    assert_eq!(j["status"], status);
    assert_eq!(
        j["more_info"],
        format!("https://www.twilio.com/docs/errors/{code}")
    );
    assert!(j["message"].as_str().is_some_and(|m| !m.is_empty()));
}

fn is_iso(s: &Value) -> bool {
    let s = s.as_str().unwrap_or_default();
    s.len() == 20 && s.as_bytes()[10] == b'T' && s.ends_with('Z')
}

fn is_rfc2822(s: &Value) -> bool {
    // "Wed, 11 Sep 2013 17:51:38 +0000"
    let s = s.as_str().unwrap_or_default();
    s.len() == 31 && s.as_bytes()[3] == b',' && s.ends_with("+0000")
}

#[tokio::test]
async fn trunk_create_fetch_update_delete_on_the_wire() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    let a = send(form(
        &tw,
        "/v1/Trunks",
        "FriendlyName=lk&DomainName=tl-w1.pstn.twilio.com&Secure=false",
    ))
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert!(a
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let t = a.json();
    assert_eq!(
        keys(&t),
        [
            "account_sid",
            "auth_type",
            "auth_type_set",
            "cnam_lookup_enabled",
            "date_created",
            "date_updated",
            "disaster_recovery_method",
            "disaster_recovery_url",
            "domain_name",
            "friendly_name",
            "links",
            "recording",
            "secure",
            "sid",
            "symmetric_rtp_enabled",
            "transfer_caller_id",
            "transfer_mode",
            "url"
        ]
    );
    let sid = t["sid"].as_str().unwrap().to_owned();
    assert!(is_hex_sid("TK", &sid), "{sid}");
    assert_eq!(t["account_sid"], AC);
    assert_eq!(t["auth_type"], "");
    assert_eq!(t["auth_type_set"], serde_json::json!([]));
    assert!(is_iso(&t["date_created"]), "{}", t["date_created"]);
    assert_eq!(t["url"], format!("{}/v1/Trunks/{sid}", tw.url()));
    assert_eq!(
        t["links"]["origination_urls"],
        format!("{}/v1/Trunks/{sid}/OriginationUrls", tw.url())
    );

    let a = send(get(&tw, &format!("/v1/Trunks/{sid}"))).await;
    assert_eq!(
        (a.status, a.json()["domain_name"].clone()),
        (200, Value::from("tl-w1.pstn.twilio.com"))
    );

    // Update is a POST on the instance, answering 200; unspecified fields keep their value.
    let a = send(form(
        &tw,
        &format!("/v1/Trunks/{sid}"),
        "FriendlyName=renamed",
    ))
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["friendly_name"], "renamed");
    assert_eq!(a.json()["domain_name"], "tl-w1.pstn.twilio.com");

    let a = send(
        http()
            .delete(format!("{}/v1/Trunks/{sid}", tw.url()))
            .basic_auth(AC, Some(TOKEN)),
    )
    .await;
    assert_eq!((a.status, a.text.as_str()), (204, ""));
    let a = send(get(&tw, &format!("/v1/Trunks/{sid}"))).await;
    assert_error(&a, 404, 20404);
}

#[tokio::test]
async fn auth_and_encoding_are_enforced() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    let a = send(http().get(format!("{}/v1/Trunks", tw.url()))).await;
    assert_error(&a, 401, 20003);
    assert!(a.header("www-authenticate").unwrap().starts_with("Basic"));
    let a = send(
        http()
            .get(format!("{}/v1/Trunks", tw.url()))
            .basic_auth(AC, Some("wrong")),
    )
    .await;
    assert_error(&a, 401, 20003);

    // JSON is not Twilio's request encoding, and snake_case is not its parameter style.
    let a = send(
        http()
            .post(format!("{}/v1/Trunks", tw.url()))
            .basic_auth(AC, Some(TOKEN))
            .header("Content-Type", "application/json")
            .body(r#"{"FriendlyName":"x"}"#),
    )
    .await;
    assert_error(&a, 400, 20001);
    let a = send(form(&tw, "/v1/Trunks", "friendly_name=x")).await;
    assert_error(&a, 400, 20001);
    assert!(tw.trunks().is_empty());
    let a = send(form(&tw, "/v1/Trunks", "Secure=yes")).await;
    assert_error(&a, 400, 20001);
}

#[tokio::test]
async fn domain_rules_21248() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    assert_eq!(
        send(form(&tw, "/v1/Trunks", "DomainName=tl-d.pstn.twilio.com"))
            .await
            .status,
        201
    );
    let a = send(form(&tw, "/v1/Trunks", "DomainName=tl-d.pstn.twilio.com")).await;
    assert_error(&a, 400, 21248);
    assert_eq!(a.json()["message"], "Trunk Domain already taken");
    let a = send(form(&tw, "/v1/Trunks", "DomainName=tl_d.example.com")).await;
    assert_error(&a, 400, 20001);
}

#[tokio::test]
async fn origination_urls_need_all_five_fields_and_a_sip_uri() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    let tk = send(form(&tw, "/v1/Trunks", "")).await.json()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/Trunks/{tk}/OriginationUrls");
    let a = send(form(
        &tw,
        &path,
        "Weight=1&Priority=1&Enabled=true&FriendlyName=lk",
    ))
    .await;
    assert_error(&a, 400, 20001);
    assert!(a.json()["message"].as_str().unwrap().contains("SipUrl"));
    let a = send(form(
        &tw,
        &path,
        "Weight=1&Priority=1&Enabled=true&FriendlyName=lk&SipUrl=sips%3Ax.example",
    ))
    .await;
    assert_error(&a, 400, 20001);
    let a = send(form(
        &tw,
        &path,
        "Weight=0&Priority=1&Enabled=true&FriendlyName=lk&SipUrl=sip%3Ax.example",
    ))
    .await;
    assert_error(&a, 400, 20001);
    let a = send(form(
        &tw,
        &path,
        "Weight=10&Priority=1&Enabled=true&FriendlyName=lk&SipUrl=sip%3Ax.sip.livekit.cloud",
    ))
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let o = a.json();
    assert_eq!(
        keys(&o),
        [
            "account_sid",
            "date_created",
            "date_updated",
            "enabled",
            "friendly_name",
            "priority",
            "sid",
            "sip_url",
            "trunk_sid",
            "url",
            "weight"
        ]
    );
    assert!(is_hex_sid("OU", o["sid"].as_str().unwrap()));
    assert_eq!(
        (o["weight"].clone(), o["enabled"].clone()),
        (Value::from(10), Value::from(true))
    );
}

#[tokio::test]
async fn credential_lists_and_credentials_in_2010_shape() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    let base = format!("/2010-04-01/Accounts/{AC}/SIP/CredentialLists");
    let a = send(form(&tw, &format!("{base}.json"), "FriendlyName=trunkline")).await;
    assert_eq!(a.status, 201, "{}", a.text);
    let cl = a.json();
    let sid = cl["sid"].as_str().unwrap().to_owned();
    assert!(is_hex_sid("CL", &sid));
    assert_eq!(cl["uri"], format!("{base}/{sid}.json"));
    assert_eq!(
        cl["subresource_uris"]["credentials"],
        format!("{base}/{sid}/Credentials.json")
    );
    assert!(is_rfc2822(&cl["date_created"]), "{}", cl["date_created"]);

    let creds = format!("{base}/{sid}/Credentials.json");
    let a = send(form(&tw, &creds, "Username=tl&Password=alllowercase12")).await;
    assert_error(&a, 400, 20001);
    let a = send(form(&tw, &creds, "Username=tl&Password=Mixed-Case-1234")).await;
    assert_eq!(a.status, 201, "{}", a.text);
    let cr = a.json();
    assert!(is_hex_sid("CR", cr["sid"].as_str().unwrap()));
    assert!(
        cr.get("password").is_none() && !a.text.contains("Mixed-Case-1234"),
        "{}",
        a.text
    );
    let listed = send(get(&tw, &creds)).await;
    assert!(!listed.text.contains("Mixed-Case-1234"));
    assert_eq!(listed.json()["credentials"][0]["username"], "tl");

    // XML is Twilio's default: the double serves JSON paths only.
    let a = send(get(&tw, &base)).await;
    assert_error(&a, 404, 20404);
    // Another account's path.
    let a = send(get(
        &tw,
        "/2010-04-01/Accounts/ACffffffffffffffffffffffffffffffff/SIP/CredentialLists.json",
    ))
    .await;
    assert_error(&a, 404, 20404);
}

#[tokio::test]
async fn auth_type_follows_associations() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    let tk = send(form(&tw, "/v1/Trunks", "")).await.json()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let cl = send(form(
        &tw,
        &format!("/2010-04-01/Accounts/{AC}/SIP/CredentialLists.json"),
        "FriendlyName=a",
    ))
    .await
    .json()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let al = send(form(
        &tw,
        &format!("/2010-04-01/Accounts/{AC}/SIP/IpAccessControlLists.json"),
        "FriendlyName=b",
    ))
    .await
    .json()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(is_hex_sid("AL", &al));
    let body = format!("CredentialListSid={cl}");
    let a = send(form(&tw, &format!("/v1/Trunks/{tk}/CredentialLists"), body)).await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.json()["sid"], cl);
    assert_eq!(
        send(get(&tw, &format!("/v1/Trunks/{tk}"))).await.json()["auth_type"],
        "CREDENTIAL_LIST"
    );
    let body = format!("IpAccessControlListSid={al}");
    assert_eq!(
        send(form(
            &tw,
            &format!("/v1/Trunks/{tk}/IpAccessControlLists"),
            body
        ))
        .await
        .status,
        201
    );
    let t = send(get(&tw, &format!("/v1/Trunks/{tk}"))).await.json();
    assert_eq!(t["auth_type"], "IP_ACL,CREDENTIAL_LIST");
    assert_eq!(
        t["auth_type_set"],
        serde_json::json!(["IP_ACL", "CREDENTIAL_LIST"])
    );
    // An unknown list cannot be associated.
    let a = send(form(
        &tw,
        &format!("/v1/Trunks/{tk}/CredentialLists"),
        "CredentialListSid=CL00000000000000000000000000000000",
    ))
    .await;
    assert_error(&a, 404, 20404);
}

#[tokio::test]
async fn paging_in_both_styles() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    for _ in 0..3 {
        send(form(&tw, "/v1/Trunks", "")).await;
        tw.add_number("+14155550100");
    }
    let a = send(get(&tw, "/v1/Trunks?PageSize=2")).await.json();
    assert_eq!(a["trunks"].as_array().unwrap().len(), 2);
    let meta = &a["meta"];
    assert_eq!(
        keys(meta),
        [
            "first_page_url",
            "key",
            "next_page_url",
            "page",
            "page_size",
            "previous_page_url",
            "url"
        ]
    );
    assert_eq!(
        (
            meta["key"].clone(),
            meta["page"].clone(),
            meta["page_size"].clone()
        ),
        ("trunks".into(), 0.into(), 2.into())
    );
    let next = meta["next_page_url"].as_str().unwrap();
    assert!(next.starts_with(&tw.url()), "{next}");
    let b = send(http().get(next).basic_auth(AC, Some(TOKEN)))
        .await
        .json();
    assert_eq!(b["trunks"].as_array().unwrap().len(), 1);
    assert!(b["meta"]["next_page_url"].is_null());

    let path = format!(
        "/2010-04-01/Accounts/{AC}/IncomingPhoneNumbers.json?PhoneNumber=%2B1415&PageSize=2"
    );
    let a = send(get(&tw, &path)).await.json();
    assert_eq!(
        (a["start"].clone(), a["end"].clone(), a["page_size"].clone()),
        (0.into(), 1.into(), 2.into())
    );
    let next = a["next_page_uri"].as_str().unwrap();
    assert!(
        next.starts_with("/2010-04-01/") && next.contains("PhoneNumber=%2B1415"),
        "{next}"
    );
    let b = send(get(&tw, next)).await.json();
    assert_eq!((b["start"].clone(), b["end"].clone()), (2.into(), 2.into()));
    assert!(b["next_page_uri"].is_null());
    let a = send(get(&tw, "/v1/Trunks?PageSize=1001")).await;
    assert_error(&a, 400, 20001);
}

#[tokio::test]
async fn scripted_faults_look_like_twilio() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    tw.push_fault(Fault::RateLimited {
        retry_after_secs: Some(2),
    });
    let a = send(get(&tw, "/v1/Trunks")).await;
    assert_error(&a, 429, 20429);
    assert_eq!(a.header("retry-after"), Some("2"));
    tw.push_fault(Fault::Status(503));
    assert_error(&send(get(&tw, "/v1/Trunks")).await, 503, 20503);
    assert_eq!(send(get(&tw, "/v1/Trunks")).await.status, 200);
    // Faults come before authentication, like an edge in front of the API.
    tw.push_fault(Fault::Status(500));
    assert_eq!(
        send(http().get(format!("{}/v1/Trunks", tw.url())))
            .await
            .status,
        500
    );
}
