//! An import that fails part-way is undone: the objects it created are deleted as a client's
//! `DELETE` would delete them (their LiveKit and provider side at once), then the tenant's
//! rows are put back as they were before the import, in one transaction
//! (`Store::restore_config_snapshot`), and a reconciler pass sends what changed back to
//! LiveKit. The tenant's configuration, its audit and its version are then as before.

use super::apply::Replay;
use super::plan::{Action, Step};
use crate::error::ApiError;
use trunkline_store::ConfigSnapshot;

/// Undoes the `applied` steps of a failed import, whose own error is `error`; answers that
/// error, or, when the configuration could not be put back, one saying so.
pub async fn undo(
    replay: &Replay,
    snapshot: &ConfigSnapshot,
    applied: &[Step],
    error: ApiError,
) -> ApiError {
    let state = &replay.state;
    // Latest first: a rule made by the import goes before the trunk it names.
    for step in applied.iter().rev().filter(|s| s.action == Action::Create) {
        let Some(id) = step.object_id.as_deref() else {
            continue;
        };
        if let Err(failed) = replay.remove(step.kind, id).await {
            // The rows are tombstoned below anyway, and the reconciler removes what LiveKit
            // still holds of them.
            tracing::warn!(object = %id, status = %failed.status, "an object a failed import made could not be deleted at once");
        }
    }
    if let Err(e) = state.store.restore_config_snapshot(snapshot).await {
        tracing::error!(error = %e, "a failed import could not be undone");
        return ApiError::internal(format!(
            "an import step failed, and putting the configuration back failed too ({e}); \
             export the configuration to see what it holds now"
        ));
    }
    if !applied.is_empty() {
        if let Err(e) = state.services.provisioner.reconcile_once().await {
            tracing::warn!(error = %e, "LiveKit is brought back by the next reconciler pass");
        }
    }
    error
}
