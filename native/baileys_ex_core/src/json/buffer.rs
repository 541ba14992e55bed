//! Baileys' BufferJSON: a binary on disk is `{"type":"Buffer","data":"<base64>"}`;
//! on read, `data` may also be a list of byte integers (old Baileys JS files).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{DecodeError, Engine};

use super::inspect::inspect_binary;
use super::syntax::Json;
use super::term::{inspect_json, no_clause, not_iolist};
use super::JsonError;
use crate::value::Value;

pub const BUFFER_TAG: &str = "Buffer";

/// Elixir's `Base.decode64!/1`: padding required, but set bits past the end
/// of the data in the last symbol are ignored rather than refused.
const ELIXIR_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

pub fn encode64(bytes: &[u8]) -> String {
    ELIXIR_BASE64.encode(bytes)
}

/// `Base.encode64/1`, appended to `out` without an intermediate string.
pub fn encode64_into(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), JsonError> {
    let start = out.len();
    // Only a length past `usize` has no room; the engine then fills exactly
    // the space made for it.
    let end = base64::encoded_len(bytes.len(), true)
        .and_then(|len| start.checked_add(len))
        .ok_or(JsonError::TooLarge)?;
    out.resize(end, 0);
    match ELIXIR_BASE64.encode_slice(bytes, &mut out[start..]) {
        Ok(_) => Ok(()),
        Err(_) => Err(JsonError::TooLarge),
    }
}

/// Value of each standard base64 symbol; `INVALID` for anything else.
const SYMBOLS: [u8; 256] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < alphabet.len() {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
};
const INVALID: u8 = 0xFF;

/// Decodes well-formed text (whole quads of symbols, the last with at most
/// two `=`) the way `ELIXIR_BASE64` does, without its general machinery;
/// `None` for anything else, which the engine then judges.
fn decode64_well_formed(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let Some((body, last)) = text.split_last_chunk::<4>() else {
        return Some(Vec::new());
    };
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    out.resize(body.len() / 4 * 3, 0);
    let mut bad = 0u8;
    for (triple, quad) in out.chunks_exact_mut(3).zip(body.chunks_exact(4)) {
        let mut n: u32 = 0;
        for &c in quad {
            let v = SYMBOLS[usize::from(c)];
            bad |= v;
            n = n << 6 | u32::from(v);
        }
        triple.copy_from_slice(&n.to_be_bytes()[1..]);
    }
    if bad & 0x80 != 0 {
        return None;
    }
    let [c0, c1, c2, c3] = *last;
    let (v0, v1) = (SYMBOLS[usize::from(c0)], SYMBOLS[usize::from(c1)]);
    let (v2, v3) = (SYMBOLS[usize::from(c2)], SYMBOLS[usize::from(c3)]);
    if (v0 | v1) & 0x80 != 0 {
        return None;
    }
    // Bits past the end of the data are ignored, as the engine is set to.
    let b0 = v0 << 2 | v1 >> 4;
    match (c2, c3) {
        (b'=', b'=') => out.push(b0),
        (_, b'=') if v2 & 0x80 == 0 => out.extend_from_slice(&[b0, v1 << 4 | v2 >> 2]),
        _ if (v2 | v3) & 0x80 == 0 => {
            out.extend_from_slice(&[b0, v1 << 4 | v2 >> 2, v2 << 6 | v3]);
        }
        _ => return None,
    }
    Some(out)
}

/// `Base.decode64!/1`, with its `ArgumentError` messages.
pub fn decode64(text: &str) -> Result<Vec<u8>, JsonError> {
    if let Some(bytes) = decode64_well_formed(text.as_bytes()) {
        return Ok(bytes);
    }
    ELIXIR_BASE64.decode(text).map_err(|e| {
        JsonError::Argument(match e {
            DecodeError::InvalidByte(_, b'=') => "incorrect padding".to_owned(),
            DecodeError::InvalidByte(_, byte) => format!(
                "non-alphabet character found: {} (byte {byte})",
                inspect_binary(&[byte])
            ),
            _ => "incorrect padding".to_owned(),
        })
    })
}

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
    use crate::json::syntax::parse;

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
        assert!(matches!(decode64("A"), Err(JsonError::Argument(m)) if m == "incorrect padding"));
        assert!(
            matches!(decode64("A$=="), Err(JsonError::Argument(m)) if m == "non-alphabet character found: \"$\" (byte 36)")
        );
        // Trailing bits are ignored like Elixir does.
        assert_eq!(decode64("AB==").unwrap(), vec![0]);
        assert_eq!(decode64("").unwrap(), Vec::<u8>::new());
    }
}
