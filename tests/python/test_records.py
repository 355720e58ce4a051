"""Records: construction, round trips, forward compatibility, history walks."""

from __future__ import annotations

import datetime
import pathlib
import pickle
import threading

import msgpack
import pytest

from muse.core import errors
from muse.core.commits import (
    CommitRecord,
    get_all_commits,
    get_commits_for_branch,
    read_commit,
    walk_commits_between_result,
    write_commit,
)
from muse.core.ids import hash_commit, hash_snapshot
from muse.core.merge_engine import find_merge_base
from muse.core.paths import commit_path, config_toml_path
from muse.core.refs import compare_and_swap_branch_ref, read_branch_ref, write_branch_ref
from muse.core.snapshots import SnapshotRecord, read_snapshot, write_snapshot
from muse.core.types import blob_id, fake_id

UTC = datetime.timezone.utc


def _rec(msg: str, parent: str | None = None, ts: datetime.datetime | None = None, **kw) -> CommitRecord:
    ts = ts or datetime.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    return CommitRecord(
        branch="main", snapshot_id=fake_id("s"), message=msg, committed_at=ts, parent_commit_id=parent,
        author="ada", **kw,
    )


def test_commit_id_is_computed_and_matches_hash_commit() -> None:
    r = _rec("hello")
    assert r.commit_id == hash_commit(
        parent_ids=[], snapshot_id=fake_id("s"), message="hello",
        committed_at_iso=r.committed_at.isoformat(), author="ada",
    )
    r.verify()


def test_full_roundtrip_through_disk(repo: pathlib.Path) -> None:
    r = _rec(
        "full", metadata={"k": "v"}, structured_delta={"ops": [1, 2.5, "x", None, True, b"\x00"]},
        sem_ver_bump="minor", breaking_changes=["api"], agent_id="agent", model_id="model",
        toolchain_id="tc", prompt_hash="ph", signature="sig", signer_key_id="key",
    )
    assert write_commit(repo, r) is True
    assert write_commit(repo, r) is False
    back = read_commit(repo, r.commit_id)
    assert back == r
    assert back.committed_at == datetime.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert back.structured_delta == {"ops": [1, 2.5, "x", None, True, b"\x00"]}
    assert back.metadata == {"k": "v"}
    assert pickle.loads(pickle.dumps(back)) == back


def test_unknown_keys_survive_read_modify_write(repo: pathlib.Path) -> None:
    r = _rec("future")
    d = r.to_dict()
    d["written_by_muse_9"] = {"nested": [1, 2]}
    p = commit_path(repo, r.commit_id)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(msgpack.packb(d, use_bin_type=True))
    back = read_commit(repo, r.commit_id)
    assert back.to_dict()["written_by_muse_9"] == {"nested": [1, 2]}
    other = tmp = repo.parent / "other"
    from muse.core.repo import init_repo

    init_repo(tmp)
    write_commit(other, back)
    raw = msgpack.unpackb(commit_path(other, r.commit_id).read_bytes(), raw=False)
    assert raw["written_by_muse_9"] == {"nested": [1, 2]}
    assert raw["format_version"] == 1


def test_bad_sem_ver_bump_is_refused(repo: pathlib.Path) -> None:
    r = _rec("x", sem_ver_bump="huge")
    with pytest.raises(errors.InvalidInputError, match="sem_ver_bump"):
        write_commit(repo, r)


def _chain(repo: pathlib.Path, n: int, branch: str = "main", parent: str | None = None, tag: str = "") -> list[str]:
    ids = []
    for i in range(n):
        ts = datetime.datetime(2026, 1, 1, tzinfo=UTC) + datetime.timedelta(minutes=i)
        r = _rec(f"{tag}{i}", parent, ts)
        write_commit(repo, r)
        ids.append(r.commit_id)
        parent = r.commit_id
    if ids:
        write_branch_ref(repo, branch, ids[-1])
    return ids


def test_walks_and_caps(fast_repo: pathlib.Path) -> None:
    ids = _chain(fast_repo, 30)
    got = get_commits_for_branch(fast_repo, "main", max_count=10)
    assert [c.commit_id for c in got] == ids[::-1][:10]
    assert len(get_commits_for_branch(fast_repo, "main", 0)) == 30
    assert get_commits_for_branch(fast_repo, "nope", 5) == []
    res = walk_commits_between_result(fast_repo, ids[-1], max_commits=5)
    assert res["truncated"] is True and res["count"] == 5
    res = walk_commits_between_result(fast_repo, ids[-1], ids[19], max_commits=100)
    assert [c.commit_id for c in res["commits"]] == ids[20:][::-1]
    assert res["truncated"] is False
    assert sorted(c.commit_id for c in get_all_commits(fast_repo)) == sorted(ids)


def test_merge_base_fork_and_cap(fast_repo: pathlib.Path) -> None:
    base = _chain(fast_repo, 3)
    a = _chain(fast_repo, 4, "a", base[-1], "a")
    b = _chain(fast_repo, 2, "b", base[-1], "b")
    assert find_merge_base(fast_repo, a[-1], b[-1]) == base[-1]
    assert find_merge_base(fast_repo, a[-1], base[0]) == base[0]
    lone = _chain(fast_repo, 3, "lone", None, "lone")
    assert find_merge_base(fast_repo, a[-1], lone[-1]) is None
    config_toml_path(fast_repo).write_text('[core]\nfsync = "off"\n[limits]\nmax_ancestors = 4\n')
    with pytest.raises(errors.MuseCLIError, match="max_ancestors"):
        find_merge_base(fast_repo, a[-1], lone[-1])


def test_merge_base_sees_second_parents(fast_repo: pathlib.Path) -> None:
    root = _chain(fast_repo, 1)[0]
    side = _chain(fast_repo, 2, "side", root, "side")
    main2 = _rec("main2", root, datetime.datetime(2026, 2, 1, tzinfo=UTC))
    write_commit(fast_repo, main2)
    merge = _rec("merge", main2.commit_id, datetime.datetime(2026, 2, 2, tzinfo=UTC), parent2_commit_id=side[-1])
    write_commit(fast_repo, merge)
    # side's tip is an ancestor of the merge through its second parent.
    assert find_merge_base(fast_repo, merge.commit_id, side[-1]) == side[-1]


def test_cas_threads_lose_no_update(fast_repo: pathlib.Path) -> None:
    ids = [fake_id(f"n{i}") for i in range(8 * 200 + 1)]
    index = {cid: i for i, cid in enumerate(ids)}
    compare_and_swap_branch_ref(fast_repo, "counter", None, ids[0])

    def worker() -> None:
        done = 0
        while done < 200:
            cur = read_branch_ref(fast_repo, "counter")
            try:
                compare_and_swap_branch_ref(fast_repo, "counter", cur, ids[index[cur] + 1])
                done += 1
            except errors.RefConflictError:
                continue

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert read_branch_ref(fast_repo, "counter") == ids[-1]


def test_snapshot_roundtrip(repo: pathlib.Path) -> None:
    m = {"a.txt": blob_id(b"a"), "dir/b.txt": blob_id(b"b"), "ü n i.txt": blob_id(b"c")}
    rec = SnapshotRecord(snapshot_id=hash_snapshot(m), manifest=m)
    assert SnapshotRecord(manifest=m).snapshot_id == rec.snapshot_id
    assert write_snapshot(repo, rec) is True
    assert write_snapshot(repo, rec) is False
    back = read_snapshot(repo, rec.snapshot_id)
    assert back.manifest == m and back.snapshot_id == rec.snapshot_id
    assert read_snapshot(repo, fake_id("absent")) is None


def test_deeply_nested_values_are_refused_not_a_crash() -> None:
    deep: object = "leaf"
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(ValueError, match="nested deeper"):
        _rec("deep", structured_delta={"x": deep})
    from muse.core.mpack import apply_mpack

    with pytest.raises(ValueError):
        apply_mpack("/nonexistent", {"commits": deep})
