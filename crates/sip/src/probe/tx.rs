//! One client transaction of the probe (RFC 3261 §17.1) as the machine tracks it, and the
//! identifiers a chain of requests shares (Call-ID, From tag, CSeq).

use crate::wire::{Method, OutRequest};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TxState {
    Calling,
    Proceeding,
    Completed,
}

pub(super) struct Tx {
    pub(super) id: u32,
    pub(super) method: Method,
    pub(super) branch: String,
    pub(super) request: OutRequest,
    pub(super) bytes: Vec<u8>,
    pub(super) sent_at: Duration,
    pub(super) interval: Duration,
    pub(super) state: TxState,
    pub(super) authenticated: bool,
    pub(super) seen: Vec<u16>,
}

/// The dialog-forming identifiers of one request chain (OPTIONS, or INVITE and its kin).
pub(super) struct Chain {
    pub(super) call_id: String,
    pub(super) from_tag: String,
    pub(super) cseq: u32,
}

pub(super) fn token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

impl Chain {
    pub(super) fn new() -> Self {
        Self {
            call_id: format!("{}@trunkline", token()),
            from_tag: token(),
            cseq: 0,
        }
    }
}
