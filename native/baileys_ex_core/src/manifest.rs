//! The manifest: `%{"backend" => id, "version" => 1, "key_index" => %{type => [id]}}`.
//!
//! Decoding normalises exactly as the originals do (unknown types dropped, ids
//! kept only when binaries, unique and sorted), so the bytes we write back are
//! the bytes the original would write.

use std::borrow::Cow;

use crate::bigint::MAX_DECIMAL_DIGITS;
use crate::error::MetadataError;
use crate::etf::{self, Writer};
use crate::json::{self, Json, JsonError, SyntaxError};
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

/// An `AtomTable` that remembers whether it was asked about a missing atom.
pub struct WatchedAtoms<'a> {
    table: &'a dyn AtomTable,
    missed: std::cell::Cell<bool>,
}

impl<'a> WatchedAtoms<'a> {
    pub fn new(table: &'a dyn AtomTable) -> WatchedAtoms<'a> {
        WatchedAtoms {
            table,
            missed: std::cell::Cell::new(false),
        }
    }

    pub fn missed_any(&self) -> bool {
        self.missed.get()
    }
}

impl AtomTable for WatchedAtoms<'_> {
    fn exists(&self, name: &str) -> bool {
        let exists = self.table.exists(name);
        if !exists {
            self.missed.set(true);
        }
        exists
    }

    fn caller_alive(&self) -> bool {
        self.table.caller_alive()
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

/// Decodes a JSON manifest, read as `JSON.decode/1` reads it: integers of
/// any length (up to `bigint::MAX_DECIMAL_DIGITS` digits) stay integers. The
/// error detail is the reason `JSON.decode/1` gives for bad syntax, the
/// decoded term for a wrong shape.
pub fn decode_json(bytes: &[u8], backend_id: &str) -> Result<Option<Manifest>, MetadataError> {
    let value = json::decode_plain(bytes)
        .map_err(|err| MetadataError::InvalidJson(json_error_detail(&err)))?;
    match from_value(&value, backend_id) {
        // The detail becomes a term, which is bounded like any other.
        Err(Shape::Wrong) if json::check_depth(&value, etf::MAX_DEPTH).is_err() => {
            json::dispose(value);
            Err(MetadataError::InvalidJson(Value::atom("nesting_too_deep")))
        }
        Err(Shape::Wrong) => Err(MetadataError::InvalidJson(value)),
        Err(Shape::Refused(err)) => Err(err),
        Ok(manifest) => Ok(manifest),
    }
}

fn json_error_detail(err: &JsonError) -> Value {
    let tagged = |tag: &str, rest: Vec<Value>| {
        let mut items = vec![Value::atom(tag)];
        items.extend(rest);
        Value::Tuple(items)
    };
    let int = |n: usize| Value::Integer(i64::try_from(n).unwrap_or(i64::MAX));
    match err {
        JsonError::Syntax(SyntaxError::UnexpectedEnd { offset }) => {
            tagged("unexpected_end", vec![int(*offset)])
        }
        JsonError::Syntax(SyntaxError::InvalidByte { offset, byte }) => {
            tagged("invalid_byte", vec![int(*offset), int(usize::from(*byte))])
        }
        JsonError::Syntax(SyntaxError::UnexpectedSequence { offset, bytes }) => tagged(
            "unexpected_sequence",
            vec![int(*offset), Value::Binary(bytes.clone())],
        ),
        JsonError::TooLarge => tagged("too_large", vec![int(json::limits::MAX_INPUT_BYTES)]),
        JsonError::IntegerTooLarge => tagged("integer_too_large", vec![int(MAX_DECIMAL_DIGITS)]),
        // Reading plain JSON fails in no other way than the above and depth.
        _ => Value::atom("nesting_too_deep"),
    }
}

impl Manifest {
    /// The manifest as Elixir's `JSON.encode!/1` writes it: keys in sorted
    /// order, no whitespace.
    pub fn encode_json(&self, backend_id: &str) -> Vec<u8> {
        let index = self
            .key_index
            .iter()
            .map(|(key_type, ids)| {
                // Ids read from a JSON manifest are UTF-8 and single saves
                // check theirs (`json::check_manifest_id`); any other bytes
                // are written as replacement characters.
                let ids = ids.iter().map(|id| Json::Str(String::from_utf8_lossy(id)));
                (Cow::Borrowed(*key_type), Json::Array(ids.collect()))
            })
            .collect();
        let doc = Json::object_last_wins(vec![
            ("backend".into(), Json::str(backend_id)),
            ("key_index".into(), Json::object_last_wins(index)),
            ("version".into(), Json::Int(FORMAT_VERSION)),
        ]);
        // Strings, integers, arrays and objects always have a JSON form.
        json::write_document(&doc).unwrap_or_default()
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

    fn json_manifest(version: &str) -> Vec<u8> {
        format!(r#"{{"backend":"file_persistence","key_index":{{}},"version":{version}}}"#)
            .into_bytes()
    }

    #[test]
    fn a_json_version_above_u64_is_an_unsupported_version() {
        for text in [
            "18446744073709551616",
            "-9223372036854775809",
            "123456789012345678901234567890",
        ] {
            let version = crate::bigint::BigInt::from_decimal(text).unwrap();
            assert_eq!(
                decode_json(&json_manifest(text), "file_persistence"),
                Err(MetadataError::UnsupportedVersion(Value::BigInteger(
                    version
                ))),
                "{text}"
            );
        }
        assert_eq!(
            decode_json(&json_manifest("18446744073709551615"), "file_persistence"),
            Err(MetadataError::UnsupportedVersion(Value::BigInteger(
                crate::bigint::BigInt::from_decimal("18446744073709551615").unwrap()
            )))
        );
        assert!(matches!(
            decode_json(&json_manifest("1.0e30"), "file_persistence"),
            Err(MetadataError::UnexpectedBackend(_))
        ));
    }

    #[test]
    fn a_json_version_past_the_digit_bound_is_refused_as_metadata() {
        let text = "7".repeat(crate::bigint::MAX_DECIMAL_DIGITS + 1);
        assert_eq!(
            decode_json(&json_manifest(&text), "file_persistence"),
            Err(MetadataError::InvalidJson(Value::Tuple(vec![
                Value::atom("integer_too_large"),
                Value::Integer(crate::bigint::MAX_DECIMAL_DIGITS as i64),
            ])))
        );
        let longest = "7".repeat(crate::bigint::MAX_DECIMAL_DIGITS);
        assert!(matches!(
            decode_json(&json_manifest(&longest), "file_persistence"),
            Err(MetadataError::UnsupportedVersion(Value::BigInteger(_)))
        ));
    }

    #[test]
    fn json_syntax_errors_carry_the_reasons_json_decode_gives() {
        let detail = |text: &[u8]| match decode_json(text, "file_persistence") {
            Err(MetadataError::InvalidJson(detail)) => detail,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            detail(b"{\"backend\""),
            Value::Tuple(vec![Value::atom("unexpected_end"), Value::Integer(10)])
        );
        assert_eq!(
            detail(b"{x}"),
            Value::Tuple(vec![
                Value::atom("invalid_byte"),
                Value::Integer(1),
                Value::Integer(b'x' as i64)
            ])
        );
        assert_eq!(
            detail(br#""\udc00""#),
            Value::Tuple(vec![
                Value::atom("unexpected_sequence"),
                Value::Integer(1),
                Value::binary(*br"\udc00")
            ])
        );
        assert_eq!(detail(b"[]"), Value::List(vec![]));
        assert!(matches!(decode_json(b"null", "file_persistence"), Ok(None)));
    }

    #[test]
    fn a_json_manifest_too_deep_for_a_term_is_nesting_too_deep() {
        let detail = |depth: usize| {
            let deep = "[".repeat(depth) + &"]".repeat(depth);
            match decode_json(deep.as_bytes(), "file_persistence") {
                Err(MetadataError::InvalidJson(detail)) => detail,
                other => panic!("{depth}: {other:?}"),
            }
        };
        // As deep as a term may be: the document itself is the detail.
        assert!(json::check_depth(&detail(etf::MAX_DEPTH), etf::MAX_DEPTH).is_ok());
        // Read, but too deep to become the detail term.
        let one_more = "[".repeat(etf::MAX_DEPTH + 1) + &"]".repeat(etf::MAX_DEPTH + 1);
        assert!(json::decode_plain(one_more.as_bytes()).is_ok());
        assert_eq!(detail(etf::MAX_DEPTH + 1), Value::atom("nesting_too_deep"));
        // Too deep for the reader.
        assert_eq!(
            json::decode_plain(&[b'['; 100_000]),
            Err(JsonError::TooDeep)
        );
        assert_eq!(detail(100_000), Value::atom("nesting_too_deep"));
    }

    /// The manifest and the data files go through one reader, so bad JSON
    /// gets one reason wherever it is (`[1] x`: the byte after the value).
    #[test]
    fn bad_json_gets_the_same_reason_in_the_manifest_as_in_a_key_file() {
        let reason = |err: SyntaxError| json_error_detail(&JsonError::Syntax(err));
        for text in [
            &b"[1] x"[..],
            b"[1,2]x",
            b"",
            b"{\"a\":",
            b"[01]",
            b"\"\\ud800\\u0041\"",
            b"[\"a\xff\"]",
            b"1e999",
        ] {
            let Err(JsonError::Syntax(in_key_file)) = json::decode_key("session", text) else {
                panic!("{text:?} is not a syntax error in a key file")
            };
            assert_eq!(
                decode_json(text, "file_persistence"),
                Err(MetadataError::InvalidJson(reason(in_key_file))),
                "{text:?}"
            );
        }
        assert_eq!(
            decode_json(b"[1] x", "file_persistence"),
            Err(MetadataError::InvalidJson(Value::Tuple(vec![
                Value::atom("invalid_byte"),
                Value::Integer(3),
                Value::Integer(i64::from(b' ')),
            ])))
        );
    }

    #[test]
    fn the_json_manifest_is_written_as_json_encode_writes_it() {
        let mut m = Manifest::default();
        assert_eq!(
            m.encode_json("file_persistence"),
            br#"{"backend":"file_persistence","key_index":{},"version":1}"#
        );
        for (key_type, id) in [
            ("session", "b.0"),
            ("session", "a\"q\\\u{1}/é"),
            ("device-list", "d"),
            ("app-state-sync-key", "AAAA"),
        ] {
            m.insert(key_type, id.as_bytes());
        }
        m.remove("tctoken", b"x");
        let bytes = m.encode_json("file_persistence");
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            concat!(
                r#"{"backend":"file_persistence","key_index":{"#,
                r#""app-state-sync-key":["AAAA"],"device-list":["d"],"#,
                r#""session":["a\"q\\\u0001/é","b.0"],"tctoken":[]},"version":1}"#
            )
        );
        assert_eq!(decode_json(&bytes, "file_persistence"), Ok(Some(m)));
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
