//! Elixir's `inspect/1` rendering of a term, as far as the original's error
//! messages need it. Output is single-line (the original's may wrap long
//! terms); collections show at most 50 items like the default `:limit`, and
//! nesting is cut short so a hostile term cannot make a message huge.

use std::cmp::Ordering;

use super::number_text::short_float;
use crate::value::{OpaqueKind, Value};

const ITEM_LIMIT: usize = 50;
const PRINTABLE_LIMIT: usize = 4096;
const DEPTH_LIMIT: usize = 24;

pub fn inspect(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

/// `inspect/1` of an atom given by name.
pub fn inspect_atom(name: &str) -> String {
    match name {
        "nil" | "true" | "false" => return name.to_owned(),
        _ => {}
    }
    if let Some(alias) = name.strip_prefix("Elixir.") {
        if !alias.is_empty() && alias.split('.').all(is_alias_segment) {
            return alias.to_owned();
        }
    }
    if is_plain_atom(name) {
        format!(":{name}")
    } else {
        format!(":\"{}\"", escape_string(name))
    }
}

/// `inspect/1` of a binary: a quoted string when printable UTF-8, else bytes.
pub fn inspect_binary(bytes: &[u8]) -> String {
    let mut out = String::new();
    write_binary(&mut out, bytes);
    out
}

/// `inspect/1` of a float: integral values from 1 up to 1.0e16 with every
/// digit (`1000000000000000.0`), anything else as `Float.to_string/1` has it.
fn inspect_float(f: f64) -> String {
    if !f.is_finite() {
        return format!("{f}");
    }
    let magnitude = f.abs();
    if (1.0..1.0e16).contains(&magnitude) && magnitude.trunc() == magnitude {
        // Below 1.0e16 the value fits an i64 exactly.
        return format!("{}.0", f as i64);
    }
    short_float(f)
}

fn is_alias_segment(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('A'..='Z')) && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_plain_atom(name: &str) -> bool {
    let body = name
        .strip_suffix('?')
        .or_else(|| name.strip_suffix('!'))
        .unwrap_or(name);
    let mut chars = body.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || c == '_' || c == '@')
}

/// `String.printable?/1`.
pub fn is_printable(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.chars().all(printable_char),
        Err(_) => false,
    }
}

fn printable_char(c: char) -> bool {
    matches!(c as u32,
        0x20..=0x7E
        | 0x07..=0x0D
        | 0x1B
        | 0x7F
        | 0xA0..=0xD7FF
        | 0xE000..=0xFFFD
        | 0x10000..=0x10FFFF)
}

fn escape_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '#' if chars.peek() == Some(&'{') => out.push_str("\\#"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0B}' => out.push_str("\\v"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\u{1B}' => out.push_str("\\e"),
            '\u{7F}' => out.push_str("\\d"),
            '\u{07}' => out.push_str("\\a"),
            other => out.push(other),
        }
    }
    out
}

fn write_binary(out: &mut String, bytes: &[u8]) {
    if is_printable(bytes) {
        let s = std::str::from_utf8(bytes).unwrap_or_default();
        if s.len() > PRINTABLE_LIMIT {
            let mut cut = PRINTABLE_LIMIT;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push('"');
            out.push_str(&escape_string(&s[..cut]));
            out.push_str("\" <> ...");
        } else {
            out.push('"');
            out.push_str(&escape_string(s));
            out.push('"');
        }
        return;
    }
    out.push_str("<<");
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if i == ITEM_LIMIT {
            out.push_str("...");
            break;
        }
        out.push_str(&b.to_string());
    }
    out.push_str(">>");
}

fn write_items<'a>(out: &mut String, items: impl Iterator<Item = &'a Value>, depth: usize) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if i == ITEM_LIMIT {
            out.push_str("...");
            break;
        }
        write_value(out, item, depth + 1);
    }
}

fn keyword_key(key: &Value) -> Option<&str> {
    match key {
        Value::Atom(name) if is_plain_atom(name) => Some(name),
        _ => None,
    }
}

fn write_value(out: &mut String, value: &Value, depth: usize) {
    if depth > DEPTH_LIMIT {
        out.push_str("...");
        return;
    }
    match value {
        Value::Atom(name) => out.push_str(&inspect_atom(name)),
        Value::Integer(n) => out.push_str(&n.to_string()),
        Value::BigInteger(n) => match n.to_decimal() {
            Some(text) => out.push_str(&text),
            // Error messages only; the codecs refuse such an integer.
            None => out.push_str("<integer too large to print>"),
        },
        Value::Float(f) => out.push_str(&inspect_float(*f)),
        Value::Binary(bytes) => write_binary(out, bytes),
        Value::List(items) => {
            let keyword = !items.is_empty()
                && items.iter().all(|item| {
                    matches!(item, Value::Tuple(pair) if pair.len() == 2 && keyword_key(&pair[0]).is_some())
                });
            out.push('[');
            if keyword {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if i == ITEM_LIMIT {
                        out.push_str("...");
                        break;
                    }
                    if let Value::Tuple(pair) = item {
                        out.push_str(keyword_key(&pair[0]).unwrap_or_default());
                        out.push_str(": ");
                        write_value(out, &pair[1], depth + 1);
                    }
                }
            } else {
                write_items(out, items.iter(), depth);
            }
            out.push(']');
        }
        Value::Tuple(items) => {
            out.push('{');
            write_items(out, items.iter(), depth);
            out.push('}');
        }
        Value::Map(entries) => write_map(out, entries, depth),
        Value::Opaque(kind) => out.push_str(match kind {
            OpaqueKind::Pid => "#PID<0.0.0>",
            OpaqueKind::Port => "#Port<0.0>",
            OpaqueKind::Reference => "#Reference<0.0.0.0>",
            OpaqueKind::Function => "#Function<>",
            OpaqueKind::Bitstring => "<<0::size(1)>>",
        }),
    }
}

fn write_map(out: &mut String, entries: &[(Value, Value)], depth: usize) {
    let module = entries.iter().find_map(|(k, v)| match (k, v) {
        (Value::Atom(k), Value::Atom(m)) if k == "__struct__" => Some(m.as_str()),
        _ => None,
    });
    let mut sorted: Vec<&(Value, Value)> = entries
        .iter()
        .filter(|(k, _)| module.is_none() || !matches!(k, Value::Atom(a) if a == "__struct__"))
        .collect();
    sorted.sort_by(|a, b| term_cmp(&a.0, &b.0, 0));
    match module {
        Some(m) => {
            out.push('%');
            out.push_str(inspect_atom(m).trim_start_matches(':'));
            out.push('{');
        }
        None => out.push_str("%{"),
    }
    let keyword = sorted.iter().all(|(k, _)| keyword_key(k).is_some());
    for (i, (k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if i == ITEM_LIMIT {
            out.push_str("...");
            break;
        }
        if keyword {
            out.push_str(keyword_key(k).unwrap_or_default());
            out.push_str(": ");
        } else {
            write_value(out, k, depth + 1);
            out.push_str(" => ");
        }
        write_value(out, v, depth + 1);
    }
    out.push('}');
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Integer(_) | Value::BigInteger(_) | Value::Float(_) => 0,
        Value::Atom(_) => 1,
        Value::Opaque(OpaqueKind::Reference) => 2,
        Value::Opaque(OpaqueKind::Function) => 3,
        Value::Opaque(OpaqueKind::Port) => 4,
        Value::Opaque(OpaqueKind::Pid) => 5,
        Value::Tuple(_) => 6,
        Value::Map(_) => 7,
        Value::List(items) if items.is_empty() => 8,
        Value::List(_) => 9,
        Value::Binary(_) | Value::Opaque(OpaqueKind::Bitstring) => 10,
    }
}

fn number_cmp(a: &Value, b: &Value) -> Ordering {
    fn as_f64(v: &Value) -> f64 {
        match v {
            Value::Integer(n) => *n as f64,
            Value::Float(f) => *f,
            Value::BigInteger(n) => {
                if n.is_negative() {
                    f64::MIN
                } else {
                    f64::MAX
                }
            }
            _ => 0.0,
        }
    }
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::BigInteger(x), Value::BigInteger(y)) => x.cmp_value(y),
        _ => as_f64(a).total_cmp(&as_f64(b)),
    }
}

/// Orders decimal integer strings (optional `-`, no leading zeros).
pub fn big_cmp(x: &str, y: &str) -> Ordering {
    let (xn, xd) = x.strip_prefix('-').map_or((false, x), |d| (true, d));
    let (yn, yd) = y.strip_prefix('-').map_or((false, y), |d| (true, d));
    let magnitude = xd.len().cmp(&yd.len()).then_with(|| xd.cmp(yd));
    match (xn, yn) {
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
    }
}

/// Erlang term order, used to list map keys the way the VM does for small
/// maps. Nesting past the inspect depth compares as equal.
pub fn term_cmp(a: &Value, b: &Value, depth: usize) -> Ordering {
    if depth > DEPTH_LIMIT {
        return Ordering::Equal;
    }
    let rank = type_rank(a).cmp(&type_rank(b));
    if rank != Ordering::Equal {
        return rank;
    }
    match (a, b) {
        (Value::Atom(x), Value::Atom(y)) => x.cmp(y),
        (Value::Binary(x), Value::Binary(y)) => x.cmp(y),
        (Value::Tuple(x), Value::Tuple(y)) => {
            x.len().cmp(&y.len()).then_with(|| seq_cmp(x, y, depth))
        }
        (Value::List(x), Value::List(y)) => {
            seq_cmp(x, y, depth).then_with(|| x.len().cmp(&y.len()))
        }
        (Value::Map(x), Value::Map(y)) => x.len().cmp(&y.len()),
        _ if type_rank(a) == 0 => number_cmp(a, b),
        _ => Ordering::Equal,
    }
}

fn seq_cmp(x: &[Value], y: &[Value], depth: usize) -> Ordering {
    for (p, q) in x.iter().zip(y) {
        let o = term_cmp(p, q, depth + 1);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_the_vm() {
        assert_eq!(inspect_atom("labels"), ":labels");
        assert_eq!(inspect_atom("foo-bar"), ":\"foo-bar\"");
        assert_eq!(inspect_atom("Elixir.Foo.Bar"), "Foo.Bar");
        assert_eq!(inspect_atom("nil"), "nil");
        assert_eq!(inspect_binary(b"a\"b"), "\"a\\\"b\"");
        assert_eq!(inspect_binary(&[1, 2, 255]), "<<1, 2, 255>>");
        let path = Value::List(vec![
            Value::atom("additional_data"),
            Value::binary(&b"nested"[..]),
            Value::Integer(0),
        ]);
        assert_eq!(inspect(&path), "[:additional_data, \"nested\", 0]");
        let map = Value::Map(vec![
            (Value::binary(&b"type"[..]), Value::binary(&b"Buffer"[..])),
            (Value::binary(&b"data"[..]), Value::nil()),
        ]);
        assert_eq!(inspect(&map), "%{\"data\" => nil, \"type\" => \"Buffer\"}");
        let kw = Value::Map(vec![
            (Value::atom("b"), Value::Integer(1)),
            (Value::atom("a"), Value::Integer(2)),
        ]);
        assert_eq!(inspect(&kw), "%{a: 2, b: 1}");
    }

    #[test]
    fn floats_use_the_vm_layout() {
        // What Elixir's inspect/1 gives for each.
        for (f, text) in [
            (0.0001, "0.0001"),
            (1.2e-4, "1.2e-4"),
            (2.0e-5, "2.0e-5"),
            (1.0e5, "100000.0"),
            (1.0e15, "1000000000000000.0"),
            (9007199254740992.0, "9007199254740992.0"),
            (1.0e16, "1.0e16"),
            (1.2345678901234568e17, "1.2345678901234568e17"),
            (123.456, "123.456"),
            (-1.5, "-1.5"),
            (-1.0e3, "-1000.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1939183399297225.2, "1939183399297225.2"),
        ] {
            assert_eq!(inspect_float(f), text);
            assert_eq!(inspect(&Value::Float(f)), text);
        }
    }

    #[test]
    fn printable_matches_string_printable() {
        assert!(is_printable("Fixture A ✓\n\t".as_bytes()));
        assert!(!is_printable(&[0]));
        assert!(!is_printable("\u{85}".as_bytes()));
        assert!(!is_printable(&[0xff]));
        assert!(is_printable(b""));
    }
}
