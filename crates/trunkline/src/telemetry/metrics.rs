//! The process's metric registry and its `/metrics` listener.
//!
//! Every crate records through the `metrics` facade (one-line macros at the call site, names
//! and help texts in each crate's own `metrics` module); this module installs the one
//! recorder those macros write into, a Prometheus text renderer, and serves it on the address
//! of `TRUNKLINE_METRICS_LISTEN` (`serve`) or `TRUNKLINE_BRIDGE_METRICS_LISTEN` (`bridge`).
//! Unset: no recorder and no listener, and every macro is a no-op.
//!
//! Values that are a state rather than an event (queue depth, ports in use, the relay's
//! packet counters kept in atomics off the async runtime) are read at scrape time by the
//! [`Refresh`] hooks the command registers, so nothing polls when nobody scrapes.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Bucket bounds of every `_seconds` histogram: from a fast SQLite request (1 ms) to a call
/// ringing out (60 s).
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Run before each scrape to set the gauges that mirror a state.
pub type Refresh =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync + 'static>;

/// The installed recorder and what refreshes its state gauges.
#[derive(Clone)]
pub struct Exporter {
    handle: PrometheusHandle,
    refresh: Vec<Refresh>,
    process: Arc<metrics_process::Collector>,
}

impl Exporter {
    /// Installs the process-wide recorder. Once per process: `serve` and `bridge` each call
    /// it at start when their metrics listener is set.
    pub fn install() -> Result<Self, String> {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .map_err(|e| format!("metrics buckets: {e}"))?
            .install_recorder()
            .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
        let process = metrics_process::Collector::default();
        process.describe();
        Ok(Self {
            handle,
            refresh: Vec::new(),
            process: Arc::new(process),
        })
    }

    /// Adds a hook run before each scrape.
    pub fn on_scrape(&mut self, refresh: Refresh) {
        self.refresh.push(refresh);
    }

    /// The exposition text, the state gauges and process metrics brought up to date first.
    pub async fn render(&self) -> String {
        for refresh in &self.refresh {
            refresh().await;
        }
        self.process.collect();
        self.handle.render()
    }

    /// Serves `GET /metrics` on `listener` in a task of its own, and keeps the recorder's
    /// histograms bounded in between scrapes. The command aborts the task when it stops.
    pub fn spawn(self, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.serve(listener))
    }

    async fn serve(self, listener: tokio::net::TcpListener) {
        let upkeep = self.handle.clone();
        let upkeep = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                upkeep.run_upkeep();
            }
        });
        let app = Router::new().route(
            "/metrics",
            get(move || {
                let exporter = self.clone();
                async move {
                    (
                        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                        exporter.render().await,
                    )
                        .into_response()
                }
            }),
        );
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "metrics listener stopped");
        }
        upkeep.abort();
    }
}

/// Binds the metrics listener named by `setting` (for its error message), installs the
/// recorder with `describe` run in it, and returns them; `None` when the setting is unset.
pub async fn start(
    setting: &str,
    addr: Option<SocketAddr>,
    describe: impl FnOnce(),
) -> Result<Option<(Exporter, tokio::net::TcpListener)>, String> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{setting}: cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let exporter = Exporter::install()?;
    describe();
    tracing::info!(addr = %bound, "metrics on http://{bound}/metrics");
    Ok(Some((exporter, listener)))
}
