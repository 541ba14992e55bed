//! Property tests: every codec round-trips the terms BaileysEx stores, and
//! arbitrary bytes, JSON or terms give results or errors, never panics.

use proptest::prelude::*;

use super::sender_key::sender_message_key;
use super::structs;
use super::term::{atom_map, make_struct};
use super::{decode_credentials, decode_key, encode_credentials, encode_key};

use crate::bigint::BigInt;
use crate::value::{OpaqueKind, Value};

const KEY_TYPES: [&str; 11] = [
    "session",
    "pre-key",
    "sender-key",
    "sender-key-memory",
    "app-state-sync-key",
    "app-state-sync-version",
    "lid-mapping",
    "device-list",
    "tctoken",
    "identity-key",
    "something-else",
];

/// Order-insensitive form of a term for comparisons.
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

fn json_eq(a: &[u8], b: &[u8]) -> bool {
    let a: serde_json::Value = serde_json::from_slice(a).expect("our output is JSON");
    let b: serde_json::Value = serde_json::from_slice(b).expect("our output is JSON");
    a == b
}

fn bin() -> impl Strategy<Value = Value> {
    prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Binary)
}

fn opt_bin() -> impl Strategy<Value = Value> {
    prop_oneof![Just(Value::nil()), bin()]
}

fn int() -> impl Strategy<Value = Value> {
    any::<i64>().prop_map(Value::Integer)
}

fn opt_int() -> impl Strategy<Value = Value> {
    prop_oneof![Just(Value::nil()), int()]
}

fn text() -> impl Strategy<Value = Value> {
    any::<String>().prop_map(|s| Value::binary(s.into_bytes()))
}

fn opt_text() -> impl Strategy<Value = Value> {
    prop_oneof![Just(Value::nil()), text()]
}

fn boolean() -> impl Strategy<Value = Value> {
    any::<bool>().prop_map(Value::boolean)
}

fn float() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::num::f64::NORMAL.prop_map(Value::Float),
        Just(Value::Float(0.0)),
        Just(Value::Float(1.0e20)),
    ]
}

fn big() -> impl Strategy<Value = Value> {
    ("-?", "[1-9][0-9]{19,30}").prop_map(|(sign, digits)| {
        Value::BigInteger(BigInt::from_decimal(&format!("{sign}{digits}")).unwrap())
    })
}

/// Keys that the json-safe reader cannot mistake for a Buffer tag or a
/// numeric byte map.
fn safe_key() -> impl Strategy<Value = String> {
    "[a-z_é📱]{1,8}".prop_filter("not a Buffer tag or legacy marker", |k| {
        k != "type" && !k.starts_with("__")
    })
}

fn json_safe() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::nil()),
        boolean(),
        int(),
        big(),
        float(),
        bin(),
        text(),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            prop::collection::btree_map(safe_key(), inner, 0..4).prop_map(|m| {
                Value::Map(
                    m.into_iter()
                        .map(|(k, v)| (Value::binary(k.into_bytes()), v))
                        .collect(),
                )
            }),
        ]
    })
}

fn key_pair() -> impl Strategy<Value = Value> {
    (opt_bin(), opt_bin())
        .prop_map(|(private, public)| atom_map(vec![("private", private), ("public", public)]))
}

fn direction() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::nil()),
        Just(Value::atom("sending")),
        Just(Value::atom("receiving"))
    ]
}

fn binary_keyed<S: Strategy<Value = Value>>(values: S) -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::collection::vec(any::<u8>(), 0..34), values, 0..3)
        .prop_map(|m| Value::Map(m.into_iter().map(|(k, v)| (Value::Binary(k), v)).collect()))
}

fn chain() -> impl Strategy<Value = Value> {
    (
        opt_int(),
        opt_bin(),
        direction(),
        prop::collection::btree_map(any::<i64>(), bin(), 0..4),
    )
        .prop_map(|(counter, key, chain_type, keys)| {
            atom_map(vec![
                (
                    "chain_key",
                    atom_map(vec![("counter", counter), ("key", key)]),
                ),
                ("chain_type", chain_type),
                (
                    "message_keys",
                    Value::Map(
                        keys.into_iter()
                            .map(|(k, v)| (Value::Integer(k), v))
                            .collect(),
                    ),
                ),
            ])
        })
}

fn session_entry() -> impl Strategy<Value = Value> {
    (
        binary_keyed(chain()),
        prop_oneof![Just(Value::nil()), key_pair()],
        opt_bin(),
        opt_int(),
        opt_bin(),
        (opt_bin(), direction(), opt_int(), opt_bin(), opt_bin()),
        prop_oneof![
            Just(Value::nil()),
            (opt_bin(), opt_int(), opt_int()).prop_map(|(b, p, s)| atom_map(vec![
                ("base_key", b),
                ("pre_key_id", p),
                ("signed_pre_key_id", s)
            ]))
        ],
        int(),
    )
        .prop_map(
            |(chains, ekp, lre, pc, rk, (bk, bkt, closed, lik, rik), pending, reg)| {
                atom_map(vec![
                    ("chains", chains),
                    (
                        "current_ratchet",
                        atom_map(vec![
                            ("ephemeral_key_pair", ekp),
                            ("last_remote_ephemeral", lre),
                            ("previous_counter", pc),
                            ("root_key", rk),
                        ]),
                    ),
                    (
                        "index_info",
                        atom_map(vec![
                            ("base_key", bk),
                            ("base_key_type", bkt),
                            ("closed", closed),
                            ("local_identity_key", lik),
                            ("remote_identity_key", rik),
                        ]),
                    ),
                    ("pending_pre_key", pending),
                    ("registration_id", reg),
                ])
            },
        )
}

fn session_record() -> impl Strategy<Value = Value> {
    binary_keyed(session_entry())
        .prop_map(|s| make_struct(structs::SESSION_RECORD, vec![("sessions", s)]))
}

fn sender_key_record() -> impl Strategy<Value = Value> {
    let state = (
        int(),
        int(),
        prop::collection::vec(any::<u8>(), 0..33),
        key_pair(),
        prop::collection::vec((int(), prop::collection::vec(any::<u8>(), 0..33)), 0..3),
    )
        .prop_map(|(id, iteration, seed, signing, keys)| {
            make_struct(
                structs::SENDER_KEY_STATE,
                vec![
                    ("sender_key_id", id),
                    (
                        "sender_chain_key",
                        make_struct(
                            structs::SENDER_CHAIN_KEY,
                            vec![("iteration", iteration), ("seed", Value::Binary(seed))],
                        ),
                    ),
                    ("sender_signing_key", signing),
                    (
                        "sender_message_keys",
                        Value::List(
                            keys.into_iter()
                                .map(|(i, s)| sender_message_key(i, s))
                                .collect(),
                        ),
                    ),
                ],
            )
        });
    prop::collection::vec(state, 0..3).prop_map(|states| {
        make_struct(
            structs::SENDER_KEY_RECORD,
            vec![("sender_key_states", Value::List(states))],
        )
    })
}

fn app_state_sync_version() -> impl Strategy<Value = Value> {
    (
        bin(),
        prop::collection::btree_map(any::<String>(), bin(), 0..4),
        prop_oneof![int(), Just(Value::nil())],
    )
        .prop_map(|(hash, index, version)| {
            atom_map(vec![
                ("hash", hash),
                (
                    "index_value_map",
                    Value::Map(
                        index
                            .into_iter()
                            .map(|(k, v)| {
                                (
                                    Value::binary(k.into_bytes()),
                                    atom_map(vec![("value_mac", v)]),
                                )
                            })
                            .collect(),
                    ),
                ),
                ("version", version),
            ])
        })
}

/// A json-safe key value; nil is left out because a saved nil reads back as
/// a missing key (the file holds `null`).
fn stored_json_safe() -> impl Strategy<Value = Value> {
    json_safe().prop_filter("nil reads back as not found", |v| !v.is_nil())
}

/// A key type with a term of the shape BaileysEx stores for it.
fn key_value() -> impl Strategy<Value = (&'static str, Value)> {
    prop_oneof![
        session_record().prop_map(|v| ("session", v)),
        key_pair().prop_map(|v| ("pre-key", v)),
        sender_key_record().prop_map(|v| ("sender-key", v)),
        stored_json_safe().prop_map(|v| ("sender-key-memory", v)),
        stored_json_safe().prop_map(|v| ("lid-mapping", v)),
        stored_json_safe().prop_map(|v| ("device-list", v)),
        stored_json_safe().prop_map(|v| ("something-else", v)),
        bin().prop_map(|v| ("app-state-sync-key", v)),
        bin().prop_map(|v| ("app-state-sync-key", atom_map(vec![("key_data", v)]))),
        app_state_sync_version().prop_map(|v| ("app-state-sync-version", v)),
        (json_safe(), json_safe(), json_safe()).prop_map(|(t, k, s)| (
            "tctoken",
            atom_map(vec![
                ("timestamp", t),
                ("token", k),
                ("sender_timestamp", s)
            ])
        )),
        bin().prop_map(|v| ("identity-key", v)),
        prop::collection::btree_map(any::<String>(), bin(), 0..3).prop_map(|m| (
            "identity-key",
            Value::Map(
                m.into_iter()
                    .map(|(k, v)| (Value::binary(k.into_bytes()), v))
                    .collect()
            )
        )),
    ]
}

fn me() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::nil()),
        (
            opt_text(),
            opt_text(),
            prop::collection::btree_map("x[a-z]{0,4}", json_safe(), 0..2)
        )
            .prop_map(|(id, name, extra)| {
                let mut entries = vec![(Value::atom("id"), id), (Value::atom("name"), name)];
                entries.extend(
                    extra
                        .into_iter()
                        .map(|(k, v)| (Value::binary(k.into_bytes()), v)),
                );
                Value::Map(entries)
            }),
    ]
}

fn history_message() -> impl Strategy<Value = Value> {
    (
        (opt_text(), opt_text(), opt_text(), opt_text(), opt_text()),
        boolean(),
        prop_oneof![
            Just(Value::nil()),
            Just(Value::atom("pn")),
            Just(Value::atom("lid"))
        ],
        opt_int(),
        int(),
    )
        .prop_map(|((id, p, pa, rj, rja), from_me, mode, server_id, ts)| {
            atom_map(vec![
                (
                    "key",
                    atom_map(vec![
                        ("id", id),
                        ("participant", p),
                        ("participant_alt", pa),
                        ("remote_jid", rj),
                        ("remote_jid_alt", rja),
                        ("from_me", from_me),
                        ("addressing_mode", mode),
                        ("server_id", server_id),
                    ]),
                ),
                ("message_timestamp", ts),
            ])
        })
}

fn signal_identity() -> impl Strategy<Value = Value> {
    (int(), text(), bin()).prop_map(|(device_id, name, key)| {
        atom_map(vec![
            (
                "identifier",
                atom_map(vec![("device_id", device_id), ("name", name)]),
            ),
            ("identifier_key", key),
        ])
    })
}

fn state() -> impl Strategy<Value = Value> {
    let account = prop_oneof![
        Just(Value::nil()),
        (bin(), bin(), bin(), bin()).prop_map(|(a, b, c, d)| make_struct(
            structs::ADV_SIGNED_DEVICE_IDENTITY,
            vec![
                ("details", a),
                ("account_signature_key", b),
                ("account_signature", c),
                ("device_signature", d)
            ]
        )),
    ];
    let settings = (
        boolean(),
        prop_oneof![
            Just(Value::nil()),
            prop::collection::btree_map(safe_key(), json_safe(), 1..3).prop_map(|m| Value::Map(
                m.into_iter()
                    .map(|(k, v)| (Value::binary(k.into_bytes()), v))
                    .collect()
            ))
        ],
    )
        .prop_map(|(u, d)| {
            atom_map(vec![
                ("unarchive_chats", u),
                ("default_disappearing_mode", d),
            ])
        });
    let signed_pre_key = (int(), key_pair(), opt_bin()).prop_map(|(id, kp, sig)| {
        atom_map(vec![("key_id", id), ("key_pair", kp), ("signature", sig)])
    });
    (
        (
            account,
            settings,
            int(),
            prop_oneof![Just(Value::nil()), json_safe()],
            opt_text(),
            int(),
        ),
        (
            opt_int(),
            prop_oneof![Just(Value::nil()), json_safe()],
            me(),
            opt_text(),
            int(),
            key_pair(),
        ),
        (
            opt_text(),
            prop_oneof![Just(Value::nil()), key_pair()],
            opt_text(),
        ),
        (
            prop::collection::vec(history_message(), 0..3),
            boolean(),
            int(),
            opt_bin(),
            prop::collection::vec(signal_identity(), 0..3),
            key_pair(),
            signed_pre_key,
        ),
    )
        .prop_map(|(a, b, c, d)| {
            make_struct(
                structs::STATE,
                vec![
                    ("account", a.0),
                    ("account_settings", a.1),
                    ("account_sync_counter", a.2),
                    ("additional_data", a.3),
                    ("adv_secret_key", a.4),
                    ("first_unuploaded_pre_key_id", a.5),
                    ("last_account_sync_timestamp", b.0),
                    ("last_prop_hash", b.1),
                    ("me", b.2),
                    ("my_app_state_key_id", b.3),
                    ("next_pre_key_id", b.4),
                    ("noise_key", b.5),
                    ("pairing_code", c.0),
                    ("pairing_ephemeral_key", c.1),
                    ("platform", c.2),
                    ("processed_history_messages", Value::List(d.0)),
                    ("registered", d.1),
                    ("registration_id", d.2),
                    ("routing_info", d.3),
                    ("signal_identities", Value::List(d.4)),
                    ("signed_identity_key", d.5),
                    ("signed_pre_key", d.6),
                ],
            )
        })
}

/// Any term at all, including what no BaileysEx data contains.
fn any_value() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "nil",
        "true",
        "false",
        "sending",
        "receiving",
        "pn",
        "lid",
        "key_data",
        "private",
        "public",
        "__struct__",
        "sessions",
        "sender_key_states",
        "iteration",
        "seed",
        "value_mac",
        "hash",
        "Elixir.BaileysEx.Signal.SessionRecord",
        "Elixir.BaileysEx.Signal.Group.SenderKeyRecord",
        "Elixir.BaileysEx.Signal.Group.SenderKeyState",
        "Elixir.BaileysEx.Auth.State",
        "weird atom",
    ]);
    let leaf = prop_oneof![
        names.prop_map(Value::atom),
        int(),
        big(),
        any::<f64>().prop_map(Value::Float),
        bin(),
        text(),
        Just(Value::BigInteger(BigInt::from_le_bytes(
            false,
            &[0xFF; 5_000]
        ))),
        prop::sample::select(vec![
            OpaqueKind::Pid,
            OpaqueKind::Port,
            OpaqueKind::Reference,
            OpaqueKind::Function,
            OpaqueKind::Bitstring
        ])
        .prop_map(Value::Opaque),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::List),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Tuple),
            prop::collection::vec((inner.clone(), inner), 0..5).prop_map(Value::Map),
        ]
    })
}

/// JSON text built from the words the decoders look for.
fn any_json() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "type",
        "Buffer",
        "data",
        "sessions",
        "chains",
        "chain_key",
        "message_keys",
        "current_ratchet",
        "index_info",
        "pending_pre_key",
        "__type__",
        "__atom_keys__",
        "struct",
        "map",
        "tuple",
        "atom",
        "module",
        "value",
        "entries",
        "items",
        "key_data",
        "hash",
        "index_value_map",
        "value_mac",
        "sender_key_states",
        "sender_chain_key",
        "sender_message_keys",
        "sender_signing_key",
        "seed",
        "iteration",
        "private",
        "public",
        "senderTimestamp",
        "token",
        "account",
        "details",
        "account_signature",
        "me",
        "noise_key",
        "signed_pre_key",
        "key_pair",
        "signal_identities",
        "identifier",
        "identifier_key",
        "processed_history_messages",
        "key",
        "addressing_mode",
        "account_settings",
        "chain_type",
        "sending",
        "pn",
        "0",
        "1",
        "AAEC/w==",
        "!!",
        "Elixir.BaileysEx.Auth.State",
        "Elixir.BaileysEx.Signal.SessionRecord",
        "Elixir.BaileysEx.Signal.Group.SenderKeyRecord",
        "Elixir.BaileysEx.Signal.Group.SenderKeyState",
        "Elixir.BaileysEx.Signal.Group.SenderChainKey",
        "Elixir.BaileysEx.Protocol.Proto.MessageKey",
    ]);
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        any::<i32>().prop_map(|n| n.to_string()),
        Just("300".to_owned()),
        Just("1.5e3".to_owned()),
        Just("123456789012345678901234567890".to_owned()),
        words.clone().prop_map(|w| format!("{w:?}")),
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((words.clone(), inner), 0..6).prop_map(|entries| {
                let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

proptest! {
    // 256 cases unless PROPTEST_CASES says otherwise.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn keys_round_trip_value_json_value((key_type, value) in key_value()) {
        let bytes = encode_key(key_type, &value).expect("encodes");
        let back = decode_key(key_type, &bytes).expect("decodes");
        prop_assert_eq!(normalise(&back), normalise(&value));
    }

    #[test]
    fn keys_round_trip_json_value_json((key_type, value) in key_value()) {
        let first = encode_key(key_type, &value).expect("encodes");
        let term = decode_key(key_type, &first).expect("decodes");
        let second = encode_key(key_type, &term).expect("re-encodes");
        prop_assert!(json_eq(&first, &second));
    }

    #[test]
    fn creds_round_trip(state in state()) {
        let first = encode_credentials(&state).expect("encodes");
        let back = decode_credentials(&first).expect("decodes");
        prop_assert_eq!(normalise(&back), normalise(&state));
        let second = encode_credentials(&back).expect("re-encodes");
        prop_assert!(json_eq(&first, &second));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_credentials(&bytes);
        for key_type in KEY_TYPES {
            let _ = decode_key(key_type, &bytes);
        }
    }

    #[test]
    fn arbitrary_json_never_panics(text in any_json()) {
        let _ = decode_credentials(text.as_bytes());
        for key_type in KEY_TYPES {
            let _ = decode_key(key_type, text.as_bytes());
        }
    }

    #[test]
    fn arbitrary_terms_never_panic(value in any_value()) {
        for key_type in KEY_TYPES {
            let _ = encode_key(key_type, &value);
        }
        let _ = super::validate_additional_data(&value);
    }

    #[test]
    fn arbitrary_state_fields_never_panic(state in state(), field in 0usize..22, junk in any_value()) {
        let Value::Map(mut entries) = state else { unreachable!() };
        entries[field + 1].1 = junk;
        let state = Value::Map(entries);
        if let Ok(bytes) = encode_credentials(&state) {
            let _ = decode_credentials(&bytes);
        }
    }

    #[test]
    fn mangled_encodings_never_panic((key_type, value) in key_value(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = encode_key(key_type, &value).expect("encodes");
        let i = cut.index(bytes.len());
        bytes[i] = byte;
        let _ = decode_key(key_type, &bytes);
        bytes.truncate(i);
        let _ = decode_key(key_type, &bytes);
    }
}
