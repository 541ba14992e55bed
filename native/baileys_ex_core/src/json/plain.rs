//! A document as `JSON.decode/1` returns it (objects become maps with binary
//! keys, nothing else is interpreted), and its `inspect/1` text for the
//! original's error messages.

use super::base64::encode64;
use super::fold::{fold, Step};
use super::inspect::inspect;
use super::limits::MAX_JSON_DEPTH;
use super::term::dispose;
use super::tree::{Json, BUFFER_TAG};
use crate::value::Value;

/// The term `JSON.decode/1` returns for a document.
pub fn plain(json: &Json) -> Value {
    enum Fin {
        List,
        Map(Vec<Value>),
    }
    let result = fold(
        json,
        MAX_JSON_DEPTH + 1,
        |node: &Json| {
            Ok(match node {
                Json::Array(items) => Step::Node {
                    children: items.iter().collect(),
                    finish: Fin::List,
                },
                Json::Object(entries) => Step::Node {
                    children: entries.iter().map(|(_, v)| v).collect(),
                    finish: Fin::Map(entries.iter().map(|(k, _)| binary_str(k)).collect()),
                },
                scalar => Step::Leaf(plain_scalar(scalar)),
            })
        },
        |fin, done| {
            Ok(match fin {
                Fin::List => Value::List(done),
                Fin::Map(keys) => Value::Map(keys.into_iter().zip(done).collect()),
            })
        },
    );
    // Parsed documents are never deeper than the fold allows.
    result.unwrap_or_else(|_| Value::nil())
}

pub(crate) fn plain_scalar(json: &Json) -> Value {
    match json {
        Json::Null => Value::nil(),
        Json::Bool(b) => Value::boolean(*b),
        Json::Int(n) => Value::Integer(*n),
        Json::BigInt(n) => Value::BigInteger(n.clone()),
        Json::Float(f) => Value::Float(*f),
        Json::Str(s) => binary_str(s),
        Json::Buffer(bytes) => Value::Map(vec![
            (binary_str("data"), binary_str(&encode64(bytes))),
            (binary_str("type"), binary_str(BUFFER_TAG)),
        ]),
        // Containers are handled by the callers' folds.
        Json::Array(_) | Json::Object(_) => Value::nil(),
    }
}

pub(crate) fn binary_str(s: &str) -> Value {
    Value::Binary(s.as_bytes().to_vec())
}

/// `inspect/1` of a decoded JSON term, for error messages.
pub(crate) fn inspect_json(json: &Json) -> String {
    let value = plain(json);
    let text = inspect(&value);
    dispose(value);
    text
}
