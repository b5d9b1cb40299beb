//! The reconciler's pass over dispatch rules, with the guarantees of the trunk passes (see
//! `reconcile.rs`). What LiveKit should hold for a rule depends on the account's inbound
//! trunks too (their LiveKit ids; for a rule on every trunk, which trunks there are), so the
//! wanted rule is computed afresh each pass and compared with LiveKit's: a rule follows a
//! trunk recreated under a new LiveKit id, and one whose trunks are all gone is removed from
//! LiveKit and waits (`awaiting_trunk`). LiveKit rules without our `trunkline_rule_id`
//! attribute, or naming a rule of another database, are never touched.

use super::dispatch::{self, Target, FOLLOW_FAILED};
use super::reconcile::Counts;
use super::{ownership, Provisioner};
use trunkline_livekit::{proto, ErrorKind, LiveKitClient};
use trunkline_store::DispatchRuleRow;
use trunkline_store::Status;

/// Whether LiveKit's copy differs from what we want, in the fields we own. Trunk ids are
/// compared as a set: their order means nothing to LiveKit.
pub(super) fn drifted(
    actual: &proto::SipDispatchRuleInfo,
    wanted: &proto::SipDispatchRuleInfo,
) -> bool {
    let set = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v
    };
    actual.rule != wanted.rule
        || set(&actual.trunk_ids) != set(&wanted.trunk_ids)
        || actual.numbers != wanted.numbers
        || actual.inbound_numbers != wanted.inbound_numbers
        || actual.name != wanted.name
        || actual.metadata != wanted.metadata
        || actual.attributes != wanted.attributes
        || actual.room_config != wanted.room_config
}

/// Deletes a LiveKit rule; one already gone counts as deleted.
async fn delete(lk: &LiveKitClient, id: &str) -> bool {
    match lk.delete_dispatch_rule(id).await {
        Ok(()) => true,
        Err(e) => e.kind() == ErrorKind::NotFound,
    }
}

impl Provisioner {
    pub(super) async fn reconcile_rules(
        &self,
        lk: &LiveKitClient,
        report: &mut Counts,
    ) -> Result<(), String> {
        let rows = self
            .store
            .dispatch_rules()
            .all_live()
            .await
            .map_err(|e| e.to_string())?;
        let remote = lk.list_dispatch_rules().await.map_err(|e| e.to_string())?;
        let index = self
            .store
            .dispatch_rules()
            .liveness(&ownership::owners(&remote, dispatch::owner))
            .await
            .map_err(|e| e.to_string())?;
        let sorted = ownership::sort(
            &remote,
            |r: &proto::SipDispatchRuleInfo| r.sip_dispatch_rule_id.as_str(),
            dispatch::owner,
            &index,
            rows.iter().map(|r| ownership::RowPointer {
                id: &r.id,
                livekit_id: r.livekit_rule_id.as_deref(),
                pending: r.status == Status::Pending,
            }),
        );
        for (owner, r) in &sorted.unwanted {
            // A stray rule still routes calls into rooms: remove it.
            if delete(lk, &r.sip_dispatch_rule_id).await {
                tracing::info!(rule_id = %owner, livekit_rule_id = %r.sip_dispatch_rule_id, "removed a LiveKit dispatch rule trunkline no longer uses");
                report.removed += 1;
            } else {
                report.failed += 1;
            }
        }
        for snapshot in &rows {
            // Re-read: the snapshot may be minutes old by now.
            let Ok(Some(row)) = self.store.dispatch_rules().live(&snapshot.id).await else {
                continue;
            };
            if row.status == Status::Pending {
                if self.past_grace(row.created_at) {
                    let remote = sorted.by_owner.get(&row.id).copied();
                    self.abandon_rule(lk, &row, remote, report).await;
                }
                continue;
            }
            // A rule LiveKit refused waits for a PATCH; one that only failed to follow its
            // trunks is retried.
            if row.status == Status::Error && row.last_error.as_deref() != Some(FOLLOW_FAILED) {
                continue;
            }
            let current = row
                .livekit_rule_id
                .as_deref()
                .and_then(|id| sorted.by_id.get(id).copied());
            let adopted = current.or_else(|| sorted.by_owner.get(&row.id).copied());
            if let Err(e) = self
                .converge_rule(lk, &row, current.is_some(), adopted, report)
                .await
            {
                tracing::warn!(rule_id = %row.id, error = %e, "reconcile failed for dispatch rule");
                report.failed += 1;
            }
        }
        Ok(())
    }

    /// Retires an interrupted create: the row and its keys in one transaction, then any
    /// LiveKit rule naming it.
    async fn abandon_rule(
        &self,
        lk: &LiveKitClient,
        row: &DispatchRuleRow,
        remote: Option<&proto::SipDispatchRuleInfo>,
        report: &mut Counts,
    ) {
        match self
            .store
            .dispatch_rules()
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
        tracing::info!(rule_id = %row.id, "retired an interrupted dispatch rule create");
        report.abandoned += 1;
        if let Some(r) = remote {
            // If this fails, the next pass finds the rule naming a retired row.
            if !delete(lk, &r.sip_dispatch_rule_id).await {
                report.failed += 1;
            }
        }
    }

    async fn converge_rule(
        &self,
        lk: &LiveKitClient,
        row: &DispatchRuleRow,
        pointer_valid: bool,
        adopted: Option<&proto::SipDispatchRuleInfo>,
        report: &mut Counts,
    ) -> Result<(), String> {
        let config = dispatch::open(row).map_err(|e| format!("{e:?}"))?;
        let target = self
            .target(&row.tenant_id, &row.id, &row.name, &config)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let wanted = match target {
            Target::Rule(wanted) => wanted,
            Target::Nothing => {
                // No trunk to name: LiveKit must hold nothing (a rule without trunk ids
                // would take every account's calls).
                if row.status == Status::AwaitingTrunk
                    && row.livekit_rule_id.is_none()
                    && adopted.is_none()
                {
                    return Ok(());
                }
                if let Some(r) = adopted {
                    if !delete(lk, &r.sip_dispatch_rule_id).await {
                        return Err(
                            "could not remove the LiveKit rule of a rule without trunks".into()
                        );
                    }
                }
                report.repaired += 1;
                // `false`: changed meanwhile; the next pass looks again.
                self.store
                    .dispatch_rules()
                    .mark_synced(&row.id, row.desired_version, None, Status::AwaitingTrunk)
                    .await
                    .map_err(|e| e.to_string())?;
                return Ok(());
            }
        };
        let in_sync =
            row.synced_version == row.desired_version && row.status == Status::Provisioned;
        let (result, created) = match adopted {
            Some(r) if in_sync && pointer_valid && !drifted(r, &wanted) => return Ok(()),
            Some(r) => {
                report.repaired += 1;
                (
                    lk.replace_dispatch_rule(&r.sip_dispatch_rule_id, *wanted)
                        .await,
                    false,
                )
            }
            None => {
                if row.livekit_rule_id.is_some() {
                    tracing::warn!(rule_id = %row.id, "LiveKit dispatch rule was deleted out of band; recreating it");
                    report.recreated += 1;
                } else {
                    report.provisioned += 1;
                }
                (lk.create_dispatch_rule(*wanted).await, true)
            }
        };
        match result {
            Ok(info) => {
                let id = info.sip_dispatch_rule_id;
                let saved = self
                    .store
                    .dispatch_rules()
                    .mark_synced(&row.id, row.desired_version, Some(&id), Status::Provisioned)
                    .await
                    .map_err(|e| e.to_string())?;
                // The row changed meanwhile. If it is gone, so must be what we just made; if
                // it was edited, the next pass pushes the new version.
                if !saved
                    && created
                    && !matches!(self.store.dispatch_rules().live(&row.id).await, Ok(Some(_)))
                {
                    delete(lk, &id).await;
                }
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::InvalidArgument => {
                let msg = format!(
                    "LiveKit rejected the dispatch rule: {}",
                    e.livekit_message().unwrap_or_default()
                );
                let _ = self
                    .store
                    .dispatch_rules()
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
        }
    }
}
