//! Baileys-style JSON codecs (spec section 5): what `BaileysEx.Auth.FilePersistence`
//! writes into `creds.json` and `<type>-<id>.json`, and what it returns when
//! reading them back, including the legacy tagged-term fallback.
//!
//! Terms are `Value`s; atoms produced here always come from fixed lists in
//! this module, never from file contents.

mod additional_data;
mod buffer;
mod creds;
mod inspect;
mod json_safe;
mod keys;
mod legacy;
pub mod limits;
#[cfg(test)]
mod proptests;
mod sender_key;
mod session;
mod structs;
pub mod syntax;
mod term;

use crate::value::Value;

pub use syntax::{Json, SyntaxError};
pub use term::{check_depth, dispose};

/// Why a JSON encode or decode failed, and what the original returns or does
/// in that case.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JsonError {
    /// `{:error, {:invalid_additional_data, message}}` (message is exact).
    #[error("{0}")]
    InvalidAdditionalData(String),
    /// The original raises `ArgumentError` inside its rescue:
    /// `{:error, %ArgumentError{message: message}}`.
    #[error("{0}")]
    Argument(String),
    /// The original raises some other exception (`FunctionClauseError`,
    /// `KeyError`, `BadMapError`, `CaseClauseError`, `Protocol.UndefinedError`,
    /// an `ErlangError` from the JSON encoder) that escapes its rescue and
    /// crashes the caller. We return an error instead; the message names
    /// what the original would have raised.
    #[error("{0}")]
    Unsupported(String),
    /// `JSON.decode/1` failed: the original returns `{:error, reason}` with
    /// the reason tuple this describes.
    #[error("{0}")]
    Syntax(SyntaxError),
    /// The file holds the JSON literal `null`. The original treats that like
    /// a missing file: `load_keys` gives `{:error, :not_found}` and
    /// `load_credentials` a fresh `State.new()`.
    #[error("the document is null")]
    Null,
    /// Nesting beyond `limits::MAX_VALUE_DEPTH` / `limits::MAX_JSON_DEPTH`
    /// (the original has no bound).
    #[error("nesting too deep")]
    TooDeep,
    /// A document larger than `limits::MAX_INPUT_BYTES` /
    /// `limits::MAX_OUTPUT_BYTES` (the original has no bound).
    #[error("document too large")]
    TooLarge,
    /// An integer longer than `bigint::MAX_DECIMAL_DIGITS` decimal digits,
    /// in a document read or a value to write (the original has no bound;
    /// converting such an integer takes time quadratic in its length).
    #[error("integer too large")]
    IntegerTooLarge,
}

/// What `JSON.decode/1` returns for a document: objects become maps with
/// binary keys, nothing else is interpreted (the manifest is read this way).
pub fn decode_plain(bytes: &[u8]) -> Result<Value, JsonError> {
    let doc = syntax::parse(bytes)?;
    let value = term::plain(&doc);
    syntax::dispose(doc);
    Ok(value)
}

/// Checks that an id can be a JSON string (UTF-8), as it must to enter the
/// manifest's index; the original's encoder raises on any other binary.
pub fn check_manifest_id(id: &[u8]) -> Result<(), JsonError> {
    term::utf8_str(id).map(|_| ())
}

/// The struct modules and fields and the legacy allow-lists: the names the
/// JSON codecs turn into atoms (`crate::vocabulary` adds the few they write inline).
pub fn vocabulary() -> impl Iterator<Item = &'static str> {
    structs::vocabulary().chain(legacy::vocabulary())
}

/// `validate_additional_data/1`, on its own.
pub fn validate_additional_data(data: &Value) -> Result<(), JsonError> {
    if data.is_nil() {
        return Ok(());
    }
    additional_data::validate(data)
}

/// `creds.json` contents for a `%BaileysEx.Auth.State{}`; `additional_data`
/// is validated first.
pub fn encode_credentials(state: &Value) -> Result<Vec<u8>, JsonError> {
    let doc = creds::encode(state)?;
    let bytes = syntax::write(&doc);
    syntax::dispose(doc);
    bytes
}

/// The `%BaileysEx.Auth.State{}` the original's `load_credentials` returns
/// for these `creds.json` contents (every struct field present).
pub fn decode_credentials(bytes: &[u8]) -> Result<Value, JsonError> {
    let doc = syntax::parse(bytes)?;
    if doc.is_null() {
        return Err(JsonError::Null);
    }
    let result = creds::decode(&doc);
    syntax::dispose(doc);
    result
}

/// `<type>-<id>.json` contents for a key value. `key_type` is the type atom's
/// name (`"session"`, `"pre-key"`, ...); unknown types use the json-safe rules.
pub fn encode_key(key_type: &str, value: &Value) -> Result<Vec<u8>, JsonError> {
    check_depth(value, limits::MAX_VALUE_DEPTH)?;
    let mut raw = term::Raw::default();
    let doc = keys::encode(key_type, value, &mut raw)?;
    let doc = raw.finish(doc)?;
    let bytes = syntax::write(&doc);
    syntax::dispose(doc);
    bytes
}

/// The value the original's `load_keys` returns for a key file's contents.
pub fn decode_key(key_type: &str, bytes: &[u8]) -> Result<Value, JsonError> {
    let doc = syntax::parse(bytes)?;
    if doc.is_null() {
        return Err(JsonError::Null);
    }
    let result = keys::decode(key_type, &doc);
    syntax::dispose(doc);
    result
}
