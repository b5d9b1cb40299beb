//! The outbound trunk form (seed 001's fields): what was typed, its validation by the domain's
//! rules, and its rendering with each error beside its field. The password is write-only: the
//! form never shows a stored password, and never sends a typed one back (htmx keeps the
//! browser's copy across a re-render with `hx-preserve`).

use super::layout::{csrf_field, notice, Field, InputExtra};
use super::session::{FormData, Session};
use maud::{html, Markup};
use std::collections::BTreeMap;
use trunkline_domain::trunk::{PublicConfig, RawSipTrunkConfig};
use trunkline_domain::{text, SipTrunkConfig, TrunkType, ValidationErrors};

pub const PROVIDERS: &[(&str, &str)] = &[
    ("twilio", "Twilio"),
    ("telnyx", "Telnyx"),
    ("sip", "Other SIP provider"),
];
const TRANSPORTS: &[(&str, &str)] = &[
    ("auto", "Auto"),
    ("udp", "UDP"),
    ("tcp", "TCP"),
    ("tls", "TLS"),
];
const MEDIA: &[(&str, &str)] = &[
    ("disabled", "Media encryption disabled"),
    ("allowed", "Allowed (SRTP when the provider offers it)"),
    ("required", "Required (SRTP only)"),
];

/// The form's fields as typed (the password is never part of what is shown back).
#[derive(Default, Clone)]
pub struct OutboundTrunkForm {
    pub trunk_name: String,
    pub provider: String,
    pub address: String,
    pub numbers: String,
    pub username: String,
    pub password: String,
    pub transport: String,
    pub media_encryption: String,
}

/// Errors by form field name, in the order they were found.
pub type FieldErrors = BTreeMap<&'static str, String>;

/// Which form field an API field path (`trunk_config.numbers[1]`) belongs to.
fn form_field(path: &str) -> &'static str {
    let name = path.strip_prefix("trunk_config.").unwrap_or(path);
    let name = name.split('[').next().unwrap_or(name);
    match name {
        "trunk_name" => "trunk_name",
        "trunk_type" => "provider",
        "address" => "address",
        "numbers" => "numbers",
        "username" => "username",
        "password" => "password",
        "transport" => "transport",
        "media_encryption" => "media_encryption",
        _ => "form",
    }
}

/// Spreads validation errors over the form's fields; several for one field are joined.
pub fn by_field(errors: &ValidationErrors, form: &OutboundTrunkForm) -> FieldErrors {
    let numbers = split_numbers(&form.numbers);
    let mut out = FieldErrors::new();
    for e in &errors.0 {
        let field = form_field(&e.field);
        // "numbers[1]" is the second number typed: say which one.
        let message = match e.field.rsplit_once('[') {
            Some((_, idx)) if field == "numbers" => {
                let i: usize = idx.trim_end_matches(']').parse().unwrap_or(0);
                match numbers.get(i) {
                    Some(n) => format!("{n:?} (number {}) {}", i + 1, e.message),
                    None => e.message.clone(),
                }
            }
            _ => format!("{} {}", label_of(field), e.message),
        };
        out.entry(field)
            .and_modify(|m| {
                m.push_str("; ");
                m.push_str(&message);
            })
            .or_insert(message);
    }
    out
}

fn label_of(field: &str) -> &'static str {
    match field {
        "trunk_name" => "Trunk name",
        "provider" => "Provider",
        "address" => "Address",
        "numbers" => "Numbers",
        "username" => "Username",
        "password" => "Password",
        "transport" => "Transport",
        "media_encryption" => "Media encryption",
        _ => "The trunk",
    }
}

/// Numbers as seed 001 writes them: comma-separated (spaces and new lines also separate).
pub fn split_numbers(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

impl OutboundTrunkForm {
    pub fn from_post(form: &FormData) -> Self {
        Self {
            trunk_name: form.get("trunk_name").to_owned(),
            provider: form.get("provider").to_owned(),
            address: form.get("address").to_owned(),
            numbers: form.get("numbers").to_owned(),
            username: form.get("username").to_owned(),
            password: form.raw("password").to_owned(),
            transport: form.get("transport").to_owned(),
            media_encryption: form.get("media_encryption").to_owned(),
        }
    }

    pub fn blank() -> Self {
        Self {
            provider: "sip".into(),
            transport: "auto".into(),
            media_encryption: "disabled".into(),
            ..Self::default()
        }
    }

    /// The stored trunk's values (never its password).
    pub fn from_stored(name: &str, kind: &str, config: &PublicConfig) -> Option<Self> {
        let PublicConfig::Sip {
            address,
            numbers,
            username,
            transport,
            media_encryption,
            ..
        } = config
        else {
            return None;
        };
        Some(Self {
            trunk_name: name.to_owned(),
            provider: kind.to_owned(),
            address: address.clone(),
            numbers: numbers.join(","),
            username: username.clone().unwrap_or_default(),
            password: String::new(),
            transport: transport.clone(),
            media_encryption: media_encryption.clone(),
        })
    }

    fn kind(&self, errors: &mut ValidationErrors) -> Option<TrunkType> {
        match TrunkType::parse("trunk_type", &self.provider) {
            Ok(TrunkType::Exotel) | Err(_) => {
                errors.push("trunk_type", "must be Twilio, Telnyx or Other SIP provider");
                None
            }
            Ok(k) => Some(k),
        }
    }

    fn raw(&self, password: Option<Option<String>>) -> RawSipTrunkConfig {
        RawSipTrunkConfig {
            address: Some(self.address.clone()),
            numbers: Some(split_numbers(&self.numbers)),
            username: Some(opt(&self.username)),
            password,
            transport: Some(self.transport.clone()),
            media_encryption: Some(self.media_encryption.clone()),
        }
    }

    /// A new trunk: name, provider and configuration, or every rule broken.
    pub fn validate_new(&self) -> Result<(String, TrunkType, SipTrunkConfig), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = text::required_name(
            &mut errors,
            "trunk_name",
            Some(self.trunk_name.as_str()),
            100,
        );
        let kind = self.kind(&mut errors);
        let config = kind.and_then(|k| {
            match self
                .raw(Some(opt(&self.password)))
                .validate(k, "trunk_config")
            {
                Ok(c) => Some(c),
                Err(more) => {
                    errors.0.extend(more.0);
                    None
                }
            }
        });
        match (name, kind, config) {
            (Some(n), Some(k), Some(c)) if errors.is_empty() => Ok((n, k, c)),
            _ => Err(errors),
        }
    }

    /// A change to a stored trunk of `kind`: an empty password keeps the stored one, unless
    /// the username is emptied too (then the trunk has no credentials).
    pub fn validate_edit(
        &self,
        kind: TrunkType,
        current: &SipTrunkConfig,
    ) -> Result<(String, SipTrunkConfig), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = text::required_name(
            &mut errors,
            "trunk_name",
            Some(self.trunk_name.as_str()),
            100,
        );
        if self.provider != kind.as_str() {
            errors.push(
                "trunk_type",
                format!("cannot change (this trunk is {kind}); create a new trunk instead"),
            );
        }
        let password = match (self.password.is_empty(), self.username.is_empty()) {
            (false, _) => Some(Some(self.password.clone())),
            (true, true) => Some(None),
            (true, false) => None,
        };
        let config = match self.raw(password).apply_to(current, kind, "trunk_config") {
            Ok(c) => Some(c),
            Err(more) => {
                errors.0.extend(more.0);
                None
            }
        };
        match (name, config) {
            (Some(n), Some(c)) if errors.is_empty() => Ok((n, c)),
            _ => Err(errors),
        }
    }
}

/// Where the form posts, and what it is for.
pub enum Mode<'a> {
    Create,
    Edit {
        trunk_id: &'a str,
        password_set: bool,
    },
}

/// The form with the values typed and the errors beside their fields. `problem` is an error
/// that is not about one field (LiveKit refused, a quota).
pub fn render(
    session: &Session,
    mode: &Mode,
    form: &OutboundTrunkForm,
    errors: &FieldErrors,
    problem: Option<&str>,
) -> Markup {
    let err = |name: &str| errors.get(name).map(String::as_str);
    let (action, button) = match mode {
        Mode::Create => ("/ui/trunks".to_owned(), "Create trunk"),
        Mode::Edit { trunk_id, .. } => (format!("/ui/trunks/{trunk_id}"), "Save"),
    };
    let password_hint = match mode {
        Mode::Create => "Required for Twilio. Stored encrypted; never shown again.",
        Mode::Edit { password_set: true, .. } => {
            "A password is set. Leave this empty to keep it; type a new one to replace it. Empty it together with the username to remove the credentials."
        }
        Mode::Edit { .. } => "No password is set. Stored encrypted; never shown again.",
    };
    let count = errors.len();
    html! {
        form #trunk-form .stack method="post" action=(action) novalidate
            hx-post=(action) hx-target="#trunk-form" hx-select="#trunk-form" hx-swap="outerHTML" {
            (csrf_field(session))
            @if count > 0 {
                div.notice.error role="alert" {
                    p { strong { "The trunk was not saved: " (count) " " (if count == 1 { "field needs" } else { "fields need" }) " fixing." } }
                    ul {
                        @for (field, message) in errors {
                            @if *field == "form" { li { (message) } }
                            @else { li { a href={ "#" (field) } { (message) } } }
                        }
                    }
                }
            }
            @if let Some(p) = problem { div.notice.error role="alert" { (p) } }
            (Field { name: "trunk_name", label: "Trunk name", hint: Some("For you, e.g. Emily Outbound Trunk."), error: err("trunk_name") }
                .input("text", &form.trunk_name, InputExtra { required: true, ..Default::default() }))
            (Field { name: "provider", label: "Provider", hint: None, error: err("provider") }
                .select(PROVIDERS, &form.provider))
            (Field { name: "address", label: "Address", hint: Some("The provider's SIP host, with an optional port: sip:your-project.livekit.cloud or example.pstn.twilio.com:5060."), error: err("address") }
                .input("text", &form.address, InputExtra { required: true, placeholder: Some("example.pstn.twilio.com"), ..Default::default() }))
            (Field { name: "numbers", label: "Numbers", hint: Some("Your numbers (caller IDs) in E.164, comma-separated: +15551234567,+15551234568."), error: err("numbers") }
                .input("text", &form.numbers, InputExtra { required: true, placeholder: Some("+15551234567"), ..Default::default() }))
            (Field { name: "username", label: "Username", hint: Some("For SIP digest authentication; optional except for Twilio."), error: err("username") }
                .input("text", &form.username, InputExtra { autocomplete: Some("off"), ..Default::default() }))
            (Field { name: "password", label: "Password", hint: Some(password_hint), error: err("password") }
                .input("password", "", InputExtra { autocomplete: Some("new-password"), preserve: true, ..Default::default() }))
            (Field { name: "transport", label: "Transport", hint: None, error: err("transport") }
                .select(TRANSPORTS, &form.transport))
            (Field { name: "media_encryption", label: "Media encryption", hint: Some("SRTP. Start disabled while testing; require it in production."), error: err("media_encryption") }
                .select(MEDIA, &form.media_encryption))
            div.actions {
                button type="submit" { (button) }
                @match mode {
                    Mode::Create => a.button.secondary href="/ui/trunks" { "Back to trunks" },
                    Mode::Edit { trunk_id, .. } => a.button.secondary href={ "/ui/trunks/" (trunk_id) } { "Back to the trunk" },
                }
            }
            @if count > 0 && !form.password.is_empty() {
                (notice("", "The password is not sent back to the browser: if this page was reloaded, type it again."))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_number_is_named_by_what_was_typed() {
        let form = OutboundTrunkForm {
            trunk_name: "T".into(),
            provider: "sip".into(),
            address: "sip.example.com".into(),
            numbers: "+15551234567, 555-1234".into(),
            transport: "auto".into(),
            media_encryption: "disabled".into(),
            ..Default::default()
        };
        let Err(errors) = form.validate_new() else {
            panic!("a bad number must be refused")
        };
        let fields = by_field(&errors, &form);
        let numbers = fields.get("numbers").expect("numbers error");
        assert!(numbers.contains("\"555-1234\" (number 2)"), "{numbers}");
        assert_eq!(fields.len(), 1, "{fields:?}");
    }

    #[test]
    fn twilio_needs_credentials_and_exotel_is_not_offered() {
        let mut form = OutboundTrunkForm {
            trunk_name: "T".into(),
            provider: "twilio".into(),
            address: "example.pstn.twilio.com".into(),
            numbers: "+15551234567".into(),
            transport: "auto".into(),
            media_encryption: "disabled".into(),
            ..Default::default()
        };
        let fields = by_field(&form.validate_new().err().unwrap(), &form);
        assert!(fields.contains_key("username") && fields.contains_key("password"));
        form.provider = "exotel".into();
        let fields = by_field(&form.validate_new().err().unwrap(), &form);
        assert!(fields.contains_key("provider"), "{fields:?}");
    }
}
