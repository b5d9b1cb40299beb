//! Which database a command uses: only `serve` (and `bridge`) create one and its master key;
//! the other commands refuse a missing database, saying where they looked and what creates
//! it, and every command names its database on stderr.

mod support;
use support::*;

/// The commands that work on an existing database.
const TOOLS: &[&[&str]] = &[
    &[
        "keys",
        "create",
        "--name",
        "Acme",
        "--email",
        "ops@acme.test",
    ],
    &["keys", "list"],
    &["keys", "revoke", "AK_0123456789abcdef0123456789abcdef"],
    &["keys", "rotate-master"],
    &["trunks", "test", "ST_0123456789abcdef0123456789abcdef"],
];

#[test]
fn commands_other_than_serve_refuse_a_missing_database_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let abs = dir.path().join("trunkline-data/trunkline.db");
    let elsewhere = dir.path().join("elsewhere/t.db");
    for args in TOOLS {
        // The default database, relative to the current directory.
        let (ok, _, err) = run(dir.path(), args, &[]);
        assert!(!ok, "{args:?} succeeded without a database");
        assert!(
            err.contains(&format!(
                "there is no database at ./trunkline-data/trunkline.db ({})",
                abs.display()
            )),
            "{args:?}: {err}"
        );
        assert!(err.contains("`trunkline serve`"), "{args:?}: {err}");
        assert!(
            !dir.path().join("trunkline-data").exists(),
            "{args:?} created the data directory"
        );
        // A database named by DATABASE_URL, or by --database-url.
        let url = format!("sqlite://{}", elsewhere.display());
        let (ok, _, err) = run(dir.path(), args, &[("DATABASE_URL", url.clone())]);
        assert!(
            !ok && err.contains(&format!("there is no database at {}", elsewhere.display())),
            "{args:?}: {err}"
        );
        assert!(!dir.path().join("elsewhere").exists(), "{args:?}");
    }
    // A file that exists but was never set up (an interrupted first start, a typo'd path
    // someone touched) is not taken for a database either.
    std::fs::create_dir_all(abs.parent().unwrap()).unwrap();
    std::fs::write(&abs, b"").unwrap();
    let (ok, _, err) = run(dir.path(), &["keys", "list"], &[]);
    assert!(!ok && err.contains("has no trunkline tables"), "{err}");
    assert!(!dir.path().join("trunkline-data/master.key").exists());
}

#[test]
fn every_command_names_its_database_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let abs = dir.path().join("trunkline-data/trunkline.db");
    let named = format!("./trunkline-data/trunkline.db ({})", abs.display());
    let server = serve(dir.path(), &[]);
    assert!(
        server.log.lock().unwrap().contains(&named),
        "{}",
        server.log.lock().unwrap()
    );
    let key = create_key(dir.path(), "ops@acme.test", &[]);
    assert!(key.starts_with("tlk_"));
    for args in TOOLS {
        let (_, _, err) = run(dir.path(), args, &[]);
        assert!(
            err.lines()
                .next()
                .is_some_and(|l| l == format!("database: {named}")),
            "{args:?}: {err}"
        );
    }
    server.stop();
}

#[test]
fn a_missing_master_key_is_never_generated_outside_serve() {
    let dir = tempfile::tempdir().unwrap();
    serve(dir.path(), &[]).stop();
    let key_file = dir.path().join("trunkline-data/master.key");
    std::fs::remove_file(&key_file).unwrap();
    for args in [
        &["keys", "rotate-master"][..],
        &["trunks", "test", "ST_0123456789abcdef0123456789abcdef"],
    ] {
        let (ok, _, err) = run(dir.path(), args, &[]);
        assert!(!ok, "{args:?}");
        assert!(
            err.contains("there is no master key at ./trunkline-data/master.key"),
            "{args:?}: {err}"
        );
        assert!(!key_file.exists(), "{args:?} wrote a master key");
    }
    // keys create needs no master key, and does not write one.
    create_key(dir.path(), "ops@acme.test", &[]);
    assert!(!key_file.exists());
}

/// With TRUNKLINE_TEST_POSTGRES (CI's PostgreSQL pass): a PostgreSQL database without
/// trunkline's tables is refused the same way, and its URL is named without the password.
#[test]
fn a_postgres_database_without_tables_is_refused_and_named_without_its_password() {
    let Some(admin) = std::env::var("TRUNKLINE_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!("TRUNKLINE_TEST_POSTGRES is not set: this test needs PostgreSQL");
        return;
    };
    let name = format!("tl_test_cli_{}", std::process::id());
    let psql = |sql: &str| {
        let out = std::process::Command::new("psql")
            .args([admin.as_str(), "-qc", sql])
            .output()
            .expect("psql");
        assert!(out.status.success(), "{sql}: {out:?}");
    };
    psql(&format!("CREATE DATABASE {name}"));
    // Trust authentication ignores the password, so it only has to stay out of the output.
    let (scheme_user, host_db) = admin.split_once('@').unwrap();
    let host = host_db.rsplit_once('/').unwrap().0;
    let url = format!("{scheme_user}:hunter2@{host}/{name}");
    let masked = format!("{scheme_user}:***@{host}/{name}");
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("DATABASE_URL", url),
        (
            "TRUNKLINE_MASTER_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_owned(),
        ),
    ];
    let (ok, _, err) = run(dir.path(), &["keys", "list"], &envs);
    let refused = !ok
        && err.contains(&format!("the database {masked} has no trunkline tables"))
        && err.contains(&format!("database: {masked}"))
        && !err.contains("hunter2");
    let server = serve(dir.path(), &envs);
    let log = server.stop();
    let (listed, _, after) = run(dir.path(), &["keys", "list"], &envs);
    psql(&format!("DROP DATABASE {name} WITH (FORCE)"));
    assert!(refused, "{err}");
    assert!(log.contains(&masked) && !log.contains("hunter2"), "{log}");
    assert!(listed, "{after}");
}
