//! How a SIP final response becomes a Twirp error on LiveKit's wire.
//!
//! The chain, followed in the sources:
//! 1. livekit/sip `pkg/sip/outbound.go` (`sipOutbound.Invite`) wraps the response in a
//!    `livekit.SIPStatus{Code, Status: reason phrase}`: `INVITE failed: %w` for 400, 404, 480,
//!    486 and 488, `unexpected status from INVITE response: %w` for every other code.
//! 2. livekit/sip `pkg/errors/errors.go` (`ApplySIPStatus`) turns it into a psrpc error whose
//!    code comes from `SIPStatus.GRPCStatus()` (livekit/protocol `livekit/sip.go`,
//!    `sipCodeToGRPCCode`), carrying the SIPStatus as a detail.
//! 3. livekit/livekit's Twirp server runs `xtwirp.ServerPassErrorDetails` (livekit/protocol
//!    `utils/xtwirp/errors.go`): `twirp.NewError(Unknown, err.Error())`, then, since the
//!    error has a gRPC status, `twirp.NewError(code, dst.Error())` — and a Twirp error's
//!    `Error()` is `"twirp error unknown: " + msg` (twitchtv/twirp `errors.go`), so that
//!    prefix ends up in `msg`. The detail's `TwirpErrorMeta` adds `sip_status_code` and
//!    `sip_status`; `error_details` is the base64 (standard) of the `google.rpc.Status` proto.

use crate::twirp::TwirpError;
use base64::Engine;
use livekit_protocol::{SipStatus, SipStatusCode as C};
use prost::Message;

/// The prefix `xtwirp.ToError` leaves on every psrpc error's message (see module docs).
pub(crate) const PSRPC_PREFIX: &str = "twirp error unknown: ";

/// A psrpc error (livekit/psrpc `errors.go`) as the Twirp server writes it: code kept,
/// message prefixed.
pub(crate) fn psrpc_error(code: &str, msg: &str) -> TwirpError {
    TwirpError::new(code, format!("{PSRPC_PREFIX}{msg}"))
}

/// The RFC 3261 reason phrase a provider would normally send.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "",
    }
}

/// `SIPStatus.GRPCStatus().Code()` as a Twirp code name and the gRPC number
/// (livekit/protocol `livekit/sip.go`).
pub fn twirp_code(code: u16) -> &'static str {
    grpc(code).0
}

fn grpc(code: u16) -> (&'static str, i32) {
    const INVALID: (&str, i32) = ("invalid_argument", 3);
    const DEADLINE: (&str, i32) = ("deadline_exceeded", 4);
    const NOT_FOUND: (&str, i32) = ("not_found", 5);
    const DENIED: (&str, i32) = ("permission_denied", 7);
    const EXHAUSTED: (&str, i32) = ("resource_exhausted", 8);
    const PRECONDITION: (&str, i32) = ("failed_precondition", 9);
    const ABORTED: (&str, i32) = ("aborted", 10);
    const OUT_OF_RANGE: (&str, i32) = ("out_of_range", 11);
    const UNAUTHENTICATED: (&str, i32) = ("unauthenticated", 16);
    let Ok(c) = C::try_from(i32::from(code)) else {
        return fallback(code);
    };
    match c {
        C::SipStatusMovedPermanently
        | C::SipStatusMovedTemporarily
        | C::SipStatusNotfound
        | C::SipStatusGone
        | C::SipStatusCallTransactionDoesNotExists
        | C::SipStatusGlobalDoesNotExistAnywhere => NOT_FOUND,
        C::SipStatusUnauthorized
        | C::SipStatusPaymentRequired
        | C::SipStatusForbidden
        | C::SipStatusAnonymityDisallowed
        | C::SipStatusConsentNeeded
        | C::SipStatusGlobalDecline
        | C::SipStatusGlobalUnwanted
        | C::SipStatusGlobalRejected => DENIED,
        C::SipStatusProxyAuthRequired
        | C::SipStatusUseIdentityHeader
        | C::SipStatusBadIdentityInfo
        | C::SipStatusUnsupportedCertificate
        | C::SipStatusInvalidIdentityHeader
        | C::SipStatusSecurityAgreementRequired => UNAUTHENTICATED,
        C::SipStatusRequestTimeout | C::SipStatusGatewayTimeout => DEADLINE,
        C::SipStatusConflict
        | C::SipStatusConditionalRequestFailed
        | C::SipStatusLoopDetected
        | C::SipStatusTooManyHops
        | C::SipStatusInternalServerError
        | C::SipStatusNotImplemented
        | C::SipStatusBadGateway
        | C::SipStatusServiceUnavailable => PRECONDITION,
        C::SipStatusRequestedRangeNotSatisfiable => OUT_OF_RANGE,
        C::SipStatusMaxBreadthExceeded
        | C::SipStatusTemporarilyUnavailable
        | C::SipStatusBusyHere
        | C::SipStatusGlobalBusyEverywhere => EXHAUSTED,
        C::SipStatusRequestTerminated | C::SipStatusRequestPending => ABORTED,
        C::SipStatusMultipleChoices
        | C::SipStatusUseProxy
        | C::SipStatusAlternativeService
        | C::SipStatusBadRequest
        | C::SipStatusMethodNotAllowed
        | C::SipStatusNotAcceptable
        | C::SipStatusLengthRequired
        | C::SipStatusRequestEntityTooLarge
        | C::SipStatusRequestUriTooLong
        | C::SipStatusUnsupportedMediaType
        | C::SipStatusUnknownResourcePriority
        | C::SipStatusBadExtension
        | C::SipStatusExtensionRequired
        | C::SipStatusSessionIntervalTooSmall
        | C::SipStatusIntervalTooBrief
        | C::SipStatusBadLocationInformation
        | C::SipStatusBadAlertMessage
        | C::SipStatusProvideReferrerIdentity
        | C::SipStatusFlowFailed
        | C::SipStatusFirstHopLacksOutboundSupport
        | C::SipStatusBadInfoPackage
        | C::SipStatusAddressIncomplete
        | C::SipStatusAmbiguous
        | C::SipStatusNotAcceptableHere
        | C::SipStatusBadEvent
        | C::SipStatusUndecipherable
        | C::SipStatusVersionNotSupported
        | C::SipStatusMessageTooLarge
        | C::SipStatusGlobalNotAcceptable => INVALID,
        _ => fallback(code),
    }
}

/// Codes missing from `sipCodeToGRPCCode`: by class.
fn fallback(code: u16) -> (&'static str, i32) {
    match code {
        300..=499 | 600..=699 => ("invalid_argument", 3),
        500..=599 => ("failed_precondition", 9),
        _ => ("unknown", 2),
    }
}

/// `SIPStatusCode.ShortName()`: the enum name without `SIP_STATUS_`, or the number.
fn short_name(code: u16) -> String {
    match C::try_from(i32::from(code)) {
        Ok(c) => c.as_str_name().trim_start_matches("SIP_STATUS_").to_owned(),
        Err(_) => code.to_string(),
    }
}

/// `SIPStatus.Error()`.
pub(crate) fn status_error(code: u16, reason: &str) -> String {
    if reason.is_empty() {
        format!("sip status: {code} ({})", short_name(code))
    } else {
        format!("sip status: {code}: {reason}")
    }
}

/// `google.rpc.Status` and `google.protobuf.Any`, just enough to encode `error_details`.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<ProtoAny>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// The Twirp error for a SIP final response `code`/`reason`, where the SIP side's error
/// message is `context` followed by `SIPStatus.Error()` (e.g. `"INVITE failed: "`).
pub(crate) fn twirp_error(code: u16, reason: &str, context: &str) -> TwirpError {
    let (twirp, grpc_code) = grpc(code);
    let inner = format!("{context}{}", status_error(code, reason));
    let detail = SipStatus {
        code: i32::from(code),
        status: reason.to_owned(),
    };
    let status = RpcStatus {
        code: grpc_code,
        message: inner.clone(),
        details: vec![ProtoAny {
            type_url: "type.googleapis.com/livekit.SIPStatus".into(),
            value: detail.encode_to_vec(),
        }],
    };
    // `TwirpErrorMeta`: an empty status falls back to the enum's full name.
    let sip_status = if reason.is_empty() {
        C::try_from(i32::from(code))
            .map(|c| c.as_str_name().to_owned())
            .unwrap_or_else(|_| code.to_string())
    } else {
        reason.to_owned()
    };
    psrpc_error(twirp, &inner)
        .with_meta("sip_status_code", code.to_string())
        .with_meta("sip_status", sip_status)
        .with_meta(
            "error_details",
            base64::engine::general_purpose::STANDARD.encode(status.encode_to_vec()),
        )
}

/// The context `sipOutbound.Invite` puts before the status for a final INVITE response.
pub(crate) fn invite_context(code: u16) -> &'static str {
    match code {
        400 | 404 | 480 | 486 | 488 => "INVITE failed: ",
        _ => "unexpected status from INVITE response: ",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_protocol_table() {
        assert_eq!(twirp_code(486), "resource_exhausted");
        assert_eq!(twirp_code(404), "not_found");
        assert_eq!(twirp_code(403), "permission_denied");
        assert_eq!(twirp_code(408), "deadline_exceeded");
        assert_eq!(twirp_code(503), "failed_precondition");
        assert_eq!(twirp_code(603), "permission_denied");
        assert_eq!(twirp_code(499), "invalid_argument");
        assert_eq!(twirp_code(599), "failed_precondition");
    }

    #[test]
    fn busy_error_shape() {
        let e = twirp_error(486, "Busy Here", invite_context(486));
        assert_eq!(e.code, "resource_exhausted");
        assert_eq!(
            e.msg,
            "twirp error unknown: INVITE failed: sip status: 486: Busy Here"
        );
        assert_eq!(e.meta["sip_status_code"], "486");
        assert_eq!(e.meta["sip_status"], "Busy Here");
        assert!(e.meta.contains_key("error_details"));
        assert_eq!(status_error(499, ""), "sip status: 499 (499)");
    }
}
