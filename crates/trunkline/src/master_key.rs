//! Where the master key comes from: `TRUNKLINE_MASTER_KEY`, or (SQLite only) a 0600 file
//! beside the database, generated on first start. Rotation with the file keeps every
//! intermediate state recoverable: the next key is written before any secret is re-sealed.

use crate::config::DbArgs;
use std::io::Write;
use std::path::{Path, PathBuf};
use trunkline_core::sealing::{Keyring, MasterKey};
use trunkline_store::{sqlite_path, Backend};

pub struct KeyFiles {
    pub current: PathBuf,
    pub next: PathBuf,
    pub previous: PathBuf,
}

/// The key files of an SQLite deployment.
pub fn files(db: &DbArgs) -> Option<KeyFiles> {
    let path = sqlite_path(&db.database_url)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    Some(KeyFiles {
        current: dir.join("master.key"),
        next: dir.join("master.key.next"),
        previous: dir.join("master.key.previous"),
    })
}

fn parse(what: &str, encoded: &str) -> Result<MasterKey, String> {
    MasterKey::from_base64(encoded).map_err(|e| format!("{what}: {e}"))
}

/// The one key a key file holds, if the file exists.
fn read_key(path: &Path) -> Result<Option<MasterKey>, String> {
    let mut keys = read_keys(path)?;
    if keys.len() > 1 {
        return Err(format!("{} must hold one key", path.display()));
    }
    Ok(keys.pop())
}

/// Writes a key file readable by its owner only, durably.
pub fn write_key(path: &Path, encoded: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(encoded.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn previous_from_env(db: &DbArgs) -> Result<Vec<MasterKey>, String> {
    db.master_key_previous
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|k| parse("TRUNKLINE_MASTER_KEY_PREVIOUS", k))
        .collect()
}

/// Adds a key to the previous-keys file (one per line), durably, unless it is there already.
pub fn remember_previous(path: &Path, encoded: &str) -> Result<(), String> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    if existing.lines().any(|l| l.trim() == encoded) {
        return Ok(());
    }
    let mut all = existing.trim_end().to_owned();
    if !all.is_empty() {
        all.push('\n');
    }
    all.push_str(encoded);
    write_key(path, &all)
}

fn read_keys(path: &Path) -> Result<Vec<MasterKey>, String> {
    match std::fs::read_to_string(path) {
        Ok(s) => s
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| parse(&path.display().to_string(), l))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The keyring for `serve` and `keys`.
pub fn load(db: &DbArgs) -> Result<Keyring, String> {
    let mut previous = previous_from_env(db)?;
    if let Some(encoded) = db.master_key.as_deref().filter(|s| !s.trim().is_empty()) {
        return Ok(Keyring::new(
            parse("TRUNKLINE_MASTER_KEY", encoded)?,
            previous,
        ));
    }
    let backend = Backend::of_url(&db.database_url).map_err(|e| e.to_string())?;
    if backend == Backend::Postgres {
        return Err("TRUNKLINE_MASTER_KEY is required with PostgreSQL (every instance must share it): generate one with `openssl rand -base64 32`".into());
    }
    let files = files(db).ok_or("the SQLite URL names no file")?;
    let current = match read_key(&files.current)? {
        Some(k) => k,
        None => {
            let encoded = MasterKey::generate_base64();
            write_key(&files.current, &encoded)?;
            tracing::warn!(
                path = %files.current.display(),
                "TRUNKLINE_MASTER_KEY is not set: generated a master key and stored it beside the database (mode 0600). \
                 Back it up: without it the sealed trunk passwords cannot be opened"
            );
            parse("generated key", &encoded)?
        }
    };
    // Old keys, and the next key of a rotation in progress: all still open what they sealed.
    previous.extend(read_keys(&files.previous)?);
    previous.extend(read_keys(&files.next)?);
    Ok(Keyring::new(current, previous))
}
