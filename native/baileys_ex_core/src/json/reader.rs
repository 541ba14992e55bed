//! JSON text -> document tree, without recursion.
//!
//! Follows what Elixir's `JSON.decode/1` (Erlang's `:json`) makes of a
//! document: integers of any size stay integers, anything with a fraction or
//! exponent is a float, and when an object repeats a key the FIRST occurrence
//! wins. Errors are the reasons `JSON.decode/1` gives, at the same offsets.
//!
//! Strings and keys without escapes borrow from the document read, which
//! keeps a large file from turning into tens of thousands of small
//! allocations.

use std::borrow::Cow;

use super::errors::{JsonError, SyntaxError};
use super::limits::{MAX_INPUT_BYTES, MAX_JSON_DEPTH};
use super::string_scan::special_at;
use super::tree::{dispose, Entry, Json};
use crate::bigint::BigInt;

enum Open {
    /// Items from `start` of the shared item stack belong to this array.
    Array { start: usize },
    /// Entries from `start` of the shared entry stack belong to this object;
    /// the last one waits for the value being read.
    Object { start: usize },
}

/// Parses one JSON document (surrounding whitespace allowed).
pub fn parse(bytes: &[u8]) -> Result<Json<'_>, JsonError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(JsonError::TooLarge);
    }
    let mut parser = Parser {
        bytes,
        // One check of the whole input lets every string borrow from it;
        // without it each run is checked and errors are placed exactly.
        text: std::str::from_utf8(bytes).ok(),
        pos: 0,
        open: Vec::new(),
        items: Vec::new(),
        entries: Vec::new(),
    };
    let result = parser.document();
    parser.items.into_iter().for_each(dispose);
    parser.entries.into_iter().for_each(|(_, v)| dispose(v));
    result
}

struct Parser<'a> {
    bytes: &'a [u8],
    /// The whole input, when it is valid UTF-8.
    text: Option<&'a str>,
    pos: usize,
    open: Vec<Open>,
    /// Finished items of every open array, innermost last.
    items: Vec<Json<'a>>,
    /// Finished entries of every open object, innermost last.
    entries: Vec<Entry<'a>>,
}

fn syntax(err: SyntaxError) -> JsonError {
    JsonError::Syntax(err)
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[cold]
    #[inline(never)]
    fn end(&self) -> JsonError {
        syntax(SyntaxError::UnexpectedEnd {
            offset: self.bytes.len(),
        })
    }

    #[cold]
    #[inline(never)]
    fn invalid_here(&self) -> JsonError {
        match self.peek() {
            Some(byte) => syntax(SyntaxError::InvalidByte {
                offset: self.pos,
                byte,
            }),
            None => self.end(),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn document(&mut self) -> Result<Json<'a>, JsonError> {
        self.skip_ws();
        'outer: loop {
            // Read a value, or open a container and read its first value.
            self.skip_ws();
            // Each value is attached where it is built: carrying it through a
            // shared variable would copy it through memory every time.
            let root = match self.peek() {
                None => return Err(self.end()),
                Some(b'[') => {
                    self.pos += 1;
                    if self.open.len() >= MAX_JSON_DEPTH {
                        return Err(JsonError::TooDeep);
                    }
                    self.skip_ws();
                    if self.peek() != Some(b']') {
                        self.open.push(Open::Array {
                            start: self.items.len(),
                        });
                        continue 'outer;
                    }
                    self.pos += 1;
                    self.attach(Json::Array(Vec::new()))
                }
                Some(b'{') => {
                    self.pos += 1;
                    if self.open.len() >= MAX_JSON_DEPTH {
                        return Err(JsonError::TooDeep);
                    }
                    self.skip_ws();
                    if self.peek() != Some(b'}') {
                        let start = self.entries.len();
                        let key = self.key()?;
                        self.entries.push((key, Json::Null));
                        self.open.push(Open::Object { start });
                        continue 'outer;
                    }
                    self.pos += 1;
                    self.attach(Json::Object(Vec::new()))
                }
                Some(b'"') => {
                    let text = self.string()?;
                    self.attach(Json::Str(text))
                }
                Some(_) => {
                    let value = self.scalar()?;
                    self.attach(value)
                }
            };
            if let Some(root) = root {
                return self.finish(root);
            }
            // Separators, and closing containers as far as possible.
            loop {
                self.skip_ws();
                let in_array = matches!(self.open.last(), Some(Open::Array { .. }));
                match (self.peek(), in_array) {
                    (Some(b','), true) => {
                        self.pos += 1;
                        continue 'outer;
                    }
                    (Some(b','), false) => {
                        self.pos += 1;
                        self.skip_ws();
                        let key = self.key()?;
                        self.entries.push((key, Json::Null));
                        continue 'outer;
                    }
                    (Some(b']'), true) | (Some(b'}'), false) => {
                        self.pos += 1;
                        let closed = match self.open.pop() {
                            Some(Open::Array { start }) => {
                                Json::Array(take_from(&mut self.items, start))
                            }
                            Some(Open::Object { start }) => {
                                Json::object_first_wins(take_from(&mut self.entries, start))
                            }
                            None => return Err(self.end()),
                        };
                        if let Some(root) = self.attach(closed) {
                            return self.finish(root);
                        }
                    }
                    _ => return Err(self.invalid_here()),
                }
            }
        }
    }

    /// Adds a finished value to the innermost open container; with none
    /// open, it is the document, handed back.
    #[inline(always)]
    fn attach(&mut self, value: Json<'a>) -> Option<Json<'a>> {
        match self.open.last() {
            None => Some(value),
            Some(Open::Array { .. }) => {
                self.items.push(value);
                None
            }
            Some(Open::Object { .. }) => {
                if let Some((_, slot)) = self.entries.last_mut() {
                    *slot = value;
                }
                None
            }
        }
    }

    /// The document, if nothing but whitespace follows it.
    fn finish(&mut self, root: Json<'a>) -> Result<Json<'a>, JsonError> {
        let value_end = self.pos;
        self.skip_ws();
        if self.pos != self.bytes.len() {
            dispose(root);
            // Reported at the first byte after the value, even when that is
            // whitespace.
            return Err(syntax(SyntaxError::InvalidByte {
                offset: value_end,
                byte: self.bytes[value_end],
            }));
        }
        Ok(root)
    }

    /// An object key and the colon after it.
    #[inline(always)]
    fn key(&mut self) -> Result<Cow<'a, str>, JsonError> {
        if self.peek() != Some(b'"') {
            return Err(self.invalid_here());
        }
        let key = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.invalid_here());
        }
        self.pos += 1;
        Ok(key)
    }

    fn literal(&mut self, word: &[u8], value: Json<'a>) -> Result<Json<'a>, JsonError> {
        let start = self.pos;
        if self.bytes[start..].starts_with(word) {
            self.pos += word.len();
            return Ok(value);
        }
        // The VM's reader judges a broken literal by its length alone: too
        // short is an unexpected end, else the byte after the first letter.
        if self.bytes.len() <= start + word.len() {
            return Err(self.end());
        }
        Err(syntax(SyntaxError::InvalidByte {
            offset: start + 1,
            byte: self.bytes[start + 1],
        }))
    }

    #[inline(always)]
    fn scalar(&mut self) -> Result<Json<'a>, JsonError> {
        match self.peek() {
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.literal(b"true", Json::Bool(true)),
            Some(b'f') => self.literal(b"false", Json::Bool(false)),
            Some(b'n') => self.literal(b"null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.invalid_here()),
        }
    }

    fn digits(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'0'..=b'9') => {}
            _ => return Err(self.invalid_here()),
        }
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        Ok(())
    }

    #[inline(always)]
    fn number(&mut self) -> Result<Json<'a>, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits()?,
            _ => return Err(self.invalid_here()),
        }
        let int_end = self.pos;
        let mut fraction = false;
        let mut exponent_at = None;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.digits()?;
            fraction = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            exponent_at = Some(self.pos);
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.digits()?;
        }
        if !fraction && exponent_at.is_none() {
            if let Some(n) = small_integer(&self.bytes[start..self.pos]) {
                return Ok(Json::Int(n));
            }
        }
        self.number_text(start, int_end, fraction, exponent_at)
    }

    /// A number that is not a small integer.
    #[inline(never)]
    fn number_text(
        &self,
        start: usize,
        int_end: usize,
        fraction: bool,
        exponent_at: Option<usize>,
    ) -> Result<Json<'a>, JsonError> {
        // The slice holds only ASCII digits, signs, '.', 'e' and 'E'.
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("0");
        if !fraction && exponent_at.is_none() {
            return integer_from_digits(text);
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Json::Float(f)),
            // The VM's float conversion fails on overflow; its reader reports
            // the text it tried, with ".0" added when there was no fraction.
            _ => {
                let token = match (fraction, exponent_at) {
                    (false, Some(at)) => {
                        let mut t = self.bytes[start..int_end].to_vec();
                        t.extend_from_slice(b".0e");
                        t.extend_from_slice(&self.bytes[at..self.pos]);
                        t
                    }
                    _ => self.bytes[start..self.pos].to_vec(),
                };
                Err(syntax(SyntaxError::UnexpectedSequence {
                    offset: start,
                    bytes: token,
                }))
            }
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let chunk = self.bytes.get(at..at + 4)?;
        let mut n = 0u32;
        for &b in chunk {
            n = n * 16 + (b as char).to_digit(16)?;
        }
        Some(n)
    }

    /// The text of `start..self.pos`, a run without quotes, backslashes or
    /// control bytes, refused the way the VM refuses invalid UTF-8.
    #[inline(always)]
    fn run(&self, start: usize) -> Result<&'a str, JsonError> {
        match self.text.and_then(|t| t.get(start..self.pos)) {
            Some(run) => Ok(run),
            None => self.checked_run(start),
        }
    }

    #[inline(never)]
    fn checked_run(&self, start: usize) -> Result<&'a str, JsonError> {
        let bytes: &'a [u8] = self.bytes;
        let run = &bytes[start..self.pos];
        match std::str::from_utf8(run) {
            Ok(run) => Ok(run),
            Err(e) => {
                let lead = start + e.valid_up_to();
                // The VM names the first byte that cannot continue the
                // sequence: the lead itself if it can never start one.
                let offset = match (bytes[lead], e.error_len()) {
                    (0x80..=0xC1 | 0xF5..=0xFF, _) => lead,
                    (_, Some(n)) => lead + n,
                    // Cut short by a quote, backslash or control byte.
                    (_, None) => self.pos,
                };
                match bytes.get(offset) {
                    Some(&byte) => Err(syntax(SyntaxError::InvalidByte { offset, byte })),
                    None => Err(self.end()),
                }
            }
        }
    }

    // Inlined so that the result stays in registers: moving it through
    // memory costs more than reading the string.
    #[inline(always)]
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        // Opening quote.
        self.pos += 1;
        // Only a string with escapes needs its own buffer.
        let mut out: Option<String> = None;
        loop {
            let run_start = self.pos;
            self.pos = special_at(self.bytes, self.pos);
            let run = self.run(run_start)?;
            match self.peek() {
                None => return Err(self.end()),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(match out {
                        None => Cow::Borrowed(run),
                        Some(mut text) => {
                            text.push_str(run);
                            Cow::Owned(text)
                        }
                    });
                }
                Some(b'\\') => {
                    let text = out.get_or_insert_with(String::new);
                    text.push_str(run);
                    self.escape(text)?;
                }
                Some(_) => return Err(self.invalid_here()),
            }
        }
    }

    #[inline(never)]
    fn escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let start = self.pos;
        self.pos += 1;
        let Some(c) = self.peek() else {
            return Err(self.end());
        };
        self.pos += 1;
        let simple = match c {
            b'"' => Some('"'),
            b'\\' => Some('\\'),
            b'/' => Some('/'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            b'u' => None,
            _ => {
                self.pos -= 1;
                return Err(self.invalid_here());
            }
        };
        if let Some(ch) = simple {
            out.push(ch);
            return Ok(());
        }
        let bad_sequence = |p: &Parser<'_>, len: usize| {
            let end = (start + len).min(p.bytes.len());
            if start + len > p.bytes.len() {
                return p.end();
            }
            syntax(SyntaxError::UnexpectedSequence {
                offset: start,
                bytes: p.bytes[start..end].to_vec(),
            })
        };
        let Some(first) = self.hex4(self.pos) else {
            return Err(bad_sequence(self, 6));
        };
        self.pos += 4;
        let code = match first {
            0xD800..=0xDBFF => {
                // Without a whole second escape the byte after the first is
                // refused (or the input ended too soon).
                if self.pos + 6 > self.bytes.len() {
                    return Err(self.end());
                }
                if &self.bytes[self.pos..self.pos + 2] != b"\\u" {
                    return Err(syntax(SyntaxError::InvalidByte {
                        offset: self.pos,
                        byte: self.bytes[self.pos],
                    }));
                }
                match self.hex4(self.pos + 2) {
                    Some(low @ 0xDC00..=0xDFFF) => {
                        self.pos += 6;
                        0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
                    }
                    _ => return Err(bad_sequence(self, 12)),
                }
            }
            0xDC00..=0xDFFF => return Err(bad_sequence(self, 6)),
            other => other,
        };
        match char::from_u32(code) {
            Some(ch) => {
                out.push(ch);
                Ok(())
            }
            None => Err(bad_sequence(self, 6)),
        }
    }
}

/// The items of `stack` from `start` on, moved into a vector of their own
/// exact size (`split_off(0)` would hand over the whole stack buffer).
fn take_from<T>(stack: &mut Vec<T>, start: usize) -> Vec<T> {
    if start > 0 {
        return stack.split_off(start);
    }
    let mut out = Vec::with_capacity(stack.len());
    out.append(stack);
    out
}

/// The value of validated JSON integer digits (`-?(0|[1-9][0-9]*)`) short
/// enough that they always fit an `i64`.
#[inline(always)]
fn small_integer(digits: &[u8]) -> Option<i64> {
    let (negative, digits) = match digits {
        [b'-', rest @ ..] => (true, rest),
        all => (false, all),
    };
    if digits.len() > 18 {
        return None;
    }
    let n = digits
        .iter()
        .fold(0i64, |n, &d| n * 10 + i64::from(d.wrapping_sub(b'0')));
    Some(if negative { -n } else { n })
}

/// An integer from validated JSON digits (`-?(0|[1-9][0-9]*)`); past
/// `bigint::MAX_DECIMAL_DIGITS` digits it is refused, as converting it
/// would take time quadratic in its length.
fn integer_from_digits(text: &str) -> Result<Json<'static>, JsonError> {
    match text.parse::<i64>() {
        Ok(n) => Ok(Json::Int(n)),
        Err(_) => BigInt::from_decimal(text)
            .map(Json::BigInt)
            .map_err(|_| JsonError::IntegerTooLarge),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> JsonError {
        parse(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn reads_scalars_and_containers() {
        assert_eq!(parse(b" 1 ").unwrap(), Json::Int(1));
        assert_eq!(parse(b"-0").unwrap(), Json::Int(0));
        assert_eq!(parse(b"1e2").unwrap(), Json::Float(100.0));
        assert_eq!(
            parse(b"123456789012345678901234567890").unwrap(),
            Json::BigInt(BigInt::from_decimal("123456789012345678901234567890").unwrap())
        );
        assert_eq!(
            parse(br#"{"b":[1,{"x":null}],"a":"\u00e9\ud83d\udcf1"}"#).unwrap(),
            Json::Object(vec![
                ("a".into(), Json::Str("é📱".into())),
                (
                    "b".into(),
                    Json::Array(vec![
                        Json::Int(1),
                        Json::Object(vec![("x".into(), Json::Null)])
                    ])
                ),
            ])
        );
        assert_eq!(parse(b"[]").unwrap(), Json::Array(vec![]));
        assert_eq!(parse(b"{}").unwrap(), Json::Object(vec![]));
    }

    #[test]
    fn integers_longer_than_the_bound_are_refused() {
        let longest = "9".repeat(crate::bigint::MAX_DECIMAL_DIGITS);
        let Json::BigInt(n) = parse(longest.as_bytes()).unwrap() else {
            panic!("not a big integer")
        };
        assert_eq!(n.to_decimal().as_deref(), Some(longest.as_str()));
        for text in [format!("1{longest}"), format!("[1, -{longest}1]")] {
            assert!(
                matches!(err(&text), JsonError::IntegerTooLarge),
                "{}",
                &text[..5]
            );
        }
        // A fraction is a float, however many digits it has.
        assert!(matches!(
            parse(format!("0.{longest}{longest}").as_bytes()),
            Ok(Json::Float(_))
        ));
    }

    #[test]
    fn repeated_keys_keep_the_first_value() {
        assert_eq!(
            parse(br#"{"a":1,"a":2}"#).unwrap(),
            Json::Object(vec![("a".into(), Json::Int(1))])
        );
    }

    #[test]
    fn reports_the_reasons_the_vm_reports() {
        assert!(matches!(
            err(""),
            JsonError::Syntax(SyntaxError::UnexpectedEnd { offset: 0 })
        ));
        assert!(matches!(
            err("[1,"),
            JsonError::Syntax(SyntaxError::UnexpectedEnd { offset: 3 })
        ));
        assert!(matches!(
            err("[1}"),
            JsonError::Syntax(SyntaxError::InvalidByte {
                offset: 2,
                byte: b'}'
            })
        ));
        assert!(matches!(
            err("01"),
            JsonError::Syntax(SyntaxError::InvalidByte { offset: 1, .. })
        ));
        assert!(matches!(
            err("\"\\udc00\""),
            JsonError::Syntax(SyntaxError::UnexpectedSequence { offset: 1, .. })
        ));
        assert!(matches!(
            err("\"\\ud800\""),
            JsonError::Syntax(SyntaxError::UnexpectedEnd { .. })
        ));
        assert!(matches!(
            parse(b"\"\xff\"").unwrap_err(),
            JsonError::Syntax(SyntaxError::InvalidByte {
                offset: 1,
                byte: 0xff
            })
        ));
        assert!(matches!(err("\"a\nb\""), JsonError::Syntax(_)));
        assert!(matches!(
            err("1e999"),
            JsonError::Syntax(SyntaxError::UnexpectedSequence { offset: 0, bytes }) if bytes == b"1.0e999"
        ));
        assert!(matches!(
            err("[1] x"),
            JsonError::Syntax(SyntaxError::InvalidByte {
                offset: 3,
                byte: b' '
            })
        ));
        assert!(matches!(
            parse(b"\"\xc3A\"").unwrap_err(),
            JsonError::Syntax(SyntaxError::InvalidByte {
                offset: 2,
                byte: b'A'
            })
        ));
        assert!(matches!(
            err("\"\\ud800\\u0041\""),
            JsonError::Syntax(SyntaxError::UnexpectedSequence { offset: 1, bytes }) if bytes.len() == 12
        ));
        assert!(matches!(
            err("nulxx"),
            JsonError::Syntax(SyntaxError::InvalidByte {
                offset: 1,
                byte: b'u'
            })
        ));
        assert!(matches!(err("nul"), JsonError::Syntax(_)));
    }

    #[test]
    fn deep_documents_are_refused_without_recursion() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(matches!(err(&deep), JsonError::TooDeep));
        let deep_obj = "{\"a\":".repeat(100_000);
        assert!(matches!(err(&deep_obj), JsonError::TooDeep));
        let ok = "[".repeat(MAX_JSON_DEPTH) + &"]".repeat(MAX_JSON_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
    }
}
