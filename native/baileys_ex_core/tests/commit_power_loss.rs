//! Power loss at every filesystem call of a workload of commits and
//! single-key writes, on the page-cache model (`crash_fs`): after each
//! crash the durable image is opened by our module (which recovers), and
//!
//! * every acknowledged operation is there;
//! * the commit in flight is there whole or not at all;
//! * a single-key write in flight leaves each of its files old or new;
//! * no record is left, and any temp file left is an orphan of the crashed
//!   writer (one the next process removes);
//! * a record replayed never undoes a later acknowledged write: the workload
//!   re-creates a key a commit deleted, then crashes.
//!
//! Each crash point is checked against the strict model (only synced data
//! survives) and against seeded ones that also keep random unsynced
//! changes, in order, and tear unsynced files.

mod commit_support;
mod support;

use std::path::Path;

use baileys_ex_core::crash_fs::{write_image, CrashFs, Loss};
use baileys_ex_core::fs::RealFs;
use baileys_ex_core::layout::{BackendSpec, ETF, JSON};
use commit_support::*;

#[derive(Debug, Clone)]
enum Step {
    Commit(Vec<Op>),
    Single(Op),
}

fn history() -> Vec<Op> {
    vec![
        Op::Save("session", b"s3".to_vec(), b"old s3".to_vec()),
        Op::Save("session", b"s4".to_vec(), b"old s4".to_vec()),
        Op::Creds(b"old creds".to_vec()),
    ]
}

fn workload() -> Vec<Step> {
    vec![
        Step::Commit(vec![
            Op::Save("session", b"s1".to_vec(), b"a1".to_vec()),
            Op::Save("session", b"s2".to_vec(), vec![2; 3000]),
            Op::Save("session", b"s3".to_vec(), b"a3".to_vec()),
            Op::Delete("session", b"s4".to_vec()),
            Op::Save("custom-type", b"c".to_vec(), b"ac".to_vec()),
            Op::Creds(b"a creds".to_vec()),
        ]),
        // Re-creates what the commit deleted: a replay must not delete it.
        Step::Single(Op::Save("session", b"s4".to_vec(), b"later s4".to_vec())),
        Step::Commit(vec![
            Op::Save("session", b"s1".to_vec(), b"b1".to_vec()),
            Op::Delete("session", b"s2".to_vec()),
            Op::Save("pre-key", b"p".to_vec(), vec![5; 200_000]),
            Op::Save("session", b"s4".to_vec(), b"b4".to_vec()),
        ]),
        Step::Single(Op::Delete("session", b"s3".to_vec())),
        Step::Commit(vec![Op::Delete("session", b"s1".to_vec())]),
        // Lone replaces: one indexed key, then the credentials, re-saved.
        Step::Commit(vec![Op::Save("session", b"s4".to_vec(), b"c4".to_vec())]),
        Step::Commit(vec![Op::Creds(b"c creds".to_vec())]),
    ]
}

fn run_step(
    spec: &'static BackendSpec,
    fs: &dyn baileys_ex_core::fs::Fs,
    dir: &Path,
    step: &Step,
) -> bool {
    let s = store(spec, fs);
    match step {
        Step::Commit(ops) => s.commit(dir, &mutations(ops)).is_ok(),
        Step::Single(op) => op.apply(&s, dir).is_ok(),
    }
}

/// The directory after each prefix of the workload, fault-free.
fn states(spec: &'static BackendSpec, root: &Path) -> Vec<Snapshot> {
    let dir = root.join("states");
    prepare(spec, &dir, &history());
    let mut states = vec![snapshot(&dir)];
    for step in workload() {
        assert!(run_step(spec, &RealFs, &dir, &step));
        states.push(snapshot(&dir));
    }
    states
}

/// A temp file the crashed writer left carries its pid; in this test the
/// "crashed" writer is this very process.
fn own_orphan(name: &str) -> bool {
    name.rsplit_once(".tmp-")
        .and_then(|(_, suffix)| suffix.split_once('-'))
        .is_some_and(|(pid, _)| pid == std::process::id().to_string())
}

fn check(
    spec: &'static BackendSpec,
    what: &str,
    recovered: &Snapshot,
    states: &[Snapshot],
    acked: usize,
    in_flight: Option<&Step>,
) {
    assert!(!has_record(spec, recovered), "{what}: record left");
    for name in temps(recovered) {
        assert!(
            own_orphan(name),
            "{what}: temp file {name} is not an orphan"
        );
    }
    let got = data_files(recovered);
    let done = &states[acked];
    match in_flight {
        None => assert_eq!(&got, done, "{what}"),
        Some(Step::Commit(_)) => {
            let next = &states[acked + 1];
            assert!(
                &got == done || &got == next,
                "{what}: the commit in flight is neither absent nor whole:\n got  {:?}\n none {:?}\n all  {:?}",
                got.keys().collect::<Vec<_>>(),
                done.keys().collect::<Vec<_>>(),
                next.keys().collect::<Vec<_>>()
            );
        }
        Some(Step::Single(_)) => {
            let next = &states[acked + 1];
            let names: std::collections::BTreeSet<&String> =
                got.keys().chain(done.keys()).chain(next.keys()).collect();
            for name in names {
                let now = got.get(name);
                assert!(
                    now == done.get(name) || now == next.get(name),
                    "{what}: {name} is neither as before nor as after the write in flight"
                );
            }
        }
    }
}

fn crash_everywhere(spec: &'static BackendSpec, syncfs: bool, seeds_per_point: u64) -> (u64, u64) {
    let tmp = tempfile::tempdir().unwrap();
    let states = states(spec, tmp.path());
    let steps = workload();

    // A fault-free run counts the calls.
    let count_dir = tmp.path().join("count");
    prepare(spec, &count_dir, &history());
    let counter = CrashFs::new(&[&count_dir], syncfs).unwrap();
    for step in &steps {
        assert!(run_step(spec, &counter, &count_dir, step));
    }
    let calls = counter.calls();
    assert_eq!(data_files(&snapshot(&count_dir)), *states.last().unwrap());

    let (mut images, mut mid_commit) = (0, 0);
    for nth in 1..=calls + 1 {
        let dir = tmp.path().join(format!("run-{nth}"));
        prepare(spec, &dir, &history());
        let fs = CrashFs::new(&[&dir], syncfs).unwrap();
        fs.crash_at(nth);
        let mut acked = 0;
        for step in &steps {
            if !run_step(spec, &fs, &dir, step) {
                break;
            }
            acked += 1;
        }
        assert_eq!(fs.crashed(), nth <= calls, "call {nth} of {calls}");
        let in_flight = steps.get(acked).filter(|_| fs.crashed());
        mid_commit += u64::from(matches!(in_flight, Some(Step::Commit(_))));
        let losses = std::iter::once(Loss::Unsynced)
            .chain((0..seeds_per_point).map(|s| Loss::Seeded(nth * 1000 + s)));
        for (i, loss) in losses.enumerate() {
            let what = format!(
                "{:?} syncfs {syncfs}: crash at call {nth} of {calls} ({acked} acknowledged), {loss:?}",
                spec.kind
            );
            // A fresh path: this process opens it for the first time, as
            // the next process would, and recovers.
            let reopened = tmp.path().join(format!("image-{nth}-{i}"));
            write_image(&fs.image(&dir, loss), &reopened).unwrap();
            store(spec, &RealFs).list_keys(&reopened).unwrap();
            check(spec, &what, &snapshot(&reopened), &states, acked, in_flight);
            // Still fully usable.
            store(spec, &RealFs)
                .commit(
                    &reopened,
                    &[baileys_ex_core::commit::Mutation::SaveCredentials { data: b"z" }],
                )
                .unwrap();
            std::fs::remove_dir_all(&reopened).unwrap();
            images += 1;
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    (images, mid_commit)
}

#[test]
fn power_loss_at_every_call_keeps_commits_whole_and_acknowledged_work() {
    let mut total = 0;
    for spec in [&ETF, &JSON] {
        let (images, mid_commit) = crash_everywhere(spec, true, 3);
        println!(
            "{:?}: {images} crash images recovered, {mid_commit} crash points inside a commit",
            spec.kind
        );
        assert!(mid_commit > 30);
        total += images;
    }
    println!("power loss: {total} crash images checked");
}

#[test]
fn power_loss_without_syncfs_keeps_commits_whole_too() {
    let (images, mid_commit) = crash_everywhere(&ETF, false, 2);
    println!(
        "ETF without syncfs: {images} crash images, {mid_commit} crash points inside a commit"
    );
    assert!(mid_commit > 30);
}

#[test]
#[ignore = "stress: run by `make stress`"]
fn power_loss_with_many_seeded_reorderings() {
    for spec in [&ETF, &JSON] {
        for syncfs in [true, false] {
            let (images, _) = crash_everywhere(spec, syncfs, 40);
            println!("{:?} syncfs {syncfs}: {images} crash images", spec.kind);
        }
    }
}
