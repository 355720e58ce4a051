"""Diffs replayed against real history: this project's own git history and
a generated one with many merges are imported into muse; for many pairs of
commits A, B, muse's patch from A to B, applied with ``git apply`` to A's
tree, must give B's tree exactly (binary files, which a patch without
``--binary`` cannot carry, are copied over)."""

from __future__ import annotations

import io
import pathlib
import random
import subprocess
import tarfile

import pytest

from muse import Repository
from muse.core.import_git import import_git
from helpers import require_muse
from test_merge_replay import GIT_ENV, git, make_history

HERE = pathlib.Path(__file__).resolve().parents[2]


def tree_files(src: pathlib.Path, rev: str) -> dict[str, bytes]:
    """The regular files of git commit ``rev`` (``git archive``)."""
    data = git(src, "archive", "--format=tar", rev).stdout
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        for m in t.getmembers():
            if m.isfile():
                f = t.extractfile(m)
                assert f is not None
                out[m.name] = f.read()
    return out


def write_tree(root: pathlib.Path, files: dict[str, bytes]) -> None:
    for p, b in files.items():
        (root / p).parent.mkdir(parents=True, exist_ok=True)
        (root / p).write_bytes(b)


def read_tree(root: pathlib.Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def replay(tmp: pathlib.Path, src: pathlib.Path, pairs: int, seed: int) -> int:
    """Imports ``src`` and checks ``pairs`` commit pairs; returns how many
    changed files the applied patches carried."""
    dst = tmp / "muse"
    repo = Repository.init(dst)
    import_git(dst, src)
    git_to_muse = dict(line.split(" ", 1) for line in (dst / ".muse" / "git-map").read_text().split("\n") if line)
    commits = git(src, "rev-list", "--all").stdout.decode().split()
    commits = [c for c in commits if c in git_to_muse]
    rng = random.Random(seed)
    chosen = []
    for c in commits[:pairs // 2]:  # each commit against its first parent
        parent = git(src, "rev-parse", "-q", "--verify", f"{c}^", check=False).stdout.decode().strip()
        if parent:
            chosen.append((parent, c))
    while len(chosen) < pairs:  # distant pairs, both directions
        chosen.append((rng.choice(commits), rng.choice(commits)))
    carried = 0
    for n, (a, b) in enumerate(chosen):
        entries = repo.diff(git_to_muse[a], git_to_muse[b])
        binary = {e.path for e in entries if "\nBinary files " in e.patch}
        # The CLI's patch: raw bytes (Python's DiffEntry.patch is text, and
        # a non-UTF-8 file's lines would not survive the decoding).
        specs = [p for e in entries if e.path not in binary for p in (e.path,)]
        patch = b""
        if specs:
            r = subprocess.run([require_muse(), "diff", git_to_muse[a], git_to_muse[b], "--", *specs],
                               cwd=dst, capture_output=True)
            assert r.returncode == 0, r.stderr
            patch = r.stdout
        work = tmp / f"w{n}"
        work.mkdir()
        old, new = tree_files(src, a), tree_files(src, b)
        write_tree(work, old)
        if patch:
            r = subprocess.run(["git", "apply", "-"], cwd=work, input=patch,
                               capture_output=True, env=GIT_ENV)
            assert r.returncode == 0, (a, b, r.stderr.decode()[:2000])
        for p in binary:  # not carried by a text patch (git needs --binary): copied
            if p in new:
                write_tree(work, {p: new[p]})
            else:
                (work / p).unlink()
        got, want = read_tree(work), new
        assert got == want, (a, b, sorted(set(got) ^ set(want))[:10],
                             [p for p in got if p in want and got[p] != want[p]][:10])
        carried += len(entries) - len(binary)
    return carried


def test_this_projects_history(tmp_path: pathlib.Path) -> None:
    if not (HERE / ".git").exists():
        pytest.fail("needs the project's git history (a clone, not an export)")
    if int(git(HERE, "rev-list", "--count", "HEAD").stdout) < 10:
        pytest.fail("the project's history is too short for this test (a shallow clone?)")
    carried = replay(tmp_path, HERE, pairs=40, seed=7)
    assert carried > 100, carried


def test_a_generated_history_with_merges(tmp_path: pathlib.Path) -> None:
    src = tmp_path / "git"
    src.mkdir()
    make_history(src, seed=11, merges=25)
    carried = replay(tmp_path, src, pairs=60, seed=3)
    assert carried > 60, carried
