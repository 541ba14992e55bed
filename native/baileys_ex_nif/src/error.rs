//! Turns core errors into the `{:error, reason}` terms the originals return.

use baileys_ex_core::error::{Error, MetadataError};
use baileys_ex_core::fs::FileKind;
use baileys_ex_core::layout::BackendKind;
use rustler::types::atom::Atom;
use rustler::{Encoder, Env, Term};

use crate::atoms;
use crate::term::{decode_whole, value_to_term};

/// What `:erlang.binary_to_term(bin, [:safe])` raises for a bad file.
pub const BAD_TERM_MESSAGE: &str = "errors were found at the given arguments:\n\n  * 1st argument: invalid or unsafe external representation of a term\n";

pub fn module_atom(env: Env, kind: BackendKind) -> Term {
    let name = match kind {
        BackendKind::Etf => "Elixir.BaileysEx.Auth.NIF.NativeFilePersistence",
        BackendKind::Json => "Elixir.BaileysEx.Auth.NIF.FilePersistence",
    };
    existing_atom(env, name)
}

/// Atoms from the fixed tables in `atoms.rs`, created when the library loads.
pub fn existing_atom<'a>(env: Env<'a>, name: &str) -> Term<'a> {
    match Atom::existing_from_utf8_bytes(env, name.as_bytes()) {
        Ok(atom) => atom.encode(env),
        _ => atoms::nil().encode(env),
    }
}

pub fn error_tuple<'a>(env: Env<'a>, reason: Term<'a>) -> Term<'a> {
    (atoms::error(), reason).encode(env)
}

pub fn argument_error<'a>(env: Env<'a>, message: &str) -> Term<'a> {
    let pairs = [
        (
            atoms::__struct__().encode(env),
            existing_atom(env, "Elixir.ArgumentError"),
        ),
        (atoms::__exception__().encode(env), true.encode(env)),
        (atoms::message().encode(env), message.encode(env)),
    ];
    Term::map_from_pairs(env, &pairs).unwrap_or_else(|_| message.encode(env))
}

pub fn encode_error<'a>(env: Env<'a>, kind: BackendKind, err: &Error) -> Term<'a> {
    let reason = match err {
        Error::Io(io) => existing_atom(env, baileys_ex_core::error::posix_name(io)),
        Error::Metadata(meta) => metadata_reason(env, kind, meta),
        Error::Json(json) => crate::json_codec::json_reason(env, json),
        Error::CallerGone => atoms::caller_exited().encode(env),
        Error::NotRegularFile(kind) => (atoms::not_a_regular_file(), file_kind(*kind)).encode(env),
        // The shape the JSON codec's own size limit has.
        Error::TooLarge { cap } => (atoms::too_large(), *cap).encode(env),
    };
    error_tuple(env, reason)
}

fn file_kind(kind: FileKind) -> rustler::Atom {
    match kind {
        FileKind::Directory => atoms::directory(),
        FileKind::Fifo => atoms::fifo(),
        FileKind::CharacterDevice => atoms::character_device(),
        FileKind::BlockDevice => atoms::block_device(),
        FileKind::Socket => atoms::socket(),
        FileKind::Symlink => atoms::symlink(),
        FileKind::Other => atoms::other(),
    }
}

fn metadata_reason<'a>(env: Env<'a>, kind: BackendKind, err: &MetadataError) -> Term<'a> {
    let module = module_atom(env, kind);
    match err {
        MetadataError::UnsupportedVersion(version) => (
            atoms::unsupported_persistence_version(),
            module,
            value_to_term(env, version).unwrap_or_else(|| atoms::nil().encode(env)),
        )
            .encode(env),
        MetadataError::UnexpectedBackend(backend) => (
            atoms::unexpected_persistence_backend(),
            module,
            binary(env, backend),
        )
            .encode(env),
        MetadataError::InvalidEtf(bytes) => {
            let detail =
                decode_whole(env, bytes).unwrap_or_else(|| argument_error(env, BAD_TERM_MESSAGE));
            (atoms::invalid_persistence_metadata(), module, detail).encode(env)
        }
        MetadataError::InvalidJson(value) => {
            let detail = value_to_term(env, value).unwrap_or_else(|| atoms::nil().encode(env));
            (atoms::invalid_persistence_metadata(), module, detail).encode(env)
        }
    }
}

pub fn binary<'a>(env: Env<'a>, bytes: &[u8]) -> Term<'a> {
    rustler::NewBinary::from_slice(env, bytes).into()
}
