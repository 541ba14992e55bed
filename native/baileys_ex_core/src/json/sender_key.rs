//! `sender-key-*.json`: `%SenderKeyRecord{}` <-> `{"sender_key_states": [...]}`.
//!
//! Message keys are stored as `{iteration, seed}` only; on load the original
//! rebuilds each `%SenderMessageKey{}` from its seed, deriving `iv` and
//! `cipher_key` with HKDF-SHA256 (info "WhisperGroup", 32 zero bytes of salt,
//! 48 bytes of output: 16 of iv, then 32 of cipher key).

use std::borrow::Cow;

use hkdf::Hkdf;
use sha2::Sha256;

use super::access::{enumerate, invalid_explicit, required, Item};
use super::buffer::{decode_buffer_field, encode_buffer};
use super::creds::{decode_key_pair, encode_key_pair};
use super::errors::{no_clause, JsonError};
use super::inspect::inspect;
use super::plain::plain;
use super::structs::{SENDER_CHAIN_KEY, SENDER_KEY_RECORD, SENDER_KEY_STATE, SENDER_MESSAGE_KEY};
use super::term::{dot_field, make_struct};
use super::tree::Json;
use super::vm_encode::Raw;

use crate::value::Value;

const WHISPER_GROUP: &[u8] = b"WhisperGroup";

/// The `iv` (16 bytes) and `cipher_key` (32 bytes) of a sender message key.
pub fn derive_message_key(seed: &[u8]) -> ([u8; 16], [u8; 32]) {
    let hk = Hkdf::<Sha256>::new(Some(&[0u8; 32]), seed);
    let mut okm = [0u8; 48];
    // 48 bytes is far below HKDF-SHA256's 8160-byte ceiling.
    let _ = hk.expand(WHISPER_GROUP, &mut okm);
    let mut iv = [0u8; 16];
    let mut cipher_key = [0u8; 32];
    iv.copy_from_slice(&okm[..16]);
    cipher_key.copy_from_slice(&okm[16..]);
    (iv, cipher_key)
}

/// `SenderMessageKey.new/2`.
pub fn sender_message_key(iteration: Value, seed: Vec<u8>) -> Value {
    let (iv, cipher_key) = derive_message_key(&seed);
    make_struct(
        SENDER_MESSAGE_KEY,
        vec![
            ("iteration", iteration),
            ("iv", Value::Binary(iv.to_vec())),
            ("cipher_key", Value::Binary(cipher_key.to_vec())),
            ("seed", Value::Binary(seed)),
        ],
    )
}

fn obj<'a>(entries: Vec<(&'static str, Json<'a>)>) -> Json<'a> {
    Json::object_last_wins(
        entries
            .into_iter()
            .map(|(k, v)| (Cow::Borrowed(k), v))
            .collect(),
    )
}

/// A list field read with `Enum.map/2` on the encode side.
fn list_items(value: &Value) -> Result<&[Value], JsonError> {
    match value {
        Value::List(items) => Ok(items),
        Value::Map(entries) if entries.is_empty() => Ok(&[]),
        other => Err(JsonError::Unsupported(format!(
            "cannot enumerate {} as a list of sender key entries",
            inspect(other)
        ))),
    }
}

fn encode_state<'v>(state: &'v Value, raw: &mut Raw) -> Result<Json<'v>, JsonError> {
    if state.struct_name() != Some(SENDER_KEY_STATE) {
        return Err(no_clause("encode_sender_key_state/1"));
    }
    // `SenderKeyState.to_structure/1` reads every part before anything is encoded.
    let key_id = dot_field(state, "sender_key_id")?;
    let chain_key = dot_field(state, "sender_chain_key")?;
    let chain_iteration = dot_field(chain_key, "iteration")?;
    let chain_seed = dot_field(chain_key, "seed")?;
    let signing_key = dot_field(state, "sender_signing_key")?;
    let mut message_keys = Vec::new();
    for key in list_items(dot_field(state, "sender_message_keys")?)? {
        message_keys.push((dot_field(key, "iteration")?, dot_field(key, "seed")?));
    }

    let chain_json = obj(vec![
        ("iteration", raw.value(chain_iteration)),
        ("seed", encode_buffer(chain_seed)?),
    ]);
    let mut keys_json = Vec::with_capacity(message_keys.len());
    for (iteration, seed) in message_keys {
        keys_json.push(obj(vec![
            ("iteration", raw.value(iteration)),
            ("seed", encode_buffer(seed)?),
        ]));
    }
    Ok(obj(vec![
        ("sender_chain_key", chain_json),
        ("sender_key_id", raw.value(key_id)),
        ("sender_message_keys", Json::Array(keys_json)),
        ("sender_signing_key", encode_key_pair(signing_key)?),
    ]))
}

/// `encode_sender_key_record/1` of a `%SenderKeyRecord{}`.
pub fn encode<'v>(record: &'v Value, raw: &mut Raw) -> Result<Json<'v>, JsonError> {
    let states = dot_field(record, "sender_key_states")?;
    let mut out = Vec::new();
    for state in list_items(states)? {
        out.push(encode_state(state, raw)?);
    }
    Ok(obj(vec![("sender_key_states", Json::Array(out))]))
}

/// `get_in(state, ["sender_chain_key", key])`.
fn chain_part<'a, 'j>(state: &'a Json<'j>, key: &str) -> Result<Option<&'a Json<'j>>, JsonError> {
    match state.get("sender_chain_key") {
        None | Some(Json::Null) => Ok(None),
        Some(chain @ Json::Object(_)) => Ok(chain.get(key)),
        Some(Json::Array(_)) => Err(JsonError::Argument(format!(
            "the Access calls for keywords expect the key to be an atom, got: {}",
            inspect(&Value::binary(key.as_bytes()))
        ))),
        Some(_) => Err(JsonError::Unsupported(
            "no function clause matching in Access.get/3".to_owned(),
        )),
    }
}

fn decode_message_key(item: &Item<'_>) -> Result<Value, JsonError> {
    let key = match item {
        Item::Json(j @ Json::Object(_)) => *j,
        other => {
            return Err(JsonError::Unsupported(format!(
                "expected a map, got: {}",
                other.inspect()
            )))
        }
    };
    let iteration = key.get("iteration").map(plain).unwrap_or_else(Value::nil);
    let seed = decode_buffer_field(key.get("seed"))?;
    Ok(sender_message_key(iteration, seed))
}

fn decode_state(state: &Json) -> Result<Value, JsonError> {
    if !matches!(state, Json::Object(_)) {
        return Err(no_clause("decode_sender_key_state/1"));
    }
    let iteration = chain_part(state, "iteration")?
        .map(plain)
        .unwrap_or_else(Value::nil);
    let seed = decode_buffer_field(chain_part(state, "seed")?)?;
    let key_id = state
        .get("sender_key_id")
        .map(plain)
        .unwrap_or_else(Value::nil);
    let mut message_keys = Vec::new();
    if let Some(list) = state.get("sender_message_keys") {
        for item in enumerate(list)? {
            message_keys.push(decode_message_key(&item)?);
        }
    }
    let signing_key = decode_key_pair(state.get("sender_signing_key"))?;
    Ok(make_struct(
        SENDER_KEY_STATE,
        vec![
            ("sender_key_id", key_id),
            (
                "sender_chain_key",
                make_struct(
                    SENDER_CHAIN_KEY,
                    vec![("iteration", iteration), ("seed", Value::Binary(seed))],
                ),
            ),
            ("sender_signing_key", signing_key),
            ("sender_message_keys", Value::List(message_keys)),
        ],
    ))
}

/// `decode_sender_key_record/1`.
pub fn decode(json: &Json) -> Result<Value, JsonError> {
    const CONTEXT: &str = "sender_key_record";
    let states = match (json, json.get("sender_key_states")) {
        (Json::Object(_), Some(Json::Array(states))) => states,
        (Json::Object(_), _) => match required(json, "sender_key_states", CONTEXT)? {
            Json::Array(states) => states,
            other => {
                return Err(invalid_explicit(
                    &format!("{CONTEXT}.sender_key_states"),
                    other,
                ))
            }
        },
        (other, _) => return Err(invalid_explicit(CONTEXT, other)),
    };
    let mut out = Vec::with_capacity(states.len());
    for state in states {
        out.push(decode_state(state)?);
    }
    Ok(make_struct(
        SENDER_KEY_RECORD,
        vec![("sender_key_states", Value::List(out))],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_matches_the_fixture() {
        // First message key of sender-key 120363025246125486@g.us::15559876543::0 in set_a.
        let seed =
            crate::json::base64::decode64("zMvdHuvCX+gFNtLwpU8KMyaPvCmN18DLUaJQQCIRNIQ=").unwrap();
        let (iv, cipher_key) = derive_message_key(&seed);
        assert_eq!(
            iv,
            [32, 70, 185, 73, 1, 104, 119, 94, 7, 127, 252, 93, 224, 232, 140, 108]
        );
        assert_eq!(cipher_key[..4], [227, 163, 85, 21]);
    }

    #[test]
    fn inspects_items() {
        let j = crate::json::reader::parse(br#"{"sender_key_states":[{"sender_chain_key":{"iteration":1,"seed":{"type":"Buffer","data":""}},"sender_message_keys":{"a":1},"sender_signing_key":{}}]}"#).unwrap();
        assert!(matches!(decode(&j), Err(JsonError::Unsupported(_))));
        let _ = crate::json::plain::inspect_json(&j);
    }
}
