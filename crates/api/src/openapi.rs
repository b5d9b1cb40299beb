//! The OpenAPI 3.1 document, generated from the handlers' annotations and the wire types.

use crate::routes::{health, trunks};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "trunkline", description = "Telephony for LiveKit voice agents: SIP trunks per tenant, provisioned into LiveKit."),
    paths(
        trunks::create_outbound_trunk,
        trunks::list_trunks,
        trunks::get_trunk,
        trunks::patch_trunk,
        trunks::delete_trunk,
        trunks::deactivate_trunk,
        health::health,
        health::ready,
        openapi_json,
    ),
    components(schemas(
        crate::wire::CreateOutboundTrunk,
        crate::wire::PatchTrunk,
        crate::wire::TrunkConfigInput,
        crate::wire::SipTrunkConfigInput,
        crate::wire::ExotelConfigInput,
        crate::wire::CreatedTrunk,
        crate::wire::TrunkListItem,
        crate::wire::TrunkDetails,
        crate::wire::Provisioning,
        crate::wire::DeletedTrunk,
        crate::wire::Health,
        crate::wire::Readiness,
        crate::error::ErrorData,
        crate::error::FieldErrorBody,
    )),
    modifiers(&BearerAuth),
    tags((name = "trunks", description = "SIP trunks (seed 000)"), (name = "health"))
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

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "health",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
