//! The legacy tagged-term form older BaileysEx versions wrote, still read as a
//! fallback: `{"__type__":"struct"|"map"|"tuple"|"atom", ...}`, maps with an
//! `"__atom_keys__"` list, and Buffers whose data is a byte list.
//!
//! Atoms and struct modules come only from a fixed allow-list per key type,
//! as in the original: a name outside it is an error, never a new atom.

use super::buffer::{iolist_bytes, is_list_buffer};
use super::dedupe::dedupe_last_wins;
use super::errors::JsonError;
use super::fold::{fold, Step};
use super::inspect::inspect;
use super::limits::MAX_JSON_DEPTH;
use super::plain::{binary_str, inspect_json, plain, plain_scalar};
use super::structs::{self, fields_of};
use super::tree::Json;

use crate::value::Value;

/// The names one key type may turn into atoms and structs.
pub struct Context {
    atoms: &'static [&'static str],
    modules: &'static [&'static str],
}

const CREDENTIAL_ATOMS: &[&str] = &[
    // %State{} fields
    "account",
    "account_settings",
    "account_sync_counter",
    "additional_data",
    "adv_secret_key",
    "first_unuploaded_pre_key_id",
    "last_account_sync_timestamp",
    "last_prop_hash",
    "me",
    "my_app_state_key_id",
    "next_pre_key_id",
    "noise_key",
    "pairing_code",
    "pairing_ephemeral_key",
    "platform",
    "processed_history_messages",
    "registered",
    "registration_id",
    "routing_info",
    "signal_identities",
    "signed_identity_key",
    "signed_pre_key",
    // ADVSignedDeviceIdentity and MessageKey fields
    "details",
    "account_signature_key",
    "account_signature",
    "device_signature",
    "remote_jid",
    "from_me",
    "id",
    "participant",
    // nested credential maps
    "public",
    "private",
    "key_pair",
    "key_id",
    "signature",
    "identifier",
    "identifier_key",
    "name",
    "device_id",
    "lid",
    "key",
    "message_timestamp",
    "unarchive_chats",
    "default_disappearing_mode",
    "remote_jid_alt",
    "participant_alt",
    "addressing_mode",
    "server_id",
    "pn",
];

const SESSION_ATOMS: &[&str] = &[
    "sessions",
    "current_ratchet",
    "root_key",
    "ephemeral_key_pair",
    "public",
    "private",
    "last_remote_ephemeral",
    "previous_counter",
    "index_info",
    "remote_identity_key",
    "local_identity_key",
    "base_key",
    "base_key_type",
    "closed",
    "chains",
    "pending_pre_key",
    "registration_id",
    "chain_key",
    "counter",
    "key",
    "chain_type",
    "message_keys",
    "pre_key_id",
    "signed_pre_key_id",
    "sending",
    "receiving",
];

const SENDER_KEY_ATOMS: &[&str] = &[
    "sender_key_states",
    "sender_key_id",
    "sender_chain_key",
    "sender_signing_key",
    "sender_message_keys",
    "iteration",
    "seed",
    "iv",
    "cipher_key",
    "public",
    "private",
];

pub const CREDENTIALS: Context = Context {
    atoms: CREDENTIAL_ATOMS,
    modules: &[
        structs::STATE,
        structs::ADV_SIGNED_DEVICE_IDENTITY,
        structs::MESSAGE_KEY,
    ],
};

pub const SESSION: Context = Context {
    atoms: SESSION_ATOMS,
    modules: &[structs::SESSION_RECORD],
};

pub const SENDER_KEY: Context = Context {
    atoms: SENDER_KEY_ATOMS,
    modules: &[
        structs::SENDER_KEY_RECORD,
        structs::SENDER_KEY_STATE,
        structs::SENDER_CHAIN_KEY,
        structs::SENDER_MESSAGE_KEY,
    ],
};

pub const PRE_KEY: Context = Context {
    atoms: &["public", "private"],
    modules: &[],
};

pub const APP_STATE_SYNC_KEY: Context = Context {
    atoms: &["key_data"],
    modules: &[],
};

pub const APP_STATE_SYNC_VERSION: Context = Context {
    atoms: &["version", "hash", "index_value_map", "value_mac"],
    modules: &[],
};

pub const TCTOKEN: Context = Context {
    atoms: &["token", "timestamp"],
    modules: &[],
};

pub const EMPTY: Context = Context {
    atoms: &[],
    modules: &[],
};

/// Each key type's allow-list; other types get none.
const BY_KEY_TYPE: [(&str, &Context); 6] = [
    ("session", &SESSION),
    ("pre-key", &PRE_KEY),
    ("sender-key", &SENDER_KEY),
    ("app-state-sync-key", &APP_STATE_SYNC_KEY),
    ("app-state-sync-version", &APP_STATE_SYNC_VERSION),
    ("tctoken", &TCTOKEN),
];

/// The allow-list for a key type; unknown types get none.
pub fn context_for(key_type: &str) -> &'static Context {
    BY_KEY_TYPE
        .iter()
        .find(|(name, _)| *name == key_type)
        .map_or(&EMPTY, |(_, ctx)| *ctx)
}

/// Every atom and module name on any allow-list.
pub fn vocabulary() -> impl Iterator<Item = &'static str> {
    std::iter::once(&CREDENTIALS)
        .chain(BY_KEY_TYPE.iter().map(|(_, ctx)| *ctx))
        .flat_map(|ctx| ctx.atoms.iter().chain(ctx.modules).copied())
}

/// `legacy_encoded?/1`: the top level carries a legacy marker.
pub fn is_legacy(json: &Json) -> bool {
    json.get("__type__").is_some() || json.get("__atom_keys__").is_some() || is_list_buffer(json)
}

/// Legacy files may only name atoms and modules from a fixed list per key
/// type: anything else would grow the atom table from file data.
const HINT: &str = "it is not on the allow-list for this key type";

fn atom(ctx: &Context, name: &str) -> Result<Value, JsonError> {
    match ctx.atoms.iter().find(|a| **a == name) {
        Some(known) => Ok(Value::atom(known)),
        None => Err(JsonError::Argument(format!(
            "unknown persisted atom {}; {HINT}",
            inspect(&binary_str(name))
        ))),
    }
}

fn module(ctx: &Context, name: &Json) -> Result<&'static str, JsonError> {
    if let Json::Str(s) = name {
        if let Some(known) = ctx.modules.iter().find(|m| **m == s) {
            return Ok(known);
        }
    }
    Err(JsonError::Argument(format!(
        "unknown persisted module {}; {HINT}",
        inspect_json(name)
    )))
}

fn protocol_undefined(protocol: &str, json: &Json) -> JsonError {
    JsonError::Unsupported(format!(
        "protocol {protocol} not implemented for {}",
        inspect_json(json)
    ))
}

/// `struct(module, fields)` of a decoded term.
pub fn build_struct(module: &'static str, fields: Value) -> Result<Value, JsonError> {
    let names = fields_of(module)
        .ok_or_else(|| JsonError::Unsupported(format!("unknown struct {module}")))?;
    let pairs = match fields {
        Value::Map(entries) => {
            let as_map = Value::Map(entries);
            if as_map.struct_name().is_some() {
                return Err(JsonError::Unsupported(format!(
                    "protocol Enumerable not implemented for {}",
                    inspect(&as_map)
                )));
            }
            match as_map {
                Value::Map(entries) => entries,
                _ => Vec::new(),
            }
        }
        Value::List(items) => {
            let mut pairs = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Tuple(mut kv) if kv.len() == 2 => {
                        let v = kv.pop().unwrap_or_else(Value::nil);
                        let k = kv.pop().unwrap_or_else(Value::nil);
                        pairs.push((k, v));
                    }
                    other => {
                        return Err(JsonError::Unsupported(format!(
                            "no function clause matching in Kernel.struct/2 for {}",
                            inspect(&other)
                        )))
                    }
                }
            }
            pairs
        }
        other => {
            return Err(JsonError::Unsupported(format!(
                "protocol Enumerable not implemented for {}",
                inspect(&other)
            )))
        }
    };
    Ok(structs::build(module, names, pairs))
}

enum Fin {
    List,
    Tuple,
    Struct(&'static str),
    /// `{"__type__":"map"}`: children are key, value, key, value...; an
    /// entry of the wrong shape fails after the entries before it.
    Entries(Option<JsonError>),
    /// A plain object: decoded keys for the children; a key that is not an
    /// allowed atom fails after the values before it.
    Map(Vec<Value>, Option<JsonError>),
}

/// `decode_legacy_term/2`.
pub fn decode(json: &Json, ctx: &Context) -> Result<Value, JsonError> {
    fold(
        json,
        MAX_JSON_DEPTH + 1,
        |node: &Json| -> Result<Step<'_, Json, Fin, Value>, JsonError> {
            let entries = match node {
                Json::Array(items) => {
                    return Ok(Step::Node {
                        children: items.iter().collect(),
                        finish: Fin::List,
                    })
                }
                Json::Object(entries) => entries,
                scalar => return Ok(Step::Leaf(plain_scalar(scalar))),
            };
            let tag = match node.get("__type__") {
                Some(Json::Str(t)) => t.as_ref(),
                _ => "",
            };
            match (
                tag,
                node.get("module"),
                node.get("value"),
                node.get("entries"),
                node.get("items"),
            ) {
                ("struct", Some(name), Some(value), _, _) => {
                    let module = module(ctx, name)?;
                    return Ok(Step::Node {
                        children: vec![value],
                        finish: Fin::Struct(module),
                    });
                }
                ("map", _, _, Some(list), _) => return entries_step(list),
                ("tuple", _, _, _, Some(items)) => {
                    return match items {
                        Json::Array(items) => Ok(Step::Node {
                            children: items.iter().collect(),
                            finish: Fin::Tuple,
                        }),
                        // Enumerating a map yields its pairs as tuples, which
                        // the decoder passes through untouched.
                        Json::Object(pairs) => Ok(Step::Leaf(Value::Tuple(
                            pairs
                                .iter()
                                .map(|(k, v)| Value::Tuple(vec![binary_str(k), plain(v)]))
                                .collect(),
                        ))),
                        other => Err(protocol_undefined("Enumerable", other)),
                    };
                }
                ("atom", _, Some(Json::Str(name)), _, _) => {
                    return Ok(Step::Leaf(atom(ctx, name)?))
                }
                _ => {}
            }
            if is_list_buffer(node) {
                let data = node.get("data").unwrap_or(&Json::Null);
                return Ok(Step::Leaf(Value::Binary(iolist_bytes(data)?)));
            }
            let atom_keys = node.get("__atom_keys__");
            let mut keys = Vec::with_capacity(entries.len());
            let mut values = Vec::with_capacity(entries.len());
            let mut error = None;
            for (k, v) in entries {
                if k == "__atom_keys__" {
                    continue;
                }
                let is_atom_key = match atom_keys {
                    None | Some(Json::Object(_)) => Ok(false),
                    Some(Json::Array(names)) => {
                        Ok(names.iter().any(|n| matches!(n, Json::Str(s) if s == k)))
                    }
                    Some(other) => Err(protocol_undefined("Enumerable", other)),
                };
                let key = match is_atom_key {
                    Ok(true) => atom(ctx, k),
                    Ok(false) => Ok(binary_str(k)),
                    Err(e) => Err(e),
                };
                match key {
                    Ok(key) => {
                        keys.push(key);
                        values.push(v);
                    }
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            Ok(Step::Node {
                children: values,
                finish: Fin::Map(keys, error),
            })
        },
        |fin, done| match fin {
            Fin::List => Ok(Value::List(done)),
            Fin::Tuple => Ok(Value::Tuple(done)),
            Fin::Struct(module) => {
                let fields = done.into_iter().next().unwrap_or_else(Value::nil);
                build_struct(module, fields)
            }
            Fin::Entries(error) => {
                if let Some(e) = error {
                    return Err(e);
                }
                let mut pairs = Vec::with_capacity(done.len() / 2);
                let mut it = done.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                Ok(Value::Map(dedupe_last_wins(pairs)))
            }
            Fin::Map(_, Some(e)) => Err(e),
            Fin::Map(keys, None) => Ok(Value::Map(keys.into_iter().zip(done).collect())),
        },
    )
}

fn entries_step<'a, 'j>(list: &'a Json<'j>) -> Result<Step<'a, Json<'j>, Fin, Value>, JsonError> {
    match list {
        Json::Array(items) => {
            let mut children = Vec::with_capacity(items.len() * 2);
            let mut error = None;
            for item in items {
                match item {
                    Json::Array(kv) if kv.len() == 2 => {
                        children.push(&kv[0]);
                        children.push(&kv[1]);
                    }
                    other => {
                        error = Some(JsonError::Unsupported(format!(
                            "no function clause matching in anonymous fn/1 in BaileysEx.Auth.FilePersistence.decode_legacy_term/2 for {}",
                            inspect_json(other)
                        )));
                        break;
                    }
                }
            }
            Ok(Step::Node {
                children,
                finish: Fin::Entries(error),
            })
        }
        Json::Object(pairs) if pairs.is_empty() => Ok(Step::Leaf(Value::Map(Vec::new()))),
        Json::Object(_) => Err(JsonError::Unsupported(format!(
            "no function clause matching in anonymous fn/1 in BaileysEx.Auth.FilePersistence.decode_legacy_term/2 for {}",
            inspect_json(list)
        ))),
        other => Err(protocol_undefined("Enumerable", other)),
    }
}

/// `decode_legacy_credentials/1`, then `load_credentials/1`'s check that
/// the result is a map.
pub fn decode_credentials(json: &Json) -> Result<Value, JsonError> {
    let decoded = decode(json, &CREDENTIALS)?;
    match decoded.struct_name() {
        Some(structs::STATE) => Ok(decoded),
        _ => match decoded {
            Value::Map(_) => build_struct(structs::STATE, decoded),
            other => Err(JsonError::Unsupported(format!(
                "no case clause matching: {{:ok, {}}}",
                inspect(&other)
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::reader::parse;

    fn dec(text: &str, ctx: &Context) -> Result<Value, JsonError> {
        decode(&parse(text.as_bytes()).unwrap(), ctx)
    }

    #[test]
    fn decodes_tagged_forms() {
        assert_eq!(
            dec(
                r#"{"__type__":"tuple","items":["a",{"data":[1,2],"type":"Buffer"}]}"#,
                &EMPTY
            )
            .unwrap(),
            Value::Tuple(vec![Value::binary(&b"a"[..]), Value::binary(vec![1, 2])])
        );
        assert_eq!(
            dec(r#"{"__type__":"atom","value":"sending"}"#, &SESSION).unwrap(),
            Value::atom("sending")
        );
        assert_eq!(
            dec(r#"{"__type__":"map","entries":[[1,"a"],[1,"b"]]}"#, &EMPTY).unwrap(),
            Value::Map(vec![(Value::Integer(1), Value::binary(&b"b"[..]))])
        );
        assert_eq!(
            dec(
                r#"{"__atom_keys__":["public"],"public":1,"other":2}"#,
                &PRE_KEY
            )
            .unwrap(),
            Value::Map(vec![
                (Value::binary(&b"other"[..]), Value::Integer(2)),
                (Value::atom("public"), Value::Integer(1)),
            ])
        );
    }

    #[test]
    fn unknown_names_are_errors_not_atoms() {
        let e = dec(r#"{"__type__":"atom","value":"evil"}"#, &SESSION).unwrap_err();
        assert!(
            matches!(e, JsonError::Argument(m) if m == "unknown persisted atom \"evil\"; it is not on the allow-list for this key type")
        );
        let e = dec(r#"{"__atom_keys__":["x"],"x":1}"#, &PRE_KEY).unwrap_err();
        assert!(matches!(e, JsonError::Argument(_)));
        let e = dec(
            r#"{"__type__":"struct","module":"Elixir.Evil","value":{}}"#,
            &SENDER_KEY,
        )
        .unwrap_err();
        assert!(
            matches!(e, JsonError::Argument(m) if m.starts_with("unknown persisted module \"Elixir.Evil\""))
        );
    }

    #[test]
    fn structs_take_known_fields_and_defaults() {
        let v = dec(
            r#"{"__type__":"struct","module":"Elixir.BaileysEx.Signal.Group.SenderChainKey","value":{"__atom_keys__":["iteration"],"iteration":3,"junk":1}}"#,
            &SENDER_KEY,
        )
        .unwrap();
        assert_eq!(v.struct_name(), Some(structs::SENDER_CHAIN_KEY));
        assert_eq!(v.get_atom_key("iteration"), Some(&Value::Integer(3)));
        assert_eq!(v.get_atom_key("seed"), Some(&Value::nil()));
        assert!(dec(r#"{"__type__":"map","entries":[[1]]}"#, &EMPTY).is_err());
        assert!(dec(r#"{"__type__":"struct","module":"Elixir.BaileysEx.Signal.SessionRecord","value":null}"#, &SESSION).is_err());
    }
}
