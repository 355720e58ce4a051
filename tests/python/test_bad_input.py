"""Bad input: every class is a clear error and leaves the store unchanged."""

from __future__ import annotations

import datetime
import os
import pathlib

import pytest

from conftest import tree_files
from muse.core import errors
from muse.core.commits import CommitRecord, get_all_commits, read_commit, write_commit
from muse.core.ids import hash_commit
from muse.core.object_store import has_object, object_path, read_object, write_object
from muse.core.paths import commit_path
from muse.core.refs import (
    compare_and_swap_branch_ref,
    read_branch_ref,
    write_branch_ref,
)
from muse.core.snapshots import SnapshotRecord, write_snapshot
from muse.core.types import blob_id, fake_id, split_id

GOOD = blob_id(b"payload")
HEX = GOOD[len("sha256:"):]

MALFORMED_IDS = [
    pytest.param("sha1:" + HEX, id="wrong-prefix"),
    pytest.param("SHA256:" + HEX, id="prefix-case"),
    pytest.param(HEX, id="no-prefix"),
    pytest.param("sha256:" + HEX[:63], id="short"),
    pytest.param("sha256:" + HEX + "0", id="long"),
    pytest.param("sha256:" + HEX.upper(), id="upper-case"),
    pytest.param("sha256:" + HEX[:10] + "/" + HEX[11:], id="slash"),
    pytest.param("sha256:.." + HEX[2:], id="dotdot"),
    pytest.param("sha256:../../../../etc/passwd", id="traversal"),
    pytest.param("sha256:" + HEX[:63] + "\x00", id="nul"),
    pytest.param("", id="empty"),
]


def _commit(i: int = 0, parent: str | None = None) -> CommitRecord:
    ts = datetime.datetime(2026, 1, 1, 0, 0, i % 60, tzinfo=datetime.timezone.utc)
    snap = fake_id("snap")
    cid = hash_commit(
        parent_ids=[parent] if parent else [],
        snapshot_id=snap,
        message=f"m{i}",
        committed_at_iso=ts.isoformat(),
        author="t",
    )
    return CommitRecord(
        commit_id=cid, branch="main", snapshot_id=snap, message=f"m{i}", committed_at=ts,
        parent_commit_id=parent, author="t",
    )


@pytest.mark.parametrize("bad", MALFORMED_IDS)
def test_malformed_ids_are_rejected_before_any_path(repo: pathlib.Path, bad: str) -> None:
    before = tree_files(repo)
    for call in (
        lambda: write_object(repo, bad, b"payload"),
        lambda: read_object(repo, bad),
        lambda: has_object(repo, bad),
        lambda: object_path(repo, bad),
        lambda: read_commit(repo, bad),
        lambda: commit_path(repo, bad),
        lambda: write_branch_ref(repo, "main", bad),
        lambda: split_id(bad),
    ):
        with pytest.raises(errors.InvalidIdError) as ei:
            call()
        assert isinstance(ei.value, ValueError)
        assert "invalid ID" in str(ei.value)
    assert tree_files(repo) == before


def test_content_not_matching_its_id(repo: pathlib.Path) -> None:
    before = tree_files(repo)
    with pytest.raises(errors.HashMismatchError, match="hash mismatch"):
        write_object(repo, blob_id(b"one"), b"two")
    assert tree_files(repo) == before
    assert not has_object(repo, blob_id(b"one"))


def test_read_object_detects_flipped_byte(repo: pathlib.Path) -> None:
    oid = blob_id(b"hello world")
    write_object(repo, oid, b"hello world")
    p = object_path(repo, oid)
    os.chmod(p, 0o644)
    p.write_bytes(b"hello World")
    with pytest.raises(errors.CorruptRecordError, match="hashes to"):
        read_object(repo, oid)


def test_missing_object_is_lookup_error(repo: pathlib.Path) -> None:
    with pytest.raises(errors.NotFoundError) as ei:
        read_object(repo, GOOD)
    assert isinstance(ei.value, LookupError)


def _stored_commit_file(repo: pathlib.Path) -> tuple[CommitRecord, pathlib.Path]:
    rec = _commit()
    assert write_commit(repo, rec) is True
    p = commit_path(repo, rec.commit_id)
    os.chmod(p, 0o644)
    return rec, p


def test_truncated_commit_is_integrity_error(repo: pathlib.Path) -> None:
    rec, p = _stored_commit_file(repo)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(errors.CorruptRecordError) as ei:
        read_commit(repo, rec.commit_id)
    assert isinstance(ei.value, errors.IntegrityError)
    with pytest.raises(errors.CorruptRecordError):
        get_all_commits(repo)


def test_corrupt_commit_bytes_are_integrity_error(repo: pathlib.Path) -> None:
    rec, p = _stored_commit_file(repo)
    p.write_bytes(b"\xff\x00garbage\xde\xad")
    with pytest.raises(errors.CorruptRecordError):
        read_commit(repo, rec.commit_id)


def test_commit_stored_under_wrong_name_is_integrity_error(repo: pathlib.Path) -> None:
    rec, p = _stored_commit_file(repo)
    other = _commit(1)
    q = commit_path(repo, other.commit_id)
    q.write_bytes(p.read_bytes())
    with pytest.raises(errors.CorruptRecordError, match="holds commit"):
        read_commit(repo, other.commit_id)


def test_oversized_commit_is_not_read(repo: pathlib.Path) -> None:
    rec, p = _stored_commit_file(repo)
    from muse.core.commits import MAX_MSGPACK_BYTES

    with open(p, "r+b") as f:
        f.truncate(MAX_MSGPACK_BYTES + 1)  # sparse: nothing is really allocated
    with pytest.raises(errors.RecordTooLargeError, match="over the limit"):
        read_commit(repo, rec.commit_id)


def test_commit_whose_id_does_not_verify_is_refused(repo: pathlib.Path) -> None:
    rec = _commit()
    rec.message = "tampered"
    before = tree_files(repo)
    with pytest.raises(errors.HashMismatchError):
        write_commit(repo, rec)
    assert tree_files(repo) == before


def test_absent_commit_is_none(repo: pathlib.Path) -> None:
    assert read_commit(repo, fake_id("never written")) is None


@pytest.mark.parametrize(
    "name", ["a..b", "-x", "/x", "x/", "a b", "ctl\x01", "x.lock", "a/.hidden", "a@{1}", "", "a//b", "star*"]
)
def test_invalid_branch_names(repo: pathlib.Path, name: str) -> None:
    cid = _commit().commit_id
    before = tree_files(repo)
    with pytest.raises(errors.InvalidRefNameError):
        write_branch_ref(repo, name, cid)
    with pytest.raises(errors.InvalidRefNameError):
        compare_and_swap_branch_ref(repo, name, None, cid)
    assert tree_files(repo) == before


def test_stale_compare_and_swap(repo: pathlib.Path) -> None:
    a, b, c = (_commit(i).commit_id for i in range(3))
    compare_and_swap_branch_ref(repo, "main", None, a)
    seen = read_branch_ref(repo, "main")
    write_branch_ref(repo, "main", b)  # somebody moves it
    with pytest.raises(errors.RefConflictError, match="moved"):
        compare_and_swap_branch_ref(repo, "main", seen, c)
    assert read_branch_ref(repo, "main") == b
    with pytest.raises(errors.RefConflictError):
        compare_and_swap_branch_ref(repo, "main", None, c)


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a//b", "a/./b", "a\x00b", ".muse/HEAD", ""])
def test_snapshot_paths_are_validated(repo: pathlib.Path, path: str) -> None:
    manifest = {path: GOOD}
    rec = SnapshotRecord(snapshot_id=None, manifest=manifest)
    with pytest.raises(errors.InvalidPathError):
        write_snapshot(repo, rec)


def test_snapshot_that_does_not_hash_is_refused(repo: pathlib.Path) -> None:
    rec = SnapshotRecord(snapshot_id=fake_id("lie"), manifest={"a.txt": GOOD})
    with pytest.raises(errors.HashMismatchError):
        write_snapshot(repo, rec)


def test_io_errors_are_oserrors(tmp_path: pathlib.Path) -> None:
    # A repository whose object directory is a file: the write fails in the OS.
    (tmp_path / ".muse").mkdir()
    (tmp_path / ".muse" / "objects").write_text("not a directory")
    with pytest.raises(errors.MuseIOError) as ei:
        write_object(tmp_path, GOOD, b"payload")
    assert isinstance(ei.value, OSError)
    assert ei.value.errno is not None
    # A path that holds no repository at all is said to be one.
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(errors.NotARepositoryError):
        write_object(blocker, GOOD, b"payload")
