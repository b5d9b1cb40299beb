//! Runs the real `trunkline` binary, as a user would.
#![allow(dead_code)]

pub mod metrics;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_trunkline");

pub struct Server {
    pub child: Child,
    pub url: String,
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
    /// Copies stderr into `log`; done once the process has exited and its last line is in.
    reader: Option<std::thread::JoinHandle<()>>,
}

/// `trunkline serve` on a free port, with `envs`; returns once it logs that it listens.
pub fn serve(dir: &std::path::Path, envs: &[(&str, String)]) -> Server {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TRUNKLINE_LISTEN", "127.0.0.1:0")
        .env("TRUNKLINE_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn trunkline serve");
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    let sink = log.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("trunkline listening") {
                let addr = line
                    .split("addr=")
                    .nth(1)
                    .and_then(|s| s.split_whitespace().next())
                    .map(str::to_owned);
                let _ = tx.send(addr);
            }
            let mut l = sink.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("server did not start: {}", log.lock().unwrap()))
        .expect("listening line carries the address");
    Server {
        child,
        url: format!("http://{addr}"),
        log,
        reader: Some(reader),
    }
}

impl Server {
    pub fn kill9(mut self) {
        self.child.kill().unwrap(); // SIGKILL on Unix
        self.child.wait().unwrap();
    }

    pub fn stop(mut self) -> String {
        unsafe_sigterm(self.child.id());
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let log = self.log.lock().unwrap().clone();
        assert!(status.success(), "serve exited with {status}: {log}");
        log
    }
}

fn unsafe_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

/// `trunkline <args>` to completion: (success, stdout, stderr).
pub fn run(
    dir: &std::path::Path,
    args: &[&str],
    envs: &[(&str, String)],
) -> (bool, String, String) {
    let (code, stdout, stderr) = run_status(dir, args, envs);
    (code == Some(0), stdout, stderr)
}

/// `trunkline <args>` to completion: (exit status, stdout, stderr).
pub fn run_status(
    dir: &std::path::Path,
    args: &[&str],
    envs: &[(&str, String)],
) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run trunkline");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `keys create`, returning the key from the last line of stdout.
pub fn create_key(dir: &std::path::Path, email: &str, envs: &[(&str, String)]) -> String {
    let (ok, stdout, stderr) = run(
        dir,
        &["keys", "create", "--name", "Test", "--email", email],
        envs,
    );
    assert!(ok, "{stderr}");
    stdout.lines().last().unwrap().to_owned()
}

pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub fn seed_twilio() -> serde_json::Value {
    serde_json::json!({
        "trunk_name": "Twilio Production",
        "trunk_type": "twilio",
        "trunk_config": {
            "address": "example.pstn.twilio.com",
            "numbers": ["+15550100000"],
            "username": "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "password": "your_auth_token_here"
        }
    })
}

/// Runs `serve`, expecting it to refuse to start; answers its stderr. A server that starts
/// anyway is killed and fails the test (rather than hanging it).
pub fn serve_refused(dir: &std::path::Path, envs: &[(&str, String)]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TRUNKLINE_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn trunkline serve");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("serve started although it should have refused");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}
