//! The check the original runs on `additional_data` before writing creds:
//! only strings, numbers, booleans, nil, lists and string-keyed maps, else
//! `{:error, {:invalid_additional_data, message}}` naming kind and path.

use super::errors::JsonError;
use super::inspect::{inspect, inspect_atom};
use super::limits::MAX_VALUE_DEPTH;
use super::term::{is_boolean, is_number};

use crate::value::{OpaqueKind, Value};

enum Frame<'a> {
    List {
        items: &'a [Value],
        next: usize,
    },
    Map {
        entries: &'a [(Value, Value)],
        next: usize,
    },
}

impl Frame<'_> {
    /// The path element of the child currently being checked.
    fn current(&self) -> Value {
        match self {
            Frame::List { next, .. } => Value::Integer(next.saturating_sub(1) as i64),
            Frame::Map { entries, next } => entries
                .get(next.saturating_sub(1))
                .map(|(k, _)| k.clone())
                .unwrap_or_else(Value::nil),
        }
    }
}

fn path_text(frames: &[Frame<'_>]) -> String {
    let mut path = vec![Value::atom("additional_data")];
    path.extend(frames.iter().map(Frame::current));
    inspect(&Value::List(path))
}

fn type_name(value: &Value) -> String {
    match value {
        Value::Atom(a) => format!("atom ({})", inspect_atom(a)),
        Value::Tuple(_) => "tuple".to_owned(),
        Value::Opaque(OpaqueKind::Pid) => "pid".to_owned(),
        Value::Opaque(OpaqueKind::Reference) => "reference".to_owned(),
        Value::Opaque(OpaqueKind::Function) => "function".to_owned(),
        _ => "unsupported term".to_owned(),
    }
}

/// `validate_additional_data/1` (nil, the default, is fine).
pub fn validate(data: &Value) -> Result<(), JsonError> {
    let mut frames: Vec<Frame<'_>> = Vec::new();
    let mut pending: Option<&Value> = Some(data);
    loop {
        if let Some(value) = pending.take() {
            match value {
                Value::Binary(_) => {}
                v if v.is_nil() || is_number(v) || is_boolean(v) => {}
                Value::List(items) => frames.push(Frame::List { items, next: 0 }),
                Value::Map(entries) => frames.push(Frame::Map { entries, next: 0 }),
                other => {
                    return Err(JsonError::InvalidAdditionalData(format!(
                        "additional_data contains a {} at path {}; only strings, numbers, booleans, lists, and string-keyed maps are supported",
                        type_name(other),
                        path_text(&frames)
                    )))
                }
            }
            if frames.len() > MAX_VALUE_DEPTH {
                return Err(JsonError::TooDeep);
            }
        }
        let depth = frames.len();
        let Some(top) = frames.last_mut() else {
            return Ok(());
        };
        match top {
            Frame::List { items, next } => match items.get(*next) {
                Some(item) => {
                    *next += 1;
                    pending = Some(item);
                }
                None => {
                    frames.pop();
                }
            },
            Frame::Map { entries, next } => match entries.get(*next) {
                Some((key, value)) => {
                    if !matches!(key, Value::Binary(_)) {
                        return Err(JsonError::InvalidAdditionalData(format!(
                            "additional_data contains a {} map key at path {}; only string keys are supported",
                            type_name(key),
                            path_text(&frames[..depth - 1])
                        )));
                    }
                    *next += 1;
                    pending = Some(value);
                }
                None => {
                    frames.pop();
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::term::dispose;

    fn message(v: &Value) -> String {
        match validate(v) {
            Err(JsonError::InvalidAdditionalData(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn accepts_json_safe_data() {
        let ok = Value::Map(vec![(
            Value::binary(&b"a"[..]),
            Value::List(vec![
                Value::nil(),
                Value::Float(1.0),
                Value::boolean(true),
                Value::binary(vec![255]),
            ]),
        )]);
        assert!(validate(&ok).is_ok());
        assert!(validate(&Value::nil()).is_ok());
    }

    #[test]
    fn names_the_kind_and_path() {
        let key = Value::Map(vec![(Value::atom("labels"), Value::Integer(1))]);
        assert_eq!(
            message(&key),
            "additional_data contains a atom (:labels) map key at path [:additional_data]; only string keys are supported"
        );
        let nested = Value::Map(vec![(
            Value::binary(&b"nested"[..]),
            Value::List(vec![Value::Integer(1), Value::Tuple(vec![])]),
        )]);
        assert_eq!(
            message(&nested),
            "additional_data contains a tuple at path [:additional_data, \"nested\", 1]; only strings, numbers, booleans, lists, and string-keyed maps are supported"
        );
        assert_eq!(
            message(&Value::atom("value")),
            "additional_data contains a atom (:value) at path [:additional_data]; only strings, numbers, booleans, lists, and string-keyed maps are supported"
        );
        assert!(message(&Value::Opaque(OpaqueKind::Pid)).contains("a pid at path"));
        let struct_map = Value::Map(vec![(Value::atom("__struct__"), Value::atom("Elixir.Foo"))]);
        assert!(message(&struct_map).contains("atom (:__struct__) map key"));
    }

    #[test]
    fn deep_data_is_refused_without_recursion() {
        let mut v = Value::nil();
        for _ in 0..100_000 {
            v = Value::List(vec![v]);
        }
        assert!(matches!(validate(&v), Err(JsonError::TooDeep)));
        dispose(v);
    }
}
