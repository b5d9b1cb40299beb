//! Outbound trunk rows: the desired state the provisioner converges LiveKit to. The
//! lifecycle is the shared one (`resource.rs`); this file describes the table and keeps the
//! cached per-tenant list `GET /sip/list` reads.

use crate::resource::{columns, lifecycle_of, Claims, Kind, Resource, WithSecrets};
use crate::{Status, Store, StoreError};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OutboundTrunkRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub trunk_type: String,
    pub config: String,
    pub secrets: String,
    #[sqlx(try_from = "String")]
    pub status: Status,
    pub livekit_trunk_id: Option<String>,
    pub desired_version: i64,
    pub synced_version: i64,
    pub last_error: Option<String>,
    pub synced_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What `GET /sip/list` shows: never any part of the configuration.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OutboundTrunkSummary {
    pub id: String,
    pub name: String,
    pub trunk_type: String,
    pub created_at: i64,
}

impl Resource for OutboundTrunkRow {
    const KIND: Kind = Kind {
        table: "trunks",
        audit_kind: crate::audit::kinds::OUTBOUND_TRUNK,
        columns: Self::COLUMNS,
        remote_id: "livekit_trunk_id",
        what: "trunk id",
        claims: Claims::None,
        secrets: true,
        status_forgets_sync: false,
    };

    lifecycle_of!(livekit_trunk_id, secrets);

    columns!(
        id,
        tenant_id,
        name,
        trunk_type,
        config,
        secrets,
        status,
        livekit_trunk_id,
        desired_version,
        synced_version,
        last_error,
        synced_at,
        created_at,
        updated_at
    );
}

impl WithSecrets for OutboundTrunkRow {}

impl Store {
    /// A tenant's active trunks in creation order.
    pub async fn list_outbound_trunks(
        &self,
        tenant_id: &str,
    ) -> Result<std::sync::Arc<Vec<OutboundTrunkSummary>>, StoreError> {
        let Some(cache) = self.list_cache.as_ref().filter(|_| !self.shares_database()) else {
            return Ok(std::sync::Arc::new(
                self.query_outbound_trunk_list(tenant_id).await?,
            ));
        };
        if let Some(hit) = cache.get(tenant_id) {
            return Ok(hit);
        }
        let generation = cache.generation();
        let list = std::sync::Arc::new(self.query_outbound_trunk_list(tenant_id).await?);
        cache.put(tenant_id, generation, list.clone());
        Ok(list)
    }

    pub(crate) async fn query_outbound_trunk_list(
        &self,
        tenant_id: &str,
    ) -> Result<Vec<OutboundTrunkSummary>, StoreError> {
        let sql = format!(
            "SELECT id, name, trunk_type, created_at FROM trunks \
             WHERE tenant_id = $1 AND deleted_at IS NULL AND status <> '{}' \
             ORDER BY created_at, id",
            Status::Pending.as_str()
        );
        Ok(sqlx::query_as(&sql)
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?)
    }
}
