//! The provider side of trunks made from a provider account: the provider's ids per trunk.

use crate::{now_micros, Store, StoreError};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq)]
pub struct ProviderTrunkRow {
    pub id: String,
    pub tenant_id: String,
    pub account_id: String,
    /// The trunkline trunk (`ST_…`) once made.
    pub trunk_id: Option<String>,
    /// `creating`, `active`, `missing` (deleted at the provider), `failed` or `deleted`.
    pub status: String,
    pub provider_trunk_sid: Option<String>,
    pub credential_list_sid: Option<String>,
    pub domain_name: String,
    /// JSON array of E.164 numbers.
    pub numbers: String,
    pub last_error: Option<String>,
    pub created_at: i64,
}

const COLUMNS: &str = "id, tenant_id, account_id, trunk_id, status, provider_trunk_sid, \
    credential_list_sid, domain_name, numbers, last_error, created_at";

fn row(r: &AnyRow) -> Result<ProviderTrunkRow, sqlx::Error> {
    Ok(ProviderTrunkRow {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        account_id: r.try_get("account_id")?,
        trunk_id: r.try_get("trunk_id")?,
        status: r.try_get("status")?,
        provider_trunk_sid: r.try_get("provider_trunk_sid")?,
        credential_list_sid: r.try_get("credential_list_sid")?,
        domain_name: r.try_get("domain_name")?,
        numbers: r.try_get("numbers")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    pub async fn insert_provider_trunk(&self, p: &ProviderTrunkRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO provider_trunks (id, tenant_id, account_id, trunk_id, status, \
             provider_trunk_sid, credential_list_sid, domain_name, numbers, last_error, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
        )
        .bind(&p.id)
        .bind(&p.tenant_id)
        .bind(&p.account_id)
        .bind(&p.trunk_id)
        .bind(&p.status)
        .bind(&p.provider_trunk_sid)
        .bind(&p.credential_list_sid)
        .bind(&p.domain_name)
        .bind(&p.numbers)
        .bind(&p.last_error)
        .bind(p.created_at)
        .execute(&self.writer)
        .await
        .map_err(|e| StoreError::unique(e, "provider trunk id"))?;
        Ok(())
    }

    /// Saves the row's provider ids, trunk, status and error as given.
    pub async fn update_provider_trunk(&self, p: &ProviderTrunkRow) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE provider_trunks SET trunk_id = $1, status = $2, provider_trunk_sid = $3, \
             credential_list_sid = $4, last_error = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(&p.trunk_id)
        .bind(&p.status)
        .bind(&p.provider_trunk_sid)
        .bind(&p.credential_list_sid)
        .bind(&p.last_error)
        .bind(now_micros())
        .bind(&p.id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The live provider side of trunk `trunk_id`, if it has one.
    pub async fn provider_trunk_of(
        &self,
        trunk_id: &str,
    ) -> Result<Option<ProviderTrunkRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM provider_trunks WHERE trunk_id = $1 \
             AND status IN ('active', 'missing')"
        );
        let r = sqlx::query(&sql)
            .bind(trunk_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(row).transpose()?)
    }

    /// A trunk made from the account that still exists (or is being made), if any.
    pub async fn provider_account_user(
        &self,
        account_id: &str,
    ) -> Result<Option<ProviderTrunkRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM provider_trunks WHERE account_id = $1 \
             AND status IN ('creating', 'active', 'missing') ORDER BY created_at LIMIT 1"
        );
        let r = sqlx::query(&sql)
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(row).transpose()?)
    }

    /// Every trunk's live provider side, for the converge pass.
    pub async fn active_provider_trunks(&self) -> Result<Vec<ProviderTrunkRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM provider_trunks WHERE status = 'active' ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
    }
}
