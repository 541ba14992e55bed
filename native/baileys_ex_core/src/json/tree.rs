//! The JSON document tree the reader builds, the codecs fill and the writer
//! writes, and the object-key order every part relies on.
//!
//! Objects keep their keys sorted bytewise, the order in which the VM walks a
//! small map of binary keys, so "first/last in map order" rules of the
//! original can be applied to our trees directly. Strings may borrow from the
//! document read or from the term being encoded.

use std::borrow::Cow;

use crate::bigint::BigInt;

/// The `type` of Baileys' Buffer object.
pub const BUFFER_TAG: &str = "Buffer";

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

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(doc: &Json) -> Vec<String> {
        match doc {
            Json::Object(entries) => entries.iter().map(|(k, _)| k.to_string()).collect(),
            _ => vec![],
        }
    }

    #[test]
    fn objects_sort_keys_bytewise_and_keep_the_first_or_last_repeat() {
        // Enough keys for the packed-word sort, some longer than seven bytes
        // and sharing a prefix, some repeated.
        let mut entries: Vec<Entry> = Vec::new();
        for i in (0..40).rev() {
            entries.push((format!("key-{i:02}").into(), Json::Int(i)));
            entries.push((format!("k{i}-long-shared-prefix").into(), Json::Int(i)));
        }
        entries.push(("key-07".into(), Json::Int(700)));
        entries.push(("é".into(), Json::Null));
        entries.push(("".into(), Json::Null));
        let mut expected: Vec<String> = entries.iter().map(|(k, _)| k.to_string()).collect();
        expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        expected.dedup();

        let last = Json::object_last_wins(entries.clone());
        assert_eq!(keys(&last), expected);
        assert_eq!(last.get("key-07"), Some(&Json::Int(700)));
        let first = Json::object_first_wins(entries);
        assert_eq!(keys(&first), expected);
        assert_eq!(first.get("key-07"), Some(&Json::Int(7)));
        assert_eq!(first.get("k39-long-shared-prefix"), Some(&Json::Int(39)));
        assert_eq!(first.get("absent"), None);
    }
}
