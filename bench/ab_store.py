#!/usr/bin/env python3
"""A/B: two installations of the ``muse`` Python package on per-call store
writes, alternating.

Usage::

    python bench/ab_store.py --a OLD_PYTHON --b NEW_PYTHON [--reps N] [--n N]

``OLD_PYTHON`` / ``NEW_PYTHON`` are the interpreters of two virtualenvs
with different ``muse`` wheels installed (for example a baseline built from
``main`` into ``/tmp/base-venv`` against this checkout's ``.venv/bin/python``).
Each run is a fresh child process in a fresh repository under ``/tmp`` with
``[core] fsync = "off"``; it times ``write_object`` of N distinct 272-byte
blobs and ``write_commit`` of an N-commit chain (inputs built untimed),
the per-call rows of ``bench_store.py`` that are the most sensitive to
this machine's slow-filesystem phase. A and B alternate (AB, then BA) and
every run first waits out a slow filesystem (``scripts/fs_settle.py``), so
the phase hits both sides alike. Prints the medians and B/A; exit status 0
unless a run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

CHILD = r"""
import datetime, json, sys, tempfile, time
from muse.core.commits import CommitRecord, write_commit
from muse.core.object_store import write_object
from muse.core.repo import init_repo
from muse.core.types import blob_id
n = int(sys.argv[1])
d = tempfile.mkdtemp(prefix="muse-ab-store-", dir="/tmp")
root = init_repo(d)
with open(d + "/.muse/config.toml", "w") as f:
    f.write('[core]\nfsync = "off"\n')
blobs = [b"x" * 256 + str(i).encode().rjust(16, b"0") for i in range(n)]
ids = [blob_id(b) for b in blobs]
t = time.perf_counter()
for i, b in zip(ids, blobs):
    write_object(root, i, b)
t_obj = time.perf_counter() - t
now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
recs, parent = [], None
for i in range(n):
    r = CommitRecord(branch="main", snapshot_id=ids[0], message=f"m{i}", committed_at=now, parent_commit_id=parent)
    recs.append(r)
    parent = r.commit_id
t = time.perf_counter()
for r in recs:
    write_commit(root, r)
print(json.dumps({"objects": t_obj, "commits": time.perf_counter() - t, "dir": d}))
"""

SETTLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "fs_settle.py")


def run(python: str, n: int) -> dict[str, float]:
    """One child run: ``{"objects": s, "commits": s}`` (seconds); its repository is removed."""
    subprocess.run([sys.executable, SETTLE, "--max-wait", "60"], capture_output=True, check=False)
    out = subprocess.run([python, "-c", CHILD, str(n)], capture_output=True, text=True, check=True).stdout
    v = json.loads(out)
    shutil.rmtree(v.pop("dir"), ignore_errors=True)
    return v


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", required=True, help="python of the baseline virtualenv")
    ap.add_argument("--b", required=True, help="python of the virtualenv under test")
    ap.add_argument("--reps", type=int, default=5, help="runs per side (default 5)")
    ap.add_argument("--n", type=int, default=10_000, help="objects and commits per run (default 10,000)")
    args = ap.parse_args()
    res: dict[str, dict[str, list[float]]] = {s: {"objects": [], "commits": []} for s in ("a", "b")}
    for r in range(args.reps):
        for side in ("a", "b") if r % 2 == 0 else ("b", "a"):
            for k, v in run(getattr(args, side), args.n).items():
                res[side][k].append(v)
    print(f"A = {args.a}\nB = {args.b}\n{args.reps} run(s) per side, alternating, fsync=off, N = {args.n:,}")
    for k in ("objects", "commits"):
        a, b = statistics.median(res["a"][k]), statistics.median(res["b"][k])
        print(f"write_{k[:-1]} x {args.n:,}: A median {a:.3f} s, B median {b:.3f} s, B/A {b / a:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
