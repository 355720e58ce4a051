"""`muse import-git` driven through real subprocesses on a git repository
built with `git` at test time: --json summary, --verify, incremental re-run,
and checkout of the imported history reproducing the exact files."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess

import pytest

from helpers import MUSE, Cli

GIT = shutil.which("git") or ""
if not (MUSE and GIT):  # missing tools are a failure, not a skip
    raise RuntimeError("needs the muse console script and git on PATH (./scripts/install.sh; test.sh)")

muse = Cli(timeout=120)


def git(cwd: pathlib.Path, *args: str) -> str:
    e = dict(os.environ, GIT_AUTHOR_NAME="T Ester", GIT_AUTHOR_EMAIL="t@example.com",
             GIT_COMMITTER_NAME="T Ester", GIT_COMMITTER_EMAIL="t@example.com",
             GIT_AUTHOR_DATE="2024-01-02T03:04:05+01:00", GIT_COMMITTER_DATE="2024-01-02T03:04:05+01:00",
             GIT_CONFIG_NOSYSTEM="1", HOME=str(cwd))
    r = subprocess.run([GIT, "-C", str(cwd), "-c", "commit.gpgsign=false", *args],
                       capture_output=True, text=True, env=e, timeout=60)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout.strip()


def commit_all(g: pathlib.Path, msg: str) -> str:
    git(g, "add", "-A")
    git(g, "commit", "-q", "-m", msg)
    return git(g, "rev-parse", "HEAD")


@pytest.fixture
def gitrepo(tmp_path: pathlib.Path) -> pathlib.Path:
    g = tmp_path / "g"
    g.mkdir()
    git(g, "init", "-q", "-b", "main")
    (g / "a.txt").write_text("alpha\n")
    (g / "bin.dat").write_bytes(bytes(range(256)) * 4)
    commit_all(g, "first")
    (g / "dir with space").mkdir()
    (g / "dir with space" / "ü 日本.txt").write_text("ü\n", encoding="utf-8")
    os.symlink("a.txt", g / "link")
    commit_all(g, "second")
    git(g, "checkout", "-q", "-b", "side")
    (g / "side.txt").write_text("side\n")
    commit_all(g, "side")
    git(g, "checkout", "-q", "main")
    git(g, "rm", "-q", "bin.dat")
    commit_all(g, "delete")
    git(g, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    git(g, "tag", "v1")
    return g


def test_import_git_verify_json_incremental_and_checkout(tmp_path: pathlib.Path, gitrepo: pathlib.Path) -> None:
    m = tmp_path / "m"
    assert muse(tmp_path, "init", str(m)).returncode == 0
    r = muse(m, "import-git", str(gitrepo), "--verify", "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["commits"] == 5 and s["verified"] is True and s["problems"] == []
    assert s["symlinks_skipped"] == 1 and s["submodules_skipped"] == 0
    assert s["blobs"] >= 4 and s["bytes"] > 1024 and s["seconds"] >= 0 and s["commits_per_s"] >= 0
    assert (m / ".muse" / "tags" / "v1").read_text().strip().startswith("sha256:")

    log = json.loads(muse(m, "log", "--json", "main").stdout)["commits"]
    assert [c["message"].strip() for c in log][:2] == ["merge side", "delete"]

    # Checkout of the imported side branch reproduces the exact files.
    # The import moves refs, not the (empty) working tree: --force fills it.
    r = muse(m, "checkout", "--force", "side")
    assert r.returncode == 0, r.stderr
    assert (m / "bin.dat").read_bytes() == bytes(range(256)) * 4
    assert (m / "dir with space" / "ü 日本.txt").read_text(encoding="utf-8") == "ü\n"
    assert (m / "side.txt").read_text() == "side\n"
    assert not (m / "link").exists()

    # Incremental: only the new commit.
    (gitrepo / "c.txt").write_text("c\n")
    commit_all(gitrepo, "third")
    r = muse(m, "import-git", str(gitrepo), "--verify", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["commits"] == 1

    assert muse(m, "verify").returncode == 0


def test_import_git_verify_reports_problems_with_exit_1(tmp_path: pathlib.Path, gitrepo: pathlib.Path) -> None:
    m = tmp_path / "m"
    assert muse(tmp_path, "init", str(m)).returncode == 0
    assert muse(m, "import-git", str(gitrepo)).returncode == 0
    # Point one mapping at another commit: verification must notice.
    mp = m / ".muse" / "git-map"
    lines = mp.read_text().splitlines()
    first_muse = lines[0].split()[1]
    last_git = lines[-1].split()[0]
    lines[-1] = f"{last_git} {first_muse}"
    mp.write_text("\n".join(lines) + "\n")
    r = muse(m, "import-git", str(gitrepo), "--verify", "--json")
    assert r.returncode == 1, (r.stdout, r.stderr)
    s = json.loads(r.stdout)
    assert s["commits"] == 0 and s["verified"] is False and s["problems"]


def test_import_git_of_a_non_repository_fails(tmp_path: pathlib.Path) -> None:
    m = tmp_path / "m"
    assert muse(tmp_path, "init", str(m)).returncode == 0
    (tmp_path / "empty").mkdir()
    r = muse(m, "import-git", str(tmp_path / "empty"))
    assert r.returncode == 1 and "git" in r.stderr
