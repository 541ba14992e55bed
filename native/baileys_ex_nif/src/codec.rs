//! Turns a caller's term into file bytes and back, per backend.

use baileys_ex_core::layout::BackendKind;
use rustler::{Env, OwnedBinary, Term};

use crate::error::{argument_error, BAD_TERM_MESSAGE};
use crate::term::decode_whole;

/// Which file a value belongs to: the credentials or a key of some type.
#[derive(Clone, Copy)]
pub enum Slot<'s> {
    Credentials,
    Key(&'s str),
}

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
pub fn encode<'a>(
    env: Env<'a>,
    kind: BackendKind,
    slot: Slot,
    term: Term<'a>,
) -> Result<Encoded, Term<'a>> {
    match kind {
        BackendKind::Etf => Ok(Encoded::Vm(term.to_binary())),
        BackendKind::Json => crate::json_codec::encode(env, slot, term).map(Encoded::Rust),
    }
}

/// `Ok(None)` for ETF data that decodes to `nil`, which the original treats
/// as absent.
pub fn decode<'a>(
    env: Env<'a>,
    kind: BackendKind,
    slot: Slot,
    bytes: &[u8],
) -> Result<Term<'a>, Term<'a>> {
    match kind {
        BackendKind::Etf => {
            decode_whole(env, bytes).ok_or_else(|| argument_error(env, BAD_TERM_MESSAGE))
        }
        BackendKind::Json => crate::json_codec::decode(env, slot, bytes),
    }
}
