//! Document tree -> JSON text, without recursion, as `JSON.encode!/1`
//! writes it: no whitespace, keys in the order the tree holds them.

use super::base64::encode64_into;
use super::errors::JsonError;
use super::limits::MAX_OUTPUT_BYTES;
use super::number_text::{float_text, int_text};
use super::string_scan::special_at;
use super::tree::{Entry, Json, BUFFER_TAG};

/// Serialises a tree; keys are written in the order held. A document
/// longer than `MAX_OUTPUT_BYTES` is `TooLarge`.
pub fn write(doc: &Json<'_>) -> Result<Vec<u8>, JsonError> {
    write_within(doc, MAX_OUTPUT_BYTES)
}

/// `write`, with a document longer than `limit` bytes refused.
pub fn write_within(doc: &Json<'_>, limit: usize) -> Result<Vec<u8>, JsonError> {
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
            if out.len() > limit {
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
                Json::Float(f) => out.extend_from_slice(float_text(*f)?.as_bytes()),
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
    if out.len() > limit {
        return Err(JsonError::TooLarge);
    }
    Ok(out)
}

/// Decimal text of an integer, appended.
fn write_int(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(int_text(n, &mut buf).as_bytes());
}

/// Upper case, as the VM's encoder writes `\u001F`.
const HEX: &[u8; 16] = b"0123456789ABCDEF";

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
    use crate::json::reader::parse;

    #[test]
    fn writes_integers_of_any_length_digit_for_digit() {
        let longest = "9".repeat(crate::bigint::MAX_DECIMAL_DIGITS);
        let doc = format!("[-{longest},0,-9223372036854775808,9223372036854775807]");
        assert_eq!(
            write(&parse(doc.as_bytes()).unwrap()).unwrap(),
            doc.as_bytes()
        );
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

    #[test]
    fn strings_are_escaped_as_the_vm_escapes_them() {
        let mut text: String = (0u8..0x20).map(char::from).collect();
        text.push_str("\"\\/\u{7f}é📱");
        let expected = concat!(
            r#""\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000B\f\r\u000E\u000F"#,
            r#"\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C"#,
            r#"\u001D\u001E\u001F\"\\/"#,
            "\u{7f}é📱\"",
        );
        assert_eq!(
            String::from_utf8(write(&Json::str(&text)).unwrap()).unwrap(),
            expected
        );
    }

    #[test]
    fn floats_are_written_as_the_vm_writes_them() {
        let doc = Json::Array(
            [1.0e20, 2.0e-5, 0.1, 1.0, 1.0e3, 1.0e15, -0.0, 1.2e-4]
                .into_iter()
                .map(Json::Float)
                .collect(),
        );
        assert_eq!(
            write(&doc).unwrap(),
            b"[1.0e20,2.0e-5,0.1,1.0,1.0e3,1.0e15,-0.0,1.2e-4]"
        );
        assert!(matches!(
            write(&Json::Float(f64::NAN)),
            Err(JsonError::Unsupported(_))
        ));
    }
}
