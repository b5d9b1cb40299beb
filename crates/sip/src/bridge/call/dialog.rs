//! One leg as a dialog (RFC 3261 §12): the Call-ID, tags, CSeq, remote target and route set
//! our requests on that leg carry.

use crate::msg::{SipMsg, Start};

/// A fresh random token: tags, branches, cnonces, Call-IDs.
pub(crate) fn token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// One side of the call as a dialog: what our requests on that leg carry.
#[derive(Debug, Clone)]
pub(super) struct Dialog {
    pub(super) call_id: String,
    /// Our From value (with our tag).
    pub(super) local: String,
    /// Their To value (with their tag once known).
    pub(super) remote: String,
    pub(super) cseq: u32,
    pub(super) target: String,
    pub(super) routes: Vec<String>,
    pub(super) via: String,
    pub(super) contact: String,
}

impl Dialog {
    pub(super) fn request(&mut self, method: &str, cseq: Option<u32>) -> (SipMsg, String) {
        let cseq = cseq.unwrap_or_else(|| {
            self.cseq += 1;
            self.cseq
        });
        let branch = format!("z9hG4bK{}", token());
        let mut headers = vec![
            ("Via".into(), format!("{};branch={branch}", self.via)),
            ("Max-Forwards".into(), "70".into()),
            ("From".into(), self.local.clone()),
            ("To".into(), self.remote.clone()),
            ("Call-ID".into(), self.call_id.clone()),
            ("CSeq".into(), format!("{cseq} {method}")),
        ];
        for r in &self.routes {
            headers.push(("Route".into(), r.clone()));
        }
        if method == "INVITE" || method == "UPDATE" {
            headers.push(("Contact".into(), self.contact.clone()));
        }
        headers.push(("User-Agent".into(), "trunkline".into()));
        let req = SipMsg {
            start: Start::Request {
                method: method.into(),
                uri: self.target.clone(),
            },
            headers,
            body: vec![],
        };
        (req, branch)
    }
}
