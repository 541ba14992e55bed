//! Golden tests of the JSON codecs against files written by the original
//! backend (test/fixtures/set_a): every file decodes to exactly the term the
//! original returns, and replaying the recorded saves writes equal JSON.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use baileys_ex_core::etf::decode_value;
use baileys_ex_core::json::{self, JsonError};
use baileys_ex_core::value::Value;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures/set_a")
}

fn read_etf(name: &str) -> Value {
    let bytes = std::fs::read(fixture_dir().join(name)).expect("fixture readable");
    decode_value(&bytes).expect("fixture is valid ETF")
}

/// A copy with every map's entries sorted, so maps compare regardless of
/// entry order.
fn normalise(v: &Value) -> Value {
    match v {
        Value::List(items) => Value::List(items.iter().map(normalise).collect()),
        Value::Tuple(items) => Value::Tuple(items.iter().map(normalise).collect()),
        Value::Map(entries) => {
            let mut sorted: Vec<(Value, Value)> = entries
                .iter()
                .map(|(k, v)| (normalise(k), normalise(v)))
                .collect();
            sorted.sort_by_key(|(k, _)| format!("{k:?}"));
            Value::Map(sorted)
        }
        other => other.clone(),
    }
}

fn assert_same(context: &str, actual: &Value, expected: &Value) {
    let (a, e) = (normalise(actual), normalise(expected));
    assert!(
        a == e,
        "{context}: decoded term differs\n actual: {a:?}\n expected: {e:?}"
    );
}

fn get<'a>(map: &'a Value, key: &str) -> &'a Value {
    map.get_atom_key(key)
        .unwrap_or_else(|| panic!("fixture term has no :{key}"))
}

fn text(v: &Value) -> String {
    match v {
        Value::Binary(b) => String::from_utf8(b.clone()).expect("utf-8 id"),
        Value::Atom(a) => a.clone(),
        other => panic!("not a name: {other:?}"),
    }
}

/// The original's file name for a key: `<type>-<id>.json`, `/` -> `__`, `:` -> `-`.
fn file_name(key_type: &str, id: &str) -> String {
    format!("{key_type}-{id}.json")
        .replace('/', "__")
        .replace(':', "-")
}

/// `{type, id} => value` pairs of a fixture's `keys` map.
fn key_entries(keys: &Value) -> Vec<(String, String, &Value)> {
    let Value::Map(entries) = keys else {
        panic!("keys is not a map")
    };
    entries
        .iter()
        .map(|(k, v)| match k {
            Value::Tuple(parts) if parts.len() == 2 => (text(&parts[0]), text(&parts[1]), v),
            other => panic!("unexpected key {other:?}"),
        })
        .collect()
}

fn check_dir(dir: &str, expected: &Value) -> usize {
    let root = fixture_dir().join(dir);
    let creds = std::fs::read(root.join("creds.json")).unwrap();
    let decoded = json::decode_credentials(&creds).expect("creds decode");
    assert_same(
        &format!("{dir}/creds.json"),
        &decoded,
        get(expected, "creds"),
    );

    let mut covered = vec!["creds.json".to_owned()];
    for (key_type, id, value) in key_entries(get(expected, "keys")) {
        let name = file_name(&key_type, &id);
        let bytes = std::fs::read(root.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let decoded =
            json::decode_key(&key_type, &bytes).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_same(&format!("{dir}/{name}"), &decoded, value);
        covered.push(name);
    }
    // Every data file of the directory is checked.
    for entry in std::fs::read_dir(&root).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".json") && !name.starts_with('.') {
            assert!(covered.contains(&name), "{dir}/{name} has no expected term");
        }
    }
    covered.len()
}

#[test]
fn json_dir_decodes_to_what_the_original_returns() {
    let expected = read_etf("expected_json.etf");
    assert_eq!(check_dir("json", &expected), 25);
}

#[test]
fn legacy_dir_decodes_to_what_the_original_returns() {
    let expected = read_etf("expected_legacy.etf");
    assert_eq!(check_dir("json_legacy", &expected), 13);
}

fn as_json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}

#[test]
fn replaying_the_saves_writes_equal_json() {
    let ops = read_etf("ops.etf");
    let Value::List(ops) = ops else {
        panic!("ops is a list")
    };
    let mut written: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for op in &ops {
        let Value::Tuple(parts) = op else {
            panic!("op is a tuple")
        };
        match text(&parts[0]).as_str() {
            "creds" => {
                let bytes = json::encode_credentials(&parts[1]).expect("creds encode");
                written.insert("creds.json".into(), bytes);
            }
            "save" => {
                let (key_type, id) = (text(&parts[1]), text(&parts[2]));
                let bytes = json::encode_key(&key_type, &parts[3])
                    .unwrap_or_else(|e| panic!("{key_type} {id}: {e:?}"));
                written.insert(file_name(&key_type, &id), bytes);
            }
            "delete" => {
                written.remove(&file_name(&text(&parts[1]), &text(&parts[2])));
            }
            other => panic!("unknown op {other}"),
        }
    }
    let root = fixture_dir().join("json");
    let mut on_disk = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".json") || name.starts_with('.') {
            continue;
        }
        on_disk += 1;
        let ours = written
            .get(&name)
            .unwrap_or_else(|| panic!("{name} was not written"));
        let theirs = std::fs::read(root.join(&name)).unwrap();
        assert_eq!(as_json(ours), as_json(&theirs), "{name}");
        // Not just equal JSON: the same bytes, key order and escapes included.
        assert!(*ours == theirs, "{name}: same JSON, other bytes");
    }
    assert_eq!(on_disk, written.len());
}

#[test]
fn written_files_read_back_like_the_originals() {
    // What we write decodes to the same term as what the original wrote.
    let expected = read_etf("expected_json.etf");
    let ops = read_etf("ops.etf");
    let Value::List(ops) = ops else { panic!() };
    for op in &ops {
        let Value::Tuple(parts) = op else { panic!() };
        if text(&parts[0]) == "creds" {
            let bytes = json::encode_credentials(&parts[1]).unwrap();
            let back = json::decode_credentials(&bytes).unwrap();
            assert_same("creds", &back, get(&expected, "creds"));
        }
    }
}

/// The fixture's saved state with one field replaced.
fn state_with(field: &str, data: Value) -> Value {
    let ops = read_etf("ops.etf");
    let Value::List(ops) = ops else { panic!() };
    let Value::Tuple(parts) = &ops[0] else {
        panic!()
    };
    let Value::Map(entries) = &parts[1] else {
        panic!()
    };
    let mut entries = entries.clone();
    let slot = entries
        .iter_mut()
        .find(|(k, _)| matches!(k, Value::Atom(a) if a == field))
        .expect("state field");
    slot.1 = data;
    Value::Map(entries)
}

fn state_with_additional_data(data: Value) -> Value {
    state_with("additional_data", data)
}

#[test]
fn deep_additional_data_is_an_error_not_a_stack_overflow() {
    let mut deep = Value::nil();
    for _ in 0..100_000 {
        deep = Value::List(vec![deep]);
    }
    let state = state_with_additional_data(deep);
    assert!(matches!(
        json::encode_credentials(&state),
        Err(JsonError::TooDeep)
    ));
    assert!(matches!(
        json::encode_key("device-list", &state),
        Err(JsonError::TooDeep)
    ));
    json::dispose(state);
}

#[test]
fn deep_json_files_are_errors_not_stack_overflows() {
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    assert!(matches!(
        json::decode_credentials(deep.as_bytes()),
        Err(JsonError::TooDeep)
    ));
    for key_type in ["session", "device-list", "sender-key", "tctoken", "unknown"] {
        assert!(matches!(
            json::decode_key(key_type, deep.as_bytes()),
            Err(JsonError::TooDeep)
        ));
    }
    let deep_creds = format!(
        "{{\"additional_data\":{}}}",
        "{\"a\":".repeat(100_000) + "1" + &"}".repeat(100_000)
    );
    assert!(matches!(
        json::decode_credentials(deep_creds.as_bytes()),
        Err(JsonError::TooDeep)
    ));
}

#[test]
fn invalid_additional_data_is_refused_before_writing() {
    let state =
        state_with_additional_data(Value::Map(vec![(Value::atom("labels"), Value::Integer(1))]));
    match json::encode_credentials(&state) {
        Err(JsonError::InvalidAdditionalData(m)) => assert_eq!(
            m,
            "additional_data contains a atom (:labels) map key at path [:additional_data]; only string keys are supported"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn null_documents_read_as_missing() {
    assert!(matches!(
        json::decode_credentials(b"null"),
        Err(JsonError::Null)
    ));
    assert!(matches!(
        json::decode_key("session", b" null "),
        Err(JsonError::Null)
    ));
}

#[test]
fn non_map_credentials_are_errors() {
    assert!(matches!(
        json::decode_credentials(b"[1]"),
        Err(JsonError::Unsupported(_))
    ));
    assert!(matches!(
        json::decode_credentials(b"\"x\""),
        Err(JsonError::Unsupported(_))
    ));
    let legacy_tuple = br#"{"__type__":"tuple","items":[]}"#;
    assert!(matches!(
        json::decode_credentials(legacy_tuple),
        Err(JsonError::Unsupported(_))
    ));
}

/// Dirty scheduler threads have stacks of a few hundred KiB: the deepest
/// documents and terms the limits allow must fit well inside that.
#[test]
fn deepest_allowed_inputs_fit_a_small_stack() {
    use baileys_ex_core::json::limits::{MAX_JSON_DEPTH, MAX_VALUE_DEPTH};
    let mut deep = Value::nil();
    for _ in 0..MAX_VALUE_DEPTH - 1 {
        deep = Value::List(vec![deep]);
    }
    let state = state_with_additional_data(deep);
    let mut deepest = Value::nil();
    for _ in 0..MAX_VALUE_DEPTH {
        deepest = Value::List(vec![deepest]);
    }
    let worker = std::thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(move || {
            let arrays = "[".repeat(MAX_JSON_DEPTH) + &"]".repeat(MAX_JSON_DEPTH);
            let v = json::decode_key("device-list", arrays.as_bytes()).expect("allowed depth");
            json::dispose(v);
            let legacy = "{\"__type__\":\"tuple\",\"items\":[".repeat(MAX_JSON_DEPTH / 2)
                + &"]}".repeat(MAX_JSON_DEPTH / 2);
            let v = json::decode_key("lid-mapping", legacy.as_bytes()).expect("allowed depth");
            json::dispose(v);
            let entries = "{\"__type__\":\"map\",\"entries\":[[[".repeat(MAX_JSON_DEPTH / 4)
                + "1"
                + &"],2]]}".repeat(MAX_JSON_DEPTH / 4);
            let v =
                json::decode_key("sender-key-memory", entries.as_bytes()).expect("allowed depth");
            json::dispose(v);

            let bytes = json::encode_key("device-list", &deepest).expect("allowed depth");
            json::dispose(deepest);
            let back = json::decode_key("device-list", &bytes).expect("reads back");
            json::dispose(back);

            let bytes = json::encode_credentials(&state).expect("allowed depth");
            let back = json::decode_credentials(&bytes).expect("reads back");
            json::dispose(back);
            json::dispose(state);
        })
        .unwrap();
    worker.join().expect("no stack overflow");
}

#[test]
fn what_the_original_crashes_on_is_an_error() {
    // nil inside an ADVSignedDeviceIdentity
    let ops = read_etf("ops.etf");
    let Value::List(ops) = ops else { panic!() };
    let Value::Tuple(parts) = &ops[0] else {
        panic!()
    };
    let Value::Map(account) = parts[1].get_atom_key("account").unwrap().clone() else {
        panic!()
    };
    let account: Vec<(Value, Value)> = account
        .into_iter()
        .map(|(k, v)| {
            if matches!(&k, Value::Atom(a) if a == "details") {
                (k, Value::nil())
            } else {
                (k, v)
            }
        })
        .collect();
    let state = state_with("account", Value::Map(account));
    assert!(matches!(
        json::encode_credentials(&state),
        Err(JsonError::Unsupported(_))
    ));

    // a raw string field that is not UTF-8
    let state = state_with("adv_secret_key", Value::Binary(vec![0xff, 0xfe]));
    assert!(matches!(
        json::encode_credentials(&state),
        Err(JsonError::Unsupported(_))
    ));
    // ... unless a codec error comes first, as the original encodes raw fields last
    let state = state_with("adv_secret_key", Value::Binary(vec![0xff]));
    let Value::Map(mut entries) = state else {
        panic!()
    };
    for (k, v) in entries.iter_mut() {
        if matches!(k, Value::Atom(a) if a == "me") {
            *v = Value::atom("oops");
        }
    }
    match json::encode_credentials(&Value::Map(entries)) {
        Err(JsonError::Argument(m)) => {
            assert_eq!(
                m,
                "unsupported atom in compatibility JSON persistence: :oops"
            )
        }
        other => panic!("{other:?}"),
    }

    // an account object without its buffers reads as an ArgumentError
    let creds = std::fs::read(fixture_dir().join("json/creds.json")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_slice(&creds).unwrap();
    doc["account"]
        .as_object_mut()
        .unwrap()
        .remove("device_signature");
    let bytes = serde_json::to_vec(&doc).unwrap();
    match json::decode_credentials(&bytes) {
        Err(JsonError::Argument(m)) => {
            assert_eq!(m, "invalid buffer encoding in compatibility JSON: nil")
        }
        other => panic!("{other:?}"),
    }
}
