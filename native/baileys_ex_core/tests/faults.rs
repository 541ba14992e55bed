//! Fault injection: every filesystem call a store operation makes is failed in
//! turn, for every kind of call and every errno a full or broken disk gives,
//! and the directory is checked afterwards.
//!
//! For each operation a fault-free run in a twin directory gives the call log
//! and the directory as it is after success. Then, for every N, the Nth call
//! (among the chosen kinds) fails with the chosen errno, and:
//!
//! * a success leaves exactly the directory a fault-free run leaves;
//! * an error carries the injected errno's POSIX name;
//! * an error before the commit point (the data file's rename, or its
//!   removal) leaves every file byte for byte as it was;
//! * an error after it leaves each file either as it was or as success
//!   leaves it (the data file is new; the manifest is old or new);
//! * the manifest always decodes, and no temp file is left behind;
//! * after the failed call nothing but the temp file's removal happens: in
//!   particular a failed fsync is never followed by a rename.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use baileys_ex_core::error::Error;
use baileys_ex_core::fs::{FaultFs, FsOp, RealFs};
use baileys_ex_core::layout::{BackendSpec, ETF, JSON};
use support::faults::{every_fault, Fault, OpSets, ERRNOS};
use support::{decode_manifest, files, store, temps};

const ALL_OPS: &[FsOp] = &[
    FsOp::Read,
    FsOp::Open,
    FsOp::Lock,
    FsOp::Write,
    FsOp::Fsync,
    FsOp::Rename,
    FsOp::DirFsync,
    FsOp::Remove,
    FsOp::Mkdir,
    FsOp::List,
    FsOp::Stat,
];

/// Each kind of call on its own, then every call whatever its kind.
const OP_SETS: OpSets = &[
    ("open", &[FsOp::Open]),
    ("lock", &[FsOp::Lock]),
    ("write", &[FsOp::Write]),
    ("fsync", &[FsOp::Fsync]),
    ("rename", &[FsOp::Rename]),
    ("dir fsync", &[FsOp::DirFsync]),
    ("remove", &[FsOp::Remove]),
    ("read", &[FsOp::Read]),
    ("mkdir", &[FsOp::Mkdir]),
    ("list", &[FsOp::List]),
    ("stat", &[FsOp::Stat]),
    ("any call", ALL_OPS),
];

const TYPE: &str = "session";
const ID: &[u8] = b"15559876543.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// The first call ever in a directory that does not exist yet.
    SaveIntoMissingDir,
    SaveNewKey,
    SaveExistingKey,
    /// A save whose manifest needs no rewrite (same key, same index).
    ResaveSameKey,
    DeleteExistingKey,
    DeleteMissingKey,
    SaveNewCredentials,
    SaveExistingCredentials,
    LoadKey,
    LoadCredentials,
    ListKeys,
}

const SCENARIOS: &[Scenario] = &[
    Scenario::SaveIntoMissingDir,
    Scenario::SaveNewKey,
    Scenario::SaveExistingKey,
    Scenario::ResaveSameKey,
    Scenario::DeleteExistingKey,
    Scenario::DeleteMissingKey,
    Scenario::SaveNewCredentials,
    Scenario::SaveExistingCredentials,
    Scenario::LoadKey,
    Scenario::LoadCredentials,
    Scenario::ListKeys,
];

impl Scenario {
    /// The call whose success makes the new data visible: after it, a
    /// failure may leave the new data file in place.
    fn commit_op(self) -> Option<FsOp> {
        match self {
            Scenario::SaveIntoMissingDir
            | Scenario::SaveNewKey
            | Scenario::SaveExistingKey
            | Scenario::ResaveSameKey
            | Scenario::SaveNewCredentials
            | Scenario::SaveExistingCredentials => Some(FsOp::Rename),
            Scenario::DeleteExistingKey => Some(FsOp::Remove),
            // No file to remove, but the original's update leaves an empty
            // list for the type, so the manifest is rewritten.
            Scenario::DeleteMissingKey => Some(FsOp::Rename),
            _ => None,
        }
    }
}

/// Puts the directory into the state the scenario starts from.
fn prepare(spec: &'static BackendSpec, dir: &Path, scenario: Scenario) {
    if scenario == Scenario::SaveIntoMissingDir {
        return;
    }
    let s = store(spec, &RealFs);
    s.save_key(dir, "pre-key", b"7", b"other key").unwrap();
    match scenario {
        Scenario::SaveExistingKey
        | Scenario::ResaveSameKey
        | Scenario::DeleteExistingKey
        | Scenario::LoadKey
        | Scenario::ListKeys => s.save_key(dir, TYPE, ID, b"old value").unwrap(),
        Scenario::SaveExistingCredentials | Scenario::LoadCredentials => {
            s.save_credentials(dir, b"old creds").unwrap()
        }
        _ => {}
    }
}

fn run(
    spec: &'static BackendSpec,
    dir: &Path,
    scenario: Scenario,
    fs: &dyn baileys_ex_core::fs::Fs,
) -> Result<(), Error> {
    let s = store(spec, fs);
    match scenario {
        Scenario::SaveIntoMissingDir | Scenario::SaveNewKey | Scenario::SaveExistingKey => {
            s.save_key(dir, TYPE, ID, b"new value")
        }
        Scenario::ResaveSameKey => s.save_key(dir, TYPE, ID, b"old value, rewritten"),
        Scenario::DeleteExistingKey | Scenario::DeleteMissingKey => s.delete_key(dir, TYPE, ID),
        Scenario::SaveNewCredentials | Scenario::SaveExistingCredentials => {
            s.save_credentials(dir, b"new creds")
        }
        Scenario::LoadKey => s.load_key(dir, TYPE, ID).map(|v| {
            assert_eq!(v.as_deref(), Some(&b"old value"[..]));
        }),
        Scenario::LoadCredentials => s.load_credentials(dir).map(|v| {
            assert_eq!(v.as_deref(), Some(&b"old creds"[..]));
        }),
        Scenario::ListKeys => s.list_keys(dir).map(|index| {
            assert!(index[TYPE].contains(ID));
        }),
    }
}

/// Every file in the directory by name; `None` when the directory is missing.
type Snapshot = Option<support::Snapshot>;

fn snapshot(dir: &Path) -> Snapshot {
    files(dir)
}

fn check_manifest_decodes(spec: &'static BackendSpec, files: &support::Snapshot) {
    if let Some(bytes) = files.get(spec.manifest_file) {
        let decoded = decode_manifest(spec, bytes);
        assert!(
            matches!(decoded, Ok(Some(_))),
            "the manifest decodes: {decoded:?}"
        );
    }
}

struct Baseline {
    log: Vec<FsOp>,
    after: Snapshot,
}

/// A fault-free run in a twin directory: the calls made and the end state.
fn baseline(spec: &'static BackendSpec, scenario: Scenario) -> Baseline {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("auth");
    prepare(spec, &dir, scenario);
    let fs = FaultFs::new();
    fs.fail_nth(u64::MAX, &[], 0);
    run(spec, &dir, scenario, &fs).unwrap();
    Baseline {
        log: fs.log(),
        after: snapshot(&dir),
    }
}

#[derive(Default)]
struct Tally {
    faults: u64,
    errors: u64,
    post_commit_errors: u64,
    unaffected: u64,
}

fn check_one(
    spec: &'static BackendSpec,
    scenario: Scenario,
    base: &Baseline,
    fault: &Fault,
    tally: &mut Tally,
) {
    let what = format!("{:?} {scenario:?}: {}", spec.kind, fault.describe());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("auth");
    prepare(spec, &dir, scenario);
    let before = snapshot(&dir);

    let fs = fault.fs();
    let result = run(spec, &dir, scenario, &fs);
    fs.clear();
    let log = fs.log();
    let after = snapshot(&dir);
    let injected = fault.position(&log);

    if let Some(files) = &after {
        check_manifest_decodes(spec, files);
        let temps = temps(files);
        assert!(temps.is_empty(), "{what}: temp files left: {temps:?}");
    }

    let Some(failed_at) = injected else {
        // Fewer calls than N: nothing failed, so the run is the fault-free one.
        assert!(result.is_ok(), "{what}: no fault, yet {result:?}");
        assert_eq!(
            log, base.log,
            "{what}: the same calls as the fault-free run"
        );
        assert_eq!(after, base.after, "{what}");
        tally.unaffected += 1;
        return;
    };
    tally.faults += 1;

    match result {
        Ok(()) => {
            // The failed call's error was one the store is allowed to absorb:
            // only the orphan scan of a directory opened for the first time.
            assert_eq!(
                log[failed_at],
                FsOp::List,
                "{what}: a failed call was reported as success: {log:?}"
            );
            assert_eq!(
                after, base.after,
                "{what}: success leaves the success state"
            );
        }
        Err(err) => {
            tally.errors += 1;
            let tail = &log[failed_at + 1..];
            assert!(
                !tail.contains(&FsOp::Rename),
                "{what}: a rename followed the failed call: {log:?}"
            );
            assert!(
                tail.iter().all(|op| *op == FsOp::Remove) && tail.len() <= 1,
                "{what}: only the temp file's removal may follow the failed call: {log:?}"
            );
            assert_eq!(err.posix_name(), Some(fault.posix), "{what}: {err:?}");
            let committed = scenario
                .commit_op()
                .and_then(|op| log.iter().position(|l| *l == op))
                .is_some_and(|commit| commit < failed_at);
            if committed {
                tally.post_commit_errors += 1;
                let (after, before, success) = (
                    after.as_ref().unwrap(),
                    before.as_ref().unwrap_or(&BTreeMap::new()).clone(),
                    base.after.as_ref().unwrap(),
                );
                let names: std::collections::BTreeSet<&String> = after
                    .keys()
                    .chain(before.keys())
                    .chain(success.keys())
                    .collect();
                for name in names {
                    let now = after.get(name);
                    assert!(
                        now == before.get(name) || now == success.get(name),
                        "{what}: {name} is neither as it was nor as success leaves it"
                    );
                    if name != spec.manifest_file {
                        assert_eq!(
                            now,
                            success.get(name),
                            "{what}: past the commit point the data file is the new one"
                        );
                    }
                }
            } else {
                match (&before, &after) {
                    (None, Some(files)) => assert!(
                        files.is_empty(),
                        "{what}: nothing is written before the commit point: {files:?}"
                    ),
                    _ => assert_eq!(after, before, "{what}: the directory is untouched"),
                }
            }
        }
    }
}

fn sweep(specs: &[&'static BackendSpec], scenarios: &[Scenario]) -> Tally {
    let mut tally = Tally::default();
    for &spec in specs {
        for &scenario in scenarios {
            let base = baseline(spec, scenario);
            for fault in every_fault(&base.log, OP_SETS) {
                check_one(spec, scenario, &base, &fault, &mut tally);
            }
        }
    }
    tally
}

#[test]
fn every_call_of_every_operation_fails_safely() {
    let tally = sweep(&[&ETF, &JSON], SCENARIOS);
    println!(
        "faults injected: {} ({} errors, {} after the commit point; {} runs with fewer calls than N)",
        tally.faults, tally.errors, tally.post_commit_errors, tally.unaffected
    );
    // 11 scenarios, 2 backends, 4 errnos: the sweep is large by construction.
    assert!(
        tally.faults > 1_000,
        "only {} faults injected",
        tally.faults
    );
}

/// The fault log the sweep relies on: every kind of call the store makes is
/// seen, and a save does its steps in the crash-safe order.
#[test]
fn a_save_calls_the_filesystem_in_crash_safe_order() {
    for spec in [&ETF, &JSON] {
        let base = baseline(spec, Scenario::SaveNewKey);
        let steps: Vec<FsOp> = base
            .log
            .iter()
            .copied()
            .filter(|op| *op != FsOp::Read)
            .collect();
        assert_eq!(
            steps,
            [
                FsOp::Stat,
                FsOp::Open,
                FsOp::Lock,
                FsOp::Write,
                FsOp::Fsync,
                FsOp::Rename,
                FsOp::Open,
                FsOp::Lock,
                FsOp::Write,
                FsOp::Fsync,
                FsOp::Rename,
                FsOp::DirFsync,
            ],
            "{:?}: which directory, then data file, then manifest, then one directory fsync",
            spec.kind
        );
    }
}

/// A long workload with one fault somewhere in it, for every position: the
/// caller retries failed operations, and at the end the directory holds
/// exactly what a fault-free run holds.
#[test]
#[ignore = "stress: run by `make stress`"]
fn a_fault_anywhere_in_a_long_workload_is_recovered_by_retrying() {
    let ops_in_workload = 40;
    let mut faults = 0u64;
    for spec in [&ETF, &JSON] {
        let reference = tempfile::tempdir().unwrap();
        let counter = FaultFs::new();
        counter.fail_nth(u64::MAX, &[], 0);
        for i in 0..ops_in_workload {
            workload_step(spec, reference.path(), &counter, i).unwrap();
        }
        let expected = snapshot(reference.path());
        let total_calls = counter.log().len() as u64;
        for &(errno, posix) in ERRNOS {
            for nth in 1..=total_calls {
                let tmp = tempfile::tempdir().unwrap();
                let fs = FaultFs::new();
                fs.fail_nth(nth, ALL_OPS, errno);
                for i in 0..ops_in_workload {
                    if workload_step(spec, tmp.path(), &fs, i).is_err() {
                        faults += 1;
                        workload_step(spec, tmp.path(), &RealFs, i).unwrap();
                    }
                }
                let got = snapshot(tmp.path());
                assert_eq!(
                    got, expected,
                    "{:?}: fault at call {nth} ({posix})",
                    spec.kind
                );
            }
        }
    }
    println!("faults injected in long workloads: {faults}");
    assert!(faults > 1_000);
}

fn workload_step(
    spec: &'static BackendSpec,
    dir: &Path,
    fs: &dyn baileys_ex_core::fs::Fs,
    i: u32,
) -> Result<(), Error> {
    let s = store(spec, fs);
    let id = format!("{}", i % 7);
    match i % 5 {
        0 | 1 => s.save_key(dir, "pre-key", id.as_bytes(), format!("v{i}").as_bytes()),
        2 => s.delete_key(dir, "pre-key", id.as_bytes()),
        3 => s.save_credentials(dir, format!("creds {i}").as_bytes()),
        _ => s.save_key(dir, "device-list", id.as_bytes(), b"devices"),
    }
}
