//! NIF entry points for `BaileysEx.Auth.NIF`. Each one decodes its arguments,
//! calls the Env-free core, and encodes the result. Those that touch the disk
//! run on a dirty IO scheduler; turning terms into file bytes and back is CPU
//! work, so it has NIFs of its own on a dirty CPU scheduler: `encode` before
//! every save, and `decode` for any file larger than `INLINE_DECODE_BYTES`.

mod args;
mod atoms;
mod codec;
mod error;
mod json_codec;
mod scheduler_use;
mod term;

use baileys_ex_core::directory;
use baileys_ex_core::fs::RealFs;
use baileys_ex_core::layout::{BackendKind, BackendSpec};
use baileys_ex_core::manifest::AtomTable;
use baileys_ex_core::store::Store;
use rustler::types::atom::Atom;
use rustler::{Binary, Encoder, Env, Term};

use crate::args::{backend, encoded, key_id, key_type, location, slot};
use crate::codec::Slot;
use crate::error::{binary, encode_error, error_tuple};

struct VmAtoms<'a>(Env<'a>);

impl AtomTable for VmAtoms<'_> {
    fn exists(&self, name: &str) -> bool {
        Atom::existing_from_utf8_bytes(self.0, name.as_bytes()).is_ok()
    }

    fn caller_alive(&self) -> bool {
        // SAFETY: called on the thread running this NIF, with its own env,
        // which is what the function requires of a dirty NIF.
        unsafe { rustler::sys::enif_is_current_process_alive(self.0.as_c_arg()) != 0 }
    }
}

fn store<'s>(spec: &'static BackendSpec, atoms: &'s VmAtoms<'_>) -> Store<'s> {
    Store {
        spec,
        fs: &RealFs,
        atoms,
    }
}

/// Unwraps an argument check, returning its `{:error, reason}` term.
macro_rules! arg {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(term) => return term,
        }
    };
}

/// Files up to this size are decoded where they are read; a larger one goes
/// back to Elixir as `{:encoded, bytes}` and through `decode` on a dirty CPU
/// scheduler, so no dirty IO thread spends long on CPU work.
const INLINE_DECODE_BYTES: usize = 64 * 1024;

/// `{:ok, term}`, `{:error, reason}`, or `{:encoded, bytes}` for large files.
fn loaded<'a>(env: Env<'a>, kind: BackendKind, slot: Slot, bytes: Vec<u8>) -> Term<'a> {
    if bytes.len() > INLINE_DECODE_BYTES {
        return (atoms::encoded(), binary(env, &bytes)).encode(env);
    }
    match codec::decode(env, kind, slot, &bytes) {
        Ok(term) => (atoms::ok(), term).encode(env),
        Err(reason) => error_tuple(env, reason),
    }
}

/// Turns a value into the bytes its file holds: the VM's own
/// `term_to_binary` for ETF, the section-5 codecs for JSON.
#[rustler::nif(schedule = "DirtyCpu")]
fn encode<'a>(env: Env<'a>, kind: Term<'a>, slot_term: Term<'a>, value: Term<'a>) -> Term<'a> {
    scheduler_use::record("encode");
    let spec = arg!(backend(env, kind));
    let slot_name = arg!(slot(env, slot_term));
    match codec::encode(env, spec.kind, slot_name.as_slot(), value) {
        Ok(data) => (atoms::ok(), binary(env, data.as_slice())).encode(env),
        Err(reason) => error_tuple(env, reason),
    }
}

/// Turns file bytes back into a term; `nil` means the file counts as absent.
#[rustler::nif(schedule = "DirtyCpu")]
fn decode<'a>(env: Env<'a>, kind: Term<'a>, slot_term: Term<'a>, bytes: Binary<'a>) -> Term<'a> {
    scheduler_use::record("decode");
    let spec = arg!(backend(env, kind));
    let slot_name = arg!(slot(env, slot_term));
    match codec::decode(env, spec.kind, slot_name.as_slot(), bytes.as_slice()) {
        Ok(term) => (atoms::ok(), term).encode(env),
        Err(reason) => error_tuple(env, reason),
    }
}

#[rustler::nif(schedule = "DirtyIo")]
fn resolve_dir<'a>(
    env: Env<'a>,
    kind: Term<'a>,
    context: Term<'a>,
    configured: Term<'a>,
) -> Term<'a> {
    scheduler_use::record("resolve_dir");
    let spec = arg!(backend(env, kind));
    let dir = arg!(location(env, spec, context, configured));
    use std::os::unix::ffi::OsStrExt;
    (atoms::ok(), binary(env, dir.as_os_str().as_bytes())).encode(env)
}

/// `{:ok, nil}` when there are no credentials yet.
#[rustler::nif(schedule = "DirtyIo")]
fn load_credentials<'a>(
    env: Env<'a>,
    kind: Term<'a>,
    context: Term<'a>,
    configured: Term<'a>,
) -> Term<'a> {
    scheduler_use::record("load_credentials");
    let spec = arg!(backend(env, kind));
    let dir = arg!(location(env, spec, context, configured));
    let atoms = VmAtoms(env);
    match store(spec, &atoms).load_credentials(&dir) {
        Ok(None) => (atoms::ok(), atoms::nil()).encode(env),
        Ok(Some(bytes)) => loaded(env, spec.kind, Slot::Credentials, bytes),
        Err(err) => encode_error(env, spec.kind, &err),
    }
}

/// `data` comes from `encode`.
#[rustler::nif(schedule = "DirtyIo")]
fn save_credentials<'a>(
    env: Env<'a>,
    kind: Term<'a>,
    context: Term<'a>,
    configured: Term<'a>,
    data: Term<'a>,
) -> Term<'a> {
    scheduler_use::record("save_credentials");
    let spec = arg!(backend(env, kind));
    let dir = arg!(location(env, spec, context, configured));
    let data = arg!(encoded(env, data));
    let atoms = VmAtoms(env);
    match store(spec, &atoms).save_credentials(&dir, data.as_slice()) {
        Ok(()) => atoms::ok().encode(env),
        Err(err) => encode_error(env, spec.kind, &err),
    }
}

/// `{:ok, nil}` for a missing key: the caller reports `:not_found`.
#[rustler::nif(schedule = "DirtyIo")]
fn load_key<'a>(
    env: Env<'a>,
    kind: Term<'a>,
    context: Term<'a>,
    configured: Term<'a>,
    type_: Term<'a>,
    id: Term<'a>,
) -> Term<'a> {
    scheduler_use::record("load_key");
    let spec = arg!(backend(env, kind));
    let dir = arg!(location(env, spec, context, configured));
    let key_type = arg!(key_type(env, type_));
    let id = arg!(key_id(env, id));
    let atoms = VmAtoms(env);
    match store(spec, &atoms).load_key(&dir, &key_type, id.as_slice()) {
        Ok(None) => (atoms::ok(), atoms::nil()).encode(env),
        Ok(Some(bytes)) => loaded(env, spec.kind, Slot::Key(&key_type), bytes),
        Err(err) => encode_error(env, spec.kind, &err),
    }
}

/// `data` comes from `encode`.
#[rustler::nif(schedule = "DirtyIo")]
fn save_key<'a>(
    env: Env<'a>,
    kind: Term<'a>,
    context: Term<'a>,
    configured: Term<'a>,
    type_: Term<'a>,
    id: Term<'a>,
    data: Term<'a>,
) -> Term<'a> {
    scheduler_use::record("save_key");
    let spec = arg!(backend(env, kind));
    let dir = arg!(location(env, spec, context, configured));
    let key_type = arg!(key_type(env, type_));
    let id = arg!(key_id(env, id));
    let data = arg!(encoded(env, data));
    let atoms = VmAtoms(env);
    match store(spec, &atoms).save_key(&dir, &key_type, id.as_slice(), data.as_slice()) {
        Ok(()) => atoms::ok().encode(env),
        Err(err) => encode_error(env, spec.kind, &err),
    }
}

#[rustler::nif(schedule = "DirtyIo")]
fn delete_key<'a>(
    env: Env<'a>,
    kind: Term<'a>,
    context: Term<'a>,
    configured: Term<'a>,
    type_: Term<'a>,
    id: Term<'a>,
) -> Term<'a> {
    scheduler_use::record("delete_key");
    let spec = arg!(backend(env, kind));
    let dir = arg!(location(env, spec, context, configured));
    let key_type = arg!(key_type(env, type_));
    let id = arg!(key_id(env, id));
    let atoms = VmAtoms(env);
    match store(spec, &atoms).delete_key(&dir, &key_type, id.as_slice()) {
        Ok(()) => atoms::ok().encode(env),
        Err(err) => encode_error(env, spec.kind, &err),
    }
}

#[rustler::nif(schedule = "DirtyIo")]
fn list_keys<'a>(
    env: Env<'a>,
    kind: Term<'a>,
    context: Term<'a>,
    configured: Term<'a>,
) -> Term<'a> {
    scheduler_use::record("list_keys");
    let spec = arg!(backend(env, kind));
    let dir = arg!(location(env, spec, context, configured));
    let atoms = VmAtoms(env);
    let index = match store(spec, &atoms).list_keys(&dir) {
        Ok(index) => index,
        Err(err) => return encode_error(env, spec.kind, &err),
    };
    let pairs: Vec<(Term, Term)> = index
        .iter()
        .map(|(key_type, ids)| {
            let ids: Vec<Term> = ids.iter().map(|id| binary(env, id)).collect();
            (error::existing_atom(env, key_type), ids.encode(env))
        })
        .collect();
    match Term::map_from_pairs(env, &pairs) {
        Ok(map) => (atoms::ok(), map).encode(env),
        Err(_) => error_tuple(env, atoms::invalid_key_type().encode(env)),
    }
}

fn load(env: Env, _info: Term) -> bool {
    for name in atoms::AUTH_ATOMS.iter().chain(atoms::POSIX_ATOMS) {
        if Atom::from_str(env, name).is_err() {
            return false;
        }
    }
    directory::mark_process_start();
    true
}

/// Which kinds of scheduler thread each NIF has run on (see `scheduler_use`).
/// Touches nothing but a few atomics, so it runs on a normal scheduler.
#[rustler::nif]
fn scheduler_use() -> Vec<(&'static str, Vec<&'static str>)> {
    scheduler_use::seen()
}

rustler::init!("Elixir.BaileysEx.Auth.NIF", load = load);
