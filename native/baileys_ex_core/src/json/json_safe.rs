//! The "json-safe" value rules (docs/FORMAT.md section 5), used for `me`,
//! `additional_data`, tctoken fields and the free-form key types.

use std::borrow::Cow;

use super::buffer::{decode_buffer, encode_bytes, is_tagged};
use super::errors::{not_iolist, JsonError};
use super::fold::{fold, Step};
use super::inspect::{big_cmp, inspect, inspect_atom, is_printable};
use super::limits::{MAX_JSON_DEPTH, MAX_VALUE_DEPTH};
use super::plain::{binary_str, plain_scalar};
use super::term::struct_module;
use super::tree::{Entry, Json};

use crate::value::Value;

/// `json_key/1`: atoms by name, UTF-8 binaries as they are.
pub fn json_key(key: &Value) -> Result<Cow<'_, str>, JsonError> {
    match key {
        Value::Atom(a) => Ok(Cow::Borrowed(a.as_str())),
        Value::Binary(b) => match std::str::from_utf8(b) {
            Ok(s) => Ok(Cow::Borrowed(s)),
            Err(_) => Err(unsupported_key(key)),
        },
        other => Err(unsupported_key(other)),
    }
}

fn unsupported_key(key: &Value) -> JsonError {
    JsonError::Argument(format!(
        "unsupported JSON key in compatibility persistence: {}",
        inspect(key)
    ))
}

enum EncFin<'v> {
    List,
    /// Keys of the entries whose values are the children; a key that could
    /// not be converted is raised after the values before it, matching the
    /// order in which the original evaluates `{json_key(k), encode(v)}`.
    Map(Vec<Cow<'v, str>>, Option<JsonError>),
}

/// `encode_json_safe/1`.
pub fn encode(value: &Value) -> Result<Json<'_>, JsonError> {
    fold(
        value,
        MAX_VALUE_DEPTH,
        |node: &Value| {
            Ok(match node {
                Value::Atom(a) if a == "nil" => Step::Leaf(Json::Null),
                Value::Atom(a) if a == "true" => Step::Leaf(Json::Bool(true)),
                Value::Atom(a) if a == "false" => Step::Leaf(Json::Bool(false)),
                Value::Integer(_) | Value::BigInteger(_) | Value::Float(_) => {
                    Step::Leaf(super::vm_encode::number_json(node)?)
                }
                Value::Binary(bytes) => Step::Leaf(match std::str::from_utf8(bytes) {
                    Ok(s) if is_printable(bytes) => Json::str(s),
                    _ => encode_bytes(bytes),
                }),
                Value::List(items) => Step::Node {
                    children: items.iter().collect(),
                    finish: EncFin::List,
                },
                Value::Map(entries) => {
                    if let Some(module) = struct_module(node) {
                        return Err(JsonError::Argument(format!(
                            "unsupported struct in compatibility JSON persistence: {}",
                            inspect_atom(module)
                        )));
                    }
                    let mut keys = Vec::with_capacity(entries.len());
                    let mut key_error = None;
                    for (k, _) in entries {
                        match json_key(k) {
                            Ok(key) => keys.push(key),
                            Err(e) => {
                                key_error = Some(e);
                                break;
                            }
                        }
                    }
                    Step::Node {
                        children: entries.iter().take(keys.len()).map(|(_, v)| v).collect(),
                        finish: EncFin::Map(keys, key_error),
                    }
                }
                Value::Atom(_) => {
                    return Err(JsonError::Argument(format!(
                        "unsupported atom in compatibility JSON persistence: {}",
                        inspect(node)
                    )))
                }
                other => {
                    return Err(JsonError::Argument(format!(
                        "unsupported term in compatibility JSON persistence: {}",
                        inspect(other)
                    )))
                }
            })
        },
        |fin, done| match fin {
            EncFin::List => Ok(Json::Array(done)),
            EncFin::Map(_, Some(err)) => Err(err),
            EncFin::Map(keys, None) => {
                Ok(Json::object_last_wins(keys.into_iter().zip(done).collect()))
            }
        },
    )
}

/// `encode_optional(value, &encode_json_safe/1)`.
pub fn encode_optional(value: Option<&Value>) -> Result<Json<'_>, JsonError> {
    match value {
        None => Ok(Json::Null),
        Some(v) => encode(v),
    }
}

/// Canonical decimal text of an integer key (`Integer.parse/1` syntax), for
/// ordering.
fn integer_key(key: &str) -> Option<String> {
    let (neg, digits) = match key.as_bytes().first() {
        Some(b'-') => (true, &key[1..]),
        Some(b'+') => (false, &key[1..]),
        _ => (false, key),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    Some(match (neg, trimmed.is_empty()) {
        (_, true) => "0".to_owned(),
        (true, false) => format!("-{trimmed}"),
        (false, false) => trimmed.to_owned(),
    })
}

/// An object whose keys all parse as integers and whose values are all
/// integers (a Uint8Array written by JSON.stringify) becomes a binary.
fn numeric_byte_map(entries: &[Entry<'_>]) -> Option<Result<Vec<u8>, JsonError>> {
    if entries.is_empty() {
        return None;
    }
    let mut keyed = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let n = integer_key(k)?;
        if !matches!(v, Json::Int(_) | Json::BigInt(_)) {
            return None;
        }
        keyed.push((n, v));
    }
    keyed.sort_by(|a, b| big_cmp(&a.0, &b.0));
    let mut out = Vec::with_capacity(keyed.len());
    for (_, v) in keyed {
        match v {
            Json::Int(b) if (0..=255).contains(b) => out.push(*b as u8),
            _ => return Some(Err(not_iolist())),
        }
    }
    Some(Ok(out))
}

enum DecFin {
    List,
    Map(Vec<Value>),
}

/// `decode_json_safe/1`.
pub fn decode(json: &Json) -> Result<Value, JsonError> {
    fold(
        json,
        MAX_JSON_DEPTH + 1,
        |node: &Json| {
            Ok(match node {
                Json::Object(entries) => {
                    if is_tagged(node) {
                        Step::Leaf(Value::Binary(decode_buffer(node)?))
                    } else if let Some(bytes) = numeric_byte_map(entries) {
                        Step::Leaf(Value::Binary(bytes?))
                    } else {
                        Step::Node {
                            children: entries.iter().map(|(_, v)| v).collect(),
                            finish: DecFin::Map(
                                entries.iter().map(|(k, _)| binary_str(k)).collect(),
                            ),
                        }
                    }
                }
                Json::Array(items) => Step::Node {
                    children: items.iter().collect(),
                    finish: DecFin::List,
                },
                scalar => Step::Leaf(plain_scalar(scalar)),
            })
        },
        |fin, done| {
            Ok(match fin {
                DecFin::List => Value::List(done),
                DecFin::Map(keys) => Value::Map(keys.into_iter().zip(done).collect()),
            })
        },
    )
}

/// `decode_optional(value, &decode_json_safe/1)`.
pub fn decode_optional(json: Option<&Json>) -> Result<Value, JsonError> {
    match json {
        None => Ok(Value::nil()),
        Some(j) => decode(j),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::reader::parse;

    #[test]
    fn binaries_are_strings_only_when_printable() {
        assert_eq!(
            encode(&Value::binary(&b"abc"[..])).unwrap(),
            Json::str("abc")
        );
        assert_eq!(
            encode(&Value::binary(vec![0, 1])).unwrap(),
            encode_bytes(&[0, 1])
        );
        assert_eq!(
            encode(&Value::binary("\u{85}".as_bytes())).unwrap(),
            encode_bytes("\u{85}".as_bytes())
        );
    }

    #[test]
    fn refuses_atoms_tuples_structs_and_bad_keys() {
        let atom = encode(&Value::atom("x")).unwrap_err();
        assert!(
            matches!(atom, JsonError::Argument(m) if m == "unsupported atom in compatibility JSON persistence: :x")
        );
        let tuple = encode(&Value::Tuple(vec![Value::Integer(1)])).unwrap_err();
        assert!(
            matches!(tuple, JsonError::Argument(m) if m == "unsupported term in compatibility JSON persistence: {1}")
        );
        let st = Value::Map(vec![(Value::atom("__struct__"), Value::atom("Elixir.Foo"))]);
        assert!(
            matches!(encode(&st).unwrap_err(), JsonError::Argument(m) if m == "unsupported struct in compatibility JSON persistence: Foo")
        );
        let key = Value::Map(vec![(Value::Integer(1), Value::Integer(1))]);
        assert!(
            matches!(encode(&key).unwrap_err(), JsonError::Argument(m) if m == "unsupported JSON key in compatibility persistence: 1")
        );
    }

    #[test]
    fn numeric_byte_maps_become_binaries() {
        let j = parse(br#"{"0":9,"1":8,"10":6,"2":7}"#).unwrap();
        assert_eq!(decode(&j).unwrap(), Value::binary(vec![9, 8, 7, 6]));
        let not_bytes = parse(br#"{"0":"a"}"#).unwrap();
        assert!(matches!(decode(&not_bytes).unwrap(), Value::Map(_)));
        assert!(decode(&parse(br#"{"0":256}"#).unwrap()).is_err());
        assert_eq!(decode(&parse(b"{}").unwrap()).unwrap(), Value::Map(vec![]));
    }

    #[test]
    fn tagged_objects_must_be_buffers() {
        assert!(decode(&parse(br#"{"type":"Buffer"}"#).unwrap()).is_err());
    }
}
