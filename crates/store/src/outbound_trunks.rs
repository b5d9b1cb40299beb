//! Outbound trunk rows: the desired state the provisioner converges LiveKit to. The
//! lifecycle is the shared one (`resource.rs`); this file describes the table and keeps the
//! cached per-tenant list `GET /sip/list` reads.

use crate::resource::{resource_row, Claims, WithSecrets};
use crate::{Status, Store, StoreError};

resource_row! {
    pub struct OutboundTrunkRow, new NewOutboundTrunk {
        pub id: String,
        pub tenant_id: String,
        pub name: String,
        pub trunk_type: String,
        pub config: String,
        pub secrets: String,
        pub livekit_trunk_id: Option<String>,
    }
    kind {
        table: "trunks",
        audit_kind: crate::audit::kinds::OUTBOUND_TRUNK,
        remote_id: "livekit_trunk_id",
        what: "trunk id",
        claims: Claims::None,
        secrets: true,
        status_forgets_sync: false,
    }
    remote: livekit_trunk_id, secrets: secrets,
}

/// What `GET /sip/list` shows: never any part of the configuration.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OutboundTrunkSummary {
    pub id: String,
    pub name: String,
    pub trunk_type: String,
    pub created_at: i64,
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
