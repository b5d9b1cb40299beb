//! The order in which one dialer pass visits trunks: round-robin over tenants, and within a
//! tenant the trunk served longest ago first. So a tenant with hundreds of trunks gets one
//! turn per round like a tenant with one, and the pass cap never shuts a tenant out.

use std::collections::BTreeMap;
use trunkline_store::DueTrunk;

/// Up to `max` trunks, one per tenant per round. `rotate` shifts which tenant opens the
/// round (the dialer counts its passes), so no tenant is always last when the cap bites.
pub fn fair_order(trunks: Vec<DueTrunk>, rotate: usize, max: usize) -> Vec<DueTrunk> {
    let mut by_tenant: BTreeMap<String, Vec<DueTrunk>> = BTreeMap::new();
    for t in trunks {
        by_tenant.entry(t.tenant_id.clone()).or_default().push(t);
    }
    let mut queues: Vec<std::vec::IntoIter<DueTrunk>> = by_tenant
        .into_values()
        .map(|mut ts| {
            ts.sort_by(|a, b| (a.next_slot_at, &a.trunk_id).cmp(&(b.next_slot_at, &b.trunk_id)));
            ts.into_iter()
        })
        .collect();
    if queues.is_empty() {
        return vec![];
    }
    let shift = rotate % queues.len();
    queues.rotate_left(shift);
    let mut out = Vec::new();
    while out.len() < max {
        let before = out.len();
        for q in queues.iter_mut() {
            if out.len() == max {
                break;
            }
            if let Some(t) = q.next() {
                out.push(t);
            }
        }
        if out.len() == before {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(tenant: &str, trunk: &str, slot: i64) -> DueTrunk {
        DueTrunk {
            trunk_id: trunk.into(),
            tenant_id: tenant.into(),
            next_slot_at: slot,
        }
    }

    #[test]
    fn tenants_take_turns_and_the_cap_does_not_shut_one_out() {
        let mut trunks: Vec<DueTrunk> = (0..500)
            .map(|i| due("noisy", &format!("n{i:03}"), i))
            .collect();
        trunks.push(due("quiet", "q1", 1_000));
        let order = fair_order(trunks, 0, 200);
        assert_eq!(order.len(), 200);
        assert!(order[..2].iter().any(|t| t.tenant_id == "quiet"));
        // Within the noisy tenant, the trunk served longest ago comes first.
        let noisy: Vec<_> = order.iter().filter(|t| t.tenant_id == "noisy").collect();
        assert_eq!(noisy[0].trunk_id, "n000");
        assert_eq!(noisy[1].trunk_id, "n001");
    }

    #[test]
    fn rotation_changes_which_tenant_opens_the_round() {
        let trunks = vec![due("a", "a1", 0), due("b", "b1", 0), due("c", "c1", 0)];
        let first: Vec<_> = (0..3)
            .map(|r| fair_order(trunks.clone(), r, 1)[0].tenant_id.clone())
            .collect();
        assert_eq!(first, ["a", "b", "c"]);
        assert!(fair_order(vec![], 7, 10).is_empty());
    }
}
