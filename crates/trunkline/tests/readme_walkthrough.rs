//! The README's runnable shell blocks (each preceded by `<!-- readme-walkthrough: runnable -->`)
//! run as written, in order, in one bash, against `serve --demo` on a free port with a
//! temporary database; every documented answer (the `# {…}` comment lines after a command)
//! is compared field by field with what came back. The test reads the README itself, so it
//! follows the README when the README changes.

mod support;

use serde_json::Value;
use std::process::Command;
use support::*;

const MARKER: &str = "<!-- readme-walkthrough: runnable -->";

/// The runnable blocks' lines, in README order.
fn runnable_blocks(readme: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut rest = readme;
    while let Some(at) = rest.find(MARKER) {
        rest = &rest[at + MARKER.len()..];
        let body = rest
            .trim_start()
            .strip_prefix("```sh\n")
            .expect("a runnable marker is followed by a ```sh block");
        let end = body.find("\n```").expect("the block is closed");
        blocks.push(body[..end].lines().map(str::to_owned).collect());
        rest = &body[end..];
    }
    blocks
}

/// One command (possibly several lines) and the answer documented after it, if any.
struct Step {
    script: String,
    documented: Option<String>,
}

/// Splits blocks into steps: a step's command lines end where a `# {` comment (its
/// documented answer, continued by `#  ` lines) starts, or at a blank line.
fn steps(blocks: &[Vec<String>]) -> Vec<Step> {
    let mut out = Vec::new();
    for block in blocks {
        let mut script = String::new();
        let mut documented: Option<String> = None;
        let flush = |script: &mut String, documented: &mut Option<String>, out: &mut Vec<Step>| {
            if !script.trim().is_empty() || documented.is_some() {
                out.push(Step {
                    script: std::mem::take(script),
                    documented: documented.take(),
                });
            }
        };
        for line in block {
            if let Some(answer) = line.strip_prefix("# {") {
                flush(&mut script, &mut documented, &mut out);
                documented = Some(format!("{{{answer}"));
                continue;
            }
            if let (Some(doc), Some(more)) = (documented.as_mut(), line.strip_prefix("#  ")) {
                doc.push_str(more);
                continue;
            }
            if documented.is_some() {
                // The documented answer ended: it belongs to the command before it.
                let last: &mut Step = out.last_mut().expect("a command before its answer");
                last.documented = documented.take();
            }
            if line.trim().is_empty() {
                flush(&mut script, &mut documented, &mut out);
            } else if !line.trim_start().starts_with('#') {
                script.push_str(line);
                script.push('\n');
            }
        }
        if documented.is_some() {
            out.last_mut()
                .expect("a command before its answer")
                .documented = documented.take();
        }
        flush(&mut script, &mut documented, &mut out);
    }
    out
}

/// `"key":literal` pairs of a documented answer (which elides with `…`, so is not JSON).
fn documented_fields(doc: &str) -> Vec<(String, Value)> {
    let re = regex::Regex::new(
        r#""([A-Za-z_][A-Za-z0-9_]*)"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null)"#,
    )
    .unwrap();
    re.captures_iter(doc)
        .map(|c| {
            let value: Value = serde_json::from_str(&c[2]).expect("a JSON literal");
            (c[1].to_owned(), value)
        })
        .collect()
}

/// Every value under `key`, anywhere in `v`.
fn values_of<'a>(v: &'a Value, key: &str, found: &mut Vec<&'a Value>) {
    match v {
        Value::Object(map) => {
            for (k, inner) in map {
                if k == key {
                    found.push(inner);
                }
                values_of(inner, key, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| values_of(i, key, found)),
        _ => {}
    }
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':'
}

/// An id such as `ST_5cab…` or `CL_…`: its kind (the part before `_`) is what is documented.
fn id_kind(s: &str) -> Option<&str> {
    let (kind, rest) = s.split_once('_')?;
    (kind.len() >= 2
        && kind.len() <= 5
        && kind.chars().all(|c| c.is_ascii_alphabetic())
        && !rest.is_empty()
        && !rest.contains(' '))
    .then_some(kind)
}

/// Whether `actual` is what the README documents as `doc`: equal literals; ids of the same
/// kind; timestamps in the same format; text elided with `…` matching up to the `…`.
fn matches(doc: &Value, actual: &Value) -> bool {
    match (doc, actual) {
        (Value::String(d), Value::String(a)) => {
            if is_timestamp(d) {
                return is_timestamp(a) && d.len() == a.len();
            }
            if let Some(kind) = id_kind(d) {
                return id_kind(a) == Some(kind);
            }
            match d.split_once('…') {
                Some((head, _)) => a.starts_with(head),
                None => d == a,
            }
        }
        (d, a) => d == a,
    }
}

#[test]
fn readme_walkthrough_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let blocks = runnable_blocks(&readme);
    assert!(!blocks.is_empty(), "no {MARKER} block in the README");
    let all: Vec<&String> = blocks.iter().flatten().collect();
    // Runnable means no placeholder left for the reader to fill in.
    for line in all.iter().filter(|l| !l.trim_start().starts_with('#')) {
        assert!(
            !line.contains('…') && !line.contains("..."),
            "a placeholder in a runnable README line: {line}"
        );
    }
    let serve_line = all
        .iter()
        .find(|l| l.contains("-- serve"))
        .expect("the walk-through starts the server");
    assert!(serve_line.contains("serve --demo"), "{serve_line}");

    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[("TRUNKLINE_DEMO", "true".into())]);
    let steps = steps(&blocks);
    assert!(steps.iter().any(|s| s.documented.is_some()));

    // One bash for every step, so shell variables carry over as they do for a reader; each
    // step's output ends with a marker line.
    let mut script = String::from("set -euo pipefail\n");
    for (i, step) in steps.iter().enumerate() {
        let body = step
            .script
            .lines()
            .filter(|l| !l.contains("-- serve"))
            .collect::<Vec<_>>()
            .join("\n")
            .replace("cargo run -q --release -p trunkline --", BIN)
            .replace("cargo run --release -p trunkline --", BIN)
            .replace("http://127.0.0.1:8080", &server.url);
        script.push_str(&format!("{body}\nprintf '\\n@@step {i}@@\\n'\n"));
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let log = server.stop();
    assert!(
        out.status.success(),
        "the walk-through failed ({}):\n{stdout}\n{stderr}\nserver log:\n{log}",
        out.status
    );

    let mut outputs = stdout.split("@@step ");
    let mut rest = vec![outputs.next().unwrap_or_default().to_owned()];
    for chunk in outputs {
        let (_, after) = chunk.split_once("@@\n").unwrap_or(("", chunk));
        rest.push(after.to_owned());
    }
    let mut compared = 0;
    for (i, step) in steps.iter().enumerate() {
        let Some(doc) = &step.documented else {
            continue;
        };
        let printed = rest[i].trim();
        let actual: Value = serde_json::from_str(printed).unwrap_or_else(|e| {
            panic!(
                "step {i} printed no JSON ({e}):\n{}\n{printed}",
                step.script
            )
        });
        let fields = documented_fields(doc);
        assert!(!fields.is_empty(), "no field documented in {doc}");
        for (key, want) in fields {
            let mut found = Vec::new();
            values_of(&actual, &key, &mut found);
            assert!(
                found.iter().any(|got| matches(&want, got)),
                "step {i}:\n{}\ndocuments \"{key}\": {want}, but the answer has {found:?}:\n{actual}",
                step.script
            );
            compared += 1;
        }
    }
    assert!(compared >= 10, "only {compared} documented fields compared");
}
