//! Env-free core of the native BaileysEx auth persistence: directory layout,
//! locks, crash-safe writes, the manifest and the codecs. The NIF crate only
//! converts terms and calls in here, so `cargo test` covers all of it.

pub mod atomic;
pub mod bigint;
pub mod directory;
pub mod error;
pub mod etf;
pub mod fs;
pub mod json;
pub mod layout;
pub mod locks;
pub mod manifest;
pub mod offload;
pub mod store;
pub mod value;
