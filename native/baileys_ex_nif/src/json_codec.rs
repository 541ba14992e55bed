//! The JSON backend's term conversion. A caller's term becomes a `Value`
//! through the VM's `term_to_binary` and the core's bounded decoder; decoded
//! `Value`s become terms through the VM's safe decoder, which never creates
//! an atom. Values are torn down with `json::dispose`, which does not
//! recurse, so a deep value cannot overflow the dirty scheduler's stack.

use baileys_ex_core::bigint;
use baileys_ex_core::etf::{self, EtfError};
use baileys_ex_core::json::{self, JsonError, SyntaxError};
use baileys_ex_core::offload;
use rustler::{Encoder, Env, Term};

use crate::atoms;
use crate::codec::Slot;
use crate::error::{argument_error, binary};
use crate::term::decode_whole;

pub fn encode<'a>(env: Env<'a>, slot: Slot, term: Term<'a>) -> Result<Vec<u8>, Term<'a>> {
    let bytes = term.to_binary();
    let etf_bytes = bytes.as_slice();
    let encoded = offload::run(etf_bytes.len(), || {
        let value = etf::decode_value(etf_bytes).map_err(Failure::Etf)?;
        let result = match slot {
            Slot::Credentials => json::encode_credentials(&value),
            Slot::Key(key_type) => json::encode_key(key_type, &value),
        };
        json::dispose(value);
        result.map_err(Failure::Json)
    });
    encoded.map_err(|failure| failure.reason(env))
}

/// Why codec work failed, carried back from the helper thread as plain data.
enum Failure {
    Etf(EtfError),
    Json(JsonError),
    NoTerm,
}

impl Failure {
    fn reason<'a>(&self, env: Env<'a>) -> Term<'a> {
        match self {
            Failure::Etf(err) => etf_reason(env, err),
            Failure::Json(err) => json_reason(env, err),
            Failure::NoTerm => argument_error(env, NO_TERM_MESSAGE),
        }
    }
}

const NO_TERM_MESSAGE: &str = "decoded JSON names an atom this VM does not have";

/// A document holding JSON `null` decodes to `nil`, which the callers treat
/// as absent, as the original does.
pub fn decode<'a>(env: Env<'a>, slot: Slot, bytes: &[u8]) -> Result<Term<'a>, Term<'a>> {
    // The helper turns JSON into the external term format; only the VM's
    // safe decoder, which needs this thread's env, runs here.
    let external = offload::run(bytes.len(), || {
        let decoded = match slot {
            Slot::Credentials => json::decode_credentials(bytes),
            Slot::Key(key_type) => json::decode_key(key_type, bytes),
        };
        let value = match decoded {
            Ok(value) => value,
            Err(JsonError::Null) => return Ok(None),
            Err(err) => return Err(Failure::Json(err)),
        };
        let external = etf::encode_value(&value).map_err(|_| Failure::NoTerm);
        json::dispose(value);
        external.map(Some)
    });
    match external {
        Ok(None) => Ok(atoms::nil().encode(env)),
        Ok(Some(external)) => {
            decode_whole(env, &external).ok_or_else(|| argument_error(env, NO_TERM_MESSAGE))
        }
        Err(failure) => Err(failure.reason(env)),
    }
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
