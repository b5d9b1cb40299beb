//! The dispatch-rule RPCs as LiveKit's open-source server answers them
//! (livekit/livekit `pkg/service/sip.go` over `pkg/service/redisstore_sip.go`, with
//! livekit/protocol `livekit/sip.go` for validation and updates).

use crate::auth::Grants;
use crate::conflicts;
use crate::sip::require_admin;
use crate::store::{list_page, with_new, Store};
use crate::twirp::TwirpError;
use crate::validate;
use livekit_protocol::update_sip_dispatch_rule_request::Action;
use livekit_protocol::{
    CreateSipDispatchRuleRequest, DeleteSipDispatchRuleRequest, ListSipDispatchRuleRequest,
    ListSipDispatchRuleResponse, SipDispatchRuleInfo, SipDispatchRuleUpdate,
    UpdateSipDispatchRuleRequest,
};
use std::collections::BTreeMap;

/// `ErrSIPDispatchRuleNotFound` (`pkg/service/errors.go`).
pub(crate) const RULE_NOT_FOUND: &str = "requested sip dispatch rule does not exist";

/// `ListSIPDispatchRuleRequest.Filter`: listed ids only; with trunk ids, rules naming one of
/// them (a rule with no trunk ids, i.e. for every trunk, passes the trunk filter).
fn matches(rule_ids: &[String], trunk_ids: &[String], r: &SipDispatchRuleInfo) -> bool {
    (rule_ids.is_empty() || rule_ids.contains(&r.sip_dispatch_rule_id))
        && (trunk_ids.is_empty()
            || r.trunk_ids.is_empty()
            || r.trunk_ids.iter().any(|t| trunk_ids.contains(t)))
}

/// What the service's conflict check sees: `ListSIPDispatchRule` with only a trunk filter.
fn stored_for(
    rules: &BTreeMap<String, SipDispatchRuleInfo>,
    trunk_ids: &[String],
) -> Vec<SipDispatchRuleInfo> {
    list_page(rules, None, |r| matches(&[], trunk_ids, r))
}

/// `SIPDispatchRuleInfo.Validate`.
fn validate_info(info: &SipDispatchRuleInfo) -> Result<(), String> {
    if info.rule.is_none() {
        return Err("missing rule".into());
    }
    validate::media(info.media.as_ref())
}

#[allow(deprecated)] // the legacy flat fields and media_encryption: the server still reads them
pub(crate) fn create(
    store: &mut Store,
    grants: Option<&Grants>,
    req: CreateSipDispatchRuleRequest,
) -> Result<SipDispatchRuleInfo, TwirpError> {
    require_admin(grants)?;
    let legacy_trunk_ids = req.trunk_ids.clone();
    // `CreateSIPDispatchRuleRequest.DispatchRuleInfo`: `dispatch_rule` when set, and then the
    // flat legacy fields are ignored, not merged. Only `dispatch_rule` gets `Upgrade()` (media
    // materialised, possibly empty), before validation; a legacy rule is stored without media.
    let mut info = match req.dispatch_rule {
        Some(mut info) => {
            validate::upgrade_media(&mut info.media, info.media_encryption);
            if !info.sip_dispatch_rule_id.is_empty() {
                return Err(TwirpError::invalid_argument("rule id must not be set"));
            }
            info
        }
        None => SipDispatchRuleInfo {
            rule: req.rule,
            trunk_ids: req.trunk_ids,
            inbound_numbers: req.inbound_numbers,
            hide_phone_number: req.hide_phone_number,
            name: req.name,
            metadata: req.metadata,
            attributes: req.attributes,
            room_preset: req.room_preset,
            room_config: req.room_config,
            ..Default::default()
        },
    };
    validate_info(&info).map_err(TwirpError::invalid_argument)?;
    // The conflict listing filters by the request's *legacy* `trunk_ids` even when the rule
    // came in `dispatch_rule` (`CreateSIPDispatchRule` in sip.go): usually empty, so every
    // stored rule is checked; a stale legacy list can hide conflicts.
    let stored = stored_for(&store.rules, &legacy_trunk_ids);
    conflicts::validate_rules(&with_new(stored, info.clone()))?;
    info.sip_dispatch_rule_id = store.new_rule_id();
    store
        .rules
        .insert(info.sip_dispatch_rule_id.clone(), info.clone());
    Ok(info)
}

pub(crate) fn update(
    store: &mut Store,
    grants: Option<&Grants>,
    req: UpdateSipDispatchRuleRequest,
) -> Result<SipDispatchRuleInfo, TwirpError> {
    require_admin(grants)?;
    // `UpdateSIPDispatchRuleRequest.Validate`: failures here are invalid_argument.
    if req.sip_dispatch_rule_id.is_empty() {
        return Err(TwirpError::invalid_argument("rule id must be set"));
    }
    let Some(action) = req.action else {
        return Err(TwirpError::invalid_argument(
            "missing or unsupported update action",
        ));
    };
    match &action {
        Action::Replace(info) => {
            let id = &info.sip_dispatch_rule_id;
            if !id.is_empty() && *id != req.sip_dispatch_rule_id {
                return Err(TwirpError::invalid_argument(
                    "rule id in the info must be empty or match the id in the update",
                ));
            }
            validate_info(info).map_err(TwirpError::invalid_argument)?;
        }
        Action::Update(diff) => validate_update(diff).map_err(TwirpError::invalid_argument)?,
    }
    let Some(current) = store.rules.get(&req.sip_dispatch_rule_id) else {
        return Err(TwirpError::not_found(RULE_NOT_FOUND));
    };
    let updated = match action {
        // `UpdateSIPDispatchRuleRequest_Replace.Apply`: wholesale, only the id kept, no
        // Upgrade (media stays as sent).
        Action::Replace(mut info) => {
            info.sip_dispatch_rule_id = current.sip_dispatch_rule_id.clone();
            info
        }
        Action::Update(diff) => {
            let mut info = current.clone();
            apply_update(&mut info, diff);
            // Re-validated after applying; a plain Go error, so `unknown` on the wire (only
            // reachable for a rule stored without one, e.g. out of band).
            validate_info(&info).map_err(TwirpError::unknown)?;
            info
        }
    };
    // Like inbound trunks: stored rules are listed by the *new* trunk ids and the updated
    // rule is swapped in only where its stored self was listed, so moving a rule from one
    // trunk set to a disjoint one skips its conflict check.
    let stored = stored_for(&store.rules, &updated.trunk_ids);
    let walk: Vec<&SipDispatchRuleInfo> = stored
        .iter()
        .map(|r| {
            if r.sip_dispatch_rule_id == req.sip_dispatch_rule_id {
                &updated
            } else {
                r
            }
        })
        .collect();
    conflicts::validate_rules(walk)?;
    store
        .rules
        .insert(updated.sip_dispatch_rule_id.clone(), updated.clone());
    Ok(updated)
}

/// `SIPDispatchRuleUpdate.Validate`.
fn validate_update(p: &SipDispatchRuleUpdate) -> Result<(), String> {
    if let Some(u) = &p.trunk_ids {
        validate::list_update(u)?;
    }
    validate::media(p.media.as_ref())
}

/// `SIPDispatchRuleUpdate.Apply` (minus the validation around it). Only trunk ids, rule,
/// name, metadata, attributes and media can change; attributes are a diff where an empty
/// value deletes the key.
#[allow(deprecated)] // media_encryption: the server still maintains the legacy field
fn apply_update(info: &mut SipDispatchRuleInfo, p: SipDispatchRuleUpdate) {
    if let Some(u) = &p.trunk_ids {
        validate::apply_list_update(&mut info.trunk_ids, u);
    }
    if p.rule.is_some() {
        info.rule = p.rule;
    }
    if let Some(v) = p.name {
        info.name = v;
    }
    if let Some(v) = p.metadata {
        info.metadata = v;
    }
    // `applyMapDiff`.
    for (k, v) in p.attributes {
        if v.is_empty() {
            info.attributes.remove(&k);
        } else {
            info.attributes.insert(k, v);
        }
    }
    validate::update_media_config(
        &mut info.media,
        &mut info.media_encryption,
        p.media,
        p.media_encryption,
    );
}

/// Quirks of paging and filtering: see [`list_page`].
pub(crate) fn list(
    store: &Store,
    grants: Option<&Grants>,
    req: ListSipDispatchRuleRequest,
) -> Result<ListSipDispatchRuleResponse, TwirpError> {
    require_admin(grants)?;
    let items = list_page(&store.rules, req.page.as_ref(), |r| {
        matches(&req.dispatch_rule_ids, &req.trunk_ids, r)
    });
    Ok(ListSipDispatchRuleResponse { items })
}

/// Unlike `DeleteSIPTrunk`, this loads the rule first: an unknown id is `not_found`, and the
/// answer is the deleted rule in full.
pub(crate) fn delete(
    store: &mut Store,
    grants: Option<&Grants>,
    req: DeleteSipDispatchRuleRequest,
) -> Result<SipDispatchRuleInfo, TwirpError> {
    require_admin(grants)?;
    if req.sip_dispatch_rule_id.is_empty() {
        return Err(TwirpError::invalid_argument("dispatch rule ID is required"));
    }
    store
        .rules
        .remove(&req.sip_dispatch_rule_id)
        .ok_or_else(|| TwirpError::not_found(RULE_NOT_FOUND))
}
