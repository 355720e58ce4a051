"""Remotes through ``muse.Repository`` (SPEC §13): ``clone``, ``remotes`` /
``add_remote`` / ``remove_remote``, ``fetch``, ``push``, ``pull``, their
result classes, and their errors (``RejectedError``, ``RemoteError``).

The "servers" are repositories on this machine reached by path (the local
transport runs the same server-side checks a ``muse serve`` hub runs); the
ones that are pushed to are bare (``Repository.init(..., bare=True)``), as
a push may not move the checked-out branch of a repository that is not
(git's ``receive.denyCurrentBranch``). The HTTP error paths use a closed
port and a tiny local HTTP server that answers 404.
"""

from __future__ import annotations

import http.server
import json
import pathlib
import pickle
import shutil
import threading
from collections.abc import Iterator

import pytest

import muse
from muse import Commit, FetchResult, PullResult, PushResult, RefUpdate, Remote, Repository
from muse.core.errors import (
    InvalidInputError,
    InvalidRefNameError,
    MuseError,
    NotARepositoryError,
    NotFoundError,
    RejectedError,
    RemoteError,
)
from helpers import write_files


def commit_file(repo: Repository, rel: str, text: str, message: str) -> Commit:
    """Writes ``rel`` below the working tree, adds it, commits ``message``."""
    write_files(repo.workdir, {rel: text})
    repo.add(rel)
    return repo.commit(message, "tester")


def make_server(root: pathlib.Path, *, bare: bool = True) -> Repository:
    """A repository with one commit (``f.txt``, ``g.txt``) on ``main``."""
    server = Repository.init(root, bare=bare)
    write_files(root, {"f.txt": "f1\n", "g.txt": "g1\n"})
    server.add_all()
    server.commit("first", "server")
    return server


@pytest.fixture
def server(tmp_path: pathlib.Path) -> Repository:
    return make_server(tmp_path / "server")


@pytest.fixture
def pair(tmp_path: pathlib.Path, server: Repository) -> tuple[Repository, Repository]:
    """Two clones of ``server``."""
    return Repository.clone(server.workdir, tmp_path / "a"), Repository.clone(str(server.workdir), tmp_path / "b")


def test_exports_and_init_bare(tmp_path: pathlib.Path) -> None:
    for name in ("Remote", "RefUpdate", "FetchResult", "PushResult", "PullResult"):
        assert name in muse.__all__
        assert getattr(muse, name) is getattr(muse._native, name)
        assert getattr(muse, name).__module__ == "muse"
        assert getattr(muse, name).__doc__
    assert issubclass(RejectedError, MuseError) and not issubclass(RejectedError, OSError)
    assert issubclass(RemoteError, MuseError) and issubclass(RemoteError, OSError)
    bare = Repository.init(tmp_path / "bare", bare=True)
    assert "bare = true" in (bare.path / "config.toml").read_text()
    plain = Repository.init(tmp_path / "plain")
    assert "bare" not in (plain.path / "config.toml").read_text()


def test_clone_from_a_local_path(tmp_path: pathlib.Path, server: Repository) -> None:
    clone = Repository.clone(server.workdir, tmp_path / "clone")
    assert isinstance(clone, Repository)
    assert clone.workdir == tmp_path / "clone"
    assert (clone.workdir / "f.txt").read_text() == "f1\n"
    assert (clone.workdir / "g.txt").read_text() == "g1\n"
    assert clone.head_branch == "main"
    assert clone.head == server.head
    assert clone.remotes == [Remote("origin", str(server.workdir))]
    assert clone.revparse("origin/main") == server.revparse("main")
    assert clone.status() == []
    # file:// URLs are paths too.
    other = Repository.clone(f"file://{server.workdir}", tmp_path / "other")
    assert other.head == server.head


def test_clone_a_branch_and_clone_errors(tmp_path: pathlib.Path, server: Repository) -> None:
    server.create_branch("dev")
    clone = Repository.clone(server.workdir, tmp_path / "dev", branch="dev")
    assert clone.head_branch == "dev"
    assert clone.revparse("origin/dev") == server.revparse("dev")

    with pytest.raises(NotFoundError):
        Repository.clone(server.workdir, tmp_path / "nope", branch="nope")
    assert not (tmp_path / "nope").exists()  # made by the call, removed on failure

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    with pytest.raises(InvalidInputError, match="not an empty directory"):
        Repository.clone(server.workdir, busy)
    assert (busy / "x").read_text() == "x"

    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(NotARepositoryError):
        Repository.clone(tmp_path / "empty-dir", tmp_path / "c1")
    with pytest.raises(InvalidInputError, match="unsupported remote URL"):
        Repository.clone("ftp://example.invalid/x", tmp_path / "c2")
    assert not (tmp_path / "c1").exists() and not (tmp_path / "c2").exists()


def test_clone_of_an_empty_repository(tmp_path: pathlib.Path) -> None:
    empty = Repository.init(tmp_path / "empty", default_branch="trunk", bare=True)
    clone = Repository.clone(empty.workdir, tmp_path / "clone")
    assert clone.head is None
    assert clone.head_branch == "trunk"
    # Its first commit can be pushed to the empty remote.
    c = commit_file(clone, "a.txt", "a\n", "first")
    result = clone.push()
    assert result.updates == [RefUpdate("trunk", None, c.id, "new")]
    assert empty.revparse("trunk") == c.id


def test_remotes_add_and_remove(tmp_path: pathlib.Path, server: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = Repository.init(tmp_path / "repo")
    assert repo.remotes == []
    added = repo.add_remote("up", server.workdir)
    assert added == Remote("up", str(server.workdir))
    assert hash(added) == hash(Remote("up", str(server.workdir)))
    assert repr(added) == f"Remote(name='up', url={str(server.workdir)!r})"
    # A relative path is stored absolute; an http URL loses its trailing slash.
    monkeypatch.chdir(tmp_path)
    assert repo.add_remote("rel", "server").url == str(server.workdir)
    assert repo.add_remote("web", "http://127.0.0.1:9/alice/repo/").url == "http://127.0.0.1:9/alice/repo"
    assert [r.name for r in repo.remotes] == ["rel", "up", "web"]
    assert "[remote.up]" in (repo.path / "config.toml").read_text()

    with pytest.raises(InvalidInputError, match="already exists"):
        repo.add_remote("up", server.workdir)
    with pytest.raises(InvalidRefNameError):
        repo.add_remote("bad name", server.workdir)
    with pytest.raises(InvalidInputError, match="unsupported remote URL"):
        repo.add_remote("ftp", "ftp://example.invalid/x")
    with pytest.raises(InvalidInputError, match="empty"):
        repo.add_remote("empty", "")

    # Removing a remote removes its remote-tracking refs.
    repo.fetch("up")
    assert repo.revparse("up/main") == server.revparse("main")
    repo.remove_remote("up")
    assert [r.name for r in repo.remotes] == ["rel", "web"]
    with pytest.raises(NotFoundError):
        repo.revparse("up/main")
    with pytest.raises(NotFoundError):
        repo.remove_remote("up")


def test_push_then_fetch(pair: tuple[Repository, Repository], server: Repository) -> None:
    a, b = pair
    base = server.revparse("main")
    c = commit_file(a, "f.txt", "f2\n", "second")

    pushed = a.push()
    assert isinstance(pushed, PushResult)
    assert pushed.updates == [RefUpdate("main", base, c.id, "fast-forward")]
    assert pushed.commits_written == 1
    assert pushed.snapshots_written == 1
    assert pushed.blobs_written == 1
    assert "PushResult" in repr(pushed)
    assert server.revparse("main") == c.id
    assert a.revparse("origin/main") == c.id
    # Nothing left to push: an empty result.
    again = a.push("origin", "main")
    assert again.updates == [] and again.commits_written == 0

    fetched = b.fetch()
    assert isinstance(fetched, FetchResult)
    assert fetched.remote == "origin"
    assert fetched.url == str(server.workdir)
    assert fetched.head == "main"
    assert fetched.refs == [RefUpdate("origin/main", base, c.id, "fast-forward")]
    assert fetched.commits_written == 1 and fetched.snapshots_written == 1 and fetched.blobs_written == 1
    assert "FetchResult" in repr(fetched)
    # A fetch moves only the remote-tracking ref.
    assert b.revparse("origin/main") == c.id
    assert b.revparse("main") == base
    assert (b.workdir / "f.txt").read_text() == "f1\n"

    nothing = b.fetch("origin")
    assert nothing.refs == [RefUpdate("origin/main", c.id, c.id, "up-to-date")]
    assert nothing.commits_written == 0


def test_push_several_branches_and_new_ones(pair: tuple[Repository, Repository], server: Repository) -> None:
    a, _ = pair
    a.create_branch("topic")
    c = commit_file(a, "h.txt", "h\n", "on main")
    result = a.push(branches=["main", "topic"])
    names = sorted((u.name, u.change) for u in result.updates)
    assert names == [("main", "fast-forward"), ("topic", "new")]
    assert server.revparse("main") == c.id
    assert "topic" in server.branches
    with pytest.raises(NotFoundError):
        a.push(branches="ghost")


def test_fetch_new_branches_and_prune(pair: tuple[Repository, Repository], server: Repository) -> None:
    a, _ = pair
    dev = server.create_branch("dev")
    result = a.fetch()
    assert RefUpdate("origin/dev", None, dev, "new") in result.refs
    assert a.revparse("origin/dev") == dev

    server.delete_branch("dev", force=True)
    kept = a.fetch()
    assert all(r.name != "origin/dev" for r in kept.refs)
    assert a.revparse("origin/dev") == dev  # kept without prune
    pruned = a.fetch(prune=True)
    assert RefUpdate("origin/dev", dev, None, "deleted") in pruned.refs
    with pytest.raises(NotFoundError):
        a.revparse("origin/dev")


def test_pull_fast_forward_merge_and_up_to_date(pair: tuple[Repository, Repository], server: Repository) -> None:
    a, b = pair
    c = commit_file(a, "f.txt", "f2\n", "second")
    a.push()

    ff = b.pull()
    assert isinstance(ff, PullResult)
    assert ff.kind == "fast-forward"
    assert ff.commit == c and ff.conflicts == [] and ff.paths == []
    assert isinstance(ff.fetch, FetchResult) and ff.fetch.commits_written == 1
    assert "PullResult" in repr(ff)
    assert (b.workdir / "f.txt").read_text() == "f2\n"
    assert b.head == c

    # Both sides change different files: a merge commit by the author.
    ca = commit_file(a, "f.txt", "f3\n", "a changes f")
    a.push()
    cb = commit_file(b, "g.txt", "g2\n", "b changes g")
    merged = b.pull(author="bob")
    assert merged.kind == "merged"
    assert merged.commit is not None
    assert merged.commit.parents == [cb.id, ca.id]
    assert merged.commit.author == "bob"
    assert (b.workdir / "f.txt").read_text() == "f3\n"
    assert (b.workdir / "g.txt").read_text() == "g2\n"
    b.push()
    assert server.revparse("main") == merged.commit.id

    back = a.pull("origin", "main")
    assert back.kind == "fast-forward" and back.commit == merged.commit
    up = a.pull()
    assert up.kind == "up-to-date" and up.commit is None
    assert up.fetch.refs[0].change == "up-to-date"


def test_pull_conflicts(pair: tuple[Repository, Repository]) -> None:
    a, b = pair
    commit_file(a, "f.txt", "from a\n", "a")
    a.push()
    ours = commit_file(b, "f.txt", "from b\n", "b")
    result = b.pull()
    assert result.kind == "conflicts"
    assert result.conflicts == ["f.txt"] and result.paths == ["f.txt"]
    assert result.commit is None
    assert "<<<<<<<" in (b.workdir / "f.txt").read_text()
    b.merge_abort()
    assert b.head == ours
    assert (b.workdir / "f.txt").read_text() == "from b\n"


def test_pull_into_an_unborn_branch(tmp_path: pathlib.Path, server: Repository) -> None:
    repo = Repository.init(tmp_path / "fresh")
    repo.add_remote("origin", server.workdir)
    result = repo.pull()
    assert result.kind == "fast-forward"
    assert repo.head == server.head
    assert (repo.workdir / "f.txt").read_text() == "f1\n"


def test_non_fast_forward_push_is_rejected(pair: tuple[Repository, Repository], server: Repository) -> None:
    a, b = pair
    c = commit_file(a, "f.txt", "from a\n", "a")
    a.push()
    mine = commit_file(b, "g.txt", "from b\n", "b")

    # b has not fetched: it does not even know the remote's commit.
    with pytest.raises(RejectedError, match="fetch first") as ei:
        b.push()
    assert isinstance(ei.value, MuseError)
    assert "refs/heads/main" in str(ei.value)
    assert server.revparse("main") == c.id

    b.fetch()
    with pytest.raises(RejectedError, match="non-fast-forward"):
        b.push()
    assert server.revparse("main") == c.id
    back = pickle.loads(pickle.dumps(ei.value))
    assert type(back) is RejectedError and back.args == ei.value.args

    forced = b.push(force=True)
    assert forced.updates == [RefUpdate("main", c.id, mine.id, "forced")]
    assert server.revparse("main") == mine.id
    assert b.revparse("origin/main") == mine.id


def test_push_to_the_checked_out_branch_of_a_non_bare_repository(tmp_path: pathlib.Path) -> None:
    server = make_server(tmp_path / "server", bare=False)
    clone = Repository.clone(server.workdir, tmp_path / "clone")
    commit_file(clone, "f.txt", "f2\n", "second")
    with pytest.raises(RejectedError, match="checked-out branch"):
        clone.push()
    # Another branch is fine.
    clone.create_branch("feature")
    result = clone.push(branches="feature")
    assert [(u.name, u.change) for u in result.updates] == [("feature", "new")]
    assert server.revparse("feature") == clone.revparse("HEAD")


def test_unknown_remote_raises(pair: tuple[Repository, Repository]) -> None:
    a, _ = pair
    for call in (lambda: a.fetch("nope"), lambda: a.push("nope"), lambda: a.pull("nope")):
        with pytest.raises(NotFoundError, match="remote not found: nope"):
            call()


def test_a_remote_that_is_gone(pair: tuple[Repository, Repository], server: Repository) -> None:
    a, _ = pair
    shutil.rmtree(server.workdir)
    with pytest.raises(NotARepositoryError):
        a.fetch()


def test_unreachable_url_raises_remote_error(tmp_path: pathlib.Path) -> None:
    url = "http://127.0.0.1:1/alice/repo"  # nothing listens on port 1
    repo = Repository.init(tmp_path / "repo")
    repo.add_remote("web", url)
    with pytest.raises(RemoteError) as ei:
        repo.fetch("web")
    e = ei.value
    assert isinstance(e, OSError) and isinstance(e, MuseError)
    assert e.url == url and e.status is None
    assert url in str(e)
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is RemoteError and (back.url, back.status) == (url, None)

    with pytest.raises(RemoteError):
        Repository.clone(url, tmp_path / "clone")
    assert not (tmp_path / "clone").exists()


class _NotFound(http.server.BaseHTTPRequestHandler):
    """Answers every request 404 with muse serve's JSON error body."""

    def _answer(self) -> None:
        body = json.dumps({"error": "no such repository"}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture
def http_404() -> Iterator[str]:
    """The URL of a repository on a local HTTP server that answers 404."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/alice/missing"
    finally:
        srv.shutdown()
        srv.server_close()


def test_http_error_status_raises_remote_error(tmp_path: pathlib.Path, http_404: str) -> None:
    repo = Repository.init(tmp_path / "repo")
    repo.add_remote("origin", http_404)
    with pytest.raises(RemoteError, match="no such repository") as ei:
        repo.fetch()
    assert ei.value.status == 404 and ei.value.url == http_404
    with pytest.raises(RemoteError):
        repo.push(branches=[])  # unborn HEAD's branch: the refs request fails first
    with pytest.raises(RemoteError):
        Repository.clone(http_404, tmp_path / "clone")


def test_result_reprs(pair: tuple[Repository, Repository]) -> None:
    a, b = pair
    commit_file(a, "f.txt", "f2\n", "second")
    assert repr(a.push()).startswith("<PushResult updates=['main']")
    assert repr(b.fetch()).startswith("<FetchResult remote='origin' refs=1 changed=1")
    assert repr(b.pull()).startswith("<PullResult kind='fast-forward'")
    u = RefUpdate("main", None, "sha256:" + "0" * 64, "new")
    assert repr(u) == f"RefUpdate(name='main', old=None, new={'sha256:' + '0' * 64!r}, change='new')"
    assert u == RefUpdate(u.name, u.old, u.new, u.change)
    assert hash(u) == hash(RefUpdate(u.name, u.old, u.new, u.change))
