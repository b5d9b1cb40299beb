//! What every provider's automated trunks share: the provider side is made first, then
//! LiveKit's side (undoing the provider side if that fails); numbers change at the provider
//! first (put back if LiveKit refuses); a delete removes the provider side first. Each
//! provider adds only how its side is asked for (`twilio_trunks`, `telnyx_trunks`, …).
//!
//! The provider side is a provisioned resource of its own (`PT_…`, converged by the engine:
//! `provisioning::provider_side`), so a failure on the way, a crash, an out-of-band change
//! or delete at the provider are all repaired the same way as LiveKit's objects.

use super::connect::{service_error, AccountClient};
use super::side_view::side;
pub use super::side_view::{ProviderIds, ProviderSide};
use crate::provisioning::{Created, ExotelSideConfig, ProviderSideConfig};
use crate::records;
use crate::{ServiceError, ServiceResult, Services};
use serde_json::{Map, Value};
use trunkline_domain::inbound::InboundTrunkConfig;
use trunkline_domain::trunk::validate_numbers;
use trunkline_domain::{TrunkConfig, ValidationErrors, E164};
use trunkline_store::{InboundTrunkRow, OutboundTrunkRow, ProviderAccountRow, ProviderTrunkRow};

/// The providers whose trunks trunkline makes from an account.
const AUTOMATED: [&str; 2] = ["twilio", "telnyx"];

impl Services {
    /// Makes an automated outbound trunk from `trunk_config`
    /// (`{"provider_account_id", "numbers"}`); `trunk_type` must be the account's provider.
    pub async fn create_automated_trunk(
        &self,
        tenant_id: &str,
        name: &str,
        trunk_type: &str,
        trunk_config: Map<String, Value>,
    ) -> ServiceResult<(Created, ProviderSide)> {
        if trunk_type == "exotel" {
            return self
                .create_exotel_trunk(tenant_id, name, trunk_config)
                .await;
        }
        let mut errors = ValidationErrors::default();
        for k in trunk_config.keys() {
            if !["provider_account_id", "numbers"].contains(&k.as_str()) {
                errors.push(
                    format!("trunk_config.{k}"),
                    "is not taken with provider_account_id: trunkline makes the address and credentials at the provider",
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
                    "is required: a list of E.164 numbers of the provider account",
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
        let (account, client) = self
            .automated_account(tenant_id, account_id, "trunk_config.")
            .await?;
        if trunk_type != account.provider {
            return Err(ServiceError::field(
                "trunk_type",
                format!(
                    "must be \"{}\": the trunk is made at the account's provider",
                    account.provider
                ),
            ));
        }
        self.create_outbound_side(
            tenant_id,
            name,
            &account,
            &client,
            &numbers,
            None,
            "trunk_config.",
        )
        .await
    }

    /// Makes both sides of an outbound trunk automated at the account's provider for
    /// `numbers`; with `origination`, the provider side also sends the numbers' inbound
    /// calls there (a number used both ways, on one Twilio trunk).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn create_outbound_side(
        &self,
        tenant_id: &str,
        name: &str,
        account: &ProviderAccountRow,
        client: &AccountClient,
        numbers: &[E164],
        origination: Option<String>,
        prefix: &str,
    ) -> ServiceResult<(Created, ProviderSide)> {
        match client {
            AccountClient::Twilio(_) => {
                self.create_twilio_outbound(
                    tenant_id,
                    name,
                    account,
                    client,
                    numbers,
                    origination,
                    prefix,
                )
                .await
            }
            AccountClient::Telnyx(_) => {
                self.create_telnyx_outbound(
                    tenant_id,
                    name,
                    account,
                    client,
                    numbers,
                    origination.is_some(),
                    prefix,
                )
                .await
            }
            AccountClient::Exotel(_) => Err(not_automated(&account.provider, prefix)),
        }
    }

    /// Makes the provider side (through the engine's create path: recorded `pending` first,
    /// so a crash mid-way leaves a row the reconciler cleans up with its objects), then the
    /// LiveKit side through `livekit`, given the provider side's row. If that fails, the
    /// provider side is removed again (the provider unreachable by then: the reconciler
    /// removes its objects, which name a deleted row).
    pub(super) async fn with_side<F, Fut>(
        &self,
        tenant_id: &str,
        name: &str,
        account: &ProviderAccountRow,
        client: &AccountClient,
        side_config: &ProviderSideConfig,
        livekit: F,
    ) -> ServiceResult<(Created, ProviderSide)>
    where
        F: FnOnce(ProviderTrunkRow) -> Fut,
        Fut: std::future::Future<Output = ServiceResult<Created>>,
    {
        let made = self
            .provisioner
            .create_side(tenant_id, name, &account.id, client, side_config)
            .await?;
        self.with_made_side(tenant_id, account, client, made, livekit)
            .await
    }

    /// Given the provider side `made` (already recorded), makes the LiveKit side as
    /// [`Self::with_side`] does (for a provider whose side has its own create: Exotel).
    pub(super) async fn with_made_side<F, Fut>(
        &self,
        tenant_id: &str,
        account: &ProviderAccountRow,
        client: &AccountClient,
        made: Created,
        livekit: F,
    ) -> ServiceResult<(Created, ProviderSide)>
    where
        F: FnOnce(ProviderTrunkRow) -> Fut,
        Fut: std::future::Future<Output = ServiceResult<Created>>,
    {
        let side_row = self
            .store
            .provider_trunks()
            .live(&made.id)
            .await?
            .ok_or_else(|| ServiceError::internal("provider trunk gone after its create"))?;
        let created = match livekit(side_row.clone()).await {
            Ok(c) => c,
            Err(e) => {
                if let Err(undo) = self.provisioner.delete_side(&side_row, client).await {
                    tracing::warn!(provider_trunk = %side_row.id, error = %undo, "could not undo the provider side of a failed create; the reconciler will");
                    let _ = self
                        .store
                        .provider_trunks()
                        .mark_deleted(tenant_id, &side_row.id)
                        .await;
                }
                return Err(e);
            }
        };
        self.store
            .link_provider_trunk(&side_row.id, &created.id)
            .await?;
        let side_row = self
            .store
            .provider_trunks()
            .live(&side_row.id)
            .await?
            .unwrap_or(side_row);
        Ok((created, side(&account.provider, &side_row)))
    }

    /// Changes the provider side's numbers (if they change), then the LiveKit side through
    /// `livekit`; if that fails, the provider gets the old numbers back (or, if it cannot be
    /// reached, the next pass puts the stored ones back).
    pub(super) async fn with_side_numbers<Fut>(
        &self,
        side_row: &ProviderTrunkRow,
        name: &str,
        numbers: Vec<String>,
        livekit: Fut,
    ) -> ServiceResult<()>
    where
        Fut: std::future::Future<Output = ServiceResult<()>>,
    {
        let before = ProviderSideConfig::of(side_row)?;
        let client = self.client_of(side_row).await?;
        let changes = numbers != before.numbers;
        if changes {
            let wanted = ProviderSideConfig {
                numbers,
                ..before.clone()
            };
            self.provisioner
                .update_side(side_row, &client, name, &wanted)
                .await?;
        }
        let Err(e) = livekit.await else {
            return Ok(());
        };
        if changes {
            if let Some(now) = self.store.provider_trunks().live(&side_row.id).await? {
                if let Err(undo) = self
                    .provisioner
                    .update_side(&now, &client, &now.name, &before)
                    .await
                {
                    tracing::warn!(provider_trunk = %side_row.id, error = %undo, "the provider keeps the new numbers until a pass puts the stored ones back");
                }
            }
        }
        Err(e)
    }

    /// A PATCH of an automated trunk: its address and credential are trunkline's (refused
    /// if changed); new numbers go to the provider first, then to LiveKit and the trunk. If
    /// LiveKit refuses, the provider gets the old numbers back.
    pub async fn update_automated_trunk(
        &self,
        row: &OutboundTrunkRow,
        side_row: &ProviderTrunkRow,
        name: &str,
        config: &TrunkConfig,
    ) -> ServiceResult<()> {
        if ExotelSideConfig::is(side_row) {
            return self.update_exotel_trunk(row, name, config).await;
        }
        let TrunkConfig::Sip(new) = config else {
            return Err(ServiceError::internal("an automated trunk that is not SIP"));
        };
        let TrunkConfig::Sip(old) = records::open(&self.keyring, row)? else {
            return Err(ServiceError::internal("an automated trunk that is not SIP"));
        };
        let mut errors = ValidationErrors::default();
        let managed = "is made by trunkline at the provider for this trunk and cannot be changed";
        if new.address != old.address {
            errors.push("trunk_config.address", managed);
        }
        if new.username != old.username {
            errors.push("trunk_config.username", managed);
        }
        if new.password != old.password {
            errors.push("trunk_config.password", managed);
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let numbers: Vec<String> = new.numbers.iter().map(|n| n.as_str().to_owned()).collect();
        self.with_side_numbers(
            side_row,
            name,
            numbers,
            self.provisioner.update(row, name, config),
        )
        .await
    }

    /// The tenant's account `account_id`, of a provider whose trunks trunkline makes, and its
    /// client; a 400 naming `{prefix}provider_account_id` otherwise.
    pub(super) async fn automated_account(
        &self,
        tenant_id: &str,
        account_id: &str,
        prefix: &str,
    ) -> ServiceResult<(ProviderAccountRow, AccountClient)> {
        let field = format!("{prefix}provider_account_id");
        let (account, client) = self.account_client(tenant_id, account_id, &field).await?;
        if !AUTOMATED.contains(&account.provider.as_str()) {
            return Err(not_automated(&account.provider, prefix));
        }
        Ok((account, client))
    }

    /// The tenant's account `account_id` (any provider) and its client; a 400 naming
    /// `field` otherwise.
    pub(super) async fn account_client(
        &self,
        tenant_id: &str,
        account_id: &str,
        field: &str,
    ) -> ServiceResult<(ProviderAccountRow, AccountClient)> {
        let account = self
            .store
            .get_provider_account(tenant_id, account_id)
            .await?
            .ok_or_else(|| {
                ServiceError::field(
                    field,
                    "is not a provider account of this API key's account (GET /provider-accounts lists them)",
                )
            })?;
        let creds = self.open_credentials(&account)?;
        let client = self
            .providers
            .client(&creds)
            .map_err(|e| service_error(e, "nothing was created"))?;
        Ok((account, client))
    }

    /// The client of the account a provider trunk was made from.
    pub(super) async fn client_of(
        &self,
        side_row: &ProviderTrunkRow,
    ) -> ServiceResult<AccountClient> {
        let account = self.account_of(side_row).await?;
        let creds = self.open_credentials(&account)?;
        self.providers
            .client(&creds)
            .map_err(|e| service_error(e, "nothing was changed"))
    }

    async fn account_of(&self, side_row: &ProviderTrunkRow) -> ServiceResult<ProviderAccountRow> {
        self.store
            .get_provider_account(&side_row.tenant_id, &side_row.account_id)
            .await?
            .ok_or_else(|| {
                ServiceError::internal(format!(
                    "provider trunk {} without its account",
                    side_row.id
                ))
            })
    }

    /// A provider side as shown.
    pub(super) async fn side_view(
        &self,
        side_row: &ProviderTrunkRow,
    ) -> ServiceResult<ProviderSide> {
        let account = self.account_of(side_row).await?;
        Ok(side(&account.provider, side_row))
    }

    /// The provider side of trunk `trunk_id` (outbound or inbound), if trunkline made one.
    pub async fn provider_side_of(&self, trunk_id: &str) -> ServiceResult<Option<ProviderSide>> {
        match self.store.provider_trunk_of(trunk_id).await? {
            Some(row) => Ok(Some(self.side_view(&row).await?)),
            None => Ok(None),
        }
    }

    /// The provider side of trunk `row`, if trunkline made one.
    pub async fn provider_side(
        &self,
        row: &OutboundTrunkRow,
    ) -> ServiceResult<Option<ProviderSide>> {
        self.provider_side_of(&row.id).await
    }

    /// The provider side of an inbound trunk, if trunkline made one.
    pub async fn inbound_provider_side(
        &self,
        row: &InboundTrunkRow,
    ) -> ServiceResult<Option<ProviderSide>> {
        self.provider_side_of(&row.id).await
    }

    /// Removes the provider objects of trunk `trunk_id` before the trunk itself goes: an
    /// outage leaves both sides as they were (503), and a second delete finishes the job.
    async fn delete_side_of(&self, trunk_id: &str) -> ServiceResult<()> {
        let Some(side_row) = self.store.provider_trunk_of(trunk_id).await? else {
            return Ok(());
        };
        let client = self.client_of(&side_row).await?;
        self.provisioner.delete_side(&side_row, &client).await?;
        Ok(())
    }

    /// Removes the provider side of an outbound trunk before the trunk goes.
    pub async fn delete_provider_side(&self, row: &OutboundTrunkRow) -> ServiceResult<()> {
        self.delete_side_of(&row.id).await
    }

    /// Removes the provider side of an inbound trunk before the trunk goes.
    pub async fn delete_inbound_provider_side(&self, row: &InboundTrunkRow) -> ServiceResult<()> {
        self.delete_side_of(&row.id).await
    }

    /// Makes an inbound trunk automated at the account's provider: the provider routes the
    /// numbers to `LIVEKIT_SIP_URI`, then LiveKit's inbound trunk is made. Providers whose
    /// API cannot do it get the console steps (a 400 on `provider_account_id`).
    pub async fn create_automated_inbound(
        &self,
        tenant_id: &str,
        name: &str,
        account_id: &str,
        config: &InboundTrunkConfig,
    ) -> ServiceResult<(Created, ProviderSide)> {
        if config.numbers.is_empty() {
            return Err(ServiceError::field(
                "numbers",
                "is required with provider_account_id: the account's numbers the provider sends to LiveKit",
            ));
        }
        let Some(sip_uri) = self.providers.livekit_sip_uri.clone() else {
            return Err(ServiceError::Unavailable(
                "LIVEKIT_SIP_URI is not set on this server, so the provider cannot be told where to send calls; nothing was created".into(),
            ));
        };
        if let Some(a) = self
            .store
            .get_provider_account(tenant_id, account_id)
            .await?
        {
            if let Some(steps) = super::twilio_inbound::console_steps(&a.provider, &sip_uri) {
                return Err(ServiceError::field("provider_account_id", steps));
            }
        }
        let (account, client) = self.automated_account(tenant_id, account_id, "").await?;
        self.check_numbers_free(&client, &config.numbers, "")
            .await?;
        let side_config = ProviderSideConfig {
            numbers: config
                .numbers
                .iter()
                .map(|n| n.as_str().to_owned())
                .collect(),
            origination: Some(sip_uri),
            ..Default::default()
        };
        self.with_side(tenant_id, name, &account, &client, &side_config, |_| {
            self.provisioner.create_inbound(tenant_id, name, config)
        })
        .await
    }

    /// Every number must be the account's and on no trunk (Telnyx: connection) yet:
    /// trunkline never takes a number off an object it did not make. Nothing is made before
    /// every number is checked.
    pub(super) async fn check_numbers_free(
        &self,
        client: &AccountClient,
        numbers: &[E164],
        prefix: &str,
    ) -> ServiceResult<()> {
        let (provider, holder) = match client {
            AccountClient::Twilio(_) => ("Twilio", "trunk"),
            AccountClient::Telnyx(_) => ("Telnyx", "connection"),
            AccountClient::Exotel(_) => return Err(not_automated("exotel", prefix)),
        };
        for (i, n) in numbers.iter().enumerate() {
            // None: not the account's; Some(holder): the number and what it is on.
            let found = match client {
                AccountClient::Twilio(tw) => tw
                    .find_incoming_number(n.as_str())
                    .await
                    .map(|f| f.map(|p| p.trunk_sid)),
                AccountClient::Telnyx(tx) => tx
                    .find_phone_number(n.as_str())
                    .await
                    .map(|f| f.map(|p| p.connection_id)),
                AccountClient::Exotel(_) => Ok(None),
            }
            .map_err(|e| service_error(e, "nothing was created"))?;
            match found {
                None => {
                    return Err(ServiceError::field(
                        format!("{prefix}numbers[{i}]"),
                        format!("{n} is not a number of this {provider} account"),
                    ))
                }
                Some(Some(on)) => {
                    return Err(ServiceError::Conflict(format!(
                        "{n} is already on {provider} {holder} {on}: take it off that {holder} first (trunkline does not move numbers it did not place)"
                    )))
                }
                Some(None) => {}
            }
        }
        Ok(())
    }

    /// A change of an automated inbound trunk: new numbers go to the provider first, then
    /// LiveKit and the row; if LiveKit refuses, the provider gets the old numbers back.
    pub async fn update_automated_inbound(
        &self,
        row: &InboundTrunkRow,
        side_row: &ProviderTrunkRow,
        name: &str,
        config: &InboundTrunkConfig,
    ) -> ServiceResult<()> {
        let numbers: Vec<String> = config
            .numbers
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect();
        if numbers.is_empty() {
            return Err(ServiceError::field(
                "numbers",
                "cannot be empty on a trunk automated at the provider: delete the trunk instead",
            ));
        }
        self.with_side_numbers(
            side_row,
            name,
            numbers,
            self.provisioner.update_inbound(row, name, config),
        )
        .await
    }
}

/// The 400 for an account whose provider's trunks trunkline does not make.
fn not_automated(provider: &str, prefix: &str) -> ServiceError {
    let what = if provider == "exotel" {
        "an outbound trunk from an Exotel account takes trunk_type \"exotel\"; inbound calls are not automated at Exotel (see the README's provider automation section for the console steps)"
    } else {
        "trunks are automated at Twilio, Telnyx and (outbound, trunk_type \"exotel\") Exotel only (see the README's provider automation section for the console steps)"
    };
    ServiceError::field(
        format!("{prefix}provider_account_id"),
        format!("is a {provider} account: {what}"),
    )
}
