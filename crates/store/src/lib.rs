//! Storage for trunkline: one API, one code path (sqlx `Any`), two databases. SQLite is the
//! embedded default (a file, WAL, synchronous commits); PostgreSQL serves deployments that run
//! several instances. Queries use `$n` placeholders, which both databases accept.

mod assistants;
pub mod audit;
pub mod backup;
mod calls;
mod claims;
mod coalesce;
mod config_snapshot;
mod dashboard_counts;
mod dashboard_sessions;
mod dispatch_rules;
mod error;
mod fair_claim;
pub mod file_lock;
mod fresh_reads;
mod gauges;
mod health;
mod import_ids;
mod inbound_trunks;
mod keys;
mod leases;
mod list_cache;
mod notified_reads;
mod number_approvals;
mod numbers;
mod open;
mod outbound_trunks;
mod outbox;
mod provider_accounts;
mod provider_trunk_sids;
mod provider_trunks;
mod quota_counts;
mod resource;
mod status;
mod tenant_profile;
mod trunk_id_fate;
mod warm_transfers;

pub use assistants::{AssistantRow, WebhookSecretRecord, WebhookSecretRow};
pub use audit::{Actor, AuditAction, AuditEntry, AuditFilter, AuditRecord};
pub use calls::{
    Applied, CallFilter, CallRow, ClaimLimits, Claimed, DueTrunk, OutboxEntry, Transition,
};
pub use claims::{RuleClaims, StoredClaims};
pub use config_snapshot::ConfigSnapshot;
pub use dashboard_counts::OUTCOME_HOUR_MICROS;
pub use dashboard_sessions::DashboardSession;
pub use dispatch_rules::{DispatchRuleRow, NewDispatchRule, RuleConflict, RuleKey, EVERY_TRUNK};
pub use error::StoreError;
pub use fair_claim::FairClaim;
pub use fresh_reads::{KeyFacts, SharedReads};
pub use health::{CheckResult, HealthRow};
pub use inbound_trunks::{ClaimConflict, InboundTrunkRow, NewInboundTrunk, NumberClaim, RuleRef};
pub use keys::{ApiKeyRecord, NewApiKey};
pub use number_approvals::{Approval, PendingApproval, ANY_NUMBER};
pub use numbers::NumberRow;
pub use open::{beside, describe_url, sqlite_path, Backend};
pub use outbound_trunks::{NewOutboundTrunk, OutboundTrunkRow, OutboundTrunkSummary};
pub use outbox::{DeliveryResult, OutboxRow};
pub use provider_accounts::{ProviderAccountRow, ProviderEventRow};
pub use provider_trunks::{NewProviderTrunk, ProviderTrunkRow};
pub use quota_counts::Counted;
pub use resource::{Claims, Kind, Lifecycle, Resource, Resources, SecretsRecord, WithSecrets};
pub use status::{Status, UnknownStatus};
pub use tenant_profile::{KeyRevocation, TenantKey, TenantProfile};
pub use trunk_id_fate::TrunkIdFate;
pub use warm_transfers::{WarmTransferEnd, WarmTransferRow};

use sqlx::AnyPool;

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// Reads.
    pool: AnyPool,
    /// Writes. With SQLite a single connection: writers queue here in order instead of
    /// colliding on SQLite's file lock, whose busy handler sleeps up to 100 ms per retry.
    /// With PostgreSQL, the same pool as reads.
    writer: AnyPool,
    backend: Backend,
    /// Per-tenant trunk lists. With SQLite this process is the sole writer and tags them with
    /// an in-memory generation; with PostgreSQL they are tagged with the tenant's stored
    /// generation, which every request's key check reads (see `fresh_reads`).
    list_cache: Option<std::sync::Arc<list_cache::ListCache>>,
    /// Coalesced hot reads (key checks, calls), where several instances may share the
    /// database (PostgreSQL).
    fresh: Option<std::sync::Arc<fresh_reads::FreshReads>>,
    /// Key checks answered from memory under a lease (`notified_reads`), once started.
    notified: Option<std::sync::Arc<notified_reads::NotifiedReads>>,
    /// Where the database is, for connections outside the pools (the listener).
    url: std::sync::Arc<str>,
}

impl Store {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// Whether `list_outbound_trunks` hands back the same shared list until a write: only then is
    /// anything derived from it worth keeping.
    pub fn caches_lists(&self) -> bool {
        self.list_cache.is_some()
    }

    /// Whether other instances may write the same database (PostgreSQL): then only answers
    /// checked against the database are exact, never a time-bounded cache.
    pub fn shares_database(&self) -> bool {
        self.fresh.is_some()
    }

    /// Called after every committed write to the trunks table, before it is acknowledged.
    fn outbound_trunks_changed(&self) {
        if let Some(c) = &self.list_cache {
            c.invalidate();
        }
    }
}

/// Microseconds since the Unix epoch, the unit of every timestamp column.
pub fn now_micros() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    d.as_micros() as i64
}
