//! `Map.new/1`'s rule for repeated keys (the last one wins), for map terms
//! built from decoded pairs.

use std::collections::HashMap;

use super::limits::MAX_JSON_DEPTH;
use crate::value::Value;

/// Map entries with repeated keys collapsed, the LAST one winning (what
/// `Map.new/1` does with a list of pairs).
pub(crate) fn dedupe_last_wins(entries: Vec<(Value, Value)>) -> Vec<(Value, Value)> {
    if entries.len() < 2 || keys_distinct(&entries) {
        return entries;
    }
    let mut index: HashMap<Vec<u8>, usize> = HashMap::with_capacity(entries.len());
    let mut out: Vec<Option<(Value, Value)>> = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let mut key = Vec::new();
        canonical(&k, &mut key, 0);
        match index.get(&key) {
            Some(&i) => out[i] = Some((k, v)),
            None => {
                index.insert(key, out.len());
                out.push(Some((k, v)));
            }
        }
    }
    out.into_iter().flatten().collect()
}

/// Whether no two keys are equal, settled by sorting when every key is an
/// integer or every key a binary (the maps the decoders build); `false`
/// means "perhaps not".
fn keys_distinct(entries: &[(Value, Value)]) -> bool {
    let ints: Option<Vec<i64>> = entries
        .iter()
        .map(|(k, _)| match k {
            Value::Integer(n) => Some(*n),
            _ => None,
        })
        .collect();
    if let Some(mut ints) = ints {
        ints.sort_unstable();
        return ints.windows(2).all(|w| w[0] != w[1]);
    }
    let binaries: Option<Vec<&[u8]>> = entries
        .iter()
        .map(|(k, _)| match k {
            Value::Binary(b) => Some(b.as_slice()),
            _ => None,
        })
        .collect();
    if let Some(mut binaries) = binaries {
        binaries.sort_unstable();
        return binaries.windows(2).all(|w| w[0] != w[1]);
    }
    false
}

/// An injective byte encoding of a term, for key comparison. Map entries are
/// sorted so equal maps encode equally.
fn canonical(value: &Value, out: &mut Vec<u8>, depth: usize) {
    fn len(out: &mut Vec<u8>, n: usize) {
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    if depth > MAX_JSON_DEPTH + 2 {
        out.push(0xFF);
        return;
    }
    match value {
        Value::Atom(a) => {
            out.push(1);
            len(out, a.len());
            out.extend_from_slice(a.as_bytes());
        }
        Value::Integer(n) => {
            out.push(2);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Value::BigInteger(n) => {
            out.push(3);
            out.push(u8::from(n.is_negative()));
            len(out, n.magnitude().len());
            out.extend_from_slice(n.magnitude());
        }
        Value::Float(f) => {
            out.push(4);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Binary(b) => {
            out.push(5);
            len(out, b.len());
            out.extend_from_slice(b);
        }
        Value::List(items) | Value::Tuple(items) => {
            out.push(if matches!(value, Value::List(_)) {
                6
            } else {
                7
            });
            len(out, items.len());
            for item in items {
                canonical(item, out, depth + 1);
            }
        }
        Value::Map(entries) => {
            let mut encoded: Vec<Vec<u8>> = entries
                .iter()
                .map(|(k, v)| {
                    let mut e = Vec::new();
                    canonical(k, &mut e, depth + 1);
                    canonical(v, &mut e, depth + 1);
                    e
                })
                .collect();
            encoded.sort();
            out.push(8);
            len(out, encoded.len());
            for e in encoded {
                len(out, e.len());
                out.extend_from_slice(&e);
            }
        }
        Value::Opaque(kind) => {
            out.push(9);
            out.push(*kind as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_keeps_the_last_value() {
        let e = vec![
            (Value::Integer(1), Value::Integer(10)),
            (Value::Integer(2), Value::Integer(20)),
            (Value::Integer(1), Value::Integer(11)),
        ];
        let d = dedupe_last_wins(e);
        assert_eq!(d.len(), 2);
        assert!(d.contains(&(Value::Integer(1), Value::Integer(11))));
    }
}
