//! The listeners and the endpoint: LiveKit's side on UDP and TCP, Exotel's side (inbound
//! calls) on TCP, each message past the edge guard. The endpoint task owns the Call-ID map
//! (both legs' Call-IDs, so a request Exotel or LiveKit sends to our Contact on a new
//! connection still finds its call) and the digest decision; it never waits on a call. Each
//! call runs in its own task (`call_task`) until its machine says `Done`.
//!
//! Requests we send to the caller (BYE, relayed re-INVITE) go to the address (or connection) its
//! INVITE came from, with the Request-URI and Route set the dialog says: the peer is one hop.

use super::call::{Event, Leg, Timers};
use super::call_task::{run_call, CallSetup};
use super::challenge_issuer::{AuthDecision, ChallengeIssuer};
use super::guard::{lock, CallHold, SharedGuard};
use super::media::{MediaRelay, PORTS_PER_CALL};
use super::metrics;
use super::reply::{Reply, TcpReply};
use super::{Route, TrunkDirectory};
use crate::msg::{self, ParseError, SipMsg};
use crate::wire::StreamFramer;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, Notify};

#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// The digest realm LiveKit is challenged with.
    pub realm: String,
    /// Our address as LiveKit reaches it (Via/Contact toward LiveKit), `ip:port`.
    pub livekit_address: String,
    /// Our address as Exotel sees it (the whitelisted public IP), `ip:port`.
    pub provider_address: String,
    /// The relay's address as LiveKit reaches it, written into the SDP toward LiveKit (`c=`,
    /// `o=`). `None`: the relay's own address, which must then not be unspecified.
    pub livekit_media_ip: Option<IpAddr>,
    /// The relay's address as the provider reaches it (the public address, or the public side
    /// of a 1:1 NAT), written into the SDP toward the provider. `None`: as above.
    pub provider_media_ip: Option<IpAddr>,
    pub timers: Timers,
    /// The bound on DNS plus TCP connect toward Exotel.
    pub connect_timeout: Duration,
    /// Who may talk to the listener, how fast, over how many TCP connections.
    pub guard: super::guard::GuardConfig,
    /// The roots Exotel's TLS certificate is checked against (the public ones; tests add
    /// their own CA).
    pub tls: crate::transport::TlsSettings,
    /// Bounds on accepted TCP connections and on writes toward a callee.
    pub connections: ConnectionLimits,
    /// Whether an Exotel trunk may point at an internal address (the operator's
    /// `TRUNKLINE_ALLOW_PRIVATE_TARGETS`). A trunk's host is a tenant's input; LiveKit's SIP
    /// service, reached for inbound calls, is the operator's own setting and not checked.
    pub allow_private_targets: bool,
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

/// Bounds on one accepted TCP connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Answers queued for the peer before the connection is closed as not reading.
    pub queue: usize,
    /// How long one write to the peer may take (the peer's window stays shut: it does not
    /// read), and one write toward a call's callee.
    pub write_timeout: Duration,
    /// A connection that carried no whole SIP message for this long, and that no call uses,
    /// is closed (a peer dribbling bytes holds no slot for ever).
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            // Answers are a few hundred bytes: a few hundred kilobytes per connection at most.
            queue: 1024,
            write_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
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
    /// A message, where its answers go, the listener and the peer's address.
    Message(Vec<u8>, Reply, Side, IpAddr),
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
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(String, String)>();
    let limits = cfg.connections;
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
                        let m =
                            ToEndpoint::Message(buf[..n].to_vec(), reply, Side::LiveKit, from.ip());
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
    let tcp_task = tokio::spawn(accept(
        tcp,
        Side::LiveKit,
        tx.clone(),
        guard.clone(),
        limits,
    ));
    let (provider_task, livekit_sip) = match inbound {
        Some(side) => (
            Some(tokio::spawn(accept(
                side.listener,
                Side::Provider,
                tx.clone(),
                guard.clone(),
                limits,
            ))),
            Some((side.livekit_host, side.livekit_port)),
        ),
        None => (None, None),
    };
    let mut auth = ChallengeIssuer::new(cfg.realm.clone());
    let mut calls: CallMap = HashMap::new();
    tokio::pin!(shutdown);
    loop {
        let m = tokio::select! {
            _ = &mut shutdown => break,
            Some((a, b)) = done_rx.recv() => {
                calls.remove(&a);
                calls.remove(&b);
                continue;
            }
            m = rx.recv() => m,
        };
        let (bytes, reply, side, peer) = match m {
            None => break,
            Some(ToEndpoint::Message(bytes, reply, side, peer)) => (bytes, reply, side, peer),
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
                    reply.send(msg::response(&partial, code, &why, None).to_bytes());
                }
                continue;
            }
            Err(ParseError::Garbage(_)) => continue,
        };
        if let Some((leg, call)) = calls.get(parsed.call_id()) {
            let event = match leg {
                Leg::Caller => Event::FromCaller(parsed),
                Leg::Callee => Event::FromCallee(parsed),
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
            "OPTIONS" => reply.send(msg::response(&parsed, 200, "OK", None).to_bytes()),
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
                                reply.send(r.to_bytes());
                                continue;
                            }
                            AuthDecision::Reject(code) => {
                                let r = msg::response(&parsed, code, msg::reason(code), None);
                                reply.send(r.to_bytes());
                                continue;
                            }
                            AuthDecision::Accept(trunk) => Route::ToExotel(*trunk),
                        }
                    }
                    Side::Provider => {
                        // Not a number (`sip:reception@…`): 484 Address Incomplete (RFC 3261
                        // §21.4.22); a number no tenant holds: 404.
                        let found = called_number(&parsed)
                            .ok_or(484)
                            .and_then(|n| directory.inbound_by_number(&n).ok_or(404));
                        match (found, &livekit_sip) {
                            (Ok(trunk), Some((host, port))) => Route::ToLiveKit {
                                trunk,
                                host: host.clone(),
                                port: *port,
                            },
                            (found, _) => {
                                let code = found.err().unwrap_or(404);
                                let r = msg::response(&parsed, code, msg::reason(code), None);
                                reply.send(r.to_bytes());
                                continue;
                            }
                        }
                    }
                };
                // Each call holds relay ports: one source may not take them all.
                let hold = match CallHold::claim(&guard, peer, PORTS_PER_CALL) {
                    Ok(hold) => hold,
                    Err(why) => {
                        metrics::edge_drop(why);
                        tracing::info!(%peer, ?why, "a new call over its source's allowance: 503");
                        let r = msg::response(&parsed, 503, msg::reason(503), None);
                        reply.send(r.to_bytes());
                        continue;
                    }
                };
                let allow_internal = match &route {
                    Route::ToExotel(_) => cfg.allow_private_targets,
                    Route::ToLiveKit { .. } => true,
                };
                let (caller_local, callee_local) = match side {
                    Side::LiveKit => (cfg.livekit_address.clone(), cfg.provider_address.clone()),
                    Side::Provider => (cfg.provider_address.clone(), cfg.livekit_address.clone()),
                };
                let (caller_media_ip, callee_media_ip) = match side {
                    Side::LiveKit => (cfg.livekit_media_ip, cfg.provider_media_ip),
                    Side::Provider => (cfg.provider_media_ip, cfg.livekit_media_ip),
                };
                let a_id = parsed.call_id().to_owned();
                let b_id = format!("{}@trunkline", super::call::token());
                let (ctx, crx) = mpsc::channel(64);
                calls.insert(a_id, (Leg::Caller, ctx.clone()));
                calls.insert(b_id.clone(), (Leg::Callee, ctx));
                let setup = CallSetup {
                    route,
                    hold,
                    callee_call_id: b_id,
                    caller_local,
                    caller_udp: matches!(reply, Reply::Udp(..)),
                    callee_local,
                    caller_media_ip,
                    callee_media_ip,
                    timers: cfg.timers,
                    connect_timeout: cfg.connect_timeout,
                    write_timeout: limits.write_timeout,
                    allow_internal,
                    tls: cfg.tls.clone(),
                };
                tokio::spawn(run_call(
                    setup,
                    parsed,
                    reply,
                    relay.clone(),
                    crx,
                    done_tx.clone(),
                ));
            }
            _ => {
                let r = msg::response(&parsed, 481, msg::reason(481), None);
                reply.send(r.to_bytes());
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
    limits: ConnectionLimits,
) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let verdict = lock(&guard).tcp_opened(peer.ip());
        if let super::guard::Verdict::Drop(why) = verdict {
            metrics::edge_drop(why);
            tracing::debug!(%peer, ?verdict, "TCP connection dropped at the edge");
            continue; // dropping the stream closes it
        }
        let (tx, guard) = (tx.clone(), guard.clone());
        let role = match side {
            Side::LiveKit => "accepted_livekit",
            Side::Provider => "accepted_provider",
        };
        tokio::spawn(async move {
            metrics::connection(role, "tcp", 1.0);
            connection(stream, side, tx, guard.clone(), peer.ip(), limits).await;
            metrics::connection(role, "tcp", -1.0);
            lock(&guard).tcp_closed(peer.ip());
        });
    }
}

/// Whether a message from `src` gets past the edge (allow-list, rate, scanner); dropped
/// silently otherwise.
fn admit(guard: &SharedGuard, src: std::net::IpAddr, bytes: &[u8]) -> bool {
    let verdict = lock(guard).message(src, bytes, std::time::Instant::now());
    if let super::guard::Verdict::Drop(why) = verdict {
        metrics::edge_drop(why);
        tracing::debug!(%src, ?verdict, "SIP message dropped at the edge");
        return false;
    }
    metrics::sip_message("in", bytes);
    true
}

/// One accepted connection: its messages to the endpoint, its answers from a bounded queue
/// through a writer whose every write is bounded in time. It ends when the peer closes, a
/// write times out, the queue overflows, or it sits idle with no call using it.
async fn connection(
    stream: TcpStream,
    side: Side,
    tx: mpsc::Sender<ToEndpoint>,
    guard: SharedGuard,
    peer: std::net::IpAddr,
    limits: ConnectionLimits,
) {
    let (mut rd, mut wr) = stream.into_split();
    let (wtx, mut wrx) = mpsc::channel::<Vec<u8>>(limits.queue.max(1));
    let close = Arc::new(Notify::new());
    let writer = {
        let close = close.clone();
        tokio::spawn(async move {
            while let Some(b) = wrx.recv().await {
                let written = tokio::time::timeout(limits.write_timeout, wr.write_all(&b)).await;
                if !matches!(written, Ok(Ok(()))) {
                    tracing::info!("a write to a TCP peer failed or timed out: connection closed");
                    close.notify_one();
                    return;
                }
            }
        })
    };
    let reply = TcpReply::new(wtx, close.clone());
    let mut framer = StreamFramer::default();
    let mut buf = vec![0u8; 16 * 1024];
    let mut idle_until = tokio::time::Instant::now() + limits.idle_timeout;
    'conn: loop {
        let read = tokio::select! {
            _ = close.notified() => break,
            _ = tokio::time::sleep_until(idle_until) => {
                // Calls hold a clone of the sender to answer and send requests on this
                // connection: while one does, the connection stays.
                if reply.in_use() {
                    idle_until += limits.idle_timeout;
                    continue;
                }
                tracing::debug!("an idle TCP connection closed");
                break;
            }
            read = rd.read(&mut buf) => read,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => framer.push(&buf[..n]),
        }
        loop {
            match framer.next_message() {
                Ok(Some(m)) => {
                    idle_until = tokio::time::Instant::now() + limits.idle_timeout;
                    if !admit(&guard, peer, &m) {
                        continue;
                    }
                    let reply = Reply::Tcp(reply.clone());
                    let m = ToEndpoint::Message(m, reply, side, peer);
                    if tx.send(m).await.is_err() {
                        break 'conn;
                    }
                }
                Ok(None) => break,
                Err(_) => break 'conn,
            }
        }
    }
    // The writer holds the stream's write half: aborting it closes the connection even while
    // calls still hold senders (their answers then go nowhere, as over a dead link).
    writer.abort();
}
