//! NIF entry points for `BaileysEx.Auth.NIF`. Each one decodes its arguments,
//! calls the Env-free core, and encodes the result; every one touches the
//! disk, so every one runs on a dirty IO scheduler.

mod args;
mod atoms;
mod codec;
mod error;
mod json_codec;
mod term;

use baileys_ex_core::directory;
use baileys_ex_core::fs::RealFs;
use baileys_ex_core::layout::BackendSpec;
use baileys_ex_core::manifest::AtomTable;
use baileys_ex_core::store::Store;
use rustler::types::atom::Atom;
use rustler::{Encoder, Env, Term};

use crate::args::{backend, key_id, key_type, location};
use crate::codec::Slot;
use crate::error::{binary, encode_error, error_tuple};

struct VmAtoms<'a>(Env<'a>);

impl AtomTable for VmAtoms<'_> {
    fn exists(&self, name: &str) -> bool {
        Atom::existing_from_utf8_bytes(self.0, name.as_bytes()).is_ok()
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

#[rustler::nif(schedule = "DirtyIo")]
fn resolve_dir<'a>(
    env: Env<'a>,
    kind: Term<'a>,
    context: Term<'a>,
    configured: Term<'a>,
) -> Term<'a> {
    let spec = arg!(backend(env, kind));
    let dir = arg!(location(env, spec, context, configured));
    use std::os::unix::ffi::OsStrExt;
    (atoms::ok(), binary(env, dir.as_os_str().as_bytes())).encode(env)
}

#[rustler::nif(schedule = "DirtyIo")]
fn load_credentials<'a>(
    env: Env<'a>,
    kind: Term<'a>,
    context: Term<'a>,
    configured: Term<'a>,
) -> Term<'a> {
    let spec = arg!(backend(env, kind));
    let dir = arg!(location(env, spec, context, configured));
    let atoms = VmAtoms(env);
    match store(spec, &atoms).load_credentials(&dir) {
        Ok(None) => (atoms::ok(), atoms::nil()).encode(env),
        Ok(Some(bytes)) => match codec::decode(env, spec.kind, Slot::Credentials, &bytes) {
            Ok(term) => (atoms::ok(), term).encode(env),
            Err(reason) => error_tuple(env, reason),
        },
        Err(err) => encode_error(env, spec.kind, &err),
    }
}

#[rustler::nif(schedule = "DirtyIo")]
fn save_credentials<'a>(
    env: Env<'a>,
    kind: Term<'a>,
    context: Term<'a>,
    configured: Term<'a>,
    state: Term<'a>,
) -> Term<'a> {
    let spec = arg!(backend(env, kind));
    let dir = arg!(location(env, spec, context, configured));
    let data = match codec::encode(env, spec.kind, Slot::Credentials, state) {
        Ok(data) => data,
        Err(reason) => return error_tuple(env, reason),
    };
    let atoms = VmAtoms(env);
    match store(spec, &atoms).save_credentials(&dir, data.as_slice()) {
        Ok(()) => atoms::ok().encode(env),
        Err(err) => encode_error(env, spec.kind, &err),
    }
}

#[rustler::nif(schedule = "DirtyIo")]
fn load_key<'a>(
    env: Env<'a>,
    kind: Term<'a>,
    context: Term<'a>,
    configured: Term<'a>,
    type_: Term<'a>,
    id: Term<'a>,
) -> Term<'a> {
    let spec = arg!(backend(env, kind));
    let dir = arg!(location(env, spec, context, configured));
    let key_type = arg!(key_type(env, type_));
    let id = arg!(key_id(env, id));
    let atoms = VmAtoms(env);
    match store(spec, &atoms).load_key(&dir, &key_type, id.as_slice()) {
        Ok(None) => error_tuple(env, atoms::not_found().encode(env)),
        Ok(Some(bytes)) => match codec::decode(env, spec.kind, Slot::Key(&key_type), &bytes) {
            Ok(term) if term.is_atom() && term == atoms::nil().encode(env) => {
                error_tuple(env, atoms::not_found().encode(env))
            }
            Ok(term) => (atoms::ok(), term).encode(env),
            Err(reason) => error_tuple(env, reason),
        },
        Err(err) => encode_error(env, spec.kind, &err),
    }
}

#[rustler::nif(schedule = "DirtyIo")]
fn save_key<'a>(
    env: Env<'a>,
    kind: Term<'a>,
    context: Term<'a>,
    configured: Term<'a>,
    type_: Term<'a>,
    id: Term<'a>,
    value: Term<'a>,
) -> Term<'a> {
    let spec = arg!(backend(env, kind));
    let dir = arg!(location(env, spec, context, configured));
    let key_type = arg!(key_type(env, type_));
    let id = arg!(key_id(env, id));
    let data = match codec::encode(env, spec.kind, Slot::Key(&key_type), value) {
        Ok(data) => data,
        Err(reason) => return error_tuple(env, reason),
    };
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

rustler::init!("Elixir.BaileysEx.Auth.NIF", load = load);
