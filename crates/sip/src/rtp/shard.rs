//! A shard of the relay's sessions: one epoll set (a `mio::Poll`) holding the four sockets of
//! each of its sessions, and one task that waits until the set is readable, asks it which
//! sockets are, and relays what each holds, in one pass.
//!
//! Why not a task per socket: a packet then costs a task wake-up (often on another worker
//! thread) and three system calls, the last only to learn the socket is empty. Here a wake-up
//! serves every socket that became readable meanwhile, and a packet costs one `recvmmsg` and
//! one `sendto` (see `batch`). The set itself is registered with the runtime's I/O driver, so
//! the shard is an ordinary task: it runs on whatever runtime the relay was given, and a test
//! with a paused clock sees its I/O as it sees any other.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Token};
use tokio::io::unix::AsyncFd;
use tokio::task::AbortHandle;

use super::batch::RecvBatch;
use super::shared::{Shared, A, B, RTCP, RTP};

/// Readiness events taken per `epoll_wait`. Fewer than this means the set was drained.
const EVENTS: usize = 256;

pub(super) struct Shard {
    registry: mio::Registry,
    slots: Arc<Mutex<Slots>>,
    task: AbortHandle,
}

impl Drop for Shard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The shard's sessions; a socket's epoll token is its session's slot, channel and leg.
#[derive(Default)]
struct Slots {
    entries: Vec<Option<Arc<Shared>>>,
    free: Vec<usize>,
}

impl Slots {
    fn insert(&mut self, shared: Arc<Shared>) -> usize {
        match self.free.pop() {
            Some(slot) => {
                self.entries[slot] = Some(shared);
                slot
            }
            None => {
                self.entries.push(Some(shared));
                self.entries.len() - 1
            }
        }
    }
}

fn lock(slots: &Mutex<Slots>) -> MutexGuard<'_, Slots> {
    // Every operation on Slots is a single assignment or push: a poisoned lock is consistent.
    slots.lock().unwrap_or_else(|e| e.into_inner())
}

fn token(slot: usize, ch: usize, side: usize) -> Token {
    Token(slot << 2 | ch << 1 | side)
}

/// A session's place in its shard. Dropping it takes the session out: the shard no longer
/// reads its sockets, and the shard's reference to them is gone (they close, and leave the
/// epoll set, when the session's own reference goes too).
pub(super) struct Membership {
    slots: Arc<Mutex<Slots>>,
    slot: usize,
}

impl Drop for Membership {
    fn drop(&mut self) {
        // Waits for a pass in progress: after this, the shard never touches the session.
        let mut slots = lock(&self.slots);
        slots.entries[self.slot] = None;
        slots.free.push(self.slot);
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
        let slots = Arc::new(Mutex::new(Slots::default()));
        let task = tokio::spawn(run(set, slots.clone())).abort_handle();
        Ok(Self {
            registry,
            slots,
            task,
        })
    }

    /// Adds a session: its sockets are read by this shard from now on.
    pub(super) fn add(&self, shared: &Arc<Shared>) -> io::Result<Membership> {
        let slot = lock(&self.slots).insert(shared.clone());
        // On an error below, dropping the membership takes the session out again.
        let membership = Membership {
            slots: self.slots.clone(),
            slot,
        };
        for (ch, side) in [(RTP, A), (RTP, B), (RTCP, A), (RTCP, B)] {
            let fd = shared.sockets[ch][side].as_raw_fd();
            self.registry.register(
                &mut SourceFd(&fd),
                token(slot, ch, side),
                Interest::READABLE,
            )?;
        }
        Ok(membership)
    }
}

/// The shard's task: waits for the set, then relays every ready socket. It runs until the
/// relay is dropped (aborted then).
async fn run(mut set: AsyncFd<mio::Poll>, slots: Arc<Mutex<Slots>>) {
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
            let slots = lock(&slots);
            for event in events.iter() {
                n += 1;
                let t = event.token().0;
                if let Some(Some(shared)) = slots.entries.get(t >> 2) {
                    shared.relay_ready((t >> 1) & 1, t & 1, &mut batch);
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
