//! The dashboard in a real browser: Debian's chromium, driven over WebDriver by chromedriver
//! (fantoccini), against the real server with the LiveKit double and a SIPp responder. The
//! fields and buttons are found by their visible labels and names, as a user (or a screen
//! reader) finds them. Each page is saved as a screenshot at desktop and phone widths under
//! `target/dashboard-screenshots/` (build output, not committed).
//!
//! Needs `chromium` and `chromium-driver` (installed by `.ci/run`); without them the test
//! fails saying so. `TRUNKLINE_SKIP_BROWSER=1` skips it on a machine without a browser.

mod browser;
mod support;

use browser::{chrome, sipp_responder, wait_listening};
use livekit_double::CallOutcome;
use serde_json::json;
use std::time::Duration;
use support::call_fixture::*;

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
    let providers = support::provider_fixture::Providers::start().await;
    let settings = std::sync::Arc::new(providers.settings());
    let f = fixture_with(move |s| {
        fast(s);
        s.providers = settings;
    })
    .await;
    let base = f.srv.url.clone();

    // The console check can fail: an inline script is refused by the CSP, and reported.
    c.client.goto(&format!("{base}/ui/sign-in")).await.unwrap();
    c.client
        .execute(
            "const s = document.createElement('script'); s.textContent = 'window.x = 1'; document.body.appendChild(s); return true;",
            vec![],
        )
        .await
        .unwrap();
    let seen = c.console_problems().await;
    assert!(
        seen.iter().any(|m| m.contains("Content Security Policy")),
        "an inline script must be refused and reported: {seen:?}"
    );

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
    c.assert_clean_console("sign in").await;

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
    c.assert_clean_console("trunk form and test").await;

    // 4. Paste seed 002's files into the import box: an inbound trunk, then a dispatch rule.
    c.press("Inbound").await;
    c.wait_text("h1", "Inbound trunks and dispatch rules", 5)
        .await;
    c.fill("lk JSON", SEED_TRUNK_JSON).await;
    c.press("Import").await;
    c.wait_text("main", "Inbound trunk imported.", 10).await;
    c.fill("lk JSON", SEED_DISPATCH_JSON).await;
    c.press("Import").await;
    c.wait_text("main", "Dispatch rule imported.", 10).await;
    let inbound = c.text_of("main").await;
    for want in [
        "Twilio Inbound SIP Trunk",
        "+13074606119",
        "Twilio Individual Room Dispatch",
        "voice-agent",
    ] {
        assert!(inbound.contains(want), "{want}: {inbound}");
    }
    c.shot("inbound").await;
    c.press("Assistants").await;
    c.wait_text("h1", "Assistants", 5).await;
    assert!(c.text_of("main").await.contains("outbound-caller"));
    c.shot("assistants").await;
    c.assert_clean_console("inbound import").await;

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
    c.assert_clean_console("calls").await;

    // 6a. An assistant: a wrong field is shown by the field with everything typed kept; then
    //     created, changed and deleted.
    c.press("Assistants").await;
    c.wait_text("h1", "Assistants", 5).await;
    c.press("Create assistant").await;
    c.wait_text("h1", "Create an assistant", 5).await;
    c.fill("Assistant name", "Support line").await;
    c.fill("Agent name", "support-agent").await;
    c.fill("Metadata", r#"{"team": "support"}"#).await;
    c.fill("Ringing timeout", "thirty").await;
    c.fill("Longest call", "900").await;
    c.mark_page().await;
    c.press("Create assistant").await;
    c.wait_text("#ringing_timeout-error", "whole number of seconds", 5)
        .await;
    assert!(
        c.page_was_not_reloaded().await,
        "the form was swapped in place"
    );
    assert_eq!(
        c.field("Longest call")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("900")
    );
    assert_eq!(
        c.field("Metadata")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some(r#"{"team": "support"}"#)
    );
    c.shot("assistant-form-error").await;
    c.fill("Ringing timeout", "25").await;
    c.press("Create assistant").await;
    c.wait_text("main", "Assistant created.", 10).await;
    c.shot("assistant").await;
    c.fill("Longest call", "300").await;
    c.press("Save").await;
    c.wait_text("main", "Assistant saved.", 10).await;
    assert_eq!(
        c.field("Longest call")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("300")
    );
    c.press("Delete").await;
    c.wait_text("main", "Assistant deleted.", 10).await;
    assert!(!c.text_of("main").await.contains("Support line"));
    c.shot("assistants-after-delete").await;
    c.assert_clean_console("assistants").await;

    // 6b. A Twilio provider account: the refusal of a wrong token in Twilio's words, then the
    //     account with its numbers and the trunk that uses each; delete refused while a trunk
    //     made from it exists.
    providers.twilio.add_number("+15550100000");
    providers.twilio.add_number("+15550100042");
    c.press("Provider accounts").await;
    c.wait_text("h1", "Provider accounts", 5).await;
    c.shot("providers-empty").await;
    c.press("Add Twilio account").await;
    c.wait_text("h1", "Add a Twilio account", 5).await;
    c.fill("Account name", "Twilio main").await;
    c.fill("Account SID", support::provider_fixture::TW_SID)
        .await;
    c.fill("Auth Token", "not-the-token-123").await;
    c.press("Add account").await;
    c.wait_text("main", "Twilio refused", 10).await;
    assert!(!c
        .client
        .source()
        .await
        .unwrap()
        .contains("not-the-token-123"));
    c.shot("provider-refused").await;
    c.fill("Auth Token", support::provider_fixture::TW_TOKEN)
        .await;
    c.press("Add account").await;
    c.wait_text("main", "Account added", 10).await;
    let account_id = c
        .client
        .current_url()
        .await
        .unwrap()
        .path()
        .trim_start_matches("/ui/providers/")
        .to_owned();
    let (status, made) = f
        .srv
        .post(
            "/sip/create-outbound-trunk",
            &f.key,
            &json!({"trunk_name": "Twilio automated", "trunk_type": "twilio",
                    "trunk_config": {"provider_account_id": account_id, "numbers": ["+15550100042"]}}),
        )
        .await;
    assert_eq!(status, 200, "{made}");
    let made = made["data"]["trunk_id"].as_str().unwrap().to_owned();
    c.client.refresh().await.unwrap();
    let numbers = c.wait_text("main", "+15550100042", 10).await;
    assert!(
        numbers.contains("Twilio automated"),
        "the trunk that uses the number, by name: {numbers}"
    );
    let link = c
        .client
        .find(fantoccini::Locator::LinkText("Twilio automated"))
        .await
        .expect("a link to the trunk");
    assert_eq!(
        link.attr("href").await.unwrap().as_deref(),
        Some(format!("/ui/trunks/{made}").as_str())
    );
    c.shot("provider-account").await;
    c.press("Delete").await;
    c.wait_text("main", "This account was not deleted", 10)
        .await;
    c.shot("provider-delete-refused").await;
    c.assert_clean_console("provider accounts").await;

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
    for path in [format!("/ui/providers/{account_id}")] {
        c.client.goto(&format!("{base}{path}")).await.unwrap();
        assert_eq!(c.h1().await, "Page not found", "{path}");
    }
    c.assert_clean_console("another tenant").await;
    c.client.goto(&format!("{base}/ui/trunks")).await.unwrap();
    assert!(!c.client.source().await.unwrap().contains(&trunk_id));
    c.client.goto(&format!("{base}/ui/calls")).await.unwrap();
    assert!(!c.client.source().await.unwrap().contains(&queued));
    let _ = c.client.clone().close().await;
}
