//! The Exotel side of automated trunks through the converge engine: the API's create, change
//! and delete (the engine's one request path), and the pass over one Exotel account.
//!
//! Unlike a Twilio trunk, a vSIP trunk made anew (after an out-of-band delete) needs nothing
//! of the trunkline trunk it serves: the bridge dials the account's domain
//! (`<account_sid>.pstn.exotel.com`), from the whitelisted IP, never the `trunk_sid`.

use super::exotel_remote::ExotelAccount;
use super::kinds::{ExotelSideConfig, ExotelTrunks};
use super::{Counts, Created, Provisioner};
use crate::ServiceError;
use trunkline_providers::exotel::ExotelClient;
use trunkline_store::ProviderTrunkRow;

impl Provisioner {
    fn exotel<'a>(&'a self, account_id: &'a str, client: &'a ExotelClient) -> ExotelAccount<'a> {
        ExotelAccount {
            client,
            store: &self.store,
            account_id,
        }
    }

    /// Makes a vSIP trunk (the IPs whitelisted, the numbers mapped, the destinations added)
    /// and records it; on any failure nothing is left at Exotel or here.
    pub async fn create_exotel_side(
        &self,
        tenant_id: &str,
        name: &str,
        account_id: &str,
        client: &ExotelClient,
        config: &ExotelSideConfig,
    ) -> Result<Created, ServiceError> {
        let kind = ExotelTrunks {
            account_id: account_id.to_owned(),
        };
        let remote = self.exotel(account_id, client);
        self.create_resource(&kind, Some(&remote), tenant_id, name, config)
            .await
    }

    /// Applies a new configuration: Exotel first (its refusal changes nothing), then the row.
    pub async fn update_exotel_side(
        &self,
        row: &ProviderTrunkRow,
        client: &ExotelClient,
        name: &str,
        config: &ExotelSideConfig,
    ) -> Result<(), ServiceError> {
        let kind = ExotelTrunks {
            account_id: row.account_id.clone(),
        };
        let remote = self.exotel(&row.account_id, client);
        self.update_resource(&kind, Some(&remote), row, name, config)
            .await
    }

    /// Deletes the vSIP trunk (Exotel cascades its numbers, IPs and destinations), then the
    /// row. Exotel unreachable changes nothing.
    pub async fn delete_exotel_side(
        &self,
        row: &ProviderTrunkRow,
        client: &ExotelClient,
    ) -> Result<bool, ServiceError> {
        let kind = ExotelTrunks {
            account_id: row.account_id.clone(),
        };
        let remote = self.exotel(&row.account_id, client);
        self.delete_resource(&kind, Some(&remote), row).await
    }

    /// One pass over one Exotel account: its vSIP trunks deleted out of band are made again,
    /// what trunkline put on them and is missing is put back, trunks of retired rows are
    /// removed. `Err` when Exotel could not be read: the account's provider trunks then show
    /// `unprovisioned` with the reason until a pass reaches it again.
    pub async fn converge_exotel_account(
        &self,
        account_id: &str,
        client: &ExotelClient,
        report: &mut Counts,
    ) -> Result<(), String> {
        let kind = ExotelTrunks {
            account_id: account_id.to_owned(),
        };
        let remote = self.exotel(account_id, client);
        if let Err(e) = self.converge_kind(&kind, &remote, report).await {
            self.mark_unreachable(account_id, "Exotel", &e).await;
            return Err(e);
        }
        Ok(())
    }
}
