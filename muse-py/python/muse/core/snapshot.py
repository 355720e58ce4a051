"""The working-tree snapshot (SPEC §5): walk a tree into a manifest
``{path: blob_id}``, with the stat cache skipping unchanged files.

Also re-exports :func:`compute_commit_id` / :func:`compute_snapshot_id`
(the names some callers use for :func:`muse.core.ids.hash_commit` and
:func:`muse.core.ids.hash_snapshot`).
"""

from __future__ import annotations

import os

from muse import _native as _n
from muse.core import stat_cache as _stat_cache
from muse.core.ids import hash_commit as compute_commit_id
from muse.core.ids import hash_snapshot as compute_snapshot_id


def walk_workdir(root: str | os.PathLike[str]) -> dict[str, str]:
    """Walk the working tree at ``root`` and return its manifest
    ``{posix relative path: blob_id}``, using and then persisting the stat
    cache (``.muse/cache/stat_cache.json``): unchanged files are not read,
    entries of vanished files are pruned, the cache is rewritten only when
    something changed.

    Included: regular files only (symlinks, FIFOs, sockets and devices are
    skipped), ``.muse/`` excluded, ``.museignore`` files honoured (gitignore
    syntax). File contents are streamed, never loaded whole; cold walks hash
    on all cores. The process keeps the cache in memory after a walk and
    reuses it on the next walk of the same tree while the cache file is
    unchanged (same inode, size, mtime and ctime). Raises ``MuseIOError``
    naming an unreadable file or directory.
    """
    return _n.walk_workdir(root, _stat_cache.MAX_CACHE_BYTES)


def build_snapshot_manifest(root: str | os.PathLike[str]) -> dict[str, str]:
    """The manifest ``{posix relative path: blob_id}`` of the working tree at
    ``root``; see :func:`walk_workdir` (same walk, same cache)."""
    return _n.walk_workdir(root, _stat_cache.MAX_CACHE_BYTES)


__all__ = ["walk_workdir", "build_snapshot_manifest", "compute_commit_id", "compute_snapshot_id"]
