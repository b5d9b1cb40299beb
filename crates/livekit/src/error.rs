use std::collections::HashMap;
use thiserror::Error;

/// What went wrong talking to LiveKit. Messages name LiveKit's URL and LiveKit's own words,
/// never our credentials.
#[derive(Debug, Error)]
pub enum LiveKitError {
    /// A Twirp error: `{code, msg, meta}` (twitchtv/twirp errors.go).
    #[error("LiveKit answered {code}: {msg}")]
    Twirp {
        status: u16,
        code: String,
        msg: String,
        meta: HashMap<String, String>,
    },
    /// LiveKit's auth middleware answers 401 in plain text (livekit `pkg/service/auth.go`).
    #[error("LiveKit rejected trunkline's API key or secret ({detail})")]
    Unauthorized { detail: String },
    /// No answer. `request_sent` is false only when the connection itself failed, the one
    /// case where LiveKit certainly did not act on the request.
    #[error("LiveKit unreachable at {url}: {detail}")]
    Unreachable {
        url: String,
        detail: String,
        request_sent: bool,
    },
    #[error("LiveKit at {url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("LiveKit at {url} sent a response trunkline cannot read: {detail}")]
    BadResponse { url: String, detail: String },
}

/// How the rest of trunkline reacts to a LiveKit error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// LiveKit refused the input: the client's fault, shown to the client.
    InvalidArgument,
    NotFound,
    /// Our API key/secret or grants were refused: an operator must fix the configuration.
    Credentials,
    /// Down, slow or overloaded: worth retrying later.
    Unavailable,
    /// Anything else LiveKit said.
    Other,
}

impl LiveKitError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Twirp { code, .. } => match code.as_str() {
                "invalid_argument"
                | "malformed"
                | "out_of_range"
                | "failed_precondition"
                | "already_exists" => ErrorKind::InvalidArgument,
                "not_found" => ErrorKind::NotFound,
                "unauthenticated" | "permission_denied" => ErrorKind::Credentials,
                "unavailable" | "deadline_exceeded" | "canceled" | "resource_exhausted" => {
                    ErrorKind::Unavailable
                }
                _ => ErrorKind::Other,
            },
            Self::Unauthorized { .. } => ErrorKind::Credentials,
            Self::Unreachable { .. } | Self::Timeout { .. } => ErrorKind::Unavailable,
            Self::BadResponse { .. } => ErrorKind::Other,
        }
    }

    /// Whether LiveKit may have carried out the request despite the error (a timeout, a reset
    /// after sending, a 5xx): the caller must look before assuming nothing happened.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::BadResponse { .. } => true,
            Self::Unreachable { request_sent, .. } => *request_sent,
            Self::Twirp { .. } => self.kind() == ErrorKind::Other,
            Self::Unauthorized { .. } => false,
        }
    }

    /// A sentence for trunkline's own clients: which component failed and how, without
    /// LiveKit's internal text or OS error strings (those go to the log via `Display`).
    pub fn public_message(&self) -> String {
        match self {
            Self::Twirp { code, .. } => format!("LiveKit returned an error ({code}); the details are in trunkline's log"),
            Self::Unauthorized { .. } => "LiveKit rejected trunkline's credentials: check LIVEKIT_API_KEY and LIVEKIT_API_SECRET".into(),
            Self::Unreachable { url, .. } => format!("LiveKit unreachable at {url}"),
            Self::Timeout { url, secs } => format!("LiveKit at {url} did not answer within {secs} s"),
            Self::BadResponse { url, .. } => format!("LiveKit at {url} sent a response trunkline cannot read"),
        }
    }

    /// A one-word state for unauthenticated readiness checks.
    pub fn readiness(&self) -> &'static str {
        match self.kind() {
            ErrorKind::Credentials => "credentials_rejected",
            ErrorKind::Unavailable => "unreachable",
            _ => "error",
        }
    }

    /// LiveKit's own message, for errors that are the client's to fix.
    pub fn livekit_message(&self) -> Option<&str> {
        match self {
            Self::Twirp { msg, .. } => Some(msg),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn twirp(code: &str) -> LiveKitError {
        LiveKitError::Twirp {
            status: 400,
            code: code.into(),
            msg: "m".into(),
            meta: HashMap::new(),
        }
    }

    #[test]
    fn kind_table() {
        let cases = [
            ("invalid_argument", ErrorKind::InvalidArgument),
            ("malformed", ErrorKind::InvalidArgument),
            ("out_of_range", ErrorKind::InvalidArgument),
            ("failed_precondition", ErrorKind::InvalidArgument),
            ("already_exists", ErrorKind::InvalidArgument),
            ("not_found", ErrorKind::NotFound),
            ("unauthenticated", ErrorKind::Credentials),
            ("permission_denied", ErrorKind::Credentials),
            ("unavailable", ErrorKind::Unavailable),
            ("deadline_exceeded", ErrorKind::Unavailable),
            ("resource_exhausted", ErrorKind::Unavailable),
            ("internal", ErrorKind::Other),
            ("unknown", ErrorKind::Other),
            ("bad_route", ErrorKind::Other),
        ];
        for (code, kind) in cases {
            assert_eq!(twirp(code).kind(), kind, "{code}");
        }
        assert_eq!(
            LiveKitError::Unauthorized { detail: "x".into() }.kind(),
            ErrorKind::Credentials
        );
        assert_eq!(
            LiveKitError::Timeout {
                url: "u".into(),
                secs: 1
            }
            .kind(),
            ErrorKind::Unavailable
        );
    }
}
