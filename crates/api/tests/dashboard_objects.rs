//! The dashboard's assistant and provider account pages over HTTP: labelled fields, errors by
//! their field with what was typed kept (secrets never sent back), the provider's refusal,
//! delete (a 409 shown as a sentence with the trunk to delete first), and another account's
//! objects as the 404 page. Against SQLite, and PostgreSQL when TRUNKLINE_TEST_POSTGRES is set.

mod dashboard_client;
mod support;

use dashboard_client::Browser;
use livekit_double::LiveKitDouble;
use reqwest::header::LOCATION;
use serde_json::json;
use std::sync::Arc;
use support::provider_fixture::*;
use support::*;

#[tokio::test]
async fn assistants_are_created_changed_and_deleted_from_their_pages() {
    let db = TestDb::fresh().await;
    let srv = TestServer::start(&db, LiveKit::None).await;
    let key = srv.tenant("dash@example.com").await;
    let mut b = Browser::new(&srv.url);
    assert_eq!(b.sign_in(&key).await.0, 303);

    let (status, page, _) = b.get("/ui/assistants/new").await;
    assert_eq!(status, 200);
    for label in [
        "Assistant name",
        "Agent name",
        "Metadata",
        "End-of-call webhook URL",
        "Ringing timeout",
        "Longest call",
    ] {
        assert!(
            page.contains(&format!(">{label}</label>")),
            "{label}: {page}"
        );
    }
    assert!(page.contains(">Create assistant</button>"));
    let csrf = Browser::csrf_of(&page);

    // Two fields wrong: each error by its field, everything typed kept, nothing stored.
    let typed = [
        ("csrf", csrf.as_str()),
        ("name", "Sales desk"),
        ("agent_name", "outbound caller"),
        ("metadata", r#"{"lang": "en"}"#),
        ("end_call_webhook_url", "https://hooks.example.com/calls"),
        ("ringing_timeout", "thirty"),
        ("max_call_duration", "600"),
    ];
    let (status, page, _) = b.post("/ui/assistants", &typed, None).await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("Ringing timeout must be a whole number of seconds"),
        "{page}"
    );
    assert!(page.contains(r#"id="ringing_timeout-error""#), "{page}");
    for kept in [
        "Sales desk",
        "outbound caller",
        "hooks.example.com/calls",
        "thirty",
        "600",
        "&quot;lang&quot;",
    ] {
        assert!(page.contains(kept), "{kept} kept: {page}");
    }
    let mut fixed = typed;
    fixed[5].1 = "25";
    let (status, page, _) = b.post("/ui/assistants", &fixed, None).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains(r#"id="agent_name-error""#), "{page}");
    assert!(
        page.contains("Agent name must be 1 to 128 characters"),
        "{page}"
    );
    assert!(srv
        .store
        .list_assistants(&tenant_of(&srv).await)
        .await
        .unwrap()
        .is_empty());

    // Fixed: created; the account's first webhook URL shows its signing secret this once.
    fixed[2].1 = "outbound-caller";
    let (status, page, _) = b.post("/ui/assistants", &fixed, None).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(">Webhook signing secret</label>"), "{page}");
    assert!(page.contains("whsec_"), "{page}");
    let tenant = tenant_of(&srv).await;
    let rows = srv.store.list_assistants(&tenant).await.unwrap();
    assert_eq!(rows.len(), 1);
    let id = rows[0].id.clone();
    assert_eq!(rows[0].name, "Sales desk");
    assert!(
        rows[0].config.contains(r#""ringing_timeout":25"#),
        "{}",
        rows[0].config
    );

    // The assistant's page: the stored values, then a change.
    let (status, page, _) = b.get(&format!("/ui/assistants/{id}")).await;
    assert_eq!(status, 200);
    assert!(!page.contains("whsec_"), "the secret is shown once only");
    assert!(page.contains(r#"value="outbound-caller""#), "{page}");
    assert!(page.contains(">Save</button>") && page.contains(">Delete</button>"));
    let csrf = Browser::csrf_of(&page);
    let (status, _, headers) = b
        .post(
            &format!("/ui/assistants/{id}"),
            &[
                ("csrf", &csrf),
                ("name", "Support"),
                ("agent_name", "support-agent"),
                ("ringing_timeout", ""),
            ],
            None,
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        headers[LOCATION],
        format!("/ui/assistants/{id}?done=saved").as_str()
    );
    let row = srv
        .store
        .get_assistant(&tenant, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.name, "Support");
    assert_eq!(
        row.config, r#"{"agent_name":"support-agent"}"#,
        "emptied fields are cleared"
    );

    // Another account: the same 404 page as an unknown address, for reading and changing.
    let other = srv.tenant("other@example.com").await;
    let mut o = Browser::new(&srv.url);
    assert_eq!(o.sign_in(&other).await.0, 303);
    assert_eq!(o.get(&format!("/ui/assistants/{id}")).await.0, 404);
    let ocsrf = o.csrf().await;
    let (status, page, _) = o
        .post(
            &format!("/ui/assistants/{id}/delete"),
            &[("csrf", &ocsrf)],
            None,
        )
        .await;
    assert_eq!(status, 404, "{page}");
    assert!(page.contains("Page not found"));

    // Delete.
    let (status, _, headers) = b
        .post(
            &format!("/ui/assistants/{id}/delete"),
            &[("csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(headers[LOCATION], "/ui/assistants?done=deleted");
    assert!(srv
        .store
        .get_assistant(&tenant, &id)
        .await
        .unwrap()
        .is_none());
    let (_, page, _) = b.get("/ui/assistants?done=deleted").await;
    assert!(page.contains("Assistant deleted"), "{page}");
    srv.stop().await;
}

async fn tenant_of(srv: &TestServer) -> String {
    let keys = srv.store.list_api_keys().await.unwrap();
    keys[0].tenant_id.clone()
}

#[tokio::test]
async fn provider_accounts_are_added_listed_with_their_numbers_and_deleted_from_their_pages() {
    let lk = LiveKitDouble::start(LK_KEY, LK_SECRET).await;
    let providers = Providers::start().await;
    let db = TestDb::fresh().await;
    let settings = Arc::new(providers.settings());
    let srv = TestServer::start_custom(&db, LiveKit::Double(&lk), None, |state| {
        state.providers = settings;
    })
    .await;
    let key = srv.tenant("a@example.com").await;
    let mut b = Browser::new(&srv.url);
    assert_eq!(b.sign_in(&key).await.0, 303);

    let (status, page, _) = b.get("/ui/providers").await;
    assert_eq!(status, 200);
    assert!(page.contains(">Add Twilio account</a>"), "{page}");
    let (status, page, _) = b.get("/ui/providers/new?provider=twilio").await;
    assert_eq!(status, 200);
    for label in [
        "Account name",
        "Account SID",
        "Auth Token",
        "API key SID",
        "API key secret",
    ] {
        assert!(
            page.contains(&format!(">{label}</label>")),
            "{label}: {page}"
        );
    }
    assert!(page.contains(">Add account</button>"));
    let csrf = Browser::csrf_of(&page);

    // Twilio refuses the token: its sentence on the page, the token not sent back, the rest kept.
    let wrong = "wrong-token-123456";
    let (status, page, _) = b
        .post(
            "/ui/providers?provider=twilio",
            &[
                ("csrf", &csrf),
                ("name", "Twilio main"),
                ("account_sid", TW_SID),
                ("auth_token", wrong),
            ],
            None,
        )
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("Twilio refused"), "{page}");
    assert!(page.contains("20003"), "{page}");
    assert!(!page.contains(wrong), "a typed secret is never sent back");
    assert!(
        page.contains(TW_SID) && page.contains("Twilio main"),
        "{page}"
    );

    // A field wrong: named by its label, by the field.
    let (status, page, _) = b
        .post(
            "/ui/providers?provider=twilio",
            &[
                ("csrf", &csrf),
                ("name", "Twilio main"),
                ("account_sid", "AC123"),
                ("auth_token", TW_TOKEN),
            ],
            None,
        )
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains(r#"id="account_sid-error""#), "{page}");
    assert!(page.contains("Account SID "), "{page}");
    assert_no_secret("the refused form", &page);

    // Right: the account page, with the numbers and the trunk that uses each.
    providers.twilio.add_number("+15550100000");
    providers.twilio.add_number("+15550100099");
    let (status, _, headers) = b
        .post(
            "/ui/providers?provider=twilio",
            &[
                ("csrf", &csrf),
                ("name", "Twilio main"),
                ("account_sid", TW_SID),
                ("auth_token", TW_TOKEN),
            ],
            None,
        )
        .await;
    assert_eq!(status, 303);
    let at = headers[LOCATION].to_str().unwrap().to_owned();
    let id = at
        .trim_start_matches("/ui/providers/")
        .trim_end_matches("?done=created")
        .to_owned();
    assert!(id.starts_with("PA_"), "{at}");
    let (status, body) = srv
        .post(
            "/sip/create-outbound-trunk",
            &key,
            &json!({"trunk_name": "Twilio automated", "trunk_type": "twilio",
                    "trunk_config": {"provider_account_id": id, "numbers": ["+15550100000"]}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let trunk = body["data"]["trunk_id"].as_str().unwrap().to_owned();
    let (status, page, _) = b.get(&at).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Account added"), "{page}");
    assert!(page.contains("2 numbers at Twilio"), "{page}");
    assert!(
        page.contains(&format!(r#"href="/ui/trunks/{trunk}""#)),
        "{page}"
    );
    assert!(page.contains("+15550100099"), "{page}");
    assert_no_secret("the account page", &page);
    let (_, list, _) = b.get("/ui/providers").await;
    assert!(
        list.contains(&format!(r#"href="/ui/providers/{id}""#)),
        "{list}"
    );
    assert_no_secret("the list", &list);

    // Another account: 404 pages.
    let other = srv.tenant("b@example.com").await;
    let mut o = Browser::new(&srv.url);
    assert_eq!(o.sign_in(&other).await.0, 303);
    assert_eq!(o.get(&format!("/ui/providers/{id}")).await.0, 404);
    let ocsrf = o.csrf().await;
    assert_eq!(
        o.post(
            &format!("/ui/providers/{id}/delete"),
            &[("csrf", &ocsrf)],
            None
        )
        .await
        .0,
        404
    );

    // Delete while a trunk was made from it: 409, a sentence naming the trunk to delete first.
    let (status, page, _) = b
        .post(
            &format!("/ui/providers/{id}/delete"),
            &[("csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(status, 409, "{page}");
    assert!(
        page.contains("This account was not deleted: a trunk was made from it."),
        "{page}"
    );
    assert!(
        page.contains(&format!("Delete trunk <a href=\"/ui/trunks/{trunk}\">")),
        "{page}"
    );
    let (status, _) = srv
        .send("DELETE", &format!("/sip/trunks/{trunk}"), Some(&key), None)
        .await;
    assert_eq!(status, 200);
    let (status, _, headers) = b
        .post(
            &format!("/ui/providers/{id}/delete"),
            &[("csrf", &csrf)],
            None,
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(headers[LOCATION], "/ui/providers?done=deleted");
    assert_eq!(b.get(&format!("/ui/providers/{id}")).await.0, 404);
    srv.stop().await;
}
