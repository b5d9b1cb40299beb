//! Which of LiveKit's objects (trunks of either kind, dispatch rules) are trunkline's, and
//! what to do with each: the same decision for every kind, so it is made once, here, without
//! I/O. An object is ours when its marker names an id our own database holds (live or a
//! tombstone); anything else — made by hand, or by another deployment sharing the LiveKit
//! project — is never touched.

use std::collections::HashMap;

/// A row as the sorting needs it.
pub(super) struct RowPointer<'r> {
    pub id: &'r str,
    /// The LiveKit id the row records, if any.
    pub livekit_id: Option<&'r str>,
    /// A create in flight: its LiveKit object, if any, is not yet recorded.
    pub pending: bool,
}

/// LiveKit's objects, sorted.
pub(super) struct Sorted<'a, T> {
    /// Every object by its LiveKit id.
    pub by_id: HashMap<&'a str, &'a T>,
    /// For a live row, an object naming it that may be adopted (the one its pointer names,
    /// or, without a valid pointer, one of those naming it).
    pub by_owner: HashMap<String, &'a T>,
    /// Objects to remove, with the row id they name: that row is deleted or retired, or it
    /// is live and records another object that LiveKit still holds (a duplicate).
    pub unwanted: Vec<(String, &'a T)>,
}

/// The row ids LiveKit's objects name, to ask the database about.
pub(super) fn owners<T>(remote: &[T], owner: impl Fn(&T) -> Option<String>) -> Vec<String> {
    remote.iter().filter_map(owner).collect()
}

/// Sorts `remote` against `rows` and `liveness` (for each owner id the database holds,
/// whether its row is live).
pub(super) fn sort<'a, 'r, T>(
    remote: &'a [T],
    id: impl Fn(&'a T) -> &'a str,
    owner: impl Fn(&T) -> Option<String>,
    liveness: &HashMap<String, bool>,
    rows: impl IntoIterator<Item = RowPointer<'r>>,
) -> Sorted<'a, T> {
    let by_id: HashMap<&'a str, &'a T> = remote.iter().map(|t| (id(t), t)).collect();
    // Rows whose pointer names an object LiveKit holds: any other object naming them is a
    // duplicate. Pending rows have no pointer yet; their object is kept for retiring.
    let live_pointer: HashMap<&'r str, &'r str> = rows
        .into_iter()
        .filter(|r| !r.pending)
        .filter_map(|r| {
            r.livekit_id
                .filter(|lk| by_id.contains_key(lk))
                .map(|lk| (r.id, lk))
        })
        .collect();
    let mut by_owner = HashMap::new();
    let mut unwanted = Vec::new();
    for t in remote {
        let Some(row_id) = owner(t) else {
            continue;
        };
        match liveness.get(&row_id) {
            None => {} // not ours
            Some(false) => unwanted.push((row_id, t)),
            Some(true) => {
                if live_pointer
                    .get(row_id.as_str())
                    .is_some_and(|&lk| lk != id(t))
                {
                    unwanted.push((row_id, t));
                } else {
                    by_owner.insert(row_id, t);
                }
            }
        }
    }
    Sorted {
        by_id,
        by_owner,
        unwanted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (LiveKit id, owner marker)
    type Obj = (&'static str, Option<&'static str>);

    fn sorted<'a>(remote: &'a [Obj], rows: Vec<RowPointer<'static>>) -> Sorted<'a, Obj> {
        let liveness: HashMap<String, bool> = [("live", true), ("pending", true), ("gone", false)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        sort(
            remote,
            |o: &Obj| o.0,
            |o: &Obj| o.1.map(str::to_owned),
            &liveness,
            rows,
        )
    }

    fn ids<T>(v: &[(String, &(&'static str, T))]) -> Vec<&'static str> {
        let mut out: Vec<_> = v.iter().map(|(_, o)| o.0).collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn each_object_is_kept_adopted_removed_or_left_alone() {
        let remote: Vec<Obj> = vec![
            ("LK_pointed", Some("live")),
            ("LK_duplicate", Some("live")),
            ("LK_deleted_row", Some("gone")),
            ("LK_foreign", None),
            ("LK_other_deployment", Some("unknown")),
            ("LK_late", Some("pending")),
        ];
        let rows = vec![
            RowPointer {
                id: "live",
                livekit_id: Some("LK_pointed"),
                pending: false,
            },
            RowPointer {
                id: "pending",
                livekit_id: None,
                pending: true,
            },
        ];
        let s = sorted(&remote, rows);
        assert_eq!(ids(&s.unwanted), ["LK_deleted_row", "LK_duplicate"]);
        assert_eq!(s.by_owner["live"].0, "LK_pointed");
        assert_eq!(s.by_owner["pending"].0, "LK_late", "kept for retiring");
        assert_eq!(s.by_owner.len(), 2, "foreign objects are never adopted");
        assert_eq!(s.by_id.len(), remote.len());
    }

    #[test]
    fn without_a_valid_pointer_an_object_naming_the_row_is_adopted_not_removed() {
        let remote: Vec<Obj> = vec![("LK_new", Some("live"))];
        // The row points at an object deleted out of band.
        let rows = vec![RowPointer {
            id: "live",
            livekit_id: Some("LK_deleted"),
            pending: false,
        }];
        let s = sorted(&remote, rows);
        assert!(s.unwanted.is_empty());
        assert_eq!(s.by_owner["live"].0, "LK_new");
    }
}
