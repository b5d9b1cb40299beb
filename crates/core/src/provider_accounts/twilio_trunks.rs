//! Outbound trunks made at Twilio from a provider account: `POST /sip/create-outbound-trunk`
//! with `trunk_config: {"provider_account_id", "numbers"}` creates an Elastic SIP Trunk with
//! a unique `*.pstn.twilio.com` domain, a credential list holding a generated credential
//! associated for termination, and the numbers on the trunk; then LiveKit's outbound trunk
//! with that domain and credential, through the usual create path (which seals the password).
//!
//! Every Twilio object carries `trunkline PT_…` in its friendly name, and the ids are kept, so
//! that a delete removes exactly what trunkline made. A failure on the way undoes what was
//! made, in reverse, before answering: no half-made trunk is left behind.

use super::connect::{service_error, AccountClient};
use crate::provisioning::Created;
use crate::{ServiceError, ServiceResult, Services};
use serde::Serialize;
use serde_json::{json, Map, Value};
use trunkline_domain::trunk::{validate_numbers, RawSipTrunkConfig};
use trunkline_domain::{ids::random_hex, TrunkConfig, TrunkType, ValidationErrors};
use trunkline_providers::twilio::{TrunkParams, TwilioClient};
use trunkline_providers::{ErrorKind, Secret};
use trunkline_store::{now_micros, ProviderTrunkRow, TrunkRow};

/// The provider side of a trunk as `GET /sip/trunks/{id}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderSide {
    pub provider: &'static str,
    pub provider_account_id: String,
    pub status: String,
    pub twilio_trunk_sid: Option<String>,
    pub credential_list_sid: Option<String>,
    pub domain_name: String,
    pub numbers: Value,
}

fn field(name: &str, message: impl Into<String>) -> ServiceError {
    ServiceError::field(format!("trunk_config.{name}"), message)
}

/// What Twilio requires of a credential's password (12 or more, a digit, both cases).
fn generated_password() -> String {
    format!("Tl9{}", &crate::sealing::generate_secret_token()[..29])
}

impl Services {
    /// Makes both sides of a Twilio trunk from `trunk_config`.
    pub async fn create_twilio_trunk(
        &self,
        tenant_id: &str,
        name: &str,
        trunk_type: &str,
        trunk_config: Map<String, Value>,
    ) -> ServiceResult<(Created, ProviderSide)> {
        if trunk_type != "twilio" {
            return Err(ServiceError::field(
                "trunk_type",
                "must be \"twilio\" with a provider_account_id: automated trunks are made at Twilio only so far",
            ));
        }
        let mut errors = ValidationErrors::default();
        for k in trunk_config.keys() {
            if !["provider_account_id", "numbers"].contains(&k.as_str()) {
                errors.push(
                    format!("trunk_config.{k}"),
                    "is not taken with provider_account_id: trunkline makes the address and credentials at Twilio",
                );
            }
        }
        let numbers: Vec<String> = match trunk_config.get("numbers") {
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => {
                errors.push(
                    "trunk_config.numbers",
                    "is required: a list of E.164 numbers of the Twilio account",
                );
                vec![]
            }
        };
        let numbers = validate_numbers(&mut errors, "trunk_config.numbers", &numbers);
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let account_id = trunk_config
            .get("provider_account_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let account = self
            .store
            .get_provider_account(tenant_id, account_id)
            .await?
            .ok_or_else(|| {
                field(
                    "provider_account_id",
                    "is not a provider account of this API key's account (GET /provider-accounts lists them)",
                )
            })?;
        if account.provider != "twilio" {
            return Err(field(
                "provider_account_id",
                format!(
                    "is a {} account: automated trunks are made at Twilio only so far",
                    account.provider
                ),
            ));
        }
        let creds = self.open_credentials(&account)?;
        let AccountClient::Twilio(tw) = self
            .providers
            .client(&creds)
            .map_err(|e| service_error(e, "nothing was created"))?
        else {
            return Err(ServiceError::internal(
                "a Twilio account without a Twilio client",
            ));
        };
        // Every number must be the account's and on no trunk yet: trunkline never takes a
        // number off a trunk it did not make.
        let mut sids = Vec::with_capacity(numbers.len());
        for (i, n) in numbers.iter().enumerate() {
            let found = tw
                .find_incoming_number(n.as_str())
                .await
                .map_err(|e| service_error(e, "nothing was created"))?;
            match found {
                None => {
                    return Err(field(
                        &format!("numbers[{i}]"),
                        format!("{n} is not a number of this Twilio account"),
                    ))
                }
                Some(p) if p.trunk_sid.is_some() => {
                    return Err(ServiceError::Conflict(format!(
                        "{n} is already on Twilio trunk {}: take it off that trunk first (trunkline does not move numbers it did not place)",
                        p.trunk_sid.unwrap_or_default()
                    )))
                }
                Some(p) => sids.push(p.sid),
            }
        }
        let hex = random_hex();
        let mut link = ProviderTrunkRow {
            id: format!("PT_{hex}"),
            tenant_id: tenant_id.to_owned(),
            account_id: account.id.clone(),
            trunk_id: None,
            status: "creating".into(),
            provider_trunk_sid: None,
            credential_list_sid: None,
            domain_name: format!("tl-{}.pstn.twilio.com", &hex[..20]),
            numbers: json!(numbers.iter().map(|n| n.as_str()).collect::<Vec<_>>()).to_string(),
            last_error: None,
            created_at: now_micros(),
        };
        // Recorded before anything is made, so that what is made is always findable.
        self.store.insert_provider_trunk(&link).await?;
        let username = format!("tl{}", &hex[..16]);
        let password = generated_password();
        let made = self
            .make_twilio_side(&tw, &mut link, &sids, &username, &password)
            .await;
        if let Err(e) = made {
            return Err(self.undo_twilio_side(&tw, &mut link, e).await);
        }
        let config = RawSipTrunkConfig {
            address: Some(link.domain_name.clone()),
            numbers: Some(numbers.iter().map(|n| n.as_str().to_owned()).collect()),
            username: Some(Some(username)),
            password: Some(Some(password)),
            transport: None,
            media_encryption: None,
        }
        .validate(TrunkType::Twilio, "trunk_config")
        .map_err(|e| ServiceError::internal(format!("generated trunk config: {e}")))?;
        let created = match self
            .provisioner
            .create(
                tenant_id,
                name,
                TrunkType::Twilio,
                &TrunkConfig::Sip(config),
            )
            .await
        {
            Ok(c) => c,
            Err(e) => return Err(self.undo_twilio_side(&tw, &mut link, e).await),
        };
        link.trunk_id = Some(created.id.clone());
        link.status = "active".into();
        self.store.update_provider_trunk(&link).await?;
        Ok((created, side(&link)))
    }

    async fn make_twilio_side(
        &self,
        tw: &TwilioClient,
        link: &mut ProviderTrunkRow,
        number_sids: &[String],
        username: &str,
        password: &str,
    ) -> ServiceResult<()> {
        let what = "nothing was kept";
        let friendly = format!("trunkline {}", link.id);
        let trunk = tw
            .create_trunk(&TrunkParams {
                friendly_name: Some(friendly.clone()),
                domain_name: Some(link.domain_name.clone()),
                ..Default::default()
            })
            .await
            .map_err(|e| service_error(e, what))?;
        link.provider_trunk_sid = Some(trunk.sid.clone());
        self.store.update_provider_trunk(link).await?;
        let list = tw
            .create_credential_list(&friendly)
            .await
            .map_err(|e| service_error(e, what))?;
        link.credential_list_sid = Some(list.sid.clone());
        self.store.update_provider_trunk(link).await?;
        tw.create_credential(&list.sid, username, &Secret::new(password))
            .await
            .map_err(|e| service_error(e, what))?;
        tw.associate_credential_list(&trunk.sid, &list.sid)
            .await
            .map_err(|e| service_error(e, what))?;
        for sid in number_sids {
            tw.associate_phone_number(&trunk.sid, sid)
                .await
                .map_err(|e| service_error(e, what))?;
        }
        Ok(())
    }

    /// Removes what was made at Twilio (the trunk takes its associations with it), marks the
    /// row failed, and returns `cause`.
    async fn undo_twilio_side(
        &self,
        tw: &TwilioClient,
        link: &mut ProviderTrunkRow,
        cause: ServiceError,
    ) -> ServiceError {
        let removed = remove_twilio_objects(tw, link).await;
        link.status = if removed.is_ok() {
            "failed"
        } else {
            "creating"
        }
        .into();
        link.last_error = Some(match &removed {
            Ok(()) => cause.to_string(),
            Err(e) => format!("{cause}; undoing it failed too: {e}"),
        });
        if let Err(e) = self.store.update_provider_trunk(link).await {
            tracing::error!(error = %e, provider_trunk = %link.id, "could not record an undone Twilio trunk");
        }
        if let Err(e) = removed {
            tracing::warn!(provider_trunk = %link.id, error = %e, "Twilio objects of a failed create are left until a delete succeeds");
        }
        cause
    }

    /// The provider side of trunk `row`, if trunkline made one.
    pub async fn provider_side(&self, row: &TrunkRow) -> ServiceResult<Option<ProviderSide>> {
        Ok(self
            .store
            .provider_trunk_of(&row.id)
            .await?
            .as_ref()
            .map(side))
    }

    /// Removes the Twilio objects of trunk `row` before the trunk itself goes: an outage
    /// leaves both sides as they were (503), and a second delete finishes the job.
    pub async fn delete_provider_side(&self, tenant_id: &str, row: &TrunkRow) -> ServiceResult<()> {
        let Some(mut link) = self.store.provider_trunk_of(&row.id).await? else {
            return Ok(());
        };
        let account = self
            .store
            .get_provider_account(tenant_id, &link.account_id)
            .await?
            .ok_or_else(|| {
                ServiceError::internal(format!("provider trunk {} without its account", link.id))
            })?;
        let creds = self.open_credentials(&account)?;
        let AccountClient::Twilio(tw) = self
            .providers
            .client(&creds)
            .map_err(|e| service_error(e, "the trunk was not deleted"))?
        else {
            return Ok(());
        };
        remove_twilio_objects(&tw, &link)
            .await
            .map_err(|e| service_error(e, "the trunk was not deleted"))?;
        link.status = "deleted".into();
        self.store.update_provider_trunk(&link).await?;
        Ok(())
    }
}

/// Deletes the trunk and the credential list trunkline made (an object already gone counts
/// as deleted).
async fn remove_twilio_objects(
    tw: &TwilioClient,
    link: &ProviderTrunkRow,
) -> Result<(), trunkline_providers::ProviderError> {
    let gone = |r: Result<(), trunkline_providers::ProviderError>| match r {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        other => other,
    };
    if let Some(sid) = &link.provider_trunk_sid {
        gone(tw.delete_trunk(sid).await)?;
    }
    if let Some(sid) = &link.credential_list_sid {
        gone(tw.delete_credential_list(sid).await)?;
    }
    Ok(())
}

fn side(link: &ProviderTrunkRow) -> ProviderSide {
    ProviderSide {
        provider: "twilio",
        provider_account_id: link.account_id.clone(),
        status: link.status.clone(),
        twilio_trunk_sid: link.provider_trunk_sid.clone(),
        credential_list_sid: link.credential_list_sid.clone(),
        domain_name: link.domain_name.clone(),
        numbers: serde_json::from_str(&link.numbers).unwrap_or(Value::Null),
    }
}
