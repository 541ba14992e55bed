//! Turns a caller's term into file bytes and back, per backend. `key_type`
//! is `None` for the credentials.

use rustler::{Env, OwnedBinary, Term};

use crate::args::Backend;
use crate::error::Reason;
use crate::json_codec;
use crate::term::decode_whole;

pub enum Encoded {
    Vm(OwnedBinary),
    Rust(Vec<u8>),
}

impl Encoded {
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Encoded::Vm(bin) => bin.as_slice(),
            Encoded::Rust(bytes) => bytes,
        }
    }
}

/// ETF files are the VM's own `term_to_binary`, byte for byte the original's.
pub fn encode(backend: Backend, key_type: Option<&str>, term: Term) -> Result<Encoded, Reason> {
    match backend {
        Backend::Etf => Ok(Encoded::Vm(term.to_binary())),
        Backend::Json => json_codec::encode(key_type, term).map(Encoded::Rust),
    }
}

/// `nil` for a JSON `null`, which the original treats as absent.
pub fn decode<'a>(
    env: Env<'a>,
    backend: Backend,
    key_type: Option<&str>,
    bytes: &[u8],
) -> Result<Term<'a>, Reason> {
    match backend {
        Backend::Etf => decode_whole(env, bytes).ok_or_else(|| Reason::InvalidEtf(bytes.to_vec())),
        Backend::Json => json_codec::decode(env, key_type, bytes),
    }
}
