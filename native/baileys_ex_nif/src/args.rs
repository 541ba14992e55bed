//! The NIFs' typed arguments. Elixir (`Common`) refuses arguments of the
//! wrong type with the originals' reasons before it calls; what is left to
//! check here needs Rust: a NUL byte in a path, resolving the directory, an
//! atom whose name cannot be read.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use baileys_ex_core::layout::{BackendSpec, ETF, JSON};
use baileys_ex_core::store::resolve_dir;
use rustler::{Atom, Binary, Env, NifTaggedEnum, NifTuple, NifUnitEnum};

use crate::error::Reason;

/// `:etf` or `:json`.
#[derive(NifUnitEnum, Clone, Copy)]
#[rustler(decode)]
pub enum Backend {
    Etf,
    Json,
}

impl Backend {
    pub fn spec(self) -> &'static BackendSpec {
        match self {
            Backend::Etf => &ETF,
            Backend::Json => &JSON,
        }
    }
}

/// Which file a value belongs to, as Elixir names it: `:credentials` or
/// `{:key, type}` (a key type may itself be any atom, `:credentials` too).
#[derive(NifTaggedEnum, Clone, Copy)]
#[rustler(decode)]
pub enum Slot {
    Credentials,
    Key(Atom),
}

impl Slot {
    /// The key type's name; `None` for the credentials.
    pub fn key_type(self, env: Env) -> Result<Option<String>, Reason> {
        match self {
            Slot::Credentials => Ok(None),
            Slot::Key(key_type) => key_type_name(env, key_type).map(Some),
        }
    }
}

/// Refuses an atom whose name the NIF API cannot give (before OTP 26, one
/// with a character beyond Latin-1).
pub fn key_type_name(env: Env, key_type: Atom) -> Result<String, Reason> {
    key_type
        .to_term(env)
        .atom_to_string()
        .map_err(|_| Reason::InvalidKeyType(key_type))
}

/// Where a call works, as Elixir passes it: `{backend, context, default}`,
/// the directories a binary or nil.
#[derive(NifTuple, Clone, Copy)]
#[rustler(decode)]
pub struct Location<'a> {
    pub backend: Backend,
    context: Option<Binary<'a>>,
    configured: Option<Binary<'a>>,
}

impl Location<'_> {
    /// The directory: the context, else the configured default, else
    /// `<cwd>/<backend default>`. A NUL byte can never name a file.
    pub fn resolve(&self) -> Result<PathBuf, Reason> {
        if self
            .context
            .or(self.configured)
            .is_some_and(|path| path.as_slice().contains(&0))
        {
            return Err(Reason::Posix("einval"));
        }
        let as_path = |bytes: Option<Binary>| {
            bytes.map(|b| Path::new(OsStr::from_bytes(b.as_slice())).to_path_buf())
        };
        let (context, configured) = (as_path(self.context), as_path(self.configured));
        Ok(resolve_dir(
            self.backend.spec(),
            context.as_deref(),
            configured.as_deref(),
        )?)
    }
}
