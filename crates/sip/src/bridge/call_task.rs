//! One call's task: its media session, its `Call` machine, its connection to the callee (TCP or
//! TLS), its timers and the RTP-timeout watch. It ends when the machine says `Done`.

use super::call::{hostport, Action, Call, CallConfig, Event, Timer, Timers};
use super::guard::CallHold;
use super::ladder::Ladder;
use super::media::MediaRelay;
use super::metrics;
use super::reply::{CallDone, Reply};
use super::Route;
use crate::msg::{self, SipMsg};
use crate::transport::{SipStream, StreamTransport};
use crate::wire::StreamFramer;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, WriteHalf};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

/// The connection to the callee: DNS, TCP and (for TLS) the handshake, all within `limit`.
async fn connect_callee(
    host: String,
    port: u16,
    transport: StreamTransport,
    tls: crate::transport::TlsSettings,
    limit: Duration,
    allow_internal: bool,
) -> Option<SipStream> {
    match crate::transport::connect(&host, port, transport, &tls, limit, allow_internal).await {
        Ok(s) => Some(s),
        Err(e) => {
            // The reason names the step (DNS, TCP, TLS) and the target, never a credential.
            tracing::info!(target = %hostport(&host, port), error = %e, "callee unreachable");
            None
        }
    }
}

/// The connection to the callee once up: where we write, and its framed messages (`None`: closed).
/// The reader task holds the stream's other half, so dropping this aborts it too: only then
/// is the connection closed (a peer that keeps it open would otherwise keep it forever).
struct CalleeConn {
    w: WriteHalf<SipStream>,
    rx: mpsc::Receiver<Option<Vec<u8>>>,
    reader: tokio::task::JoinHandle<()>,
    transport: &'static str,
}

impl Drop for CalleeConn {
    fn drop(&mut self) {
        self.reader.abort();
        metrics::connection("dialed", self.transport, -1.0);
    }
}

/// What the endpoint decided about a new call; `run_call` adds the media session.
pub(super) struct CallSetup {
    pub(super) route: Route,
    /// The call's claim on its source's allowances: ports given back with the relay
    /// session, the call when this task ends.
    pub(super) hold: CallHold,
    pub(super) callee_call_id: String,
    pub(super) caller_local: String,
    pub(super) caller_udp: bool,
    pub(super) callee_local: String,
    /// The relay's address as each leg's peer reaches it (`None`: the relay's own).
    pub(super) caller_media_ip: Option<IpAddr>,
    pub(super) callee_media_ip: Option<IpAddr>,
    pub(super) timers: Timers,
    pub(super) connect_timeout: Duration,
    /// Whether the callee may be at an internal address (checked after DNS, before connect).
    pub(super) allow_internal: bool,
    /// How long one write toward the callee may take before its connection counts as gone.
    pub(super) write_timeout: Duration,
    pub(super) tls: crate::transport::TlsSettings,
}

/// Writes `bytes` to the callee, flushed (TLS would otherwise hold the record back), within
/// `limit`. `false`: the connection is broken or the peer stopped reading.
async fn write_callee(w: &mut WriteHalf<SipStream>, bytes: &[u8], limit: Duration) -> bool {
    metrics::sip_message("out", bytes);
    let write = async {
        w.write_all(bytes).await?;
        w.flush().await
    };
    matches!(tokio::time::timeout(limit, write).await, Ok(Ok(())))
}

/// Watches a session's RTP counter once the call is answered (`Action::WatchMedia`).
struct MediaWatch {
    timeout: Duration,
    seen: u64,
    since: Instant,
    /// When to sample the counter next (every eighth of the timeout: the call ends at most
    /// that late).
    next: Instant,
}

impl MediaWatch {
    fn new(timeout: Duration, activity: u64, now: Instant) -> Self {
        let mut w = Self {
            timeout,
            seen: activity,
            since: now,
            next: now,
        };
        w.next = now + w.step();
        w
    }

    fn step(&self) -> Duration {
        (self.timeout / 8).max(Duration::from_millis(10))
    }

    /// Whether the session has been silent for the whole timeout.
    fn silent(&mut self, activity: u64, now: Instant) -> bool {
        self.next = now + self.step();
        if activity != self.seen {
            self.seen = activity;
            self.since = now;
            return false;
        }
        now.duration_since(self.since) >= self.timeout
    }
}

/// One call: its media session, its machine, its connection to the callee, its timers.
/// Everything it logs carries the caller's Call-ID and the trunk.
#[tracing::instrument(name = "bridge_call", skip_all,
    fields(call_id = %invite.call_id(), trunk_id = %setup.route.trunk_id()))]
pub(super) async fn run_call(
    setup: CallSetup,
    invite: SipMsg,
    caller: Reply,
    relay: Arc<dyn MediaRelay>,
    mut rx: mpsc::Receiver<Event>,
    endpoint: CallDone,
) {
    let caller_call_id = invite.call_id().to_owned();
    let callee_call_id = setup.callee_call_id.clone();
    let mut hold = setup.hold;
    // Logs the call's ladder and records its metrics when this task ends, whichever way.
    let mut ladder = Ladder::start(&caller_call_id, &callee_call_id);
    let done = |endpoint: CallDone| {
        let _ = endpoint.send((caller_call_id, callee_call_id));
    };
    let media = match relay.open(invite.call_id()).await {
        Ok(m) => m,
        Err(why) => {
            tracing::warn!(why, "no media relay session: 503");
            let r = msg::response(&invite, 503, "No Media Ports", None).to_bytes();
            ladder.sent("caller", &r);
            caller.send(r);
            done(endpoint);
            return;
        }
    };
    // The relay may listen on every interface; each SDP must carry the address its reader
    // sends media to, and a peer cannot send to 0.0.0.0.
    let advertised = |local: SocketAddr, ip: Option<IpAddr>| {
        SocketAddr::new(ip.unwrap_or(local.ip()), local.port())
    };
    let caller_media = advertised(media.caller_addr(), setup.caller_media_ip);
    let callee_media = advertised(media.callee_addr(), setup.callee_media_ip);
    if caller_media.ip().is_unspecified() || callee_media.ip().is_unspecified() {
        tracing::error!(
            "the relay listens on an unspecified address and no media address is configured: 503"
        );
        let r = msg::response(&invite, 503, "No Media Address", None).to_bytes();
        ladder.sent("caller", &r);
        caller.send(r);
        done(endpoint);
        return;
    }
    let cfg = CallConfig {
        route: setup.route,
        callee_call_id: setup.callee_call_id,
        caller_local: setup.caller_local,
        caller_udp: setup.caller_udp,
        callee_local: setup.callee_local,
        caller_media,
        callee_media,
        timers: setup.timers,
    };
    let mut media = Some(media);
    ladder.received("caller", &invite);
    let (mut call, first) = Call::start(cfg, invite);
    let (host, port, transport) = call.callee_destination();
    let mut timers: HashMap<Timer, Instant> = HashMap::new();
    let mut watch: Option<MediaWatch> = None;
    let mut callee_queue: Vec<Vec<u8>> = vec![];
    let mut callee: Option<CalleeConn> = None;
    let mut pending = first;
    let needs_b = pending.iter().any(|a| matches!(a, Action::SendCallee(_)));
    let mut connecting = needs_b.then(|| {
        Box::pin(connect_callee(
            host,
            port,
            transport,
            setup.tls.clone(),
            setup.connect_timeout,
            setup.allow_internal,
        ))
    });
    let write_timeout = setup.write_timeout;
    loop {
        // Set when a write to the callee failed: its connection is treated as closed.
        let mut callee_broken = false;
        for action in pending.drain(..) {
            if let Action::SendCallee(bytes) = &action {
                ladder.sent("callee", bytes);
            }
            match action {
                Action::SendCaller(bytes) => {
                    ladder.sent("caller", &bytes);
                    caller.send(bytes)
                }
                Action::SendCallee(bytes) => match &mut callee {
                    Some(leg) => {
                        if !callee_broken && !write_callee(&mut leg.w, &bytes, write_timeout).await
                        {
                            callee_broken = true;
                        }
                    }
                    None => callee_queue.push(bytes),
                },
                Action::Arm(t, d) => {
                    timers.insert(t, Instant::now() + d);
                }
                Action::CallerMedia(p) => {
                    if let Some(m) = media.as_mut() {
                        m.set_caller_peer(p);
                    }
                }
                Action::CalleeMedia(p) => {
                    if let Some(m) = media.as_mut() {
                        m.set_callee_peer(p);
                    }
                }
                Action::WatchMedia => {
                    watch = media.as_ref().and_then(|m| {
                        Some(MediaWatch::new(
                            m.rtp_timeout()?,
                            m.activity(),
                            Instant::now(),
                        ))
                    });
                }
                Action::ReleaseMedia => {
                    media = None;
                    hold.release_ports();
                    watch = None;
                }
                Action::Done => {
                    drop(media.take());
                    hold.release_ports();
                    if let Some(mut leg) = callee.take() {
                        // FIN (and TLS close_notify), briefly: the peer may be gone.
                        let close = leg.w.shutdown();
                        let _ = tokio::time::timeout(Duration::from_millis(200), close).await;
                    }
                    done(endpoint);
                    return;
                }
            }
        }
        if callee_broken {
            tracing::info!("a write to the callee failed or timed out: its connection is closed");
            callee = None;
            pending = call.handle(Event::CalleeClosed);
            continue;
        }
        let next = timers
            .iter()
            .min_by_key(|(_, at)| **at)
            .map(|(t, at)| (*t, *at));
        let sleep = async {
            match next {
                Some((_, at)) => sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let look = async {
            match &watch {
                Some(w) => sleep_until(w.next).await,
                None => std::future::pending().await,
            }
        };
        let event = tokio::select! {
            e = rx.recv() => match e {
                Some(e) => e,
                None => return,
            },
            c = async { connecting.as_mut().unwrap().await }, if connecting.is_some() => {
                connecting = None;
                match c {
                    Some(stream) => {
                        let (mut rd, mut w) = tokio::io::split(stream);
                        let mut written = true;
                        for q in callee_queue.drain(..) {
                            written = written && write_callee(&mut w, &q, write_timeout).await;
                        }
                        if !written {
                            tracing::info!("a write to the callee failed or timed out");
                            pending = call.handle(Event::CalleeClosed);
                            continue;
                        }
                        let (btx, brx) = mpsc::channel(64);
                        let reader = tokio::spawn(async move {
                            let mut framer = StreamFramer::default();
                            let mut buf = vec![0u8; 16 * 1024];
                            loop {
                                match rd.read(&mut buf).await {
                                    Ok(0) | Err(_) => break,
                                    Ok(n) => framer.push(&buf[..n]),
                                }
                                while let Ok(Some(m)) = framer.next_message() {
                                    metrics::sip_message("in", &m);
                                    if btx.send(Some(m)).await.is_err() {
                                        return;
                                    }
                                }
                            }
                            let _ = btx.send(None).await;
                        });
                        let transport = match transport {
                            StreamTransport::Tcp => "tcp",
                            StreamTransport::Tls => "tls",
                        };
                        metrics::connection("dialed", transport, 1.0);
                        callee = Some(CalleeConn {
                            w,
                            rx: brx,
                            reader,
                            transport,
                        });
                        continue;
                    }
                    None => Event::CalleeConnectFailed,
                }
            }
            m = async { callee.as_mut().unwrap().rx.recv().await }, if callee.is_some() => match m {
                Some(Some(bytes)) => match SipMsg::parse(&bytes) {
                    Ok(m) => Event::FromCallee(m),
                    Err(_) => continue,
                },
                _ => {
                    callee = None;
                    Event::CalleeClosed
                }
            },
            _ = look => {
                let activity = media.as_ref().map(|m| m.activity()).unwrap_or(0);
                let silent = watch
                    .as_mut()
                    .is_some_and(|w| w.silent(activity, Instant::now()));
                if !silent {
                    continue;
                }
                watch = None;
                tracing::info!("no RTP from either side: ending the call");
                Event::MediaTimeout
            }
            _ = sleep => {
                let Some((t, _)) = next else { continue };
                timers.remove(&t);
                Event::Timer(t)
            }
        };
        match &event {
            Event::FromCaller(m) => ladder.received("caller", m),
            Event::FromCallee(m) => ladder.received("callee", m),
            _ => {}
        }
        pending = call.handle(event);
    }
}
