//! Baileys' BufferJSON: a binary on disk is `{"type":"Buffer","data":"<base64>"}`;
//! on read, `data` may also be a list of byte integers (old Baileys JS files).

use super::base64::decode64;
use super::errors::{no_clause, not_iolist, JsonError};
use super::plain::inspect_json;
use super::tree::{Json, BUFFER_TAG};
use crate::value::Value;

/// A binary as a Buffer object.
pub fn encode_bytes(bytes: &[u8]) -> Json<'_> {
    Json::Buffer(bytes)
}

/// `encode_buffer/1`: only binaries have a clause.
pub fn encode_buffer(value: &Value) -> Result<Json<'_>, JsonError> {
    match value {
        Value::Binary(bytes) => Ok(encode_bytes(bytes)),
        _ => Err(no_clause("encode_buffer/1")),
    }
}

/// `encode_buffer/1` of a field read with a nil default.
pub fn encode_buffer_field(value: Option<&Value>) -> Result<Json<'_>, JsonError> {
    match value {
        Some(v) => encode_buffer(v),
        None => Err(no_clause("encode_buffer/1")),
    }
}

/// `encode_optional(value, &encode_buffer/1)`: nil stays null.
pub fn encode_optional_buffer(value: Option<&Value>) -> Result<Json<'_>, JsonError> {
    match value {
        None => Ok(Json::Null),
        Some(v) if v.is_nil() => Ok(Json::Null),
        Some(v) => encode_buffer(v),
    }
}

/// An object tagged `"type": "Buffer"` (whatever its data).
pub fn is_tagged(json: &Json<'_>) -> bool {
    matches!(json.get("type"), Some(Json::Str(t)) if t == BUFFER_TAG)
}

/// A Buffer whose data is a list: one of the legacy markers.
pub fn is_list_buffer(json: &Json) -> bool {
    is_tagged(json) && matches!(json.get("data"), Some(Json::Array(_)))
}

/// `decode_buffer/1`.
pub fn decode_buffer(json: &Json) -> Result<Vec<u8>, JsonError> {
    // What we and Baileys write, matched at once.
    if let Json::Object(entries) = json {
        if let [(data, Json::Str(text)), (tag, Json::Str(name))] = entries.as_slice() {
            if data == "data" && tag == "type" && name == BUFFER_TAG {
                return decode64(text);
            }
        }
    }
    if is_tagged(json) {
        match json.get("data") {
            Some(Json::Str(text)) => return decode64(text),
            Some(list @ Json::Array(_)) => return iolist_bytes(list),
            _ => {}
        }
    }
    Err(JsonError::Argument(format!(
        "invalid buffer encoding in compatibility JSON: {}",
        inspect_json(json)
    )))
}

/// `decode_buffer/1` of an absent key: `Map.get/2` gives nil.
pub fn decode_buffer_field(json: Option<&Json>) -> Result<Vec<u8>, JsonError> {
    match json {
        Some(j) => decode_buffer(j),
        None => decode_buffer(&Json::Null),
    }
}

/// `decode_optional(value, &decode_buffer/1)`: absent or null is nil.
pub fn decode_optional_buffer(json: Option<&Json>) -> Result<Value, JsonError> {
    match json {
        None | Some(Json::Null) => Ok(Value::nil()),
        Some(j) => Ok(Value::Binary(decode_buffer(j)?)),
    }
}

/// `:erlang.list_to_binary/1` of a decoded JSON array: bytes, strings and
/// nested arrays of those.
pub fn iolist_bytes(json: &Json) -> Result<Vec<u8>, JsonError> {
    let mut out = Vec::new();
    let mut stack: Vec<&Json> = vec![json];
    while let Some(node) = stack.pop() {
        match node {
            Json::Int(b) if (0..=255).contains(b) => out.push(*b as u8),
            Json::Str(s) => out.extend_from_slice(s.as_bytes()),
            Json::Array(items) => stack.extend(items.iter().rev()),
            _ => return Err(not_iolist()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::reader::parse;

    #[test]
    fn decodes_both_data_forms() {
        let b64 = parse(br#"{"data":"AAEC/w==","type":"Buffer"}"#).unwrap();
        assert_eq!(decode_buffer(&b64).unwrap(), vec![0, 1, 2, 255]);
        let list = parse(br#"{"data":[0,1,2,255],"type":"Buffer"}"#).unwrap();
        assert_eq!(decode_buffer(&list).unwrap(), vec![0, 1, 2, 255]);
        let nested = parse(br#"{"data":[1,[2,"ab"],[]],"type":"Buffer"}"#).unwrap();
        assert_eq!(decode_buffer(&nested).unwrap(), vec![1, 2, b'a', b'b']);
    }

    #[test]
    fn refuses_what_elixir_refuses() {
        let bad = parse(br#"{"data":[256],"type":"Buffer"}"#).unwrap();
        assert!(matches!(decode_buffer(&bad), Err(JsonError::Argument(_))));
        match decode_buffer(&Json::Null) {
            Err(JsonError::Argument(m)) => {
                assert_eq!(m, "invalid buffer encoding in compatibility JSON: nil")
            }
            other => panic!("{other:?}"),
        }
    }
}
