//! The two shapes a create of an inbound trunk or a dispatch rule accepts: trunkline's
//! snake_case fields, or the JSON file of LiveKit's `lk` CLI (seed 002) as it is. These types
//! only describe the bodies; `trunkline_domain::lk_json` parses them.

#![allow(dead_code)] // documents the schema; parsing uses the domain's types

use crate::routes::dispatch_rules::CreateDispatchRule;
use crate::routes::inbound_trunks::CreateInboundTrunk;
use serde::Serialize;
use utoipa::ToSchema;

/// `POST /sip/inbound-trunks`: trunkline's fields, or `lk sip inbound create`'s file.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum InboundTrunkCreateBody {
    Trunkline(CreateInboundTrunk),
    LiveKitFile(LkInboundTrunkFile),
}

/// The file of `lk sip inbound create` (seed 002): `{"trunk": {…}}`. Field names in
/// LiveKit's camelCase; their snake_case forms are accepted too.
#[derive(Serialize, ToSchema)]
pub struct LkInboundTrunkFile {
    trunk: LkInboundTrunk,
}

/// LiveKit's `SIPInboundTrunkInfo`, the fields trunkline supports (others are refused by name).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LkInboundTrunk {
    #[schema(example = "Twilio Inbound SIP Trunk")]
    name: String,
    #[schema(example = json!(["+13074606119"]))]
    numbers: Option<Vec<String>>,
    allowed_addresses: Option<Vec<String>>,
    allowed_numbers: Option<Vec<String>>,
    auth_username: Option<String>,
    /// Sealed at rest, never returned.
    auth_password: Option<String>,
    #[schema(example = true)]
    krisp_enabled: Option<bool>,
    /// A protojson duration: `"30s"`.
    #[schema(example = "30s")]
    ringing_timeout: Option<String>,
    /// A protojson duration: `"3600s"`.
    max_call_duration: Option<String>,
    /// `SIP_MEDIA_ENCRYPT_DISABLE`, `SIP_MEDIA_ENCRYPT_ALLOW`, `SIP_MEDIA_ENCRYPT_REQUIRE` (or
    /// 0, 1, 2).
    #[schema(value_type = Option<String>)]
    media_encryption: Option<serde_json::Value>,
}

/// `POST /sip/dispatch-rules`: trunkline's fields, or `lk sip dispatch create`'s file.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum DispatchRuleCreateBody {
    Trunkline(CreateDispatchRule),
    LiveKitFile(LkDispatchRuleFile),
}

/// The file of `lk sip dispatch create` (seed 002): `{"dispatch_rule": {…}}`
/// (`dispatchRule` is accepted too).
#[derive(Serialize, ToSchema)]
pub struct LkDispatchRuleFile {
    dispatch_rule: LkDispatchRule,
}

/// LiveKit's `SIPDispatchRuleInfo`, the fields trunkline supports. Here `numbers` are the
/// dialed numbers and `inboundNumbers` the callers'.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LkDispatchRule {
    rule: LkRule,
    #[schema(example = "Twilio Individual Room Dispatch")]
    name: String,
    metadata: Option<String>,
    trunk_ids: Option<Vec<String>>,
    numbers: Option<Vec<String>>,
    inbound_numbers: Option<Vec<String>>,
    room_config: Option<LkRoomConfig>,
}

/// Exactly one of the three.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LkRule {
    dispatch_rule_individual: Option<LkRoomRule>,
    dispatch_rule_direct: Option<LkRoomRule>,
    dispatch_rule_callee: Option<LkRoomRule>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LkRoomRule {
    #[schema(example = "call-")]
    room_prefix: Option<String>,
    room_name: Option<String>,
    pin: Option<String>,
    no_randomness: Option<bool>,
    randomize: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct LkRoomConfig {
    agents: Option<Vec<LkAgent>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LkAgent {
    #[schema(example = "voice-agent")]
    agent_name: Option<String>,
    metadata: Option<String>,
}
