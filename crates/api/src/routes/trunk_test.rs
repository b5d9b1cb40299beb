//! `POST /sip/trunks/{trunk_id}/test`: the "Test" button of seed 001. Probes the trunk's
//! provider with SIP OPTIONS (and, with a test number, an INVITE cancelled at the first 18x)
//! from this server, with the trunk's own credentials, and says what is wrong in a sentence.

use crate::envelope::{ok, Envelope};
use crate::error::{ApiError, ErrorData};
use crate::extract::{parse_json, Tenant};
use crate::state::AppState;
use crate::trunk_path::TrunkPath;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};
use trunkline_domain::{TrunkId, E164};
use trunkline_sip::ProbeReport;
use utoipa::ToSchema;

pub fn routes() -> Router<AppState> {
    Router::new().route("/sip/trunks/{trunk_id}/test", post(test_trunk))
}

/// Optional body of a trunk test.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrunkTestInput {
    /// E.164. When given, an INVITE to it follows the OPTIONS and is cancelled as soon as it
    /// rings (the phone may ring briefly).
    #[schema(example = "+14155550100")]
    pub test_number: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TrunkTestResponse {
    /// The SIP method this answers: OPTIONS, INVITE, CANCEL or BYE.
    pub method: String,
    pub status: u16,
    pub reason: String,
    pub rtt_ms: f64,
    /// The request carried the trunk's digest credentials.
    pub authenticated: bool,
}

#[derive(Serialize, ToSchema)]
pub struct TrunkTestResult {
    pub trunk_id: String,
    /// `host:port` probed.
    pub target: String,
    /// `udp` or `tcp`.
    pub transport: String,
    /// The resolved address, `ip:port`.
    pub address: Option<String>,
    /// A SIP response came back.
    pub reachable: bool,
    /// Round-trip time of the first response.
    pub rtt_ms: Option<f64>,
    pub dns_ms: Option<f64>,
    pub connect_ms: Option<f64>,
    /// Every SIP status seen, in order.
    pub responses: Vec<TrunkTestResponse>,
    /// What the probe found (`reachable`, `wrong_credentials`, `host_not_found`,
    /// `no_resolver`, …: the enum lists them all).
    pub diagnosis: String,
    /// The diagnosis in a sentence.
    pub detail: String,
    /// Whether the trunk looks usable.
    pub healthy: bool,
    pub elapsed_ms: f64,
}

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

pub fn result(trunk_id: String, r: ProbeReport) -> TrunkTestResult {
    // With the TLS step's own reason (an untrusted certificate, a wrong port).
    let detail = r.detail();
    TrunkTestResult {
        trunk_id,
        target: r.target,
        transport: r.transport.as_str().to_owned(),
        address: r.address.map(|a| a.to_string()),
        reachable: r.reachable,
        rtt_ms: r.rtt.map(ms),
        dns_ms: r.dns_time.map(ms),
        connect_ms: r.connect_time.map(ms),
        responses: r
            .responses
            .iter()
            .map(|s| TrunkTestResponse {
                method: s.method.as_str().to_owned(),
                status: s.status,
                reason: s.reason.clone(),
                rtt_ms: ms(s.rtt),
                authenticated: s.authenticated,
            })
            .collect(),
        diagnosis: r.diagnosis.code().to_owned(),
        detail,
        healthy: r.diagnosis.healthy(),
        elapsed_ms: ms(r.elapsed),
    }
}

/// Test a trunk: SIP OPTIONS to its provider (digest challenge answered with its
/// credentials) and, with `test_number`, an INVITE cancelled at the first ring. Reports
/// reachability, round-trip time, every SIP status and a diagnosis.
#[utoipa::path(post, path = "/sip/trunks/{trunk_id}/test", tag = "trunks",
    summary = "Test a trunk from this server (SIP OPTIONS, optionally a call)",
    params(("trunk_id" = String, Path, description = "The trunk id (ST_…)")),
    request_body(content = Option<TrunkTestInput>, description = "Optional: a number to ring"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The probe ran; `data.diagnosis` says what it found", body = Envelope<TrunkTestResult>),
        (status = 400, description = "Invalid test number, or a trunk that cannot be probed (Exotel without sip_host, internal address)", body = Envelope<ErrorData>),
        (status = 401, description = "Invalid or missing API key"),
        (status = 429, description = "Too many trunk tests for this account: see Retry-After", body = Envelope<serde_json::Value>),
        (status = 404, description = "No such trunk for this account")))]
pub async fn test_trunk(
    State(state): State<AppState>,
    tenant: Tenant,
    TrunkPath(trunk_id): TrunkPath,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.trunk_tests.check(&tenant.id)?;
    let body = body.map_err(|e| match e.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::bad_request("the request body could not be read"),
    })?;
    // No body, or JSON `null`, is a test without a number.
    let input: TrunkTestInput =
        if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
            TrunkTestInput::default()
        } else {
            parse_json(&body)?
        };
    let test_number = match input.test_number {
        Some(raw) => Some(
            E164::parse("test_number", &raw)
                .map_err(|e| ApiError::field(e.field, e.message))?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    if TrunkId::parse(&trunk_id).is_none() {
        return Err(ApiError::NotFound(crate::trunk_path::NOT_FOUND));
    }
    let report = trunkline_core::trunk_probe::test_stored_outbound_trunk(
        &state,
        &tenant.id,
        &trunk_id,
        test_number,
        crate::trunk_path::NOT_FOUND,
    )
    .await?;
    let message = report.diagnosis.sentence();
    Ok(ok(message, result(trunk_id, report)))
}
