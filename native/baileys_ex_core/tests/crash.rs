//! Crash safety: a writer in another OS process is killed with SIGKILL at
//! random moments, and what it left on disk is checked against what it
//! acknowledged.
//!
//! The writer is this test binary run again with `CHILD_ENV` set: it saves and
//! deletes self-checking values (key, sequence number, payload, checksum) in
//! an ETF and a JSON directory, printing `B ...` before each operation and
//! `A ...` once it has returned. A line written to a pipe survives the
//! writer's death, so the parent knows exactly which operation was in flight.
//! After each kill every key must hold the state of its last acknowledged
//! operation or of the one in flight, every file must decode, the manifest
//! must list exactly the keys whose last operation was a save (the in-flight
//! one either way), and at most one temp file may be left (the next writer
//! removes it when it opens the directory).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baileys_ex_core::fs::RealFs;
use baileys_ex_core::layout::{BackendSpec, ETF, JSON};
use baileys_ex_core::manifest::Manifest;
use baileys_ex_core::store::Store;
use support::writer::{checked_value, parse_checked, say, write_until_killed, Writer};
use support::{decode_manifest, is_temp, seed, Rng};

const CHILD_ENV: &str = "BAILEYS_EX_CRASH_CHILD";
const TYPE: &str = "session";
const KEYS: u32 = 6;
/// The credentials take part as key number `KEYS`.
const CREDS: u32 = KEYS;
const SPECS: [&BackendSpec; 2] = [&ETF, &JSON];

/// Mostly small values, one in sixteen of a few hundred kilobytes so that
/// kills also land in the middle of long writes.
fn value_len(seq: u64) -> usize {
    if seq.is_multiple_of(16) {
        200_000 + (seq % 60_000) as usize
    } else {
        64 + (seq.wrapping_mul(7919) % 4000) as usize
    }
}

fn value(key: u32, seq: u64) -> Vec<u8> {
    let seed = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    checked_value(b"BXV1", key, seq, value_len(seq), seed)
}

/// The key and sequence number of a value the writer produced.
fn parse_value(bytes: &[u8]) -> Option<(u32, u64)> {
    parse_checked(b"BXV1", bytes, value)
}

fn store(spec: &'static BackendSpec) -> Store<'static> {
    support::store(spec, &RealFs)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Save,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Line {
    spec: usize,
    op: Op,
    key: u32,
    seq: u64,
}

impl Line {
    fn render(&self, tag: char) -> String {
        let op = match self.op {
            Op::Save => "save",
            Op::Delete => "delete",
        };
        format!("{tag} {} {op} {} {}\n", self.spec, self.key, self.seq)
    }

    fn parse(text: &str) -> Option<(char, Line)> {
        let mut parts = text.split_whitespace();
        let tag = parts.next()?.chars().next()?;
        let spec = parts.next()?.parse().ok()?;
        let op = match parts.next()? {
            "save" => Op::Save,
            "delete" => Op::Delete,
            _ => return None,
        };
        let key = parts.next()?.parse().ok()?;
        let seq = parts.next()?.parse().ok()?;
        Some((tag, Line { spec, op, key, seq }))
    }
}

fn key_id(key: u32) -> String {
    key.to_string()
}

fn apply(dirs: &[PathBuf; 2], line: &Line) -> Result<(), String> {
    let spec = SPECS[line.spec];
    let dir = &dirs[line.spec];
    let s = store(spec);
    let id = key_id(line.key);
    let result = match (line.op, line.key) {
        (Op::Save, CREDS) => s.save_credentials(dir, &value(CREDS, line.seq)),
        (Op::Save, key) => s.save_key(dir, TYPE, id.as_bytes(), &value(key, line.seq)),
        (Op::Delete, _) => s.delete_key(dir, TYPE, id.as_bytes()),
    };
    result.map_err(|e| format!("{e} ({:?})", e.posix_name()))
}

/// The writer: runs only when started by `kill_the_writer` below.
#[test]
fn child_writer() {
    let Ok(config) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = config.split('\n');
    let dirs = [
        PathBuf::from(parts.next().unwrap()),
        PathBuf::from(parts.next().unwrap()),
    ];
    let base: u64 = parts.next().unwrap().parse().unwrap();
    // Opening each directory removes what earlier writers left behind.
    for (spec, dir) in SPECS.iter().zip(&dirs) {
        store(spec).list_keys(dir).unwrap();
    }
    write_until_killed(base, |rng, seq| {
        let roll = rng.below(100);
        let line = Line {
            spec: rng.below(2) as usize,
            op: if (15..30).contains(&roll) {
                Op::Delete
            } else {
                Op::Save
            },
            key: if roll < 15 {
                CREDS
            } else {
                rng.below(KEYS as u64) as u32
            },
            seq,
        };
        say(&line.render('B'));
        apply(&dirs, &line)?;
        say(&line.render('A'));
        Ok(())
    })
}

/// What each key may look like on disk.
#[derive(Default)]
struct Model {
    /// Per backend and key: `None` absent, `Some(seq)` the value of that save.
    files: [BTreeMap<u32, Option<u64>>; 2],
    /// Per backend and key: whether the manifest lists it.
    listed: [BTreeMap<u32, bool>; 2],
    acked: u64,
}

impl Model {
    fn apply(&mut self, line: &Line) {
        let state = match line.op {
            Op::Save => Some(line.seq),
            Op::Delete => None,
        };
        self.files[line.spec].insert(line.key, state);
        if line.key != CREDS {
            self.listed[line.spec].insert(line.key, line.op == Op::Save);
        }
        self.acked += 1;
    }
}

fn read_manifest(spec: &BackendSpec, dir: &Path) -> Option<Manifest> {
    let bytes = match std::fs::read(dir.join(spec.manifest_file)) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return None,
        Err(err) => panic!("manifest unreadable: {err}"),
    };
    match decode_manifest(spec, &bytes) {
        Ok(Some(m)) => Some(m),
        other => panic!("{:?} manifest does not decode: {other:?}", spec.kind),
    }
}

/// Checks the directories against the model and the operation in flight,
/// then resolves the model to what is on disk. Returns the temp files seen.
fn verify(dirs: &[PathBuf; 2], model: &mut Model, in_flight: Option<Line>, round: usize) -> usize {
    let mut temps = 0;
    for (which, spec) in SPECS.iter().enumerate() {
        let dir = &dirs[which];
        let s = store(spec);
        let flight = in_flight.filter(|l| l.spec == which);
        for key in 0..=KEYS {
            let bytes = if key == CREDS {
                s.load_credentials(dir).unwrap()
            } else {
                s.load_key(dir, TYPE, key_id(key).as_bytes()).unwrap()
            };
            let now = bytes.map(|b| match parse_value(&b) {
                Some((k, seq)) if k == key => seq,
                _ => panic!(
                    "round {round}: {:?} key {key} holds a torn or foreign value",
                    spec.kind
                ),
            });
            let acked = model.files[which].get(&key).copied().flatten();
            let pending = flight.filter(|l| l.key == key).map(|l| match l.op {
                Op::Save => Some(l.seq),
                Op::Delete => None,
            });
            assert!(
                now == acked || Some(now) == pending,
                "round {round}: {:?} key {key} is {now:?}; last acknowledged {acked:?}, in flight {pending:?}",
                spec.kind
            );
            model.files[which].insert(key, now);
        }

        let manifest = read_manifest(spec, dir);
        for key in 0..KEYS {
            let listed = manifest
                .as_ref()
                .is_some_and(|m| m.contains(TYPE, key_id(key).as_bytes()));
            let expected = model.listed[which].get(&key).copied().unwrap_or(false);
            let pending = flight.filter(|l| l.key == key).map(|l| l.op == Op::Save);
            assert!(
                listed == expected || Some(listed) == pending,
                "round {round}: {:?} manifest lists key {key}: {listed}; expected {expected}, in flight {pending:?}",
                spec.kind
            );
            model.listed[which].insert(key, listed);
        }

        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if is_temp(&name) {
                temps += 1;
            } else if name != spec.manifest_file {
                let bytes = std::fs::read(dir.join(&name)).unwrap();
                assert!(
                    parse_value(&bytes).is_some(),
                    "round {round}: {name} does not hold a value the writer wrote"
                );
            }
        }
    }
    temps
}

fn kill_the_writer(kills: usize) {
    let seed = seed("CRASH_SEED");
    println!("crash seed {seed} (set CRASH_SEED to replay the kill timing)");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let dirs = [tmp.path().join("etf"), tmp.path().join("json")];
    let mut model = Model::default();
    let mut in_flight_at_kill = 0;
    for round in 0..kills {
        let base = (round as u64 + 1) << 32;
        let config = format!("{}\n{}\n{base}", dirs[0].display(), dirs[1].display());
        let mut writer = Writer::start("child_writer", CHILD_ENV, config, round);
        // Mostly early, sometimes later, sometimes at once.
        let delay = match rng.below(4) {
            0 => 0,
            1 | 2 => rng.below(15),
            _ => rng.below(60),
        };
        std::thread::sleep(Duration::from_millis(delay));
        let said = writer.kill(round);

        let mut in_flight = None;
        for text in said {
            match Line::parse(&text) {
                Some(('B', line)) => in_flight = Some(line),
                Some(('A', line)) => {
                    assert_eq!(in_flight, Some(line), "round {round}: out-of-order output");
                    model.apply(&line);
                    in_flight = None;
                }
                _ => {}
            }
        }
        in_flight_at_kill += usize::from(in_flight.is_some());
        let temps = verify(&dirs, &mut model, in_flight, round);
        assert!(
            temps <= 1,
            "round {round}: {temps} temp files: earlier orphans were not removed"
        );
    }

    // The directories stay fully usable after the last crash.
    for (which, spec) in SPECS.iter().enumerate() {
        for key in 0..=KEYS {
            let line = Line {
                spec: which,
                op: Op::Save,
                key,
                seq: u64::MAX - u64::from(key),
            };
            apply(&dirs, &line).unwrap();
            model.apply(&line);
        }
        assert_eq!(
            store(spec).list_keys(&dirs[which]).unwrap()[TYPE].len(),
            KEYS as usize
        );
    }
    verify(&dirs, &mut model, None, kills);
    println!(
        "crash: {kills} SIGKILLs survived, {} acknowledged operations, {in_flight_at_kill} kills with an operation in flight, 0 lost",
        model.acked
    );
    assert!(
        in_flight_at_kill * 2 >= kills,
        "most kills should land mid-operation: {in_flight_at_kill} of {kills}"
    );
}

#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    kill_the_writer(150);
}

#[test]
#[ignore = "stress: run by `make stress`"]
fn thousands_of_sigkills_lose_nothing_acknowledged() {
    kill_the_writer(3_000);
}
