//! Tenant namespaces in the one LiveKit project every tenant shares.
//!
//! LiveKit knows nothing of tenants: a room or an agent name is global to the project. So
//! every room trunkline asks LiveKit for, and every agent it dispatches, carries a short
//! prefix derived from the tenant (`t` + 10 hex digits of SHA-256 of the tenant id + `_`).
//! Tenants keep using their own names in the API; only what goes to LiveKit is prefixed,
//! and what comes back (webhooks) is attributed to the tenant whose prefix it carries.
//! A tenant therefore cannot route its callers into another tenant's room, nor dispatch
//! another tenant's agent, whatever names it picks.

use sha2::{Digest, Sha256};
use trunkline_domain::dispatch::{DispatchRuleConfig, RoomRule};

/// Hex digits of the tenant's hash in its prefix: 40 bits, so two tenants of a service with
/// 100,000 of them share a prefix with a probability below 1 in 200.
const HASH_DIGITS: usize = 10;
const PREFIX_LEN: usize = 1 + HASH_DIGITS + 1;

/// The tenant's prefix in LiveKit: stable (a pure function of the tenant id), short, and
/// made of characters every LiveKit name accepts.
pub fn namespace(tenant_id: &str) -> String {
    let digest = Sha256::digest(tenant_id.as_bytes());
    format!("t{}_", &hex::encode(digest)[..HASH_DIGITS])
}

/// The LiveKit room (or room prefix) for a tenant's own room name.
pub fn livekit_room(tenant_id: &str, name: &str) -> String {
    format!("{}{name}", namespace(tenant_id))
}

/// The LiveKit room of an outbound call: the call's id, in its tenant's namespace.
pub fn call_room(tenant_id: &str, call_id: &str) -> String {
    livekit_room(tenant_id, call_id)
}

/// The LiveKit agent name for a tenant's agent: the name its worker registers with.
pub fn livekit_agent(tenant_id: &str, agent_name: &str) -> String {
    format!("{}{agent_name}", namespace(tenant_id))
}

/// A LiveKit room name split into (namespace, the tenant's own name); `None` for a room
/// outside every tenant namespace (not made by trunkline for a tenant).
pub fn split(livekit_room: &str) -> Option<(&str, &str)> {
    let b = livekit_room.as_bytes();
    let ok = b.len() >= PREFIX_LEN
        && b[0] == b't'
        && b[1..=HASH_DIGITS]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
        && b[PREFIX_LEN - 1] == b'_';
    ok.then(|| livekit_room.split_at(PREFIX_LEN))
}

/// The tenant's own name for a LiveKit room, if the room is in that tenant's namespace.
pub fn tenant_room<'a>(tenant_id: &str, livekit_room: &'a str) -> Option<&'a str> {
    match split(livekit_room) {
        Some((ns, own)) if ns == namespace(tenant_id) => Some(own),
        _ => None,
    }
}

/// A dispatch rule as LiveKit must hold it: rooms and agents in the tenant's namespace.
pub fn rule_for_livekit(tenant_id: &str, c: &DispatchRuleConfig) -> DispatchRuleConfig {
    let room = |name: &str| livekit_room(tenant_id, name);
    let rule = match &c.rule {
        RoomRule::Individual {
            room_prefix,
            randomize,
        } => RoomRule::Individual {
            room_prefix: room(room_prefix),
            randomize: *randomize,
        },
        RoomRule::Direct { room_name } => RoomRule::Direct {
            room_name: room(room_name),
        },
        RoomRule::Callee {
            room_prefix,
            randomize,
        } => RoomRule::Callee {
            room_prefix: room(room_prefix),
            randomize: *randomize,
        },
    };
    let mut out = c.clone();
    out.rule = rule;
    for a in &mut out.agents {
        a.agent_name = livekit_agent(tenant_id, &a.agent_name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use trunkline_domain::dispatch::AgentDispatch;

    const A: &str = "TN_0123456789abcdef0123456789abcdef";
    const B: &str = "TN_fedcba9876543210fedcba9876543210";

    #[test]
    fn namespaces_are_stable_short_and_distinct_per_tenant() {
        assert_eq!(namespace(A), namespace(A));
        assert_ne!(namespace(A), namespace(B));
        assert_eq!(namespace(A).len(), PREFIX_LEN);
        assert!(!namespace(A).to_ascii_uppercase().starts_with("CL_"));
        assert_ne!(livekit_room(A, "support"), livekit_room(B, "support"));
    }

    #[test]
    fn a_room_maps_back_to_its_own_tenant_only() {
        let room = livekit_room(A, "support");
        assert_eq!(tenant_room(A, &room), Some("support"));
        assert_eq!(tenant_room(B, &room), None);
        assert_eq!(split(&room), Some((namespace(A).as_str(), "support")));
        let call = call_room(B, "CL_abc");
        assert_eq!(tenant_room(B, &call), Some("CL_abc"));
        assert_eq!(tenant_room(A, &call), None);
    }

    #[test]
    fn rooms_outside_every_namespace_belong_to_nobody() {
        for raw in [
            "",
            "support",
            "CL_0123",
            "t0123_support",
            "tXYZ456789a_x",
            "t0123456789a-x",
        ] {
            assert_eq!(split(raw), None, "{raw}");
            assert_eq!(tenant_room(A, raw), None, "{raw}");
        }
    }

    #[test]
    fn rules_go_to_livekit_with_rooms_and_agents_namespaced() {
        let base = DispatchRuleConfig {
            rule: RoomRule::Direct {
                room_name: "support".into(),
            },
            pin: None,
            trunk_ids: vec![],
            dialed_numbers: vec![],
            caller_numbers: vec![],
            agents: vec![AgentDispatch {
                agent_name: "helper".into(),
                metadata: "m".into(),
            }],
            metadata: String::new(),
        };
        let lk = rule_for_livekit(A, &base);
        assert_eq!(
            lk.rule,
            RoomRule::Direct {
                room_name: livekit_room(A, "support")
            }
        );
        assert_eq!(lk.agents[0].agent_name, livekit_agent(A, "helper"));
        assert_eq!(lk.agents[0].metadata, "m");
        assert_ne!(rule_for_livekit(B, &base).rule, lk.rule);
        for (rule, want) in [
            (
                RoomRule::Individual {
                    room_prefix: "call-".into(),
                    randomize: true,
                },
                RoomRule::Individual {
                    room_prefix: livekit_room(A, "call-"),
                    randomize: true,
                },
            ),
            (
                RoomRule::Callee {
                    room_prefix: String::new(),
                    randomize: false,
                },
                RoomRule::Callee {
                    room_prefix: namespace(A),
                    randomize: false,
                },
            ),
        ] {
            let c = DispatchRuleConfig {
                rule,
                ..base.clone()
            };
            assert_eq!(rule_for_livekit(A, &c).rule, want);
        }
    }
}
