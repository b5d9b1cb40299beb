//! `trunkline sip …` against a running server and the LiveKit double: seed 002's `lk` files
//! as they are, an outbound trunk from `lk`'s file and from the API's shape, then list, get,
//! update and delete, in tables and in `--json`.

mod client_support;
mod support;
use client_support::*;
use serde_json::Value;
use trunkline_livekit::proto;
use trunkline_livekit::proto::sip_dispatch_rule::Rule;

/// The id in a details view (`trunk_id  ST_…`).
fn field(stdout: &str, name: &str) -> String {
    stdout
        .lines()
        .find_map(|l| {
            let mut cells = l.split_whitespace();
            (cells.next() == Some(name)).then(|| cells.collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| panic!("no {name} in:\n{stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_files_create_an_inbound_trunk_and_a_dispatch_rule() {
    let env = env(&[]).await;

    let out = env
        .cli(&["sip", "inbound", "create", &fixture("seed_002_trunk.json")])
        .ok();
    let trunk_id = field(&out, "trunk_id");
    assert_eq!(field(&out, "name"), "Twilio Inbound SIP Trunk");
    assert_eq!(field(&out, "provisioning.status"), "provisioned");
    let lk_trunks = env.lk.inbound_trunks();
    assert_eq!(lk_trunks.len(), 1);
    assert_eq!(lk_trunks[0].numbers, ["+13074606119"]);
    assert!(lk_trunks[0].krisp_enabled);

    let out = env
        .cli(&[
            "sip",
            "dispatch",
            "create",
            &fixture("seed_002_dispatch.json"),
        ])
        .ok();
    let rule_id = field(&out, "rule_id");
    assert_eq!(
        field(&out, "room_config.agents[0].agent_name"),
        "voice-agent"
    );
    let lk_rules = env.lk.dispatch_rules();
    assert_eq!(lk_rules.len(), 1);
    let Some(Rule::DispatchRuleIndividual(individual)) =
        lk_rules[0].rule.as_ref().and_then(|r| r.rule.clone())
    else {
        panic!("{:?}", lk_rules[0].rule)
    };
    // LiveKit holds the prefix in the tenant's namespace; the tenant's own part is as sent.
    let (_, own_prefix) =
        trunkline_core::rooms::split(&individual.room_prefix).expect("a namespaced prefix");
    assert_eq!(own_prefix, "call-");
    assert_eq!(
        lk_rules[0].trunk_ids,
        [lk_trunks[0].sip_trunk_id.clone()],
        "the rule covers the account's trunk"
    );

    // Lists: a table with a header row, and --json as the API's data.
    let list = env.cli(&["sip", "inbound", "list"]);
    let rows = list.rows();
    assert_eq!(
        rows[0],
        [
            "TRUNK ID",
            "NAME",
            "NUMBERS",
            "ALLOWED ADDRESSES",
            "AUTH",
            "STATUS"
        ]
    );
    assert_eq!(
        rows[1],
        [
            trunk_id.as_str(),
            "Twilio Inbound SIP Trunk",
            "+13074606119",
            "-",
            "-",
            "provisioned"
        ]
    );
    assert_eq!(list.status, OK);
    let rules = env.cli(&["sip", "dispatch", "list", "--json"]);
    assert_eq!(rules.status, OK, "{}", rules.stderr);
    let rules = rules.json();
    assert_eq!(rules.as_array().unwrap().len(), 1);
    assert_eq!(rules[0]["rule_id"], rule_id.as_str());
    assert_eq!(rules[0]["rule"]["type"], "individual");
    let table = env.cli(&["sip", "dispatch", "list"]).rows();
    assert_eq!(
        table[1],
        [
            rule_id.as_str(),
            "Twilio Individual Room Dispatch",
            "individual:call-",
            "all",
            "voice-agent",
            "provisioned"
        ]
    );

    // get, in both forms.
    let got = env.cli(&["sip", "inbound", "get", &trunk_id, "--json"]);
    assert_eq!(got.json()["numbers"][0], "+13074606119");
    let got = env.cli(&["sip", "--json", "dispatch", "get", &rule_id]);
    assert_eq!(got.json()["name"], "Twilio Individual Room Dispatch");

    // update: an lk-shaped file changes the fields it names; the API's shape from stdin.
    let dir = tempfile::tempdir().unwrap();
    let lk_update = dir.path().join("trunk-update.json");
    std::fs::write(
        &lk_update,
        r#"{"trunk": {"numbers": ["+13074606120"], "ringingTimeout": "20s"}}"#,
    )
    .unwrap();
    let out = env
        .cli(&[
            "sip",
            "inbound",
            "update",
            &trunk_id,
            lk_update.to_str().unwrap(),
        ])
        .ok();
    assert_eq!(field(&out, "numbers"), "+13074606120");
    assert_eq!(field(&out, "ringing_timeout"), "20");
    assert_eq!(field(&out, "krisp_enabled"), "true", "kept");
    assert_eq!(
        env.lk.inbound_trunks()[0].numbers,
        ["+13074606120"],
        "LiveKit updated"
    );
    let out = env.cli_stdin(
        &["sip", "dispatch", "update", &rule_id, "-", "--json"],
        Some(r#"{"name": "Renamed", "rule": {"type": "direct", "room_name": "lobby"}}"#),
    );
    assert_eq!(out.status, OK, "{}", out.stderr);
    assert_eq!(out.json()["name"], "Renamed");
    let lk_rule = &env.lk.dispatch_rules()[0];
    assert!(matches!(
        lk_rule.rule.as_ref().and_then(|r| r.rule.clone()),
        Some(Rule::DispatchRuleDirect(d))
            if trunkline_core::rooms::split(&d.room_name).map(|(_, own)| own) == Some("lobby")
    ));

    // delete.
    let out = env.cli(&["sip", "dispatch", "delete", &rule_id]).ok();
    assert_eq!(out.trim(), format!("Deleted dispatch rule {rule_id}."));
    let out = env.cli(&["sip", "inbound", "delete", &trunk_id, "--json"]);
    assert_eq!(out.json()["trunk_id"], trunk_id.as_str());
    assert!(env.lk.inbound_trunks().is_empty() && env.lk.dispatch_rules().is_empty());
    let rows = env.cli(&["sip", "inbound", "list"]).rows();
    assert_eq!(rows.len(), 1, "only the header: {rows:?}");
    assert_eq!(
        env.cli(&["sip", "inbound", "list", "--json"]).json(),
        Value::Array(vec![])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_trunks_from_an_lk_file_and_from_the_apis_shape() {
    let env = env(&[]).await;

    let lk = env.cli(&[
        "sip",
        "outbound",
        "create",
        &fixture("lk_outbound_trunk.json"),
    ]);
    let lk_out = lk.stdout.clone();
    let lk_err = lk.stderr.clone();
    let lk_id = field(&lk.ok(), "trunk_id");
    assert_eq!(field(&lk_out, "status"), "provisioned");
    let details = env
        .cli(&["sip", "outbound", "get", &lk_id, "--json"])
        .json();
    assert_eq!(details["trunk_type"], "sip");
    assert_eq!(details["trunk_name"], "My outbound trunk");
    assert_eq!(
        details["trunk_config"]["address"],
        "sip.carrier.example.com"
    );
    assert_eq!(details["trunk_config"]["transport"], "tcp");
    assert_eq!(details["trunk_config"]["username"], "lk-user");
    assert_eq!(details["trunk_config"]["password_set"], true);
    let in_lk = env
        .lk
        .outbound_trunk(details["livekit_trunk_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(in_lk.address, "sip.carrier.example.com");
    assert_eq!(in_lk.numbers, ["+15105550100"]);
    assert_eq!(in_lk.auth_username, "lk-user");
    assert_eq!(in_lk.auth_password, "lk-outbound-password");
    assert_eq!(in_lk.transport, proto::SipTransport::Tcp as i32);

    // The API's own request body (seed 000's Twilio trunk), from stdin.
    let body = std::fs::read_to_string(fixture("seed_000_twilio_trunk.json")).unwrap();
    let api = env.cli_stdin(&["sip", "outbound", "create", "-", "--json"], Some(&body));
    assert_eq!(api.status, OK, "{}", api.stderr);
    let api_id = api.json()["trunk_id"].as_str().unwrap().to_owned();
    assert_eq!(api.json()["status"], "provisioned");

    let list = env.cli(&["sip", "outbound", "list"]);
    let rows = list.rows();
    assert_eq!(rows[0], ["TRUNK ID", "NAME", "TYPE", "CREATED (UTC)"]);
    let names: Vec<(&str, &str, &str)> = rows[1..]
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str(), r[2].as_str()))
        .collect();
    assert!(names.contains(&(lk_id.as_str(), "My outbound trunk", "sip")));
    assert!(names.contains(&(api_id.as_str(), "Twilio Production", "twilio")));
    // Aligned: every row's second column starts where the header's does.
    let at = list.stdout.lines().next().unwrap().find("NAME").unwrap();
    for line in list.stdout.lines().skip(1) {
        assert_ne!(line.as_bytes()[at], b' ', "{}", list.stdout);
        assert_eq!(&line[at - 2..at], "  ", "{}", list.stdout);
    }
    let listed = env.cli(&["sip", "outbound", "list", "--json"]).json();
    assert_eq!(listed.as_array().unwrap().len(), 2);

    // update with an lk file: the name and numbers it names change, the rest is kept.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rename.json");
    std::fs::write(
        &file,
        r#"{"trunk": {"name": "Renamed", "numbers": ["+15105550199"]}}"#,
    )
    .unwrap();
    let out = env
        .cli(&["sip", "outbound", "update", &lk_id, file.to_str().unwrap()])
        .ok();
    assert_eq!(field(&out, "trunk_name"), "Renamed");
    assert_eq!(field(&out, "trunk_config.numbers"), "+15105550199");
    assert_eq!(field(&out, "trunk_config.transport"), "tcp");
    let in_lk = env
        .lk
        .outbound_trunk(details["livekit_trunk_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(in_lk.numbers, ["+15105550199"]);
    assert_eq!(in_lk.auth_password, "lk-outbound-password", "kept");

    // Secrets are never printed, in tables or JSON.
    let mut printed = lk_out + &lk_err + &out;
    for args in [
        &["sip", "outbound", "get", &lk_id][..],
        &["sip", "outbound", "get", &api_id, "--json"],
        &["sip", "outbound", "list"],
    ] {
        let r = env.cli(args);
        printed += &(r.stdout + &r.stderr);
    }
    assert!(
        !printed.contains("lk-outbound-password") && !printed.contains("your_auth_token_here"),
        "{printed}"
    );

    for id in [&lk_id, &api_id] {
        let out = env.cli(&["sip", "outbound", "delete", id]).ok();
        assert_eq!(out.trim(), format!("Deleted outbound trunk {id}."));
    }
    assert!(env.lk.outbound_trunks().is_empty());
    let again = env.cli(&["sip", "outbound", "delete", &lk_id]);
    assert_eq!(again.status, REFUSED);
    assert!(again.stderr.contains("was deleted"), "{}", again.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_error_names_its_field_and_exits_2() {
    let env = env(&[]).await;
    let bad = env.cli_stdin(
        &["sip", "inbound", "create", "-"],
        Some(r#"{"trunk": {"name": "Bad", "numbers": ["12345", "+13074606119"], "allowedAddresses": ["0.0.0.0/0"]}}"#),
    );
    assert_eq!(bad.status, REFUSED, "{}", bad.stderr);
    assert!(
        bad.stderr
            .lines()
            .any(|l| l.trim_start().starts_with("trunk.numbers[0]: ")),
        "{}",
        bad.stderr
    );
    let field_lines = bad
        .stderr
        .lines()
        .filter(|l| l.starts_with("  trunk."))
        .count();
    assert_eq!(field_lines, 2, "each field on its own line: {}", bad.stderr);
    assert!(
        bad.stderr.contains("(HTTP 400 Bad Request)"),
        "{}",
        bad.stderr
    );
    assert!(env.lk.inbound_trunks().is_empty());

    // An lk field trunkline cannot translate is named before anything is sent: 64.
    let headers = env.cli_stdin(
        &["sip", "outbound", "create", "-"],
        Some(r#"{"trunk": {"name": "x", "address": "sip.example.com", "numbers": ["+15105550100"], "headers": {"X-A": "1"}}}"#),
    );
    assert_eq!(headers.status, USAGE, "{}", headers.stderr);
    assert!(
        headers.stderr.contains("  trunk.headers: not a field"),
        "{}",
        headers.stderr
    );
    assert!(env.lk.outbound_trunks().is_empty());
}
