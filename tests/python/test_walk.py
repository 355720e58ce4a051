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


@pytest.mark.parametrize("threads", ["1", "2", "8"])
def test_status_is_the_same_whatever_the_number_of_listing_threads(tmp_path: pathlib.Path, threads: str) -> None:
    """`MUSE_WALK_THREADS` (1: the calling thread lists everything; more:
    threads start as directories wait) changes how the tree is listed, never
    what status says: nested directories, a directory big enough to be
    stat'ed in chunks, a `.museignore`, edits, a deletion and new files."""
    import subprocess

    from helpers import FAST_CONFIG, muse_env, require_muse, write_files

    muse = require_muse()
    root = tmp_path / "wt"
    root.mkdir()
    files = {f"big/f{i:04d}.txt": f"{i}\n" for i in range(2100)}
    files.update({f"d{a}/e{b}/f{c}.txt": f"{a}{b}{c}\n" for a in range(6) for b in range(4) for c in range(3)})
    files.update({".museignore": "*.log\n", "top.txt": "top\n"})
    write_files(root, files)
    env = muse_env({"MUSE_WALK_THREADS": threads})

    def run(*args: str) -> str:
        r = subprocess.run([muse, *args], cwd=root, env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return r.stdout

    run("init")
    (root / ".muse" / "config.toml").write_text(FAST_CONFIG)
    run("add", "-A")
    run("commit", "-m", "base")
    assert run("status", "--porcelain") == ""
    write_files(root, {"big/f0001.txt": "edited 1\n", "big/f2099.txt": "edited 2099\n",
                       "d5/e3/f2.txt": "edited\n", "d0/new.txt": "n\n", "big/x.log": "ignored\n",
                       "newdir/a/b.txt": "b\n"})
    (root / "big" / "f1000.txt").unlink()
    expect = sorted([" M big/f0001.txt", " M big/f2099.txt", " M d5/e3/f2.txt", " D big/f1000.txt",
                     "?? d0/new.txt", "?? newdir/a/b.txt"])
    for _ in range(2):  # the first status re-reads the changed files, the second trusts its cache
        assert sorted(run("status", "--porcelain").splitlines()) == expect
