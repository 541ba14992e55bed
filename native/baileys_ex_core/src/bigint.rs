//! Integers outside `i64`, held the way the external term format holds them:
//! a sign and little-endian base-256 digits. Moving one between a file and
//! the VM through ETF is then a copy, linear in its size whatever its size.
//!
//! Only JSON needs decimal text, and turning base 256 into base 10 and back
//! costs time quadratic in the length. It runs on 64-bit words (19 decimal
//! digits at a time), and JSON refuses integers longer than
//! `MAX_DECIMAL_DIGITS`, so one conversion stays within a few milliseconds.

use std::cmp::Ordering;

/// Longest integer, in decimal digits (without sign), that the JSON codecs
/// read or write. About 33,000 bits: far beyond any integer in auth data,
/// and short enough that a conversion costs a few milliseconds at most.
pub const MAX_DECIMAL_DIGITS: usize = 10_000;

/// 10^19, the largest power of ten in a `u64`.
const TEN_POW_19: u64 = 10_000_000_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigInt {
    negative: bool,
    /// Little-endian, with no zero bytes at the most significant end.
    magnitude: Vec<u8>,
}

/// Why decimal text was not turned into an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// Not `-?[0-9]+`.
    Malformed,
    /// More digits than `MAX_DECIMAL_DIGITS`.
    TooLong,
}

impl BigInt {
    /// From a sign and little-endian base-256 digits (zero bytes at the top
    /// are dropped; zero is never negative).
    pub fn from_le_bytes(negative: bool, digits: &[u8]) -> BigInt {
        let len = digits.iter().rposition(|&d| d != 0).map_or(0, |i| i + 1);
        BigInt {
            negative: negative && len > 0,
            magnitude: digits[..len].to_vec(),
        }
    }

    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// Little-endian base-256 digits of the absolute value; empty for zero.
    pub fn magnitude(&self) -> &[u8] {
        &self.magnitude
    }

    /// Parses `-?[0-9]+` (leading zeros allowed), refusing more than
    /// `MAX_DECIMAL_DIGITS` digits before any arithmetic.
    pub fn from_decimal(text: &str) -> Result<BigInt, DecimalError> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest.as_bytes()),
            None => (false, text.as_bytes()),
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(DecimalError::Malformed);
        }
        let first_nonzero = digits.iter().position(|&d| d != b'0');
        let digits = first_nonzero.map_or(&[][..], |i| &digits[i..]);
        if digits.len() > MAX_DECIMAL_DIGITS {
            return Err(DecimalError::TooLong);
        }
        let mut words: Vec<u64> = Vec::with_capacity(digits.len() / 19 + 1);
        // The first chunk takes the odd digits, so the rest are 19 each.
        let mut chunk_len = match digits.len() % 19 {
            0 => 19,
            n => n,
        };
        let mut at = 0;
        while at < digits.len() {
            let chunk = &digits[at..at + chunk_len];
            let value = chunk
                .iter()
                .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
            multiply_add(&mut words, 10u64.pow(chunk_len as u32), value);
            at += chunk_len;
            chunk_len = 19;
        }
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        Ok(BigInt::from_le_bytes(negative, &bytes))
    }

    /// Decimal text, or `None` when it would be longer than
    /// `MAX_DECIMAL_DIGITS` digits (refused before any arithmetic whenever
    /// the size alone settles it).
    pub fn to_decimal(&self) -> Option<String> {
        // 256^n >= 10^(2.408 n): more bytes than this always means too many
        // digits; the exact count is checked at the end.
        if self.magnitude.len() > MAX_DECIMAL_DIGITS * 1000 / 2408 + 1 {
            return None;
        }
        let mut words: Vec<u64> = self
            .magnitude
            .chunks(8)
            .map(|c| {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                u64::from_le_bytes(w)
            })
            .collect();
        // Base-10^19 digits, least significant first.
        let mut chunks: Vec<u64> = Vec::with_capacity(words.len() * 64 / 63 + 1);
        while !words.is_empty() {
            chunks.push(divide_in_place(&mut words, TEN_POW_19));
            while words.last() == Some(&0) {
                words.pop();
            }
        }
        let mut text = String::with_capacity(chunks.len() * 19 + 1);
        if self.negative {
            text.push('-');
        }
        match chunks.split_last() {
            None => text.push('0'),
            Some((top, rest)) => {
                text.push_str(&top.to_string());
                for chunk in rest.iter().rev() {
                    text.push_str(&format!("{chunk:019}"));
                }
            }
        }
        let digits = text.len() - usize::from(self.negative);
        (digits <= MAX_DECIMAL_DIGITS).then_some(text)
    }

    /// Numeric order.
    pub fn cmp_value(&self, other: &BigInt) -> Ordering {
        let magnitude = self
            .magnitude
            .len()
            .cmp(&other.magnitude.len())
            .then_with(|| {
                self.magnitude
                    .iter()
                    .rev()
                    .cmp(other.magnitude.iter().rev())
            });
        match (self.negative, other.negative) {
            (false, false) => magnitude,
            (true, true) => magnitude.reverse(),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
        }
    }
}

/// `words = words * factor + addend`, little-endian words.
fn multiply_add(words: &mut Vec<u64>, factor: u64, addend: u64) {
    let mut carry = u128::from(addend);
    for word in words.iter_mut() {
        let t = u128::from(*word) * u128::from(factor) + carry;
        *word = t as u64;
        carry = t >> 64;
    }
    if carry != 0 {
        words.push(carry as u64);
    }
}

/// Divides little-endian `words` by `divisor` in place; returns the remainder.
fn divide_in_place(words: &mut [u64], divisor: u64) -> u64 {
    let divisor = u128::from(divisor);
    let mut remainder: u128 = 0;
    for word in words.iter_mut().rev() {
        let current = (remainder << 64) | u128::from(*word);
        *word = (current / divisor) as u64;
        remainder = current % divisor;
    }
    remainder as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decimal text by the schoolbook method, one digit at a time: slow but
    /// obviously right, to check the word-wise conversion against.
    fn reference_decimal(n: &BigInt) -> String {
        let mut work: Vec<u8> = n.magnitude().iter().rev().copied().collect();
        let mut out = Vec::new();
        while work.iter().any(|&d| d != 0) {
            let mut rem = 0u32;
            for d in work.iter_mut() {
                let acc = (rem << 8) | u32::from(*d);
                *d = (acc / 10) as u8;
                rem = acc % 10;
            }
            out.push(b'0' + rem as u8);
        }
        if out.is_empty() {
            out.push(b'0');
        }
        if n.is_negative() {
            out.push(b'-');
        }
        out.reverse();
        String::from_utf8(out).unwrap()
    }

    fn pseudo_random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    }

    #[test]
    fn decimal_text_matches_the_digit_by_digit_method() {
        for len in [0, 1, 7, 8, 9, 16, 17, 40, 100, 333] {
            for negative in [false, true] {
                let n = BigInt::from_le_bytes(negative, &pseudo_random_bytes(len, len as u64 + 1));
                let text = n.to_decimal().unwrap();
                assert_eq!(text, reference_decimal(&n), "{len} bytes");
                assert_eq!(BigInt::from_decimal(&text), Ok(n));
            }
        }
        let two_64 = BigInt::from_le_bytes(false, &[0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(two_64.to_decimal().unwrap(), "18446744073709551616");
        assert_eq!(
            BigInt::from_decimal("-00018446744073709551616"),
            Ok(BigInt::from_le_bytes(true, &[0, 0, 0, 0, 0, 0, 0, 0, 1]))
        );
        assert_eq!(
            BigInt::from_decimal("-0"),
            Ok(BigInt::from_le_bytes(false, &[]))
        );
        // Exact powers of 10^19 cross a chunk boundary.
        let text = format!("1{}", "0".repeat(38));
        assert_eq!(
            BigInt::from_decimal(&text).unwrap().to_decimal(),
            Some(text)
        );
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in ["", "-", "+1", "1.0", "12x", " 1", "--1"] {
            assert_eq!(
                BigInt::from_decimal(bad),
                Err(DecimalError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_digit_bound_is_exact() {
        let longest = "9".repeat(MAX_DECIMAL_DIGITS);
        let n = BigInt::from_decimal(&longest).unwrap();
        assert_eq!(n.to_decimal().as_deref(), Some(longest.as_str()));
        // Leading zeros do not count.
        assert!(BigInt::from_decimal(&format!("000{longest}")).is_ok());
        let too_long = format!("1{}", "0".repeat(MAX_DECIMAL_DIGITS));
        assert_eq!(BigInt::from_decimal(&too_long), Err(DecimalError::TooLong));
        // One more than the longest: same byte count, one digit too many.
        let mut bytes = n.magnitude().to_vec();
        let mut carry = true;
        for b in bytes.iter_mut() {
            let (sum, overflow) = b.overflowing_add(u8::from(carry));
            *b = sum;
            carry = overflow;
        }
        if carry {
            bytes.push(1);
        }
        assert_eq!(BigInt::from_le_bytes(true, &bytes).to_decimal(), None);
        // Far too large: refused from its size alone.
        let huge = BigInt::from_le_bytes(false, &vec![0xFF; 1 << 20]);
        assert_eq!(huge.to_decimal(), None);
    }

    #[test]
    fn order_is_numeric() {
        let parse = |t: &str| BigInt::from_decimal(t).unwrap();
        let sorted = [
            "-100000000000000000000",
            "-99999999999999999999",
            "0",
            "99999999999999999999",
            "100000000000000000000",
        ];
        for (i, a) in sorted.iter().enumerate() {
            for (j, b) in sorted.iter().enumerate() {
                assert_eq!(parse(a).cmp_value(&parse(b)), i.cmp(&j), "{a} vs {b}");
            }
        }
    }
}
