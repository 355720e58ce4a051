"""Commit a directory tree into a muse repository, the way a tool would.

    python examples/python/commit_tree.py <tree> [-m MESSAGE] [--branch main]

Creates the repository (``<tree>/.muse``) if there is none, snapshots the
tree (regular files; ``.muse/`` and what ``.museignore`` excludes are left
out; unchanged files are skipped via the stat cache), stores the new blobs,
the snapshot and a commit with one write batch (one flush barrier), moves the
branch with a compare-and-swap, and prints what it did. Run it twice: the
second run stores nothing new.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

from muse.core.commits import CommitRecord, get_commits_for_branch
from muse.core.errors import MuseError, NotARepositoryError
from muse.core.io import Batch
from muse.core.object_store import has_object
from muse.core.refs import read_branch_ref
from muse.core.repo import find_repo, init_repo, require_repo
from muse.core.snapshot import build_snapshot_manifest
from muse.core.snapshots import SnapshotRecord


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", type=Path)
    ap.add_argument("-m", "--message", default="snapshot of the tree")
    ap.add_argument("--branch", default="main")
    args = ap.parse_args(argv)

    tree = args.tree.resolve()
    try:
        root = find_repo(tree)
    except NotARepositoryError:
        root = init_repo(tree, default_branch=args.branch)
        print(f"initialised a muse repository in {root / '.muse'}")
    root = require_repo(root)  # runs the startup GC

    t0 = time.perf_counter()
    manifest = build_snapshot_manifest(root)
    t_walk = time.perf_counter() - t0

    parent = read_branch_ref(root, args.branch)
    snap = SnapshotRecord(manifest=manifest)
    now = datetime.datetime.now(datetime.timezone.utc)
    rec = CommitRecord(
        branch=args.branch, snapshot_id=snap.snapshot_id, message=args.message, committed_at=now,
        parent_commit_id=parent, author="examples/commit_tree.py",
    )
    new_blobs = 0
    new_bytes = 0
    t1 = time.perf_counter()
    with Batch(root) as batch:
        for rel, oid in manifest.items():
            if has_object(root, oid):
                continue
            data = (root / rel).read_bytes()
            if batch.write_object(oid, data):
                new_blobs += 1
                new_bytes += len(data)
        batch.write_snapshot(snap)
        batch.write_commit(rec)
        batch.compare_and_swap_branch_ref(args.branch, parent, rec.commit_id)
    t_store = time.perf_counter() - t1

    print(f"tree      {root}")
    print(f"files     {len(manifest)} (walked in {t_walk * 1000:.0f} ms)")
    print(f"stored    {new_blobs} new blobs, {new_bytes} bytes (in {t_store * 1000:.0f} ms, one batch)")
    print(f"snapshot  {snap.snapshot_id}")
    print(f"commit    {rec.commit_id} on {args.branch}")
    history = get_commits_for_branch(root, args.branch, max_count=5)
    print("log       " + "\n          ".join(
        f"{c.commit_id[7:19]} {c.committed_at_iso} {c.message}" for c in history))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except MuseError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
