//! A double's HTTP server: serve on a bound listener, stop (connections refused from then on,
//! the outage a provider's downtime looks like), and start again on the same address.

use axum::Router;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The listener axum serves from; dropping it (when axum lets go) tells [`Server::stop`] that
/// new connects are now refused.
struct NotifyingListener {
    inner: TcpListener,
    _closed: oneshot::Sender<()>,
}

impl axum::serve::Listener for NotifyingListener {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok(conn) => return conn,
                // Like axum's own impl: e.g. EMFILE; back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

struct Running {
    stop: oneshot::Sender<()>,
    closed: oneshot::Receiver<()>,
    task: tokio::task::JoinHandle<()>,
}

pub(crate) struct Server {
    addr: SocketAddr,
    app: Router,
    running: Mutex<Option<Running>>,
}

impl Server {
    pub(crate) fn start(listener: TcpListener, app: Router) -> Self {
        let addr = listener.local_addr().expect("listener has a local address");
        let server = Self {
            addr,
            app,
            running: Mutex::new(None),
        };
        server.serve(listener);
        server
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn serve(&self, listener: TcpListener) {
        let (closed_tx, closed) = oneshot::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let listener = NotifyingListener {
            inner: listener,
            _closed: closed_tx,
        };
        let app = self.app.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .await;
        });
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Running { stop, closed, task });
    }

    /// Stops listening; once this returns, connects are refused. Requests in flight get a
    /// few seconds to finish, then their connections are dropped.
    pub(crate) async fn stop(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(r) = running else { return };
        let _ = r.stop.send(());
        let _ = r.closed.await;
        let abort = r.task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), r.task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }

    /// Listens again on the same address, with the same state.
    pub(crate) async fn restart(&self) -> std::io::Result<()> {
        if self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            return Ok(());
        }
        let listener = TcpListener::bind(self.addr).await?;
        self.serve(listener);
        Ok(())
    }
}
