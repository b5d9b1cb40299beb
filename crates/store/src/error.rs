use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique key already holds this value (the message names the key, never the value).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("the database URL is not supported: {0}")]
    BadUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// `open_existing` found no database (the message names it).
    #[error("{0}")]
    Missing(String),
    /// Another process holds a lock this one needs (the message says which, and what to do).
    #[error("{0}")]
    Busy(String),
    #[error("could not create the database file {path}: {source}")]
    DataFile {
        path: String,
        source: std::io::Error,
    },
    #[error("could not prepare the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

impl StoreError {
    /// Maps a unique-key violation to `Conflict(what)`, anything else unchanged.
    pub(crate) fn unique(err: sqlx::Error, what: &'static str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict(what),
            _ => Self::Database(err),
        }
    }
}
