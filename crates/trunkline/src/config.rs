//! Opening the database (and, for `serve`, the lock that makes it the only one on an SQLite
//! file), and `serve` itself.

use crate::failure::Failure;
use crate::master_key;
pub use crate::settings::{DbArgs, ServeArgs, DEFAULT_DATABASE_URL};
use std::time::Duration;
use trunkline_api::{AppState, ServeOptions};
use trunkline_core::Services;
use trunkline_store::Store;

/// Opens the database, creating it on first start: for `serve` and `bridge` only.
pub async fn open_store(db: &DbArgs) -> Result<Store, String> {
    tracing::info!(
        database = %trunkline_store::describe_url(&db.database_url),
        "database"
    );
    Store::open(&db.database_url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))
}

/// Opens the database `serve` created, naming it on stderr: the other commands must not
/// start an empty database of their own, e.g. when run from another directory.
pub async fn open_existing_store(db: &DbArgs) -> Result<Store, String> {
    eprintln!(
        "database: {}",
        trunkline_store::describe_url(&db.database_url)
    );
    Store::open_existing(&db.database_url)
        .await
        .map_err(|e| match e {
            trunkline_store::StoreError::Missing(what) => format!(
                "{what}. `trunkline serve` (or `trunkline bridge`) creates it on first start; \
                 run this command with the DATABASE_URL that serve uses (the default, {DEFAULT_DATABASE_URL}, is relative to the current directory)"
            ),
            other => format!("cannot open the database: {other}"),
        })
}

/// With SQLite, takes the lock that makes this the only `serve` on the file (its trunk-list
/// cache assumes no other process writes trunks): an flock on `<database>.lock`, holding our
/// pid, released when the process ends however it ends. `bridge` and `keys` take no part.
fn claim_sqlite(db: &DbArgs) -> Result<Option<trunkline_store::file_lock::FileLock>, String> {
    let Some(path) = trunkline_store::sqlite_path(&db.database_url) else {
        return Ok(None);
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let lock = trunkline_store::beside(&path, "lock");
    match trunkline_store::file_lock::claim(&lock).map_err(|e| e.to_string())? {
        Ok(held) => Ok(Some(held)),
        Err(pid) => Err(format!(
            "another `trunkline serve` ({}) is using the database {}: stop it first. One serve runs per SQLite file \
             (it caches what it writes); to run several instances, use PostgreSQL (DATABASE_URL=postgres://…). The lock is {}",
            pid.map_or("whose pid could not be read".to_owned(), |p| format!("pid {p}")),
            trunkline_store::describe_url(&db.database_url),
            lock.display()
        )),
    }
}

pub async fn serve(args: ServeArgs) -> Result<(), Failure> {
    let livekit = args.livekit().map_err(Failure::Usage)?;
    let bridge = args.bridge().map_err(Failure::Usage)?;
    let calls = args.call_settings();
    let _only_serve = claim_sqlite(&args.db)?;
    let keyring = master_key::load(&args.db)?;
    let store = open_store(&args.db).await?;
    crate::rotation::check_keys(&store, &keyring).await?;
    let shutdown = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    match &livekit {
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
    services.calls = std::sync::Arc::new(calls);
    services.provisioner = services.provisioner.clone().with_bridge(bridge);
    let state = AppState::from(services);
    let options = ServeOptions {
        reconcile_interval: Some(Duration::from_secs_f64(args.reconcile_interval)),
        http: args.http_limits(),
    };
    trunkline_api::serve(listener, state, options, shutdown)
        .await
        .map_err(|e| format!("server error: {e}"))?;
    store.close().await;
    tracing::info!("trunkline stopped");
    Ok(())
}

/// Resolves at SIGTERM or Ctrl-C. The handlers are installed when this is called, not when
/// the future is first polled: a stop that arrives right after start (a supervisor, a test)
/// is then a graceful one rather than the default action, which kills the process.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
                }
                _ => std::future::pending::<()>().await,
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
