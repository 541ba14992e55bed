//! Finding the bytes a JSON string cannot hold as they are: the reader stops
//! at them to unescape, the writer to escape.

/// Index of the first byte at or after `i` that a JSON string cannot hold
/// as it is (a quote, a backslash or a control character), or the length.
/// Eight bytes at a time: most strings we handle are long base64 runs.
#[inline(always)]
pub fn special_at(bytes: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = ONES * b'"' as u64;
    const BACKSLASHES: u64 = ONES * b'\\' as u64;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let quote = w ^ QUOTES;
        let backslash = w ^ BACKSLASHES;
        // A byte's high bit is set in a term when that byte is zero (a
        // quote or backslash once XORed) or below 0x20. A borrow can only
        // mark bytes above one that matched, so the lowest mark is exact.
        let hits = ((quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (w.wrapping_sub(ONES * 0x20) & !w))
            & HIGHS;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_special_byte_in_and_after_whole_words() {
        let plain = b"abcdefghijklmnopqrstuvwxyz";
        assert_eq!(special_at(plain, 0), plain.len());
        for special in [b'"', b'\\', 0x00, 0x1f] {
            for at in 0..plain.len() {
                let mut text = plain.to_vec();
                text[at] = special;
                assert_eq!(special_at(&text, 0), at, "{special} at {at}");
                assert_eq!(special_at(&text, at), at);
                assert_eq!(special_at(&text, at + 1), plain.len());
            }
        }
        // Bytes above 0x7f (UTF-8) and 0x20 itself are ordinary.
        assert_eq!(special_at("é ü 📱 ~".as_bytes(), 0), "é ü 📱 ~".len());
    }
}
