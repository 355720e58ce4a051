"""git's `verify_path` rules through the `muse` command (SPEC §12): reserved
branch names are refused, and a hostile bundle planting `.muse` / `.git`
paths (or a file/directory clash, or a reserved branch) is refused with the
path named, leaving `.muse/` byte-identical."""

from __future__ import annotations

import hashlib
import pathlib

import msgpack
import pytest

from helpers import Cli, require_muse

require_muse()
muse = Cli(timeout=60)


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def snapshot_id(manifest: dict[str, str]) -> str:
    """SPEC §2 `hash_snapshot`."""
    return sha(b"\0".join(p.encode() + b"\0" + o.encode() for p, o in sorted(manifest.items())))


def commit_id(parents: list[str], snap: str, message: str, when: str, author: str) -> str:
    """SPEC §2 `hash_commit`."""
    return sha(b"\0".join(s.encode() for s in ["\0".join(sorted(parents)), snap, message, when, author]))


def muse_bytes(root: pathlib.Path) -> dict[str, bytes | None]:
    """Every file (bytes) and directory (None) under `.muse/`, except
    `.muse/tmp/`, `.muse/cache/` and `*.lock` files."""
    base = root / ".muse"
    out: dict[str, bytes | None] = {}
    for p in sorted(base.rglob("*")):
        rel = p.relative_to(base).as_posix()
        if rel.split("/")[0] in ("tmp", "cache") or rel.endswith(".lock"):
            continue
        out[rel] = None if p.is_dir() else p.read_bytes()
    return out


@pytest.fixture
def wt(tmp_path: pathlib.Path) -> pathlib.Path:
    """`first`: a.txt (each command asserted to exit 0)."""
    return muse.new_repo(tmp_path / "wt", {"a.txt": "alpha\n"})


def bundle(paths: list[str], branch: str = "main") -> bytes:
    """An MPack (SPEC §7) of one root commit whose snapshot holds `paths`."""
    blobs = []
    manifest: dict[str, str] = {}
    for p in paths:
        content = f"content of {p}\n".encode()
        manifest[p] = sha(content)
        if all(b["blob_id"] != sha(content) for b in blobs):
            blobs.append({"blob_id": sha(content), "content": content})
    snap = snapshot_id(manifest)
    when, message, author = "2026-01-01T00:00:00+00:00", "hostile", "mallory"
    cid = commit_id([], snap, message, when, author)
    commit = {
        "format_version": 1,
        "commit_id": cid,
        "branch": branch,
        "snapshot_id": snap,
        "message": message,
        "committed_at": when,
        "parent_commit_id": None,
        "parent2_commit_id": None,
        "author": author,
        "metadata": {},
    }
    m = {
        "version": 1,
        "commits": [commit],
        "snapshots": [{"snapshot_id": snap, "parent_snapshot_id": None, "delta_upsert": manifest, "delta_remove": []}],
        "blobs": blobs,
        "branch_heads": {branch: cid},
    }
    return msgpack.packb(m, use_bin_type=True)


def test_reserved_branch_names_are_refused_and_create_nothing(wt: pathlib.Path) -> None:
    before = muse_bytes(wt)
    for args in (["branch", "HEAD"], ["branch", "refs/heads/x"], ["branch", "--", "-x"]):
        r = muse(wt, *args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert "invalid branch name" in r.stderr, r.stderr
    assert muse_bytes(wt) == before
    assert sorted(p.name for p in (wt / ".muse" / "refs" / "heads").iterdir()) == ["main"]
    # An ordinary name still works.
    assert muse(wt, "branch", "feature").returncode == 0


@pytest.mark.parametrize(
    "paths, named",
    [
        (["ok.txt", "sub/.muse/HEAD"], ["sub/.muse/HEAD"]),
        ([".MUSE/HEAD"], [".MUSE/HEAD"]),
        (["a/.Muse/config.toml"], ["a/.Muse/config.toml"]),
        ([".muse./x"], [".muse./x"]),
        (["muse~1/x"], ["muse~1/x"]),
        ([".mu\u200cse/x"], [".mu", "se/x"]),
        ([".git/config"], [".git/config"]),
        (["x/.GIT/hooks/post-checkout"], ["x/.GIT/hooks/post-checkout"]),
        (["a", "a/b"], ['"a"', '"a/b"']),
    ],
)
def test_bundle_apply_of_a_hostile_bundle_is_refused_and_writes_nothing(
    wt: pathlib.Path, tmp_path: pathlib.Path, paths: list[str], named: list[str]
) -> None:
    f = tmp_path / "hostile.mpack"
    f.write_bytes(bundle(paths))
    before = muse_bytes(wt)
    r = muse(wt, "bundle", "apply", "--update-refs", str(f))
    assert r.returncode != 0, (r.stdout, r.stderr)
    for n in named:
        assert n in r.stderr, (n, r.stderr)
    assert muse_bytes(wt) == before


def test_bundle_apply_with_a_reserved_branch_head_is_refused(wt: pathlib.Path, tmp_path: pathlib.Path) -> None:
    f = tmp_path / "head.mpack"
    f.write_bytes(bundle(["fine.txt"], branch="HEAD"))
    before = muse_bytes(wt)
    r = muse(wt, "bundle", "apply", "--update-refs", str(f))
    assert r.returncode != 0 and "HEAD" in r.stderr, (r.stdout, r.stderr)
    assert muse_bytes(wt) == before
    # The same bundle on an ordinary branch applies: the refusal is the name.
    f.write_bytes(bundle(["fine.txt"], branch="ok"))
    r = muse(wt, "bundle", "apply", "--update-refs", str(f))
    assert r.returncode == 0, (r.stdout, r.stderr)
