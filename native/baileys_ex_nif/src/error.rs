//! Every reason a NIF returns in `{:error, reason}`, as data. Elixir
//! (`Common`) builds what the originals put in their errors from it: the
//! `ArgumentError` for `{:argument_error, message}` and `{:invalid_etf, bytes}`,
//! and the module in the manifest errors.

use baileys_ex_core::bigint;
use baileys_ex_core::commit::{CommitError, MAX_COMMIT_BYTES, MAX_MUTATIONS};
use baileys_ex_core::error::{posix_name, Error, MetadataError};
use baileys_ex_core::etf::{self, EtfError};
use baileys_ex_core::fs::FileKind;
use baileys_ex_core::json::{self, JsonError, SyntaxError};
use baileys_ex_core::value::Value;
use rustler::types::atom;
use rustler::{Atom, Encoder, Env, Term};

use crate::atoms;
use crate::term::{binary, existing_atom, value_to_term};

/// Plain data, so codec work on a helper thread can return it; it becomes a
/// term only in the NIF's reply.
pub enum Reason {
    /// A POSIX name, as `File` gives it (`:enoent`, `:einval`, ...).
    Posix(&'static str),
    /// `:caller_exited`: the calling process exited before the write.
    CallerExited,
    /// `{:invalid_key_type, type}`: an atom whose name cannot be read here
    /// (before OTP 26, one with a character beyond Latin-1).
    InvalidKeyType(Atom),
    /// `{:invalid_etf, bytes}`: a file the VM's safe decoder refuses.
    InvalidEtf(Vec<u8>),
    /// `{:argument_error, message}`: where the original raises `ArgumentError`.
    Argument(String),
    Metadata(MetadataError),
    Json(JsonError),
    /// `{:not_a_regular_file, kind}`: a FIFO, a device, a directory... where
    /// a data file belongs; refused unread.
    NotRegularFile(FileKind),
    /// `{:too_large, cap}`: a file over the backend's size cap, the shape the
    /// JSON codec's own size limit has.
    TooLarge(usize),
    /// `{:commit_too_large, :mutations | :bytes, count, max}`: a commit
    /// beyond one of its limits.
    CommitTooLarge {
        what: CommitLimit,
        count: u64,
        max: u64,
    },
}

#[derive(Clone, Copy)]
pub enum CommitLimit {
    Mutations,
    Bytes,
}

impl From<Error> for Reason {
    fn from(err: Error) -> Self {
        match err {
            Error::Io(io) => Reason::Posix(posix_name(&io)),
            Error::Metadata(meta) => Reason::Metadata(meta),
            Error::Json(json) => Reason::Json(json),
            Error::CallerGone => Reason::CallerExited,
            Error::NotRegularFile(kind) => Reason::NotRegularFile(kind),
            Error::TooLarge { cap } => Reason::TooLarge(cap),
        }
    }
}

impl From<CommitError> for Reason {
    fn from(err: CommitError) -> Self {
        match err {
            CommitError::Store(err) => err.into(),
            CommitError::TooManyMutations(count) => Reason::CommitTooLarge {
                what: CommitLimit::Mutations,
                count: count as u64,
                max: MAX_MUTATIONS as u64,
            },
            CommitError::TooManyBytes(count) => Reason::CommitTooLarge {
                what: CommitLimit::Bytes,
                count,
                max: MAX_COMMIT_BYTES,
            },
        }
    }
}

impl From<std::io::Error> for Reason {
    fn from(err: std::io::Error) -> Self {
        Reason::Posix(posix_name(&err))
    }
}

impl From<JsonError> for Reason {
    fn from(err: JsonError) -> Self {
        Reason::Json(err)
    }
}

/// Only a caller's term on its way to JSON goes through the core's ETF
/// decoder: an error there is a term the JSON backend cannot store.
impl From<EtfError> for Reason {
    fn from(err: EtfError) -> Self {
        match err {
            EtfError::TooDeep => Reason::Json(JsonError::TooDeep),
            other => Reason::Argument(format!("the term cannot be stored as JSON: {other}")),
        }
    }
}

/// What NIFs returning `NifResult` reply with: rustler sends `{:error, reason}`.
impl From<Reason> for rustler::Error {
    fn from(reason: Reason) -> Self {
        rustler::Error::Term(Box::new(reason))
    }
}

impl Encoder for Reason {
    fn encode<'a>(&self, env: Env<'a>) -> Term<'a> {
        match self {
            Reason::Posix(name) => existing_atom(env, name),
            Reason::CallerExited => atoms::caller_exited().encode(env),
            Reason::InvalidKeyType(key_type) => (atoms::invalid_key_type(), *key_type).encode(env),
            Reason::InvalidEtf(bytes) => (atoms::invalid_etf(), binary(env, bytes)).encode(env),
            Reason::Argument(message) => (atoms::argument_error(), message.as_str()).encode(env),
            Reason::Metadata(err) => metadata_reason(env, err),
            Reason::Json(err) => json_reason(env, err),
            Reason::NotRegularFile(kind) => {
                (atoms::not_a_regular_file(), file_kind(*kind)).encode(env)
            }
            Reason::TooLarge(cap) => (atoms::too_large(), *cap).encode(env),
            Reason::CommitTooLarge { what, count, max } => {
                let what = match what {
                    CommitLimit::Mutations => atoms::mutations(),
                    CommitLimit::Bytes => atoms::bytes(),
                };
                (atoms::commit_too_large(), what, *count, *max).encode(env)
            }
        }
    }
}

fn file_kind(kind: FileKind) -> Atom {
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

/// The originals' manifest errors without their module, which Elixir adds.
fn metadata_reason<'a>(env: Env<'a>, err: &MetadataError) -> Term<'a> {
    match err {
        MetadataError::UnsupportedVersion(version) => (
            atoms::unsupported_persistence_version(),
            term_or_nil(env, version),
        )
            .encode(env),
        MetadataError::UnexpectedBackend(backend) => (
            atoms::unexpected_persistence_backend(),
            binary(env, backend),
        )
            .encode(env),
        // Elixir decodes the bytes as the original does, for the detail.
        MetadataError::InvalidEtf(bytes) => {
            (atoms::invalid_etf_metadata(), binary(env, bytes)).encode(env)
        }
        MetadataError::InvalidJson(detail) => (
            atoms::invalid_persistence_metadata(),
            term_or_nil(env, detail),
        )
            .encode(env),
    }
}

fn term_or_nil<'a>(env: Env<'a>, value: &Value) -> Term<'a> {
    value_to_term(env, value).unwrap_or_else(|| atom::nil().encode(env))
}

fn json_reason<'a>(env: Env<'a>, err: &JsonError) -> Term<'a> {
    match err {
        JsonError::InvalidAdditionalData(message) => {
            (atoms::invalid_additional_data(), message.as_str()).encode(env)
        }
        JsonError::Argument(message) => (atoms::argument_error(), message.as_str()).encode(env),
        JsonError::Unsupported(message) => {
            (atoms::invalid_json_data(), message.as_str()).encode(env)
        }
        JsonError::Syntax(syntax) => syntax_reason(env, syntax),
        JsonError::Null => atoms::not_found().encode(env),
        JsonError::TooDeep => (atoms::nesting_too_deep(), etf::MAX_DEPTH).encode(env),
        JsonError::TooLarge => (atoms::too_large(), json::limits::MAX_INPUT_BYTES).encode(env),
        JsonError::IntegerTooLarge => {
            (atoms::integer_too_large(), bigint::MAX_DECIMAL_DIGITS).encode(env)
        }
    }
}

/// The reasons Elixir's `JSON.decode/1` gives.
fn syntax_reason<'a>(env: Env<'a>, err: &SyntaxError) -> Term<'a> {
    match err {
        SyntaxError::UnexpectedEnd { offset } => (atoms::unexpected_end(), *offset).encode(env),
        SyntaxError::InvalidByte { offset, byte } => {
            (atoms::invalid_byte(), *offset, *byte).encode(env)
        }
        SyntaxError::UnexpectedSequence { offset, bytes } => {
            (atoms::unexpected_sequence(), *offset, binary(env, bytes)).encode(env)
        }
    }
}
