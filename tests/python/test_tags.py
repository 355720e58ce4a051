"""`muse tag` (create, list, delete, revisions) and the tags `import-git`
brings."""

from __future__ import annotations

import json
import pathlib

from helpers import Cli, require_muse
from test_import_git import commit_all, git

require_muse()
muse = Cli(timeout=120)


def test_tag_create_list_resolve_delete(tmp_path: pathlib.Path) -> None:
    assert muse(tmp_path, "init").returncode == 0
    muse.commit_files(tmp_path, {"a.txt": "1\n"}, "one")
    muse.commit_files(tmp_path, {"a.txt": "2\n"}, "two")
    assert muse.ok(tmp_path, "tag", "v1", "HEAD~1").stdout.startswith("Tagged ")
    muse.ok(tmp_path, "tag", "v2")
    assert muse.ok(tmp_path, "tag").stdout.split() == ["v1", "v2"]
    tags = json.loads(muse.ok(tmp_path, "tag", "--json").stdout)["tags"]
    log = json.loads(muse.ok(tmp_path, "log", "--json").stdout)["commits"]
    assert [t["commit"] for t in tags] == [log[1]["commit_id"], log[0]["commit_id"]]
    # A tag is a revision everywhere one is taken.
    assert json.loads(muse.ok(tmp_path, "log", "--json", "v1").stdout)["commits"][0]["message"] == "one"
    r = muse(tmp_path, "tag", "v1")
    assert r.returncode == 1 and "already exists" in r.stderr
    muse.ok(tmp_path, "tag", "-f", "v1", "v2")
    assert muse.ok(tmp_path, "tag", "-d", "v1").stdout.startswith("Deleted tag v1")
    assert muse(tmp_path, "tag", "-d", "v1").returncode == 1
    assert muse.ok(tmp_path, "tag").stdout.split() == ["v2"]


def test_import_git_tags_are_listed(tmp_path: pathlib.Path) -> None:
    g = tmp_path / "g"
    g.mkdir()
    git(g, "init", "-q", "-b", "main")
    (g / "a.txt").write_text("a\n")
    commit_all(g, "first")
    git(g, "tag", "v0.1")
    (g / "a.txt").write_text("b\n")
    commit_all(g, "second")
    m = tmp_path / "m"
    assert muse(tmp_path, "init", str(m)).returncode == 0
    assert muse(m, "import-git", str(g)).returncode == 0
    assert muse.ok(m, "tag").stdout.split() == ["v0.1"]
    first = json.loads(muse.ok(m, "log", "--json", "v0.1").stdout)["commits"][0]
    assert first["message"].strip() == "first"


def test_every_revision_form_through_the_cli(tmp_path: pathlib.Path) -> None:
    """HEAD, @, branch, tag, full IDs with and without sha256:, short
    prefixes, ~n, ^, ^2, chained; an ambiguous prefix lists candidates."""
    muse.ok(tmp_path, "init")
    muse.commit_files(tmp_path, {"a.txt": "1\n"}, "one")
    muse.ok(tmp_path, "checkout", "-b", "topic")
    muse.commit_files(tmp_path, {"b.txt": "b\n"}, "topic")
    muse.ok(tmp_path, "checkout", "main")
    muse.commit_files(tmp_path, {"a.txt": "2\n"}, "two")
    muse.ok(tmp_path, "merge", "topic")
    muse.ok(tmp_path, "tag", "v1", "HEAD~1")
    log = {c["message"]: c["commit_id"] for c in json.loads(muse.ok(tmp_path, "log", "--json").stdout)["commits"]}
    merge = next(v for k, v in log.items() if k.startswith("Merge"))

    def first(rev: str) -> str:
        return json.loads(muse.ok(tmp_path, "log", "--json", "-n", "1", rev).stdout)["commits"][0]["commit_id"]

    assert first("HEAD") == first("@") == first("main") == merge
    assert first(merge) == first(merge[7:]) == first(merge[7:13]) == merge
    assert first("v1") == first("HEAD~1") == first("HEAD^") == first("main^1") == log["two"]
    assert first("HEAD^2") == first("topic") == log["topic"]
    assert first("HEAD~2") == first("HEAD^2~1") == first("v1~1") == log["one"]
    for bad in ("nope", "HEAD~9", "HEAD^3"):
        r = muse(tmp_path, "log", bad)
        assert r.returncode == 1, (bad, r.stderr)
    r = muse(tmp_path, "log", "HEAD~x")
    assert r.returncode == 1 and "invalid revision" in r.stderr
    # checkout of a tag or a commit detaches HEAD; show takes any form too.
    muse.ok(tmp_path, "checkout", "v1")
    assert json.loads(muse.ok(tmp_path, "status", "--json").stdout)["branch"] is None
    assert json.loads(muse.ok(tmp_path, "show", "--json", merge[7:15]).stdout)["commit"]["commit_id"] == merge
