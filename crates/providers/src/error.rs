//! One error type for every provider call, classified by what the caller should do about it
//! (the way livekit/sip's `errors.go` lets each error say its SIP status): show it to the
//! client, fix the account's credentials, create the missing object again, pick another
//! name, wait, or retry later. Messages name the provider and the provider's own code and
//! message; secrets never appear (see [`crate::secret::scrub`]).

use std::time::Duration;

/// The three carriers trunkline automates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Twilio,
    Exotel,
    Telnyx,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Twilio => "twilio",
            Provider::Exotel => "exotel",
            Provider::Telnyx => "telnyx",
        }
    }

    fn display_name(self) -> &'static str {
        match self {
            Provider::Twilio => "Twilio",
            Provider::Exotel => "Exotel",
            Provider::Telnyx => "Telnyx",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.display_name())
    }
}

/// How the rest of trunkline reacts to a provider error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The account's credentials were refused (401/403, Twilio 20003, Telnyx 10009/10010,
    /// Exotel 1010): the account must be fixed; retrying will not help.
    Credentials,
    /// The provider refused the input (4xx with its code and message): the client's to fix.
    InvalidInput,
    /// The object (or the account) does not exist: e.g. deleted out of band.
    NotFound,
    /// A uniqueness rule: a taken Twilio trunk domain (21248), an Exotel duplicate (1008),
    /// a Twilio object still in use (21247).
    Conflict,
    /// Over the provider's rate limit after the client's own bounded retries; nothing was
    /// done. [`ProviderError::retry_after`] says when to try again, if the provider said.
    RateLimited,
    /// Down, slow, or a 5xx: worth retrying later. See [`ProviderError::outcome_unknown`].
    Unavailable,
    /// Anything else: an answer trunkline cannot read, an unexpected status.
    Other,
}

impl ErrorKind {
    /// What an HTTP status says on its own, for an answer whose provider code (read first by
    /// each provider's `classify`) says nothing more specific.
    pub(crate) fn of_status(status: u16) -> ErrorKind {
        match status {
            401 | 403 => ErrorKind::Credentials,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            429 => ErrorKind::RateLimited,
            400..=499 => ErrorKind::InvalidInput,
            500..=599 => ErrorKind::Unavailable,
            _ => ErrorKind::Other,
        }
    }

    /// The metric label of a call that failed this way.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Credentials => "credentials",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Other => "other",
        }
    }
}

/// Whether the provider may have acted on the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The provider answered with a refusal, or the connection never opened: nothing changed.
    NotApplied,
    /// A timeout, a reset after sending, a 5xx or an unreadable success: the caller must look
    /// (list or fetch) before assuming nothing happened.
    Unknown,
}

#[derive(Debug, Clone)]
pub struct ProviderError {
    provider: Provider,
    kind: ErrorKind,
    outcome: Outcome,
    /// HTTP status of the answer (Exotel: the envelope's `response.code`); `None` without one.
    status: Option<u16>,
    /// The provider's own error code ("21248", "1008", "10015").
    code: Option<String>,
    /// The provider's message, or what went wrong on the way.
    message: String,
    /// The field the provider blamed (Telnyx `source.pointer`), when it said.
    field: Option<String>,
    retry_after: Option<Duration>,
}

impl ProviderError {
    /// An error answer from the provider's API.
    pub fn api(
        provider: Provider,
        kind: ErrorKind,
        status: u16,
        code: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        let outcome = match kind {
            ErrorKind::Unavailable | ErrorKind::Other => Outcome::Unknown,
            _ => Outcome::NotApplied,
        };
        Self {
            provider,
            kind,
            outcome,
            status: Some(status),
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// No answer: `outcome` says whether the request may have reached the provider.
    pub fn unavailable(provider: Provider, outcome: Outcome, message: impl Into<String>) -> Self {
        Self {
            provider,
            kind: ErrorKind::Unavailable,
            outcome,
            status: None,
            code: None,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// An answer trunkline cannot read. A success status makes the outcome unknown.
    pub fn bad_response(provider: Provider, status: u16, message: impl Into<String>) -> Self {
        Self {
            provider,
            kind: ErrorKind::Other,
            outcome: Outcome::Unknown,
            status: Some(status),
            code: None,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// Input refused before anything was sent (a malformed SID, a bad base URL).
    pub fn invalid_input(provider: Provider, message: impl Into<String>) -> Self {
        Self {
            provider,
            kind: ErrorKind::InvalidInput,
            outcome: Outcome::NotApplied,
            status: None,
            code: None,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub(crate) fn with_field(mut self, field: Option<String>) -> Self {
        self.field = field;
        self
    }

    pub(crate) fn with_retry_after(mut self, d: Option<Duration>) -> Self {
        self.retry_after = d;
        self
    }

    pub(crate) fn scrubbed(mut self, secrets: &[&crate::Secret]) -> Self {
        self.message = crate::secret::scrub(&self.message, secrets);
        self
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn status(&self) -> Option<u16> {
        self.status
    }

    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether the provider may have carried out the request despite the error.
    pub fn outcome_unknown(&self) -> bool {
        self.outcome == Outcome::Unknown
    }

    /// Twilio's 21248: the trunk domain is taken, by someone else or by a trunk deleted in the
    /// last 30 days (PROVIDERS.md §1.7). The cure is another domain, not a retry.
    pub fn is_twilio_domain_taken(&self) -> bool {
        self.provider == Provider::Twilio && self.code.as_deref() == Some("21248")
    }
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            ErrorKind::Credentials => "refused the account's credentials",
            ErrorKind::InvalidInput => "rejected the request",
            ErrorKind::NotFound => "has no such object",
            ErrorKind::Conflict => "reported a conflict",
            ErrorKind::RateLimited => "is rate limiting requests",
            ErrorKind::Unavailable => "is unavailable",
            ErrorKind::Other => "failed",
        };
        write!(f, "{} {what}", self.provider)?;
        match (&self.code, self.message.is_empty()) {
            (Some(code), false) => write!(f, ": error {code}: {}", self.message)?,
            (Some(code), true) => write!(f, ": error {code}")?,
            (None, false) => write!(f, ": {}", self.message)?,
            (None, true) => {}
        }
        if let Some(field) = &self.field {
            write!(f, " (field {field})")?;
        }
        if let Some(status) = self.status {
            write!(f, " [HTTP {status}]")?;
        }
        if let Some(d) = self.retry_after {
            write!(f, "; retry after {} s", d.as_secs().max(1))?;
        }
        Ok(())
    }
}

impl std::error::Error for ProviderError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_provider_code_and_message() {
        let e = ProviderError::api(
            Provider::Twilio,
            ErrorKind::Conflict,
            400,
            Some("21248".into()),
            "Trunk Domain already taken",
        );
        assert_eq!(
            e.to_string(),
            "Twilio reported a conflict: error 21248: Trunk Domain already taken [HTTP 400]"
        );
        assert!(e.is_twilio_domain_taken());
        assert!(!e.outcome_unknown());
    }

    #[test]
    fn field_and_retry_after_are_shown() {
        let e = ProviderError::api(
            Provider::Telnyx,
            ErrorKind::RateLimited,
            429,
            Some("10011".into()),
            "Too many requests",
        )
        .with_retry_after(Some(Duration::from_secs(7)))
        .with_field(Some("/user_name".into()));
        assert_eq!(
            e.to_string(),
            "Telnyx is rate limiting requests: error 10011: Too many requests (field /user_name) [HTTP 429]; retry after 7 s"
        );
    }

    #[test]
    fn outcome_follows_the_kind() {
        let table = [
            (ErrorKind::Credentials, false),
            (ErrorKind::InvalidInput, false),
            (ErrorKind::NotFound, false),
            (ErrorKind::Conflict, false),
            (ErrorKind::RateLimited, false),
            (ErrorKind::Unavailable, true),
            (ErrorKind::Other, true),
        ];
        for (kind, unknown) in table {
            let e = ProviderError::api(Provider::Exotel, kind, 500, None, "m");
            assert_eq!(e.outcome_unknown(), unknown, "{kind:?}");
        }
        let refused = ProviderError::unavailable(Provider::Exotel, Outcome::NotApplied, "refused");
        assert!(!refused.outcome_unknown());
        assert_eq!(refused.to_string(), "Exotel is unavailable: refused");
    }
}
