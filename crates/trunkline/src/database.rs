//! Opening the database every command uses, and, for `serve`, the lock that makes it the
//! only one on an SQLite file.

use crate::settings::{DbArgs, DEFAULT_DATABASE_URL};
use trunkline_store::Store;

/// Opens the database, creating it on first start: for `serve` and `bridge` only.
pub async fn open_store(db: &DbArgs) -> Result<Store, String> {
    tracing::info!(
        database = %trunkline_store::describe_url(&db.database_url),
        "database"
    );
    Store::open(&db.database_url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))
}

/// Opens the database `serve` created, naming it on stderr: the other commands must not
/// start an empty database of their own, e.g. when run from another directory.
pub async fn open_existing_store(db: &DbArgs) -> Result<Store, String> {
    eprintln!(
        "database: {}",
        trunkline_store::describe_url(&db.database_url)
    );
    Store::open_existing(&db.database_url)
        .await
        .map_err(|e| match e {
            trunkline_store::StoreError::Missing(what) => format!(
                "{what}. `trunkline serve` (or `trunkline bridge`) creates it on first start; \
                 run this command with the DATABASE_URL that serve uses (the default, {DEFAULT_DATABASE_URL}, is relative to the current directory)"
            ),
            other => format!("cannot open the database: {other}"),
        })
}

/// With SQLite, takes the lock that makes this the only `serve` on the file (its trunk-list
/// cache assumes no other process writes trunks): an flock on `<database>.lock`, holding our
/// pid, released when the process ends however it ends. `bridge` and `keys` take no part.
#[cfg(feature = "api")]
pub fn claim_sqlite(db: &DbArgs) -> Result<Option<trunkline_store::file_lock::FileLock>, String> {
    let Some(path) = trunkline_store::sqlite_path(&db.database_url) else {
        return Ok(None);
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let lock = trunkline_store::beside(&path, "lock");
    match trunkline_store::file_lock::claim(&lock).map_err(|e| e.to_string())? {
        Ok(held) => Ok(Some(held)),
        Err(pid) => Err(format!(
            "another `trunkline serve` ({}) is using the database {}: stop it first. One serve runs per SQLite file \
             (it caches what it writes); to run several instances, use PostgreSQL (DATABASE_URL=postgres://…). The lock is {}",
            pid.map_or("whose pid could not be read".to_owned(), |p| format!("pid {p}")),
            trunkline_store::describe_url(&db.database_url),
            lock.display()
        )),
    }
}
