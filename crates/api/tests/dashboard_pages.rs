//! The dashboard over plain HTTP (no browser): sessions (cookie flags, expiry, sign-out, a
//! revoked key), CSRF and Origin checks, the CSP, tenant isolation as 404 pages, and the
//! trunk form's field errors. The browser flows are in `dashboard_browser.rs`.

mod support;

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use support::*;
use trunkline_core::sealing::hash_api_key;

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// A browser's view: its cookies, kept by hand (reqwest's cookie store is not enabled here).
struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: client(),
            cookies: vec![],
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, resp: &reqwest::Response) -> Vec<String> {
        let mut raw = vec![];
        for v in resp.headers().get_all(SET_COOKIE) {
            let s = v.to_str().unwrap().to_owned();
            let (pair, _) = s.split_once(';').unwrap_or((&s, ""));
            let (k, val) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !val.is_empty() {
                self.cookies.push((k.to_owned(), val.to_owned()));
            }
            raw.push(s);
        }
        raw
    }

    async fn get(&mut self, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&resp);
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, resp.text().await.unwrap(), headers)
    }

    async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> (u16, String, reqwest::header::HeaderMap) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish(),
            );
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        let resp = req.send().await.unwrap();
        self.keep(&resp);
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, resp.text().await.unwrap(), headers)
    }

    /// The value of the first hidden `csrf` field in a page.
    fn csrf_of(page: &str) -> String {
        let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        page[at..at + page[at..].find('"').unwrap()].to_owned()
    }

    async fn sign_in(&mut self, key: &str) -> (u16, String, reqwest::header::HeaderMap) {
        let (status, page, _) = self.get("/ui/sign-in").await;
        assert_eq!(status, 200);
        let csrf = Self::csrf_of(&page);
        self.post("/ui/sign-in", &[("csrf", &csrf), ("api_key", key)], None)
            .await
    }

    async fn csrf(&mut self) -> String {
        let (status, page, _) = self.get("/ui/trunks/new").await;
        assert_eq!(status, 200, "{page}");
        Self::csrf_of(&page)
    }
}

#[tokio::test]
async fn signing_in_makes_a_server_side_session_that_sign_out_and_revocation_end() {
    let db = TestDb::fresh().await;
    let srv = TestServer::start(&db, LiveKit::None).await;
    let key = srv.tenant("dash@example.com").await;
    let mut b = Browser::new(&srv.url);

    // Not signed in: every page leads to the sign-in page.
    let (status, _, headers) = b.get("/").await;
    assert_eq!(status, 303);
    assert_eq!(headers[LOCATION], "/ui/sign-in");

    // The sign-in page: a labelled field, the strict CSP, no caching.
    let (status, page, headers) = b.get("/ui/sign-in").await;
    assert_eq!(status, 200);
    assert!(
        page.contains(r#"<label for="api_key">API key</label>"#),
        "{page}"
    );
    assert!(page.contains(">Sign in</button>"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(headers["cache-control"], "no-store");

    // A wrong key: a clear message, 401, the typed key not sent back, no session.
    let (status, page, headers) = b.sign_in("tlk_not-a-real-key-at-all").await;
    assert_eq!(status, 401);
    assert!(page.contains("That API key is not valid"), "{page}");
    assert!(!page.contains("tlk_not-a-real-key-at-all"));
    assert!(headers.get(SET_COOKIE).is_none());

    // The right key: an HttpOnly, SameSite=Strict session cookie, and the overview.
    let (status, _, headers) = b.sign_in(&key).await;
    assert_eq!(status, 303);
    assert_eq!(headers[LOCATION], "/");
    let session_cookie = headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("tl_session="))
        .expect("a session cookie")
        .to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(session_cookie.contains(flag), "{session_cookie}");
    }
    assert!(
        !session_cookie.contains(&key),
        "the key is never the cookie"
    );
    let (status, page, _) = b.get("/").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<h1>Overview</h1>"));
    assert!(page.contains(">Sign out</button>"));
    assert!(!page.contains(&key), "the key never sits in a page");
    // Nothing inline that `default-src 'self'` would block: no style attributes, no inline
    // script, no other origin.
    assert!(!page.contains("style="), "{page}");
    assert!(!page.contains("<script>"), "{page}");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );

    // The session is stored as a hash only.
    let token = b
        .cookies
        .iter()
        .find(|(k, _)| k == "tl_session")
        .unwrap()
        .1
        .clone();
    assert!(srv.store.dashboard_session(&token).await.unwrap().is_none());

    // Sign-out needs the form's token; then the same cookie opens nothing.
    let stolen = b.cookies.clone();
    let (status, _, _) = b.post("/ui/sign-out", &[("csrf", "wrong")], None).await;
    assert_eq!(status, 403);
    let csrf = b.csrf().await;
    let (status, _, headers) = b.post("/ui/sign-out", &[("csrf", &csrf)], None).await;
    assert_eq!(status, 303);
    assert_eq!(headers[LOCATION], "/ui/sign-in?signed_out=1");
    b.cookies = stolen;
    let (status, _, headers) = b.get("/ui/trunks").await;
    assert_eq!(
        status, 303,
        "a signed-out session is dead even if its cookie is replayed"
    );
    assert_eq!(headers[LOCATION], "/ui/sign-in");

    // Revoking the API key ends the sessions made with it.
    let mut b = Browser::new(&srv.url);
    assert_eq!(b.sign_in(&key).await.0, 303);
    assert_eq!(b.get("/ui/trunks").await.0, 200);
    let keys = srv.store.list_api_keys().await.unwrap();
    assert!(srv.store.revoke_api_key(&keys[0].id).await.unwrap());
    assert_eq!(b.get("/ui/trunks").await.0, 303);
    let (status, page, _) = Browser::new(&srv.url).sign_in(&key).await;
    assert_eq!(status, 401);
    assert!(page.contains("This API key was revoked"), "{page}");
    srv.stop().await;
}

#[tokio::test]
async fn an_expired_session_opens_nothing() {
    let db = TestDb::fresh().await;
    let srv = TestServer::start(&db, LiveKit::None).await;
    let key = srv.tenant("dash@example.com").await;
    let (key_id, tenant) = srv
        .store
        .api_key_for_hash(&hash_api_key(&key))
        .await
        .unwrap()
        .unwrap();
    let token = "expired-session-token";
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()));
    let past = trunkline_store::now_micros() - 1;
    srv.store
        .create_dashboard_session(&hash, &tenant, &key_id, "csrf", past)
        .await
        .unwrap();
    let mut b = Browser::new(&srv.url);
    b.cookies.push(("tl_session".into(), token.into()));
    assert_eq!(b.get("/").await.0, 303);
    // The same row, unexpired, does open a page (so the 303 above was the expiry).
    let live = "live-session-token";
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(live.as_bytes()));
    srv.store
        .create_dashboard_session(&hash, &tenant, &key_id, "csrf", past + 3_600_000_000)
        .await
        .unwrap();
    b.cookies = vec![("tl_session".into(), live.into())];
    assert_eq!(b.get("/").await.0, 200);
    srv.stop().await;
}

#[tokio::test]
async fn forms_without_the_sessions_token_or_from_another_origin_change_nothing() {
    let db = TestDb::fresh().await;
    let srv = TestServer::start(&db, LiveKit::None).await;
    let key = srv.tenant("dash@example.com").await;
    let mut b = Browser::new(&srv.url);
    assert_eq!(b.sign_in(&key).await.0, 303);
    let form = |csrf: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("trunk_name".into(), "Forged".into()),
            ("provider".into(), "sip".into()),
            ("address".into(), "sip.example.com".into()),
            ("numbers".into(), "+15551234567".into()),
            ("transport".into(), "auto".into()),
            ("media_encryption".into(), "disabled".into()),
        ]
    };
    for csrf in ["", "not-the-token"] {
        let f = form(csrf);
        let refs: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let (status, page, _) = b.post("/ui/trunks", &refs, None).await;
        assert_eq!(status, 403, "{page}");
        assert!(page.contains("This form could not be accepted"));
    }
    let csrf = b.csrf().await;
    let f = form(&csrf);
    let refs: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (status, _, _) = b
        .post("/ui/trunks", &refs, Some("https://evil.example"))
        .await;
    assert_eq!(
        status, 403,
        "the right token from another site's page is refused"
    );
    assert!(srv.list_ids(&key).await.is_empty(), "nothing was created");

    // The sign-in form needs its own double-submit token too.
    let mut fresh = Browser::new(&srv.url);
    let (status, _, _) = fresh
        .post("/ui/sign-in", &[("csrf", "x"), ("api_key", &key)], None)
        .await;
    assert_eq!(status, 403);

    // The same form with the token and no foreign Origin creates the trunk.
    let (status, _, headers) = b.post("/ui/trunks", &refs, None).await;
    assert_eq!(status, 303);
    assert!(headers[LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/ui/trunks/ST_"));
    assert_eq!(srv.list_ids(&key).await.len(), 1);
    srv.stop().await;
}

#[tokio::test]
async fn the_trunk_form_shows_each_error_by_its_field_and_keeps_what_was_typed() {
    let db = TestDb::fresh().await;
    let srv = TestServer::start(&db, LiveKit::None).await;
    let key = srv.tenant("dash@example.com").await;
    let mut b = Browser::new(&srv.url);
    assert_eq!(b.sign_in(&key).await.0, 303);
    let csrf = b.csrf().await;
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("trunk_name", "Emily Outbound Trunk"),
        ("provider", "twilio"),
        ("address", "sip:core-it-voice-agent.livekit.cloud"),
        ("numbers", "+15551234567,555-1234"),
        ("username", "livekit-user"),
        ("password", "Em1ly_Trunk_2024!Secure"),
        ("transport", "tcp"),
        ("media_encryption", "disabled"),
    ];
    let (status, page, _) = b.post("/ui/trunks", &form, None).await;
    assert_eq!(status, 400, "{page}");
    // The error follows the Numbers field and names the number typed.
    let numbers_field = page.find(r#"id="numbers""#).expect("numbers field");
    let error = page.find(r#"id="numbers-error""#).expect("numbers error");
    assert!(error > numbers_field);
    assert!(
        page[error..].contains("&quot;555-1234&quot; (number 2)"),
        "{page}"
    );
    assert!(page.contains(r#"aria-describedby="numbers-hint numbers-error""#));
    // What was typed is kept, except the password, which is never sent back.
    assert!(page.contains(r#"value="+15551234567,555-1234""#));
    assert!(page.contains(r#"value="Emily Outbound Trunk""#));
    assert!(page.contains(r#"<option value="tcp" selected>TCP</option>"#));
    assert!(!page.contains("Em1ly_Trunk_2024!Secure"));
    for label in [
        "Trunk name",
        "Provider",
        "Address",
        "Numbers",
        "Username",
        "Password",
        "Transport",
        "Media encryption",
    ] {
        assert!(page.contains(&format!(">{label}</label>")), "label {label}");
    }
    assert!(srv.list_ids(&key).await.is_empty());

    // Fixed: created, and its page never shows the password.
    form[4] = ("numbers", "+15551234567,+15551234568");
    let (status, _, headers) = b.post("/ui/trunks", &form, None).await;
    assert_eq!(status, 303);
    let trunk_page = headers[LOCATION].to_str().unwrap().to_owned();
    let (status, page, _) = b.get(&trunk_page).await;
    assert_eq!(status, 200);
    assert!(page.contains("Trunk created."));
    assert!(page.contains("+15551234567, +15551234568"));
    assert!(page.contains("set (never shown)"));
    assert!(!page.contains("Em1ly_Trunk_2024!Secure"));
    let id = trunk_page
        .trim_start_matches("/ui/trunks/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();

    // Editing with the password left empty keeps it.
    let (_, edit, _) = b.get(&format!("/ui/trunks/{id}/edit")).await;
    assert!(!edit.contains("Em1ly_Trunk_2024!Secure"));
    assert!(edit.contains("A password is set."));
    let save = [
        ("csrf", csrf.as_str()),
        ("trunk_name", "Renamed"),
        ("provider", "twilio"),
        ("address", "core-it-voice-agent.livekit.cloud"),
        ("numbers", "+15551234567"),
        ("username", "livekit-user"),
        ("password", ""),
        ("transport", "udp"),
        ("media_encryption", "required"),
    ];
    let (status, page, _) = b.post(&format!("/ui/trunks/{id}"), &save, None).await;
    assert_eq!(status, 303, "{page}");
    let (status, json) = srv.get(&format!("/sip/trunks/{id}"), &key).await;
    assert_eq!(status, 200);
    assert_eq!(json["data"]["trunk_name"], "Renamed");
    assert_eq!(json["data"]["trunk_config"]["password_set"], true);
    assert_eq!(json["data"]["trunk_config"]["transport"], "udp");
    srv.stop().await;
}

#[tokio::test]
async fn another_tenants_pages_are_404_pages() {
    let db = TestDb::fresh().await;
    let srv = TestServer::start(&db, LiveKit::None).await;
    let owner = srv.tenant("owner@example.com").await;
    let other = srv.tenant("other@example.com").await;
    let trunk = srv.create(&owner, &seed_twilio()).await;
    let mut b = Browser::new(&srv.url);
    assert_eq!(b.sign_in(&owner).await.0, 303);
    assert_eq!(b.get(&format!("/ui/trunks/{trunk}")).await.0, 200);

    let mut b = Browser::new(&srv.url);
    assert_eq!(b.sign_in(&other).await.0, 303);
    let csrf = b.csrf().await;
    for path in [
        format!("/ui/trunks/{trunk}"),
        format!("/ui/trunks/{trunk}/edit"),
        "/ui/calls/CL_0123456789abcdef0123456789abcdef".to_owned(),
        "/ui/trunks/not-an-id".to_owned(),
        "/ui/no-such-page".to_owned(),
    ] {
        let (status, page, headers) = b.get(&path).await;
        assert_eq!(status, 404, "{path}");
        assert!(page.contains("Page not found"), "{path}: {page}");
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
    let (status, page, _) = b.get("/ui/trunks").await;
    assert_eq!(status, 200);
    assert!(
        !page.contains(&trunk),
        "another tenant's trunk is not listed"
    );
    for path in [
        format!("/ui/trunks/{trunk}/delete"),
        format!("/ui/trunks/{trunk}/test"),
    ] {
        let (status, _, _) = b.post(&path, &[("csrf", &csrf)], None).await;
        assert_eq!(status, 404, "{path}");
    }
    assert_eq!(
        srv.list_ids(&owner).await,
        vec![trunk],
        "the owner's trunk is untouched"
    );

    // The API beside the dashboard is unchanged: its paths still answer JSON.
    let (status, json) = srv.get("/sip/list", &owner).await;
    assert_eq!(status, 200);
    assert_eq!(json["success"], true);
    srv.stop().await;
}
