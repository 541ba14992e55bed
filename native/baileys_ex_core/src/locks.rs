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
    fn different_files_do_not_block_each_other() {
        let table = LockTable::default();
        let _a = table.lock(b"a");
        let _b = table.lock(b"b");
        assert_eq!(table.len(), 2);
    }
}
