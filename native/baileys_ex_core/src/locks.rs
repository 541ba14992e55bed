//! Per-file mutual exclusion inside this OS process.
//!
//! Any number of BEAM processes may write one file; each write holds the
//! file's lock, so writes of one file never interleave while writes of
//! different files proceed in parallel. Entries are dropped when the last
//! holder lets go, so the table stays as small as the set of files in use.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{ArcMutexGuard, Mutex, RawMutex};

#[derive(Default)]
pub struct LockTable {
    locks: Mutex<HashMap<Vec<u8>, Arc<Mutex<()>>>>,
}

/// Holds one file's lock until dropped.
pub struct FileLock<'t> {
    table: &'t LockTable,
    name: Vec<u8>,
    guard: Option<ArcMutexGuard<RawMutex, ()>>,
}

impl LockTable {
    pub fn lock(&self, name: &[u8]) -> FileLock<'_> {
        let lock = {
            let mut locks = self.locks.lock();
            Arc::clone(locks.entry(name.to_vec()).or_default())
        };
        FileLock {
            table: self,
            name: name.to_vec(),
            guard: Some(lock.lock_arc()),
        }
    }

    pub fn len(&self) -> usize {
        self.locks.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else {
            return;
        };
        let lock = ArcMutexGuard::mutex(&guard).clone();
        drop(guard);
        let mut locks = self.table.locks.lock();
        // The table's reference and `lock` are all that is left: nobody waits.
        if Arc::strong_count(&lock) == 2 {
            locks.remove(&self.name);
        }
    }
}

/// An exclusive `flock` on the directory itself, held for a manifest
/// read-modify-write so that writers in other OS processes (another node, a
/// script) never lose each other's manifest updates. The directory is locked
/// rather than a lock file so the directory holds exactly the files the
/// original would write. Where the filesystem has no `flock`, writers in one
/// OS process are still serialised by the in-process lock.
pub struct DirLock {
    _dir: Option<std::fs::File>,
}

impl DirLock {
    pub fn acquire(dir: &std::path::Path) -> std::io::Result<DirLock> {
        Self::flock(dir, libc::LOCK_EX)
    }

    /// A shared `flock`: single-key writes hold it so that a multi-key
    /// commit (which holds the exclusive one) never interleaves with them.
    pub fn acquire_shared(dir: &std::path::Path) -> std::io::Result<DirLock> {
        Self::flock(dir, libc::LOCK_SH)
    }

    fn flock(dir: &std::path::Path, operation: libc::c_int) -> std::io::Result<DirLock> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        // Never blocks opening: something put in the directory's place
        // (a FIFO) is refused at once.
        let handle = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NONBLOCK)
            .open(dir)?;
        loop {
            // SAFETY: flock on a descriptor we own; it is released when the
            // descriptor is closed on drop.
            let rc = unsafe { libc::flock(handle.as_raw_fd(), operation) };
            if rc == 0 {
                return Ok(DirLock { _dir: Some(handle) });
            }
            let err = std::io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ENOLCK) | Some(libc::ENOTSUP) | Some(libc::EINVAL) => {
                    return Ok(DirLock { _dir: None })
                }
                _ => return Err(err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn one_file_is_exclusive_and_the_table_empties() {
        let table = Arc::new(LockTable::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let max_inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (table, inside, max_inside) =
                    (table.clone(), inside.clone(), max_inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let _held = table.lock(b"creds.etf");
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max_inside.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(max_inside.load(Ordering::SeqCst), 1);
        assert!(table.is_empty());
    }

    #[test]
    fn a_directory_lock_excludes_a_second_holder() {
        use std::os::fd::AsRawFd;
        let tmp = tempfile::tempdir().unwrap();
        let held = DirLock::acquire(tmp.path()).unwrap();
        let other = std::fs::File::open(tmp.path()).unwrap();
        // SAFETY: a non-blocking flock attempt on our own descriptor.
        let rc = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(rc, -1, "the directory is locked");
        drop(held);
        let rc = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(rc, 0, "and free again once the holder lets go");
    }

    #[test]
    fn different_files_do_not_block_each_other() {
        let table = LockTable::default();
        let _a = table.lock(b"a");
        let _b = table.lock(b"b");
        assert_eq!(table.len(), 2);
    }
}
