//! Atomic multi-key commits: a set of saves and deletes (and optionally the
//! credentials) applied to one directory all together or not at all, after a
//! SIGKILL or a power loss at any instant, and durable once `commit` returns
//! `Ok`. Afterwards the directory holds exactly what the same saves and
//! deletes made one by one through `Store` leave: the same file names, the
//! bytes given, the same manifest.
//!
//! # Protocol
//!
//! 1. **Stage** (no directory lock held): every new value is written to a
//!    temp file next to its final name (`<name>.tmp-<pid>-<n>`, the
//!    single-key shape, locked with `flock` until renamed: see `Staged`), in
//!    parallel on the I/O pool, and its length and CRC-32 are noted. No
//!    fsync.
//! 2. **Lead** (group commit): the commit joins the directory's queue; the
//!    caller that holds the manifest lock next takes every queued commit and
//!    runs steps 3 to 7 once for all of them, later commits winning where
//!    they touch the same file. It holds the directory's gate exclusively
//!    and its `flock` exclusively (the `flock` that already guards manifest
//!    updates across OS processes, and now recovery too), so no writer of
//!    this library, in this OS process or another, writes a file of the
//!    directory meanwhile.
//! 3. It completes or rolls back any record a crashed commit left (see
//!    `recovery`), reads and checks the manifest, applies the commits'
//!    index changes in order exactly as the single-key path would, and
//!    stages the new manifest the same way if its bytes change.
//! 4. **Record**: it writes the commit record (`commit_record`): each final
//!    name with its temp file, length and CRC-32, and each file to remove,
//!    under a trailing CRC-32.
//! 5. **Flush 1, the commit point**: `syncfs` makes the record and every
//!    temp file durable, contents and directory entries, in one call.
//! 6. **Apply**: temp files are renamed over their final names and removed
//!    files unlinked, in parallel. **Flush 2**: one directory fsync makes
//!    those entries durable (the contents already are).
//! 7. The record is unlinked, without a flush of its own.
//!
//! Two flushes per commit, whatever its size; concurrent commits share them.
//! Where the filesystem has no `syncfs`, each temp file and the record are
//! fsynced as they are written and the directory is fsynced at step 5: the
//! same guarantees, with flushes that grow with the set.
//!
//! **A lone replace** needs no record: a commit that replaces exactly one
//! file and leaves the manifest as it is (re-saving a key that is indexed
//! already, as receiving a message does) is the single-key replace
//! instead: its temp file is fsynced as it is staged, renamed over the
//! final name, and the directory fsynced. A rename is atomic by itself, and
//! this keeps the flushes to the commit's own file rather than a `syncfs`
//! of the whole filesystem. A group made only of lone replaces (chats
//! committing side by side) is handled the same way: each commit is one
//! rename, so each stays whole on its own, and one directory fsync makes
//! all of them durable. Staging guesses from the cached manifest; the
//! leader decides from the one it has just read, and falls back to the
//! record (the temp files already durable) when the guess was wrong.

//! # Why it is all or nothing
//!
//! Before the commit point no final name has changed. A record is applied
//! only when it is intact and every temp file it names is either intact or
//! already renamed into place (`recovery`), which holds from the commit
//! point on and, in the rare case that the filesystem wrote the record out
//! early, only if all the staged data made it too; otherwise the temp files
//! are removed and nothing changes. From the commit point on, the record
//! and every new value are durable, so recovery renames whatever temp file
//! is left. Renames replace whole files, so any reader, the original module
//! included, sees each file old or new, never torn.
//!
//! # Why a replayed record never overwrites a newer value
//!
//! Recovery only renames temp files that still exist and redoes removals:
//! it never rewrites a file from the record. While a record exists, every
//! writer of this library is held off (step 2), and every single-key save
//! or delete looks for a record under the shared gate and `flock` before it
//! writes, completing a left-over one first (`recovery::lock_for_write`).
//! The unlink at step 7 becomes durable with the next directory fsync in
//! the directory, and every acknowledged write, ours or the original
//! module's, ends with one; an unlink lost to a power loss before that
//! brings back a record whose files are all in place, which recovery then
//! just removes.
//!
//! The remaining window is the original module's. If it opens the
//! directory after a crash cut a commit short and before our module has, it
//! sees the files as the crash left them, each old or new. If it also
//! writes then, recovery keeps what it wrote to a file the commit replaces
//! and rolls the rest of that commit back instead of forward (it rewrites
//! the manifest on every write, so this is the usual case). Otherwise the
//! commit rolls forward and its removals are redone: a file it removed that
//! the original module wrote again in that window is removed again.
//!
//! # Limits
//!
//! At most `MAX_MUTATIONS` mutations and `MAX_COMMIT_BYTES` bytes of values
//! per commit, and (JSON) ids of indexed types that are UTF-8, all checked
//! before anything is written; memory is the staged names plus the record, on top of the
//! caller's values. Readers get no isolation: a load that runs while a
//! commit applies can see some of its files new and others old.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use parking_lot::{Mutex, RwLock};

use crate::atomic::create_locked_temp;
use crate::commit_record::{self, Entry};
use crate::directory::{self, Change, Directory, ManifestCache};
use crate::error::Error;
use crate::fs::Fs;
use crate::io_pool;
use crate::layout::{persisted_key_type, BackendKind};
use crate::locks::DirLock;
use crate::store::{duplicate, Store};

/// Most saves and deletes one commit may hold.
pub const MAX_MUTATIONS: usize = 65_536;
/// Most bytes of values one commit may hold.
pub const MAX_COMMIT_BYTES: u64 = 256 * 1024 * 1024;
/// Longest file name Linux filesystems take (`NAME_MAX`).
const NAME_MAX: usize = 255;

/// One change in a commit, on bytes the NIF has already encoded.
#[derive(Debug, Clone, Copy)]
pub enum Mutation<'a> {
    Save {
        key_type: &'a str,
        id: &'a [u8],
        data: &'a [u8],
    },
    Delete {
        key_type: &'a str,
        id: &'a [u8],
    },
    SaveCredentials {
        data: &'a [u8],
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Store(#[from] Error),
    #[error("a commit holds at most {MAX_MUTATIONS} mutations, not {0}")]
    TooManyMutations(usize),
    #[error("a commit holds at most {MAX_COMMIT_BYTES} bytes of values, not {0}")]
    TooManyBytes(u64),
}

impl From<io::Error> for CommitError {
    fn from(err: io::Error) -> Self {
        CommitError::Store(Error::Io(err))
    }
}

/// A new value written to its temp file, waiting to be renamed into place.
///
/// Staging takes no directory lock, so another OS process may open the
/// directory meanwhile and remove orphan temp files. Like a single-key
/// writer, the commit holds an exclusive `flock` on each temp file from just
/// after creating it until just after renaming (or removing) it; cleanup
/// removes one of our temp files only when it can take that lock, so no
/// staged file is ever taken mid-commit. Each descriptor is closed as soon
/// as its file is renamed, but until then a commit keeps one open per new
/// value: the OS process's descriptor limit must leave room for the largest
/// commit (else it fails with `emfile` before anything is visible).
#[derive(Debug)]
struct Staged {
    temp: PathBuf,
    len: u64,
    crc: u32,
    lock: Mutex<Option<File>>,
    /// Fsynced as it was written.
    synced: bool,
}

impl Staged {
    /// Lets other OS processes' cleanup take the file, once it is renamed.
    fn release(&self) {
        drop(self.lock.lock().take());
    }
}

enum Op {
    Write(Staged),
    Remove,
}

/// A file name and its new bytes (`None`: the file is removed).
type FileChange<'m> = (Vec<u8>, Option<&'m [u8]>);

/// One caller's commit in the queue: what happens to each file (the last
/// mutation of a file wins) and the manifest changes in order.
struct Pending {
    ticket: u64,
    files: Vec<(Vec<u8>, Op)>,
    changes: Vec<Change>,
    bytes: u64,
}

#[derive(Default)]
struct Queue {
    next_ticket: u64,
    pending: VecDeque<Pending>,
    /// Outcomes of committed tickets whose callers have not collected them.
    done: HashMap<u64, Result<(), Error>>,
}

/// A directory's multi-key commit state, shared by the OS process.
#[derive(Default)]
pub struct CommitGroup {
    /// Shared by single-key writes, exclusive for a commit or a recovery:
    /// the in-process twin of the directory's `flock`.
    pub(crate) gate: RwLock<()>,
    queue: Mutex<Queue>,
    /// Recovery and orphan removal, once per process (`recovery`).
    pub(crate) opened: OnceLock<()>,
}

impl CommitGroup {
    /// Commits queued and not yet taken by a leader.
    pub fn queued(&self) -> usize {
        self.queue.lock().pending.len()
    }
}

/// How far a failed commit got.
enum Failure {
    /// Nothing visible changed; the staged files are removed.
    Before(Error),
    /// The record is durable: the commit completes at the next recovery.
    After(Error),
}

impl Store<'_> {
    /// Applies `mutations` in order, all or none; durable once `Ok`.
    pub fn commit(&self, dir: &Path, mutations: &[Mutation]) -> Result<(), CommitError> {
        let bytes = check_limits(mutations)?;
        // Nothing is written that could not be read back, as for one key.
        let cap = self.spec.max_file_bytes;
        if mutations.iter().any(|m| match m {
            Mutation::Save { data, .. } | Mutation::SaveCredentials { data } => data.len() > cap,
            Mutation::Delete { .. } => false,
        }) {
            return Err(Error::TooLarge { cap }.into());
        }
        self.check_manifest_ids(mutations)?;
        let (files, changes) = self.plan(mutations)?;
        let dir = directory::open(self.fs, self.spec, dir)?;
        // Checked now (creating the directory if needed) so a bad manifest
        // costs no writes, unless a leader holds the lock: it has just
        // checked, and checks again before anything becomes visible.
        // While a leader holds the manifest (commits arriving side by side),
        // a one-file commit is guessed to be a replace: a wrong guess costs
        // one fsync, and the leader falls back to the record.
        let mut lone = matches!(files.as_slice(), [(_, Some(_))]);
        if let Some(mut cache) = dir.try_lock_manifest() {
            self.check_manifest(&dir, &mut cache)?;
            lone = lone_replace(&files, &changes, &cache);
        }
        if mutations.is_empty() {
            return Ok(());
        }
        let sync_each = lone || !self.fs.can_sync_filesystem();
        let files = self.stage(&dir, files, sync_each)?;
        // A commit whose caller is gone must not overwrite a later save.
        if !self.atoms.caller_alive() {
            remove_staged(self.fs, files.iter().map(|(_, op)| op));
            return Err(Error::CallerGone.into());
        }
        let ticket = {
            let mut queue = dir.atomic_commits().queue.lock();
            queue.next_ticket += 1;
            let ticket = queue.next_ticket;
            queue.pending.push_back(Pending {
                ticket,
                files,
                changes,
                bytes,
            });
            ticket
        };
        loop {
            let mut cache = dir.lock_manifest();
            let group = {
                let mut queue = dir.atomic_commits().queue.lock();
                if let Some(outcome) = queue.done.remove(&ticket) {
                    return outcome.map_err(CommitError::from);
                }
                if !queue.pending.iter().any(|p| p.ticket == ticket) {
                    // Only a leader that panicked half-way drops a commit;
                    // never report it as done.
                    return Err(io::Error::from_raw_os_error(libc::EIO).into());
                }
                take_group(&mut queue.pending)
            };
            let tickets: Vec<u64> = group.iter().map(|p| p.ticket).collect();
            let outcome = self.lead(&dir, &mut cache, group);
            let mut queue = dir.atomic_commits().queue.lock();
            for t in tickets {
                queue.done.insert(t, duplicate(&outcome));
            }
        }
    }

    /// A JSON manifest holds ids as strings, so a save of an indexed key
    /// whose id is not UTF-8 cannot be recorded: refused before anything is
    /// written (a single-key save writes the file first and then fails, as
    /// the original does).
    fn check_manifest_ids(&self, mutations: &[Mutation]) -> Result<(), Error> {
        if self.spec.kind != BackendKind::Json {
            return Ok(());
        }
        for mutation in mutations {
            if let Mutation::Save { key_type, id, .. } = mutation {
                if persisted_key_type(key_type.as_bytes()).is_some() {
                    crate::json::check_manifest_id(id)?;
                }
            }
        }
        Ok(())
    }

    /// The file operations (last one per file wins) and manifest changes.
    /// A name no file can have is refused here, as the single-key path's
    /// system calls refuse it: a removal is not tried before the commit
    /// point, and a record must only name plain file names.
    fn plan<'m>(
        &self,
        mutations: &[Mutation<'m>],
    ) -> Result<(Vec<FileChange<'m>>, Vec<Change>), Error> {
        let mut files: BTreeMap<Vec<u8>, Option<&'m [u8]>> = BTreeMap::new();
        let mut changes = Vec::with_capacity(mutations.len());
        for mutation in mutations {
            match *mutation {
                Mutation::Save { key_type, id, data } => {
                    files.insert(self.file_name(key_type, id)?, Some(data));
                    changes.push(Change::Insert(
                        persisted_key_type(key_type.as_bytes()),
                        id.to_vec(),
                    ));
                }
                Mutation::Delete { key_type, id } => {
                    files.insert(self.file_name(key_type, id)?, None);
                    changes.push(Change::Remove(
                        persisted_key_type(key_type.as_bytes()),
                        id.to_vec(),
                    ));
                }
                Mutation::SaveCredentials { data } => {
                    files.insert(self.spec.creds_file.as_bytes().to_vec(), Some(data));
                    changes.push(Change::Ensure);
                }
            }
        }
        Ok((files.into_iter().collect(), changes))
    }

    fn file_name(&self, key_type: &str, id: &[u8]) -> Result<Vec<u8>, Error> {
        let name = self.spec.key_file_name(key_type, id);
        let errno = if !commit_record::valid_name(&name) {
            libc::EINVAL
        } else if name.len() > NAME_MAX {
            libc::ENAMETOOLONG
        } else {
            return Ok(name);
        };
        Err(io::Error::from_raw_os_error(errno).into())
    }

    /// Writes every new value to its temp file in parallel; on any failure
    /// removes the ones written and returns the first error.
    fn stage(
        &self,
        dir: &Directory,
        files: Vec<FileChange<'_>>,
        sync_each: bool,
    ) -> Result<Vec<(Vec<u8>, Op)>, Error> {
        let staged = io_pool::map(&files, |(name, data)| match data {
            Some(data) => stage_file(self.fs, &dir.file_path(name), data, sync_each).map(Op::Write),
            None => Ok(Op::Remove),
        });
        let mut ops = Vec::with_capacity(files.len());
        let mut first_error = None;
        for ((name, _), result) in files.into_iter().zip(staged) {
            match result {
                Ok(op) => ops.push((name, op)),
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        match first_error {
            None => Ok(ops),
            Some(err) => {
                remove_staged(self.fs, ops.iter().map(|(_, op)| op));
                Err(err.into())
            }
        }
    }

    /// Steps 3 to 7 for a group of commits, as one.
    fn lead(
        &self,
        dir: &Directory,
        cache: &mut ManifestCache,
        group: Vec<Pending>,
    ) -> Result<(), Error> {
        let each_lone = group.iter().all(
            |pending| matches!(pending.files.as_slice(), [(_, Op::Write(staged))] if staged.synced),
        );
        let mut files: BTreeMap<Vec<u8>, Op> = BTreeMap::new();
        let mut superseded = Vec::new();
        let mut changes = Vec::new();
        for pending in group {
            for (name, op) in pending.files {
                if let Some(earlier) = files.insert(name, op) {
                    superseded.push(earlier);
                }
            }
            changes.extend(pending.changes);
        }
        remove_staged(self.fs, superseded.iter());
        let mut manifest_temp = None;
        let outcome = self.apply_group(dir, cache, &files, &changes, each_lone, &mut manifest_temp);
        match outcome {
            Ok(()) => Ok(()),
            Err(Failure::Before(err)) => {
                cache.valid = false;
                remove_staged(self.fs, files.values().chain(manifest_temp.as_ref()));
                Err(err)
            }
            Err(Failure::After(err)) => {
                cache.valid = false;
                Err(err)
            }
        }
    }

    fn apply_group(
        &self,
        dir: &Directory,
        cache: &mut ManifestCache,
        files: &BTreeMap<Vec<u8>, Op>,
        changes: &[Change],
        each_lone: bool,
        manifest_temp: &mut Option<Op>,
    ) -> Result<(), Failure> {
        let before = |err: io::Error| Failure::Before(err.into());
        let _gate = dir.atomic_commits().gate.write();
        let _os_lock = DirLock::acquire(&dir.path).map_err(before)?;
        crate::recovery::recover_locked(self.fs, dir).map_err(before)?;
        self.check_manifest(dir, cache).map_err(Failure::Before)?;

        let mut existed = cache.manifest().is_some();
        let mut manifest = cache.take_manifest().unwrap_or_default();
        cache.valid = false;
        let mut write = false;
        for change in changes {
            write |= change.apply(&mut manifest, &mut existed, cache.canonical);
        }
        if !write && each_lone {
            self.replace_each(dir, files)?;
            cache.set_manifest(existed.then_some(manifest));
            cache.valid = true;
            return Ok(());
        }
        let sync_each = !self.fs.can_sync_filesystem();
        let manifest_bytes = if write {
            let bytes = self.encode_manifest(&manifest);
            let staged =
                stage_file(self.fs, &dir.manifest_path, &bytes, sync_each).map_err(before)?;
            *manifest_temp = Some(Op::Write(staged));
            Some(bytes)
        } else {
            None
        };

        let manifest_name = self.spec.manifest_file.as_bytes();
        let ops: Vec<(&[u8], &Op)> = files
            .iter()
            .map(|(name, op)| (name.as_slice(), op))
            .chain(manifest_temp.as_ref().map(|op| (manifest_name, op)))
            .collect();
        let entries: Vec<Entry> = ops.iter().map(|(name, op)| entry(name, op)).collect();
        let record_path = dir.path.join(commit_record::record_file_name(self.spec));
        write_record(
            self.fs,
            &record_path,
            &commit_record::encode(&entries),
            sync_each,
        )
        .map_err(before)?;
        let flushed = if sync_each {
            self.fs.sync_dir(&dir.path)
        } else {
            self.fs.sync_filesystem(&dir.path)
        };
        if let Err(err) = flushed {
            // The record may have reached the disk whole: take it back and
            // try to make that durable, so a power loss does not revive a
            // commit reported as failed.
            if self.fs.remove_file(&record_path).is_ok() {
                let _ = self.fs.sync_dir(&dir.path);
            }
            return Err(before(err));
        }

        // The commit point is passed: from here a failure leaves the record
        // for recovery to complete.
        let after = |err: io::Error| Failure::After(err.into());
        let held: Vec<(&Entry, Option<&Staged>)> = entries
            .iter()
            .zip(&ops)
            .map(|(entry, (_, op))| match op {
                Op::Write(staged) => (entry, Some(staged)),
                Op::Remove => (entry, None),
            })
            .collect();
        apply_releasing(self.fs, &dir.path, &held).map_err(after)?;
        self.fs.sync_dir(&dir.path).map_err(after)?;
        self.fs.remove_file(&record_path).map_err(after)?;

        if let Some(bytes) = manifest_bytes {
            cache.bytes = Some(bytes);
            cache.canonical = true;
        }
        cache.set_manifest(existed.then_some(manifest));
        cache.valid = true;
        Ok(())
    }
}

impl Store<'_> {
    /// The single-key replace of every file of a group of lone replaces:
    /// the temp files are durable already and each commit is one of these
    /// renames. A rename that fails leaves its commit undone; the others
    /// are made durable all the same, and the group reports the error.
    fn replace_each(&self, dir: &Directory, files: &BTreeMap<Vec<u8>, Op>) -> Result<(), Failure> {
        let mut renamed = 0usize;
        let mut first_error = None;
        for (name, op) in files {
            if let Op::Write(staged) = op {
                match self.fs.rename(&staged.temp, &dir.file_path(name)) {
                    Ok(()) => {
                        staged.release();
                        renamed += 1;
                    }
                    Err(err) => {
                        first_error.get_or_insert(err);
                    }
                }
            }
        }
        if renamed == 0 {
            if let Some(err) = first_error {
                return Err(Failure::Before(err.into()));
            }
        }
        let after = |err: io::Error| Failure::After(err.into());
        self.fs.sync_dir(&dir.path).map_err(after)?;
        first_error.map_or(Ok(()), |err| Err(after(err)))
    }
}

fn check_limits(mutations: &[Mutation]) -> Result<u64, CommitError> {
    if mutations.len() > MAX_MUTATIONS {
        return Err(CommitError::TooManyMutations(mutations.len()));
    }
    let bytes: u64 = mutations
        .iter()
        .map(|m| match m {
            Mutation::Save { data, .. } | Mutation::SaveCredentials { data } => data.len() as u64,
            Mutation::Delete { .. } => 0,
        })
        .sum();
    if bytes > MAX_COMMIT_BYTES {
        return Err(CommitError::TooManyBytes(bytes));
    }
    Ok(bytes)
}

/// Whether a commit is likely a lone replace (see the module doc): one new
/// value, and a cached manifest that already holds every change.
fn lone_replace(files: &[FileChange], changes: &[Change], cache: &ManifestCache) -> bool {
    let [(_, Some(_))] = files else {
        return false;
    };
    let manifest = match cache.manifest() {
        Some(manifest) if cache.valid && cache.canonical => manifest,
        _ => return false,
    };
    changes.iter().all(|change| match change {
        Change::Insert(Some(key_type), id) => manifest.contains(key_type, id),
        Change::Insert(None, _) | Change::Ensure => true,
        Change::Remove(..) => false,
    })
}

/// Queued commits in order, as many as fit one commit's limits together
/// (always at least the first).
fn take_group(pending: &mut VecDeque<Pending>) -> Vec<Pending> {
    let mut group = Vec::new();
    let (mut count, mut bytes) = (0usize, 0u64);
    while let Some(next) = pending.front() {
        let next_count = count + next.files.len();
        let next_bytes = bytes + next.bytes;
        if !group.is_empty() && (next_count > MAX_MUTATIONS || next_bytes > MAX_COMMIT_BYTES) {
            break;
        }
        (count, bytes) = (next_count, next_bytes);
        group.extend(pending.pop_front());
    }
    group
}

fn entry(name: &[u8], op: &Op) -> Entry {
    match op {
        Op::Write(staged) => Entry::Write {
            name: name.to_vec(),
            temp: file_name_bytes(&staged.temp),
            len: staged.len,
            crc: staged.crc,
        },
        Op::Remove => Entry::Remove {
            name: name.to_vec(),
        },
    }
}

fn file_name_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.file_name()
        .map(|n| n.as_bytes().to_vec())
        .unwrap_or_default()
}

/// Writes `data` to a fresh temp file for `final_path`, fsynced only when
/// the filesystem cannot be synced as a whole. A failed write leaves no
/// temp file.
fn stage_file(fs: &dyn Fs, final_path: &Path, data: &[u8], sync_each: bool) -> io::Result<Staged> {
    let (temp, mut file) = create_locked_temp(fs, final_path)?;
    // Large values are copied at low priority, as in `atomic`.
    let written = crate::offload::run(data.len(), || {
        fs.write_all(&mut file, data)?;
        if sync_each {
            fs.sync_file(&file)?;
        }
        Ok::<_, io::Error>(crc32fast::hash(data))
    });
    match written {
        Ok(crc) => Ok(Staged {
            temp,
            len: data.len() as u64,
            crc,
            lock: Mutex::new(Some(file)),
            synced: sync_each,
        }),
        Err(err) => {
            let _ = fs.remove_file(&temp);
            Err(err)
        }
    }
}

fn write_record(fs: &dyn Fs, path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    let result = fs.create_exclusive(path).and_then(|mut file| {
        fs.write_all(&mut file, bytes)?;
        if sync {
            fs.sync_file(&file)?;
        }
        Ok(())
    });
    if let Err(err) = result {
        // Never remove a record someone else left: recovery handled any
        // before we got here, so an existing one is a stranger's.
        if err.kind() != io::ErrorKind::AlreadyExists {
            let _ = fs.remove_file(path);
        }
        return Err(err);
    }
    Ok(())
}

/// Renames and removals of a record's entries, in parallel; a file already
/// gone is fine, and so is a name the filesystem says no file can have
/// (one longer than its own limit), or the record could never be completed.
/// Returns the first error after trying every entry.
pub(crate) fn apply_entries(fs: &dyn Fs, dir: &Path, entries: &[Entry]) -> io::Result<()> {
    let unlocked: Vec<(&Entry, Option<&Staged>)> = entries.iter().map(|e| (e, None)).collect();
    apply_releasing(fs, dir, &unlocked)
}

/// `apply_entries`, releasing each staged file's lock right after its rename.
fn apply_releasing(
    fs: &dyn Fs,
    dir: &Path,
    entries: &[(&Entry, Option<&Staged>)],
) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = |name: &[u8]| dir.join(std::ffi::OsStr::from_bytes(name));
    io_pool::map(entries, |(entry, staged)| match entry {
        Entry::Write { name, temp, .. } => {
            let renamed = fs.rename(&path(temp), &path(name));
            if renamed.is_ok() {
                staged.map(Staged::release);
            }
            renamed
        }
        Entry::Remove { name } => match fs.remove_file(&path(name)) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) if err.raw_os_error() == Some(libc::ENAMETOOLONG) => Ok(()),
            other => other,
        },
    })
    .into_iter()
    .collect()
}

fn remove_staged<'o>(fs: &dyn Fs, ops: impl Iterator<Item = &'o Op>) {
    let temps: Vec<&Path> = ops
        .filter_map(|op| match op {
            Op::Write(staged) => Some(staged.temp.as_path()),
            Op::Remove => None,
        })
        .collect();
    io_pool::map(&temps, |temp| {
        let _ = fs.remove_file(temp);
    });
}
