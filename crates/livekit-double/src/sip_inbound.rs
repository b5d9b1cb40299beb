//! The inbound-trunk RPCs as LiveKit's open-source server answers them
//! (livekit/livekit `pkg/service/sip.go` over `pkg/service/redisstore_sip.go`).

use crate::auth::Grants;
use crate::conflicts;
use crate::sip::{require_admin, TRUNK_NOT_FOUND};
use crate::store::{list_page, normalize_number, with_new, Store};
use crate::twirp::TwirpError;
use crate::validate;
use livekit_protocol::update_sip_inbound_trunk_request::Action;
use livekit_protocol::{
    CreateSipInboundTrunkRequest, GetSipInboundTrunkRequest, GetSipInboundTrunkResponse,
    ListSipInboundTrunkRequest, ListSipInboundTrunkResponse, SipInboundTrunkInfo,
    SipInboundTrunkUpdate, UpdateSipInboundTrunkRequest,
};
use std::collections::BTreeMap;

/// `ListSIPInboundTrunkRequest.Filter`: listed ids only; with numbers, trunks sharing one
/// as sent or after `NormalizeNumber` (a trunk with no numbers passes the numbers filter).
fn matches(trunk_ids: &[String], numbers: &[String], t: &SipInboundTrunkInfo) -> bool {
    (trunk_ids.is_empty() || trunk_ids.contains(&t.sip_trunk_id))
        && (numbers.is_empty()
            || t.numbers.is_empty()
            || t.numbers.iter().any(|n| {
                numbers.contains(n) || {
                    let n = normalize_number(n);
                    numbers.iter().any(|r| normalize_number(r) == n)
                }
            }))
}

/// What the service's conflict check sees: `ListSIPInboundTrunk` with only a numbers filter.
fn stored_sharing(
    inbound: &BTreeMap<String, SipInboundTrunkInfo>,
    numbers: &[String],
) -> Vec<SipInboundTrunkInfo> {
    list_page(inbound, None, |t| matches(&[], numbers, t))
}

pub(crate) fn create(
    store: &mut Store,
    grants: Option<&Grants>,
    req: CreateSipInboundTrunkRequest,
) -> Result<SipInboundTrunkInfo, TwirpError> {
    require_admin(grants)?;
    // `CreateSIPInboundTrunkRequest.ValidateResult`, every failure wrapped as
    // invalid_argument; the service's own "trunk ID must be empty" after it never fires.
    let Some(mut info) = req.trunk else {
        return Err(TwirpError::invalid_argument("missing trunk"));
    };
    if !info.sip_trunk_id.is_empty() {
        return Err(TwirpError::invalid_argument("trunk id must not be set"));
    }
    validate::inbound_trunk(&info).map_err(|e| TwirpError::invalid_argument(e.msg))?;
    // Stored trunks sharing a number (or having none), walked round-robin with the new one.
    let stored = stored_sharing(&store.inbound, &info.numbers);
    conflicts::validate_trunks(&with_new(stored, info.clone()))?;
    // Stored as sent plus the id: no Upgrade (media stays absent), no timestamps, and the
    // password is echoed back.
    info.sip_trunk_id = store.new_trunk_id();
    store
        .inbound
        .insert(info.sip_trunk_id.clone(), info.clone());
    Ok(info)
}

pub(crate) fn update(
    store: &mut Store,
    grants: Option<&Grants>,
    req: UpdateSipInboundTrunkRequest,
) -> Result<SipInboundTrunkInfo, TwirpError> {
    require_admin(grants)?;
    // `UpdateSIPInboundTrunkRequest.ValidateResult`: failures here are invalid_argument.
    if req.sip_trunk_id.is_empty() {
        return Err(TwirpError::invalid_argument("trunk id must be set"));
    }
    let Some(action) = req.action else {
        return Err(TwirpError::invalid_argument(
            "missing or unsupported update action",
        ));
    };
    match &action {
        Action::Replace(info) => {
            if !info.sip_trunk_id.is_empty() && info.sip_trunk_id != req.sip_trunk_id {
                return Err(TwirpError::invalid_argument(
                    "trunk id in the info must be empty or match the id in the update",
                ));
            }
            validate::inbound_trunk(info).map_err(|e| TwirpError::invalid_argument(e.msg))?;
        }
        Action::Update(diff) => {
            validate::inbound_update(diff).map_err(TwirpError::invalid_argument)?;
        }
    }
    let Some(current) = store.inbound.get(&req.sip_trunk_id) else {
        return Err(TwirpError::not_found(TRUNK_NOT_FOUND));
    };
    let updated = match action {
        // `UpdateSIPInboundTrunkRequest_Replace.ApplyResult`: the replacement wholesale, only
        // the id kept; it was validated above already.
        Action::Replace(mut info) => {
            info.sip_trunk_id = current.sip_trunk_id.clone();
            info
        }
        Action::Update(diff) => {
            let mut info = current.clone();
            apply_update(&mut info, diff);
            // Re-validated after applying and returned unwrapped: the psrpc errors keep
            // invalid_argument (e.g. clearing the last of numbers/addresses/auth), plain ones
            // become unknown.
            validate::inbound_trunk(&info)?;
            info
        }
    };
    // The conflict walk lists stored trunks by the *new* numbers and swaps in the updated
    // trunk only where its stored self was listed: when the old numbers share none with the
    // new (and were not empty), the updated trunk is never checked at all.
    let stored = stored_sharing(&store.inbound, &updated.numbers);
    let walk: Vec<&SipInboundTrunkInfo> = stored
        .iter()
        .map(|t| {
            if t.sip_trunk_id == req.sip_trunk_id {
                &updated
            } else {
                t
            }
        })
        .collect();
    conflicts::validate_trunks(walk)?;
    store
        .inbound
        .insert(updated.sip_trunk_id.clone(), updated.clone());
    Ok(updated)
}

/// `SIPInboundTrunkUpdate.ApplyResult` (minus the validation around it).
#[allow(deprecated)] // media_encryption: the server still maintains the legacy field
fn apply_update(info: &mut SipInboundTrunkInfo, p: SipInboundTrunkUpdate) {
    fn set<T>(dst: &mut T, v: Option<T>) {
        if let Some(v) = v {
            *dst = v;
        }
    }
    for (dst, u) in [
        (&mut info.numbers, &p.numbers),
        (&mut info.allowed_addresses, &p.allowed_addresses),
        (&mut info.allowed_numbers, &p.allowed_numbers),
    ] {
        if let Some(u) = u {
            validate::apply_list_update(dst, u);
        }
    }
    set(&mut info.auth_username, p.auth_username);
    set(&mut info.auth_password, p.auth_password);
    set(&mut info.auth_realm, p.auth_realm);
    set(&mut info.name, p.name);
    set(&mut info.metadata, p.metadata);
    validate::update_media_config(
        &mut info.media,
        &mut info.media_encryption,
        p.media,
        p.media_encryption,
    );
}

pub(crate) fn get(
    store: &Store,
    grants: Option<&Grants>,
    req: GetSipInboundTrunkRequest,
) -> Result<GetSipInboundTrunkResponse, TwirpError> {
    require_admin(grants)?;
    if req.sip_trunk_id.is_empty() {
        return Err(TwirpError::invalid_argument("trunk ID is required"));
    }
    // Inbound and outbound trunks live in separate hashes: an outbound id is not found here.
    match store.inbound.get(&req.sip_trunk_id) {
        Some(t) => Ok(GetSipInboundTrunkResponse {
            trunk: Some(t.clone()),
        }),
        None => Err(TwirpError::not_found(TRUNK_NOT_FOUND)),
    }
}

/// Quirks of paging and filtering: see [`list_page`].
pub(crate) fn list(
    store: &Store,
    grants: Option<&Grants>,
    req: ListSipInboundTrunkRequest,
) -> Result<ListSipInboundTrunkResponse, TwirpError> {
    require_admin(grants)?;
    let items = list_page(&store.inbound, req.page.as_ref(), |t| {
        matches(&req.trunk_ids, &req.numbers, t)
    });
    Ok(ListSipInboundTrunkResponse { items })
}

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_protocol::{ListUpdate, SipMediaConfig};

    fn admin() -> Grants {
        Grants {
            api_key: "k".into(),
            identity: String::new(),
            sip: Some(crate::SipGrant {
                admin: true,
                call: false,
            }),
            claims: serde_json::Value::Null,
        }
    }

    fn trunk(numbers: &[&str]) -> SipInboundTrunkInfo {
        SipInboundTrunkInfo {
            numbers: numbers.iter().map(|n| n.to_string()).collect(),
            ..Default::default()
        }
    }

    fn create_one(s: &mut Store, t: SipInboundTrunkInfo) -> Result<String, TwirpError> {
        let req = CreateSipInboundTrunkRequest { trunk: Some(t) };
        create(s, Some(&admin()), req).map(|t| t.sip_trunk_id)
    }

    #[test]
    fn numbers_filter_normalises() {
        let t = trunk(&["+1 (555) 0100"]);
        assert!(matches(&[], &["15550100".into()], &t));
        assert!(!matches(&[], &["15550101".into()], &t));
        assert!(matches(&[], &["x".into()], &trunk(&[])));
    }

    #[test]
    fn update_moving_away_from_old_numbers_skips_the_conflict_check() {
        let mut s = Store::default();
        create_one(&mut s, trunk(&["+2"])).unwrap();
        let a = create_one(&mut s, trunk(&["+1"])).unwrap();
        assert!(create_one(&mut s, trunk(&["2"])).is_err());
        let req = UpdateSipInboundTrunkRequest {
            sip_trunk_id: a.clone(),
            action: Some(Action::Update(SipInboundTrunkUpdate {
                numbers: Some(ListUpdate {
                    set: vec!["+2".into()],
                    ..Default::default()
                }),
                ..Default::default()
            })),
        };
        let out = update(&mut s, Some(&admin()), req).unwrap();
        assert_eq!(out.numbers, ["+2"]);
        assert_eq!(out.media, Some(SipMediaConfig::default()));
    }
}
