//! Every filesystem call the store makes goes through `Fs`, so tests can fail
//! any one of them with a chosen errno and check what survives.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

/// The calls fault injection can fail, one per kind of syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsOp {
    Read,
    Open,
    Write,
    Fsync,
    Rename,
    DirFsync,
    Remove,
    Mkdir,
    List,
    /// `syncfs`: every file and directory of the filesystem made durable.
    SyncFs,
}

/// A directory entry's name. Listing never stats the entries: a directory
/// of 10,000 keys would pay 10,000 extra syscalls for nothing.
pub struct DirEntry {
    pub name: Vec<u8>,
}

pub trait Fs: Send + Sync {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Creates `path`, failing if it exists, so two writers never share a temp file.
    fn create_exclusive(&self, path: &Path) -> io::Result<File>;
    fn write_all(&self, file: &mut File, data: &[u8]) -> io::Result<()>;
    fn sync_file(&self, file: &File) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>>;
    fn modified(&self, path: &Path) -> io::Result<SystemTime>;

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
/// bytes, growing it if the file has grown since. The one spare byte lets a
/// file of exactly the expected size end without growing the buffer.
fn read_sliced(file: &mut File, expected: usize) -> io::Result<Vec<u8>> {
    let mut bytes = vec![0; expected.saturating_add(1).min(MAX_PREALLOCATION)];
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            bytes.resize(filled + IO_SLICE, 0);
        }
        let end = bytes.len().min(filled + IO_SLICE);
        match file.read(&mut bytes[filled..end]) {
            Ok(0) => {
                bytes.truncate(filled);
                return Ok(bytes);
            }
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

impl Fs for RealFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut file = File::open(path)?;
        // A size that cannot be read just means the copy is not offloaded.
        let size = file
            .metadata()
            .map_or(0, |m| usize::try_from(m.len()).unwrap_or(usize::MAX));
        crate::offload::run(size, move || read_sliced(&mut file, size))
    }

    fn create_exclusive(&self, path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(path)
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

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        match File::open(dir) {
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

    fn modified(&self, path: &Path) -> io::Result<SystemTime> {
        fs::symlink_metadata(path)?.modified()
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
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.check(FsOp::Read)?;
        self.inner.read(path)
    }
    fn create_exclusive(&self, path: &Path) -> io::Result<File> {
        self.check(FsOp::Open)?;
        self.inner.create_exclusive(path)
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
    fn modified(&self, path: &Path) -> io::Result<SystemTime> {
        self.check(FsOp::List)?;
        self.inner.modified(path)
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
            assert_eq!(RealFs.read(&path).unwrap(), data, "read, size {size}");
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
                read_sliced(&mut file, expected).unwrap(),
                data,
                "expected {expected}"
            );
        }
    }
}
