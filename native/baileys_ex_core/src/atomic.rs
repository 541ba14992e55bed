//! Crash-safe replacement of one file: temp file, fsync, rename, directory fsync.
//!
//! A reader sees the old bytes or the new ones, never a mix. On any failure the
//! temp file is removed and the old file is left as it was. A failed fsync is
//! never followed by the rename: after a failed fsync the page cache may hold
//! bytes the disk never got, and a retried fsync can report success anyway.
//!
//! The writer locks its temp file from just after creating it until after the
//! rename. Orphan cleanup in any OS process (in any pid namespace) removes a
//! temp file only when it can take that lock, so a live writer's file is
//! never taken from under it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fs::Fs;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(1);

/// Temp names that may be taken before one is free: a name is only in use
/// when a leftover of a writer with the same pid (a process that died, or
/// one in another pid namespace) holds it, or when cleanup removed ours
/// before we locked it.
const TEMP_ATTEMPTS: usize = 16;

/// `<final name>.tmp-<pid>-<n>`. The original names its temp files
/// `<final name>.tmp-<n>`; ours differ by the second number, so cleanup
/// knows which temp files carry a writer's lock.
pub fn temp_path(final_path: &Path) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = final_path.as_os_str().to_owned();
    name.push(format!(".tmp-{}-{}", std::process::id(), n));
    PathBuf::from(name)
}

/// Who writes a temp file, judged by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TempKind {
    /// `temp_path`'s shape: its writer holds a lock on it while it may be
    /// renamed.
    Ours,
    /// `<final name>.tmp-<n>`: the original module (or an earlier release of
    /// this one) takes no lock.
    Original,
}

/// Whether `name` is a temp file of a data file ending in `extension`.
/// Every data file (credentials, keys, manifest) ends in the extension and a
/// temp name never does, so a key whose id looks like a temp name
/// (`backup.tmp-1` gives `<type>-backup.tmp-1.etf`) is never taken for one.
pub fn temp_kind(name: &[u8], extension: &[u8]) -> Option<TempKind> {
    let at = name.windows(5).rposition(|w| w == b".tmp-")?;
    if !name[..at].ends_with(extension) {
        return None;
    }
    let digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    let suffix = &name[at + 5..];
    match suffix.iter().position(|&b| b == b'-') {
        None if digits(suffix) => Some(TempKind::Original),
        Some(dash) if digits(&suffix[..dash]) && digits(&suffix[dash + 1..]) => {
            Some(TempKind::Ours)
        }
        _ => None,
    }
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
    let (temp, mut file) = create_locked_temp(fs, path)?;
    let result = write_temp(fs, &mut file, data, sync_file).and_then(|()| fs.rename(&temp, path));
    if let Err(err) = result {
        let _ = fs.remove_file(&temp);
        return Err(err);
    }
    // The lock goes with the descriptor, after the rename.
    drop(file);
    if dir_sync == DirSync::Now {
        sync_parent(fs, path)?;
    }
    Ok(())
}

/// A new temp file for `path`, created and locked.
pub(crate) fn create_locked_temp(fs: &dyn Fs, path: &Path) -> io::Result<(PathBuf, File)> {
    for _ in 0..TEMP_ATTEMPTS {
        let temp = temp_path(path);
        let file = match fs.create_exclusive(&temp) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        };
        match fs.lock_temp(&file) {
            Ok(true) => return Ok((temp, file)),
            // Cleanup took the file before the lock; it is gone already.
            Ok(false) => continue,
            Err(err) => {
                let _ = fs.remove_file(&temp);
                return Err(err);
            }
        }
    }
    Err(io::Error::from_raw_os_error(libc::EEXIST))
}

fn write_temp(fs: &dyn Fs, file: &mut File, data: &[u8], sync_file: bool) -> io::Result<()> {
    // Copying megabytes into the page cache and queueing them for the disk is
    // CPU work too; see `offload` for why it runs below the VM's priority.
    crate::offload::run(data.len(), || {
        fs.write_all(file, data)?;
        if sync_file {
            fs.sync_file(file)?;
        }
        Ok(())
    })
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
    fn temp_names_are_ours_and_never_data_file_names() {
        let temp = temp_path(Path::new("/d/creds.etf"));
        let name = temp.file_name().unwrap().to_str().unwrap();
        let suffix = name.strip_prefix("creds.etf.tmp-").unwrap();
        let (pid, n) = suffix.split_once('-').unwrap();
        assert_eq!(pid.parse::<u32>().unwrap(), std::process::id());
        assert!(n.parse::<u64>().unwrap() > 0);
        assert_ne!(temp, temp_path(Path::new("/d/creds.etf")));
        assert_eq!(temp_kind(name.as_bytes(), b".etf"), Some(TempKind::Ours));
    }

    #[test]
    fn only_the_exact_temp_shapes_are_temp_files() {
        let cases: &[(&str, Option<TempKind>)] = &[
            ("creds.etf.tmp-12345", Some(TempKind::Original)),
            ("session-1.0.etf.tmp-1", Some(TempKind::Original)),
            ("session-1.0.etf.tmp-41-7", Some(TempKind::Ours)),
            // Keys whose ids look like temp names are data files.
            ("device-list-backup.tmp-1.etf", None),
            ("sender-key-memory-grp.tmp-99@g.us.etf", None),
            ("session-x.etf.tmp-5.etf", None),
            ("pre-key-y.json.tmp-7-8.etf", None),
            // Near misses.
            ("session-1.etf.tmp-", None),
            ("session-1.etf.tmp-1-", None),
            ("session-1.etf.tmp--1", None),
            ("session-1.etf.tmp-1-2-3", None),
            ("session-1.etf.tmp-12a", None),
            ("session-1.json.tmp-12", None),
            ("notes.tmp-1", None),
        ];
        for (name, kind) in cases {
            assert_eq!(temp_kind(name.as_bytes(), b".etf"), *kind, "{name}");
        }
        assert_eq!(
            temp_kind(b"creds.json.tmp-3", b".json"),
            Some(TempKind::Original)
        );
    }

    #[test]
    fn the_temp_file_is_locked_until_after_the_rename() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.etf");
        let fs = FaultFs::new();
        fs.fail_nth(u64::MAX, &[], 0);
        atomic_write(&fs, &path, b"v", true, DirSync::Now).unwrap();
        let log = fs.log();
        let lock = log.iter().position(|op| *op == FsOp::Lock).unwrap();
        let rename = log.iter().position(|op| *op == FsOp::Rename).unwrap();
        assert_eq!(log[lock - 1], FsOp::Open, "locked right after creating");
        assert!(lock < rename);
    }

    #[test]
    fn a_taken_temp_name_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.etf");
        // Leftovers holding the next few names, as a writer with our pid in
        // another pid namespace would leave them.
        let next = TEMP_COUNTER.load(Ordering::SeqCst);
        for n in next..next + 4 {
            let name = format!("k.etf.tmp-{}-{n}", std::process::id());
            std::fs::write(dir.path().join(name), b"other").unwrap();
        }
        atomic_write(&RealFs, &path, b"mine", true, DirSync::Now).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"mine");
        for n in next..next + 4 {
            let name = format!("k.etf.tmp-{}-{n}", std::process::id());
            assert_eq!(std::fs::read(dir.path().join(name)).unwrap(), b"other");
        }
    }

    #[test]
    fn every_failing_step_keeps_the_old_value_and_no_temp() {
        let ops: &'static [FsOp] = &[
            FsOp::Open,
            FsOp::Lock,
            FsOp::Write,
            FsOp::Fsync,
            FsOp::Rename,
        ];
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
