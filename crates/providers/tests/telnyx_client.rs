//! trunkline's Telnyx client against the Telnyx double.

use provider_doubles::{Fault, TelnyxDouble};
use std::time::Duration;
use trunkline_providers::telnyx::*;
use trunkline_providers::{ClientOptions, ErrorKind, RetryPolicy, Secret};

const KEY: &str = "KEY0123456789_telnyx_secret";

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

fn client_with(tx: &TelnyxDouble, key: &str, options: ClientOptions) -> TelnyxClient {
    TelnyxClient::new(Secret::new(key), &tx.url(), options).unwrap()
}

fn client(tx: &TelnyxDouble) -> TelnyxClient {
    client_with(tx, KEY, options())
}

fn credential_params(user: &str) -> CredentialConnectionParams {
    CredentialConnectionParams {
        connection_name: Some(format!("trunkline {user}")),
        user_name: Some(user.into()),
        password: Some(Secret::new("generated-password-1")),
        ..Default::default()
    }
}

#[tokio::test]
async fn outbound_and_inbound_sides_are_built_and_removed() {
    let tx = TelnyxDouble::start(KEY).await;
    let number_id = tx.add_number("+13125550100");
    let c = client(&tx);

    let ovp = c
        .create_outbound_voice_profile(&OutboundVoiceProfileParams {
            name: "trunkline ST_1".into(),
            whitelisted_destinations: Some(vec!["US".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ovp.record_type, "outbound_voice_profile");
    assert!(ovp.id.bytes().all(|b| b.is_ascii_digit()));
    let mut params = credential_params("tlst1abcd");
    params.outbound = Some(Outbound {
        outbound_voice_profile_id: Some(ovp.id.clone()),
        ..Default::default()
    });
    let conn = c.create_credential_connection(&params).await.unwrap();
    assert_eq!(conn.record_type, "credential_connection");
    assert_eq!(
        conn.outbound
            .as_ref()
            .unwrap()
            .outbound_voice_profile_id
            .as_deref(),
        Some(ovp.id.as_str())
    );
    // Telnyx echoes the password; it stays out of Debug.
    assert_eq!(
        conn.password.as_ref().unwrap().expose(),
        "generated-password-1"
    );
    assert!(!format!("{conn:?}").contains("generated-password-1"));

    let n = c.find_phone_number("+13125550100").await.unwrap().unwrap();
    assert_eq!(n.id, number_id);
    let n = c
        .set_phone_number_connection(&n.id, Some(&conn.id))
        .await
        .unwrap();
    assert_eq!(
        (n.connection_id.as_deref(), n.connection_name.as_deref()),
        (Some(conn.id.as_str()), Some("trunkline tlst1abcd"))
    );

    let fq = c
        .create_fqdn_connection(&FqdnConnectionParams {
            connection_name: Some("trunkline ST_2 inbound".into()),
            transport_protocol: Some("TCP".into()),
            inbound: Some(Inbound {
                ani_number_format: Some("+E.164".into()),
                dnis_number_format: Some("+e164".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let host = c
        .create_fqdn(&FqdnParams {
            connection_id: fq.id.clone(),
            fqdn: "abc.sip.livekit.cloud".into(),
            dns_record_type: "a".into(),
            port: Some(5060),
        })
        .await
        .unwrap();
    assert_eq!(c.list_fqdns(&fq.id).await.unwrap(), vec![host.clone()]);
    assert_eq!(
        c.list_credential_connections(Some("tlst1"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(c
        .list_credential_connections(Some("nothing"))
        .await
        .unwrap()
        .is_empty());

    let renamed = c
        .update_credential_connection(
            &conn.id,
            &CredentialConnectionParams {
                connection_name: Some("renamed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.connection_name, "renamed");
    assert_eq!(renamed.user_name.as_deref(), Some("tlst1abcd"));

    c.set_phone_number_connection(&number_id, None)
        .await
        .unwrap();
    assert_eq!(
        c.delete_credential_connection(&conn.id).await.unwrap().id,
        conn.id
    );
    c.delete_fqdn(&host.id).await.unwrap();
    c.delete_fqdn_connection(&fq.id).await.unwrap();
    c.delete_outbound_voice_profile(&ovp.id).await.unwrap();
    let e = c.fetch_credential_connection(&conn.id).await.unwrap_err();
    assert_eq!(
        (e.kind(), e.code(), e.status()),
        (ErrorKind::NotFound, Some("10005"), Some(404))
    );
    assert!(
        tx.objects("credential_connections").is_empty()
            && tx.objects("outbound_voice_profiles").is_empty()
    );
}

#[tokio::test]
async fn field_errors_name_the_field() {
    let tx = TelnyxDouble::start(KEY).await;
    let c = client(&tx);
    let e = c
        .create_credential_connection(&credential_params("12345abc"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.code(), e.field(), e.status()),
        (
            ErrorKind::InvalidInput,
            Some("10015"),
            Some("/user_name"),
            Some(422)
        )
    );
    assert!(e.to_string().contains("(field /user_name)"), "{e}");
    c.create_credential_connection(&credential_params("abcd1234"))
        .await
        .unwrap();
    let e = c
        .create_credential_connection(&credential_params("abcd1234"))
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("/user_name"));
    // The password never shows in an error.
    assert!(!e.to_string().contains("generated-password-1"));
}

#[tokio::test]
async fn a_refused_key_is_a_credentials_error() {
    let tx = TelnyxDouble::start(KEY).await;
    client(&tx).verify_credentials().await.unwrap();
    let bad = client_with(&tx, "KEYwrong-value-123", options());
    let e = bad.verify_credentials().await.unwrap_err();
    assert_eq!(
        (e.kind(), e.code(), e.status()),
        (ErrorKind::Credentials, Some("10009"), Some(401))
    );
    assert!(!e.to_string().contains("KEYwrong-value-123"));
}

#[tokio::test]
async fn rate_limits_honour_the_reset_header() {
    let tx = TelnyxDouble::start(KEY).await;
    let c = client(&tx);
    tx.push_fault(Fault::RateLimited {
        retry_after_secs: Some(0),
    });
    tx.push_fault(Fault::RateLimited {
        retry_after_secs: None,
    });
    c.list_phone_numbers().await.unwrap();
    let statuses: Vec<u16> = tx.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 200]);

    tx.clear_requests();
    tx.set_fault(Some(Fault::RateLimited {
        retry_after_secs: Some(30),
    }));
    let e = c.list_phone_numbers().await.unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::RateLimited, Some("10011"))
    );
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(tx.requests().len(), 1);
}

#[tokio::test]
async fn lists_walk_every_page() {
    let tx = TelnyxDouble::start(KEY).await;
    for i in 0..5 {
        tx.add_number(&format!("+1312555010{i}"));
    }
    let c = client_with(
        &tx,
        KEY,
        ClientOptions {
            page_size: 2,
            ..options()
        },
    );
    assert_eq!(c.list_phone_numbers().await.unwrap().len(), 5);
    assert_eq!(tx.requests().len(), 3);
    assert_eq!(
        c.find_phone_number("+13125550103")
            .await
            .unwrap()
            .unwrap()
            .phone_number,
        "+13125550103"
    );
}

#[tokio::test]
async fn outages_and_timeouts() {
    let tx = TelnyxDouble::start(KEY).await;
    let c = client_with(
        &tx,
        KEY,
        ClientOptions {
            timeout: Duration::from_millis(300),
            ..options()
        },
    );
    tx.push_fault(Fault::Hang(Duration::from_secs(2)));
    let e = c.list_phone_numbers().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.outcome_unknown());
    tx.outage().await;
    let e = c
        .create_outbound_voice_profile(&OutboundVoiceProfileParams {
            name: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(!e.outcome_unknown(), "{e}");
    tx.resume().await;
    assert!(tx.objects("outbound_voice_profiles").is_empty());
    c.create_outbound_voice_profile(&OutboundVoiceProfileParams {
        name: "x".into(),
        ..Default::default()
    })
    .await
    .unwrap();
}
