//! Every filesystem call the store makes goes through `Fs`, so tests can fail
//! any one of them with a chosen errno and check what survives.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::error::{Error, Result};

/// The calls fault injection can fail, one per kind of syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsOp {
    Read,
    Open,
    /// A writer locking its new temp file.
    Lock,
    Write,
    Fsync,
    Rename,
    DirFsync,
    Remove,
    Mkdir,
    List,
    /// Looking up which directory a path names.
    Stat,
    /// `syncfs`: every file and directory of the filesystem made durable.
    SyncFs,
}

/// A directory entry's name. Listing never stats the entries: a directory
/// of 10,000 keys would pay 10,000 extra syscalls for nothing.
pub struct DirEntry {
    pub name: Vec<u8>,
}

/// What a path names when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    Fifo,
    CharacterDevice,
    BlockDevice,
    Socket,
    Symlink,
    Other,
}

impl FileKind {
    /// `None` for a regular file.
    pub fn of(file_type: fs::FileType) -> Option<FileKind> {
        if file_type.is_file() {
            None
        } else if file_type.is_dir() {
            Some(FileKind::Directory)
        } else if file_type.is_fifo() {
            Some(FileKind::Fifo)
        } else if file_type.is_char_device() {
            Some(FileKind::CharacterDevice)
        } else if file_type.is_block_device() {
            Some(FileKind::BlockDevice)
        } else if file_type.is_socket() {
            Some(FileKind::Socket)
        } else if file_type.is_symlink() {
            Some(FileKind::Symlink)
        } else {
            Some(FileKind::Other)
        }
    }
}

/// Which directory a path names: every spelling of one directory (`a/../b`,
/// a symlink) has the same id. The birth time, where the filesystem keeps
/// one, tells a new directory from a deleted one whose inode was reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DirId {
    pub dev: u64,
    pub ino: u64,
    pub born: Option<(i64, u32)>,
}

impl DirId {
    /// The directory `path` names now; `ENOTDIR` when it is something else.
    pub fn of(path: &Path) -> io::Result<DirId> {
        let meta = fs::metadata(path)?;
        if !meta.is_dir() {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        let born = meta.created().ok().and_then(|t| {
            let since = t.duration_since(SystemTime::UNIX_EPOCH).ok()?;
            Some((i64::try_from(since.as_secs()).ok()?, since.subsec_nanos()))
        });
        Ok(DirId {
            dev: meta.dev(),
            ino: meta.ino(),
            born,
        })
    }
}

pub trait Fs: Send + Sync {
    /// The bytes of the regular file at `path`, following symlinks. Anything
    /// else (a FIFO, a device, a directory) is refused without reading or
    /// blocking, and so is a file over `cap` bytes, before any is read.
    fn read(&self, path: &Path, cap: usize) -> Result<Vec<u8>>;
    /// Creates `path`, failing if it exists, so two writers never share a temp file.
    fn create_exclusive(&self, path: &Path) -> io::Result<File>;
    /// Locks a temp file just created, for as long as it stays open, so that
    /// cleanup in any OS process can tell it from an orphan. `Ok(false)`: a
    /// cleanup removed it before the lock was taken; use another name.
    fn lock_temp(&self, file: &File) -> io::Result<bool>;
    fn write_all(&self, file: &mut File, data: &[u8]) -> io::Result<()>;
    fn sync_file(&self, file: &File) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes the temp file at `path` if it is provably an orphan: a regular
    /// file (not followed through a symlink) that nobody holds a lock on and,
    /// with `written_before`, last written before that time. `Ok(false)`: kept.
    fn remove_orphan(&self, path: &Path, written_before: Option<SystemTime>) -> io::Result<bool>;
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>>;
    fn dir_id(&self, dir: &Path) -> io::Result<DirId>;

    /// Makes every write, rename and removal on the filesystem holding `dir`
    /// durable in one call (Linux `syncfs`). `Unsupported` where there is no
    /// such call; callers then fsync each file themselves.
    fn sync_filesystem(&self, _dir: &Path) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Whether `sync_filesystem` is available, known before writing.
    fn can_sync_filesystem(&self) -> bool {
        false
    }
}

/// The real filesystem.
pub struct RealFs;

/// A file's reported size only sizes the first allocation up to this; it may
/// change before it is read.
const MAX_PREALLOCATION: usize = 64 * 1024 * 1024;

/// Most bytes one `read` or `write` call moves. A kernel built without
/// preemption (the default of many server kernels) switches threads only
/// when a system call returns or the kernel offers to; one multi-megabyte
/// `write` has been seen holding a CPU for 7 to 30 ms that way, however low
/// the caller's priority, and a VM scheduler thread waking on that CPU
/// waited as long. A slice costs well under a millisecond.
pub const IO_SLICE: usize = 256 * 1024;

/// Reads to the end in `IO_SLICE` steps into a buffer sized for `expected`
/// bytes, growing it if the file has grown since, but never past `cap`: one
/// byte beyond it proves the file too large. The one spare byte lets a file
/// of exactly the expected size end without growing the buffer.
fn read_sliced(file: &mut File, expected: usize, cap: usize) -> Result<Vec<u8>> {
    let limit = cap.saturating_add(1);
    let mut bytes = vec![0; expected.saturating_add(1).min(limit).min(MAX_PREALLOCATION)];
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            if filled == limit {
                return Err(Error::TooLarge { cap });
            }
            bytes.resize(filled.saturating_add(IO_SLICE).min(limit), 0);
        }
        let end = bytes.len().min(filled + IO_SLICE);
        match file.read(&mut bytes[filled..end]) {
            Ok(0) => {
                bytes.truncate(filled);
                return Ok(bytes);
            }
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err.into()),
        }
    }
}

/// Opens for reading without ever blocking: a FIFO with no writer would
/// otherwise hold the thread until one comes, and a terminal could become
/// the VM's controlling terminal.
fn open_nonblocking(path: &Path, extra_flags: libc::c_int) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | extra_flags)
        .open(path)
}

/// `flock` on `file`, retried when a signal interrupts it. `Ok(false)`: the
/// lock is held elsewhere (non-blocking) or the filesystem has no `flock`.
fn flock(file: &File, operation: libc::c_int) -> io::Result<bool> {
    loop {
        // SAFETY: flock on a descriptor we own; the lock goes with it.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK)
            | Some(libc::ENOLCK)
            | Some(libc::ENOTSUP)
            | Some(libc::EINVAL) => return Ok(false),
            _ => return Err(err),
        }
    }
}

impl Fs for RealFs {
    fn read(&self, path: &Path, cap: usize) -> Result<Vec<u8>> {
        let mut file = open_nonblocking(path, 0)?;
        let meta = file.metadata()?;
        if let Some(kind) = FileKind::of(meta.file_type()) {
            return Err(Error::NotRegularFile(kind));
        }
        let size = usize::try_from(meta.len()).unwrap_or(usize::MAX);
        if size > cap {
            return Err(Error::TooLarge { cap });
        }
        crate::offload::run(size, move || read_sliced(&mut file, size, cap))
    }

    fn create_exclusive(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(path)
    }

    fn lock_temp(&self, file: &File) -> io::Result<bool> {
        // Where the filesystem has no flock the file stays unlocked, and
        // cleanup, unable to prove it an orphan, leaves it alone.
        flock(file, libc::LOCK_EX)?;
        Ok(file.metadata()?.nlink() > 0)
    }

    fn write_all(&self, file: &mut File, data: &[u8]) -> io::Result<()> {
        data.chunks(IO_SLICE)
            .try_for_each(|slice| file.write_all(slice))
    }

    fn sync_file(&self, file: &File) -> io::Result<()> {
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn remove_orphan(&self, path: &Path, written_before: Option<SystemTime>) -> io::Result<bool> {
        let file = match open_nonblocking(path, libc::O_NOFOLLOW) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
            // A symlink, or something this process may not open: not ours.
            Err(err) if matches!(err.raw_os_error(), Some(libc::ELOOP) | Some(libc::EACCES)) => {
                return Ok(false)
            }
            Err(err) => return Err(err),
        };
        let meta = file.metadata()?;
        // An unknown modification time proves nothing either.
        let too_recent = |t: SystemTime| !meta.modified().is_ok_and(|m| m < t);
        if !meta.is_file() || written_before.is_some_and(too_recent) {
            return Ok(false);
        }
        // A writer holds its temp file's lock from just after creating it
        // until after the rename, so getting the lock proves no live writer.
        if !flock(&file, libc::LOCK_EX | libc::LOCK_NB)? {
            return Ok(false);
        }
        // Still under the lock: the name must still be this file.
        match fs::symlink_metadata(path) {
            Ok(now) if now.dev() == meta.dev() && now.ino() == meta.ino() => {}
            _ => return Ok(false),
        }
        match fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(err),
        }
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        match open_nonblocking(dir, libc::O_DIRECTORY) {
            Ok(handle) => handle.sync_all(),
            // The originals skip the directory fsync where the platform
            // cannot open or sync a directory; so do we.
            Err(err) if dir_sync_unsupported(&err) => Ok(()),
            Err(err) => Err(err),
        }
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        use std::os::unix::ffi::OsStrExt;
        let mut entries = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            entries.push(DirEntry {
                name: entry.file_name().as_bytes().to_vec(),
            });
        }
        Ok(entries)
    }

    fn dir_id(&self, dir: &Path) -> io::Result<DirId> {
        DirId::of(dir)
    }

    #[cfg(target_os = "linux")]
    fn sync_filesystem(&self, dir: &Path) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let handle = File::open(dir)?;
        // SAFETY: syncfs only reads the descriptor, which we own. Since
        // Linux 5.8 it reports writeback errors of the whole filesystem.
        if unsafe { libc::syncfs(handle.as_raw_fd()) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    fn can_sync_filesystem(&self) -> bool {
        cfg!(target_os = "linux")
    }
}

fn dir_sync_unsupported(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ENOTSUP) | Some(libc::EACCES) | Some(libc::EINVAL) | Some(libc::EPERM)
    )
}

/// Wraps the real filesystem and fails the Nth call of the chosen kinds.
pub struct FaultFs {
    inner: RealFs,
    calls: AtomicU64,
    plan: Mutex<Option<FaultPlan>>,
    log: Mutex<Vec<FsOp>>,
}

#[derive(Debug, Clone, Copy)]
struct FaultPlan {
    /// 1-based index among the calls whose kind is in `ops`.
    nth: u64,
    ops: &'static [FsOp],
    errno: i32,
}

impl Default for FaultFs {
    fn default() -> Self {
        Self::new()
    }
}

impl FaultFs {
    pub fn new() -> Self {
        FaultFs {
            inner: RealFs,
            calls: AtomicU64::new(0),
            plan: Mutex::new(None),
            log: Mutex::new(Vec::new()),
        }
    }

    /// Fails the `nth` call among `ops` (counted from now) with `errno`.
    pub fn fail_nth(&self, nth: u64, ops: &'static [FsOp], errno: i32) {
        self.calls.store(0, Ordering::SeqCst);
        if let Ok(mut plan) = self.plan.lock() {
            *plan = Some(FaultPlan { nth, ops, errno });
        }
        if let Ok(mut log) = self.log.lock() {
            log.clear();
        }
    }

    pub fn clear(&self) {
        if let Ok(mut plan) = self.plan.lock() {
            *plan = None;
        }
    }

    /// The calls seen since the last `fail_nth`, in order.
    pub fn log(&self) -> Vec<FsOp> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn check(&self, op: FsOp) -> io::Result<()> {
        if let Ok(mut log) = self.log.lock() {
            log.push(op);
        }
        let plan = self.plan.lock().ok().and_then(|p| *p);
        if let Some(plan) = plan {
            if plan.ops.contains(&op) {
                let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
                if n == plan.nth {
                    return Err(io::Error::from_raw_os_error(plan.errno));
                }
            }
        }
        Ok(())
    }
}

impl Fs for FaultFs {
    fn read(&self, path: &Path, cap: usize) -> Result<Vec<u8>> {
        self.check(FsOp::Read)?;
        self.inner.read(path, cap)
    }
    fn create_exclusive(&self, path: &Path) -> io::Result<File> {
        self.check(FsOp::Open)?;
        self.inner.create_exclusive(path)
    }
    fn lock_temp(&self, file: &File) -> io::Result<bool> {
        self.check(FsOp::Lock)?;
        self.inner.lock_temp(file)
    }
    fn write_all(&self, file: &mut File, data: &[u8]) -> io::Result<()> {
        self.check(FsOp::Write)?;
        self.inner.write_all(file, data)
    }
    fn sync_file(&self, file: &File) -> io::Result<()> {
        self.check(FsOp::Fsync)?;
        self.inner.sync_file(file)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check(FsOp::Rename)?;
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.check(FsOp::Remove)?;
        self.inner.remove_file(path)
    }
    fn remove_orphan(&self, path: &Path, written_before: Option<SystemTime>) -> io::Result<bool> {
        self.check(FsOp::Remove)?;
        self.inner.remove_orphan(path, written_before)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.check(FsOp::DirFsync)?;
        self.inner.sync_dir(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.check(FsOp::Mkdir)?;
        self.inner.create_dir_all(dir)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        self.check(FsOp::List)?;
        self.inner.list_dir(dir)
    }
    fn dir_id(&self, dir: &Path) -> io::Result<DirId> {
        self.check(FsOp::Stat)?;
        self.inner.dir_id(dir)
    }
    fn sync_filesystem(&self, dir: &Path) -> io::Result<()> {
        self.check(FsOp::SyncFs)?;
        self.inner.sync_filesystem(dir)
    }
    fn can_sync_filesystem(&self) -> bool {
        self.inner.can_sync_filesystem()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliced_writes_and_reads_keep_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [
            0,
            1,
            IO_SLICE - 1,
            IO_SLICE,
            IO_SLICE + 1,
            3 * IO_SLICE + 17,
        ];
        for (n, size) in sizes.into_iter().enumerate() {
            let path = dir.path().join(format!("f{n}"));
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let mut file = RealFs.create_exclusive(&path).unwrap();
            RealFs.write_all(&mut file, &data).unwrap();
            drop(file);
            assert_eq!(std::fs::read(&path).unwrap(), data, "written, size {size}");
            assert_eq!(
                RealFs.read(&path, usize::MAX).unwrap(),
                data,
                "read, size {size}"
            );
        }
    }

    #[test]
    fn a_file_larger_or_smaller_than_its_size_said_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..2 * IO_SLICE + 5).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        for expected in [0, 1, 8191, 8192, IO_SLICE, data.len() - 1, data.len() + 9] {
            let mut file = File::open(&path).unwrap();
            assert_eq!(
                read_sliced(&mut file, expected, usize::MAX).unwrap(),
                data,
                "expected {expected}"
            );
        }
    }

    /// Runs `job` on a thread and waits at most a minute, so a call that
    /// blocks fails the test instead of hanging it.
    fn bounded<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(job()));
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("the call did not return")
    }

    fn mkfifo(path: &Path) {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    }

    #[test]
    fn reads_refuse_what_is_not_a_regular_file_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let random = dir.path().join("random");
        std::os::unix::fs::symlink("/dev/urandom", &random).unwrap();
        let cases = [
            (fifo, FileKind::Fifo),
            (zero, FileKind::CharacterDevice),
            (random, FileKind::CharacterDevice),
            (dir.path().to_path_buf(), FileKind::Directory),
        ];
        for (path, kind) in cases {
            let result = bounded({
                let path = path.clone();
                move || RealFs.read(&path, usize::MAX)
            });
            assert!(
                matches!(result, Err(Error::NotRegularFile(k)) if k == kind),
                "{path:?}: {result:?}"
            );
        }
    }

    #[test]
    fn a_file_over_the_cap_is_refused_before_any_byte_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let sparse = dir.path().join("sparse");
        let file = File::create(&sparse).unwrap();
        file.set_len(1 << 30).unwrap();
        drop(file);
        let cap = 64 * 1024 * 1024;
        assert!(matches!(
            RealFs.read(&sparse, cap),
            Err(Error::TooLarge { cap: c }) if c == cap
        ));

        let exact = dir.path().join("exact");
        std::fs::write(&exact, vec![7u8; 1000]).unwrap();
        assert_eq!(RealFs.read(&exact, 1000).unwrap().len(), 1000);
        assert!(matches!(
            RealFs.read(&exact, 999),
            Err(Error::TooLarge { cap: 999 })
        ));
        // A file that grows past the cap after its size was checked.
        let mut file = File::open(&exact).unwrap();
        assert!(matches!(
            read_sliced(&mut file, 10, 500),
            Err(Error::TooLarge { cap: 500 })
        ));
    }

    #[test]
    fn a_temp_file_is_an_orphan_only_once_its_lock_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.etf.tmp-1-1");
        let file = RealFs.create_exclusive(&path).unwrap();
        assert!(RealFs.lock_temp(&file).unwrap());
        assert!(!RealFs.remove_orphan(&path, None).unwrap(), "locked: kept");
        assert!(path.exists());
        drop(file);
        let later = SystemTime::now() - std::time::Duration::from_secs(3600);
        assert!(
            !RealFs.remove_orphan(&path, Some(later)).unwrap(),
            "written after the given time: kept"
        );
        assert!(RealFs.remove_orphan(&path, None).unwrap());
        assert!(!path.exists());
        assert!(!RealFs.remove_orphan(&path, None).unwrap(), "already gone");
    }

    #[test]
    fn cleanup_never_follows_a_symlink_or_opens_a_fifo_for_long() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("data.etf");
        std::fs::write(&target, b"data").unwrap();
        let link = dir.path().join("data.etf.tmp-1");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let fifo = dir.path().join("other.etf.tmp-2");
        mkfifo(&fifo);
        let kept = bounded({
            let (link, fifo) = (link.clone(), fifo.clone());
            move || {
                (
                    RealFs.remove_orphan(&link, None).unwrap(),
                    RealFs.remove_orphan(&fifo, None).unwrap(),
                )
            }
        });
        assert_eq!(kept, (false, false));
        assert!(target.exists() && link.exists() && fifo.exists());
    }

    #[test]
    fn a_writer_learns_that_cleanup_took_its_temp_file_before_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.etf.tmp-1-2");
        let file = RealFs.create_exclusive(&path).unwrap();
        // Cleanup ran between the create and the lock.
        assert!(RealFs.remove_orphan(&path, None).unwrap());
        assert!(!RealFs.lock_temp(&file).unwrap());
    }

    #[test]
    fn spellings_of_one_directory_have_one_id() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&b, &link).unwrap();
        let id = DirId::of(&b).unwrap();
        assert_eq!(DirId::of(&a.join("..").join("b")).unwrap(), id);
        assert_eq!(DirId::of(&link).unwrap(), id);
        assert_ne!(DirId::of(&a).unwrap(), id);
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        let err = DirId::of(&dir.path().join("f")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR));
    }
}
