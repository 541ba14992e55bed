//! Every atom in the files BaileysEx wrote (test/fixtures/set_a), and in what
//! the JSON codecs make of them, is in `auth_vocabulary`: the set the NIF
//! creates when it loads, without which a fresh VM could not decode them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use baileys_ex_core::etf::decode_value;
use baileys_ex_core::json;
use baileys_ex_core::layout::JSON;
use baileys_ex_core::value::Value;
use baileys_ex_core::vocabulary::auth_vocabulary;

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../test/fixtures/set_a")
        .join(name)
}

/// Every file of a fixture directory, with its name.
fn files(dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixture_dir(dir))
        .expect("fixture directory readable")
        .map(|entry| {
            let entry = entry.expect("directory entry");
            let name = entry.file_name().into_string().expect("UTF-8 name");
            let bytes = std::fs::read(entry.path()).expect("fixture readable");
            (name, bytes)
        })
        .collect();
    out.sort();
    out
}

fn collect_atoms(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Atom(name) => {
            out.insert(name.clone());
        }
        Value::List(items) | Value::Tuple(items) => {
            items.iter().for_each(|item| collect_atoms(item, out));
        }
        Value::Map(entries) => {
            for (key, item) in entries {
                collect_atoms(key, out);
                collect_atoms(item, out);
            }
        }
        _ => {}
    }
}

/// Atoms of the decoded JSON files of `dir`, each decoded as its key type.
fn json_atoms(dir: &str, out: &mut BTreeSet<String>) -> usize {
    let mut decoded = 0;
    for (name, bytes) in files(dir) {
        let value = if name == JSON.creds_file {
            json::decode_credentials(&bytes)
        } else if let Some(key_type) = JSON.scan_entries([name.as_bytes()]).into_keys().next() {
            json::decode_key(key_type, &bytes)
        } else {
            continue;
        };
        collect_atoms(
            &value.unwrap_or_else(|e| panic!("{dir}/{name}: {e:?}")),
            out,
        );
        decoded += 1;
    }
    decoded
}

#[test]
fn every_atom_in_the_fixtures_is_in_the_vocabulary() {
    let mut seen = BTreeSet::new();
    let etf = files("etf");
    for (name, bytes) in &etf {
        let value = decode_value(bytes).unwrap_or_else(|e| panic!("etf/{name}: {e:?}"));
        collect_atoms(&value, &mut seen);
    }
    assert!(etf.len() >= 25, "{} ETF files", etf.len());
    assert!(json_atoms("json", &mut seen) >= 25);
    assert!(json_atoms("json_legacy", &mut seen) >= 13);

    let vocabulary: BTreeSet<&str> = auth_vocabulary().collect();
    let missing: Vec<&String> = seen
        .iter()
        .filter(|atom| !["nil", "true", "false"].contains(&atom.as_str()))
        .filter(|atom| !vocabulary.contains(atom.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "atoms outside the vocabulary: {missing:?}"
    );
    // The walk reached the data: structs, their fields, both kinds of key.
    for atom in [
        "__struct__",
        "key_pair",
        "sender_timestamp",
        "ephemeral_expiration",
    ] {
        assert!(seen.contains(atom), "no {atom} in the fixtures");
    }
}
