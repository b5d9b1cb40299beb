//! trunkline's Twilio client against the Twilio double: the whole trunk journey, the
//! uniqueness rules, errors and their classes, retries, outages and paging.

use provider_doubles::{Fault, TwilioDouble};
use std::time::Duration;
use trunkline_providers::twilio::*;
use trunkline_providers::{ClientOptions, ErrorKind, RetryPolicy, Secret};

const AC: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "auth-token-0123456789";

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

fn client_with(tw: &TwilioDouble, auth: TwilioAuth, options: ClientOptions) -> TwilioClient {
    TwilioClient::new(
        TwilioCredentials {
            account_sid: AC.into(),
            auth,
        },
        TwilioUrls {
            api: tw.url(),
            trunking: tw.url(),
        },
        options,
    )
    .unwrap()
}

fn client(tw: &TwilioDouble) -> TwilioClient {
    client_with(tw, TwilioAuth::AuthToken(TOKEN.into()), options())
}

fn trunk_params(domain: &str) -> TrunkParams {
    TrunkParams {
        friendly_name: Some("trunkline ST_1".into()),
        domain_name: Some(domain.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_whole_trunk_is_built_and_taken_down() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    let pn = tw.add_number("+14155550100");
    tw.add_number("+14155550101");
    let c = client(&tw);

    let trunk = c
        .create_trunk(&trunk_params("tl-st1.pstn.twilio.com"))
        .await
        .unwrap();
    assert!(is_sid("TK", &trunk.sid));
    assert_eq!(trunk.auth_type.as_deref(), Some(""));
    let ou = c
        .create_origination_url(
            &trunk.sid,
            &OriginationUrlParams {
                weight: 1,
                priority: 1,
                enabled: true,
                friendly_name: "LiveKit".into(),
                sip_url: "sip:abc.sip.livekit.cloud".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(ou.trunk_sid, trunk.sid);
    let cl = c.create_credential_list("trunkline ST_1").await.unwrap();
    let password = Secret::new("Generated-Pa55word");
    let cr = c
        .create_credential(&cl.sid, "tl_st1", &password)
        .await
        .unwrap();
    assert_eq!(cr.username, "tl_st1");
    c.associate_credential_list(&trunk.sid, &cl.sid)
        .await
        .unwrap();
    let found = c
        .find_incoming_number("+14155550100")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.sid, pn);
    let assoc = c.associate_phone_number(&trunk.sid, &pn).await.unwrap();
    assert_eq!(assoc.trunk_sid.as_deref(), Some(trunk.sid.as_str()));

    // What Twilio now holds, seen from both sides.
    let fetched = c.fetch_trunk(&trunk.sid).await.unwrap();
    assert_eq!(fetched.auth_type.as_deref(), Some("CREDENTIAL_LIST"));
    assert_eq!(
        fetched.domain_name.as_deref(),
        Some("tl-st1.pstn.twilio.com")
    );
    assert_eq!(
        tw.credentials(&cl.sid),
        vec![("tl_st1".to_owned(), "Generated-Pa55word".to_owned())]
    );
    assert_eq!(tw.trunk_credential_lists(&trunk.sid), vec![cl.sid.clone()]);
    assert_eq!(
        c.list_trunk_phone_numbers(&trunk.sid).await.unwrap().len(),
        1
    );
    assert_eq!(
        c.list_origination_urls(&trunk.sid).await.unwrap(),
        vec![ou.clone()]
    );
    assert_eq!(c.list_credentials(&cl.sid).await.unwrap().len(), 1);

    // Reverse order.
    c.dissociate_phone_number(&trunk.sid, &pn).await.unwrap();
    c.dissociate_credential_list(&trunk.sid, &cl.sid)
        .await
        .unwrap();
    c.delete_credential(&cl.sid, &cr.sid).await.unwrap();
    c.delete_credential_list(&cl.sid).await.unwrap();
    c.delete_origination_url(&trunk.sid, &ou.sid).await.unwrap();
    c.delete_trunk(&trunk.sid).await.unwrap();
    assert!(tw.trunks().is_empty());
    assert!(tw.credential_lists().is_empty());
    assert!(tw.numbers().iter().all(|n| n["trunk_sid"].is_null()));
    let gone = c.fetch_trunk(&trunk.sid).await.unwrap_err();
    assert_eq!(
        (gone.kind(), gone.code()),
        (ErrorKind::NotFound, Some("20404"))
    );
}

#[tokio::test]
async fn a_taken_domain_is_21248_and_stays_taken_after_a_delete() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    let c = client(&tw);
    let first = c
        .create_trunk(&trunk_params("tl-dup.pstn.twilio.com"))
        .await
        .unwrap();
    let e = c
        .create_trunk(&trunk_params("TL-DUP.pstn.twilio.com"))
        .await
        .unwrap_err();
    assert!(e.is_twilio_domain_taken(), "{e}");
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(
        e.to_string(),
        "Twilio reported a conflict: error 21248: Trunk Domain already taken [HTTP 400]"
    );

    c.delete_trunk(&first.sid).await.unwrap();
    let e = c
        .create_trunk(&trunk_params("tl-dup.pstn.twilio.com"))
        .await
        .unwrap_err();
    assert!(
        e.is_twilio_domain_taken(),
        "a deleted trunk's domain stays reserved: {e}"
    );
    assert!(tw.release_domain("tl-dup.pstn.twilio.com"));
    c.create_trunk(&trunk_params("tl-dup.pstn.twilio.com"))
        .await
        .unwrap();
}

#[tokio::test]
async fn refused_credentials_are_classified_and_never_quoted() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    let wrong = client_with(
        &tw,
        TwilioAuth::AuthToken("wrong-token-value".into()),
        options(),
    );
    let e = wrong.fetch_account().await.unwrap_err();
    assert_eq!(
        (e.kind(), e.code(), e.status()),
        (ErrorKind::Credentials, Some("20003"), Some(401))
    );
    assert!(!e.to_string().contains("wrong-token-value"));
    assert!(!format!("{e:?}").contains("wrong-token-value"));
    assert!(!format!("{wrong:?}").contains("wrong-token-value"));

    let account = client(&tw).fetch_account().await.unwrap();
    assert_eq!(account.sid, AC);
    // The real answer carries the Auth Token; the client keeps no field for it.
    assert!(!format!("{account:?}").contains(TOKEN));
}

#[tokio::test]
async fn an_api_key_authenticates_for_the_account() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    let sk = "SK0123456789abcdef0123456789abcdef";
    tw.add_api_key(sk, "key-secret-value");
    let c = client_with(
        &tw,
        TwilioAuth::ApiKey {
            sid: sk.into(),
            secret: "key-secret-value".into(),
        },
        options(),
    );
    assert_eq!(c.fetch_account().await.unwrap().sid, AC);
    let bad = client_with(
        &tw,
        TwilioAuth::ApiKey {
            sid: sk.into(),
            secret: "nope-nope".into(),
        },
        options(),
    );
    assert_eq!(
        bad.fetch_account().await.unwrap_err().kind(),
        ErrorKind::Credentials
    );
}

#[tokio::test]
async fn rate_limited_answers_are_retried_with_backoff() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    tw.push_fault(Fault::RateLimited {
        retry_after_secs: None,
    });
    tw.push_fault(Fault::RateLimited {
        retry_after_secs: None,
    });
    let c = client(&tw);
    let t = c
        .create_trunk(&trunk_params("tl-retry.pstn.twilio.com"))
        .await
        .unwrap();
    let statuses: Vec<u16> = tw.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 429, 201]);
    assert_eq!(tw.trunks().len(), 1);
    assert_eq!(tw.trunks()[0]["sid"], t.sid);
}

#[tokio::test]
async fn retries_are_bounded_and_a_long_retry_after_is_passed_on() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    tw.set_fault(Some(Fault::RateLimited {
        retry_after_secs: None,
    }));
    let c = client(&tw);
    let e = c.list_trunks().await.unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::RateLimited, Some("20429"))
    );
    assert!(!e.outcome_unknown(), "20429 means not processed");
    assert_eq!(tw.requests().len(), 4, "one try and three retries");

    tw.clear_requests();
    tw.set_fault(Some(Fault::RateLimited {
        retry_after_secs: Some(30),
    }));
    let e = c.list_trunks().await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(
        tw.requests().len(),
        1,
        "a hint beyond the cap is not waited for"
    );
}

#[tokio::test]
async fn outages_say_whether_the_request_may_have_been_applied() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    let quick = ClientOptions {
        timeout: Duration::from_millis(300),
        ..options()
    };
    let c = client_with(&tw, TwilioAuth::AuthToken(TOKEN.into()), quick);

    // Refused: certainly not applied.
    tw.outage().await;
    let e = c
        .create_trunk(&trunk_params("tl-o1.pstn.twilio.com"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(!e.outcome_unknown(), "{e}");
    tw.resume().await;

    // A 503: unknown.
    tw.push_fault(Fault::Status(503));
    let e = c
        .create_trunk(&trunk_params("tl-o2.pstn.twilio.com"))
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Unavailable, Some(503)));
    assert!(e.outcome_unknown());

    // Slow: the trunk was created, the answer never came in time.
    tw.set_latency(Duration::from_secs(1));
    let e = c
        .create_trunk(&trunk_params("tl-o3.pstn.twilio.com"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.outcome_unknown(), "{e}");
    assert!(e.to_string().contains("did not answer"), "{e}");
    tw.set_latency(Duration::ZERO);
    let created: Vec<String> = tw
        .trunks()
        .iter()
        .map(|t| t["domain_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(created, vec!["tl-o3.pstn.twilio.com"]);
}

#[tokio::test]
async fn lists_follow_the_next_page_link() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    let small = ClientOptions {
        page_size: 2,
        ..options()
    };
    let c = client_with(&tw, TwilioAuth::AuthToken(TOKEN.into()), small);
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(
            c.create_trunk(&trunk_params(&format!("tl-p{i}.pstn.twilio.com")))
                .await
                .unwrap()
                .sid,
        );
        c.create_credential_list(&format!("list {i}"))
            .await
            .unwrap();
    }
    tw.clear_requests();
    let listed: Vec<String> = c
        .list_trunks()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.sid)
        .collect();
    assert_eq!(listed, made);
    assert_eq!(tw.requests().len(), 3, "pages of 2, 2 and 1");
    tw.clear_requests();
    assert_eq!(c.list_credential_lists().await.unwrap().len(), 5);
    assert_eq!(tw.requests().len(), 3);
}

#[tokio::test]
async fn twilio_refusals_carry_code_and_message() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    let c = client(&tw);
    let e = c
        .create_trunk(&trunk_params("not-a-twilio-domain.example"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("pstn.twilio.com"), "{e}");
    let cl = c.create_credential_list("weak").await.unwrap();
    let e = c
        .create_credential(&cl.sid, "u", &Secret::new("short"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("12 characters"), "{e}");
    let e = c.fetch_trunk("TK-not-a-sid").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(
        tw.requests().iter().all(|r| !r.path.contains("not-a-sid")),
        "refused before sending"
    );
}

#[tokio::test]
async fn an_exact_number_is_found_among_partial_matches() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    tw.add_number("+141555501001");
    let want = tw.add_number("+14155550100");
    let c = client(&tw);
    assert_eq!(
        c.find_incoming_number("+14155550100")
            .await
            .unwrap()
            .unwrap()
            .sid,
        want
    );
    assert!(c
        .find_incoming_number("+14155550199")
        .await
        .unwrap()
        .is_none());
    assert_eq!(c.list_incoming_numbers().await.unwrap().len(), 2);
}

#[tokio::test]
async fn objects_deleted_out_of_band_are_not_found() {
    let tw = TwilioDouble::start(AC, TOKEN).await;
    let c = client(&tw);
    let t = c
        .create_trunk(&trunk_params("tl-oob.pstn.twilio.com"))
        .await
        .unwrap();
    assert!(tw.delete_trunk_out_of_band(&t.sid));
    assert_eq!(
        c.fetch_trunk(&t.sid).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(tw.reserved_domains(), vec!["tl-oob.pstn.twilio.com"]);
}
