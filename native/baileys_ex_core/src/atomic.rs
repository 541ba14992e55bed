//! Crash-safe replacement of one file: temp file, fsync, rename, directory fsync.
//!
//! A reader sees the old bytes or the new ones, never a mix. On any failure the
//! temp file is removed and the old file is left as it was. A failed fsync is
//! never followed by the rename: after a failed fsync the page cache may hold
//! bytes the disk never got, and a retried fsync can report success anyway.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fs::Fs;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(1);

/// `<final name>.tmp-<positive integer>`, unique across processes sharing the
/// directory: a counter, then the pid in a fixed 7-digit field (Linux pids
/// stay below 2^22), so the suffix stays short and two processes never
/// produce the same number.
pub fn temp_path(final_path: &Path) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = final_path.as_os_str().to_owned();
    name.push(format!(".tmp-{}{:07}", n, std::process::id() % 10_000_000));
    PathBuf::from(name)
}

/// Whether to fsync the containing directory after the rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirSync {
    Now,
    /// The caller fsyncs the directory itself before acknowledging, e.g. once
    /// for a data file and the manifest written right after it.
    Deferred,
}

pub fn atomic_write(
    fs: &dyn Fs,
    path: &Path,
    data: &[u8],
    sync_file: bool,
    dir_sync: DirSync,
) -> io::Result<()> {
    let temp = temp_path(path);
    let result = write_temp(fs, &temp, data, sync_file).and_then(|()| fs.rename(&temp, path));
    if let Err(err) = result {
        let _ = fs.remove_file(&temp);
        return Err(err);
    }
    if dir_sync == DirSync::Now {
        sync_parent(fs, path)?;
    }
    Ok(())
}

fn write_temp(fs: &dyn Fs, temp: &Path, data: &[u8], sync_file: bool) -> io::Result<()> {
    // Copying megabytes into the page cache and queueing them for the disk is
    // CPU work too; see `offload` for why it runs below the VM's priority.
    crate::offload::run(data.len(), || write_and_sync(fs, temp, data, sync_file))
}

fn write_and_sync(fs: &dyn Fs, temp: &Path, data: &[u8], sync_file: bool) -> io::Result<()> {
    let mut file = fs.create_exclusive(temp)?;
    fs.write_all(&mut file, data)?;
    if sync_file {
        fs.sync_file(&file)?;
    }
    Ok(())
}

pub fn sync_parent(fs: &dyn Fs, path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => fs.sync_dir(dir),
        _ => fs.sync_dir(Path::new(".")),
    }
}

/// Removes `path` and makes the removal durable; a missing file is fine.
pub fn remove_synced(fs: &dyn Fs, path: &Path) -> io::Result<bool> {
    match fs.remove_file(path) {
        Ok(()) => {
            sync_parent(fs, path)?;
            Ok(true)
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{FaultFs, FsOp, RealFs};

    fn dir_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.etf");
        atomic_write(&RealFs, &path, b"one", true, DirSync::Now).unwrap();
        atomic_write(&RealFs, &path, b"two", true, DirSync::Now).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(dir_names(dir.path()), ["a.etf"]);
    }

    #[test]
    fn temp_names_follow_the_original_pattern() {
        let temp = temp_path(Path::new("/d/creds.etf"));
        let name = temp.file_name().unwrap().to_str().unwrap();
        let suffix = name.strip_prefix("creds.etf.tmp-").unwrap();
        assert!(suffix.parse::<u128>().unwrap() > 0);
        assert_ne!(temp, temp_path(Path::new("/d/creds.etf")));
    }

    #[test]
    fn every_failing_step_keeps_the_old_value_and_no_temp() {
        let ops: &'static [FsOp] = &[FsOp::Open, FsOp::Write, FsOp::Fsync, FsOp::Rename];
        for nth in 1..=ops.len() as u64 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("k.etf");
            std::fs::write(&path, b"old").unwrap();
            let fs = FaultFs::new();
            fs.fail_nth(nth, ops, libc::ENOSPC);
            let err = atomic_write(&fs, &path, b"new", true, DirSync::Now).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
            assert_eq!(std::fs::read(&path).unwrap(), b"old");
            assert_eq!(dir_names(dir.path()), ["k.etf"]);
        }
    }

    #[test]
    fn a_failed_fsync_is_never_followed_by_a_rename() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.etf");
        let fs = FaultFs::new();
        fs.fail_nth(1, &[FsOp::Fsync], libc::EIO);
        assert!(atomic_write(&fs, &path, b"new", true, DirSync::Now).is_err());
        assert!(!fs.log().contains(&FsOp::Rename));
        assert!(!path.exists());
    }

    #[test]
    fn removal_of_a_missing_file_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.etf");
        assert!(!remove_synced(&RealFs, &path).unwrap());
        std::fs::write(&path, b"x").unwrap();
        assert!(remove_synced(&RealFs, &path).unwrap());
        assert!(!path.exists());
    }
}
