//! `trunkline serve`: the HTTP API and its background workers.

use crate::database::{claim_sqlite, open_store};
use crate::failure::Failure;
use crate::master_key;
use crate::settings::ServeArgs;
use crate::signals::shutdown_signal;
use crate::telemetry::metrics;
use std::time::Duration;
use trunkline_api::{AppState, ServeOptions};
use trunkline_core::Services;

pub async fn serve(args: ServeArgs) -> Result<(), Failure> {
    if args.demo {
        crate::demo::refuse_real_livekit(&args.livekit_settings_given()).map_err(Failure::Usage)?;
    }
    let livekit = args.livekit().map_err(Failure::Usage)?;
    let bridge = args.bridge().map_err(Failure::Usage)?;
    let calls = args.call_settings();
    let _only_serve = claim_sqlite(&args.db)?;
    let keyring = master_key::load(&args.db)?;
    let mut store = open_store(&args.db).await?;
    store
        .shared_reads(args.shared_reads)
        .await
        .map_err(|e| format!("cannot start cross-instance reads: {e}"))?;
    crate::rotation::check_keys(&store, &keyring).await?;
    let shutdown = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // Kept alive until the server stops: dropping the handle does not stop the stand-in,
    // but it is shut down explicitly below.
    let mut demo = None;
    let livekit = if args.demo {
        let d = crate::demo::start(Duration::from_secs(args.livekit_timeout)).await?;
        d.double
            .set_webhook_url(Some(crate::demo::webhook_url(addr)));
        eprintln!("{}", crate::demo::banner(&d.double.url()));
        tracing::warn!(
            livekit = d.double.url(),
            "DEMO MODE: LiveKit is an embedded stand-in on loopback; no real calls are placed"
        );
        let client = d.client.clone();
        demo = Some(d);
        Some(client)
    } else {
        livekit
    };
    if args.metrics_tenant_labels {
        trunkline_core::metrics::enable_tenant_labels();
    }
    let metrics = metrics::start("TRUNKLINE_METRICS_LISTEN", args.metrics_listen, || {
        trunkline_api::metrics::describe();
        trunkline_livekit::metrics::describe();
        trunkline_core::metrics::describe();
    })
    .await?;
    match &livekit {
        Some(_) if demo.is_some() => {}
        Some(lk) => tracing::info!(livekit = lk.url(), "LiveKit configured"),
        None => tracing::warn!("LiveKit is not configured: trunks are stored as unprovisioned until LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET are set"),
    }
    tracing::info!(%addr, database = store.backend().as_str(), "trunkline listening");
    let mut services = Services::new(
        store.clone(),
        keyring,
        livekit,
        Duration::from_millis(args.auth_cache_ms),
    );
    services.allow_private_targets = args.allow_private_targets;
    services.livekit_demo = demo.is_some();
    services.calls = std::sync::Arc::new(calls);
    services.quotas = args.quota_limits();
    services.providers = std::sync::Arc::new(args.providers.settings());
    services.provisioner = services
        .provisioner
        .clone()
        .with_bridge(bridge)
        .with_number_approval(args.number_approval);
    warn_about_number_approval(&store, args.number_approval).await;
    let mut state = AppState::from(services);
    state.trust_proxy_headers = args.trust_proxy_headers;
    state.trunk_tests =
        std::sync::Arc::new(trunkline_api::trunk_test_limit::TrunkTestLimit::per_minute(
            std::num::NonZeroU32::new(args.trunk_tests_per_minute)
                .unwrap_or(std::num::NonZeroU32::MIN),
        ));
    state.twilio_webhooks = std::sync::Arc::new(
        trunkline_api::routes::twilio_webhooks::WebhookLimit::per_minute(
            std::num::NonZeroU32::new(args.providers.twilio_webhooks_per_minute)
                .unwrap_or(std::num::NonZeroU32::MIN),
        ),
    );
    let metrics = metrics.map(|(mut exporter, listener)| {
        let store = store.clone();
        exporter.on_scrape(std::sync::Arc::new(move || {
            let store = store.clone();
            Box::pin(async move { trunkline_core::metrics::refresh_from_store(&store).await })
        }));
        exporter.spawn(listener)
    });
    let options = ServeOptions {
        reconcile_interval: Some(Duration::from_secs_f64(args.reconcile_interval)),
        http: args.http_limits(),
    };
    trunkline_api::serve(listener, state, options, shutdown)
        .await
        .map_err(|e| format!("server error: {e}"))?;
    if let Some(d) = demo {
        d.double.shutdown().await;
    }
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    store.close().await;
    tracing::info!("trunkline stopped");
    Ok(())
}

/// Says at start how numbers are approved, and warns an operator serving several accounts
/// without approval that the first account to claim a number receives its calls.
async fn warn_about_number_approval(store: &trunkline_store::Store, required: bool) {
    if required {
        match store.pending_number_approvals().await {
            Ok(p) if !p.is_empty() => tracing::warn!(
                numbers = p.len(),
                "number approval required: {} claimed number(s) await approval (`trunkline approvals list`)",
                p.len()
            ),
            Ok(_) => tracing::info!("number approval required: inbound trunks reach LiveKit only with approved numbers"),
            Err(e) => tracing::warn!(error = %e, "could not count the numbers awaiting approval"),
        }
        return;
    }
    if let Ok(tenants) = store.tenant_count().await {
        if tenants > 1 {
            tracing::warn!(tenants, "TRUNKLINE_NUMBER_APPROVAL is off and this service has several accounts: the first account to claim a number receives its calls; set TRUNKLINE_NUMBER_APPROVAL=required unless every account is your own");
        }
    }
}
