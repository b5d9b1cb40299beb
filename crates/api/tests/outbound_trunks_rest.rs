//! The REST form of the outbound trunk API beside the seed-000 routes, one cursor pagination,
//! and unknown query parameters refused by name.

mod support;
use serde_json::Value;
use support::*;

fn fields(body: &Value) -> Vec<String> {
    body["data"]["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_rest_twin_creates_shows_changes_and_deletes_outbound_trunks() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let (status, created) = server
        .post("/sip/outbound-trunks", &key, &seed_twilio())
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["data"]["trunk_id"].as_str().unwrap().to_owned();
    // The seed routes see the same trunk.
    assert_eq!(server.list_ids(&key).await, vec![id.clone()]);

    let path = format!("/sip/outbound-trunks/{id}");
    let (status, shown) = server.get(&path, &key).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["data"]["trunk_id"], id.as_str());
    let (status, patched) = server
        .send(
            "PATCH",
            &path,
            Some(&key),
            Some(r#"{"trunk_name": "Renamed"}"#),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["data"]["trunk_name"], "Renamed");
    let (status, deleted) = server.send("DELETE", &path, Some(&key), None).await;
    assert_eq!(status, 200, "{deleted}");
    let (status, gone) = server.get(&path, &key).await;
    assert_eq!(status, 404);
    assert!(gone["message"].as_str().unwrap().contains("was deleted"));
    server.stop().await;
}

#[tokio::test]
async fn the_outbound_trunk_list_pages_by_cursor_and_get_sip_trunks_leads_there() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let mut made = vec![];
    for _ in 0..3 {
        made.push(server.create(&key, &seed_twilio()).await);
    }
    let mut seen = vec![];
    let mut path = "/sip/outbound-trunks?limit=2".to_owned();
    loop {
        let (status, page) = server.get(&path, &key).await;
        assert_eq!(status, 200, "{page}");
        let trunks = page["data"]["trunks"].as_array().unwrap();
        assert!(trunks.len() <= 2);
        seen.extend(
            trunks
                .iter()
                .map(|t| t["trunk_id"].as_str().unwrap().to_owned()),
        );
        match page["data"]["next_cursor"].as_str() {
            Some(c) => path = format!("/sip/outbound-trunks?limit=2&cursor={c}"),
            None => break,
        }
    }
    let mut sorted = made.clone();
    sorted.sort();
    seen.sort();
    assert_eq!(seen, sorted);

    let (status, body) = server
        .get("/sip/outbound-trunks?limit=0&cursor=nope", &key)
        .await;
    assert_eq!(status, 400);
    assert_eq!(fields(&body), ["limit", "cursor"]);

    // GET /sip/trunks is a permanent redirect to the list, keeping the query.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client
        .get(format!("{}/sip/trunks?limit=1", server.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 308);
    assert_eq!(resp.headers()["location"], "/sip/outbound-trunks?limit=1");
    let (status, page) = server.get("/sip/trunks?limit=1", &key).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"]["trunks"].as_array().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn unknown_query_parameters_are_refused_by_name_everywhere() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    server.create(&key, &seed_twilio()).await;
    for (path, field) in [
        ("/sip/list?limit=1", "limit"),
        ("/sip/outbound-trunks?limt=5", "limt"),
        ("/calls?limt=5", "limt"),
        ("/sip/inbound-trunks?x=1", "x"),
    ] {
        let (status, body) = server.get(path, &key).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(fields(&body), [field], "{path}: {body}");
    }
    // The seed list itself is unchanged without parameters.
    let (status, body) = server.get("/sip/list", &key).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["message"], "SIP trunks retrieved successfully");
    let (status, _) = server.get("/calls?limit=5", &key).await;
    assert_eq!(status, 200);
    server.stop().await;
}
