//! `session-*.json`: `%BaileysEx.Signal.SessionRecord{}` <-> `{"sessions": ...}`.
//! Binary map keys are written as base64 strings, message-key indexes as
//! decimal strings, and the chain direction enum as `"sending"`/`"receiving"`.

use std::borrow::Cow;

use super::access::{invalid_explicit, raw_get, required_object};
use super::base64::{decode64, encode64};
use super::buffer::{decode_buffer, decode_optional_buffer, encode_buffer, encode_optional_buffer};
use super::creds::{decode_optional_key_pair, encode_optional_key_pair};
use super::dedupe::dedupe_last_wins;
use super::errors::{no_clause, JsonError};
use super::inspect::inspect;
use super::number_text::int_text;
use super::plain::inspect_json;
use super::structs::SESSION_RECORD;
use super::term::{atom_map, dot_field, fetch_field, make_struct};
use super::tree::{Entry, Json};
use super::vm_encode::Raw;

use crate::bigint::BigInt;
use crate::value::Value;

fn obj(entries: Vec<Entry<'_>>) -> Json<'_> {
    Json::object_last_wins(entries)
}

fn entry<'a>(k: &'static str, v: Json<'a>) -> Entry<'a> {
    (Cow::Borrowed(k), v)
}

/// How one value of a binary-keyed map is encoded.
type ValueEncoder = for<'v> fn(&'v Value, &mut Raw) -> Result<Json<'v>, JsonError>;

static EMPTY: Value = Value::Map(Vec::new());

/// A map field with `%{}` as the default when absent.
fn map_or_empty<'a>(map: &'a Value, key: &str) -> &'a Value {
    fetch_field(map, key).unwrap_or(&EMPTY)
}

fn encode_direction(value: Option<&Value>) -> Result<Json<'static>, JsonError> {
    match value {
        None => Ok(Json::Null),
        Some(v) if v.is_nil() => Ok(Json::Null),
        Some(Value::Atom(a)) if a == "sending" => Ok(Json::str("sending")),
        Some(Value::Atom(a)) if a == "receiving" => Ok(Json::str("receiving")),
        Some(other) => Err(JsonError::Argument(format!(
            "unsupported direction enum: {}",
            inspect(other)
        ))),
    }
}

fn decode_direction(json: Option<&Json>) -> Result<Value, JsonError> {
    match json {
        None | Some(Json::Null) => Ok(Value::nil()),
        Some(Json::Str(s)) if s == "sending" => Ok(Value::atom("sending")),
        Some(Json::Str(s)) if s == "receiving" => Ok(Value::atom("receiving")),
        Some(other) => Err(JsonError::Argument(format!(
            "unsupported direction enum in compatibility JSON: {}",
            inspect_json(other)
        ))),
    }
}

/// `encode_binary_keyed_map/2`: nil is an empty map.
fn encode_binary_keyed<'v>(
    map: &'v Value,
    raw: &mut Raw,
    value_encoder: ValueEncoder,
) -> Result<Json<'v>, JsonError> {
    let entries = match map {
        v if v.is_nil() => return Ok(Json::Object(Vec::new())),
        Value::Map(entries) => entries,
        _ => return Err(no_clause("encode_binary_keyed_map/2")),
    };
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let Value::Binary(bytes) = k else {
            return Err(JsonError::Unsupported(
                "no function clause matching in Base.encode64/2".to_owned(),
            ));
        };
        out.push((Cow::Owned(encode64(bytes)), value_encoder(v, raw)?));
    }
    Ok(obj(out))
}

/// `decode_binary_keyed_map/2`.
fn decode_binary_keyed(
    json: &Json,
    value_decoder: fn(&Json) -> Result<Value, JsonError>,
) -> Result<Value, JsonError> {
    let Json::Object(entries) = json else {
        return Err(no_clause("decode_binary_keyed_map/2"));
    };
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let key = decode64(k)?;
        out.push((Value::Binary(key), value_decoder(v)?));
    }
    Ok(Value::Map(dedupe_last_wins(out)))
}

/// `String.to_integer/1` (`:erlang.binary_to_integer/1`), and whether the
/// text was already the integer's canonical decimal form (so that distinct
/// texts of that kind are distinct integers).
fn string_to_integer(text: &str) -> Result<(Value, bool), JsonError> {
    if let Some(n) = canonical_small_integer(text) {
        return Ok((Value::Integer(n), true));
    }
    let (neg, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(JsonError::Argument(
            "errors were found at the given arguments:\n\n  * 1st argument: not a textual representation of an integer\n"
                .to_owned(),
        ));
    }
    let trimmed = digits.trim_start_matches('0');
    let canonical = match (neg, trimmed.is_empty()) {
        (_, true) => "0".to_owned(),
        (true, false) => format!("-{trimmed}"),
        (false, false) => trimmed.to_owned(),
    };
    let exact = canonical == text;
    let value = match canonical.parse::<i64>() {
        Ok(n) => Value::Integer(n),
        Err(_) => BigInt::from_decimal(&canonical)
            .map(Value::BigInteger)
            .map_err(|_| JsonError::IntegerTooLarge)?,
    };
    Ok((value, exact))
}

/// The value of `-?[1-9][0-9]{0,17}` or `0`, which always fits an `i64`.
fn canonical_small_integer(text: &str) -> Option<i64> {
    let (neg, digits) = match text.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        all => (false, all),
    };
    match digits {
        [b'0'] if !neg => return Some(0),
        [b'1'..=b'9', ..] if digits.len() <= 18 => {}
        _ => return None,
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(d - b'0');
    }
    Some(if neg { -n } else { n })
}

fn encode_message_keys(map: &Value) -> Result<Json<'_>, JsonError> {
    let Value::Map(entries) = map else {
        return Err(no_clause("encode_integer_keyed_map/2"));
    };
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let key = match k {
            Value::Integer(n) => Cow::Owned(int_text(*n, &mut [0u8; 20]).to_owned()),
            Value::BigInteger(n) => Cow::Owned(n.to_decimal().ok_or(JsonError::IntegerTooLarge)?),
            _ => return Err(JsonError::Argument(
                "errors were found at the given arguments:\n\n  * 1st argument: not an integer\n"
                    .to_owned(),
            )),
        };
        out.push((key, encode_buffer(v)?));
    }
    Ok(obj(out))
}

fn decode_message_keys(json: &Json) -> Result<Value, JsonError> {
    let Json::Object(entries) = json else {
        return Err(no_clause("decode_integer_keyed_map/2"));
    };
    let mut out = Vec::with_capacity(entries.len());
    // Object keys are unique, so canonical integer texts cannot collide.
    let mut all_canonical = true;
    for (k, v) in entries {
        let (key, canonical) = string_to_integer(k)?;
        all_canonical &= canonical;
        out.push((key, Value::Binary(decode_buffer(v)?)));
    }
    if all_canonical {
        return Ok(Value::Map(out));
    }
    Ok(Value::Map(dedupe_last_wins(out)))
}

fn encode_chain<'v>(chain: &'v Value, raw: &mut Raw) -> Result<Json<'v>, JsonError> {
    if !matches!(chain, Value::Map(_)) {
        return Err(no_clause("encode_chain/1"));
    }
    let chain_key = map_or_empty(chain, "chain_key");
    if !matches!(chain_key, Value::Map(_)) {
        return Err(no_clause("encode_chain_key/1"));
    }
    let chain_key_json = obj(vec![
        entry("counter", raw.field(fetch_field(chain_key, "counter"))),
        entry(
            "key",
            encode_optional_buffer(fetch_field(chain_key, "key"))?,
        ),
    ]);
    Ok(obj(vec![
        entry("chain_key", chain_key_json),
        entry(
            "chain_type",
            encode_direction(fetch_field(chain, "chain_type"))?,
        ),
        entry(
            "message_keys",
            encode_message_keys(map_or_empty(chain, "message_keys"))?,
        ),
    ]))
}

fn decode_chain(chain: &Json) -> Result<Value, JsonError> {
    if !matches!(chain, Json::Object(_)) {
        return Err(no_clause("decode_chain/1"));
    }
    let empty = Json::Object(Vec::new());
    let chain_key = chain.get("chain_key").unwrap_or(&empty);
    if !matches!(chain_key, Json::Object(_)) {
        return Err(no_clause("decode_chain_key/1"));
    }
    let chain_key = atom_map(vec![
        ("counter", raw_get(chain_key, "counter")),
        ("key", decode_optional_buffer(chain_key.get("key"))?),
    ]);
    Ok(atom_map(vec![
        ("chain_key", chain_key),
        ("chain_type", decode_direction(chain.get("chain_type"))?),
        (
            "message_keys",
            decode_message_keys(chain.get("message_keys").unwrap_or(&empty))?,
        ),
    ]))
}

fn encode_session<'v>(session: &'v Value, raw: &mut Raw) -> Result<Json<'v>, JsonError> {
    if !matches!(session, Value::Map(_)) {
        return Err(no_clause("encode_session/1"));
    }
    let chains = encode_binary_keyed(map_or_empty(session, "chains"), raw, encode_chain)?;

    let ratchet = map_or_empty(session, "current_ratchet");
    if !matches!(ratchet, Value::Map(_)) {
        return Err(no_clause("encode_current_ratchet/1"));
    }
    let ratchet_json = obj(vec![
        entry(
            "ephemeral_key_pair",
            encode_optional_key_pair(fetch_field(ratchet, "ephemeral_key_pair"))?,
        ),
        entry(
            "last_remote_ephemeral",
            encode_optional_buffer(fetch_field(ratchet, "last_remote_ephemeral"))?,
        ),
        entry(
            "previous_counter",
            raw.field(fetch_field(ratchet, "previous_counter")),
        ),
        entry(
            "root_key",
            encode_optional_buffer(fetch_field(ratchet, "root_key"))?,
        ),
    ]);

    let index = map_or_empty(session, "index_info");
    if !matches!(index, Value::Map(_)) {
        return Err(no_clause("encode_index_info/1"));
    }
    let index_json = obj(vec![
        entry(
            "base_key",
            encode_optional_buffer(fetch_field(index, "base_key"))?,
        ),
        entry(
            "base_key_type",
            encode_direction(fetch_field(index, "base_key_type"))?,
        ),
        entry("closed", raw.field(fetch_field(index, "closed"))),
        entry(
            "local_identity_key",
            encode_optional_buffer(fetch_field(index, "local_identity_key"))?,
        ),
        entry(
            "remote_identity_key",
            encode_optional_buffer(fetch_field(index, "remote_identity_key"))?,
        ),
    ]);

    let pending = match fetch_field(session, "pending_pre_key") {
        None => Json::Null,
        Some(v) if v.is_nil() => Json::Null,
        Some(p @ Value::Map(_)) => obj(vec![
            entry(
                "base_key",
                encode_optional_buffer(fetch_field(p, "base_key"))?,
            ),
            entry("pre_key_id", raw.field(fetch_field(p, "pre_key_id"))),
            entry(
                "signed_pre_key_id",
                raw.field(fetch_field(p, "signed_pre_key_id")),
            ),
        ]),
        Some(_) => return Err(no_clause("encode_pending_pre_key/1")),
    };

    Ok(obj(vec![
        entry("chains", chains),
        entry("current_ratchet", ratchet_json),
        entry("index_info", index_json),
        entry("pending_pre_key", pending),
        entry(
            "registration_id",
            raw.field(fetch_field(session, "registration_id")),
        ),
    ]))
}

fn decode_session(session: &Json) -> Result<Value, JsonError> {
    if !matches!(session, Json::Object(_)) {
        return Err(no_clause("decode_session/1"));
    }
    let empty = Json::Object(Vec::new());
    let chains = decode_binary_keyed(session.get("chains").unwrap_or(&empty), decode_chain)?;

    let ratchet = session.get("current_ratchet").unwrap_or(&empty);
    if !matches!(ratchet, Json::Object(_)) {
        return Err(no_clause("decode_current_ratchet/1"));
    }
    let ratchet = atom_map(vec![
        (
            "ephemeral_key_pair",
            decode_optional_key_pair(ratchet.get("ephemeral_key_pair"))?,
        ),
        (
            "last_remote_ephemeral",
            decode_optional_buffer(ratchet.get("last_remote_ephemeral"))?,
        ),
        ("previous_counter", raw_get(ratchet, "previous_counter")),
        ("root_key", decode_optional_buffer(ratchet.get("root_key"))?),
    ]);

    let index = session.get("index_info").unwrap_or(&empty);
    if !matches!(index, Json::Object(_)) {
        return Err(no_clause("decode_index_info/1"));
    }
    let index = atom_map(vec![
        ("base_key", decode_optional_buffer(index.get("base_key"))?),
        (
            "base_key_type",
            decode_direction(index.get("base_key_type"))?,
        ),
        ("closed", raw_get(index, "closed")),
        (
            "local_identity_key",
            decode_optional_buffer(index.get("local_identity_key"))?,
        ),
        (
            "remote_identity_key",
            decode_optional_buffer(index.get("remote_identity_key"))?,
        ),
    ]);

    let pending = match session.get("pending_pre_key") {
        None | Some(Json::Null) => Value::nil(),
        Some(p @ Json::Object(_)) => atom_map(vec![
            ("base_key", decode_optional_buffer(p.get("base_key"))?),
            ("pre_key_id", raw_get(p, "pre_key_id")),
            ("signed_pre_key_id", raw_get(p, "signed_pre_key_id")),
        ]),
        Some(_) => return Err(no_clause("decode_pending_pre_key/1")),
    };

    Ok(atom_map(vec![
        ("chains", chains),
        ("current_ratchet", ratchet),
        ("index_info", index),
        ("pending_pre_key", pending),
        ("registration_id", raw_get(session, "registration_id")),
    ]))
}

/// `encode_session_record/1` of a `%SessionRecord{}`.
pub fn encode<'v>(record: &'v Value, raw: &mut Raw) -> Result<Json<'v>, JsonError> {
    let sessions = encode_binary_keyed(dot_field(record, "sessions")?, raw, encode_session)?;
    Ok(obj(vec![entry("sessions", sessions)]))
}

/// `decode_session_record/1`.
pub fn decode(json: &Json) -> Result<Value, JsonError> {
    let sessions = match (json, json.get("sessions")) {
        (Json::Object(_), Some(s @ Json::Object(_))) => s,
        (Json::Object(_), _) => required_object(json, "sessions", "session")?,
        (other, _) => return Err(invalid_explicit("session", other)),
    };
    Ok(make_struct(
        SESSION_RECORD,
        vec![("sessions", decode_binary_keyed(sessions, decode_session)?)],
    ))
}
