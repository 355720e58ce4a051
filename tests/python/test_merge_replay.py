"""Merges replayed against git: a generated git history with many merges
(edits of random lines of shared files, files added and removed, some
edits overlapping) is imported into muse, and every merge commit's two
parents are merged again by muse and by ``git merge-tree --write-tree``.
Where git merges cleanly, muse must be clean too and give the same tree;
where git reports conflicts, muse must report conflicts in the same files.

Renames are off on git's side (``merge.renames=false``): muse tracks paths, not
renames (a rename is a delete plus an add).
"""

from __future__ import annotations

import pathlib
import random
import subprocess

import pytest

from muse import Repository
from muse.core.import_git import import_git
from muse.core.snapshots import read_snapshot
from muse.core.types import blob_id

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent", "PATH": "/usr/bin:/bin",
}


def git(cwd: pathlib.Path, *args: str, check: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    r = subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, input=stdin)
    if check and r.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {r.stderr.decode()}")
    return r


def edit_files(root: pathlib.Path, rng: random.Random, tag: str) -> None:
    """One commit's worth of edits: a few lines of a few files replaced,
    inserted or deleted; now and then a file added or removed."""
    files = sorted(p for p in root.glob("*.txt"))
    for p in rng.sample(files, k=min(len(files), rng.randint(1, 2))):
        lines = p.read_text().splitlines(keepends=True)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(lines) + 1)
            op = rng.random()
            if op < 0.6 and i < len(lines):
                lines[i] = f"{tag} {rng.randrange(10**6)}\n"
            elif op < 0.8:
                lines.insert(i, f"{tag} inserted {rng.randrange(10**6)}\n")
            elif i < len(lines) and len(lines) > 5:
                del lines[i]
        p.write_text("".join(lines))
    r = rng.random()
    if r < 0.08:
        (root / f"new-{tag}-{rng.randrange(10**6)}.txt").write_text("".join(f"{tag} {k}\n" for k in range(8)))
    elif r < 0.12 and len(files) > 4:
        rng.choice(files).unlink()


def make_history(root: pathlib.Path, seed: int, merges: int) -> None:
    rng = random.Random(seed)
    git(root, "init", "-q", "-b", "main")
    for f in range(6):
        (root / f"f{f}.txt").write_text("".join(f"file {f} line {k}\n" for k in range(30)))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    for m in range(merges):
        branch = f"b{m}"
        start = "main" if rng.random() < 0.7 else f"main~{rng.randint(1, 3)}"
        if git(root, "rev-parse", "-q", "--verify", start, check=False).returncode != 0:
            start = "main"
        git(root, "checkout", "-q", "-b", branch, start)
        for c in range(rng.randint(1, 3)):
            edit_files(root, rng, f"{branch}.{c}")
            git(root, "add", "-A")
            git(root, "commit", "-q", "--allow-empty", "-m", f"{branch} {c}")
        git(root, "checkout", "-q", "main")
        for c in range(rng.randint(0, 2)):
            edit_files(root, rng, f"main{m}.{c}")
            git(root, "add", "-A")
            git(root, "commit", "-q", "--allow-empty", "-m", f"main {m}.{c}")
        if git(root, "merge", "-q", "--no-ff", "--no-edit", "-X", "no-renames", branch, check=False).returncode != 0:
            # Conflicts: resolve by taking ours wholesale (history needs a commit).
            git(root, "checkout", "-q", "--ours", "--", ".", check=False)
            git(root, "add", "-A")
            git(root, "commit", "-q", "--no-edit")


def git_tree_manifest(root: pathlib.Path, tree: str) -> dict[str, str]:
    """``path -> muse blob ID`` of git tree ``tree`` (regular files)."""
    listing = git(root, "ls-tree", "-r", "-z", tree).stdout.split(b"\0")
    entries = [e.decode().split("\t", 1) for e in listing if e]
    shas = [meta.split()[2] for meta, _ in entries]
    out = git(root, "cat-file", "--batch", stdin="".join(s + "\n" for s in shas).encode()).stdout
    manifest, pos = {}, 0
    for (_, path), sha in zip(entries, shas):
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        content = out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
        manifest[path] = blob_id(content)
    return manifest


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_merges_agree_with_git(tmp_path: pathlib.Path, seed: int) -> None:
    src = tmp_path / "git"
    src.mkdir()
    make_history(src, seed, merges=40)
    dst = tmp_path / "muse"
    repo = Repository.init(dst)
    import_git(dst, src)
    git_to_muse = dict(line.split(" ", 1) for line in (dst / ".muse" / "git-map").read_text().split("\n") if line)
    merges = [line.split() for line in git(src, "rev-list", "--merges", "--parents", "main").stdout.decode().splitlines()]
    assert len(merges) == 40
    clean = conflicted = 0
    for _, p1, p2 in merges:
        g = git(src, "-c", "merge.renames=false", "merge-tree", "--write-tree", "--name-only", p1, p2, check=False)
        assert g.returncode in (0, 1), g.stderr
        lines = g.stdout.decode().split("\n")
        m1, m2 = git_to_muse[p1], git_to_muse[p2]
        repo.create_branch(f"replay-{p1[:8]}-{p2[:8]}", m1)
        repo.checkout(f"replay-{p1[:8]}-{p2[:8]}", force=True)
        result = repo.merge(m2)
        if g.returncode == 0:
            clean += 1
            assert result.kind in ("merged", "fast-forward", "up-to-date"), (p1, p2, result)
            head = repo.head
            assert head is not None
            assert manifest_of(dst, head.snapshot_id) == git_tree_manifest(src, lines[0]), (p1, p2)
        else:
            conflicted += 1
            assert result.kind == "conflicts", (p1, p2, result)
            assert sorted(result.conflicts) == git_conflicted_paths(g.stdout.decode()), (p1, p2)
            # Every other path holds what git's merged tree holds.
            want = {p: b for p, b in git_tree_manifest(src, lines[0]).items() if p not in result.conflicts}
            got = {p.relative_to(dst).as_posix(): blob_id(p.read_bytes())
                   for p in dst.rglob("*") if p.is_file() and ".muse" not in p.parts}
            assert {p: b for p, b in got.items() if p not in result.conflicts} == want, (p1, p2)
            repo.merge_abort()
    # The generator makes both kinds.
    print(f"seed {seed}: {clean} clean, {conflicted} conflicted merges agree with git")
    assert clean >= 5 and conflicted >= 1, (clean, conflicted)


def git_conflicted_paths(out: str) -> list[str]:
    """The conflicted paths of ``git merge-tree --write-tree --name-only``:
    the lines after the tree ID up to the first blank line."""
    paths = []
    for line in out.split("\n")[1:]:
        if not line:
            break
        paths.append(line)
    return sorted(set(paths))


def manifest_of(root: pathlib.Path, snapshot_id: str) -> dict[str, str]:
    rec = read_snapshot(root, snapshot_id)
    assert rec is not None
    return dict(rec.manifest)
