//! Assistants (a tenant's dispatch profiles): create, replace and delete, for the HTTP API and
//! the dashboard alike. Each is validated as a whole by the domain's rules, so no client can
//! store what another would refuse. The first assistant with an end-of-call webhook URL also
//! makes the account's webhook signing secret, returned once.

use crate::calls::signing::generate_secret;
use crate::calls::webhooks_out::secret_aad;
use crate::quotas::Quota;
use crate::{ServiceError, ServiceResult, Services};
use trunkline_domain::assistant::{RawAssistant, TargetPolicy};
use trunkline_domain::AssistantId;
use trunkline_store::{now_micros, AssistantRow};

pub const NOT_FOUND: &str =
    "Assistant not found: check the full id (it starts with AS_) and that it belongs to this API key's account";

/// A new assistant, and the account's webhook signing secret when this create made it (shown
/// to the caller once, never again).
pub struct Created {
    pub row: AssistantRow,
    pub webhook_secret: Option<String>,
}

impl Services {
    /// Where tenants' webhook URLs may point.
    pub fn target_policy(&self) -> TargetPolicy {
        if self.allow_private_targets {
            TargetPolicy::AllowInternal
        } else {
            TargetPolicy::PublicOnly
        }
    }

    pub async fn create_assistant(
        &self,
        tenant_id: &str,
        raw: &RawAssistant,
    ) -> ServiceResult<Created> {
        self.check_quota(tenant_id, Quota::Assistants).await?;
        let (name, config) = raw.validate(self.target_policy())?;
        let now = now_micros();
        let row = AssistantRow {
            id: AssistantId::generate().to_string(),
            tenant_id: tenant_id.to_owned(),
            name,
            config: serde_json::to_string(&config).map_err(ServiceError::internal)?,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_assistant(&row).await?;
        // A webhook URL needs a secret to sign with; the first one is made here.
        let mut webhook_secret = None;
        if config.end_call_webhook_url.is_some() {
            let secret = generate_secret();
            let sealed = self.keyring.seal(&secret_aad(tenant_id), &secret);
            if self.store.insert_webhook_secret(tenant_id, &sealed).await? {
                webhook_secret = Some(secret);
            }
        }
        Ok(Created {
            row,
            webhook_secret,
        })
    }

    /// Replaces every field of a tenant's assistant with `raw` (absent optional fields are
    /// cleared), and returns it as stored.
    pub async fn replace_assistant(
        &self,
        tenant_id: &str,
        id: &str,
        raw: &RawAssistant,
    ) -> ServiceResult<AssistantRow> {
        let (name, config) = raw.validate(self.target_policy())?;
        let config = serde_json::to_string(&config).map_err(ServiceError::internal)?;
        if !self
            .store
            .update_assistant(tenant_id, id, &name, &config)
            .await?
        {
            return Err(ServiceError::NotFound(NOT_FOUND));
        }
        self.store
            .get_assistant(tenant_id, id)
            .await?
            .ok_or(ServiceError::NotFound(NOT_FOUND))
    }

    /// Deletes a tenant's assistant; calls already queued keep it.
    pub async fn delete_assistant(&self, tenant_id: &str, id: &str) -> ServiceResult<()> {
        if !self.store.delete_assistant(tenant_id, id).await? {
            return Err(ServiceError::NotFound(NOT_FOUND));
        }
        Ok(())
    }
}
