//! The command line itself: the database flags wherever they are written, `--version` on every
//! subcommand, setting errors that name the variable with an example, and exit statuses that
//! tell a usage mistake from an unhealthy trunk.

mod support;
use support::*;

const USAGE: Option<i32> = Some(64);

#[test]
fn database_flags_are_accepted_before_and_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/custom/t.db", dir.path().display());
    let server = serve(dir.path(), &[("DATABASE_URL", url.clone())]);
    // Each placement reaches the same (non-default) database.
    let placements: [&[&str]; 4] = [
        &[
            "keys",
            "create",
            "--name",
            "A",
            "--email",
            "a@acme.test",
            "--database-url",
            &url,
        ],
        &[
            "keys",
            "--database-url",
            &url,
            "create",
            "--name",
            "B",
            "--email",
            "b@acme.test",
        ],
        &[
            "--database-url",
            &url,
            "keys",
            "create",
            "--name",
            "C",
            "--email",
            "c@acme.test",
        ],
        &[
            "keys",
            "create",
            "--database-url",
            &url,
            "--name",
            "D",
            "--email",
            "d@acme.test",
        ],
    ];
    for args in placements {
        let (status, _, err) = run_status(dir.path(), args, &[]);
        assert_eq!(status, Some(0), "{args:?}: {err}");
    }
    let (ok, list, err) = run(dir.path(), &["keys", "list", "--database-url", &url], &[]);
    assert!(ok, "{err}");
    for email in ["a@acme.test", "b@acme.test", "c@acme.test", "d@acme.test"] {
        assert!(list.contains(email), "{list}");
    }
    let (status, _, err) = run_status(
        dir.path(),
        &[
            "trunks",
            "test",
            "ST_0123456789abcdef0123456789abcdef",
            "--database-url",
            &url,
        ],
        &[],
    );
    assert_eq!(status, Some(1), "{err}");
    assert!(
        err.contains("no trunk ST_0123456789abcdef0123456789abcdef"),
        "{err}"
    );
    // The default database was never touched.
    assert!(!dir.path().join("trunkline-data").exists());
    server.stop();
}

#[test]
fn version_works_on_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let version = format!(" {}", env!("CARGO_PKG_VERSION"));
    for args in [
        &[][..],
        &["serve"],
        &["bridge"],
        &["keys"],
        &["keys", "create"],
        &["keys", "list"],
        &["keys", "revoke"],
        &["keys", "rotate-master"],
        &["trunks"],
        &["trunks", "test"],
    ] {
        let mut args = args.to_vec();
        args.push("--version");
        let (status, out, err) = run_status(dir.path(), &args, &[]);
        assert_eq!(status, Some(0), "{args:?}: {err}");
        assert!(out.trim_end().ends_with(&version), "{args:?}: {out}");
    }
    assert!(!dir.path().join("trunkline-data").exists());
}

#[test]
fn usage_mistakes_exit_64_and_name_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (&["keys", "lst"][..], "unrecognized subcommand 'lst'"),
        (&["trunks", "test"], "<TRUNK_ID>"),
        (&["serve", "--no-such-flag"], "--no-such-flag"),
        (&[], "Usage"),
        (
            &["keys", "create", "--name", "x", "--email", "not-an-email"],
            "--email must be an email address, e.g.",
        ),
        (
            &["trunks", "test", "ST_x", "--test-number", "12"],
            "--test-number",
        ),
    ] {
        let (status, _, err) = run_status(dir.path(), args, &[]);
        assert_eq!(status, USAGE, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn setting_errors_name_the_variable_with_an_example() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value, message) in [
        (
            "TRUNKLINE_LISTEN",
            "abc",
            "TRUNKLINE_LISTEN (--listen) must be ip:port (an IP address, not a name), e.g. 0.0.0.0:8080; got \"abc\"",
        ),
        (
            "TRUNKLINE_TRUNK_CPS",
            "fast",
            "TRUNKLINE_TRUNK_CPS (--trunk-cps) must be calls per second from 0.01 to 1000, e.g. 3.33; got \"fast\"",
        ),
        (
            "TRUNKLINE_TRUNK_CPS",
            "5000",
            "TRUNKLINE_TRUNK_CPS (--trunk-cps) must be calls per second from 0.01 to 1000, e.g. 3.33; got \"5000\"",
        ),
        (
            "TRUNKLINE_QUOTA_QUEUED_CALLS",
            "lots",
            "TRUNKLINE_QUOTA_QUEUED_CALLS (--quota-queued-calls) must be a whole number from 0 to 10000000, e.g. 1000; got \"lots\"",
        ),
        (
            "TRUNKLINE_TRUNK_TESTS_PER_MINUTE",
            "0",
            "TRUNKLINE_TRUNK_TESTS_PER_MINUTE (--trunk-tests-per-minute) must be a whole number from 1 to 100000, e.g. 10; got \"0\"",
        ),
        (
            "TRUNKLINE_QUOTA_TRUNKS",
            "-1",
            "TRUNKLINE_QUOTA_TRUNKS (--quota-trunks) must be a whole number from 0 to 10000000, e.g. 100; got \"-1\"",
        ),
        (
            "TRUNKLINE_MAX_CONNECTIONS",
            "0",
            "TRUNKLINE_MAX_CONNECTIONS (--max-connections) must be a whole number from 1 to 1000000, e.g. 512; got \"0\"",
        ),
        (
            "TRUNKLINE_HTTP_HEADER_TIMEOUT",
            "10s",
            "TRUNKLINE_HTTP_HEADER_TIMEOUT (--http-header-timeout) must be seconds from 0.1 to 3600, e.g. 10; got \"10s\"",
        ),
        (
            "TRUNKLINE_ALLOW_PRIVATE_TARGETS",
            "sure",
            "TRUNKLINE_ALLOW_PRIVATE_TARGETS (--allow-private-targets) must be true or false, e.g. true; got \"sure\"",
        ),
        (
            "DATABASE_URL",
            "mysql://db/x",
            "DATABASE_URL (--database-url) must be sqlite://PATH or postgres://USER@HOST/DATABASE, e.g. sqlite://./trunkline-data/trunkline.db; got \"mysql://db/x\"",
        ),
        (
            "TRUNKLINE_TWILIO_API_URL",
            "api.twilio.com",
            "TRUNKLINE_TWILIO_API_URL (--twilio-api-url) must be an http:// or https:// URL without query, e.g. https://api.twilio.com; got \"api.twilio.com\"",
        ),
        (
            "TRUNKLINE_PUBLIC_URL",
            "ftp://trunkline.example.com",
            "TRUNKLINE_PUBLIC_URL (--public-url) must be an http:// or https:// URL without query, e.g. https://trunkline.example.com; got \"ftp://trunkline.example.com\"",
        ),
        (
            "LIVEKIT_SIP_URI",
            "xxxx.sip.livekit.cloud",
            "LIVEKIT_SIP_URI (--livekit-sip-uri) must be a sip: URI of LiveKit's SIP endpoint, e.g. sip:xxxx.sip.livekit.cloud; got \"xxxx.sip.livekit.cloud\"",
        ),
        (
            "LIVEKIT_URL",
            "livekit.example.com",
            "LIVEKIT_URL (--livekit-url) must be a URL starting with https://, wss://, http:// or ws://, e.g. wss://my-project.livekit.cloud; got \"livekit.example.com\"",
        ),
    ] {
        let mut envs = vec![(var, value.to_owned())];
        if var == "LIVEKIT_URL" {
            envs.push(("LIVEKIT_API_KEY", "APIkey".into()));
            envs.push(("LIVEKIT_API_SECRET", "secret".into()));
        }
        let (status, _, err) = run_status(dir.path(), &["serve"], &envs);
        assert_eq!(status, USAGE, "{var}={value}: {err}");
        assert!(err.contains(message), "{var}={value}: {err}");
    }
    // Nothing was created on the way to refusing.
    assert!(!dir.path().join("trunkline-data").exists());
}

#[test]
fn the_bridges_setting_errors_name_the_variable_and_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let public = (
        "TRUNKLINE_BRIDGE_PUBLIC_ADDRESS",
        "203.0.113.10:5070".to_owned(),
    );
    let allow = ("TRUNKLINE_BRIDGE_ALLOW", "any".to_owned());
    for (var, value, message) in [
        (
            "TRUNKLINE_BRIDGE_LISTEN",
            "bridge:5080",
            "TRUNKLINE_BRIDGE_LISTEN (--listen) must be ip:port (an IP address, not a name), e.g. 0.0.0.0:5080; got \"bridge:5080\"",
        ),
        (
            "TRUNKLINE_BRIDGE_PUBLIC_MEDIA_ADDRESS",
            "203.0.113.11:5070",
            "TRUNKLINE_BRIDGE_PUBLIC_MEDIA_ADDRESS (--public-media-address) must be an IP address (no port, not a name), e.g. 203.0.113.11; got \"203.0.113.11:5070\"",
        ),
        (
            "TRUNKLINE_BRIDGE_RTP_TIMEOUT",
            "0",
            "TRUNKLINE_BRIDGE_RTP_TIMEOUT (--rtp-timeout) must be whole seconds from 1 to 86400, e.g. 30; got \"0\"",
        ),
        // Checked after parsing, before anything is opened.
        (
            "TRUNKLINE_BRIDGE_RTP_PORTS",
            "50000",
            "TRUNKLINE_BRIDGE_RTP_PORTS must be MIN-MAX",
        ),
    ] {
        let envs = vec![public.clone(), allow.clone(), (var, value.to_owned())];
        let (status, _, err) = run_status(dir.path(), &["bridge"], &envs);
        assert_eq!(status, USAGE, "{var}={value}: {err}");
        assert!(err.contains(message), "{var}={value}: {err}");
    }
    // Nothing was created on the way to refusing.
    assert!(!dir.path().join("trunkline-data").exists());
}
