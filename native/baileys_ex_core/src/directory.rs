//! Per-directory state shared by every call in this OS process: the manifest
//! lock, the cached manifest, the file lock table, the group-commit queue,
//! the multi-key commit queue and gate, and the one-time recovery and removal
//! of orphan temp files when a directory is first opened.
//!
//! The cache never trusts file metadata. Each call still reads the manifest's
//! bytes, and the cached decode is reused only when those bytes are identical
//! to the bytes it was decoded from: another writer, in this process or any
//! other, cannot change the file without changing what we read.
//!
//! State belongs to a directory, not to a spelling of its path: it is keyed
//! by the directory's device, inode and birth time, so `a/../b`, a symlink to
//! `b` and `b` share one lock table. The registry stays bounded for a VM that
//! serves many directories: the state's bytes (mostly decoded manifests) have
//! a budget, past which the least recently used idle entries are dropped, and
//! entries of directories that are gone are dropped too. Only an entry no
//! call holds is ever dropped, so mutual exclusion never breaks: a call that
//! comes later builds a fresh entry under the registry's lock, and every
//! concurrent call gets that same entry.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::ops::{Deref, DerefMut};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use parking_lot::{Mutex, MutexGuard};

use crate::atomic::{self, TempKind};
use crate::error::MetadataError;
use crate::fs::{DirId, Fs};
use crate::layout::{BackendKind, BackendSpec};
use crate::locks::LockTable;
use crate::manifest::Manifest;

/// Most bytes the registry keeps for directories no call is using. A
/// decoded 10,000-key manifest takes about a megabyte, so this holds the
/// state of dozens of large accounts, or tens of thousands of small ones.
pub const CACHE_BUDGET_BYTES: usize = 64 * 1024 * 1024;

/// Every this many opens, up to `SWEEP_BATCH` idle entries are checked for
/// directories that are gone, taking turns: about one `stat` per open, in
/// short bursts, and every entry is checked within as many opens as there
/// are entries.
const SWEEP_EVERY: u64 = 256;
const SWEEP_BATCH: usize = 256;

/// What an entry costs besides its path and manifest: the shared state, its
/// slot in the registry's table (a table may be half empty), its place in
/// the sweep's queue (likewise), and allocator headers.
const ENTRY_OVERHEAD: usize = std::mem::size_of::<Shared>()
    + 2 * std::mem::size_of::<(Key, Entry)>()
    + 2 * std::mem::size_of::<Visit>()
    + 96;

/// What one decoded id costs besides its bytes: its `Vec` in the set's
/// B-tree node and the allocator's header.
const ID_OVERHEAD: usize = 64;

/// A temp file of the original module carries no lock, so nothing proves its
/// writer gone. It is removed only when last written before this process
/// started and at least this long ago: the original's write ends with one
/// fsync and a rename, which take milliseconds on working storage, never
/// minutes.
const ORIGINAL_TEMP_GRACE: Duration = Duration::from_secs(600);

static PROCESS_START: OnceLock<SystemTime> = OnceLock::new();
static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// Records when this process began using the library; a temp file of the
/// original's written before then cannot be one this process waits on.
pub fn mark_process_start() {
    PROCESS_START.get_or_init(coarse_now);
}

fn process_start() -> SystemTime {
    *PROCESS_START.get_or_init(coarse_now)
}

/// The clock file timestamps come from. The kernel stamps files with a
/// coarse clock that can lag the precise one by a tick; measured on the
/// precise clock, a temp file made just after start could look older than
/// the process.
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
    SystemTime::UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// What the manifest held when last read, keyed by its exact bytes.
#[derive(Default)]
pub struct ManifestCache {
    /// `None`: no manifest file. `Some(bytes)`: the bytes decoded below.
    pub bytes: Option<Vec<u8>>,
    /// The decoded manifest; `None` when missing or holding `nil`.
    manifest: Option<Manifest>,
    /// What `manifest` costs in memory, estimated when it is set.
    manifest_weight: usize,
    /// Whether `bytes` is exactly what we would write for `manifest`.
    pub canonical: bool,
    pub valid: bool,
    /// The bytes last refused and why, when the same bytes are refused for
    /// good: they are not decoded again.
    pub refused: Option<(Vec<u8>, MetadataError)>,
}

impl ManifestCache {
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    pub fn set_manifest(&mut self, manifest: Option<Manifest>) {
        self.manifest_weight = manifest.as_ref().map_or(0, weigh);
        self.manifest = manifest;
    }

    pub fn take_manifest(&mut self) -> Option<Manifest> {
        self.manifest_weight = 0;
        self.manifest.take()
    }

    /// Bytes held, as counted against the registry's budget.
    fn weight(&self) -> usize {
        self.bytes.as_ref().map_or(0, Vec::capacity) + self.manifest_weight
    }
}

fn weigh(manifest: &Manifest) -> usize {
    manifest
        .key_index
        .values()
        .map(|ids| ID_OVERHEAD + ids.iter().map(|id| id.len() + ID_OVERHEAD).sum::<usize>())
        .sum()
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

/// The state every call on one directory shares.
struct Shared {
    manifest: Mutex<ManifestCache>,
    commits: Mutex<CommitQueue>,
    files: LockTable,
    atomic_commits: crate::commit::CommitGroup,
    /// What the cached manifest weighs now, included in `total`.
    cached: AtomicUsize,
    /// What the entry weighs besides its manifest, included in `total`.
    overhead: usize,
    total: Arc<AtomicUsize>,
}

impl Shared {
    fn new(overhead: usize, total: &Arc<AtomicUsize>) -> Shared {
        total.fetch_add(overhead, Ordering::Relaxed);
        Shared {
            manifest: Mutex::new(ManifestCache::default()),
            commits: Mutex::new(CommitQueue::default()),
            files: LockTable::default(),
            atomic_commits: Default::default(),
            cached: AtomicUsize::new(0),
            overhead,
            total: Arc::clone(total),
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let weight = self.overhead + self.cached.load(Ordering::Relaxed);
        self.total.fetch_sub(weight, Ordering::Relaxed);
    }
}

/// One call's view of a directory: the path as this call spells it, and the
/// state shared with every other call on the same directory.
pub struct Directory {
    pub path: PathBuf,
    pub spec: &'static BackendSpec,
    pub manifest_path: PathBuf,
    shared: Arc<Shared>,
}

impl Directory {
    /// Serialises manifest read-modify-write within this process.
    pub fn lock_manifest(&self) -> ManifestGuard<'_> {
        ManifestGuard {
            cache: self.shared.manifest.lock(),
            shared: &self.shared,
        }
    }

    pub fn commits(&self) -> MutexGuard<'_, CommitQueue> {
        self.shared.commits.lock()
    }

    pub fn files(&self) -> &LockTable {
        &self.shared.files
    }

    /// The manifest lock, unless someone holds it.
    pub fn try_lock_manifest(&self) -> Option<ManifestGuard<'_>> {
        Some(ManifestGuard {
            cache: self.shared.manifest.try_lock()?,
            shared: &self.shared,
        })
    }

    /// Multi-key commits: their queue, and the gate single-key writes pass.
    pub fn atomic_commits(&self) -> &crate::commit::CommitGroup {
        &self.shared.atomic_commits
    }

    pub fn file_path(&self, name: &[u8]) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        self.path.join(std::ffi::OsStr::from_bytes(name))
    }
}

/// The manifest cache, locked; its new weight is counted when it is let go.
pub struct ManifestGuard<'a> {
    cache: MutexGuard<'a, ManifestCache>,
    shared: &'a Shared,
}

impl Deref for ManifestGuard<'_> {
    type Target = ManifestCache;
    fn deref(&self) -> &ManifestCache {
        &self.cache
    }
}

impl DerefMut for ManifestGuard<'_> {
    fn deref_mut(&mut self) -> &mut ManifestCache {
        &mut self.cache
    }
}

impl Drop for ManifestGuard<'_> {
    fn drop(&mut self) {
        let now = self.cache.weight();
        let before = self.shared.cached.swap(now, Ordering::Relaxed);
        if now >= before {
            self.shared.total.fetch_add(now - before, Ordering::Relaxed);
        } else {
            self.shared.total.fetch_sub(before - now, Ordering::Relaxed);
        }
    }
}

/// An absolute, lexically clean spelling of `dir` (`a/./b/` becomes `a/b`).
/// `..` is kept: resolving it needs the filesystem, and the registry keys
/// state by what the path names anyway.
pub fn absolute(dir: &Path) -> io::Result<PathBuf> {
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

/// The directory `dir` for one call, created if missing, with the state
/// this process shares for it; see `Registry::open`.
pub fn open(fs: &dyn Fs, spec: &'static BackendSpec, dir: &Path) -> io::Result<Directory> {
    REGISTRY
        .get_or_init(|| Registry::new(CACHE_BUDGET_BYTES))
        .open(fs, spec, dir)
}

type Key = (BackendKind, DirId);

struct Entry {
    shared: Arc<Shared>,
    /// The spelling last used, to check later that the directory still exists.
    path: PathBuf,
    /// The open that made the entry, and the last one that used it.
    made: u64,
    last_used: u64,
}

/// An entry as the sweep remembers it: its key and when it was made, which
/// tells it from a later entry under the same key.
type Visit = (Key, u64);

#[derive(Default)]
struct Entries {
    map: HashMap<Key, Entry>,
    /// Entries in the order the sweep checks them; a visit whose entry was
    /// dropped or replaced meanwhile is discarded when its turn comes.
    visits: VecDeque<Visit>,
    /// Counts opens: the recency of entries, and when to sweep.
    clock: u64,
}

/// The per-directory states of one process, bounded in bytes.
pub struct Registry {
    budget: usize,
    total: Arc<AtomicUsize>,
    entries: Mutex<Entries>,
}

/// An idle entry to check, and a path to its directory.
type Candidate = (Visit, PathBuf);

impl Registry {
    pub fn new(budget: usize) -> Registry {
        Registry {
            budget,
            total: Arc::new(AtomicUsize::new(0)),
            entries: Mutex::new(Entries::default()),
        }
    }

    /// Bytes the registry's states weigh now, idle or in use.
    pub fn weight(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The directory `dir` names, created if missing (every call of the
    /// originals starts with `mkdir -p`), with its shared state. A state
    /// made here first completes or rolls back a commit a crash left, then
    /// removes the directory's orphan temp files.
    pub fn open(
        &self,
        fs: &dyn Fs,
        spec: &'static BackendSpec,
        dir: &Path,
    ) -> io::Result<Directory> {
        let id = match fs.dir_id(dir) {
            Ok(id) => id,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                fs.create_dir_all(dir)?;
                fs.dir_id(dir)?
            }
            Err(err) => return Err(err),
        };
        let (shared, candidates) = self.share((spec.kind, id), dir);
        if !candidates.is_empty() {
            self.drop_gone(candidates);
        }
        let directory = Directory {
            path: dir.to_path_buf(),
            spec,
            manifest_path: dir.join(spec.manifest_file),
            shared,
        };
        // Every call on a new state waits until the first has completed or
        // rolled back a commit a crash cut short, then removed orphans, both
        // under the directory's exclusive flock (see `recovery`): no commit
        // record exists while orphans are removed, so none is ever taken
        // from a record that names it.
        crate::recovery::once_at_open(fs, &directory, || remove_orphan_temp_files(fs, spec, dir));
        Ok(directory)
    }

    /// The state for `key`, made if missing, and the idle entries to check
    /// for being gone when a sweep is due.
    fn share(&self, key: Key, dir: &Path) -> (Arc<Shared>, Vec<Candidate>) {
        let mut entries = self.entries.lock();
        entries.clock += 1;
        let clock = entries.clock;
        let existing = entries.map.get_mut(&key).map(|entry| {
            entry.last_used = clock;
            if entry.path != dir {
                entry.path = dir.to_path_buf();
            }
            Arc::clone(&entry.shared)
        });
        let shared = existing.unwrap_or_else(|| {
            let overhead = ENTRY_OVERHEAD + dir.as_os_str().len();
            let shared = Arc::new(Shared::new(overhead, &self.total));
            let entry = Entry {
                shared: Arc::clone(&shared),
                path: dir.to_path_buf(),
                made: clock,
                last_used: clock,
            };
            entries.map.insert(key, entry);
            entries.visits.push_back((key, clock));
            shared
        });
        if self.weight() > self.budget {
            self.evict_least_recently_used(&mut entries);
        }
        let candidates = if clock.is_multiple_of(SWEEP_EVERY) {
            next_candidates(&mut entries)
        } else {
            Vec::new()
        };
        (shared, candidates)
    }

    /// Drops idle entries, least recently used first, until the weight is a
    /// quarter under budget, so that eviction runs rarely.
    fn evict_least_recently_used(&self, entries: &mut Entries) {
        let target = self.budget / 4 * 3;
        let mut idle_keys: Vec<(u64, Key)> = entries
            .map
            .iter()
            .filter(|(_, e)| idle(e))
            .map(|(key, e)| (e.last_used, *key))
            .collect();
        idle_keys.sort_unstable_by_key(|(last_used, _)| *last_used);
        for (_, key) in idle_keys {
            if self.weight() <= target {
                break;
            }
            entries.map.remove(&key);
        }
    }

    /// Drops the entries of directories that no longer exist (or whose path
    /// now names another directory); the others wait for their next turn.
    /// The checks run outside the registry's lock; an entry a call took
    /// meanwhile is kept.
    ///
    /// These stats bypass `Fs`: they are housekeeping no call's outcome
    /// depends on, and an error just keeps the entry.
    fn drop_gone(&self, candidates: Vec<Candidate>) {
        let checked: Vec<(Visit, bool)> = candidates
            .into_iter()
            .map(|(visit, path)| {
                let gone = match DirId::of(&path) {
                    Ok(now) => now != visit.0 .1,
                    Err(err) => {
                        err.kind() == io::ErrorKind::NotFound
                            || err.raw_os_error() == Some(libc::ENOTDIR)
                    }
                };
                (visit, gone)
            })
            .collect();
        let mut entries = self.entries.lock();
        for ((key, made), gone) in checked {
            let Some(entry) = entries.map.get(&key) else {
                continue;
            };
            if entry.made != made {
                continue;
            }
            if gone && idle(entry) {
                entries.map.remove(&key);
            } else {
                entries.visits.push_back((key, made));
            }
        }
    }
}

/// Takes the next entries whose turn it is: idle ones to check, busy ones
/// back in line (a call on them proves them alive), dropped ones discarded.
fn next_candidates(entries: &mut Entries) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for _ in 0..SWEEP_BATCH.min(entries.visits.len()) {
        let Some((key, made)) = entries.visits.pop_front() else {
            break;
        };
        match entries.map.get(&key) {
            Some(entry) if entry.made == made => {
                if idle(entry) {
                    candidates.push(((key, made), entry.path.clone()));
                } else {
                    entries.visits.push_back((key, made));
                }
            }
            _ => {}
        }
    }
    candidates
}

/// Whether no call holds the entry's state. Checked under the registry's
/// lock, which every call takes to get a state, so it cannot change to busy
/// meanwhile.
fn idle(entry: &Entry) -> bool {
    Arc::strong_count(&entry.shared) == 1
}

/// Temp files left by a crash are never read as data, but they pile up.
/// Ours are orphans once nobody holds their lock: a writer holds it from
/// just after creating the file until after renaming it, whatever OS process
/// or pid namespace it runs in. The original's carry no lock, so they are
/// orphans only once also older than this process and than a grace period
/// (see `ORIGINAL_TEMP_GRACE`). Data files never have a temp file's name.
fn remove_orphan_temp_files(fs: &dyn Fs, spec: &BackendSpec, dir: &Path) {
    let Ok(entries) = fs.list_dir(dir) else {
        return;
    };
    let cutoff = original_temp_cutoff();
    let mut removed = false;
    for entry in entries {
        let written_before = match atomic::temp_kind(&entry.name, spec.extension.as_bytes()) {
            None => continue,
            Some(TempKind::Ours) => None,
            Some(TempKind::Original) => Some(cutoff),
        };
        use std::os::unix::ffi::OsStrExt;
        let path = dir.join(std::ffi::OsStr::from_bytes(&entry.name));
        removed |= fs.remove_orphan(&path, written_before).unwrap_or(false);
    }
    if removed {
        let _ = fs.sync_dir(dir);
    }
}

/// A temp file of the original's last written before this is an orphan.
fn original_temp_cutoff() -> SystemTime {
    let grace = coarse_now()
        .checked_sub(ORIGINAL_TEMP_GRACE)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    grace.min(process_start())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::RealFs;
    use crate::layout::{ETF, JSON};
    use std::fs::File;

    fn set_mtime(path: &Path, when: SystemTime) {
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    fn write_old(path: &Path) {
        std::fs::write(path, b"x").unwrap();
        set_mtime(path, process_start() - Duration::from_secs(3600));
    }

    /// Holds an exclusive `flock` on `path`, as a live writer does.
    fn hold_lock(path: &Path) -> File {
        use std::os::fd::AsRawFd;
        let file = File::open(path).unwrap();
        // SAFETY: flock on a descriptor we own.
        assert_eq!(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) }, 0);
        file
    }

    /// Opens `dir` as a process that has never seen it would.
    fn first_open(spec: &'static BackendSpec, dir: &Path) {
        Registry::new(CACHE_BUDGET_BYTES)
            .open(&RealFs, spec, dir)
            .unwrap();
    }

    #[test]
    fn orphans_of_the_original_are_removed_only_when_old() {
        mark_process_start();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let old = dir.join("creds.etf.tmp-123");
        let young = dir.join("session-1.etf.tmp-456");
        let data = dir.join("session-1.etf");
        write_old(&old);
        std::fs::write(&young, b"x").unwrap();
        write_old(&data);
        first_open(&ETF, dir);
        assert!(!old.exists(), "an old orphan of the original's is removed");
        assert!(young.exists(), "one that may still be in flight stays");
        assert!(data.exists(), "data files are never touched");
    }

    #[test]
    fn keys_named_like_temp_files_are_never_removed() {
        mark_process_start();
        let tmp = tempfile::tempdir().unwrap();
        for (spec, ext) in [(&ETF, "etf"), (&JSON, "json")] {
            let dir = tmp.path().join(ext);
            std::fs::create_dir_all(&dir).unwrap();
            let names = [
                spec.key_file_name("device-list", b"backup.tmp-1"),
                spec.key_file_name("sender-key-memory", b"grp.tmp-99@g.us"),
                spec.key_file_name("session", format!("x.{ext}.tmp-5").as_bytes()),
                spec.key_file_name("pre-key", format!("y.{ext}.tmp-7-8").as_bytes()),
            ];
            let paths: Vec<PathBuf> = names
                .iter()
                .map(|n| dir.join(std::str::from_utf8(n).unwrap()))
                .collect();
            paths.iter().for_each(|p| write_old(p));
            first_open(spec, &dir);
            for path in &paths {
                assert!(path.exists(), "{path:?} was removed");
            }
        }
    }

    #[test]
    fn a_locked_temp_file_of_ours_is_kept_whatever_its_age_or_pid() {
        mark_process_start();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        // The pid field means nothing to the cleaner: a writer in another
        // pid namespace may have any number there, even one no process here
        // has (4194304 is above Linux's pid limit).
        let live = dir.join("pre-key-1.etf.tmp-4194304-1");
        let orphan = dir.join("pre-key-2.etf.tmp-1-2");
        let fresh_orphan = dir.join("pre-key-3.etf.tmp-1-3");
        write_old(&live);
        write_old(&orphan);
        std::fs::write(&fresh_orphan, b"x").unwrap();
        let writer = hold_lock(&live);
        first_open(&ETF, dir);
        assert!(live.exists(), "a live writer's temp file is kept");
        assert!(!orphan.exists(), "an unlocked one of ours is an orphan");
        assert!(
            !fresh_orphan.exists(),
            "whatever its age: the lock alone decides"
        );
        drop(writer);
        first_open(&ETF, dir);
        assert!(!live.exists(), "removed once its writer is gone");
    }

    #[test]
    fn spellings_of_one_directory_share_its_state() {
        let tmp = tempfile::tempdir().unwrap();
        let b = tmp.path().join("b");
        std::fs::create_dir_all(tmp.path().join("a")).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&b, &link).unwrap();
        let registry = Registry::new(CACHE_BUDGET_BYTES);
        let open = |dir: &Path| registry.open(&RealFs, &ETF, dir).unwrap();
        let plain = open(&b);
        for spelling in [
            tmp.path().join("a").join("..").join("b"),
            link.clone(),
            absolute(&b.join(".")).unwrap(),
        ] {
            let other = open(&spelling);
            assert!(Arc::ptr_eq(&plain.shared, &other.shared), "{spelling:?}");
            assert_eq!(other.path, spelling, "each call keeps its own spelling");
        }
        assert_eq!(registry.len(), 1);
        let json = registry.open(&RealFs, &JSON, &b).unwrap();
        assert!(!Arc::ptr_eq(&plain.shared, &json.shared), "per backend");
    }

    #[test]
    fn a_missing_directory_is_created_and_a_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let registry = Registry::new(CACHE_BUDGET_BYTES);
        let dir = tmp.path().join("x").join("y");
        registry.open(&RealFs, &ETF, &dir).unwrap();
        assert!(dir.is_dir());
        let file = tmp.path().join("f");
        std::fs::write(&file, b"").unwrap();
        let err = registry.open(&RealFs, &ETF, &file).err().unwrap();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR));
    }

    #[test]
    fn directories_used_once_stay_within_the_budget() {
        let tmp = tempfile::tempdir().unwrap();
        let budget = 64 * 1024;
        let registry = Registry::new(budget);
        for n in 0..2000 {
            registry
                .open(&RealFs, &ETF, &tmp.path().join(n.to_string()))
                .unwrap();
        }
        assert!(registry.weight() <= budget, "{}", registry.weight());
        assert!(registry.len() <= budget / ENTRY_OVERHEAD);
        assert!(registry.len() >= budget / 2 / (ENTRY_OVERHEAD + 100));
    }

    #[test]
    fn cached_manifests_count_and_the_least_recently_used_go_first() {
        let tmp = tempfile::tempdir().unwrap();
        let budget = 1024 * 1024;
        let registry = Registry::new(budget);
        let dirs: Vec<PathBuf> = (0..20).map(|n| tmp.path().join(n.to_string())).collect();
        for (n, dir) in dirs.iter().enumerate() {
            let handle = registry.open(&RealFs, &ETF, dir).unwrap();
            let mut cache = handle.lock_manifest();
            cache.bytes = Some(vec![n as u8; 200 * 1024]);
            let mut manifest = Manifest::default();
            manifest.insert("session", b"id");
            cache.set_manifest(Some(manifest));
        }
        assert!(registry.weight() <= budget + 210 * 1024);
        let kept: Vec<bool> = dirs
            .iter()
            .map(|dir| {
                let handle = registry.open(&RealFs, &ETF, dir).unwrap();
                let cache = handle.lock_manifest();
                cache.bytes.is_some()
            })
            .collect();
        assert!(kept[19] && kept[18], "the most recent stay: {kept:?}");
        assert!(!kept[0], "the least recent went first: {kept:?}");
    }

    #[test]
    fn state_in_use_is_never_evicted() {
        let tmp = tempfile::tempdir().unwrap();
        let registry = Registry::new(1);
        let dir = tmp.path().join("busy");
        let busy = registry.open(&RealFs, &ETF, &dir).unwrap();
        let held = busy.lock_manifest();
        for n in 0..100 {
            registry
                .open(&RealFs, &ETF, &tmp.path().join(n.to_string()))
                .unwrap();
        }
        let again = registry.open(&RealFs, &ETF, &dir).unwrap();
        assert!(Arc::ptr_eq(&busy.shared, &again.shared));
        assert!(
            again.shared.manifest.try_lock().is_none(),
            "one manifest lock"
        );
        drop(held);
        drop(again);
        drop(busy);
        registry
            .open(&RealFs, &ETF, &tmp.path().join("last"))
            .unwrap();
        assert_eq!(registry.len(), 1, "idle state goes at the next open");
        assert_eq!(
            registry.weight(),
            ENTRY_OVERHEAD + tmp.path().join("last").as_os_str().len(),
            "the weight is exact"
        );
    }

    #[test]
    fn state_of_deleted_directories_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let registry = Registry::new(CACHE_BUDGET_BYTES);
        let keep = tmp.path().join("keep");
        for n in 0..50 {
            let dir = tmp.path().join(n.to_string());
            let handle = registry.open(&RealFs, &ETF, &dir).unwrap();
            handle.lock_manifest().bytes = Some(vec![0; 10_000]);
        }
        registry.open(&RealFs, &ETF, &keep).unwrap();
        let weight = registry.weight();
        for n in 0..50 {
            std::fs::remove_dir(tmp.path().join(n.to_string())).unwrap();
        }
        for _ in 0..SWEEP_EVERY {
            registry.open(&RealFs, &ETF, &keep).unwrap();
        }
        assert_eq!(registry.len(), 1);
        assert!(registry.weight() < weight / 50, "{}", registry.weight());
    }
}
