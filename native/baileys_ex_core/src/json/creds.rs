//! `creds.json`: `%BaileysEx.Auth.State{}` <-> the explicit credentials object.

use std::borrow::Cow;

use super::access::{
    enumerate, invalid_explicit, raw_get, raw_get_or, required, required_object, Item,
};
use super::additional_data;
use super::buffer::{
    decode_buffer, decode_buffer_field, decode_optional_buffer, encode_buffer, encode_buffer_field,
    encode_optional_buffer,
};
use super::errors::{no_clause, JsonError};
use super::inspect::inspect;
use super::json_safe;
use super::legacy;
use super::limits::MAX_VALUE_DEPTH;
use super::plain::plain;
use super::structs::{self, default_account_settings, STATE, STATE_FIELDS};
use super::term::{
    atom_map, check_depth, dot_field, fetch_field, make_struct, struct_module, truthy,
};
use super::tree::Json;
use super::vm_encode::Raw;

use crate::value::Value;

static EMPTY_MAP: Value = Value::Map(Vec::new());

fn obj<'a>(entries: Vec<(&'static str, Json<'a>)>) -> Json<'a> {
    Json::object_last_wins(
        entries
            .into_iter()
            .map(|(k, v)| (Cow::Borrowed(k), v))
            .collect(),
    )
}

/// `encode_key_pair/1`.
pub fn encode_key_pair(value: &Value) -> Result<Json<'_>, JsonError> {
    if !matches!(value, Value::Map(_)) {
        return Err(no_clause("encode_key_pair/1"));
    }
    Ok(obj(vec![
        (
            "private",
            encode_optional_buffer(fetch_field(value, "private"))?,
        ),
        (
            "public",
            encode_optional_buffer(fetch_field(value, "public"))?,
        ),
    ]))
}

/// `encode_optional(value, &encode_key_pair/1)`.
pub fn encode_optional_key_pair(value: Option<&Value>) -> Result<Json<'_>, JsonError> {
    match value {
        None => Ok(Json::Null),
        Some(v) if v.is_nil() => Ok(Json::Null),
        Some(v) => encode_key_pair(v),
    }
}

/// `decode_key_pair/1`; an absent value is nil, which is invalid.
pub fn decode_key_pair(json: Option<&Json>) -> Result<Value, JsonError> {
    let json = json.unwrap_or(&Json::Null);
    match json {
        Json::Object(_) => Ok(atom_map(vec![
            ("private", decode_optional_buffer(json.get("private"))?),
            ("public", decode_optional_buffer(json.get("public"))?),
        ])),
        other => Err(invalid_explicit("key_pair", other)),
    }
}

/// `decode_optional(value, &decode_key_pair/1)`.
pub fn decode_optional_key_pair(json: Option<&Json>) -> Result<Value, JsonError> {
    match json {
        None | Some(Json::Null) => Ok(Value::nil()),
        some => decode_key_pair(some),
    }
}

fn encode_account(account: &Value) -> Result<Json<'_>, JsonError> {
    if struct_module(account) == Some(structs::ADV_SIGNED_DEVICE_IDENTITY) {
        return Ok(obj(vec![
            (
                "account_signature",
                encode_buffer(dot_field(account, "account_signature")?)?,
            ),
            (
                "account_signature_key",
                encode_buffer(dot_field(account, "account_signature_key")?)?,
            ),
            ("details", encode_buffer(dot_field(account, "details")?)?),
            (
                "device_signature",
                encode_buffer(dot_field(account, "device_signature")?)?,
            ),
        ]));
    }
    match account {
        Value::Map(_) => json_safe::encode(account),
        _ => Err(no_clause("encode_account/1")),
    }
}

fn decode_account(json: &Json) -> Result<Value, JsonError> {
    match json {
        Json::Null => Ok(Value::nil()),
        Json::Object(_)
            if json.get("details").is_some() && json.get("account_signature").is_some() =>
        {
            Ok(make_struct(
                structs::ADV_SIGNED_DEVICE_IDENTITY,
                vec![
                    (
                        "account_signature",
                        Value::Binary(decode_buffer_field(json.get("account_signature"))?),
                    ),
                    (
                        "account_signature_key",
                        Value::Binary(decode_buffer_field(json.get("account_signature_key"))?),
                    ),
                    (
                        "details",
                        Value::Binary(decode_buffer_field(json.get("details"))?),
                    ),
                    (
                        "device_signature",
                        Value::Binary(decode_buffer_field(json.get("device_signature"))?),
                    ),
                ],
            ))
        }
        Json::Object(_) => json_safe::decode(json),
        other => Ok(plain(other)),
    }
}

fn encode_account_settings(settings: &Value) -> Result<Json<'_>, JsonError> {
    if !matches!(settings, Value::Map(_)) {
        return Ok(obj(vec![
            ("default_disappearing_mode", Json::Null),
            ("unarchive_chats", Json::Bool(false)),
        ]));
    }
    Ok(obj(vec![
        (
            "default_disappearing_mode",
            json_safe::encode_optional(fetch_field(settings, "default_disappearing_mode"))?,
        ),
        (
            "unarchive_chats",
            Json::Bool(truthy(fetch_field(settings, "unarchive_chats"))),
        ),
    ]))
}

fn decode_account_settings(json: Option<&Json>) -> Result<Value, JsonError> {
    match json {
        None | Some(Json::Null) => Ok(default_account_settings()),
        Some(settings @ Json::Object(_)) => {
            let unarchive = !matches!(
                settings.get("unarchive_chats"),
                None | Some(Json::Null) | Some(Json::Bool(false))
            );
            Ok(atom_map(vec![
                ("unarchive_chats", Value::boolean(unarchive)),
                (
                    "default_disappearing_mode",
                    json_safe::decode_optional(
                        settings
                            .get("default_disappearing_mode")
                            .filter(|j| !j.is_null()),
                    )?,
                ),
            ]))
        }
        Some(_) => Err(no_clause("decode_account_settings/1")),
    }
}

fn decode_me(json: &Json) -> Result<Value, JsonError> {
    match json {
        Json::Null => Ok(Value::nil()),
        Json::Object(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let key = match k.as_ref() {
                    "id" => Value::atom("id"),
                    "name" => Value::atom("name"),
                    "lid" => Value::atom("lid"),
                    "device_id" => Value::atom("device_id"),
                    other => Value::Binary(other.as_bytes().to_vec()),
                };
                out.push((key, json_safe::decode(v)?));
            }
            Ok(Value::Map(out))
        }
        _ => Err(no_clause("decode_me/1")),
    }
}

/// `Enum.map(x || [], fun)` over a state field on the encode side.
fn each_item<'a>(value: &'a Value, function: &str) -> Result<Vec<&'a Value>, JsonError> {
    match value {
        v if v.is_nil() || matches!(v, Value::Atom(a) if a == "false") => Ok(Vec::new()),
        Value::List(items) => Ok(items.iter().collect()),
        // Enumerating a map gives tuples, which the map-only clause refuses.
        Value::Map(entries) if entries.is_empty() => Ok(Vec::new()),
        Value::Map(_) => Err(no_clause(function)),
        other => Err(JsonError::Unsupported(format!(
            "protocol Enumerable not implemented for {}",
            inspect(other)
        ))),
    }
}

fn encode_addressing_mode(mode: Option<&Value>) -> Result<Json<'static>, JsonError> {
    match mode {
        None => Ok(Json::Null),
        Some(v) if v.is_nil() => Ok(Json::Null),
        Some(Value::Atom(a)) if a == "pn" => Ok(Json::str("pn")),
        Some(Value::Atom(a)) if a == "lid" => Ok(Json::str("lid")),
        Some(other) => Err(JsonError::Argument(format!(
            "unsupported addressing mode: {}",
            inspect(other)
        ))),
    }
}

fn encode_message_key<'v>(key: &'v Value, raw: &mut Raw) -> Result<Json<'v>, JsonError> {
    if !matches!(key, Value::Map(_)) {
        return Err(no_clause("encode_message_key/1"));
    }
    let addressing_mode = encode_addressing_mode(fetch_field(key, "addressing_mode"))?;
    Ok(obj(vec![
        ("addressing_mode", addressing_mode),
        (
            "from_me",
            raw.field_or(fetch_field(key, "from_me"), Json::Bool(false)),
        ),
        ("id", raw.field(fetch_field(key, "id"))),
        ("participant", raw.field(fetch_field(key, "participant"))),
        (
            "participant_alt",
            raw.field(fetch_field(key, "participant_alt")),
        ),
        ("remote_jid", raw.field(fetch_field(key, "remote_jid"))),
        (
            "remote_jid_alt",
            raw.field(fetch_field(key, "remote_jid_alt")),
        ),
        ("server_id", raw.field(fetch_field(key, "server_id"))),
    ]))
}

fn encode_processed_history_message<'v>(
    entry: &'v Value,
    raw: &mut Raw,
) -> Result<Json<'v>, JsonError> {
    if !matches!(entry, Value::Map(_)) {
        return Err(no_clause("encode_processed_history_message/1"));
    }
    let key = encode_message_key(fetch_field(entry, "key").unwrap_or(&EMPTY_MAP), raw)?;
    Ok(obj(vec![
        ("key", key),
        (
            "message_timestamp",
            raw.field(fetch_field(entry, "message_timestamp")),
        ),
    ]))
}

fn decode_addressing_mode(json: Option<&Json>) -> Result<Value, JsonError> {
    match json {
        None | Some(Json::Null) => Ok(Value::nil()),
        Some(Json::Str(s)) if s == "pn" => Ok(Value::atom("pn")),
        Some(Json::Str(s)) if s == "lid" => Ok(Value::atom("lid")),
        Some(other) => Err(JsonError::Argument(format!(
            "unsupported addressing mode in compatibility JSON: {}",
            super::plain::inspect_json(other)
        ))),
    }
}

fn decode_message_key(key: &Json) -> Result<Value, JsonError> {
    if !matches!(key, Json::Object(_)) {
        return Err(no_clause("decode_message_key/1"));
    }
    Ok(atom_map(vec![
        ("id", raw_get(key, "id")),
        ("participant", raw_get(key, "participant")),
        ("participant_alt", raw_get(key, "participant_alt")),
        ("remote_jid", raw_get(key, "remote_jid")),
        ("remote_jid_alt", raw_get(key, "remote_jid_alt")),
        ("from_me", raw_get_or(key, "from_me", Value::boolean(false))),
        (
            "addressing_mode",
            decode_addressing_mode(key.get("addressing_mode"))?,
        ),
        ("server_id", raw_get(key, "server_id")),
    ]))
}

fn decode_processed_history_message(item: &Item<'_>) -> Result<Value, JsonError> {
    const CONTEXT: &str = "processed_history_messages[]";
    let entry = match item {
        Item::Json(j @ Json::Object(_)) => *j,
        other => {
            return Err(JsonError::Argument(format!(
                "invalid {CONTEXT} in compatibility JSON: {}",
                other.inspect()
            )))
        }
    };
    let key = match entry.get("key") {
        Some(key) => decode_message_key(key)?,
        None => decode_message_key(required_object(entry, "key", CONTEXT)?)?,
    };
    Ok(atom_map(vec![
        ("key", key),
        ("message_timestamp", raw_get(entry, "message_timestamp")),
    ]))
}

fn encode_signal_identity<'v>(identity: &'v Value, raw: &mut Raw) -> Result<Json<'v>, JsonError> {
    if !matches!(identity, Value::Map(_)) {
        return Err(no_clause("encode_signal_identity/1"));
    }
    let identifier = fetch_field(identity, "identifier").unwrap_or(&EMPTY_MAP);
    if !matches!(identifier, Value::Map(_)) {
        return Err(no_clause("fetch_map_value/3"));
    }
    let identifier_json = obj(vec![
        ("device_id", raw.field(fetch_field(identifier, "device_id"))),
        ("name", raw.field(fetch_field(identifier, "name"))),
    ]);
    let key = encode_buffer_field(fetch_field(identity, "identifier_key"))?;
    Ok(obj(vec![
        ("identifier", identifier_json),
        ("identifier_key", key),
    ]))
}

fn decode_identifier(identifier: &Json) -> Result<Value, JsonError> {
    if !matches!(identifier, Json::Object(_)) {
        return Err(JsonError::Unsupported(format!(
            "expected a map, got: {}",
            super::plain::inspect_json(identifier)
        )));
    }
    Ok(atom_map(vec![
        ("device_id", raw_get(identifier, "device_id")),
        ("name", raw_get(identifier, "name")),
    ]))
}

fn decode_signal_identity(item: &Item<'_>) -> Result<Value, JsonError> {
    const CONTEXT: &str = "signal_identity";
    let identity = match item {
        Item::Json(j @ Json::Object(_)) => *j,
        other => {
            return Err(JsonError::Argument(format!(
                "invalid {CONTEXT} in compatibility JSON: {}",
                other.inspect()
            )))
        }
    };
    match (identity.get("identifier"), identity.get("identifier_key")) {
        (Some(identifier), Some(key)) => Ok(atom_map(vec![
            ("identifier", decode_identifier(identifier)?),
            ("identifier_key", Value::Binary(decode_buffer(key)?)),
        ])),
        _ => {
            let identifier = decode_identifier(required_object(identity, "identifier", CONTEXT)?)?;
            let key = decode_buffer(required(identity, "identifier_key", CONTEXT)?)?;
            Ok(atom_map(vec![
                ("identifier", identifier),
                ("identifier_key", Value::Binary(key)),
            ]))
        }
    }
}

fn encode_signed_key_pair<'v>(value: &'v Value, raw: &mut Raw) -> Result<Json<'v>, JsonError> {
    if !matches!(value, Value::Map(_)) {
        return Err(no_clause("encode_signed_key_pair/1"));
    }
    let key_pair = encode_key_pair(fetch_field(value, "key_pair").unwrap_or(&EMPTY_MAP))?;
    let signature = encode_optional_buffer(fetch_field(value, "signature"))?;
    Ok(obj(vec![
        ("key_id", raw.field(fetch_field(value, "key_id"))),
        ("key_pair", key_pair),
        ("signature", signature),
    ]))
}

fn decode_signed_key_pair(json: Option<&Json>) -> Result<Value, JsonError> {
    let json = json.unwrap_or(&Json::Null);
    if !matches!(json, Json::Object(_)) {
        return Err(invalid_explicit("signed_pre_key", json));
    }
    let key_id = raw_get(json, "key_id");
    let key_pair = decode_key_pair(Some(required_object(json, "key_pair", "signed_pre_key")?))?;
    Ok(atom_map(vec![
        ("key_id", key_id),
        ("key_pair", key_pair),
        ("signature", decode_optional_buffer(json.get("signature"))?),
    ]))
}

/// `encode_credentials/1` after `validate_additional_data/1`.
pub fn encode(state: &Value) -> Result<Json<'_>, JsonError> {
    if struct_module(state) != Some(STATE) {
        return Err(JsonError::Unsupported(
            "no function clause matching in BaileysEx.Auth.FilePersistence.save_credentials/2"
                .to_owned(),
        ));
    }
    let additional = dot_field(state, "additional_data")?;
    if !additional.is_nil() {
        additional_data::validate(additional)?;
    }
    check_depth(state, MAX_VALUE_DEPTH)?;

    let field = |name: &str| dot_field(state, name);
    let mut raw = Raw::default();
    let mut out: Vec<(&'static str, Json<'_>)> = Vec::with_capacity(STATE_FIELDS.len());

    let account = field("account")?;
    out.push((
        "account",
        if account.is_nil() {
            Json::Null
        } else {
            encode_account(account)?
        },
    ));
    out.push((
        "account_settings",
        encode_account_settings(field("account_settings")?)?,
    ));
    out.push((
        "account_sync_counter",
        raw.value(field("account_sync_counter")?),
    ));
    out.push(("additional_data", json_safe::encode(additional)?));
    out.push(("adv_secret_key", raw.value(field("adv_secret_key")?)));
    out.push((
        "first_unuploaded_pre_key_id",
        raw.value(field("first_unuploaded_pre_key_id")?),
    ));
    out.push((
        "last_account_sync_timestamp",
        raw.value(field("last_account_sync_timestamp")?),
    ));
    out.push((
        "last_prop_hash",
        json_safe::encode(field("last_prop_hash")?)?,
    ));
    out.push(("me", json_safe::encode(field("me")?)?));
    out.push((
        "my_app_state_key_id",
        raw.value(field("my_app_state_key_id")?),
    ));
    out.push(("next_pre_key_id", raw.value(field("next_pre_key_id")?)));
    out.push(("noise_key", encode_key_pair(field("noise_key")?)?));
    out.push(("pairing_code", raw.value(field("pairing_code")?)));
    out.push((
        "pairing_ephemeral_key",
        encode_optional_key_pair(Some(field("pairing_ephemeral_key")?))?,
    ));
    out.push(("platform", raw.value(field("platform")?)));
    let mut history = Vec::new();
    for entry in each_item(
        field("processed_history_messages")?,
        "encode_processed_history_message/1",
    )? {
        history.push(encode_processed_history_message(entry, &mut raw)?);
    }
    out.push(("processed_history_messages", Json::Array(history)));
    out.push(("registered", raw.value(field("registered")?)));
    out.push(("registration_id", raw.value(field("registration_id")?)));
    out.push((
        "routing_info",
        encode_optional_buffer(Some(field("routing_info")?))?,
    ));
    let mut identities = Vec::new();
    for identity in each_item(field("signal_identities")?, "encode_signal_identity/1")? {
        identities.push(encode_signal_identity(identity, &mut raw)?);
    }
    out.push(("signal_identities", Json::Array(identities)));
    out.push((
        "signed_identity_key",
        encode_key_pair(field("signed_identity_key")?)?,
    ));
    out.push((
        "signed_pre_key",
        encode_signed_key_pair(field("signed_pre_key")?, &mut raw)?,
    ));
    raw.finish(obj(out))
}

/// `decode_credentials/1` followed by `load_credentials/1`'s shape check.
pub fn decode(json: &Json) -> Result<Value, JsonError> {
    if legacy::is_legacy(json) {
        return legacy::decode_credentials(json);
    }
    if !matches!(json, Json::Object(_)) {
        return Err(JsonError::Unsupported(format!(
            "no case clause matching: {{:ok, {}}}",
            super::plain::inspect_json(json)
        )));
    }
    let get = |k: &str| json.get(k);
    let mut fields: Vec<(&str, Value)> = Vec::with_capacity(STATE_FIELDS.len());
    fields.push((
        "account",
        get("account")
            .map(decode_account)
            .transpose()?
            .unwrap_or_else(Value::nil),
    ));
    fields.push((
        "account_settings",
        decode_account_settings(get("account_settings"))?,
    ));
    fields.push((
        "account_sync_counter",
        raw_get_or(json, "account_sync_counter", Value::Integer(0)),
    ));
    fields.push((
        "additional_data",
        json_safe::decode_optional(get("additional_data").filter(|j| !j.is_null()))?,
    ));
    fields.push(("adv_secret_key", raw_get(json, "adv_secret_key")));
    fields.push((
        "first_unuploaded_pre_key_id",
        raw_get_or(json, "first_unuploaded_pre_key_id", Value::Integer(1)),
    ));
    fields.push((
        "last_account_sync_timestamp",
        raw_get(json, "last_account_sync_timestamp"),
    ));
    fields.push((
        "last_prop_hash",
        json_safe::decode_optional(get("last_prop_hash").filter(|j| !j.is_null()))?,
    ));
    fields.push((
        "me",
        get("me")
            .map(decode_me)
            .transpose()?
            .unwrap_or_else(Value::nil),
    ));
    fields.push(("my_app_state_key_id", raw_get(json, "my_app_state_key_id")));
    fields.push((
        "next_pre_key_id",
        raw_get_or(json, "next_pre_key_id", Value::Integer(1)),
    ));
    fields.push(("noise_key", decode_key_pair(get("noise_key"))?));
    fields.push(("pairing_code", raw_get(json, "pairing_code")));
    fields.push((
        "pairing_ephemeral_key",
        decode_optional_key_pair(get("pairing_ephemeral_key"))?,
    ));
    fields.push(("platform", raw_get(json, "platform")));
    let mut history = Vec::new();
    if let Some(list) = get("processed_history_messages") {
        for item in enumerate(list)? {
            history.push(decode_processed_history_message(&item)?);
        }
    }
    fields.push(("processed_history_messages", Value::List(history)));
    fields.push((
        "registered",
        raw_get_or(json, "registered", Value::boolean(false)),
    ));
    fields.push((
        "registration_id",
        raw_get_or(json, "registration_id", Value::Integer(0)),
    ));
    fields.push(("routing_info", decode_optional_buffer(get("routing_info"))?));
    let mut identities = Vec::new();
    if let Some(list) = get("signal_identities") {
        for item in enumerate(list)? {
            identities.push(decode_signal_identity(&item)?);
        }
    }
    fields.push(("signal_identities", Value::List(identities)));
    fields.push((
        "signed_identity_key",
        decode_key_pair(get("signed_identity_key"))?,
    ));
    fields.push((
        "signed_pre_key",
        decode_signed_key_pair(get("signed_pre_key"))?,
    ));
    Ok(make_struct(STATE, fields))
}
