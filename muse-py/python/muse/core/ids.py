"""Content IDs (SPEC §2).

Every ID is ``"sha256:" + 64 lowercase hex`` (71 characters).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from muse import _native as _n


def hash_commit(
    *,
    parent_ids: Iterable[str],
    snapshot_id: str,
    message: str,
    committed_at_iso: str,
    author: str = "",
) -> str:
    """Return the commit ID: sha256 of
    ``NUL.join([NUL.join(sorted(parent_ids)), snapshot_id, message, committed_at_iso, author])``.

    ``committed_at_iso`` must be exactly ``committed_at.isoformat()`` of the
    record's datetime. Pure: touches no file.
    """
    return _n.hash_commit(list(parent_ids), snapshot_id, message, committed_at_iso, author)


def hash_snapshot(manifest: Mapping[str, str]) -> str:
    """Return the snapshot ID of a ``{path: blob_id}`` manifest: sha256 of
    ``NUL.join(sorted(path + NUL + blob_id))``. Independent of insertion order.

    Raises :class:`TypeError` if a key or value is not a ``str``.
    """
    if not isinstance(manifest, dict):
        manifest = dict(manifest)
    return _n.hash_snapshot(manifest)


def validate_id(id: str) -> None:
    """Raise :class:`~muse.core.errors.InvalidIdError` unless ``id`` is
    ``"sha256:"`` + 64 lowercase hex digits."""
    _n.validate_id(id)


def is_valid_id(id: str) -> bool:
    """True when ``id`` passes :func:`validate_id`."""
    try:
        _n.validate_id(id)
    except ValueError:
        return False
    return True


__all__ = ["hash_commit", "hash_snapshot", "validate_id", "is_valid_id"]
