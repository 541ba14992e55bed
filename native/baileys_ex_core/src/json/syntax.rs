//! JSON text <-> a small document tree, both directions without recursion.
//!
//! The reader follows what Elixir's `JSON.decode/1` (Erlang's `:json`) makes of
//! a document: integers of any size stay integers, anything with a fraction or
//! exponent is a float, and when an object repeats a key the FIRST occurrence
//! wins. Objects come out with their keys sorted bytewise, the order in which
//! the VM walks a small map of binary keys, so "first/last in map order"
//! rules of the original can be applied to our trees directly.

use std::fmt;

use super::limits::{MAX_INPUT_BYTES, MAX_JSON_DEPTH, MAX_OUTPUT_BYTES};
use super::JsonError;

/// A parsed JSON document.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer outside `i64`, as canonical decimal digits with optional `-`.
    BigInt(String),
    Float(f64),
    Str(String),
    Array(Vec<Json>),
    /// Unique keys, sorted bytewise.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The value under `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(entries) => entries
                .binary_search_by(|(k, _)| k.as_bytes().cmp(key.as_bytes()))
                .ok()
                .map(|i| &entries[i].1),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    pub fn str(s: &str) -> Json {
        Json::Str(s.to_owned())
    }

    /// An object from entries in any order; a repeated key keeps its LAST
    /// value (what `Map.new/2` does when the original builds a map).
    pub fn object_last_wins(mut entries: Vec<(String, Json)>) -> Json {
        // A stable sort keeps equal keys in insertion order.
        entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut out: Vec<(String, Json)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => out.push((k, v)),
            }
        }
        Json::Object(out)
    }

    /// An object from entries in any order; a repeated key keeps its FIRST
    /// value (what a reader of a document with repeated keys sees).
    pub fn object_first_wins(mut entries: Vec<(String, Json)>) -> Json {
        entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        entries.dedup_by(|later, earlier| later.0 == earlier.0);
        Json::Object(entries)
    }
}

/// Why `JSON.decode/1` refuses a document; the NIF returns it as the same
/// `{:unexpected_end, offset}` / `{:invalid_byte, offset, byte}` /
/// `{:unexpected_sequence, offset, bytes}` reason the original returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyntaxError {
    UnexpectedEnd { offset: usize },
    InvalidByte { offset: usize, byte: u8 },
    UnexpectedSequence { offset: usize, bytes: Vec<u8> },
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyntaxError::UnexpectedEnd { offset } => {
                write!(
                    f,
                    "unexpected end of JSON binary at position (byte offset) {offset}"
                )
            }
            SyntaxError::InvalidByte { offset, byte } => {
                write!(f, "invalid byte {byte} at position (byte offset) {offset}")
            }
            SyntaxError::UnexpectedSequence { offset, bytes } => write!(
                f,
                "unexpected sequence {:?} at position (byte offset) {offset}",
                String::from_utf8_lossy(bytes)
            ),
        }
    }
}

enum Frame {
    Array(Vec<Json>),
    Object {
        entries: Vec<(String, Json)>,
        key: Option<String>,
    },
}

/// Parses one JSON document (surrounding whitespace allowed).
pub fn parse(bytes: &[u8]) -> Result<Json, JsonError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(JsonError::TooLarge);
    }
    let mut stack = Vec::new();
    let result = Parser { bytes, pos: 0 }.document(&mut stack);
    for frame in stack {
        match frame {
            Frame::Array(items) => items.into_iter().for_each(dispose),
            Frame::Object { entries, .. } => entries.into_iter().for_each(|(_, v)| dispose(v)),
        }
    }
    result
}

/// Tears a document down without recursion (the compiler's drop recurses
/// once per nesting level).
pub fn dispose(doc: Json) {
    let mut stack = vec![doc];
    while let Some(node) = stack.pop() {
        match node {
            Json::Array(items) => stack.extend(items),
            Json::Object(entries) => stack.extend(entries.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

fn syntax(err: SyntaxError) -> JsonError {
    JsonError::Syntax(err)
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn end(&self) -> JsonError {
        syntax(SyntaxError::UnexpectedEnd {
            offset: self.bytes.len(),
        })
    }

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

    fn document(mut self, stack: &mut Vec<Frame>) -> Result<Json, JsonError> {
        self.skip_ws();
        // `value` holds a finished value that still has to be attached to the
        // innermost open container (or returned, when none is open).
        let mut value: Json;
        'outer: loop {
            // Read the start of a value.
            self.skip_ws();
            match self.peek() {
                None => return Err(self.end()),
                Some(b'[') => {
                    self.pos += 1;
                    if stack.len() >= MAX_JSON_DEPTH {
                        return Err(JsonError::TooDeep);
                    }
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        value = Json::Array(Vec::new());
                    } else {
                        stack.push(Frame::Array(Vec::new()));
                        continue 'outer;
                    }
                }
                Some(b'{') => {
                    self.pos += 1;
                    if stack.len() >= MAX_JSON_DEPTH {
                        return Err(JsonError::TooDeep);
                    }
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        value = Json::Object(Vec::new());
                    } else {
                        let key = self.key()?;
                        stack.push(Frame::Object {
                            entries: Vec::new(),
                            key: Some(key),
                        });
                        continue 'outer;
                    }
                }
                Some(_) => value = self.scalar()?,
            }
            // Attach finished values and close containers as far as possible.
            loop {
                let Some(top) = stack.last_mut() else {
                    let value_end = self.pos;
                    self.skip_ws();
                    if self.pos != self.bytes.len() {
                        // Reported at the first byte after the value, even
                        // when that is whitespace.
                        return Err(syntax(SyntaxError::InvalidByte {
                            offset: value_end,
                            byte: self.bytes[value_end],
                        }));
                    }
                    return Ok(value);
                };
                match top {
                    Frame::Array(items) => items.push(value),
                    Frame::Object { entries, key } => {
                        let k = key.take().unwrap_or_default();
                        entries.push((k, value));
                    }
                }
                self.skip_ws();
                match (self.peek(), stack.last_mut()) {
                    (Some(b','), Some(Frame::Array(_))) => {
                        self.pos += 1;
                        continue 'outer;
                    }
                    (Some(b','), Some(Frame::Object { key, .. })) => {
                        self.pos += 1;
                        self.skip_ws();
                        *key = Some(self.key()?);
                        continue 'outer;
                    }
                    (Some(b']'), Some(Frame::Array(_)))
                    | (Some(b'}'), Some(Frame::Object { .. })) => {
                        self.pos += 1;
                        value = match stack.pop() {
                            Some(Frame::Array(items)) => Json::Array(items),
                            Some(Frame::Object { entries, .. }) => Json::object_first_wins(entries),
                            None => return Err(self.end()),
                        };
                    }
                    _ => return Err(self.invalid_here()),
                }
            }
        }
    }

    /// An object key and the colon after it.
    fn key(&mut self) -> Result<String, JsonError> {
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

    fn literal(&mut self, word: &[u8], value: Json) -> Result<Json, JsonError> {
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

    fn scalar(&mut self) -> Result<Json, JsonError> {
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

    fn number(&mut self) -> Result<Json, JsonError> {
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
        // The slice holds only ASCII digits, signs, '.', 'e' and 'E'.
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("0");
        if !fraction && exponent_at.is_none() {
            return Ok(integer_from_digits(text));
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

    fn string(&mut self) -> Result<String, JsonError> {
        // Opening quote.
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            let run = &self.bytes[run_start..self.pos];
            if let Err(e) = std::str::from_utf8(run) {
                let lead = run_start + e.valid_up_to();
                // The VM names the first byte that cannot continue the
                // sequence: the lead itself if it can never start one.
                let offset = match (self.bytes[lead], e.error_len()) {
                    (0x80..=0xC1 | 0xF5..=0xFF, _) => lead,
                    (_, Some(n)) => lead + n,
                    // Cut short by a quote, backslash or control byte.
                    (_, None) => self.pos,
                };
                return match self.bytes.get(offset) {
                    Some(&byte) => Err(syntax(SyntaxError::InvalidByte { offset, byte })),
                    None => Err(self.end()),
                };
            }
            out.extend_from_slice(run);
            match self.peek() {
                None => return Err(self.end()),
                Some(b'"') => {
                    self.pos += 1;
                    // Every run was checked and escapes push whole chars.
                    return String::from_utf8(out).map_err(|_| self.end());
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(_) => return Err(self.invalid_here()),
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), JsonError> {
        let start = self.pos;
        self.pos += 1;
        let Some(c) = self.peek() else {
            return Err(self.end());
        };
        self.pos += 1;
        let simple = match c {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0C),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            _ => {
                self.pos -= 1;
                return Err(self.invalid_here());
            }
        };
        if let Some(b) = simple {
            out.push(b);
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
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                Ok(())
            }
            None => Err(bad_sequence(self, 6)),
        }
    }
}

/// An integer from validated JSON digits (`-?(0|[1-9][0-9]*)`).
fn integer_from_digits(text: &str) -> Json {
    match text.parse::<i64>() {
        Ok(n) => Json::Int(n),
        Err(_) => Json::BigInt(text.to_owned()),
    }
}

/// Serialises a tree; keys are written in the order held.
pub fn write(doc: &Json) -> Result<Vec<u8>, JsonError> {
    enum Step<'a> {
        Value(&'a Json),
        Raw(&'static [u8]),
        Key(&'a str),
    }
    let mut out: Vec<u8> = Vec::new();
    let mut todo: Vec<Step<'_>> = vec![Step::Value(doc)];
    while let Some(step) = todo.pop() {
        if out.len() > MAX_OUTPUT_BYTES {
            return Err(JsonError::TooLarge);
        }
        match step {
            Step::Raw(bytes) => out.extend_from_slice(bytes),
            Step::Key(key) => {
                write_string(&mut out, key);
                out.push(b':');
            }
            Step::Value(value) => match value {
                Json::Null => out.extend_from_slice(b"null"),
                Json::Bool(true) => out.extend_from_slice(b"true"),
                Json::Bool(false) => out.extend_from_slice(b"false"),
                Json::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
                Json::BigInt(digits) => out.extend_from_slice(digits.as_bytes()),
                Json::Float(f) => out.extend_from_slice(format_float(*f)?.as_bytes()),
                Json::Str(s) => write_string(&mut out, s),
                Json::Array(items) => {
                    out.push(b'[');
                    todo.push(Step::Raw(b"]"));
                    for (i, item) in items.iter().enumerate().rev() {
                        todo.push(Step::Value(item));
                        if i > 0 {
                            todo.push(Step::Raw(b","));
                        }
                    }
                }
                Json::Object(entries) => {
                    out.push(b'{');
                    todo.push(Step::Raw(b"}"));
                    for (i, (k, v)) in entries.iter().enumerate().rev() {
                        todo.push(Step::Value(v));
                        todo.push(Step::Key(k));
                        if i > 0 {
                            todo.push(Step::Raw(b","));
                        }
                    }
                }
            },
        }
    }
    if out.len() > MAX_OUTPUT_BYTES {
        return Err(JsonError::TooLarge);
    }
    Ok(out)
}

/// Shortest round-trip text that JSON readers still see as a float (always
/// has a `.` or an exponent, so the VM does not read an integer back).
pub fn format_float(f: f64) -> Result<String, JsonError> {
    if !f.is_finite() {
        return Err(JsonError::Unsupported(format!(
            "non-finite float {f} has no JSON form"
        )));
    }
    Ok(format!("{f:?}"))
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0C => Some(b"\\f"),
            0x00..=0x1F => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[run_start..i]);
        match escaped {
            Some(seq) => out.extend_from_slice(seq),
            None => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
        }
        run_start = i + 1;
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
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
            Json::BigInt("123456789012345678901234567890".into())
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

    #[test]
    fn writes_what_it_reads() {
        let text = br#"{"a":[1,-2.5,1e20,"q\"\\\n\u0001",true,false,null],"b":{}}"#;
        let doc = parse(text).unwrap();
        let again = parse(&write(&doc).unwrap()).unwrap();
        assert_eq!(doc, again);
        assert_eq!(write(&Json::Float(1.0)).unwrap(), b"1.0");
    }
}
