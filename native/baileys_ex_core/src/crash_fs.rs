//! A filesystem that models the page cache, for power-loss tests.
//!
//! Calls go to the real filesystem, so everything reads back as it would
//! before a crash, and a model records what is durable: a file's contents
//! once it is fsynced (`sync_file`), a directory's entries (creations,
//! renames, removals) once the directory is fsynced (`sync_dir`), and both
//! for everything at `sync_filesystem`. Real fsyncs are skipped: the model,
//! not the disk, decides what survives.
//!
//! A crash is armed for the Nth call from now: that call and every later one
//! fail with EIO and change nothing, as if the process had stopped there.
//! `image` then gives what a directory holds after the power loss:
//! * `Loss::Unsynced` keeps exactly what was made durable (a file never
//!   fsynced is empty), the SQLite / LevelDB test model;
//! * `Loss::Seeded` also keeps a random subset of the unsynced entry
//!   changes, in order, and gives each file whose contents were not synced
//!   its old contents, its new ones, or a torn prefix of them: the
//!   reorderings ALICE found real filesystems allow.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::fs::{DirEntry, DirId, Fs, RealFs};

/// What a power loss keeps of what was not made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    Unsynced,
    Seeded(u64),
}

/// A directory's files by name, as after a crash.
pub type Image = BTreeMap<Vec<u8>, Vec<u8>>;

pub struct CrashFs {
    model: Mutex<Model>,
    syncfs: bool,
}

#[derive(Default)]
struct Model {
    inodes: Vec<Inode>,
    /// Real (device, inode) to the model's inode.
    by_real: HashMap<(u64, u64), usize>,
    dirs: BTreeMap<PathBuf, DirModel>,
    calls: u64,
    crash_at: Option<u64>,
    crashed: bool,
}

struct Inode {
    current: Vec<u8>,
    /// `None`: never fsynced, empty after a crash.
    durable: Option<Vec<u8>>,
}

#[derive(Default, Clone)]
struct DirModel {
    current: BTreeMap<Vec<u8>, usize>,
    durable: BTreeMap<Vec<u8>, usize>,
    /// Entry changes since the last directory fsync, in order.
    pending: Vec<EntryChange>,
}

#[derive(Clone)]
enum EntryChange {
    Link(Vec<u8>, usize),
    Rename(Vec<u8>, Vec<u8>, usize),
    Unlink(Vec<u8>),
}

fn split(path: &Path) -> io::Result<(PathBuf, Vec<u8>)> {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => Ok((dir.to_path_buf(), name.as_bytes().to_vec())),
        _ => Err(io::Error::from_raw_os_error(libc::EINVAL)),
    }
}

fn real_id(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

impl CrashFs {
    /// Models `dirs` as they are now, all of it durable. `syncfs` says
    /// whether `sync_filesystem` is offered.
    pub fn new(dirs: &[&Path], syncfs: bool) -> io::Result<CrashFs> {
        let mut model = Model::default();
        for dir in dirs {
            let mut entries = BTreeMap::new();
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let meta = std::fs::symlink_metadata(entry.path())?;
                if !meta.is_file() {
                    continue;
                }
                let bytes = std::fs::read(entry.path())?;
                let id = model.inodes.len();
                model.inodes.push(Inode {
                    current: bytes.clone(),
                    durable: Some(bytes),
                });
                model.by_real.insert(real_id(&meta), id);
                entries.insert(entry.file_name().as_bytes().to_vec(), id);
            }
            model.dirs.insert(
                dir.to_path_buf(),
                DirModel {
                    current: entries.clone(),
                    durable: entries,
                    pending: Vec::new(),
                },
            );
        }
        Ok(CrashFs {
            model: Mutex::new(model),
            syncfs,
        })
    }

    fn model(&self) -> std::sync::MutexGuard<'_, Model> {
        self.model
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The `nth` call from now (1-based) and every later one fail with EIO.
    pub fn crash_at(&self, nth: u64) {
        let mut model = self.model();
        model.calls = 0;
        model.crash_at = Some(nth);
    }

    /// Calls made since this was created or a crash was armed.
    pub fn calls(&self) -> u64 {
        self.model().calls
    }

    pub fn crashed(&self) -> bool {
        self.model().crashed
    }

    /// What `dir` holds after a power loss now.
    pub fn image(&self, dir: &Path, loss: Loss) -> Image {
        let model = self.model();
        let Some(d) = model.dirs.get(dir) else {
            return Image::new();
        };
        let mut rng = SplitMix(match loss {
            Loss::Unsynced => 0,
            Loss::Seeded(seed) => seed,
        });
        let mut entries = d.durable.clone();
        if matches!(loss, Loss::Seeded(_)) {
            for change in &d.pending {
                if rng.next().is_multiple_of(2) {
                    continue;
                }
                match change {
                    EntryChange::Link(name, id) => {
                        entries.insert(name.clone(), *id);
                    }
                    EntryChange::Rename(from, to, id) => {
                        entries.remove(from);
                        entries.insert(to.clone(), *id);
                    }
                    EntryChange::Unlink(name) => {
                        entries.remove(name);
                    }
                }
            }
        }
        entries
            .into_iter()
            .map(|(name, id)| {
                let inode = &model.inodes[id];
                let old = inode.durable.clone().unwrap_or_default();
                let bytes = match loss {
                    _ if inode.durable.as_ref() == Some(&inode.current) => old,
                    Loss::Unsynced => old,
                    Loss::Seeded(_) => match rng.next() % 3 {
                        0 => old,
                        1 => inode.current.clone(),
                        _ => {
                            let keep = (rng.next() % (inode.current.len() as u64 + 1)) as usize;
                            inode.current[..keep].to_vec()
                        }
                    },
                };
                (name, bytes)
            })
            .collect()
    }

    /// Counts a call and fails it if the crash has come.
    fn enter(&self) -> io::Result<std::sync::MutexGuard<'_, Model>> {
        let mut model = self.model();
        model.calls += 1;
        if model.crashed || model.crash_at == Some(model.calls) {
            model.crashed = true;
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(model)
    }
}

/// Writes an image into `target`, a fresh directory.
pub fn write_image(image: &Image, target: &Path) -> io::Result<()> {
    std::fs::create_dir_all(target)?;
    for (name, bytes) in image {
        std::fs::write(target.join(std::ffi::OsStr::from_bytes(name)), bytes)?;
    }
    Ok(())
}

impl Model {
    fn dir(&mut self, dir: PathBuf) -> &mut DirModel {
        self.dirs.entry(dir).or_default()
    }

    fn inode_of(&mut self, meta: &std::fs::Metadata, path: &Path) -> usize {
        if let Some(id) = self.by_real.get(&real_id(meta)) {
            return *id;
        }
        // A file made behind the model's back: as it is now, not durable.
        let current = std::fs::read(path).unwrap_or_default();
        self.inodes.push(Inode {
            current,
            durable: None,
        });
        let id = self.inodes.len() - 1;
        self.by_real.insert(real_id(meta), id);
        id
    }
}

impl Fs for CrashFs {
    fn read(&self, path: &Path, cap: usize) -> crate::error::Result<Vec<u8>> {
        let _model = self.enter()?;
        RealFs.read(path, cap)
    }

    fn create_exclusive(&self, path: &Path) -> io::Result<File> {
        let mut model = self.enter()?;
        let (dir, name) = split(path)?;
        let file = RealFs.create_exclusive(path)?;
        let meta = file.metadata()?;
        model.inodes.push(Inode {
            current: Vec::new(),
            durable: None,
        });
        let id = model.inodes.len() - 1;
        model.by_real.insert(real_id(&meta), id);
        let d = model.dir(dir);
        d.current.insert(name.clone(), id);
        d.pending.push(EntryChange::Link(name, id));
        Ok(file)
    }

    /// A lock is not durable state: the model has nothing to record.
    fn lock_temp(&self, file: &File) -> io::Result<bool> {
        let _model = self.enter()?;
        RealFs.lock_temp(file)
    }

    fn write_all(&self, file: &mut File, data: &[u8]) -> io::Result<()> {
        let mut model = self.enter()?;
        RealFs.write_all(file, data)?;
        let id = *model
            .by_real
            .get(&real_id(&file.metadata()?))
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
        model.inodes[id].current.extend_from_slice(data);
        Ok(())
    }

    fn sync_file(&self, file: &File) -> io::Result<()> {
        let mut model = self.enter()?;
        let id = *model
            .by_real
            .get(&real_id(&file.metadata()?))
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
        let inode = &mut model.inodes[id];
        inode.durable = Some(inode.current.clone());
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut model = self.enter()?;
        let (from_dir, from_name) = split(from)?;
        let (to_dir, to_name) = split(to)?;
        if from_dir != to_dir {
            return Err(io::Error::from_raw_os_error(libc::EXDEV));
        }
        let meta = std::fs::symlink_metadata(from)?;
        let id = model.inode_of(&meta, from);
        RealFs.rename(from, to)?;
        let d = model.dir(from_dir);
        d.current.remove(&from_name);
        d.current.insert(to_name.clone(), id);
        d.pending.push(EntryChange::Rename(from_name, to_name, id));
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut model = self.enter()?;
        let (dir, name) = split(path)?;
        RealFs.remove_file(path)?;
        let d = model.dir(dir);
        d.current.remove(&name);
        d.pending.push(EntryChange::Unlink(name));
        Ok(())
    }

    fn remove_orphan(&self, path: &Path, written_before: Option<SystemTime>) -> io::Result<bool> {
        let mut model = self.enter()?;
        let (dir, name) = split(path)?;
        let removed = RealFs.remove_orphan(path, written_before)?;
        if removed {
            let d = model.dir(dir);
            d.current.remove(&name);
            d.pending.push(EntryChange::Unlink(name));
        }
        Ok(removed)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut model = self.enter()?;
        let d = model.dir(dir.to_path_buf());
        d.durable = d.current.clone();
        d.pending.clear();
        Ok(())
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut model = self.enter()?;
        RealFs.create_dir_all(dir)?;
        model.dir(dir.to_path_buf());
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        let _model = self.enter()?;
        RealFs.list_dir(dir)
    }

    fn dir_id(&self, dir: &Path) -> io::Result<DirId> {
        let _model = self.enter()?;
        RealFs.dir_id(dir)
    }

    fn sync_filesystem(&self, _dir: &Path) -> io::Result<()> {
        let mut model = self.enter()?;
        if !self.syncfs {
            return Err(io::ErrorKind::Unsupported.into());
        }
        for d in model.dirs.values_mut() {
            d.durable = d.current.clone();
            d.pending.clear();
        }
        for inode in &mut model.inodes {
            inode.durable = Some(inode.current.clone());
        }
        Ok(())
    }

    fn can_sync_filesystem(&self) -> bool {
        self.syncfs
    }
}

/// SplitMix64: reproducible from the seed a test prints.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(image: &Image) -> Vec<&[u8]> {
        image.keys().map(|k| k.as_slice()).collect()
    }

    #[test]
    fn only_what_was_synced_survives() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("old"), b"old").unwrap();
        let fs = CrashFs::new(&[dir], true).unwrap();

        let mut a = fs.create_exclusive(&dir.join("a")).unwrap();
        fs.write_all(&mut a, b"aaa").unwrap();
        assert_eq!(names(&fs.image(dir, Loss::Unsynced)), [b"old"]);
        fs.sync_dir(dir).unwrap();
        // The entry is durable, the contents are not.
        assert_eq!(fs.image(dir, Loss::Unsynced)[&b"a"[..]], b"");
        fs.sync_file(&a).unwrap();
        assert_eq!(fs.image(dir, Loss::Unsynced)[&b"a"[..]], b"aaa");

        fs.rename(&dir.join("a"), &dir.join("old")).unwrap();
        fs.remove_file(&dir.join("old")).unwrap_or(());
        let image = fs.image(dir, Loss::Unsynced);
        assert_eq!(
            image[&b"old"[..]],
            b"old",
            "unsynced rename and removal are lost"
        );
        assert_eq!(image[&b"a"[..]], b"aaa");
        fs.sync_filesystem(dir).unwrap();
        assert!(fs.image(dir, Loss::Unsynced).is_empty());
        assert_eq!(
            std::fs::read_dir(dir).unwrap().count(),
            0,
            "the real calls ran"
        );
    }

    #[test]
    fn a_crash_fails_that_call_and_every_later_one() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let fs = CrashFs::new(&[dir], true).unwrap();
        fs.crash_at(2);
        let mut a = fs.create_exclusive(&dir.join("a")).unwrap();
        assert!(fs.write_all(&mut a, b"x").is_err());
        assert!(fs.crashed());
        assert!(fs.sync_filesystem(dir).is_err());
        assert!(fs.read(&dir.join("a"), usize::MAX).is_err());
        assert_eq!(fs.calls(), 4);
        assert_eq!(
            std::fs::read(dir.join("a")).unwrap(),
            b"",
            "nothing written after the crash"
        );
    }

    #[test]
    fn seeded_loss_keeps_unsynced_changes_in_some_runs_and_not_others() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let fs = CrashFs::new(&[dir], true).unwrap();
        let mut a = fs.create_exclusive(&dir.join("a")).unwrap();
        fs.write_all(&mut a, b"0123456789").unwrap();
        let images: Vec<Image> = (0..64)
            .map(|seed| fs.image(dir, Loss::Seeded(seed)))
            .collect();
        assert!(images.iter().any(|i| i.is_empty()));
        assert!(images
            .iter()
            .any(|i| i.get(&b"a"[..]) == Some(&b"0123456789".to_vec())));
        assert!(images
            .iter()
            .any(|i| i.get(&b"a"[..]).is_some_and(|v| v.len() < 10)));
        assert_eq!(
            fs.image(dir, Loss::Seeded(7)),
            fs.image(dir, Loss::Seeded(7))
        );
    }
}
