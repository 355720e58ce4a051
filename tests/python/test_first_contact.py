"""First contact: history arriving in a repository without commits
(``import-git``, ``bundle apply``) is checked out, on the branch it comes
with, as git checks out after a clone; files already in place are left
alone, and a file in the way refuses the checkout without losing it."""

from __future__ import annotations

import json
import pathlib

from helpers import Cli, read_tree, require_muse
from test_import_git import commit_all, git

require_muse()
muse = Cli(timeout=120)


def master_repo(g: pathlib.Path) -> pathlib.Path:
    g.mkdir()
    git(g, "init", "-q", "-b", "master")
    (g / "a.txt").write_text("alpha\n")
    (g / "d").mkdir()
    (g / "d" / "b.txt").write_text("beta\n")
    commit_all(g, "first")
    (g / "a.txt").write_text("alpha 2\n")
    commit_all(g, "second")
    git(g, "branch", "other")
    return g


def test_import_git_follows_the_source_head_branch_and_checks_it_out(tmp_path: pathlib.Path) -> None:
    g = master_repo(tmp_path / "g")
    m = tmp_path / "m"
    assert muse(tmp_path, "init", str(m)).returncode == 0
    r = muse(m, "import-git", str(g), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert (s["checked_out"], s["checkout_refused"]) == ("master", None)
    assert read_tree(m) == {"a.txt": "alpha 2\n", "d/b.txt": "beta\n"}
    st = json.loads(muse(m, "status", "--json").stdout)
    assert st["branch"] == "master" and st["clean"] is True, st
    assert "second" in muse(m, "log", "--oneline").stdout
    # A second import (history already there) checks nothing out again.
    (m / "a.txt").write_text("local edit\n")
    r = muse(m, "import-git", str(g), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["checked_out"] is None
    assert (m / "a.txt").read_text() == "local edit\n"


def test_import_from_inside_the_git_checkout_rewrites_nothing(tmp_path: pathlib.Path) -> None:
    g = master_repo(tmp_path / "g")
    before = {p: p.stat().st_mtime_ns for p in g.rglob("*.txt")}
    assert muse(g, "init").returncode == 0
    r = muse(g, "import-git", ".", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["checked_out"] == "master"
    assert {p: p.stat().st_mtime_ns for p in g.rglob("*.txt")} == before
    assert json.loads(muse(g, "status", "--json").stdout)["clean"] is True


def test_a_file_in_the_way_refuses_the_checkout_and_is_kept(tmp_path: pathlib.Path) -> None:
    g = master_repo(tmp_path / "g")
    m = tmp_path / "m"
    assert muse(tmp_path, "init", str(m)).returncode == 0
    (m / "a.txt").write_text("mine, not imported\n")
    r = muse(m, "import-git", str(g), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["checked_out"] is None and "a.txt" in s["checkout_refused"]
    assert (m / "a.txt").read_text() == "mine, not imported\n"
    assert not (m / "d").exists()
    # The history is in: a forced checkout takes it.
    assert muse(m, "checkout", "--force", "master").returncode == 0
    assert read_tree(m) == {"a.txt": "alpha 2\n", "d/b.txt": "beta\n"}


def test_bundle_apply_into_an_empty_repository_takes_its_branches(tmp_path: pathlib.Path) -> None:
    src = tmp_path / "src"
    assert muse(tmp_path, "init", str(src), "--default-branch", "trunk").returncode == 0
    (src / "f.txt").write_text("one\n")
    assert muse(src, "add", "-A").returncode == 0
    assert muse(src, "commit", "-m", "one").returncode == 0
    bundle = tmp_path / "b.mpack"
    assert muse(src, "bundle", "create", str(bundle), "trunk").returncode == 0, "bundle create"
    dst = tmp_path / "dst"
    assert muse(tmp_path, "init", str(dst)).returncode == 0  # HEAD on an unborn main
    r = muse(dst, "bundle", "apply", str(bundle), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert (s["refs_updated"], s["checked_out"]) == (["trunk"], "trunk")
    assert read_tree(dst) == {"f.txt": "one\n"}
    st = json.loads(muse(dst, "status", "--json").stdout)
    assert st["branch"] == "trunk" and st["clean"] is True, st
