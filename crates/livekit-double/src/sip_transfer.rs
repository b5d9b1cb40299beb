//! `TransferSIPParticipant`: livekit/livekit `pkg/service/sip.go`
//! (`transferSIPParticipantRequest`: checks and their order), livekit/protocol
//! `livekit/sip.go` (`TransferSIPParticipantRequest.ValidateResult`), livekit/sip
//! `pkg/sip/service.go`, `outbound.go`, `protocol.go` (REFER, NOTIFY, hangup after).

use crate::auth::Grants;
use crate::room::{ensure_admin, participant_not_found};
use crate::sip_participant::{call_index, end, CallState, ATTR_CALL_ID};
use crate::sip_status::{self, psrpc_error};
use crate::twirp::auth_error;
use crate::twirp::TwirpError;
use crate::State;
use livekit_protocol::{TransferSipParticipantRequest, TransferSipParticipantResponse};

/// Checks in the server's order; a success ends the call like LiveKit's hangup after an
/// accepted REFER.
pub(crate) fn transfer(
    s: &mut State,
    g: Option<&Grants>,
    req: TransferSipParticipantRequest,
) -> Result<TransferSipParticipantResponse, TwirpError> {
    if req.room_name.is_empty() {
        return Err(psrpc_error("invalid_argument", "Missing room name"));
    }
    if req.participant_identity.is_empty() {
        return Err(psrpc_error(
            "invalid_argument",
            "Missing participant identity",
        ));
    }
    if !g.is_some_and(Grants::sip_call) {
        return Err(auth_error());
    }
    ensure_admin(g, &req.room_name)?;
    // `TransferSIPParticipantRequest.ValidateResult`.
    if req.transfer_to.is_empty() {
        return Err(TwirpError::invalid_argument("missing transfer to"));
    }
    let inner = req
        .transfer_to
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(&req.transfer_to);
    if !["sip:", "sips:", "tel:"]
        .iter()
        .any(|p| inner.starts_with(p))
    {
        return Err(TwirpError::invalid_argument(
            "transfer_to must be a valid SIP(s) or TEL URI (sip:, sips: or tel:)",
        ));
    }
    let p = s
        .participant(&req.room_name, &req.participant_identity)
        .ok_or_else(participant_not_found)?;
    let Some(call_id) = p.attributes.get(ATTR_CALL_ID).cloned() else {
        return Err(psrpc_error(
            "invalid_argument",
            "no SIP session associated with participant",
        ));
    };
    let Some(i) = call_index(s, &call_id).filter(|&i| s.calls[i].live()) else {
        return Err(psrpc_error("not_found", "unknown call"));
    };
    if s.calls[i].state != CallState::Active {
        return Err(psrpc_error(
            "failed_precondition",
            "can't transfer non established call",
        ));
    }
    s.transfers.push(req);
    match s.transfer_failure {
        None => {
            // REFER accepted and NOTIFY 200: LiveKit hangs up (`referByeTimeout`, 1 s).
            end(s, &call_id, CallState::Transferred);
            Ok(TransferSipParticipantResponse::default())
        }
        // `handleReferNotify`: "call transfer failed: %w", then `ApplySIPStatus`.
        Some(code) => Err(sip_status::twirp_error(
            code,
            sip_status::reason_phrase(code),
            "call transfer failed: ",
        )),
    }
}
