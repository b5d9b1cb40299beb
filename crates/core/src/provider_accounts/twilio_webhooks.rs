//! Twilio's webhooks to an account (`/twilio/{provider_account_id}/…`): each request's
//! `X-Twilio-Signature` checked with the account's Auth Token over the public URL, then the
//! event recorded, and TwiML answered where Twilio expects instructions.
//!
//! `voice` serves numbers on Programmable Voice (rather than Elastic SIP Trunking): it dials
//! LiveKit's SIP endpoint for the called number, which LiveKit routes to the number's inbound
//! trunk, with that trunk's digest credentials if it has any.

use super::Credentials;
use crate::provisioning::inbound;
use crate::{ServiceResult, Services};
use serde_json::{Map, Value};
use trunkline_providers::twilio::signature::{Algorithm, RequestValidator};
use trunkline_providers::Secret;
use trunkline_store::{now_micros, ProviderAccountRow, ProviderEventRow};

/// The endpoints, as the last segment of their path.
pub const KINDS: [&str; 6] = [
    "voice",
    "voice-fallback",
    "status",
    "sms",
    "sms-fallback",
    "recording",
];

/// What `voice-fallback` (and `voice` when nothing can be dialed) says before hanging up.
pub const APOLOGY: &str =
    "We are sorry, this call cannot be connected right now. Please try again later.";

/// A webhook request as received.
pub struct WebhookRequest<'a> {
    /// The path and query as requested (`/twilio/PA_…/status?x=1`).
    pub path_and_query: &'a str,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
    pub signature: Option<&'a str>,
    /// `X-Twilio-Webhooks-Signature-Settings`.
    pub signature_settings: Option<&'a str>,
}

/// Why a request was refused before anything was recorded.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No such Twilio account: 404.
    UnknownAccount,
    /// Missing or wrong signature, or an account whose webhooks cannot be verified: 403.
    Signature(&'static str),
    /// `TRUNKLINE_PUBLIC_URL` is not set, so no signature can be checked: 503.
    NoPublicUrl,
}

/// The form fields of the request (a name may repeat).
fn params(req: &WebhookRequest<'_>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .map(|c| c.split(';').next().unwrap_or_default().trim())
        .is_some_and(|c| c.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

impl Services {
    /// The Twilio account a webhook names, and whether its signature holds.
    pub async fn verify_twilio_webhook(
        &self,
        account_id: &str,
        req: &WebhookRequest<'_>,
    ) -> Result<ProviderAccountRow, Refusal> {
        let row = match self.store.find_provider_account(account_id).await {
            Ok(Some(row)) if row.provider == "twilio" => row,
            Ok(_) => return Err(Refusal::UnknownAccount),
            Err(e) => {
                tracing::error!(error = %e, "provider account lookup failed");
                return Err(Refusal::Signature("the account could not be read"));
            }
        };
        let Some(public) = self.providers.public_url.as_deref() else {
            return Err(Refusal::NoPublicUrl);
        };
        let Some(signature) = req.signature.filter(|s| !s.is_empty()) else {
            return Err(Refusal::Signature(
                "the X-Twilio-Signature header is missing",
            ));
        };
        let Some(alg) = Algorithm::from_settings_header(req.signature_settings) else {
            return Err(Refusal::Signature(
                "X-Twilio-Webhooks-Signature-Settings names an unknown algorithm",
            ));
        };
        let token = match self.open_credentials(&row) {
            Ok(Credentials::Twilio {
                auth_token: Some(t),
                ..
            }) => t,
            Ok(_) => {
                return Err(Refusal::Signature(
                    "this account was added with an API key; Twilio signs webhooks with the Auth Token, so add the account with its auth_token to receive them",
                ))
            }
            Err(e) => {
                tracing::error!(error = %e, account = %row.id, "provider credentials unreadable");
                return Err(Refusal::Signature("the account's credentials could not be opened"));
            }
        };
        let url = format!("{public}{}", req.path_and_query);
        let validator = RequestValidator::new(Secret::new(token));
        let ok = if is_form(req.content_type) {
            validator.validate(&url, &params(req), signature, alg)
        } else {
            validator.validate_body(&url, req.body, signature, alg)
        };
        if ok {
            Ok(row)
        } else {
            Err(Refusal::Signature(
                "X-Twilio-Signature does not match the request (checked over TRUNKLINE_PUBLIC_URL, the path, the query and the parameters with the account's Auth Token)",
            ))
        }
    }

    /// Records a verified request and returns the TwiML to answer it with.
    pub async fn handle_twilio_webhook(
        &self,
        row: &ProviderAccountRow,
        kind: &str,
        req: &WebhookRequest<'_>,
    ) -> ServiceResult<String> {
        let (fields, pairs): (Map<String, Value>, Vec<(String, String)>) =
            if is_form(req.content_type) {
                let pairs = params(req);
                let mut m = Map::new();
                for (k, v) in &pairs {
                    m.entry(k.clone())
                        .or_insert_with(|| Value::String(v.clone()));
                }
                (m, pairs)
            } else {
                match serde_json::from_slice::<Value>(req.body) {
                    Ok(Value::Object(m)) => (m, vec![]),
                    _ => (Map::new(), vec![]),
                }
            };
        let get = |name: &str| {
            fields
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| {
                    pairs
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                })
        };
        let event = ProviderEventRow {
            id: format!("PE_{}", trunkline_domain::ids::random_hex()),
            account_id: row.id.clone(),
            kind: kind.to_owned(),
            call_sid: get("CallSid").filter(|s| s.len() <= 64),
            params: Value::Object(fields.clone()).to_string(),
            received_at: now_micros(),
        };
        self.store.insert_provider_event(&event).await?;
        Ok(match kind {
            "voice" => self.voice_twiml(row, get("To").as_deref()).await?,
            "voice-fallback" => apology(),
            _ => "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>".to_owned(),
        })
    }

    /// `<Dial><Sip>` to LiveKit for the called number when one of the tenant's inbound trunks
    /// answers it; the apology otherwise.
    async fn voice_twiml(
        &self,
        row: &ProviderAccountRow,
        to: Option<&str>,
    ) -> ServiceResult<String> {
        let Some(host) = self
            .providers
            .livekit_sip_uri
            .as_deref()
            .and_then(|u| u.strip_prefix("sip:"))
        else {
            tracing::warn!(account = %row.id, "a Twilio voice webhook arrived but LIVEKIT_SIP_URI is not set");
            return Ok(apology());
        };
        let Some(to) = to.and_then(|t| trunkline_domain::E164::parse("To", t).ok()) else {
            return Ok(apology());
        };
        for trunk in self.store.inbound_trunks().list(&row.tenant_id).await? {
            let config = inbound::open(&self.keyring, &trunk)?;
            if !config.numbers.contains(&to) {
                continue;
            }
            let mut attrs = String::new();
            if let (Some(user), Some(pass)) = (&config.auth_username, &config.auth_password) {
                attrs = format!(
                    " username=\"{}\" password=\"{}\"",
                    xml_escape(user),
                    xml_escape(pass.expose())
                );
            }
            return Ok(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial><Sip{attrs}>{}</Sip></Dial></Response>",
                xml_escape(&format!("sip:{}@{host}", to.as_str()))
            ));
        }
        Ok(apology())
    }
}

fn apology() -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>{}</Say><Hangup/></Response>",
        xml_escape(APOLOGY)
    )
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twiml_values_are_escaped() {
        assert_eq!(xml_escape("a&b<\"c'>"), "a&amp;b&lt;&quot;c&apos;&gt;");
        assert!(apology().contains("<Hangup/>"));
    }

    #[test]
    fn only_form_bodies_are_signed_as_parameters() {
        assert!(is_form(Some(
            "application/x-www-form-urlencoded; charset=utf-8"
        )));
        assert!(!is_form(Some("application/json")));
        assert!(!is_form(None));
    }
}
