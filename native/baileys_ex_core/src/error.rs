//! One error type for the core, carried to Elixir as data.
//!
//! I/O failures keep their errno so the NIF can return the same POSIX atom
//! Elixir's `File` would (`:enoent`, `:enospc`, ...). Contract errors carry what
//! the NIF needs to build the original's error tuples.

use std::io;

use crate::fs::FileKind;
use crate::json::JsonError;
use crate::value::Value;

/// Why a manifest was refused (docs/FORMAT.md section 3).
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataError {
    /// `"version"` is an integer other than 1.
    UnsupportedVersion(Value),
    /// `"backend"` names another backend.
    UnexpectedBackend(Vec<u8>),
    /// Undecodable ETF or a term of the wrong shape; the raw bytes let the NIF
    /// report exactly what the VM's own safe decoder makes of them.
    InvalidEtf(Vec<u8>),
    /// JSON that does not decode, or decodes to the wrong shape.
    InvalidJson(Value),
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("invalid persistence metadata: {0:?}")]
    Metadata(MetadataError),
    #[error("{0}")]
    Json(#[from] JsonError),
    /// The calling process exited before the write; nothing was written.
    #[error("the calling process exited")]
    CallerGone,
    /// A file the library reads is a FIFO, a device, a directory...: refused
    /// unread, since reading it could block forever or never end.
    #[error("not a regular file: {0:?}")]
    NotRegularFile(FileKind),
    /// A file over the backend's size cap, refused before it is read (or
    /// written).
    #[error("larger than {cap} bytes")]
    TooLarge { cap: usize },
}

impl Error {
    /// The lower-case POSIX name Erlang uses for this failure, for I/O errors.
    pub fn posix_name(&self) -> Option<&'static str> {
        match self {
            Error::Io(err) => Some(posix_name(err)),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Maps an I/O error to the atom name `:file` would return for it.
pub fn posix_name(err: &io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(code) => errno_name(code),
        // Rust reports a NUL byte inside a path before reaching the kernel.
        None if err.kind() == io::ErrorKind::InvalidInput => "einval",
        None if err.kind() == io::ErrorKind::NotFound => "enoent",
        None if err.kind() == io::ErrorKind::PermissionDenied => "eacces",
        None if err.kind() == io::ErrorKind::AlreadyExists => "eexist",
        None => "eio",
    }
}

/// The errno values `:file` names, each with its atom's name; any other is `eio`.
const ERRNO_NAMES: [(i32, &str); 34] = [
    (libc::EPERM, "eperm"),
    (libc::ENOENT, "enoent"),
    (libc::EIO, "eio"),
    (libc::ENXIO, "enxio"),
    (libc::EBADF, "ebadf"),
    (libc::EAGAIN, "eagain"),
    (libc::ENOMEM, "enomem"),
    (libc::EACCES, "eacces"),
    (libc::EFAULT, "efault"),
    (libc::EBUSY, "ebusy"),
    (libc::EEXIST, "eexist"),
    (libc::EXDEV, "exdev"),
    (libc::ENODEV, "enodev"),
    (libc::ENOTDIR, "enotdir"),
    (libc::EISDIR, "eisdir"),
    (libc::EINVAL, "einval"),
    (libc::ENFILE, "enfile"),
    (libc::EMFILE, "emfile"),
    (libc::ETXTBSY, "etxtbsy"),
    (libc::EFBIG, "efbig"),
    (libc::ENOSPC, "enospc"),
    (libc::ESPIPE, "espipe"),
    (libc::EROFS, "erofs"),
    (libc::EMLINK, "emlink"),
    (libc::EPIPE, "epipe"),
    (libc::ENAMETOOLONG, "enametoolong"),
    (libc::ENOTEMPTY, "enotempty"),
    (libc::ELOOP, "eloop"),
    (libc::EDQUOT, "edquot"),
    (libc::ESTALE, "estale"),
    (libc::ENOTSUP, "enotsup"),
    (libc::EINTR, "eintr"),
    (libc::ENOLCK, "enolck"),
    (libc::ETIMEDOUT, "etimedout"),
];

/// Every name `posix_name` can return.
pub fn posix_names() -> impl Iterator<Item = &'static str> {
    ERRNO_NAMES.iter().map(|(_, name)| *name)
}

fn errno_name(code: i32) -> &'static str {
    ERRNO_NAMES
        .iter()
        .find(|(errno, _)| *errno == code)
        .map_or("eio", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_maps_to_the_atoms_file_uses() {
        let enospc = io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(posix_name(&enospc), "enospc");
        let erofs = io::Error::from_raw_os_error(libc::EROFS);
        assert_eq!(Error::from(erofs).posix_name(), Some("erofs"));
        let nul = io::Error::new(io::ErrorKind::InvalidInput, "nul byte");
        assert_eq!(posix_name(&nul), "einval");
    }

    #[test]
    fn every_name_posix_name_returns_is_listed() {
        let names: Vec<&str> = posix_names().collect();
        let kinds = [
            io::ErrorKind::InvalidInput,
            io::ErrorKind::NotFound,
            io::ErrorKind::PermissionDenied,
            io::ErrorKind::AlreadyExists,
            io::ErrorKind::Other,
        ];
        let errors = (0..4096)
            .map(io::Error::from_raw_os_error)
            .chain(kinds.into_iter().map(io::Error::from));
        for err in errors {
            let name = posix_name(&err);
            assert!(names.contains(&name), "{err:?} gives {name}, not listed");
        }
    }
}
