"""The stat cache (SPEC §5): ``.muse/cache/stat_cache.json``, JSON version 3.

An entry records the ``(ino, size, mtime)`` a file had when it was hashed and
its blob ID; the walker reuses the ID without reading the file while all
three still match. An entry whose mtime is not older than the moment the
cache was written is "racily clean" and is re-hashed (git's racy-git rule),
so a file edited twice within one timestamp tick, keeping its size, is still
caught. A cache file larger than :data:`MAX_CACHE_BYTES`, of another version,
or corrupt, is discarded (never trusted); the size case logs a CRITICAL
record on the ``muse.core.stat_cache`` logger.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TypedDict, cast

from muse import _native as _n

_log = logging.getLogger(__name__)

#: Largest stat-cache file loaded, in bytes (256 MiB); a larger one is
#: discarded unread. Read at call time, so it can be patched.
MAX_CACHE_BYTES: int = _n.MAX_CACHE_BYTES

#: The on-disk format version (the ``"version"`` field).
_CACHE_VERSION: int = _n.CACHE_VERSION


class FileCacheEntry(TypedDict):
    """One entry of ``StatCache._entries`` (and of the JSON file)."""

    ino: int
    size: int
    mtime: float
    mtime_ns: int
    object_hash: str


class StatCache:
    """The stat cache of one working tree.

    Load it with :meth:`load` (or :func:`load_cache`); it never fails to load:
    an absent, corrupt, wrong-version or oversized file gives an empty cache.
    Instances are independent snapshots of the file; :meth:`save` writes
    atomically through a unique ``.stat_cache_*.tmp`` temp.
    """

    def __init__(self, root: str | os.PathLike[str], _backend: _n._StatCache) -> None:
        self._root = Path(root)
        self._c = _backend

    @classmethod
    def load(cls, dot_muse: str | os.PathLike[str]) -> "StatCache":
        """Load the cache of the working tree whose ``.muse`` directory is
        ``dot_muse``, honouring :data:`MAX_CACHE_BYTES` as it is now."""
        root = Path(dot_muse).parent
        backend, status, detail = _n._StatCache.load(root, int(MAX_CACHE_BYTES))
        if status == "too_large":
            # pyo3-log maps Rust levels up to ERROR only; the size guard is
            # CRITICAL (a cache that large means something is badly wrong).
            _log.critical("stat cache %s discarded: %s", root / ".muse" / "cache" / "stat_cache.json", detail)
        elif status in ("wrong_version", "corrupt"):
            _log.warning("stat cache of %s discarded (%s: %s)", root, status, detail)
        return cls(root, backend)

    @property
    def _entries(self) -> dict[str, FileCacheEntry]:
        """``{posix relative path: FileCacheEntry}`` (a copy)."""
        return cast("dict[str, FileCacheEntry]", self._c.entries())

    @property
    def _dirty(self) -> bool:
        """True when the cache changed since it was loaded or saved."""
        return bool(self._c.is_dirty())

    @_dirty.setter
    def _dirty(self, value: bool) -> None:
        self._c.set_dirty(bool(value))

    def __len__(self) -> int:
        return int(self._c.len())

    def get_object_hash(self, root: str | os.PathLike[str], path: str | os.PathLike[str]) -> str:
        """The blob ID of the regular file ``path`` (keyed by its path relative
        to ``root``): from the cache on a hit, else by hashing the file and
        recording the entry. Raises ``InvalidPathError`` (outside ``root``,
        not a regular file) or ``MuseIOError``."""
        return self._c.get_object_hash(root, path)

    def get_cached(self, rel: str, abs_path: str | os.PathLike[str], mtime: float, size: int, ino: int) -> str:
        """Like :meth:`get_object_hash` with a caller-supplied stat
        (``mtime`` in float seconds as ``os.stat().st_mtime``; compared to
        within 1 µs, the precision a float carries)."""
        return self._c.get_cached(rel, abs_path, round(mtime * 1e9), size, ino)

    def save(self) -> None:
        """Write the cache atomically (creates ``.muse/cache/`` if needed)."""
        self._c.save()


def load_cache(root: str | os.PathLike[str]) -> StatCache:
    """Load the stat cache of the working tree at ``root``."""
    return StatCache.load(Path(root) / ".muse")


__all__ = ["MAX_CACHE_BYTES", "FileCacheEntry", "StatCache", "load_cache"]
