"""The repository layout (SPEC §1). Pure functions: none touches the disk or
creates a directory. ``root`` is the directory that holds ``.muse/``."""

from __future__ import annotations

import os
from pathlib import Path

from muse import _native as _n



def muse_dir(root: str | os.PathLike[str]) -> Path:
    """``<root>/.muse``."""
    return _n.layout_path("muse_dir", root)


def repo_json_path(root: str | os.PathLike[str]) -> Path:
    """``<root>/.muse/repo.json``."""
    return _n.layout_path("repo_json", root)


def config_toml_path(root: str | os.PathLike[str]) -> Path:
    """``<root>/.muse/config.toml``."""
    return _n.layout_path("config_toml", root)


def head_path(root: str | os.PathLike[str]) -> Path:
    """``<root>/.muse/HEAD``."""
    return _n.layout_path("head", root)


def refs_dir(root: str | os.PathLike[str]) -> Path:
    """``<root>/.muse/refs``."""
    return _n.layout_path("refs", root)


def heads_dir(root: str | os.PathLike[str]) -> Path:
    """``<root>/.muse/refs/heads``: one file per branch."""
    return _n.layout_path("heads", root)


def commits_dir(root: str | os.PathLike[str]) -> Path:
    """``<root>/.muse/commits``: one ``<hex>.msgpack`` per commit."""
    return _n.layout_path("commits", root)


def snapshots_dir(root: str | os.PathLike[str]) -> Path:
    """``<root>/.muse/snapshots``: one ``<hex>.msgpack`` per snapshot."""
    return _n.layout_path("snapshots", root)


def objects_dir(root: str | os.PathLike[str]) -> Path:
    """``<root>/.muse/objects`` (blobs live in ``objects/sha256/<xx>/``)."""
    return _n.layout_path("objects", root)


def tags_dir(root: str | os.PathLike[str]) -> Path:
    """``<root>/.muse/tags`` (reserved record directory)."""
    return _n.layout_path("tags", root)


def releases_dir(root: str | os.PathLike[str]) -> Path:
    """``<root>/.muse/releases`` (reserved record directory)."""
    return _n.layout_path("releases", root)


def branches_dir(root: str | os.PathLike[str]) -> Path:
    """``<root>/.muse/branches`` (reserved record directory)."""
    return _n.layout_path("branches", root)


def cache_dir(root: str | os.PathLike[str]) -> Path:
    """``<root>/.muse/cache``."""
    return _n.layout_path("cache", root)


def stat_cache_path(root: str | os.PathLike[str]) -> Path:
    """``<root>/.muse/cache/stat_cache.json``: the stat cache (SPEC §5)."""
    return _n.layout_path("stat_cache", root)


def commit_path(root: str | os.PathLike[str], commit_id: str) -> Path:
    """``<root>/.muse/commits/<hex>.msgpack``; raises ``InvalidIdError``."""
    return _n.commit_path(root, commit_id)


def snapshot_path(root: str | os.PathLike[str], snapshot_id: str) -> Path:
    """``<root>/.muse/snapshots/<hex>.msgpack``; raises ``InvalidIdError``."""
    return _n.snapshot_path(root, snapshot_id)


def validate_rel_path(path: str) -> None:
    """Raise :class:`~muse.core.errors.InvalidPathError` unless ``path`` is a
    clean POSIX relative path (no leading ``/``, no empty/``.``/``..``
    segment, no NUL or ``\\``, not inside ``.muse/``)."""
    _n.validate_rel_path(path)


__all__ = [
    "muse_dir", "repo_json_path", "config_toml_path", "head_path", "refs_dir", "heads_dir",
    "commits_dir", "snapshots_dir", "objects_dir", "tags_dir", "releases_dir", "branches_dir",
    "cache_dir", "stat_cache_path", "commit_path", "snapshot_path", "validate_rel_path",
]
