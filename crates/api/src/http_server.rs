//! The HTTP/1.1 server loop: hyper driven directly (axum's `serve` exposes no timeouts), so
//! that no client can hold the server's connections hostage.
//!
//! - **Slow request heads** (slowloris): a connection has `header_timeout` to send a complete
//!   request head, counted from when it opens and again from the end of each response, so
//!   the same deadline bounds an idle keep-alive connection. A client trickling a header byte
//!   every few seconds is closed at the deadline. Bodies are bounded by the request timeout.
//! - **Slow readers**: a response write that makes no progress for `send_timeout` (a client
//!   that stopped reading, its window closed) closes the connection.
//! - **Too many connections**: at most `max_connections` are served at once. A connection
//!   over the cap waits up to `queue_wait` for a free slot (first come, first served), then is
//!   closed; at most [`MAX_WAITING`] wait at once, and any beyond are closed at once, so file
//!   descriptors stay bounded.
//! - **Graceful shutdown**: accepting stops, idle connections close, and requests in flight
//!   finish (each is bounded by the request timeout) before `run` returns.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// Connections over the cap that may wait for a slot at the same time.
pub const MAX_WAITING: usize = 128;

/// How the server bounds its connections (see the module documentation).
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub header_timeout: Duration,
    pub send_timeout: Duration,
    pub max_connections: usize,
    pub queue_wait: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(30),
            max_connections: 512,
            queue_wait: Duration::from_secs(1),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains the open connections.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let http = Arc::new(http);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let waiting = Arc::new(AtomicUsize::new(0));
    let graceful = GracefulShutdown::new();
    let mut over_cap_logged: Option<Instant> = None;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => (stream, peer),
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = stream;
        let _ = stream.set_nodelay(true);
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                if over_cap_logged.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    over_cap_logged = Some(Instant::now());
                    tracing::warn!(
                        max = limits.max_connections,
                        "HTTP connection cap reached (TRUNKLINE_MAX_CONNECTIONS): new connections wait, then are closed"
                    );
                }
                if waiting.load(Ordering::Relaxed) >= MAX_WAITING {
                    continue; // dropped: closed at once
                }
                None
            }
        };
        let watcher = graceful.watcher();
        let (app, http, slots, waiting) =
            (app.clone(), http.clone(), slots.clone(), waiting.clone());
        let limits = limits.clone();
        tokio::spawn(async move {
            let permit = match permit {
                Some(p) => p,
                None => {
                    waiting.fetch_add(1, Ordering::Relaxed);
                    let got = tokio::time::timeout(limits.queue_wait, slots.acquire_owned()).await;
                    waiting.fetch_sub(1, Ordering::Relaxed);
                    match got {
                        Ok(Ok(p)) => p,
                        _ => return, // still full: the stream is dropped, which closes it
                    }
                }
            };
            let io = TokioIo::new(Guarded::new(stream, permit, limits.send_timeout));
            // Handlers that need the client's address (the sign-in throttle) read it here.
            let app = app.map_request(move |mut req: axum::extract::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
            let service = TowerToHyperService::new(app);
            if let Err(e) = watcher.watch(http.serve_connection(io, service)).await {
                tracing::debug!(error = %e, "HTTP connection ended");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// As hyper's server did: a failed accept because the process is out of file descriptors
/// is retried after a pause rather than spun on; a connection reset before accept is not news.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// A served connection: holds its slot until it is dropped, and fails a write that has made
/// no progress for `send_timeout`.
struct Guarded {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    send_timeout: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Guarded {
    fn new(stream: TcpStream, slot: OwnedSemaphorePermit, send_timeout: Duration) -> Self {
        Self {
            stream,
            _slot: slot,
            send_timeout,
            stalled: None,
        }
    }

    /// Passes a write's result on; a pending write starts (or keeps) the stall clock, and an
    /// expired clock turns it into an error that closes the connection.
    fn on_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Pending => {
                let send_timeout = self.send_timeout;
                let clock = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(send_timeout)));
                match clock.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client stopped reading its response",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.on_write(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.on_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.stream).poll_flush(cx);
        self.on_write(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.stream).poll_shutdown(cx);
        self.on_write(cx, result)
    }
}
