//! What a tenant may ask of a warm transfer, with every refusal it can meet: start one on an
//! answered call, complete it once the target answered, cancel it, list a call's transfers.
//! How a transfer runs (rooms, dialing, the move) is `warm_transfer`; the API and any other
//! front end call these and only map the `ServiceError`.

use super::render::public_status;
use super::transfer::transfer_target;
use super::warm_transfer::{self as wt, CompleteError, Request, CONSULTING};
use crate::{ServiceError, ServiceResult, Services};
use serde_json::Value;
use trunkline_domain::assistant::{agent_name, MAX_METADATA_BYTES};
use trunkline_domain::call::CallStatus;
use trunkline_store::{CallRow, Status, WarmTransferRow};

/// A start request as the client sent it, before any check.
#[derive(Debug, Default)]
pub struct StartInput {
    pub to: Option<String>,
    pub agent_name: Option<String>,
    pub metadata: Option<Value>,
}

/// What CreateSIPParticipant dials for a checked target: the number, or the SIP user.
fn dial_string(target: &str) -> ServiceResult<String> {
    let lower = target.to_ascii_lowercase();
    let rest = ["tel:", "sips:", "sip:"]
        .iter()
        .find_map(|p| lower.strip_prefix(p).map(|_| &target[p.len()..]))
        .unwrap_or(target);
    let user = rest.split(['@', ';', '?']).next().unwrap_or_default();
    if user.is_empty() {
        return Err(ServiceError::field(
            "to",
            "a SIP URI must name a user (sip:USER@HOST): the user is dialed over the call's outbound trunk",
        ));
    }
    Ok(user.to_owned())
}

async fn call_of(
    s: &Services,
    tenant_id: &str,
    id: &str,
    not_found: &'static str,
) -> ServiceResult<CallRow> {
    s.store
        .get_call(tenant_id, id)
        .await?
        .ok_or(ServiceError::NotFound(not_found))
}

/// Checks the request, then records the transfer and starts dialing in the background.
pub async fn start(
    s: &Services,
    tenant_id: &str,
    call_id: &str,
    input: StartInput,
    not_found: &'static str,
) -> ServiceResult<WarmTransferRow> {
    let target = transfer_target(
        input
            .to
            .as_deref()
            .ok_or_else(|| ServiceError::field("to", "is required"))?,
    )?;
    let dial = dial_string(&target)?;
    let agent = match input.agent_name.as_deref() {
        Some(a) => Some(
            agent_name("agent_name", a)
                .map_err(|e| ServiceError::field("agent_name", e.message))?,
        ),
        None => None,
    };
    if let Some(m) = &input.metadata {
        if m.to_string().len() > MAX_METADATA_BYTES {
            return Err(ServiceError::field(
                "metadata",
                format!("must be at most {MAX_METADATA_BYTES} bytes of JSON"),
            ));
        }
    }
    let call = call_of(s, tenant_id, call_id, not_found).await?;
    if call.status != CallStatus::Answered.as_str() {
        return Err(ServiceError::Conflict(format!(
            "only an answered call can be warm-transferred; this one is {}",
            public_status(&call)
        )));
    }
    let lk = s.require_livekit()?;
    if let Some(open) = wt::open(&s.store, lk, &call).await? {
        return Err(ServiceError::Conflict(format!(
            "the call already has a warm transfer in progress ({}, {}): complete or cancel it first",
            open.id, open.status
        )));
    }
    let Some(agent) = agent.or_else(|| wt::default_agent(&call)) else {
        return Err(ServiceError::field(
            "agent_name",
            "is required: the call's own agent is unknown",
        ));
    };
    let trunk = s.store.outbound_trunks().live(&call.trunk_id).await?;
    let Some(lk_trunk) = trunk
        .filter(|t| t.status == Status::Provisioned)
        .and_then(|t| t.livekit_trunk_id)
    else {
        return Err(ServiceError::Conflict(
            "the call's outbound trunk is deleted or not provisioned in LiveKit: the target cannot be dialed over it".into(),
        ));
    };
    let req = Request {
        target,
        dial,
        agent_name: agent,
        metadata: input.metadata,
    };
    wt::start(&s.store, lk, &call, lk_trunk, req)
        .await?
        .ok_or_else(|| {
            ServiceError::Conflict(
                "the call already has a warm transfer in progress: complete or cancel it first"
                    .into(),
            )
        })
}

/// Hands the caller over to the target that answered, and returns the transfer as it ended.
pub async fn complete(
    s: &Services,
    tenant_id: &str,
    call_id: &str,
    not_found: &'static str,
) -> ServiceResult<WarmTransferRow> {
    let call = call_of(s, tenant_id, call_id, not_found).await?;
    let lk = s.require_livekit()?;
    let Some(t) = wt::open(&s.store, lk, &call).await? else {
        return Err(ServiceError::Conflict(
            "the call has no warm transfer in progress: start one with POST /call/{id}/warm-transfer".into(),
        ));
    };
    if t.status != CONSULTING {
        return Err(ServiceError::Conflict(format!(
            "the transfer target has not answered yet ({} is {}): wait for status consulting, or cancel",
            t.id, t.status
        )));
    }
    if call.status != CallStatus::Answered.as_str() {
        return Err(ServiceError::Conflict(format!(
            "the caller is no longer on the call ({}): cancel the transfer",
            public_status(&call)
        )));
    }
    match wt::complete(&s.store, lk, &call, &t).await {
        Ok(()) => {}
        Err(CompleteError::TargetGone) => {
            return Err(ServiceError::Conflict(
                "the transfer target left the consultation before the transfer completed".into(),
            ))
        }
        Err(CompleteError::LiveKit(e)) => return Err(e.into()),
        Err(CompleteError::Store(e)) => return Err(e.into()),
    }
    latest(s, &call.id, &t.id, not_found).await
}

/// Hangs up the consultation in progress, and returns the transfer as it ended.
pub async fn cancel(
    s: &Services,
    tenant_id: &str,
    call_id: &str,
    not_found: &'static str,
) -> ServiceResult<WarmTransferRow> {
    let call = call_of(s, tenant_id, call_id, not_found).await?;
    let lk = s.require_livekit()?;
    let open = wt::open(&s.store, lk, &call).await?;
    let ended = match &open {
        Some(t) => wt::cancel(&s.store, lk, t).await?,
        None => false,
    };
    let Some(t) = open.filter(|_| ended) else {
        return Err(ServiceError::Conflict(
            "the call has no warm transfer in progress to cancel".into(),
        ));
    };
    latest(s, &call.id, &t.id, not_found).await
}

/// The call's warm transfers, oldest first (a transfer dialing past its deadline is settled
/// first, when LiveKit is configured).
pub async fn list(
    s: &Services,
    tenant_id: &str,
    call_id: &str,
    not_found: &'static str,
) -> ServiceResult<Vec<WarmTransferRow>> {
    let call = call_of(s, tenant_id, call_id, not_found).await?;
    if let Some(lk) = s.livekit.as_ref() {
        wt::open(&s.store, lk, &call).await?;
    }
    Ok(s.store.warm_transfers(&call.id).await?)
}

async fn latest(
    s: &Services,
    call_id: &str,
    id: &str,
    not_found: &'static str,
) -> ServiceResult<WarmTransferRow> {
    s.store
        .warm_transfers(call_id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(ServiceError::NotFound(not_found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_dialed() {
        assert_eq!(dial_string("tel:+15550100000").unwrap(), "+15550100000");
        assert_eq!(dial_string("sip:2001@pbx.example.com").unwrap(), "2001");
        assert_eq!(
            dial_string("SIPS:alice@pbx.example.com;transport=tls").unwrap(),
            "alice"
        );
        assert!(dial_string("sip:@pbx.example.com").is_err());
    }
}
