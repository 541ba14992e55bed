//! The JSON backend's term conversion: terms become `Value`s for the core's
//! codecs, and decoded `Value`s become terms through the safe decoder.

use rustler::{Env, Term};

use crate::codec::Slot;
use crate::error::argument_error;

pub fn encode<'a>(env: Env<'a>, _slot: Slot, _term: Term<'a>) -> Result<Vec<u8>, Term<'a>> {
    Err(argument_error(
        env,
        "the JSON backend is not available in this build",
    ))
}

pub fn decode<'a>(env: Env<'a>, _slot: Slot, _bytes: &[u8]) -> Result<Term<'a>, Term<'a>> {
    Err(argument_error(
        env,
        "the JSON backend is not available in this build",
    ))
}
