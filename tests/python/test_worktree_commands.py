"""`muse reset`, `restore`, `rm` and `mv` through the CLI (git's habits:
the same flags, exit 1 for refused input, nothing lost by accident)."""

from __future__ import annotations

import json
import pathlib

import pytest

from helpers import Cli, read_tree, require_muse

require_muse()
muse = Cli(timeout=120)


@pytest.fixture
def wt(tmp_path: pathlib.Path) -> pathlib.Path:
    muse.ok(tmp_path, "init")
    muse.commit_files(tmp_path, {"a.txt": "1\n", "d/b.txt": "b\n"}, "one")
    muse.commit_files(tmp_path, {"a.txt": "2\n"}, "two")
    return tmp_path


def status(root: pathlib.Path) -> dict:
    return json.loads(muse.ok(root, "status", "--json").stdout)


def test_reset_modes(wt: pathlib.Path) -> None:
    muse.ok(wt, "reset", "--soft", "HEAD~1")
    st = status(wt)
    assert [s["path"] for s in st["staged"]] == ["a.txt"] and (wt / "a.txt").read_text() == "2\n"
    muse.ok(wt, "reset", "HEAD")  # --mixed: unstaged
    st = status(wt)
    assert st["staged"] == [] and [s["path"] for s in st["unstaged"]] == ["a.txt"]
    out = muse.ok(wt, "reset", "--hard").stdout
    assert out.startswith("HEAD is now at ") and out.rstrip().endswith("one")
    assert read_tree(wt) == {"a.txt": "1\n", "d/b.txt": "b\n"} and status(wt)["clean"]
    r = muse(wt, "reset", "--soft", "--hard")
    assert r.returncode == 1 and "cannot be used with" in r.stderr


def test_restore_worktree_staged_and_source(wt: pathlib.Path) -> None:
    (wt / "a.txt").write_text("edit\n")
    muse.ok(wt, "add", "a.txt")
    muse.ok(wt, "restore", "--staged", "a.txt")
    assert status(wt)["staged"] == [] and (wt / "a.txt").read_text() == "edit\n"
    muse.ok(wt, "restore", "a.txt")
    assert (wt / "a.txt").read_text() == "2\n"
    muse.ok(wt, "restore", "--source", "HEAD~1", ".")
    assert (wt / "a.txt").read_text() == "1\n"
    r = muse(wt, "restore", "nope.txt")
    assert r.returncode == 1 and "did not match" in r.stderr


def test_rm_and_mv(wt: pathlib.Path) -> None:
    (wt / "a.txt").write_text("local\n")
    r = muse(wt, "rm", "a.txt")
    assert r.returncode == 1 and "local modifications" in r.stderr and (wt / "a.txt").exists()
    muse.ok(wt, "rm", "--cached", "a.txt")
    assert (wt / "a.txt").read_text() == "local\n"
    assert status(wt)["staged"] == [{"path": "a.txt", "status": "deleted"}]
    muse.ok(wt, "reset", "--hard")
    assert muse.ok(wt, "rm", "d").stdout.strip() == "rm 'd/b.txt'"
    assert not (wt / "d").exists()
    muse.ok(wt, "reset", "--hard")
    moved = json.loads(muse.ok(wt, "mv", "a.txt", "c.txt", "--json").stdout)["moved"]
    assert moved == [{"from": "a.txt", "to": "c.txt"}]
    (wt / "e").mkdir()
    muse.ok(wt, "mv", "d", "e")
    muse.ok(wt, "commit", "-m", "moved")
    assert read_tree(wt) == {"c.txt": "2\n", "e/d/b.txt": "b\n"} and status(wt)["clean"]
    r = muse(wt, "mv", "c.txt", "e/d/b.txt")
    assert r.returncode == 1 and "exists" in r.stderr
    r = muse(wt, "mv", "c.txt", ".muse/c.txt")
    assert r.returncode == 1
    assert (wt / "c.txt").read_text() == "2\n"


def test_stash_push_list_pop_apply_drop(wt: pathlib.Path) -> None:
    assert muse.ok(wt, "stash").stdout.strip() == "No local changes to save"
    (wt / "a.txt").write_text("local\n")
    (wt / "u.txt").write_text("untracked\n")
    muse.ok(wt, "stash", "-m", "first try")
    assert (wt / "a.txt").read_text() == "2\n" and (wt / "u.txt").exists()
    assert muse.ok(wt, "stash", "list").stdout.strip() == "stash@{0}: On main: first try"
    (wt / "a.txt").write_text("second\n")
    muse.ok(wt, "stash", "push")
    entries = json.loads(muse.ok(wt, "stash", "list", "--json").stdout)["entries"]
    assert [e["index"] for e in entries] == [0, 1] and entries[1]["message"] == "On main: first try"
    muse.ok(wt, "stash", "apply", "stash@{1}")
    assert (wt / "a.txt").read_text() == "local\n"
    assert len(json.loads(muse.ok(wt, "stash", "list", "--json").stdout)["entries"]) == 2
    muse.ok(wt, "reset", "--hard")
    muse.ok(wt, "stash", "pop")
    assert (wt / "a.txt").read_text() == "second\n"
    assert muse.ok(wt, "stash", "list").stdout.strip() == "stash@{0}: On main: first try"
    muse.ok(wt, "stash", "drop", "0")
    assert muse.ok(wt, "stash", "list").stdout == ""
    r = muse(wt, "stash", "drop")
    assert r.returncode == 1 and "stash@{0}" in r.stderr
