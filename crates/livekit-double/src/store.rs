//! The Redis store behind the SIP service (livekit/livekit `pkg/service/redisstore_sip.go`,
//! `redisstore.go`): one hash per kind keyed by id, listed sorted by id, and the paging of
//! `livekit.ListPageIter` (livekit/protocol `livekit/types.go`) the service drains.

use livekit_protocol::{
    Pagination, SipDispatchRuleInfo, SipInboundTrunkInfo, SipOutboundTrunkInfo,
};
use rand::Rng;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::{SystemTime, UNIX_EPOCH};

/// `sip_outbound_trunk`, `sip_inbound_trunk` and `sip_dispatch_rule`; BTreeMaps keep the id
/// order the store sorts by.
#[derive(Default)]
pub(crate) struct Store {
    pub(crate) outbound: BTreeMap<String, SipOutboundTrunkInfo>,
    pub(crate) inbound: BTreeMap<String, SipInboundTrunkInfo>,
    pub(crate) rules: BTreeMap<String, SipDispatchRuleInfo>,
}

/// `utils.SIPTrunkPrefix`.
pub(crate) const TRUNK_PREFIX: &str = "ST_";
/// `utils.SIPDispatchRulePrefix`.
pub(crate) const RULE_PREFIX: &str = "SDR_";

/// `guid.IDAlphabet` = shortuuid's default alphabet (no 0, 1, I, O, l).
const ID_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

impl Store {
    /// `guid.New(utils.SIPTrunkPrefix)`: "ST_" and 12 characters, unused by either kind.
    pub(crate) fn new_trunk_id(&self) -> String {
        new_id(TRUNK_PREFIX, |id| {
            self.outbound.contains_key(id) || self.inbound.contains_key(id)
        })
    }

    /// `guid.New(utils.SIPDispatchRulePrefix)`: "SDR_" and 12 characters.
    pub(crate) fn new_rule_id(&self) -> String {
        new_id(RULE_PREFIX, |id| self.rules.contains_key(id))
    }
}

/// `guid.New(prefix)`: the prefix and 12 random characters of `guid.IDAlphabet`.
pub(crate) fn guid(prefix: &str) -> String {
    let mut rng = rand::rng();
    let id: String = (0..12)
        .map(|_| ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{id}")
}

fn new_id(prefix: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut rng = rand::rng();
    loop {
        let id: String = (0..12)
            .map(|_| ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char)
            .collect();
        let id = format!("{prefix}{id}");
        if !taken(&id) {
            return id;
        }
    }
}

/// A `ListSIP*` answer as the OSS server builds it, quirks included:
/// - results are always sorted by id; id filters only filter (unknown ids are dropped, the
///   requested order is not kept, no nil placeholders);
/// - without `page`, one store call returns every match;
/// - with `page`, the service drains `livekit.ListPageIter` to the end, so `limit` is only the
///   store's batch size and the reply holds *every* match after `after_id`;
/// - that iteration stops at the first batch of `limit` ids (1000 when `limit` <= 0) in which
///   nothing matches (`listPageIter.NextPage` treats an empty page as the end); the cursor
///   moves to the last *match*, not to the last id scanned.
pub(crate) fn list_page<T: Clone>(
    map: &BTreeMap<String, T>,
    page: Option<&Pagination>,
    matches: impl Fn(&T) -> bool,
) -> Vec<T> {
    let Some(page) = page else {
        return map.values().filter(|t| matches(t)).cloned().collect();
    };
    let batch = if page.limit > 0 {
        page.limit as usize
    } else {
        1000
    };
    let mut after = page.after_id.clone();
    let mut items = Vec::new();
    loop {
        // `redisIterPage`: the next `batch` ids after the cursor, then the filters.
        let found: Vec<(&String, &T)> = map
            .range::<String, _>((Bound::Excluded(&after), Bound::Unbounded))
            .take(batch)
            .filter(|(_, t)| matches(t))
            .collect();
        let Some((last, _)) = found.last() else {
            break;
        };
        after = (*last).clone();
        items.extend(found.into_iter().map(|(_, t)| t.clone()));
    }
    items
}

/// The service's conflict checks walk `iters.MultiIter(true, stored, [new])`, which is
/// round-robin (dennwc/iters `multi.go`): the new item comes *second*, after the first stored
/// one, then the rest. Which of two conflicting items is "new" in the message follows.
pub(crate) fn with_new<T>(stored: Vec<T>, new: T) -> Vec<T> {
    let mut out = Vec::with_capacity(stored.len() + 1);
    let mut rest = stored.into_iter();
    out.extend(rest.next());
    out.push(new);
    out.extend(rest);
    out
}

/// `livekit.NormalizeNumber` (`livekit/sip.go`): strip ` -()` and prefix `+`, but only when
/// the whole string matches `^\+?[\d\- ()]+$` (RE2 `\d` is ASCII); otherwise unchanged.
pub(crate) fn normalize_number(num: &str) -> String {
    if num.is_empty() {
        return String::new();
    }
    let body = num.strip_prefix('+').unwrap_or(num);
    let is_number = !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || "- ()".contains(c));
    if !is_number {
        return num.to_owned();
    }
    let digits: String = num.chars().filter(|c| !" -()".contains(*c)).collect();
    if digits.starts_with('+') {
        digits
    } else {
        format!("+{digits}")
    }
}

/// Milliseconds since the Unix epoch, as LiveKit stamps its objects.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_normalize_like_go() {
        assert_eq!(normalize_number("1 (555) 010-0"), "+15550100");
        assert_eq!(normalize_number("+1555"), "+1555");
        assert_eq!(normalize_number("+"), "+");
        assert_eq!(normalize_number("()"), "+");
        assert_eq!(normalize_number("alice"), "alice");
        assert_eq!(normalize_number("1555a"), "1555a");
        assert_eq!(normalize_number(""), "");
    }

    #[test]
    fn new_item_is_second() {
        assert_eq!(with_new(vec![1, 2, 3], 9), [1, 9, 2, 3]);
        assert_eq!(with_new(vec![], 9), [9]);
    }
}
