//! The background work of a `serve` process: the reconciler, trunk health checks, and, when
//! LiveKit is configured, the dialer (with its sweeper) and the end-of-call webhook
//! deliverer. Without LiveKit no call can be placed, and the API refuses to queue one.

use crate::calls::{dialer::Dialer, webhooks_out::Deliverer};
use crate::{health_checks, provisioning, Services};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Starts every worker; each stops when `stop` turns true. `reconcile_interval` `None` runs
/// no reconciler (tests that drive passes themselves).
pub fn spawn(
    services: &Services,
    reconcile_interval: Option<Duration>,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let mut workers = Vec::new();
    if let Some(interval) = reconcile_interval {
        workers.push(tokio::spawn(provisioning::run_reconciler(
            services.provisioner.clone(),
            interval,
            stopped(stop.clone()),
        )));
        workers.push(tokio::spawn(
            crate::provider_accounts::twilio_converge::run(
                services.clone(),
                interval,
                stopped(stop.clone()),
            ),
        ));
    }
    // Trunk health checks need no LiveKit.
    workers.push(tokio::spawn(health_checks::run(
        services.clone(),
        stopped(stop.clone()),
    )));
    let Some(livekit) = services.livekit.clone() else {
        return workers;
    };
    let dialer = Dialer {
        store: services.store.clone(),
        livekit,
        settings: services.calls.clone(),
        wake: services.dialer_wake.clone(),
    };
    let deliverer = Deliverer::new(
        services.store.clone(),
        services.keyring.clone(),
        services.calls.clone(),
        services.outbox_wake.clone(),
        services.allow_private_targets,
    );
    workers.push(tokio::spawn(dialer.run(stopped(stop.clone()))));
    workers.push(tokio::spawn(deliverer.run(stopped(stop.clone()))));
    workers
}
