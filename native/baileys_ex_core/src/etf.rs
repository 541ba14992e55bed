//! The Erlang external term format, as far as the core needs it without a VM:
//! a bounded, allocation-checked decoder into `Value`, and the few encoders the
//! manifest uses. Data files themselves are encoded by the VM's own
//! `term_to_binary`, so their bytes match the original's exactly.

use crate::bigint::BigInt;
use crate::value::{OpaqueKind, Value};

const VERSION: u8 = 131;
const NEW_FLOAT: u8 = 70;
const BIT_BINARY: u8 = 77;
const COMPRESSED: u8 = 80;
const NEW_PID: u8 = 88;
const NEW_PORT: u8 = 89;
const NEWER_REFERENCE: u8 = 90;
const SMALL_INTEGER: u8 = 97;
const INTEGER: u8 = 98;
const FLOAT: u8 = 99;
const ATOM: u8 = 100;
const REFERENCE: u8 = 101;
const PORT: u8 = 102;
const PID: u8 = 103;
const SMALL_TUPLE: u8 = 104;
const LARGE_TUPLE: u8 = 105;
const NIL: u8 = 106;
const STRING: u8 = 107;
const LIST: u8 = 108;
const BINARY: u8 = 109;
const SMALL_BIG: u8 = 110;
const LARGE_BIG: u8 = 111;
const EXPORT: u8 = 113;
const NEW_REFERENCE: u8 = 114;
const SMALL_ATOM: u8 = 115;
const MAP: u8 = 116;
const NEW_FUN: u8 = 112;
const ATOM_UTF8: u8 = 118;
const SMALL_ATOM_UTF8: u8 = 119;
const V4_PORT: u8 = 120;

/// Deeper terms are refused rather than risking the small stack of a dirty
/// scheduler thread.
pub const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EtfError {
    #[error("not an external term: missing version byte")]
    NoVersion,
    #[error("truncated term")]
    Truncated,
    #[error("unknown tag {0}")]
    UnknownTag(u8),
    #[error("trailing bytes after the term")]
    Trailing,
    #[error("term nested deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("unsupported term: {0}")]
    Unsupported(&'static str),
    #[error("invalid atom text")]
    InvalidAtom,
}

/// Decodes one whole term; bytes after it are an error.
pub fn decode_value(bytes: &[u8]) -> Result<Value, EtfError> {
    let mut reader = Reader { bytes, pos: 0 };
    if reader.u8()? != VERSION {
        return Err(EtfError::NoVersion);
    }
    let value = reader.term(0)?;
    if reader.pos != bytes.len() {
        return Err(EtfError::Trailing);
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EtfError> {
        let end = self.pos.checked_add(n).ok_or(EtfError::Truncated)?;
        let slice = self.bytes.get(self.pos..end).ok_or(EtfError::Truncated)?;
        self.pos = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, EtfError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<usize, EtfError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]) as usize)
    }

    fn u32(&mut self) -> Result<usize, EtfError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    /// A count of items that each take at least one byte can never exceed
    /// the bytes left: checking that first keeps a forged length from
    /// reserving gigabytes.
    fn count(&mut self, wide: bool) -> Result<usize, EtfError> {
        let n = if wide {
            self.u32()?
        } else {
            self.u8()? as usize
        };
        if n > self.bytes.len() - self.pos {
            return Err(EtfError::Truncated);
        }
        Ok(n)
    }

    fn term(&mut self, depth: usize) -> Result<Value, EtfError> {
        if depth > MAX_DEPTH {
            return Err(EtfError::TooDeep);
        }
        let tag = self.u8()?;
        match tag {
            SMALL_INTEGER => Ok(Value::Integer(self.u8()? as i64)),
            INTEGER => {
                let b = self.take(4)?;
                Ok(Value::Integer(
                    i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as i64
                ))
            }
            SMALL_BIG | LARGE_BIG => {
                let n = if tag == SMALL_BIG {
                    self.u8()? as usize
                } else {
                    self.u32()?
                };
                let sign = self.u8()?;
                let digits = self.take(n)?;
                Ok(big_integer(sign != 0, digits))
            }
            NEW_FLOAT => {
                let b = self.take(8)?;
                let mut raw = [0u8; 8];
                raw.copy_from_slice(b);
                Ok(Value::Float(f64::from_be_bytes(raw)))
            }
            FLOAT => {
                let text = self.take(31)?;
                let text = std::str::from_utf8(text).map_err(|_| EtfError::Unsupported("float"))?;
                let text = text.trim_end_matches('\0');
                text.parse()
                    .map(Value::Float)
                    .map_err(|_| EtfError::Unsupported("float"))
            }
            ATOM | SMALL_ATOM | ATOM_UTF8 | SMALL_ATOM_UTF8 => self.atom_body(tag).map(Value::Atom),
            SMALL_TUPLE | LARGE_TUPLE => {
                let n = self.count(tag == LARGE_TUPLE)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.term(depth + 1)?);
                }
                Ok(Value::Tuple(items))
            }
            NIL => Ok(Value::List(Vec::new())),
            STRING => {
                let n = self.u16()?;
                let bytes = self.take(n)?;
                Ok(Value::List(
                    bytes.iter().map(|&b| Value::Integer(b as i64)).collect(),
                ))
            }
            LIST => {
                let n = self.count(true)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.term(depth + 1)?);
                }
                match self.term(depth + 1)? {
                    Value::List(tail) if tail.is_empty() => Ok(Value::List(items)),
                    _ => Err(EtfError::Unsupported("improper list")),
                }
            }
            BINARY => {
                let n = self.u32()?;
                Ok(Value::Binary(self.take(n)?.to_vec()))
            }
            BIT_BINARY => {
                let n = self.u32()?;
                let bits = self.u8()?;
                let data = self.take(n)?;
                if bits == 8 {
                    Ok(Value::Binary(data.to_vec()))
                } else {
                    Ok(Value::Opaque(OpaqueKind::Bitstring))
                }
            }
            MAP => {
                let n = self.u32()?;
                if n > (self.bytes.len() - self.pos) / 2 {
                    return Err(EtfError::Truncated);
                }
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let key = self.term(depth + 1)?;
                    let value = self.term(depth + 1)?;
                    entries.push((key, value));
                }
                Ok(Value::Map(entries))
            }
            PID | NEW_PID => {
                self.node()?;
                self.take(if tag == PID { 9 } else { 12 })?;
                Ok(Value::Opaque(OpaqueKind::Pid))
            }
            PORT | NEW_PORT | V4_PORT => {
                self.node()?;
                self.take(match tag {
                    PORT => 5,
                    NEW_PORT => 8,
                    _ => 12,
                })?;
                Ok(Value::Opaque(OpaqueKind::Port))
            }
            REFERENCE => {
                self.node()?;
                self.take(5)?;
                Ok(Value::Opaque(OpaqueKind::Reference))
            }
            NEW_REFERENCE | NEWER_REFERENCE => {
                let words = self.u16()?;
                self.node()?;
                self.take(if tag == NEW_REFERENCE { 1 } else { 4 })?;
                self.take(words.checked_mul(4).ok_or(EtfError::Truncated)?)?;
                Ok(Value::Opaque(OpaqueKind::Reference))
            }
            NEW_FUN => {
                let size = self.u32()?;
                self.take(size.checked_sub(4).ok_or(EtfError::Truncated)?)?;
                Ok(Value::Opaque(OpaqueKind::Function))
            }
            EXPORT => {
                self.term(depth + 1)?;
                self.term(depth + 1)?;
                self.term(depth + 1)?;
                Ok(Value::Opaque(OpaqueKind::Function))
            }
            COMPRESSED => Err(EtfError::Unsupported("compressed term")),
            other => Err(EtfError::UnknownTag(other)),
        }
    }

    fn atom_body(&mut self, tag: u8) -> Result<String, EtfError> {
        let n = match tag {
            ATOM | ATOM_UTF8 => self.u16()?,
            _ => self.u8()? as usize,
        };
        let text = self.take(n)?;
        match tag {
            // Latin-1: every byte is the code point of the same value.
            ATOM | SMALL_ATOM => Ok(text.iter().map(|&b| b as char).collect()),
            _ => String::from_utf8(text.to_vec()).map_err(|_| EtfError::InvalidAtom),
        }
    }

    /// Node names inside pids, ports and references are atoms.
    fn node(&mut self) -> Result<(), EtfError> {
        let tag = self.u8()?;
        match tag {
            ATOM | SMALL_ATOM | ATOM_UTF8 | SMALL_ATOM_UTF8 => self.atom_body(tag).map(|_| ()),
            _ => Err(EtfError::UnknownTag(tag)),
        }
    }
}

fn big_integer(negative: bool, little_endian_digits: &[u8]) -> Value {
    let significant = little_endian_digits
        .iter()
        .rposition(|&d| d != 0)
        .map_or(0, |i| i + 1);
    if significant <= 8 {
        let mut raw = [0u8; 8];
        raw[..significant].copy_from_slice(&little_endian_digits[..significant]);
        let magnitude = u64::from_le_bytes(raw);
        let value = if negative {
            0i128 - magnitude as i128
        } else {
            magnitude as i128
        };
        if let Ok(small) = i64::try_from(value) {
            return Value::Integer(small);
        }
    }
    Value::BigInteger(BigInt::from_le_bytes(negative, little_endian_digits))
}

/// Appends the encodings `term_to_binary` uses for the manifest's terms.
pub struct Writer {
    pub bytes: Vec<u8>,
}

impl Writer {
    pub fn with_capacity(n: usize) -> Writer {
        let mut bytes = Vec::with_capacity(n + 1);
        bytes.push(VERSION);
        Writer { bytes }
    }

    pub fn map_header(&mut self, arity: usize) {
        self.bytes.push(MAP);
        self.bytes.extend_from_slice(&(arity as u32).to_be_bytes());
    }

    pub fn list_header(&mut self, len: usize) {
        if len > 0 {
            self.bytes.push(LIST);
            self.bytes.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }

    /// Ends a list started with `list_header`; an empty list is just this.
    pub fn nil(&mut self) {
        self.bytes.push(NIL);
    }

    pub fn binary(&mut self, data: &[u8]) {
        self.bytes.push(BINARY);
        self.bytes
            .extend_from_slice(&(data.len() as u32).to_be_bytes());
        self.bytes.extend_from_slice(data);
    }

    /// Integers 0..=255 only, the sole integer the manifest holds.
    pub fn small_integer(&mut self, n: u8) {
        self.bytes.push(SMALL_INTEGER);
        self.bytes.push(n);
    }
}

/// Encodes a `Value` as an external term, so the VM's safe decoder can turn
/// it into a term: that decoder refuses atoms that do not exist yet, which is
/// exactly the guarantee codecs need. Fails on opaque values and on nesting
/// deeper than `MAX_DEPTH`.
pub fn encode_value(value: &Value) -> Result<Vec<u8>, EtfError> {
    let mut w = Writer::with_capacity(64);
    w.value(value, 0)?;
    Ok(w.bytes)
}

impl Writer {
    fn value(&mut self, value: &Value, depth: usize) -> Result<(), EtfError> {
        if depth > MAX_DEPTH {
            return Err(EtfError::TooDeep);
        }
        match value {
            Value::Atom(name) => {
                let len = name.len();
                if len < 256 {
                    self.bytes.push(SMALL_ATOM_UTF8);
                    self.bytes.push(len as u8);
                } else if len <= u16::MAX as usize {
                    self.bytes.push(ATOM_UTF8);
                    self.bytes.extend_from_slice(&(len as u16).to_be_bytes());
                } else {
                    return Err(EtfError::InvalidAtom);
                }
                self.bytes.extend_from_slice(name.as_bytes());
            }
            Value::Integer(n) => self.integer(*n),
            Value::BigInteger(n) => self.big_integer(n),
            Value::Float(f) => {
                self.bytes.push(NEW_FLOAT);
                self.bytes.extend_from_slice(&f.to_be_bytes());
            }
            Value::Binary(data) => self.binary(data),
            Value::List(items) => {
                self.list_header(items.len());
                for item in items {
                    self.value(item, depth + 1)?;
                }
                self.nil();
            }
            Value::Tuple(items) => {
                if items.len() < 256 {
                    self.bytes.push(SMALL_TUPLE);
                    self.bytes.push(items.len() as u8);
                } else {
                    self.bytes.push(LARGE_TUPLE);
                    self.bytes
                        .extend_from_slice(&(items.len() as u32).to_be_bytes());
                }
                for item in items {
                    self.value(item, depth + 1)?;
                }
            }
            Value::Map(entries) => {
                self.map_header(entries.len());
                for (k, v) in entries {
                    self.value(k, depth + 1)?;
                    self.value(v, depth + 1)?;
                }
            }
            Value::Opaque(_) => return Err(EtfError::Unsupported("opaque term")),
        }
        Ok(())
    }

    fn integer(&mut self, n: i64) {
        if (0..=255).contains(&n) {
            self.small_integer(n as u8);
        } else if let Ok(small) = i32::try_from(n) {
            self.bytes.push(INTEGER);
            self.bytes.extend_from_slice(&small.to_be_bytes());
        } else {
            let magnitude = n.unsigned_abs().to_le_bytes();
            let len = magnitude.iter().rposition(|&b| b != 0).map_or(1, |i| i + 1);
            self.bytes.push(SMALL_BIG);
            self.bytes.push(len as u8);
            self.bytes.push(u8::from(n < 0));
            self.bytes.extend_from_slice(&magnitude[..len]);
        }
    }

    fn big_integer(&mut self, n: &BigInt) {
        let magnitude = n.magnitude();
        // Zero has one digit in the external format.
        let digits = if magnitude.is_empty() {
            &[0][..]
        } else {
            magnitude
        };
        if digits.len() < 256 {
            self.bytes.push(SMALL_BIG);
            self.bytes.push(digits.len() as u8);
        } else {
            self.bytes.push(LARGE_BIG);
            self.bytes
                .extend_from_slice(&(digits.len() as u32).to_be_bytes());
        }
        self.bytes.push(u8::from(n.is_negative()));
        self.bytes.extend_from_slice(digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_common_terms() {
        // :erlang.term_to_binary(%{"a" => [1, -1, 300, 2.5, :ok, {}], "b" => <<1, 2>>})
        let bytes = [
            131, 116, 0, 0, 0, 2, 109, 0, 0, 0, 1, 97, 108, 0, 0, 0, 6, 97, 1, 98, 255, 255, 255,
            255, 98, 0, 0, 1, 44, 70, 64, 4, 0, 0, 0, 0, 0, 0, 119, 2, 111, 107, 104, 0, 106, 109,
            0, 0, 0, 1, 98, 109, 0, 0, 0, 2, 1, 2,
        ];
        let value = decode_value(&bytes).unwrap();
        assert_eq!(
            value,
            Value::Map(vec![
                (
                    Value::binary(*b"a"),
                    Value::List(vec![
                        Value::Integer(1),
                        Value::Integer(-1),
                        Value::Integer(300),
                        Value::Float(2.5),
                        Value::atom("ok"),
                        Value::Tuple(vec![]),
                    ])
                ),
                (Value::binary(*b"b"), Value::binary([1, 2])),
            ])
        );
    }

    #[test]
    fn refuses_truncation_trailing_bytes_and_forged_lengths() {
        let good = [131, 109, 0, 0, 0, 2, 1, 2];
        assert!(decode_value(&good).is_ok());
        for cut in 0..good.len() {
            assert!(decode_value(&good[..cut]).is_err(), "prefix {cut}");
        }
        let mut trailing = good.to_vec();
        trailing.push(0);
        assert_eq!(decode_value(&trailing), Err(EtfError::Trailing));
        assert_eq!(
            decode_value(&[131, 108, 255, 255, 255, 255, 106]),
            Err(EtfError::Truncated)
        );
        assert_eq!(
            decode_value(&[131, 116, 255, 255, 255, 255]),
            Err(EtfError::Truncated)
        );
    }

    #[test]
    fn bounds_nesting() {
        let mut deep = vec![131];
        for _ in 0..100_000 {
            deep.extend_from_slice(&[108, 0, 0, 0, 1]);
        }
        assert_eq!(decode_value(&deep), Err(EtfError::TooDeep));
    }

    #[test]
    fn big_integers_fold_into_i64_when_they_fit() {
        // 2^64 and -(2^63)
        let two_64 = [131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            decode_value(&two_64).unwrap(),
            Value::BigInteger(BigInt::from_decimal("18446744073709551616").unwrap())
        );
        let min = [131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128];
        assert_eq!(decode_value(&min).unwrap(), Value::Integer(i64::MIN));
    }

    #[test]
    fn big_integers_keep_their_bytes_whatever_their_size() {
        // A 1 MiB integer, as `term_to_binary` writes it: decoding and
        // encoding copy its digits, never convert them.
        let mut bytes = vec![131, LARGE_BIG];
        bytes.extend_from_slice(&(1u32 << 20).to_be_bytes());
        bytes.push(1);
        bytes.extend((0..1u32 << 20).map(|i| (i % 251) as u8 | 1));
        let value = decode_value(&bytes).unwrap();
        let Value::BigInteger(n) = &value else {
            panic!("not a big integer")
        };
        assert!(n.is_negative());
        assert_eq!(n.magnitude(), &bytes[7..]);
        assert_eq!(encode_value(&value).unwrap(), bytes);
    }

    #[test]
    fn encode_then_decode_is_the_identity() {
        let value = Value::Map(vec![
            (
                Value::atom("key_pair"),
                Value::Tuple(vec![Value::Integer(-5), Value::Float(0.5)]),
            ),
            (
                Value::binary(*b"ids"),
                Value::List(vec![
                    Value::Integer(300),
                    Value::Integer(i64::MIN),
                    Value::BigInteger(
                        BigInt::from_decimal("-340282366920938463463374607431768211456").unwrap(),
                    ),
                    Value::atom("état"),
                ]),
            ),
        ]);
        assert_eq!(decode_value(&encode_value(&value).unwrap()).unwrap(), value);
        assert!(encode_value(&Value::Opaque(OpaqueKind::Pid)).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for len in 0..2_000 {
            let mut bytes = vec![131];
            for _ in 0..(len % 64) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push((seed & 0xFF) as u8);
            }
            let _ = decode_value(&bytes);
        }
    }
}
