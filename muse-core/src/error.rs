//! The one error type of the core.
//!
//! Every fallible function in `muse-core` returns [`Result<T>`]. The variants
//! are grouped by *class* ([`ErrorKind`]) so that the bindings can map them
//! without matching on every variant: Python maps classes to an exception
//! hierarchy rooted at `muse.core.errors.MuseError` (SPEC §8), C maps them to
//! status codes.

use std::path::{Path, PathBuf};

/// `Result` with the core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An ID is not `"sha256:"` followed by 64 lowercase hex digits (SPEC §2).
    /// Raised before the ID can reach a filesystem path.
    #[error("invalid ID {id:?}: {reason}")]
    InvalidId {
        /// The offending input (truncated to 100 characters).
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A repository-relative path is not a clean POSIX relative path
    /// (absolute, `..`, empty segment, NUL, inside `.muse/`, …).
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The offending path.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A branch or ref name breaks git's `check-ref-format` rules.
    #[error("invalid branch name {name:?}: {reason}")]
    InvalidRefName {
        /// The offending name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// Content does not hash to the ID it was given under (a caller bug or a
    /// lying peer). Nothing was written.
    #[error("hash mismatch for {what}: expected {expected}, content hashes to {actual}")]
    HashMismatch {
        /// What was being written or verified ("object", "commit", "snapshot").
        what: &'static str,
        /// The ID the caller claimed.
        expected: String,
        /// The ID the content actually has.
        actual: String,
    },

    /// A stored file exists but is not what it must be: undecodable msgpack,
    /// a record whose ID does not verify, an object whose bytes do not hash
    /// to its name, a file of the wrong shape.
    #[error("corrupt {what} at {}: {detail}", path.display())]
    Corrupt {
        /// What kind of file ("commit record", "object", …).
        what: &'static str,
        /// Where it is.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },

    /// A file or input is larger than the limit that guards memory
    /// (`MAX_MSGPACK_BYTES` for records). The file was not read.
    #[error("{what} at {} is {size} bytes, over the limit of {limit} bytes", path.display())]
    TooLarge {
        /// What kind of file.
        what: &'static str,
        /// Where it is.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },

    /// A compare-and-swap ref update found the ref somewhere else than the
    /// caller expected: somebody moved it since the caller read it.
    #[error("ref {name} moved: expected {}, found {}", show_opt(.expected), show_opt(.actual))]
    RefConflict {
        /// The ref (e.g. `refs/heads/main`).
        name: String,
        /// What the caller expected (`None`: expected the ref not to exist).
        expected: Option<String>,
        /// What the ref holds now (`None`: it does not exist).
        actual: Option<String>,
    },

    /// A ref update of a push (or of a fetch into a branch) was refused
    /// (git's "rejected"): not a fast-forward, or the remote moved since it
    /// was read. Nothing was changed.
    #[error("rejected {name}: {reason}")]
    Rejected {
        /// The ref (e.g. `refs/heads/main`).
        name: String,
        /// Why, with what to do (`"non-fast-forward; fetch and merge, or push with --force"`).
        reason: String,
    },

    /// A remote could not be reached, or answered a request with an error.
    #[error("remote {url}: {}{message}", show_status(.status))]
    Remote {
        /// The remote's URL.
        url: String,
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
        /// The remote's message (its JSON `error`), or the transport error.
        message: String,
    },

    /// A named thing (branch, commit, snapshot, object) does not exist.
    #[error("{what} not found: {name}")]
    NotFound {
        /// What kind of thing.
        what: &'static str,
        /// Its name or ID.
        name: String,
    },

    /// No `.muse/` directory at or above the start directory.
    #[error("not a muse repository (or any parent up to /): {}", start.display())]
    NotARepository {
        /// Where discovery started.
        start: PathBuf,
    },

    /// A configured safety cap was hit (e.g. `[limits] max_ancestors`).
    #[error("{detail} (raise [limits] {cap} in .muse/config.toml to allow more)")]
    CapExceeded {
        /// The config key of the cap, e.g. `max_ancestors`.
        cap: &'static str,
        /// A sentence saying what hit it.
        detail: String,
    },

    /// `config.toml` is unreadable or has a wrong value.
    #[error("bad config {}: {detail}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },

    /// A repository lock ([`crate::lock`]) stayed held by another process
    /// for the whole bounded wait (`[core] lock_timeout`).
    #[error("could not take the {what} {}: held by {} for the last {waited_ms} ms (raise [core] lock_timeout in .muse/config.toml to wait longer)", path.display(), show_pids(.holders))]
    Locked {
        /// Which lock ("index lock", "write lock").
        what: &'static str,
        /// The lock file.
        path: PathBuf,
        /// PIDs of the holders, when `/proc/locks` tells them.
        holders: Vec<u32>,
        /// How long this process waited, in milliseconds.
        waited_ms: u64,
    },

    /// A ref or record points at data that is missing from the store: the
    /// repository has lost something (an integrity error, exit 3), unlike
    /// [`Error::NotFound`] for a name a caller asked for.
    #[error("{what} {id} is missing (referenced by {referenced_by})")]
    Missing {
        /// What is missing ("commit", "snapshot", "object").
        what: &'static str,
        /// Its ID.
        id: String,
        /// Who points at it (e.g. "refs/heads/main", "commit sha256:…").
        referenced_by: String,
    },

    /// A caller-supplied value is wrong in a way none of the above covers.
    #[error("{0}")]
    InvalidInput(String),

    /// An operating-system I/O error, with the path it happened on.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done ("open", "rename", …).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// The errno of an `io::Error`, looking through one level of wrapping.
pub(crate) fn os_errno(e: &std::io::Error) -> Option<i32> {
    e.raw_os_error().or_else(|| {
        let inner: &(dyn std::error::Error + 'static) = e.get_ref()?;
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return io.raw_os_error();
        }
        inner.source()?.downcast_ref::<std::io::Error>()?.raw_os_error()
    })
}

fn show_pids(pids: &[u32]) -> String {
    if pids.is_empty() {
        "another process".to_string()
    } else {
        let list: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
        format!("process {}", list.join(", "))
    }
}

fn show_status(s: &Option<u16>) -> String {
    s.map(|s| format!("HTTP {s}: ")).unwrap_or_default()
}

fn show_opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("(absent)")
}

/// The class of an [`Error`]: what the bindings map to exception types and
/// status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Bad caller input: [`Error::InvalidId`], [`Error::InvalidPath`],
    /// [`Error::InvalidRefName`], [`Error::InvalidInput`], and
    /// [`Error::Remote`] with another 4xx status (401, 403, 413, 422, …).
    InvalidInput,
    /// Data does not verify: [`Error::HashMismatch`], [`Error::Corrupt`],
    /// [`Error::TooLarge`], [`Error::Missing`].
    Integrity,
    /// [`Error::RefConflict`], [`Error::Locked`], [`Error::Rejected`], and
    /// [`Error::Remote`] with HTTP status 409.
    Conflict,
    /// [`Error::NotFound`], and [`Error::Remote`] with HTTP status 404.
    NotFound,
    /// [`Error::NotARepository`].
    NotARepository,
    /// [`Error::CapExceeded`], [`Error::Config`]: the CLI-level errors.
    Cli,
    /// [`Error::Io`], and [`Error::Remote`] without an answer or with a
    /// 5xx status.
    Io,
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidId { .. }
            | Error::InvalidPath { .. }
            | Error::InvalidRefName { .. }
            | Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::HashMismatch { .. } | Error::Corrupt { .. } | Error::TooLarge { .. } | Error::Missing { .. } => {
                ErrorKind::Integrity
            }
            Error::RefConflict { .. } | Error::Locked { .. } | Error::Rejected { .. } => ErrorKind::Conflict,
            Error::Remote { status, .. } => match status {
                Some(409) => ErrorKind::Conflict,
                Some(404) => ErrorKind::NotFound,
                Some(s) if (400..500).contains(s) => ErrorKind::InvalidInput,
                _ => ErrorKind::Io,
            },
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::NotARepository { .. } => ErrorKind::NotARepository,
            Error::CapExceeded { .. } | Error::Config { .. } => ErrorKind::Cli,
            Error::Io { .. } => ErrorKind::Io,
        }
    }

    /// The OS error number for [`Error::Io`], if any (also when the OS
    /// error is wrapped, as `tempfile` does to add the path).
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => os_errno(source),
            _ => None,
        }
    }

    /// True for an [`Error::Io`] whose cause is "no such file or directory".
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    /// Builds an [`Error::Io`].
    pub fn io(op: &'static str, path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io { op, path: path.as_ref().to_path_buf(), source }
    }

    pub(crate) fn corrupt(what: &'static str, path: impl AsRef<Path>, detail: impl Into<String>) -> Self {
        Error::Corrupt { what, path: path.as_ref().to_path_buf(), detail: detail.into() }
    }
}

/// Attaches an operation and a path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(op, path, e))
    }
}
