//! A call's SIP ladder: every message the call task received or sent, on which leg, when.
//! When the call task ends, whichever way, the ladder is logged as one structured line with
//! both Call-IDs and the final status, and the call's metrics are recorded. Only start lines
//! (method, status) and timings are kept: never a header, so never a credential.

use super::metrics;
use crate::msg::SipMsg;
use std::fmt::Write;
use std::time::Instant;

/// Steps kept per call: a normal call has about a dozen; a call flooded with re-INVITEs
/// keeps its first ones and counts the rest.
const MAX_STEPS: usize = 64;

struct Step {
    ms: u128,
    dir: &'static str,
    leg: &'static str,
    method: &'static str,
    status: Option<u16>,
}

pub(super) struct Ladder {
    started: Instant,
    caller_call_id: String,
    callee_call_id: String,
    steps: Vec<Step>,
    more: usize,
    final_status: Option<u16>,
}

fn status_of(bytes: &[u8]) -> Option<u16> {
    let code = bytes.strip_prefix(b"SIP/2.0 ")?.get(..3)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

impl Ladder {
    pub(super) fn start(caller_call_id: &str, callee_call_id: &str) -> Self {
        metrics::call_started();
        Self {
            started: Instant::now(),
            caller_call_id: caller_call_id.to_owned(),
            callee_call_id: callee_call_id.to_owned(),
            steps: Vec::new(),
            more: 0,
            final_status: None,
        }
    }

    fn push(
        &mut self,
        dir: &'static str,
        leg: &'static str,
        method: &'static str,
        status: Option<u16>,
    ) {
        // The caller's final answer to its INVITE is the call's outcome.
        if dir == "out"
            && leg == "caller"
            && method == "INVITE"
            && self.final_status.is_none()
            && status.is_some_and(|s| s >= 200)
        {
            self.final_status = status;
        }
        if self.steps.len() == MAX_STEPS {
            self.more += 1;
            return;
        }
        self.steps.push(Step {
            ms: self.started.elapsed().as_millis(),
            dir,
            leg,
            method,
            status,
        });
    }

    /// A message sent on a leg (`"caller"` or `"callee"`).
    pub(super) fn sent(&mut self, leg: &'static str, bytes: &[u8]) {
        let (method, _) = metrics::classify(bytes);
        self.push("out", leg, method, status_of(bytes));
    }

    /// A message received on a leg.
    pub(super) fn received(&mut self, leg: &'static str, m: &SipMsg) {
        let method = match (m.method(), m.cseq()) {
            (Some(method), _) => metrics::method_label(method.as_bytes()),
            (None, Some((_, method))) => metrics::method_label(method.as_bytes()),
            (None, None) => "other",
        };
        self.push("in", leg, method, m.status());
    }

    fn render(&self) -> String {
        let mut s = String::new();
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            let _ = write!(s, "+{}ms {} {} ", step.ms, step.dir, step.leg);
            match step.status {
                Some(code) => {
                    let _ = write!(s, "{code} ({})", step.method);
                }
                None => s.push_str(step.method),
            }
        }
        if self.more > 0 {
            let _ = write!(s, ", … {} more", self.more);
        }
        s
    }
}

impl Drop for Ladder {
    fn drop(&mut self) {
        metrics::call_ended(self.final_status);
        tracing::info!(
            call_id = %self.caller_call_id,
            callee_call_id = %self.callee_call_id,
            // 0: the call ended before the caller got a final answer.
            final_status = self.final_status.unwrap_or(0),
            duration_ms = self.started.elapsed().as_millis() as u64,
            messages = self.steps.len() + self.more,
            ladder = %self.render(),
            "bridge call ended"
        );
    }
}
