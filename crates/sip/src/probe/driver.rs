//! The thin async loop around the probe's state machine: DNS, connect (TCP or TLS through
//! `crate::transport`, UDP here), the socket, timers.

use super::build::{Context, Proto};
use super::diagnosis::{diagnose, Outcome};
use super::machine::{Action, Event, Machine, Timer};
use super::{ProbeOptions, ProbeReport, ProbeRequest, ProbeTransport};
use crate::transport::{self, SipStream, Step, StreamTransport};
use crate::wire::{parse_response, StreamFramer};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::time::{sleep_until, timeout, Instant};

enum Conn {
    Udp(UdpSocket),
    /// TCP or TLS: SIP is framed the same way on both.
    Stream(SipStream, StreamFramer),
}

enum Recv {
    Message(Vec<u8>),
    Malformed(String),
    Failed { refused: bool },
}

impl Conn {
    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Udp(s) => s.send(bytes).await.map(|_| ()),
            // A flush too: TLS buffers a record until it is flushed.
            Self::Stream(s, _) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
        }
    }

    /// Cancel-safe: a message half-read stays in the framer.
    async fn recv(&mut self, buf: &mut [u8]) -> Recv {
        match self {
            Self::Udp(s) => match s.recv(buf).await {
                Ok(n) => Recv::Message(buf[..n].to_vec()),
                // A connected UDP socket sees ICMP port unreachable as ECONNREFUSED.
                Err(e) => Recv::Failed {
                    refused: e.kind() == ErrorKind::ConnectionRefused,
                },
            },
            Self::Stream(s, framer) => loop {
                match framer.next_message() {
                    Ok(Some(m)) => return Recv::Message(m),
                    Ok(None) => {}
                    Err(why) => return Recv::Malformed(why),
                }
                match s.read(buf).await {
                    Ok(0) => return Recv::Failed { refused: false },
                    Ok(n) => framer.push(&buf[..n]),
                    Err(e) => {
                        return Recv::Failed {
                            refused: e.kind() == ErrorKind::ConnectionRefused,
                        }
                    }
                }
            },
        }
    }
}

/// `host:port` with IPv6 literals bracketed.
fn hostport(host: &str, port: u16) -> String {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{bare}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Probes the target. Never fails: every failure is an outcome in the report.
pub async fn run(req: &ProbeRequest, opts: &ProbeOptions) -> ProbeReport {
    let started = Instant::now();
    let target = hostport(&req.host, req.port);
    let mut report = ProbeReport {
        target: target.clone(),
        transport: req.transport,
        address: None,
        reachable: false,
        dns_time: None,
        connect_time: None,
        rtt: None,
        responses: vec![],
        outcome: Outcome::HostNotFound,
        diagnosis: diagnose(&Outcome::HostNotFound),
        malformed: vec![],
        elapsed: Duration::ZERO,
    };
    let conclude = |mut report: ProbeReport, outcome: Outcome| {
        report.diagnosis = diagnose(&outcome);
        report.outcome = outcome;
        report.elapsed = started.elapsed();
        report
    };

    // DNS, bounded on its own.
    let addrs: Vec<SocketAddr> =
        match timeout(opts.dns_timeout, tokio::net::lookup_host(target.as_str())).await {
            Ok(Ok(it)) => it.collect(),
            Ok(Err(e)) if super::resolver::unavailable(&e) => {
                report.dns_time = Some(started.elapsed());
                let configured = super::resolver::nameserver_configured();
                return conclude(report, Outcome::NoResolver { configured });
            }
            _ => vec![],
        };
    report.dns_time = Some(started.elapsed());
    if addrs.is_empty() {
        return conclude(report, Outcome::HostNotFound);
    }
    let Some(addr) = addrs
        .into_iter()
        .find(|a| crate::target::allowed(a.ip(), req.allow_internal))
    else {
        return conclude(report, Outcome::TargetNotAllowed);
    };
    report.address = Some(addr);

    // Connect (and over TLS, handshake), bounded on its own; a refusal comes back as soon
    // as the RST does.
    let connect_started = Instant::now();
    let conn = match req.transport {
        ProbeTransport::Tcp | ProbeTransport::Tls => {
            let stream = if req.transport == ProbeTransport::Tls {
                StreamTransport::Tls
            } else {
                StreamTransport::Tcp
            };
            let connected =
                transport::connect_addr(addr, &req.host, stream, &opts.tls, opts.connect_timeout)
                    .await;
            match connected {
                Ok(s) => Ok(Conn::Stream(s, StreamFramer::default())),
                Err(e) if e.step() == Step::Handshake => Err(Outcome::TlsFailed {
                    certificate: e.is_certificate(),
                    reason: e.reason().to_owned(),
                }),
                Err(e) if e.is_refused() => Err(Outcome::ConnectRefused),
                Err(_) => Err(Outcome::ConnectFailed),
            }
        }
        ProbeTransport::Udp => {
            let bind: SocketAddr = if addr.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            match UdpSocket::bind(bind).await {
                Ok(s) => match s.connect(addr).await {
                    Ok(()) => Ok(Conn::Udp(s)),
                    Err(_) => Err(Outcome::ConnectFailed),
                },
                Err(_) => Err(Outcome::ConnectFailed),
            }
        }
    };
    report.connect_time = Some(connect_started.elapsed());
    let mut conn = match conn {
        Ok(c) => c,
        Err(outcome) => return conclude(report, outcome),
    };
    let local = match &conn {
        Conn::Udp(s) => s.local_addr(),
        Conn::Stream(s, _) => Ok(s.local_addr()),
    };
    let local = match local {
        Ok(a) => a.to_string(),
        Err(_) => return conclude(report, Outcome::ConnectFailed),
    };

    let host = req.host.trim_start_matches('[').trim_end_matches(']');
    let from_domain = req.from_domain.clone().unwrap_or_else(|| {
        if host.parse::<std::net::Ipv6Addr>().is_ok() {
            format!("[{host}]")
        } else {
            host.to_owned()
        }
    });
    let mut machine = Machine::new(Context {
        proto: match req.transport {
            ProbeTransport::Udp => Proto::Udp,
            ProbeTransport::Tcp => Proto::Tcp,
            ProbeTransport::Tls => Proto::Tls,
        },
        local,
        target: target.clone(),
        from_domain,
        from_number: req.from_number.clone(),
        test_number: req.test_number.clone(),
        credentials: req.credentials.clone(),
        timers: opts.timers,
    });

    // A backstop over the whole SIP part, in case a peer keeps the machine busy with
    // provisionals: two OPTIONS, two INVITEs with ringing and CANCEL, one BYE.
    let t = opts.timers;
    let sip_started = Instant::now();
    let deadline = sip_started + t.transaction_timeout * 8 + t.ring_timeout;
    let mut timers: Vec<(Instant, Timer)> = vec![];
    let mut buf = vec![0u8; crate::wire::MAX_MESSAGE];
    let mut actions = machine.handle(Duration::ZERO, Event::Start);
    'outer: loop {
        let mut next_event = None;
        for action in actions.drain(..) {
            match action {
                Action::Send(bytes) => {
                    if let Err(e) = conn.send(&bytes).await {
                        next_event = Some(Event::TransportFailed {
                            refused: e.kind() == ErrorKind::ConnectionRefused,
                        });
                    }
                }
                // Re-arming a timer replaces it.
                Action::Arm(timer, after) => {
                    timers.retain(|(_, t)| *t != timer);
                    timers.push((Instant::now() + after, timer));
                }
                Action::Done => break 'outer,
            }
        }
        let event = match next_event {
            Some(e) => e,
            None => {
                let next = timers
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(i, (at, _))| (i, *at));
                let wake = next.map(|(_, at)| at.min(deadline)).unwrap_or(deadline);
                tokio::select! {
                    r = conn.recv(&mut buf) => match r {
                        Recv::Message(m) => match parse_response(&m) {
                            Ok(resp) => Event::Response(resp),
                            Err(why) => Event::Malformed(why),
                        },
                        Recv::Malformed(why) => {
                            // A TCP stream that cannot be framed is useless from here on.
                            let _ = machine.handle(sip_started.elapsed(), Event::Malformed(why));
                            Event::TransportFailed { refused: false }
                        }
                        Recv::Failed { refused } => Event::TransportFailed { refused },
                    },
                    _ = sleep_until(wake) => match next {
                        Some((i, at)) if at <= deadline => Event::Timer(timers.swap_remove(i).1),
                        _ => Event::Abort,
                    },
                }
            }
        };
        actions = machine.handle(sip_started.elapsed(), event);
    }

    report.responses = std::mem::take(&mut machine.seen);
    report.reachable = !report.responses.is_empty();
    report.rtt = report.responses.first().map(|s| s.rtt);
    report.malformed = std::mem::take(&mut machine.malformed);
    let outcome = machine
        .invite
        .clone()
        .or_else(|| machine.options.clone())
        .unwrap_or(Outcome::NoResponse {
            malformed_seen: !report.malformed.is_empty(),
        });
    conclude(report, outcome)
}
