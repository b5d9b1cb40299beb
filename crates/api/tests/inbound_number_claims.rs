//! Inbound numbers between trunks: a number twice in one account is a 409 naming the other
//! trunk; a number another account holds is a 409 revealing nothing about it; two accounts
//! racing for one number get exactly one trunk.

mod support;
use serde_json::json;
use support::inbound_fixture::*;
use support::{env, Env};

#[tokio::test]
async fn a_number_twice_in_one_account_is_a_409_naming_the_other_trunk() {
    let Env {
        lk,
        server,
        key,
        _db,
    } = env().await;
    let (first, _) = created(
        &server,
        &key,
        &json!({"name": "Main line", "numbers": ["+15550100000"]}),
    )
    .await;
    let (status, json) = create(
        &server,
        &key,
        &json!({"name": "Second", "numbers": ["+15550100009", "+15550100000"]}),
    )
    .await;
    assert_eq!(status, 409, "{json}");
    let msg = json["message"].as_str().unwrap();
    assert!(msg.contains(&first) && msg.contains("Main line"), "{msg}");
    assert!(
        msg.contains("+15550100000") && msg.contains("allowed_numbers"),
        "{msg}"
    );
    assert_eq!(lk.inbound_trunks().len(), 1, "LiveKit was not asked");
    // Nothing of the refused trunk was kept: its other number is still free.
    created(
        &server,
        &key,
        &json!({"name": "Third", "numbers": ["+15550100009"]}),
    )
    .await;

    // Split by caller, as LiveKit allows: one trunk restricting callers beside the open one,
    // but not two restricting to the same caller.
    created(
        &server,
        &key,
        &json!({"name": "VIP", "numbers": ["+15550100000"], "allowed_numbers": ["+15550199999"]}),
    )
    .await;
    let (status, json) = create(
        &server,
        &key,
        &json!({"name": "VIP 2", "numbers": ["+15550100000"], "allowed_numbers": ["+15550199999"]}),
    )
    .await;
    assert_eq!(status, 409, "{json}");
    assert!(
        json["message"].as_str().unwrap().contains("\"VIP\""),
        "{json}"
    );

    // Two trunks without numbers that accept any caller cannot be told apart either.
    created(
        &server,
        &key,
        &json!({"name": "By address", "allowed_addresses": ["192.0.2.10"]}),
    )
    .await;
    let (status, json) = create(
        &server,
        &key,
        &json!({"name": "By auth", "auth_username": "u", "auth_password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 409, "{json}");
    assert!(json["message"].as_str().unwrap().contains("By address"));
    assert!(!json.to_string().contains(PASSWORD));
    assert_eq!(lk.inbound_trunks().len(), 4);
    server.stop().await;
}

#[tokio::test]
async fn a_number_held_by_another_account_is_a_409_revealing_nothing_about_it() {
    let Env {
        lk,
        server,
        key,
        _db,
    } = env().await;
    let other = server.tenant("other@example.com").await;
    let (theirs, their_lk) = created(
        &server,
        &other,
        &json!({"name": "Globex Secret Hotline", "numbers": ["+15550100000"],
                "allowed_addresses": ["192.0.2.55"]}),
    )
    .await;
    let bodies = [
        json!({"name": "Mine", "numbers": ["+15550100000"]}),
        // Restricting callers does not help: the number is theirs (LiveKit would otherwise
        // route those callers' calls to it away from its owner).
        json!({"name": "Mine", "numbers": ["+15550100000"], "allowed_numbers": ["+15550177777"]}),
    ];
    for body in bodies {
        let (status, json) = create(&server, &key, &body).await;
        assert_eq!(status, 409, "{json}");
        let text = json.to_string();
        for secret in [
            theirs.as_str(),
            their_lk.as_str(),
            "Globex",
            "192.0.2.55",
            "other@example.com",
        ] {
            assert!(!text.contains(secret), "leaks {secret}: {text}");
        }
        assert!(text.contains("+15550100000"), "{text}");
        assert!(text.contains("another account"), "{text}");
    }
    // Their trunk is invisible, not forbidden.
    let (status, json) = server
        .get(&format!("/sip/inbound-trunks/{theirs}"), &key)
        .await;
    assert_eq!(status, 404, "{json}");
    for method in ["PATCH", "DELETE"] {
        let (status, _) = server
            .send(
                method,
                &format!("/sip/inbound-trunks/{theirs}"),
                Some(&key),
                Some(r#"{"name": "x"}"#),
            )
            .await;
        assert_eq!(status, 404, "{method}");
    }
    let (_, json) = server.get("/sip/inbound-trunks", &key).await;
    assert_eq!(json["data"]["trunks"], json!([]));
    assert_eq!(lk.inbound_trunks().len(), 1);
    assert_eq!(
        lk.inbound_trunk(&their_lk).unwrap().name,
        "Globex Secret Hotline"
    );

    // Once they delete it, the number is free for anyone.
    let (status, _) = server
        .send(
            "DELETE",
            &format!("/sip/inbound-trunks/{theirs}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(status, 200);
    created(
        &server,
        &key,
        &json!({"name": "Mine", "numbers": ["+15550100000"]}),
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn two_accounts_racing_for_one_number_get_exactly_one_trunk() {
    let Env {
        lk,
        server,
        key,
        _db,
    } = env().await;
    let other = server.tenant("other@example.com").await;
    for round in 0..5 {
        let number = format!("+1555020000{round}");
        let a = json!({"name": "A", "numbers": [number]});
        let b = json!({"name": "B", "numbers": [number], "allowed_numbers": ["+15550300000"]});
        let (ra, rb) = tokio::join!(create(&server, &key, &a), create(&server, &other, &b));
        let mut codes = [ra.0, rb.0];
        codes.sort();
        assert_eq!(codes, [200, 409], "round {round}: {} / {}", ra.1, rb.1);
    }
    assert_eq!(lk.inbound_trunks().len(), 5);
    server.stop().await;
}
