//! Shared by the store's integration tests: a store over any filesystem, a
//! seeded generator, directory snapshots and manifest decoding; fault plans
//! and the SIGKILL writer harness live in the submodules.
#![allow(dead_code)]

pub mod faults;
pub mod writer;

use std::collections::BTreeMap;
use std::path::Path;

use baileys_ex_core::error::MetadataError;
use baileys_ex_core::fs::Fs;
use baileys_ex_core::layout::{BackendKind, BackendSpec};
use baileys_ex_core::manifest::{self, AnyAtom, Manifest};
use baileys_ex_core::store::Store;

pub fn store<'a>(spec: &'static BackendSpec, fs: &'a dyn Fs) -> Store<'a> {
    Store {
        spec,
        fs,
        atoms: &AnyAtom,
    }
}

/// xorshift64*: no dependency, reproducible from a printed seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// The seed in the environment variable `var`, else one from the clock;
/// always odd, as xorshift needs a non-zero state.
pub fn seed(var: &str) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        | 1
}

/// Every file in a directory by name.
pub type Snapshot = BTreeMap<String, Vec<u8>>;

/// The directory's files; `None` when it cannot be listed (it is missing).
pub fn files(dir: &Path) -> Option<Snapshot> {
    let entries = std::fs::read_dir(dir).ok()?;
    Some(
        entries
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect(),
    )
}

pub fn is_temp(name: &str) -> bool {
    name.contains(".tmp-")
}

pub fn temps(snapshot: &Snapshot) -> Vec<&String> {
    snapshot.keys().filter(|n| is_temp(n)).collect()
}

/// A manifest's bytes decoded as the backend reads them.
pub fn decode_manifest(
    spec: &BackendSpec,
    bytes: &[u8],
) -> Result<Option<Manifest>, MetadataError> {
    match spec.kind {
        BackendKind::Etf => manifest::decode_etf(bytes, spec.backend_id, &AnyAtom),
        BackendKind::Json => manifest::decode_json(bytes, spec.backend_id),
    }
}
