//! The OpenAPI 3.1 document, generated from the handlers' annotations and the wire types,
//! then completed by what every route shares: the error answers (`common_responses`) and the
//! value sets of enumerated fields (`enums`). `crates/trunkline/tests/openapi_conformance.rs`
//! runs schemathesis with this document against a real server.

pub mod common_responses;
pub mod enums;
pub mod livekit_inputs;

use crate::routes::{health, trunks};
use std::sync::LazyLock;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "trunkline", description = "Telephony for LiveKit voice agents: SIP trunks, inbound numbers, dispatch rules and outbound calls per tenant, provisioned into LiveKit."),
    paths(
        trunks::create_outbound_trunk,
        trunks::list_trunks,
        trunks::get_trunk,
        trunks::patch_trunk,
        trunks::delete_trunk,
        trunks::deactivate_trunk,
        crate::routes::tenant_self::me,
        crate::routes::tenant_self::list_keys,
        crate::routes::tenant_self::create_key,
        crate::routes::tenant_self::revoke_key,
        crate::routes::outbound_trunks::create,
        crate::routes::outbound_trunks::list_outbound_trunks,
        crate::routes::outbound_trunks::show,
        crate::routes::outbound_trunks::update,
        crate::routes::outbound_trunks::remove,
        crate::routes::outbound_trunks::to_outbound_trunks,
        crate::routes::trunk_test::test_trunk,
        crate::routes::inbound_trunks::create_inbound_trunk,
        crate::routes::inbound_trunks::list_inbound_trunks,
        crate::routes::inbound_trunks::get_inbound_trunk,
        crate::routes::inbound_trunks::patch_inbound_trunk,
        crate::routes::inbound_trunks::delete_inbound_trunk,
        crate::routes::dispatch_rules::create_dispatch_rule,
        crate::routes::dispatch_rules::list_dispatch_rules,
        crate::routes::dispatch_rules::get_dispatch_rule,
        crate::routes::dispatch_rules::patch_dispatch_rule,
        crate::routes::dispatch_rules::delete_dispatch_rule,
        crate::routes::assistants::create,
        crate::routes::assistants::list,
        crate::routes::assistants::show,
        crate::routes::assistants::update,
        crate::routes::assistants::remove,
        crate::routes::assistants::rotate_secret,
        crate::routes::assistants::retire_previous_secret,
        crate::routes::calls::create,
        crate::routes::calls::list,
        crate::routes::calls::show,
        crate::routes::calls::cancel,
        crate::routes::call_transfer::transfer,
        crate::routes::warm_transfer::start,
        crate::routes::warm_transfer::complete,
        crate::routes::warm_transfer::cancel,
        crate::routes::warm_transfer::list,
        crate::routes::calls::deliveries,
        crate::routes::call_limits::get_limits,
        crate::routes::call_limits::put_limits,
        crate::routes::livekit_webhook::receive,
        crate::routes::trunk_health::get_health,
        crate::routes::trunk_health::put_health,
        crate::routes::provider_accounts::create,
        crate::routes::provider_accounts::list,
        crate::routes::provider_accounts::show,
        crate::routes::provider_accounts::remove,
        crate::routes::provider_accounts::numbers,
        crate::routes::provider_accounts::events,
        crate::routes::numbers::create,
        crate::routes::numbers::list,
        crate::routes::numbers::show,
        crate::routes::numbers::remove,
        crate::routes::twilio_webhooks::receive,
        crate::routes::audit::list_audit,
        crate::routes::config::export,
        crate::routes::config::import,
        health::health,
        health::ready,
        openapi_json,
    ),
    components(schemas(
        crate::wire::CreateOutboundTrunk,
        crate::wire::PatchTrunk,
        crate::wire::TrunkConfigInput,
        crate::wire::SipTrunkConfigInput,
        crate::wire::AutomatedTrunkConfigInput,
        crate::wire::ExotelConfigInput,
        crate::wire::CreatedTrunk,
        crate::wire::TrunkListItem,
        crate::wire::TrunkDetails,
        crate::wire::Provisioning,
        crate::wire::DeletedTrunk,
        crate::wire::TrunkPage,
        crate::routes::tenant_self::MeView,
        crate::routes::tenant_self::KeyView,
        crate::routes::tenant_self::NewKeyInput,
        crate::routes::tenant_self::CreatedKey,
        crate::routes::trunk_test::TrunkTestInput, crate::routes::trunk_test::TrunkTestResult, crate::routes::trunk_test::TrunkTestResponse,
        crate::wire::Health,
        crate::wire::Readiness,
        crate::routes::inbound_trunks::CreateInboundTrunk,
        crate::routes::inbound_trunks::PatchInboundTrunk,
        crate::routes::inbound_trunks::InboundTrunkDetails,
        crate::routes::inbound_trunks::DeletedInboundTrunk,
        crate::routes::dispatch_rules::CreateDispatchRule,
        crate::routes::dispatch_rules::PatchDispatchRule,
        crate::routes::dispatch_rules::RuleInput,
        crate::routes::dispatch_rules::AgentInput,
        crate::routes::dispatch_rules::RoomConfigInput,
        crate::routes::dispatch_rules::DispatchRuleDetails,
        crate::routes::dispatch_rules::DeletedDispatchRule,
        crate::routes::assistants::AssistantInput,
        crate::routes::assistants::AssistantView,
        crate::routes::assistants::RotatedSecret,
        crate::routes::calls::OutboundCallInput,
        crate::routes::call_transfer::TransferInput,
        crate::routes::warm_transfer::WarmTransferInput,
        crate::routes::warm_transfer::WarmTransferView,
        crate::routes::call_limits::LimitsInput,
        crate::routes::calls::Queued,
        crate::routes::calls::CallPage,
        crate::routes::calls::DeliveryView,
        crate::routes::call_limits::LimitsView,
        trunkline_core::calls::render::CallView,
        crate::routes::trunk_health::HealthCheckInput,
        crate::wire::TrunkHealth,
        crate::error::ErrorData,
        crate::error::FieldErrorBody,
        crate::routes::provider_accounts::ProviderAccountInput,
        crate::routes::provider_accounts::EventView,
        crate::routes::provider_accounts::EventPage,
        trunkline_core::provider_accounts::AccountView,
        trunkline_core::provider_accounts::NumberView,
        crate::routes::audit::AuditRecordView,
        crate::routes::audit::AuditPage,
        crate::routes::config::ConfigDocument,
        crate::routes::config::ImportResult,
        crate::config_doc::plan::Step,
        crate::config_doc::plan::Action,
        crate::config_doc::plan::MissingSecret,
        trunkline_core::provider_accounts::numbers::NumberSetup,
        crate::routes::numbers::NumberInput,
    )),
    modifiers(&BearerAuth, &SharedBehaviour),
    tags((name = "trunks", description = "SIP trunks (seed 000)"), (name = "inbound", description = "Inbound trunks and dispatch rules (seed 002)"), (name = "calls", description = "Assistants, outbound calls, call tracking and end-of-call webhooks"), (name = "providers", description = "Provider accounts (Twilio, Exotel, Telnyx), their numbers and webhook events"), (name = "configuration", description = "Audit of configuration changes, export and import"), (name = "health"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The error answers and the enumerated values, which the annotations do not carry.
struct SharedBehaviour;

impl Modify for SharedBehaviour {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        enums::apply(openapi);
        common_responses::apply(openapi);
    }
}

/// The document, built once (its modifiers walk every operation).
static DOCUMENT: LazyLock<bytes::Bytes> = LazyLock::new(|| {
    bytes::Bytes::from(serde_json::to_vec(&ApiDoc::openapi()).expect("the document serializes"))
});

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "health",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        DOCUMENT.clone(),
    )
        .into_response()
}
