//! The dashboard over plain HTTP (no browser): sessions (cookie flags, expiry, sign-out, a
//! revoked key), CSRF and Origin checks, the CSP, tenant isolation as 404 pages, and the
//! trunk form's field errors. The browser flows are in `dashboard_browser.rs`.

mod dashboard_client;
mod support;

use dashboard_client::Browser;
use reqwest::header::{LOCATION, SET_COOKIE};
use support::*;
use trunkline_core::sealing::hash_api_key;

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

/// Seed 002's two files, verbatim.
const SEED_TRUNK_JSON: &str = r#"{
  "trunk": {
    "name": "Twilio Inbound SIP Trunk",
    "numbers": [
      "+13074606119"
    ],
    "krispEnabled": true
  }
}"#;
const SEED_DISPATCH_JSON: &str = r#"{
  "dispatch_rule": {
    "rule": {
      "dispatchRuleIndividual": {
        "roomPrefix": "call-"
      }
    },
    "name": "Twilio Individual Room Dispatch",
    "roomConfig": {
      "agents": [{
        "agentName": "voice-agent",
        "metadata": "Twilio inbound call handler"
      }]
    }
  }
}"#;

#[tokio::test]
async fn the_import_box_takes_seed_002s_files_as_they_are() {
    let db = TestDb::fresh().await;
    let srv = TestServer::start(&db, LiveKit::None).await;
    let key = srv.tenant("dash@example.com").await;
    let other = srv.tenant("other@example.com").await;
    let mut b = Browser::new(&srv.url);
    assert_eq!(b.sign_in(&key).await.0, 303);
    let (status, page, _) = b.get("/ui/inbound").await;
    assert_eq!(status, 200);
    assert!(
        page.contains(r#"<label for="lk_json">lk JSON</label>"#),
        "{page}"
    );
    let csrf = Browser::csrf_of(&page);

    // Not JSON, or JSON of neither kind: said so, and the text stays in the box.
    let (status, page, _) = b
        .post(
            "/ui/inbound",
            &[("csrf", &csrf), ("lk_json", "{\"trunk\": ")],
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("This is not valid JSON"), "{page}");
    assert!(page.contains("{&quot;trunk&quot;: </textarea>"), "{page}");
    let (status, page, _) = b
        .post(
            "/ui/inbound",
            &[("csrf", &csrf), ("lk_json", "{\"name\": \"x\"}")],
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        page.contains("Paste the file of lk sip inbound create"),
        "{page}"
    );
    // A field the rules refuse is named.
    let bad = SEED_TRUNK_JSON.replace("+13074606119", "3074606119");
    let (status, page, _) = b
        .post("/ui/inbound", &[("csrf", &csrf), ("lk_json", &bad)], None)
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("trunk.numbers[0]"), "{page}");

    for (file, done) in [(SEED_TRUNK_JSON, "trunk"), (SEED_DISPATCH_JSON, "rule")] {
        let (status, page, headers) = b
            .post("/ui/inbound", &[("csrf", &csrf), ("lk_json", file)], None)
            .await;
        assert_eq!(status, 303, "{page}");
        assert_eq!(
            headers[LOCATION],
            format!("/ui/inbound?done={done}").as_str()
        );
    }
    let (_, page, _) = b.get("/ui/inbound").await;
    assert!(page.contains("Twilio Inbound SIP Trunk"));
    assert!(page.contains("+13074606119"));
    assert!(page.contains("Twilio Individual Room Dispatch"));
    assert!(page.contains("voice-agent"));
    // The API sees the same objects; the other tenant sees none of them.
    let (_, json) = srv.get("/sip/inbound-trunks", &key).await;
    assert_eq!(
        json["data"]["trunks"].as_array().unwrap().len(),
        1,
        "{json}"
    );
    let (_, json) = srv.get("/sip/dispatch-rules", &key).await;
    assert_eq!(json["data"]["rules"].as_array().unwrap().len(), 1, "{json}");
    let mut o = Browser::new(&srv.url);
    assert_eq!(o.sign_in(&other).await.0, 303);
    let (_, page, _) = o.get("/ui/inbound").await;
    assert!(!page.contains("Twilio Inbound SIP Trunk"));
    srv.stop().await;
}

#[tokio::test]
async fn the_trunk_pages_settings_save_and_refuse_out_of_range_values() {
    let db = TestDb::fresh().await;
    let srv = TestServer::start(&db, LiveKit::None).await;
    let key = srv.tenant("dash@example.com").await;
    let trunk = srv.create(&key, &seed_twilio()).await;
    let mut b = Browser::new(&srv.url);
    assert_eq!(b.sign_in(&key).await.0, 303);
    let csrf = b.csrf().await;
    let (status, page, _) = b
        .post(
            &format!("/ui/trunks/{trunk}/call-limits"),
            &[
                ("csrf", &csrf),
                ("calls_per_second", "0"),
                ("max_concurrent_calls", "5"),
            ],
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(page.contains(r#"id="calls_per_second-error""#), "{page}");
    assert!(page.contains(r#"value="0""#) || page.contains("from 0.01 to 1000"));
    let (status, _, _) = b
        .post(
            &format!("/ui/trunks/{trunk}/call-limits"),
            &[
                ("csrf", &csrf),
                ("calls_per_second", "3.33"),
                ("max_concurrent_calls", "5"),
            ],
            None,
        )
        .await;
    assert_eq!(status, 303);
    let (_, json) = srv
        .get(&format!("/sip/trunks/{trunk}/call-limits"), &key)
        .await;
    assert_eq!(json["data"]["calls_per_second"], 3.33);
    assert_eq!(json["data"]["max_concurrent_calls"], 5);

    let (status, page, _) = b
        .post(
            &format!("/ui/trunks/{trunk}/health-check"),
            &[
                ("csrf", &csrf),
                ("enabled", "on"),
                ("interval_seconds", "5"),
                ("down_after", "3"),
            ],
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(page.contains(r#"id="interval_seconds-error""#), "{page}");
    let (status, _, _) = b
        .post(
            &format!("/ui/trunks/{trunk}/health-check"),
            &[
                ("csrf", &csrf),
                ("enabled", "on"),
                ("interval_seconds", "120"),
                ("down_after", "2"),
            ],
            None,
        )
        .await;
    assert_eq!(status, 303);
    let (_, json) = srv
        .get(&format!("/sip/trunks/{trunk}/health-check"), &key)
        .await;
    assert_eq!(json["data"]["enabled"], true, "{json}");
    assert_eq!(json["data"]["interval_seconds"], 120);
    srv.stop().await;
}

#[tokio::test]
async fn an_answered_call_is_transferred_from_its_page() {
    let f = support::call_fixture::fixture().await;
    let mut b = Browser::new(&f.srv.url);
    assert_eq!(b.sign_in(&f.key).await.0, 303);
    let id = f.call("+14155550100").await;
    f.wait_status(&id, "answered").await;
    let (status, page, _) = b.get(&format!("/ui/calls/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains(">Transfer to</label>") && page.contains(">Transfer call</button>"));
    let csrf = Browser::csrf_of(&page);
    let (status, page, _) = b
        .post(
            &format!("/ui/calls/{id}/transfer"),
            &[("csrf", &csrf), ("to", "555")],
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("The call was not transferred"), "{page}");
    let (status, _, headers) = b
        .post(
            &format!("/ui/calls/{id}/transfer"),
            &[("csrf", &csrf), ("to", "+15550100001")],
            None,
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        headers[LOCATION],
        format!("/ui/calls/{id}?done=transferred").as_str()
    );
    assert_eq!(f.get(&id).await["transferred_to"], "tel:+15550100001");
}

#[tokio::test]
async fn the_overview_shows_the_most_urgent_trunks_and_links_to_all() {
    let db = TestDb::fresh().await;
    let srv = TestServer::start(&db, LiveKit::None).await;
    let key = srv.tenant("dash@example.com").await;
    for _ in 0..21 {
        srv.create(&key, &seed_twilio()).await;
    }
    let mut b = Browser::new(&srv.url);
    assert_eq!(b.sign_in(&key).await.0, 303);
    let (status, page, _) = b.get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains("Failing trunks first (20 of 21)"), "{page}");
    assert!(page.contains("All 21 outbound trunks"));
    assert_eq!(page.matches(">Twilio Production</a>").count(), 20);
    srv.stop().await;
}
