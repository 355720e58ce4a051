#!/usr/bin/env python3
"""A/B: two ``muse`` binaries on the same everyday commands, alternating.

Usage::

    python bench/ab_cli.py --a OLD_MUSE --b NEW_MUSE [--reps N] [--files75k N] [--quick]

For judging whether a change regresses the CLI (for example a baseline
built from ``main`` with ``cargo build --release -p muse-cli --target-dir
/tmp/base`` against this checkout's ``target/release/muse``). Workloads,
each a fresh process, timed spawn to reap, peak RSS from ``/usr/bin/time``:

1. ``add -A`` + ``commit`` of the seed's 1,000-file tree (10 dirs x 100 files
   of ~750 B) in a fresh repository per run (``[core] fsync`` default);
2. clean ``status`` on a 75,000-file tree (750 dirs x 100 files of 128 B),
   one repository shared by both binaries (same on-disk format);
3. ``checkout`` between two branches that differ in 2,500 files, there and
   back (one timed run = one switch).

A and B alternate within every repetition (ABAB, then BABA) so that slow
phases of this shared machine hit both. Prints medians, B/A ratios and
peak RSS. Exit status 0 unless a command fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in bench/ from the sibling import
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import make_seed_tree, run_timed  # noqa: E402  (the shared harness, bench/common.py)

ENV = {k: v for k, v in os.environ.items() if not k.startswith("MUSE_")}


def sh(argv, cwd):
    subprocess.run(argv, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--a", required=True, help="baseline muse binary")
    ap.add_argument("--b", required=True, help="candidate muse binary")
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--quick", action="store_true", help="small trees, 2 reps (a smoke run)")
    args = ap.parse_args(argv)
    reps = 2 if args.quick else args.reps
    n75 = (75, 100) if args.quick else (750, 100)
    bins = {"A": os.path.abspath(args.a), "B": os.path.abspath(args.b)}
    tmp = tempfile.mkdtemp(prefix="muse-ab-")
    results: dict[str, dict[str, list]] = {}

    def rec(work, who, r):
        if r["rc"] != 0:
            raise SystemExit(f"{work} ({who}) failed: {r['stderr'][:500]}")
        results.setdefault(work, {}).setdefault(who, []).append((r["seconds"], r["maxrss_kib"]))

    try:
        # 1. add + commit of 1,000 files, fresh repository per run.
        seed = os.path.join(tmp, "seed")
        make_seed_tree(seed, 10, 100, 750)
        # 2. status on 75k files.
        big = os.path.join(tmp, "big")
        make_seed_tree(big, *n75, 128)
        sh([bins["B"], "init"], big)
        sh([bins["B"], "add", "-A"], big)
        sh([bins["B"], "commit", "-m", "x"], big)
        # 3. checkout of 2,500 differing files.
        co = os.path.join(tmp, "co")
        make_seed_tree(co, 25, 100, 256)
        sh([bins["B"], "init"], co)
        sh([bins["B"], "add", "-A"], co)
        sh([bins["B"], "commit", "-m", "base"], co)
        sh([bins["B"], "checkout", "-b", "other"], co)
        for d in range(25):
            for f in range(100):
                with open(os.path.join(co, f"d{d:04d}", f"f{f:04d}.txt"), "ab") as fh:
                    fh.write(b"other\n")
        sh([bins["B"], "commit", "-a", "-m", "other"], co)
        branch = {"co": "other"}
        for who in ("A", "B"):
            run_timed([bins[who], "status"], cwd=big, env=ENV)
        for rep in range(reps):
            order = ["A", "B", "A", "B"] if rep % 2 == 0 else ["B", "A", "B", "A"]
            for i, who in enumerate(order):
                wt = os.path.join(tmp, f"c{rep}_{i}")
                shutil.copytree(seed, wt)
                sh([bins[who], "init"], wt)
                r1 = run_timed([bins[who], "add", "-A"], cwd=wt, env=ENV)
                r2 = run_timed([bins[who], "commit", "-m", "x"], cwd=wt, env=ENV)
                r = {"rc": r1["rc"] or r2["rc"], "stderr": r1["stderr"] + r2["stderr"],
                     "seconds": r1["seconds"] + r2["seconds"], "maxrss_kib": max(r1["maxrss_kib"], r2["maxrss_kib"])}
                rec("add -A + commit, 1,000 files", who, r)
                rec(f"clean status, {n75[0] * n75[1]:,} files", who, run_timed([bins[who], "status"], cwd=big, env=ENV))
                target = "main" if branch["co"] == "other" else "other"
                rc = run_timed([bins[who], "checkout", target], cwd=co, env=ENV)
                if os.environ.get("AB_VERBOSE"):
                    print(who, target, round(rc["seconds"] * 1000), flush=True)
                rec("checkout, 2,500 files differ", who, rc)
                branch["co"] = target
        print(f"A = {bins['A']}\nB = {bins['B']}\n{reps} repetitions x 2 runs each, alternating\n")
        print(f"{'workload':34} {'A median':>10} {'B median':>10} {'B/A':>6} {'A RSS':>8} {'B RSS':>8}")
        for work, by in results.items():
            a = statistics.median(s for s, _ in by["A"])
            b = statistics.median(s for s, _ in by["B"])
            ra = max(k for _, k in by["A"]) / 1024
            rb = max(k for _, k in by["B"]) / 1024
            print(f"{work:34} {a * 1000:8.1f}ms {b * 1000:8.1f}ms {b / a:6.2f} {ra:6.1f}MB {rb:6.1f}MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
