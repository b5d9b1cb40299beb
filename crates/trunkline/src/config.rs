//! Configuration by flag or environment, and `serve`.

use crate::master_key;
use clap::Args;
use std::net::SocketAddr;
use std::time::Duration;
use trunkline_api::{AppState, ServeOptions};
use trunkline_livekit::{LiveKitClient, LiveKitConfig};
use trunkline_store::Store;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://./trunkline-data/trunkline.db";

#[derive(Args, Clone)]
pub struct DbArgs {
    /// sqlite://PATH (default, created on first start) or postgres://…
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// 32 bytes, base64. Unset with SQLite: generated on first start into master.key beside
    /// the database. Required with PostgreSQL.
    #[arg(long, env = "TRUNKLINE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// Earlier master keys (comma-separated), still accepted for opening secrets during a
    /// rotation.
    #[arg(long, env = "TRUNKLINE_MASTER_KEY_PREVIOUS", hide_env_values = true)]
    pub master_key_previous: Option<String>,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TRUNKLINE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: DbArgs,
    /// LiveKit server URL (https://, wss://, http:// or ws://).
    #[arg(long, env = "LIVEKIT_URL")]
    pub livekit_url: Option<String>,
    #[arg(long, env = "LIVEKIT_API_KEY")]
    pub livekit_api_key: Option<String>,
    #[arg(long, env = "LIVEKIT_API_SECRET", hide_env_values = true)]
    pub livekit_api_secret: Option<String>,
    /// Seconds a LiveKit request may take before it counts as unreachable.
    #[arg(long, env = "TRUNKLINE_LIVEKIT_TIMEOUT", default_value_t = 10)]
    pub livekit_timeout: u64,
    /// Seconds between reconciler passes (provisioning, repair of out-of-band changes).
    #[arg(long, env = "TRUNKLINE_RECONCILE_INTERVAL", default_value_t = 30.0)]
    pub reconcile_interval: f64,
    /// Let tenants point trunks at loopback, private or link-local addresses (labs and tests
    /// only: on a shared service it lets a tenant aim SIP traffic into your network).
    #[arg(long, env = "TRUNKLINE_ALLOW_PRIVATE_TARGETS", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_private_targets: bool,
    /// Milliseconds an API key lookup is cached; a revoked key stops working within this.
    #[arg(long, env = "TRUNKLINE_AUTH_CACHE_MS", default_value_t = 1000)]
    pub auth_cache_ms: u64,
    /// Where LiveKit's SIP service reaches trunkline's SIP bridge, `host[:port]`. When set,
    /// Exotel trunks are provisioned into LiveKit as outbound trunks to this address, each
    /// with its own generated digest credentials.
    #[arg(long, env = "TRUNKLINE_BRIDGE_SIP_ADDRESS")]
    pub bridge_sip_address: Option<String>,
    /// Transport LiveKit uses toward the bridge: udp, tcp (default) or tls.
    #[arg(long, env = "TRUNKLINE_BRIDGE_TRANSPORT", default_value = "tcp")]
    pub bridge_transport: String,
    /// Calls per second per trunk, unless the trunk sets its own (PUT /sip/trunks/{id}/call-limits).
    #[arg(long, env = "TRUNKLINE_TRUNK_CPS", default_value_t = 1.0)]
    pub trunk_cps: f64,
    /// Concurrent calls per trunk, unless the trunk sets its own.
    #[arg(
        long,
        env = "TRUNKLINE_TRUNK_MAX_CONCURRENT_CALLS",
        default_value_t = 10
    )]
    pub trunk_max_concurrent_calls: i64,
    /// Concurrent calls per tenant, across its trunks.
    #[arg(
        long,
        env = "TRUNKLINE_TENANT_MAX_CONCURRENT_CALLS",
        default_value_t = 50
    )]
    pub tenant_max_concurrent_calls: i64,
    /// Dial attempts per call, the first included (retries only where the callee cannot ring twice).
    #[arg(long, env = "TRUNKLINE_CALL_MAX_ATTEMPTS", default_value_t = 3)]
    pub call_max_attempts: i64,
    /// Seconds after which a claimed but undialed call is taken back from a stopped instance.
    #[arg(long, env = "TRUNKLINE_CLAIM_TIMEOUT", default_value_t = 60.0)]
    pub claim_timeout: f64,
    /// Seconds a connection has to send a complete request head, from when it opens or its
    /// previous response ends (so also how long an idle keep-alive connection is kept).
    #[arg(long, env = "TRUNKLINE_HTTP_HEADER_TIMEOUT", default_value_t = 10.0)]
    pub http_header_timeout: f64,
    /// Seconds a response may wait on a client that does not read it before the connection
    /// is closed.
    #[arg(long, env = "TRUNKLINE_HTTP_SEND_TIMEOUT", default_value_t = 30.0)]
    pub http_send_timeout: f64,
    /// HTTP connections served at once; more wait up to a second for a free one, then are
    /// closed. Keep it well below the process's open-file limit (`ulimit -n`).
    #[arg(long, env = "TRUNKLINE_MAX_CONNECTIONS", default_value_t = 512)]
    pub max_connections: usize,
}

impl ServeArgs {
    fn bridge(
        &self,
    ) -> Result<Option<trunkline_api::provisioning::livekit_info::BridgeTarget>, String> {
        let Some(raw) = self
            .bridge_sip_address
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        else {
            return Ok(None);
        };
        let address =
            trunkline_domain::SipAddress::parse("TRUNKLINE_BRIDGE_SIP_ADDRESS", raw.trim())
                .map_err(|e| e.to_string())?;
        let transport = trunkline_domain::Transport::parse(
            "TRUNKLINE_BRIDGE_TRANSPORT",
            &self.bridge_transport,
        )
        .map_err(|e| e.to_string())?;
        Ok(Some(
            trunkline_api::provisioning::livekit_info::BridgeTarget {
                address: address.to_string(),
                transport,
            },
        ))
    }

    fn call_settings(&self) -> Result<trunkline_api::calls::CallSettings, String> {
        let d = trunkline_api::calls::CallSettings::default();
        if !(self.trunk_cps.is_finite() && (0.01..=1000.0).contains(&self.trunk_cps)) {
            return Err("TRUNKLINE_TRUNK_CPS must be from 0.01 to 1000".into());
        }
        for (name, v) in [
            (
                "TRUNKLINE_TRUNK_MAX_CONCURRENT_CALLS",
                self.trunk_max_concurrent_calls,
            ),
            (
                "TRUNKLINE_TENANT_MAX_CONCURRENT_CALLS",
                self.tenant_max_concurrent_calls,
            ),
            ("TRUNKLINE_CALL_MAX_ATTEMPTS", self.call_max_attempts),
        ] {
            if !(1..=100_000).contains(&v) {
                return Err(format!("{name} must be a whole number from 1 to 100000"));
            }
        }
        if !(self.claim_timeout.is_finite() && self.claim_timeout >= 1.0) {
            return Err("TRUNKLINE_CLAIM_TIMEOUT must be at least 1 second".into());
        }
        Ok(trunkline_api::calls::CallSettings {
            default_cps_milli: (self.trunk_cps * 1000.0).round() as i64,
            default_trunk_concurrency: self.trunk_max_concurrent_calls,
            tenant_concurrency: self.tenant_max_concurrent_calls,
            max_attempts: self.call_max_attempts,
            claim_timeout: Duration::from_secs_f64(self.claim_timeout),
            ..d
        })
    }
}

impl ServeArgs {
    fn http_limits(&self) -> Result<trunkline_api::HttpLimits, String> {
        let seconds = |name: &str, v: f64| {
            if v.is_finite() && (0.1..=3600.0).contains(&v) {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(format!(
                    "{name} must be a number of seconds from 0.1 to 3600, e.g. 10; got {v}"
                ))
            }
        };
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(format!(
                "TRUNKLINE_MAX_CONNECTIONS must be a whole number from 1 to 1000000, e.g. 512; got {}",
                self.max_connections
            ));
        }
        Ok(trunkline_api::HttpLimits {
            header_timeout: seconds("TRUNKLINE_HTTP_HEADER_TIMEOUT", self.http_header_timeout)?,
            send_timeout: seconds("TRUNKLINE_HTTP_SEND_TIMEOUT", self.http_send_timeout)?,
            max_connections: self.max_connections,
            ..Default::default()
        })
    }
}

fn livekit(args: &ServeArgs) -> Result<Option<LiveKitClient>, String> {
    let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    match (
        non_empty(&args.livekit_url),
        non_empty(&args.livekit_api_key),
        non_empty(&args.livekit_api_secret),
    ) {
        (None, None, None) => Ok(None),
        (Some(url), Some(api_key), Some(api_secret)) => {
            if !(url.starts_with("http://")
                || url.starts_with("https://")
                || url.starts_with("ws://")
                || url.starts_with("wss://"))
            {
                return Err(format!(
                    "LIVEKIT_URL must start with https://, wss://, http:// or ws:// (got {url})"
                ));
            }
            Ok(Some(LiveKitClient::new(LiveKitConfig {
                url,
                api_key,
                api_secret,
                timeout: Duration::from_secs(args.livekit_timeout.max(1)),
            })))
        }
        (url, key, secret) => {
            let missing: Vec<&str> = [
                ("LIVEKIT_URL", url.is_none()),
                ("LIVEKIT_API_KEY", key.is_none()),
                ("LIVEKIT_API_SECRET", secret.is_none()),
            ]
            .into_iter()
            .filter_map(|(n, m)| m.then_some(n))
            .collect();
            Err(format!(
                "LiveKit is partly configured: set {} too, or unset all three",
                missing.join(" and ")
            ))
        }
    }
}

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

pub async fn serve(args: ServeArgs) -> Result<(), String> {
    let livekit = livekit(&args)?;
    let calls = args.call_settings()?;
    let http = args.http_limits()?;
    let bridge = args.bridge()?;
    if !(args.reconcile_interval.is_finite() && args.reconcile_interval > 0.0) {
        return Err("TRUNKLINE_RECONCILE_INTERVAL must be a positive number of seconds".into());
    }
    let _only_serve = claim_sqlite(&args.db)?;
    let keyring = master_key::load(&args.db)?;
    let store = open_store(&args.db).await?;
    crate::rotation::check_keys(&store, &keyring).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    match &livekit {
        Some(lk) => tracing::info!(livekit = lk.url(), "LiveKit configured"),
        None => tracing::warn!("LiveKit is not configured: trunks are stored as unprovisioned until LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET are set"),
    }
    tracing::info!(%addr, database = store.backend().as_str(), "trunkline listening");
    let state = AppState::new(
        store.clone(),
        keyring,
        livekit,
        Duration::from_millis(args.auth_cache_ms),
    );
    let state = AppState {
        allow_private_targets: args.allow_private_targets,
        calls: std::sync::Arc::new(calls),
        provisioner: state.provisioner.clone().with_bridge(bridge),
        ..state
    };
    let options = ServeOptions {
        reconcile_interval: Some(Duration::from_secs_f64(args.reconcile_interval)),
        http,
    };
    trunkline_api::serve(listener, state, options, shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    store.close().await;
    tracing::info!("trunkline stopped");
    Ok(())
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
