use crate::{Store, StoreError};
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use std::time::Duration;

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::BadUrl(
                "expected sqlite:<path> or postgres://… (the scheme is not recognized)".into(),
            ))
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl Store {
    /// Connects, creating the SQLite file (and its directory) if needed, and applies pending
    /// migrations. Safe to call from several processes at once (`serve` and `keys`).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let url = match backend {
            Backend::Sqlite => sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let pool_of = |size: u32| {
            let options = AnyPoolOptions::new()
                .max_connections(size)
                .acquire_timeout(Duration::from_secs(10));
            if backend == Backend::Sqlite {
                options.after_connect(|conn, _meta| Box::pin(sqlite_pragmas(conn)))
            } else {
                options
            }
        };
        // Two processes migrating one fresh SQLite file at once (`serve` and `bridge` at first
        // start) would both create the tables: sqlx locks PostgreSQL for migrations, not SQLite.
        let _migrating = match backend {
            Backend::Sqlite => Some(
                crate::file_lock::wait_for(
                    &beside(&sqlite_path(&url).unwrap_or_default(), "migrate.lock"),
                    Duration::from_secs(60),
                )
                .await?,
            ),
            Backend::Postgres => None,
        };
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                let writer = pool_of(1).connect(&url).await?;
                MIGRATIONS.run(&writer).await?;
                (pool_of(8).connect(&url).await?, writer)
            }
            Backend::Postgres => {
                let pool = pool_of(16).connect(&url).await?;
                MIGRATIONS.run(&pool).await?;
                (pool.clone(), pool)
            }
        };
        // Another process could change PostgreSQL's trunks behind a cache's back; with SQLite
        // this process is the only one that writes them (`trunkline keys` writes keys only).
        let list_cache = (backend == Backend::Sqlite).then(Default::default);
        Ok(Self {
            pool,
            writer,
            backend,
            list_cache,
        })
    }
}

/// WAL lets readers run beside the writer; synchronous=FULL makes an acknowledged commit
/// survive power loss, not only a killed process; busy_timeout lets `trunkline keys` write
/// while `serve` runs.
async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    for pragma in [
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
        "PRAGMA busy_timeout = 10000",
    ] {
        sqlx::Executor::execute(&mut *conn, pragma).await?;
    }
    Ok(())
}

/// The file an `sqlite:` URL names (None for other URLs).
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty()).then(|| std::path::PathBuf::from(path))
}

/// `<database file>.<suffix>`: a file that belongs with the database (locks).
pub fn beside(db: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    name.into()
}

/// Ensures the SQLite file's directory exists and asks sqlx to create the file.
fn sqlite_url(url: &str) -> Result<String, StoreError> {
    let path = sqlite_path(url).unwrap_or_default();
    let path = path.to_str().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::BadUrl(
            "sqlite needs a file path (an in-memory database would lose every trunk on restart)"
                .into(),
        ));
    }
    if let Some(dir) = std::path::Path::new(path).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
    }
    create_private(std::path::Path::new(path))?;
    Ok(if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

/// Creates the SQLite file readable by its owner only, unless it exists. It holds tenants'
/// data, API key hashes and sealed secrets; SQLite would create it 0644, and it creates the
/// `-wal` and `-shm` files with the database file's own mode, so they follow. An existing
/// file keeps its mode (another account may be meant to read it), with a warning when others
/// can read it.
fn create_private(path: &std::path::Path) -> Result<(), StoreError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if let Ok(m) = std::fs::metadata(path) {
                    let mode = m.permissions().mode() & 0o777;
                    if mode & 0o007 != 0 {
                        tracing::warn!(
                            path = %path.display(),
                            mode = format!("{mode:03o}"),
                            "the database file can be read by any user on this host: consider `chmod 600` (and on its -wal and -shm files)"
                        );
                    }
                }
            }
            Ok(())
        }
        Err(source) => Err(StoreError::DataFile {
            path: path.display().to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `serve` and `bridge` (and `keys`) opening a fresh file at the same moment: each
    /// migration runs once, and every opener gets a working store.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_opens_all_succeed() {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/data/t.db", dir.path().display());
            let opens: Vec<_> = (0..6)
                .map(|_| {
                    let url = url.clone();
                    tokio::spawn(async move { Store::open(&url).await })
                })
                .collect();
            for o in opens {
                let store = o.await.unwrap().expect("open");
                store.ping().await.unwrap();
                store.close().await;
            }
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_database_file_is_private_and_so_are_its_wal_and_shm() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let store = Store::open(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        store.ping().await.unwrap();
        for name in ["t.db", "t.db-wal", "t.db-shm"] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        store.close().await;
    }
}
