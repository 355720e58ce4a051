"""Crash safety, the startup GC, batches, and the fsync policy."""

from __future__ import annotations

import multiprocessing
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from muse.core import errors
from muse.core.commits import read_commit
from muse.core.io import Batch, write_text_atomic
from muse.core.object_store import has_object, object_path, read_object, write_object
from muse.core.paths import muse_dir
from muse.core.refs import read_branch_ref
from muse.core.repo import _startup_gc, find_repo, read_config, require_repo
from muse.core.snapshots import SnapshotRecord
from muse.core.types import blob_id, fake_id

from test_records import _rec


def _writer(root: str, start: int) -> None:
    from muse.core.object_store import write_object as wo
    from muse.core.types import blob_id as bid

    i = start
    while True:
        data = (f"object-{i}-".encode()) * 20_000  # ~200 KiB: a write takes a while
        wo(root, bid(data), data)
        i += 1


def test_sigkilled_writer_leaves_no_readable_partial_object(fast_repo: pathlib.Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_writer, args=(str(fast_repo), 0))
    proc.start()
    shards = muse_dir(fast_repo) / "objects" / "sha256"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if shards.exists() and sum(1 for _ in shards.rglob("*")) > 40:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    stored = [p for p in shards.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert stored, "the writer never stored anything"
    for p in stored:
        oid = "sha256:" + p.parent.name + p.name
        data = read_object(fast_repo, oid)  # verifies the hash
        assert blob_id(data) == oid
    temps = [p for p in shards.rglob(".obj-tmp-*")]
    for t in temps:  # whatever was in flight is a temp, never an object
        os.utime(t, (0, 0))
    _startup_gc(fast_repo)
    assert not list(shards.rglob(".obj-tmp-*"))


def test_gc_spares_a_live_writers_temp(repo: pathlib.Path) -> None:
    # Simulate a live writer: lock a .muse-tmp- file from another process.
    tmp = muse_dir(repo) / ".muse-tmp-live"
    tmp.write_text("in flight")
    locker = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, sys, time; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX);"
         "print('locked', flush=True); time.sleep(60)", str(tmp)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert locker.stdout.readline().strip() == "locked"
        report = _startup_gc(repo)
        assert tmp.exists(), "GC removed a temp a live writer holds"
        assert report["kept_live"] >= 1
    finally:
        locker.kill()
        locker.wait()
    _startup_gc(repo)
    assert not tmp.exists(), "GC kept the temp of a dead writer"


def _backdate_dirs(repo: pathlib.Path) -> None:
    old = time.time() - 10
    for d in [muse_dir(repo), *muse_dir(repo).rglob("*")]:
        if d.is_dir():
            os.utime(d, (old, old))


def test_gc_stamp_skips_unchanged_directories(repo: pathlib.Path) -> None:
    # Directory mtimes younger than a second count as changed (clock margin),
    # so the test backdates them instead of sleeping.
    _backdate_dirs(repo)
    first = _startup_gc(repo)
    assert first["dirs_listed"] > 0
    _backdate_dirs(repo)  # the first pass created .muse/cache/gc_stamp
    second = _startup_gc(repo)
    assert second["dirs_listed"] == 0
    stray = muse_dir(repo) / "commits" / ".muse-tmp-stray"
    stray.write_text("x")
    third = _startup_gc(repo)
    assert third["removed"] == 1 and not stray.exists()


def test_require_repo_outside_a_repository_exits_2(tmp_path: pathlib.Path, monkeypatch) -> None:
    monkeypatch.delenv("MUSE_REPO_ROOT", raising=False)
    with pytest.raises(SystemExit) as ei:
        require_repo(tmp_path)
    assert ei.value.code == 2
    with pytest.raises(errors.NotARepositoryError):
        find_repo(tmp_path)


def test_repo_root_env_overrides_discovery(repo: pathlib.Path, tmp_path: pathlib.Path, monkeypatch) -> None:
    monkeypatch.setenv("MUSE_REPO_ROOT", str(repo))
    monkeypatch.chdir(tmp_path)
    assert find_repo() == repo
    sub = repo / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.delenv("MUSE_REPO_ROOT")
    monkeypatch.chdir(sub)
    assert find_repo() == repo


def test_batch_is_invisible_until_commit(repo: pathlib.Path) -> None:
    blobs = [(blob_id(b"x%d" % i), b"x%d" % i) for i in range(50)]
    rec = _rec("batched")
    snap = SnapshotRecord(manifest={f"f{i}": oid for i, (oid, _) in enumerate(blobs)})
    with Batch(repo) as b:
        for oid, data in blobs:
            assert b.write_object(oid, data) is True
        assert b.write_object(*blobs[0]) is False
        b.write_snapshot(snap)
        b.write_commit(rec)
        b.write_branch_ref("main", rec.commit_id)
        assert not has_object(repo, blobs[0][0])
        assert read_commit(repo, rec.commit_id) is None
        assert read_branch_ref(repo, "main") is None
    assert b.stats["objects_written"] == 50 and b.stats["refs_updated"] == 1
    assert all(read_object(repo, oid) == data for oid, data in blobs)
    assert read_commit(repo, rec.commit_id) == rec
    assert read_branch_ref(repo, "main") == rec.commit_id
    assert not list((muse_dir(repo) / "tmp").iterdir())


def test_batch_aborted_by_exception_leaves_nothing(repo: pathlib.Path) -> None:
    oid = blob_id(b"never")
    with pytest.raises(RuntimeError):
        with Batch(repo) as b:
            b.write_object(oid, b"never")
            b.write_branch_ref("main", fake_id("c"))
            raise RuntimeError("boom")
    assert not has_object(repo, oid)
    assert read_branch_ref(repo, "main") is None
    # The staging directory is gone; `.muse/tmp/` too when the batch made it.
    tmp = muse_dir(repo) / "tmp"
    assert not tmp.exists() or not list(tmp.iterdir())
    with pytest.raises(errors.HashMismatchError):
        Batch(repo).write_object(oid, b"other")


def test_fsync_policy_is_read_from_config(repo: pathlib.Path) -> None:
    assert read_config(repo)["fsync"] == "full"
    (muse_dir(repo) / "config.toml").write_text('[core]\nfsync = "off"\n')
    assert read_config(repo)["fsync"] == "off"
    (muse_dir(repo) / "config.toml").write_text('[core]\nfsync = "sometimes"\n')
    with pytest.raises(errors.MuseCLIError, match="fsync"):
        read_config(repo)
    with pytest.raises(errors.MuseCLIError):
        write_object(repo, blob_id(b"q"), b"q")


def test_write_text_atomic_replaces_whole(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "f.txt"
    write_text_atomic(p, "one")
    write_text_atomic(p, "two")
    assert p.read_text() == "two"
    assert [q.name for q in tmp_path.iterdir()] == ["f.txt"]


def test_object_written_has_shard_cached_and_is_read_only(repo: pathlib.Path) -> None:
    from muse.core.object_store import _created_object_shards

    oid = blob_id(b"ro")
    shard = str(object_path(repo, oid).parent)
    _created_object_shards.discard(shard)
    assert shard not in _created_object_shards
    write_object(repo, oid, b"ro")
    assert shard in _created_object_shards
    assert object_path(repo, oid).stat().st_mode & 0o777 == 0o444


def test_batch_staging_io_error_is_raised_and_nothing_becomes_visible(repo: pathlib.Path) -> None:
    """Staged loose files are written by background threads: an I/O error
    there is raised by a later call (``MuseIOError``) and the batch stays
    failed."""
    # Loose files only (a batch this large would otherwise write a pack).
    (muse_dir(repo) / "config.toml").write_text("[pack]\nunpack_limit = 1000000\n")
    written = []
    with pytest.raises(errors.MuseIOError, match="batch-"):
        with Batch(repo) as b:
            (staging,) = (muse_dir(repo) / "tmp").iterdir()
            for sub in staging.iterdir():
                sub.rmdir()  # the writers' directories: their creates fail
            for i in range(2_000):
                data = f"blob {i}".encode()
                written.append(blob_id(data))
                b.write_object(written[-1], data)
                b.write_branch_ref("main", fake_id("c"))
                time.sleep(0.001)
    assert written
    assert not any(has_object(repo, oid) for oid in written)
    assert read_branch_ref(repo, "main") is None
    tmp = muse_dir(repo) / "tmp"
    assert not tmp.exists() or not list(tmp.iterdir())


def test_batch_pack_io_error_is_raised_and_nothing_becomes_visible(repo: pathlib.Path) -> None:
    """A batch of more than ``[pack] unpack_limit`` items writes a pack in its
    staging directory: when that cannot be created, ``MuseIOError`` names it,
    and nothing of the batch becomes visible."""
    written = []
    with pytest.raises(errors.MuseIOError, match="pack.tmp"):
        with Batch(repo) as b:
            (staging,) = (muse_dir(repo) / "tmp").iterdir()
            for sub in staging.iterdir():
                sub.rmdir()
            staging.rmdir()  # the pack cannot be created there
            for i in range(500):
                data = f"blob {i}".encode()
                written.append(blob_id(data))
                b.write_object(written[-1], data)
            b.write_branch_ref("main", fake_id("c"))
    assert len(written) == 101  # the 101st item starts the pack
    assert not any(has_object(repo, oid) for oid in written)
    assert read_branch_ref(repo, "main") is None
    assert not (muse_dir(repo) / "packs").exists()


def test_a_large_batch_is_one_pack_that_every_reader_finds(repo: pathlib.Path) -> None:
    """Objects and commits of a 300-item batch are in one pack file, read
    back (verified) by the per-item readers and by ``get_all_commits``."""
    from muse.core.commits import get_all_commits, read_commit
    from muse.core.object_store import read_object

    blobs = [f"packed {i}".encode() for i in range(300)]
    with Batch(repo) as b:
        for data in blobs:
            assert b.write_object(blob_id(data), data)
    assert b.stats is not None and b.stats["objects_written"] == 300
    packs = list((muse_dir(repo) / "packs").iterdir())
    assert len(packs) == 1 and packs[0].name.startswith("pack-") and packs[0].suffix == ".pack"
    assert not object_path(repo, blob_id(blobs[0])).exists()
    assert all(read_object(repo, blob_id(d)) == d for d in blobs)
    assert get_all_commits(repo) == []
    assert read_commit(repo, fake_id("absent")) is None
