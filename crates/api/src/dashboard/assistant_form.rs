//! The assistant form: what was typed, its reading into the domain's `RawAssistant` (a
//! number or JSON that does not parse is an error by its field), and its rendering with each
//! error beside its field. Assistants hold no secret of their own.

use super::layout::{csrf_field, Field, InputExtra};
use super::session::{posted, FormData, Session};
use super::trunk_form::{note, opt, FieldErrors};
use maud::{html, Markup};
use trunkline_domain::assistant::{metadata_text, AssistantConfig, RawAssistant};
use trunkline_domain::ValidationErrors;

/// The form's fields as typed.
#[derive(Default, Clone)]
pub struct AssistantForm {
    pub name: String,
    pub agent_name: String,
    pub metadata: String,
    pub end_call_webhook_url: String,
    pub ringing_timeout: String,
    pub max_call_duration: String,
}

const LABELS: &[(&str, &str)] = &[
    ("name", "Assistant name"),
    ("agent_name", "Agent name"),
    ("metadata", "Metadata"),
    ("end_call_webhook_url", "End-of-call webhook URL"),
    ("ringing_timeout", "Ringing timeout"),
    ("max_call_duration", "Longest call"),
];

fn label_of(field: &str) -> &'static str {
    LABELS
        .iter()
        .find(|(f, _)| *f == field)
        .map_or("The assistant", |(_, l)| l)
}

/// Spreads validation errors over the form's fields, each message led by the field's label.
pub fn by_field(errors: &ValidationErrors) -> FieldErrors {
    let mut out = FieldErrors::new();
    for e in &errors.0 {
        let field = LABELS
            .iter()
            .find(|(f, _)| *f == e.field)
            .map_or("form", |(f, _)| f);
        let message = format!("{} {}", label_of(field), e.message);
        note(&mut out, field, message);
    }
    out
}

fn seconds(errors: &mut ValidationErrors, field: &str, typed: &str) -> Option<u64> {
    if typed.is_empty() {
        return None;
    }
    match typed.parse::<u64>() {
        Ok(v) => Some(v),
        Err(_) => {
            errors.push(
                field,
                format!("must be a whole number of seconds; got {typed:?}"),
            );
            None
        }
    }
}

impl AssistantForm {
    pub fn from_post(form: &FormData) -> Self {
        posted!(
            form,
            Self {
                name,
                agent_name,
                metadata,
                end_call_webhook_url,
                ringing_timeout,
                max_call_duration,
            }
        )
    }

    pub fn from_stored(name: &str, c: &AssistantConfig) -> Self {
        Self {
            name: name.to_owned(),
            agent_name: c.agent_name.clone(),
            metadata: c.metadata.as_ref().map(metadata_text).unwrap_or_default(),
            end_call_webhook_url: c.end_call_webhook_url.clone().unwrap_or_default(),
            ringing_timeout: c.ringing_timeout.map(|s| s.to_string()).unwrap_or_default(),
            max_call_duration: c
                .max_call_duration
                .map(|s| s.to_string())
                .unwrap_or_default(),
        }
    }

    /// The assistant as the API would receive it; an empty field is an absent one. Metadata
    /// that is not JSON is kept as the text typed, as the API keeps a JSON string.
    pub fn raw(&self) -> Result<RawAssistant, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let ringing_timeout = seconds(&mut errors, "ringing_timeout", &self.ringing_timeout);
        let max_call_duration = seconds(&mut errors, "max_call_duration", &self.max_call_duration);
        let metadata = opt(&self.metadata).map(|m| {
            serde_json::from_str::<serde_json::Value>(&m)
                .ok()
                .filter(|v| v.is_object() || v.is_array())
                .unwrap_or(serde_json::Value::String(m))
        });
        errors.into_result(|| RawAssistant {
            name: Some(self.name.clone()),
            agent_name: opt(&self.agent_name),
            metadata,
            end_call_webhook_url: opt(&self.end_call_webhook_url),
            max_call_duration,
            ringing_timeout,
        })
    }
}

/// Where the form posts.
pub enum Mode<'a> {
    Create,
    Edit { assistant_id: &'a str },
}

/// The form with what was typed and the errors beside their fields; `problem` is an error
/// about no one field (a quota, an outage).
pub fn render(
    session: &Session,
    mode: &Mode,
    form: &AssistantForm,
    errors: &FieldErrors,
    problem: Option<&str>,
) -> Markup {
    let err = |name: &str| errors.get(name).map(String::as_str);
    let (action, button) = match mode {
        Mode::Create => ("/ui/assistants".to_owned(), "Create assistant"),
        Mode::Edit { assistant_id } => (format!("/ui/assistants/{assistant_id}"), "Save"),
    };
    let count = errors.len();
    html! {
        form #assistant-form .stack method="post" action=(action) novalidate
            hx-post=(action) hx-target="#assistant-form" hx-select="#assistant-form" hx-swap="outerHTML" {
            (csrf_field(session))
            @if count > 0 {
                div.notice.error role="alert" {
                    p { strong { "The assistant was not saved: " (count) " " (if count == 1 { "field needs" } else { "fields need" }) " fixing." } }
                    ul { @for (field, message) in errors {
                        @if *field == "form" { li { (message) } }
                        @else { li { a href={ "#" (field) } { (message) } } }
                    } }
                }
            }
            @if let Some(p) = problem { div.notice.error role="alert" { (p) } }
            (Field { name: "name", label: "Assistant name", hint: Some("For you, e.g. Sales."), error: err("name") }
                .input("text", &form.name, InputExtra { required: true, ..Default::default() }))
            (Field { name: "agent_name", label: "Agent name", hint: Some("The agent_name your LiveKit agent registers with (WorkerOptions)."), error: err("agent_name") }
                .input("text", &form.agent_name, InputExtra { required: true, placeholder: Some("outbound-caller"), autocomplete: Some("off"), ..Default::default() }))
            (Field { name: "metadata", label: "Metadata", hint: Some("Optional: JSON (or text) handed to the agent's job, at most 16 KiB."), error: err("metadata") }
                .textarea(&form.metadata))
            (Field { name: "end_call_webhook_url", label: "End-of-call webhook URL", hint: Some("Optional: https address that receives each call's outcome, signed."), error: err("end_call_webhook_url") }
                .input("text", &form.end_call_webhook_url, InputExtra { placeholder: Some("https://example.com/hooks/calls"), autocomplete: Some("off"), ..Default::default() }))
            (Field { name: "ringing_timeout", label: "Ringing timeout", hint: Some("Seconds, 1 to 600; empty for the default (30)."), error: err("ringing_timeout") }
                .input("text", &form.ringing_timeout, InputExtra { autocomplete: Some("off"), ..Default::default() }))
            (Field { name: "max_call_duration", label: "Longest call", hint: Some("Seconds, 1 to 86400; empty for no limit."), error: err("max_call_duration") }
                .input("text", &form.max_call_duration, InputExtra { autocomplete: Some("off"), ..Default::default() }))
            div.actions {
                button type="submit" { (button) }
                a.button.secondary href="/ui/assistants" { "Back to assistants" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_that_does_not_parse_is_named_by_its_field_and_label() {
        let form = AssistantForm {
            name: "Sales".into(),
            agent_name: "outbound-caller".into(),
            ringing_timeout: "thirty".into(),
            ..Default::default()
        };
        let fields = by_field(&form.raw().expect_err("refused"));
        assert_eq!(
            fields.get("ringing_timeout").map(String::as_str),
            Some("Ringing timeout must be a whole number of seconds; got \"thirty\"")
        );
        assert_eq!(fields.len(), 1);
    }

    #[test]
    fn json_metadata_is_kept_as_json_and_text_as_text() {
        let mut form = AssistantForm {
            metadata: r#"{"lang": "en"}"#.into(),
            ..Default::default()
        };
        assert_eq!(
            form.raw().unwrap().metadata,
            Some(serde_json::json!({"lang": "en"}))
        );
        form.metadata = "plain words".into();
        assert_eq!(
            form.raw().unwrap().metadata,
            Some(serde_json::json!("plain words"))
        );
    }
}
