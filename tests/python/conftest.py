"""Fixtures shared by the project's Python tests."""

from __future__ import annotations

import pathlib

import pytest

from muse.core.repo import init_repo


@pytest.fixture
def repo(tmp_path: pathlib.Path) -> pathlib.Path:
    """A fresh repository made by ``init_repo``."""
    return init_repo(tmp_path / "repo")


@pytest.fixture
def fast_repo(tmp_path: pathlib.Path) -> pathlib.Path:
    """A repository with ``[core] fsync = "off"`` for tests doing many writes."""
    root = init_repo(tmp_path / "fast")
    (root / ".muse" / "config.toml").write_text('[core]\nfsync = "off"\n')
    return root


def tree_files(root: pathlib.Path) -> list[str]:
    """Every file below ``root``, as sorted relative POSIX paths."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
