//! Per-tenant quotas: how many trunks, inbound trunks, dispatch rules and assistants a tenant
//! may keep, and how many of its calls may wait in the queue. One tenant must not be able to
//! fill the database or the dialer's queue for everyone else. The operator sets the limits
//! (`TRUNKLINE_QUOTA_*`); each create path calls [`Services::check_quota`] first.
//!
//! The check counts, then the caller inserts: two requests of the same tenant that run at the
//! same moment can both see `limit - 1` and both insert. The overshoot is at most the number
//! of that tenant's create requests of one kind in flight at once, itself bounded by the
//! server's connection cap (`TRUNKLINE_MAX_CONNECTIONS`) — a bounded slack, not a way around
//! the quota: once over, every further create is refused until the count drops.

use crate::{ServiceError, ServiceResult, Services};
use trunkline_store::Counted;

/// One kind of quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    OutboundTrunks,
    InboundTrunks,
    DispatchRules,
    Assistants,
    QueuedCalls,
}

impl Quota {
    /// The name clients see in the 429's `data.quota`.
    pub fn name(self) -> &'static str {
        match self {
            Self::OutboundTrunks => "outbound_trunks",
            Self::InboundTrunks => "inbound_trunks",
            Self::DispatchRules => "dispatch_rules",
            Self::Assistants => "assistants",
            Self::QueuedCalls => "queued_calls",
        }
    }

    /// The variable that sets it.
    pub fn setting(self) -> &'static str {
        match self {
            Self::OutboundTrunks => "TRUNKLINE_QUOTA_TRUNKS",
            Self::InboundTrunks => "TRUNKLINE_QUOTA_INBOUND_TRUNKS",
            Self::DispatchRules => "TRUNKLINE_QUOTA_DISPATCH_RULES",
            Self::Assistants => "TRUNKLINE_QUOTA_ASSISTANTS",
            Self::QueuedCalls => "TRUNKLINE_QUOTA_QUEUED_CALLS",
        }
    }

    fn counted(self) -> Counted {
        match self {
            Self::OutboundTrunks => Counted::OutboundTrunks,
            Self::InboundTrunks => Counted::InboundTrunks,
            Self::DispatchRules => Counted::DispatchRules,
            Self::Assistants => Counted::Assistants,
            Self::QueuedCalls => Counted::QueuedCalls,
        }
    }

    /// What the tenant can do about it.
    fn remedy(self) -> &'static str {
        match self {
            Self::OutboundTrunks => "delete trunks you no longer use",
            Self::InboundTrunks => "delete inbound trunks you no longer use",
            Self::DispatchRules => "delete dispatch rules you no longer use",
            Self::Assistants => "delete assistants you no longer use",
            Self::QueuedCalls => "wait for queued calls to be dialed, or cancel some",
        }
    }
}

/// The operator's limits, the same for every tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaLimits {
    pub outbound_trunks: i64,
    pub inbound_trunks: i64,
    pub dispatch_rules: i64,
    pub assistants: i64,
    pub queued_calls: i64,
}

impl Default for QuotaLimits {
    fn default() -> Self {
        Self {
            outbound_trunks: 100,
            inbound_trunks: 100,
            dispatch_rules: 100,
            assistants: 100,
            queued_calls: 1000,
        }
    }
}

impl QuotaLimits {
    pub fn limit(&self, quota: Quota) -> i64 {
        match quota {
            Quota::OutboundTrunks => self.outbound_trunks,
            Quota::InboundTrunks => self.inbound_trunks,
            Quota::DispatchRules => self.dispatch_rules,
            Quota::Assistants => self.assistants,
            Quota::QueuedCalls => self.queued_calls,
        }
    }
}

/// A create refused because the tenant is at a quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaExceeded {
    pub quota: Quota,
    pub limit: i64,
    pub current: i64,
}

impl std::fmt::Display for QuotaExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Quota {} reached: this account has {} of at most {}; {} (or ask the operator to raise {})",
            self.quota.name(),
            self.current,
            self.limit,
            self.quota.remedy(),
            self.quota.setting()
        )
    }
}

impl Services {
    /// Refuses one more object of `quota`'s kind when the tenant already has its limit.
    pub async fn check_quota(&self, tenant_id: &str, quota: Quota) -> ServiceResult<()> {
        let limit = self.quotas.limit(quota);
        let current = self
            .store
            .count_for_quota(tenant_id, quota.counted())
            .await?;
        if current >= limit {
            tracing::info!(quota = quota.name(), limit, current, "quota reached");
            return Err(ServiceError::QuotaExceeded(QuotaExceeded {
                quota,
                limit,
                current,
            }));
        }
        Ok(())
    }
}
