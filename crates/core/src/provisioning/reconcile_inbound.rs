//! The reconciler's pass over inbound trunks, with the guarantees of the outbound one (see
//! `reconcile.rs`): rows stored without LiveKit are provisioned, trunks deleted out of band
//! recreated, drift pushed back, duplicates and trunks naming a deleted row removed, and
//! creates a crash interrupted retired — their number claims released in the same
//! transaction, so the numbers can be claimed again. LiveKit trunks that name no inbound
//! row of this database are never touched.

use super::reconcile::Counts;
use super::{inbound, ownership, Provisioner};
use trunkline_livekit::{proto, ErrorKind, LiveKitClient};
use trunkline_store::InboundTrunkRow;
use trunkline_store::Status;

/// Whether LiveKit's copy differs from what we want, in the fields we own. A password LiveKit
/// does not return (redacted) is not counted as drift.
pub(super) fn drifted(
    actual: &proto::SipInboundTrunkInfo,
    wanted: &proto::SipInboundTrunkInfo,
) -> bool {
    // A server that predates `media` keeps only the legacy field.
    #[allow(deprecated)]
    let enc = |i: &proto::SipInboundTrunkInfo| {
        i.media
            .as_ref()
            .and_then(|m| m.encryption)
            .unwrap_or(i.media_encryption)
    };
    actual.name != wanted.name
        || actual.metadata != wanted.metadata
        || actual.numbers != wanted.numbers
        || actual.allowed_addresses != wanted.allowed_addresses
        || actual.allowed_numbers != wanted.allowed_numbers
        || actual.auth_username != wanted.auth_username
        || (!actual.auth_password.is_empty() && actual.auth_password != wanted.auth_password)
        || actual.krisp_enabled != wanted.krisp_enabled
        || actual.ringing_timeout != wanted.ringing_timeout
        || actual.max_call_duration != wanted.max_call_duration
        || enc(actual) != enc(wanted)
}

impl Provisioner {
    pub(super) async fn reconcile_inbound(
        &self,
        lk: &LiveKitClient,
        report: &mut Counts,
    ) -> Result<(), String> {
        let rows = self
            .store
            .inbound_trunks()
            .all_live()
            .await
            .map_err(|e| e.to_string())?;
        let remote = lk.list_inbound_trunks().await.map_err(|e| e.to_string())?;
        let index = self
            .store
            .inbound_trunks()
            .liveness(&ownership::owners(&remote, inbound::owner))
            .await
            .map_err(|e| e.to_string())?;
        let sorted = ownership::sort(
            &remote,
            |t: &proto::SipInboundTrunkInfo| t.sip_trunk_id.as_str(),
            inbound::owner,
            &index,
            rows.iter().map(|r| ownership::RowPointer {
                id: &r.id,
                livekit_id: r.livekit_trunk_id.as_deref(),
                pending: r.status == Status::Pending,
            }),
        );
        for (owner, t) in &sorted.unwanted {
            // A stray inbound trunk still answers calls for its numbers: remove it.
            match lk.delete_trunk(&t.sip_trunk_id).await {
                Ok(()) => {
                    tracing::info!(trunk_id = %owner, livekit_trunk_id = %t.sip_trunk_id, "removed a LiveKit inbound trunk trunkline no longer uses");
                    report.removed += 1;
                }
                Err(_) => report.failed += 1,
            }
        }
        for snapshot in &rows {
            // Re-read: the snapshot may be minutes old by now.
            let Ok(Some(row)) = self.store.inbound_trunks().live(&snapshot.id).await else {
                continue;
            };
            if row.status == Status::Pending {
                if self.past_grace(row.created_at) {
                    let remote = sorted.by_owner.get(&row.id).copied();
                    self.abandon_inbound(lk, &row, remote, report).await;
                }
                continue;
            }
            // Refused by LiveKit: waits for a PATCH, as an outbound trunk does.
            if row.status == Status::Error {
                continue;
            }
            let current = row
                .livekit_trunk_id
                .as_deref()
                .and_then(|id| sorted.by_id.get(id).copied());
            let adopted = current.or_else(|| sorted.by_owner.get(&row.id).copied());
            self.converge_inbound(lk, &row, current.is_some(), adopted, report)
                .await;
        }
        Ok(())
    }

    /// Retires an interrupted create: the row and its number claims in one transaction (so a
    /// create finishing right now sees it is no longer pending and undoes its own LiveKit
    /// trunk), then any LiveKit trunk naming it.
    async fn abandon_inbound(
        &self,
        lk: &LiveKitClient,
        row: &InboundTrunkRow,
        remote: Option<&proto::SipInboundTrunkInfo>,
        report: &mut Counts,
    ) {
        match self
            .store
            .inbound_trunks()
            .abandon_pending(&row.tenant_id, &row.id)
            .await
        {
            Ok(true) => {}
            Ok(false) => return, // it completed meanwhile
            Err(_) => {
                report.failed += 1;
                return;
            }
        }
        tracing::info!(trunk_id = %row.id, "retired an interrupted inbound trunk create");
        report.abandoned += 1;
        if let Some(t) = remote {
            // If this fails, the next pass finds the trunk naming a retired row.
            if lk.delete_trunk(&t.sip_trunk_id).await.is_err() {
                report.failed += 1;
            }
        }
    }

    async fn converge_inbound(
        &self,
        lk: &LiveKitClient,
        row: &InboundTrunkRow,
        pointer_valid: bool,
        adopted: Option<&proto::SipInboundTrunkInfo>,
        report: &mut Counts,
    ) {
        let config = match inbound::open(&self.keyring, row) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(trunk_id = %row.id, error = ?e, "cannot read stored inbound trunk");
                report.failed += 1;
                return;
            }
        };
        let wanted = inbound::livekit_trunk(&row.id, &row.name, &config);
        let in_sync =
            row.synced_version == row.desired_version && row.status == Status::Provisioned;
        let (result, created) = match adopted {
            Some(remote) if in_sync && pointer_valid && !drifted(remote, &wanted) => return,
            Some(remote) => {
                report.repaired += 1;
                (
                    lk.replace_inbound_trunk(&remote.sip_trunk_id, wanted).await,
                    false,
                )
            }
            None => {
                if row.livekit_trunk_id.is_some() {
                    tracing::warn!(trunk_id = %row.id, "LiveKit inbound trunk was deleted out of band; recreating it");
                    report.recreated += 1;
                } else {
                    report.provisioned += 1;
                }
                (lk.create_inbound_trunk(wanted).await, true)
            }
        };
        let outcome = match result {
            Ok(info) => match self
                .store
                .inbound_trunks()
                .mark_synced(
                    &row.id,
                    row.desired_version,
                    Some(&info.sip_trunk_id),
                    Status::Provisioned,
                )
                .await
            {
                Ok(true) => Ok(()),
                Ok(false) => {
                    // The row changed meanwhile. If it is gone, so must be what we just made;
                    // if it was edited, the next pass pushes the new version.
                    let live = self.store.inbound_trunks().live(&row.id).await;
                    if created && !matches!(live, Ok(Some(_))) {
                        let _ = lk.delete_trunk(&info.sip_trunk_id).await;
                    }
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            },
            Err(e) if e.kind() == ErrorKind::InvalidArgument => {
                let msg = format!(
                    "LiveKit rejected the trunk: {}",
                    e.livekit_message().unwrap_or_default()
                );
                let _ = self
                    .store
                    .inbound_trunks()
                    .set_status(
                        &row.id,
                        Some(row.desired_version),
                        Status::Error,
                        Some(&msg),
                    )
                    .await;
                Err(msg)
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = outcome {
            tracing::warn!(trunk_id = %row.id, error = %e, "reconcile failed for inbound trunk");
            report.failed += 1;
        }
    }
}
