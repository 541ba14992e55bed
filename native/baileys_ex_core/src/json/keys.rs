//! Per-type codecs of the key files, and the dispatch by key type.

use std::borrow::Cow;

use super::access::{invalid_explicit, required};
use super::buffer::{decode_buffer, encode_buffer, encode_buffer_field, encode_bytes, is_tagged};
use super::creds::{decode_key_pair, encode_key_pair};
use super::dedupe::dedupe_last_wins;
use super::errors::{no_clause, JsonError};
use super::inspect::inspect;
use super::json_safe::{self, json_key};
use super::legacy;
use super::plain::{binary_str, inspect_json, plain};
use super::sender_key;
use super::session;
use super::structs::{SENDER_KEY_RECORD, SESSION_RECORD};
use super::term::{atom_map, fetch_field};
use super::tree::{Entry, Json};
use super::vm_encode::Raw;

use crate::value::Value;

static EMPTY_MAP: Value = Value::Map(Vec::new());

fn obj(entries: Vec<Entry<'_>>) -> Json<'_> {
    Json::object_last_wins(entries)
}

fn not_enumerable(value: &Value) -> JsonError {
    JsonError::Unsupported(format!(
        "protocol Enumerable not implemented for {}",
        inspect(value)
    ))
}

fn encode_app_state_sync_key(value: &Value) -> Result<Json<'_>, JsonError> {
    match value {
        Value::Binary(bytes) => Ok(encode_bytes(bytes)),
        Value::Map(_) => Ok(obj(vec![(
            Cow::Borrowed("key_data"),
            encode_buffer_field(fetch_field(value, "key_data"))?,
        )])),
        _ => Err(no_clause("encode_app_state_sync_key/1")),
    }
}

fn decode_app_state_sync_key(json: &Json) -> Result<Value, JsonError> {
    if is_tagged(json) {
        return Ok(Value::Binary(decode_buffer(json)?));
    }
    match json {
        Json::Object(_) => Ok(atom_map(vec![(
            "key_data",
            Value::Binary(decode_buffer(required(
                json,
                "key_data",
                "app_state_sync_key",
            )?)?),
        )])),
        other => Err(invalid_explicit("app_state_sync_key", other)),
    }
}

fn encode_app_state_sync_version<'v>(
    value: &'v Value,
    raw: &mut Raw,
) -> Result<Json<'v>, JsonError> {
    if !matches!(value, Value::Map(_)) {
        return Err(no_clause("encode_app_state_sync_version/1"));
    }
    let hash = encode_buffer_field(fetch_field(value, "hash"))?;
    let pairs: Vec<(&Value, &Value)> =
        match fetch_field(value, "index_value_map").unwrap_or(&EMPTY_MAP) {
            m @ Value::Map(_) if m.struct_name().is_some() => return Err(not_enumerable(m)),
            Value::Map(entries) => entries.iter().map(|(k, v)| (k, v)).collect(),
            Value::List(items) => {
                let mut pairs = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::Tuple(kv) if kv.len() == 2 => pairs.push((&kv[0], &kv[1])),
                        _ => return Err(no_clause("encode_app_state_sync_version/1 (Map.new)")),
                    }
                }
                pairs
            }
            other => return Err(not_enumerable(other)),
        };
    let mut index = Vec::with_capacity(pairs.len());
    for (k, nested) in pairs {
        let key = json_key(k)?;
        if !matches!(nested, Value::Map(_)) {
            return Err(no_clause("fetch_map_value/3"));
        }
        let mac = encode_buffer_field(fetch_field(nested, "value_mac"))?;
        index.push((key, obj(vec![(Cow::Borrowed("value_mac"), mac)])));
    }
    Ok(obj(vec![
        (Cow::Borrowed("hash"), hash),
        (Cow::Borrowed("index_value_map"), obj(index)),
        (
            Cow::Borrowed("version"),
            raw.field(fetch_field(value, "version")),
        ),
    ]))
}

fn decode_app_state_sync_version(json: &Json) -> Result<Value, JsonError> {
    const CONTEXT: &str = "app_state_sync_version";
    if !matches!(json, Json::Object(_)) {
        return Err(invalid_explicit(CONTEXT, json));
    }
    let hash = decode_buffer(required(json, "hash", CONTEXT)?)?;
    let index = match json.get("index_value_map") {
        None => Value::Map(Vec::new()),
        Some(Json::Object(entries)) => {
            let mut out = Vec::with_capacity(entries.len());
            for (k, nested) in entries {
                let entry = match nested {
                    Json::Object(_) => atom_map(vec![(
                        "value_mac",
                        Value::Binary(decode_buffer(required(
                            nested,
                            "value_mac",
                            "app_state_sync_version.index_value_map[]",
                        )?)?),
                    )]),
                    other => return Err(invalid_explicit("app_state_sync_version.index_value_map[]", other)),
                };
                out.push((binary_str(k), entry));
            }
            Value::Map(out)
        }
        Some(Json::Array(items)) if items.is_empty() => Value::Map(Vec::new()),
        Some(Json::Array(_)) => {
            return Err(JsonError::Unsupported(
                "no function clause matching in anonymous fn/1 in BaileysEx.Auth.FilePersistence.decode_app_state_sync_version/1"
                    .to_owned(),
            ))
        }
        Some(other) => {
            return Err(JsonError::Unsupported(format!(
                "protocol Enumerable not implemented for {}",
                inspect_json(other)
            )))
        }
    };
    Ok(atom_map(vec![
        ("hash", Value::Binary(hash)),
        ("index_value_map", index),
        (
            "version",
            json.get("version").map(plain).unwrap_or_else(Value::nil),
        ),
    ]))
}

fn encode_tctoken(value: &Value) -> Result<Json<'_>, JsonError> {
    if !matches!(value, Value::Map(_)) {
        return Err(no_clause("encode_tctoken/1"));
    }
    Ok(obj(vec![
        (
            Cow::Borrowed("timestamp"),
            json_safe::encode_optional(fetch_field(value, "timestamp"))?,
        ),
        (
            Cow::Borrowed("token"),
            json_safe::encode_optional(fetch_field(value, "token"))?,
        ),
        (
            Cow::Borrowed("senderTimestamp"),
            json_safe::encode_optional(fetch_field(value, "sender_timestamp"))?,
        ),
    ]))
}

fn decode_tctoken(json: &Json) -> Result<Value, JsonError> {
    if !matches!(json, Json::Object(_)) {
        return Err(no_clause("decode_tctoken/1"));
    }
    let sender = match json.get("senderTimestamp") {
        Some(v) => Some(v),
        None => json.get("sender_timestamp"),
    };
    Ok(atom_map(vec![
        (
            "timestamp",
            json_safe::decode_optional(json.get("timestamp"))?,
        ),
        ("token", json_safe::decode_optional(json.get("token"))?),
        ("sender_timestamp", json_safe::decode_optional(sender)?),
    ]))
}

fn encode_identity_key(value: &Value) -> Result<Json<'_>, JsonError> {
    match value {
        Value::Binary(bytes) => Ok(encode_bytes(bytes)),
        Value::Map(_) if value.struct_name().is_some() => Err(not_enumerable(value)),
        Value::Map(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let key = json_key(k)?;
                out.push((key, encode_buffer(v)?));
            }
            Ok(obj(out))
        }
        _ => Err(no_clause("encode_binary_values/1")),
    }
}

fn decode_identity_key(json: &Json) -> Result<Value, JsonError> {
    if is_tagged(json) {
        return Ok(Value::Binary(decode_buffer(json)?));
    }
    match json {
        Json::Object(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                out.push((binary_str(k), Value::Binary(decode_buffer(v)?)));
            }
            Ok(Value::Map(dedupe_last_wins(out)))
        }
        _ => Err(no_clause("decode_binary_values/1")),
    }
}

/// `encode_key_data/2`.
pub fn encode<'v>(key_type: &str, value: &'v Value, raw: &mut Raw) -> Result<Json<'v>, JsonError> {
    match key_type {
        "session" if value.struct_name() == Some(SESSION_RECORD) => session::encode(value, raw),
        "pre-key" => encode_key_pair(value),
        "sender-key" if value.struct_name() == Some(SENDER_KEY_RECORD) => {
            sender_key::encode(value, raw)
        }
        "app-state-sync-key" => encode_app_state_sync_key(value),
        "app-state-sync-version" => encode_app_state_sync_version(value, raw),
        "tctoken" => encode_tctoken(value),
        "identity-key" => encode_identity_key(value),
        // sender-key-memory, lid-mapping, device-list, any other type, and
        // records of the wrong struct fall through to the json-safe clause.
        _ => json_safe::encode(value),
    }
}

/// `decode_key_data/2`.
pub fn decode(key_type: &str, json: &Json) -> Result<Value, JsonError> {
    if legacy::is_legacy(json) {
        return legacy::decode(json, legacy::context_for(key_type));
    }
    match key_type {
        "session" => session::decode(json),
        "pre-key" => decode_key_pair(Some(json)),
        "sender-key" => sender_key::decode(json),
        "app-state-sync-key" => decode_app_state_sync_key(json),
        "app-state-sync-version" => decode_app_state_sync_version(json),
        "tctoken" => decode_tctoken(json),
        "identity-key" => decode_identity_key(json),
        _ => json_safe::decode(json),
    }
}
