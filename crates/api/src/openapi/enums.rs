//! The string fields that take a fixed set of values, with those values read from the lists
//! the code itself parses and writes (`TrunkType::ALL`, `Diagnosis::ALL`, …), so the document
//! cannot fall behind when a value is added. The wire types keep `String` fields (some are
//! the seed's), so the sets are attached here, by schema and property name.

use serde_json::Value;
use trunkline_core::provisioning::status::Status;
use trunkline_domain::call::CallStatus;
use trunkline_domain::trunk::{MediaEncryption, Transport};
use trunkline_domain::TrunkType;
use trunkline_sip::{Diagnosis, ProbeTransport};
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};

/// Provisioning statuses a client can see: pending rows and tombstones are never shown.
pub fn visible_statuses() -> Vec<&'static str> {
    Status::ALL
        .into_iter()
        .filter(|s| !matches!(s, Status::Pending | Status::Deleted | Status::Abandoned))
        .map(Status::as_str)
        .collect()
}

/// Call statuses as clients see them (a claim shows as `queued`).
pub fn public_call_statuses() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = vec![];
    for s in CallStatus::ALL.map(CallStatus::public) {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

pub fn diagnoses() -> Vec<&'static str> {
    Diagnosis::ALL.map(Diagnosis::code).to_vec()
}

/// `(schema, property, values)`: every enumerated string field of the document.
pub fn table() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    let trunk_types: Vec<_> = TrunkType::ALL.iter().map(|t| t.as_str()).collect();
    let media: Vec<_> = MediaEncryption::ALL.iter().map(|m| m.as_str()).collect();
    let transports: Vec<_> = Transport::ALL.iter().map(|t| t.as_str()).collect();
    let probe_transports: Vec<_> = ProbeTransport::ALL.map(ProbeTransport::as_str).to_vec();
    vec![
        ("CreateOutboundTrunk", "trunk_type", trunk_types.clone()),
        ("PatchTrunk", "trunk_type", trunk_types.clone()),
        ("TrunkListItem", "trunk_type", trunk_types.clone()),
        ("TrunkDetails", "trunk_type", trunk_types),
        ("SipTrunkConfigInput", "transport", transports),
        ("SipTrunkConfigInput", "media_encryption", media.clone()),
        ("CreateInboundTrunk", "media_encryption", media.clone()),
        ("PatchInboundTrunk", "media_encryption", media.clone()),
        ("InboundTrunkDetails", "media_encryption", media),
        ("CreatedTrunk", "status", visible_statuses()),
        ("Provisioning", "status", visible_statuses()),
        ("TrunkTestResult", "diagnosis", diagnoses()),
        ("TrunkTestResult", "transport", probe_transports),
        ("TrunkHealth", "last_diagnosis", diagnoses()),
        ("TrunkHealth", "state", vec!["unknown", "up", "down"]),
        ("CallView", "status", public_call_statuses()),
        ("Queued", "status", public_call_statuses()),
        ("RuleInput", "type", vec!["individual", "direct", "callee"]),
    ]
}

/// Sets each table entry's `enum` (with `null` where the field is nullable). Panics on an
/// entry whose schema or property is gone: a renamed field must not silently lose its set
/// (the document is built in a test, so this fails CI, not a server).
pub fn apply(doc: &mut OpenApi) {
    let schemas = &mut doc
        .components
        .as_mut()
        .expect("the document has components")
        .schemas;
    for (schema, property, values) in table() {
        let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut(schema) else {
            panic!("OpenAPI enum table: no object schema {schema}");
        };
        let Some(RefOr::T(Schema::Object(field))) = object.properties.get_mut(property) else {
            panic!("OpenAPI enum table: {schema} has no plain property {property}");
        };
        let nullable = match &field.schema_type {
            SchemaType::Array(types) => types.contains(&Type::Null),
            _ => false,
        };
        let mut set: Vec<Value> = values.into_iter().map(Value::from).collect();
        if nullable {
            set.push(Value::Null);
        }
        field.enum_values = Some(set);
    }
}
