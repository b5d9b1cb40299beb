//! Provider accounts: the carrier accounts (Twilio, Exotel, Telnyx) a tenant lets trunkline
//! act on. Credentials are checked with the provider before anything is stored, sealed like
//! trunk passwords, and never shown again; an account lists the provider's numbers and which
//! trunkline trunk uses each.

pub mod connect;
pub mod exotel_trunks;
pub mod input;
pub mod numbers;
mod side_view;
pub mod sides;
pub mod telnyx_trunks;
pub mod twilio_converge;
pub mod twilio_inbound;
pub mod twilio_trunks;
pub mod twilio_webhooks;

pub use connect::{service_error, AccountClient, ProviderSettings};
pub use input::Credentials;

use crate::timefmt::iso8601;
use crate::{ServiceError, ServiceResult, Services};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use trunkline_domain::ProviderAccountId;
use trunkline_store::{now_micros, ProviderAccountRow};

pub const NOT_FOUND: &str = "Provider account not found: check the full id (it starts with PA_) and that it belongs to this API key's account";

/// The associated data of an account's sealed credentials: a value copied onto another
/// account does not open.
pub fn credentials_aad(account_id: &str) -> String {
    format!("provider_account:{account_id}:credentials")
}

/// An account as shown: never a credential.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountView {
    /// `PA_…`.
    pub provider_account_id: String,
    /// `twilio`, `exotel` or `telnyx`.
    pub provider: String,
    pub name: String,
    /// The provider's account id shortened (`AC…1a2b`), to tell accounts apart.
    pub account: String,
    /// Twilio only: `auth_token` or `api_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<String>,
    pub created_at: String,
}

/// One of the account's numbers at the provider.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NumberView {
    /// E.164.
    pub phone_number: String,
    /// The provider's id of the number (Twilio `PN…`, Exotel's ExoPhone sid, Telnyx's id).
    pub provider_number_id: String,
    pub friendly_name: Option<String>,
    /// The trunkline outbound trunk (`ST_…`) that lists this number, if any.
    pub trunk_id: Option<String>,
    /// The trunkline inbound trunk that answers this number, if any.
    pub inbound_trunk_id: Option<String>,
    /// What the number is attached to at the provider: a Twilio trunk (`TK…`) or a Telnyx
    /// connection id.
    pub provider_trunk_id: Option<String>,
}

pub fn view(row: &ProviderAccountRow, auth_method: Option<&str>) -> AccountView {
    AccountView {
        provider_account_id: row.id.clone(),
        provider: row.provider.clone(),
        name: row.name.clone(),
        account: row.account_hint.clone(),
        auth_method: auth_method.map(str::to_owned),
        created_at: iso8601(row.created_at),
    }
}

impl Services {
    /// Checks the credentials with the provider, then stores the account with them sealed.
    /// A refusal is a 400 naming the provider, its code and message; nothing is stored.
    pub async fn create_provider_account(
        &self,
        tenant_id: &str,
        body: Value,
    ) -> ServiceResult<AccountView> {
        let new = input::parse(body)?;
        let client = self
            .providers
            .client(&new.credentials)
            .map_err(|e| service_error(e, "nothing was stored"))?;
        client
            .verify()
            .await
            .map_err(|e| service_error(e, "the credentials were not stored"))?;
        let id = ProviderAccountId::generate().to_string();
        let json = serde_json::to_string(&new.credentials)
            .map_err(|e| ServiceError::internal(format!("credentials serialize: {e}")))?;
        let row = ProviderAccountRow {
            credentials: self.keyring.seal(&credentials_aad(&id), &json),
            id,
            tenant_id: tenant_id.to_owned(),
            provider: new.credentials.provider().to_owned(),
            name: new.name,
            account_hint: new.credentials.hint(),
            created_at: now_micros(),
        };
        self.store.insert_provider_account(&row).await?;
        Ok(view(&row, new.credentials.twilio_auth_method()))
    }

    /// The tenant's account `id`, or 404 (another tenant's reads the same).
    pub async fn provider_account(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> ServiceResult<ProviderAccountRow> {
        self.store
            .get_provider_account(tenant_id, id)
            .await?
            .ok_or(ServiceError::NotFound(NOT_FOUND))
    }

    /// The account's credentials, opened.
    pub fn open_credentials(&self, row: &ProviderAccountRow) -> ServiceResult<Credentials> {
        let json = self
            .keyring
            .open(&credentials_aad(&row.id), &row.credentials)
            .map_err(|e| ServiceError::internal(format!("provider account {}: {e}", row.id)))?;
        serde_json::from_str(&json).map_err(|_| {
            ServiceError::internal(format!(
                "provider account {}: unreadable credentials",
                row.id
            ))
        })
    }

    pub fn provider_account_view(&self, row: &ProviderAccountRow) -> ServiceResult<AccountView> {
        let creds = self.open_credentials(row)?;
        Ok(view(row, creds.twilio_auth_method()))
    }

    pub async fn list_provider_accounts(&self, tenant_id: &str) -> ServiceResult<Vec<AccountView>> {
        let rows = self.store.list_provider_accounts(tenant_id).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.provider_account_view(row)?);
        }
        Ok(out)
    }

    /// Forgets the account. Nothing at the provider changes. Refused (409) while a trunk
    /// made from it exists.
    pub async fn delete_provider_account(&self, tenant_id: &str, id: &str) -> ServiceResult<()> {
        let account = self.provider_account(tenant_id, id).await?;
        if let Some(user) = self.store.provider_account_user(&account.id).await? {
            return Err(ServiceError::Conflict(format!(
                "Provider account {id} is used by trunk {}: delete the trunk first (DELETE /sip/trunks/{{id}})",
                user.trunk_id.unwrap_or_else(|| "being created".into())
            )));
        }
        if self.store.delete_provider_account(tenant_id, id).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(NOT_FOUND))
        }
    }

    /// The account's numbers at the provider, each with the trunkline trunks that use it.
    pub async fn provider_numbers(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> ServiceResult<Vec<NumberView>> {
        let row = self.provider_account(tenant_id, id).await?;
        let creds = self.open_credentials(&row)?;
        let client = self
            .providers
            .client(&creds)
            .map_err(|e| service_error(e, "the numbers could not be listed"))?;
        let what = "the numbers could not be listed";
        let mut numbers: Vec<NumberView> = match client {
            AccountClient::Twilio(c) => c
                .list_incoming_numbers()
                .await
                .map_err(|e| service_error(e, what))?
                .into_iter()
                .map(|n| NumberView {
                    phone_number: n.phone_number,
                    provider_number_id: n.sid,
                    friendly_name: n.friendly_name,
                    trunk_id: None,
                    inbound_trunk_id: None,
                    provider_trunk_id: n.trunk_sid,
                })
                .collect(),
            AccountClient::Exotel(c) => c
                .list_exophones()
                .await
                .map_err(|e| service_error(e, what))?
                .into_iter()
                .map(|n| NumberView {
                    phone_number: n.phone_number,
                    provider_number_id: n.sid,
                    friendly_name: n.friendly_name,
                    trunk_id: None,
                    inbound_trunk_id: None,
                    provider_trunk_id: None,
                })
                .collect(),
            AccountClient::Telnyx(c) => c
                .list_phone_numbers()
                .await
                .map_err(|e| service_error(e, what))?
                .into_iter()
                .map(|n| NumberView {
                    phone_number: n.phone_number,
                    provider_number_id: n.id,
                    friendly_name: None,
                    trunk_id: None,
                    inbound_trunk_id: None,
                    provider_trunk_id: n.connection_id,
                })
                .collect(),
        };
        let outbound = numbers_in(
            self.store
                .outbound_trunks()
                .list(tenant_id)
                .await?
                .iter()
                .map(|t| (&t.id, &t.config)),
        );
        let inbound = numbers_in(
            self.store
                .inbound_trunks()
                .list(tenant_id)
                .await?
                .iter()
                .map(|t| (&t.id, &t.config)),
        );
        for n in &mut numbers {
            n.trunk_id = outbound.get(&n.phone_number).cloned();
            n.inbound_trunk_id = inbound.get(&n.phone_number).cloned();
        }
        Ok(numbers)
    }
}

/// Which trunk lists each number, from the trunks' stored configurations (`numbers`, and an
/// Exotel trunk's `exotel_number`). The first trunk by creation wins.
fn numbers_in<'a>(
    trunks: impl Iterator<Item = (&'a String, &'a String)>,
) -> HashMap<String, String> {
    fn walk(v: &Value, id: &str, out: &mut HashMap<String, String>) {
        let Value::Object(m) = v else { return };
        for (k, v) in m {
            match (k.as_str(), v) {
                ("numbers", Value::Array(items)) => {
                    for n in items.iter().filter_map(Value::as_str) {
                        out.entry(n.to_owned()).or_insert_with(|| id.to_owned());
                    }
                }
                ("exotel_number", Value::String(n)) => {
                    out.entry(n.clone()).or_insert_with(|| id.to_owned());
                }
                (_, v @ Value::Object(_)) => walk(v, id, out),
                _ => {}
            }
        }
    }
    let mut out = HashMap::new();
    for (id, config) in trunks {
        if let Ok(v) = serde_json::from_str::<Value>(config) {
            walk(&v, id, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_found_in_stored_configs() {
        let (a, b) = ("ST_a".to_owned(), "ST_b".to_owned());
        let ca = r#"{"Sip":{"address":"x","numbers":["+15550100000","+15550100001"]}}"#.to_owned();
        let cb = r#"{"exotel_number":"+918044319240","numbers":["+15550100001"]}"#.to_owned();
        let found = numbers_in([(&a, &ca), (&b, &cb)].into_iter());
        assert_eq!(found["+15550100000"], "ST_a");
        assert_eq!(found["+15550100001"], "ST_a");
        assert_eq!(found["+918044319240"], "ST_b");
        assert_eq!(found.len(), 3);
    }
}
