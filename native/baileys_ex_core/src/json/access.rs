//! Reading a decoded document the way the original's decoders do: its
//! `required_json_field!` helpers, `Map.get`, `Enum.map` over objects, and
//! the `ArgumentError` they raise.

use super::errors::JsonError;
use super::inspect::inspect;
use super::plain::{binary_str, inspect_json, plain};
use super::term::dispose;
use super::tree::Json;
use crate::value::Value;

/// `raise ArgumentError, "invalid #{context} in compatibility JSON: ..."`.
pub(crate) fn invalid_explicit(context: &str, json: &Json) -> JsonError {
    JsonError::Argument(format!(
        "invalid {context} in compatibility JSON: {}",
        inspect_json(json)
    ))
}

/// One item of `Enum.map/2` over a decoded JSON value: list elements, or the
/// `{key, value}` tuples of an object.
pub(crate) enum Item<'a> {
    Json(&'a Json<'a>),
    Pair(&'a str, &'a Json<'a>),
}

impl Item<'_> {
    /// `inspect/1` of the item as the original sees it.
    pub(crate) fn inspect(&self) -> String {
        match self {
            Item::Json(j) => inspect_json(j),
            Item::Pair(k, v) => {
                let t = Value::Tuple(vec![binary_str(k), plain(v)]);
                let s = inspect(&t);
                dispose(t);
                s
            }
        }
    }
}

/// `Enum.map/2` over a decoded value: lists and objects enumerate, anything
/// else makes the original raise `Protocol.UndefinedError`.
pub(crate) fn enumerate<'a>(json: &'a Json<'a>) -> Result<Vec<Item<'a>>, JsonError> {
    match json {
        Json::Array(items) => Ok(items.iter().map(Item::Json).collect()),
        Json::Object(entries) => Ok(entries.iter().map(|(k, v)| Item::Pair(k, v)).collect()),
        other => Err(JsonError::Unsupported(format!(
            "protocol Enumerable not implemented for {}",
            inspect_json(other)
        ))),
    }
}

/// `required_json_field!/3`: present and not null.
pub(crate) fn required<'a, 'j>(
    obj: &'a Json<'j>,
    key: &str,
    context: &str,
) -> Result<&'a Json<'j>, JsonError> {
    match obj.get(key) {
        Some(v) if !v.is_null() => Ok(v),
        _ => Err(invalid_explicit(&format!("{context}.{key}"), obj)),
    }
}

/// `required_json_map_field!/3`.
pub(crate) fn required_object<'a, 'j>(
    obj: &'a Json<'j>,
    key: &str,
    context: &str,
) -> Result<&'a Json<'j>, JsonError> {
    let v = required(obj, key, context)?;
    match v {
        Json::Object(_) => Ok(v),
        other => Err(invalid_explicit(&format!("{context}.{key}"), other)),
    }
}

/// `Map.get/2` of a decoded value, as the original sees it.
pub(crate) fn raw_get(obj: &Json, key: &str) -> Value {
    obj.get(key).map(plain).unwrap_or_else(Value::nil)
}

/// `Map.get/3` with a default for an absent key.
pub(crate) fn raw_get_or(obj: &Json, key: &str, default: Value) -> Value {
    obj.get(key).map(plain).unwrap_or(default)
}
