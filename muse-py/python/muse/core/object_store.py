"""The blob store (SPEC §1, §4).

A blob ``sha256:<h>`` lives at ``.muse/objects/sha256/<h[:2]>/<h[2:]>``.
Writes are hash-verified before anything touches the disk, atomic (on Linux
an unnamed ``O_TMPFILE`` inode in the shard directory linked into place with
``linkat``, which refuses an existing name; elsewhere a locked ``.obj-tmp-*``
temp renamed into place), idempotent, and durable on return under the
default ``[core] fsync = "full"`` policy.
Reads verify the hash.
"""

from __future__ import annotations

import os
from pathlib import Path

from muse import _native as _n
from muse.core.paths import objects_dir

#: Live view of the process-wide cache of shard directories known to exist
#: (``str`` paths equal to ``str(object_path(repo, oid).parent)``). Supports
#: ``in``, ``len``, iteration, ``add``, ``discard`` and ``clear``; discarding
#: a shard makes the next write into it create the directory again if needed.
_created_object_shards = _n.created_object_shards

#: Object temps younger than this many seconds are never removed by
#: :func:`cleanup_stale_object_temps`, even when no writer holds their lock.
_CLEANUP_MIN_AGE_SECS: int = _n.CLEANUP_MIN_AGE_SECS


def _fsync_fd(fd: int) -> None:
    """The object store's fsync primitive (``os.fsync``).

    Per-call durability is done in Rust; replacing this function (e.g.
    ``unittest.mock.patch("muse.core.object_store._fsync_fd")``) is honoured
    by :func:`write_object`: while it is not the original, writes made
    through this module skip fsync, as they would if the primitive were a
    no-op.
    """
    os.fsync(fd)


_REAL_FSYNC_FD = _fsync_fd


def _durable() -> bool | None:
    return None if _fsync_fd is _REAL_FSYNC_FD else False


def write_object(repo: str | os.PathLike[str], oid: str, content: bytes) -> bool:
    """Store ``content`` under ``oid`` (which must be ``blob_id(content)``).

    Returns ``True`` when the object was written, ``False`` when it was
    already stored (never overwritten). Creates missing directories.

    Raises ``InvalidIdError`` (malformed ``oid``), ``HashMismatchError``
    (content does not hash to ``oid``; nothing written), ``MuseIOError``.
    """
    return _n.write_object(repo, oid, content, _durable())


def read_object(repo: str | os.PathLike[str], oid: str) -> bytes:
    """Return the bytes of object ``oid``, verified against its hash.

    Raises ``InvalidIdError``, ``NotFoundError`` (absent),
    ``CorruptRecordError`` (stored bytes do not hash to ``oid``), ``MuseIOError``.
    """
    return _n.read_object(repo, oid)


def has_object(repo: str | os.PathLike[str], oid: str) -> bool:
    """True when object ``oid`` is stored, as a loose file or in a pack (temps
    do not count).
    Raises ``InvalidIdError``."""
    return _n.has_object(repo, oid)


def object_path(repo: str | os.PathLike[str], oid: str) -> Path:
    """Path of object ``oid`` as a loose file (computable before it exists);
    its ``parent`` is the shard directory ``objects/sha256/<xx>``. An object
    written by a large ``Batch`` lives in a pack (``.muse/packs/``) instead
    and has no file here: use :func:`has_object` / :func:`read_object`, which
    look in both. Raises ``InvalidIdError``."""
    return _n.object_path(repo, oid)


def restore_object(
    repo: str | os.PathLike[str],
    oid: str,
    dest: str | os.PathLike[str],
    executable: bool = False,
) -> int:
    """Write object ``oid`` to the working-tree file ``dest`` atomically.

    The bytes are streamed into a ``.restore-tmp-*`` temp in ``dest``'s
    directory, hash-verified on the way, then renamed over ``dest`` (mode
    0666 minus umask, or 0777 minus umask when ``executable``). Parent
    directories are created. Returns the number of bytes written.

    Raises ``NotFoundError``, ``CorruptRecordError`` (``dest`` untouched),
    ``MuseIOError``.
    """
    return _n.restore_object(repo, oid, dest, executable, _durable())


def cleanup_stale_object_temps(repo: str | os.PathLike[str], min_age_secs: float | None = None) -> int:
    """Remove stale ``.obj-tmp-*`` / ``.restore-tmp-*`` temps from every shard
    directory: those no live writer holds whose mtime is at least
    ``min_age_secs`` old (default :data:`_CLEANUP_MIN_AGE_SECS`). Never removes
    a stored object. Returns the number removed."""
    return _n.cleanup_stale_object_temps(repo, min_age_secs)


__all__ = [
    "write_object", "read_object", "has_object", "object_path", "objects_dir",
    "restore_object", "cleanup_stale_object_temps",
]
