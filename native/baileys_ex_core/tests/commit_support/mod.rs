//! Shared by the commit tests: owned mutations, random commits, directory
//! snapshots. Test files that use it also declare `mod support;`.
#![allow(dead_code)]

use std::path::Path;

use baileys_ex_core::commit::Mutation;
use baileys_ex_core::commit_record::record_file_name;
use baileys_ex_core::error::Error;
use baileys_ex_core::layout::BackendSpec;
use baileys_ex_core::store::Store;

use crate::support::{files, is_temp};
// Each commit test file takes what it needs of these from here.
#[allow(unused_imports)]
pub use crate::support::{seed, store, temps, Rng, Snapshot};

/// A mutation that owns its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Save(&'static str, Vec<u8>, Vec<u8>),
    Delete(&'static str, Vec<u8>),
    Creds(Vec<u8>),
}

impl Op {
    pub fn mutation(&self) -> Mutation<'_> {
        match self {
            Op::Save(t, id, data) => Mutation::Save {
                key_type: t,
                id,
                data,
            },
            Op::Delete(t, id) => Mutation::Delete { key_type: t, id },
            Op::Creds(data) => Mutation::SaveCredentials { data },
        }
    }

    /// The same change through the single-key API.
    pub fn apply(&self, s: &Store, dir: &Path) -> Result<(), Error> {
        match self {
            Op::Save(t, id, data) => s.save_key(dir, t, id, data),
            Op::Delete(t, id) => s.delete_key(dir, t, id),
            Op::Creds(data) => s.save_credentials(dir, data),
        }
    }
}

pub fn mutations(ops: &[Op]) -> Vec<Mutation<'_>> {
    ops.iter().map(Op::mutation).collect()
}

/// Indexed types, a type the manifest does not index, and ids that need
/// sanitising, drawn from small pools so commits overlap and repeat keys.
const TYPES: [&str; 5] = [
    "session",
    "pre-key",
    "sender-key",
    "device-list",
    "custom-type",
];
const IDS: [&str; 8] = [
    "1",
    "2",
    "15551234567.0",
    "alice/device:0",
    "g@g.us::s::0",
    "x",
    "y:z",
    "77",
];

pub fn random_op(rng: &mut Rng) -> Op {
    let key_type = TYPES[rng.below(TYPES.len() as u64) as usize];
    let id = IDS[rng.below(IDS.len() as u64) as usize]
        .as_bytes()
        .to_vec();
    match rng.below(10) {
        0 => Op::Creds(random_value(rng)),
        1..=3 => Op::Delete(key_type, id),
        _ => Op::Save(key_type, id, random_value(rng)),
    }
}

/// Mostly small, sometimes empty, now and then large.
pub fn random_value(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(20) {
        0 => 0,
        1 => 100_000 + rng.below(50_000) as usize,
        _ => rng.below(300) as usize,
    };
    rng.bytes(len)
}

pub fn random_ops(rng: &mut Rng, max: u64) -> Vec<Op> {
    (0..1 + rng.below(max)).map(|_| random_op(rng)).collect()
}

/// Every file in a directory by name; empty when it does not exist.
pub fn snapshot(dir: &Path) -> Snapshot {
    files(dir).unwrap_or_default()
}

pub fn has_record(spec: &BackendSpec, snapshot: &Snapshot) -> bool {
    snapshot.contains_key(record_file_name(spec))
}

/// The snapshot without temp files: what the directory holds as data.
pub fn data_files(snapshot: &Snapshot) -> Snapshot {
    snapshot
        .iter()
        .filter(|(n, _)| !is_temp(n))
        .map(|(n, b)| (n.clone(), b.clone()))
        .collect()
}

/// Makes a directory that starts in a chosen state: `ops` applied one by one.
pub fn prepare(spec: &'static BackendSpec, dir: &Path, ops: &[Op]) {
    std::fs::create_dir_all(dir).unwrap();
    let s = store(spec, &baileys_ex_core::fs::RealFs);
    for op in ops {
        op.apply(&s, dir).unwrap();
    }
}
