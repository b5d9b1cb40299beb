//! What every automated trunk shares, whatever its provider: the provider side is made first
//! (through the engine's create path: recorded `pending`, so a crash mid-way leaves a row the
//! reconciler retires with its objects), then the trunkline trunk; if that fails, the provider
//! side is removed again. A provider plugs in how its side is removed ([`SideClient`]) and
//! how it is shown ([`side`]).

use super::connect::{service_error, AccountClient};
use super::twilio_trunks::ProviderSide;
use crate::provisioning::{Created, ExotelSideConfig, Provisioner};
use crate::{ServiceError, ServiceResult, Services};
use std::future::Future;
use trunkline_providers::exotel::ExotelClient;
use trunkline_providers::twilio::TwilioClient;
use trunkline_store::{ProviderAccountRow, ProviderTrunkRow};

/// A provider account's client, as far as the shared create and delete paths need it.
pub(super) trait SideClient: Sync {
    /// Removes the provider's objects of `row`, then the row.
    fn remove_side(
        &self,
        p: &Provisioner,
        row: &ProviderTrunkRow,
    ) -> impl Future<Output = Result<bool, ServiceError>> + Send;
}

impl SideClient for TwilioClient {
    async fn remove_side(
        &self,
        p: &Provisioner,
        row: &ProviderTrunkRow,
    ) -> Result<bool, ServiceError> {
        p.delete_twilio_side(row, self).await
    }
}

impl SideClient for ExotelClient {
    async fn remove_side(
        &self,
        p: &Provisioner,
        row: &ProviderTrunkRow,
    ) -> Result<bool, ServiceError> {
        p.delete_exotel_side(row, self).await
    }
}

impl SideClient for AccountClient {
    async fn remove_side(
        &self,
        p: &Provisioner,
        row: &ProviderTrunkRow,
    ) -> Result<bool, ServiceError> {
        match self {
            AccountClient::Twilio(c) => c.remove_side(p, row).await,
            AccountClient::Exotel(c) => c.remove_side(p, row).await,
            AccountClient::Telnyx(_) => Err(ServiceError::internal(
                "a provider trunk of a Telnyx account",
            )),
        }
    }
}

/// How `GET /sip/trunks/{id}` shows a provider side, by its provider.
pub(super) fn side(row: &ProviderTrunkRow) -> ProviderSide {
    if ExotelSideConfig::is(row) {
        super::exotel_trunks::side(row)
    } else {
        super::twilio_trunks::side(row)
    }
}

impl Services {
    /// Given the provider side `made` (already recorded), makes the trunkline side through
    /// `livekit`, given the provider side's row. If that fails, the provider side is removed
    /// again (the provider unreachable by then: the reconciler removes its objects, which
    /// name a deleted row).
    pub(super) async fn with_side<C, F, Fut>(
        &self,
        tenant_id: &str,
        client: &C,
        made: Created,
        livekit: F,
    ) -> ServiceResult<(Created, ProviderSide)>
    where
        C: SideClient,
        F: FnOnce(ProviderTrunkRow) -> Fut,
        Fut: Future<Output = ServiceResult<Created>>,
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
                if let Err(undo) = client.remove_side(&self.provisioner, &side_row).await {
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
        Ok((created, side(&side_row)))
    }

    /// The tenant's account `account_id` of `provider` and its client; a 400 naming `field`
    /// otherwise (`wrong_provider` says what to do with an account of another provider).
    pub(super) async fn account_client_for(
        &self,
        tenant_id: &str,
        account_id: &str,
        field: &str,
        provider: &str,
        wrong_provider: &str,
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
        if account.provider != provider {
            return Err(ServiceError::field(
                field,
                format!("is a {} account: {wrong_provider}", account.provider),
            ));
        }
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
        let account = self
            .store
            .get_provider_account(&side_row.tenant_id, &side_row.account_id)
            .await?
            .ok_or_else(|| {
                ServiceError::internal(format!(
                    "provider trunk {} without its account",
                    side_row.id
                ))
            })?;
        let creds = self.open_credentials(&account)?;
        self.providers
            .client(&creds)
            .map_err(|e| service_error(e, "nothing was changed"))
    }

    /// Removes the provider side `side_row` before the trunkline trunk it serves goes: an
    /// outage leaves both sides as they were (503), and a second delete finishes the job.
    pub(super) async fn remove_provider_side(
        &self,
        side_row: &ProviderTrunkRow,
    ) -> ServiceResult<()> {
        let client = self.client_of(side_row).await?;
        client.remove_side(&self.provisioner, side_row).await?;
        Ok(())
    }
}
