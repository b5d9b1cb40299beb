//! Bencode (the BitTorrent encoding, BEP 3), the body of rtpengine's ng control protocol:
//! byte strings `4:spam`, integers `i42e`, lists `l…e` and dictionaries `d…e` whose keys are
//! byte strings in sorted order.
//!
//! Written here rather than taken from a crate: the ng protocol uses these four types and
//! nothing else, the bench is the only user, and the Rust bencode crates are shaped for torrent
//! files (serde mappings, info-hash helpers) and are rarely released. Tests below cover each
//! type, nesting and malformed input; `ng.rs`'s test talks to rtpengine itself.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Bytes(Vec<u8>),
    Int(i64),
    List(Vec<Value>),
    /// A BTreeMap keeps keys sorted, as BEP 3 requires of an encoder.
    Dict(BTreeMap<Vec<u8>, Value>),
}

impl Value {
    pub fn str(s: &str) -> Self {
        Value::Bytes(s.as_bytes().to_vec())
    }

    pub fn dict<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Self {
        Value::Dict(
            pairs
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v))
                .collect(),
        )
    }

    /// A dictionary's value for `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }

    /// A byte string as UTF-8 (lossy: rtpengine's strings are ASCII or SDP).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Bytes(b) => {
                out.extend_from_slice(b.len().to_string().as_bytes());
                out.push(b':');
                out.extend_from_slice(b);
            }
            Value::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Value::List(items) => {
                out.push(b'l');
                items.iter().for_each(|v| v.encode(out));
                out.push(b'e');
            }
            Value::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    Value::Bytes(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Decodes exactly one value filling all of `input`.
    pub fn decode(input: &[u8]) -> Result<Value, String> {
        let (v, rest) = decode_one(input, 0)?;
        if rest.is_empty() {
            Ok(v)
        } else {
            Err(format!("{} bytes after the value", rest.len()))
        }
    }
}

/// Nesting deeper than this is refused rather than recursed into.
const MAX_DEPTH: usize = 32;

fn decode_one(input: &[u8], depth: usize) -> Result<(Value, &[u8]), String> {
    if depth > MAX_DEPTH {
        return Err("nested too deeply".into());
    }
    match input.first() {
        None => Err("unexpected end of input".into()),
        Some(b'i') => {
            let end = input
                .iter()
                .position(|&c| c == b'e')
                .ok_or("unterminated integer")?;
            let digits = std::str::from_utf8(&input[1..end]).map_err(|_| "integer not ASCII")?;
            // BEP 3: no leading zeros, no negative zero.
            let canonical = digits == "0"
                || (!digits.starts_with('0')
                    && !digits.starts_with("-0")
                    && !digits.is_empty()
                    && digits != "-");
            if !canonical {
                return Err(format!("malformed integer {digits:?}"));
            }
            let i = digits
                .parse()
                .map_err(|_| format!("malformed integer {digits:?}"))?;
            Ok((Value::Int(i), &input[end + 1..]))
        }
        Some(b'l') => {
            let mut rest = &input[1..];
            let mut items = Vec::new();
            loop {
                if let Some(after) = rest.strip_prefix(b"e") {
                    return Ok((Value::List(items), after));
                }
                let (v, r) = decode_one(rest, depth + 1)?;
                items.push(v);
                rest = r;
            }
        }
        Some(b'd') => {
            let mut rest = &input[1..];
            let mut dict = BTreeMap::new();
            loop {
                if let Some(after) = rest.strip_prefix(b"e") {
                    return Ok((Value::Dict(dict), after));
                }
                let (k, r) = decode_one(rest, depth + 1)?;
                let Value::Bytes(k) = k else {
                    return Err("dictionary key is not a string".into());
                };
                let (v, r) = decode_one(r, depth + 1)?;
                dict.insert(k, v);
                rest = r;
            }
        }
        Some(c) if c.is_ascii_digit() => {
            let colon = input
                .iter()
                .position(|&c| c == b':')
                .ok_or("string without ':'")?;
            let len: usize = std::str::from_utf8(&input[..colon])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("malformed string length")?;
            let body = &input[colon + 1..];
            if body.len() < len {
                return Err(format!("string of {len} bytes, {} left", body.len()));
            }
            Ok((Value::Bytes(body[..len].to_vec()), &body[len..]))
        }
        Some(c) => Err(format!("unexpected byte {:?}", *c as char)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &Value) -> String {
        let mut out = Vec::new();
        v.encode(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn encodes_each_type_with_sorted_keys() {
        let v = Value::dict([
            ("sdp", Value::str("v=0\r\n")),
            ("command", Value::str("offer")),
            ("flags", Value::List(vec![Value::str("a"), Value::Int(-3)])),
        ]);
        assert_eq!(enc(&v), "d7:command5:offer5:flagsl1:ai-3ee3:sdp5:v=0\r\ne");
        assert_eq!(enc(&Value::Int(0)), "i0e");
        assert_eq!(enc(&Value::str("")), "0:");
    }

    #[test]
    fn decodes_what_it_encodes() {
        let v = Value::dict([
            ("result", Value::str("ok")),
            ("n", Value::Int(1234567890123)),
            (
                "nested",
                Value::List(vec![Value::dict([("x", Value::List(vec![]))])]),
            ),
            ("binary", Value::Bytes(vec![0, 255, b':', b'e'])),
        ]);
        let mut bytes = Vec::new();
        v.encode(&mut bytes);
        assert_eq!(Value::decode(&bytes), Ok(v.clone()));
        assert_eq!(
            v.get("result").and_then(Value::as_text).as_deref(),
            Some("ok")
        );
        assert_eq!(v.get("missing"), None);
    }

    #[test]
    fn refuses_malformed_input() {
        let rows: &[&[u8]] = &[
            b"",
            b"i12",
            b"i012e",
            b"i-0e",
            b"ie",
            b"i-e",
            b"5:abc",
            b"l1:a",
            b"di1e1:ae",
            b"d1:ae",
            b"x",
            b"4:spamtrailing",
            b"99999999999999999999999:a",
        ];
        for row in rows {
            assert!(
                Value::decode(row).is_err(),
                "{:?} accepted",
                String::from_utf8_lossy(row)
            );
        }
        let deep = "l".repeat(100) + &"e".repeat(100);
        assert!(Value::decode(deep.as_bytes()).is_err());
    }
}
