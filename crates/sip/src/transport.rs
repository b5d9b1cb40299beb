//! Stream transports toward a SIP peer: TCP, and TLS as carriers run it (RFC 3261 §26.2,
//! RFC 5630 §3.1: a `sip:` URI reached hop by hop over TLS, `;transport=tls`, no `sips:`).
//! Exotel terminates on TCP 5070 or TLS 443 (seed 003); RFC 3261's default TLS port is 5061.
//! SIP is framed over TLS exactly as over TCP (Content-Length, RFC 3261 §18.3), so a caller
//! reads and writes a `SipStream` the same way whichever transport it is.
//!
//! The peer's certificate is always verified, for the name the caller dialled (SNI plus
//! RFC 6125 name check; an IP literal is checked against the certificate's IP addresses),
//! against Mozilla's public roots: carriers present publicly issued certificates. A
//! deployment (or a test) can trust extra CAs through `TlsSettings`; verification cannot be
//! turned off.
//!
//! Every step is bounded by one timeout, and a failure says which step it was (`Step`), so
//! "nothing listens" (refused, reported the moment the RST arrives), "no answer" and "the TLS
//! handshake failed" (a certificate problem or a port that does not speak TLS) can be told
//! apart.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// A connection-oriented SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamTransport {
    Tcp,
    Tls,
}

impl StreamTransport {
    /// The Via transport token (RFC 3261 §20.42).
    pub fn via(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        }
    }

    /// The URI `transport` parameter (RFC 3261 §19.1.1; `tls` is what carriers expect on a
    /// `sip:` URI, RFC 5630 §3.1).
    pub fn param(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Tls => "tls",
        }
    }

    /// RFC 3261 §19.1.2's default port (Exotel uses 5070 and 443 instead: pass them).
    pub fn default_port(self) -> u16 {
        match self {
            Self::Tcp => 5060,
            Self::Tls => 5061,
        }
    }
}

/// Which CAs a TLS peer's certificate may chain to: Mozilla's roots, plus any extra CA a
/// deployment or a test adds. Cheap to clone (the rustls configuration is shared).
#[derive(Clone)]
pub struct TlsSettings {
    roots: Arc<RootCertStore>,
    extra_roots: usize,
    config: Arc<ClientConfig>,
}

impl TlsSettings {
    /// Mozilla's public roots (the `webpki-roots` bundle) and nothing else. Built once.
    pub fn public() -> Self {
        static PUBLIC: OnceLock<TlsSettings> = OnceLock::new();
        PUBLIC
            .get_or_init(|| {
                let roots = RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                Self::build(roots, 0).expect("ring supports rustls' default protocol versions")
            })
            .clone()
    }

    /// These settings plus one more trusted CA, as DER.
    pub fn with_extra_root_der(self, der: &[u8]) -> io::Result<Self> {
        self.with_extra_roots([CertificateDer::from(der.to_vec())])
    }

    /// These settings plus every CA certificate in a PEM bundle (`-----BEGIN CERTIFICATE-----`
    /// sections; anything else in the file is skipped).
    pub fn with_extra_roots_pem(self, pem: &[u8]) -> io::Result<Self> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("CA bundle: {e}")))?;
        if certs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "CA bundle: no CERTIFICATE section",
            ));
        }
        self.with_extra_roots(certs)
    }

    fn with_extra_roots(
        self,
        certs: impl IntoIterator<Item = CertificateDer<'static>>,
    ) -> io::Result<Self> {
        let mut roots = (*self.roots).clone();
        let mut added = 0;
        for cert in certs {
            roots.add(cert).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("not a usable CA certificate: {e}"),
                )
            })?;
            added += 1;
        }
        Self::build(roots, self.extra_roots + added)
    }

    fn build(roots: RootCertStore, extra_roots: usize) -> io::Result<Self> {
        // ring, explicitly, rather than a process-wide default provider that another crate
        // may or may not have installed. TLS 1.2 stays on: carriers' SBCs still speak it.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(roots);
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| io::Error::other(format!("TLS configuration: {e}")))?
            .with_root_certificates(Arc::clone(&roots))
            .with_no_client_auth();
        Ok(Self {
            roots,
            extra_roots,
            config: Arc::new(config),
        })
    }
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self::public()
    }
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("roots", &self.roots.len())
            .field("extra_roots", &self.extra_roots)
            .finish()
    }
}

/// The step of `connect` that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// DNS (A/AAAA): no address, or none in time.
    Resolve,
    /// TCP connect: refused, unreachable or no answer in time.
    Connect,
    /// TLS: the server name, the handshake, or the peer's certificate.
    Handshake,
}

/// Why `connect` failed, and at which step. Carries the target and the reason, no secret
/// (nothing secret exists before the first SIP message). Converts into `io::Error` with the
/// same kind, so `?` works in functions returning `io::Result`.
#[derive(Debug, Clone)]
pub struct ConnectError {
    step: Step,
    kind: io::ErrorKind,
    certificate: bool,
    target: String,
    reason: String,
}

impl ConnectError {
    fn new(step: Step, kind: io::ErrorKind, target: &str, reason: impl Into<String>) -> Self {
        Self {
            step,
            kind,
            certificate: false,
            target: target.to_owned(),
            reason: reason.into(),
        }
    }

    fn timed_out(step: Step, target: &str, after: Duration) -> Self {
        Self::new(
            step,
            io::ErrorKind::TimedOut,
            target,
            format!("no answer within {after:?}"),
        )
    }

    fn io(step: Step, target: &str, e: io::Error) -> Self {
        let certificate = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .is_some_and(|e| {
                matches!(
                    e,
                    rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
                )
            });
        let reason = match e.kind() {
            io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
            io::ErrorKind::UnexpectedEof if step == Step::Handshake => {
                "the peer closed the connection during the handshake".to_owned()
            }
            _ => e.to_string(),
        };
        Self {
            certificate,
            ..Self::new(step, e.kind(), target, reason)
        }
    }

    pub fn step(&self) -> Step {
        self.step
    }

    /// `ConnectionRefused` for a refusal, `TimedOut` when the timeout ran out, `NotFound`
    /// for a name that does not resolve, `InvalidData` for most TLS failures.
    pub fn kind(&self) -> io::ErrorKind {
        self.kind
    }

    pub fn is_refused(&self) -> bool {
        self.kind == io::ErrorKind::ConnectionRefused
    }

    pub fn is_timeout(&self) -> bool {
        self.kind == io::ErrorKind::TimedOut
    }

    /// The TLS handshake failed on the peer's certificate (unknown issuer, expired, not for
    /// this name), rather than on the protocol.
    pub fn is_certificate(&self) -> bool {
        self.certificate
    }

    /// The reason alone, without the step and the target (e.g. "invalid peer certificate:
    /// UnknownIssuer").
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let step = match self.step {
            Step::Resolve => "resolving",
            Step::Connect => "TCP connect to",
            Step::Handshake => "TLS handshake with",
        };
        write!(f, "{step} {} failed: {}", self.target, self.reason)
    }
}

impl std::error::Error for ConnectError {}

impl From<ConnectError> for io::Error {
    fn from(e: ConnectError) -> Self {
        io::Error::new(e.kind, e)
    }
}

/// A connected SIP stream: plain TCP or TLS over TCP. Read and write it as bytes and frame
/// SIP by Content-Length either way.
pub struct SipStream {
    inner: Inner,
    transport: StreamTransport,
    local: SocketAddr,
    peer: SocketAddr,
}

enum Inner {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl SipStream {
    pub fn transport(&self) -> StreamTransport {
        self.transport
    }

    /// Our end, for Via and Contact.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }
}

impl fmt::Debug for SipStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SipStream")
            .field("transport", &self.transport)
            .field("local", &self.local)
            .field("peer", &self.peer)
            .finish()
    }
}

impl AsyncRead for SipStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for SipStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_flush(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    /// Over TLS this sends close_notify before the FIN.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// `host:port`, IPv6 literals bracketed.
fn hostport(host: &str, port: u16) -> String {
    let bare = bare_host(host);
    if bare.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{bare}]:{port}")
    } else {
        format!("{bare}:{port}")
    }
}

fn bare_host(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

/// The name the certificate must be valid for, sent as SNI (rustls sends none for an IP
/// literal and checks the certificate's IP addresses instead).
fn server_name(host: &str, target: &str) -> Result<ServerName<'static>, ConnectError> {
    ServerName::try_from(bare_host(host).trim_end_matches('.'))
        .map(|n| n.to_owned())
        .map_err(|_| {
            ConnectError::new(
                Step::Handshake,
                io::ErrorKind::InvalidInput,
                target,
                "not a valid TLS server name",
            )
        })
}

/// Resolves `host` (A/AAAA, in the resolver's order), connects to the first address that
/// accepts (a refusal moves on to the next at once) and, for TLS, completes the handshake
/// with `host` as the server name. DNS, TCP and TLS together take at most `timeout`.
/// Unless `allow_internal`, addresses `crate::target` calls internal are never connected to
/// (a name resolving only to such addresses fails at `Step::Resolve`, `PermissionDenied`).
pub async fn connect(
    host: &str,
    port: u16,
    transport: StreamTransport,
    tls: &TlsSettings,
    timeout: Duration,
    allow_internal: bool,
) -> Result<SipStream, ConnectError> {
    let deadline = Instant::now() + timeout;
    let target = hostport(host, port);
    let name = match transport {
        StreamTransport::Tls => Some(server_name(host, &target)?),
        StreamTransport::Tcp => None,
    };
    let addrs: Vec<SocketAddr> =
        match timeout_at(deadline, tokio::net::lookup_host((bare_host(host), port))).await {
            Ok(Ok(it)) => it.collect(),
            Ok(Err(e)) => {
                return Err(ConnectError::new(
                    Step::Resolve,
                    io::ErrorKind::NotFound,
                    &target,
                    format!("no address: {e}"),
                ))
            }
            Err(_) => return Err(ConnectError::timed_out(Step::Resolve, &target, timeout)),
        };
    if addrs.is_empty() {
        return Err(ConnectError::new(
            Step::Resolve,
            io::ErrorKind::NotFound,
            &target,
            "no address",
        ));
    }
    let addrs: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| crate::target::allowed(a.ip(), allow_internal))
        .collect();
    if addrs.is_empty() {
        return Err(ConnectError::new(
            Step::Resolve,
            io::ErrorKind::PermissionDenied,
            &target,
            "it resolves to internal addresses only (TRUNKLINE_ALLOW_PRIVATE_TARGETS is off)",
        ));
    }
    let mut last = None;
    for addr in addrs {
        match tcp(addr, &target, deadline, timeout).await {
            Ok(s) => {
                return match name {
                    Some(name) => handshake(s, name, &target, tls, deadline, timeout).await,
                    None => plain(s, &target),
                }
            }
            // Out of time: the other addresses get none either.
            Err(e) if e.is_timeout() => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("at least one address was tried"))
}

/// Connects to `addr` (already resolved, e.g. after an address policy check) and, for TLS,
/// handshakes with `host` as the server name. TCP and TLS together take at most `timeout`.
pub async fn connect_addr(
    addr: SocketAddr,
    host: &str,
    transport: StreamTransport,
    tls: &TlsSettings,
    timeout: Duration,
) -> Result<SipStream, ConnectError> {
    let deadline = Instant::now() + timeout;
    let target = hostport(host, addr.port());
    let name = match transport {
        StreamTransport::Tls => Some(server_name(host, &target)?),
        StreamTransport::Tcp => None,
    };
    let s = tcp(addr, &target, deadline, timeout).await?;
    match name {
        Some(name) => handshake(s, name, &target, tls, deadline, timeout).await,
        None => plain(s, &target),
    }
}

async fn tcp(
    addr: SocketAddr,
    target: &str,
    deadline: Instant,
    timeout: Duration,
) -> Result<TcpStream, ConnectError> {
    match timeout_at(deadline, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => {
            // SIP requests are small and latency-bound; do not hold them back for an ACK.
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(ConnectError::io(Step::Connect, target, e)),
        Err(_) => Err(ConnectError::timed_out(Step::Connect, target, timeout)),
    }
}

fn addrs(s: &TcpStream, target: &str) -> Result<(SocketAddr, SocketAddr), ConnectError> {
    let local = s.local_addr();
    let peer = s.peer_addr();
    match (local, peer) {
        (Ok(l), Ok(p)) => Ok((l, p)),
        (Err(e), _) | (_, Err(e)) => Err(ConnectError::io(Step::Connect, target, e)),
    }
}

fn plain(s: TcpStream, target: &str) -> Result<SipStream, ConnectError> {
    let (local, peer) = addrs(&s, target)?;
    Ok(SipStream {
        inner: Inner::Tcp(s),
        transport: StreamTransport::Tcp,
        local,
        peer,
    })
}

async fn handshake(
    s: TcpStream,
    name: ServerName<'static>,
    target: &str,
    tls: &TlsSettings,
    deadline: Instant,
    timeout: Duration,
) -> Result<SipStream, ConnectError> {
    let (local, peer) = addrs(&s, target)?;
    let connector = TlsConnector::from(Arc::clone(&tls.config));
    match timeout_at(deadline, connector.connect(name, s)).await {
        Ok(Ok(s)) => Ok(SipStream {
            inner: Inner::Tls(Box::new(s)),
            transport: StreamTransport::Tls,
            local,
            peer,
        }),
        Ok(Err(e)) => Err(ConnectError::io(Step::Handshake, target, e)),
        Err(_) => Err(ConnectError::timed_out(Step::Handshake, target, timeout)),
    }
}

#[cfg(test)]
#[path = "transport_tests.rs"]
mod tests;
