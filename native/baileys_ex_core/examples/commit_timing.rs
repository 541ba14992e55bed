//! Rough timings of one multi-key commit against the same saves one by one
//! through `Store`, on the real filesystem of the temp directory:
//! `cargo run --release --example commit_timing`. Reports, asserts nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use baileys_ex_core::commit::Mutation;
use baileys_ex_core::fs::{Fs, RealFs};
use baileys_ex_core::layout::ETF;
use baileys_ex_core::manifest::AnyAtom;
use baileys_ex_core::store::Store;

const ROUNDS: usize = 5;

fn store() -> Store<'static> {
    Store {
        spec: &ETF,
        fs: &RealFs,
        atoms: &AnyAtom,
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn values(count: usize, size: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..count)
        .map(|i| (i.to_string().into_bytes(), vec![(i % 251) as u8; size]))
        .collect()
}

fn one_by_one(dir: &Path, key_type: &str, values: &[(Vec<u8>, Vec<u8>)]) -> Duration {
    let s = store();
    let started = Instant::now();
    for (id, data) in values {
        s.save_key(dir, key_type, id, data).unwrap();
    }
    started.elapsed()
}

fn committed(dir: &Path, key_type: &str, values: &[(Vec<u8>, Vec<u8>)]) -> Duration {
    let mutations: Vec<Mutation> = values
        .iter()
        .map(|(id, data)| Mutation::Save { key_type, id, data })
        .collect();
    let started = Instant::now();
    store().commit(dir, &mutations).unwrap();
    started.elapsed()
}

fn main() {
    let root = tempfile::tempdir().unwrap();
    let sync = || {
        let started = Instant::now();
        RealFs.sync_filesystem(root.path()).unwrap();
        started.elapsed()
    };
    println!(
        "an idle syncfs here: {:?}",
        median((0..5).map(|_| sync()).collect())
    );
    for (label, key_type, count, size) in [
        ("812 pre-keys of 120 bytes", "pre-key", 812, 120),
        ("256 sessions of 80 KB", "session", 256, 80 * 1024),
    ] {
        let data = values(count, size);
        let (mut singles, mut commits) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            // Fresh directories each round, both sides alike; the page
            // cache is written back first so neither pays for the other.
            let a = root.path().join(format!("{key_type}-one-{round}"));
            let b = root.path().join(format!("{key_type}-all-{round}"));
            sync();
            singles.push(one_by_one(&a, key_type, &data));
            sync();
            commits.push(committed(&b, key_type, &data));
            assert_eq!(
                std::fs::read_dir(&a).unwrap().count(),
                std::fs::read_dir(&b).unwrap().count()
            );
        }
        let (single, commit) = (median(singles), median(commits));
        println!(
            "{label}: one commit {commit:?}, one by one {single:?} ({:.1}x), median of {ROUNDS}",
            single.as_secs_f64() / commit.as_secs_f64()
        );
    }
}
