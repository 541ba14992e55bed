//! Which kinds of scheduler thread each NIF has run on since the library
//! loaded. A test reads it after driving every call, so "disk work on dirty
//! IO, codec work on dirty CPU, nothing on a normal scheduler" is checked from
//! the thread itself rather than inferred from timings a busy machine can
//! distort. The cost is one relaxed atomic OR per call.

use std::sync::atomic::{AtomicU8, Ordering};

/// Every NIF that records itself, in a fixed order.
pub const NIFS: [&str; 13] = [
    "encode",
    "decode",
    "encode_many",
    "decode_many",
    "resolve_dir",
    "load_credentials",
    "save_credentials",
    "load_key",
    "save_key",
    "delete_key",
    "list_keys",
    "commit",
    "load_many",
];

static SEEN: [AtomicU8; NIFS.len()] = [const { AtomicU8::new(0) }; NIFS.len()];

/// Notes the kind of thread the calling NIF runs on.
pub fn record(nif: &str) {
    if let Some(index) = NIFS.iter().position(|name| *name == nif) {
        // SAFETY: enif_thread_type only reads the calling thread's kind.
        let kind = unsafe { rustler::sys::enif_thread_type() };
        SEEN[index].fetch_or(1 << kind.clamp(0, 7), Ordering::Relaxed);
    }
}

/// For each NIF, the names of the thread kinds it has run on.
pub fn seen() -> Vec<(&'static str, Vec<&'static str>)> {
    NIFS.iter()
        .zip(SEEN.iter())
        .map(|(name, bits)| {
            let bits = bits.load(Ordering::Relaxed);
            let kinds = (0..8)
                .filter(|kind| bits & (1 << kind) != 0)
                .map(thread_kind_name)
                .collect();
            (*name, kinds)
        })
        .collect()
}

// The values of ErlNifThreadType in erl_nif.h.
fn thread_kind_name(kind: u8) -> &'static str {
    match kind {
        1 => "normal",
        2 => "dirty_cpu",
        3 => "dirty_io",
        _ => "other",
    }
}
