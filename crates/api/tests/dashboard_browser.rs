//! The dashboard in a real browser: Debian's chromium, driven over WebDriver by chromedriver
//! (fantoccini), against the real server with the LiveKit double and a SIPp responder. The
//! fields and buttons are found by their visible labels and names, as a user (or a screen
//! reader) finds them. Each page is saved as a screenshot at desktop and phone widths under
//! `target/dashboard-screenshots/` (build output, not committed).
//!
//! Needs `chromium` and `chromium-driver` (installed by `.ci/run`); without them the test
//! fails saying so. `TRUNKLINE_SKIP_BROWSER=1` skips it on a machine without a browser.

mod support;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use livekit_double::CallOutcome;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::call_fixture::*;

struct Chrome {
    driver: Child,
    client: Client,
    shots: std::path::PathBuf,
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn chrome() -> Option<Chrome> {
    if std::env::var_os("TRUNKLINE_SKIP_BROWSER").is_some() {
        eprintln!("SKIPPED: TRUNKLINE_SKIP_BROWSER is set");
        return None;
    }
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is missing: apt-get install chromium chromium-driver (as .ci/run does), or set TRUNKLINE_SKIP_BROWSER=1");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Debian's /usr/bin/chromium is a wrapper script; the browser itself is beside it.
    let binary = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let mut options = json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
        "--disable-dev-shm-usage", "--window-size=1280,1000", "--hide-scrollbars"]});
    if let Some(b) = binary {
        options["binary"] = json!(b);
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromium session");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let shots = target.join("dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    Some(Chrome {
        driver,
        client,
        shots,
    })
}

impl Chrome {
    /// The control a visible `<label>` names.
    async fn field(&self, label: &str) -> fantoccini::elements::Element {
        let xpath = format!("//label[normalize-space()='{label}']");
        let l = self
            .client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no label {label:?}"));
        let id = l.attr("for").await.unwrap().expect("label for=");
        self.client.find(Locator::Id(&id)).await.unwrap()
    }

    async fn fill(&self, label: &str, text: &str) {
        let f = self.field(label).await;
        f.clear().await.unwrap();
        f.send_keys(text).await.unwrap();
    }

    async fn choose(&self, label: &str, option_text: &str) {
        self.field(label)
            .await
            .select_by_label(option_text)
            .await
            .unwrap_or_else(|_| panic!("{label}: no option {option_text:?}"));
    }

    /// Clicks the button (or link styled as one) whose text is `name`.
    async fn press(&self, name: &str) {
        let xpath =
            format!("//button[normalize-space()='{name}'] | //a[normalize-space()='{name}']");
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no button {name:?}"))
            .click()
            .await
            .unwrap();
    }

    async fn text_of(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the element `css` contains `needle`.
    async fn wait_text(&self, css: &str, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let t = self.text_of(css).await;
            if t.contains(needle) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never contained {needle:?}; it reads {t:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn h1(&self) -> String {
        self.text_of("h1").await
    }

    /// Saves the whole page at desktop (1280) and phone (390) widths, then returns to desktop.
    async fn shot(&self, name: &str) {
        for (width, label) in [(1280, "desktop"), (390, "phone")] {
            self.client.set_window_size(width, 900).await.unwrap();
            tokio::time::sleep(Duration::from_millis(150)).await;
            let height = self
                .client
                .execute(
                    "window.scrollTo(0, 0); return document.documentElement.scrollHeight;",
                    vec![],
                )
                .await
                .unwrap()
                .as_u64()
                .unwrap_or(900)
                .clamp(600, 4000) as u32;
            self.client
                .set_window_size(width, height + 20)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(150)).await;
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(self.shots.join(format!("{name}-{label}.png")), png).unwrap();
        }
        self.client.set_window_size(1280, 1000).await.unwrap();
    }

    /// The page's JavaScript state survives only as long as the page is not reloaded.
    async fn mark_page(&self) {
        self.client
            .execute("window.__notReloaded = true; return true;", vec![])
            .await
            .unwrap();
    }

    async fn page_was_not_reloaded(&self) -> bool {
        self.client
            .execute("return window.__notReloaded === true;", vec![])
            .await
            .unwrap()
            == json!(true)
    }
}

/// SIPp answering OPTIONS with a digest challenge for alice / s3cret-pw, on TCP `port`.
fn sipp_responder(port: u16) -> Child {
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sip/tests/scenarios/options_auth.xml"
    );
    Command::new("sipp")
        .args([
            "-sf",
            scenario,
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "t1",
        ])
        .args(["-m", "1", "-timeout", "60s", "-nostdin"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir(std::env::temp_dir())
        .spawn()
        .expect("sipp is missing: apt-get install sip-tester (as .ci/run does)")
}

async fn wait_listening(port: u16) {
    // Read from /proc rather than by connecting (SIPp would count a connection).
    let hex = format!(":{port:04X}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[3] == "0A" && f[1].ends_with(&hex)
        })
    {
        assert!(Instant::now() < deadline, "sipp did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A queued call the dialer leaves alone for an hour, for "Cancel call".
async fn queued_call(f: &Fixture) -> String {
    let tenant = f
        .srv
        .store
        .api_key_for_hash(&trunkline_core::sealing::hash_api_key(&f.key))
        .await
        .unwrap()
        .unwrap()
        .1;
    let now = trunkline_store::now_micros();
    let id = trunkline_domain::CallId::generate().to_string();
    let plan = trunkline_core::calls::DialPlan {
        agent_name: "outbound-caller".into(),
        agent_metadata: "{}".into(),
        participant_metadata: String::new(),
        ringing_timeout: 20,
        max_call_duration: None,
        webhook_url: None,
    };
    f.srv
        .store
        .insert_call(&trunkline_store::CallRow {
            id: id.clone(),
            tenant_id: tenant,
            assistant_id: f.assistant.clone(),
            trunk_id: f.trunk.clone(),
            to_number: "+14155550199".into(),
            from_number: "+15550100000".into(),
            plan: serde_json::to_string(&plan).unwrap(),
            status: "queued".into(),
            max_attempts: 3,
            next_attempt_at: now + 3_600_000_000,
            created_at: now,
            updated_at: now,
            ..Default::default()
        })
        .await
        .unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_day_in_the_browser() {
    let Some(c) = chrome().await else { return };
    let f = fixture().await;
    let base = f.srv.url.clone();

    // 1. Sign in: a wrong key is refused in words; the right one opens the overview.
    c.client.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(c.h1().await, "Sign in", "not signed in: the sign-in page");
    c.shot("sign-in").await;
    c.fill("API key", "tlk_wrong").await;
    c.press("Sign in").await;
    c.wait_text("#api_key-error", "That API key is not valid", 5)
        .await;
    c.shot("sign-in-wrong-key").await;
    c.fill("API key", &f.key).await;
    c.press("Sign in").await;
    c.wait_text("h1", "Overview", 5).await;
    c.shot("overview").await;

    // 2. A trunk with a bad number: the error shows by the field, nothing typed is lost.
    let sip_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    c.press("Outbound trunks").await;
    c.wait_text("h1", "Outbound trunks", 5).await;
    c.shot("trunks").await;
    c.press("Create trunk").await;
    c.wait_text("h1", "Create an outbound trunk", 5).await;
    c.fill("Trunk name", "SIPp trunk").await;
    c.choose("Provider", "Other SIP provider").await;
    c.fill("Address", &format!("127.0.0.1:{sip_port}")).await;
    c.fill("Numbers", "+15551234567, 555-1234").await;
    c.fill("Username", "alice").await;
    c.fill("Password", "s3cret-pw").await;
    c.choose("Transport", "TCP").await;
    c.choose("Media encryption", "Media encryption disabled")
        .await;
    c.mark_page().await;
    c.press("Create trunk").await;
    let error = c.wait_text("#numbers-error", "555-1234", 5).await;
    assert!(error.contains("number 2"), "{error}");
    assert!(
        c.page_was_not_reloaded().await,
        "htmx swapped the form in place"
    );
    assert_eq!(
        c.field("Numbers")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("+15551234567, 555-1234")
    );
    assert_eq!(
        c.field("Password")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("s3cret-pw"),
        "the browser's copy of the password is kept across the re-render"
    );
    c.shot("trunk-form-error").await;
    c.fill("Numbers", "+15551234567").await;
    c.press("Create trunk").await;
    c.wait_text("main", "Trunk created.", 10).await;
    assert_eq!(c.h1().await, "SIPp trunk");
    assert!(!c.client.source().await.unwrap().contains("s3cret-pw"));
    let trunk_url = c.client.current_url().await.unwrap();
    let trunk_id = trunk_url
        .path()
        .trim_start_matches("/ui/trunks/")
        .to_owned();
    c.shot("trunk").await;

    // 3. Test the trunk against SIPp: the ladder (401, then 200 with credentials) and the
    //    diagnosis, swapped in without a reload.
    let mut sipp = sipp_responder(sip_port);
    wait_listening(sip_port).await;
    c.mark_page().await;
    c.field("Test number").await; // labelled, optional
    c.press("Test trunk").await;
    let result = c
        .wait_text("#test-result", "Diagnosis: reachable", 15)
        .await;
    let _ = sipp.kill();
    let _ = sipp.wait();
    assert!(c.page_was_not_reloaded().await);
    assert!(result.contains("401 Unauthorized"), "{result}");
    assert!(result.contains("200 OK"), "{result}");
    assert!(result.contains("ms"), "round-trip times: {result}");
    let ladder_headers = c.text_of("table.ladder thead").await;
    assert!(ladder_headers.contains("Round trip"), "{ladder_headers}");
    c.shot("trunk-test").await;

    // 5. Place a call against the LiveKit double: it is answered, then completed, on the
    //    call page, without a reload.
    f.lk.set_call_outcome(CallOutcome::AnswerAfter(Duration::from_millis(1500)));
    f.lk.set_answered_call_length(Some(Duration::from_secs(3)));
    c.press("Calls").await;
    c.wait_text("h1", "Calls", 5).await;
    c.press("Place a call").await;
    c.wait_text("h1", "Place a call", 5).await;
    c.choose("Assistant", "Sales").await;
    c.choose("Trunk", "Twilio Production").await;
    c.fill("Number to call", "+14155550100").await;
    c.press("Place call").await;
    c.wait_text("main", "Call queued.", 5).await;
    c.mark_page().await;
    c.wait_text("#call-live", "answered", 15).await;
    c.shot("call-answered").await;
    let live = c.wait_text("#call-live", "completed", 20).await;
    assert!(
        live.contains("200"),
        "the SIP status and its meaning: {live}"
    );
    assert!(
        c.page_was_not_reloaded().await,
        "the status changed without a reload"
    );
    let timeline = c.text_of("ol.timeline").await;
    for step in ["Queued", "Dialing", "Answered", "Ended"] {
        assert!(timeline.contains(step), "{timeline}");
    }
    c.shot("call").await;

    // The list updates by itself: a call placed elsewhere appears without a reload.
    c.press("Calls").await;
    c.wait_text("h1", "Calls", 5).await;
    c.mark_page().await;
    let other = f.call("+14155550101").await;
    c.wait_text("#call-rows", &other, 10).await;
    assert!(c.page_was_not_reloaded().await);
    c.shot("calls").await;

    // 6. Cancel a queued call.
    let queued = queued_call(&f).await;
    c.client
        .goto(&format!("{base}/ui/calls/{queued}"))
        .await
        .unwrap();
    c.wait_text("#call-live", "queued", 5).await;
    c.press("Cancel call").await;
    c.wait_text("main", "Call cancelled.", 5).await;
    c.wait_text("#call-live", "cancelled", 5).await;
    assert_eq!(f.get(&queued).await["status"], "cancelled");
    c.shot("call-cancelled").await;
    c.client.goto(&format!("{base}/")).await.unwrap();
    c.wait_text("h1", "Overview", 5).await;
    c.shot("overview-with-calls").await;

    // 7. Sign out: the session is gone.
    c.press("Sign out").await;
    c.wait_text("main", "You are signed out.", 5).await;
    c.client.goto(&format!("{base}/ui/trunks")).await.unwrap();
    assert_eq!(c.h1().await, "Sign in");

    // 8. Another tenant's pages are unreachable: 404 pages, nothing of the first tenant's.
    let other_key = f.srv.tenant("other@example.com").await;
    c.fill("API key", &other_key).await;
    c.press("Sign in").await;
    c.wait_text("h1", "Overview", 5).await;
    for path in [
        format!("/ui/trunks/{trunk_id}"),
        format!("/ui/trunks/{trunk_id}/edit"),
        format!("/ui/calls/{queued}"),
    ] {
        c.client.goto(&format!("{base}{path}")).await.unwrap();
        assert_eq!(c.h1().await, "Page not found", "{path}");
    }
    c.shot("not-found").await;
    c.client.goto(&format!("{base}/ui/trunks")).await.unwrap();
    assert!(!c.client.source().await.unwrap().contains(&trunk_id));
    c.client.goto(&format!("{base}/ui/calls")).await.unwrap();
    assert!(!c.client.source().await.unwrap().contains(&queued));
    let _ = c.client.clone().close().await;
}
