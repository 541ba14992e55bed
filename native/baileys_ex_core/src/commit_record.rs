//! The commit record: the one file whose durable, intact presence decides a
//! multi-key commit (see `commit`). It names every file the commit replaces,
//! the temp file holding each new value with that value's length and CRC-32,
//! and every file it removes. A trailing CRC-32 covers the whole record, so a
//! record cut short by a crash is recognised and never applied.

use crate::layout::{BackendKind, BackendSpec};

const MAGIC: &[u8; 8] = b"BXCOMMIT";
const VERSION: u8 = 1;
const TAG_WRITE: u8 = 1;
const TAG_REMOVE: u8 = 2;
/// Longest file name a record may carry: far above any filesystem's limit,
/// so it only bounds what a damaged record can make us allocate.
pub const MAX_NAME: usize = 4096;

/// Most bytes a record can hold: one entry per mutation and one for the
/// manifest, each with the longest names.
pub const MAX_RECORD_BYTES: usize = MAGIC.len()
    + 5
    + (crate::commit::MAX_MUTATIONS + 1) * (1 + 2 + MAX_NAME + 2 + MAX_NAME + 12)
    + 4;

/// The record's file name. It ends in neither backend's extension, so the
/// directory scan never lists it, and holds no `.tmp-`, so orphan cleanup
/// never removes it; one name per backend keeps two backends sharing a
/// directory apart.
pub fn record_file_name(spec: &BackendSpec) -> &'static str {
    match spec.kind {
        BackendKind::Etf => ".baileys_ex_native_file_persistence.commit",
        BackendKind::Json => ".baileys_ex_file_persistence.commit",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// `temp` is renamed over `name`; it holds `len` bytes with CRC-32 `crc`.
    Write {
        name: Vec<u8>,
        temp: Vec<u8>,
        len: u64,
        crc: u32,
    },
    /// `name` is removed (a missing file is fine).
    Remove { name: Vec<u8> },
}

impl Entry {
    pub fn name(&self) -> &[u8] {
        match self {
            Entry::Write { name, .. } | Entry::Remove { name } => name,
        }
    }
}

/// Why a record is not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Cut short, or its checksum does not match: the commit never reached
    /// its commit point.
    Torn,
    /// Intact but not a record this code wrote (unknown version, a name that
    /// is not a plain file name): left alone.
    Foreign,
}

pub fn encode(entries: &[Entry]) -> Vec<u8> {
    let size: usize = entries
        .iter()
        .map(|e| match e {
            Entry::Write { name, temp, .. } => 1 + 2 + name.len() + 2 + temp.len() + 12,
            Entry::Remove { name } => 1 + 2 + name.len(),
        })
        .sum();
    let mut out = Vec::with_capacity(MAGIC.len() + 5 + size + 4);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for entry in entries {
        match entry {
            Entry::Write {
                name,
                temp,
                len,
                crc,
            } => {
                out.push(TAG_WRITE);
                put_name(&mut out, name);
                put_name(&mut out, temp);
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(&crc.to_le_bytes());
            }
            Entry::Remove { name } => {
                out.push(TAG_REMOVE);
                put_name(&mut out, name);
            }
        }
    }
    let sum = crc32fast::hash(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Names are checked by the caller (`valid_name`), so they fit in a `u16`.
fn put_name(out: &mut Vec<u8>, name: &[u8]) {
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(name);
}

pub fn decode(bytes: &[u8]) -> Result<Vec<Entry>, Invalid> {
    let Some((body, sum)) = bytes.split_last_chunk::<4>() else {
        return Err(Invalid::Torn);
    };
    if body.len() < MAGIC.len() + 5
        || &body[..MAGIC.len()] != MAGIC
        || crc32fast::hash(body) != u32::from_le_bytes(*sum)
    {
        return Err(Invalid::Torn);
    }
    let mut reader = Reader(&body[MAGIC.len()..]);
    if reader.u8()? != VERSION {
        return Err(Invalid::Foreign);
    }
    let count = reader.u32()? as usize;
    // Every entry takes at least four bytes: no allocation beyond the input.
    let mut entries = Vec::with_capacity(count.min(reader.0.len() / 4));
    for _ in 0..count {
        let entry = match reader.u8()? {
            TAG_WRITE => {
                let name = reader.name()?;
                let temp = reader.name()?;
                if !is_temp_of(&temp, &name) {
                    return Err(Invalid::Foreign);
                }
                Entry::Write {
                    name,
                    temp,
                    len: reader.u64()?,
                    crc: reader.u32()?,
                }
            }
            TAG_REMOVE => Entry::Remove {
                name: reader.name()?,
            },
            _ => return Err(Invalid::Foreign),
        };
        entries.push(entry);
    }
    if !reader.0.is_empty() {
        return Err(Invalid::Foreign);
    }
    Ok(entries)
}

/// A single path component: recovery never touches a file outside the
/// directory, whatever a record says.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name != b"."
        && name != b".."
        && !name.iter().any(|&b| b == b'/' || b == 0)
}

/// `temp` has the shape `crate::atomic::temp_path` gives `name`
/// (`<name>.tmp-<pid>-<n>`), or the single number earlier releases used.
pub fn is_temp_of(temp: &[u8], name: &[u8]) -> bool {
    let digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    temp.strip_prefix(name)
        .and_then(|rest| rest.strip_prefix(b".tmp-"))
        .is_some_and(|suffix| match suffix.iter().position(|&b| b == b'-') {
            None => digits(suffix),
            Some(dash) => digits(&suffix[..dash]) && digits(&suffix[dash + 1..]),
        })
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Invalid> {
        if self.0.len() < n {
            return Err(Invalid::Foreign);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, Invalid> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, Invalid> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn u64(&mut self) -> Result<u64, Invalid> {
        let mut buf = [0; 8];
        buf.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(buf))
    }

    fn name(&mut self) -> Result<Vec<u8>, Invalid> {
        let len = self.take(2)?;
        let len = u16::from_le_bytes([len[0], len[1]]) as usize;
        let name = self.take(len)?;
        if !valid_name(name) {
            return Err(Invalid::Foreign);
        }
        Ok(name.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{ETF, JSON};

    fn sample() -> Vec<Entry> {
        vec![
            Entry::Write {
                name: b"session-1.etf".to_vec(),
                temp: b"session-1.etf.tmp-170001234".to_vec(),
                len: 42,
                crc: 0xdead_beef,
            },
            Entry::Remove {
                name: b"pre-key-7.etf".to_vec(),
            },
        ]
    }

    #[test]
    fn a_record_round_trips() {
        let bytes = encode(&sample());
        assert_eq!(decode(&bytes).unwrap(), sample());
        assert_eq!(decode(&encode(&[])).unwrap(), []);
    }

    #[test]
    fn every_cut_and_every_flipped_bit_is_refused() {
        let bytes = encode(&sample());
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), Err(Invalid::Torn), "cut at {cut}");
        }
        for i in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[i / 8] ^= 1 << (i % 8);
            assert!(decode(&flipped).is_err(), "bit {i}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
    }

    #[test]
    fn names_outside_the_directory_are_refused_even_when_checksummed() {
        for name in [&b"../creds.etf"[..], b"", b".", b"..", b"a/b", b"a\0b"] {
            let entries = [Entry::Remove {
                name: name.to_vec(),
            }];
            assert_eq!(decode(&encode(&entries)), Err(Invalid::Foreign), "{name:?}");
        }
        let wrong_temp = [Entry::Write {
            name: b"creds.etf".to_vec(),
            temp: b"session-1.etf".to_vec(),
            len: 1,
            crc: 1,
        }];
        assert_eq!(decode(&encode(&wrong_temp)), Err(Invalid::Foreign));
    }

    #[test]
    fn the_record_is_neither_a_key_nor_a_temp_file() {
        for spec in [&ETF, &JSON] {
            let name = record_file_name(spec);
            assert!(spec.scan_entries([name.as_bytes()]).is_empty());
            assert!(!name.contains(".tmp-"));
            assert!(!name.ends_with(spec.extension));
            assert_ne!(name, spec.manifest_file);
            assert_ne!(name, spec.creds_file);
        }
        assert_ne!(record_file_name(&ETF), record_file_name(&JSON));
    }
}
