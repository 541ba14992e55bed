//! Fault plans: which call fails, among which kinds, with which errno.

use baileys_ex_core::fs::{FaultFs, FsOp};

/// The errnos a full, broken, read-only or forbidden disk gives.
pub const ERRNOS: &[(i32, &str)] = &[
    (libc::EIO, "eio"),
    (libc::ENOSPC, "enospc"),
    (libc::EACCES, "eacces"),
    (libc::EROFS, "erofs"),
];

/// Named sets of call kinds; a fault counts calls among one set.
pub type OpSets = &'static [(&'static str, &'static [FsOp])];

/// The `nth` call whose kind is in `ops` fails with `errno`.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    pub set: &'static str,
    pub ops: &'static [FsOp],
    pub errno: i32,
    pub posix: &'static str,
    pub nth: u64,
}

impl Fault {
    /// A filesystem that fails this way, counting calls from now.
    pub fn fs(&self) -> FaultFs {
        let fs = FaultFs::new();
        fs.fail_nth(self.nth, self.ops, self.errno);
        fs
    }

    /// Where in `log` the failed call stands; `None` when the run made
    /// fewer calls of these kinds, so that nothing failed.
    pub fn position(&self, log: &[FsOp]) -> Option<usize> {
        log.iter()
            .enumerate()
            .filter(|(_, op)| self.ops.contains(op))
            .nth((self.nth - 1) as usize)
            .map(|(i, _)| i)
    }

    pub fn describe(&self) -> String {
        format!(
            "call {} among {} fails with {}",
            self.nth, self.set, self.posix
        )
    }
}

/// Every fault for a run whose fault-free calls are `log`: for each set and
/// errno, each call among the set in turn, and one past the last, which
/// checks that nothing extra happens.
pub fn every_fault(log: &[FsOp], sets: OpSets) -> Vec<Fault> {
    let mut plan = Vec::new();
    for &(set, ops) in sets {
        let calls = log.iter().filter(|op| ops.contains(op)).count() as u64;
        for &(errno, posix) in ERRNOS {
            for nth in 1..=calls + 1 {
                plan.push(Fault {
                    set,
                    ops,
                    errno,
                    posix,
                    nth,
                });
            }
        }
    }
    plan
}
