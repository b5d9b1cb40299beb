//! `trunkline call …` against a running server and the LiveKit double: a call created with
//! flags and one from a file, listed (filters, cursor paging, `--all`), shown, transferred and
//! cancelled; a refused call names each field.

mod client_support;
mod support;
use client_support::*;
use livekit_double::CallOutcome;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn assistant(env: &Env) -> String {
    let v: Value = support::http()
        .post(format!("{}/assistants", env.server.url))
        .bearer_auth(&env.key)
        .json(&json!({"name": "Sales", "agent_name": "outbound-caller"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]["assistant_id"].as_str().unwrap().to_owned()
}

fn status_of(env: &Env, id: &str) -> String {
    let got = env.cli(&["call", "get", id, "--json"]);
    assert_eq!(got.status, OK, "{}", got.stderr);
    got.json()["status"].as_str().unwrap().to_owned()
}

fn wait_for(env: &Env, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = status_of(env, id);
        if status == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "call {id} is {status}, not {want}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_created_listed_shown_transferred_and_cancelled() {
    let env = env(&[]).await;
    let assistant = assistant(&env).await;
    let trunk = env.cli(&[
        "sip",
        "outbound",
        "create",
        &fixture("seed_000_twilio_trunk.json"),
        "--json",
    ]);
    let trunk = trunk.json()["trunk_id"].as_str().unwrap().to_owned();

    // With flags; answered at once by the double.
    let created = env.cli(&[
        "call",
        "create",
        "--assistant",
        &assistant,
        "--trunk",
        &trunk,
        "--to",
        "+14155550100",
        "--metadata",
        r#"{"customer": "Asha"}"#,
        "--json",
    ]);
    assert_eq!(created.status, OK, "{}", created.stderr);
    let first = created.json()["call_id"].as_str().unwrap().to_owned();
    assert_eq!(created.json()["status"], "queued");
    wait_for(&env, &first, "answered");
    let dialed = env.lk.calls();
    assert_eq!(dialed.len(), 1);
    assert_eq!(dialed[0].request.sip_call_to, "+14155550100");
    assert_eq!(
        dialed[0].request.participant_metadata,
        r#"{"customer":"Asha"}"#
    );

    // Shown as details.
    let shown = env.cli(&["call", "get", &first]).ok();
    assert!(
        shown
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["status", "answered"]),
        "{shown}"
    );

    // Transferred (SIP REFER through LiveKit).
    let moved = env
        .cli(&["call", "transfer", &first, "--to", "+15550100001"])
        .ok();
    assert!(moved.contains("tel:+15550100001"), "{moved}");
    let transfers = env.lk.transfers();
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0].transfer_to, "tel:+15550100001");

    // From a file in the API's shape, with an idempotency key; it rings for a minute.
    env.lk
        .set_call_outcome(CallOutcome::Slow(Duration::from_secs(60)));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("call.json");
    std::fs::write(
        &file,
        json!({"assistant_id": assistant, "trunk_id": trunk, "to_number": "+14155550101"})
            .to_string(),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let args = ["call", "create", file, "--idempotency-key", "order-4711"];
    let second = env.cli(&args).ok();
    let second_id = second
        .lines()
        .find_map(|l| l.strip_prefix("call_id"))
        .unwrap()
        .trim()
        .to_owned();
    let again = env.cli(&[&args[..], &["--json"]].concat());
    assert_eq!(
        again.json()["call_id"],
        second_id.as_str(),
        "same key, same call"
    );

    // Lists: a table, filters, and cursor paging.
    let table = env.cli(&["call", "list"]);
    let rows = table.rows();
    assert_eq!(
        rows[0],
        [
            "CALL ID",
            "STATUS",
            "TO",
            "FROM",
            "TRUNK ID",
            "SIP",
            "SECONDS",
            "CREATED (UTC)"
        ]
    );
    assert_eq!(rows.len(), 3, "{}", table.stdout);
    assert_eq!(rows[1][0], second_id, "newest first");
    assert_eq!(rows[2][0], first);
    assert_eq!(rows[2][2], "+14155550100");
    assert_eq!(rows[2][3], "+15550100000");

    let page = env.cli(&["call", "list", "--limit", "1"]);
    assert_eq!(page.rows().len(), 2, "{}", page.stdout);
    let cursor = page
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("More calls: repeat with --cursor "))
        .unwrap_or_else(|| panic!("no cursor in {}", page.stderr))
        .to_owned();
    let next = env.cli(&[
        "call", "list", "--limit", "1", "--cursor", &cursor, "--json",
    ]);
    let next = next.json();
    assert_eq!(next["calls"][0]["call_id"], first.as_str());
    assert_eq!(next["next_cursor"], Value::Null);
    let all = env.cli(&["call", "list", "--all", "--limit", "1", "--json"]);
    assert_eq!(all.status, OK, "{}", all.stderr);
    let ids: Vec<Value> = all.json()["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call_id"].clone())
        .collect();
    assert_eq!(ids, [json!(second_id), json!(first)]);

    // Cancelled before it is answered.
    let cancelled = env.cli(&["call", "cancel", &second_id, "--json"]);
    assert_eq!(cancelled.status, OK, "{}", cancelled.stderr);
    assert_eq!(cancelled.json()["status"], "cancelled");
    let only = env
        .cli(&["call", "list", "--status", "cancelled", "--json"])
        .json();
    assert_eq!(only["calls"].as_array().unwrap().len(), 1);
    assert_eq!(only["calls"][0]["call_id"], second_id.as_str());
    let twice = env.cli(&["call", "cancel", &second_id]);
    assert_eq!(twice.status, REFUSED);
    assert!(
        twice.stderr.contains("the call already ended"),
        "{}",
        twice.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_call_names_each_field_and_exits_2() {
    let env = env(&[]).await;
    let refused = env.cli(&[
        "call",
        "create",
        "--assistant",
        "AS_00000000000000000000000000000000",
        "--trunk",
        "ST_00000000000000000000000000000000",
        "--to",
        "12",
    ]);
    assert_eq!(refused.status, REFUSED, "{}", refused.stderr);
    for f in ["to_number", "assistant_id", "trunk_id"] {
        assert!(
            refused
                .stderr
                .lines()
                .any(|l| l.starts_with(&format!("  {f}: "))),
            "{f} in {}",
            refused.stderr
        );
    }
    assert!(env.lk.calls().is_empty());
}
