"""`muse diff` (git's unified patch, --cached, --stat, --name-only,
--name-status, paths, --json, --color, --exit-code) through the CLI, and
``Repository.diff()``'s ``patch`` through the Python package."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess

import pytest

import muse
from helpers import Cli, read_tree, require_muse, write_files

require_muse()
cli = Cli(timeout=60)

FILES = {
    "a.txt": "".join(f"line {i}\n" for i in range(1, 21)),
    "src/b.py": "def f():\n    return 1\n",
    "gone.txt": "bye\n",
    "name with space.txt": "x\n",
}


@pytest.fixture
def wt(tmp_path: pathlib.Path) -> pathlib.Path:
    """`first`: FILES committed on main."""
    return cli.new_repo(tmp_path / "wt", FILES)


def git_apply(tree: pathlib.Path, patch: str) -> None:
    """Applies ``patch`` to the plain directory ``tree`` with `git apply`."""
    r = subprocess.run(["git", "apply", "--whitespace=nowarn", "-"], cwd=tree, input=patch, text=True,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, (r.stderr, patch)


def copy_tree(src: pathlib.Path, dst: pathlib.Path) -> pathlib.Path:
    """The working tree of ``src`` without `.muse/`, copied to ``dst``."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".muse"))
    return dst


def test_patch_between_commits_applies_with_git_apply(wt: pathlib.Path, tmp_path: pathlib.Path) -> None:
    old_tree = copy_tree(wt, tmp_path / "old")
    new_a = FILES["a.txt"].replace("line 3\n", "line three\n").replace("line 17\n", "") + "tail"
    (wt / "gone.txt").unlink()
    write_files(wt, {"a.txt": new_a, "src/b.py": "def f():\n    return 2\n", "new/c.txt": "c\nc\n",
                     "name with space.txt": "x\ny\n", "empty": ""})
    cli.ok(wt, "add", ".")
    cli.ok(wt, "commit", "-m", "second")
    patch = cli.ok(wt, "diff", "HEAD~1", "HEAD").stdout
    assert patch.startswith("diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,6 +1,6 @@\n")
    assert "+++ b/name with space.txt\t\n" in patch
    assert "\\ No newline at end of file\n" in patch
    assert "diff --git a/empty b/empty\nnew file mode 100644\ndiff --git a/gone.txt" in patch
    # git's order: sorted by path.
    headers = [line.split(" b/")[0][len("diff --git a/"):] for line in patch.splitlines()
               if line.startswith("diff --git ")]
    assert headers == sorted(headers) and len(headers) == 6
    git_apply(old_tree, patch)
    assert read_tree(old_tree) == read_tree(wt)
    # -U0 patches apply too (git apply --unidiff-zero), -U10 as well.
    zero = cli.ok(wt, "diff", "-U0", "HEAD~1", "HEAD").stdout
    assert "@@ -3 +3 @@ line 2\n-line 3\n+line three\n" in zero
    assert len(cli.ok(wt, "diff", "--unified=10", "HEAD~1", "HEAD").stdout) > len(patch)


def test_cached_and_plain_diff(wt: pathlib.Path) -> None:
    (wt / "a.txt").write_text(FILES["a.txt"] + "staged\n")
    cli.ok(wt, "add", "a.txt")
    (wt / "src" / "b.py").write_text("def f():\n    return 3\n")
    (wt / "untracked.txt").write_text("?\n")
    plain = cli.ok(wt, "diff").stdout
    assert plain == ("diff --git a/src/b.py b/src/b.py\n--- a/src/b.py\n+++ b/src/b.py\n"
                     "@@ -1,2 +1,2 @@\n def f():\n-    return 1\n+    return 3\n")
    cached = cli.ok(wt, "diff", "--cached").stdout
    assert cached == ("diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n"
                      "@@ -18,3 +18,4 @@ line 17\n line 18\n line 19\n line 20\n+staged\n")
    assert cli.ok(wt, "diff", "--staged").stdout == cached
    assert cli.ok(wt, "diff", "--cached", "HEAD").stdout == cached
    # One revision: against the working tree's tracked files (both
    # changes, not the untracked file).
    assert cli.ok(wt, "diff", "--name-only", "HEAD").stdout == "a.txt\nsrc/b.py\n"
    assert cli.ok(wt, "diff", "--name-status", "--cached").stdout == "M\ta.txt\n"
    # --exit-code: 1 with differences, 0 without.
    assert cli(wt, "diff", "--exit-code").returncode == 1
    assert cli(wt, "diff").returncode == 0
    cli.ok(wt, "add", ".")
    assert cli.ok(wt, "diff", "--exit-code").stdout == ""
    r = cli(wt, "diff", "--cached", "HEAD", "HEAD")
    assert r.returncode == 1 and "at most one revision" in r.stderr
    assert cli(wt, "diff", "nope").returncode == 1


def test_stat(wt: pathlib.Path) -> None:
    (wt / "a.txt").write_text(FILES["a.txt"].replace("line 1\n", "one\n") + "more\n")
    (wt / "gone.txt").unlink()
    (wt / "bin.dat").write_bytes(b"\0\1\2")
    cli.ok(wt, "add", ".")
    stat = cli.ok(wt, "diff", "--cached", "--stat").stdout
    assert stat == (" a.txt    |   3 ++-\n"
                    " bin.dat  | Bin 0 -> 3 bytes\n"
                    " gone.txt |   1 -\n"
                    " 3 files changed, 2 insertions(+), 2 deletions(-)\n")
    assert cli.ok(wt, "diff", "--stat").stdout == ""


def test_name_only_and_paths(wt: pathlib.Path) -> None:
    (wt / "a.txt").write_text("changed\n")
    (wt / "src" / "b.py").write_text("changed\n")
    (wt / "gone.txt").unlink()
    assert cli.ok(wt, "diff", "--name-only").stdout == "a.txt\ngone.txt\nsrc/b.py\n"
    assert cli.ok(wt, "diff", "--name-only", "--", "src").stdout == "src/b.py\n"
    assert cli.ok(wt, "diff", "--name-only", "--", "gone.txt", "a.txt").stdout == "a.txt\ngone.txt\n"
    assert cli.ok(wt, "diff", "--name-status", "HEAD", "--", "gone.txt").stdout == "D\tgone.txt\n"
    # Paths are relative to the current directory, as in git.
    assert cli.ok(wt / "src", "diff", "--name-only", "--", ".").stdout == "src/b.py\n"
    assert cli.ok(wt, "diff", "--", "nothing/here").stdout == ""
    patch = cli.ok(wt, "diff", "--", "src/b.py").stdout
    assert patch.startswith("diff --git a/src/b.py b/src/b.py\n") and "a.txt" not in patch


def test_binary(wt: pathlib.Path) -> None:
    (wt / "bin.dat").write_bytes(b"\0\1\2")
    cli.ok(wt, "add", ".")
    cli.ok(wt, "commit", "-m", "bin")
    (wt / "bin.dat").write_bytes(b"\0\1\3")
    assert cli.ok(wt, "diff").stdout == "diff --git a/bin.dat b/bin.dat\nBinary files a/bin.dat and b/bin.dat differ\n"
    assert cli.ok(wt, "diff", "HEAD~1", "HEAD").stdout == (
        "diff --git a/bin.dat b/bin.dat\nnew file mode 100644\nBinary files /dev/null and b/bin.dat differ\n")
    changes = json.loads(cli.ok(wt, "diff", "--json").stdout)["changes"]
    assert [(c["path"], c["binary"], c["added"], c["deleted"]) for c in changes] == [("bin.dat", True, None, None)]


def test_json_patch_field(wt: pathlib.Path) -> None:
    (wt / "a.txt").write_text(FILES["a.txt"].replace("line 10\n", "ten\n"))
    (wt / "gone.txt").unlink()
    out = json.loads(cli.ok(wt, "diff", "--json").stdout)
    a, gone = out["changes"]
    assert (a["path"], a["status"], a["added"], a["deleted"], a["binary"]) == ("a.txt", "modified", 1, 1, False)
    assert a["old"].startswith("sha256:") and a["new"].startswith("sha256:")
    assert a["patch"] == cli.ok(wt, "diff", "--", "a.txt").stdout
    assert a["patch"].endswith("@@ -7,7 +7,7 @@ line 6\n line 7\n line 8\n line 9\n-line 10\n+ten\n line 11\n line 12\n"
                               " line 13\n")
    assert (gone["status"], gone["new"], gone["added"], gone["deleted"]) == ("deleted", None, 0, 1)
    assert gone["patch"] == ("diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n"
                             "+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n")


def test_color(wt: pathlib.Path) -> None:
    (wt / "a.txt").write_text(FILES["a.txt"].replace("line 1\n", "one\n"))
    colored = cli.ok(wt, "diff", "--color=always").stdout
    assert colored.startswith("\x1b[1mdiff --git a/a.txt b/a.txt\x1b[m\n\x1b[1m--- a/a.txt\x1b[m\n")
    assert "\x1b[36m@@ -1,4 +1,4 @@\x1b[m\n\x1b[31m-line 1\x1b[m\n\x1b[32m+one\x1b[m\n line 2\n" in colored
    # auto: not a terminal here, so no colour.
    assert "\x1b" not in cli.ok(wt, "diff").stdout
    assert "\x1b" not in cli.ok(wt, "diff", "--color=never").stdout
    assert "\x1b" not in cli.ok(wt, "diff", "--color=always", "--json").stdout


def test_python_diff_patch(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "py"
    repo = muse.Repository.init(str(root))
    write_files(root, {"a.txt": "one\ntwo\n", "b.txt": "bee\n"})
    repo.add_all()
    c1 = repo.commit("first")
    write_files(root, {"a.txt": "one\n2\n"})
    (root / "b.txt").unlink()
    # HEAD vs the working tree (unchanged meaning), each entry with its patch.
    d = repo.diff()
    assert [(e.path, e.status) for e in d] == [("a.txt", "modified"), ("b.txt", "deleted")]
    assert d[0].patch == "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n"
    assert d[1].patch.endswith("+++ /dev/null\n@@ -1 +0,0 @@\n-bee\n")
    # The patch is left out of equality, hash and repr.
    assert d[0] == muse.DiffEntry("a.txt", "modified", d[0].old_id, d[0].new_id)
    assert hash(d[0]) == hash(muse.DiffEntry("a.txt", "modified", d[0].old_id, d[0].new_id, patch="x"))
    assert "patch" not in repr(d[0])
    assert muse.DiffEntry("p", "added").patch == ""
    # cached: HEAD (or a) vs the index.
    assert repo.diff(cached=True) == []
    repo.add("a.txt")
    staged = repo.diff(cached=True)
    assert [(e.path, e.status) for e in staged] == [("a.txt", "modified")]
    assert staged[0].patch == d[0].patch
    assert [e.path for e in repo.diff(c1.id, cached=True)] == ["a.txt"]
    assert repo.diff(cached=True, context_lines=0)[0].patch.endswith("@@ -2 +2 @@ one\n-two\n+2\n")
    with pytest.raises(ValueError):
        repo.diff("HEAD", "HEAD", cached=True)
