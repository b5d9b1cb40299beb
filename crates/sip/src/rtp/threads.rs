//! The relay on threads of its own (`RtpRelay::new`, `with_threads`): every session's sockets
//! in one epoll set, and N threads blocked in `epoll_wait` on it, as rtpengine's pollers are.
//! An arrival wakes one waiting thread, which relays every socket the set reports ready
//! (`Shared::relay_claimed`); meanwhile the other threads keep waiting for the next arrivals.
//! A thread preempted in the middle of a pass thus delays only the sockets of that pass, where
//! a tokio runtime, which polls its reactor from one worker at a time, would delay them all.
//!
//! The sockets are edge-triggered and never one-shot (re-arming would cost a system call per
//! packet), so two threads may be told about the same socket: a per-socket claim (in `shared`)
//! lets one of them relay it and makes that one look again if the other arrived meanwhile.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::batch::RecvBatch;
use super::shared::{Shared, A, B, RTCP, RTP};
use super::slots::{self, token, Membership, SharedSlots};

/// Readiness events taken per `epoll_wait`.
const EVENTS: usize = 256;
/// The token of the eventfd that stops the threads.
const STOP: u64 = u64::MAX;

pub(super) struct Threads {
    epoll: Arc<OwnedFd>,
    stop_fd: OwnedFd,
    stop: Arc<AtomicBool>,
    slots: SharedSlots,
    handles: Vec<JoinHandle<()>>,
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn epoll_add(epoll: RawFd, fd: RawFd, events: libc::c_int, token: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: events as u32,
        u64: token,
    };
    // SAFETY: both fds are open; the kernel copies `ev`.
    check(unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut ev) }).map(drop)
}

impl Threads {
    pub(super) fn start(n: usize) -> io::Result<Self> {
        // SAFETY: plain system calls; the fds returned are owned right away.
        let epoll =
            unsafe { OwnedFd::from_raw_fd(check(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        let stop_fd = unsafe {
            OwnedFd::from_raw_fd(check(libc::eventfd(
                0,
                libc::EFD_CLOEXEC | libc::EFD_NONBLOCK,
            ))?)
        };
        // Level-triggered: once written, every thread's epoll_wait returns it.
        epoll_add(epoll.as_raw_fd(), stop_fd.as_raw_fd(), libc::EPOLLIN, STOP)?;
        let mut threads = Self {
            epoll: Arc::new(epoll),
            stop_fd,
            stop: Arc::new(AtomicBool::new(false)),
            slots: SharedSlots::default(),
            handles: Vec::new(),
        };
        for i in 0..n.max(1) {
            let (epoll, stop, slots) = (
                threads.epoll.clone(),
                threads.stop.clone(),
                threads.slots.clone(),
            );
            // On an error, dropping `threads` stops the ones already started.
            threads.handles.push(
                std::thread::Builder::new()
                    .name(format!("rtp-relay-{i}"))
                    .spawn(move || run(&epoll, &stop, &slots))?,
            );
        }
        Ok(threads)
    }

    /// Adds a session: its sockets are read by the threads from now on.
    pub(super) fn add(&self, shared: &Arc<Shared>) -> io::Result<Membership> {
        // On an error below, dropping the membership takes the session out again (and closing
        // its sockets takes them out of the set).
        let membership = Membership::join(&self.slots, shared.clone());
        for (ch, side) in [(RTP, A), (RTP, B), (RTCP, A), (RTCP, B)] {
            epoll_add(
                self.epoll.as_raw_fd(),
                shared.sockets[ch][side].as_raw_fd(),
                libc::EPOLLIN | libc::EPOLLET,
                token(membership.slot(), ch, side),
            )?;
        }
        Ok(membership)
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // SAFETY: an open eventfd; writing 1 makes it readable.
        unsafe { libc::eventfd_write(self.stop_fd.as_raw_fd(), 1) };
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

fn run(epoll: &OwnedFd, stop: &AtomicBool, slots: &SharedSlots) {
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
    let mut batch = RecvBatch::new();
    loop {
        // SAFETY: `events` has room for EVENTS entries.
        let n = unsafe {
            libc::epoll_wait(
                epoll.as_raw_fd(),
                events.as_mut_ptr(),
                EVENTS as libc::c_int,
                -1,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            tracing::error!(error = %e, "RTP relay thread stopped");
            return;
        }
        if stop.load(Ordering::Acquire) {
            return;
        }
        let slots = slots::read(slots);
        for ev in &events[..n as usize] {
            // A copy: epoll_event is packed on x86-64, so no reference into it.
            let t = ev.u64;
            if let Some((shared, ch, side)) = slots.get(t) {
                shared.relay_claimed(ch, side, &mut batch);
            }
        }
    }
}
