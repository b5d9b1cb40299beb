//! Every list but seed 000's `/sip/list` pages alike: `limit` and `cursor` in, `{"<items>":
//! […], "next_cursor"}` out, oldest first, no item twice or missed, and a bad `limit` or an
//! unknown parameter named in a 400.

mod support;
use serde_json::{json, Value};
use support::*;

/// Reads `path` page by page (`limit=2`) and returns the ids in the order shown.
async fn every_page(
    server: &TestServer,
    key: &str,
    path: &str,
    items: &str,
    id: &str,
) -> Vec<String> {
    let mut ids = vec![];
    let mut query = format!("{path}?limit=2");
    for _ in 0..10 {
        let (status, body) = server.get(&query, key).await;
        assert_eq!(status, 200, "{query}: {body}");
        let page = body["data"][items].as_array().unwrap();
        assert!(page.len() <= 2, "{body}");
        ids.extend(page.iter().map(|i| i[id].as_str().unwrap().to_owned()));
        match body["data"]["next_cursor"].as_str() {
            Some(cursor) => query = format!("{path}?limit=2&cursor={cursor}"),
            None => {
                assert!(body["data"]["next_cursor"].is_null(), "{body}");
                return ids;
            }
        }
    }
    panic!("{path}: the pages never ended");
}

#[tokio::test]
async fn inbound_trunks_dispatch_rules_and_assistants_page_by_cursor() {
    let db = TestDb::fresh().await;
    let server = TestServer::start(&db, LiveKit::None).await;
    let key = server.tenant("a@example.com").await;
    let other = server.tenant("b@example.com").await;
    let mut made: Vec<(&str, &str, &str, Vec<String>)> = vec![
        ("/sip/inbound-trunks", "trunks", "trunk_id", vec![]),
        ("/sip/dispatch-rules", "rules", "rule_id", vec![]),
        ("/assistants", "assistants", "assistant_id", vec![]),
    ];
    for n in 0..5 {
        let bodies = [
            json!({"name": format!("In {n}"), "numbers": [format!("+1555010000{n}")]}),
            json!({"name": format!("Rule {n}"), "dialed_numbers": [format!("+1555010000{n}")],
                   "rule": {"type": "individual", "room_prefix": "call-"}}),
            json!({"name": format!("Assistant {n}"), "agent_name": "agent"}),
        ];
        for ((path, _, id, ids), body) in made.iter_mut().zip(bodies) {
            let (status, answer) = server.post(path, &key, &body).await;
            assert_eq!(status, 200, "{path}: {answer}");
            ids.push(answer["data"][*id].as_str().unwrap().to_owned());
        }
    }
    // Another account's objects never show.
    let (status, _) = server
        .post(
            "/assistants",
            &other,
            &json!({"name": "Theirs", "agent_name": "agent"}),
        )
        .await;
    assert_eq!(status, 200);

    for (path, items, id, ids) in &made {
        assert_eq!(
            &every_page(&server, &key, path, items, id).await,
            ids,
            "{path}"
        );
        // Without parameters: the first page of 50, so all five here.
        let (_, body) = server.get(path, &key).await;
        assert_eq!(
            body["data"][*items].as_array().map(Vec::len),
            Some(5),
            "{body}"
        );
        assert_eq!(body["data"]["next_cursor"], Value::Null);

        let (status, body) = server.get(&format!("{path}?limit=0&cursor=x"), &key).await;
        assert_eq!(status, 400, "{body}");
        let fields: Vec<&str> = body["data"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["limit", "cursor"], "{body}");
        let (status, body) = server.get(&format!("{path}?limt=2"), &key).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["data"]["errors"][0]["field"], "limt", "{body}");
    }
    server.stop().await;
}
