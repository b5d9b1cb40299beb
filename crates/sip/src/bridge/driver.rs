//! The thin async loop around `Call`: LiveKit's side on UDP and TCP, one TCP connection to
//! Exotel per call, the timers, and the media relay. The endpoint task owns the Call-ID map
//! and the digest decision; each call runs in its own task until its machine says `Done`.
//!
//! Requests we send to LiveKit (BYE, relayed re-INVITE) go to the address (or connection)
//! its INVITE came from, with the Request-URI and Route set the dialog says: LiveKit's SIP
//! service is one hop.

use super::auth::{AuthDecision, Authenticator};
use super::call::{hostport, Action, Call, CallConfig, Event, Timer, Timers};
use super::msg::{self, ParseError, SipMsg};
use super::TrunkDirectory;
use crate::wire::StreamFramer;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
    /// Our address as LiveKit reaches it (Via/Contact on leg A), `ip:port`.
    pub a_advertise: String,
    /// Our address as Exotel sees it (the whitelisted public IP), `ip:port`.
    pub b_advertise: String,
    pub timers: Timers,
    /// The bound on DNS plus TCP connect toward Exotel.
    pub connect_timeout: Duration,
    /// Who may talk to the listener, how fast, over how many TCP connections.
    pub guard: super::guard::GuardConfig,
}

/// Where LiveKit's messages come from and answers go.
#[derive(Clone)]
enum AReply {
    Udp(Arc<UdpSocket>, SocketAddr),
    Tcp(mpsc::Sender<Vec<u8>>),
}

impl AReply {
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

enum ToEndpoint {
    FromA(Vec<u8>, AReply),
    CallDone(String),
}

/// Serves the bridge on `udp` and `tcp` (bound by the caller) until `shutdown` resolves.
pub async fn serve(
    udp: UdpSocket,
    tcp: TcpListener,
    cfg: BridgeConfig,
    directory: Arc<dyn TrunkDirectory>,
    relay: Arc<dyn MediaRelay>,
    shutdown: impl std::future::Future<Output = ()>,
) {
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
                        let reply = AReply::Udp(udp.clone(), from);
                        if tx
                            .send(ToEndpoint::FromA(buf[..n].to_vec(), reply))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    // ICMP errors surface here on some systems: keep listening.
                    Err(_) => continue,
                }
            }
        })
    };
    let tcp_task = {
        let (tx, guard) = (tx.clone(), guard.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = tcp.accept().await else {
                    continue;
                };
                let verdict = lock(&guard).tcp_opened(peer.ip());
                if verdict != super::guard::Verdict::Accept {
                    tracing::debug!(%peer, ?verdict, "TCP connection dropped at the edge");
                    continue; // dropping the stream closes it
                }
                let (tx, guard) = (tx.clone(), guard.clone());
                tokio::spawn(async move {
                    a_connection(stream, tx, guard.clone(), peer.ip()).await;
                    lock(&guard).tcp_closed(peer.ip());
                });
            }
        })
    };
    let auth = Authenticator::new(cfg.realm.clone());
    let mut calls: HashMap<String, mpsc::Sender<Event>> = HashMap::new();
    tokio::pin!(shutdown);
    loop {
        let m = tokio::select! {
            _ = &mut shutdown => break,
            m = rx.recv() => m,
        };
        match m {
            None => break,
            Some(ToEndpoint::CallDone(id)) => {
                calls.remove(&id);
            }
            Some(ToEndpoint::FromA(bytes, reply)) => {
                let parsed = match SipMsg::parse(&bytes) {
                    Ok(m) => m,
                    Err(ParseError::BadRequest { partial, why }) => {
                        tracing::debug!(why, "400 to a malformed request");
                        if partial.method() != Some("ACK") {
                            reply
                                .send(msg::response(&partial, 400, &why, None).to_bytes())
                                .await;
                        }
                        continue;
                    }
                    Err(ParseError::Garbage(_)) => continue,
                };
                if let Some(call) = calls.get(parsed.call_id()) {
                    let id = parsed.call_id().to_owned();
                    if call.send(Event::FromA(parsed)).await.is_err() {
                        calls.remove(&id);
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
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_secs())
                            .unwrap_or(0);
                        match auth.decide(&parsed, now, directory.as_ref()) {
                            AuthDecision::Challenge(h) => {
                                let mut r = msg::response(&parsed, 401, "Unauthorized", None);
                                r.headers.push(("WWW-Authenticate".into(), h));
                                reply.send(r.to_bytes()).await;
                            }
                            AuthDecision::Reject(code) => {
                                let r = msg::response(&parsed, code, msg::reason(code), None);
                                reply.send(r.to_bytes()).await;
                            }
                            AuthDecision::Accept(trunk) => {
                                let id = parsed.call_id().to_owned();
                                let media = match relay.open(&id).await {
                                    Ok(m) => m,
                                    Err(why) => {
                                        tracing::warn!(why, "no media relay session: 503");
                                        let r = msg::response(&parsed, 503, "No Media Ports", None);
                                        reply.send(r.to_bytes()).await;
                                        continue;
                                    }
                                };
                                let call_cfg = CallConfig {
                                    trunk: *trunk,
                                    a_local: cfg.a_advertise.clone(),
                                    a_udp: matches!(reply, AReply::Udp(..)),
                                    b_local: cfg.b_advertise.clone(),
                                    media_a: media.local_a(),
                                    media_b: media.local_b(),
                                    timers: cfg.timers,
                                };
                                let (ctx, crx) = mpsc::channel(64);
                                calls.insert(id.clone(), ctx);
                                tokio::spawn(run_call(
                                    call_cfg,
                                    parsed,
                                    reply,
                                    media,
                                    crx,
                                    tx.clone(),
                                    cfg.connect_timeout,
                                ));
                            }
                        }
                    }
                    _ => {
                        let r = msg::response(&parsed, 481, msg::reason(481), None);
                        reply.send(r.to_bytes()).await;
                    }
                }
            }
        }
    }
    udp_task.abort();
    tcp_task.abort();
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

async fn a_connection(
    stream: TcpStream,
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
                    let reply = AReply::Tcp(wtx.clone());
                    if tx.send(ToEndpoint::FromA(m, reply)).await.is_err() {
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

async fn connect_b(host: String, port: u16, limit: Duration) -> Option<TcpStream> {
    let target = hostport(&host, port);
    tokio::time::timeout(limit, TcpStream::connect(target))
        .await
        .ok()?
        .ok()
}

/// One call: its machine, its Exotel connection, its timers, its media session.
async fn run_call(
    cfg: CallConfig,
    invite: SipMsg,
    a: AReply,
    media: Box<dyn MediaSession>,
    mut rx: mpsc::Receiver<Event>,
    endpoint: mpsc::Sender<ToEndpoint>,
    connect_timeout: Duration,
) {
    let a_call_id = invite.call_id().to_owned();
    let (host, port) = (cfg.trunk.exotel_host.clone(), cfg.trunk.exotel_port);
    let mut media = Some(media);
    let (mut call, first) = Call::start(cfg, invite);
    let mut timers: HashMap<Timer, Instant> = HashMap::new();
    let mut b_queue: Vec<Vec<u8>> = vec![];
    let mut b: Option<(
        tokio::net::tcp::OwnedWriteHalf,
        mpsc::Receiver<Option<Vec<u8>>>,
    )> = None;
    let mut pending = first;
    let needs_b = pending.iter().any(|a| matches!(a, Action::SendB(_)));
    let mut connecting = needs_b.then(|| Box::pin(connect_b(host, port, connect_timeout)));
    loop {
        for action in pending.drain(..) {
            match action {
                Action::SendA(bytes) => a.send(bytes).await,
                Action::SendB(bytes) => match &mut b {
                    Some((w, _)) => {
                        let _ = w.write_all(&bytes).await;
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
                Action::ReleaseMedia => media = None,
                Action::Done => {
                    drop(media.take());
                    let _ = endpoint.send(ToEndpoint::CallDone(a_call_id)).await;
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
        let event = tokio::select! {
            e = rx.recv() => match e {
                Some(e) => e,
                None => return,
            },
            c = async { connecting.as_mut().unwrap().await }, if connecting.is_some() => {
                connecting = None;
                match c {
                    Some(stream) => {
                        let (mut rd, mut w) = stream.into_split();
                        for q in b_queue.drain(..) {
                            let _ = w.write_all(&q).await;
                        }
                        let (btx, brx) = mpsc::channel(64);
                        tokio::spawn(async move {
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
                        b = Some((w, brx));
                        continue;
                    }
                    None => Event::BConnectFailed,
                }
            }
            m = async { b.as_mut().unwrap().1.recv().await }, if b.is_some() => match m {
                Some(Some(bytes)) => match SipMsg::parse(&bytes) {
                    Ok(m) => Event::FromB(m),
                    Err(_) => continue,
                },
                _ => {
                    b = None;
                    Event::BClosed
                }
            },
            _ = sleep => {
                let Some((t, _)) = next else { continue };
                timers.remove(&t);
                Event::Timer(t)
            }
        };
        pending = call.handle(event);
    }
}
