//! `trunkline provider-accounts …` and `trunkline numbers …` against a running server, the
//! Twilio double and the LiveKit double: an account added with its token from a file or a
//! variable (never printed), its numbers at Twilio, a number set up end to end from flags
//! and from a file, listed, shown and removed, in tables and in `--json`; refusals name the
//! field and exit 2.

mod client_support;
mod support;
use client_support::*;
use provider_doubles::TwilioDouble;
use serde_json::{json, Value};

const TW_SID: &str = "AC0123456789abcdef0123456789abcdef";
const TW_TOKEN: &str = "twilio-auth-token-0123456789abcdef";

async fn twilio_env() -> (Env, TwilioDouble) {
    let twilio = TwilioDouble::start(TW_SID, TW_TOKEN).await;
    let env = env(&[
        ("TRUNKLINE_TWILIO_API_URL", twilio.url()),
        ("TRUNKLINE_TWILIO_TRUNKING_URL", twilio.url()),
        (
            "TRUNKLINE_PUBLIC_URL",
            "https://trunkline.example.test".into(),
        ),
        ("LIVEKIT_SIP_URI", "sip:tl-test.sip.livekit.cloud".into()),
    ])
    .await;
    (env, twilio)
}

/// `field  value` of a details view.
fn field(stdout: &str, name: &str) -> String {
    stdout
        .lines()
        .find_map(|l| {
            let mut cells = l.split_whitespace();
            (cells.next() == Some(name)).then(|| cells.collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| panic!("no {name} in:\n{stdout}"))
}

async fn assistant(env: &Env) -> String {
    let resp = support::http()
        .post(format!("{}/assistants", env.server.url))
        .bearer_auth(&env.key)
        .json(&json!({"name": "Support", "agent_name": "support-agent"}))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    body["data"]["assistant_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_accounts_and_numbers_end_to_end() {
    let (env, twilio) = twilio_env().await;
    let pn = twilio.add_number("+15550100000");
    let dir = env.dir.path();

    // The token from a file named by a flag; the rest from the JSON file.
    std::fs::write(dir.join("token"), format!("{TW_TOKEN}\n")).unwrap();
    std::fs::write(
        dir.join("account.json"),
        json!({"provider": "twilio", "name": "Twilio main", "account_sid": TW_SID}).to_string(),
    )
    .unwrap();
    let made = env.cli(&[
        "provider-accounts",
        "create",
        "account.json",
        "--auth-token-file",
        "token",
    ]);
    assert!(!made.stdout.contains(TW_TOKEN) && !made.stderr.contains(TW_TOKEN));
    let out = made.ok();
    let account = field(&out, "provider_account_id");
    assert!(account.starts_with("PA_"), "{out}");
    assert_eq!(field(&out, "auth_method"), "auth_token");

    // The token from its variable, everything else from flags.
    let by_var = cli_in(
        dir,
        &[
            "provider-accounts",
            "create",
            "--provider",
            "twilio",
            "--name",
            "From variable",
            "--account-sid",
            TW_SID,
            "--json",
        ],
        &[
            ("TRUNKLINE_URL", &env.server.url),
            ("TRUNKLINE_API_KEY", &env.key),
            ("TRUNKLINE_PROVIDER_AUTH_TOKEN", TW_TOKEN),
        ],
        None,
    );
    assert_eq!(by_var.status, OK, "{}", by_var.stderr);
    assert!(!by_var.stdout.contains(TW_TOKEN));
    let second = by_var.json()["provider_account_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A wrong token: refused by Twilio through the server, exit 2, never echoed.
    std::fs::write(dir.join("wrong"), "wrong-token-0123456789abcdef").unwrap();
    let refused = env.cli(&[
        "provider-accounts",
        "create",
        "account.json",
        "--auth-token-file",
        "wrong",
    ]);
    assert_eq!(refused.status, REFUSED, "{}", refused.stderr);
    assert!(
        !refused.stderr.contains("wrong-token"),
        "{}",
        refused.stderr
    );
    // A missing field is named by the server.
    let missing = env.cli(&["provider-accounts", "create", "--provider", "twilio"]);
    assert_eq!(missing.status, REFUSED, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("\n  name: is required"),
        "{}",
        missing.stderr
    );
    // A token file that cannot be read is a usage mistake: nothing is sent.
    let usage = env.cli(&[
        "provider-accounts",
        "create",
        "account.json",
        "--auth-token-file",
        "absent",
    ]);
    assert_eq!(usage.status, USAGE, "{}", usage.stderr);
    assert!(
        usage.stderr.contains("--auth-token-file"),
        "{}",
        usage.stderr
    );

    let list = env.cli(&["provider-accounts", "list"]);
    assert_eq!(list.status, OK, "{}", list.stderr);
    let rows = list.rows();
    assert_eq!(
        rows[0],
        [
            "ACCOUNT ID",
            "PROVIDER",
            "NAME",
            "ACCOUNT",
            "AUTH",
            "CREATED (UTC)"
        ]
    );
    assert_eq!(rows.len(), 3, "{}", list.stdout);
    assert!(rows
        .iter()
        .any(|r| r[0] == account && r[2] == "Twilio main"));
    let got = env.cli(&["provider-accounts", "get", &second, "--json"]);
    assert_eq!(got.json()["name"], "From variable");

    // The account's numbers at Twilio.
    let numbers = env.cli(&["provider-accounts", "numbers", &account]);
    assert_eq!(numbers.status, OK, "{}", numbers.stderr);
    let rows = numbers.rows();
    assert_eq!(rows[0][0], "NUMBER");
    assert_eq!(rows[1][..2], ["+15550100000".to_owned(), pn.clone()]);

    // Set the number up from flags: a trunk at Twilio and LiveKit, an inbound trunk, a rule.
    let a = assistant(&env).await;
    let out = env
        .cli(&[
            "numbers",
            "create",
            "--provider-account",
            &account,
            "--number",
            "+15550100000",
            "--assistant",
            &a,
            "--direction",
            "both",
        ])
        .ok();
    let number_id = field(&out, "number_id");
    assert_eq!(field(&out, "status"), "active");
    assert_eq!(twilio.trunks().len(), 1);
    assert_eq!(env.lk.outbound_trunks().len(), 1);
    assert_eq!(env.lk.inbound_trunks().len(), 1);
    assert_eq!(env.lk.dispatch_rules().len(), 1);
    // The same request from a file (the API's own body): the same setup, nothing made.
    std::fs::write(
        dir.join("number.json"),
        json!({"provider_account_id": account, "number": "+15550100000",
               "assistant_id": a, "direction": "both"})
        .to_string(),
    )
    .unwrap();
    let again = env.cli(&["numbers", "create", "number.json", "--json"]);
    assert_eq!(again.status, OK, "{}", again.stderr);
    assert_eq!(again.json()["number_id"], number_id.as_str());
    assert_eq!(twilio.trunks().len(), 1);
    // A bad field, named; a flag replaces the file's field.
    let bad = env.cli(&[
        "numbers",
        "create",
        "number.json",
        "--direction",
        "sideways",
    ]);
    assert_eq!(bad.status, REFUSED, "{}", bad.stderr);
    assert!(
        bad.stderr
            .contains("\n  direction: must be inbound, outbound or both"),
        "{}",
        bad.stderr
    );

    let list = env.cli(&["numbers", "list"]);
    assert_eq!(list.status, OK, "{}", list.stderr);
    let rows = list.rows();
    assert_eq!(
        rows[0],
        [
            "NUMBER ID",
            "NUMBER",
            "DIRECTION",
            "STATUS",
            "ASSISTANT",
            "OUTBOUND TRUNK",
            "INBOUND TRUNK",
            "RULE"
        ]
    );
    assert_eq!(
        rows[1][..5],
        [
            number_id.clone(),
            "+15550100000".into(),
            "both".into(),
            "active".into(),
            a.clone()
        ]
    );
    let got = env.cli(&["numbers", "get", &number_id, "--json"]).json();
    let outbound = got["outbound_trunk_id"].as_str().unwrap().to_owned();
    // The account's numbers now show the trunks that use the number.
    let numbers = env
        .cli(&["provider-accounts", "numbers", &account, "--json"])
        .json();
    assert_eq!(numbers[0]["trunk_id"], outbound.as_str(), "{numbers}");

    // The account's webhook events: none yet, one page with its header.
    let events = env.cli(&["provider-accounts", "events", &account]);
    assert_eq!(events.status, OK, "{}", events.stderr);
    assert_eq!(
        events.rows(),
        [["EVENT ID", "KIND", "CALL SID", "STATUS", "RECEIVED (UTC)"]]
    );
    let events = env.cli(&["provider-accounts", "events", &account, "--all", "--json"]);
    assert_eq!(events.json(), json!({"events": [], "next_cursor": null}));
    let bad = env.cli(&["provider-accounts", "events", &account, "--limit", "0"]);
    assert_eq!(bad.status, USAGE, "{}", bad.stderr);

    // An account in use cannot be deleted (the server's 409); the number setup can.
    let busy = env.cli(&["provider-accounts", "delete", &account]);
    assert_eq!(busy.status, REFUSED, "{}", busy.stderr);
    let gone = env.cli(&["numbers", "delete", &number_id]).ok();
    assert_eq!(gone, format!("Deleted number setup {number_id}.\n"));
    assert!(twilio.trunks().is_empty());
    assert!(env.lk.outbound_trunks().is_empty() && env.lk.dispatch_rules().is_empty());
    let missing = env.cli(&["numbers", "get", &number_id]);
    assert_eq!(missing.status, REFUSED, "{}", missing.stderr);
    let gone = env.cli(&["provider-accounts", "delete", &account]).ok();
    assert_eq!(gone, format!("Deleted provider account {account}.\n"));
    let list = env.cli(&["provider-accounts", "list", "--json"]).json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}

#[test]
fn an_unreachable_server_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    for args in [
        &["numbers", "list"][..],
        &["provider-accounts", "events", "PA_x"],
    ] {
        let run = cli_in(
            dir.path(),
            args,
            &[
                ("TRUNKLINE_URL", &url),
                ("TRUNKLINE_API_KEY", "tlk_some_key"),
            ],
            None,
        );
        assert_eq!(run.status, UNREACHABLE, "{args:?}: {}", run.stderr);
    }
    let run = cli_in(
        dir.path(),
        &["numbers", "list"],
        &[("TRUNKLINE_URL", &url)],
        None,
    );
    assert_eq!(run.status, USAGE, "{}", run.stderr);
    assert!(run.stderr.contains("TRUNKLINE_API_KEY"), "{}", run.stderr);
}
