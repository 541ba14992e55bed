//! Walkers shared by the codecs: an iterative tree fold, plain JSON -> term
//! conversion, the VM's generic `JSON.encode!` rules, and small accessors on `Value`.

use std::borrow::Cow;
use std::collections::HashMap;

use super::buffer::{encode64, BUFFER_TAG};
use super::inspect::{elixir_float, inspect};
use super::limits::{MAX_JSON_DEPTH, MAX_OUTPUT_BYTES, MAX_VALUE_DEPTH};
use super::syntax::{format_float, Json};
use super::JsonError;
use crate::value::{OpaqueKind, Value};

/// What entering a node of a fold produces: a finished result, or children
/// to fold first and a note on how to combine their results.
pub(crate) enum Step<'a, I, F, O> {
    Leaf(O),
    Node { children: Vec<&'a I>, finish: F },
}

struct Frame<'a, I, F, O> {
    /// Children still to visit, last first.
    pending: Vec<&'a I>,
    done: Vec<O>,
    finish: F,
}

/// Folds a tree bottom-up with an explicit stack: `enter` sees each node
/// before its children, `finish` combines the children's results. Nesting
/// deeper than `max_depth` is `TooDeep`.
pub(crate) fn fold<'a, I, F, O>(
    root: &'a I,
    max_depth: usize,
    mut enter: impl FnMut(&'a I) -> Result<Step<'a, I, F, O>, JsonError>,
    mut finish: impl FnMut(F, Vec<O>) -> Result<O, JsonError>,
) -> Result<O, JsonError> {
    let mut stack: Vec<Frame<'a, I, F, O>> = Vec::new();
    let mut step = enter(root)?;
    loop {
        match step {
            Step::Leaf(out) => match stack.last_mut() {
                None => return Ok(out),
                Some(top) => top.done.push(out),
            },
            Step::Node { children, finish } => {
                if stack.len() >= max_depth {
                    return Err(JsonError::TooDeep);
                }
                let mut pending = children;
                pending.reverse();
                stack.push(Frame {
                    done: Vec::with_capacity(pending.len()),
                    pending,
                    finish,
                });
            }
        }
        // Find the next node to enter, finishing completed frames on the way.
        loop {
            let Some(top) = stack.last_mut() else {
                return Err(JsonError::Unsupported("fold lost its stack".into()));
            };
            if let Some(child) = top.pending.pop() {
                step = enter(child)?;
                break;
            }
            let Some(frame) = stack.pop() else {
                return Err(JsonError::Unsupported("fold lost its stack".into()));
            };
            let out = finish(frame.finish, frame.done)?;
            match stack.last_mut() {
                None => return Ok(out),
                Some(top) => top.done.push(out),
            }
        }
    }
}

/// A JSON document as `JSON.decode/1` returns it: objects become maps with
/// binary keys, nothing else is interpreted.
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

/// The message of a `FunctionClauseError` in the original module.
pub(crate) fn no_clause(function: &str) -> JsonError {
    JsonError::Unsupported(format!(
        "no function clause matching in BaileysEx.Auth.FilePersistence.{function}"
    ))
}

/// `raise ArgumentError, "invalid #{context} in compatibility JSON: ..."`.
pub(crate) fn invalid_explicit(context: &str, json: &Json) -> JsonError {
    JsonError::Argument(format!(
        "invalid {context} in compatibility JSON: {}",
        inspect_json(json)
    ))
}

/// The message of the VM's badarg for `:erlang.list_to_binary/1`.
pub(crate) fn not_iolist() -> JsonError {
    JsonError::Argument(
        "errors were found at the given arguments:\n\n  * 1st argument: not an iolist term\n"
            .to_owned(),
    )
}

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

/// Map entries with repeated keys collapsed, the LAST one winning (what
/// `Map.new/1` does with a list of pairs).
pub(crate) fn dedupe_last_wins(entries: Vec<(Value, Value)>) -> Vec<(Value, Value)> {
    if entries.len() < 2 || keys_distinct(&entries) {
        return entries;
    }
    let mut index: HashMap<Vec<u8>, usize> = HashMap::with_capacity(entries.len());
    let mut out: Vec<Option<(Value, Value)>> = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let mut key = Vec::new();
        canonical(&k, &mut key, 0);
        match index.get(&key) {
            Some(&i) => out[i] = Some((k, v)),
            None => {
                index.insert(key, out.len());
                out.push(Some((k, v)));
            }
        }
    }
    out.into_iter().flatten().collect()
}

/// Whether no two keys are equal, settled by sorting when every key is an
/// integer or every key a binary (the maps the decoders build); `false`
/// means "perhaps not".
fn keys_distinct(entries: &[(Value, Value)]) -> bool {
    let ints: Option<Vec<i64>> = entries
        .iter()
        .map(|(k, _)| match k {
            Value::Integer(n) => Some(*n),
            _ => None,
        })
        .collect();
    if let Some(mut ints) = ints {
        ints.sort_unstable();
        return ints.windows(2).all(|w| w[0] != w[1]);
    }
    let binaries: Option<Vec<&[u8]>> = entries
        .iter()
        .map(|(k, _)| match k {
            Value::Binary(b) => Some(b.as_slice()),
            _ => None,
        })
        .collect();
    if let Some(mut binaries) = binaries {
        binaries.sort_unstable();
        return binaries.windows(2).all(|w| w[0] != w[1]);
    }
    false
}

/// An injective byte encoding of a term, for key comparison. Map entries are
/// sorted so equal maps encode equally.
fn canonical(value: &Value, out: &mut Vec<u8>, depth: usize) {
    fn len(out: &mut Vec<u8>, n: usize) {
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    if depth > MAX_JSON_DEPTH + 2 {
        out.push(0xFF);
        return;
    }
    match value {
        Value::Atom(a) => {
            out.push(1);
            len(out, a.len());
            out.extend_from_slice(a.as_bytes());
        }
        Value::Integer(n) => {
            out.push(2);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Value::BigInteger(n) => {
            out.push(3);
            out.push(u8::from(n.is_negative()));
            len(out, n.magnitude().len());
            out.extend_from_slice(n.magnitude());
        }
        Value::Float(f) => {
            out.push(4);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Binary(b) => {
            out.push(5);
            len(out, b.len());
            out.extend_from_slice(b);
        }
        Value::List(items) | Value::Tuple(items) => {
            out.push(if matches!(value, Value::List(_)) {
                6
            } else {
                7
            });
            len(out, items.len());
            for item in items {
                canonical(item, out, depth + 1);
            }
        }
        Value::Map(entries) => {
            let mut encoded: Vec<Vec<u8>> = entries
                .iter()
                .map(|(k, v)| {
                    let mut e = Vec::new();
                    canonical(k, &mut e, depth + 1);
                    canonical(v, &mut e, depth + 1);
                    e
                })
                .collect();
            encoded.sort();
            out.push(8);
            len(out, encoded.len());
            for e in encoded {
                len(out, e.len());
                out.extend_from_slice(&e);
            }
        }
        Value::Opaque(kind) => {
            out.push(9);
            out.push(*kind as u8);
        }
    }
}

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
            format_float(*f)?;
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
        Value::Float(f) => Ok(elixir_float(*f)),
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
    fn depth_checks_are_iterative() {
        let mut v = Value::nil();
        for _ in 0..100_000 {
            v = Value::List(vec![v]);
        }
        assert!(matches!(
            check_depth(&v, MAX_VALUE_DEPTH),
            Err(JsonError::TooDeep)
        ));
        assert!(matches!(generic(&v), Err(JsonError::TooDeep)));
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

    #[test]
    fn dedupe_keeps_the_last_value() {
        let e = vec![
            (Value::Integer(1), Value::Integer(10)),
            (Value::Integer(2), Value::Integer(20)),
            (Value::Integer(1), Value::Integer(11)),
        ];
        let d = dedupe_last_wins(e);
        assert_eq!(d.len(), 2);
        assert!(d.contains(&(Value::Integer(1), Value::Integer(11))));
    }
}
