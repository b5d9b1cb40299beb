//! Cancelling a call, for the API and the dashboard alike: a queued call is never dialed; a
//! ringing one is hung up (`cancelled`); an answered one is ended (`completed`).

use super::finish::{advance_from, Details};
use crate::{ServiceError, ServiceResult, Services};
use trunkline_domain::call::CallStatus;
use trunkline_store::{now_micros, Applied, CallRow};

/// Cancels the tenant's call `id` and returns it as it now is. `not_found` is the message of
/// the 404 (another tenant's call reads the same); a call that already ended is a conflict.
pub async fn cancel_call(
    services: &Services,
    tenant_id: &str,
    id: &str,
    not_found: &'static str,
) -> ServiceResult<CallRow> {
    // Decided on the status read; if the dialer moves the call on meanwhile (claimed →
    // dialing), the move does not apply and the call is read again, so a call LiveKit is
    // already dialing is hung up rather than only marked cancelled.
    for _ in 0..3 {
        let call = services
            .store
            .get_call(tenant_id, id)
            .await?
            .ok_or(ServiceError::NotFound(not_found))?;
        let current = CallStatus::parse(&call.status).unwrap_or(CallStatus::Failed);
        if current.is_final() {
            return Err(ServiceError::Conflict(format!(
                "the call already ended ({})",
                current.public()
            )));
        }
        let in_livekit = matches!(
            current,
            CallStatus::Dialing | CallStatus::Ringing | CallStatus::Answered
        );
        if in_livekit {
            // Deleting the room hangs up the SIP leg (CANCEL before answer, BYE after).
            services
                .require_livekit()?
                .delete_room(&super::dialer::room_of(&call))
                .await?;
        }
        let (to, reason) = if current == CallStatus::Answered {
            (CallStatus::Completed, "ended_by_api")
        } else {
            (CallStatus::Cancelled, "cancelled_by_api")
        };
        let details = Details {
            end_reason: Some(reason.into()),
            ..Default::default()
        };
        // Once the room is gone, any state still live may end; before, only the one read.
        let read = [current];
        let only = (!in_livekit).then_some(&read[..]);
        let applied = advance_from(&services.store, &call, to, now_micros(), details, only).await?;
        if applied == Applied::Yes || in_livekit {
            break;
        }
    }
    services
        .store
        .get_call(tenant_id, id)
        .await?
        .ok_or(ServiceError::NotFound(not_found))
}
