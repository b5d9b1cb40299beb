//! Trunk hosts through the real server: numeric forms that resolvers read as IPv4 are refused
//! whatever the operator allows, and internal IPv6 forms are refused unless allowed.

mod support;
use support::*;

async fn create(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let resp = http
        .post(format!("{url}/sip/create-outbound-trunk"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn twilio_at(address: &str) -> serde_json::Value {
    let mut body = seed_twilio();
    body["trunk_config"]["address"] = address.into();
    body
}

fn exotel_at(sip_host: &str) -> serde_json::Value {
    serde_json::json!({
        "trunk_name": "Exotel", "trunk_type": "exotel",
        "trunk_config": {"exotel_number": "+918044319240", "sip_host": sip_host,
                         "sip_port": 5070, "sip_domain": "acme.pstn.exotel.com"}})
}

#[tokio::test]
async fn numeric_and_internal_host_forms_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let http = http();
    for allow in ["false", "true"] {
        let server = serve(
            dir.path(),
            &[("TRUNKLINE_ALLOW_PRIVATE_TARGETS", allow.into())],
        );
        let key = create_key(dir.path(), &format!("hosts-{allow}@acme.test"), &[]);
        // Never host names, whatever the setting: each is 127.0.0.1 to a resolver.
        for host in [
            "0x7f000001",
            "0x7f.0.0.1",
            "0177.0.0.1",
            "127.1",
            "2130706433",
        ] {
            for (field, body) in [
                ("trunk_config.address", twilio_at(host)),
                ("trunk_config.sip_host", exotel_at(host)),
            ] {
                let (status, json) = create(&http, &server.url, &key, &body).await;
                assert_eq!(status, 400, "{host} allow={allow}: {json}");
                let errors = json["data"]["errors"].as_array().unwrap();
                assert!(
                    errors.iter().any(|e| e["field"] == field
                        && e["message"]
                            .as_str()
                            .unwrap()
                            .contains("four decimal numbers")),
                    "{host}: {json}"
                );
            }
        }
        // Internal IPv6 forms: refused unless the operator allows private targets.
        let want = if allow == "true" { 200 } else { 400 };
        for host in [
            "[::127.0.0.1]",
            "[::ffff:127.0.0.1]",
            "[64:ff9b::7f00:1]",
            "[fec0::1]",
            "198.18.0.1",
            "240.0.0.1",
        ] {
            let (status, json) = create(&http, &server.url, &key, &twilio_at(host)).await;
            assert_eq!(status, want, "{host} allow={allow}: {json}");
        }
        server.stop();
    }
}
