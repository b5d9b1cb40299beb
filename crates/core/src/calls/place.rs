//! Queueing an outbound call, for the API and the dashboard alike: the request checked against
//! the tenant's assistants and trunks, the dial plan fixed, the row queued, the dialer woken.

use super::DialPlan;
use crate::{records, ServiceError, ServiceResult, Services};
use serde_json::Value;
use trunkline_domain::assistant::{metadata_text, AssistantConfig, MAX_METADATA_BYTES};
use trunkline_domain::call::CallStatus;
use trunkline_domain::trunk::PublicConfig;
use trunkline_domain::{CallId, ValidationErrors, E164};
use trunkline_store::{now_micros, CallRow, Status, StoreError};

/// What a client asks for (each field as sent, validated here).
#[derive(Default)]
pub struct CallRequest {
    pub assistant_id: Option<String>,
    pub trunk_id: Option<String>,
    pub to_number: Option<String>,
    pub from_number: Option<String>,
    pub metadata: Option<Value>,
    pub idempotency_key: Option<String>,
    /// Identifies the request for idempotent replays (same key, same request).
    pub request_hash: String,
}

pub enum Placed {
    Queued(CallRow),
    /// A concurrent request with the same idempotency key won the race: its call.
    Existing(CallRow),
}

/// Validates and queues a call. Every broken rule is reported at once, by field.
pub async fn place_call(
    services: &Services,
    tenant_id: &str,
    req: CallRequest,
) -> ServiceResult<Placed> {
    services.require_livekit()?;
    let mut errors = ValidationErrors::default();
    let to = match req.to_number.as_deref() {
        Some(n) => errors.take(E164::parse("to_number", n)),
        None => {
            errors.push("to_number", "is required");
            None
        }
    };
    if let Some(m) = &req.metadata {
        let len = metadata_text(m).len();
        if len > MAX_METADATA_BYTES {
            errors.push(
                "metadata",
                format!("must be at most {MAX_METADATA_BYTES} bytes as JSON; got {len}"),
            );
        }
    }
    let assistant = match req.assistant_id.as_deref() {
        None => {
            errors.push("assistant_id", "is required");
            None
        }
        Some(id) => match services.store.get_assistant(tenant_id, id).await? {
            Some(a) => Some(a),
            None => {
                errors.push("assistant_id", "no assistant with this id in this account");
                None
            }
        },
    };
    let trunk = match req.trunk_id.as_deref() {
        None => {
            errors.push("trunk_id", "is required");
            None
        }
        Some(id) => match services.store.outbound_trunks().get(tenant_id, id).await? {
            Some(t) => Some(t),
            None => {
                errors.push("trunk_id", "no outbound trunk with this id in this account");
                None
            }
        },
    };
    let mut from = None;
    if let Some(t) = &trunk {
        if t.trunk_type == "exotel" && t.status != Status::Provisioned {
            errors.push("trunk_id", "Exotel trunks carry calls through trunkline's SIP bridge, and this one is not provisioned through it (TRUNKLINE_BRIDGE_SIP_ADDRESS is not set): use a twilio, telnyx or sip trunk");
        } else if t.status != Status::Provisioned {
            errors.push("trunk_id", format!("the trunk is {} in LiveKit, not provisioned: fix it (GET /sip/trunks/{}) before calling through it", t.status, t.id));
        }
        let numbers = match records::public_config(t)? {
            PublicConfig::Sip { numbers, .. } => numbers,
            PublicConfig::Exotel { exotel_number, .. } => vec![exotel_number],
        };
        from = match req.from_number.as_deref() {
            Some(f) if numbers.iter().any(|n| n == f) => Some(f.to_owned()),
            Some(_) => {
                errors.push(
                    "from_number",
                    format!("must be one of the trunk's numbers: {}", numbers.join(", ")),
                );
                None
            }
            None => numbers.first().cloned(),
        };
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let (assistant, trunk, to, from) = (
        assistant.expect("valid"),
        trunk.expect("valid"),
        to.expect("valid"),
        from.expect("valid"),
    );
    let config: AssistantConfig = serde_json::from_str(&assistant.config)
        .map_err(|e| ServiceError::internal(format!("assistant {} config: {e}", assistant.id)))?;
    let id = CallId::generate().to_string();
    // What the agent's job receives: who it is calling, and both sets of metadata.
    let agent_metadata = serde_json::json!({
        "call_id": id,
        "to_number": to.as_str(),
        "from_number": from,
        "assistant_metadata": config.metadata,
        "call_metadata": req.metadata,
    })
    .to_string();
    let plan = DialPlan {
        agent_name: config.agent_name.clone(),
        agent_metadata,
        participant_metadata: req.metadata.as_ref().map(metadata_text).unwrap_or_default(),
        ringing_timeout: config
            .ringing_timeout
            .unwrap_or(services.calls.default_ringing_secs),
        max_call_duration: config.max_call_duration,
        webhook_url: config.end_call_webhook_url.clone(),
    };
    let now = now_micros();
    let row = CallRow {
        id,
        tenant_id: tenant_id.to_owned(),
        assistant_id: assistant.id.clone(),
        trunk_id: trunk.id.clone(),
        to_number: to.as_str().to_owned(),
        from_number: from,
        plan: serde_json::to_string(&plan).expect("plan serializes"),
        idempotency_key: req.idempotency_key.clone(),
        request_hash: req.request_hash.clone(),
        status: CallStatus::Queued.as_str().to_owned(),
        max_attempts: services.calls.max_attempts,
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
        ..Default::default()
    };
    match services.store.insert_call(&row).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) if req.idempotency_key.is_some() => {
            let k = req.idempotency_key.as_deref().expect("checked");
            return match services.store.call_by_idempotency_key(tenant_id, k).await? {
                Some(existing) => Ok(Placed::Existing(existing)),
                None => Err(ServiceError::internal("idempotency conflict without a row")),
            };
        }
        Err(e) => return Err(e.into()),
    }
    services.dialer_wake.notify_one();
    tracing::info!(call_id = %row.id, trunk_id = %row.trunk_id, "call queued");
    Ok(Placed::Queued(row))
}
