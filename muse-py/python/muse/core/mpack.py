"""MPack bundles: history moved between repositories (SPEC §7).

A bundle is a dict of msgpack-native values (so ``msgpack.packb(bundle,
use_bin_type=True)`` works) with ``version``, ``commits`` (commit record
dicts, parents before children), ``snapshots`` (``{"snapshot_id",
"parent_snapshot_id", "delta_upsert": {path: blob_id}, "delta_remove":
[path]}``; the first of a chain has ``parent_snapshot_id=None`` and its full
manifest as ``delta_upsert``), ``blobs`` (``{"blob_id", "content": bytes}``)
and ``branch_heads`` (``{branch: commit_id}``).

:func:`apply_mpack` treats a bundle as hostile: every blob is hash-verified,
every manifest rebuilt from its deltas must hash to its ``snapshot_id``,
every commit must hash to its ``commit_id``, every path and ID is
validated, sizes are bounded before anything is allocated; on any failure
nothing is written and the error names the first bad entry.
"""

from __future__ import annotations

import os
from typing import Any, TypedDict, cast

from muse import _native as _n

#: Wire-format version written into bundles.
MPACK_FORMAT_VERSION: int = _n.MPACK_FORMAT_VERSION

#: A bundle: a dict of msgpack-native values (see the module docstring).
MPack = dict[str, Any]


class ApplyResult(TypedDict):
    """What :func:`apply_mpack` stored."""

    commits_written: int
    snapshots_written: int
    blobs_written: int
    blobs_skipped: int
    branch_heads: dict[str, str]


def build_mpack(repo: str | os.PathLike[str], want: list[str], have: list[str] | None = None) -> MPack:
    """Bundle the commits reachable from ``want`` and not from ``have``, their
    snapshots as deltas against the parent commit's snapshot, the blobs those
    snapshots introduce that the receiver (who has ``have``) lacks, and the
    branches pointing at ``want``. Memory is proportional to the bundle.

    Raises ``InvalidIdError``, ``NotFoundError`` (a wanted commit, or data a
    bundle needs, is missing), ``CorruptRecordError``.
    """
    return _n.build_mpack(repo, list(want), list(have or []))


def encode_mpack(bundle: MPack) -> bytes:
    """The wire bytes of a bundle (a msgpack map)."""
    return _n.encode_mpack(bundle)


def decode_mpack(data: bytes) -> MPack:
    """Decode wire bytes, bounding every length before allocating.
    Raises ``CorruptRecordError`` / ``RecordTooLargeError`` / ``InvalidInputError``."""
    return _n.decode_mpack(data)


def apply_mpack(repo: str | os.PathLike[str], mpack: MPack | bytes) -> ApplyResult:
    """Verify a bundle (dict or wire bytes) completely, then store it with one
    write batch. Moves no ref: ``branch_heads`` (verified) is returned for
    the caller to apply. Applying the same bundle twice writes nothing.

    Raises an :class:`~muse.core.errors.IntegrityError` or
    :class:`~muse.core.errors.InvalidInputError` subclass naming the first bad
    entry; nothing is written then.
    """
    return cast(ApplyResult, _n.apply_mpack(repo, mpack))


__all__ = ["MPack", "MPACK_FORMAT_VERSION", "ApplyResult", "build_mpack", "encode_mpack", "decode_mpack", "apply_mpack"]
