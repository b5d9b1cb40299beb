//! The provider side of trunks made from a provider account (a Twilio Elastic SIP trunk with
//! its credential list and numbers): a provisioned resource with the shared lifecycle
//! (`resource.rs`), converged by the same engine as LiveKit's objects. `id` (`PT_…`) is
//! carried in the provider objects' friendly names, so they are recognisably trunkline's.

use crate::resource::{resource_row, Claims, Resource, WithSecrets};
use crate::{now_micros, Store, StoreError};
use sqlx::Row;

resource_row! {
    pub struct ProviderTrunkRow, new NewProviderTrunk {
        pub id: String,
        pub tenant_id: String,
        pub account_id: String,
        /// The trunkline trunk (`ST_…`) LiveKit dials through this side, once made.
        pub trunk_id: Option<String>,
        pub name: String,
        /// The desired state: `{"numbers": [...], "username": ...}`.
        pub config: String,
        /// The generated credential's password, sealed.
        pub secrets: String,
        /// The provider's trunk (Twilio `TK…`; Telnyx: the connection's id).
        pub provider_trunk_sid: Option<String>,
        /// What was last seen hung on that trunk, for display: Twilio's credential list
        /// (`CL…`); Telnyx's outbound voice profile (credential connection) or FQDN record
        /// (FQDN connection).
        pub credential_list_sid: Option<String>,
    }
    kind {
        table: "provider_trunks",
        audit_kind: crate::audit::kinds::PROVIDER_TRUNK,
        remote_id: "provider_trunk_sid",
        what: "provider trunk id",
        claims: Claims::None,
        secrets: true,
        status_forgets_sync: false,
    }
    remote: provider_trunk_sid, secrets: secrets,
}

impl WithSecrets for ProviderTrunkRow {}

impl Store {
    pub fn provider_trunks(&self) -> crate::Resources<'_, ProviderTrunkRow> {
        self.resources()
    }

    /// Records the trunkline trunk a provider side serves.
    pub async fn link_provider_trunk(&self, id: &str, trunk_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE provider_trunks SET trunk_id = $1, updated_at = $2 WHERE id = $3")
            .bind(trunk_id)
            .bind(now_micros())
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Records the credential list the provider's trunk carries (shown, never acted on).
    pub async fn set_provider_credential_list(
        &self,
        id: &str,
        sid: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE provider_trunks SET credential_list_sid = $1 WHERE id = $2")
            .bind(sid)
            .bind(id)
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
            "SELECT {} FROM provider_trunks WHERE trunk_id = $1 AND deleted_at IS NULL",
            ProviderTrunkRow::COLUMNS
        );
        let r = sqlx::query_as(&sql)
            .bind(trunk_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r)
    }

    /// A live provider side (being made or made) of the account, if any.
    pub async fn provider_account_user(
        &self,
        account_id: &str,
    ) -> Result<Option<ProviderTrunkRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM provider_trunks WHERE account_id = $1 AND deleted_at IS NULL \
             ORDER BY created_at LIMIT 1",
            ProviderTrunkRow::COLUMNS
        );
        let r = sqlx::query_as(&sql)
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r)
    }

    /// The accounts whose provider objects the converge pass must look at: those with a live
    /// provider side, and those with one deleted or abandoned in the last `window_micros`
    /// (whose objects may still be at the provider if the delete there failed half-way).
    pub async fn provider_trunk_accounts(
        &self,
        window_micros: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT tenant_id, account_id FROM provider_trunks \
             WHERE deleted_at IS NULL OR deleted_at > $1 ORDER BY account_id",
        )
        .bind(now_micros() - window_micros)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("tenant_id")?, r.try_get("account_id")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}
