//! The conflict checks the service runs before storing an inbound trunk or a dispatch rule
//! (livekit/protocol `sip/sip.go`: `ValidateTrunksIter`, `ValidateDispatchRulesIter`). They
//! walk whatever the service listed, in that order, so a conflict between two *stored* items
//! fails the request too, and which item a message names depends on the walk order.

use crate::store::normalize_number;
use crate::twirp::{go_quote, TwirpError};
use livekit_protocol::sip_dispatch_rule::Rule;
use livekit_protocol::{SipDispatchRuleInfo, SipInboundTrunkInfo};
use std::collections::HashMap;

/// `printID`: the item being created has no id yet.
fn print_id(id: &str) -> String {
    go_quote(if id.is_empty() { "<new>" } else { id })
}

/// `printNumbers`: Go's `%q` of a `[]string`, or `<any>`.
fn print_numbers(numbers: &[String]) -> String {
    if numbers.is_empty() {
        return "<any>".into();
    }
    let quoted: Vec<String> = numbers.iter().map(|n| go_quote(n)).collect();
    format!("[{}]", quoted.join(" "))
}

/// `ValidateTrunksIter`: trunks are bucketed by each (normalised) number, or "" when they have
/// none; within a bucket two trunks conflict when neither restricts callers
/// (`allowed_numbers` empty) or both allow the same normalised caller. So two trunks without
/// numbers or allowed numbers (e.g. two auth-only trunks) conflict.
pub(crate) fn validate_trunks<'a>(
    trunks: impl IntoIterator<Item = &'a SipInboundTrunkInfo>,
) -> Result<(), TwirpError> {
    let mut by_number: HashMap<String, HashMap<String, &SipInboundTrunkInfo>> = HashMap::new();
    for t in trunks {
        let mut keys: Vec<String> = Vec::new();
        if t.numbers.is_empty() {
            keys.push(String::new());
        }
        for n in &t.numbers {
            let k = normalize_number(n);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        for k in keys {
            validate_trunk_inbound(by_number.entry(k).or_default(), t)?;
        }
    }
    Ok(())
}

/// `validateTrunkInbound`.
fn validate_trunk_inbound<'a>(
    by_inbound: &mut HashMap<String, &'a SipInboundTrunkInfo>,
    t: &'a SipInboundTrunkInfo,
) -> Result<(), TwirpError> {
    let conflict = |t2: &SipInboundTrunkInfo| {
        format!(
            "Conflicting inbound SIP Trunks: {} and {}, using the same number(s) {}",
            print_id(&t.sip_trunk_id),
            print_id(&t2.sip_trunk_id),
            print_numbers(&t.numbers)
        )
    };
    if t.allowed_numbers.is_empty() {
        if let Some(t2) = by_inbound.get("") {
            if t2.sip_trunk_id != t.sip_trunk_id {
                let msg = format!("{} without AllowedNumbers set", conflict(t2));
                return Err(TwirpError::invalid_argument(msg));
            }
        }
        by_inbound.insert(String::new(), t);
        return Ok(());
    }
    let mut seen: Vec<String> = Vec::new();
    for num in &t.allowed_numbers {
        let key = normalize_number(num);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key.clone());
        if let Some(t2) = by_inbound.get(&key) {
            if t2.sip_trunk_id != t.sip_trunk_id {
                let msg = format!("{} and AllowedNumber {}", conflict(t2), go_quote(num));
                return Err(TwirpError::invalid_argument(msg));
            }
        }
        by_inbound.insert(key, t);
    }
    Ok(())
}

/// `GetPinAndRoom`'s pin; a rule message with no oneof set is a psrpc InvalidArgument that
/// reaches the wire as `invalid_argument` (Go's `%T` of the nil oneof is `<nil>`).
fn pin(info: &SipDispatchRuleInfo) -> Result<&str, TwirpError> {
    match info.rule.as_ref().and_then(|r| r.rule.as_ref()) {
        Some(Rule::DispatchRuleDirect(r)) => Ok(&r.pin),
        Some(Rule::DispatchRuleIndividual(r)) => Ok(&r.pin),
        Some(Rule::DispatchRuleCallee(r)) => Ok(&r.pin),
        None => Err(TwirpError::invalid_argument(
            "unsupported SIP Dispatch Rule: <nil>",
        )),
    }
}

fn or_any(v: &[String]) -> Vec<&str> {
    if v.is_empty() {
        vec![""]
    } else {
        v.iter().map(String::as_str).collect()
    }
}

/// `DispatchRuleValidator.Validate` over a walk: every (pin, trunk, inbound number, number)
/// combination may belong to one rule only; empty lists count as the single key "" (so a
/// catch-all rule only collides with other catch-alls). There is no self-check: a rule that
/// repeats a trunk id or number (also after normalisation) collides with itself.
pub(crate) fn validate_rules<'a>(
    rules: impl IntoIterator<Item = &'a SipDispatchRuleInfo>,
) -> Result<(), TwirpError> {
    type Key<'k> = (&'k str, &'k str, String, String);
    let mut by_key: HashMap<Key<'a>, &'a SipDispatchRuleInfo> = HashMap::new();
    for r in rules {
        let pin = pin(r)?;
        for trunk in or_any(&r.trunk_ids) {
            for inbound in or_any(&r.inbound_numbers) {
                for number in or_any(&r.numbers) {
                    let key = (
                        pin,
                        trunk,
                        normalize_number(inbound),
                        normalize_number(number),
                    );
                    if let Some(r2) = by_key.get(&key) {
                        let name = if r2.name.is_empty() {
                            "<blank name>"
                        } else {
                            &r2.name
                        };
                        return Err(TwirpError::invalid_argument(format!(
                            "Dispatch rule for the same trunk, inbound number, number, and PIN combination already exists in dispatch rule {} {}",
                            print_id(&r2.sip_dispatch_rule_id),
                            go_quote(name)
                        )));
                    }
                    by_key.insert(key, r);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use livekit_protocol::{SipDispatchRule, SipDispatchRuleDirect};

    fn trunk(id: &str, numbers: &[&str], allowed: &[&str]) -> SipInboundTrunkInfo {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        SipInboundTrunkInfo {
            sip_trunk_id: id.into(),
            numbers: v(numbers),
            allowed_numbers: v(allowed),
            ..Default::default()
        }
    }

    fn msg(r: Result<(), TwirpError>) -> String {
        let e = r.unwrap_err();
        assert_eq!(e.code, "invalid_argument");
        e.msg
    }

    #[test]
    fn trunk_conflicts() {
        let a = trunk("ST_a", &["+1 555", "1555"], &[]);
        let b = trunk("", &["1555"], &[]);
        assert_eq!(
            msg(validate_trunks([&a, &b])),
            r#"Conflicting inbound SIP Trunks: "<new>" and "ST_a", using the same number(s) ["1555"] without AllowedNumbers set"#
        );
        let c = trunk("", &["1555"], &["+1 (222)", "1222"]);
        let d = trunk("ST_d", &["+1555"], &["1222"]);
        assert_eq!(
            msg(validate_trunks([&c, &d])),
            r#"Conflicting inbound SIP Trunks: "ST_d" and "<new>", using the same number(s) ["+1555"] and AllowedNumber "1222""#
        );
        // Restricted and unrestricted callers share a number without conflict; so do
        // numbered and number-less trunks.
        let e = trunk("ST_e", &[], &[]);
        assert_eq!(validate_trunks([&a, &c, &e]), Ok(()));
        assert!(validate_trunks([&e, &trunk("ST_f", &[], &[])]).is_err());
        // The same trunk seen twice (an update replacing its stored self) is no conflict.
        assert_eq!(validate_trunks([&a, &a]), Ok(()));
    }

    fn rule(id: &str, name: &str, trunks: &[&str], pin: &str) -> SipDispatchRuleInfo {
        SipDispatchRuleInfo {
            sip_dispatch_rule_id: id.into(),
            name: name.into(),
            trunk_ids: trunks.iter().map(|x| x.to_string()).collect(),
            rule: Some(SipDispatchRule {
                rule: Some(Rule::DispatchRuleDirect(SipDispatchRuleDirect {
                    room_name: "r".into(),
                    pin: pin.into(),
                })),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn rule_conflicts() {
        let a = rule("SDR_a", "", &["ST_1", "ST_2"], "");
        let b = rule("", "new", &["ST_2"], "");
        let m = "Dispatch rule for the same trunk, inbound number, number, and PIN combination already exists in dispatch rule";
        assert_eq!(
            msg(validate_rules([&a, &b])),
            format!(r#"{m} "SDR_a" "<blank name>""#)
        );
        assert_eq!(
            msg(validate_rules([&b, &a])),
            format!(r#"{m} "<new>" "new""#)
        );
        assert_eq!(validate_rules([&a, &rule("", "", &["ST_2"], "1")]), Ok(()));
        assert_eq!(validate_rules([&a, &rule("", "", &[], "")]), Ok(()));
        let twice = rule("", "dup", &["ST_3", "ST_3"], "");
        assert_eq!(
            msg(validate_rules([&twice])),
            format!(r#"{m} "<new>" "dup""#)
        );
        let empty = SipDispatchRuleInfo {
            rule: Some(SipDispatchRule::default()),
            ..Default::default()
        };
        assert_eq!(
            msg(validate_rules([&empty])),
            "unsupported SIP Dispatch Rule: <nil>"
        );
    }
}
