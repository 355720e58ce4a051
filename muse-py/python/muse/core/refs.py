"""Branch refs and HEAD (SPEC §1).

``refs/heads/<branch>`` holds ``"<commit_id>\\n"``; ``HEAD`` holds
``"ref: refs/heads/<branch>\\n"`` or a detached ``"<commit_id>\\n"``. Every
update takes the ref's lock (``<branch>.lock``, an ``flock``) and writes
through a temp and ``rename``: plain writes are last-write-wins and never
torn; :func:`compare_and_swap_branch_ref` loses no update.
"""

from __future__ import annotations

import os

from muse import _native as _n


def validate_branch_name(name: str) -> None:
    """Raise ``InvalidRefNameError`` unless ``name`` passes git's
    ``check-ref-format`` rules (no ``..``, no leading ``-`` or ``/``, no
    control characters or spaces, no ``.lock`` component suffix, …)."""
    _n.validate_branch_name(name)


def write_branch_ref(repo: str | os.PathLike[str], branch: str, commit_id: str) -> None:
    """Point ``branch`` at ``commit_id`` (last write wins; the commit need not
    be stored). Raises ``InvalidRefNameError``, ``InvalidIdError``, ``MuseIOError``."""
    _n.write_branch_ref(repo, branch, commit_id)


def read_branch_ref(repo: str | os.PathLike[str], branch: str) -> str | None:
    """The commit ID ``branch`` points at, or ``None`` if the branch does not
    exist. Raises ``CorruptRecordError`` for a ref file without a valid ID."""
    return _n.read_branch_ref(repo, branch)


def compare_and_swap_branch_ref(
    repo: str | os.PathLike[str], branch: str, expected: str | None, new: str
) -> None:
    """Move ``branch`` from ``expected`` to ``new`` atomically.

    ``expected=None`` means the branch must not exist yet. Raises
    ``RefConflictError`` (nothing written) when the ref holds something else:
    re-read and retry to build a lossless read-modify-write loop.
    """
    _n.compare_and_swap_branch_ref(repo, branch, expected, new)


def delete_branch_ref(repo: str | os.PathLike[str], branch: str, expected: str | None = None) -> bool:
    """Delete ``branch`` (only if it points at ``expected``, when given).
    Returns whether a ref was deleted. Raises ``RefConflictError``."""
    return _n.delete_branch_ref(repo, branch, expected)


def list_branches(repo: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """All branches as ``(name, commit_id)``, sorted by name."""
    return _n.list_branches(repo)


def read_head(repo: str | os.PathLike[str]) -> tuple[str, str]:
    """HEAD as ``("branch", name)`` or ``("detached", commit_id)``. A missing
    HEAD reads as ``("branch", "main")``."""
    return _n.read_head(repo)


def write_head_branch(repo: str | os.PathLike[str], branch: str) -> None:
    """Point HEAD at ``branch`` (which need not exist yet)."""
    _n.write_head_branch(repo, branch)


def write_head_commit(repo: str | os.PathLike[str], commit_id: str) -> None:
    """Move HEAD to ``commit_id``: update the branch HEAD points at, or HEAD
    itself when detached (git's ``update-ref HEAD``). Last write wins."""
    _n.write_head_commit(repo, commit_id)


def write_head_detached(repo: str | os.PathLike[str], commit_id: str) -> None:
    """Detach HEAD at ``commit_id``."""
    _n.write_head_detached(repo, commit_id)


def resolve_head(repo: str | os.PathLike[str]) -> str | None:
    """The commit HEAD resolves to, or ``None`` for an unborn branch."""
    return _n.resolve_head(repo)


__all__ = [
    "validate_branch_name", "write_branch_ref", "read_branch_ref", "compare_and_swap_branch_ref",
    "delete_branch_ref", "list_branches", "read_head", "write_head_branch", "write_head_commit",
    "write_head_detached", "resolve_head",
]
