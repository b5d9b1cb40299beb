//! trunkline's Exotel client against the Exotel double: the vSIP journey, the envelope's
//! quirks, the account's limits, errors and outages.

use provider_doubles::{ExotelDouble, Fault};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;
use trunkline_providers::exotel::*;
use trunkline_providers::limiter::{Limiter, Limits};
use trunkline_providers::{ClientOptions, ErrorKind, RetryPolicy, Secret};

const SID: &str = "exoteltest";
const KEY: &str = "exotel-key";
const TOKEN: &str = "exotel-token-0123456789";

fn options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(200),
        },
        page_size: 50,
    }
}

fn loose() -> Arc<Limiter> {
    Arc::new(Limiter::new(Limits {
        per_window: 100_000,
        window: Duration::from_secs(1),
        burst: 10_000,
        concurrent: 1_000,
    }))
}

fn client_with(
    ex: &ExotelDouble,
    token: &str,
    options: ClientOptions,
    limiter: Arc<Limiter>,
) -> ExotelClient {
    let creds = ExotelCredentials {
        account_sid: SID.into(),
        api_key: KEY.into(),
        api_token: Secret::new(token),
        subdomain: "api.in.exotel.com".into(),
    };
    ExotelClient::with_limiter(creds, Some(&ex.url()), options, limiter).unwrap()
}

fn client(ex: &ExotelDouble) -> ExotelClient {
    client_with(ex, TOKEN, options(), loose())
}

#[tokio::test]
async fn a_vsip_trunk_is_built_and_deleted() {
    let ex = ExotelDouble::start(SID, KEY, TOKEN).await;
    let c = client(&ex);
    let t = c
        .create_trunk(&CreateTrunk::new("tl_st1", SID))
        .await
        .unwrap();
    assert_eq!(t.trunk_sid.len(), 28);
    assert!(t.trunk_sid.starts_with("trmum"));
    assert_eq!(t.domain_name.as_deref(), Some("exoteltest.pstn.exotel.com"));
    assert_eq!(t.nso_code.as_deref(), Some(NSO_CODE));
    let sid = t.trunk_sid.clone();

    let m = c
        .map_number(&sid, "+919876543210", Some(NumberMode::Pstn))
        .await
        .unwrap();
    assert!(m.id.bytes().all(|b| b.is_ascii_digit()), "{}", m.id);
    let ip = c
        .whitelist_ip(&sid, Ipv4Addr::new(44, 248, 146, 11), 32)
        .await
        .unwrap();
    assert_eq!((ip.ip.as_str(), ip.mask), ("44.248.146.11", Some(32)));
    let dests = c
        .add_destinations(
            &sid,
            &[
                "44.248.146.11:5061;transport=tls".into(),
                "abc.sip.livekit.cloud:5061;transport=tls".into(),
            ],
        )
        .await
        .unwrap();
    let stored: Vec<String> = dests.into_iter().map(|d| d.unwrap().destination).collect();
    assert_eq!(
        stored,
        [
            "sip:44.248.146.11:5061;transport=tls",
            "sip:abc.sip.livekit.cloud:5061;transport=tls"
        ]
    );
    let password = Secret::new("Digest-Pass-123");
    let cred = c
        .create_credential(&sid, "tl_st1_user", &password, Some("trunkline"))
        .await
        .unwrap();
    assert_eq!(cred.user_name, "tl_st1_user");
    assert_eq!(
        ex.credentials(&sid),
        vec![("tl_st1_user".to_owned(), "Digest-Pass-123".to_owned())]
    );

    assert_eq!(c.fetch_trunk(&sid).await.unwrap().trunk_name, "tl_st1");
    assert_eq!(c.list_numbers(&sid).await.unwrap(), vec![m.clone()]);
    assert_eq!(c.list_whitelisted_ips(&sid).await.unwrap().len(), 1);
    assert_eq!(c.list_destinations(&sid).await.unwrap().len(), 2);
    assert_eq!(c.list_credentials(&sid).await.unwrap().len(), 1);

    let flow = c
        .update_number_mode(&sid, &m.id, "+919876543210", NumberMode::Flow)
        .await
        .unwrap();
    assert_eq!(flow.effective_mode(), NumberMode::Flow);
    let deleted = c
        .delete_credential(&sid, cred.id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(deleted.user_name, "tl_st1_user");
    assert!(ex.credentials(&sid).is_empty());

    let gone = c.delete_trunk(&sid).await.unwrap();
    assert_eq!(gone.trunk_sid, sid);
    assert!(
        ex.trunks().is_empty() && ex.numbers(&sid).is_empty() && ex.destinations(&sid).is_empty()
    );
    let e = c.fetch_trunk(&sid).await.unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::NotFound, Some("1000")));
}

#[tokio::test]
async fn duplicates_under_http_200_are_conflicts() {
    let ex = ExotelDouble::start(SID, KEY, TOKEN).await;
    let c = client(&ex);
    let sid = c
        .create_trunk(&CreateTrunk::new("tl_dup", SID))
        .await
        .unwrap()
        .trunk_sid;
    c.map_number(&sid, "+919876543210", None).await.unwrap();
    let e = c.map_number(&sid, "+919876543210", None).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.code(), e.status()),
        (ErrorKind::Conflict, Some("1008"), Some(409))
    );
    assert!(!e.outcome_unknown());
    assert_eq!(
        ex.requests().last().unwrap().status,
        200,
        "the quirk: HTTP 200 outside"
    );
    c.whitelist_ip(&sid, Ipv4Addr::new(1, 2, 3, 4), 32)
        .await
        .unwrap();
    let e = c
        .whitelist_ip(&sid, Ipv4Addr::new(1, 2, 3, 4), 32)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    let e = c
        .create_trunk(&CreateTrunk::new("tl_dup", SID))
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.code()), (ErrorKind::Conflict, Some("1008")));
}

#[tokio::test]
async fn a_destination_batch_fails_item_by_item() {
    let ex = ExotelDouble::start(SID, KEY, TOKEN).await;
    let c = client(&ex);
    let sid = c
        .create_trunk(&CreateTrunk::new("tl_207", SID))
        .await
        .unwrap()
        .trunk_sid;
    let out = c
        .add_destinations(
            &sid,
            &[
                "203.0.113.9:5061;transport=tls".into(),
                "bridge.example.com:5061;transport=tls".into(),
            ],
        )
        .await
        .unwrap();
    let e = out[0].as_ref().unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::InvalidInput, Some("1002"))
    );
    assert!(e.message().contains("Destination not whitelisted"), "{e}");
    assert!(out[1].is_ok());
    assert_eq!(ex.requests().last().unwrap().status, 207);
}

#[tokio::test]
async fn refused_credentials_and_account_checks() {
    let ex = ExotelDouble::start(SID, KEY, TOKEN).await;
    client(&ex).verify_credentials().await.unwrap();
    let bad = client_with(&ex, "not-the-token-value", options(), loose());
    let e = bad.verify_credentials().await.unwrap_err();
    assert_eq!(
        (e.kind(), e.code(), e.status()),
        (ErrorKind::Credentials, Some("1010"), Some(401))
    );
    assert!(!e.to_string().contains("not-the-token-value"));
    let e = bad
        .create_trunk(&CreateTrunk::new("tl_x", SID))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Credentials);
}

#[tokio::test]
async fn exophones_are_listed_across_pages_on_our_host() {
    let ex = ExotelDouble::start(SID, KEY, TOKEN).await;
    for i in 0..5 {
        ex.add_exophone(&format!("+9180400000{i:02}"));
    }
    let c = client_with(
        &ex,
        TOKEN,
        ClientOptions {
            page_size: 2,
            ..options()
        },
        loose(),
    );
    let phones = c.list_exophones().await.unwrap();
    assert_eq!(phones.len(), 5);
    assert_eq!(phones[4].phone_number, "+918040000004");
    let gets: Vec<_> = ex
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("IncomingPhoneNumbers"))
        .collect();
    assert_eq!(
        gets.len(),
        3,
        "pages of 2, 2 and 1, all sent to the double despite the internal host in next_page_uri"
    );
}

#[tokio::test]
async fn the_limiter_keeps_under_the_accounts_rate() {
    let ex = ExotelDouble::start(SID, KEY, TOKEN).await;
    ex.set_rate_limit(Some((10, Duration::from_secs(1))));
    let no_retry = ClientOptions {
        retry: RetryPolicy::none(),
        ..options()
    };
    let sid = client(&ex)
        .create_trunk(&CreateTrunk::new("tl_rate", SID))
        .await
        .unwrap()
        .trunk_sid;

    // Without the limiter the double refuses: the test can tell the difference.
    let unlimited = client_with(&ex, TOKEN, no_retry.clone(), loose());
    let mut refused = 0;
    for _ in 0..15 {
        if let Err(e) = unlimited.list_numbers(&sid).await {
            assert_eq!((e.kind(), e.code()), (ErrorKind::RateLimited, Some("1030")));
            refused += 1;
        }
    }
    assert!(refused > 0, "the double enforces its rate");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let limited = client_with(
        &ex,
        TOKEN,
        no_retry,
        // Under the double's 10 a second with a margin for the network's jitter.
        Arc::new(Limiter::new(Limits {
            per_window: 8,
            window: Duration::from_secs(1),
            burst: 2,
            concurrent: 50,
        })),
    );
    for i in 0..25 {
        limited
            .list_numbers(&sid)
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
    }
}

#[tokio::test]
async fn the_limiter_keeps_under_the_accounts_concurrency() {
    let ex = ExotelDouble::start(SID, KEY, TOKEN).await;
    let sid = client(&ex)
        .create_trunk(&CreateTrunk::new("tl_conc", SID))
        .await
        .unwrap()
        .trunk_sid;
    ex.set_concurrency_limit(3);
    ex.set_latency(Duration::from_millis(150));
    let no_retry = ClientOptions {
        retry: RetryPolicy::none(),
        ..options()
    };
    let run = |c: Arc<ExotelClient>| {
        let sid = sid.clone();
        async move {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let (c, sid) = (c.clone(), sid.clone());
                    tokio::spawn(async move { c.list_numbers(&sid).await })
                })
                .collect();
            let mut errors = 0;
            for t in tasks {
                if t.await.unwrap().is_err() {
                    errors += 1;
                }
            }
            errors
        }
    };
    let wide = Arc::new(client_with(&ex, TOKEN, no_retry.clone(), loose()));
    assert!(
        run(wide).await > 0,
        "the double refuses a fourth concurrent request"
    );
    let narrow = Arc::new(client_with(
        &ex,
        TOKEN,
        no_retry,
        Arc::new(Limiter::new(Limits {
            per_window: 1000,
            window: Duration::from_secs(1),
            burst: 100,
            concurrent: 3,
        })),
    ));
    assert_eq!(run(narrow).await, 0);
}

#[tokio::test]
async fn rate_limited_answers_are_retried_and_outages_classified() {
    let ex = ExotelDouble::start(SID, KEY, TOKEN).await;
    let c = client(&ex);
    ex.push_fault(Fault::RateLimited {
        retry_after_secs: None,
    });
    c.create_trunk(&CreateTrunk::new("tl_retry", SID))
        .await
        .unwrap();
    let statuses: Vec<u16> = ex.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);

    ex.push_fault(Fault::Status(500));
    let e = c.fetch_trunk("trmumabc").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.outcome_unknown());

    ex.outage().await;
    let e = c
        .create_trunk(&CreateTrunk::new("tl_down", SID))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(!e.outcome_unknown());
    ex.resume().await;
    assert!(ex.trunks().iter().all(|t| t["trunk_name"] != "tl_down"));
}

#[tokio::test]
async fn invalid_input_names_exotels_rule() {
    let ex = ExotelDouble::start(SID, KEY, TOKEN).await;
    let c = client(&ex);
    let e = c
        .create_trunk(&CreateTrunk::new("name-with-dash", SID))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::InvalidInput, Some("1002"))
    );
    assert!(e.message().contains("trunk_name"), "{e}");
    let sid = c
        .create_trunk(&CreateTrunk::new("tl_ok", SID))
        .await
        .unwrap()
        .trunk_sid;
    let e = c.map_number(&sid, "9876543210", None).await.unwrap_err();
    assert!(e.message().contains("E.164"), "{e}");
    let e = c.fetch_trunk("not/a/sid").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}
