//! Where work on a large value runs: JSON codec passes, and reading or
//! writing a large file.
//!
//! The VM starts one dirty CPU scheduler per core and ten dirty IO
//! schedulers, all at the same OS priority as its normal schedulers. A few
//! multi-megabyte saves can then keep every core busy (codec passes on the
//! dirty CPU schedulers; on the dirty IO ones the kernel copying the bytes
//! into the page cache and queueing them for the disk), and a normal
//! scheduler that wakes up (a timer, a message) waits its turn behind them.
//! Work on a large value therefore runs on a short-lived helper thread with a
//! raised nice value while the dirty scheduler sleeps until it is done: the
//! OS runs the normal schedulers first, and the helper takes the rest of the
//! machine. Helpers get bytes and paths and return bytes or an I/O result;
//! terms stay on the scheduler thread.

use std::panic::resume_unwind;
use std::thread;

/// Below this much input the work takes well under a millisecond and a
/// thread would cost more than it saves.
pub const OFFLOAD_BYTES: usize = 512 * 1024;

/// Nice 19 weighs about 1/70 of a normal thread: it yields to the VM's
/// schedulers on a busy machine and still progresses.
#[cfg(target_os = "linux")]
const HELPER_NICE: libc::c_int = 19;

/// Runs `job` here when `size` is small, else on a low-priority helper
/// thread, waiting for it. If no thread can be started the job runs here.
pub fn run<T: Send>(size: usize, job: impl FnOnce() -> T + Send) -> T {
    if size < OFFLOAD_BYTES {
        return job();
    }
    let mut pending = Some(job);
    let outcome = thread::scope(|scope| {
        let slot = &mut pending;
        let spawned = thread::Builder::new()
            .name("baileys_ex_codec".into())
            .spawn_scoped(scope, move || {
                lower_priority();
                slot.take().map(|job| job())
            });
        spawned.ok().map(|handle| handle.join())
    });
    match outcome {
        Some(Ok(Some(result))) => result,
        // The helper's panic goes on to the NIF's own panic guard.
        Some(Err(panic)) => resume_unwind(panic),
        _ => match pending.take() {
            Some(job) => job(),
            None => unreachable_job(),
        },
    }
}

/// The helper takes the job before anything can fail, so a job that is
/// neither done nor pending cannot happen; treated as a panic for the guard.
#[cold]
fn unreachable_job() -> ! {
    resume_unwind(Box::new("codec helper lost its job"))
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: on Linux, PRIO_PROCESS with id 0 names the calling thread only,
    // and raising one's own nice value needs no privilege; a failure just
    // leaves the helper at normal priority.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, HELPER_NICE);
    }
}

// Elsewhere PRIO_PROCESS would reach the whole VM; the helper keeps its priority.
#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread_name() -> Option<String> {
        thread::current().name().map(str::to_owned)
    }

    #[test]
    fn small_work_runs_on_the_calling_thread() {
        let here = thread_name();
        assert_eq!(run(OFFLOAD_BYTES - 1, thread_name), here);
    }

    #[test]
    fn large_work_runs_on_a_helper_and_returns_its_result() {
        let data = vec![7u8; OFFLOAD_BYTES];
        let (name, sum) = run(data.len(), || {
            (
                thread_name(),
                data.iter().map(|&b| u64::from(b)).sum::<u64>(),
            )
        });
        assert_eq!(name.as_deref(), Some("baileys_ex_codec"));
        assert_eq!(sum, 7 * OFFLOAD_BYTES as u64);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_helper_runs_at_a_lower_priority_and_the_caller_keeps_its_own() {
        // SAFETY: getpriority only reads the calling thread's nice value.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let before = nice();
        let helper = run(OFFLOAD_BYTES, nice);
        assert!(helper >= HELPER_NICE.min(19), "helper nice {helper}");
        assert_eq!(nice(), before);
    }

    #[test]
    fn a_panic_in_the_helper_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| run(OFFLOAD_BYTES, || panic!("codec bug")));
        assert!(caught.is_err());
    }
}
