//! NIF entry points for `BaileysEx.Auth.NIF`. Each one takes typed arguments
//! (Elixir has refused those of the wrong type), calls the Env-free core, and
//! replies with its result or `{:error, reason}`. Those that touch the disk
//! run on a dirty IO scheduler; turning terms into file bytes and back is CPU
//! work, so it has NIFs of its own on a dirty CPU scheduler: `encode` before
//! every save (`encode_many` before a commit), and `decode` (`decode_many`
//! after `load_many`) for what a load read beyond `INLINE_DECODE_BYTES`.
//!
//! A NIF that returns `Result<T, Reason>` replies `{:ok, value}`. Saves reply
//! `:ok` and loads `{:ok, term}` or `{:encoded, bytes}`, so they return
//! `NifResult<T>`, whose value rustler sends as it is.

mod args;
mod atoms;
mod codec;
mod error;
mod json_codec;
mod scheduler_use;
mod term;

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use baileys_ex_core::commit::Mutation;
use baileys_ex_core::directory;
use baileys_ex_core::error::posix_names;
use baileys_ex_core::fs::RealFs;
use baileys_ex_core::manifest::AtomTable;
use baileys_ex_core::store::Store;
use baileys_ex_core::vocabulary::auth_vocabulary;
use rustler::types::atom;
use rustler::{Atom, Binary, Encoder, Env, NifResult, Term};

use crate::args::{key_type_name, Backend, Location, Slot};
use crate::error::Reason;
use crate::term::{binary, existing_atom};

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

/// Resolves the call's directory and runs `work` on the backend's store.
fn with_store<T>(
    env: Env,
    location: Location,
    work: impl FnOnce(&Store, &Path) -> Result<T, Reason>,
) -> Result<T, Reason> {
    let dir = location.resolve()?;
    let atoms = VmAtoms(env);
    let store = Store {
        spec: location.backend.spec(),
        fs: &RealFs,
        atoms: &atoms,
    };
    work(&store, &dir)
}

/// A load decodes files where it reads them until it has decoded this many
/// bytes; a file beyond that goes back to Elixir as `{:encoded, bytes}` and
/// through `decode` (or `decode_many`) on a dirty CPU scheduler, so no dirty
/// IO thread spends long on CPU work.
const INLINE_DECODE_BYTES: usize = 64 * 1024;

/// `{:ok, term}`, `nil` for no file; or `{:encoded, bytes}` for a large one.
enum Loaded<'a> {
    Term(Term<'a>),
    Encoded(Vec<u8>),
}

impl Encoder for Loaded<'_> {
    fn encode<'b>(&self, env: Env<'b>) -> Term<'b> {
        match self {
            Loaded::Term(term) => (atoms::ok(), *term).encode(env),
            Loaded::Encoded(bytes) => (atoms::encoded(), binary(env, bytes)).encode(env),
        }
    }
}

/// Decodes `bytes` here if they fit in what is left of the call's `budget`.
fn loaded<'a>(
    env: Env<'a>,
    backend: Backend,
    key_type: Option<&str>,
    bytes: Option<Vec<u8>>,
    budget: &mut usize,
) -> Result<Loaded<'a>, Reason> {
    match bytes {
        None => Ok(Loaded::Term(atom::nil().encode(env))),
        Some(bytes) if bytes.len() > *budget => Ok(Loaded::Encoded(bytes)),
        Some(bytes) => {
            *budget -= bytes.len();
            codec::decode(env, backend, key_type, &bytes).map(Loaded::Term)
        }
    }
}

/// Turns a value into the bytes its file holds: the VM's own
/// `term_to_binary` for ETF, the section-5 codecs for JSON.
#[rustler::nif(schedule = "DirtyCpu")]
fn encode<'a>(
    env: Env<'a>,
    backend: Backend,
    slot: Slot,
    value: Term<'a>,
) -> Result<Term<'a>, Reason> {
    scheduler_use::record("encode");
    let key_type = slot.key_type(env)?;
    let data = codec::encode(backend, key_type.as_deref(), value)?;
    Ok(binary(env, data.as_slice()))
}

/// Turns file bytes back into a term; `nil` means the file counts as absent.
#[rustler::nif(schedule = "DirtyCpu")]
fn decode<'a>(
    env: Env<'a>,
    backend: Backend,
    slot: Slot,
    bytes: Binary<'a>,
) -> Result<Term<'a>, Reason> {
    scheduler_use::record("decode");
    let key_type = slot.key_type(env)?;
    codec::decode(env, backend, key_type.as_deref(), bytes.as_slice())
}

#[rustler::nif(schedule = "DirtyIo")]
fn resolve_dir<'a>(env: Env<'a>, location: Location) -> Result<Term<'a>, Reason> {
    scheduler_use::record("resolve_dir");
    let dir = location.resolve()?;
    Ok(binary(env, dir.as_os_str().as_bytes()))
}

#[rustler::nif(schedule = "DirtyIo")]
fn load_credentials<'a>(env: Env<'a>, location: Location) -> NifResult<Loaded<'a>> {
    scheduler_use::record("load_credentials");
    with_store(env, location, |store, dir| {
        let (bytes, mut budget) = (store.load_credentials(dir)?, INLINE_DECODE_BYTES);
        loaded(env, location.backend, None, bytes, &mut budget)
    })
    .map_err(Into::into)
}

/// `data` comes from `encode`.
#[rustler::nif(schedule = "DirtyIo")]
fn save_credentials(env: Env, location: Location, data: Binary) -> NifResult<Atom> {
    scheduler_use::record("save_credentials");
    with_store(env, location, |store, dir| {
        store.save_credentials(dir, data.as_slice())?;
        Ok(atoms::ok())
    })
    .map_err(Into::into)
}

#[rustler::nif(schedule = "DirtyIo")]
fn load_key<'a>(
    env: Env<'a>,
    location: Location,
    key_type: Atom,
    id: Binary,
) -> NifResult<Loaded<'a>> {
    scheduler_use::record("load_key");
    with_store(env, location, |store, dir| {
        let key_type = key_type_name(env, key_type)?;
        let bytes = store.load_key(dir, &key_type, id.as_slice())?;
        let mut budget = INLINE_DECODE_BYTES;
        loaded(env, location.backend, Some(&key_type), bytes, &mut budget)
    })
    .map_err(Into::into)
}

/// `data` comes from `encode`.
#[rustler::nif(schedule = "DirtyIo")]
fn save_key(
    env: Env,
    location: Location,
    key_type: Atom,
    id: Binary,
    data: Binary,
) -> NifResult<Atom> {
    scheduler_use::record("save_key");
    with_store(env, location, |store, dir| {
        let key_type = key_type_name(env, key_type)?;
        store.save_key(dir, &key_type, id.as_slice(), data.as_slice())?;
        Ok(atoms::ok())
    })
    .map_err(Into::into)
}

#[rustler::nif(schedule = "DirtyIo")]
fn delete_key(env: Env, location: Location, key_type: Atom, id: Binary) -> NifResult<Atom> {
    scheduler_use::record("delete_key");
    with_store(env, location, |store, dir| {
        store.delete_key(dir, &key_type_name(env, key_type)?, id.as_slice())?;
        Ok(atoms::ok())
    })
    .map_err(Into::into)
}

/// `{:ok, %{type => [id]}}`.
#[rustler::nif(schedule = "DirtyIo")]
fn list_keys<'a>(env: Env<'a>, location: Location) -> Result<Term<'a>, Reason> {
    scheduler_use::record("list_keys");
    let index = with_store(env, location, |store, dir| Ok(store.list_keys(dir)?))?;
    // Key types come from the core's list, created at load: no two share an
    // atom, so no entry replaces another.
    Ok(index
        .iter()
        .fold(Term::map_new(env), |map, (key_type, ids)| {
            let ids: Vec<Term> = ids.iter().map(|id| binary(env, id)).collect();
            map.map_put(existing_atom(env, key_type), ids)
                .unwrap_or(map)
        }))
}

/// `encode` for many values of one slot: the files' bytes, in the values'
/// order, or the error of the first value that cannot be stored.
#[rustler::nif(schedule = "DirtyCpu")]
fn encode_many<'a>(
    env: Env<'a>,
    backend: Backend,
    slot: Slot,
    values: Vec<Term<'a>>,
) -> Result<Vec<Term<'a>>, Reason> {
    scheduler_use::record("encode_many");
    let key_type = slot.key_type(env)?;
    values
        .into_iter()
        .map(|value| {
            let data = codec::encode(backend, key_type.as_deref(), value)?;
            Ok(binary(env, data.as_slice()))
        })
        .collect()
}

/// `decode` for many files of one slot, in their order.
#[rustler::nif(schedule = "DirtyCpu")]
fn decode_many<'a>(
    env: Env<'a>,
    backend: Backend,
    slot: Slot,
    files: Vec<Binary<'a>>,
) -> Result<Vec<Term<'a>>, Reason> {
    scheduler_use::record("decode_many");
    let key_type = slot.key_type(env)?;
    files
        .iter()
        .map(|bytes| codec::decode(env, backend, key_type.as_deref(), bytes.as_slice()))
        .collect()
}

/// One key type's part of a commit, as Elixir passes it:
/// `{type, [{id, data | nil}]}`, `data` from `encode_many`, `nil` a delete.
type KeyChanges<'a> = (Atom, Vec<(Binary<'a>, Option<Binary<'a>>)>);

/// Applies the credentials (when given) and every key change, in order, as
/// one atomic, durable commit (`baileys_ex_core::commit`).
#[rustler::nif(schedule = "DirtyIo")]
fn commit(
    env: Env,
    location: Location,
    changes: Vec<KeyChanges>,
    credentials: Option<Binary>,
) -> NifResult<Atom> {
    scheduler_use::record("commit");
    with_store(env, location, |store, dir| {
        let key_types = changes
            .iter()
            .map(|(key_type, _)| key_type_name(env, *key_type))
            .collect::<Result<Vec<_>, _>>()?;
        let mut mutations: Vec<Mutation> = credentials
            .iter()
            .map(|data| Mutation::SaveCredentials {
                data: data.as_slice(),
            })
            .collect();
        for (key_type, (_, entries)) in key_types.iter().zip(&changes) {
            mutations.extend(entries.iter().map(|(id, data)| match data {
                Some(data) => Mutation::Save {
                    key_type,
                    id: id.as_slice(),
                    data: data.as_slice(),
                },
                None => Mutation::Delete {
                    key_type,
                    id: id.as_slice(),
                },
            }));
        }
        store.commit(dir, &mutations)?;
        Ok(atoms::ok())
    })
    .map_err(Into::into)
}

/// `{:ok, [loaded]}` in the ids' order: `{:ok, nil}` for no file, `{:ok,
/// term}`, or `{:encoded, bytes}` once the call has decoded
/// `INLINE_DECODE_BYTES`. The files are read in parallel.
#[rustler::nif(schedule = "DirtyIo")]
fn load_many<'a>(
    env: Env<'a>,
    location: Location,
    key_type: Atom,
    ids: Vec<Binary>,
) -> Result<Vec<Loaded<'a>>, Reason> {
    scheduler_use::record("load_many");
    with_store(env, location, |store, dir| {
        let key_type = key_type_name(env, key_type)?;
        let ids: Vec<&[u8]> = ids.iter().map(|id| id.as_slice()).collect();
        let files = store.load_many(dir, &key_type, &ids)?;
        let mut budget = INLINE_DECODE_BYTES;
        files
            .into_iter()
            .map(|bytes| loaded(env, location.backend, Some(&key_type), bytes, &mut budget))
            .collect()
    })
}

/// Creates the atoms of auth data and of POSIX errors: safe decoding then
/// accepts every file BaileysEx writes, and no reply needs a new atom.
fn load(env: Env, _info: Term) -> bool {
    let created = auth_vocabulary()
        .chain(posix_names())
        .all(|name| Atom::from_str(env, name).is_ok());
    if created {
        directory::mark_process_start();
    }
    created
}

/// Which kinds of scheduler thread each NIF has run on (see `scheduler_use`).
/// Touches nothing but a few atomics, so it runs on a normal scheduler.
#[rustler::nif]
fn scheduler_use() -> Vec<(&'static str, Vec<&'static str>)> {
    scheduler_use::seen()
}

rustler::init!("Elixir.BaileysEx.Auth.NIF", load = load);
