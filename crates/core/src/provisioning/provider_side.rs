//! The provider side of automated trunks through the converge engine: the API's create,
//! change and delete (the engine's one request path, `requests.rs`), and the pass over one
//! provider account, after which each LiveKit trunk follows its provider trunk (a trunk
//! recreated at Twilio has a new domain, so LiveKit's outbound trunk must dial it).

use super::kinds::{TwilioSideConfig, TwilioTrunks};
use super::twilio_remote::{domain_for, marked, TwilioAccount};
use super::{Counts, Created, Provisioner};
use crate::records;
use crate::ServiceError;
use trunkline_domain::{Secret, SipAddress, TrunkConfig, E164};
use trunkline_providers::twilio::TwilioClient;
use trunkline_store::{ProviderTrunkRow, Status};

pub use super::twilio_remote::{domain_for as twilio_domain, TwilioSideError};

impl Provisioner {
    /// Makes a provider trunk at Twilio (trunk, credential list with the credential, the
    /// numbers) and records it; on any failure nothing is left at Twilio or here.
    pub async fn create_twilio_side(
        &self,
        tenant_id: &str,
        name: &str,
        account_id: &str,
        client: &TwilioClient,
        config: &TwilioSideConfig,
    ) -> Result<Created, ServiceError> {
        let kind = TwilioTrunks {
            account_id: account_id.to_owned(),
        };
        let remote = TwilioAccount { client };
        let created = self
            .create_resource(&kind, Some(&remote), tenant_id, name, config)
            .await?;
        if let Some(row) = self.store.provider_trunks().live(&created.id).await? {
            self.record_credential_list(&remote, &row).await;
        }
        Ok(created)
    }

    /// Applies new numbers to a provider trunk: Twilio first (its refusal changes nothing),
    /// then the row.
    pub async fn update_twilio_side(
        &self,
        row: &ProviderTrunkRow,
        client: &TwilioClient,
        name: &str,
        config: &TwilioSideConfig,
    ) -> Result<(), ServiceError> {
        let kind = TwilioTrunks {
            account_id: row.account_id.clone(),
        };
        let remote = TwilioAccount { client };
        self.update_resource(&kind, Some(&remote), row, name, config)
            .await
    }

    /// Removes the trunk at Twilio (and its credential list), then the row. Twilio
    /// unreachable changes nothing.
    pub async fn delete_twilio_side(
        &self,
        row: &ProviderTrunkRow,
        client: &TwilioClient,
    ) -> Result<bool, ServiceError> {
        let kind = TwilioTrunks {
            account_id: row.account_id.clone(),
        };
        let remote = TwilioAccount { client };
        self.delete_resource(&kind, Some(&remote), row).await
    }

    /// One pass over one Twilio account: the engine converges its provider trunks, marked
    /// credential lists naming no live row are removed, then every LiveKit trunk follows its
    /// provider trunk. `Err` when the account could not be read: its provider trunks then
    /// show `unprovisioned` with the reason until a pass reaches Twilio again.
    pub async fn converge_twilio_account(
        &self,
        account_id: &str,
        client: &TwilioClient,
        report: &mut Counts,
    ) -> Result<(), String> {
        let kind = TwilioTrunks {
            account_id: account_id.to_owned(),
        };
        let remote = TwilioAccount { client };
        if let Err(e) = self.converge_kind(&kind, &remote, report).await {
            self.mark_unreachable(account_id, "Twilio", &e).await;
            return Err(e);
        }
        self.sweep_lists(&remote, report).await;
        for row in self
            .account_rows(account_id)
            .await
            .map_err(|e| e.to_string())?
        {
            if row.status != Status::Provisioned {
                continue;
            }
            self.record_credential_list(&remote, &row).await;
            if let Err(e) = self.follow(&row).await {
                tracing::warn!(provider_trunk = %row.id, error = %e, "LiveKit trunk not yet following its Twilio trunk; retried next pass");
                report.failed += 1;
            }
        }
        Ok(())
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

    /// Removes marked credential lists whose row is deleted or retired (a trunk deleted out
    /// of band leaves its list; a delete whose list removal failed, too).
    async fn sweep_lists(&self, remote: &TwilioAccount<'_>, report: &mut Counts) {
        let Ok(lists) = remote.marked_lists().await else {
            return;
        };
        let owners: Vec<String> = lists.iter().filter_map(|(_, n)| marked(Some(n))).collect();
        let Ok(live) = self.store.provider_trunks().liveness(&owners).await else {
            return;
        };
        for (sid, name) in &lists {
            let Some(owner) = marked(Some(name)) else {
                continue;
            };
            // Only lists naming a row of this database, no longer live.
            if live.get(&owner) == Some(&false) {
                match remote.client.delete_credential_list(sid).await {
                    Ok(()) => report.removed += 1,
                    Err(_) => report.failed += 1,
                }
            }
        }
    }

    /// Records (for display) the credential list on the row's trunk.
    async fn record_credential_list(&self, remote: &TwilioAccount<'_>, row: &ProviderTrunkRow) {
        let Some(tk) = &row.provider_trunk_sid else {
            return;
        };
        let Ok(lists) = remote.client.list_trunk_credential_lists(tk).await else {
            return;
        };
        let cl = lists
            .iter()
            .find(|l| marked(l.friendly_name.as_deref()).as_deref() == Some(row.id.as_str()))
            .map(|l| l.sid.clone());
        if cl != row.credential_list_sid {
            let _ = self
                .store
                .set_provider_credential_list(&row.id, cl.as_deref())
                .await;
        }
    }

    /// Makes the LiveKit trunk served by `row` dial its Twilio trunk's current domain with its
    /// credential, and list its numbers (through the outbound trunk's own change path, so
    /// LiveKit is told before the row is saved).
    pub(super) async fn follow(&self, row: &ProviderTrunkRow) -> Result<(), ServiceError> {
        let (Some(trunk_id), Some(tk)) = (&row.trunk_id, &row.provider_trunk_sid) else {
            return Ok(());
        };
        let Some(trunk) = self.store.outbound_trunks().live(trunk_id).await? else {
            return Ok(());
        };
        let TrunkConfig::Sip(mut sip) = records::open(&self.keyring, &trunk)? else {
            return Ok(());
        };
        let side = TwilioSideConfig::of(row)?;
        let address = SipAddress::parse("address", &domain_for(tk))
            .map_err(|e| ServiceError::internal(format!("derived Twilio domain: {e:?}")))?;
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
        tracing::info!(trunk_id = %trunk.id, provider_trunk = %row.id, "LiveKit trunk follows its Twilio trunk");
        self.update(&trunk, &trunk.name, &TrunkConfig::Sip(sip))
            .await
    }
}
