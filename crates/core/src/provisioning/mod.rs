//! Converging LiveKit to the stored desired state. API requests provision synchronously (so a
//! client hears LiveKit's verdict), and a reconciler repairs whatever a crash, an outage or an
//! out-of-band change left behind.

mod approval;
pub mod dispatch;
mod engine;
pub mod inbound;
mod kinds;
pub mod livekit_info;
mod ownership;
mod reconcile;
mod remote;
pub mod status;
pub use approval::describe_numbers;

pub use reconcile::{run_reconciler, Counts, ReconcileReport};

use crate::records;
use crate::sealing::Keyring;
use crate::ServiceError;
use std::sync::Arc;
use trunkline_domain::{TrunkConfig, TrunkId, TrunkType};
use trunkline_livekit::{ErrorKind, LiveKitClient};
use trunkline_store::Status;
use trunkline_store::{now_micros, Store, TrunkRow};

#[derive(Clone)]
pub struct Provisioner {
    store: Store,
    keyring: Arc<Keyring>,
    livekit: Option<LiveKitClient>,
    pending_grace: std::time::Duration,
    /// Where LiveKit reaches trunkline's SIP bridge; Exotel trunks have a LiveKit side only
    /// when this is set.
    bridge: Option<livekit_info::BridgeTarget>,
    /// Inbound trunks reach LiveKit only with numbers the operator approved (`approval.rs`).
    number_approval: bool,
}

/// A trunk as a create left it.
pub struct Created {
    pub id: String,
    pub status: Status,
    pub livekit_trunk_id: Option<String>,
}

impl Provisioner {
    pub fn new(store: Store, keyring: Arc<Keyring>, livekit: Option<LiveKitClient>) -> Self {
        Self {
            store,
            keyring,
            livekit,
            pending_grace: reconcile::PENDING_GRACE,
            bridge: None,
            number_approval: false,
        }
    }

    /// Provisions Exotel trunks into LiveKit as trunks to this bridge.
    pub fn with_bridge(mut self, bridge: Option<livekit_info::BridgeTarget>) -> Self {
        self.bridge = bridge;
        self
    }

    /// Whether trunks of this type get a LiveKit side: all but Exotel directly, Exotel through
    /// the bridge when one is configured.
    fn provisionable(&self, kind: TrunkType) -> bool {
        kind != TrunkType::Exotel || self.bridge.is_some()
    }

    /// The LiveKit trunk a stored configuration wants, or `None` when it has no LiveKit side
    /// yet (an Exotel trunk without a bridge, or without its bridge password).
    fn wanted(
        &self,
        id: &str,
        name: &str,
        config: &TrunkConfig,
        secrets_json: &str,
    ) -> Result<Option<trunkline_livekit::proto::SipOutboundTrunkInfo>, ServiceError> {
        Ok(match (config, &self.bridge) {
            (TrunkConfig::Sip(sip), _) => Some(livekit_info::outbound_trunk(id, name, sip)),
            (TrunkConfig::Exotel(ex), Some(bridge)) => {
                records::open_field(&self.keyring, id, secrets_json, records::BRIDGE_PASSWORD)?
                    .map(|pw| livekit_info::bridge_trunk(id, name, ex, bridge, &pw))
            }
            (TrunkConfig::Exotel(_), None) => None,
        })
    }

    /// An Exotel trunk's sealed secrets with a bridge password, generated if it has none.
    fn with_bridge_password(&self, id: &str, config: &TrunkConfig, secrets_json: &str) -> String {
        let has = serde_json::from_str::<std::collections::BTreeMap<String, String>>(secrets_json)
            .map(|m| m.contains_key(records::BRIDGE_PASSWORD))
            .unwrap_or(false);
        if !matches!(config, TrunkConfig::Exotel(_)) || self.bridge.is_none() || has {
            return secrets_json.to_owned();
        }
        records::with_sealed_field(
            &self.keyring,
            id,
            secrets_json,
            records::BRIDGE_PASSWORD,
            &crate::sealing::generate_secret_token(),
        )
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
    ) -> Result<Created, ServiceError> {
        let id = TrunkId::generate().to_string();
        let (public, secrets) = records::seal(&self.keyring, &id, config);
        let secrets = self.with_bridge_password(&id, config, &secrets);
        let now = now_micros();
        let livekit = self.livekit.as_ref().filter(|_| self.provisionable(kind));
        let initial = match (self.provisionable(kind), livekit.is_some()) {
            (false, _) => Status::AwaitingBridge,
            (true, false) => Status::Unprovisioned,
            (true, true) => Status::Pending,
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
        self.store.outbound_trunks().insert(&row).await?;
        let wanted = match livekit {
            Some(_) => self.wanted(&id, name, config, &row.secrets)?,
            None => None,
        };
        let (Some(lk), Some(wanted)) = (livekit, wanted) else {
            return Ok(Created {
                id,
                status: initial,
                livekit_trunk_id: None,
            });
        };
        match lk.create_outbound_trunk(wanted).await {
            Ok(info) => match self
                .store
                .outbound_trunks()
                .confirm(&id, Some(&info.sip_trunk_id), Status::Provisioned)
                .await
            {
                Ok(true) => Ok(Created {
                    id,
                    status: Status::Provisioned,
                    livekit_trunk_id: Some(info.sip_trunk_id),
                }),
                outcome => {
                    // Not recorded (the reconciler gave up on this create, or the database
                    // failed): undo the LiveKit trunk rather than acknowledge or orphan it. If
                    // this delete fails too, the reconciler removes the trunk by its metadata.
                    let _ = lk.delete_trunk(&info.sip_trunk_id).await;
                    let _ = self
                        .store
                        .outbound_trunks()
                        .abandon_pending(tenant_id, &id)
                        .await;
                    Err(match outcome {
                        Err(e) => e.into(),
                        Ok(_) => ServiceError::Unavailable("LiveKit took too long to create the trunk and the create was abandoned; try again".into()),
                    })
                }
            },
            Err(e) => {
                // When LiveKit may have acted (timeout, reset, 5xx) the row stays `pending`:
                // the reconciler retires it, and removes any LiveKit trunk naming it, after the
                // grace period. Otherwise nothing exists on LiveKit's side: retire it now.
                if !e.outcome_unknown() {
                    if let Err(err) = self
                        .store
                        .outbound_trunks()
                        .abandon_pending(tenant_id, &id)
                        .await
                    {
                        tracing::warn!(trunk_id = %id, error = %err, "could not retire a failed create; the reconciler will");
                    }
                }
                Err(e.into())
            }
        }
    }

    /// Applies a new desired configuration: LiveKit first (so its refusal leaves everything as
    /// it was), then the row. A LiveKit trunk deleted out of band is recreated.
    pub async fn update(
        &self,
        row: &TrunkRow,
        name: &str,
        config: &TrunkConfig,
    ) -> Result<(), ServiceError> {
        let kind = records::trunk_type(row)?;
        let (public, secrets) = records::seal(&self.keyring, &row.id, config);
        // The bridge password is not part of the client's configuration: keep it across edits.
        let secrets = records::carry_sealed_field(&row.secrets, &secrets, records::BRIDGE_PASSWORD);
        let secrets = self.with_bridge_password(&row.id, config, &secrets);
        let wanted = match self.livekit.as_ref().filter(|_| self.provisionable(kind)) {
            Some(lk) => self
                .wanted(&row.id, name, config, &secrets)?
                .map(|info| (lk, info)),
            None => None,
        };
        let pushed = match wanted {
            Some((lk, info)) => {
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
            None => None,
        };
        let saved = self
            .store
            .outbound_trunks()
            .update_desired(&row.id, row.desired_version, name, &public, Some(&secrets))
            .await;
        if pushed.is_some() && !matches!(saved, Ok(true)) {
            // LiveKit took a configuration the database did not: make the next reconciler
            // pass push the stored one back.
            let _ = self.store.outbound_trunks().mark_unsynced(&row.id).await;
        }
        if !saved? {
            return Err(ServiceError::Conflict(
                "the trunk was changed by another request at the same time; fetch it and try again"
                    .into(),
            ));
        }
        if let Some(lk_id) = pushed {
            // `false` only if yet another change landed meanwhile; that one records its own sync.
            self.store
                .outbound_trunks()
                .mark_synced(
                    &row.id,
                    row.desired_version + 1,
                    Some(&lk_id),
                    Status::Provisioned,
                )
                .await?;
        }
        Ok(())
    }

    /// Removes the LiveKit trunk, then deactivates ours. If LiveKit cannot be reached nothing
    /// changes and the client is told so (a trunk must not stay alive in LiveKit while we call
    /// it deleted).
    pub async fn delete(&self, tenant_id: &str, row: &TrunkRow) -> Result<bool, ServiceError> {
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
        Ok(self
            .store
            .outbound_trunks()
            .mark_deleted(tenant_id, &row.id)
            .await?)
    }
}
