//! File names, sanitising and the directory scan (docs/FORMAT.md sections 2 and 4).

use std::collections::{BTreeMap, BTreeSet};

/// The key types the manifest indexes and the scan recognises.
pub const PERSISTED_KEY_TYPES: [&str; 10] = [
    "session",
    "pre-key",
    "sender-key",
    "sender-key-memory",
    "app-state-sync-key",
    "app-state-sync-version",
    "lid-mapping",
    "device-list",
    "tctoken",
    "identity-key",
];

/// Ids per key type, each set sorted bytewise like Erlang sorts binaries.
pub type KeyIndex = BTreeMap<&'static str, BTreeSet<Vec<u8>>>;

/// The persisted type named `name`, as the `'static` string the index uses.
pub fn persisted_key_type(name: &[u8]) -> Option<&'static str> {
    PERSISTED_KEY_TYPES
        .iter()
        .copied()
        .find(|t| t.as_bytes() == name)
}

/// Which of the two on-disk formats a directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    Etf,
    Json,
}

/// Everything that differs between the two backends' directory layouts.
#[derive(Debug)]
pub struct BackendSpec {
    pub kind: BackendKind,
    pub extension: &'static str,
    pub creds_file: &'static str,
    pub manifest_file: &'static str,
    pub backend_id: &'static str,
    pub default_dir: &'static str,
    /// The JSON original never fsyncs data files; we do for both (spec 7).
    pub sync_data: bool,
    /// Largest file read or written. Larger files are refused before any
    /// byte is read, so a hostile file cannot exhaust the VM's memory.
    pub max_file_bytes: usize,
}

/// Largest ETF file: real auth files are kilobytes, a session with thousands
/// of message keys a few megabytes; this leaves room for any value a
/// BaileysEx app stores while bounding what one read can allocate.
pub const ETF_MAX_FILE_BYTES: usize = 256 * 1024 * 1024;

pub static ETF: BackendSpec = BackendSpec {
    kind: BackendKind::Etf,
    extension: ".etf",
    creds_file: "creds.etf",
    manifest_file: ".baileys_ex_native_file_persistence.etf",
    backend_id: "native_file_persistence",
    default_dir: "baileys_native_auth_info",
    sync_data: true,
    max_file_bytes: ETF_MAX_FILE_BYTES,
};

pub static JSON: BackendSpec = BackendSpec {
    kind: BackendKind::Json,
    extension: ".json",
    creds_file: "creds.json",
    manifest_file: ".baileys_ex_file_persistence.json",
    backend_id: "file_persistence",
    default_dir: "baileys_auth_info",
    sync_data: true,
    max_file_bytes: crate::json::limits::MAX_INPUT_BYTES,
};

impl BackendSpec {
    pub fn for_kind(kind: BackendKind) -> &'static BackendSpec {
        match kind {
            BackendKind::Etf => &ETF,
            BackendKind::Json => &JSON,
        }
    }

    /// `<type>-<id><ext>`, sanitised as a whole, like the originals.
    pub fn key_file_name(&self, key_type: &str, id: &[u8]) -> Vec<u8> {
        let mut raw = Vec::with_capacity(key_type.len() + id.len() + 1 + self.extension.len());
        raw.extend_from_slice(key_type.as_bytes());
        raw.push(b'-');
        raw.extend_from_slice(id);
        raw.extend_from_slice(self.extension.as_bytes());
        sanitize_file_name(&raw)
    }

    /// Lists the directory's entries as the originals' scan does (spec 4):
    /// lossy by design, and matched exactly because callers compare indexes.
    pub fn scan_entries<'a>(&self, names: impl IntoIterator<Item = &'a [u8]>) -> KeyIndex {
        let mut index = KeyIndex::new();
        for name in names {
            if let Some((key_type, id)) = self.decode_entry(name) {
                index.entry(key_type).or_default().insert(id);
            }
        }
        index
    }

    fn decode_entry(&self, name: &[u8]) -> Option<(&'static str, Vec<u8>)> {
        let ext = self.extension.as_bytes();
        if name == self.creds_file.as_bytes()
            || name == self.manifest_file.as_bytes()
            || !name.ends_with(ext)
            || contains(name, b".tmp-")
        {
            return None;
        }
        // The original trims the extension repeatedly (`x.etf.etf` -> `x`).
        let mut stem = name;
        while stem.ends_with(ext) {
            stem = &stem[..stem.len() - ext.len()];
        }
        let key_type = PERSISTED_KEY_TYPES
            .iter()
            .copied()
            .filter(|t| {
                stem.len() > t.len() && stem.starts_with(t.as_bytes()) && stem[t.len()] == b'-'
            })
            .max_by_key(|t| t.len())?;
        let encoded_id = &stem[key_type.len() + 1..];
        Some((key_type, restore_id(key_type, encoded_id)))
    }
}

/// Every `/` becomes `__`, then every `:` becomes `-`.
pub fn sanitize_file_name(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 8);
    for &byte in name {
        match byte {
            b'/' => out.extend_from_slice(b"__"),
            b':' => out.push(b'-'),
            other => out.push(other),
        }
    }
    out
}

fn restore_id(key_type: &str, encoded: &[u8]) -> Vec<u8> {
    let restored = replace_all(encoded, b"__", b"/");
    if key_type == "sender-key" {
        if let Some(id) = restore_sender_key_id(&restored) {
            return id;
        }
    }
    restored
}

/// `^(.*)--([^-]+)--(\d+)$` -> `\1::\2::\3`, with PCRE's semantics: `.` stops
/// at a newline, `$` also matches before one final newline, and the greedy
/// group means the longest first capture wins.
fn restore_sender_key_id(id: &[u8]) -> Option<Vec<u8>> {
    let first_newline = id.iter().position(|&b| b == b'\n').unwrap_or(id.len());
    for group_end in (0..=first_newline).rev() {
        if let Some((sender, device)) = match_sender_and_device(&id[group_end..]) {
            let mut out = Vec::with_capacity(id.len() + 2);
            out.extend_from_slice(&id[..group_end]);
            out.extend_from_slice(b"::");
            out.extend_from_slice(sender);
            out.extend_from_slice(b"::");
            out.extend_from_slice(device);
            return Some(out);
        }
    }
    None
}

/// Matches `--([^-]+)--(\d+)$` at the start of `rest`.
fn match_sender_and_device(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = rest.strip_prefix(b"--")?;
    let sender_len = rest.iter().position(|&b| b == b'-').unwrap_or(rest.len());
    if sender_len == 0 {
        return None;
    }
    let (sender, rest) = rest.split_at(sender_len);
    let digits = rest.strip_prefix(b"--")?;
    let digit_len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if digit_len == 0 {
        return None;
    }
    match &digits[digit_len..] {
        b"" | b"\n" => Some((sender, &digits[..digit_len])),
        _ => None,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn replace_all(input: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

/// Merges two indexes the way the originals' listing does.
pub fn merge_indexes(mut left: KeyIndex, right: KeyIndex) -> KeyIndex {
    for (key_type, ids) in right {
        left.entry(key_type).or_default().extend(ids);
    }
    left
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(names: &[&str]) -> KeyIndex {
        ETF.scan_entries(names.iter().map(|n| n.as_bytes()))
    }

    fn ids(index: &KeyIndex, key_type: &str) -> Vec<String> {
        index[key_type]
            .iter()
            .map(|id| String::from_utf8(id.clone()).unwrap())
            .collect()
    }

    #[test]
    fn sanitising_replaces_slashes_then_colons() {
        assert_eq!(
            ETF.key_file_name("device-list", b"alice/device:0"),
            b"device-list-alice__device-0.etf"
        );
        assert_eq!(
            JSON.key_file_name("pre-key", "josé/📱:1".as_bytes()),
            "pre-key-josé__📱-1.json".as_bytes()
        );
        assert_eq!(sanitize_file_name(b"a//b::c"), b"a____b--c");
    }

    #[test]
    fn scan_takes_the_longest_type_prefix() {
        let index = scan(&[
            "sender-key-memory-123@g.us.etf",
            "sender-key-1@g.us--2--0.etf",
        ]);
        assert_eq!(ids(&index, "sender-key-memory"), ["123@g.us"]);
        assert_eq!(ids(&index, "sender-key"), ["1@g.us::2::0"]);
    }

    #[test]
    fn scan_skips_creds_manifest_temp_and_foreign_files() {
        let index = scan(&[
            "creds.etf",
            ".baileys_ex_native_file_persistence.etf",
            "session-1.0.etf.tmp-123",
            "session-2.0.json",
            "unknown-1.etf",
            "session.etf",
            "session-3.0.etf",
        ]);
        assert_eq!(index.len(), 1);
        assert_eq!(ids(&index, "session"), ["3.0"]);
    }

    #[test]
    fn scan_is_lossy_like_the_original() {
        let index = scan(&["device-list-alice__device-0.etf", "pre-key-x.etf.etf"]);
        assert_eq!(ids(&index, "device-list"), ["alice/device-0"]);
        assert_eq!(ids(&index, "pre-key"), ["x"]);
    }

    #[test]
    fn sender_key_ids_follow_the_regex_semantics() {
        assert_eq!(
            restore_sender_key_id(b"14156521415-1397622199@g.us--15550001111--0").unwrap(),
            b"14156521415-1397622199@g.us::15550001111::0"
        );
        // Greedy first group: the last `--x--digits` wins.
        assert_eq!(
            restore_sender_key_id(b"a--b--1--c--2").unwrap(),
            b"a--b--1::c::2"
        );
        assert_eq!(restore_sender_key_id(b"--s--0").unwrap(), b"::s::0");
        assert_eq!(restore_sender_key_id(b"g--s--0\n").unwrap(), b"g::s::0");
        assert!(restore_sender_key_id(b"g--s--x").is_none());
        assert!(restore_sender_key_id(b"g----0").is_none());
        assert!(restore_sender_key_id(b"g\n--s--0").is_none());
    }

    #[test]
    fn merging_unions_and_keeps_order() {
        let mut left = KeyIndex::new();
        left.entry("session").or_default().insert(b"b".to_vec());
        left.entry("tctoken").or_default();
        let right = scan(&["session-a.etf", "session-b.etf"]);
        let merged = merge_indexes(left, right);
        assert_eq!(ids(&merged, "session"), ["a", "b"]);
        assert!(merged["tctoken"].is_empty());
    }
}
