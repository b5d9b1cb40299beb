//! Cold transfer (SIP REFER) of an answered call, for the API and the dashboard alike.

use super::dialer::{participant_identity, room_of};
use crate::{ServiceError, ServiceResult, Services};
use trunkline_domain::call::CallStatus;
use trunkline_domain::E164;
use trunkline_store::CallRow;

/// `to` as LiveKit's TransferSIPParticipant wants it: an E.164 number becomes `tel:+…`; a
/// `sip:`/`sips:`/`tel:` URI passes if it has no spaces or control characters. Errors name
/// the field `to`.
pub fn transfer_target(raw: &str) -> ServiceResult<String> {
    let rule = "must be an E.164 number (+15550100000) or a sip:, sips: or tel: URI";
    if raw.starts_with('+') {
        return E164::parse("to", raw)
            .map(|n| format!("tel:{n}"))
            .map_err(|e| ServiceError::field("to", e.message));
    }
    let lower = raw.to_ascii_lowercase();
    let body = ["sip:", "sips:", "tel:"]
        .iter()
        .find_map(|p| lower.strip_prefix(p));
    match body {
        Some(rest)
            if !rest.is_empty()
                && raw.len() <= 256
                && !raw
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>') =>
        {
            Ok(raw.to_owned())
        }
        _ => Err(ServiceError::field("to", rule)),
    }
}

/// Transfers the tenant's answered call `id` to `to` (already checked by
/// [`transfer_target`]) and returns the call as it now is.
pub async fn transfer_call(
    services: &Services,
    tenant_id: &str,
    id: &str,
    to: &str,
    not_found: &'static str,
) -> ServiceResult<CallRow> {
    let call = services
        .store
        .get_call(tenant_id, id)
        .await?
        .ok_or(ServiceError::NotFound(not_found))?;
    if call.status != CallStatus::Answered.as_str() {
        return Err(ServiceError::Conflict(format!(
            "only an answered call can be transferred; this one is {}",
            super::render::public_status(&call)
        )));
    }
    let lk = services.require_livekit()?;
    let identity = call
        .participant_identity
        .clone()
        .unwrap_or_else(|| participant_identity(&call));
    if let Err(e) = lk
        .transfer_sip_participant(
            &room_of(&call),
            &identity,
            to,
            std::time::Duration::from_secs(40),
        )
        .await
    {
        if let Some(code) = super::outcome::sip_status(&e) {
            return Err(ServiceError::BadGateway(format!(
                "the transfer target refused the transfer (SIP {code})"
            )));
        }
        return Err(e.into());
    }
    services.store.set_transferred(&call.id, to).await?;
    services
        .store
        .get_call(tenant_id, id)
        .await?
        .ok_or(ServiceError::NotFound(not_found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_targets() {
        assert_eq!(transfer_target("+15550100000").unwrap(), "tel:+15550100000");
        assert_eq!(
            transfer_target("sip:agent@pbx.example.com").unwrap(),
            "sip:agent@pbx.example.com"
        );
        assert_eq!(
            transfer_target("tel:+15550100000").unwrap(),
            "tel:+15550100000"
        );
        for bad in [
            "",
            "15550100000",
            "+0123",
            "sip:",
            "http://x",
            "sip:a b@c",
            "sip:a\r\nX: y",
        ] {
            assert!(transfer_target(bad).is_err(), "{bad:?}");
        }
    }
}
