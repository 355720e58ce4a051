"""Snapshot records and the snapshot store (SPEC §3).

A snapshot is the full manifest ``{path: blob_id}`` of a tree, stored at
``.muse/snapshots/<hex>.msgpack``; its ID is ``hash_snapshot(manifest)``.
"""

from __future__ import annotations

import os

from muse import _native as _n

#: One snapshot: ``SnapshotRecord(snapshot_id=..., manifest={path: blob_id},
#: created_at=None)``. A ``snapshot_id`` of ``None`` is computed.
SnapshotRecord = _n.SnapshotRecord


def write_snapshot(repo: str | os.PathLike[str], record: SnapshotRecord) -> bool:
    """Store a snapshot; ``True`` if written, ``False`` if already stored.

    Raises ``InvalidIdError`` (bad snapshot or blob ID), ``InvalidPathError``
    (a manifest path that is absolute, has ``..``/empty segments, NUL, or is
    in ``.muse/``), ``HashMismatchError`` (the manifest does not hash to
    ``snapshot_id``), ``MuseIOError``. Nothing is written on error.
    """
    return _n.write_snapshot(repo, record, None)


def read_snapshot(repo: str | os.PathLike[str], snapshot_id: str) -> SnapshotRecord | None:
    """Return the snapshot with its full manifest, or ``None`` when absent.

    Raises ``InvalidIdError``; ``CorruptRecordError`` when the file is
    undecodable or its manifest does not hash to ``snapshot_id``.
    """
    return _n.read_snapshot(repo, snapshot_id)


__all__ = ["SnapshotRecord", "write_snapshot", "read_snapshot"]
