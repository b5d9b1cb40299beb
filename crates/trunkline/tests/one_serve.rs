//! One `serve` per SQLite file: a second one on the same file stops at once and names the
//! first one's pid; `bridge` and `keys` still work beside it; the lock dies with its holder.

mod support;
use std::time::{Duration, Instant};
use support::*;

#[test]
fn a_second_serve_on_the_same_sqlite_file_fails_fast_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let first = serve(dir.path(), &[]);
    let started = Instant::now();
    let err = serve_refused(dir.path(), &[]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        err.contains(&format!("pid {}", first.child.id())),
        "the first serve's pid is not named: {err}"
    );
    assert!(
        err.contains("trunkline-data/trunkline.db") && err.contains("PostgreSQL"),
        "{err}"
    );
    // keys work beside the running serve.
    let key = create_key(dir.path(), "ops@acme.test", &[]);
    assert!(key.starts_with("tlk_"));
    first.stop();
    // Stopped, or killed: the next serve starts.
    let second = serve(dir.path(), &[]);
    second.kill9();
    serve(dir.path(), &[]).stop();
}
