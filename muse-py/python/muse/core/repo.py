"""Repository discovery, creation, and the startup GC (SPEC §1, §4)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from muse import _native as _n
from muse.core.errors import NotARepositoryError

#: Temp-name prefixes swept from ``.muse/`` and its record directories with no
#: age gate (a live writer is protected by the ``flock`` it holds on its temp).
_MUSE_TEMP_PREFIXES: tuple[str, ...] = tuple(_n.MUSE_TEMP_PREFIXES)

#: Directories, relative to ``.muse/`` (``""`` is ``.muse/`` itself), in which
#: ``.muse-tmp-*`` temps are created and swept.
_MUSE_SWEEP_DIRS: tuple[str, ...] = tuple(_n.MUSE_SWEEP_DIRS)

#: Environment variable naming the repository root (overrides discovery).
REPO_ROOT_ENV: str = _n.REPO_ROOT_ENV

#: Exit status of a command run outside a repository (SPEC §10).
EXIT_NOT_A_REPOSITORY = 2


def find_repo(start: str | os.PathLike[str] | None = None) -> Path:
    """Return the repository root for ``start``.

    With ``start``, walks up from it to the first directory holding
    ``.muse/``. Without, uses ``$MUSE_REPO_ROOT`` when set, else walks up from
    the current directory. Raises :class:`NotARepositoryError`.
    """
    return _n.find_repo(start)


def require_repo(start: str | os.PathLike[str] | None = None) -> Path:
    """Find the repository (as :func:`find_repo`) and run the startup GC on it.

    This is what every CLI command calls first. Outside a repository it
    prints ``muse: not a muse repository …`` to stderr and raises
    :class:`SystemExit` with status 2 (no GC is run then).
    """
    try:
        return _n.require_repo(start)
    except NotARepositoryError as e:
        print(f"muse: {e}", file=sys.stderr)
        raise SystemExit(EXIT_NOT_A_REPOSITORY) from e


def init_repo(root: str | os.PathLike[str], default_branch: str = "main", owner: str = "") -> Path:
    """Create a repository at ``root`` (created if missing): ``repo.json``,
    ``HEAD`` on ``default_branch``, ``config.toml`` and the record directories.

    Raises ``InvalidInputError`` when ``root`` is already inside a repository,
    ``InvalidRefNameError``, ``MuseIOError``.
    """
    return _n.init_repo(root, default_branch, owner)


def _cleanup_muse_dir_temps(dot_muse: str | os.PathLike[str]) -> int:
    """Remove ``.muse-tmp-*`` temps from ``.muse/`` and each of
    :data:`_MUSE_SWEEP_DIRS`, and ``.stat_cache_*.tmp`` from ``.muse/cache/``,
    without an age gate, keeping temps a live writer holds. Lists every sweep
    directory. Returns the number removed (0 when ``dot_muse`` is absent)."""
    return _n.cleanup_muse_dir_temps(dot_muse)


def _startup_gc(root: str | os.PathLike[str]) -> dict[str, int]:
    """The startup GC of the repository at ``root``: removes orphaned temps of
    every family left by killed processes (``.muse-tmp-*``,
    ``.stat_cache_*.tmp``, ``.obj-tmp-*`` / ``.restore-tmp-*`` older than 60 s,
    abandoned write batches), never one a live writer holds.

    It lists only directories changed since its last clean pass, so on an
    unchanged store it costs one ``stat`` per shard directory, whatever the
    number of objects. Returns ``{"removed", "kept_live", "dirs_listed"}``.
    """
    return _n.startup_gc(root)


def read_config(root: str | os.PathLike[str]) -> dict[str, object]:
    """The effective ``config.toml`` settings: ``{"fsync": "full" | "off",
    "max_ancestors": int}``. Raises ``MuseCLIError`` for a bad file."""
    return _n.read_config(root)


__all__ = ["find_repo", "require_repo", "init_repo", "read_config", "REPO_ROOT_ENV"]
