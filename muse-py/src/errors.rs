//! The Python exception hierarchy of muse (SPEC §8) and the one mapping from
//! [`muse_core::Error`] to it.
//!
//! The classes are created once, when `muse._native` is initialised, and
//! exported from it; `muse.core.errors` re-exports them. Their `__module__`
//! is `muse.core.errors`, their public home: tracebacks name them there and
//! pickle finds them there. Multiple bases (`MuseError` and `ValueError`,
//! `OSError`, `LookupError`) are why they are made with `type(name, bases,
//! namespace)` rather than `create_exception!`, which takes one base.

use pyo3::exceptions::{PyException, PyLookupError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

use muse_core::{Error, ErrorKind};

/// `__module__` of every class.
const MODULE: &str = "muse.core.errors";

/// A base of a class: another class of the hierarchy or a built-in.
#[derive(Clone, Copy)]
enum Base {
    Muse(Exc),
    Exception,
    ValueError,
    LookupError,
    OSError,
}

/// Declares [`Exc`] and the table the classes are built from, in one list:
/// `Name: [bases] "docstring"`. A class comes after its bases.
macro_rules! hierarchy {
    ($($name:ident: [$($base:expr),+] $doc:literal,)+) => {
        /// One class of the hierarchy (its discriminant indexes [`CLASSES`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[allow(clippy::enum_variant_names)]
        pub enum Exc { $($name),+ }

        /// `(class, name, bases, docstring)`, in creation order.
        const CLASSES: &[(Exc, &str, &[Base], &str)] = &[$((Exc::$name, stringify!($name), &[$($base),+], $doc)),+];
    };
}

use Base::Muse as M;

hierarchy! {
    MuseError: [Base::Exception]
        "Base class of every error raised by muse.",
    InvalidInputError: [M(Exc::MuseError), Base::ValueError]
        "A caller-supplied value is malformed; nothing was written.",
    InvalidIdError: [M(Exc::InvalidInputError)]
        "An ID is not ``\"sha256:\"`` followed by 64 lowercase hex digits.",
    InvalidPathError: [M(Exc::InvalidInputError)]
        "A repository-relative path is absolute, has ``..``/empty segments, NUL, or is inside ``.muse/``.",
    InvalidRefNameError: [M(Exc::InvalidInputError)]
        "A branch name breaks git's ``check-ref-format`` rules.",
    IntegrityError: [M(Exc::MuseError), Base::ValueError]
        "Stored or received data does not verify (hash, format or size).",
    HashMismatchError: [M(Exc::IntegrityError)]
        "Content does not hash to the ID it was given under; nothing was written.",
    CorruptRecordError: [M(Exc::IntegrityError)]
        "A stored file exists but is truncated, undecodable, or does not hash to its name.",
    RecordTooLargeError: [M(Exc::IntegrityError)]
        "A record file is larger than ``MAX_MSGPACK_BYTES``; it was not read.",
    MissingDataError: [M(Exc::IntegrityError)]
        "A ref or record points at a commit, snapshot or object that the store\n\
         does not hold: the repository has lost data (the CLI's exit 3).",
    RefConflictError: [M(Exc::MuseError)]
        "A compare-and-swap ref update found the ref moved since the caller read it.",
    LockedError: [M(Exc::MuseError)]
        "A repository lock (``.muse/index.lock`` or ``.muse/gc.lock``) stayed\n\
         held by another process for the whole bounded wait (``[core]\n\
         lock_timeout`` seconds); the message names the holder's PID.",
    RejectedError: [M(Exc::MuseError)]
        "A ref update of a push was refused (git's \"rejected\"): not a\n\
         fast-forward (fetch and merge, or push with ``force=True``), the\n\
         remote branch moved since it was read, or it is the checked-out\n\
         branch of a remote that is not bare. Nothing was changed on the\n\
         remote.",
    NotFoundError: [M(Exc::MuseError), Base::LookupError]
        "A required object, commit, snapshot or branch does not exist.",
    NotARepositoryError: [M(Exc::MuseError)]
        "No ``.muse/`` directory at or above the start directory.",
    MuseCLIError: [M(Exc::MuseError)]
        "An error reported to the user by the CLI layer: caps such as\n\
         ``[limits] max_ancestors``, and bad ``config.toml`` values.",
    MuseIOError: [M(Exc::MuseError), Base::OSError]
        "An operating-system I/O error, with ``errno``, ``strerror`` and ``filename``.",
    RemoteError: [M(Exc::MuseError), Base::OSError]
        "A remote could not be reached, or answered a request with an error\n\
         (an ``OSError``, as network failures are). ``url`` is the remote's\n\
         URL, ``status`` the HTTP status of the answer (``None`` when there\n\
         was none: refused connection, timeout, an unreadable answer).",
}

/// The classes, indexed by [`Exc`]; created on first use (module init).
static TYPES: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();

fn types(py: Python<'_>) -> PyResult<&'static [Py<PyType>]> {
    let made = TYPES.get_or_try_init(py, || -> PyResult<_> {
        let mut made: Vec<Py<PyType>> = Vec::with_capacity(CLASSES.len());
        for (i, &(exc, name, bases, doc)) in CLASSES.iter().enumerate() {
            debug_assert_eq!(exc as usize, i, "CLASSES out of order");
            let bases = bases.iter().map(|b| match *b {
                Base::Muse(parent) => made[parent as usize].bind(py).clone(),
                Base::Exception => py.get_type::<PyException>(),
                Base::ValueError => py.get_type::<PyValueError>(),
                Base::LookupError => py.get_type::<PyLookupError>(),
                Base::OSError => py.get_type::<PyOSError>(),
            });
            let ns = PyDict::new(py);
            ns.set_item("__doc__", doc)?;
            ns.set_item("__module__", MODULE)?;
            let cls = py.get_type::<PyType>().call1((name, PyTuple::new(py, bases)?, ns))?;
            made.push(cls.cast_into::<PyType>()?.unbind());
        }
        Ok(made)
    })?;
    Ok(made)
}

/// The Python class of `exc`.
pub fn class(py: Python<'_>, exc: Exc) -> PyResult<Bound<'_, PyType>> {
    Ok(types(py)?[exc as usize].bind(py).clone())
}

/// Creates the classes and adds each to the module `m` under its name.
pub fn add_to(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    for (&(_, name, _, _), cls) in CLASSES.iter().zip(types(py)?) {
        m.add(name, cls.bind(py))?;
    }
    Ok(())
}

/// The class that represents `e`: its own class for the variants that have
/// one, else the class of its [`ErrorKind`].
pub fn exc_for(e: &Error) -> Exc {
    match e {
        Error::InvalidId { .. } => Exc::InvalidIdError,
        Error::InvalidPath { .. } => Exc::InvalidPathError,
        Error::InvalidRefName { .. } => Exc::InvalidRefNameError,
        Error::HashMismatch { .. } => Exc::HashMismatchError,
        Error::Corrupt { .. } => Exc::CorruptRecordError,
        Error::TooLarge { .. } => Exc::RecordTooLargeError,
        Error::Missing { .. } => Exc::MissingDataError,
        Error::RefConflict { .. } => Exc::RefConflictError,
        Error::Locked { .. } => Exc::LockedError,
        Error::Rejected { .. } => Exc::RejectedError,
        Error::Remote { .. } => Exc::RemoteError,
        _ => match e.kind() {
            ErrorKind::InvalidInput => Exc::InvalidInputError,
            ErrorKind::Integrity => Exc::IntegrityError,
            ErrorKind::Conflict => Exc::MuseError,
            ErrorKind::NotFound => Exc::NotFoundError,
            ErrorKind::NotARepository => Exc::NotARepositoryError,
            ErrorKind::Cli => Exc::MuseCLIError,
            ErrorKind::Io => Exc::MuseIOError,
        },
    }
}

/// Converts a core error into an instance of its class ([`exc_for`]). I/O
/// errors carry `errno`, `strerror` and `filename` like `OSError`; remote
/// errors carry `url` and `status` (an `int`, or `None`).
pub fn to_py_err(e: Error) -> PyErr {
    Python::attach(|py| {
        let build = || -> PyResult<PyErr> {
            let cls = class(py, exc_for(&e))?;
            let inst = match &e {
                Error::Io { path, .. } => cls.call1((e.raw_os_error().unwrap_or(0), e.to_string(), path.clone()))?,
                Error::Remote { url, status, .. } => {
                    let inst = cls.call1((e.to_string(),))?;
                    inst.setattr("url", url)?;
                    inst.setattr("status", *status)?;
                    inst
                }
                _ => cls.call1((e.to_string(),))?,
            };
            Ok(PyErr::from_value(inst))
        };
        build().unwrap_or_else(|err| err)
    })
}
