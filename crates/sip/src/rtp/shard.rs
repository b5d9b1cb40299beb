//! The relay hosted on a tokio runtime (`RtpRelay::on_runtime`): its sessions are spread over
//! shards, one per worker thread. A shard is one epoll set (a `mio::Poll`) holding the four
//! sockets of each of its sessions, registered as one fd with the runtime's reactor, and one
//! task that waits until the set is readable, asks it which sockets are, and relays what each
//! holds, in one pass (`Shared::relay_ready`).
//!
//! Compared with a task per socket, a wake-up serves every socket that became readable
//! meanwhile, and a packet costs one `recvmmsg` and one `sendto` (see `batch`) instead of a
//! task wake-up and three system calls. Being ordinary tasks, shards run wherever the caller
//! wants them, and a test on a paused clock sees their I/O as it sees any other. The relay's
//! own threads (`threads`) are the default: a tokio runtime polls its reactor from one worker
//! at a time, so a worker preempted while holding it delays every shard.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Token};
use tokio::io::unix::AsyncFd;
use tokio::task::AbortHandle;

use super::batch::RecvBatch;
use super::shared::{Shared, A, B, RTCP, RTP};
use super::slots::{self, token, Membership, SharedSlots};

/// Readiness events taken per `epoll_wait`. Fewer than this means the set was drained.
const EVENTS: usize = 256;

pub(super) struct Shard {
    registry: mio::Registry,
    slots: SharedSlots,
    task: AbortHandle,
}

impl Drop for Shard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Shard {
    /// Creates the epoll set and spawns its task on the current runtime (call it inside one).
    pub(super) fn start() -> io::Result<Self> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        // SAFETY: the Poll owns its epoll fd, and nothing closes or replaces that fd while
        // the AsyncFd holds the Poll (it is only polled through `get_inner_mut`).
        let set = unsafe { AsyncFd::register_with_interest(poll, tokio::io::Interest::READABLE)? };
        let slots = SharedSlots::default();
        let task = tokio::spawn(run(set, slots.clone())).abort_handle();
        Ok(Self {
            registry,
            slots,
            task,
        })
    }

    /// Adds a session: its sockets are read by this shard from now on.
    pub(super) fn add(&self, shared: &Arc<Shared>) -> io::Result<Membership> {
        // On an error below, dropping the membership takes the session out again.
        let membership = Membership::join(&self.slots, shared.clone());
        for (ch, side) in [(RTP, A), (RTP, B), (RTCP, A), (RTCP, B)] {
            let fd = shared.sockets[ch][side].as_raw_fd();
            let t = token(membership.slot(), ch, side);
            self.registry
                .register(&mut SourceFd(&fd), Token(t as usize), Interest::READABLE)?;
        }
        Ok(membership)
    }
}

/// The shard's task: waits for the set, then relays every ready socket. It runs until the
/// relay is dropped (aborted then).
async fn run(mut set: AsyncFd<mio::Poll>, slots: SharedSlots) {
    let mut events = Events::with_capacity(EVENTS);
    let mut batch = RecvBatch::new();
    loop {
        let mut ready = match set.readable_mut().await {
            Ok(ready) => ready,
            Err(e) => {
                tracing::error!(error = %e, "RTP relay shard stopped");
                return;
            }
        };
        match ready
            .get_inner_mut()
            .poll(&mut events, Some(Duration::ZERO))
        {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::error!(error = %e, "RTP relay shard stopped");
                return;
            }
        }
        let mut n = 0;
        {
            let slots = slots::read(&slots);
            for event in events.iter() {
                n += 1;
                if let Some((shared, ch, side)) = slots.get(event.token().0 as u64) {
                    shared.relay_ready(ch, side, &mut batch);
                }
            }
        }
        // The sockets are edge-triggered and each was drained: an arrival from now on makes
        // the set readable again. A full batch may have left ready sockets behind: go on.
        if n < EVENTS {
            ready.clear_ready();
        }
    }
}
