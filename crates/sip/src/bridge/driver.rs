//! The thin async loop around `Call`: LiveKit's side on UDP and TCP, Exotel's side (inbound
//! calls) on TCP, one TCP connection to leg B per call, the timers, and the media relay. The
//! endpoint task owns the Call-ID map (both legs' Call-IDs, so a request Exotel or LiveKit
//! sends to our Contact on a new connection still finds its call) and the digest decision;
//! it never waits on a call. Each call runs in its own task until its machine says `Done`.
//!
//! Requests we send to leg A (BYE, relayed re-INVITE) go to the address (or connection) its
//! INVITE came from, with the Request-URI and Route set the dialog says: the peer is one hop.

use super::auth::{AuthDecision, Authenticator};
use super::call::{hostport, Action, Call, CallConfig, Event, Leg, Timer, Timers};
use super::msg::{self, ParseError, SipMsg};
use super::{Route, TrunkDirectory};
use crate::transport::{SipStream, StreamTransport};
use crate::wire::StreamFramer;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, WriteHalf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

/// One call's media, as the RTP relay (`crate::rtp`, in progress) provides it: leg A faces
/// LiveKit, leg B faces Exotel. Dropping it frees its ports.
pub trait MediaSession: Send + 'static {
    fn local_a(&self) -> SocketAddr;
    fn local_b(&self) -> SocketAddr;
    fn set_peer_a(&mut self, addr: SocketAddr);
    fn set_peer_b(&mut self, addr: SocketAddr);
    /// A counter that moves with every RTP packet accepted from either peer (and every peer
    /// change): the bridge ends an answered call when it stops for `rtp_timeout`.
    fn activity(&self) -> u64 {
        0
    }
    /// `None`: the session never times out (signalling-only tests).
    fn rtp_timeout(&self) -> Option<Duration> {
        None
    }
}

/// Opening a session binds ports, hence a future.
pub type OpenFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Box<dyn MediaSession>, String>> + Send + 'a>,
>;

pub trait MediaRelay: Send + Sync + 'static {
    fn open<'a>(&'a self, call_id: &'a str) -> OpenFuture<'a>;
}

/// The RTP relay of `crate::rtp`.
impl MediaSession for crate::rtp::RelaySession {
    fn local_a(&self) -> SocketAddr {
        crate::rtp::RelaySession::local_a(self)
    }
    fn local_b(&self) -> SocketAddr {
        crate::rtp::RelaySession::local_b(self)
    }
    fn set_peer_a(&mut self, addr: SocketAddr) {
        crate::rtp::RelaySession::set_peer_a(self, addr)
    }
    fn set_peer_b(&mut self, addr: SocketAddr) {
        crate::rtp::RelaySession::set_peer_b(self, addr)
    }
    fn activity(&self) -> u64 {
        crate::rtp::RelaySession::activity(self)
    }
    fn rtp_timeout(&self) -> Option<Duration> {
        Some(crate::rtp::RelaySession::rtp_timeout(self))
    }
}

impl MediaRelay for crate::rtp::RtpRelay {
    fn open<'a>(&'a self, call_id: &'a str) -> OpenFuture<'a> {
        Box::pin(async move {
            crate::rtp::RtpRelay::open(self, call_id)
                .await
                .map(|s| Box::new(s) as Box<dyn MediaSession>)
                .map_err(|e| e.to_string())
        })
    }
}

/// Signalling only: SDP points at fixed addresses and nothing is relayed (tests, and until
/// the RTP relay is wired in).
pub struct NoRelay {
    pub a: SocketAddr,
    pub b: SocketAddr,
}

struct NoSession(SocketAddr, SocketAddr);

impl MediaSession for NoSession {
    fn local_a(&self) -> SocketAddr {
        self.0
    }
    fn local_b(&self) -> SocketAddr {
        self.1
    }
    fn set_peer_a(&mut self, _: SocketAddr) {}
    fn set_peer_b(&mut self, _: SocketAddr) {}
}

impl MediaRelay for NoRelay {
    fn open<'a>(&'a self, _: &'a str) -> OpenFuture<'a> {
        let session: Box<dyn MediaSession> = Box::new(NoSession(self.a, self.b));
        Box::pin(std::future::ready(Ok(session)))
    }
}

#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// The digest realm LiveKit is challenged with.
    pub realm: String,
    /// Our address as LiveKit reaches it (Via/Contact toward LiveKit), `ip:port`.
    pub a_advertise: String,
    /// Our address as Exotel sees it (the whitelisted public IP), `ip:port`.
    pub b_advertise: String,
    pub timers: Timers,
    /// The bound on DNS plus TCP connect toward Exotel.
    pub connect_timeout: Duration,
    /// Who may talk to the listener, how fast, over how many TCP connections.
    pub guard: super::guard::GuardConfig,
    /// The roots Exotel's TLS certificate is checked against (the public ones; tests add
    /// their own CA).
    pub tls: crate::transport::TlsSettings,
}

/// The inbound direction: where Exotel delivers calls, and where LiveKit's SIP service takes
/// them (over TCP).
pub struct InboundSide {
    pub listener: TcpListener,
    pub livekit_host: String,
    pub livekit_port: u16,
}

/// The sockets the bridge serves, bound by the caller.
pub struct Listeners {
    /// LiveKit's side: its calls out arrive here and are challenged.
    pub udp: UdpSocket,
    pub tcp: TcpListener,
    /// Exotel's side, when the inbound direction is enabled.
    pub inbound: Option<InboundSide>,
}

/// Where a message came from and its answers go.
#[derive(Clone)]
enum Reply {
    Udp(Arc<UdpSocket>, SocketAddr),
    Tcp(mpsc::Sender<Vec<u8>>),
}

impl Reply {
    async fn send(&self, bytes: Vec<u8>) {
        match self {
            Self::Udp(s, to) => {
                let _ = s.send_to(&bytes, to).await;
            }
            Self::Tcp(tx) => {
                let _ = tx.send(bytes).await;
            }
        }
    }
}

/// Which listener a message arrived on: it decides what a new INVITE is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    LiveKit,
    Provider,
}

enum ToEndpoint {
    Message(Vec<u8>, Reply, Side),
    /// A call's machine is done: forget both of its Call-IDs.
    CallDone(String, String),
}

/// Serves the outbound direction on `udp` and `tcp` until `shutdown` resolves.
pub async fn serve(
    udp: UdpSocket,
    tcp: TcpListener,
    cfg: BridgeConfig,
    directory: Arc<dyn TrunkDirectory>,
    relay: Arc<dyn MediaRelay>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let listeners = Listeners {
        udp,
        tcp,
        inbound: None,
    };
    serve_with(listeners, cfg, directory, relay, shutdown).await
}

/// A call's events, and which of its legs a Call-ID names.
type CallMap = HashMap<String, (Leg, mpsc::Sender<Event>)>;

/// Serves the bridge on `listeners` until `shutdown` resolves.
pub async fn serve_with(
    listeners: Listeners,
    cfg: BridgeConfig,
    directory: Arc<dyn TrunkDirectory>,
    relay: Arc<dyn MediaRelay>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let Listeners { udp, tcp, inbound } = listeners;
    let udp = Arc::new(udp);
    let guard = Arc::new(std::sync::Mutex::new(super::guard::EdgeGuard::new(
        cfg.guard.clone(),
    )));
    let (tx, mut rx) = mpsc::channel::<ToEndpoint>(1024);
    let udp_task = {
        let (udp, tx, guard) = (udp.clone(), tx.clone(), guard.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; msg::MAX_MESSAGE];
            loop {
                match udp.recv_from(&mut buf).await {
                    Ok((n, from)) => {
                        if !admit(&guard, from.ip(), &buf[..n]) {
                            continue;
                        }
                        let reply = Reply::Udp(udp.clone(), from);
                        let m = ToEndpoint::Message(buf[..n].to_vec(), reply, Side::LiveKit);
                        if tx.send(m).await.is_err() {
                            return;
                        }
                    }
                    // ICMP errors surface here on some systems: keep listening.
                    Err(_) => continue,
                }
            }
        })
    };
    let tcp_task = tokio::spawn(accept(tcp, Side::LiveKit, tx.clone(), guard.clone()));
    let (provider_task, livekit_sip) = match inbound {
        Some(side) => (
            Some(tokio::spawn(accept(
                side.listener,
                Side::Provider,
                tx.clone(),
                guard.clone(),
            ))),
            Some((side.livekit_host, side.livekit_port)),
        ),
        None => (None, None),
    };
    let auth = Authenticator::new(cfg.realm.clone());
    let mut calls: CallMap = HashMap::new();
    tokio::pin!(shutdown);
    loop {
        let m = tokio::select! {
            _ = &mut shutdown => break,
            m = rx.recv() => m,
        };
        let (bytes, reply, side) = match m {
            None => break,
            Some(ToEndpoint::CallDone(a, b)) => {
                calls.remove(&a);
                calls.remove(&b);
                continue;
            }
            Some(ToEndpoint::Message(bytes, reply, side)) => (bytes, reply, side),
        };
        let parsed = match SipMsg::parse(&bytes) {
            Ok(m) => m,
            Err(ParseError::BadRequest { partial, why }) => {
                // RFC 3261 §21.5.6: another SIP version is a 505, anything else broken a 400.
                let code = if why == msg::VERSION_NOT_SUPPORTED {
                    505
                } else {
                    400
                };
                tracing::debug!(why, code, "a malformed request answered");
                if partial.method() != Some("ACK") {
                    reply
                        .send(msg::response(&partial, code, &why, None).to_bytes())
                        .await;
                }
                continue;
            }
            Err(ParseError::Garbage(_)) => continue,
        };
        if let Some((leg, call)) = calls.get(parsed.call_id()) {
            let event = match leg {
                Leg::A => Event::FromA(parsed),
                Leg::B => Event::FromB(parsed),
            };
            // Never wait on one call: a call whose queue is full is stuck, and a lost
            // message is retransmitted (UDP) or ends that call alone (TCP).
            match call.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!("a call's event queue is full: message dropped");
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
            continue;
        }
        let Some(method) = parsed.method().map(str::to_owned) else {
            continue; // a response to nothing of ours
        };
        match method.as_str() {
            "ACK" => {}
            "OPTIONS" => {
                reply
                    .send(msg::response(&parsed, 200, "OK", None).to_bytes())
                    .await
            }
            "INVITE" if parsed.to_tag().is_none() => {
                let route = match side {
                    Side::LiveKit => {
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_secs())
                            .unwrap_or(0);
                        match auth.decide(&parsed, now, directory.as_ref()) {
                            AuthDecision::Challenge(h) => {
                                let mut r = msg::response(&parsed, 401, "Unauthorized", None);
                                r.headers.push(("WWW-Authenticate".into(), h));
                                reply.send(r.to_bytes()).await;
                                continue;
                            }
                            AuthDecision::Reject(code) => {
                                let r = msg::response(&parsed, code, msg::reason(code), None);
                                reply.send(r.to_bytes()).await;
                                continue;
                            }
                            AuthDecision::Accept(trunk) => Route::ToExotel(*trunk),
                        }
                    }
                    Side::Provider => {
                        let found =
                            called_number(&parsed).and_then(|n| directory.inbound_by_number(&n));
                        match (found, &livekit_sip) {
                            (Some(trunk), Some((host, port))) => Route::ToLiveKit {
                                trunk,
                                host: host.clone(),
                                port: *port,
                            },
                            _ => {
                                // No tenant holds the number (or it is not a number).
                                let r = msg::response(&parsed, 404, msg::reason(404), None);
                                reply.send(r.to_bytes()).await;
                                continue;
                            }
                        }
                    }
                };
                let (a_local, b_local) = match side {
                    Side::LiveKit => (cfg.a_advertise.clone(), cfg.b_advertise.clone()),
                    Side::Provider => (cfg.b_advertise.clone(), cfg.a_advertise.clone()),
                };
                let a_id = parsed.call_id().to_owned();
                let b_id = format!("{}@trunkline", super::call::token());
                let (ctx, crx) = mpsc::channel(64);
                calls.insert(a_id, (Leg::A, ctx.clone()));
                calls.insert(b_id.clone(), (Leg::B, ctx));
                let setup = CallSetup {
                    route,
                    b_call_id: b_id,
                    a_local,
                    a_udp: matches!(reply, Reply::Udp(..)),
                    b_local,
                    timers: cfg.timers,
                    connect_timeout: cfg.connect_timeout,
                    tls: cfg.tls.clone(),
                };
                tokio::spawn(run_call(
                    setup,
                    parsed,
                    reply,
                    relay.clone(),
                    crx,
                    tx.clone(),
                ));
            }
            _ => {
                let r = msg::response(&parsed, 481, msg::reason(481), None);
                reply.send(r.to_bytes()).await;
            }
        }
    }
    udp_task.abort();
    tcp_task.abort();
    if let Some(t) = provider_task {
        t.abort();
    }
}

/// The called number of an INVITE from Exotel, in E.164 with '+' (how inbound trunks hold
/// their numbers).
fn called_number(invite: &SipMsg) -> Option<String> {
    let user = invite.uri().and_then(msg::uri_user)?;
    super::exotel_number(user, super::NumberFormat::E164)
}

/// Accepts TCP connections on `listener` for `side`, each past the edge guard.
async fn accept(
    listener: TcpListener,
    side: Side,
    tx: mpsc::Sender<ToEndpoint>,
    guard: SharedGuard,
) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let verdict = lock(&guard).tcp_opened(peer.ip());
        if verdict != super::guard::Verdict::Accept {
            tracing::debug!(%peer, ?verdict, "TCP connection dropped at the edge");
            continue; // dropping the stream closes it
        }
        let (tx, guard) = (tx.clone(), guard.clone());
        tokio::spawn(async move {
            connection(stream, side, tx, guard.clone(), peer.ip()).await;
            lock(&guard).tcp_closed(peer.ip());
        });
    }
}

type SharedGuard = Arc<std::sync::Mutex<super::guard::EdgeGuard>>;

fn lock(g: &SharedGuard) -> std::sync::MutexGuard<'_, super::guard::EdgeGuard> {
    g.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether a message from `src` gets past the edge (allow-list, rate, scanner); dropped
/// silently otherwise.
fn admit(guard: &SharedGuard, src: std::net::IpAddr, bytes: &[u8]) -> bool {
    let verdict = lock(guard).message(src, bytes, std::time::Instant::now());
    if verdict != super::guard::Verdict::Accept {
        tracing::debug!(%src, ?verdict, "SIP message dropped at the edge");
        return false;
    }
    true
}

async fn connection(
    stream: TcpStream,
    side: Side,
    tx: mpsc::Sender<ToEndpoint>,
    guard: SharedGuard,
    peer: std::net::IpAddr,
) {
    let (mut rd, mut wr) = stream.into_split();
    let (wtx, mut wrx) = mpsc::channel::<Vec<u8>>(64);
    let writer = tokio::spawn(async move {
        while let Some(b) = wrx.recv().await {
            if wr.write_all(&b).await.is_err() {
                return;
            }
        }
    });
    let mut framer = StreamFramer::default();
    let mut buf = vec![0u8; 16 * 1024];
    'conn: loop {
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => framer.push(&buf[..n]),
        }
        loop {
            match framer.next_message() {
                Ok(Some(m)) => {
                    if !admit(&guard, peer, &m) {
                        continue;
                    }
                    let reply = Reply::Tcp(wtx.clone());
                    if tx.send(ToEndpoint::Message(m, reply, side)).await.is_err() {
                        break 'conn;
                    }
                }
                Ok(None) => break,
                Err(_) => break 'conn,
            }
        }
    }
    drop(wtx);
    let _ = writer.await;
}

/// Leg B's connection: DNS, TCP and (for TLS) the handshake, all within `limit`.
async fn connect_b(
    host: String,
    port: u16,
    transport: StreamTransport,
    tls: crate::transport::TlsSettings,
    limit: Duration,
) -> Option<SipStream> {
    match crate::transport::connect(&host, port, transport, &tls, limit).await {
        Ok(s) => Some(s),
        Err(e) => {
            // The reason names the step (DNS, TCP, TLS) and the target, never a credential.
            tracing::info!(target = %hostport(&host, port), error = %e, "leg B unreachable");
            None
        }
    }
}

/// Leg B's connection once up: where we write, and its framed messages (`None`: closed).
/// The reader task holds the stream's other half, so dropping this aborts it too: only then
/// is the connection closed (a peer that keeps it open would otherwise keep it forever).
struct LegB {
    w: WriteHalf<SipStream>,
    rx: mpsc::Receiver<Option<Vec<u8>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for LegB {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// What the endpoint decided about a new call; `run_call` adds the media session.
struct CallSetup {
    route: Route,
    b_call_id: String,
    a_local: String,
    a_udp: bool,
    b_local: String,
    timers: Timers,
    connect_timeout: Duration,
    tls: crate::transport::TlsSettings,
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

/// One call: its media session, its machine, its connection to leg B, its timers.
async fn run_call(
    setup: CallSetup,
    invite: SipMsg,
    a: Reply,
    relay: Arc<dyn MediaRelay>,
    mut rx: mpsc::Receiver<Event>,
    endpoint: mpsc::Sender<ToEndpoint>,
) {
    let a_call_id = invite.call_id().to_owned();
    let b_call_id = setup.b_call_id.clone();
    let done = |endpoint: mpsc::Sender<ToEndpoint>| async move {
        let _ = endpoint
            .send(ToEndpoint::CallDone(a_call_id, b_call_id))
            .await;
    };
    let media = match relay.open(invite.call_id()).await {
        Ok(m) => m,
        Err(why) => {
            tracing::warn!(why, "no media relay session: 503");
            let r = msg::response(&invite, 503, "No Media Ports", None);
            a.send(r.to_bytes()).await;
            done(endpoint).await;
            return;
        }
    };
    let cfg = CallConfig {
        route: setup.route,
        b_call_id: setup.b_call_id,
        a_local: setup.a_local,
        a_udp: setup.a_udp,
        b_local: setup.b_local,
        media_a: media.local_a(),
        media_b: media.local_b(),
        timers: setup.timers,
    };
    let mut media = Some(media);
    let (mut call, first) = Call::start(cfg, invite);
    let (host, port, transport) = call.b_destination();
    let mut timers: HashMap<Timer, Instant> = HashMap::new();
    let mut watch: Option<MediaWatch> = None;
    let mut b_queue: Vec<Vec<u8>> = vec![];
    let mut b: Option<LegB> = None;
    let mut pending = first;
    let needs_b = pending.iter().any(|a| matches!(a, Action::SendB(_)));
    let mut connecting = needs_b.then(|| {
        Box::pin(connect_b(
            host,
            port,
            transport,
            setup.tls.clone(),
            setup.connect_timeout,
        ))
    });
    loop {
        for action in pending.drain(..) {
            match action {
                Action::SendA(bytes) => a.send(bytes).await,
                Action::SendB(bytes) => match &mut b {
                    Some(leg) => {
                        // Flushed: TLS would otherwise hold the record back.
                        let _ = leg.w.write_all(&bytes).await;
                        let _ = leg.w.flush().await;
                    }
                    None => b_queue.push(bytes),
                },
                Action::Arm(t, d) => {
                    timers.insert(t, Instant::now() + d);
                }
                Action::PeerA(p) => {
                    if let Some(m) = media.as_mut() {
                        m.set_peer_a(p);
                    }
                }
                Action::PeerB(p) => {
                    if let Some(m) = media.as_mut() {
                        m.set_peer_b(p);
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
                    watch = None;
                }
                Action::Done => {
                    drop(media.take());
                    if let Some(mut leg) = b.take() {
                        // FIN (and TLS close_notify), briefly: the peer may be gone.
                        let close = leg.w.shutdown();
                        let _ = tokio::time::timeout(Duration::from_millis(200), close).await;
                    }
                    done(endpoint).await;
                    return;
                }
            }
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
                        for q in b_queue.drain(..) {
                            let _ = w.write_all(&q).await;
                            let _ = w.flush().await;
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
                                    if btx.send(Some(m)).await.is_err() {
                                        return;
                                    }
                                }
                            }
                            let _ = btx.send(None).await;
                        });
                        b = Some(LegB { w, rx: brx, reader });
                        continue;
                    }
                    None => Event::BConnectFailed,
                }
            }
            m = async { b.as_mut().unwrap().rx.recv().await }, if b.is_some() => match m {
                Some(Some(bytes)) => match SipMsg::parse(&bytes) {
                    Ok(m) => Event::FromB(m),
                    Err(_) => continue,
                },
                _ => {
                    b = None;
                    Event::BClosed
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
        pending = call.handle(event);
    }
}
