"""`muse show` (a commit's header and patch, which `git apply` accepts) and
`muse log --first-parent` / `-- paths`."""

from __future__ import annotations

import json
import pathlib
import subprocess

from helpers import Cli, require_muse

require_muse()
muse = Cli(timeout=120)


def test_show_prints_the_commit_and_a_patch_git_applies(tmp_path: pathlib.Path) -> None:
    repo = tmp_path / "r"
    muse.ok(tmp_path, "init", str(repo))
    muse.commit_files(repo, {"a.txt": "one\ntwo\nthree\n", "b.txt": "bee\n"}, "first")
    muse.commit_files(repo, {"a.txt": "one\n2\nthree\n", "c.txt": "new\n"}, "second\n\nbody line")
    out = muse.ok(repo, "show").stdout
    assert out.startswith("commit sha256:") and "    second\n" in out and "    body line\n" in out
    assert "diff --git a/a.txt b/a.txt\n" in out and "-two\n+2\n" in out and "new file mode 100644" in out
    # The patch part applies to the first commit's tree and gives the second's.
    patch = out[out.index("diff --git"):]
    work = tmp_path / "w"
    work.mkdir()
    (work / "a.txt").write_text("one\ntwo\nthree\n")
    (work / "b.txt").write_text("bee\n")
    r = subprocess.run(["git", "apply", "-"], cwd=work, input=patch, text=True, capture_output=True)
    assert r.returncode == 0, r.stderr
    assert (work / "a.txt").read_text() == "one\n2\nthree\n" and (work / "c.txt").read_text() == "new\n"
    first = json.loads(muse.ok(repo, "show", "HEAD~1", "--json").stdout)
    assert first["commit"]["message"] == "first"
    assert [c["path"] for c in first["changes"]] == ["a.txt", "b.txt"]
    assert muse.ok(repo, "show", "--name-status").stdout.rstrip().endswith("M\ta.txt\nA\tc.txt")


def test_log_first_parent_and_paths(tmp_path: pathlib.Path) -> None:
    muse.ok(tmp_path, "init")
    muse.commit_files(tmp_path, {"a.txt": "1\n", "d/b.txt": "b\n"}, "base")
    muse.ok(tmp_path, "checkout", "-b", "topic")
    muse.commit_files(tmp_path, {"d/b.txt": "b2\n"}, "topic d")
    muse.ok(tmp_path, "checkout", "main")
    muse.commit_files(tmp_path, {"a.txt": "2\n"}, "main a")
    muse.ok(tmp_path, "merge", "topic")
    subjects = lambda *args: [line.split(" ", 1)[1] for line in muse.ok(tmp_path, "log", "--oneline", *args).stdout.splitlines()]  # noqa: E731
    assert len(subjects()) == 4
    assert "topic d" not in subjects("--first-parent") and len(subjects("--first-parent")) == 3
    assert subjects("--", "d") == ["topic d", "base"]
    assert subjects("main", "--", "a.txt") == ["main a", "base"]


def test_log_graph(tmp_path: pathlib.Path) -> None:
    muse.ok(tmp_path, "init")
    muse.commit_files(tmp_path, {"a.txt": "1\n"}, "base")
    muse.ok(tmp_path, "checkout", "-b", "topic")
    muse.commit_files(tmp_path, {"b.txt": "b\n"}, "topic 1")
    muse.ok(tmp_path, "checkout", "main")
    muse.commit_files(tmp_path, {"c.txt": "c\n"}, "main 1")
    muse.ok(tmp_path, "merge", "topic")
    text = muse.ok(tmp_path, "log", "--graph", "--oneline").stdout.splitlines()
    assert len(text) == 6, text
    assert text[0].startswith("* ") and text[0].endswith("Merge branch 'topic' into main")
    assert text[1] == "| \\"
    assert text[2].startswith("* | ") and text[2].endswith("main 1")
    assert text[3].startswith("| * ") and text[3].endswith("topic 1")
    assert text[4] == "| /"
    assert text[5].startswith("* ") and text[5].endswith("base")
