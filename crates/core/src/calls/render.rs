//! A call as clients see it: in `GET /call/{id}`, `GET /calls` and the end-of-call webhook.

use crate::timefmt::iso8601;
use serde::Serialize;
use trunkline_domain::call::CallStatus;
use trunkline_store::CallRow;

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallView {
    pub call_id: String,
    /// queued, dialing, ringing, answered, completed, busy, no_answer, rejected, failed or
    /// cancelled.
    pub status: &'static str,
    pub assistant_id: String,
    pub trunk_id: String,
    pub to_number: String,
    pub from_number: String,
    /// The call's room as the tenant names it: the call id (LiveKit holds it under the
    /// tenant's namespace prefix, see `rooms`).
    pub room_name: String,
    /// The final SIP status the provider answered, when there was one (486 busy, …).
    pub sip_status_code: Option<i64>,
    /// Dial attempts so far (retries happen only where the callee cannot have rung).
    pub attempts: i64,
    pub last_error: Option<String>,
    /// Why an answered call ended (LiveKit's disconnect reason), or how it was stopped.
    pub end_reason: Option<String>,
    pub transferred_to: Option<String>,
    /// UTC, seed 000's format.
    pub created_at: String,
    pub dialed_at: Option<String>,
    pub ringing_at: Option<String>,
    pub answered_at: Option<String>,
    pub ended_at: Option<String>,
    /// Seconds from answer to end: ring time is not talk time.
    pub duration_seconds: Option<f64>,
}

/// The status clients see (a claim shows as `queued`).
pub fn public_status(c: &CallRow) -> &'static str {
    CallStatus::parse(&c.status).map_or("failed", CallStatus::public)
}

pub fn view(c: &CallRow) -> CallView {
    let status = public_status(c);
    let t = |v: Option<i64>| v.map(iso8601);
    CallView {
        call_id: c.id.clone(),
        status,
        assistant_id: c.assistant_id.clone(),
        trunk_id: c.trunk_id.clone(),
        to_number: c.to_number.clone(),
        from_number: c.from_number.clone(),
        room_name: c.id.clone(),
        sip_status_code: c.sip_status_code,
        attempts: c.attempts,
        last_error: c.last_error.clone(),
        end_reason: c.end_reason.clone(),
        transferred_to: c.transferred_to.clone(),
        created_at: iso8601(c.created_at),
        dialed_at: t(c.dialed_at),
        ringing_at: t(c.ringing_at),
        answered_at: t(c.answered_at),
        ended_at: t(c.ended_at),
        duration_seconds: match (c.answered_at, c.ended_at) {
            (Some(a), Some(e)) if e >= a => Some(((e - a) / 1000) as f64 / 1000.0),
            _ => None,
        },
    }
}

/// The end-of-call webhook body (Standard Webhooks: `type`, `timestamp`, `data`).
pub fn end_of_call_payload(c: &CallRow) -> Vec<u8> {
    let body = serde_json::json!({
        "type": "call.ended",
        "timestamp": format!("{}Z", iso8601(c.ended_at.unwrap_or(c.updated_at))),
        "data": view(c),
    });
    serde_json::to_vec(&body).expect("a JSON value serializes")
}
