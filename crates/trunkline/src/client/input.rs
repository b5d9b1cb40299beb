//! The JSON files the client commands take (`create FILE`, `update ID FILE`), `-` for stdin.
//! A file that cannot be read or is not a JSON object is a usage mistake: nothing is sent.

use crate::failure::Failure;
use serde_json::Value;
use std::io::Read;
use trunkline_domain::FieldError;

/// The largest file read; the API refuses bodies over 64 KiB anyway.
const MAX_FILE: u64 = 1024 * 1024;

pub fn read_object(path: &str) -> Result<Value, Failure> {
    let (name, bytes) = if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .take(MAX_FILE)
            .read_to_end(&mut buf)
            .map_err(|e| Failure::Usage(format!("cannot read the JSON from stdin: {e}")))?;
        ("stdin".to_owned(), buf)
    } else {
        let mut buf = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_FILE).read_to_end(&mut buf))
            .map_err(|e| Failure::Usage(format!("cannot read {path}: {e}")))?;
        (path.to_owned(), buf)
    };
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::Usage(format!("{name} is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(Failure::Usage(format!(
            "{name} must hold a JSON object ({{…}})"
        )));
    }
    Ok(value)
}

/// A field of the file that cannot be translated (an `lk` field trunkline does not take),
/// named as the server would name it: a usage mistake, and nothing is sent.
pub fn untranslatable(path: &str, e: FieldError) -> Failure {
    let name = if path == "-" { "stdin" } else { path };
    Failure::Usage(format!(
        "{name} cannot be sent (nothing was sent):\n  {}: {}",
        e.field, e.message
    ))
}
