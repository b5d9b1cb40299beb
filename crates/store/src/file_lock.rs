//! Advisory locks (flock(2)) on small files beside the SQLite database, for what SQLite's own
//! locking does not cover: applying migrations to a fresh file from two processes at once
//! (sqlx takes no lock on SQLite), and one `serve` per file (its caches assume it is the only
//! writer of trunks). A lock lives as long as its open file: a process that dies, even by
//! `kill -9`, releases it.

use crate::StoreError;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An exclusive lock, released when dropped.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    path: PathBuf,
}

impl FileLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Opens (creating, owner-only) the lock file.
fn open(path: &Path) -> std::io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Takes the lock if it is free; `Ok(false)` when another open file holds it.
fn try_lock(file: &File) -> std::io::Result<bool> {
    #[cfg(unix)]
    {
        use rustix::fs::{flock, FlockOperation};
        match flock(file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(true),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        Ok(true)
    }
}

fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::DataFile {
        path: path.display().to_string(),
        source,
    }
}

/// Waits up to `patience` for the lock on `path` (while another process opens the
/// database, which takes milliseconds, or seconds for a long migration).
pub async fn wait_for(path: &Path, patience: Duration) -> Result<FileLock, StoreError> {
    let file = open(path).map_err(|e| io_error(path, e))?;
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if try_lock(&file).map_err(|e| io_error(path, e))? {
            return Ok(FileLock {
                _file: file,
                path: path.to_owned(),
            });
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StoreError::Busy(format!(
                "another trunkline process has been opening the database for {} s (it holds {}); if none runs, remove that file",
                patience.as_secs(),
                path.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Takes the lock on `path` now and writes this process's id into the file; when another
/// process holds it, answers `Err(Some(pid))` with the id it wrote (`Err(None)` if unreadable).
pub fn claim(path: &Path) -> Result<Result<FileLock, Option<u32>>, StoreError> {
    let mut file = open(path).map_err(|e| io_error(path, e))?;
    if try_lock(&file).map_err(|e| io_error(path, e))? {
        let pid = std::process::id().to_string();
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(pid.as_bytes()))
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error(path, e))?;
        return Ok(Ok(FileLock {
            _file: file,
            path: path.to_owned(),
        }));
    }
    // The holder writes its pid right after locking: give it a moment.
    for _ in 0..50 {
        let mut text = String::new();
        let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
        if let Ok(pid) = text.trim().parse() {
            return Ok(Err(Some(pid)));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(Err(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lock_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = claim(&path).unwrap().expect("free");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            std::process::id().to_string()
        );
        // flock locks belong to the open file, so a second open in this process conflicts too.
        assert_eq!(claim(&path).unwrap().unwrap_err(), Some(std::process::id()));
        let waited = wait_for(&path, Duration::from_millis(100)).await;
        assert!(matches!(waited, Err(StoreError::Busy(_))), "{waited:?}");
        drop(held);
        assert!(wait_for(&path, Duration::from_millis(100)).await.is_ok());
    }
}
