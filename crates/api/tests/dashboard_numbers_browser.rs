//! The numbers page in a real browser (chromium over WebDriver, as `dashboard_browser.rs`),
//! against the server with the LiveKit and Twilio doubles: a number refused by name, then set
//! up end to end, listed, and removed with what its setup made.
//!
//! `TRUNKLINE_SKIP_BROWSER=1` skips it on a machine without a browser.

mod browser;
mod support;

use browser::chrome;
use serde_json::json;
use support::call_fixture::*;
use support::provider_fixture::{Providers, TW_SID, TW_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_set_up_and_removed_in_the_browser() {
    let Some(c) = chrome().await else { return };
    let providers = Providers::start().await;
    let settings = std::sync::Arc::new(providers.settings());
    let f = fixture_with(move |s| {
        fast(s);
        s.providers = settings;
    })
    .await;
    let base = f.srv.url.clone();
    providers.twilio.add_number("+15550100000");
    let (status, made) = f
        .srv
        .post(
            "/provider-accounts",
            &f.key,
            &json!({"provider": "twilio", "name": "Twilio main", "account_sid": TW_SID, "auth_token": TW_TOKEN}),
        )
        .await;
    assert_eq!(status, 200, "{made}");
    let trunks_before = f.lk.outbound_trunks().len();

    c.client.goto(&format!("{base}/ui/sign-in")).await.unwrap();
    c.fill("API key", &f.key).await;
    c.press("Sign in").await;
    c.wait_text("h1", "Overview", 5).await;
    c.press("Numbers").await;
    c.wait_text("h1", "Numbers", 5).await;
    c.wait_text("main", "No numbers set up yet.", 5).await;
    c.shot("numbers-empty").await;

    // A number that is not E.164: named beside its field, what was typed kept.
    c.choose("Provider account", "Twilio main").await;
    c.choose("Assistant", "Sales").await;
    c.fill("Number", "5550100000").await;
    c.press("Set up number").await;
    c.wait_text(
        "main",
        "The number was not set up: 1 field needs fixing",
        10,
    )
    .await;
    c.wait_text("#number-error", "Number must be", 5).await;
    let typed = c.field("Number").await.prop("value").await.unwrap();
    assert_eq!(typed.as_deref(), Some("5550100000"));
    c.shot("numbers-refused").await;
    assert_eq!(f.lk.outbound_trunks().len(), trunks_before);

    // Fixed: set up both ways, at Twilio and in LiveKit.
    c.fill("Number", "+15550100000").await;
    c.press("Set up number").await;
    c.wait_text("main", "Number set up.", 10).await;
    let table = c.wait_text("table", "+15550100000", 5).await;
    assert!(
        table.contains("active") && table.contains("Sales"),
        "{table}"
    );
    assert_eq!(providers.twilio.trunks().len(), 1);
    assert_eq!(f.lk.outbound_trunks().len(), trunks_before + 1);
    assert_eq!(f.lk.dispatch_rules().len(), 1);
    c.shot("numbers-set-up").await;
    c.assert_clean_console("numbers").await;

    // Delete: everything the setup made goes.
    c.press("Delete").await;
    c.wait_text("main", "Number removed", 10).await;
    c.wait_text("main", "No numbers set up yet.", 5).await;
    assert!(providers.twilio.trunks().is_empty());
    assert_eq!(f.lk.outbound_trunks().len(), trunks_before);
    assert!(f.lk.dispatch_rules().is_empty());
    c.assert_clean_console("numbers deleted").await;
    let _ = c.client.clone().close().await;
}
