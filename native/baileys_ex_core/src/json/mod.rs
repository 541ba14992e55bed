//! Baileys-style JSON codecs (docs/FORMAT.md section 5): what `BaileysEx.Auth.FilePersistence`
//! writes into `creds.json` and `<type>-<id>.json`, and what it returns when
//! reading them back, including the legacy tagged-term fallback.
//!
//! Terms are `Value`s; atoms produced here always come from fixed lists in
//! this module, never from file contents.
//!
//! Modules depend one way only, each on those before it: `errors`, `limits`,
//! `number_text`, `inspect`, `base64`, `string_scan`, `fold` (leaves); `tree`
//! (the document); `reader` and `writer` (text); `term`, `dedupe`, `plain`,
//! `access`, `vm_encode` (terms and what the original does with them);
//! `buffer`, `json_safe`, `structs`, `additional_data` (shared encodings);
//! `legacy`, `creds`, `session`, `sender_key`, `keys` (per-type codecs).

mod access;
mod additional_data;
mod base64;
mod buffer;
mod creds;
mod dedupe;
mod errors;
mod fold;
mod inspect;
mod json_safe;
mod keys;
mod legacy;
pub mod limits;
mod number_text;
mod plain;
#[cfg(test)]
mod proptests;
mod reader;
mod sender_key;
mod session;
mod string_scan;
mod structs;
mod term;
mod tree;
mod vm_encode;
mod writer;

use crate::value::Value;

pub use errors::{JsonError, SyntaxError};
pub use term::{check_depth, dispose};
pub use tree::Json;

/// What `JSON.decode/1` returns for a document: objects become maps with
/// binary keys, nothing else is interpreted (the manifest is read this way).
pub fn decode_plain(bytes: &[u8]) -> Result<Value, JsonError> {
    let doc = reader::parse(bytes)?;
    let value = plain::plain(&doc);
    tree::dispose(doc);
    Ok(value)
}

/// The text of a document the caller built (the manifest), as
/// `JSON.encode!/1` writes it. Unlike a data file it has no size bound: the
/// manifest must be written whatever the number of keys it indexes.
pub fn write_document(doc: &Json<'_>) -> Result<Vec<u8>, JsonError> {
    writer::write_within(doc, usize::MAX)
}

/// Checks that an id can be a JSON string (UTF-8), as it must to enter the
/// manifest's index; the original's encoder raises on any other binary.
pub fn check_manifest_id(id: &[u8]) -> Result<(), JsonError> {
    vm_encode::utf8_str(id).map(|_| ())
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
    let bytes = writer::write(&doc);
    tree::dispose(doc);
    bytes
}

/// The `%BaileysEx.Auth.State{}` the original's `load_credentials` returns
/// for these `creds.json` contents (every struct field present).
pub fn decode_credentials(bytes: &[u8]) -> Result<Value, JsonError> {
    let doc = reader::parse(bytes)?;
    if doc.is_null() {
        return Err(JsonError::Null);
    }
    let result = creds::decode(&doc);
    tree::dispose(doc);
    result
}

/// `<type>-<id>.json` contents for a key value. `key_type` is the type atom's
/// name (`"session"`, `"pre-key"`, ...); unknown types use the json-safe rules.
pub fn encode_key(key_type: &str, value: &Value) -> Result<Vec<u8>, JsonError> {
    check_depth(value, limits::MAX_VALUE_DEPTH)?;
    let mut raw = vm_encode::Raw::default();
    let doc = keys::encode(key_type, value, &mut raw)?;
    let doc = raw.finish(doc)?;
    let bytes = writer::write(&doc);
    tree::dispose(doc);
    bytes
}

/// The value the original's `load_keys` returns for a key file's contents.
pub fn decode_key(key_type: &str, bytes: &[u8]) -> Result<Value, JsonError> {
    let doc = reader::parse(bytes)?;
    if doc.is_null() {
        return Err(JsonError::Null);
    }
    let result = keys::decode(key_type, &doc);
    tree::dispose(doc);
    result
}
