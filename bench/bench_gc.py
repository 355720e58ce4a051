#!/usr/bin/env python3
"""Startup-GC benchmark: its cost must not grow with the number of objects.

Usage::

    python bench/bench_gc.py [--quick] [--objects N] [--json out.json] [--keep-tmp]

Every command runs the startup GC (``require_repo``); issue 2 asks that on
a store of 1,000,000 objects with no temps it costs milliseconds, without
listing every shard. This builds two repositories, one empty and one
holding ``--objects`` real objects (default 1,000,000; ``--quick``: 10,000)
spread over the 256 shard directories, and times on each:

- ``_startup_gc(root)`` in-process, after one untimed pass (the steady
  state of a repository in use): median and max of 50 calls;
- ``muse status`` as a process on an empty working tree (start-up,
  discovery, the GC, the status itself), median of 10 (peak RSS from GNU
  ``/usr/bin/time``);
- ``git status --porcelain`` of an empty repository, for scale.

The objects are written straight into their shard files (``sha256`` of the
content, the store's own layout), with no temps, so the setup takes ~1 min
for a million and the GC finds nothing to remove. The temp tree is deleted
at the end (and the script then waits for the filesystem's after-delete
slow phase to pass, see ``scripts/fs_settle.py``). ``TMPDIR`` picks the
filesystem (``TMPDIR=/dev/shm``: tmpfs, no after-delete slow phase).

Target: the GC on 1M objects within 2 ms median. Its steady-state cost is
one ``stat`` per shard directory (at most 256), whatever the number of
objects; the first pass after a bulk write lists the shards changed since
the last clean pass (and a pass within the filesystem's timestamp tick of
the last one does so again: racy stamps are never trusted), which the
``max`` column shows. Exit status 0 even when a target is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/ from the sibling import
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (the shared harness, bench/common.py)
from common import GIT_ENV, muse_cmd, run_timed  # noqa: E402

TARGET_MS = 2.0


def fill(root: str, n: int) -> float:
    """Write ``n`` distinct 272-byte objects into ``root``'s store."""
    base = os.path.join(root, ".muse", "objects", "sha256")
    t0 = time.perf_counter()
    made = set()
    for i in range(n):
        data = b"object %010d " % i + b"x" * 255
        h = hashlib.sha256(data).hexdigest()
        shard = os.path.join(base, h[:2])
        if h[:2] not in made:
            os.makedirs(shard, exist_ok=True)
            made.add(h[:2])
        fd = os.open(os.path.join(shard, h[2:]), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        os.write(fd, data)
        os.close(fd)
    os.sync()
    return time.perf_counter() - t0


def time_gc(root: str, calls: int = 50) -> dict:
    from muse.core.repo import _startup_gc

    _startup_gc(root)  # the steady state: a clean pass has been recorded
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        _startup_gc(root)
        times.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": statistics.median(times), "max_ms": max(times), "min_ms": min(times)}


def time_cmd(argv: list[str], cwd: str, reps: int = 10) -> dict:
    env = {k: v for k, v in GIT_ENV.items() if k != "MUSE_REPO_ROOT"}
    rs = [run_timed(argv, cwd=cwd, env=env) for _ in range(reps)]
    secs = [r["seconds"] * 1e3 for r in rs]
    return {"median_ms": statistics.median(secs), "min_ms": min(secs),
            "peak_rss_mib": max(r["maxrss_kib"] for r in rs) / 1024}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke mode: 10,000 objects")
    ap.add_argument("--objects", type=int, default=None, help="objects in the big store (default 1,000,000)")
    ap.add_argument("--json", metavar="OUT", help="write the results as JSON to OUT")
    ap.add_argument("--keep-tmp", action="store_true", help="do not delete the temp dir")
    args = ap.parse_args(argv)
    n = args.objects or (10_000 if args.quick else 1_000_000)

    from muse.core.repo import init_repo

    base = tempfile.mkdtemp(prefix="muse-bench-gc-", dir=os.environ.get("TMPDIR", "/tmp"))
    print(f"startup-GC benchmark: an empty store vs {n:,} objects; temp dir {base}", flush=True)
    empty, big = os.path.join(base, "empty"), os.path.join(base, "big")
    init_repo(empty)
    init_repo(big)
    secs = fill(big, n)
    print(f"  setup: {n:,} objects written in {secs:.1f} s", flush=True)
    git_dir = os.path.join(base, "git")
    subprocess.run(["git", "init", "-q", git_dir], check=True, env=GIT_ENV)

    res = {
        "gc_empty": time_gc(empty),
        "gc_big": time_gc(big),
        "status_empty": time_cmd([muse_cmd(), "status", "--porcelain"], empty),
        "status_big": time_cmd([muse_cmd(), "status", "--porcelain"], big),
        "git_status": time_cmd(["git", "status", "--porcelain"], git_dir),
    }
    rows = [
        ("_startup_gc(root), empty store", res["gc_empty"], None),
        (f"_startup_gc(root), {n:,} objects", res["gc_big"], None),
        ("muse status --porcelain (process), empty store", res["status_empty"], "peak_rss_mib"),
        (f"muse status --porcelain (process), {n:,} objects", res["status_big"], "peak_rss_mib"),
        ("git status --porcelain (process), empty repo", res["git_status"], "peak_rss_mib"),
    ]
    print()
    print(f"{'what':52s} {'median ms':>10s} {'min ms':>8s} {'max ms / RSS MiB':>17s}")
    for label, r, extra in rows:
        last = f"{r[extra]:.1f} MiB" if extra else f"{r['max_ms']:.3f}"
        print(f"{label:52s} {r['median_ms']:10.3f} {r['min_ms']:8.3f} {last:>17s}")
    big_ms, empty_ms = res["gc_big"]["median_ms"], res["gc_empty"]["median_ms"]
    ok = big_ms <= TARGET_MS
    print(f"\nTarget: GC on {n:,} objects <= {TARGET_MS} ms median: {'PASS' if ok else 'MISS'} "
          f"({big_ms:.3f} ms; empty store {empty_ms:.3f} ms, no shard directories to stat)")
    if args.quick:
        print("  (--quick: the numbers only prove that the script runs)")
    if args.json:
        common.write_json(args.json, {"objects": n, "results": res, "pass": ok}, indent=1,
                          announce=False)
    if common.remove_tmp_quiet(base, args.keep_tmp) and not args.quick:
        here = os.path.dirname(os.path.abspath(__file__))
        subprocess.run([sys.executable, os.path.join(here, "..", "scripts", "fs_settle.py"),
                        "--max-wait", "300"], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
