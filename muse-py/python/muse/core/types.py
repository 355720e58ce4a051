"""Basic ID helpers (SPEC §2): blob IDs, test IDs, splitting IDs."""

from __future__ import annotations

from muse import _native as _n


def blob_id(data: bytes) -> str:
    """Return the blob ID of ``data``: ``"sha256:" + sha256(data).hexdigest()``."""
    return _n.blob_id(data)


def fake_id(label: str) -> str:
    """Return a deterministic ID for a label (sha256 of its UTF-8 bytes); a
    helper for tests and fixtures."""
    return _n.fake_id(label)


def split_id(id: str) -> tuple[str, str]:
    """Split a valid ID into ``("sha256", hex)``.

    Raises :class:`~muse.core.errors.InvalidIdError` for anything but
    ``"sha256:"`` + 64 lowercase hex digits.
    """
    return _n.split_id(id)


__all__ = ["blob_id", "fake_id", "split_id"]
