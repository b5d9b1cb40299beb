//! Request and response bodies of the trunk API, as seed 000 names them. Validation lives in
//! the domain crate; these types only carry what the client sent.

use serde::{Deserialize, Serialize};
use trunkline_core::timefmt::iso8601;
use trunkline_store::HealthRow;
use utoipa::ToSchema;

/// `POST /sip/create-outbound-trunk`. `trunk_config` is read according to `trunk_type`.
/// No `Debug` here or on `PatchTrunk`: `trunk_config` may hold a password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOutboundTrunk {
    /// 1–100 characters after trimming.
    #[schema(example = "Twilio Production", value_type = String, required = true, min_length = 1, max_length = 100)]
    pub trunk_name: Option<String>,
    /// One of `twilio`, `exotel`, `telnyx`, `sip`.
    #[schema(example = "twilio", value_type = String, required = true)]
    pub trunk_type: Option<String>,
    #[schema(value_type = TrunkConfigInput)]
    pub trunk_config: Option<serde_json::Value>,
}

/// `PATCH /sip/trunks/{trunk_id}`: any subset. In `trunk_config`, a field left out keeps its
/// value and `null` clears an optional one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTrunk {
    pub trunk_name: Option<String>,
    /// If given, must equal the trunk's type (the type cannot change).
    pub trunk_type: Option<String>,
    /// Any fields of the trunk type's configuration (`SipTrunkConfigInput` or
    /// `ExotelConfigInput`): those given replace the stored ones, `null` clears an optional
    /// one, the others are kept.
    #[schema(value_type = Option<Object>)]
    pub trunk_config: Option<serde_json::Value>,
}

/// The configuration for `trunk_type` twilio, telnyx or sip.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documents the schema; parsing uses the domain's raw types
pub struct SipTrunkConfigInput {
    /// Provider SIP host, `host[:port]`; a leading `sip:` is accepted and dropped.
    #[schema(example = "example.pstn.twilio.com")]
    address: String,
    /// E.164 numbers (caller IDs) for this trunk; at least one; duplicates are dropped.
    #[schema(example = json!(["+15550100000"]))]
    numbers: Vec<String>,
    /// Digest user name (Twilio: required). 1–128 characters.
    username: Option<String>,
    /// Digest password (Twilio: required). 1–128 characters; sealed, never returned.
    password: Option<String>,
    /// `auto` (default), `udp`, `tcp` or `tls`.
    transport: Option<String>,
    /// `disabled` (default), `allowed` or `required`.
    media_encryption: Option<String>,
}

/// The configuration for `trunk_type` exotel.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ExotelConfigInput {
    /// E.164, or the Indian national form `0XXXXXXXXXX` (stored as +91…).
    #[schema(example = "+918044319240")]
    exotel_number: String,
    sip_host: Option<String>,
    /// 1–65535.
    sip_port: Option<u16>,
    sip_domain: Option<String>,
    auth_username: Option<String>,
    /// Sealed, never returned.
    auth_password: Option<String>,
}

/// `trunk_config` of a trunk trunkline makes at the provider from a provider account (no
/// address or credentials): `twilio` takes `numbers`, `exotel` takes `exotel_number` (and
/// optionally `sip_host`, `sip_port`).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct AutomatedTrunkConfigInput {
    /// A provider account of this API key's account (`PA_…`).
    provider_account_id: String,
    /// twilio: E.164 numbers of the account, on no Twilio trunk yet.
    #[schema(example = json!(["+15550100000"]))]
    numbers: Option<Vec<String>>,
    /// exotel: an ExoPhone of the account (E.164, or `0XXXXXXXXXX`).
    #[schema(example = "+918044319240")]
    exotel_number: Option<String>,
    /// exotel: overrides `<account_sid>.pstn.exotel.com`.
    sip_host: Option<String>,
    /// exotel: 1–65535; overrides the bridge's default.
    sip_port: Option<u16>,
}

/// `trunk_config`: its shape follows `trunk_type` (the JSON carries no tag of its own).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum TrunkConfigInput {
    Sip(SipTrunkConfigInput),
    Exotel(ExotelConfigInput),
    Automated(AutomatedTrunkConfigInput),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTrunk {
    #[schema(example = "ST_a1b2c3d4e5f60718293a4b5c6d7e8f90")]
    pub trunk_id: String,
    /// Provisioning status: `provisioned`, `unprovisioned` (LiveKit not configured) or
    /// `awaiting_bridge` (exotel).
    pub status: String,
    pub livekit_trunk_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrunkListItem {
    pub trunk_id: String,
    pub trunk_name: String,
    pub trunk_type: String,
    /// ISO 8601 in UTC with microseconds and no offset, exactly as seed 000 shows it.
    #[schema(example = "2024-01-15T10:00:00.000000")]
    pub trunk_created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Provisioning {
    /// `provisioned`, `unprovisioned`, `error` or `awaiting_bridge`.
    pub status: String,
    pub detail: String,
    /// Whether LiveKit holds the latest saved configuration.
    pub in_sync: bool,
    pub last_error: Option<String>,
    pub synced_at: Option<String>,
}

impl Provisioning {
    /// The provisioning view of any provisioned row; `detail` is the kind's sentence for
    /// its status.
    pub fn of(row: &impl trunkline_store::Resource, detail: &str) -> Self {
        let l = row.lifecycle();
        Self {
            status: l.status.to_string(),
            detail: detail.to_owned(),
            in_sync: l.status == trunkline_store::Status::Provisioned
                && l.synced_version == l.desired_version,
            last_error: l.last_error.map(str::to_owned),
            synced_at: l.synced_at.map(iso8601),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrunkDetails {
    pub trunk_id: String,
    pub trunk_name: String,
    pub trunk_type: String,
    pub trunk_created_at: String,
    pub trunk_updated_at: String,
    /// The configuration without secrets: each secret shows only as `<field>_set`.
    #[schema(value_type = Object)]
    pub trunk_config: serde_json::Value,
    pub livekit_trunk_id: Option<String>,
    pub provisioning: Provisioning,
    /// Periodic OPTIONS checks, when enabled (`PUT /sip/trunks/{trunk_id}/health-check`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<TrunkHealth>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedTrunk {
    pub trunk_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub database: String,
    /// `ok`, `not_configured`, `demo` (`serve --demo`'s embedded stand-in), or what failed.
    pub livekit: String,
}

/// Periodic OPTIONS checks of a trunk: settings and state.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrunkHealth {
    pub enabled: bool,
    pub interval_seconds: i64,
    pub down_after: i64,
    /// `unknown` (not checked enough yet), `up` or `down`.
    pub state: String,
    /// Failed checks in a row.
    pub consecutive_failures: i64,
    /// The last check's diagnosis (as `POST /sip/trunks/{id}/test` names them).
    pub last_diagnosis: Option<String>,
    pub last_rtt_ms: Option<f64>,
    pub last_checked_at: Option<String>,
    /// When `state` last changed.
    pub state_since: Option<String>,
}

impl From<&HealthRow> for TrunkHealth {
    fn from(h: &HealthRow) -> Self {
        TrunkHealth {
            enabled: h.enabled,
            interval_seconds: h.interval_secs,
            down_after: h.down_after,
            state: h.state.clone(),
            consecutive_failures: h.misses,
            last_diagnosis: h.last_diagnosis.clone(),
            last_rtt_ms: h.last_rtt_us.map(|us| us as f64 / 1000.0),
            last_checked_at: h.last_checked_at.map(iso8601),
            state_since: h.changed_at.map(iso8601),
        }
    }
}

/// `GET /sip/outbound-trunks`: one page.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrunkPage {
    pub trunks: Vec<TrunkListItem>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

pub use crate::envelope::Envelope;
