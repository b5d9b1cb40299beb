//! Driving the client commands (`trunkline sip …`, `trunkline call …`) against a real
//! `trunkline serve` provisioning into the LiveKit double.
#![allow(dead_code)]

use crate::support::{create_key, serve, Server, BIN};
use livekit_double::LiveKitDouble;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const LK_KEY: &str = "APIclient";
pub const LK_SECRET: &str = "client-commands-secret-0123456789abcdef";

pub const OK: Option<i32> = Some(0);
pub const REFUSED: Option<i32> = Some(2);
pub const UNREACHABLE: Option<i32> = Some(3);
pub const USAGE: Option<i32> = Some(64);

pub struct Env {
    pub lk: LiveKitDouble,
    pub server: Server,
    pub key: String,
    pub dir: tempfile::TempDir,
}

/// A server provisioning into a LiveKit double, and an API key for one account.
pub async fn env(extra: &[(&str, String)]) -> Env {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let mut envs = vec![
        ("LIVEKIT_URL", lk.url()),
        ("LIVEKIT_API_KEY", LK_KEY.to_owned()),
        ("LIVEKIT_API_SECRET", LK_SECRET.to_owned()),
    ];
    envs.extend(extra.iter().cloned());
    let server = serve(dir.path(), &envs);
    let key = create_key(dir.path(), "cli@acme.test", &[]);
    Env {
        lk,
        server,
        key,
        dir,
    }
}

pub fn fixture(name: &str) -> String {
    let p: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", name]
        .iter()
        .collect();
    p.display().to_string()
}

pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// Asserts exit 0 and answers stdout.
    pub fn ok(self) -> String {
        assert_eq!(
            self.status, OK,
            "stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        self.stdout
    }

    /// The rows of a table, each split into its cells (columns are two or more spaces apart).
    pub fn rows(&self) -> Vec<Vec<String>> {
        self.stdout
            .lines()
            .map(|l| {
                l.split("  ")
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .collect()
    }
}

/// `trunkline <args>` in `dir`, with only `envs` (and PATH) set, `stdin` fed in.
pub fn cli_in(dir: &Path, args: &[&str], envs: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run trunkline");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Env {
    /// A client command with TRUNKLINE_URL and TRUNKLINE_API_KEY set, as a user would run it.
    pub fn cli(&self, args: &[&str]) -> Run {
        self.cli_stdin(args, None)
    }

    pub fn cli_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        cli_in(
            self.dir.path(),
            args,
            &[
                ("TRUNKLINE_URL", &self.server.url),
                ("TRUNKLINE_API_KEY", &self.key),
            ],
            stdin,
        )
    }
}

/// A test that fails half-way must not leave its server running.
impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.server.child.kill();
        let _ = self.server.child.wait();
    }
}
