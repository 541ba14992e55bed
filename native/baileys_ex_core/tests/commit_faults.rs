//! Fault injection for multi-key commits: every filesystem call a commit
//! makes is failed in turn, for each kind of call and several errnos; then
//! the directory is recovered, as the next open or write would.
//!
//! * a success leaves exactly what a fault-free commit leaves;
//! * an error carries the injected errno's POSIX name;
//! * an error before the commit point (the first flush) leaves every file
//!   byte for byte as it was, with no temp file and no record;
//! * after an error past it, recovery completes the commit: the directory is
//!   what a fault-free commit leaves.
//!
//! Recovery itself is failed at every call too, then run again; and a lone
//! replace (one indexed key re-saved, no record) at every call.

mod commit_support;
mod support;

use std::path::{Path, PathBuf};

use baileys_ex_core::commit::CommitError;
use baileys_ex_core::fs::{FaultFs, FsOp, RealFs};
use baileys_ex_core::layout::{BackendSpec, ETF, JSON};
use commit_support::*;
use support::faults::{every_fault, Fault, OpSets, ERRNOS};

const ALL_OPS: &[FsOp] = &[
    FsOp::Read,
    FsOp::Open,
    FsOp::Write,
    FsOp::Fsync,
    FsOp::Rename,
    FsOp::DirFsync,
    FsOp::Remove,
    FsOp::Mkdir,
    FsOp::List,
    FsOp::SyncFs,
];

const OP_SETS: OpSets = &[
    ("open", &[FsOp::Open]),
    ("write", &[FsOp::Write]),
    ("rename", &[FsOp::Rename]),
    ("dir fsync", &[FsOp::DirFsync]),
    ("syncfs", &[FsOp::SyncFs]),
    ("remove", &[FsOp::Remove]),
    ("read", &[FsOp::Read]),
    ("any call", ALL_OPS),
];

fn history() -> Vec<Op> {
    vec![
        Op::Save("session", b"kept".to_vec(), b"kept".to_vec()),
        Op::Save("session", b"overwritten".to_vec(), b"old".to_vec()),
        Op::Save("pre-key", b"deleted".to_vec(), b"old".to_vec()),
        Op::Creds(b"old creds".to_vec()),
    ]
}

fn commit_ops() -> Vec<Op> {
    vec![
        Op::Save("session", b"overwritten".to_vec(), b"new".to_vec()),
        Op::Save("session", b"added".to_vec(), vec![3; 2000]),
        Op::Delete("pre-key", b"deleted".to_vec()),
        Op::Delete("pre-key", b"never-there".to_vec()),
        Op::Save("custom-type", b"x".to_vec(), b"unindexed".to_vec()),
        Op::Creds(b"new creds".to_vec()),
    ]
}

struct Baseline {
    log: Vec<FsOp>,
    before: Snapshot,
    after: Snapshot,
}

/// A fault-free commit of `ops` on the directory `history` makes: the
/// calls made and the directory before and after.
fn baseline(spec: &'static BackendSpec, ops: &[Op]) -> Baseline {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("auth");
    prepare(spec, &dir, &history());
    let before = snapshot(&dir);
    let fs = FaultFs::new();
    fs.fail_nth(u64::MAX, &[], 0);
    store(spec, &fs).commit(&dir, &mutations(ops)).unwrap();
    Baseline {
        log: fs.log(),
        before,
        after: snapshot(&dir),
    }
}

/// A commit of `ops` on the directory `history` makes, run with `fault`.
struct FaultyCommit {
    what: String,
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    result: Result<(), CommitError>,
    log: Vec<FsOp>,
}

fn faulty_commit(spec: &'static BackendSpec, fault: &Fault, ops: &[Op]) -> FaultyCommit {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("auth");
    prepare(spec, &dir, &history());
    let fs = fault.fs();
    let result = store(spec, &fs).commit(&dir, &mutations(ops));
    fs.clear();
    FaultyCommit {
        what: format!("{:?}: {}", spec.kind, fault.describe()),
        _tmp: tmp,
        dir,
        result,
        log: fs.log(),
    }
}

/// The store error inside a commit error, which must be one.
fn store_error(what: &str, err: CommitError) -> baileys_ex_core::error::Error {
    match err {
        CommitError::Store(e) => e,
        other => panic!("{what}: {other:?}"),
    }
}

fn clean(spec: &BackendSpec, what: &str, snap: &Snapshot) {
    assert!(
        temps(snap).is_empty(),
        "{what}: temp files left: {:?}",
        temps(snap)
    );
    assert!(!has_record(spec, snap), "{what}: the record is left");
}

#[test]
fn every_call_of_a_commit_fails_safely_and_recovery_completes_it() {
    let (mut faults, mut before_point, mut after_point) = (0, 0, 0);
    for spec in [&ETF, &JSON] {
        let base = baseline(spec, &commit_ops());
        assert_ne!(base.before, base.after);
        for fault in every_fault(&base.log, OP_SETS) {
            // `_tmp` is bound, not `..`-ed, to keep the directory alive.
            let FaultyCommit {
                what,
                _tmp,
                dir,
                result,
                log,
            } = faulty_commit(spec, &fault, &commit_ops());
            let Some(failed_at) = fault.position(&log) else {
                assert!(result.is_ok(), "{what}: no fault, yet {result:?}");
                assert_eq!(snapshot(&dir), base.after, "{what}");
                continue;
            };
            faults += 1;
            match result {
                Ok(()) => {
                    // Only the orphan scan of a first open may fail
                    // without failing the call, as for single keys.
                    assert_eq!(log[failed_at], FsOp::List, "{what}: {log:?}");
                    assert_eq!(snapshot(&dir), base.after, "{what}");
                }
                Err(err) => {
                    let store_err = store_error(&what, err);
                    assert_eq!(store_err.posix_name(), Some(fault.posix), "{what}");
                    let committed = log
                        .iter()
                        .position(|op| *op == FsOp::SyncFs)
                        .is_some_and(|sync| sync < failed_at);
                    if committed {
                        after_point += 1;
                    } else {
                        before_point += 1;
                        let now = snapshot(&dir);
                        assert_eq!(
                            now, base.before,
                            "{what}: untouched before the commit point"
                        );
                    }
                    let s = store(spec, &RealFs);
                    s.recover(&dir).unwrap();
                    let now = snapshot(&dir);
                    clean(spec, &what, &now);
                    let expected = if committed { &base.after } else { &base.before };
                    assert_eq!(&now, expected, "{what}: after recovery; {log:?}");
                }
            }
        }
    }
    println!(
        "commit faults injected: {faults} ({before_point} errors before the commit point, {after_point} after)"
    );
    assert!(faults > 300 && before_point > 100 && after_point > 100);
}

/// A lone replace is the single-key replace: a failure leaves the old
/// value or, once the rename is done, the new one; never a temp file or a
/// record.
#[test]
fn every_call_of_a_lone_replace_fails_safely() {
    let lone = [Op::Save(
        "session",
        b"overwritten".to_vec(),
        b"new".to_vec(),
    )];
    let mut faults = 0;
    for spec in [&ETF, &JSON] {
        let Baseline { log, before, after } = baseline(spec, &lone);
        assert_ne!(before, after);
        assert!(
            !log.contains(&FsOp::SyncFs),
            "no record, no syncfs: {log:?}"
        );
        for fault in every_fault(&log, OP_SETS) {
            let run = faulty_commit(spec, &fault, &lone);
            let (what, now) = (&run.what, snapshot(&run.dir));
            let Some(failed_at) = fault.position(&run.log) else {
                assert!(run.result.is_ok(), "{what}: no fault, yet {:?}", run.result);
                assert_eq!(now, after, "{what}");
                continue;
            };
            faults += 1;
            match run.result {
                Ok(()) => {
                    assert_eq!(run.log[failed_at], FsOp::List, "{what}");
                    assert_eq!(now, after, "{what}");
                }
                Err(err) => {
                    let store_err = store_error(what, err);
                    assert_eq!(store_err.posix_name(), Some(fault.posix), "{what}");
                    clean(spec, what, &now);
                    assert!(now == before || now == after, "{what}: {now:?}");
                }
            }
        }
    }
    println!("lone replace faults injected: {faults}");
    assert!(faults > 50);
}

/// Leaves a record with half the renames done: the second rename fails.
fn interrupted(spec: &'static BackendSpec, dir: &Path) {
    prepare(spec, dir, &history());
    let fs = FaultFs::new();
    fs.fail_nth(2, &[FsOp::Rename], libc::EIO);
    assert!(store(spec, &fs)
        .commit(dir, &mutations(&commit_ops()))
        .is_err());
    assert!(has_record(spec, &snapshot(dir)));
}

#[test]
fn every_call_of_a_recovery_fails_safely_and_a_second_one_completes() {
    let mut faults = 0;
    for spec in [&ETF, &JSON] {
        let base = baseline(spec, &commit_ops());
        let tmp = tempfile::tempdir().unwrap();
        let probe = tmp.path().join("probe");
        interrupted(spec, &probe);
        let counter = FaultFs::new();
        counter.fail_nth(u64::MAX, &[], 0);
        store(spec, &counter).recover(&probe).unwrap();
        let calls = counter.log().len() as u64;
        assert_eq!(snapshot(&probe), base.after);
        for &(errno, posix) in ERRNOS {
            for nth in 1..=calls {
                let what = format!("{:?}: recovery call {nth} fails with {posix}", spec.kind);
                let dir = tmp.path().join(format!("r-{posix}-{nth}"));
                interrupted(spec, &dir);
                let fs = FaultFs::new();
                fs.fail_nth(nth, ALL_OPS, errno);
                let result = store(spec, &fs).recover(&dir);
                if let Err(err) = &result {
                    faults += 1;
                    assert_eq!(err.posix_name(), Some(posix), "{what}");
                }
                store(spec, &RealFs).recover(&dir).unwrap();
                let now = snapshot(&dir);
                clean(spec, &what, &now);
                assert_eq!(now, base.after, "{what}");
            }
        }
    }
    println!("recovery faults injected: {faults}");
    assert!(faults > 40);
}
