//! The files a first start creates: the SQLite database (with its -wal and -shm) and the
//! master key are private to their owner; `serve` and `bridge` starting together agree on one
//! master key; a key file others can read stops the start.

mod support;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn a_first_start_creates_the_database_and_key_private() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let key = create_key(dir.path(), "files@acme.test", &[]);
    // A write, so the WAL holds something while the server runs.
    let resp = http()
        .post(format!("{}/sip/create-outbound-trunk", server.url))
        .bearer_auth(&key)
        .json(&seed_twilio())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let data = dir.path().join("trunkline-data");
    for name in [
        "trunkline.db",
        "trunkline.db-wal",
        "trunkline.db-shm",
        "master.key",
    ] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    server.stop();
}

/// `trunkline bridge` on `dir`'s default database, logging to a string; returns once it
/// listens.
fn bridge(dir: &std::path::Path) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    // The bridge listens on UDP and TCP on one port: find one free on both.
    let port = loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            break port;
        }
    };
    let mut child = Command::new(BIN)
        .arg("bridge")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TRUNKLINE_LOG", "info")
        .env("TRUNKLINE_BRIDGE_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "TRUNKLINE_BRIDGE_PUBLIC_ADDRESS",
            format!("127.0.0.1:{port}"),
        )
        .env("TRUNKLINE_BRIDGE_ALLOW", "127.0.0.1/32")
        .env("TRUNKLINE_BRIDGE_RTP_PORTS", "47000-47099")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            log.push_str(&line);
            log.push('\n');
            if line.contains("trunkline bridge listening") {
                let _ = tx.send(log.clone());
            }
        }
        let _ = tx.send(log);
    });
    (child, rx)
}

/// The id of the master key a process logged (`master key … key="<id>"`).
fn key_id(log: &str) -> String {
    log.lines()
        .find_map(|l| l.split(" key=\"").nth(1))
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no master key line in: {log}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_bridge_starting_together_share_one_master_key() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let (mut bridge, bridge_log) = bridge(dir.path());
        let server = serve(dir.path(), &[]);
        let bridge_log = bridge_log
            .recv_timeout(Duration::from_secs(30))
            .expect("bridge log");
        let _ = bridge.kill();
        let _ = bridge.wait();
        let serve_log = server.log.lock().unwrap().clone();
        assert!(
            bridge_log.contains("trunkline bridge listening"),
            "{bridge_log}"
        );
        assert_eq!(key_id(&serve_log), key_id(&bridge_log));
        let generated = [&serve_log, &bridge_log]
            .iter()
            .filter(|l| l.contains("generated a master key"))
            .count();
        assert_eq!(generated, 1, "serve:\n{serve_log}\nbridge:\n{bridge_log}");
        server.stop();
    }
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_stops_serve_with_the_fix_named() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("trunkline-data");
    std::fs::create_dir_all(&data).unwrap();
    let key = data.join("master.key");
    std::fs::write(&key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = serve_refused(dir.path(), &[]);
    assert!(
        err.contains("trunkline-data/master.key") && err.contains("chmod 600"),
        "{err}"
    );
}
