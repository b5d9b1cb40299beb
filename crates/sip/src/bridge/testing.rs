//! Fixtures shared by the bridge's unit tests.

use super::{BridgeTrunk, ExotelTransport, NumberFormat};
use crate::probe::Credentials;
use trunkline_domain::Secret;

pub const LK_USER: &str = "lk_acme_7f3a";
pub const LK_PASSWORD: &str = "lk-secret-91b2";
pub const EXO_USER: &str = "acme_trunk";
pub const EXO_PASSWORD: &str = "exo-secret-55c1";

pub fn trunk() -> BridgeTrunk {
    BridgeTrunk {
        trunk_id: "ST_acme".into(),
        digest_username: LK_USER.into(),
        digest_password: Secret::new(LK_PASSWORD.into()),
        exotel_host: "pstn.in2.exotel.com".into(),
        exotel_port: 5070,
        transport: ExotelTransport::Tcp,
        exotel_number: "+918047000000".into(),
        account_sid: "acme".into(),
        exotel_credentials: Some(Credentials {
            username: EXO_USER.into(),
            password: Secret::new(EXO_PASSWORD.into()),
        }),
        number_format: NumberFormat::E164NoPlus,
    }
}

pub fn directory() -> Vec<BridgeTrunk> {
    vec![trunk()]
}

pub const SDP_A: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
    m=audio 20000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

/// LiveKit's INVITE over UDP, without credentials.
pub fn invite(call_id: &str, cseq: u32) -> String {
    format!(
        "INVITE sip:+919876543210@bridge.example SIP/2.0\r\n\
         Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK{call_id}{cseq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:+15550100@livekit>;tag=lk1\r\n\
         To: <sip:+919876543210@bridge.example>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} INVITE\r\n\
         Contact: <sip:lk@10.0.0.5:5060>\r\n\
         Record-Route: <sip:10.0.0.4;lr>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{SDP_A}",
        SDP_A.len()
    )
}
