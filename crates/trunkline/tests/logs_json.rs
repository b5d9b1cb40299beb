//! `TRUNKLINE_LOG_FORMAT=json`: every line on stderr is one JSON object, and lines logged
//! while serving a request carry its tenant and trunk.

mod support;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_request_fields() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TRUNKLINE_LISTEN", "127.0.0.1:0")
        .env(
            "TRUNKLINE_LOG",
            "debug,sqlx=warn,hyper=warn,h2=warn,reqwest=warn",
        )
        .env("TRUNKLINE_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("trunkline listening") {
                let _ = tx.send(line.clone());
            }
            lines.push(line);
        }
        lines
    });
    let ready = rx.recv_timeout(Duration::from_secs(30)).expect("started");
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
    let url = format!("http://{}", ready["fields"]["addr"].as_str().unwrap());
    let key = create_key(dir.path(), "json@acme.test", &[]);
    let resp = http()
        .get(format!(
            "{url}/sip/trunks/ST_00000000000000000000000000000000"
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
    let lines = reader.join().unwrap();
    let objects: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(objects
        .iter()
        .all(|o| o.is_object() && o["level"].is_string()));
    let request = objects
        .iter()
        .find(|o| o["fields"]["message"] == "request")
        .unwrap_or_else(|| panic!("no request line: {lines:#?}"));
    let span = &request["span"];
    assert_eq!(span["route"], "/sip/trunks/{trunk_id}", "{request}");
    assert_eq!(
        span["trunk_id"], "ST_00000000000000000000000000000000",
        "{request}"
    );
    assert!(
        span["tenant"].as_str().is_some_and(|t| !t.is_empty()),
        "{request}"
    );
    assert!(
        !lines.iter().any(|l| l.contains(&key)),
        "the API key was logged"
    );
}
