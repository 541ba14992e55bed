//! The JSON backend's term conversion: terms become `Value`s for the core's
//! codecs, and decoded `Value`s become terms through the safe decoder.

use rustler::{Env, Term};

use crate::codec::Slot;
use crate::error::argument_error;

fn unavailable(slot: Slot) -> String {
    let what = match slot {
        Slot::Credentials => "credentials",
        Slot::Key(key_type) => key_type,
    };
    format!("the JSON backend cannot encode {what} in this build")
}

pub fn encode<'a>(env: Env<'a>, slot: Slot, _term: Term<'a>) -> Result<Vec<u8>, Term<'a>> {
    Err(argument_error(env, &unavailable(slot)))
}

pub fn decode<'a>(env: Env<'a>, slot: Slot, _bytes: &[u8]) -> Result<Term<'a>, Term<'a>> {
    Err(argument_error(env, &unavailable(slot)))
}
