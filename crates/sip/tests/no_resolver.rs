//! A probe on a machine that has no DNS resolver at all says so (`no_resolver`), rather than
//! blaming the host name ("check for typos"). The machine is made resolver-less for one child
//! process: this test binary runs again under `unshare --mount`, with an empty file
//! bind-mounted over /etc/resolv.conf in that mount namespace only (root, as CI runs).

use std::process::Command;
use trunkline_sip::{run_probe, Diagnosis, ProbeOptions, ProbeRequest, ProbeTransport};

const INSIDE: &str = "TRUNKLINE_TEST_WITHOUT_RESOLVER";

#[test]
fn a_probe_without_any_resolver_says_so() {
    let empty = std::env::temp_dir().join(format!("empty-resolv-{}.conf", std::process::id()));
    std::fs::write(&empty, "").unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            r#"mount --bind "$0" /etc/resolv.conf && exec "$1" --exact probe_inside_a_machine_without_resolver --ignored --nocapture"#,
        ])
        .arg(&empty)
        .arg(&exe)
        .env(INSIDE, "1")
        .output()
        .expect("unshare (util-linux) runs");
    let _ = std::fs::remove_file(&empty);
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("1 passed"),
        "the inner test did not run: {report}"
    );
}

#[tokio::test]
#[ignore = "run by a_probe_without_any_resolver_says_so, in a mount namespace without a resolver"]
async fn probe_inside_a_machine_without_resolver() {
    assert!(
        std::env::var_os(INSIDE).is_some(),
        "only meaningful under a_probe_without_any_resolver_says_so"
    );
    let req = ProbeRequest {
        host: "sip.example.com".into(),
        port: 5060,
        transport: ProbeTransport::Udp,
        credentials: None,
        from_number: "+15550100".into(),
        from_domain: None,
        test_number: None,
        allow_internal: false,
    };
    let report = run_probe(&req, &ProbeOptions::quick()).await;
    assert_eq!(report.diagnosis, Diagnosis::NoResolver, "{report:?}");
    assert_eq!(report.diagnosis.code(), "no_resolver");
    let detail = report.detail();
    assert!(
        detail.contains("No nameserver is configured") && !detail.contains("typos"),
        "{detail}"
    );
    assert!(report.responses.is_empty() && report.address.is_none());
}
