//! Completing or undoing a multi-key commit that a crash (or an I/O error
//! after its commit point) left behind, and keeping single-key writes clear
//! of commits.
//!
//! A left-over commit record is dealt with, under the directory's gate and
//! its exclusive `flock`:
//! * when the directory is first opened by this OS process, before orphan
//!   temp files are removed (orphans are removed only once no record is
//!   left, so a temp file a record still needs is never taken);
//! * by a commit, before it writes its own record;
//! * by a single-key save or delete, before it writes (`lock_for_write`).
//!
//! A record that fails its checksum is removed: its commit never reached its
//! commit point. An intact record is **rolled forward** when every new value
//! it names is either still in its temp file, intact (length and CRC-32), or
//! already renamed into place; the temp files are renamed, the removals
//! redone, the directory fsynced, and the record removed. Otherwise (a temp
//! file missing or torn: the filesystem wrote the record out before the
//! commit point, or the original module rewrote a file since) it is
//! **rolled back**: its temp files and the record are removed and no final
//! name changes. Either outcome is fsynced before anything else proceeds.

use std::io;
use std::path::Path;

use crate::commit::apply_entries;
use crate::commit_record::{self, Entry, Invalid};
use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::fs::Fs;
use crate::io_pool;
use crate::locks::{DirLock, FileLock};
use crate::store::Store;

/// What recovery found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// No record: nothing to do.
    Clean,
    /// A torn record was removed; nothing had been applied.
    DiscardedTorn,
    RolledForward,
    RolledBack,
}

/// How often a single-key write completes a left-over record and looks
/// again before it gives up: each round needs another commit to fail after
/// its commit point in between.
const WRITE_ATTEMPTS: usize = 4;

impl Store<'_> {
    /// Completes or rolls back a commit left in `dir` (as opening does).
    pub fn recover(&self, dir: &Path) -> Result<Recovery> {
        let dir = crate::directory::open(self.fs, self.spec, dir)?;
        recover(self.fs, &dir)
    }
}

/// Takes the locks a commit takes, then recovers.
pub(crate) fn recover(fs: &dyn Fs, dir: &Directory) -> Result<Recovery> {
    let _manifest = dir.lock_manifest();
    let _gate = dir.atomic_commits().gate.write();
    let _os_lock = DirLock::acquire(&dir.path)?;
    Ok(recover_locked(fs, dir)?)
}

/// Runs once per directory and OS process, when it is first opened; every
/// other caller waits for it. A failure is left for the first write to meet.
pub(crate) fn once_at_open(fs: &dyn Fs, dir: &Directory, remove_orphans: impl FnOnce()) {
    dir.atomic_commits().opened.get_or_init(|| {
        let _manifest = dir.lock_manifest();
        let _gate = dir.atomic_commits().gate.write();
        // A directory that cannot be opened yet has nothing to recover.
        let Ok(_os_lock) = DirLock::acquire(&dir.path) else {
            return;
        };
        // Listing first keeps a first open as cheap as before when there is
        // no record, and a failed listing skips orphan removal as before.
        let Ok(entries) = fs.list_dir(&dir.path) else {
            return;
        };
        let record = commit_record::record_file_name(dir.spec).as_bytes();
        if entries.iter().any(|e| e.name == record) && recover_locked(fs, dir).is_err() {
            return;
        }
        remove_orphans();
    });
}

/// The caller holds the manifest lock, the gate and the `flock` exclusively.
pub(crate) fn recover_locked(fs: &dyn Fs, dir: &Directory) -> io::Result<Recovery> {
    let record_path = dir.path.join(commit_record::record_file_name(dir.spec));
    let Some(bytes) = read_record(fs, &record_path)? else {
        return Ok(Recovery::Clean);
    };
    let entries = match commit_record::decode(&bytes) {
        Ok(entries) => entries,
        Err(Invalid::Torn) => {
            remove_durably(fs, &dir.path, &record_path)?;
            return Ok(Recovery::DiscardedTorn);
        }
        // Written by another version, or damaged in a way a crash cannot
        // do: refuse to write rather than guess.
        Err(Invalid::Foreign) => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
    };
    let states = io_pool::map(&entries, |entry| state_of(fs, &dir.path, entry))
        .into_iter()
        .collect::<io::Result<Vec<State>>>()?;
    if !states.iter().any(|s| matches!(s, State::Broken)) {
        let pending: Vec<Entry> = entries
            .into_iter()
            .zip(&states)
            .filter(|(_, state)| !matches!(state, State::InPlace))
            .map(|(entry, _)| entry)
            .collect();
        apply_entries(fs, &dir.path, &pending)?;
        fs.sync_dir(&dir.path)?;
        remove_durably(fs, &dir.path, &record_path)?;
        Ok(Recovery::RolledForward)
    } else {
        let temps: Vec<&[u8]> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Write { temp, .. } => Some(temp.as_slice()),
                Entry::Remove { .. } => None,
            })
            .collect();
        let removed = io_pool::map(&temps, |temp| {
            match fs.remove_file(&file_path(&dir.path, temp)) {
                Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        });
        removed.into_iter().collect::<io::Result<()>>()?;
        remove_durably(fs, &dir.path, &record_path)?;
        Ok(Recovery::RolledBack)
    }
}

enum State {
    /// The temp file holds the new value.
    Ready,
    /// The temp file is gone and the final file holds the new value.
    InPlace,
    /// A removal: always redone.
    Removal,
    /// Neither: the commit point was never reached, or the file was
    /// rewritten since.
    Broken,
}

fn state_of(fs: &dyn Fs, dir: &Path, entry: &Entry) -> io::Result<State> {
    let Entry::Write {
        name,
        temp,
        len,
        crc,
    } = entry
    else {
        return Ok(State::Removal);
    };
    let holds_new_value = |path: &Path| -> io::Result<Option<bool>> {
        // Anything longer than the new value, or not a regular file, is not it.
        match fs.read(path, usize::try_from(*len).unwrap_or(usize::MAX)) {
            Ok(bytes) => Ok(Some(
                bytes.len() as u64 == *len && crc32fast::hash(&bytes) == *crc,
            )),
            Err(Error::Io(err)) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(Error::Io(err)) => Err(err),
            Err(_) => Ok(Some(false)),
        }
    };
    Ok(match holds_new_value(&file_path(dir, temp))? {
        Some(true) => State::Ready,
        Some(false) => State::Broken,
        None => match holds_new_value(&file_path(dir, name))? {
            Some(true) => State::InPlace,
            _ => State::Broken,
        },
    })
}

/// The record's bytes, `None` when there is none. One that is not a
/// regular file or is larger than any record is refused like a foreign one.
fn read_record(fs: &dyn Fs, path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs.read(path, commit_record::MAX_RECORD_BYTES) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(Error::Io(err)) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(Error::Io(err)) => Err(err),
        Err(_) => Err(io::Error::from_raw_os_error(libc::EINVAL)),
    }
}

fn file_path(dir: &Path, name: &[u8]) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    dir.join(std::ffi::OsStr::from_bytes(name))
}

fn remove_durably(fs: &dyn Fs, dir: &Path, path: &Path) -> io::Result<()> {
    match fs.remove_file(path) {
        Ok(()) => fs.sync_dir(dir),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    }
}

/// What a single-key write holds while it writes one file: the file's lock,
/// the directory's gate and its `flock`, both shared, with no commit record
/// left in the directory. Dropped in that reverse order.
pub(crate) struct WriteGuard<'d> {
    _os_lock: DirLock,
    _gate: parking_lot::RwLockReadGuard<'d, ()>,
    _file: FileLock<'d>,
}

/// Locks `name` for a single-key write. A commit holds the gate and the
/// `flock` exclusively from before its record exists until the record is
/// gone, so a record seen here was left by a crash or a failure after the
/// commit point: it is completed (or rolled back) first, so that it can
/// never be replayed over what this write is about to write.
pub(crate) fn lock_for_write<'d>(
    fs: &dyn Fs,
    dir: &'d Directory,
    name: &[u8],
) -> Result<WriteGuard<'d>> {
    let record_path = dir.path.join(commit_record::record_file_name(dir.spec));
    for _ in 0..WRITE_ATTEMPTS {
        let file = dir.files().lock(name);
        let gate = dir.atomic_commits().gate.read();
        let os_lock = DirLock::acquire_shared(&dir.path)?;
        if read_record(fs, &record_path)?.is_none() {
            return Ok(WriteGuard {
                _os_lock: os_lock,
                _gate: gate,
                _file: file,
            });
        }
        drop((os_lock, gate, file));
        recover(fs, dir)?;
    }
    Err(Error::Io(io::Error::from_raw_os_error(libc::EAGAIN)))
}
