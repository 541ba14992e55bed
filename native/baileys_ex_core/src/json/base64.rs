//! Base64 as Elixir's `Base` module reads and writes it (standard alphabet,
//! padding required), with the `ArgumentError` messages of `Base.decode64!/1`.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{DecodeError, Engine};

use super::errors::JsonError;
use super::inspect::inspect_binary;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_elixir_refuses() {
        assert!(matches!(decode64("A"), Err(JsonError::Argument(m)) if m == "incorrect padding"));
        assert!(
            matches!(decode64("A$=="), Err(JsonError::Argument(m)) if m == "non-alphabet character found: \"$\" (byte 36)")
        );
        // Trailing bits are ignored like Elixir does.
        assert_eq!(decode64("AB==").unwrap(), vec![0]);
        assert_eq!(decode64("").unwrap(), Vec::<u8>::new());
    }
}
