//! The double over raw HTTP: the outbound-trunk RPCs and their validation messages.
//! Listing, codecs and routing are in `wire_routes.rs`; auth, fault injection and lifecycle
//! in `wire_auth.rs`.

mod common;

use common::*;
use livekit_protocol::update_sip_outbound_trunk_request::Action;
use livekit_protocol::*;

async fn update(
    lk: &livekit_double::LiveKitDouble,
    id: &str,
    action: Option<Action>,
) -> Result<SipOutboundTrunkInfo, (u16, String, String)> {
    call(
        lk,
        "UpdateSIPOutboundTrunk",
        &UpdateSipOutboundTrunkRequest {
            sip_trunk_id: id.into(),
            action,
        },
    )
    .await
}

async fn get(
    lk: &livekit_double::LiveKitDouble,
    id: &str,
) -> Result<GetSipOutboundTrunkResponse, (u16, String, String)> {
    call(
        lk,
        "GetSIPOutboundTrunk",
        &GetSipOutboundTrunkRequest {
            sip_trunk_id: id.into(),
        },
    )
    .await
}

fn numbers(set: &[&str], add: &[&str], remove: &[&str], clear: bool) -> Action {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
    Action::Update(SipOutboundTrunkUpdate {
        numbers: Some(ListUpdate {
            set: v(set),
            add: v(add),
            remove: v(remove),
            clear,
        }),
        ..Default::default()
    })
}

#[tokio::test]
async fn protobuf_create_get_list_update_delete() {
    let lk = start().await;
    let created = create(&lk, trunk("sip.carrier.example", &["+15550100"]))
        .await
        .unwrap();
    let id = created.sip_trunk_id.clone();
    assert!(id.starts_with("ST_") && id.len() == 15, "{id}");
    assert!(
        id[3..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() && !"01IOl".contains(c)),
        "{id}"
    );
    // Echoed as stored, password included; the OSS server sets no timestamps.
    assert_eq!(
        created,
        SipOutboundTrunkInfo {
            sip_trunk_id: id.clone(),
            ..trunk("sip.carrier.example", &["+15550100"])
        }
    );
    assert_eq!(lk.outbound_trunk(&id), Some(created.clone()));

    assert_eq!(get(&lk, &id).await.unwrap().trunk, Some(created.clone()));
    let other = create(&lk, trunk("10.0.0.1", &["+15550199"]))
        .await
        .unwrap()
        .sip_trunk_id;
    let mut all = vec![id.clone(), other.clone()];
    all.sort();
    assert_eq!(list(&lk, Default::default()).await, all);

    // Replace: everything from the request, only the id kept.
    let replaced = update(
        &lk,
        &id,
        Some(Action::Replace(trunk("10.1.1.1:5061", &["+1555"]))),
    )
    .await
    .unwrap();
    assert_eq!(
        replaced,
        SipOutboundTrunkInfo {
            sip_trunk_id: id.clone(),
            ..trunk("10.1.1.1:5061", &["+1555"])
        }
    );
    let with_id = SipOutboundTrunkInfo {
        sip_trunk_id: id.clone(),
        ..trunk("h", &["1"])
    };
    assert!(update(&lk, &id, Some(Action::Replace(with_id)))
        .await
        .is_ok());

    // Update: the given fields and list operations; media gets materialised.
    let diff = SipOutboundTrunkUpdate {
        name: Some("renamed".into()),
        numbers: Some(ListUpdate {
            add: vec!["2".into(), "1".into()],
            remove: vec!["1".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let updated = update(&lk, &id, Some(Action::Update(diff))).await.unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.numbers.clone()),
        ("renamed", vec!["2".to_string(), "1".into()])
    );
    assert_eq!(updated.address, "h");
    assert_eq!(updated.media, Some(SipMediaConfig::default()));
    assert_eq!(lk.outbound_trunk(&id), Some(updated));

    let deleted: SipTrunkInfo = call(
        &lk,
        "DeleteSIPTrunk",
        &DeleteSipTrunkRequest {
            sip_trunk_id: id.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        deleted,
        SipTrunkInfo {
            sip_trunk_id: id.clone(),
            ..Default::default()
        }
    );
    assert_eq!(
        get(&lk, &id).await.unwrap_err(),
        (
            404,
            "not_found".into(),
            "requested sip trunk does not exist".into()
        )
    );
    // Deleting again (or anything unknown) still succeeds.
    let again: SipTrunkInfo = call(
        &lk,
        "DeleteSIPTrunk",
        &DeleteSipTrunkRequest {
            sip_trunk_id: id.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(again.sip_trunk_id, id);
    assert_eq!(lk.outbound_trunks().len(), 1);
}

#[tokio::test]
async fn create_validation_messages_in_order() {
    let lk = start().await;
    let r: Result<SipOutboundTrunkInfo, _> = call(
        &lk,
        "CreateSIPOutboundTrunk",
        &CreateSipOutboundTrunkRequest { trunk: None },
    )
    .await;
    assert_eq!(r.unwrap_err(), invalid("missing trunk"));
    let cases = [
        (
            SipOutboundTrunkInfo {
                sip_trunk_id: "ST_x".into(),
                ..trunk("", &[])
            },
            "trunk id must not be set",
        ),
        (trunk("", &[]), "no trunk numbers specified"),
        (trunk("", &["1"]), "no outbound address specified"),
        (
            trunk("sip:h;transport=tcp", &["1"]),
            "trunk address should not contain transport parameter",
        ),
        (
            trunk("user@host", &["1"]),
            "trunk address should be a hostname or IP, not SIP URI",
        ),
        (
            trunk("host;lr", &["1"]),
            "trunk address should be a hostname or IP, not SIP URI",
        ),
        (
            trunk("sip:host", &["1"]),
            "trunk address should be a hostname or IP, not SIP URI",
        ),
        (
            trunk("sips:host", &["1"]),
            "trunk address should be a hostname or IP, not SIP URI",
        ),
        (
            SipOutboundTrunkInfo {
                from_host: "a@b".into(),
                ..trunk("h", &["1"])
            },
            "from_host should be a hostname or IP, not SIP URI",
        ),
    ];
    for (t, msg) in cases {
        assert_eq!(create(&lk, t).await.unwrap_err(), invalid(msg));
    }
    assert!(lk.outbound_trunks().is_empty());
    // The exact bytes on the wire.
    let r = call_raw(
        &lk,
        "CreateSIPOutboundTrunk",
        Some(&admin_token()),
        &CreateSipOutboundTrunkRequest::default(),
    )
    .await;
    assert_eq!(
        (r.status, r.text()),
        (
            400,
            r#"{"code":"invalid_argument","msg":"missing trunk"}"#.into()
        )
    );
}

#[tokio::test]
async fn update_validation_messages() {
    let lk = start().await;
    let id = create(&lk, trunk("h", &["1"])).await.unwrap().sip_trunk_id;
    let replace = |t| Some(Action::Replace(t));
    assert_eq!(
        update(&lk, "", replace(trunk("h", &["1"])))
            .await
            .unwrap_err(),
        invalid("trunk id must be set")
    );
    assert_eq!(
        update(&lk, &id, None).await.unwrap_err(),
        invalid("missing or unsupported update action")
    );
    let wrong = SipOutboundTrunkInfo {
        sip_trunk_id: "ST_other".into(),
        ..trunk("h", &["1"])
    };
    let msg = "trunk id in the info must be empty or match the id in the update";
    assert_eq!(
        update(&lk, &id, replace(wrong)).await.unwrap_err(),
        invalid(msg)
    );
    assert_eq!(
        update(&lk, &id, replace(trunk("h", &[])))
            .await
            .unwrap_err(),
        invalid("no trunk numbers specified")
    );
    assert_eq!(
        update(&lk, "ST_missing", replace(trunk("h", &["1"])))
            .await
            .unwrap_err(),
        (
            404,
            "not_found".into(),
            "requested sip trunk does not exist".into()
        )
    );
    // Request validation comes before the lookup.
    assert_eq!(
        update(&lk, "ST_missing", replace(trunk("h", &[])))
            .await
            .unwrap_err(),
        invalid("no trunk numbers specified")
    );

    let list_cases = [
        (
            numbers(&["1"], &[], &[], true),
            "cannot clear and change the list at the same time",
        ),
        (
            numbers(&["1"], &["2"], &[], false),
            "cannot set and change the list at the same time",
        ),
        (numbers(&[], &[""], &[], false), "empty element in the list"),
        (
            numbers(&[], &[], &[], false),
            "unsupported list update operation",
        ),
    ];
    for (action, msg) in list_cases {
        assert_eq!(
            update(&lk, &id, Some(action)).await.unwrap_err(),
            invalid(msg)
        );
    }
    // Emptying the list passes request validation and fails after applying: a plain Go error,
    // which reaches the wire as `unknown`.
    let unknown = (
        500,
        "unknown".into(),
        "no trunk numbers specified".to_string(),
    );
    assert_eq!(
        update(&lk, &id, Some(numbers(&[], &[], &[], true)))
            .await
            .unwrap_err(),
        unknown
    );
    assert_eq!(
        update(&lk, &id, Some(numbers(&[], &[], &["1"], false)))
            .await
            .unwrap_err(),
        unknown
    );
    let bad_address = Action::Update(SipOutboundTrunkUpdate {
        address: Some("sip:x".into()),
        ..Default::default()
    });
    let (status, code, _) = update(&lk, &id, Some(bad_address)).await.unwrap_err();
    assert_eq!((status, code.as_str()), (500, "unknown"));
    assert_eq!(lk.outbound_trunk(&id).unwrap().numbers, ["1"]);
}

#[tokio::test]
async fn get_and_delete_need_an_id() {
    let lk = start().await;
    assert_eq!(
        get(&lk, "").await.unwrap_err(),
        invalid("trunk ID is required")
    );
    let r: Result<SipTrunkInfo, _> =
        call(&lk, "DeleteSIPTrunk", &DeleteSipTrunkRequest::default()).await;
    assert_eq!(r.unwrap_err(), invalid("trunk ID is required"));
    let r = call_raw(
        &lk,
        "GetSIPOutboundTrunk",
        Some(&admin_token()),
        &GetSipOutboundTrunkRequest {
            sip_trunk_id: "ST_nope".into(),
        },
    )
    .await;
    assert_eq!(
        (r.status, r.text()),
        (
            404,
            r#"{"code":"not_found","msg":"requested sip trunk does not exist"}"#.into()
        )
    );
}
