"""Commit records, the commit store, and history walks (SPEC §3, §6).

A commit lives at ``.muse/commits/<hex>.msgpack`` (msgpack map, written once,
read-only). :func:`write_commit` refuses a record whose ``commit_id`` is not
``hash_commit`` of its fields; every read verifies the same.
"""

from __future__ import annotations

import os
from typing import TypedDict

from muse import _native as _n

#: One commit (SPEC §3); see the class docstring. Constructed with keywords
#: like a dataclass: ``CommitRecord(commit_id=..., branch=..., snapshot_id=...,
#: message=..., committed_at=datetime, parent_commit_id=None, ...)``.
CommitRecord = _n.CommitRecord

#: Largest commit or snapshot record file read, in bytes (64 MiB).
MAX_MSGPACK_BYTES: int = _n.MAX_MSGPACK_BYTES

#: Cap used by :func:`get_commits_for_branch` when ``max_count`` is 0.
DEFAULT_WALK_CAP: int = _n.DEFAULT_WALK_CAP

_REAL_OS_FSYNC = os.fsync


def _durable() -> bool | None:
    # ``unittest.mock.patch("muse.core.commits.os.fsync")`` turns fsync into a
    # no-op for the duration of the patch; honour it by skipping fsync.
    return None if os.fsync is _REAL_OS_FSYNC else False


def write_commit(repo: str | os.PathLike[str], rec: CommitRecord) -> bool:
    """Store a commit record; ``True`` if written, ``False`` if already stored.

    The snapshot and parents need not be stored. Durable on return under the
    default ``[core] fsync`` policy.

    Raises ``InvalidIdError`` (bad commit or parent ID), ``HashMismatchError``
    (``commit_id`` does not verify), ``InvalidInputError`` (bad
    ``sem_ver_bump``), ``RecordTooLargeError``, ``MuseIOError``. Nothing is
    written on error.
    """
    return _n.write_commit(repo, rec, _durable())


def read_commit(repo: str | os.PathLike[str], commit_id: str) -> CommitRecord | None:
    """Return the commit ``commit_id``, or ``None`` when it is not stored.

    Raises ``InvalidIdError``; ``CorruptRecordError`` for a truncated,
    undecodable or non-verifying file; ``RecordTooLargeError`` for a file over
    ``MAX_MSGPACK_BYTES`` (not read); ``MuseIOError``.
    """
    return _n.read_commit(repo, commit_id)


def get_all_commits(repo: str | os.PathLike[str]) -> list[CommitRecord]:
    """Every stored commit, verified, in commit-ID order (read in parallel).

    Files in ``commits/`` not named ``<64 hex>.msgpack`` are ignored. Raises
    the first ``CorruptRecordError`` / ``MuseIOError`` met.
    """
    return _n.get_all_commits(repo)


def list_commit_ids(repo: str | os.PathLike[str]) -> list[str]:
    """IDs of every stored commit, sorted, without reading the records."""
    return _n.list_commit_ids(repo)


def get_commits_for_branch(
    repo: str | os.PathLike[str], branch: str, max_count: int = 0
) -> list[CommitRecord]:
    """The commits of ``branch``, tip first, following first parents.

    At most ``max_count`` records (``0`` means :data:`DEFAULT_WALK_CAP`): the
    cap bounds memory whatever the history depth. An absent branch gives
    ``[]``. Raises ``InvalidRefNameError``, ``NotFoundError`` (a parent is not
    stored), ``CorruptRecordError``.
    """
    return _n.get_commits_for_branch(repo, branch, max_count)


class WalkResult(TypedDict):
    """Result of :func:`walk_commits_between_result`."""

    commits: list[CommitRecord]
    count: int
    truncated: bool


def walk_commits_between(
    repo: str | os.PathLike[str], tip: str, base: str | None = None, max_commits: int = 10_000
) -> list[CommitRecord]:
    """The commits reachable from ``tip`` and not behind ``base``, newest first
    (breadth-first over both parents), at most ``max_commits``."""
    commits, _ = _n.walk_commits_between(repo, tip, base, max_commits)
    return commits


def walk_commits_between_result(
    repo: str | os.PathLike[str], tip: str, base: str | None = None, max_commits: int = 10_000
) -> WalkResult:
    """Like :func:`walk_commits_between`, reporting truncation.

    Returns ``{"commits": [...], "count": len(commits), "truncated": bool}``;
    ``truncated`` is ``True`` when the walk stopped at ``max_commits`` with
    commits left. Memory is bounded by the cap. The walk stops descending at
    ``base`` itself (exactly ``git rev-list base..tip`` in linear histories).
    """
    commits, truncated = _n.walk_commits_between(repo, tip, base, max_commits)
    return {"commits": commits, "count": len(commits), "truncated": truncated}


__all__ = [
    "CommitRecord", "MAX_MSGPACK_BYTES", "DEFAULT_WALK_CAP", "write_commit", "read_commit",
    "get_all_commits", "list_commit_ids", "get_commits_for_branch", "walk_commits_between",
    "walk_commits_between_result", "WalkResult",
]
