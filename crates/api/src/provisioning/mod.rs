//! Converging LiveKit to the stored desired state. API requests provision synchronously (so a
//! client hears LiveKit's verdict), and a reconciler repairs whatever a crash, an outage or an
//! out-of-band change left behind.

pub mod livekit_info;
mod reconcile;
pub mod status;

pub use reconcile::{run_reconciler, ReconcileReport};

use crate::error::ApiError;
use crate::records;
use crate::sealing::Keyring;
use std::sync::Arc;
use trunkline_domain::{TrunkConfig, TrunkId, TrunkType};
use trunkline_livekit::{ErrorKind, LiveKitClient, LiveKitError};
use trunkline_store::{now_micros, Store, TrunkRow};

#[derive(Clone)]
pub struct Provisioner {
    store: Store,
    keyring: Arc<Keyring>,
    livekit: Option<LiveKitClient>,
    pending_grace: std::time::Duration,
}

/// A trunk as a create left it.
pub struct Created {
    pub id: String,
    pub status: &'static str,
    pub livekit_trunk_id: Option<String>,
}

/// Trunk types LiveKit is told about directly. Exotel goes through the bridge.
fn direct(kind: TrunkType) -> bool {
    kind != TrunkType::Exotel
}

impl Provisioner {
    pub fn new(store: Store, keyring: Arc<Keyring>, livekit: Option<LiveKitClient>) -> Self {
        Self {
            store,
            keyring,
            livekit,
            pending_grace: reconcile::PENDING_GRACE,
        }
    }

    /// How long a create may stay `pending` before the reconciler treats it as interrupted.
    pub fn with_pending_grace(mut self, grace: std::time::Duration) -> Self {
        self.pending_grace = grace;
        self
    }

    /// Stores a new trunk and, when LiveKit is configured, creates its LiveKit side before
    /// answering. The row is written first as `pending` (invisible to reads): if the process
    /// dies mid-way the reconciler finds it and removes both halves, so no row ever points at
    /// nothing and no acknowledged trunk is lost.
    pub async fn create(
        &self,
        tenant_id: &str,
        name: &str,
        kind: TrunkType,
        config: &TrunkConfig,
    ) -> Result<Created, ApiError> {
        let id = TrunkId::generate().to_string();
        let (public, secrets) = records::seal(&self.keyring, &id, config);
        let now = now_micros();
        let livekit = self.livekit.as_ref().filter(|_| direct(kind));
        let initial = match (direct(kind), livekit.is_some()) {
            (false, _) => status::AWAITING_BRIDGE,
            (true, false) => status::UNPROVISIONED,
            (true, true) => status::PENDING,
        };
        let row = TrunkRow {
            id: id.clone(),
            tenant_id: tenant_id.to_owned(),
            name: name.to_owned(),
            trunk_type: kind.as_str().to_owned(),
            config: public,
            secrets,
            status: initial.to_owned(),
            livekit_trunk_id: None,
            desired_version: 1,
            synced_version: 0,
            last_error: None,
            synced_at: None,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_trunk(&row).await?;
        let (Some(lk), TrunkConfig::Sip(sip)) = (livekit, config) else {
            return Ok(Created {
                id,
                status: initial,
                livekit_trunk_id: None,
            });
        };
        match lk
            .create_outbound_trunk(livekit_info::outbound_trunk(&id, name, sip))
            .await
        {
            Ok(info) => {
                if let Err(e) = self
                    .store
                    .mark_synced(&id, 1, &info.sip_trunk_id, status::PROVISIONED)
                    .await
                {
                    // The LiveKit trunk exists but we could not record it: undo it rather
                    // than leave it unowned. If this fails too the reconciler finds it by
                    // its metadata.
                    let _ = lk.delete_trunk(&info.sip_trunk_id).await;
                    let _ = self.store.forget_pending_trunk(&id).await;
                    return Err(e.into());
                }
                Ok(Created {
                    id,
                    status: status::PROVISIONED,
                    livekit_trunk_id: Some(info.sip_trunk_id),
                })
            }
            Err(e) => {
                self.abandon_create(lk, &id, &e).await;
                Err(e.into())
            }
        }
    }

    /// Undoes a create LiveKit failed. After a timeout LiveKit may have made the trunk anyway,
    /// so look for it by its metadata; if that lookup fails the row stays `pending` and the
    /// reconciler finishes the job.
    async fn abandon_create(&self, lk: &LiveKitClient, id: &str, e: &LiveKitError) {
        let ambiguous = matches!(e, LiveKitError::Timeout { .. }) || e.kind() == ErrorKind::Other;
        if ambiguous {
            match lk.list_outbound_trunks().await {
                Ok(all) => {
                    for t in all
                        .iter()
                        .filter(|t| livekit_info::owner(t).as_deref() == Some(id))
                    {
                        if lk.delete_trunk(&t.sip_trunk_id).await.is_err() {
                            return;
                        }
                    }
                }
                Err(_) => return,
            }
        }
        if let Err(err) = self.store.forget_pending_trunk(id).await {
            tracing::warn!(trunk_id = id, error = %err, "could not remove a failed create; the reconciler will");
        }
    }

    /// Applies a new desired configuration: LiveKit first (so its refusal leaves everything as
    /// it was), then the row. A LiveKit trunk deleted out of band is recreated.
    pub async fn update(
        &self,
        row: &TrunkRow,
        name: &str,
        config: &TrunkConfig,
    ) -> Result<(), ApiError> {
        let kind = records::trunk_type(row)?;
        let (public, secrets) = records::seal(&self.keyring, &row.id, config);
        let pushed = match (self.livekit.as_ref().filter(|_| direct(kind)), config) {
            (Some(lk), TrunkConfig::Sip(sip)) => {
                let info = livekit_info::outbound_trunk(&row.id, name, sip);
                let result = match &row.livekit_trunk_id {
                    Some(lk_id) => match lk.replace_outbound_trunk(lk_id, info.clone()).await {
                        Err(e) if e.kind() == ErrorKind::NotFound => {
                            lk.create_outbound_trunk(info).await
                        }
                        other => other,
                    },
                    None => lk.create_outbound_trunk(info).await,
                };
                Some(result?.sip_trunk_id)
            }
            _ => None,
        };
        if !self
            .store
            .update_trunk_desired(&row.id, row.desired_version, name, &public, &secrets)
            .await?
        {
            return Err(ApiError::Conflict(
                "the trunk was changed by another request at the same time; fetch it and try again"
                    .into(),
            ));
        }
        if let Some(lk_id) = pushed {
            self.store
                .mark_synced(
                    &row.id,
                    row.desired_version + 1,
                    &lk_id,
                    status::PROVISIONED,
                )
                .await?;
        }
        Ok(())
    }

    /// Removes the LiveKit trunk, then deactivates ours. If LiveKit cannot be reached nothing
    /// changes and the client is told so (a trunk must not stay alive in LiveKit while we call
    /// it deleted).
    pub async fn delete(&self, tenant_id: &str, row: &TrunkRow) -> Result<bool, ApiError> {
        if let Some(lk_id) = &row.livekit_trunk_id {
            match &self.livekit {
                Some(lk) => match lk.delete_trunk(lk_id).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                },
                None => tracing::warn!(
                    trunk_id = %row.id,
                    livekit_trunk_id = %lk_id,
                    "LiveKit is not configured; its copy of this deleted trunk remains there"
                ),
            }
        }
        Ok(self.store.mark_trunk_deleted(tenant_id, &row.id).await?)
    }
}
