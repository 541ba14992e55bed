//! Per-directory state shared by every call in this OS process: the manifest
//! lock, the cached manifest, the file lock table, the multi-key commit queue
//! and gate, and the one-time recovery and removal of orphan temp files.
//!
//! The cache never trusts file metadata. Each call still reads the manifest's
//! bytes, and the cached decode is reused only when those bytes are identical
//! to the bytes it was decoded from: another writer, in this process or any
//! other, cannot change the file without changing what we read.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use parking_lot::{Mutex, MutexGuard};

use crate::error::MetadataError;
use crate::fs::Fs;
use crate::layout::{BackendKind, BackendSpec};
use crate::locks::LockTable;
use crate::manifest::Manifest;

static PROCESS_START: OnceLock<SystemTime> = OnceLock::new();
/// One `Directory` per backend and path, shared by every call in the process.
type Registry = Mutex<HashMap<(BackendKind, PathBuf), Arc<Directory>>>;

static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// Records when this process began using the library; temp files older than
/// that cannot belong to a write still in flight here.
pub fn mark_process_start() {
    PROCESS_START.get_or_init(coarse_now);
}

fn process_start() -> SystemTime {
    *PROCESS_START.get_or_init(coarse_now)
}

/// The clock file timestamps come from. The kernel stamps files with a
/// coarse clock that can lag the precise one by a tick; measured on the
/// precise clock, a temp file made just after start could look older than
/// the process and be removed while its write is in flight.
fn coarse_now() -> SystemTime {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    if rc != 0 || ts.tv_sec < 0 {
        return SystemTime::now();
    }
    SystemTime::UNIX_EPOCH + std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// What the manifest held when last read, keyed by its exact bytes.
#[derive(Default)]
pub struct ManifestCache {
    /// `None`: no manifest file. `Some(bytes)`: the bytes decoded below.
    pub bytes: Option<Vec<u8>>,
    /// The decoded manifest; `None` when missing or holding `nil`.
    pub manifest: Option<Manifest>,
    /// Whether `bytes` is exactly what we would write for `manifest`.
    pub canonical: bool,
    pub valid: bool,
    /// The bytes last refused and why, when the same bytes are refused for
    /// good: they are not decoded again.
    pub refused: Option<(Vec<u8>, MetadataError)>,
}

/// A manifest change waiting for the next commit.
#[derive(Debug, Clone)]
pub enum Change {
    /// A key was saved: index its id (`None`: a type the manifest does not
    /// index, which still creates or normalises the manifest, as in the
    /// original).
    Insert(Option<&'static str>, Vec<u8>),
    /// A key was deleted: drop its id, if there is a manifest at all.
    Remove(Option<&'static str>, Vec<u8>),
    /// Credentials were saved: make sure a manifest exists.
    Ensure,
}

impl Change {
    /// Applies this change as the original's read-modify-write would, to a
    /// manifest that `existed` (and whose bytes were `canonical`) before;
    /// returns whether the manifest file must be written.
    pub fn apply(&self, manifest: &mut Manifest, existed: &mut bool, canonical: bool) -> bool {
        match self {
            Change::Insert(key_type, id) => {
                let added = key_type.is_some_and(|t| manifest.insert(t, id));
                let write = added || !*existed || !canonical;
                *existed = true;
                write
            }
            Change::Ensure => {
                let write = !*existed || !canonical;
                *existed = true;
                write
            }
            Change::Remove(key_type, id) if *existed => {
                let dropped = key_type.is_some_and(|t| manifest.remove(t, id));
                dropped || !canonical
            }
            Change::Remove(..) => false,
        }
    }
}

/// One caller's request: its change, and whether it renamed or removed a
/// data file whose directory entry still needs an fsync.
pub struct Pending {
    pub ticket: u64,
    pub change: Change,
    pub entry_changed: bool,
}

/// Group commit: callers queue their manifest changes, and whoever holds the
/// manifest lock next applies every queued change with one manifest write
/// and one directory fsync. Concurrent savers of one directory then share
/// fsyncs instead of queueing for one each.
#[derive(Default)]
pub struct CommitQueue {
    next_ticket: u64,
    pub pending: Vec<Pending>,
    /// Outcomes of committed tickets whose callers have not collected them.
    pub done: HashMap<u64, Result<(), crate::error::Error>>,
}

impl CommitQueue {
    pub fn push(&mut self, change: Change, entry_changed: bool) -> u64 {
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        self.pending.push(Pending {
            ticket,
            change,
            entry_changed,
        });
        ticket
    }
}

pub struct Directory {
    pub path: PathBuf,
    pub spec: &'static BackendSpec,
    pub manifest_path: PathBuf,
    manifest: Mutex<ManifestCache>,
    pub commits: Mutex<CommitQueue>,
    pub files: LockTable,
    /// Multi-key commits: their queue, and the gate single-key writes pass.
    pub atomic_commits: crate::commit::CommitGroup,
}

impl Directory {
    /// Serialises manifest read-modify-write within this process.
    pub fn lock_manifest(&self) -> MutexGuard<'_, ManifestCache> {
        self.manifest.lock()
    }

    /// The manifest lock, unless someone holds it.
    pub fn try_lock_manifest(&self) -> Option<MutexGuard<'_, ManifestCache>> {
        self.manifest.try_lock()
    }

    pub fn file_path(&self, name: &[u8]) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        self.path.join(std::ffi::OsStr::from_bytes(name))
    }
}

/// An absolute, lexically clean spelling of `dir`, so `a/./b/` and `a/b`
/// share one lock table. `..` is kept: resolving it needs the filesystem.
pub fn absolute(dir: &Path) -> std::io::Result<PathBuf> {
    let joined = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()?.join(dir)
    };
    let mut clean = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            other => clean.push(other.as_os_str()),
        }
    }
    Ok(clean)
}

/// The shared state for `dir`, created (and its orphans removed) on first use.
pub fn open(fs: &dyn Fs, spec: &'static BackendSpec, dir: &Path) -> Arc<Directory> {
    let directory = registered(spec, dir);
    // Every caller waits until the first has completed or rolled back a
    // commit a crash cut short, then removed orphans, both under the
    // directory's flock (see `recovery`).
    crate::recovery::once_at_open(fs, &directory, || remove_orphan_temp_files(fs, dir));
    directory
}

fn registered(spec: &'static BackendSpec, dir: &Path) -> Arc<Directory> {
    let registry = REGISTRY.get_or_init(Default::default);
    let key = (spec.kind, dir.to_path_buf());
    if let Some(existing) = registry.lock().get(&key) {
        return Arc::clone(existing);
    }
    let directory = Arc::new(Directory {
        path: dir.to_path_buf(),
        spec,
        manifest_path: dir.join(spec.manifest_file),
        manifest: Mutex::new(ManifestCache::default()),
        commits: Mutex::new(CommitQueue::default()),
        files: LockTable::default(),
        atomic_commits: Default::default(),
    });
    let mut map = registry.lock();
    if let Some(existing) = map.get(&key) {
        return Arc::clone(existing);
    }
    map.insert(key, Arc::clone(&directory));
    directory
}

/// Temp files left by a crash are never read as data, but they pile up.
/// One is an orphan when the process that wrote it is gone: our own temp
/// names end in the writer's pid, so a dead pid settles it at once; for any
/// other temp name (the original's) only a file older than this process can
/// no longer be in flight.
fn remove_orphan_temp_files(fs: &dyn Fs, dir: &Path) {
    let Ok(entries) = fs.list_dir(dir) else {
        return;
    };
    let start = process_start();
    let mut removed = false;
    for entry in entries {
        let Some(suffix) = temp_suffix(&entry.name) else {
            continue;
        };
        use std::os::unix::ffi::OsStrExt;
        let path = dir.join(std::ffi::OsStr::from_bytes(&entry.name));
        let orphan = match writer_pid(suffix) {
            Some(pid) if pid == std::process::id() => false,
            Some(pid) if !process_alive(pid) => true,
            _ => fs.modified(&path).is_ok_and(|m| m < start),
        };
        if orphan {
            removed |= fs.remove_file(&path).is_ok();
        }
    }
    if removed {
        let _ = fs.sync_dir(dir);
    }
}

fn temp_suffix(name: &[u8]) -> Option<&[u8]> {
    let at = name.windows(5).rposition(|w| w == b".tmp-")?;
    Some(&name[at + 5..])
}

/// The pid in the last seven digits of one of our temp suffixes
/// (`crate::atomic::temp_path`), if the suffix has that shape.
fn writer_pid(suffix: &[u8]) -> Option<u32> {
    if suffix.len() < 8 || !suffix.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let digits = std::str::from_utf8(&suffix[suffix.len() - 7..]).ok()?;
    digits.parse().ok().filter(|pid| *pid > 0)
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return true;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::RealFs;
    use crate::layout::ETF;
    use std::time::Duration;

    #[test]
    fn orphans_older_than_the_process_are_removed_on_first_open() {
        mark_process_start();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let old = dir.join("creds.etf.tmp-123");
        let young = dir.join("session-1.etf.tmp-456");
        let data = dir.join("session-1.etf");
        for path in [&old, &young, &data] {
            std::fs::write(path, b"x").unwrap();
        }
        let long_ago = process_start() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        std::fs::File::options()
            .write(true)
            .open(&data)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        open(&RealFs, &ETF, dir);
        assert!(
            !old.exists(),
            "an orphan from before this process is removed"
        );
        assert!(young.exists(), "a temp file that may be in flight stays");
        assert!(data.exists(), "data files are never touched");
    }

    #[test]
    fn temp_files_of_dead_writers_are_orphans_at_once() {
        mark_process_start();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        // pid 4194304 is above Linux's pid limit: never a live process.
        let dead = dir.join("pre-key-1.etf.tmp-74194304");
        let mine = dir.join(format!("pre-key-2.etf.tmp-9{:07}", std::process::id()));
        for path in [&dead, &mine] {
            std::fs::write(path, b"x").unwrap();
        }
        open(&RealFs, &ETF, dir);
        assert!(!dead.exists(), "a dead writer's temp file is removed");
        assert!(
            mine.exists(),
            "this process's own temp files may be in flight"
        );
        assert_eq!(writer_pid(b"12"), None);
        assert_eq!(writer_pid(b"10000042"), Some(42));
    }

    #[test]
    fn one_directory_one_state() {
        let tmp = tempfile::tempdir().unwrap();
        let a = open(&RealFs, &ETF, tmp.path());
        let b = open(&RealFs, &ETF, &absolute(&tmp.path().join(".")).unwrap());
        assert!(Arc::ptr_eq(&a, &b));
    }
}
