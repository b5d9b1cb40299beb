//! The double over raw HTTP: the dispatch-rule RPCs, the legacy/new create request shapes,
//! validation messages and the conflict check between rules.

mod common;

use common::*;
use livekit_double::LiveKitDouble;
use livekit_protocol::sip_dispatch_rule::Rule;
use livekit_protocol::update_sip_dispatch_rule_request::Action;
use livekit_protocol::*;

type Err3 = (u16, String, String);

const CONFLICT: &str = "Dispatch rule for the same trunk, inbound number, number, and PIN combination already exists in dispatch rule";
const NOT_FOUND: &str = "requested sip dispatch rule does not exist";

fn direct(room: &str, pin: &str) -> Option<SipDispatchRule> {
    Some(SipDispatchRule {
        rule: Some(Rule::DispatchRuleDirect(SipDispatchRuleDirect {
            room_name: room.into(),
            pin: pin.into(),
        })),
    })
}

fn rule(name: &str, trunks: &[&str], pin: &str) -> SipDispatchRuleInfo {
    SipDispatchRuleInfo {
        name: name.into(),
        trunk_ids: trunks.iter().map(|t| t.to_string()).collect(),
        rule: direct("room", pin),
        ..Default::default()
    }
}

async fn create_rule(
    lk: &LiveKitDouble,
    r: SipDispatchRuleInfo,
) -> Result<SipDispatchRuleInfo, Err3> {
    let req = CreateSipDispatchRuleRequest {
        dispatch_rule: Some(r),
        ..Default::default()
    };
    call(lk, "CreateSIPDispatchRule", &req).await
}

async fn update_rule(
    lk: &LiveKitDouble,
    id: &str,
    a: Option<Action>,
) -> Result<SipDispatchRuleInfo, Err3> {
    let req = UpdateSipDispatchRuleRequest {
        sip_dispatch_rule_id: id.into(),
        action: a,
    };
    call(lk, "UpdateSIPDispatchRule", &req).await
}

async fn delete_rule(lk: &LiveKitDouble, id: &str) -> Result<SipDispatchRuleInfo, Err3> {
    let req = DeleteSipDispatchRuleRequest {
        sip_dispatch_rule_id: id.into(),
    };
    call(lk, "DeleteSIPDispatchRule", &req).await
}

async fn list_rules(lk: &LiveKitDouble, req: ListSipDispatchRuleRequest) -> Vec<String> {
    let r: ListSipDispatchRuleResponse = call(lk, "ListSIPDispatchRule", &req).await.unwrap();
    r.items
        .into_iter()
        .map(|r| r.sip_dispatch_rule_id)
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
#[allow(deprecated)] // the legacy flat fields of CreateSIPDispatchRuleRequest
async fn create_in_both_shapes_list_and_delete() {
    let lk = start().await;
    let agents = RoomConfiguration {
        agents: vec![RoomAgentDispatch {
            agent_name: "receptionist".into(),
            metadata: "{}".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let sent = SipDispatchRuleInfo {
        room_config: Some(agents.clone()),
        ..rule("new", &["ST_a"], "")
    };
    let created = create_rule(&lk, sent.clone()).await.unwrap();
    let id = created.sip_dispatch_rule_id.clone();
    assert!(id.starts_with("SDR_") && id.len() == 16, "{id}");
    // `dispatch_rule` is upgraded before storing: media materialised (empty here).
    let expect = SipDispatchRuleInfo {
        sip_dispatch_rule_id: id.clone(),
        media: Some(SipMediaConfig::default()),
        ..sent
    };
    assert_eq!(created, expect);
    assert_eq!(lk.dispatch_rule(&id), Some(expect.clone()));

    // Legacy flat fields: no upgrade, so no media. With `dispatch_rule` set they are ignored.
    let legacy = CreateSipDispatchRuleRequest {
        rule: direct("lobby", ""),
        trunk_ids: vec!["ST_b".into()],
        name: "legacy".into(),
        room_config: Some(agents),
        ..Default::default()
    };
    let old: SipDispatchRuleInfo = call(&lk, "CreateSIPDispatchRule", &legacy).await.unwrap();
    assert_eq!(
        (old.name.as_str(), old.trunk_ids.clone(), old.media.clone()),
        ("legacy", vec!["ST_b".to_string()], None)
    );
    assert_eq!(
        old.room_config.unwrap().agents[0].agent_name,
        "receptionist"
    );
    let both = CreateSipDispatchRuleRequest {
        dispatch_rule: Some(rule("wins", &["ST_c"], "")),
        ..legacy
    };
    let won: SipDispatchRuleInfo = call(&lk, "CreateSIPDispatchRule", &both).await.unwrap();
    assert_eq!(
        (won.name.as_str(), won.trunk_ids.clone()),
        ("wins", vec!["ST_c".to_string()])
    );
    let catch_all = create_rule(&lk, rule("any", &[], ""))
        .await
        .unwrap()
        .sip_dispatch_rule_id;

    // Filters: ids; trunk ids (rules for every trunk always pass); page drains to the end.
    let all = sorted(vec![
        id.clone(),
        old.sip_dispatch_rule_id.clone(),
        won.sip_dispatch_rule_id.clone(),
        catch_all.clone(),
    ]);
    assert_eq!(list_rules(&lk, Default::default()).await, all);
    let by_trunk = ListSipDispatchRuleRequest {
        trunk_ids: vec!["ST_a".into()],
        ..Default::default()
    };
    assert_eq!(
        list_rules(&lk, by_trunk).await,
        sorted(vec![id.clone(), catch_all.clone()])
    );
    let by_id = ListSipDispatchRuleRequest {
        dispatch_rule_ids: vec![catch_all.clone(), "SDR_x".into()],
        ..Default::default()
    };
    assert_eq!(list_rules(&lk, by_id).await, vec![catch_all.clone()]);
    let paged = ListSipDispatchRuleRequest {
        page: Some(Pagination {
            after_id: all[0].clone(),
            limit: 1,
        }),
        ..Default::default()
    };
    assert_eq!(list_rules(&lk, paged).await, all[1..]);

    // Delete answers the deleted rule; an unknown id is not_found (unlike DeleteSIPTrunk).
    assert_eq!(delete_rule(&lk, &id).await.unwrap(), expect);
    assert_eq!(
        delete_rule(&lk, &id).await.unwrap_err(),
        (404, "not_found".into(), NOT_FOUND.into())
    );
    assert_eq!(
        delete_rule(&lk, "").await.unwrap_err(),
        invalid("dispatch rule ID is required")
    );
    assert!(lk.delete_dispatch_rule_out_of_band(&catch_all));
    assert!(!lk.delete_dispatch_rule_out_of_band(&catch_all));
    assert_eq!(lk.dispatch_rules().len(), 2);
}

#[tokio::test]
async fn validation_messages() {
    let lk = start().await;
    let r: Result<SipDispatchRuleInfo, _> = call(
        &lk,
        "CreateSIPDispatchRule",
        &CreateSipDispatchRuleRequest::default(),
    )
    .await;
    assert_eq!(r.unwrap_err(), invalid("missing rule"));
    let with_id = SipDispatchRuleInfo {
        sip_dispatch_rule_id: "SDR_x".into(),
        ..rule("", &[], "")
    };
    assert_eq!(
        create_rule(&lk, with_id).await.unwrap_err(),
        invalid("rule id must not be set")
    );
    let no_rule = SipDispatchRuleInfo {
        rule: None,
        ..rule("", &[], "")
    };
    assert_eq!(
        create_rule(&lk, no_rule).await.unwrap_err(),
        invalid("missing rule")
    );
    let bad_media = SipDispatchRuleInfo {
        media: Some(SipMediaConfig {
            codecs: vec![SipCodec {
                name: "a/b".into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..rule("", &[], "")
    };
    assert_eq!(
        create_rule(&lk, bad_media).await.unwrap_err(),
        invalid("codec name must not contain '/'")
    );
    // A rule message with no kind set passes validation, then fails in the conflict check.
    let empty = SipDispatchRuleInfo {
        rule: Some(SipDispatchRule::default()),
        ..rule("", &[], "")
    };
    assert_eq!(
        create_rule(&lk, empty).await.unwrap_err(),
        invalid("unsupported SIP Dispatch Rule: <nil>")
    );
    assert!(lk.dispatch_rules().is_empty());

    let id = create_rule(&lk, rule("r", &["ST_a"], ""))
        .await
        .unwrap()
        .sip_dispatch_rule_id;
    let replace = |r| Some(Action::Replace(r));
    assert_eq!(
        update_rule(&lk, "", replace(rule("", &[], "")))
            .await
            .unwrap_err(),
        invalid("rule id must be set")
    );
    assert_eq!(
        update_rule(&lk, &id, None).await.unwrap_err(),
        invalid("missing or unsupported update action")
    );
    let other = SipDispatchRuleInfo {
        sip_dispatch_rule_id: "SDR_other".into(),
        ..rule("", &[], "")
    };
    assert_eq!(
        update_rule(&lk, &id, replace(other)).await.unwrap_err(),
        invalid("rule id in the info must be empty or match the id in the update")
    );
    let no_rule = SipDispatchRuleInfo {
        rule: None,
        ..rule("", &[], "")
    };
    assert_eq!(
        update_rule(&lk, "SDR_missing", replace(no_rule))
            .await
            .unwrap_err(),
        invalid("missing rule")
    );
    let bad_list = SipDispatchRuleUpdate {
        trunk_ids: Some(ListUpdate::default()),
        ..Default::default()
    };
    assert_eq!(
        update_rule(&lk, &id, Some(Action::Update(bad_list)))
            .await
            .unwrap_err(),
        invalid("unsupported list update operation")
    );
    assert_eq!(
        update_rule(&lk, "SDR_missing", replace(rule("", &[], "")))
            .await
            .unwrap_err(),
        (404, "not_found".into(), NOT_FOUND.into())
    );
}

#[tokio::test]
#[allow(deprecated)] // media_encryption: the legacy field still drives media.encryption
async fn updates_replace_or_patch() {
    let lk = start().await;
    let mut sent = rule("r", &["ST_a"], "");
    sent.attributes.insert("keep".into(), "1".into());
    sent.attributes.insert("drop".into(), "1".into());
    let id = create_rule(&lk, sent).await.unwrap().sip_dispatch_rule_id;
    let diff = SipDispatchRuleUpdate {
        trunk_ids: Some(ListUpdate {
            add: vec!["ST_b".into()],
            ..Default::default()
        }),
        name: Some("renamed".into()),
        attributes: [
            ("drop".to_string(), String::new()),
            ("new".into(), "2".into()),
        ]
        .into(),
        media_encryption: Some(SipMediaEncryption::SipMediaEncryptRequire as i32),
        ..Default::default()
    };
    let patched = update_rule(&lk, &id, Some(Action::Update(diff)))
        .await
        .unwrap();
    assert_eq!(patched.trunk_ids, ["ST_a", "ST_b"]);
    assert_eq!(patched.name, "renamed");
    assert_eq!(
        sorted(patched.attributes.keys().cloned().collect()),
        ["keep", "new"]
    );
    let require = SipMediaEncryption::SipMediaEncryptRequire as i32;
    assert_eq!(patched.media.as_ref().unwrap().encryption, Some(require));
    // Replace: wholesale, only the id kept, not upgraded (no media).
    let replaced = update_rule(&lk, &id, Some(Action::Replace(rule("x", &[], ""))))
        .await
        .unwrap();
    assert_eq!(
        replaced,
        SipDispatchRuleInfo {
            sip_dispatch_rule_id: id.clone(),
            ..rule("x", &[], "")
        }
    );
    assert_eq!(lk.dispatch_rule(&id), Some(replaced));
}

#[tokio::test]
async fn conflicting_rules_are_rejected() {
    let lk = start().await;
    let a = create_rule(&lk, rule("", &["ST_1", "ST_2"], ""))
        .await
        .unwrap()
        .sip_dispatch_rule_id;
    // One stored rule is walked first, so the message names it.
    let msg = format!(r#"{CONFLICT} "{a}" "<blank name>""#);
    assert_eq!(
        create_rule(&lk, rule("b", &["ST_2"], ""))
            .await
            .unwrap_err(),
        invalid(&msg)
    );
    // A PIN, another trunk, or "every trunk" make a different key.
    create_rule(&lk, rule("pin", &["ST_2"], "1234"))
        .await
        .unwrap();
    create_rule(&lk, rule("t3", &["ST_3"], "")).await.unwrap();
    let any = create_rule(&lk, rule("any", &[], ""))
        .await
        .unwrap()
        .sip_dispatch_rule_id;
    // Round-robin walk (stored[0], new, stored[1], ...): a clash with stored[0] names it; a
    // later one is found while checking the stored rule, so the message names the new one.
    let msg = if lk.dispatch_rules()[0].sip_dispatch_rule_id == any {
        format!(r#"{CONFLICT} "{any}" "any""#)
    } else {
        format!(r#"{CONFLICT} "<new>" "any2""#)
    };
    assert_eq!(
        create_rule(&lk, rule("any2", &[], "")).await.unwrap_err(),
        invalid(&msg)
    );
    // Numbers count after normalisation; a rule repeating one collides with itself.
    let twice = SipDispatchRuleInfo {
        inbound_numbers: vec!["+1 555".into(), "1555".into()],
        ..rule("dup", &["ST_9"], "")
    };
    let self_msg = format!(r#"{CONFLICT} "<new>" "dup""#);
    assert_eq!(
        create_rule(&lk, twice).await.unwrap_err(),
        invalid(&self_msg)
    );

    // Updates: checked against the others, not their stored selves.
    let t3 = lk
        .dispatch_rules()
        .into_iter()
        .find(|r| r.name == "t3")
        .unwrap()
        .sip_dispatch_rule_id;
    let onto_2 = SipDispatchRuleUpdate {
        trunk_ids: Some(ListUpdate {
            add: vec!["ST_2".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let (status, code, m) = update_rule(&lk, &t3, Some(Action::Update(onto_2)))
        .await
        .unwrap_err();
    assert_eq!((status, code.as_str()), (400, "invalid_argument"));
    assert!(m.starts_with(CONFLICT), "{m}");
    // Moving to a disjoint trunk set skips the check (the stored self is not listed).
    let moved = update_rule(&lk, &t3, Some(Action::Replace(rule("t3", &["ST_1"], ""))))
        .await
        .unwrap();
    assert_eq!(moved.trunk_ids, ["ST_1"]);
}
