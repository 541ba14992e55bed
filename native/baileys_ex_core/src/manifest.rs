//! The manifest: `%{"backend" => id, "version" => 1, "key_index" => %{type => [id]}}`.
//!
//! Decoding normalises exactly as the originals do (unknown types dropped, ids
//! kept only when binaries, unique and sorted), so the bytes we write back are
//! the bytes the original would write.

use crate::error::MetadataError;
use crate::etf::{self, Writer};
use crate::layout::{persisted_key_type, KeyIndex};
use crate::value::Value;

pub const FORMAT_VERSION: i64 = 1;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    pub key_index: KeyIndex,
}

/// What the store asks of the VM that called it.
pub trait AtomTable {
    /// Whether an atom already exists. The VM's safe decoder refuses unknown
    /// atoms, and a manifest it would refuse must be refused here.
    fn exists(&self, name: &str) -> bool;

    /// Whether the caller still waits for the result. A native call goes on
    /// after its caller is killed; a save whose caller is gone must not
    /// overwrite a value someone saved after it.
    fn caller_alive(&self) -> bool {
        true
    }
}

/// For tests and tools without a VM: every atom exists.
pub struct AnyAtom;

impl AtomTable for AnyAtom {
    fn exists(&self, _name: &str) -> bool {
        true
    }
}

impl Manifest {
    /// Adds `id` under `key_type`; reports whether the content changed.
    /// Types the manifest does not index change nothing, as in the original.
    pub fn insert(&mut self, key_type: &str, id: &[u8]) -> bool {
        match persisted_key_type(key_type.as_bytes()) {
            Some(t) => self.key_index.entry(t).or_default().insert(id.to_vec()),
            None => false,
        }
    }

    /// Drops `id`; a known type without an entry gains an empty list, because
    /// the original's update leaves one behind.
    pub fn remove(&mut self, key_type: &str, id: &[u8]) -> bool {
        match persisted_key_type(key_type.as_bytes()) {
            Some(t) => match self.key_index.get_mut(t) {
                Some(ids) => ids.remove(id),
                None => {
                    self.key_index.insert(t, Default::default());
                    true
                }
            },
            None => false,
        }
    }

    pub fn contains(&self, key_type: &str, id: &[u8]) -> bool {
        self.key_index
            .get(key_type)
            .is_some_and(|ids| ids.contains(id))
    }

    /// The bytes `:erlang.term_to_binary/1` gives for this manifest: a map of
    /// at most 32 keys is written in key order, and there are no atoms, so
    /// the encoding is the same on every OTP release.
    pub fn encode_etf(&self, backend_id: &str) -> Vec<u8> {
        let ids_len: usize = self
            .key_index
            .values()
            .flat_map(|ids| ids.iter().map(|id| id.len() + 5))
            .sum();
        let mut w =
            Writer::with_capacity(64 + backend_id.len() + ids_len + 32 * self.key_index.len());
        w.map_header(3);
        w.binary(b"backend");
        w.binary(backend_id.as_bytes());
        w.binary(b"key_index");
        w.map_header(self.key_index.len());
        for (key_type, ids) in &self.key_index {
            w.binary(key_type.as_bytes());
            w.list_header(ids.len());
            for id in ids {
                w.binary(id);
            }
            w.nil();
        }
        w.binary(b"version");
        w.small_integer(FORMAT_VERSION as u8);
        w.bytes
    }
}

/// Decodes an ETF manifest. `Ok(None)` is a manifest holding `nil`, which the
/// original treats as missing.
pub fn decode_etf(
    bytes: &[u8],
    backend_id: &str,
    atoms: &dyn AtomTable,
) -> Result<Option<Manifest>, MetadataError> {
    let invalid = || MetadataError::InvalidEtf(bytes.to_vec());
    let value = etf::decode_value(bytes).map_err(|_| invalid())?;
    if !atoms_exist(&value, atoms) {
        return Err(invalid());
    }
    match from_value(&value, backend_id) {
        Err(Shape::Wrong) => Err(invalid()),
        Err(Shape::Refused(err)) => Err(err),
        Ok(manifest) => Ok(manifest),
    }
}

fn atoms_exist(value: &Value, atoms: &dyn AtomTable) -> bool {
    // Depth is already bounded by the decoder.
    match value {
        Value::Atom(name) => atoms.exists(name),
        Value::List(items) | Value::Tuple(items) => items.iter().all(|v| atoms_exist(v, atoms)),
        Value::Map(entries) => entries
            .iter()
            .all(|(k, v)| atoms_exist(k, atoms) && atoms_exist(v, atoms)),
        _ => true,
    }
}

pub enum Shape {
    /// Not a manifest at all: the caller reports it with its own detail.
    Wrong,
    Refused(MetadataError),
}

fn lookup<'v>(entries: &'v [(Value, Value)], key: &str) -> Option<&'v Value> {
    entries
        .iter()
        .rev()
        .find(|(k, _)| matches!(k, Value::Binary(b) if b == key.as_bytes()))
        .map(|(_, v)| v)
}

/// Applies the originals' validation and normalisation to a decoded term.
pub fn from_value(value: &Value, backend_id: &str) -> Result<Option<Manifest>, Shape> {
    let entries = match value {
        v if v.is_nil() => return Ok(None),
        Value::Map(entries) => entries,
        _ => return Err(Shape::Wrong),
    };
    let backend = match lookup(entries, "backend") {
        Some(Value::Binary(b)) => b,
        _ => return Err(Shape::Wrong),
    };
    if backend.as_slice() != backend_id.as_bytes() {
        return Err(Shape::Refused(MetadataError::UnexpectedBackend(
            backend.clone(),
        )));
    }
    match lookup(entries, "version") {
        Some(Value::Integer(FORMAT_VERSION)) => {}
        Some(v @ (Value::Integer(_) | Value::BigInteger(_))) => {
            return Err(Shape::Refused(MetadataError::UnsupportedVersion(v.clone())))
        }
        // The original's clauses then see a map with our backend and no
        // usable version, and report the backend as unexpected.
        _ => {
            return Err(Shape::Refused(MetadataError::UnexpectedBackend(
                backend.clone(),
            )))
        }
    }
    let mut manifest = Manifest::default();
    if let Some(Value::Map(index)) = lookup(entries, "key_index") {
        for (key, ids) in index {
            let Value::Binary(name) = key else { continue };
            let Some(key_type) = persisted_key_type(name) else {
                continue;
            };
            let set = manifest.key_index.entry(key_type).or_default();
            let wrapped = match ids {
                Value::List(items) => items.as_slice(),
                v if v.is_nil() => &[],
                single => std::slice::from_ref(single),
            };
            for id in wrapped {
                if let Value::Binary(id) = id {
                    set.insert(id.clone());
                }
            }
        }
    }
    Ok(Some(manifest))
}

/// Decodes a JSON manifest. The error detail mirrors what Elixir's `JSON`
/// reports: `{:unexpected_end, offset}` or `{:invalid_byte, offset, byte}` for
/// bad syntax, the decoded term for a wrong shape.
pub fn decode_json(bytes: &[u8], backend_id: &str) -> Result<Option<Manifest>, MetadataError> {
    let parsed: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(err) => return Err(MetadataError::InvalidJson(json_syntax_detail(bytes, &err))),
    };
    let Some(value) = json_to_value(&parsed, 0) else {
        return Err(MetadataError::InvalidJson(Value::atom("nesting_too_deep")));
    };
    match from_value(&value, backend_id) {
        Err(Shape::Wrong) => Err(MetadataError::InvalidJson(value)),
        Err(Shape::Refused(err)) => Err(err),
        Ok(manifest) => Ok(manifest),
    }
}

fn json_syntax_detail(bytes: &[u8], err: &serde_json::Error) -> Value {
    let offset = byte_offset(bytes, err.line(), err.column());
    if err.is_eof() || offset >= bytes.len() {
        Value::Tuple(vec![
            Value::atom("unexpected_end"),
            Value::Integer(bytes.len() as i64),
        ])
    } else {
        Value::Tuple(vec![
            Value::atom("invalid_byte"),
            Value::Integer(offset as i64),
            Value::Integer(bytes[offset] as i64),
        ])
    }
}

/// serde_json reports 1-based line and column; Elixir reports a byte offset.
fn byte_offset(bytes: &[u8], line: usize, column: usize) -> usize {
    let mut offset = 0;
    let mut current = 1;
    while current < line && offset < bytes.len() {
        if bytes[offset] == b'\n' {
            current += 1;
        }
        offset += 1;
    }
    (offset + column.saturating_sub(1)).min(bytes.len())
}

/// Manifest JSON only: strings are binaries, objects string-keyed maps.
fn json_to_value(json: &serde_json::Value, depth: usize) -> Option<Value> {
    if depth > etf::MAX_DEPTH {
        return None;
    }
    Some(match json {
        serde_json::Value::Null => Value::nil(),
        serde_json::Value::Bool(b) => Value::boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => match n.as_u64() {
                Some(u) => Value::BigInteger(u.to_string()),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
        },
        serde_json::Value::String(s) => Value::Binary(s.as_bytes().to_vec()),
        serde_json::Value::Array(items) => Value::List(
            items
                .iter()
                .map(|v| json_to_value(v, depth + 1))
                .collect::<Option<Vec<_>>>()?,
        ),
        serde_json::Value::Object(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    Some((
                        Value::Binary(k.as_bytes().to_vec()),
                        json_to_value(v, depth + 1)?,
                    ))
                })
                .collect::<Option<Vec<_>>>()?,
        ),
    })
}

impl Manifest {
    /// The manifest as Elixir's `JSON.encode!/1` writes it: keys in sorted
    /// order, no whitespace.
    pub fn encode_json(&self, backend_id: &str) -> Vec<u8> {
        let mut index = serde_json::Map::new();
        for (key_type, ids) in &self.key_index {
            let ids = ids
                .iter()
                .map(|id| serde_json::Value::String(String::from_utf8_lossy(id).into_owned()))
                .collect();
            index.insert((*key_type).to_owned(), serde_json::Value::Array(ids));
        }
        let mut top = serde_json::Map::new();
        top.insert(
            "backend".into(),
            serde_json::Value::String(backend_id.to_owned()),
        );
        top.insert("key_index".into(), serde_json::Value::Object(index));
        top.insert("version".into(), serde_json::Value::from(FORMAT_VERSION));
        serde_json::to_vec(&serde_json::Value::Object(top)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::ETF;

    fn fixture_manifest() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../test/fixtures/set_a/etf/.baileys_ex_native_file_persistence.etf"
        );
        std::fs::read(path).unwrap()
    }

    #[test]
    fn the_fixture_manifest_reencodes_byte_for_byte() {
        let bytes = fixture_manifest();
        let manifest = decode_etf(&bytes, ETF.backend_id, &AnyAtom)
            .unwrap()
            .unwrap();
        assert_eq!(manifest.key_index.len(), 10);
        assert!(manifest.contains("device-list", b"alice/device:0"));
        assert_eq!(manifest.encode_etf(ETF.backend_id), bytes);
    }

    #[test]
    fn an_empty_manifest_matches_term_to_binary() {
        // :erlang.term_to_binary(%{"backend" => "b", "key_index" => %{}, "version" => 1})
        let expected = [
            131, 116, 0, 0, 0, 3, 109, 0, 0, 0, 7, 98, 97, 99, 107, 101, 110, 100, 109, 0, 0, 0, 1,
            98, 109, 0, 0, 0, 9, 107, 101, 121, 95, 105, 110, 100, 101, 120, 116, 0, 0, 0, 0, 109,
            0, 0, 0, 7, 118, 101, 114, 115, 105, 111, 110, 97, 1,
        ];
        assert_eq!(Manifest::default().encode_etf("b"), expected);
    }

    fn manifest_value(backend: &str, version: Value, index: Value) -> Value {
        Value::Map(vec![
            (
                Value::binary(*b"backend"),
                Value::binary(backend.as_bytes()),
            ),
            (Value::binary(*b"version"), version),
            (Value::binary(*b"key_index"), index),
        ])
    }

    #[test]
    fn normalisation_drops_unknown_types_and_non_binary_ids() {
        let index = Value::Map(vec![
            (
                Value::binary(*b"session"),
                Value::List(vec![
                    Value::binary(*b"b"),
                    Value::Integer(7),
                    Value::binary(*b"a"),
                    Value::binary(*b"b"),
                ]),
            ),
            (Value::binary(*b"pre-key"), Value::binary(*b"single")),
            (Value::binary(*b"tctoken"), Value::nil()),
            (
                Value::binary(*b"bogus"),
                Value::List(vec![Value::binary(*b"x")]),
            ),
            (
                Value::atom("session"),
                Value::List(vec![Value::binary(*b"y")]),
            ),
        ]);
        let value = manifest_value("native_file_persistence", Value::Integer(1), index);
        let manifest = from_value(&value, "native_file_persistence")
            .ok()
            .unwrap()
            .unwrap();
        let sessions: Vec<&[u8]> = manifest.key_index["session"]
            .iter()
            .map(|v| v.as_slice())
            .collect();
        assert_eq!(sessions, [b"a".as_slice(), b"b".as_slice()]);
        assert!(manifest.contains("pre-key", b"single"));
        assert!(manifest.key_index["tctoken"].is_empty());
        assert_eq!(manifest.key_index.len(), 3);
    }

    #[test]
    fn errors_follow_the_original_clauses() {
        let backend = "native_file_persistence";
        let v99 = manifest_value(backend, Value::Integer(99), Value::Map(vec![]));
        assert!(matches!(
            from_value(&v99, backend),
            Err(Shape::Refused(MetadataError::UnsupportedVersion(
                Value::Integer(99)
            )))
        ));
        let other = manifest_value("file_persistence", Value::Integer(1), Value::Map(vec![]));
        assert!(matches!(
            from_value(&other, backend),
            Err(Shape::Refused(MetadataError::UnexpectedBackend(b))) if b == b"file_persistence"
        ));
        let float_version = manifest_value(backend, Value::Float(1.0), Value::Map(vec![]));
        assert!(matches!(
            from_value(&float_version, backend),
            Err(Shape::Refused(MetadataError::UnexpectedBackend(_)))
        ));
        assert!(matches!(
            from_value(&Value::Integer(3), backend),
            Err(Shape::Wrong)
        ));
        assert!(matches!(from_value(&Value::nil(), backend), Ok(None)));
        let no_backend = Value::Map(vec![(Value::binary(*b"version"), Value::Integer(1))]);
        assert!(matches!(
            from_value(&no_backend, backend),
            Err(Shape::Wrong)
        ));
        assert!(matches!(
            decode_etf(b"garbage", backend, &AnyAtom),
            Err(MetadataError::InvalidEtf(_))
        ));
    }

    #[test]
    fn insert_and_remove_report_changes_like_the_original() {
        let mut m = Manifest::default();
        assert!(m.insert("session", b"1"));
        assert!(!m.insert("session", b"1"));
        assert!(!m.insert("not-a-type", b"1"));
        assert!(m.remove("session", b"1"));
        assert!(!m.remove("session", b"1"));
        assert!(m.remove("tctoken", b"x"));
        assert!(m.key_index["tctoken"].is_empty());
        assert!(!m.remove("tctoken", b"x"));
    }

    struct NoAtoms;
    impl AtomTable for NoAtoms {
        fn exists(&self, _name: &str) -> bool {
            false
        }
    }

    #[test]
    fn unknown_atoms_make_a_manifest_undecodable() {
        // %{"backend" => "native_file_persistence", ...} with an atom id
        let mut m = Manifest::default();
        m.insert("session", b"1");
        let bytes = m.encode_etf("native_file_persistence");
        assert!(decode_etf(&bytes, "native_file_persistence", &NoAtoms).is_ok());
        let with_atom = [131, 119, 3, b'f', b'o', b'o'];
        assert!(decode_etf(&with_atom, "x", &NoAtoms).is_err());
    }
}
