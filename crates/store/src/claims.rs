//! What a provisioned row holds exclusively beside itself: an inbound trunk's numbers, a
//! dispatch rule's keys. One transaction stores a row with its claims, reserves claims ahead of
//! a change, or settles them after it, always under the account's lock (`lock_tenant`), so an
//! account's creates, changes and deletes of inbound trunks and rules happen one at a time.
//! Each kind says how its claims are reserved and settled; this module says when.

use crate::inbound_trunks::{lock_tenant, ClaimConflict, InboundTrunkRow, NumberClaim};
use crate::resource::{insert_row, Resource};
use crate::{dispatch_rules, inbound_trunks};
use crate::{DispatchRuleRow, RuleConflict, RuleKey, Store, StoreError};
use sqlx::{Any, Transaction};
use std::future::Future;

/// A set of claims of one kind of row.
pub trait StoredClaims: Sync {
    type Row: Resource;
    /// Why a claim was refused (another row holds it).
    type Conflict: Send;
    /// Claims every member for `owner_id` (members it holds already are kept). Nothing is
    /// written when it returns a conflict, as long as the caller rolls back.
    fn reserve(
        &self,
        tx: &mut Transaction<'static, Any>,
        tenant_id: &str,
        owner_id: &str,
    ) -> impl Future<Output = Result<Result<(), Self::Conflict>, sqlx::Error>> + Send;
    /// Drops the claims of `owner_id` that are not members.
    fn settle(
        &self,
        tx: &mut Transaction<'static, Any>,
        owner_id: &str,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

impl StoredClaims for [NumberClaim] {
    type Row = InboundTrunkRow;
    type Conflict = ClaimConflict;
    async fn reserve(
        &self,
        tx: &mut Transaction<'static, Any>,
        tenant_id: &str,
        owner_id: &str,
    ) -> Result<Result<(), ClaimConflict>, sqlx::Error> {
        inbound_trunks::reserve(tx, tenant_id, owner_id, self).await
    }
    async fn settle(
        &self,
        tx: &mut Transaction<'static, Any>,
        owner_id: &str,
    ) -> Result<(), sqlx::Error> {
        inbound_trunks::settle(tx, owner_id, self).await
    }
}

/// A rule's keys, with the trunks it names (each must be an active inbound trunk of the
/// account). Settling looks at the keys only.
pub struct RuleClaims<'a> {
    pub trunk_ids: &'a [String],
    pub keys: &'a [RuleKey],
}

impl StoredClaims for RuleClaims<'_> {
    type Row = DispatchRuleRow;
    type Conflict = RuleConflict;
    async fn reserve(
        &self,
        tx: &mut Transaction<'static, Any>,
        tenant_id: &str,
        owner_id: &str,
    ) -> Result<Result<(), RuleConflict>, sqlx::Error> {
        dispatch_rules::reserve(tx, tenant_id, owner_id, self.trunk_ids, self.keys).await
    }
    async fn settle(
        &self,
        tx: &mut Transaction<'static, Any>,
        owner_id: &str,
    ) -> Result<(), sqlx::Error> {
        dispatch_rules::settle(tx, owner_id, self.keys).await
    }
}

impl Store {
    /// Stores a new (pending) row together with its claims, or nothing if a claim conflicts.
    pub async fn insert_claiming<C: StoredClaims + ?Sized>(
        &self,
        row: &C::Row,
        claims: &C,
    ) -> Result<Result<(), C::Conflict>, StoreError> {
        let owner = row.lifecycle();
        let mut tx = self.writer.begin().await?;
        lock_tenant(&mut tx, owner.tenant_id).await?;
        insert_row(&mut tx, row).await?;
        if let Err(conflict) = claims.reserve(&mut tx, owner.tenant_id, owner.id).await? {
            tx.rollback().await?;
            return Ok(Err(conflict));
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Adds `claims` to a row's (ahead of a change), or nothing on a conflict.
    pub async fn reserve_claims<C: StoredClaims + ?Sized>(
        &self,
        tenant_id: &str,
        owner_id: &str,
        claims: &C,
    ) -> Result<Result<(), C::Conflict>, StoreError> {
        let mut tx = self.writer.begin().await?;
        lock_tenant(&mut tx, tenant_id).await?;
        if let Err(conflict) = claims.reserve(&mut tx, tenant_id, owner_id).await? {
            tx.rollback().await?;
            return Ok(Err(conflict));
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Leaves a row holding exactly `keep` of its claims (after a change, or to undo a
    /// reservation whose change failed).
    pub async fn settle_claims<C: StoredClaims + ?Sized>(
        &self,
        tenant_id: &str,
        owner_id: &str,
        keep: &C,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        lock_tenant(&mut tx, tenant_id).await?;
        keep.settle(&mut tx, owner_id).await?;
        tx.commit().await?;
        Ok(())
    }
}
