//! The converge pass of the Twilio side of automated trunks: what trunkline made and recorded
//! is put back when it changed or went at Twilio out of band. The trunk's friendly name and
//! domain are pushed back, a deleted credential list is made again (with the trunk's own
//! credential, so LiveKit's side stays valid) and associated, and numbers taken off the trunk
//! are put back when they are still the account's and on no other trunk. A trunk deleted at
//! Twilio cannot come back under its domain (Twilio keeps a deleted domain for 30 days), so
//! its provider side is marked `missing`, visible on `GET /sip/trunks/{id}`.

use super::connect::AccountClient;
use crate::records;
use crate::{ServiceError, Services};
use std::time::Duration;
use trunkline_domain::TrunkConfig;
use trunkline_providers::twilio::{TrunkParams, TwilioClient};
use trunkline_providers::{ErrorKind, ProviderError, Secret};
use trunkline_store::ProviderTrunkRow;

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConvergeReport {
    pub repaired: usize,
    pub missing: usize,
    pub failed: usize,
}

fn not_found(e: &ProviderError) -> bool {
    e.kind() == ErrorKind::NotFound
}

impl Services {
    /// One pass over every automated trunk's Twilio side.
    pub async fn converge_twilio_trunks(&self) -> ConvergeReport {
        let mut report = ConvergeReport::default();
        let rows = match self.store.active_provider_trunks().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "provider trunks could not be read");
                return report;
            }
        };
        for mut link in rows {
            match self.converge_one(&mut link).await {
                Ok(true) => report.repaired += 1,
                Ok(false) if link.status == "missing" => report.missing += 1,
                Ok(false) => {}
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(provider_trunk = %link.id, error = %e, "Twilio side not converged; retried next pass");
                }
            }
        }
        report
    }

    /// Whether anything was repaired.
    async fn converge_one(&self, link: &mut ProviderTrunkRow) -> Result<bool, ServiceError> {
        let (Some(trunk_id), Some(tk)) = (link.trunk_id.clone(), link.provider_trunk_sid.clone())
        else {
            return Ok(false);
        };
        let account = self
            .store
            .get_provider_account(&link.tenant_id, &link.account_id)
            .await?
            .ok_or_else(|| ServiceError::internal("provider trunk without its account"))?;
        let creds = self.open_credentials(&account)?;
        let Ok(AccountClient::Twilio(tw)) = self.providers.client(&creds) else {
            return Ok(false);
        };
        let fail = |e: ProviderError| ServiceError::Unavailable(e.to_string());
        let friendly = format!("trunkline {}", link.id);
        let trunk = match tw.fetch_trunk(&tk).await {
            Ok(t) => t,
            Err(e) if not_found(&e) => {
                link.status = "missing".into();
                link.last_error = Some("the Twilio trunk was deleted outside trunkline: delete this trunk and create it again".into());
                self.store.update_provider_trunk(link).await?;
                return Ok(false);
            }
            Err(e) => return Err(fail(e)),
        };
        let mut repaired = false;
        if trunk.friendly_name.as_deref() != Some(friendly.as_str())
            || trunk.domain_name.as_deref() != Some(link.domain_name.as_str())
        {
            tw.update_trunk(
                &tk,
                &TrunkParams {
                    friendly_name: Some(friendly.clone()),
                    domain_name: Some(link.domain_name.clone()),
                    ..Default::default()
                },
            )
            .await
            .map_err(fail)?;
            repaired = true;
        }
        let list_gone = match &link.credential_list_sid {
            Some(cl) => match tw.fetch_credential_list(cl).await {
                Ok(_) => false,
                Err(e) if not_found(&e) => true,
                Err(e) => return Err(fail(e)),
            },
            None => true,
        };
        if list_gone {
            let row = self
                .store
                .outbound_trunks()
                .live(&trunk_id)
                .await?
                .ok_or_else(|| ServiceError::internal("automated trunk row is gone"))?;
            let TrunkConfig::Sip(config) = records::open(&self.keyring, &row)? else {
                return Ok(repaired);
            };
            let (Some(user), Some(pass)) = (&config.username, &config.password) else {
                return Ok(repaired);
            };
            let list = tw.create_credential_list(&friendly).await.map_err(fail)?;
            link.credential_list_sid = Some(list.sid.clone());
            self.store.update_provider_trunk(link).await?;
            tw.create_credential(&list.sid, user, &Secret::new(pass.expose()))
                .await
                .map_err(fail)?;
            repaired = true;
        }
        if let Some(cl) = &link.credential_list_sid {
            let associated = tw.list_trunk_credential_lists(&tk).await.map_err(fail)?;
            if !associated.iter().any(|a| &a.sid == cl) {
                tw.associate_credential_list(&tk, cl).await.map_err(fail)?;
                repaired = true;
            }
        }
        repaired |= put_numbers_back(&tw, &tk, link).await.map_err(fail)?;
        if repaired {
            tracing::info!(provider_trunk = %link.id, trunk_id, "Twilio side repaired");
        }
        Ok(repaired)
    }
}

/// Numbers recorded for the trunk but no longer on it, put back when still free.
async fn put_numbers_back(
    tw: &TwilioClient,
    tk: &str,
    link: &ProviderTrunkRow,
) -> Result<bool, ProviderError> {
    let wanted: Vec<String> = serde_json::from_str(&link.numbers).unwrap_or_default();
    let on: Vec<String> = tw
        .list_trunk_phone_numbers(tk)
        .await?
        .into_iter()
        .map(|n| n.phone_number)
        .collect();
    let mut repaired = false;
    for n in wanted.iter().filter(|n| !on.contains(n)) {
        if let Some(p) = tw.find_incoming_number(n).await? {
            if p.trunk_sid.is_none() {
                tw.associate_phone_number(tk, &p.sid).await?;
                repaired = true;
            }
        }
    }
    Ok(repaired)
}

/// Runs a pass every `interval` until `shutdown`; among instances sharing a database only
/// the holder of the lease works.
pub async fn run(
    services: Services,
    interval: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let holder = trunkline_domain::TrunkId::generate().to_string();
    let lease = (interval * 3).max(Duration::from_secs(10));
    tokio::pin!(shutdown);
    loop {
        let pass = async {
            if let Ok(true) = services
                .store
                .try_lease("provider-converger", &holder, lease)
                .await
            {
                let r = services.converge_twilio_trunks().await;
                if r != ConvergeReport::default() {
                    tracing::info!(report = ?r, "provider converge pass");
                }
            }
        };
        tokio::select! {
            _ = &mut shutdown => return,
            _ = pass => {}
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
