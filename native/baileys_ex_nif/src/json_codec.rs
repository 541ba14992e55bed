//! The JSON backend's term conversion. A caller's term becomes a `Value`
//! through the VM's `term_to_binary` and the core's bounded decoder; decoded
//! `Value`s become terms through the VM's safe decoder, which never creates
//! an atom. Values are torn down with `json::dispose`, which does not
//! recurse, so a deep value cannot overflow the dirty scheduler's stack.

use baileys_ex_core::etf::{self, EtfError};
use baileys_ex_core::json::{self, JsonError, SyntaxError};
use rustler::{Encoder, Env, Term};

use crate::atoms;
use crate::codec::Slot;
use crate::error::{argument_error, binary};
use crate::term::value_to_term;

pub fn encode<'a>(env: Env<'a>, slot: Slot, term: Term<'a>) -> Result<Vec<u8>, Term<'a>> {
    let bytes = term.to_binary();
    let value = etf::decode_value(bytes.as_slice()).map_err(|err| etf_reason(env, &err))?;
    let result = match slot {
        Slot::Credentials => json::encode_credentials(&value),
        Slot::Key(key_type) => json::encode_key(key_type, &value),
    };
    json::dispose(value);
    result.map_err(|err| json_reason(env, &err))
}

/// A document holding JSON `null` decodes to `nil`, which the callers treat
/// as absent, as the original does.
pub fn decode<'a>(env: Env<'a>, slot: Slot, bytes: &[u8]) -> Result<Term<'a>, Term<'a>> {
    let decoded = match slot {
        Slot::Credentials => json::decode_credentials(bytes),
        Slot::Key(key_type) => json::decode_key(key_type, bytes),
    };
    let value = match decoded {
        Ok(value) => value,
        Err(JsonError::Null) => return Ok(atoms::nil().encode(env)),
        Err(err) => return Err(json_reason(env, &err)),
    };
    let term = value_to_term(env, &value);
    json::dispose(value);
    term.ok_or_else(|| argument_error(env, "decoded JSON names an atom this VM does not have"))
}

fn etf_reason<'a>(env: Env<'a>, err: &EtfError) -> Term<'a> {
    match err {
        EtfError::TooDeep => too_deep(env),
        other => argument_error(env, &format!("the term cannot be stored as JSON: {other}")),
    }
}

fn too_deep(env: Env) -> Term {
    (atoms::nesting_too_deep(), etf::MAX_DEPTH).encode(env)
}

pub fn json_reason<'a>(env: Env<'a>, err: &JsonError) -> Term<'a> {
    match err {
        JsonError::InvalidAdditionalData(message) => {
            (atoms::invalid_additional_data(), message.as_str()).encode(env)
        }
        JsonError::Argument(message) => argument_error(env, message),
        JsonError::Unsupported(message) => {
            (atoms::invalid_json_data(), message.as_str()).encode(env)
        }
        JsonError::Syntax(syntax) => syntax_reason(env, syntax),
        JsonError::Null => atoms::not_found().encode(env),
        JsonError::TooDeep => too_deep(env),
        JsonError::TooLarge => (atoms::too_large(), json::limits::MAX_INPUT_BYTES).encode(env),
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
