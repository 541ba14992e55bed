//! Loading many keys of one type at once: the files are read in parallel on
//! the I/O pool, after one manifest check for the whole call.

use std::io;
use std::path::Path;

use crate::error::{Error, Result};
use crate::io_pool;
use crate::store::Store;

impl Store<'_> {
    /// The bytes of each id's file, in the order of `ids`; `None` for an id
    /// without a file. Any other read error fails the whole call.
    pub fn load_many(
        &self,
        dir: &Path,
        key_type: &str,
        ids: &[&[u8]],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let dir = crate::directory::open(self.fs, self.spec, dir)?;
        {
            let mut cache = dir.lock_manifest();
            self.check_manifest(&dir, &mut cache)?;
        }
        let paths: Vec<_> = ids
            .iter()
            .map(|id| dir.file_path(&self.spec.key_file_name(key_type, id)))
            .collect();
        let cap = self.spec.max_file_bytes;
        let loaded = io_pool::map(&paths, |path| match self.fs.read(path, cap) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(Error::Io(err)) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        });
        loaded.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::fs::{FaultFs, FsOp, RealFs};
    use crate::layout::{ETF, JSON};
    use crate::manifest::AnyAtom;
    use crate::store::Store;

    #[test]
    fn found_ids_get_their_bytes_and_missing_ones_none() {
        for spec in [&ETF, &JSON] {
            let tmp = tempfile::tempdir().unwrap();
            let s = Store {
                spec,
                fs: &RealFs,
                atoms: &AnyAtom,
            };
            let ids: Vec<Vec<u8>> = (0..300).map(|i| format!("{i}").into_bytes()).collect();
            for id in ids.iter().step_by(2) {
                s.save_key(tmp.path(), "pre-key", id, &[id.as_slice(), b"!"].concat())
                    .unwrap();
            }
            let refs: Vec<&[u8]> = ids.iter().map(|id| id.as_slice()).collect();
            let loaded = s.load_many(tmp.path(), "pre-key", &refs).unwrap();
            assert_eq!(loaded.len(), ids.len());
            for (i, (id, got)) in ids.iter().zip(&loaded).enumerate() {
                let expected = (i % 2 == 0).then(|| [id.as_slice(), b"!"].concat());
                assert_eq!(got, &expected, "{:?} id {i}", spec.kind);
                assert_eq!(got, &s.load_key(tmp.path(), "pre-key", id).unwrap());
            }
            assert!(s.load_many(tmp.path(), "pre-key", &[]).unwrap().is_empty());
        }
    }

    #[test]
    fn a_read_error_fails_the_call() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Store {
            spec: &ETF,
            fs: &RealFs,
            atoms: &AnyAtom,
        };
        s.save_key(tmp.path(), "session", b"a", b"x").unwrap();
        s.save_key(tmp.path(), "session", b"b", b"y").unwrap();
        let fs = FaultFs::new();
        // The first read is the manifest's; fail one of the data files.
        fs.fail_nth(3, &[FsOp::Read], libc::EIO);
        let faulty = Store {
            spec: &ETF,
            fs: &fs,
            atoms: &AnyAtom,
        };
        let err = faulty
            .load_many(tmp.path(), "session", &[b"a", b"b"])
            .unwrap_err();
        assert_eq!(err.posix_name(), Some("eio"));
    }
}
