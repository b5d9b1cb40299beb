//! The provider side of automated trunks through the converge engine: the API's create,
//! change and delete (the engine's one request path, `requests.rs`), and the pass over one
//! provider account, after which each LiveKit trunk follows its provider object (a trunk
//! recreated at Twilio has a new domain, so LiveKit's outbound trunk must dial it).
//!
//! Every provider goes through the same code: it plugs in its object ([`SideObject`]) and its
//! account's API ([`SideRemote`]); [`on_side!`] picks them from the account's client.

use super::kinds::{marked, ProviderSideConfig, ProviderTrunks, SideObject};
use super::remote::Remote;
use super::telnyx_remote::TelnyxAccount;
use super::twilio_remote::TwilioAccount;
use super::{Counts, Created, Provisioner};
use crate::provider_accounts::AccountClient;
use crate::records;
use crate::ServiceError;
use std::future::Future;
use trunkline_domain::{Secret, SipAddress, TrunkConfig, E164};
use trunkline_store::{ProviderTrunkRow, Status};

pub use super::side_error::SideError;
pub use super::telnyx_object::TELNYX_SIP_ADDRESS;
pub use super::twilio_remote::domain_for as twilio_domain;

/// One account's API as the remote side of its provider trunks.
pub(crate) trait SideRemote: Remote<Self::Object, Error: Into<ServiceError>> {
    type Object: SideObject;
    /// After a row's object was made or checked: record what the row shows of it (ids of
    /// the objects hung on it).
    fn record(&self, p: &Provisioner, row: &ProviderTrunkRow) -> impl Future<Output = ()> + Send;
    /// After a pass: remove the account's marked objects hung on no live row's object.
    fn sweep(&self, p: &Provisioner, report: &mut Counts) -> impl Future<Output = ()> + Send;
}

/// Runs `$body` with `$remote` bound to the account's API as a [`SideRemote`].
macro_rules! on_side {
    ($api:expr, $remote:ident => $body:expr, else $other:expr) => {
        match $api {
            AccountClient::Twilio(client) => {
                let $remote = &TwilioAccount { client };
                $body
            }
            AccountClient::Telnyx(client) => {
                let $remote = &TelnyxAccount { client };
                $body
            }
            AccountClient::Exotel(_) => $other,
        }
    };
}

fn no_side() -> ServiceError {
    ServiceError::internal("this provider has no automated provider side")
}

impl Provisioner {
    /// Makes a provider trunk at the account's provider and records it; on any failure
    /// nothing is left there or here.
    pub async fn create_side(
        &self,
        tenant_id: &str,
        name: &str,
        account_id: &str,
        api: &AccountClient,
        config: &ProviderSideConfig,
    ) -> Result<Created, ServiceError> {
        on_side!(api, remote => {
            let kind = ProviderTrunks::<_>::of(account_id);
            let created = self.create_resource(&kind, Some(remote), tenant_id, name, config).await?;
            if let Some(row) = self.store.provider_trunks().live(&created.id).await? {
                remote.record(self, &row).await;
            }
            Ok(created)
        }, else Err(no_side()))
    }

    /// Applies new numbers to a provider trunk: the provider first (its refusal changes
    /// nothing), then the row.
    pub async fn update_side(
        &self,
        row: &ProviderTrunkRow,
        api: &AccountClient,
        name: &str,
        config: &ProviderSideConfig,
    ) -> Result<(), ServiceError> {
        on_side!(api, remote => {
            let kind = ProviderTrunks::<_>::of(&row.account_id);
            self.update_resource(&kind, Some(remote), row, name, config).await
        }, else Err(no_side()))
    }

    /// Removes the provider's objects, then the row. The provider unreachable changes
    /// nothing.
    pub async fn delete_side(
        &self,
        row: &ProviderTrunkRow,
        api: &AccountClient,
    ) -> Result<bool, ServiceError> {
        on_side!(api, remote => {
            let kind = ProviderTrunks::<_>::of(&row.account_id);
            self.delete_resource(&kind, Some(remote), row).await
        }, else match api {
            AccountClient::Exotel(client) => self.delete_exotel_side(row, client).await,
            _ => Err(no_side()),
        })
    }

    /// One pass over one account: the engine converges its provider trunks, marked objects
    /// hung on no live row are removed, then every LiveKit trunk follows its provider trunk.
    /// `Err` when the account could not be read: its provider trunks then show
    /// `unprovisioned` with the reason until a pass reaches the provider again.
    pub async fn converge_account(
        &self,
        account_id: &str,
        api: &AccountClient,
        report: &mut Counts,
    ) -> Result<(), String> {
        on_side!(api, remote => self.converge_account_on(account_id, remote, report).await,
        else match api {
            AccountClient::Exotel(client) => {
                self.converge_exotel_account(account_id, client, report).await
            }
            _ => Ok(()),
        })
    }

    async fn converge_account_on<R: SideRemote>(
        &self,
        account_id: &str,
        remote: &R,
        report: &mut Counts,
    ) -> Result<(), String> {
        let kind = ProviderTrunks::<R::Object>::of(account_id);
        if let Err(e) = self.converge_kind(&kind, remote, report).await {
            self.mark_unreachable(account_id, R::NAME, &e).await;
            return Err(e);
        }
        remote.sweep(self, report).await;
        for row in self
            .account_rows(account_id)
            .await
            .map_err(|e| e.to_string())?
        {
            if row.status != Status::Provisioned {
                continue;
            }
            remote.record(self, &row).await;
            if let Err(e) = self.follow::<R::Object>(&row).await {
                tracing::warn!(provider_trunk = %row.id, error = %e, "LiveKit trunk not yet following its provider trunk; retried next pass");
                report.failed += 1;
            }
        }
        Ok(())
    }

    /// Removes those of the account's marked objects (id, name) hung on a provider trunk
    /// (a Twilio credential list, a Telnyx profile) whose name marks a row of this database
    /// no longer live: a trunk deleted out of band leaves them, and so does a delete whose
    /// removal of them failed. Objects naming no row of this database are never touched.
    pub(super) async fn sweep_marked<F, Fut>(
        &self,
        objects: &[(String, String)],
        report: &mut Counts,
        delete: F,
    ) where
        F: Fn(String) -> Fut,
        Fut: Future<Output = bool> + Send,
    {
        let owners: Vec<String> = objects
            .iter()
            .filter_map(|(_, n)| marked(Some(n)))
            .collect();
        let Ok(live) = self.store.provider_trunks().liveness(&owners).await else {
            return;
        };
        for (id, name) in objects {
            let Some(owner) = marked(Some(name)) else {
                continue;
            };
            if live.get(&owner) == Some(&false) {
                if delete(id.clone()).await {
                    report.removed += 1;
                } else {
                    report.failed += 1;
                }
            }
        }
    }

    pub(super) async fn account_rows(
        &self,
        account_id: &str,
    ) -> Result<Vec<ProviderTrunkRow>, ServiceError> {
        let mut rows = self.store.provider_trunks().all_live().await?;
        rows.retain(|r| r.account_id == account_id);
        Ok(rows)
    }

    /// The account's API could not be read: its provisioned trunks say so. The next pass
    /// that reaches it pushes each one again and clears the status.
    pub(super) async fn mark_unreachable(&self, account_id: &str, provider: &str, why: &str) {
        let Ok(rows) = self.account_rows(account_id).await else {
            return;
        };
        let msg = format!("{provider} could not be reached to check this trunk: {why}");
        for row in rows.iter().filter(|r| r.status == Status::Provisioned) {
            let _ = self
                .store
                .provider_trunks()
                .set_status(&row.id, None, Status::Unprovisioned, Some(&msg))
                .await;
        }
    }

    /// Makes the LiveKit trunk served by `row` dial its provider object's current address
    /// with its credential, and list its numbers (through the outbound trunk's own change
    /// path, so LiveKit is told before the row is saved).
    pub(super) async fn follow<O: SideObject>(
        &self,
        row: &ProviderTrunkRow,
    ) -> Result<(), ServiceError> {
        let (Some(trunk_id), Some(remote_id)) = (&row.trunk_id, &row.provider_trunk_sid) else {
            return Ok(());
        };
        let Some(trunk) = self.store.outbound_trunks().live(trunk_id).await? else {
            return Ok(());
        };
        let TrunkConfig::Sip(mut sip) = records::open(&self.keyring, &trunk)? else {
            return Ok(());
        };
        let side = ProviderSideConfig::of(row)?;
        let address = SipAddress::parse("address", &O::livekit_address(remote_id))
            .map_err(|e| ServiceError::internal(format!("derived provider address: {e:?}")))?;
        let numbers: Vec<E164> = side
            .numbers
            .iter()
            .map(|n| E164::from_trusted(n.clone()))
            .collect();
        let password = records::open_field(&self.keyring, &row.id, &row.secrets, "password")?;
        let mut changed = sip.address != address || sip.numbers != numbers;
        sip.address = address;
        sip.numbers = numbers;
        if let (false, Some(pw)) = (side.username.is_empty(), password) {
            if sip.username.as_deref() != Some(side.username.as_str())
                || sip.password.as_ref().map(|p| p.expose()) != Some(pw.as_str())
            {
                changed = true;
                sip.username = Some(side.username.clone());
                sip.password = Some(Secret::new(pw));
            }
        }
        if !changed {
            return Ok(());
        }
        tracing::info!(trunk_id = %trunk.id, provider_trunk = %row.id, "LiveKit trunk follows its provider trunk");
        self.update(&trunk, &trunk.name, &TrunkConfig::Sip(sip))
            .await
    }
}
