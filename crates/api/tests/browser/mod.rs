//! The browser the dashboard tests drive: Debian's chromium through chromedriver
//! (WebDriver, fantoccini), with helpers that find fields by their visible labels and buttons
//! by their names, screenshots at two widths, and chromium's console log; and the SIPp
//! responder the "Test trunk" flow dials.
#![allow(dead_code)]

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Chrome {
    driver: Child,
    pub client: Client,
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

pub async fn chrome() -> Option<Chrome> {
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
    // The browser's console (CSP violations, script errors) for `console_problems`.
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
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

/// chromedriver's browser log (`POST /session/{id}/se/log`): what the console printed since
/// the last read, CSP violations included. Not in W3C WebDriver, so not in fantoccini.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(r#"{"type":"browser"}"#.into()),
        )
    }
}

impl Chrome {
    /// Console errors and CSP violations since the last call. A page answered with an error
    /// status that a step expects (a refused form, the 404 page) is logged by chromium as a
    /// failed load; those statuses are allowed, nothing else.
    pub async fn console_problems(&self) -> Vec<String> {
        let log = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("the browser log");
        log.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let level = e["level"].as_str().unwrap_or_default();
                let message = e["message"].as_str().unwrap_or_default().to_owned();
                let expected_status = ["400", "401", "404", "409", "429"].iter().any(|s| {
                    message.contains(&format!("the server responded with a status of {s}"))
                });
                let csp = message.contains("Content Security Policy");
                (csp || (level == "SEVERE" && !expected_status))
                    .then(|| format!("{level}: {message}"))
            })
            .collect()
    }

    pub async fn assert_clean_console(&self, step: &str) {
        let problems = self.console_problems().await;
        assert!(
            problems.is_empty(),
            "{step}: the console reports {problems:#?}"
        );
    }

    /// The control a visible `<label>` names.
    pub async fn field(&self, label: &str) -> fantoccini::elements::Element {
        let xpath = format!("//label[normalize-space()='{label}']");
        let l = self
            .client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no label {label:?}"));
        let id = l.attr("for").await.unwrap().expect("label for=");
        self.client.find(Locator::Id(&id)).await.unwrap()
    }

    pub async fn fill(&self, label: &str, text: &str) {
        let f = self.field(label).await;
        f.clear().await.unwrap();
        f.send_keys(text).await.unwrap();
    }

    pub async fn choose(&self, label: &str, option_text: &str) {
        self.field(label)
            .await
            .select_by_label(option_text)
            .await
            .unwrap_or_else(|_| panic!("{label}: no option {option_text:?}"));
    }

    /// Clicks the button (or link styled as one) whose text is `name`.
    pub async fn press(&self, name: &str) {
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

    pub async fn text_of(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the element `css` contains `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str, secs: u64) -> String {
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

    pub async fn h1(&self) -> String {
        self.text_of("h1").await
    }

    /// Saves the whole page at desktop (1280) and phone (390) widths, then returns to desktop.
    pub async fn shot(&self, name: &str) {
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
    pub async fn mark_page(&self) {
        self.client
            .execute("window.__notReloaded = true; return true;", vec![])
            .await
            .unwrap();
    }

    pub async fn page_was_not_reloaded(&self) -> bool {
        self.client
            .execute("return window.__notReloaded === true;", vec![])
            .await
            .unwrap()
            == json!(true)
    }
}

/// SIPp answering OPTIONS with a digest challenge for alice / s3cret-pw, on TCP `port`.
pub fn sipp_responder(port: u16) -> Child {
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

pub async fn wait_listening(port: u16) {
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
