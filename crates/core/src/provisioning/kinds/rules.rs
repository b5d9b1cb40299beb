//! Dispatch rules: LiveKit's dispatch rules, marked with our id in an attribute. A rule claims
//! its (trunk, caller, dialed number, PIN) keys in the database first. LiveKit gets the
//! LiveKit ids of the trunks a rule names; a rule on every trunk of the account is sent with
//! the list of the account's trunks, and waits (`awaiting_trunk`) while there is none (without
//! trunk ids LiveKit would apply it to every account's calls).

use super::super::dispatch::{self as stored, conflict, keys, livekit_rule, FOLLOW_FAILED};
use super::super::engine::{ConvergeKind, Wanted};
use super::super::requests::{push, ClaimSet, RequestKind, Uncertain};
use super::super::Provisioner;
use crate::ServiceError;
use std::collections::HashMap;
use trunkline_domain::dispatch::DispatchRuleConfig;
use trunkline_domain::ids::DispatchRuleId;
use trunkline_livekit::proto;
use trunkline_store::{now_micros, DispatchRuleRow, NewDispatchRule, RuleKey, Status};

pub(in super::super) struct DispatchRules;

impl ConvergeKind for DispatchRules {
    type Row = DispatchRuleRow;
    type Object = proto::SipDispatchRuleInfo;
    const NOUN: &'static str = "dispatch rule";
    const OBJECT: &'static str = "dispatch rule";

    fn remote_id(o: &Self::Object) -> &str {
        &o.sip_dispatch_rule_id
    }
    fn owner(o: &Self::Object) -> Option<String> {
        stored::owner(o)
    }
    /// A rule LiveKit refused waits for a PATCH; one that only failed to follow its trunks is
    /// retried.
    fn skips(&self, _: &Provisioner, row: &DispatchRuleRow) -> bool {
        row.status == Status::Error && row.last_error.as_deref() != Some(FOLLOW_FAILED)
    }
    async fn wanted(
        &self,
        p: &Provisioner,
        row: &DispatchRuleRow,
    ) -> Result<Wanted<Self::Object>, ServiceError> {
        let config = stored::open(row)?;
        let trunks = livekit_trunks(p, &row.tenant_id, &config).await?;
        Ok(if trunks.is_empty() {
            Wanted::Wait(Status::AwaitingTrunk)
        } else {
            Wanted::Object(livekit_rule(
                &row.id,
                &row.name,
                &crate::rooms::rule_for_livekit(&row.tenant_id, &config),
                trunks,
            ))
        })
    }
    fn drifted(actual: &Self::Object, wanted: &Self::Object) -> bool {
        drifted(actual, wanted)
    }
}

/// A rule's keys, and the trunk ids it names (to point a conflict at the right one).
pub(in super::super) struct RuleClaims {
    trunk_ids: Vec<String>,
    keys: Vec<RuleKey>,
}

impl RuleClaims {
    fn stored(&self) -> trunkline_store::RuleClaims<'_> {
        trunkline_store::RuleClaims {
            trunk_ids: &self.trunk_ids,
            keys: &self.keys,
        }
    }
}

impl RequestKind for DispatchRules {
    type Config = DispatchRuleConfig;
    type Claims = RuleClaims;
    /// A rule LiveKit may hold would route calls for a rule nobody knows.
    const UNCERTAIN: Uncertain = Uncertain::SweepNow;

    async fn new_row(
        &self,
        _: &Provisioner,
        tenant_id: &str,
        name: &str,
        config: &DispatchRuleConfig,
        remote: bool,
    ) -> Result<DispatchRuleRow, ServiceError> {
        keys(config)?;
        Ok(DispatchRuleRow::fresh(
            NewDispatchRule {
                id: DispatchRuleId::generate().to_string(),
                tenant_id: tenant_id.to_owned(),
                name: name.to_owned(),
                config: stored::public_json(config).to_string(),
                livekit_rule_id: None,
            },
            super::initial_status(remote),
            now_micros(),
        ))
    }

    fn changed_row(
        &self,
        _: &Provisioner,
        row: &DispatchRuleRow,
        name: &str,
        config: &DispatchRuleConfig,
    ) -> Result<DispatchRuleRow, ServiceError> {
        keys(config)?;
        Ok(DispatchRuleRow {
            name: name.to_owned(),
            config: stored::public_json(config).to_string(),
            ..row.clone()
        })
    }

    fn claims(&self, _: &Provisioner, row: &DispatchRuleRow) -> Result<RuleClaims, ServiceError> {
        let config = stored::open(row)?;
        Ok(RuleClaims {
            keys: keys(&config)?,
            trunk_ids: config.trunk_ids.iter().map(|t| t.to_string()).collect(),
        })
    }
}

impl ClaimSet<DispatchRuleRow> for RuleClaims {
    async fn insert(&self, p: &Provisioner, row: &DispatchRuleRow) -> Result<(), ServiceError> {
        p.store
            .insert_claiming(row, &self.stored())
            .await?
            .map_err(|c| conflict(c, &self.trunk_ids))
    }
    async fn reserve(&self, p: &Provisioner, row: &DispatchRuleRow) -> Result<(), ServiceError> {
        p.store
            .reserve_claims(&row.tenant_id, &row.id, &self.stored())
            .await?
            .map_err(|c| conflict(c, &self.trunk_ids))
    }
    async fn settle(&self, p: &Provisioner, row: &DispatchRuleRow) -> Result<(), ServiceError> {
        Ok(p.store
            .settle_claims(&row.tenant_id, &row.id, &self.stored())
            .await?)
    }
}

/// The LiveKit trunk ids a rule applies to: the named trunks', or every provisioned inbound
/// trunk of the account. Empty when any named trunk is not in LiveKit.
async fn livekit_trunks(
    p: &Provisioner,
    tenant_id: &str,
    c: &DispatchRuleConfig,
) -> Result<Vec<String>, ServiceError> {
    let trunks = p.store.inbound_trunks().list(tenant_id).await?;
    if c.trunk_ids.is_empty() {
        return Ok(trunks
            .iter()
            .filter(|t| t.status == Status::Provisioned)
            .filter_map(|t| t.livekit_trunk_id.clone())
            .collect());
    }
    let lk_of: HashMap<&str, Option<&str>> = trunks
        .iter()
        .map(|t| (t.id.as_str(), t.livekit_trunk_id.as_deref()))
        .collect();
    let mut out = Vec::new();
    for t in &c.trunk_ids {
        match lk_of.get(t.as_str()).copied().flatten() {
            Some(lk) => out.push(lk.to_owned()),
            None => return Ok(Vec::new()),
        }
    }
    Ok(out)
}

/// After the account's inbound trunks changed: pushes every rule that applies to all of them
/// again, with the current list. Failures are recorded on the rule (`error`, with
/// `last_error`), not returned: the trunk change itself succeeded.
pub(in super::super) async fn follow_trunks(p: &Provisioner, tenant_id: &str) {
    let Some(lk) = &p.livekit else {
        return;
    };
    let rules = match p.store.every_trunk_rules(tenant_id).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "could not read dispatch rules to follow a trunk change");
            return;
        }
    };
    for row in rules {
        let result = async {
            let wanted = DispatchRules.wanted(p, &row).await?;
            let pushed =
                push::<DispatchRules, _>(lk, row.livekit_rule_id.as_deref(), wanted).await?;
            if let Some((lk_id, status)) = pushed {
                p.store
                    .dispatch_rules()
                    .mark_synced(&row.id, row.desired_version, lk_id.as_deref(), status)
                    .await?;
            }
            Ok::<_, ServiceError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(rule_id = %row.id, error = %e, "dispatch rule did not follow the account's trunks");
            let _ = p
                .store
                .dispatch_rules()
                .set_status(&row.id, None, Status::Error, Some(FOLLOW_FAILED))
                .await;
        }
    }
}

/// Whether LiveKit's copy differs from what we want, in the fields we own. Trunk ids are
/// compared as a set: their order means nothing to LiveKit.
fn drifted(actual: &proto::SipDispatchRuleInfo, wanted: &proto::SipDispatchRuleInfo) -> bool {
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
