//! Terms (`Value`s) as the original reads and builds them: field access,
//! struct and map builders, and the iterative depth check and teardown that
//! keep a deep term from overflowing the stack.

use super::errors::JsonError;
use super::inspect::inspect;
use super::limits::MAX_OUTPUT_BYTES;
use crate::value::Value;

/// Tears a term down without recursion. A term nested deeper than the
/// stack allows would overflow it in the compiler's recursive drop.
pub fn dispose(value: Value) {
    fn nested(value: &Value) -> bool {
        match value {
            Value::List(items) | Value::Tuple(items) => !items.is_empty(),
            Value::Map(entries) => !entries.is_empty(),
            _ => false,
        }
    }
    if !nested(&value) {
        return;
    }
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::List(items) | Value::Tuple(items) => {
                stack.extend(items.into_iter().filter(nested))
            }
            Value::Map(entries) => {
                for (k, v) in entries {
                    if nested(&k) {
                        stack.push(k);
                    }
                    if nested(&v) {
                        stack.push(v);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Refuses a term nested deeper than `max` containers, or one whose JSON
/// form would certainly exceed the output limit (every binary byte takes at
/// least one byte of output), before any of it is encoded.
pub fn check_depth(value: &Value, max: usize) -> Result<(), JsonError> {
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    let mut least_output: usize = 0;
    while let Some((v, depth)) = stack.pop() {
        least_output = least_output.saturating_add(1);
        match v {
            Value::Binary(bytes) => least_output = least_output.saturating_add(bytes.len()),
            Value::List(items) | Value::Tuple(items) => {
                if depth >= max {
                    return Err(JsonError::TooDeep);
                }
                stack.extend(items.iter().map(|c| (c, depth + 1)));
            }
            Value::Map(entries) => {
                if depth >= max {
                    return Err(JsonError::TooDeep);
                }
                for (k, val) in entries {
                    stack.push((k, depth + 1));
                    stack.push((val, depth + 1));
                }
            }
            _ => {}
        }
        if least_output > MAX_OUTPUT_BYTES {
            return Err(JsonError::TooLarge);
        }
    }
    Ok(())
}

pub(crate) fn is_boolean(value: &Value) -> bool {
    matches!(value, Value::Atom(a) if a == "true" || a == "false")
}

pub(crate) fn is_number(value: &Value) -> bool {
    matches!(
        value,
        Value::Integer(_) | Value::BigInteger(_) | Value::Float(_)
    )
}

/// `is_struct/1`: a map whose `__struct__` key holds an atom.
pub(crate) fn struct_module(value: &Value) -> Option<&str> {
    value.struct_name()
}

/// Map entries, or `None` for anything that is not a map.
pub(crate) fn map_entries(value: &Value) -> Option<&[(Value, Value)]> {
    match value {
        Value::Map(entries) => Some(entries),
        _ => None,
    }
}

/// The original's `fetch_map_value/3`: the atom key first, then the string
/// key; `None` when neither is present (the caller applies its default).
pub(crate) fn fetch_field<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    let entries = map_entries(map)?;
    entries
        .iter()
        .find(|(k, _)| matches!(k, Value::Atom(a) if a == key))
        .or_else(|| {
            entries
                .iter()
                .find(|(k, _)| matches!(k, Value::Binary(b) if b == key.as_bytes()))
        })
        .map(|(_, v)| v)
}

/// `map.key` / `Map.fetch!(map, :key)`: a missing atom key is a `KeyError`.
pub(crate) fn dot_field<'a>(map: &'a Value, key: &str) -> Result<&'a Value, JsonError> {
    match map {
        Value::Map(_) => map.get_atom_key(key).ok_or_else(|| {
            JsonError::Unsupported(format!("key :{key} not found in: {}", inspect(map)))
        }),
        other => Err(JsonError::Unsupported(format!(
            "expected a map with key :{key}, got: {}",
            inspect(other)
        ))),
    }
}

/// `!!value`: anything but nil and false is true.
pub(crate) fn truthy(value: Option<&Value>) -> bool {
    match value {
        None => false,
        Some(Value::Atom(a)) => a != "nil" && a != "false",
        Some(_) => true,
    }
}

/// Builds a struct term: `__struct__` plus every field.
pub(crate) fn make_struct(module: &str, fields: Vec<(&str, Value)>) -> Value {
    let mut entries = Vec::with_capacity(fields.len() + 1);
    entries.push((Value::atom("__struct__"), Value::atom(module)));
    for (name, value) in fields {
        entries.push((Value::atom(name), value));
    }
    Value::Map(entries)
}

/// A map with atom keys.
pub(crate) fn atom_map(fields: Vec<(&str, Value)>) -> Value {
    Value::Map(
        fields
            .into_iter()
            .map(|(k, v)| (Value::atom(k), v))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::limits::MAX_VALUE_DEPTH;

    #[test]
    fn depth_checks_are_iterative() {
        let mut v = Value::nil();
        for _ in 0..100_000 {
            v = Value::List(vec![v]);
        }
        assert!(matches!(
            check_depth(&v, MAX_VALUE_DEPTH),
            Err(JsonError::TooDeep)
        ));
        dispose(v);
    }

    #[test]
    fn oversized_terms_are_refused_before_encoding() {
        let big = Value::Binary(vec![0; MAX_OUTPUT_BYTES + 1]);
        assert!(matches!(
            check_depth(&big, MAX_VALUE_DEPTH),
            Err(JsonError::TooLarge)
        ));
        let fine = Value::Binary(vec![0; 1024]);
        assert!(check_depth(&fine, MAX_VALUE_DEPTH).is_ok());
    }
}
