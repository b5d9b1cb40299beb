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
    /// migrations. Safe to call from several processes at once (`serve` and `bridge`).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, true).await
    }

    /// Connects to a database that `open` has created before, and applies pending
    /// migrations; [`StoreError::Missing`] when there is no SQLite file, or no trunkline
    /// tables in it or in the PostgreSQL database. For the commands that must not start an
    /// empty database of their own by mistake (`keys`, `trunks test`).
    pub async fn open_existing(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, false).await
    }

    async fn open_with(url: &str, create: bool) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let url = match backend {
            Backend::Sqlite => sqlite_url(url, create)?,
            Backend::Postgres => url.to_owned(),
        };
        let pool_of = |size: u32| {
            let options = AnyPoolOptions::new()
                .max_connections(size)
                .acquire_timeout(Duration::from_secs(10));
            if backend == Backend::Sqlite {
                options.after_connect(|conn, _meta| Box::pin(sqlite_pragmas(conn)))
            } else {
                // sqlx pings a connection before every checkout by default: on PostgreSQL a
                // second round trip per query, which doubled the database work of the hot
                // reads. A connection used within the last second is handed out as is; one
                // idle longer (a server restarted meanwhile) is still checked first.
                options
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= Duration::from_secs(1) {
                                sqlx::Connection::ping(conn).await?;
                            }
                            Ok(true)
                        })
                    })
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
                if !create {
                    require_schema(&writer, backend, &url).await?;
                }
                MIGRATIONS.run(&writer).await?;
                (pool_of(8).connect(&url).await?, writer)
            }
            Backend::Postgres => {
                let pool = pool_of(16).connect(&url).await?;
                if !create {
                    require_schema(&pool, backend, &url).await?;
                }
                MIGRATIONS.run(&pool).await?;
                (pool.clone(), pool)
            }
        };
        // Another process can change PostgreSQL's trunks and keys: lists cached there are
        // checked against the stored generation, and keys are checked on every request.
        Ok(Self {
            pool,
            writer,
            backend,
            list_cache: Some(Default::default()),
            fresh: (backend == Backend::Postgres)
                .then(|| std::sync::Arc::new(crate::fresh_reads::FreshReads::new(true))),
            notified: None,
            url: url.into(),
        })
    }
}

/// Whether migrations have ever run here: sqlx's bookkeeping table exists.
async fn require_schema(
    pool: &sqlx::AnyPool,
    backend: Backend,
    url: &str,
) -> Result<(), StoreError> {
    let query = match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = '_sqlx_migrations' AND table_schema = current_schema()"
        }
    };
    let (n,): (i64,) = sqlx::query_as(query).fetch_one(pool).await?;
    if n == 0 {
        return Err(StoreError::Missing(format!(
            "the database {} has no trunkline tables",
            describe_url(url)
        )));
    }
    Ok(())
}

/// How to name a database to its operator: an SQLite file as given and as an absolute path
/// (a command run from another directory finds another file), a PostgreSQL URL without its
/// password.
pub fn describe_url(url: &str) -> String {
    if let Some(path) = sqlite_path(url) {
        return match std::path::absolute(&path) {
            Ok(abs) if abs != path => format!("{} ({})", path.display(), abs.display()),
            _ => path.display().to_string(),
        };
    }
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            let query: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k.eq_ignore_ascii_case("password") {
                        "***".into()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            if !query.is_empty() {
                parsed.query_pairs_mut().clear().extend_pairs(query);
            }
            parsed.to_string()
        }
        Err(_) => "(an unparsable database URL)".into(),
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

/// The URL to connect with. Creating: ensures the file's directory exists and creates the
/// file privately. Not creating: the file must exist, and SQLite is told not to create it.
fn sqlite_url(url: &str, create: bool) -> Result<String, StoreError> {
    let path = sqlite_path(url).unwrap_or_default();
    let path = path.to_str().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::BadUrl(
            "sqlite needs a file path (an in-memory database would lose every trunk on restart)"
                .into(),
        ));
    }
    let mode = if create {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
        }
        create_private(std::path::Path::new(path))?;
        "rwc"
    } else {
        if !std::path::Path::new(path).is_file() {
            return Err(StoreError::Missing(format!(
                "there is no database at {}",
                describe_url(url)
            )));
        }
        "rw"
    };
    Ok(if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode={mode}")
    } else {
        format!("{url}?mode={mode}")
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

    #[tokio::test]
    async fn open_existing_refuses_what_open_did_not_create() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sub/t.db");
        let url = format!("sqlite://{}", db.display());
        let err = Store::open_existing(&url).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Missing(m) if m.contains(&db.display().to_string())),
            "{err}"
        );
        assert!(!dir.path().join("sub").exists(), "a directory was created");
        // A file that is not a trunkline database yet (empty, or an interrupted first start).
        std::fs::create_dir_all(db.parent().unwrap()).unwrap();
        std::fs::write(&db, b"").unwrap();
        let err = Store::open_existing(&url).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Missing(m) if m.contains("no trunkline tables")),
            "{err}"
        );
        Store::open(&url).await.unwrap().close().await;
        let store = Store::open_existing(&url).await.unwrap();
        store.ping().await.unwrap();
        store.close().await;
    }

    #[test]
    fn database_names_never_carry_a_password() {
        let cases = [
            (
                "postgres://app:s3cret@db.internal:5432/trunkline",
                "postgres://app:***@db.internal:5432/trunkline",
            ),
            (
                "postgresql://app@db.internal/trunkline?sslmode=require&password=s3cret",
                "postgresql://app@db.internal/trunkline?sslmode=require&password=***",
            ),
            (
                "postgres://db.internal/trunkline",
                "postgres://db.internal/trunkline",
            ),
            (
                "sqlite:///var/lib/trunkline/t.db",
                "/var/lib/trunkline/t.db",
            ),
        ];
        for (url, want) in cases {
            assert_eq!(describe_url(url), want);
        }
        let relative = describe_url("sqlite://./data/t.db");
        let cwd = std::env::current_dir().unwrap();
        assert!(
            relative.starts_with("./data/t.db (") && relative.contains(&cwd.display().to_string()),
            "{relative}"
        );
    }
}
