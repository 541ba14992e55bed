//! Conversions between terms and the core's data.
//!
//! Values go through the external term format: the VM's own `term_to_binary`
//! and its *safe* `binary_to_term`, which never creates an atom. The core's
//! decoder bounds nesting, so a term nested 100,000 deep is an error here,
//! never a deep recursion on a dirty scheduler's small stack.

use baileys_ex_core::etf;
use baileys_ex_core::value::Value;
use rustler::types::atom::{self, Atom};
use rustler::{Encoder, Env, NewBinary, Term};

/// `None` when the value names an atom that does not exist, or cannot be a term.
pub fn value_to_term<'a>(env: Env<'a>, value: &Value) -> Option<Term<'a>> {
    let bytes = etf::encode_value(value).ok()?;
    decode_whole(env, &bytes)
}

/// The VM's safe decoder, refusing trailing bytes the VM itself would ignore.
pub fn decode_whole<'a>(env: Env<'a>, bytes: &[u8]) -> Option<Term<'a>> {
    match env.binary_to_term(bytes) {
        Some((term, used)) if used == bytes.len() => Some(term),
        _ => None,
    }
}

pub fn binary<'a>(env: Env<'a>, bytes: &[u8]) -> Term<'a> {
    NewBinary::from_slice(env, bytes).into()
}

/// An atom of the fixed sets created when the library loads (`nil` if it
/// were missing): looking it up never creates one.
pub fn existing_atom<'a>(env: Env<'a>, name: &str) -> Term<'a> {
    Atom::existing_from_utf8_bytes(env, name.as_bytes())
        .unwrap_or_else(|_| atom::nil())
        .encode(env)
}
