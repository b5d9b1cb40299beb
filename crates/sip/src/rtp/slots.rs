//! The sessions a shard or the relay threads serve, by slot: a socket's epoll token is its
//! session's slot, channel and leg. Passes over ready sockets hold the read lock; adding and
//! removing a session take the write lock, so once a session is removed no pass still uses it.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::shared::Shared;

#[derive(Default)]
pub(super) struct Slots {
    entries: Vec<Option<Arc<Shared>>>,
    free: Vec<usize>,
}

pub(super) type SharedSlots = Arc<RwLock<Slots>>;

/// The token of socket `[ch][side]` of the session in `slot`.
pub(super) fn token(slot: usize, ch: usize, side: usize) -> u64 {
    (slot as u64) << 2 | (ch as u64) << 1 | side as u64
}

impl Slots {
    /// The session and socket a token names, if the session is still there.
    pub(super) fn get(&self, token: u64) -> Option<(&Arc<Shared>, usize, usize)> {
        let slot = usize::try_from(token >> 2).ok()?;
        let shared = self.entries.get(slot)?.as_ref()?;
        Some((shared, ((token >> 1) & 1) as usize, (token & 1) as usize))
    }
}

// Every operation on Slots is a single assignment or push: a poisoned lock is consistent.
pub(super) fn read(slots: &RwLock<Slots>) -> RwLockReadGuard<'_, Slots> {
    slots.read().unwrap_or_else(|e| e.into_inner())
}

fn write(slots: &RwLock<Slots>) -> RwLockWriteGuard<'_, Slots> {
    slots.write().unwrap_or_else(|e| e.into_inner())
}

/// A session's place among the served sessions. Dropping it takes the session out (after any
/// pass in progress): its sockets are no longer read, and the reference held here is gone (the
/// sockets close, and leave the epoll set, when the session's own reference goes too).
pub(super) struct Membership {
    slots: SharedSlots,
    slot: usize,
}

impl Membership {
    pub(super) fn join(slots: &SharedSlots, shared: Arc<Shared>) -> Self {
        let mut s = write(slots);
        let slot = match s.free.pop() {
            Some(slot) => {
                s.entries[slot] = Some(shared);
                slot
            }
            None => {
                s.entries.push(Some(shared));
                s.entries.len() - 1
            }
        };
        Self {
            slots: slots.clone(),
            slot,
        }
    }

    pub(super) fn slot(&self) -> usize {
        self.slot
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut s = write(&self.slots);
        s.entries[self.slot] = None;
        s.free.push(self.slot);
    }
}
