"""Merge bases (SPEC §6)."""

from __future__ import annotations

import os

from muse import _native as _n

#: Default of ``[limits] max_ancestors``.
DEFAULT_MAX_ANCESTORS: int = _n.DEFAULT_MAX_ANCESTORS


def find_merge_base(repo: str | os.PathLike[str], commit_a: str, commit_b: str) -> str | None:
    """The merge base of two commits (git's ``merge-base``), or ``None`` when
    they share no ancestor.

    Reads at most ``[limits] max_ancestors`` commits (``config.toml``, default
    50 000), so memory is bounded by the cap. Raises
    :class:`~muse.core.errors.MuseCLIError` naming ``max_ancestors`` when the
    cap is reached, ``NotFoundError`` for a missing commit,
    ``CorruptRecordError``.
    """
    return _n.find_merge_base(repo, commit_a, commit_b)


__all__ = ["find_merge_base", "DEFAULT_MAX_ANCESTORS"]
