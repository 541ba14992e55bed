//! Argument checks: a bad argument is an `{:error, reason}` term, never a
//! `badarg` raised into the caller.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use baileys_ex_core::layout::{BackendSpec, ETF, JSON};
use baileys_ex_core::store::resolve_dir;
use rustler::{Binary, Encoder, Env, Term};

use crate::atoms;
use crate::codec::Slot;
use crate::error::{error_tuple, existing_atom};

pub fn backend<'a>(env: Env<'a>, kind: Term<'a>) -> Result<&'static BackendSpec, Term<'a>> {
    if kind == atoms::etf().encode(env) {
        Ok(&ETF)
    } else if kind == atoms::json().encode(env) {
        Ok(&JSON)
    } else {
        Err(tagged(env, atoms::invalid_backend(), kind))
    }
}

fn tagged<'a>(env: Env<'a>, tag: rustler::Atom, value: Term<'a>) -> Term<'a> {
    error_tuple(env, (tag, value).encode(env))
}

fn optional_path<'a>(env: Env<'a>, term: Term<'a>) -> Option<Option<Binary<'a>>> {
    if term == atoms::nil().encode(env) {
        Some(None)
    } else {
        term.decode::<Binary>().ok().map(Some)
    }
}

/// The directory for a call: the context, else the configured default, else
/// `<cwd>/<backend default>`. A NUL byte can never name a file.
pub fn location<'a>(
    env: Env<'a>,
    spec: &'static BackendSpec,
    context: Term<'a>,
    configured: Term<'a>,
) -> Result<PathBuf, Term<'a>> {
    let context_path = optional_path(env, context)
        .ok_or_else(|| tagged(env, atoms::invalid_context(), context))?;
    let configured_path = optional_path(env, configured)
        .ok_or_else(|| tagged(env, atoms::invalid_config_path(), configured))?;
    let chosen = context_path.as_ref().or(configured_path.as_ref());
    if chosen.is_some_and(|b| b.as_slice().contains(&0)) {
        return Err(error_tuple(env, existing_atom(env, "einval")));
    }
    let as_path = |b: &Option<Binary>| {
        b.as_ref()
            .map(|b| Path::new(OsStr::from_bytes(b.as_slice())).to_path_buf())
    };
    resolve_dir(
        spec,
        as_path(&context_path).as_deref(),
        as_path(&configured_path).as_deref(),
    )
    .map_err(|err| {
        error_tuple(
            env,
            existing_atom(env, baileys_ex_core::error::posix_name(&err)),
        )
    })
}

pub fn key_type<'a>(env: Env<'a>, term: Term<'a>) -> Result<String, Term<'a>> {
    term.atom_to_string()
        .map_err(|_| tagged(env, atoms::invalid_key_type(), term))
}

/// Ids arrive as binaries: the Elixir side applies `String.Chars` first.
pub fn key_id<'a>(env: Env<'a>, term: Term<'a>) -> Result<Binary<'a>, Term<'a>> {
    term.decode::<Binary>()
        .map_err(|_| tagged(env, atoms::invalid_key_id(), term))
}

/// Which file a value belongs to, as the caller names it: `:credentials` or
/// `{:key, type}` (a key type may itself be any atom, `:credentials` too).
pub enum SlotName {
    Credentials,
    Key(String),
}

impl SlotName {
    pub fn as_slot(&self) -> Slot<'_> {
        match self {
            SlotName::Credentials => Slot::Credentials,
            SlotName::Key(key_type) => Slot::Key(key_type),
        }
    }
}

pub fn slot<'a>(env: Env<'a>, term: Term<'a>) -> Result<SlotName, Term<'a>> {
    if term == atoms::credentials().encode(env) {
        return Ok(SlotName::Credentials);
    }
    match term.decode::<(rustler::Atom, Term)>() {
        Ok((tag, type_)) if tag == atoms::key() => key_type(env, type_).map(SlotName::Key),
        _ => Err(tagged(env, atoms::invalid_key_type(), term)),
    }
}

/// File bytes produced by `encode`.
pub fn encoded<'a>(env: Env<'a>, term: Term<'a>) -> Result<Binary<'a>, Term<'a>> {
    term.decode::<Binary>()
        .map_err(|_| tagged(env, atoms::invalid_encoded_data(), term))
}
