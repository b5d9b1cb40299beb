//! The bridge answering a challenge: the callee's side (Exotel outbound, LiveKit's SIP
//! service inbound) answers our INVITE with 401 or 407, and we answer once with the trunk's
//! digest pair (RFC 3261 §22.2). Its counterpart, the bridge challenging its callers, is
//! `challenge_issuer`.

use crate::digest::{self, Answer, Challenge};
use crate::msg::SipMsg;
use crate::probe::Credentials;

/// The header and value that answer `resp` (a 401 or 407 to our `method` on `uri`) with
/// `creds`; `None` when it carries no challenge we can answer.
pub(crate) fn answer(
    resp: &SipMsg,
    status: u16,
    creds: &Credentials,
    method: &str,
    uri: &str,
) -> Option<(&'static str, String)> {
    let (challenge_header, answer_header) = if status == 401 {
        ("WWW-Authenticate", "Authorization")
    } else {
        ("Proxy-Authenticate", "Proxy-Authorization")
    };
    let ch = Challenge::pick(&resp.all_raw(challenge_header)).ok()?;
    let value = digest::authorization(
        &ch,
        &Answer {
            username: &creds.username,
            password: creds.password.expose(),
            method,
            uri,
            cnonce: &crate::bridge::call::token(),
            nc: 1,
        },
    );
    Some((answer_header, value))
}
