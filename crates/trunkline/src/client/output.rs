//! What the client commands print: `--json` writes the API's `data` exactly as the server
//! sent it; otherwise lists are aligned tables and single objects are `field  value` lines.
//! Tables never show a secret: the API returns none, and a string under a secret's name
//! (`…password`, `…secret`, `…token`, `api_key`) is masked should one ever appear.

use super::api::{clean, Answer};
use serde_json::Value;
use std::fmt::Write as _;

/// One column of a list: its header and how a row's cell is read from the item.
pub struct Column {
    pub header: &'static str,
    pub cell: fn(&Value) -> String,
}

/// The text of the value at a JSON pointer (`/provisioning/status`), `-` when absent.
pub fn at(item: &Value, pointer: &str) -> String {
    text(item.pointer(pointer).unwrap_or(&Value::Null))
}

/// A scalar as text; a list of scalars joined by commas; `-` for nothing.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => clean(s),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other => clean(&other.to_string()),
    }
}

/// An aligned table: two spaces between columns, the last column unpadded.
pub fn table(columns: &[Column], items: &[Value]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| columns.iter().map(|c| (c.cell)(item)).collect())
        .collect();
    let headers: Vec<String> = columns.iter().map(|c| c.header.to_owned()).collect();
    aligned(std::iter::once(&headers).chain(rows.iter()))
}

fn aligned<'a>(rows: impl Iterator<Item = &'a Vec<String>> + Clone) -> String {
    let mut widths: Vec<usize> = vec![];
    for row in rows.clone() {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(max) => *max = (*max).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One object as `field  value` lines, nested fields by their dotted path
/// (`provisioning.status`, `room_config.agents[0].agent_name`), in name order.
pub fn details(data: &Value) -> String {
    let mut lines = vec![];
    flatten("", data, &mut lines);
    let rows: Vec<Vec<String>> = lines.into_iter().map(|(k, v)| vec![k, v]).collect();
    aligned(rows.iter())
}

fn flatten(path: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if is_secret(k) && v.is_string() {
                    out.push((clean(&p), "(hidden)".into()));
                } else {
                    flatten(&p, v, out);
                }
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), item, out);
            }
        }
        Value::Object(_) => out.push((clean(path), "-".into())),
        other => out.push((clean(path), text(other))),
    }
}

fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "token"]
        .iter()
        .any(|s| k.ends_with(s))
        || k == "api_key"
}

/// Masks secrets anywhere in a list item before its cells are read.
fn masked(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret(k) && v.is_string() {
                        Value::String("(hidden)".into())
                    } else {
                        masked(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(masked).collect()),
        other => other.clone(),
    }
}

/// How one answer is shown.
pub enum View<'a> {
    /// A list of items (`data` is an array, or the array at `pointer` within it).
    List {
        columns: &'a [Column],
        pointer: &'a str,
    },
    /// One object.
    Details,
    /// A sentence (after a delete).
    Sentence(String),
}

pub fn print(answer: &Answer, json: bool, view: View) {
    if json {
        write_stdout(format!("{}\n", answer.raw).as_bytes());
        return;
    }
    let out = match view {
        View::List { columns, pointer } => {
            let items = answer
                .data
                .pointer(pointer)
                .and_then(Value::as_array)
                .map(|items| items.iter().map(masked).collect::<Vec<_>>())
                .unwrap_or_default();
            table(columns, &items)
        }
        View::Details => details(&answer.data),
        View::Sentence(s) => format!("{s}\n"),
    };
    write_stdout(out.as_bytes());
}

/// Writes to stdout without `print!`'s panic on a closed pipe: a reader that stopped early
/// (`trunkline call list | head -1`) is not a failure of the command.
pub fn write_stdout(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const COLUMNS: &[Column] = &[
        Column {
            header: "ID",
            cell: |v| at(v, "/id"),
        },
        Column {
            header: "NUMBERS",
            cell: |v| at(v, "/numbers"),
        },
        Column {
            header: "STATUS",
            cell: |v| at(v, "/p/status"),
        },
    ];

    #[test]
    fn columns_are_aligned_and_absent_cells_dashed() {
        let items = [
            json!({"id": "ST_1", "numbers": ["+1555", "+1556"], "p": {"status": "provisioned"}}),
            json!({"id": "ST_22222", "numbers": []}),
        ];
        assert_eq!(
            table(COLUMNS, &items),
            "ID        NUMBERS      STATUS\nST_1      +1555,+1556  provisioned\nST_22222  -            -\n"
        );
    }

    #[test]
    fn details_flatten_nested_fields_and_hide_secrets() {
        let data = json!({"trunk_id": "ST_1", "trunk_config": {"password": "pw", "password_set": true,
            "numbers": ["+1555"]}, "room_config": {"agents": [{"agent_name": "a"}]}, "webhook_secret": "whsec_x"});
        let out = details(&data);
        let lines: Vec<Vec<&str>> = out
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        for want in [
            ["trunk_config.password", "(hidden)"],
            ["trunk_config.password_set", "true"],
            ["webhook_secret", "(hidden)"],
            ["room_config.agents[0].agent_name", "a"],
            ["trunk_config.numbers", "+1555"],
        ] {
            assert!(lines.contains(&want.to_vec()), "{want:?} in {out}");
        }
        assert!(!out.contains("pw\n") && !out.contains("whsec_x"), "{out}");
        let item = masked(&json!([{"auth_password": "pw", "name": "n"}]));
        assert_eq!(item, json!([{"auth_password": "(hidden)", "name": "n"}]));
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(text(&json!("a\u{1b}[2Jb\n")), "a\\u{1b}[2Jb\\n");
    }
}
