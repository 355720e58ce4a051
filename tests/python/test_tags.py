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
