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
- :class:`MuseCLIError`: errors the CLI layer reports to the user, among them
  the ``[limits]`` caps of ``config.toml`` (e.g. ``max_ancestors``).
- :class:`NotARepositoryError`: no ``.muse/`` directory was found.
"""

from __future__ import annotations


class MuseError(Exception):
    """Base class of every error raised by muse."""


class InvalidInputError(MuseError, ValueError):
    """A caller-supplied value is malformed; nothing was written."""


class InvalidIdError(InvalidInputError):
    """An ID is not ``"sha256:"`` followed by 64 lowercase hex digits."""


class InvalidPathError(InvalidInputError):
    """A repository-relative path is absolute, has ``..``/empty segments, NUL, or is inside ``.muse/``."""


class InvalidRefNameError(InvalidInputError):
    """A branch name breaks git's ``check-ref-format`` rules."""


class IntegrityError(MuseError, ValueError):
    """Stored or received data does not verify (hash, format or size)."""


class HashMismatchError(IntegrityError):
    """Content does not hash to the ID it was given under; nothing was written."""


class CorruptRecordError(IntegrityError):
    """A stored file exists but is truncated, undecodable, or does not hash to its name."""


class RecordTooLargeError(IntegrityError):
    """A record file is larger than ``MAX_MSGPACK_BYTES``; it was not read."""


class MissingDataError(IntegrityError):
    """A ref or record points at a commit, snapshot or object that the store
    does not hold: the repository has lost data (the CLI's exit 3)."""


class RefConflictError(MuseError):
    """A compare-and-swap ref update found the ref moved since the caller read it."""


class LockedError(MuseError):
    """A repository lock (``.muse/index.lock`` or ``.muse/gc.lock``) stayed
    held by another process for the whole bounded wait (``[core]
    lock_timeout`` seconds); the message names the holder's PID."""


class NotFoundError(MuseError, LookupError):
    """A required object, commit, snapshot or branch does not exist."""


class NotARepositoryError(MuseError):
    """No ``.muse/`` directory at or above the start directory."""


class MuseCLIError(MuseError):
    """An error reported to the user by the CLI layer: caps such as
    ``[limits] max_ancestors``, and bad ``config.toml`` values."""


class MuseIOError(MuseError, OSError):
    """An operating-system I/O error, with ``errno``, ``strerror`` and ``filename``."""


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
]
