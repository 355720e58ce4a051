"""``muse.Repository`` (SPEC §11): the pygit2-shaped handle and its result
classes, driven through a whole workflow: init, status, add, commit,
branches, checkout, diff, merges (fast-forward, three-way, conflicts,
abort), log, revparse, objects, bundles and errors.
"""

from __future__ import annotations

import datetime
import pathlib

import pytest

import muse
from muse import Commit, DiffEntry, MergeResult, Repository, StatusEntry
from muse.core.errors import (
    IntegrityError,
    InvalidIdError,
    InvalidInputError,
    InvalidRefNameError,
    MissingDataError,
    MuseError,
    NotARepositoryError,
    NotFoundError,
)
from helpers import write_files
from muse.core.paths import commit_path
from muse.core.types import blob_id


def write(root: pathlib.Path, rel: str, text: str) -> None:
    write_files(root, {rel: text})


def commit_file(repo: Repository, rel: str, text: str, message: str, add_all: bool = False) -> Commit:
    """Writes ``rel``, adds it (``add_all``: everything), commits ``message``."""
    write(repo.workdir, rel, text)
    if add_all:
        repo.add_all()
    else:
        repo.add(rel)
    return repo.commit(message)


def fast(repo: Repository) -> Repository:
    """``repo`` reopened with ``[core] fsync = "off"`` (many small writes)."""
    (repo.path / "config.toml").write_text('[core]\nfsync = "off"\n')
    return Repository(repo.workdir)


@pytest.fixture
def repo(tmp_path: pathlib.Path) -> Repository:
    return fast(Repository.init(tmp_path / "work"))


def test_exports() -> None:
    for name in ("Repository", "Commit", "StatusEntry", "DiffEntry", "MergeResult"):
        assert name in muse.__all__
        assert getattr(muse, name) is getattr(muse._native, name)
    assert Repository.__module__ == "muse"


def test_workflow(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "work"
    repo = Repository.init(root)
    assert repo.workdir == root
    assert repo.path == root / ".muse"
    assert (root / ".muse" / "HEAD").is_file()
    repo = fast(repo)
    assert repr(repo) == f"Repository({str(root)!r})"

    # An unborn branch.
    assert repo.head is None
    assert repo.head_branch == "main"
    assert repo.branches == []
    assert list(repo.log()) == []
    assert repo.status() == []

    # Untracked, then staged, then committed.
    write(root, "a.txt", "one\n")
    write(root, "dir/b.txt", "bee\n")
    assert repo.status() == [
        StatusEntry("a.txt", None, "untracked"),
        StatusEntry("dir/b.txt", None, "untracked"),
    ]
    repo.add("a.txt")
    status = repo.status()
    assert status == [StatusEntry("a.txt", "added", None), StatusEntry("dir/b.txt", None, "untracked")]
    assert (status[0].path, status[0].index, status[0].worktree) == ("a.txt", "added", None)
    repo.add(["dir/b.txt"])
    assert repo.status() == [StatusEntry("a.txt", "added"), StatusEntry("dir/b.txt", "added")]

    c1 = repo.commit("first", author="Ann <ann@example.com>")
    assert isinstance(c1, Commit)
    assert c1.id.startswith("sha256:") and len(c1.id) == 71
    assert c1.message == "first"
    assert c1.author == "Ann <ann@example.com>"
    assert c1.parents == []
    assert c1.branch == "main"
    assert c1.snapshot_id.startswith("sha256:") and c1.snapshot_id != c1.id
    assert isinstance(c1.committed_at, datetime.datetime)
    assert c1.committed_at.utcoffset() == datetime.timedelta(0)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - c1.committed_at).total_seconds()) < 600
    assert c1.record.commit_id == c1.id
    assert c1.record.committed_at == c1.committed_at
    assert repo.head == c1
    assert hash(repo.head) == hash(c1)
    assert repr(c1).startswith(f"<Commit id={c1.id!r} message='first'")
    assert repo.status() == []
    assert repo.read_object(blob_id(b"one\n")) == b"one\n"

    # A branch, checked out; a worktree change.
    assert repo.create_branch("feature") == c1.id
    assert repo.branches == ["feature", "main"]
    repo.checkout("feature")
    assert repo.head_branch == "feature"
    write(root, "a.txt", "one\ntwo\n")
    assert repo.status() == [StatusEntry("a.txt", None, "modified")]
    changed = repo.diff()
    assert changed == [DiffEntry("a.txt", "modified", blob_id(b"one\n"), blob_id(b"one\ntwo\n"))]
    assert (changed[0].path, changed[0].status) == ("a.txt", "modified")
    assert (changed[0].old_id, changed[0].new_id) == (blob_id(b"one\n"), blob_id(b"one\ntwo\n"))
    (root / "dir" / "b.txt").unlink()
    write(root, "c.txt", "sea\n")
    assert repo.diff() == [
        DiffEntry("a.txt", "modified", blob_id(b"one\n"), blob_id(b"one\ntwo\n")),
        DiffEntry("c.txt", "added", None, blob_id(b"sea\n")),
        DiffEntry("dir/b.txt", "deleted", blob_id(b"bee\n"), None),
    ]
    repo.add_all()
    assert repo.status() == [
        StatusEntry("a.txt", "modified"),
        StatusEntry("c.txt", "added"),
        StatusEntry("dir/b.txt", "deleted"),
    ]
    c2 = repo.commit("second")
    assert c2.parents == [c1.id]
    assert c2.branch == "feature"
    assert c2.author == ""
    assert repo.head == c2

    # Diffs between two revisions, both ways.
    assert repo.diff(c1.id, "feature") == [
        DiffEntry("a.txt", "modified", blob_id(b"one\n"), blob_id(b"one\ntwo\n")),
        DiffEntry("c.txt", "added", None, blob_id(b"sea\n")),
        DiffEntry("dir/b.txt", "deleted", blob_id(b"bee\n"), None),
    ]
    assert [(d.path, d.status) for d in repo.diff("feature", "main")] == [
        ("a.txt", "modified"),
        ("c.txt", "deleted"),
        ("dir/b.txt", "added"),
    ]
    assert repo.diff("main", "main") == []

    # Back to main: the files are restored.
    repo.checkout("main")
    assert repo.head_branch == "main"
    assert repo.head == c1
    assert (root / "a.txt").read_text() == "one\n"
    assert (root / "dir" / "b.txt").read_text() == "bee\n"
    assert not (root / "c.txt").exists()
    assert repo.status() == []

    # A fast-forward, then nothing left to merge.
    ff = repo.merge("feature")
    assert isinstance(ff, MergeResult)
    assert (ff.kind, ff.conflicts, ff.commit) == ("fast-forward", [], c2)
    assert repo.head == c2
    assert (root / "a.txt").read_text() == "one\ntwo\n"
    up = repo.merge("feature")
    assert (up.kind, up.conflicts, up.commit) == ("up-to-date", [], None)

    # A clean three-way merge: different files changed on each side.
    c3 = commit_file(repo, "main.txt", "main side\n", "main side")
    repo.checkout("feature")
    c4 = commit_file(repo, "c.txt", "sea\nmore\n", "feature side")
    repo.checkout("main")
    merged = repo.merge("feature", author="Merger")
    assert merged.kind == "merged"
    assert merged.conflicts == []
    assert merged.commit is not None
    assert merged.commit.parents == [c3.id, c4.id]
    assert merged.commit.author == "Merger"
    assert repo.head == merged.commit
    assert (root / "main.txt").read_text() == "main side\n"
    assert (root / "c.txt").read_text() == "sea\nmore\n"
    assert repo.status() == []

    # A conflict: the same file changed differently on each side.
    repo.create_branch("topic")
    repo.checkout("topic")
    c_topic = commit_file(repo, "a.txt", "topic version\n", "topic edit")
    repo.checkout("main")
    write(root, "a.txt", "main version\n")
    write(root, "d.txt", "only on main\n")
    repo.add_all()
    c_main = repo.commit("main edit")
    result = repo.merge("topic")
    assert (result.kind, result.conflicts, result.commit) == ("conflicts", ["a.txt"], None)
    text = (root / "a.txt").read_text()
    assert "<<<<<<<" in text and "=======" in text and ">>>>>>>" in text
    assert "main version" in text and "topic version" in text
    assert [e.path for e in repo.status()] == ["a.txt"]
    assert repo.status()[0].worktree == "modified"
    assert repo.head == c_main  # nothing committed yet

    # Resolve, add, commit: the commit has both parents.
    resolution = commit_file(repo, "a.txt", "resolved\n", "merge topic")
    assert resolution.parents == [c_main.id, c_topic.id]
    assert repo.head == resolution
    assert repo.read_object(blob_id(b"resolved\n")) == b"resolved\n"
    assert repo.status() == []

    # History, newest first; max_count; another start.
    history = [c.id for c in repo.log()]
    assert history[:3] == [resolution.id, c_main.id, c_topic.id]
    assert len(history) == len(set(history)) == 8
    assert set(history) == {c1.id, c2.id, c3.id, c4.id, merged.commit.id, c_topic.id, c_main.id, resolution.id}
    assert history[-1] == c1.id
    assert [c.id for c in repo.log(max_count=2)] == [resolution.id, c_main.id]
    assert [c.id for c in repo.log("feature")] == [c4.id, c2.id, c1.id]
    assert list(repo.log(c1.id)) == [c1]
    assert list(repo.log(max_count=0)) == []
    it = repo.log()
    assert iter(it) is it
    assert next(it) == resolution

    # Revisions.
    assert repo.revparse("HEAD") == resolution.id
    assert repo.revparse("HEAD~1") == c_main.id
    assert repo.revparse("HEAD^2") == c_topic.id
    assert repo.revparse("feature") == c4.id
    assert repo.revparse("topic~1") == merged.commit.id
    assert repo.revparse(c1.id[len("sha256:") : len("sha256:") + 12]) == c1.id
    assert repo.revparse(c2.id[:19]) == c2.id

    # Detached checkout of a revision, then back.
    repo.checkout("HEAD~1")
    assert repo.head_branch is None
    assert repo.head == c_main
    assert (root / "a.txt").read_text() == "main version\n"
    repo.checkout("main")
    assert (root / "a.txt").read_text() == "resolved\n"

    # Branch deletion (topic is merged into HEAD).
    assert repo.delete_branch("topic") == c_topic.id
    assert repo.branches == ["feature", "main"]


def test_merge_abort_restores_the_pre_merge_state(repo: Repository) -> None:
    root = repo.workdir
    commit_file(repo, "f.txt", "base\n", "base")
    repo.create_branch("other")
    ours = commit_file(repo, "f.txt", "ours\n", "ours")
    repo.checkout("other")
    commit_file(repo, "f.txt", "theirs\n", "theirs")
    repo.checkout("main")
    assert repo.merge("other").kind == "conflicts"
    assert "<<<<<<<" in (root / "f.txt").read_text()
    with pytest.raises(InvalidInputError):
        repo.merge("other")  # a merge is in progress
    repo.merge_abort()
    assert (root / "f.txt").read_text() == "ours\n"
    assert repo.head == ours
    assert repo.status() == []
    with pytest.raises(InvalidInputError):
        repo.merge_abort()  # nothing to abort


def test_log_reports_a_missing_parent(repo: Repository) -> None:
    root = repo.workdir
    first = commit_file(repo, "f.txt", "1\n", "one", add_all=True)
    second = commit_file(repo, "f.txt", "2\n", "two", add_all=True)
    commit_path(root, first.id).unlink()
    it = Repository(root).log()
    assert next(it) == second
    with pytest.raises((NotFoundError, MissingDataError)):
        next(it)
    with pytest.raises(StopIteration):
        next(it)  # the walk ended with the error


def test_log_is_lazy_and_can_be_dropped(repo: Repository) -> None:
    ids = []
    for i in range(40):  # more than the walker reads ahead
        ids.append(commit_file(repo, "f.txt", f"{i}\n", f"c{i}", add_all=True).id)
    ids.reverse()
    for _ in range(50):  # abandoned iterators must not block or leak errors
        it = repo.log()
        assert next(it).id == ids[0]
        del it
    assert [c.id for c in repo.log()] == ids
    assert [c.id for c in repo.log(max_count=35)] == ids[:35]


def test_objects(repo: Repository) -> None:
    oid = repo.write_object(b"hello\x00world")
    assert oid == blob_id(b"hello\x00world")
    assert repo.read_object(oid) == b"hello\x00world"
    assert repo.write_object(b"hello\x00world") == oid
    with pytest.raises(NotFoundError):
        repo.read_object(blob_id(b"never stored"))
    with pytest.raises(InvalidIdError):
        repo.read_object("sha256:nothex")


def test_mpack_round_trip(tmp_path: pathlib.Path, repo: Repository) -> None:
    first = commit_file(repo, "x.txt", "x1\n", "x1", add_all=True)
    second = commit_file(repo, "x.txt", "x2\n", "x2", add_all=True)

    dst = fast(Repository.init(tmp_path / "dst"))
    stats = dst.apply_mpack(repo.build_mpack([second.id]))
    assert stats["commits_written"] == 2
    assert stats["blobs_written"] == 2
    assert dst.branches == []  # applying moves no branch
    assert [c.id for c in dst.log(second.id)] == [second.id, first.id]
    assert dst.read_object(blob_id(b"x2\n")) == b"x2\n"
    assert dst.apply_mpack(repo.build_mpack([second.id]))["commits_written"] == 0

    partial = repo.build_mpack([second.id], have=[first.id])
    assert [c["commit_id"] for c in partial["commits"]] == [second.id]


def test_bundle_files(tmp_path: pathlib.Path, repo: Repository) -> None:
    first = commit_file(repo, "x.txt", "x1\n", "x1", add_all=True)
    second = commit_file(repo, "x.txt", "x2\n", "x2", add_all=True)
    full = tmp_path / "full.bundle"
    made = repo.create_bundle(full, [second.id])
    assert (made["commits"], made["snapshots"], made["blobs"]) == (2, 2, 2)
    assert made["bytes"] == full.stat().st_size
    assert made["prerequisites"] == []
    assert made["branch_heads"] == {"main": second.id}

    dst = fast(Repository.init(tmp_path / "dst"))
    info = dst.verify_bundle(full)
    assert (info["version"], info["commits"], info["prerequisites"]) == (2, 2, [])
    stats = dst.apply_bundle(full)
    assert (stats["commits_written"], stats["blobs_written"]) == (2, 2)
    assert stats["branch_heads"] == {"main": second.id}
    assert dst.branches == []  # applying moves no branch
    assert [c.id for c in dst.log(second.id)] == [second.id, first.id]
    assert dst.read_object(blob_id(b"x2\n")) == b"x2\n"

    # A thin bundle: what HEAD has beyond `second`, which it requires.
    third = commit_file(repo, "x.txt", "x3\n", "x3", add_all=True)
    inc = tmp_path / "inc.bundle"
    made = repo.create_bundle(inc, ["HEAD"], have=[second.id])
    assert (made["commits"], made["prerequisites"]) == (1, [second.id])
    with pytest.raises(NotFoundError, match="prerequisite"):
        fast(Repository.init(tmp_path / "empty")).apply_bundle(inc)

    # A damaged file stores nothing and names what is wrong.
    bad = tmp_path / "bad.bundle"
    data = bytearray(inc.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        dst.apply_bundle(bad)
    with pytest.raises(NotFoundError):
        dst.log(third.id)
    assert dst.apply_bundle(inc)["commits_written"] == 1
    assert [c.id for c in dst.log(third.id)][:1] == [third.id]

    with pytest.raises(NotFoundError):
        repo.create_bundle(tmp_path / "none.bundle", ["no-such-branch"])
    assert not (tmp_path / "none.bundle").exists()


def test_open_and_discover(tmp_path: pathlib.Path, repo: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
    root = repo.workdir
    write(root, "deep/er/f.txt", "f\n")
    assert Repository(root).workdir == root
    assert Repository(root / ".muse").workdir == root
    assert Repository.discover(root / "deep" / "er").workdir == root
    monkeypatch.chdir(root / "deep")
    monkeypatch.delenv("MUSE_REPO_ROOT", raising=False)
    assert Repository.discover().workdir.resolve() == root.resolve()

    outside = tmp_path / "plain"
    outside.mkdir()
    with pytest.raises(NotARepositoryError):
        Repository(outside)
    with pytest.raises(NotARepositoryError):
        Repository.discover(outside)
    with pytest.raises(InvalidInputError):
        Repository.init(root / "deep")  # already inside a repository
    other = Repository.init(tmp_path / "trunk", default_branch="trunk")
    assert other.head_branch == "trunk"


def test_errors(repo: Repository) -> None:
    root = repo.workdir
    with pytest.raises(InvalidInputError):
        repo.create_branch("early")  # HEAD has no commit yet
    with pytest.raises(InvalidInputError):
        repo.commit("nothing")  # nothing to commit
    write(root, "f.txt", "f\n")
    with pytest.raises(InvalidInputError):
        repo.add("no-such-file.txt")
    repo.add("f.txt")
    first = repo.commit("first")

    with pytest.raises(NotFoundError) as info:
        repo.checkout("no-such-branch")
    assert isinstance(info.value, MuseError) and isinstance(info.value, LookupError)
    assert repo.head_branch == "main" and repo.head == first
    with pytest.raises(NotFoundError):
        repo.revparse("nope")
    with pytest.raises(NotFoundError):
        repo.log("nope")  # raised by log() itself, not by the first next()
    with pytest.raises(NotFoundError):
        repo.diff("nope")
    with pytest.raises(NotFoundError):
        repo.merge("nope")
    with pytest.raises(InvalidRefNameError):
        repo.create_branch("bad..name")
    repo.create_branch("b")
    with pytest.raises(InvalidInputError):
        repo.create_branch("b")  # exists
    with pytest.raises(InvalidInputError):
        repo.delete_branch("main")  # HEAD is on it
    with pytest.raises(NotFoundError):
        repo.delete_branch("missing")

    # A dirty tree blocks checkout unless forced.
    write(root, "f.txt", "dirty\n")
    with pytest.raises(InvalidInputError):
        repo.checkout("b")
    assert repo.head_branch == "main"
    assert (root / "f.txt").read_text() == "dirty\n"
    repo.checkout("b", force=True)
    assert repo.head_branch == "b"
    assert (root / "f.txt").read_text() == "f\n"

    with pytest.raises(TypeError):
        repo.add(42)  # type: ignore[arg-type]


def test_value_classes() -> None:
    e = StatusEntry("a", worktree="untracked")
    assert e == StatusEntry("a", None, "untracked")
    assert e != StatusEntry("a", "added", None)
    assert e != "a"
    assert hash(e) == hash(StatusEntry("a", None, "untracked"))
    assert len({e, StatusEntry("a", None, "untracked"), StatusEntry("b")}) == 2
    assert repr(e) == "StatusEntry(path='a', index=None, worktree='untracked')"
    assert eval(repr(e)) == e

    d = DiffEntry("p", "added", new_id="sha256:" + "0" * 64)
    assert d == DiffEntry("p", "added", None, "sha256:" + "0" * 64)
    assert d != DiffEntry("p", "deleted", None, "sha256:" + "0" * 64)
    assert repr(d) == f"DiffEntry(path='p', status='added', old_id=None, new_id='sha256:{'0' * 64}')"
    assert eval(repr(d)) == d
    with pytest.raises(AttributeError):
        d.path = "q"  # type: ignore[misc]

    with pytest.raises(TypeError):
        Commit()
    with pytest.raises(TypeError):
        MergeResult()


def test_result_class_equality(repo: Repository) -> None:
    c = commit_file(repo, "f.txt", "1\n", "one")
    assert repo.head == c and repo.head is not c
    assert c != "c"
    with pytest.raises(AttributeError):
        c.message = "changed"  # type: ignore[misc]
    rec = c.record
    rec.message = "changed"
    assert c.message == "one"  # .record is a copy
    repo.create_branch("b")
    a, b = repo.merge("b"), repo.merge("b")
    assert a == b and a.kind == "up-to-date"
    assert repr(a) == "<MergeResult kind='up-to-date' conflicts=[] commit=None>"
    with pytest.raises(TypeError):
        hash(a)


def test_merge_is_line_level(tmp_path: pathlib.Path) -> None:
    """Two branches editing different lines of one file merge cleanly (as
    in git); overlapping edits get markers around that hunk only, with the
    base section (git's diff3 style)."""
    repo = Repository.init(tmp_path)
    numbered = "".join(f"line {i}\n" for i in range(1, 21))
    commit_file(repo, "f.txt", numbered, "base")
    repo.create_branch("topic")
    repo.checkout("topic")
    commit_file(repo, "f.txt", numbered.replace("line 1\n", "first, from topic\n"), "topic")
    repo.checkout("main")
    commit_file(repo, "f.txt", numbered.replace("line 20\n", "last, from main\n"), "main")
    result = repo.merge("topic")
    assert result.kind == "merged" and result.conflicts == []
    merged = numbered.replace("line 1\n", "first, from topic\n").replace("line 20\n", "last, from main\n")
    assert (tmp_path / "f.txt").read_text() == merged
    assert repo.status() == []

    repo.checkout("topic")
    commit_file(repo, "f.txt", merged.replace("line 10\n", "ten, topic\n"), "topic 10")
    repo.checkout("main")
    commit_file(repo, "f.txt", merged.replace("line 10\n", "ten, main\n"), "main 10")
    result = repo.merge("topic")
    assert (result.kind, result.conflicts) == ("conflicts", ["f.txt"])
    hunk = "<<<<<<< HEAD\nten, main\n||||||| base\nline 10\n=======\nten, topic\n>>>>>>> topic\n"
    assert (tmp_path / "f.txt").read_text() == merged.replace("line 10\n", hunk)


def test_tags_reset_restore_remove_move_pick_show(tmp_path: pathlib.Path) -> None:
    """The everyday commands beyond merge, through ``muse.Repository``."""
    repo = Repository.init(tmp_path)
    numbered = "".join(f"line {i}\n" for i in range(1, 21))
    c1 = commit_file(repo, "f.txt", numbered, "one")
    c2 = commit_file(repo, "f.txt", numbered.replace("line 5\n", "five\n"), "two")
    # Tags.
    assert repo.create_tag("v1", "HEAD~1") == c1.id
    assert repo.tags == [("v1", c1.id)] and repo.revparse("v1") == c1.id
    with pytest.raises(InvalidInputError):
        repo.create_tag("v1")
    assert repo.delete_tag("v1") == c1.id and repo.tags == []
    # show: the commit and its patch.
    commit, changes = repo.show()
    assert commit == c2 and [c.path for c in changes] == ["f.txt"]
    assert "-line 5\n+five\n" in changes[0].patch
    # log with paths and first_parent.
    assert [c.message for c in repo.log(paths=["f.txt"])] == ["two", "one"]
    assert [c.message for c in repo.log(first_parent=True)] == ["two", "one"]
    # reset / restore.
    assert repo.reset("HEAD~1", mode="soft") == c1.id
    assert [(e.path, e.index) for e in repo.status()] == [("f.txt", "modified")]
    repo.restore(["f.txt"], staged=True)
    assert [(e.path, e.index, e.worktree) for e in repo.status()] == [("f.txt", None, "modified")]
    repo.restore(["f.txt"])
    assert (tmp_path / "f.txt").read_text() == numbered and repo.status() == []
    assert repo.reset(c2.id, mode="hard") == c2.id
    with pytest.raises(ValueError):
        repo.reset(mode="medium")
    # remove / move_path.
    commit_file(repo, "g.txt", "gee\n", "g")
    assert repo.remove(["g.txt"]) == ["g.txt"] and not (tmp_path / "g.txt").exists()
    repo.commit("drop g")
    assert repo.move_path("f.txt", "h.txt") == [("f.txt", "h.txt")]
    moved = repo.commit("move")
    # cherry-pick / revert.
    reverted = repo.revert(moved.id)
    assert reverted.kind == "merged" and reverted.commit is not None
    assert reverted.commit.message.startswith('Revert "move"')
    assert (tmp_path / "f.txt").exists() and not (tmp_path / "h.txt").exists()
    picked = repo.cherry_pick(moved.id)
    assert picked.kind == "merged" and (tmp_path / "h.txt").exists()
    assert repo.cherry_pick(moved.id).kind == "up-to-date"
    with pytest.raises(InvalidInputError):
        repo.pick_continue()


def test_stash(tmp_path: pathlib.Path) -> None:
    repo = Repository.init(tmp_path)
    commit_file(repo, "a.txt", "1\n", "one")
    assert repo.stash() is None
    write(tmp_path, "a.txt", "local\n")
    entry = repo.stash("wip")
    assert entry is not None and (tmp_path / "a.txt").read_text() == "1\n"
    assert repo.stash_list() == [(0, entry, "On main: wip")]
    result = repo.stash_pop()
    assert result.kind == "merged" and (tmp_path / "a.txt").read_text() == "local\n"
    assert repo.stash_list() == []
    with pytest.raises(NotFoundError):
        repo.stash_drop()
