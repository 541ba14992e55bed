//! The thread pool on which a multi-key commit writes, renames and removes
//! its files and `load_many` reads them, in parallel. Its jobs get bytes and
//! paths only, never a VM term.

use std::sync::OnceLock;

use rayon::prelude::*;

/// One thread per core: creating and renaming files in one directory
/// serialises on the directory's lock in the kernel, so more threads only
/// add contention; the parallelism pays in copying bytes and in waiting for
/// reads.
fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8)
}

fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads())
            .thread_name(|i| format!("baileys_ex_io_{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// `job` applied to every item, in parallel where there is more than one;
/// results in the items' order. Without a pool (no thread could be started)
/// the items are done here, one by one.
pub fn map<T: Sync, R: Send>(items: &[T], job: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    match pool() {
        Some(pool) if items.len() > 1 => pool.install(|| items.par_iter().map(&job).collect()),
        _ => items.iter().map(job).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order() {
        let items: Vec<u32> = (0..1000).collect();
        assert_eq!(
            map(&items, |i| i * 2),
            (0..1000).map(|i| i * 2).collect::<Vec<_>>()
        );
        assert_eq!(map(&[7u32], |i| i + 1), [8]);
        assert!(map(&[] as &[u32], |i| *i).is_empty());
    }

    #[test]
    fn work_runs_on_the_pool_threads() {
        let names = map(&[1, 2, 3, 4], |_| {
            std::thread::current().name().map(str::to_owned)
        });
        assert!(names.iter().all(|n| n
            .as_deref()
            .is_some_and(|n| n.starts_with("baileys_ex_io_"))));
    }
}
