//! bench/dispatch.sh's measurements. Runs the LiveKit double in this process (zero latency,
//! every call answered at once) and a real `trunkline serve` as a child process, then:
//!
//! 1. reference: CreateSIPParticipant straight at the double from one client, as fast as
//!    `--concurrency` requests in flight allow (the ceiling any dispatcher could reach here);
//! 2. dispatch: `--calls` calls queued through `POST /call/outbound` while the trunk is held
//!    at 0.01 calls/s, then released to 1,000 calls/s: calls dialed per second until the
//!    double has seen every one;
//! 3. pacing: a trunk limited to 10 calls/s with a queue longer than the window; calls the
//!    double receives over `--pacing-secs` seconds of steady state, against 10/s.

use clap::Parser;
use livekit_double::LiveKitDouble;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use trunkline_livekit::{proto, LiveKitClient, LiveKitConfig};

#[derive(Parser)]
struct Args {
    /// The trunkline binary to run.
    #[arg(long)]
    trunkline: String,
    /// DATABASE_URL for trunkline (default: a fresh SQLite file in --work).
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long)]
    work: String,
    #[arg(long, default_value_t = 5000)]
    calls: usize,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long, default_value_t = 30)]
    pacing_secs: u64,
}

const LK_KEY: &str = "APIbench";
const LK_SECRET: &str = "bench-dispatch-secret-0123456789";

struct Api {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn ok(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let (status, v) = self.send(method, path, Some(body)).await;
        assert!(status < 300, "{path}: {status} {v}");
        v["data"].clone()
    }

    async fn limits(&self, trunk: &str, cps: f64) {
        self.ok(
            reqwest::Method::PUT,
            &format!("/sip/trunks/{trunk}/call-limits"),
            json!({"calls_per_second": cps, "max_concurrent_calls": 10000}),
        )
        .await;
    }

    async fn enqueue(&self, assistant: &str, trunk: &str, n: usize, concurrency: usize) {
        let mut set = tokio::task::JoinSet::new();
        let per = n.div_ceil(concurrency);
        for w in 0..concurrency {
            let (http, url, key) = (self.http.clone(), self.url.clone(), self.key.clone());
            let (assistant, trunk) = (assistant.to_owned(), trunk.to_owned());
            set.spawn(async move {
                for i in (w * per)..((w + 1) * per).min(n) {
                    let resp = http
                        .post(format!("{url}/call/outbound"))
                        .bearer_auth(&key)
                        .json(&json!({"assistant_id": assistant, "trunk_id": trunk,
                                      "to_number": format!("+1415{:07}", i)}))
                        .send()
                        .await
                        .expect("enqueue");
                    assert_eq!(resp.status(), 202);
                }
            });
        }
        while let Some(r) = set.join_next().await {
            r.expect("enqueue task");
        }
    }
}

fn start_trunkline(args: &Args, lk: &LiveKitDouble) -> (Child, String) {
    let db = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/dispatch.db", args.work));
    let envs = [
        ("DATABASE_URL", db),
        ("LIVEKIT_URL", lk.url()),
        ("LIVEKIT_API_KEY", LK_KEY.to_owned()),
        ("LIVEKIT_API_SECRET", LK_SECRET.to_owned()),
        ("TRUNKLINE_LOG", "warn,trunkline=info".to_owned()),
        ("TRUNKLINE_RECONCILE_INTERVAL", "3600".to_owned()),
        ("TRUNKLINE_TENANT_MAX_CONCURRENT_CALLS", "100000".to_owned()),
        ("TRUNKLINE_TRUNK_MAX_CONCURRENT_CALLS", "100000".to_owned()),
        ("TRUNKLINE_LISTEN", "127.0.0.1:0".to_owned()),
    ];
    let mut child = Command::new(&args.trunkline)
        .arg("serve")
        .current_dir(&args.work)
        .envs(envs.iter().cloned())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trunkline serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(addr) = line.split("addr=").nth(1) {
                let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("trunkline listening");
    // Only serve creates the database; keys need it to exist.
    let key = Command::new(&args.trunkline)
        .args([
            "keys",
            "create",
            "--name",
            "bench",
            "--email",
            "dispatch@bench.test",
        ])
        .current_dir(&args.work)
        .envs(envs.iter().cloned())
        .output()
        .expect("trunkline keys create");
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stderr)
    );
    let key = String::from_utf8_lossy(&key.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    (child, format!("http://{addr}|{key}"))
}

async fn reference(lk: &LiveKitDouble, n: usize, concurrency: usize) -> f64 {
    let trunk = lk.insert_out_of_band(proto::SipOutboundTrunkInfo {
        name: "reference".into(),
        address: "sip.example.com".into(),
        numbers: vec!["+15550100000".into()],
        ..Default::default()
    });
    let client = LiveKitClient::new(LiveKitConfig {
        url: lk.url(),
        api_key: LK_KEY.into(),
        api_secret: LK_SECRET.into(),
        timeout: Duration::from_secs(10),
    });
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let per = n.div_ceil(concurrency);
    for w in 0..concurrency {
        let (client, trunk) = (client.clone(), trunk.clone());
        set.spawn(async move {
            for i in (w * per)..((w + 1) * per).min(n) {
                let req = proto::CreateSipParticipantRequest {
                    sip_trunk_id: trunk.clone(),
                    sip_call_to: format!("+1416{i:07}"),
                    room_name: format!("ref-{i}"),
                    wait_until_answered: true,
                    ..Default::default()
                };
                client
                    .create_sip_participant(req, Duration::from_secs(10))
                    .await
                    .expect("reference dial");
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.expect("reference task");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn wait_for_calls(lk: &LiveKitDouble, n: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while lk.calls().len() < n {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    true
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;

    let reference_rate = reference(&lk, args.calls, args.concurrency).await;
    let base = lk.calls().len();

    let (mut child, conn) = start_trunkline(&args, &lk);
    let (url, key) = conn.split_once('|').unwrap();
    let api = Api {
        http: reqwest::Client::new(),
        url: url.to_owned(),
        key: key.to_owned(),
    };
    let trunk = api
        .ok(
            reqwest::Method::POST,
            "/sip/create-outbound-trunk",
            json!({
            "trunk_name": "bench", "trunk_type": "twilio",
            "trunk_config": {"address": "example.pstn.twilio.com", "numbers": ["+15550100000"],
                             "username": "ACbench", "password": "bench-password"}}),
        )
        .await["trunk_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let assistant = api
        .ok(
            reqwest::Method::POST,
            "/assistants",
            json!({"name": "bench", "agent_name": "bench-agent"}),
        )
        .await["assistant_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // 2. Dispatch rate: fill the queue while the trunk is held, then let it go.
    api.limits(&trunk, 0.01).await;
    api.enqueue(&assistant, &trunk, args.calls, args.concurrency)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = lk.calls().len() - base;
    api.limits(&trunk, 1000.0).await;
    let start = Instant::now();
    let done = wait_for_calls(&lk, base + args.calls, Duration::from_secs(300)).await;
    let secs = start.elapsed().as_secs_f64();
    let dispatched = lk.calls().len() - base - held;
    let rate = dispatched as f64 / secs;
    println!("reference: CreateSIPParticipant straight at the double: {reference_rate:.0} calls/s ({} calls, {} in flight)", args.calls, args.concurrency);
    println!(
        "dispatch: {dispatched} queued calls dialed in {secs:.2} s: {rate:.0} calls/s (ratio to reference {:.2}; goal >= 500 calls/s){}",
        rate / reference_rate,
        if done { "" } else { " INCOMPLETE" }
    );

    // 3. Pacing: 10 calls/s with more queued than the window can take.
    let trunk10 = api
        .ok(
            reqwest::Method::POST,
            "/sip/create-outbound-trunk",
            json!({
            "trunk_name": "paced", "trunk_type": "twilio",
            "trunk_config": {"address": "example.pstn.twilio.com", "numbers": ["+15550100001"],
                             "username": "ACbench", "password": "bench-password"}}),
        )
        .await["trunk_id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.limits(&trunk10, 10.0).await;
    let before = lk.calls().len();
    let window = args.pacing_secs;
    api.enqueue(&assistant, &trunk10, (window as usize + 10) * 10, 8)
        .await;
    // Steady state: skip the first two seconds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let c0 = lk.calls().len();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(window)).await;
    let c1 = lk.calls().len();
    let measured = (c1 - c0) as f64 / t0.elapsed().as_secs_f64();
    println!(
        "pacing: trunk limited to 10 calls/s: {} calls in {window} s = {measured:.2} calls/s ({:+.1}% off; goal within ±5%); {} dialed in all",
        c1 - c0,
        (measured / 10.0 - 1.0) * 100.0,
        c1 - before
    );
    let _ = child.kill();
    let _ = child.wait();
}
