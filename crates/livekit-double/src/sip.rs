//! The outbound-trunk RPCs as LiveKit's open-source server answers them
//! (livekit/livekit `pkg/service/sip.go` over `pkg/service/redisstore_sip.go`).

use crate::auth::Grants;
use crate::store::{list_page, Store};
use crate::twirp::TwirpError;
use crate::validate;
use livekit_protocol::update_sip_outbound_trunk_request::Action;
use livekit_protocol::{
    CreateSipOutboundTrunkRequest, DeleteSipTrunkRequest, GetSipOutboundTrunkRequest,
    GetSipOutboundTrunkResponse, ListSipOutboundTrunkRequest, ListSipOutboundTrunkResponse,
    SipOutboundTrunkInfo, SipTrunkInfo, UpdateSipOutboundTrunkRequest,
};
use std::collections::BTreeMap;

/// Outbound trunks by id; a BTreeMap keeps them in the id order the Redis store sorts by.
pub(crate) type Trunks = BTreeMap<String, SipOutboundTrunkInfo>;

/// `ErrSIPTrunkNotFound` (`pkg/service/errors.go`).
pub(crate) const TRUNK_NOT_FOUND: &str = "requested sip trunk does not exist";

/// `EnsureSIPAdminPermission` + `twirpAuthError`: every trunk RPC checks it first.
pub(crate) fn require_admin(grants: Option<&Grants>) -> Result<(), TwirpError> {
    if grants.is_some_and(Grants::sip_admin) {
        Ok(())
    } else {
        Err(TwirpError::new("unauthenticated", "permissions denied"))
    }
}

pub(crate) fn create(
    store: &mut Store,
    grants: Option<&Grants>,
    req: CreateSipOutboundTrunkRequest,
) -> Result<SipOutboundTrunkInfo, TwirpError> {
    require_admin(grants)?;
    // `CreateSIPOutboundTrunkRequest.ValidateResult`; the server's own "trunk ID must be empty"
    // check after it can never fire.
    let Some(mut info) = req.trunk else {
        return Err(TwirpError::invalid_argument("missing trunk"));
    };
    if !info.sip_trunk_id.is_empty() {
        return Err(TwirpError::invalid_argument("trunk id must not be set"));
    }
    validate::trunk(&info).map_err(TwirpError::invalid_argument)?;
    // Stored exactly as sent plus the id: the OSS server sets no created_at/updated_at and
    // echoes auth_password back.
    info.sip_trunk_id = store.new_trunk_id();
    store
        .outbound
        .insert(info.sip_trunk_id.clone(), info.clone());
    Ok(info)
}

pub(crate) fn update(
    trunks: &mut Trunks,
    grants: Option<&Grants>,
    req: UpdateSipOutboundTrunkRequest,
) -> Result<SipOutboundTrunkInfo, TwirpError> {
    require_admin(grants)?;
    // `UpdateSIPOutboundTrunkRequest.ValidateResult`: failures here are invalid_argument.
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
            validate::trunk(info).map_err(TwirpError::invalid_argument)?;
        }
        Action::Update(diff) => validate::update(diff).map_err(TwirpError::invalid_argument)?,
    }
    let Some(current) = trunks.get(&req.sip_trunk_id) else {
        return Err(TwirpError::not_found(TRUNK_NOT_FOUND));
    };
    let updated = match action {
        // `UpdateSIPOutboundTrunkRequest_Replace.ApplyResult`: the replacement wholesale, only
        // the id kept (created_at and all else come from the request).
        Action::Replace(mut info) => {
            info.sip_trunk_id = current.sip_trunk_id.clone();
            info
        }
        Action::Update(diff) => {
            let mut info = current.clone();
            apply_update(&mut info, diff);
            // Re-validated after applying; the error is a plain Go error, which reaches the
            // wire as `unknown` (500), e.g. removing the last number.
            validate::trunk(&info).map_err(TwirpError::unknown)?;
            info
        }
    };
    trunks.insert(updated.sip_trunk_id.clone(), updated.clone());
    Ok(updated)
}

/// `SIPOutboundTrunkUpdate.ApplyResult` (minus the validation around it).
#[allow(deprecated)] // media_encryption: the server still maintains the legacy field
fn apply_update(info: &mut SipOutboundTrunkInfo, p: livekit_protocol::SipOutboundTrunkUpdate) {
    fn set<T>(dst: &mut T, v: Option<T>) {
        if let Some(v) = v {
            *dst = v;
        }
    }
    set(&mut info.address, p.address);
    set(&mut info.transport, p.transport);
    set(&mut info.destination_country, p.destination_country);
    if let Some(u) = &p.numbers {
        validate::apply_list_update(&mut info.numbers, u);
    }
    set(&mut info.auth_username, p.auth_username);
    set(&mut info.auth_password, p.auth_password);
    set(&mut info.name, p.name);
    set(&mut info.metadata, p.metadata);
    set(&mut info.from_host, p.from_host);
    validate::update_media_config(
        &mut info.media,
        &mut info.media_encryption,
        p.media,
        p.media_encryption,
    );
}

pub(crate) fn get(
    trunks: &Trunks,
    grants: Option<&Grants>,
    req: GetSipOutboundTrunkRequest,
) -> Result<GetSipOutboundTrunkResponse, TwirpError> {
    require_admin(grants)?;
    if req.sip_trunk_id.is_empty() {
        return Err(TwirpError::invalid_argument("trunk ID is required"));
    }
    match trunks.get(&req.sip_trunk_id) {
        Some(t) => Ok(GetSipOutboundTrunkResponse {
            trunk: Some(t.clone()),
        }),
        None => Err(TwirpError::not_found(TRUNK_NOT_FOUND)),
    }
}

/// `ListSIPOutboundTrunkRequest.Filter`: listed ids only; with numbers, trunks sharing one
/// (a trunk with no numbers at all passes the numbers filter).
fn matches(req: &ListSipOutboundTrunkRequest, t: &SipOutboundTrunkInfo) -> bool {
    (req.trunk_ids.is_empty() || req.trunk_ids.contains(&t.sip_trunk_id))
        && (req.numbers.is_empty()
            || t.numbers.is_empty()
            || t.numbers.iter().any(|n| req.numbers.contains(n)))
}

/// Quirks of paging and filtering: see [`list_page`].
pub(crate) fn list(
    trunks: &Trunks,
    grants: Option<&Grants>,
    req: ListSipOutboundTrunkRequest,
) -> Result<ListSipOutboundTrunkResponse, TwirpError> {
    require_admin(grants)?;
    let items = list_page(trunks, req.page.as_ref(), |t| matches(&req, t));
    Ok(ListSipOutboundTrunkResponse { items })
}

pub(crate) fn delete(
    store: &mut Store,
    grants: Option<&Grants>,
    req: DeleteSipTrunkRequest,
) -> Result<SipTrunkInfo, TwirpError> {
    require_admin(grants)?;
    if req.sip_trunk_id.is_empty() {
        return Err(TwirpError::invalid_argument("trunk ID is required"));
    }
    // `RedisStore.DeleteSIPTrunk` is three HDELs (legacy, inbound, outbound): an unknown id
    // is no error.
    store.outbound.remove(&req.sip_trunk_id);
    store.inbound.remove(&req.sip_trunk_id);
    Ok(SipTrunkInfo {
        sip_trunk_id: req.sip_trunk_id,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_protocol::{Pagination, SipMediaConfig};

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

    fn seed(ids_and_numbers: &[(&str, &[&str])]) -> Trunks {
        ids_and_numbers
            .iter()
            .map(|(id, nums)| {
                let t = SipOutboundTrunkInfo {
                    sip_trunk_id: id.to_string(),
                    numbers: nums.iter().map(|n| n.to_string()).collect(),
                    ..Default::default()
                };
                (id.to_string(), t)
            })
            .collect()
    }

    fn ids(r: ListSipOutboundTrunkResponse) -> Vec<String> {
        r.items.into_iter().map(|t| t.sip_trunk_id).collect()
    }

    #[test]
    fn paged_list_returns_everything_after_the_cursor() {
        let t = seed(&[
            ("ST_a", &["1"]),
            ("ST_b", &["2"]),
            ("ST_c", &["1"]),
            ("ST_d", &["1"]),
        ]);
        let g = admin();
        let page = |after: &str, limit| {
            Some(Pagination {
                after_id: after.into(),
                limit,
            })
        };
        let req = ListSipOutboundTrunkRequest {
            page: page("ST_a", 1),
            ..Default::default()
        };
        assert_eq!(
            ids(list(&t, Some(&g), req).unwrap()),
            ["ST_b", "ST_c", "ST_d"]
        );
        // A batch with no match ends the iteration early (ST_b alone, filtered out).
        let req = ListSipOutboundTrunkRequest {
            page: page("ST_a", 1),
            numbers: vec!["1".into()],
            ..Default::default()
        };
        assert_eq!(ids(list(&t, Some(&g), req).unwrap()), Vec::<String>::new());
        let req = ListSipOutboundTrunkRequest {
            page: page("", 2),
            numbers: vec!["1".into()],
            ..Default::default()
        };
        assert_eq!(
            ids(list(&t, Some(&g), req).unwrap()),
            ["ST_a", "ST_c", "ST_d"]
        );
    }

    #[test]
    fn ids_filter_sorts_and_drops_unknown() {
        let t = seed(&[("ST_a", &["1"]), ("ST_b", &["2"])]);
        let req = ListSipOutboundTrunkRequest {
            trunk_ids: vec!["ST_b".into(), "ST_x".into(), "ST_a".into()],
            ..Default::default()
        };
        assert_eq!(
            ids(list(&t, Some(&admin()), req).unwrap()),
            ["ST_a", "ST_b"]
        );
    }

    #[test]
    fn update_materialises_media() {
        let mut t = seed(&[("ST_a", &["1"])]);
        t.get_mut("ST_a").unwrap().address = "h".into();
        let req = UpdateSipOutboundTrunkRequest {
            sip_trunk_id: "ST_a".into(),
            action: Some(Action::Update(livekit_protocol::SipOutboundTrunkUpdate {
                name: Some("n".into()),
                ..Default::default()
            })),
        };
        let out = update(&mut t, Some(&admin()), req).unwrap();
        assert_eq!(out.name, "n");
        assert_eq!(out.media, Some(SipMediaConfig::default()));
    }
}
