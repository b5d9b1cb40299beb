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
    Ok(if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}
