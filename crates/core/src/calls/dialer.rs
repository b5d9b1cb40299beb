//! The dialer: claims due calls under each trunk's pacing and the concurrency limits
//! (see `trunkline_store::calls`), waits for each call's slot, prepares the room and the
//! agent, then dials with `wait_until_answered` so LiveKit's answer carries the SIP outcome.
//! A sweeper takes back claims of dead instances and settles calls whose dialer never
//! reported.

use super::fair::fair_order;
use super::finish::{advance, Details};
use super::outcome::{classify_dial_error, classify_prepare_error, DialOutcome};
use super::tracking::noted_outcome;
use super::{micros, CallSettings, DialPlan};
use crate::rooms;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use trunkline_domain::call::{retry_delay, CallStatus};
use trunkline_livekit::{proto, seconds, LiveKitClient, LiveKitError};
use trunkline_store::Status;
use trunkline_store::{now_micros, CallRow, ClaimLimits, Claimed, Store, StoreError};

/// Every claimed call is dialed by a task of its own; LiveKit's answer may take the whole
/// ringing timeout, so tasks, not a worker pool, bound nothing but memory. The concurrency
/// limits bound the tasks.
#[derive(Clone)]
pub struct Dialer {
    pub store: Store,
    pub livekit: LiveKitClient,
    pub settings: Arc<CallSettings>,
    pub wake: Arc<Notify>,
}

/// Trunks one pass claims from at most: a pass stays short, and tenants take turns.
const TRUNKS_PER_PASS: usize = 200;

/// Time between claiming a call and its earliest slot, for CreateRoom and CreateDispatch.
const PREPARE_LEAD: Duration = Duration::from_millis(100);

/// Extra time given to LiveKit beyond the ringing timeout before we stop waiting.
const ANSWER_MARGIN: Duration = Duration::from_secs(15);

impl Dialer {
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut last_sweep = tokio::time::Instant::now();
        let mut last_room_check = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.tick) => {}
            }
            if let Err(e) = self.claim_pass().await {
                tracing::warn!(error = %e, "dialer: claim pass failed");
            }
            if last_sweep.elapsed() >= Duration::from_secs(1) {
                last_sweep = tokio::time::Instant::now();
                if let Err(e) = self.sweep().await {
                    tracing::warn!(error = %e, "dialer: sweep failed");
                }
            }
            if last_room_check.elapsed() >= self.settings.room_check_after / 2 {
                last_room_check = tokio::time::Instant::now();
                if let Err(e) = self.check_rooms().await {
                    tracing::warn!(error = %e, "dialer: room check failed");
                }
            }
        }
        match self
            .store
            .release_claims_of(&self.settings.instance, now_micros())
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                released = n,
                "dialer: returned undialed claims to the queue"
            ),
            Err(e) => tracing::warn!(error = %e, "dialer: could not return claims at shutdown"),
        }
    }

    /// One pass over the trunks with due calls that their limits let a claim take from,
    /// tenants taking turns (see `fair`); returns how many calls were claimed.
    pub async fn claim_pass(&self) -> Result<usize, StoreError> {
        let s = &self.settings;
        let now = now_micros();
        let limits = |now| ClaimLimits {
            now,
            horizon: micros(s.horizon),
            lead: micros(PREPARE_LEAD),
            batch: 500,
            default_cps_milli: s.default_cps_milli,
            default_trunk_concurrency: s.default_trunk_concurrency,
            tenant_concurrency: s.tenant_concurrency,
        };
        let due = self
            .store
            .dialable_trunks(
                now,
                now + micros(PREPARE_LEAD) + micros(s.horizon),
                s.default_trunk_concurrency,
                s.tenant_concurrency,
            )
            .await?;
        // The clock in milliseconds rotates which tenant a pass serves first.
        let pass = (now / 1000) as usize;
        let mut claimed = 0;
        for t in fair_order(due, pass, TRUNKS_PER_PASS) {
            // The clock is read again per claim: slots start `PREPARE_LEAD` after the claim,
            // not after the start of a pass that may have taken a while.
            let calls = self
                .store
                .claim_calls(
                    &t.trunk_id,
                    &t.tenant_id,
                    &s.instance,
                    &limits(now_micros()),
                )
                .await?;
            claimed += calls.len();
            for c in calls {
                let me = self.clone();
                tokio::spawn(async move { me.dial(c).await });
            }
        }
        Ok(claimed)
    }

    #[tracing::instrument(name = "call", skip_all, fields(call_id = %c.id, trunk_id, tenant))]
    async fn dial(self, c: Claimed) {
        if let Err(e) = self.dial_at(&c.id, c.dial_at).await {
            // The claim stays; the sweeper hands it back after the claim timeout.
            tracing::warn!(call = %c.id, error = %e, "dialer: database error while dialing");
        }
    }

    /// Prepares the call at once, then sends the INVITE at its slot: the slot paces what the
    /// provider sees, so nothing variable (room, agent, database) may sit between the two.
    async fn dial_at(&self, id: &str, slot: i64) -> Result<(), StoreError> {
        let Some(call) = self.store.call_by_id(id).await? else {
            return Ok(());
        };
        crate::calls::log_fields(&call);
        if call.status != CallStatus::Claimed.as_str() {
            return Ok(()); // cancelled meanwhile
        }
        let Some(plan) = DialPlan::parse(&call.plan) else {
            return self
                .fail(&call, "the call's stored plan is unreadable")
                .await;
        };
        let trunk = self.store.outbound_trunks().live(&call.trunk_id).await?;
        let lk_trunk = match trunk {
            Some(t) if t.status == Status::Provisioned => t.livekit_trunk_id,
            _ => None,
        };
        let Some(lk_trunk) = lk_trunk else {
            return self
                .fail(&call, "the trunk is deleted or not provisioned in LiveKit")
                .await;
        };
        if let Err(e) = self.prepare_room(&call, &plan).await {
            return self.after_error(&call, classify_prepare_error(&e)).await;
        }
        let wait = slot - now_micros();
        if wait > 0 {
            tokio::time::sleep(Duration::from_micros(wait as u64)).await;
        }
        let now = now_micros();
        let timeout = Duration::from_secs(plan.ringing_timeout) + ANSWER_MARGIN;
        let deadline = now + micros(timeout) + micros(Duration::from_secs(30));
        if !self
            .store
            .mark_dialing(&call.id, &self.settings.instance, now, deadline)
            .await?
        {
            // Cancelled (or taken back) after the room was made: do not leave it behind.
            let _ = self.livekit.delete_room(&room_of(&call)).await;
            return Ok(());
        }
        crate::metrics::dialed(now - call.next_attempt_at);
        let req = proto::CreateSipParticipantRequest {
            sip_trunk_id: lk_trunk,
            sip_call_to: call.to_number.clone(),
            sip_number: call.from_number.clone(),
            room_name: room_of(&call),
            participant_identity: participant_identity(&call),
            participant_name: call.to_number.clone(),
            participant_metadata: plan.participant_metadata.clone(),
            ringing_timeout: Some(seconds(plan.ringing_timeout)),
            max_call_duration: plan.max_call_duration.map(seconds),
            wait_until_answered: true,
            ..Default::default()
        };
        match self.livekit.create_sip_participant(req, timeout).await {
            Ok(info) => {
                advance(
                    &self.store,
                    &call,
                    CallStatus::Answered,
                    now_micros(),
                    Details {
                        participant_identity: Some(info.participant_identity),
                        sip_call_id: Some(info.sip_call_id),
                        ..Default::default()
                    },
                )
                .await?;
                Ok(())
            }
            Err(e) => self.after_error(&call, classify_dial_error(&e)).await,
        }
    }

    /// The room is named after the call; the agent is dispatched into it before the callee's
    /// phone rings, so it is there when they answer. Both steps are safe to repeat: a room
    /// is created once by name, and a retry first looks for the dispatch it may have made.
    async fn prepare_room(&self, call: &CallRow, plan: &DialPlan) -> Result<(), LiveKitError> {
        let empty_timeout = (plan.ringing_timeout + 30).min(u64::from(u32::MAX)) as u32;
        let room = room_of(call);
        let agent = rooms::livekit_agent(&call.tenant_id, &plan.agent_name);
        self.livekit.create_room(&room, empty_timeout, "").await?;
        if call.attempts > 1 {
            let existing = self.livekit.list_agent_dispatches(&room).await?;
            if existing.iter().any(|d| d.agent_name == agent) {
                return Ok(());
            }
        }
        self.livekit
            .create_agent_dispatch(&room, &agent, &plan.agent_metadata)
            .await?;
        Ok(())
    }

    async fn after_error(&self, call: &CallRow, outcome: DialOutcome) -> Result<(), StoreError> {
        let now = now_micros();
        match outcome {
            DialOutcome::Final {
                status,
                sip_status_code,
                error,
            } => {
                advance(
                    &self.store,
                    call,
                    status,
                    now,
                    Details {
                        sip_status_code,
                        last_error: Some(error),
                        ..Default::default()
                    },
                )
                .await?;
            }
            DialOutcome::Retry {
                sip_status_code,
                error,
            } => {
                // `attempts` counts this one (the claim incremented it).
                if call.attempts < self.settings.max_attempts {
                    let delay = retry_delay(call.attempts as u32);
                    self.store
                        .requeue_call(
                            &call.id,
                            now + micros(delay),
                            sip_status_code.map(i64::from),
                            &error,
                            now,
                        )
                        .await?;
                    self.wake.notify_one();
                } else {
                    advance(
                        &self.store,
                        call,
                        CallStatus::Failed,
                        now,
                        Details {
                            sip_status_code,
                            last_error: Some(format!(
                                "gave up after {} attempts: {error}",
                                call.attempts
                            )),
                            ..Default::default()
                        },
                    )
                    .await?;
                }
            }
            DialOutcome::Unknown { error } => {
                // The INVITE may be out: never redial. LiveKit's webhooks, or the sweeper at
                // the deadline, settle the call. Nobody awaits LiveKit's answer any more, so
                // webhooks apply as they arrive, and an end they noted while we waited
                // applies now rather than at the deadline.
                tracing::warn!(call = %call.id, %error, "dialer: dial outcome unknown");
                if let Some(call) = self.store.release_dialer(&call.id, now).await? {
                    if let Some(noted) = call.webhook_outcome.as_deref() {
                        let (status, details) = reported_end(noted);
                        advance(&self.store, &call, status, now, details).await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn fail(&self, call: &CallRow, why: &str) -> Result<(), StoreError> {
        advance(
            &self.store,
            call,
            CallStatus::Failed,
            now_micros(),
            Details {
                last_error: Some(why.to_owned()),
                ..Default::default()
            },
        )
        .await?;
        Ok(())
    }

    /// Takes back claims of dead dialers and settles calls whose dialer never reported
    /// (a crash while waiting for the answer): with what LiveKit's webhooks said, if they
    /// said anything, else as failed with the reason.
    pub async fn sweep(&self) -> Result<(), StoreError> {
        let now = now_micros();
        let released = self
            .store
            .release_stale_claims(now - micros(self.settings.claim_timeout), now)
            .await?;
        if released > 0 {
            tracing::info!(released, "dialer: took back claims of a stopped dialer");
            self.wake.notify_one();
        }
        for call in self.store.overdue_calls(now, 200).await? {
            let (status, details) = match call.webhook_outcome.as_deref() {
                Some(noted) => reported_end(noted),
                None => (
                    CallStatus::Failed,
                    Details {
                        last_error: Some("trunkline lost track of this call while it was dialing (restart or LiveKit outage); LiveKit never reported an outcome".to_owned()),
                        ..Default::default()
                    },
                ),
            };
            advance(&self.store, &call, status, now, details).await?;
        }
        Ok(())
    }
}

/// How a call ends from what LiveKit's webhooks noted while a dialer awaited its answer.
fn reported_end(noted: &str) -> (CallStatus, Details) {
    match noted_outcome(noted) {
        (CallStatus::Completed, reason) => (
            CallStatus::Completed,
            Details {
                end_reason: Some(reason.to_owned()),
                ..Default::default()
            },
        ),
        (status, reason) => (
            status,
            Details {
                last_error: Some(format!(
                    "LiveKit reported the call ended unanswered ({reason})"
                )),
                ..Default::default()
            },
        ),
    }
}

impl Dialer {
    /// Completes answered calls whose room LiveKit no longer has: the end of a call whose
    /// webhooks never arrived (webhook URL not configured in LiveKit, or lost). Without this
    /// such calls would hold their concurrency slots forever. `ended_at` is then when the
    /// check noticed, and `end_reason` says so.
    pub async fn check_rooms(&self) -> Result<usize, StoreError> {
        let now = now_micros();
        let calls = self
            .store
            .answered_calls(now - micros(self.settings.room_check_after), 100)
            .await?;
        if calls.is_empty() {
            return Ok(0);
        }
        // Calls answered before rooms were namespaced by tenant are in a room named after
        // the call alone.
        let names: Vec<String> = calls
            .iter()
            .flat_map(|c| [room_of(c), c.id.clone()])
            .collect();
        let open = match self.livekit.open_rooms(&names).await {
            Ok(open) => open,
            Err(e) => {
                tracing::warn!(error = %e, "dialer: cannot ask LiveKit which call rooms are open");
                return Ok(0);
            }
        };
        let mut ended = 0;
        for call in &calls {
            if open.contains(&room_of(call)) || open.contains(&call.id) {
                self.store.touch_call(&call.id, now).await?;
                continue;
            }
            let applied = advance(
                &self.store,
                call,
                CallStatus::Completed,
                now,
                Details {
                    end_reason: Some(
                        "ROOM_GONE (noticed by polling LiveKit; no webhook arrived)".into(),
                    ),
                    ..Default::default()
                },
            )
            .await?;
            if applied == trunkline_store::Applied::Yes {
                ended += 1;
            }
        }
        Ok(ended)
    }
}

/// The call's LiveKit room: its id, in its tenant's namespace.
pub fn room_of(call: &CallRow) -> String {
    rooms::call_room(&call.tenant_id, &call.id)
}

/// The SIP participant's identity in the room: stable per call, so webhooks about it are
/// recognisable.
pub fn participant_identity(call: &CallRow) -> String {
    format!("sip_{}", call.to_number.trim_start_matches('+'))
}
