"""The working-tree walk seen from Python: what reaches the `logging` side."""

from __future__ import annotations

import logging
import pathlib

import pytest

from muse.core import stat_cache
from muse.core.paths import stat_cache_path
from muse.core.snapshot import build_snapshot_manifest
from muse.core.types import blob_id


def test_an_oversized_cache_met_by_a_walk_is_logged_on_the_stat_cache_logger(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "wt"
    (root / ".muse" / "cache").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    assert build_snapshot_manifest(root) == {"a.txt": blob_id(b"a")}  # writes the cache
    size = stat_cache_path(root).stat().st_size
    monkeypatch.setattr(stat_cache, "MAX_CACHE_BYTES", size - 1)
    caplog.set_level(logging.ERROR, logger="muse.core.stat_cache")
    assert build_snapshot_manifest(root) == {"a.txt": blob_id(b"a")}
    hits = [r for r in caplog.records if r.name == "muse.core.stat_cache" and r.levelno >= logging.ERROR]
    assert hits and "over the limit" in hits[0].getMessage(), [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
