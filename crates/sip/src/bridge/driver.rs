//! The listeners and the endpoint: LiveKit's side on UDP and TCP, Exotel's side (inbound
//! calls) on TCP, each message past the edge guard. The endpoint task owns the Call-ID map
//! (both legs' Call-IDs, so a request Exotel or LiveKit sends to our Contact on a new
//! connection still finds its call) and the digest decision; it never waits on a call. Each
//! call runs in its own task (`call_task`) until its machine says `Done`.
//!
//! Requests we send to leg A (BYE, relayed re-INVITE) go to the address (or connection) its
//! INVITE came from, with the Request-URI and Route set the dialog says: the peer is one hop.

use super::auth::{AuthDecision, Authenticator};
use super::call::{Event, Leg, Timers};
use super::call_task::{run_call, CallSetup};
use super::media::MediaRelay;
use super::msg::{self, ParseError, SipMsg};
use super::{Route, TrunkDirectory};
use crate::wire::StreamFramer;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

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
pub(super) enum Reply {
    Udp(Arc<UdpSocket>, SocketAddr),
    Tcp(mpsc::Sender<Vec<u8>>),
}

impl Reply {
    pub(super) async fn send(&self, bytes: Vec<u8>) {
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
pub(super) enum Side {
    LiveKit,
    Provider,
}

pub(super) enum ToEndpoint {
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
