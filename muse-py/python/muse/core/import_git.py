"""Import a git repository's history into muse (``muse import-git``).

History is read from git's own ``git fast-export`` stream; every commit
reachable from branches and tags becomes a muse commit (author, message and
author time kept; ``metadata["git_oid"]`` holds the git commit ID), blobs are
stored once, snapshots are stored as deltas on the first parent's snapshot,
branches become ``refs/heads``, tags ``.muse/tags/<name>``. Symlinks and
submodules are skipped and counted; octopus merges keep their first two
parents and list the rest in ``metadata["extra_parents"]``. Re-running
imports only new commits (the git → muse map is ``.muse/git-map``). The
working tree is not touched: ``muse checkout --force <branch>`` fills it.
"""

from __future__ import annotations

import os

from muse import _native as _n


def import_git(repo: str | os.PathLike[str], git_dir: str | os.PathLike[str], chunk_commits: int = 5000) -> dict[str, float]:
    """Import ``git_dir``'s history into the muse repository ``repo``, writing
    through one batch per ``chunk_commits`` commits. Returns ``{"commits",
    "blobs_written", "bytes", "symlinks_skipped", "submodules_skipped",
    "paths_skipped", "branches", "tags", "seconds"}``.
    Raises ``MuseIOError`` when git fails, ``InvalidInputError`` for a bad stream."""
    return _n.import_git(repo, git_dir, chunk_commits)


def verify_git_import(repo: str | os.PathLike[str], git_dir: str | os.PathLike[str]) -> list[str]:
    """Compare every imported commit's manifest with ``git ls-tree -r`` and the
    SHA-256 of each ``git cat-file`` blob; returns the problems (empty: all
    equal)."""
    return _n.verify_git_import(repo, git_dir)


__all__ = ["import_git", "verify_git_import"]
