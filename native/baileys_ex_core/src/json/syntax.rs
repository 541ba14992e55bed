//! JSON text <-> a small document tree, both directions without recursion.
//!
//! The reader follows what Elixir's `JSON.decode/1` (Erlang's `:json`) makes of
//! a document: integers of any size stay integers, anything with a fraction or
//! exponent is a float, and when an object repeats a key the FIRST occurrence
//! wins. Objects come out with their keys sorted bytewise, the order in which
//! the VM walks a small map of binary keys, so "first/last in map order"
//! rules of the original can be applied to our trees directly.
//!
//! Strings and keys without escapes borrow from the document read (or from
//! the term being encoded), which keeps a large file from turning into tens
//! of thousands of small allocations.

use std::borrow::Cow;
use std::fmt;

use super::buffer::{encode64_into, BUFFER_TAG};
use super::limits::{MAX_INPUT_BYTES, MAX_JSON_DEPTH, MAX_OUTPUT_BYTES};
use super::JsonError;
use crate::bigint::BigInt;

/// An object member.
pub type Entry<'a> = (Cow<'a, str>, Json<'a>);

/// A parsed JSON document, or one about to be written.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer outside `i64`; its text has at most
    /// `bigint::MAX_DECIMAL_DIGITS` digits.
    BigInt(BigInt),
    Float(f64),
    Str(Cow<'a, str>),
    /// Baileys' Buffer object, `{"data":"<base64>","type":"Buffer"}`, of
    /// these bytes. Only encoders build it, so that the base64 text goes
    /// straight into the output; the reader returns the plain object.
    Buffer(&'a [u8]),
    Array(Vec<Json<'a>>),
    /// Unique keys, sorted bytewise.
    Object(Vec<Entry<'a>>),
}

impl<'a> Json<'a> {
    /// The value under `key` of an object.
    #[inline]
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            // Keys are unique, so a scan finds what a search would; on the
            // small objects that dominate it compares lengths first.
            Json::Object(entries) if entries.len() <= 8 => entries
                .iter()
                .find(|(k, _)| k.as_bytes() == key.as_bytes())
                .map(|(_, v)| v),
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

    pub fn str(s: &'a str) -> Json<'a> {
        Json::Str(Cow::Borrowed(s))
    }

    /// An object from entries in any order; a repeated key keeps its LAST
    /// value (what `Map.new/2` does when the original builds a map).
    pub fn object_last_wins(mut entries: Vec<Entry<'a>>) -> Json<'a> {
        if !strictly_sorted(&entries) {
            sort_by_key_bytes(&mut entries);
            // Equal keys stay in insertion order; the one kept takes the
            // value of the last.
            entries.dedup_by(|later, earlier| {
                if later.0 == earlier.0 {
                    std::mem::swap(&mut later.1, &mut earlier.1);
                    true
                } else {
                    false
                }
            });
        }
        Json::Object(entries)
    }

    /// An object from entries in any order; a repeated key keeps its FIRST
    /// value (what a reader of a document with repeated keys sees).
    pub fn object_first_wins(mut entries: Vec<Entry<'a>>) -> Json<'a> {
        if !strictly_sorted(&entries) {
            sort_by_key_bytes(&mut entries);
            entries.dedup_by(|later, earlier| later.0 == earlier.0);
        }
        Json::Object(entries)
    }

    /// An array or object with something in it.
    fn has_children(&self) -> bool {
        match self {
            Json::Array(items) => !items.is_empty(),
            Json::Object(entries) => !entries.is_empty(),
            _ => false,
        }
    }

    /// An array or object holding a non-empty array or object.
    fn is_deep(&self) -> bool {
        match self {
            Json::Array(items) => items.iter().any(Json::has_children),
            Json::Object(entries) => entries.iter().any(|(_, v)| v.has_children()),
            _ => false,
        }
    }
}

/// Whether keys are already sorted and unique, as they are in what we write
/// and in what the codecs list in order.
fn strictly_sorted(entries: &[Entry<'_>]) -> bool {
    entries.windows(2).all(|w| {
        let (a, b) = (w[0].0.as_bytes(), w[1].0.as_bytes());
        // Most neighbours differ in their first byte.
        match (a.first(), b.first()) {
            (Some(x), Some(y)) if x != y => x < y,
            _ => a < b,
        }
    })
}

/// A stable sort by key bytes. Large objects (message-key maps) are ordered
/// through their keys packed into integers, so that most comparisons never
/// touch the strings.
fn sort_by_key_bytes(entries: &mut [Entry<'_>]) {
    if entries.len() <= 32 {
        entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        return;
    }
    // Each position paired with its key's sort word; the position also
    // keeps equal keys in insertion order.
    let mut order: Vec<(u64, usize)> = Vec::with_capacity(entries.len());
    let mut all_short = true;
    for (i, (k, _)) in entries.iter().enumerate() {
        let key = k.as_bytes();
        all_short &= key.len() <= 7;
        order.push((key_word(key), i));
    }
    if all_short {
        order.sort_unstable();
    } else {
        order.sort_unstable_by(|a, b| {
            (a.0 >> 8)
                .cmp(&(b.0 >> 8))
                .then_with(|| entries[a.1].0.as_bytes().cmp(entries[b.1].0.as_bytes()))
                .then(a.1.cmp(&b.1))
        });
    }
    permute(entries, order.into_iter().map(|(_, i)| i).collect());
}

/// The first seven key bytes (zero-padded, big-endian) above the key's
/// length, capped at 255. For keys of at most seven bytes this orders
/// exactly as the bytes do; for longer keys the top 56 bits still order
/// correctly wherever they differ.
fn key_word(key: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    let n = key.len().min(7);
    word[..n].copy_from_slice(&key[..n]);
    word[7] = u8::try_from(key.len()).unwrap_or(u8::MAX);
    u64::from_be_bytes(word)
}

/// Rearranges `items` so that position `i` holds what was at `from[i]`
/// (`from` is a permutation), in place, one cycle at a time.
fn permute<T>(items: &mut [T], mut from: Vec<usize>) {
    let done = usize::MAX;
    for start in 0..from.len() {
        let mut at = start;
        // Invariant: `items[at]` holds the item that started the cycle.
        while let Some(&next) = from.get(at) {
            if next == done {
                break;
            }
            from[at] = done;
            if next == start {
                break;
            }
            if next < items.len() {
                items.swap(at, next);
            }
            at = next;
        }
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

/// Index of the first byte at or after `i` that a JSON string cannot hold
/// as it is (a quote, a backslash or a control character), or the length.
/// Eight bytes at a time: most strings we handle are long base64 runs.
#[inline(always)]
fn special_at(bytes: &[u8], mut i: usize) -> usize {
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

/// Tears a document down without deep recursion (the compiler's drop
/// recurses once per nesting level): nodes with grandchildren are taken
/// apart here, and what is left drops at most two levels down.
pub fn dispose(doc: Json<'_>) {
    if !doc.is_deep() {
        return;
    }
    let mut stack = vec![doc];
    while let Some(mut node) = stack.pop() {
        match &mut node {
            Json::Array(items) => {
                for item in items.iter_mut().filter(|item| item.is_deep()) {
                    stack.push(std::mem::replace(item, Json::Null));
                }
            }
            Json::Object(entries) => {
                for (_, value) in entries.iter_mut().filter(|(_, value)| value.is_deep()) {
                    stack.push(std::mem::replace(value, Json::Null));
                }
            }
            _ => {}
        }
    }
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

/// Serialises a tree; keys are written in the order held.
pub fn write(doc: &Json<'_>) -> Result<Vec<u8>, JsonError> {
    enum Open<'b, 'a> {
        Array(std::slice::Iter<'b, Json<'a>>),
        Object(std::slice::Iter<'b, Entry<'a>>),
    }
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    // Open containers, each with whether it still has nothing written.
    let mut open: Vec<(Open<'_, '_>, bool)> = Vec::new();
    let mut next = Some(doc);
    loop {
        if let Some(value) = next.take() {
            if out.len() > MAX_OUTPUT_BYTES {
                return Err(JsonError::TooLarge);
            }
            match value {
                Json::Null => out.extend_from_slice(b"null"),
                Json::Bool(true) => out.extend_from_slice(b"true"),
                Json::Bool(false) => out.extend_from_slice(b"false"),
                Json::Int(n) => write_int(&mut out, *n),
                Json::BigInt(n) => {
                    let text = n.to_decimal().ok_or(JsonError::IntegerTooLarge)?;
                    out.extend_from_slice(text.as_bytes());
                }
                Json::Float(f) => out.extend_from_slice(format_float(*f)?.as_bytes()),
                Json::Str(s) => write_string(&mut out, s),
                Json::Buffer(bytes) => {
                    out.extend_from_slice(b"{\"data\":\"");
                    encode64_into(bytes, &mut out)?;
                    out.extend_from_slice(b"\",\"type\":\"");
                    out.extend_from_slice(BUFFER_TAG.as_bytes());
                    out.extend_from_slice(b"\"}");
                }
                Json::Array(items) => {
                    out.push(b'[');
                    open.push((Open::Array(items.iter()), true));
                }
                Json::Object(entries) => {
                    out.push(b'{');
                    open.push((Open::Object(entries.iter()), true));
                }
            }
        }
        let Some((top, first)) = open.last_mut() else {
            break;
        };
        match top {
            Open::Array(items) => match items.next() {
                Some(item) => {
                    if !*first {
                        out.push(b',');
                    }
                    *first = false;
                    next = Some(item);
                }
                None => {
                    out.push(b']');
                    open.pop();
                }
            },
            Open::Object(entries) => match entries.next() {
                Some((key, value)) => {
                    if !*first {
                        out.push(b',');
                    }
                    *first = false;
                    write_string(&mut out, key);
                    out.push(b':');
                    next = Some(value);
                }
                None => {
                    out.push(b'}');
                    open.pop();
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

/// Decimal text of an integer, appended.
fn write_int(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(int_text(n, &mut buf).as_bytes());
}

/// Decimal text of an integer, formatted into `buf`.
pub fn int_text(n: i64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    // Only ASCII digits and a sign were written.
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run_start = 0;
    loop {
        let at = special_at(bytes, run_start);
        out.extend_from_slice(bytes.get(run_start..at).unwrap_or_default());
        let Some(&b) = bytes.get(at) else {
            break;
        };
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0C => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xF)],
            ]),
        }
        run_start = at + 1;
    }
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
        let doc = format!("[-{longest}]");
        assert_eq!(
            write(&parse(doc.as_bytes()).unwrap()).unwrap(),
            doc.as_bytes()
        );
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

    #[test]
    fn writes_what_it_reads() {
        let text = br#"{"a":[1,-2.5,1e20,"q\"\\\n\u0001",true,false,null],"b":{}}"#;
        let doc = parse(text).unwrap();
        let written = write(&doc).unwrap();
        let again = parse(&written).unwrap();
        assert_eq!(doc, again);
        assert_eq!(write(&Json::Float(1.0)).unwrap(), b"1.0");
    }
}
