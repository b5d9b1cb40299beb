//! The client commands' exit statuses (0 ok, 2 refused by the server, 3 not reached, 64 a
//! usage mistake, where nothing is sent), and the shell completions.

mod client_support;
mod support;
use client_support::*;

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn an_unreachable_server_exits_3_and_names_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", closed_port());
    for args in [
        &["sip", "inbound", "list"][..],
        &["call", "get", "CL_x"],
        &["--url", &url, "sip", "outbound", "list"],
    ] {
        let run = cli_in(
            dir.path(),
            args,
            &[
                ("TRUNKLINE_URL", &url),
                ("TRUNKLINE_API_KEY", "tlk_some_key"),
                // Meant for another program: the client commands do not read it.
                ("DATABASE_URL", "mysql://db.example/app"),
            ],
            None,
        );
        assert_eq!(run.status, UNREACHABLE, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("cannot reach trunkline at {url}/")),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("tlk_some_key"), "{}", run.stderr);
        assert!(run.stdout.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_key_exits_2_with_the_servers_message() {
    let env = env(&[]).await;
    let wrong = "tlk_0000000000000000000000000000000000000000000";
    // The flags are accepted before or after the subcommand, and win over the variables.
    for args in [
        &["sip", "inbound", "list", "--api-key", wrong][..],
        &["--api-key", wrong, "call", "list"],
        &["sip", "--api-key", wrong, "dispatch", "get", "SDR_x"],
    ] {
        let run = env.cli(args);
        assert_eq!(run.status, REFUSED, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr
                .starts_with("error: Unknown API key: check that the whole key was copied"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains(wrong), "the key is never printed");
    }
    // The right key, by flag against a URL by flag, with no variables at all.
    let url = env.server.url.clone();
    let key = env.key.clone();
    let run = cli_in(
        env.dir.path(),
        &["sip", "inbound", "list", "--url", &url, "--api-key", &key],
        &[],
        None,
    );
    assert_eq!(run.status, OK, "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_early_is_not_an_error() {
    let env = env(&[]).await;
    env.cli(&["sip", "inbound", "create", &fixture("seed_002_trunk.json")])
        .ok();
    for args in [
        &["sip", "inbound", "list"][..],
        &["sip", "inbound", "list", "--json"],
    ] {
        let mut child = std::process::Command::new(support::BIN)
            .args(args)
            .env_clear()
            .env("TRUNKLINE_URL", &env.server.url)
            .env("TRUNKLINE_API_KEY", &env.key)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // `| head -0`: the reader is gone before the answer is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), OK, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn usage_mistakes_exit_64_and_send_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let not_json = dir.path().join("trunk.txt");
    std::fs::write(&not_json, "name: x").unwrap();
    let array = dir.path().join("array.json");
    std::fs::write(&array, "[]").unwrap();
    let not_json = not_json.to_str().unwrap();
    let array = array.to_str().unwrap();
    // A closed port: had anything been sent, the status would be 3.
    let url = format!("http://127.0.0.1:{}", closed_port());
    let with_key = [
        ("TRUNKLINE_URL", url.as_str()),
        ("TRUNKLINE_API_KEY", "tlk_k"),
    ];
    for (args, envs, needle) in [
        (&["sip", "inbound", "get"][..], &with_key[..], "<ID>"),
        (
            &["sip", "trunks", "list"],
            &with_key,
            "unrecognized subcommand 'trunks'",
        ),
        (&["sip", "outbound", "create"], &with_key, "<FILE>"),
        (
            &["call", "list", "--limit", "0"],
            &with_key,
            "--limit must be a whole number from 1 to 200; got \"0\"",
        ),
        (
            &["call", "list", "--all", "--cursor", "x"],
            &with_key,
            "--cursor",
        ),
        (&["--json", "sip", "inbound", "list"], &with_key, "--json"),
        (
            &["sip", "inbound", "list"],
            &[("TRUNKLINE_URL", url.as_str())],
            "TRUNKLINE_API_KEY (--api-key) is not set",
        ),
        (
            &["sip", "inbound", "list"],
            &[
                ("TRUNKLINE_URL", "127.0.0.1:8080"),
                ("TRUNKLINE_API_KEY", "tlk_k"),
            ],
            "TRUNKLINE_URL (--url) must be the http:// or https:// address",
        ),
        (
            &["sip", "inbound", "create", "/nonexistent/trunk.json"],
            &with_key,
            "cannot read /nonexistent/trunk.json",
        ),
        (
            &["sip", "dispatch", "create", not_json],
            &with_key,
            "is not valid JSON",
        ),
        (
            &["sip", "inbound", "update", "ST_x", array],
            &with_key,
            "must hold a JSON object",
        ),
        (
            &[
                "call",
                "create",
                "--to",
                "+14155550100",
                "--metadata",
                "{bad",
            ],
            &with_key,
            "--metadata must be JSON",
        ),
    ] {
        let run = cli_in(dir.path(), args, envs, None);
        assert_eq!(run.status, USAGE, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
    // stdin that is not JSON.
    let run = cli_in(
        dir.path(),
        &["sip", "outbound", "create", "-"],
        &with_key,
        Some("{\"trunk\": "),
    );
    assert_eq!(run.status, USAGE, "{}", run.stderr);
    assert!(
        run.stderr.contains("stdin is not valid JSON"),
        "{}",
        run.stderr
    );
}

#[test]
fn completions_generate_for_bash_zsh_and_fish() {
    let dir = tempfile::tempdir().unwrap();
    let script = |shell: &str| {
        let run = cli_in(dir.path(), &["completions", shell], &[], None);
        assert_eq!(run.status, OK, "{shell}: {}", run.stderr);
        let path = dir.path().join(format!("trunkline.{shell}"));
        std::fs::write(&path, &run.stdout).unwrap();
        path
    };
    let bin_dir = std::path::Path::new(support::BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());

    // bash: the script loads, and completes `trunkline sip in` to `inbound`.
    let bash = script("bash");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(trunkline sip in); COMP_CWORD=2; _trunkline trunkline in sip; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            bash.display()
        ))
        .output()
        .expect("bash");
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(words.trim(), "inbound", "{words}");

    // fish: the script loads, and completes the client commands and their subcommands.
    let fish = script("fish");
    let out = std::process::Command::new("fish")
        .env("PATH", &path)
        .arg("-c")
        .arg(format!(
            "source {}; complete -C 'trunkline ca'; complete -C 'trunkline sip dispatch '",
            fish.display()
        ))
        .output()
        .expect("fish (Debian package fish)");
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let firsts: Vec<&str> = words.lines().filter_map(|l| l.split('\t').next()).collect();
    for want in ["call", "create", "list", "get", "update", "delete"] {
        assert!(firsts.contains(&want), "{want} in {words}");
    }

    // zsh: the script parses, and offers the client commands and their flags.
    let zsh = script("zsh");
    let out = std::process::Command::new("zsh")
        .arg("-n")
        .arg(&zsh)
        .output()
        .expect("zsh (Debian package zsh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&zsh).unwrap();
    assert!(text.starts_with("#compdef trunkline"), "{}", &text[..100]);
    for entry in [
        "'inbound:",
        "'dispatch:",
        "'transfer:",
        "'--api-key=[",
        "'--json[",
    ] {
        assert!(text.contains(entry), "{entry}");
    }

    let bad = cli_in(dir.path(), &["completions", "tcsh"], &[], None);
    assert_eq!(bad.status, USAGE, "{}", bad.stderr);
}
