"""The exception hierarchy of muse (SPEC §8).

Every error the engine raises is a :class:`MuseError`. Classes also derive
from the matching built-in so that generic handlers work:

- :class:`InvalidInputError` (and its ``InvalidIdError``, ``InvalidPathError``,
  ``InvalidRefNameError``) is a :class:`ValueError`: a malformed ID, path or
  branch name, rejected before anything touches the disk.
- :class:`IntegrityError` (``HashMismatchError``, ``CorruptRecordError``,
  ``RecordTooLargeError``) is a :class:`ValueError`: data that does not verify.
- :class:`MuseIOError` is an :class:`OSError` with ``errno``, ``strerror`` and
  ``filename`` set.
- :class:`NotFoundError` is a :class:`LookupError` (a missing object, commit,
  snapshot or branch where one is required).
- :class:`MissingDataError` (an :class:`IntegrityError`): a ref or record
  points at data the store does not hold.
- :class:`RefConflictError`: a compare-and-swap found the ref moved.
- :class:`LockedError`: a repository lock stayed held past ``[core] lock_timeout``.
- :class:`RejectedError`: a push's ref update was refused (not a fast-forward,
  the remote branch moved since it was read, or the checked-out branch of a
  remote that is not bare); nothing changed on the remote.
- :class:`RemoteError` is an :class:`OSError`, as network failures are: a
  remote could not be reached or answered with an error; ``url`` names it and
  ``status`` is the HTTP status (``None`` when there was no answer).
- :class:`MuseCLIError`: errors the CLI layer reports to the user, among them
  the ``[limits]`` caps of ``config.toml`` (e.g. ``max_ancestors``).
- :class:`NotARepositoryError`: no ``.muse/`` directory was found.

The classes are created once, in Rust, when :mod:`muse._native` is
initialised (the engine maps each of its errors to one of them there); this
module is their public home and re-exports them: they are the very objects
``muse._native`` exports, and their ``__module__`` is ``muse.core.errors``
(so they pickle by this name).
"""

from __future__ import annotations

from muse._native import (
    CorruptRecordError,
    HashMismatchError,
    IntegrityError,
    InvalidIdError,
    InvalidInputError,
    InvalidPathError,
    InvalidRefNameError,
    LockedError,
    MissingDataError,
    MuseCLIError,
    MuseError,
    MuseIOError,
    NotARepositoryError,
    NotFoundError,
    RecordTooLargeError,
    RefConflictError,
    RejectedError,
    RemoteError,
)

__all__ = [
    "MuseError",
    "InvalidInputError",
    "InvalidIdError",
    "InvalidPathError",
    "InvalidRefNameError",
    "IntegrityError",
    "HashMismatchError",
    "CorruptRecordError",
    "RecordTooLargeError",
    "MissingDataError",
    "RefConflictError",
    "LockedError",
    "NotFoundError",
    "NotARepositoryError",
    "MuseCLIError",
    "MuseIOError",
    "RejectedError",
    "RemoteError",
]
