//! The JSON backend's term conversion. A caller's term becomes a `Value`
//! through the VM's `term_to_binary` and the core's bounded decoder; decoded
//! `Value`s become terms through the VM's safe decoder, which never creates
//! an atom. Values are torn down with `json::dispose`, which does not
//! recurse, so a deep value cannot overflow the dirty scheduler's stack.

use baileys_ex_core::etf;
use baileys_ex_core::json::{self, JsonError};
use baileys_ex_core::offload;
use rustler::types::atom;
use rustler::{Encoder, Env, Term};

use crate::error::Reason;
use crate::term::decode_whole;

pub fn encode(key_type: Option<&str>, term: Term) -> Result<Vec<u8>, Reason> {
    let bytes = term.to_binary();
    let etf_bytes = bytes.as_slice();
    offload::run(etf_bytes.len(), || {
        let value = etf::decode_value(etf_bytes)?;
        let encoded = match key_type {
            None => json::encode_credentials(&value),
            Some(key_type) => json::encode_key(key_type, &value),
        };
        json::dispose(value);
        Ok(encoded?)
    })
}

/// A document holding JSON `null` decodes to `nil`, which the callers treat
/// as absent, as the original does.
pub fn decode<'a>(env: Env<'a>, key_type: Option<&str>, bytes: &[u8]) -> Result<Term<'a>, Reason> {
    // The helper turns JSON into the external term format; only the VM's
    // safe decoder, which needs this thread's env, runs here.
    let external = offload::run(bytes.len(), || {
        let decoded = match key_type {
            None => json::decode_credentials(bytes),
            Some(key_type) => json::decode_key(key_type, bytes),
        };
        let value = match decoded {
            Ok(value) => value,
            Err(JsonError::Null) => return Ok(None),
            Err(err) => return Err(Reason::from(err)),
        };
        let external = etf::encode_value(&value).map_err(|_| no_term());
        json::dispose(value);
        external.map(Some)
    })?;
    match external {
        None => Ok(atom::nil().encode(env)),
        Some(external) => decode_whole(env, &external).ok_or_else(no_term),
    }
}

/// The decoded value names an atom the VM lacks: one outside the vocabulary
/// created at load.
fn no_term() -> Reason {
    Reason::Argument("decoded JSON names an atom this VM does not have".to_owned())
}
