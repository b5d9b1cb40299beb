//! The dashboard's edges over HTTP: sign-in attempts throttled per client address and per key
//! prefix, the `Secure` cookie behind a trusted https proxy only, and the calls list's pages
//! (a cursor that keeps the filters). SQLite, and PostgreSQL when TRUNKLINE_TEST_POSTGRES is set.

mod dashboard_client;
mod support;

use dashboard_client::Browser;
use reqwest::header::{RETRY_AFTER, SET_COOKIE};
use support::*;
use trunkline_store::CallRow;

fn session_cookie(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tl_session="))
        .expect("a session cookie")
}

#[tokio::test]
async fn sign_in_attempts_are_throttled_per_address_and_per_key_prefix() {
    let db = TestDb::fresh().await;
    let srv = TestServer::start(&db, LiveKit::None).await;
    let key = srv.tenant("dash@example.com").await;
    let mut b = Browser::new(&srv.url);
    for i in 0..10 {
        let (status, page, _) = b.sign_in(&format!("tlk_wrong-guess-{i:03}-aaaaaaaa")).await;
        assert_eq!(status, 401, "attempt {i}: {page}");
    }
    // The eleventh, even with the right key: throttled before the key is looked at.
    let (status, page, headers) = b.sign_in(&key).await;
    assert_eq!(status, 429, "{page}");
    assert!(
        page.contains("Too many sign-in attempts from your network address. Wait"),
        "{page}"
    );
    assert!(
        page.contains(r#"id="api_key-error""#),
        "the message sits by the field: {page}"
    );
    let wait: u64 = headers[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=12).contains(&wait), "{wait}");
    assert!(headers
        .get(SET_COOKIE)
        .is_none_or(|c| !c.to_str().unwrap().starts_with("tl_session")));
    srv.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_cookies_are_secure_and_addresses_are_the_clients() {
    let db = TestDb::fresh().await;
    // Not trusted (the default): a client's own X-Forwarded-Proto changes nothing.
    let srv = TestServer::start(&db, LiveKit::None).await;
    let key = srv.tenant("dash@example.com").await;
    let mut b = Browser::new(&srv.url);
    b.headers.push(("x-forwarded-proto", "https".into()));
    let (status, _, headers) = b.sign_in(&key).await;
    assert_eq!(status, 303);
    assert!(!session_cookie(&headers).contains("Secure"));
    srv.stop().await;

    let srv =
        TestServer::start_custom(&db, LiveKit::None, None, |s| s.trust_proxy_headers = true).await;
    let mut b = Browser::new(&srv.url);
    b.headers.push(("x-forwarded-proto", "https".into()));
    let (status, _, headers) = b.sign_in(&key).await;
    assert_eq!(status, 303);
    let cookie = session_cookie(&headers);
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // Plain http through the proxy: no Secure (the browser would drop the cookie).
    let mut plain = Browser::new(&srv.url);
    plain.headers.push(("x-forwarded-proto", "http".into()));
    let (_, _, headers) = plain.sign_in(&key).await;
    assert!(!session_cookie(&headers).contains("Secure"));

    // The proxy's last X-Forwarded-For entry is the client: one client's failures do not
    // throttle another behind the same proxy; a forged first entry does not help.
    let mut guesser = Browser::new(&srv.url);
    guesser
        .headers
        .push(("x-forwarded-for", "203.0.113.50, 192.0.2.1".into()));
    for i in 0..10 {
        assert_eq!(
            guesser.sign_in(&format!("tlk_{i:02}-wrong-guess")).await.0,
            401
        );
    }
    guesser.headers[0].1 = "203.0.113.51, 192.0.2.1".into();
    assert_eq!(guesser.sign_in("tlk_zz-another").await.0, 429);
    let mut other = Browser::new(&srv.url);
    other.headers.push(("x-forwarded-for", "192.0.2.2".into()));
    assert_eq!(other.sign_in(&key).await.0, 303);
    srv.stop().await;
}

#[tokio::test]
async fn the_calls_list_pages_with_a_cursor_that_keeps_the_filters() {
    let db = TestDb::fresh().await;
    let srv = TestServer::start(&db, LiveKit::None).await;
    let key = srv.tenant("dash@example.com").await;
    let tenant = srv.store.list_api_keys().await.unwrap()[0]
        .tenant_id
        .clone();
    let trunk = srv.create(&key, &seed_twilio()).await;
    // 130 busy calls and 30 completed ones, ended (no worker touches them), one a second.
    let now = trunkline_store::now_micros();
    for i in 0..160i64 {
        let at = now - (160 - i) * 1_000_000;
        let status = if i % 16 < 13 { "busy" } else { "completed" };
        let row = CallRow {
            id: format!("CL_{:032x}", i + 1),
            tenant_id: tenant.clone(),
            assistant_id: format!("AS_{:032x}", 1),
            trunk_id: trunk.clone(),
            to_number: format!("+1415555{i:04}"),
            from_number: "+15550100000".into(),
            plan: "{}".into(),
            status: status.into(),
            attempts: 1,
            max_attempts: 1,
            next_attempt_at: at,
            created_at: at,
            ended_at: Some(at + 1),
            updated_at: at + 1,
            ..Default::default()
        };
        srv.store.insert_call(&row).await.unwrap();
    }
    let mut b = Browser::new(&srv.url);
    assert_eq!(b.sign_in(&key).await.0, 303);
    let (status, page, _) = b.get("/ui/calls?status=busy").await;
    assert_eq!(status, 200);
    assert!(page.contains("100 calls, newest first"), "{page}");
    assert!(!page.contains(">completed</span>"), "{page}");
    assert!(!page.contains(">Newest calls</a>"));
    let at = page.find("rel=\"next\"").expect("an Older calls link");
    let href_at = page[..at].rfind("href=\"").unwrap() + 6;
    let older = page[href_at..href_at + page[href_at..].find('"').unwrap()].replace("&amp;", "&");
    assert!(
        older.contains("status=busy") && older.contains("cursor="),
        "{older}"
    );
    let first: Vec<&str> = page
        .match_indices("/ui/calls/CL_")
        .map(|(i, _)| &page[i + 10..i + 45])
        .collect();

    let (status, page, _) = b.get(&older).await;
    assert_eq!(status, 200);
    assert!(page.contains("30 calls, newest first"), "{page}");
    assert!(
        !page.contains(">completed</span>"),
        "the filter is kept: {page}"
    );
    assert!(page.contains(">Newest calls</a>"), "{page}");
    assert!(!page.contains("rel=\"next\""), "the last page: {page}");
    for id in page
        .match_indices("/ui/calls/CL_")
        .map(|(i, _)| &page[i + 10..i + 45])
    {
        assert!(!first.contains(&id), "{id} on both pages");
    }
    // A cursor that does not parse: the newest page, not an error.
    let (status, page, _) = b.get("/ui/calls?status=busy&cursor=junk").await;
    assert_eq!(status, 200);
    assert!(page.contains("100 calls, newest first"), "{page}");
    srv.stop().await;
}
