//! Where the master key comes from: `TRUNKLINE_MASTER_KEY`, or (SQLite only) a 0600 file
//! beside the database, generated on first start. Rotation with the file keeps every
//! intermediate state recoverable: the next key is written before any secret is re-sealed.

use crate::settings::DbArgs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// Refuses a key file that group or others may read. Tightening it quietly would hide that
/// the key may already have been read (the operator should judge whether to rotate it), and
/// a file owned by someone else could not be tightened anyway; so say what to run.
fn check_private(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match std::fs::metadata(path) {
            Ok(m) => m.permissions().mode() & 0o777,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        if mode & 0o077 != 0 {
            return Err(format!(
                "the master key file {path} may be read by group or others (mode {mode:03o}); it must be readable by its owner only. \
                 Run `chmod 600 {path}`, and if others may have read it, rotate the key (`trunkline keys rotate-master`)",
                path = path.display()
            ));
        }
    }
    Ok(())
}

/// Opens a new file readable by its owner only; fails if the name exists (O_EXCL).
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Creates the key file `path` holding `encoded`, unless it exists; answers whether this call
/// created it. `serve` and `bridge` may both start on a fresh install at the same moment:
/// exactly one key must win, and the loser must read that one, never a half-written file.
/// So the key is written in full to a private file created with O_EXCL, made durable, then
/// hard-linked into place: link(2) fails when the name exists, as O_EXCL does.
fn create_key_file(path: &Path, encoded: &str) -> Result<bool, String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    static ATTEMPT: AtomicUsize = AtomicUsize::new(0);
    let mut staging = path.as_os_str().to_owned();
    staging.push(format!(
        ".new-{}-{}",
        std::process::id(),
        ATTEMPT.fetch_add(1, Ordering::Relaxed)
    ));
    let staging = PathBuf::from(staging);
    let cannot = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let written = create_private(&staging).and_then(|mut f| {
        f.write_all(encoded.as_bytes())?;
        f.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&staging, path));
    let _ = std::fs::remove_file(&staging);
    match linked {
        Ok(()) => {
            // The new name must survive a crash too.
            if let Some(dir) = dir {
                let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(cannot(e)),
    }
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
    check_private(path)?;
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

/// The keyring for `serve` and `bridge`: generates the key file on a fresh SQLite install.
pub fn load(db: &DbArgs) -> Result<Keyring, String> {
    load_with(db, true)
}

/// The keyring for the other commands: a missing key file is an error, never generated.
pub fn load_existing(db: &DbArgs) -> Result<Keyring, String> {
    load_with(db, false)
}

fn load_with(db: &DbArgs, create: bool) -> Result<Keyring, String> {
    let mut previous = previous_from_env(db)?;
    if let Some(encoded) = db.master_key.as_deref().filter(|s| !s.trim().is_empty()) {
        let current = parse("TRUNKLINE_MASTER_KEY", encoded)?;
        tracing::info!(key = current.id(), "master key from TRUNKLINE_MASTER_KEY");
        return Ok(Keyring::new(current, previous));
    }
    let backend = Backend::of_url(&db.database_url).map_err(|e| e.to_string())?;
    if backend == Backend::Postgres {
        return Err("TRUNKLINE_MASTER_KEY is required with PostgreSQL (every instance must share it): generate one with `openssl rand -base64 32`".into());
    }
    let files = files(db).ok_or("the SQLite URL names no file")?;
    let current = match read_key(&files.current)? {
        Some(k) => k,
        None if !create => {
            return Err(format!(
                "there is no master key at {} and TRUNKLINE_MASTER_KEY is not set. `trunkline serve` generates it beside the database on first start; \
                 if this database's secrets were sealed under a key kept elsewhere, set TRUNKLINE_MASTER_KEY to it or restore that file",
                files.current.display()
            ))
        }
        None => {
            let encoded = MasterKey::generate_base64();
            if create_key_file(&files.current, &encoded)? {
                tracing::warn!(
                    path = %files.current.display(),
                    "TRUNKLINE_MASTER_KEY is not set: generated a master key and stored it beside the database (mode 0600). \
                     Back it up: without it the sealed trunk passwords cannot be opened"
                );
                parse("generated key", &encoded)?
            } else {
                // Another process created it first: use its key.
                read_key(&files.current)?.ok_or_else(|| {
                    format!(
                        "{} is empty: remove it, or restore it from a backup",
                        files.current.display()
                    )
                })?
            }
        }
    };
    tracing::info!(path = %files.current.display(), key = current.id(), "master key");
    // Old keys, and the next key of a rotation in progress: all still open what they sealed.
    previous.extend(read_keys(&files.previous)?);
    previous.extend(read_keys(&files.next)?);
    Ok(Keyring::new(current, previous))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_in(dir: &Path) -> DbArgs {
        DbArgs {
            database_url: format!("sqlite://{}/data/trunkline.db", dir.display()),
            master_key: None,
            master_key_previous: None,
        }
    }

    /// Many first starts at the same instant (`serve` and `bridge` on a fresh install): one
    /// key is written, and every one of them ends up with it.
    #[test]
    fn racing_first_starts_agree_on_one_key() {
        for _round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let db = sqlite_in(dir.path());
            let start = std::sync::Barrier::new(12);
            let ids: Vec<String> = std::thread::scope(|s| {
                let racers: Vec<_> = (0..12)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            load(&db).map(|k| k.current_id().to_owned())
                        })
                    })
                    .collect();
                racers
                    .into_iter()
                    .map(|r| r.join().unwrap().unwrap())
                    .collect()
            });
            let on_disk = read_key(&files(&db).unwrap().current).unwrap().unwrap();
            assert!(
                ids.iter().all(|id| id == on_disk.id()),
                "keys in use {ids:?}, on disk {}",
                on_disk.id()
            );
            let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("data"))
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(leftovers, ["master.key"], "staging files left behind");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_in(dir.path());
        let first = load(&db).unwrap();
        let path = files(&db).unwrap().current;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let Err(err) = load(&db) else {
                panic!("a key file of mode {mode:o} was accepted");
            };
            assert!(
                err.contains(&path.display().to_string())
                    && err.contains(&format!("chmod 600 {}", path.display())),
                "{err}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(load(&db).unwrap().current_id(), first.current_id());
        // The other key files hold keys too.
        let previous = files(&db).unwrap().previous;
        write_key(&previous, &MasterKey::generate_base64()).unwrap();
        std::fs::set_permissions(&previous, std::fs::Permissions::from_mode(0o644)).unwrap();
        let Err(err) = load(&db) else {
            panic!("a readable master.key.previous was accepted");
        };
        assert!(err.contains("master.key.previous"), "{err}");
    }
}
