//! What each call does, in the originals' order (docs/FORMAT.md section 3), on bytes:
//! the NIF encodes and decodes terms, this module owns the directory.

use std::io;
use std::path::{Path, PathBuf};

use crate::atomic::{self, DirSync};
use crate::directory::{self, Change, Directory, ManifestCache, Pending};
use crate::error::{Error, MetadataError, Result};
use crate::fs::Fs;
use crate::layout::{merge_indexes, persisted_key_type, BackendKind, BackendSpec, KeyIndex};
use crate::locks::DirLock;
use crate::manifest::{self, AtomTable, Manifest, WatchedAtoms};

/// One backend's view of the filesystem.
pub struct Store<'a> {
    pub spec: &'static BackendSpec,
    pub fs: &'a dyn Fs,
    pub atoms: &'a dyn AtomTable,
}

/// The directory a call works on: the caller's context, else the configured
/// default, else `<cwd>/<backend default>`.
pub fn resolve_dir(
    spec: &BackendSpec,
    context: Option<&Path>,
    configured: Option<&Path>,
) -> io::Result<PathBuf> {
    let dir = match (context, configured) {
        (Some(dir), _) => dir.to_path_buf(),
        (None, Some(dir)) => dir.to_path_buf(),
        (None, None) => PathBuf::from(spec.default_dir),
    };
    if dir.as_os_str().is_empty() {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    directory::absolute(&dir)
}

impl<'a> Store<'a> {
    fn open(&self, dir: &Path) -> Result<Directory> {
        Ok(directory::open(self.fs, self.spec, dir)?)
    }

    /// Reads the manifest and checks it; a missing manifest is fine.
    pub(crate) fn check_manifest(&self, dir: &Directory, cache: &mut ManifestCache) -> Result<()> {
        match self.fs.read(&dir.manifest_path, self.spec.max_file_bytes) {
            Ok(bytes) => {
                if cache.valid && cache.bytes.as_deref() == Some(bytes.as_slice()) {
                    return Ok(());
                }
                if let Some((refused, err)) = &cache.refused {
                    if *refused == bytes {
                        return Err(Error::Metadata(err.clone()));
                    }
                }
                cache.valid = false;
                let decoded = match self.decode_manifest(&bytes) {
                    Ok(decoded) => decoded,
                    Err((err, for_good)) => {
                        cache.refused = for_good.then(|| (bytes, err.clone()));
                        return Err(Error::Metadata(err));
                    }
                };
                cache.refused = None;
                cache.canonical = decoded
                    .as_ref()
                    .is_some_and(|m| self.encode_manifest(m).as_slice() == bytes.as_slice());
                cache.set_manifest(decoded);
                cache.bytes = Some(bytes);
                cache.valid = true;
                Ok(())
            }
            Err(Error::Io(err)) if err.kind() == io::ErrorKind::NotFound => {
                cache.bytes = None;
                cache.set_manifest(None);
                cache.canonical = false;
                cache.valid = true;
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    /// On refusal, also whether the same bytes are refused for good: only a
    /// manifest naming an atom this VM lacks may decode once the atom exists.
    fn decode_manifest(
        &self,
        bytes: &[u8],
    ) -> std::result::Result<Option<Manifest>, (MetadataError, bool)> {
        match self.spec.kind {
            BackendKind::Etf => {
                let atoms = WatchedAtoms::new(self.atoms);
                manifest::decode_etf(bytes, self.spec.backend_id, &atoms)
                    .map_err(|err| (err, !atoms.missed_any()))
            }
            BackendKind::Json => {
                manifest::decode_json(bytes, self.spec.backend_id).map_err(|err| (err, true))
            }
        }
    }

    pub(crate) fn encode_manifest(&self, manifest: &Manifest) -> Vec<u8> {
        match self.spec.kind {
            BackendKind::Etf => manifest.encode_etf(self.spec.backend_id),
            BackendKind::Json => manifest.encode_json(self.spec.backend_id),
        }
    }

    fn validate(&self, dir: &Directory) -> Result<()> {
        let mut cache = dir.lock_manifest();
        self.check_manifest(dir, &mut cache)
    }

    /// Queues `change` and returns once a commit that includes it is durable.
    ///
    /// The caller that gets the manifest lock first commits every change
    /// queued so far: it re-reads the manifest (under the directory's
    /// `flock`, so other OS processes are excluded too), applies the changes
    /// in the order they were queued, writes the manifest once if its bytes
    /// would change, and otherwise fsyncs the directory once if any data
    /// file's entry changed. Callers whose change was committed by someone
    /// else just collect the outcome.
    fn update_manifest(&self, dir: &Directory, change: Change, entry_changed: bool) -> Result<()> {
        let ticket = dir.commits().push(change, entry_changed);
        let mut cache = dir.lock_manifest();
        let batch = {
            let mut queue = dir.commits();
            if let Some(outcome) = queue.done.remove(&ticket) {
                return outcome;
            }
            if !queue.pending.iter().any(|p| p.ticket == ticket) {
                // Only a commit that panicked half-way can drop a change;
                // never report it as saved.
                return Err(Error::Io(io::Error::from_raw_os_error(libc::EIO)));
            }
            std::mem::take(&mut queue.pending)
        };
        let outcome = self.commit_manifest(dir, &mut cache, &batch);
        let mine = duplicate(&outcome);
        let mut queue = dir.commits();
        for pending in batch.iter().filter(|p| p.ticket != ticket) {
            queue.done.insert(pending.ticket, duplicate(&outcome));
        }
        mine
    }

    fn commit_manifest(
        &self,
        dir: &Directory,
        cache: &mut ManifestCache,
        batch: &[Pending],
    ) -> Result<()> {
        let _os_lock = DirLock::acquire(&dir.path)?;
        self.check_manifest(dir, cache)?;
        let mut existed = cache.manifest().is_some();
        // Taken, not cloned: a 10,000-key index is not copied per commit. On
        // any failure the cache is marked invalid and re-read next time.
        let mut manifest = cache.take_manifest().unwrap_or_default();
        cache.valid = false;
        let mut write = false;
        for pending in batch {
            write |= pending
                .change
                .apply(&mut manifest, &mut existed, cache.canonical);
        }
        if write {
            let bytes = self.encode_manifest(&manifest);
            atomic::atomic_write(self.fs, &dir.manifest_path, &bytes, true, DirSync::Now)?;
            cache.bytes = Some(bytes);
            cache.canonical = true;
        } else if batch.iter().any(|p| p.entry_changed) {
            self.fs.sync_dir(&dir.path)?;
        }
        cache.set_manifest(existed.then_some(manifest));
        cache.valid = true;
        Ok(())
    }

    /// The bytes of a data file, or `None` when it does not exist.
    pub fn load_file(&self, dir: &Path, name: &[u8]) -> Result<Option<Vec<u8>>> {
        let dir = self.open(dir)?;
        self.validate(&dir)?;
        match self.fs.read(&dir.file_path(name), self.spec.max_file_bytes) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(Error::Io(err)) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    pub fn load_key(&self, dir: &Path, key_type: &str, id: &[u8]) -> Result<Option<Vec<u8>>> {
        self.load_file(dir, &self.spec.key_file_name(key_type, id))
    }

    pub fn load_credentials(&self, dir: &Path) -> Result<Option<Vec<u8>>> {
        self.load_file(dir, self.spec.creds_file.as_bytes())
    }

    fn write_data(&self, dir: &Directory, name: &[u8], data: &[u8]) -> Result<()> {
        // Nothing is written that could not be read back.
        if data.len() > self.spec.max_file_bytes {
            return Err(Error::TooLarge {
                cap: self.spec.max_file_bytes,
            });
        }
        let _held = crate::recovery::lock_for_write(self.fs, dir, name)?;
        // Checked under the file's lock: a later save by a live caller that
        // got the lock first must not be overwritten by this one.
        if !self.atoms.caller_alive() {
            return Err(Error::CallerGone);
        }
        atomic::atomic_write(
            self.fs,
            &dir.file_path(name),
            data,
            self.spec.sync_data,
            DirSync::Deferred,
        )?;
        Ok(())
    }

    pub fn save_key(&self, dir: &Path, key_type: &str, id: &[u8], data: &[u8]) -> Result<()> {
        let dir = self.open(dir)?;
        self.validate(&dir)?;
        self.write_data(&dir, &self.spec.key_file_name(key_type, id), data)?;
        let change = index_change(key_type, id, Change::Insert);
        // A JSON manifest holds ids as strings. For an id that is not UTF-8
        // the original's manifest encoder raises after the data file is
        // written, leaving the manifest as it was; here that is an error.
        if let (BackendKind::Json, Change::Insert(Some(_), _)) = (self.spec.kind, &change) {
            crate::json::check_manifest_id(id)?;
        }
        self.update_manifest(&dir, change, true)
    }

    pub fn save_credentials(&self, dir: &Path, data: &[u8]) -> Result<()> {
        let dir = self.open(dir)?;
        self.validate(&dir)?;
        self.write_data(&dir, self.spec.creds_file.as_bytes(), data)?;
        self.update_manifest(&dir, Change::Ensure, true)
    }

    pub fn delete_key(&self, dir: &Path, key_type: &str, id: &[u8]) -> Result<()> {
        let dir = self.open(dir)?;
        self.validate(&dir)?;
        let name = self.spec.key_file_name(key_type, id);
        let removed = {
            let _held = crate::recovery::lock_for_write(self.fs, &dir, &name)?;
            if !self.atoms.caller_alive() {
                return Err(Error::CallerGone);
            }
            match self.fs.remove_file(&dir.file_path(&name)) {
                Ok(()) => true,
                Err(err) if err.kind() == io::ErrorKind::NotFound => false,
                Err(err) => return Err(err.into()),
            }
        };
        // No manifest means nothing to drop, as in the original.
        self.update_manifest(&dir, index_change(key_type, id, Change::Remove), removed)
    }

    /// The manifest's index merged with a scan of the directory (spec 4).
    pub fn list_keys(&self, dir: &Path) -> Result<KeyIndex> {
        let dir = self.open(dir)?;
        let indexed = {
            let mut cache = dir.lock_manifest();
            self.check_manifest(&dir, &mut cache)?;
            cache
                .manifest()
                .map(|m| m.key_index.clone())
                .unwrap_or_default()
        };
        let entries = self.fs.list_dir(&dir.path)?;
        let scanned = self
            .spec
            .scan_entries(entries.iter().map(|e| e.name.as_slice()));
        Ok(merge_indexes(indexed, scanned))
    }
}

/// Only the persisted types are indexed.
fn index_change(
    key_type: &str,
    id: &[u8],
    change: fn(Option<&'static str>, Vec<u8>) -> Change,
) -> Change {
    change(persisted_key_type(key_type.as_bytes()), id.to_vec())
}

/// Every caller in a commit gets the same outcome; errors are rebuilt
/// because an `io::Error` cannot be cloned.
pub(crate) fn duplicate(outcome: &Result<()>) -> Result<()> {
    match outcome {
        Ok(()) => Ok(()),
        Err(Error::Io(err)) => Err(Error::Io(match err.raw_os_error() {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::new(err.kind(), err.to_string()),
        })),
        Err(Error::Metadata(meta)) => Err(Error::Metadata(meta.clone())),
        Err(Error::Json(json)) => Err(Error::Json(json.clone())),
        Err(Error::CallerGone) => Err(Error::CallerGone),
        Err(Error::NotRegularFile(kind)) => Err(Error::NotRegularFile(*kind)),
        Err(Error::TooLarge { cap }) => Err(Error::TooLarge { cap: *cap }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{FaultFs, FsOp, RealFs};
    use crate::layout::ETF;
    use crate::manifest::AnyAtom;

    fn store(fs: &dyn Fs) -> Store<'_> {
        Store {
            spec: &ETF,
            fs,
            atoms: &AnyAtom,
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn manifest_of(dir: &Path) -> Manifest {
        let bytes = std::fs::read(dir.join(ETF.manifest_file)).unwrap();
        manifest::decode_etf(&bytes, ETF.backend_id, &AnyAtom)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn save_load_delete_roundtrip_with_manifest() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("auth");
        let s = store(&RealFs);
        assert_eq!(s.load_key(&dir, "session", b"1.0").unwrap(), None);
        assert!(dir.is_dir(), "the first call creates the directory");
        s.save_key(&dir, "session", b"1.0", b"data").unwrap();
        assert_eq!(
            s.load_key(&dir, "session", b"1.0").unwrap().unwrap(),
            b"data"
        );
        assert!(manifest_of(&dir).contains("session", b"1.0"));
        s.delete_key(&dir, "session", b"1.0").unwrap();
        assert_eq!(s.load_key(&dir, "session", b"1.0").unwrap(), None);
        assert!(!manifest_of(&dir).contains("session", b"1.0"));
        assert_eq!(names(&dir), [".baileys_ex_native_file_persistence.etf"]);
    }

    #[test]
    fn an_unchanged_manifest_is_not_rewritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let fs = FaultFs::new();
        let s = store(&fs);
        s.save_key(&dir, "pre-key", b"1", b"a").unwrap();
        fs.fail_nth(u64::MAX, &[], 0);
        s.save_key(&dir, "pre-key", b"1", b"b").unwrap();
        let renames = fs.log().iter().filter(|op| **op == FsOp::Rename).count();
        assert_eq!(renames, 1, "only the data file is replaced: {:?}", fs.log());
        assert_eq!(
            fs.log().iter().filter(|op| **op == FsOp::DirFsync).count(),
            1
        );
    }

    #[test]
    fn an_external_manifest_change_is_seen() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let s = store(&RealFs);
        s.save_key(&dir, "pre-key", b"1", b"a").unwrap();
        // Another writer replaces the manifest behind our back.
        let mut other = Manifest::default();
        other.insert("session", b"elsewhere");
        std::fs::write(
            dir.join(ETF.manifest_file),
            other.encode_etf(ETF.backend_id),
        )
        .unwrap();
        s.save_key(&dir, "pre-key", b"2", b"b").unwrap();
        let m = manifest_of(&dir);
        assert!(m.contains("session", b"elsewhere"));
        assert!(m.contains("pre-key", b"2"));
        assert!(!m.contains("pre-key", b"1"));
        std::fs::write(dir.join(ETF.manifest_file), b"junk").unwrap();
        assert!(matches!(
            s.load_key(&dir, "pre-key", b"2"),
            Err(Error::Metadata(MetadataError::InvalidEtf(_)))
        ));
    }

    #[test]
    fn a_bad_manifest_stops_a_save_before_anything_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut other = Manifest::default();
        other.insert("session", b"x");
        std::fs::write(
            dir.join(ETF.manifest_file),
            other.encode_etf("file_persistence"),
        )
        .unwrap();
        let err = store(&RealFs)
            .save_key(&dir, "session", b"y", b"v")
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Metadata(MetadataError::UnexpectedBackend(_))
        ));
        assert_eq!(names(&dir), [".baileys_ex_native_file_persistence.etf"]);
    }

    #[test]
    fn deleting_an_unindexed_known_type_leaves_an_empty_list() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let s = store(&RealFs);
        s.delete_key(&dir, "tctoken", b"x").unwrap();
        assert!(
            !dir.join(ETF.manifest_file).exists(),
            "no manifest, nothing to drop"
        );
        s.save_credentials(&dir, b"creds").unwrap();
        s.delete_key(&dir, "tctoken", b"x").unwrap();
        assert!(manifest_of(&dir).key_index["tctoken"].is_empty());
    }

    #[test]
    fn every_injected_fault_keeps_the_committed_value() {
        let ops: &'static [FsOp] = &[
            FsOp::Open,
            FsOp::Write,
            FsOp::Fsync,
            FsOp::Rename,
            FsOp::DirFsync,
            FsOp::Remove,
        ];
        for errno in [libc::EIO, libc::ENOSPC, libc::EACCES, libc::EROFS] {
            for nth in 1..=8 {
                let tmp = tempfile::tempdir().unwrap();
                let dir = tmp.path().to_path_buf();
                let fs = FaultFs::new();
                let s = store(&fs);
                s.save_key(&dir, "session", b"1", b"old").unwrap();
                fs.fail_nth(nth, ops, errno);
                let result = s.save_key(&dir, "session", b"1", b"new");
                fs.clear();
                let now = s.load_key(&dir, "session", b"1").unwrap().unwrap();
                match result {
                    Ok(()) => assert_eq!(now, b"new"),
                    Err(err) => {
                        assert!(now == b"old" || now == b"new");
                        assert!(err.posix_name().is_some());
                    }
                }
                assert!(names(&dir).iter().all(|n| !n.contains(".tmp-")));
            }
        }
    }

    #[test]
    fn list_merges_manifest_and_scan() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let s = store(&RealFs);
        s.save_key(&dir, "device-list", b"alice/device:0", b"x")
            .unwrap();
        s.save_key(&dir, "unknown-type", b"1", b"x").unwrap();
        let index = s.list_keys(&dir).unwrap();
        let ids: Vec<&[u8]> = index["device-list"].iter().map(|i| i.as_slice()).collect();
        assert_eq!(
            ids,
            [b"alice/device-0".as_slice(), b"alice/device:0".as_slice()]
        );
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn concurrent_saves_of_distinct_keys_all_reach_the_manifest() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::thread::scope(|scope| {
            for t in 0..16 {
                let dir = dir.clone();
                scope.spawn(move || {
                    let s = store(&RealFs);
                    for i in 0..20 {
                        let id = format!("{t}-{i}");
                        s.save_key(&dir, "pre-key", id.as_bytes(), b"v").unwrap();
                    }
                });
            }
        });
        assert_eq!(manifest_of(&dir).key_index["pre-key"].len(), 16 * 20);
    }

    /// The ETF layout with a cap small enough to test.
    static SMALL_CAP: BackendSpec = BackendSpec {
        max_file_bytes: 300,
        ..ETF
    };

    #[test]
    fn a_value_over_the_cap_is_refused_before_anything_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let s = Store {
            spec: &SMALL_CAP,
            fs: &RealFs,
            atoms: &AnyAtom,
        };
        s.save_key(&dir, "session", b"1", &[1; 300]).unwrap();
        let err = s.save_key(&dir, "session", b"1", &[2; 301]).unwrap_err();
        assert!(matches!(err, Error::TooLarge { cap: 300 }), "{err:?}");
        let err = s.save_credentials(&dir, &[2; 301]).unwrap_err();
        assert!(matches!(err, Error::TooLarge { cap: 300 }), "{err:?}");
        assert_eq!(
            s.load_key(&dir, "session", b"1").unwrap().unwrap(),
            [1; 300]
        );
        assert!(!dir.join("creds.etf").exists());
        // A file someone else made too large is refused on reading.
        std::fs::write(dir.join("session-1.etf"), [3; 301]).unwrap();
        assert!(matches!(
            s.load_key(&dir, "session", b"1"),
            Err(Error::TooLarge { cap: 300 })
        ));
    }

    #[test]
    fn a_fifo_in_place_of_the_manifest_stops_every_call_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        store(&RealFs)
            .save_key(&dir, "session", b"1", b"v")
            .unwrap();
        let manifest = dir.join(ETF.manifest_file);
        std::fs::remove_file(&manifest).unwrap();
        let c = std::ffi::CString::new(manifest.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = dir.clone();
        std::thread::spawn(move || {
            let s = store(&RealFs);
            let results = [
                s.load_key(&worker, "session", b"1").map(|_| ()),
                s.load_credentials(&worker).map(|_| ()),
                s.save_key(&worker, "session", b"2", b"v"),
                s.delete_key(&worker, "session", b"1"),
                s.list_keys(&worker).map(|_| ()),
            ];
            let _ = tx.send(results);
        });
        let results = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("a call blocked on the FIFO");
        for result in results {
            assert!(
                matches!(
                    result,
                    Err(Error::NotRegularFile(crate::fs::FileKind::Fifo))
                ),
                "{result:?}"
            );
        }
        assert!(!dir.join("session-2.etf").exists());
        assert!(dir.join("session-1.etf").exists());
    }

    #[test]
    fn resolve_dir_prefers_context_then_config_then_default() {
        let ctx = resolve_dir(&ETF, Some(Path::new("/a/./b/")), Some(Path::new("/c"))).unwrap();
        assert_eq!(ctx, Path::new("/a/b"));
        let cfg = resolve_dir(&ETF, None, Some(Path::new("/c"))).unwrap();
        assert_eq!(cfg, Path::new("/c"));
        let default = resolve_dir(&ETF, None, None).unwrap();
        assert_eq!(
            default,
            std::env::current_dir().unwrap().join(ETF.default_dir)
        );
    }
}
