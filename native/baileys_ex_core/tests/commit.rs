//! Multi-key commits against the single-key path: same files, same
//! manifest, same listing; flushes per commit; concurrent commits; limits;
//! how commits and single-key writes meet a left-over record.

mod commit_support;
mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use baileys_ex_core::commit::{CommitError, Mutation, MAX_COMMIT_BYTES, MAX_MUTATIONS};
use baileys_ex_core::commit_record::record_file_name;
use baileys_ex_core::crash_fs::CrashFs;
use baileys_ex_core::directory;
use baileys_ex_core::fs::{DirEntry, FaultFs, Fs, FsOp, RealFs};
use baileys_ex_core::layout::{BackendKind, BackendSpec, ETF, JSON};
use baileys_ex_core::recovery::Recovery;
use baileys_ex_core::value::Value;
use commit_support::*;

const SPECS: [&BackendSpec; 2] = [&ETF, &JSON];

/// A manifest that decodes to the same index but is not what we would
/// write: ids out of order (ETF) or spaced out (JSON).
fn write_noncanonical_manifest(spec: &BackendSpec, dir: &Path) {
    let bytes = match spec.kind {
        BackendKind::Etf => baileys_ex_core::etf::encode_value(&Value::Map(vec![
            (Value::binary(*b"version"), Value::Integer(1)),
            (Value::binary(*b"backend"), Value::binary(spec.backend_id.as_bytes())),
            (
                Value::binary(*b"key_index"),
                Value::Map(vec![(
                    Value::binary(*b"session"),
                    Value::List(vec![Value::binary(*b"x"), Value::binary(*b"1")]),
                )]),
            ),
        ]))
        .unwrap(),
        BackendKind::Json => format!(
            "{{ \"version\": 1, \"backend\": \"{}\", \"key_index\": {{ \"session\": [\"x\", \"1\"] }} }}",
            spec.backend_id
        )
        .into_bytes(),
    };
    std::fs::write(dir.join(spec.manifest_file), bytes).unwrap();
}

#[test]
fn a_commit_leaves_what_the_same_saves_and_deletes_one_by_one_leave() {
    let seed = seed("COMMIT_SEED");
    println!("commit seed {seed} (set COMMIT_SEED to replay)");
    let mut rng = Rng(seed);
    let mut compared = 0;
    for case in 0..60 {
        for spec in SPECS {
            let tmp = tempfile::tempdir().unwrap();
            let one = tmp.path().join("one");
            let all = tmp.path().join("all");
            // Missing directory, empty one, one with keys, one whose
            // manifest is valid but not in our canonical form.
            let history = if case % 4 >= 2 {
                random_ops(&mut rng, 12)
            } else {
                Vec::new()
            };
            let mut dirs: Vec<&Path> = Vec::new();
            if case % 4 != 0 {
                for dir in [&one, &all] {
                    prepare(spec, dir, &history);
                    if case % 4 == 3 {
                        write_noncanonical_manifest(spec, dir);
                    }
                }
                dirs = vec![&one, &all];
            }
            // The page-cache model skips real fsyncs: fast, same files.
            let fs = CrashFs::new(&dirs, true).unwrap();
            let s = store(spec, &fs);
            let ops = random_ops(&mut rng, 24);
            for op in &ops {
                op.apply(&s, &one).unwrap();
            }
            s.commit(&all, &mutations(&ops)).unwrap();

            let what = format!("{:?} case {case}: {ops:?}", spec.kind);
            assert_eq!(snapshot(&one), snapshot(&all), "{what}");
            assert_eq!(
                s.list_keys(&one).unwrap(),
                s.list_keys(&all).unwrap(),
                "{what}"
            );
            let ids: Vec<&[u8]> = ops
                .iter()
                .filter_map(|op| match op {
                    Op::Save(_, id, _) | Op::Delete(_, id) => Some(id.as_slice()),
                    Op::Creds(_) => None,
                })
                .collect();
            for key_type in ["session", "pre-key", "custom-type"] {
                let many = s.load_many(&all, key_type, &ids).unwrap();
                for (id, got) in ids.iter().zip(many) {
                    assert_eq!(got, s.load_key(&one, key_type, id).unwrap(), "{what}");
                }
            }
            assert_eq!(
                s.load_credentials(&one).unwrap(),
                s.load_credentials(&all).unwrap()
            );
            compared += 1;
        }
    }
    println!("{compared} commits compared with the same operations one by one");
}

#[test]
fn a_commit_on_the_real_filesystem_matches_too_and_leaves_nothing_else() {
    for spec in SPECS {
        let tmp = tempfile::tempdir().unwrap();
        let one = tmp.path().join("one");
        let all = tmp.path().join("all");
        let history = [
            Op::Save("pre-key", b"1".to_vec(), b"a".to_vec()),
            Op::Save("session", b"s".to_vec(), b"b".to_vec()),
            Op::Creds(b"c".to_vec()),
        ];
        prepare(spec, &one, &history);
        prepare(spec, &all, &history);
        let ops = vec![
            Op::Delete("pre-key", b"1".to_vec()),
            Op::Save("pre-key", b"2".to_vec(), vec![7; 70_000]),
            Op::Save("session", b"s".to_vec(), b"newer".to_vec()),
            Op::Creds(b"creds 2".to_vec()),
            Op::Save("device-list", b"alice/device:0".to_vec(), b"d".to_vec()),
        ];
        let s = store(spec, &RealFs);
        for op in &ops {
            op.apply(&s, &one).unwrap();
        }
        s.commit(&all, &mutations(&ops)).unwrap();
        let after = snapshot(&all);
        assert_eq!(snapshot(&one), after);
        assert!(temps(&after).is_empty() && !has_record(spec, &after));
    }
}

fn flushes(log: &[FsOp]) -> Vec<FsOp> {
    log.iter()
        .copied()
        .filter(|op| matches!(op, FsOp::Fsync | FsOp::DirFsync | FsOp::SyncFs))
        .collect()
}

#[test]
fn flushes_per_commit_do_not_grow_with_its_size() {
    for spec in SPECS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        prepare(spec, dir, &[Op::Creds(b"c".to_vec())]);
        let fs = FaultFs::new();
        let s = store(spec, &fs);
        let mut seen = Vec::new();
        for size in [1usize, 812] {
            let ops: Vec<Op> = (0..size)
                .map(|i| Op::Save("pre-key", format!("{size}-{i}").into_bytes(), vec![1; 120]))
                .collect();
            fs.fail_nth(u64::MAX, &[], 0);
            s.commit(dir, &mutations(&ops)).unwrap();
            let log = fs.log();
            assert_eq!(
                flushes(&log),
                [FsOp::SyncFs, FsOp::DirFsync],
                "{:?}: {size} keys",
                spec.kind
            );
            seen.push((size, log.len()));
        }
        println!(
            "{:?}: 2 flushes per commit (syncfs, directory fsync); filesystem calls: {seen:?}",
            spec.kind
        );
    }
}

/// Re-saving one indexed key (or the credentials) replaces one file and
/// leaves the manifest as it is: the single-key replace, no record, and
/// flushes of that file and the directory rather than of the filesystem.
#[test]
fn a_lone_replace_flushes_its_file_and_the_directory_only() {
    for spec in SPECS {
        let tmp = tempfile::tempdir().unwrap();
        let (all, one) = (tmp.path().join("all"), tmp.path().join("one"));
        let setup = [
            Op::Creds(b"c".to_vec()),
            Op::Save("session", b"1".to_vec(), b"old".to_vec()),
        ];
        prepare(spec, &all, &setup);
        prepare(spec, &one, &setup);
        let fs = FaultFs::new();
        let s = store(spec, &fs);
        for ops in [
            vec![Op::Save("session", b"1".to_vec(), b"new".to_vec())],
            vec![Op::Creds(b"c2".to_vec())],
            vec![
                Op::Save("session", b"1".to_vec(), b"x".to_vec()),
                Op::Save("session", b"1".to_vec(), b"last".to_vec()),
            ],
        ] {
            fs.fail_nth(u64::MAX, &[], 0);
            s.commit(&all, &mutations(&ops)).unwrap();
            assert_eq!(
                flushes(&fs.log()),
                [FsOp::Fsync, FsOp::DirFsync],
                "{:?} {ops:?}",
                spec.kind
            );
            for op in &ops {
                op.apply(&store(spec, &RealFs), &one).unwrap();
            }
            assert_eq!(snapshot(&all), snapshot(&one));
        }
        // A new key changes the manifest: the record, syncfs and the directory.
        fs.fail_nth(u64::MAX, &[], 0);
        let new = [Op::Save("session", b"2".to_vec(), b"v".to_vec())];
        s.commit(&all, &mutations(&new)).unwrap();
        assert_eq!(flushes(&fs.log()), [FsOp::SyncFs, FsOp::DirFsync]);
    }
}

#[test]
fn without_syncfs_each_file_is_fsynced_and_the_result_is_the_same() {
    for spec in SPECS {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let ops: Vec<Op> = (0..5)
            .map(|i| Op::Save("session", format!("{i}").into_bytes(), vec![i; 10]))
            .collect();
        let with = CrashFs::new(&[&a], true).unwrap();
        let without = CrashFs::new(&[&b], false).unwrap();
        store(spec, &with).commit(&a, &mutations(&ops)).unwrap();
        store(spec, &without).commit(&b, &mutations(&ops)).unwrap();
        assert_eq!(snapshot(&a), snapshot(&b));
    }
}

#[test]
fn limits_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = store(&ETF, &RealFs);
    let too_many = vec![
        Mutation::Delete {
            key_type: "session",
            id: b"1",
        };
        MAX_MUTATIONS + 1
    ];
    assert!(matches!(
        s.commit(dir, &too_many),
        Err(CommitError::TooManyMutations(n)) if n == MAX_MUTATIONS + 1
    ));
    let half = vec![0u8; (MAX_COMMIT_BYTES / 2 + 1) as usize];
    let too_big = [
        Mutation::Save {
            key_type: "session",
            id: b"1",
            data: &half,
        },
        Mutation::SaveCredentials { data: &half },
    ];
    assert!(matches!(
        s.commit(dir, &too_big),
        Err(CommitError::TooManyBytes(_))
    ));
    assert!(snapshot(dir).is_empty());
    s.commit(dir, &[]).unwrap();
    assert!(snapshot(dir).is_empty(), "an empty commit writes nothing");
}

#[test]
fn a_json_commit_refuses_an_indexed_id_that_is_not_utf8_before_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = store(&JSON, &RealFs);
    s.save_key(dir, "session", b"a", b"{}").unwrap();
    let before = snapshot(dir);
    let bad = [
        Mutation::Save {
            key_type: "session",
            id: b"b",
            data: b"{}",
        },
        Mutation::Save {
            key_type: "pre-key",
            id: b"\xff",
            data: b"{}",
        },
    ];
    assert!(matches!(
        s.commit(dir, &bad),
        Err(CommitError::Store(baileys_ex_core::error::Error::Json(_)))
    ));
    assert_eq!(snapshot(dir), before);
    // Unindexed types and deletes never reach the manifest's ids; ETF
    // manifests hold ids as binaries.
    let fine = [
        Mutation::Save {
            key_type: "not-indexed",
            id: b"\xff",
            data: b"{}",
        },
        Mutation::Delete {
            key_type: "session",
            id: b"\xff",
        },
    ];
    s.commit(dir, &fine).unwrap();
    store(&ETF, &RealFs).commit(dir, &bad).unwrap();
}

/// A removal is not tried before the commit point, so a name no file can
/// have must be refused up front: after it, the commit could never finish.
#[test]
fn a_name_no_file_can_have_is_refused_before_writing() {
    for spec in SPECS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let s = store(spec, &RealFs);
        s.save_key(dir, "session", b"a", b"{}").unwrap();
        let before = snapshot(dir);
        let long = vec![b'y'; 300];
        for (id, errno) in [(&b"a\0b"[..], "einval"), (&long[..], "enametoolong")] {
            for ops in [
                vec![
                    Op::Save("session", b"b".to_vec(), b"{}".to_vec()),
                    Op::Delete("session", id.to_vec()),
                ],
                vec![
                    Op::Delete("session", b"a".to_vec()),
                    Op::Save("session", id.to_vec(), b"{}".to_vec()),
                ],
            ] {
                let err = s.commit(dir, &mutations(&ops)).unwrap_err();
                match err {
                    CommitError::Store(err) => assert_eq!(err.posix_name(), Some(errno)),
                    other => panic!("{other:?}"),
                }
                assert_eq!(snapshot(dir), before);
            }
            // As the single-key path answers.
            let single = s.delete_key(dir, "session", id).unwrap_err();
            assert_eq!(single.posix_name(), Some(errno));
        }
    }
}

/// A left-over removal of a name the filesystem refuses as too long (one
/// with a shorter limit than ours) is done: no such file can exist.
#[test]
fn a_record_removing_a_name_too_long_for_the_filesystem_completes() {
    for spec in SPECS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let s = store(spec, &RealFs);
        s.save_key(dir, "session", b"a", b"{}").unwrap();
        let record = baileys_ex_core::commit_record::encode(&[
            baileys_ex_core::commit_record::Entry::Remove {
                name: vec![b'n'; 300],
            },
            baileys_ex_core::commit_record::Entry::Remove {
                name: spec.key_file_name("session", b"a"),
            },
        ]);
        std::fs::write(dir.join(record_file_name(spec)), record).unwrap();
        assert_eq!(s.recover(dir).unwrap(), Recovery::RolledForward);
        assert_eq!(s.load_key(dir, "session", b"a").unwrap(), None);
        assert!(!has_record(spec, &snapshot(dir)));
    }
}

#[test]
fn a_bad_manifest_fails_the_commit_and_changes_nothing() {
    for spec in SPECS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join(spec.manifest_file), b"junk").unwrap();
        let before = snapshot(dir);
        let err = store(spec, &RealFs)
            .commit(dir, &[Mutation::SaveCredentials { data: b"c" }])
            .unwrap_err();
        assert!(matches!(
            err,
            CommitError::Store(baileys_ex_core::error::Error::Metadata(_))
        ));
        assert_eq!(snapshot(dir), before);
    }
}

#[test]
fn a_torn_record_is_discarded_at_first_open_with_the_orphans() {
    directory::mark_process_start();
    for spec in SPECS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let record = dir.join(record_file_name(spec));
        std::fs::write(&record, b"BXCOMMIT torn").unwrap();
        // An unlocked temp file of ours, as a crashed writer leaves one.
        let orphan = dir.join(format!("session-1{}.tmp-4194304-7", spec.extension));
        std::fs::write(&orphan, b"x").unwrap();
        let s = store(spec, &RealFs);
        s.save_key(dir, "session", b"2", b"v").unwrap();
        assert!(!record.exists() && !orphan.exists());
        assert_eq!(s.load_key(dir, "session", b"2").unwrap().unwrap(), b"v");
    }
}

/// An intact record this version cannot read (another format version):
/// never listed, never removed, and writes are refused rather than risk
/// undoing what it would have done.
#[test]
fn a_record_of_another_version_stops_writes_and_is_kept() {
    for spec in SPECS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        prepare(
            spec,
            dir,
            &[Op::Save("session", b"1".to_vec(), b"v".to_vec())],
        );
        let mut bytes = baileys_ex_core::commit_record::encode(&[]);
        bytes.truncate(bytes.len() - 4);
        bytes[8] = 99;
        let sum = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        let record = dir.join(record_file_name(spec));
        std::fs::write(&record, &bytes).unwrap();

        let s = store(spec, &RealFs);
        assert_eq!(s.load_key(dir, "session", b"1").unwrap().unwrap(), b"v");
        assert_eq!(s.list_keys(dir).unwrap()["session"].len(), 1);
        let refused = s.save_key(dir, "session", b"2", b"w").unwrap_err();
        assert_eq!(refused.posix_name(), Some("einval"));
        let refused = s.commit(dir, &[Mutation::SaveCredentials { data: b"c" }]);
        assert!(matches!(refused, Err(CommitError::Store(e)) if e.posix_name() == Some("einval")));
        assert_eq!(std::fs::read(&record).unwrap(), bytes, "the record is kept");

        std::fs::remove_file(&record).unwrap();
        s.save_key(dir, "session", b"2", b"w").unwrap();
    }
}

/// Fails the first rename after the commit point, leaving an intact record
/// with some files renamed and others not; returns the state the commit
/// leads to.
fn leave_a_record(spec: &'static BackendSpec, dir: &Path, ops: &[Op]) -> Snapshot {
    let twin = dir.with_extension("twin");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::create_dir_all(&twin).unwrap();
    store(spec, &RealFs).commit(&twin, &mutations(ops)).unwrap();
    let fs = FaultFs::new();
    fs.fail_nth(2, &[FsOp::Rename], libc::EIO);
    let err = store(spec, &fs).commit(dir, &mutations(ops)).unwrap_err();
    assert!(matches!(err, CommitError::Store(_)));
    assert!(has_record(spec, &snapshot(dir)), "the record is left");
    snapshot(&twin)
}

#[test]
fn a_single_key_write_completes_a_left_over_commit_first() {
    for spec in SPECS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        let ops = [
            Op::Save("session", b"a".to_vec(), b"commit a".to_vec()),
            Op::Save("session", b"b".to_vec(), b"commit b".to_vec()),
            Op::Delete("session", b"c".to_vec()),
            Op::Save("pre-key", b"1".to_vec(), b"commit 1".to_vec()),
        ];
        prepare(
            spec,
            &dir,
            &[Op::Save("session", b"c".to_vec(), b"old c".to_vec())],
        );
        let committed = leave_a_record(spec, &dir, &ops);
        // A later save of a key the commit touches wins over the commit.
        let s = store(spec, &RealFs);
        s.save_key(&dir, "session", b"b", b"later b").unwrap();
        s.save_key(&dir, "session", b"c", b"later c").unwrap();
        let now = snapshot(&dir);
        assert!(!has_record(spec, &now) && temps(&now).is_empty());
        for (name, bytes) in &committed {
            if name == spec.manifest_file {
                continue;
            }
            let expected: &[u8] = if name.starts_with("session-b") {
                b"later b"
            } else {
                bytes
            };
            assert_eq!(now[name], expected, "{:?} {name}", spec.kind);
        }
        assert_eq!(
            now[&String::from_utf8(spec.key_file_name("session", b"c")).unwrap()],
            b"later c"
        );
        assert_eq!(s.recover(&dir).unwrap(), Recovery::Clean);
    }
}

#[test]
fn a_commit_completes_a_left_over_commit_before_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let first = [
        Op::Save("session", b"a".to_vec(), b"1".to_vec()),
        Op::Save("session", b"b".to_vec(), b"1".to_vec()),
        Op::Save("session", b"c".to_vec(), b"1".to_vec()),
    ];
    leave_a_record(&ETF, &dir, &first);
    let second = [Op::Save("session", b"b".to_vec(), b"2".to_vec())];
    store(&ETF, &RealFs)
        .commit(&dir, &mutations(&second))
        .unwrap();
    let s = store(&ETF, &RealFs);
    let got = s.load_many(&dir, "session", &[b"a", b"b", b"c"]).unwrap();
    assert_eq!(
        got,
        [
            Some(b"1".to_vec()),
            Some(b"2".to_vec()),
            Some(b"1".to_vec())
        ]
    );
    assert!(!has_record(&ETF, &snapshot(&dir)));
}

/// Holds the first `sync_filesystem` until released, so that other commits
/// queue up behind it.
struct HoldFirstSync {
    inner: FaultFs,
    /// Hold the first directory fsync instead of the first `syncfs`.
    hold_dir: bool,
    entered: AtomicBool,
    gate: Mutex<bool>,
    opened: Condvar,
}

impl HoldFirstSync {
    fn new(hold_dir: bool) -> Self {
        HoldFirstSync {
            inner: FaultFs::new(),
            hold_dir,
            entered: AtomicBool::new(false),
            gate: Mutex::new(false),
            opened: Condvar::new(),
        }
    }

    /// Blocks the first caller until `release`.
    fn hold_first(&self) {
        if !self.entered.swap(true, Ordering::SeqCst) {
            let mut open = self.gate.lock().unwrap();
            while !*open {
                open = self.opened.wait(open).unwrap();
            }
        }
    }

    fn release(&self) {
        *self.gate.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

impl Fs for HoldFirstSync {
    fn read(&self, path: &Path, cap: usize) -> baileys_ex_core::error::Result<Vec<u8>> {
        self.inner.read(path, cap)
    }
    fn create_exclusive(&self, path: &Path) -> std::io::Result<std::fs::File> {
        self.inner.create_exclusive(path)
    }
    fn lock_temp(&self, file: &std::fs::File) -> std::io::Result<bool> {
        self.inner.lock_temp(file)
    }
    fn write_all(&self, file: &mut std::fs::File, data: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(file, data)
    }
    fn sync_file(&self, file: &std::fs::File) -> std::io::Result<()> {
        self.inner.sync_file(file)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        self.inner.remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        if self.hold_dir {
            self.hold_first();
        }
        self.inner.sync_dir(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn list_dir(&self, dir: &Path) -> std::io::Result<Vec<DirEntry>> {
        self.inner.list_dir(dir)
    }
    fn remove_orphan(
        &self,
        path: &Path,
        written_before: Option<std::time::SystemTime>,
    ) -> std::io::Result<bool> {
        self.inner.remove_orphan(path, written_before)
    }
    fn dir_id(&self, dir: &Path) -> std::io::Result<baileys_ex_core::fs::DirId> {
        self.inner.dir_id(dir)
    }
    fn sync_filesystem(&self, dir: &Path) -> std::io::Result<()> {
        if !self.hold_dir {
            self.hold_first();
        }
        self.inner.sync_filesystem(dir)
    }
    fn can_sync_filesystem(&self) -> bool {
        self.inner.can_sync_filesystem()
    }
}

fn wait_until(what: &str, done: impl Fn() -> bool) {
    // Only a hang would reach this; it bounds the test, it times nothing.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn commits_queued_behind_a_flush_share_the_next_one() {
    const WAITING: usize = 7;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    prepare(&ETF, &dir, &[Op::Creds(b"c".to_vec())]);
    let fs = Arc::new(HoldFirstSync::new(false));
    fs.inner.fail_nth(u64::MAX, &[], 0);
    let commit = |t: usize| {
        let (fs, dir) = (Arc::clone(&fs), dir.clone());
        std::thread::spawn(move || {
            let ops: Vec<Op> = (0..20)
                .map(|i| {
                    Op::Save(
                        "pre-key",
                        format!("{t}-{i}").into_bytes(),
                        vec![t as u8; 50],
                    )
                })
                .collect();
            store(&ETF, &*fs).commit(&dir, &mutations(&ops)).unwrap();
        })
    };
    let first = commit(0);
    wait_until("the first commit reaches its flush", || {
        fs.entered.load(Ordering::SeqCst)
    });
    let others: Vec<_> = (1..=WAITING).map(commit).collect();
    let group = directory::open(&RealFs, &ETF, &dir).unwrap();
    wait_until("the other commits queue", || {
        group.atomic_commits().queued() == WAITING
    });
    fs.release();
    first.join().unwrap();
    for t in others {
        t.join().unwrap();
    }
    let log = fs.inner.log();
    assert_eq!(
        flushes(&log),
        [FsOp::SyncFs, FsOp::DirFsync, FsOp::SyncFs, FsOp::DirFsync],
        "8 commits, two groups, two flushes each"
    );
    let listed = store(&ETF, &RealFs).list_keys(&dir).unwrap();
    assert_eq!(listed["pre-key"].len(), (WAITING + 1) * 20);
}

/// Receiving messages from several chats at once: each commit re-saves one
/// indexed session. Such a group needs no record and no `syncfs`: each
/// commit's own file fsync, then one directory fsync for all of them.
#[test]
fn lone_replaces_queued_together_share_one_directory_fsync() {
    for spec in SPECS {
        let (tmp, fs, results) = lone_replaces_in_a_group(spec, None);
        assert!(results.iter().all(Result::is_ok), "{:?}", spec.kind);
        let log = fs.inner.log();
        let count = |op: FsOp| flushes(&log).iter().filter(|f| **f == op).count();
        assert_eq!(
            count(FsOp::SyncFs),
            0,
            "{:?}: {:?}",
            spec.kind,
            flushes(&log)
        );
        assert_eq!(count(FsOp::Fsync), GROUPED + 1, "{:?}", spec.kind);
        assert_eq!(count(FsOp::DirFsync), 2, "{:?}: two groups", spec.kind);
        let s = store(spec, &RealFs);
        for t in 0..=GROUPED {
            let id = format!("{t}").into_bytes();
            assert_eq!(
                s.load_key(tmp.path(), "session", &id).unwrap(),
                Some(vec![t as u8; 40])
            );
        }
        assert_eq!(
            s.list_keys(tmp.path()).unwrap()["session"].len(),
            GROUPED + 1
        );
    }
}

/// A rename of the group that fails leaves its own commit undone; the
/// others' files are new, every commit of the group hears of the error, and
/// nothing is left half-written.
#[test]
fn a_failed_rename_in_a_group_of_lone_replaces_leaves_each_file_old_or_new() {
    for spec in SPECS {
        // Rename 1 is the first commit's; 2 is the group's first.
        let (tmp, _fs, results) = lone_replaces_in_a_group(spec, Some(2));
        assert!(results[0].is_ok(), "{:?}", spec.kind);
        assert!(
            results[1..].iter().all(Result::is_err),
            "{:?}: {results:?}",
            spec.kind
        );
        let s = store(spec, &RealFs);
        let mut old = 0;
        for t in 0..=GROUPED {
            let id = format!("{t}").into_bytes();
            match s.load_key(tmp.path(), "session", &id).unwrap() {
                Some(v) if v == vec![t as u8; 40] => {}
                Some(v) if v == b"old" => old += 1,
                other => panic!("{:?}: session {t} is {other:?}", spec.kind),
            }
        }
        assert_eq!(
            old, 1,
            "{:?}: only the failed rename's commit is undone",
            spec.kind
        );
        assert!(!has_record(spec, &snapshot(tmp.path())), "{:?}", spec.kind);
    }
}

const GROUPED: usize = 7;

/// Re-saves sessions 0..=GROUPED, one commit each: the first holds its
/// directory fsync until the others have queued behind it, so they form
/// one group. `fail_rename` makes that rename (counted from the start)
/// fail with EIO. Returns the commits' outcomes in order.
fn lone_replaces_in_a_group(
    spec: &'static BackendSpec,
    fail_rename: Option<u64>,
) -> (
    tempfile::TempDir,
    Arc<HoldFirstSync>,
    Vec<Result<(), String>>,
) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let setup: Vec<Op> = (0..=GROUPED)
        .map(|t| Op::Save("session", format!("{t}").into_bytes(), b"old".to_vec()))
        .collect();
    prepare(spec, &dir, &setup);
    let fs = Arc::new(HoldFirstSync::new(true));
    match fail_rename {
        Some(nth) => fs.inner.fail_nth(nth, &[FsOp::Rename], libc::EIO),
        None => fs.inner.fail_nth(u64::MAX, &[], 0),
    }
    let commit = |t: usize| {
        let (fs, dir) = (Arc::clone(&fs), dir.clone());
        std::thread::spawn(move || {
            let ops = [Op::Save(
                "session",
                format!("{t}").into_bytes(),
                vec![t as u8; 40],
            )];
            store(spec, &*fs)
                .commit(&dir, &mutations(&ops))
                .map_err(|err| err.to_string())
        })
    };
    let first = commit(0);
    wait_until("the first commit reaches its directory fsync", || {
        fs.entered.load(Ordering::SeqCst)
    });
    let others: Vec<_> = (1..=GROUPED).map(commit).collect();
    let group = directory::open(&RealFs, spec, &dir).unwrap();
    wait_until("the other commits queue", || {
        group.atomic_commits().queued() == GROUPED
    });
    fs.release();
    let results = std::iter::once(first)
        .chain(others)
        .map(|t| t.join().unwrap())
        .collect();
    (tmp, fs, results)
}

#[test]
fn concurrent_commits_and_saves_lose_nothing() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 15;
    for spec in SPECS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let fs = Arc::new(FaultFs::new());
        fs.fail_nth(u64::MAX, &[], 0);
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let (fs, dir) = (Arc::clone(&fs), dir.clone());
                scope.spawn(move || {
                    let s = store(spec, &*fs);
                    for r in 0..ROUNDS {
                        // Each thread owns its keys; every thread also
                        // rewrites and deletes a shared one.
                        let ops = vec![
                            Op::Save("session", format!("{t}-{r}-a").into_bytes(), vec![1; 64]),
                            Op::Save("session", format!("{t}-{r}-b").into_bytes(), vec![2; 64]),
                            Op::Save(
                                "session",
                                b"shared".to_vec(),
                                format!("{t}-{r}").into_bytes(),
                            ),
                            Op::Delete(
                                "session",
                                format!("{t}-{}-a", r.wrapping_sub(1)).into_bytes(),
                            ),
                        ];
                        s.commit(&dir, &mutations(&ops)).unwrap();
                        s.save_key(&dir, "pre-key", format!("{t}-{r}").as_bytes(), b"single")
                            .unwrap();
                    }
                });
            }
        });
        let s = store(spec, &RealFs);
        let listed = s.list_keys(&dir).unwrap();
        for t in 0..THREADS {
            for r in 0..ROUNDS {
                let a = format!("{t}-{r}-a").into_bytes();
                let b = format!("{t}-{r}-b").into_bytes();
                assert_eq!(listed["session"].contains(&a), r == ROUNDS - 1, "{a:?}");
                assert!(listed["session"].contains(&b));
                assert_eq!(
                    s.load_key(&dir, "session", &b).unwrap().unwrap(),
                    vec![2; 64]
                );
                assert!(listed["pre-key"].contains(format!("{t}-{r}").as_bytes()));
            }
        }
        let shared =
            String::from_utf8(s.load_key(&dir, "session", b"shared").unwrap().unwrap()).unwrap();
        let (t, r) = shared.split_once('-').unwrap();
        assert!(t.parse::<usize>().unwrap() < THREADS && r.parse::<usize>().unwrap() < ROUNDS);
        let after = snapshot(&dir);
        assert!(temps(&after).is_empty() && !has_record(spec, &after));
        let syncs = fs.log().iter().filter(|op| **op == FsOp::SyncFs).count();
        println!(
            "{:?}: {} commits from {THREADS} threads took {syncs} syncfs calls",
            spec.kind,
            THREADS * ROUNDS
        );
        assert!(syncs <= THREADS * ROUNDS);
    }
}

/// Holds the write of the value `HELD` until released, with the other
/// values of the commit staged meanwhile.
struct HoldWrite {
    entered: AtomicBool,
    gate: Mutex<bool>,
    opened: Condvar,
}

const HELD: &[u8] = b"held back";

impl Fs for HoldWrite {
    fn read(&self, path: &Path, cap: usize) -> baileys_ex_core::error::Result<Vec<u8>> {
        RealFs.read(path, cap)
    }
    fn create_exclusive(&self, path: &Path) -> std::io::Result<std::fs::File> {
        RealFs.create_exclusive(path)
    }
    fn lock_temp(&self, file: &std::fs::File) -> std::io::Result<bool> {
        RealFs.lock_temp(file)
    }
    fn write_all(&self, file: &mut std::fs::File, data: &[u8]) -> std::io::Result<()> {
        if data == HELD {
            self.entered.store(true, Ordering::SeqCst);
            let mut open = self.gate.lock().unwrap();
            while !*open {
                open = self.opened.wait(open).unwrap();
            }
        }
        RealFs.write_all(file, data)
    }
    fn sync_file(&self, file: &std::fs::File) -> std::io::Result<()> {
        RealFs.sync_file(file)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        RealFs.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        RealFs.remove_file(path)
    }
    fn remove_orphan(
        &self,
        path: &Path,
        written_before: Option<std::time::SystemTime>,
    ) -> std::io::Result<bool> {
        RealFs.remove_orphan(path, written_before)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        RealFs.sync_dir(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        RealFs.create_dir_all(dir)
    }
    fn list_dir(&self, dir: &Path) -> std::io::Result<Vec<DirEntry>> {
        RealFs.list_dir(dir)
    }
    fn dir_id(&self, dir: &Path) -> std::io::Result<baileys_ex_core::fs::DirId> {
        RealFs.dir_id(dir)
    }
    fn sync_filesystem(&self, dir: &Path) -> std::io::Result<()> {
        RealFs.sync_filesystem(dir)
    }
    fn can_sync_filesystem(&self) -> bool {
        RealFs.can_sync_filesystem()
    }
}

/// Staging takes no directory lock, so another OS process may first open
/// the directory mid-commit and remove orphan temp files: the staged ones,
/// locked until renamed, must all survive it.
#[test]
fn orphan_cleanup_of_another_process_never_takes_a_commits_staged_files() {
    directory::mark_process_start();
    for spec in SPECS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let fs = Arc::new(HoldWrite {
            entered: AtomicBool::new(false),
            gate: Mutex::new(false),
            opened: Condvar::new(),
        });
        let ids: Vec<Vec<u8>> = (0..40).map(|i| format!("{i}").into_bytes()).collect();
        let committer = {
            let (fs, dir, ids) = (Arc::clone(&fs), dir.clone(), ids.clone());
            std::thread::spawn(move || {
                let mut mutations: Vec<Mutation> = ids
                    .iter()
                    .map(|id| Mutation::Save {
                        key_type: "session",
                        id,
                        data: id,
                    })
                    .collect();
                // Last in file-name order, so the I/O pool stages it last.
                mutations.push(Mutation::Save {
                    key_type: "session",
                    id: b"zz",
                    data: HELD,
                });
                store(spec, &*fs).commit(&dir, &mutations)
            })
        };
        // Every value staged, each file locked (the held one is locked
        // before its write): a file cleanup took between its creation and
        // its lock would be staged again under another name, which is fine,
        // but none is left in that window now. Counting the files is not
        // enough: on a busy machine one can exist and not be locked yet.
        wait_until("the commit stages", || {
            fs.entered.load(Ordering::SeqCst)
                && temp_names(&dir).len() == ids.len() + 1
                && all_locked(&dir)
        });
        let staged_before = temp_names(&dir);
        // Another OS process opening the directory for the first time.
        directory::Registry::new(directory::CACHE_BUDGET_BYTES)
            .open(&RealFs, spec, &dir)
            .unwrap();
        let staged_after = temp_names(&dir);
        assert!(
            staged_before.iter().all(|n| staged_after.contains(n)),
            "{:?}: cleanup took staged files: before {staged_before:?}, after {staged_after:?}",
            spec.kind
        );
        *fs.gate.lock().unwrap() = true;
        fs.opened.notify_all();
        committer.join().unwrap().unwrap();
        let s = store(spec, &RealFs);
        for id in &ids {
            assert_eq!(s.load_key(&dir, "session", id).unwrap().as_ref(), Some(id));
        }
        assert_eq!(s.load_key(&dir, "session", b"zz").unwrap().unwrap(), HELD);
        assert!(temp_names(&dir).is_empty(), "{:?}", spec.kind);
    }
}

/// Whether every temp file in `dir` is held under a `flock` (by another open
/// file, so by the commit: a probe that gets the lock lets it go at once).
fn all_locked(dir: &Path) -> bool {
    use std::os::fd::AsRawFd;
    temp_names(dir).iter().all(|name| {
        let Ok(file) = std::fs::File::open(dir.join(name)) else {
            return false;
        };
        // SAFETY: flock on a descriptor this function owns.
        let free = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        !free
    })
}

fn temp_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}
