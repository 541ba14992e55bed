//! A refused manifest is remembered by its bytes: every call reads the
//! manifest, but the same refused bytes are not decoded again. Only a refusal
//! that a new atom could lift is decoded afresh each time.

use std::cell::Cell;

use baileys_ex_core::bigint::BigInt;
use baileys_ex_core::error::{Error, MetadataError};
use baileys_ex_core::etf;
use baileys_ex_core::fs::RealFs;
use baileys_ex_core::layout::ETF;
use baileys_ex_core::manifest::AtomTable;
use baileys_ex_core::store::Store;
use baileys_ex_core::value::Value;

/// Knows a fixed set of atoms and counts the questions, one per atom in
/// each decoded manifest.
struct CountingAtoms {
    known: &'static [&'static str],
    asked: Cell<usize>,
}

impl AtomTable for CountingAtoms {
    fn exists(&self, name: &str) -> bool {
        self.asked.set(self.asked.get() + 1);
        self.known.contains(&name)
    }
}

fn manifest_with_version(version: Value) -> Vec<u8> {
    etf::encode_value(&Value::Map(vec![
        (
            Value::binary(*b"backend"),
            Value::binary(ETF.backend_id.as_bytes()),
        ),
        (Value::binary(*b"key_index"), Value::Map(vec![])),
        (Value::binary(*b"version"), version),
    ]))
    .unwrap()
}

#[test]
fn the_same_refused_bytes_are_not_decoded_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let atoms = CountingAtoms {
        known: &["two", "three"],
        asked: Cell::new(0),
    };
    let store = Store {
        spec: &ETF,
        fs: &RealFs,
        atoms: &atoms,
    };
    let manifest = dir.join(ETF.manifest_file);
    // A version that is an atom: the original reports the backend.
    std::fs::write(&manifest, manifest_with_version(Value::atom("two"))).unwrap();
    for _ in 0..3 {
        assert!(matches!(
            store.load_key(dir, "session", b"1"),
            Err(Error::Metadata(MetadataError::UnexpectedBackend(_)))
        ));
    }
    assert_eq!(atoms.asked.get(), 1, "decoded once for three calls");

    // New bytes are decoded, and then remembered in turn.
    std::fs::write(&manifest, manifest_with_version(Value::atom("three"))).unwrap();
    for _ in 0..2 {
        assert!(store.save_key(dir, "session", b"1", b"v").is_err());
    }
    assert_eq!(atoms.asked.get(), 2);
    assert!(
        !dir.join("session-1.etf").exists(),
        "a refused manifest stops the save"
    );

    // An atom this VM lacks could exist by the next call: decoded each time.
    std::fs::write(&manifest, manifest_with_version(Value::atom("four"))).unwrap();
    for _ in 0..2 {
        assert!(matches!(
            store.load_key(dir, "session", b"1"),
            Err(Error::Metadata(MetadataError::InvalidEtf(_)))
        ));
    }
    assert_eq!(atoms.asked.get(), 4);
}

#[test]
fn a_huge_version_is_refused_with_its_value_again_and_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let store = Store {
        spec: &ETF,
        fs: &RealFs,
        atoms: &baileys_ex_core::manifest::AnyAtom,
    };
    // A 1 MiB integer: decoding it costs a copy, and the refusal carries it.
    let digits: Vec<u8> = (0..1u32 << 20).map(|i| (i % 253) as u8 | 2).collect();
    let version = Value::BigInteger(BigInt::from_le_bytes(false, &digits));
    std::fs::write(
        dir.join(ETF.manifest_file),
        manifest_with_version(version.clone()),
    )
    .unwrap();
    for _ in 0..3 {
        match store.load_key(dir, "session", b"1") {
            Err(Error::Metadata(MetadataError::UnsupportedVersion(v))) => {
                assert!(v == version, "the refusal carries the version")
            }
            other => panic!("expected an unsupported version, got {:?}", other.is_ok()),
        }
    }
}
