//! Env-free core of the native BaileysEx auth persistence: directory layout,
//! locks, crash-safe writes, the manifest and the codecs. The NIF crate only
//! converts terms and calls in here, so `cargo test` covers all of it.

pub mod atomic;
pub mod bigint;
pub mod commit;
pub mod commit_record;
pub mod crash_fs;
pub mod directory;
pub mod error;
pub mod etf;
pub mod fs;
pub mod io_pool;
pub mod json;
pub mod layout;
pub mod load_many;
pub mod locks;
pub mod manifest;
pub mod offload;
pub mod recovery;
pub mod store;
pub mod value;
pub mod vocabulary;
