//! Assistants: a tenant's dispatch profile. An outbound call names one, and is dialed with its
//! LiveKit agent, its metadata, its limits, and reported to its end-of-call webhook.

use crate::errors::{FieldError, ValidationErrors};
use crate::sip_address::HostName;
use crate::text;
use serde::{Deserialize, Serialize};

/// Bounds shared with inbound trunks: a longer "ringing" is a unit mistake.
pub const MAX_RINGING_SECS: u64 = 600;
pub const MAX_CALL_SECS: u64 = 24 * 3600;
/// LiveKit keeps metadata in every participant and job; keep it small.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// A validated assistant, stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantConfig {
    pub agent_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_call_webhook_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_call_duration: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ringing_timeout: Option<u64>,
}

/// An assistant as a client sends it. PATCH merges the client's object over the stored one
/// and validates the result as a whole, so both share these rules.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssistant {
    pub name: Option<String>,
    pub agent_name: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub end_call_webhook_url: Option<String>,
    pub max_call_duration: Option<u64>,
    pub ringing_timeout: Option<u64>,
}

/// Where outbound HTTP from trunkline may go. Tenants choose webhook URLs; without this an
/// API key could make the service probe the operator's own network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetPolicy {
    /// https to public hosts only.
    PublicOnly,
    /// Labs and tests (`TRUNKLINE_ALLOW_PRIVATE_TARGETS`): internal hosts and plain http too.
    AllowInternal,
}

impl RawAssistant {
    pub fn validate(
        &self,
        policy: TargetPolicy,
    ) -> Result<(String, AssistantConfig), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = text::required_name(&mut errors, "name", self.name.as_deref(), 128);
        let agent_name = match self.agent_name.as_deref() {
            Some(a) => errors.take(agent_name("agent_name", a)),
            None => {
                errors.push("agent_name", "is required: the name your LiveKit agent registers with (WorkerOptions agent_name)");
                None
            }
        };
        if let Some(m) = &self.metadata {
            let len = metadata_text(m).len();
            if len > MAX_METADATA_BYTES {
                errors.push(
                    "metadata",
                    format!("must be at most {MAX_METADATA_BYTES} bytes as JSON; got {len}"),
                );
            }
        }
        let url = self
            .end_call_webhook_url
            .as_deref()
            .and_then(|u| errors.take(webhook_url("end_call_webhook_url", u, policy)));
        seconds(
            &mut errors,
            "max_call_duration",
            self.max_call_duration,
            MAX_CALL_SECS,
        );
        seconds(
            &mut errors,
            "ringing_timeout",
            self.ringing_timeout,
            MAX_RINGING_SECS,
        );
        errors.into_result(|| {
            (
                name.unwrap_or_default(),
                AssistantConfig {
                    agent_name: agent_name.unwrap_or_default(),
                    metadata: self.metadata.clone(),
                    end_call_webhook_url: url,
                    max_call_duration: self.max_call_duration,
                    ringing_timeout: self.ringing_timeout,
                },
            )
        })
    }
}

/// Metadata as the agent receives it: a string as is, anything else as compact JSON.
pub fn metadata_text(m: &serde_json::Value) -> String {
    match m {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A LiveKit agent name: what `agent_name` in the agent's WorkerOptions says. Spaces or
/// control characters there are always a paste mistake.
pub fn agent_name(field: &str, raw: &str) -> Result<String, FieldError> {
    let ok = !raw.is_empty()
        && raw.len() <= 128
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(FieldError::new(
            field,
            "must be 1 to 128 characters of letters, digits, '-', '_', '.' or ':' (the agent_name your LiveKit agent registers with)",
        ))
    }
}

fn seconds(errors: &mut ValidationErrors, field: &str, v: Option<u64>, max: u64) {
    if let Some(v) = v {
        if v == 0 || v > max {
            errors.push(field, format!("must be 1 to {max} seconds; got {v}"));
        }
    }
}

/// An end-of-call webhook URL: absolute https (http only where internal targets are allowed),
/// no credentials in it, a host that is not the operator's own network.
pub fn webhook_url(field: &str, raw: &str, policy: TargetPolicy) -> Result<String, FieldError> {
    let bad = |why: &str| FieldError::new(field, why.to_owned());
    if raw.len() > 2048 {
        return Err(bad("must be at most 2048 characters"));
    }
    let url =
        url::Url::parse(raw).map_err(|e| bad(&format!("must be an absolute https URL ({e})")))?;
    match (url.scheme(), policy) {
        ("https", _) | ("http", TargetPolicy::AllowInternal) => {}
        _ => return Err(bad("must be an https URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "must not carry credentials: verify our signature instead (webhook-signature)",
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| bad("must name a host"))?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let host = HostName::parse(field, host)?;
    if policy == TargetPolicy::PublicOnly && host.is_internal() {
        return Err(bad(
            "must be a public address: the host is loopback, private, link-local or otherwise internal",
        ));
    }
    Ok(url.to_string())
}

#[cfg(test)]
#[path = "assistant_tests.rs"]
mod tests;
