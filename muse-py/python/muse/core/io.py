"""Crash-safe writes (SPEC §4): atomic text files and write batches."""

from __future__ import annotations

import os
from types import TracebackType

from muse import _native as _n


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically: a locked ``.muse-tmp-*``
    temp in the same directory, fsynced, renamed over ``path``, directory
    fsynced. Readers see the old or the new content, never a mix; a killed
    writer leaves only a temp, which the startup GC removes.
    Raises ``MuseIOError``."""
    _n.write_text_atomic(path, text, None)


class Batch:
    """Many objects and records made durable with one flush barrier.

    Use as a context manager::

        with Batch(repo) as b:
            for oid, data in blobs:
                b.write_object(oid, data)
            b.write_snapshot(snap)
            b.write_commit(rec)
            b.write_branch_ref("main", rec.commit_id)

    Writes are staged in ``.muse/tmp/batch-*`` without per-file fsync. A
    batch of more than ``[pack] unpack_limit`` items (default 100) writes
    them into one pack file, ``.muse/packs/pack-<h>.pack``; a smaller one
    writes one loose file per item (the SPEC §1 layout). Every reader
    (``read_object``, ``read_commit``, ``get_all_commits``, …) finds both.
    On a clean exit (or :meth:`commit`): the staged bytes are made durable
    (``fsync`` of the pack, or one ``syncfs`` barrier for loose files), they
    are renamed into place, the renames are made durable, and only then are
    the queued ref updates applied, so a ref never points at anything that is
    not on disk. On an exception (or :meth:`abort`) nothing becomes visible.
    A killed process's batch is removed by the next startup GC. Under
    ``[core] fsync = "off"`` nothing is synced.

    Each ``write_*`` returns ``True`` when the item is new, ``False`` when it
    is already stored or already in the batch; they validate and hash-verify
    immediately (``InvalidIdError``, ``HashMismatchError``, …). Staged loose
    files are written by two background threads (at most 32 MiB
    waits in memory), so an I/O error while staging (disk full, …) is raised
    as ``MuseIOError`` by a later ``write_*`` or by :meth:`commit`; the batch
    is then failed and can only be dropped, nothing of it visible.
    """

    def __init__(self, repo: str | os.PathLike[str]) -> None:
        self._b = _n.Batch(repo)
        self.stats: dict[str, int] | None = None

    def write_object(self, oid: str, content: bytes) -> bool:
        """Stage a blob (hash-verified now)."""
        return self._b.write_object(oid, content)

    def write_commit(self, rec: _n.CommitRecord) -> bool:
        """Stage a :class:`~muse.core.commits.CommitRecord` (verified now)."""
        return self._b.write_commit(rec)

    def write_snapshot(self, rec: _n.SnapshotRecord) -> bool:
        """Stage a :class:`~muse.core.snapshots.SnapshotRecord` (verified now)."""
        return self._b.write_snapshot(rec)

    def write_branch_ref(self, branch: str, commit_id: str) -> None:
        """Queue ``branch := commit_id``, applied after the barrier."""
        self._b.write_branch_ref(branch, commit_id)

    def compare_and_swap_branch_ref(self, branch: str, expected: str | None, new: str) -> None:
        """Queue a compare-and-swap, applied after the barrier; :meth:`commit`
        raises ``RefConflictError`` if the ref moved."""
        self._b.compare_and_swap_branch_ref(branch, expected, new)

    def commit(self) -> dict[str, int]:
        """Make everything durable and visible, then apply ref updates.
        Returns ``{"objects_written", "objects_skipped", "commits_written",
        "snapshots_written", "refs_updated"}``."""
        self.stats = self._b.commit()
        return self.stats

    def abort(self) -> None:
        """Discard everything staged."""
        self._b.abort()

    def __len__(self) -> int:
        return len(self._b)

    def __enter__(self) -> "Batch":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            if not self._b.closed:
                self.commit()
        else:
            self.abort()


def batch(repo: str | os.PathLike[str]) -> Batch:
    """Start a :class:`Batch` on ``repo`` (use with ``with``)."""
    return Batch(repo)


__all__ = ["write_text_atomic", "Batch", "batch"]
