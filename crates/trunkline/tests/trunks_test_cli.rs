//! `trunkline trunks test`: the probe from the command line, with the stored configuration.

mod support;
use support::*;

#[tokio::test]
async fn trunks_test_reports_a_closed_port_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let envs = vec![("TRUNKLINE_ALLOW_PRIVATE_TARGETS", "true".to_owned())];
    let server = serve(dir.path(), &envs);
    let key = create_key(dir.path(), "cli-probe@acme.test", &envs);
    // A port nobody listens on (bound, then released), below the ephemeral range so no other
    // test's connection can be using it as a source port.
    let port = (20_000..30_000u16)
        .map(|p| p + (std::process::id() % 997) as u16)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .unwrap();
    let mut body = seed_twilio();
    body["trunk_config"]["address"] = format!("127.0.0.1:{port}").into();
    body["trunk_config"]["transport"] = "tcp".into();
    let created: serde_json::Value = http()
        .post(format!("{}/sip/create-outbound-trunk", server.url))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let trunk = created["data"]["trunk_id"].as_str().unwrap().to_owned();
    server.stop();

    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["trunks", "test", &trunk])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TRUNKLINE_ALLOW_PRIVATE_TARGETS", "true");
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["diagnosis"], "port_closed", "{report}");
    assert_eq!(report["healthy"], false);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("your_auth_token_here"));

    // Without the operator's permission, an internal target is refused before anything is sent.
    let (ok, _, stderr) = run(dir.path(), &["trunks", "test", &trunk], &[]);
    assert!(!ok);
    assert!(stderr.contains("must be a public address"), "{stderr}");
    let (ok, _, stderr) = run(dir.path(), &["trunks", "test", "ST_nope"], &envs);
    assert!(!ok);
    assert!(stderr.contains("no trunk ST_nope"), "{stderr}");
}
