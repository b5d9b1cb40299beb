//! One cursor pagination for every list: `limit` (1–200, default 50) and `cursor` in the
//! query, `next_cursor` in the page (absent on the last one). A cursor is the position of
//! the last item shown: its creation time and id.

use crate::error::ApiError;
use trunkline_domain::ValidationErrors;

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    /// Items strictly after this `(created_at, id)` are shown.
    pub after: Option<(i64, String)>,
}

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

/// Reads `limit` and `cursor` from a query string (other parameters are the query guard's
/// business). Both problems at once are reported in `data.errors`.
pub fn page_request(query: Option<&str>) -> Result<PageRequest, ApiError> {
    let mut errors = ValidationErrors::default();
    let (mut limit, mut after) = (DEFAULT_LIMIT, None);
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => limit = n,
                _ => errors.push("limit", "must be a whole number from 1 to 200"),
            },
            "cursor" => match decode_cursor(&value) {
                Some(c) => after = Some(c),
                None => errors.push(
                    "cursor",
                    "is not a cursor this API returned: pass next_cursor of the previous page",
                ),
            },
            _ => {}
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    Ok(PageRequest { limit, after })
}

pub fn encode_cursor(created_at: i64, id: &str) -> String {
    format!("{created_at}_{id}")
}

fn decode_cursor(c: &str) -> Option<(i64, String)> {
    let (at, id) = c.split_once('_')?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    Some((at.parse().ok()?, id.to_owned()))
}

/// One page of `items` in `(created_at, id)` order, and the cursor of the next page.
pub fn page<T>(
    mut items: Vec<T>,
    request: &PageRequest,
    key: impl Fn(&T) -> (i64, &str),
) -> (Vec<T>, Option<String>) {
    items.sort_by(|a, b| key(a).cmp(&key(b)));
    if let Some((at, id)) = &request.after {
        items.retain(|item| key(item) > (*at, id.as_str()));
    }
    let more = items.len() > request.limit;
    items.truncate(request.limit);
    let next = more
        .then(|| {
            items.last().map(|last| {
                let (at, id) = key(last);
                encode_cursor(at, id)
            })
        })
        .flatten();
    (items, next)
}

/// [`page`] of a list's rows, each shown by `show` (a row that cannot be shown fails the list).
pub fn page_shown<R, V, E>(
    rows: &[R],
    request: &PageRequest,
    key: impl Fn(&R) -> (i64, &str),
    show: impl FnMut(&R) -> Result<V, E>,
) -> Result<(Vec<V>, Option<String>), E> {
    let (rows, next) = page(rows.iter().collect(), request, |r| key(r));
    let shown = rows.into_iter().map(show).collect::<Result<Vec<_>, E>>()?;
    Ok((shown, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_one_another_without_gaps_or_repeats() {
        let items: Vec<(i64, String)> = (0..5).map(|i| (i / 2, format!("ST_{i}"))).collect();
        fn key(t: &(i64, String)) -> (i64, &str) {
            (t.0, &t.1)
        }
        let mut seen = vec![];
        let mut req = page_request(Some("limit=2")).unwrap();
        loop {
            let (got, next) = page(items.clone(), &req, key);
            seen.extend(got);
            let Some(next) = next else { break };
            req = page_request(Some(&format!("limit=2&cursor={next}"))).unwrap();
        }
        assert_eq!(seen, items);
    }

    #[test]
    fn bad_limit_and_cursor_are_named_together() {
        let Err(ApiError::BadRequest { errors, .. }) = page_request(Some("limit=0&cursor=x"))
        else {
            panic!()
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["limit", "cursor"]);
    }
}
