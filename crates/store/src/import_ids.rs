//! Which local object each object of an imported configuration document became (migration
//! 0131), so that importing the same document twice creates its copies once.

use crate::{Store, StoreError};
use sqlx::Row;
use std::collections::HashMap;

impl Store {
    /// The tenant's mapping from imported documents' ids to the ids of the objects made
    /// from them.
    pub async fn import_ids(&self, tenant_id: &str) -> Result<HashMap<String, String>, StoreError> {
        let rows =
            sqlx::query("SELECT source_id, local_id FROM config_import_ids WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("source_id")?, r.try_get("local_id")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Records that the document object `source_id` became `local_id` in this tenant.
    pub async fn remember_import_id(
        &self,
        tenant_id: &str,
        source_id: &str,
        local_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO config_import_ids (tenant_id, source_id, local_id) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, source_id) DO UPDATE SET local_id = $3",
        )
        .bind(tenant_id)
        .bind(source_id)
        .bind(local_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}
