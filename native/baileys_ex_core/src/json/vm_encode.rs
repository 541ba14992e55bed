//! What the VM's `JSON.encode!/1` makes of a term the codecs pass through
//! untouched ("raw" fields), and the number rules the codecs share with it.

use std::borrow::Cow;

use super::errors::JsonError;
use super::fold::{fold, Step};
use super::inspect::inspect;
use super::limits::MAX_VALUE_DEPTH;
use super::number_text::float_text;
use super::term::struct_module;
use super::tree::Json;
use crate::value::{OpaqueKind, Value};

/// Text of a number term, checked.
pub(crate) fn number_json(value: &Value) -> Result<Json<'static>, JsonError> {
    match value {
        Value::Integer(n) => Ok(Json::Int(*n)),
        Value::BigInteger(n) => {
            // Refused here, by size alone, rather than when written.
            n.to_decimal().ok_or(JsonError::IntegerTooLarge)?;
            Ok(Json::BigInt(n.clone()))
        }
        Value::Float(f) => {
            float_text(*f)?;
            Ok(Json::Float(*f))
        }
        other => Err(JsonError::Unsupported(format!(
            "not a number: {}",
            inspect(other)
        ))),
    }
}

fn protocol_error(value: &Value) -> JsonError {
    let kind = match value {
        Value::Tuple(_) => "Tuple",
        Value::Map(_) => "a struct",
        Value::Opaque(OpaqueKind::Pid) => "PID",
        Value::Opaque(OpaqueKind::Port) => "Port",
        Value::Opaque(OpaqueKind::Reference) => "Reference",
        Value::Opaque(OpaqueKind::Function) => "Function",
        _ => "BitString",
    };
    JsonError::Unsupported(format!(
        "protocol JSON.Encoder not implemented for {} of type {kind}",
        inspect(value)
    ))
}

pub(crate) fn utf8_str(bytes: &[u8]) -> Result<&str, JsonError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        JsonError::Unsupported(format!(
            "invalid byte {} in a JSON string",
            bytes.get(at).copied().unwrap_or(0)
        ))
    })
}

/// `String.Chars.to_string/1` of a map key that is neither atom nor binary.
fn chars_to_string(key: &Value) -> Result<String, JsonError> {
    match key {
        Value::Integer(n) => Ok(n.to_string()),
        Value::BigInteger(n) => n.to_decimal().ok_or(JsonError::IntegerTooLarge),
        Value::Float(f) => float_text(*f),
        Value::List(_) => {
            // Chardata: code points, binaries and nested lists.
            let mut out = String::new();
            let mut stack: Vec<&Value> = vec![key];
            let mut seen = 0usize;
            while let Some(v) = stack.pop() {
                seen += 1;
                if seen > 1_000_000 {
                    return Err(JsonError::TooLarge);
                }
                match v {
                    Value::List(items) => stack.extend(items.iter().rev()),
                    Value::Integer(cp) => match u32::try_from(*cp).ok().and_then(char::from_u32) {
                        Some(c) => out.push(c),
                        None => {
                            return Err(JsonError::Unsupported(format!(
                                "cannot convert the given list to a string: {}",
                                inspect(key)
                            )))
                        }
                    },
                    Value::Binary(b) => out.push_str(utf8_str(b)?),
                    _ => {
                        return Err(JsonError::Unsupported(format!(
                            "cannot convert the given list to a string: {}",
                            inspect(key)
                        )))
                    }
                }
            }
            Ok(out)
        }
        other => Err(JsonError::Unsupported(format!(
            "protocol String.Chars not implemented for {}",
            inspect(other)
        ))),
    }
}

/// What the VM's `JSON.encode!/1` makes of a term the codecs pass through
/// untouched ("raw" fields such as `registration_id`). Tuples, structs,
/// pids and invalid UTF-8 make the original raise outside its rescue.
pub fn generic(value: &Value) -> Result<Json<'_>, JsonError> {
    fold(
        value,
        MAX_VALUE_DEPTH,
        |node: &Value| {
            Ok(match node {
                Value::Atom(a) => Step::Leaf(match a.as_str() {
                    "nil" => Json::Null,
                    "true" => Json::Bool(true),
                    "false" => Json::Bool(false),
                    name => Json::str(name),
                }),
                Value::Integer(_) | Value::BigInteger(_) | Value::Float(_) => {
                    Step::Leaf(number_json(node)?)
                }
                Value::Binary(b) => Step::Leaf(Json::str(utf8_str(b)?)),
                Value::List(items) => Step::Node {
                    children: items.iter().collect(),
                    finish: None,
                },
                Value::Map(entries) if struct_module(node).is_none() => {
                    let mut keys = Vec::with_capacity(entries.len());
                    for (k, _) in entries {
                        keys.push(match k {
                            Value::Atom(a) => Cow::Borrowed(a.as_str()),
                            Value::Binary(b) => Cow::Borrowed(utf8_str(b)?),
                            other => Cow::Owned(chars_to_string(other)?),
                        });
                    }
                    Step::Node {
                        children: entries.iter().map(|(_, v)| v).collect(),
                        finish: Some(keys),
                    }
                }
                other => return Err(protocol_error(other)),
            })
        },
        |keys: Option<Vec<Cow<'_, str>>>, done| {
            Ok(match keys {
                None => Json::Array(done),
                // The original writes repeated keys as is; readers keep the first.
                Some(keys) => Json::object_first_wins(keys.into_iter().zip(done).collect()),
            })
        },
    )
}

/// Encoding state of one save. The original builds its whole map first and
/// only then runs `JSON.encode!/1` over the untouched ("raw") fields, so a
/// raw field the VM cannot encode fails only if the codec parts succeed.
#[derive(Default)]
pub(crate) struct Raw {
    deferred: Option<JsonError>,
}

impl Raw {
    /// A field passed through as is; absent is null.
    pub(crate) fn field<'v>(&mut self, value: Option<&'v Value>) -> Json<'v> {
        match value {
            None => Json::Null,
            Some(v) => self.value(v),
        }
    }

    /// A field passed through as is, with the default used when absent.
    pub(crate) fn field_or<'v>(&mut self, value: Option<&'v Value>, default: Json<'v>) -> Json<'v> {
        match value {
            None => default,
            Some(v) => self.value(v),
        }
    }

    pub(crate) fn value<'v>(&mut self, value: &'v Value) -> Json<'v> {
        match generic(value) {
            Ok(json) => json,
            Err(e) => {
                if self.deferred.is_none() {
                    self.deferred = Some(e);
                }
                Json::Null
            }
        }
    }

    /// The finished document, or the first raw field that failed.
    pub(crate) fn finish<'v>(self, doc: Json<'v>) -> Result<Json<'v>, JsonError> {
        match self.deferred {
            Some(e) => Err(e),
            None => Ok(doc),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_encoding_follows_the_vm() {
        let v = Value::Map(vec![
            (Value::atom("a"), Value::atom("sending")),
            (
                Value::Integer(5),
                Value::List(vec![Value::nil(), Value::boolean(true)]),
            ),
            (Value::binary(&b"s"[..]), Value::Float(1.5)),
        ]);
        let j = generic(&v).unwrap();
        assert_eq!(j.get("a"), Some(&Json::str("sending")));
        assert_eq!(
            j.get("5"),
            Some(&Json::Array(vec![Json::Null, Json::Bool(true)]))
        );
        assert!(generic(&Value::Tuple(vec![])).is_err());
        assert!(generic(&Value::binary(vec![0xff])).is_err());
        let s = Value::Map(vec![(Value::atom("__struct__"), Value::atom("Elixir.X"))]);
        assert!(generic(&s).is_err());
    }

    #[test]
    fn float_keys_are_written_as_float_to_string_writes_them() {
        let v = Value::Map(vec![
            (Value::Float(1.0e15), Value::Integer(1)),
            (Value::Float(0.5), Value::Integer(2)),
        ]);
        let j = generic(&v).unwrap();
        assert_eq!(j.get("1.0e15"), Some(&Json::Int(1)));
        assert_eq!(j.get("0.5"), Some(&Json::Int(2)));
    }

    #[test]
    fn deep_terms_are_refused_without_recursion() {
        let mut v = Value::nil();
        for _ in 0..100_000 {
            v = Value::List(vec![v]);
        }
        assert!(matches!(generic(&v), Err(JsonError::TooDeep)));
        crate::json::term::dispose(v);
    }
}
