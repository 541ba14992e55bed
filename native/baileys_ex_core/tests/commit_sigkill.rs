//! Multi-key commits under SIGKILL: a writer in another OS process commits
//! sets of self-checking values (and now and then saves or deletes one key
//! on its own) and is killed at a random moment; the directory is then
//! opened afresh by this process, which recovers it, and checked:
//!
//! * every acknowledged commit is there, and the one in flight is there
//!   whole or not at all, files and manifest alike;
//! * a single-key write in flight leaves its file old or new;
//! * every file holds a value the writer wrote, whole;
//! * no record and no temp file is left (the writer's pid is dead, so its
//!   orphans go when the directory is opened).
//!
//! Like `crash.rs`, the writer prints `B ...` before each operation and
//! `A ...` once it returned; lines on a pipe survive the writer's death.

mod commit_support;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baileys_ex_core::commit::Mutation;
use baileys_ex_core::directory::{Registry, CACHE_BUDGET_BYTES};
use baileys_ex_core::fs::RealFs;
use baileys_ex_core::layout::{BackendSpec, ETF, JSON};
use commit_support::{has_record, snapshot};
use support::writer::{checked_value, parse_checked, say, write_until_killed, Writer};
use support::{decode_manifest, seed, store, temps, Rng};

const CHILD_ENV: &str = "BAILEYS_EX_COMMIT_CRASH_CHILD";
const TYPE: &str = "session";
const KEYS: u32 = 8;
/// The credentials take part as key number `KEYS`.
const CREDS: u32 = KEYS;
const SPECS: [&BackendSpec; 2] = [&ETF, &JSON];

/// Mostly small; one in twelve of a few hundred kilobytes so that kills
/// land inside long writes too.
fn value(key: u32, seq: u64) -> Vec<u8> {
    let len = if (seq + u64::from(key)).is_multiple_of(12) {
        150_000 + (seq % 50_000) as usize
    } else {
        40 + (seq.wrapping_mul(7919) % 2000) as usize
    };
    let seed = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(key) | 1;
    checked_value(b"BXC1", key, seq, len, seed)
}

fn parse_value(bytes: &[u8]) -> Option<(u32, u64)> {
    parse_checked(b"BXC1", bytes, value)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyOp {
    Save(u32),
    Delete(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    seq: u64,
    single: bool,
    ops: Vec<KeyOp>,
}

impl Line {
    fn render(&self) -> String {
        let ops: Vec<String> = self
            .ops
            .iter()
            .map(|op| match op {
                KeyOp::Save(k) => format!("s{k}"),
                KeyOp::Delete(k) => format!("d{k}"),
            })
            .collect();
        let kind = if self.single { "single" } else { "commit" };
        format!("B {} {kind} {}\n", self.seq, ops.join(","))
    }

    fn parse(text: &str) -> Option<Line> {
        let mut parts = text.strip_prefix("B ")?.split_whitespace();
        let seq = parts.next()?.parse().ok()?;
        let single = parts.next()? == "single";
        let ops = parts
            .next()?
            .split(',')
            .map(|op| {
                let key = op.get(1..)?.parse().ok()?;
                match op.as_bytes().first()? {
                    b's' => Some(KeyOp::Save(key)),
                    b'd' => Some(KeyOp::Delete(key)),
                    _ => None,
                }
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Line { seq, single, ops })
    }
}

fn key_id(key: u32) -> Vec<u8> {
    key.to_string().into_bytes()
}

fn run(spec: &'static BackendSpec, dir: &Path, line: &Line) -> Result<(), String> {
    let s = store(spec, &RealFs);
    let values: Vec<(u32, Vec<u8>, Vec<u8>)> = line
        .ops
        .iter()
        .map(|op| match op {
            KeyOp::Save(k) => (*k, key_id(*k), value(*k, line.seq)),
            KeyOp::Delete(k) => (*k, key_id(*k), Vec::new()),
        })
        .collect();
    let mutations: Vec<Mutation> = line
        .ops
        .iter()
        .zip(&values)
        .map(|(op, (key, id, data))| match (op, *key) {
            (KeyOp::Save(_), CREDS) => Mutation::SaveCredentials { data },
            (KeyOp::Save(_), _) => Mutation::Save {
                key_type: TYPE,
                id,
                data,
            },
            (KeyOp::Delete(_), _) => Mutation::Delete { key_type: TYPE, id },
        })
        .collect();
    if line.single {
        match mutations[0] {
            Mutation::Save { id, data, .. } => s.save_key(dir, TYPE, id, data),
            Mutation::Delete { id, .. } => s.delete_key(dir, TYPE, id),
            Mutation::SaveCredentials { data } => s.save_credentials(dir, data),
        }
        .map_err(|e| e.to_string())
    } else {
        s.commit(dir, &mutations).map_err(|e| e.to_string())
    }
}

/// The writer: runs only when started by `kill_the_committer` below.
#[test]
fn child_committer() {
    let Ok(config) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = config.split('\n');
    let dir = PathBuf::from(parts.next().unwrap());
    let spec = SPECS[parts.next().unwrap().parse::<usize>().unwrap()];
    let base: u64 = parts.next().unwrap().parse().unwrap();
    store(spec, &RealFs).list_keys(&dir).unwrap();
    write_until_killed(base, |rng, seq| {
        let single = rng.below(5) == 0;
        let count = if single { 1 } else { 1 + rng.below(6) };
        let mut ops = Vec::new();
        for _ in 0..count {
            let key = rng.below(u64::from(KEYS) + 1) as u32;
            ops.push(if key != CREDS && rng.below(4) == 0 {
                KeyOp::Delete(key)
            } else {
                KeyOp::Save(key)
            });
        }
        let line = Line { seq, single, ops };
        say(&line.render());
        run(spec, &dir, &line)?;
        say(&format!("A {}\n", line.seq));
        Ok(())
    })
}

/// Per key: `None` absent, `Some(seq)` the value of that save.
type Files = BTreeMap<u32, Option<u64>>;

fn applied(files: &Files, line: &Line) -> Files {
    let mut next = files.clone();
    for op in &line.ops {
        match op {
            KeyOp::Save(k) => next.insert(*k, Some(line.seq)),
            KeyOp::Delete(k) => next.insert(*k, None),
        };
    }
    next
}

/// Per key: whether the manifest lists it.
type Listed = BTreeMap<u32, bool>;

fn applied_to_index(listed: &Listed, line: &Line) -> Listed {
    let mut next = listed.clone();
    for op in &line.ops {
        match op {
            KeyOp::Save(k) if *k != CREDS => next.insert(*k, true),
            KeyOp::Delete(k) if *k != CREDS => next.insert(*k, false),
            _ => None,
        };
    }
    next
}

/// The keys' states on disk, every file checked whole.
fn on_disk(spec: &'static BackendSpec, dir: &Path, round: usize) -> Files {
    let s = store(spec, &RealFs);
    (0..=KEYS)
        .map(|key| {
            let bytes = if key == CREDS {
                s.load_credentials(dir).unwrap()
            } else {
                s.load_key(dir, TYPE, &key_id(key)).unwrap()
            };
            let state = bytes.map(|b| match parse_value(&b) {
                Some((k, seq)) if k == key => seq,
                _ => panic!("round {round}: key {key} holds a torn or foreign value"),
            });
            (key, state)
        })
        .collect()
}

fn listed(spec: &BackendSpec, dir: &Path) -> Listed {
    let manifest = match std::fs::read(dir.join(spec.manifest_file)) {
        Ok(bytes) => decode_manifest(spec, &bytes).unwrap(),
        Err(_) => None,
    };
    (0..KEYS)
        .map(|k| {
            (
                k,
                manifest
                    .as_ref()
                    .is_some_and(|m| m.contains(TYPE, &key_id(k))),
            )
        })
        .collect()
}

fn kill_the_committer(kills: usize) {
    let seed = seed("CRASH_SEED");
    println!("commit crash seed {seed} (set CRASH_SEED to replay the kill timing)");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let empty: Files = (0..=KEYS).map(|k| (k, None)).collect();
    let mut files: [Files; 2] = [empty.clone(), empty];
    let mut index: [Listed; 2] = Default::default();
    let mut dirs = [tmp.path().join("etf-0"), tmp.path().join("json-0")];
    let (mut acked, mut in_flight_commits, mut applied_in_flight) = (0u64, 0usize, 0usize);
    for round in 0..kills {
        let which = round % 2;
        let spec = SPECS[which];
        let base = (round as u64 + 1) << 32;
        let config = format!("{}\n{which}\n{base}", dirs[which].display());
        let mut writer = Writer::start("child_committer", CHILD_ENV, config, round);
        let delay = match rng.below(4) {
            0 => rng.below(3),
            1 | 2 => rng.below(20),
            _ => rng.below(80),
        };
        std::thread::sleep(Duration::from_millis(delay));
        let said = writer.kill(round);

        let mut in_flight: Option<Line> = None;
        for text in said {
            if let Some(line) = Line::parse(&text) {
                in_flight = Some(line);
            } else if let Some(seq) = text.strip_prefix("A ") {
                let line = in_flight.take().expect("an A line follows its B line");
                assert_eq!(seq.parse::<u64>().ok(), Some(line.seq), "round {round}");
                files[which] = applied(&files[which], &line);
                index[which] = applied_to_index(&index[which], &line);
                acked += 1;
            }
        }

        // A fresh path and a fresh registry: the directory is opened as the
        // next OS process would first open it (state is keyed by the
        // directory itself, not its path), and recovered.
        let next = tmp
            .path()
            .join(format!("{}-{}", ["etf", "json"][which], round + 1));
        std::fs::rename(&dirs[which], &next).unwrap();
        dirs[which] = next;
        let dir = &dirs[which];
        Registry::new(CACHE_BUDGET_BYTES)
            .open(&RealFs, spec, dir)
            .unwrap();
        store(spec, &RealFs).list_keys(dir).unwrap();
        let now = on_disk(spec, dir, round);
        let before = files[which].clone();
        let after = in_flight.as_ref().map(|line| applied(&before, line));
        // Whether the commit in flight is there; `None` when that cannot be
        // told from the files (it changes none of them).
        let mut commit_applied = None;
        match &in_flight {
            None => assert_eq!(
                now, before,
                "round {round}: an acknowledged operation is lost"
            ),
            Some(line) if !line.single => {
                in_flight_commits += 1;
                let after = after.as_ref().unwrap();
                assert!(
                    now == before || &now == after,
                    "round {round}: the commit in flight {line:?} is partly applied: {now:?}, before {before:?}"
                );
                if &before != after {
                    commit_applied = Some(&now == after);
                    applied_in_flight += usize::from(&now == after);
                }
            }
            Some(line) => {
                let after = after.as_ref().unwrap();
                for key in 0..=KEYS {
                    assert!(
                        now[&key] == before[&key] || now[&key] == after[&key],
                        "round {round}: key {key} is neither before nor after {line:?}"
                    );
                }
            }
        }
        files[which] = now;
        // A commit keeps the manifest with its files; a single-key write in
        // flight may leave its entry behind, as documented.
        let got = listed(spec, dir);
        let expected = &index[which];
        for key in 0..KEYS {
            let old = expected.get(&key).copied().unwrap_or(false);
            let new = in_flight.as_ref().map_or(old, |line| {
                applied_to_index(expected, line)
                    .get(&key)
                    .copied()
                    .unwrap_or(false)
            });
            let allowed = match (in_flight.as_ref().map(|l| l.single), commit_applied) {
                (None, _) => vec![old],
                (Some(false), Some(true)) => vec![new],
                (Some(false), Some(false)) => vec![old],
                _ => vec![old, new],
            };
            assert!(
                allowed.contains(&got[&key]),
                "round {round}: manifest lists key {key}: {}, allowed {allowed:?}",
                got[&key]
            );
        }
        index[which] = got;
        let snap = snapshot(dir);
        assert!(!has_record(spec, &snap), "round {round}: record left");
        assert!(
            temps(&snap).is_empty(),
            "round {round}: temp files left: {:?}",
            temps(&snap)
        );
    }
    println!(
        "commit crash: {kills} SIGKILLs, {acked} acknowledged operations, {in_flight_commits} kills inside a commit ({applied_in_flight} of them rolled forward), 0 lost"
    );
    assert!(
        in_flight_commits * 2 >= kills,
        "most kills should land inside a commit: {in_flight_commits} of {kills}"
    );
}

#[test]
fn sigkill_during_commits_keeps_them_whole() {
    kill_the_committer(100);
}

#[test]
#[ignore = "stress: run by `make stress`"]
fn thousands_of_sigkills_during_commits_keep_them_whole() {
    kill_the_committer(2_000);
}
