//! What a failed LiveKit request means for a call: a final status, a retry, or an outcome
//! nobody can know yet. Pure; every row table-tested.

use trunkline_domain::call::{sip_verdict, CallStatus, SipVerdict};
use trunkline_livekit::{ErrorKind, LiveKitError};

#[derive(Debug, Clone, PartialEq)]
pub enum DialOutcome {
    Final {
        status: CallStatus,
        sip_status_code: Option<u16>,
        error: String,
    },
    /// Nothing reached the callee: dialing again cannot ring them twice.
    Retry {
        sip_status_code: Option<u16>,
        error: String,
    },
    /// The request may have reached LiveKit and the INVITE may be out: wait for LiveKit's
    /// webhooks, never redial.
    Unknown { error: String },
}

/// The SIP status LiveKit reports in a Twirp error's `meta` (livekit/sip: `sip_status_code`).
pub fn sip_status(e: &LiveKitError) -> Option<u16> {
    match e {
        LiveKitError::Twirp { meta, .. } => meta.get("sip_status_code")?.parse().ok(),
        _ => None,
    }
}

/// A failure of CreateSIPParticipant.
pub fn classify_dial_error(e: &LiveKitError) -> DialOutcome {
    let error = error_text(e);
    match e {
        LiveKitError::Twirp { code, .. } => match sip_status(e) {
            Some(c) => match sip_verdict(c) {
                SipVerdict::Final(status) => DialOutcome::Final {
                    status,
                    sip_status_code: Some(c),
                    error: describe(c, &error),
                },
                SipVerdict::Retry => DialOutcome::Retry {
                    sip_status_code: Some(c),
                    error: describe(c, &error),
                },
            },
            // LiveKit's own ringing timeout (livekit/sip `outbound.go`: `canceled` "sip
            // request timed out", or the server's `deadline_exceeded` past its 80 s limit),
            // with no SIP status: the callee's phone rang and nobody answered.
            None if code == "canceled" || code == "deadline_exceeded" => DialOutcome::Final {
                status: CallStatus::NoAnswer,
                sip_status_code: None,
                error: "nobody answered before the ringing timeout".into(),
            },
            // LiveKit had no capacity to place the call: no INVITE went out.
            None if code == "unavailable" || code == "resource_exhausted" => DialOutcome::Retry {
                sip_status_code: None,
                error,
            },
            None => DialOutcome::Final {
                status: CallStatus::Failed,
                sip_status_code: None,
                error,
            },
        },
        LiveKitError::Unreachable {
            request_sent: false,
            ..
        } => DialOutcome::Retry {
            sip_status_code: None,
            error,
        },
        LiveKitError::Unreachable { .. } | LiveKitError::Timeout { .. } => {
            DialOutcome::Unknown { error }
        }
        LiveKitError::BadResponse { .. } => DialOutcome::Unknown { error },
        LiveKitError::Unauthorized { .. } => DialOutcome::Final {
            status: CallStatus::Failed,
            sip_status_code: None,
            error,
        },
    }
}

/// A failure while preparing the room and the agent, before any INVITE: retrying is always
/// safe, so only what retrying cannot fix is final (LiveKit refusing the request, or
/// trunkline's credentials). Capacity (`resource_exhausted`), timeouts and outages retry.
pub fn classify_prepare_error(e: &LiveKitError) -> DialOutcome {
    let error = error_text(e);
    match e.kind() {
        ErrorKind::InvalidArgument | ErrorKind::NotFound | ErrorKind::Credentials => {
            DialOutcome::Final {
                status: CallStatus::Failed,
                sip_status_code: None,
                error,
            }
        }
        ErrorKind::Unavailable | ErrorKind::Other => DialOutcome::Retry {
            sip_status_code: None,
            error,
        },
    }
}

/// What the tenant reads in `last_error`: LiveKit's own words for its errors (they describe
/// the call, e.g. the provider's reason phrase), bounded; our stable sentence otherwise.
pub fn error_text(e: &LiveKitError) -> String {
    match e {
        LiveKitError::Twirp { code, msg, .. } => {
            let msg: String = msg.chars().filter(|c| !c.is_control()).take(300).collect();
            format!("LiveKit {code}: {msg}")
        }
        other => other.public_message(),
    }
}

/// What a final SIP status means for a call, in seed 001's words (the dashboard shows it next
/// to the code).
pub fn sip_meaning(code: u16) -> &'static str {
    match code {
        200 => "the callee answered",
        401 | 407 => "the provider refused the trunk's credentials",
        403 => "the provider refused the call (credentials, source IP whitelist, or a number not allowed to call there)",
        404 | 484 => "the provider does not know the number: check it is in E.164",
        408 => "the provider did not answer in time",
        480 => "the callee is unavailable",
        486 | 600 => "the callee is busy",
        487 => "the call was cancelled before it was answered",
        488 => "no common codec with the provider",
        503 => "the provider is unavailable",
        603 | 607 | 608 => "the callee declined the call",
        _ => "the call failed",
    }
}

/// Seed 001's reasons, next to the code.
fn describe(code: u16, livekit: &str) -> String {
    let why = sip_meaning(code);
    format!("SIP {code}: {why} ({livekit})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn twirp(code: &str, status: u16, sip: Option<&str>) -> LiveKitError {
        let mut meta = HashMap::new();
        if let Some(s) = sip {
            meta.insert("sip_status_code".to_owned(), s.to_owned());
        }
        LiveKitError::Twirp {
            status,
            code: code.into(),
            msg: "x".into(),
            meta,
        }
    }

    fn status_of(o: &DialOutcome) -> Option<CallStatus> {
        match o {
            DialOutcome::Final { status, .. } => Some(*status),
            _ => None,
        }
    }

    #[test]
    fn dial_errors_table() {
        use CallStatus::*;
        let finals = [
            (twirp("resource_exhausted", 429, Some("486")), Busy),
            (twirp("unknown", 500, Some("603")), Rejected),
            (twirp("not_found", 404, Some("404")), Failed),
            (twirp("permission_denied", 403, Some("403")), Failed),
            (twirp("unavailable", 503, Some("480")), NoAnswer),
            (twirp("deadline_exceeded", 504, None), NoAnswer),
            (twirp("canceled", 408, None), NoAnswer),
            (twirp("invalid_argument", 400, None), Failed),
            (twirp("not_found", 404, None), Failed),
            (
                LiveKitError::Unauthorized {
                    detail: "invalid API key".into(),
                },
                Failed,
            ),
        ];
        for (e, want) in finals {
            assert_eq!(status_of(&classify_dial_error(&e)), Some(want), "{e:?}");
        }
        for e in [
            twirp("failed_precondition", 412, Some("503")),
            twirp("deadline_exceeded", 504, Some("408")),
            twirp("unavailable", 503, None),
            LiveKitError::Unreachable {
                url: "u".into(),
                detail: "refused".into(),
                request_sent: false,
            },
        ] {
            assert!(
                matches!(classify_dial_error(&e), DialOutcome::Retry { .. }),
                "{e:?}"
            );
        }
        for e in [
            LiveKitError::Unreachable {
                url: "u".into(),
                detail: "reset".into(),
                request_sent: true,
            },
            LiveKitError::Timeout {
                url: "u".into(),
                secs: 2,
            },
        ] {
            assert!(
                matches!(classify_dial_error(&e), DialOutcome::Unknown { .. }),
                "{e:?}"
            );
        }
    }

    #[test]
    fn a_busy_error_says_busy_and_keeps_the_code() {
        match classify_dial_error(&twirp("resource_exhausted", 429, Some("486"))) {
            DialOutcome::Final {
                sip_status_code,
                error,
                ..
            } => {
                assert_eq!(sip_status_code, Some(486));
                assert!(error.contains("busy"), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn preparing_is_retried_unless_the_request_was_wrong() {
        assert!(matches!(
            classify_prepare_error(&twirp("unavailable", 503, None)),
            DialOutcome::Retry { .. }
        ));
        assert!(matches!(
            classify_prepare_error(&LiveKitError::Timeout {
                url: "u".into(),
                secs: 1
            }),
            DialOutcome::Retry { .. }
        ));
        assert!(matches!(
            classify_prepare_error(&twirp("resource_exhausted", 429, None)),
            DialOutcome::Retry { .. }
        ));
        assert!(matches!(
            classify_prepare_error(&twirp("invalid_argument", 400, None)),
            DialOutcome::Final { .. }
        ));
        assert!(matches!(
            classify_prepare_error(&twirp("permission_denied", 403, None)),
            DialOutcome::Final { .. }
        ));
    }
}
