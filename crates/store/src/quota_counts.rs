//! How many of a kind of object a tenant has, for its quotas. Each count is one indexed
//! query (`*_by_tenant`, `calls_active_by_tenant`).

use crate::{Store, StoreError};
use sqlx::Row;

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Outbound trunks not deleted.
    OutboundTrunks,
    /// Inbound trunks not deleted.
    InboundTrunks,
    /// Dispatch rules not deleted.
    DispatchRules,
    /// Assistants not deleted.
    Assistants,
    /// Calls waiting to be dialed (status `queued`).
    QueuedCalls,
}

impl Counted {
    fn sql(self) -> &'static str {
        match self {
            Self::OutboundTrunks => {
                "SELECT COUNT(*) AS n FROM trunks WHERE tenant_id = $1 AND deleted_at IS NULL"
            }
            Self::InboundTrunks => {
                "SELECT COUNT(*) AS n FROM inbound_trunks WHERE tenant_id = $1 AND deleted_at IS NULL"
            }
            Self::DispatchRules => {
                "SELECT COUNT(*) AS n FROM dispatch_rules WHERE tenant_id = $1 AND deleted_at IS NULL"
            }
            Self::Assistants => {
                "SELECT COUNT(*) AS n FROM assistants WHERE tenant_id = $1 AND deleted_at IS NULL"
            }
            Self::QueuedCalls => {
                "SELECT COUNT(*) AS n FROM calls WHERE tenant_id = $1 AND status = 'queued'"
            }
        }
    }
}

impl Store {
    /// How many `what` the tenant has now.
    pub async fn count_for_quota(&self, tenant_id: &str, what: Counted) -> Result<i64, StoreError> {
        let row = sqlx::query(what.sql())
            .bind(tenant_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}
