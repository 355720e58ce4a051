#!/usr/bin/env python3
"""Content diff and line-level merge: muse beside git on the same history.

Usage::

    python bench/bench_diff_merge.py [--quick] [--json out.json] [--reps N] [--keep-tmp]

A git history is generated (untimed): ``--files`` text files of 40 lines
(default 2,000; ``--quick`` 200), a main line of 60 commits (``--quick``
12) each rewriting lines of 25 files, and 6 topic branches (``--quick`` 2)
forked along it, 10 commits each, editing lines of files main edits too:
other lines (they merge cleanly, line by line), except the first topic,
whose edits overlap main's (it conflicts).
It is imported into muse (``muse import-git``, untimed). Then, alternating
muse and git, each step a fresh process (``--reps`` times, default 3):

- **diff**: the patch between the first and the last commit of main
  (``muse diff A B`` / ``git diff A B``, output read and discarded);
- **diff --stat** of the same pair;
- **merge**: every topic branch into main, in a working tree reset to
  main's tip before each (untimed): ``muse merge`` and ``git merge
  --no-edit`` (both write the working tree and, when clean, a merge
  commit); plus ``git merge-tree --write-tree`` (no working tree), for
  scale. The sum over the branches is reported.

Each row: median seconds of muse and of git, the ratio muse/git, and the
peak RSS (GNU ``/usr/bin/time``). Before the timed steps the script checks
that muse and git agree: the same clean/conflicted verdict per branch.
Exit status 0 even when muse is slower; non-zero only on errors.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in bench/ from the sibling import
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (the shared harness, bench/common.py)
from common import GIT_ENV as _GIT_ENV, muse_cmd, run_timed  # noqa: E402

# git with a fixed identity (commits and merge commits need one).
GIT_ENV = {**_GIT_ENV, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}


def git(cwd: str, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True,
                          text=True).stdout.strip()


def edit(root: str, rng: random.Random, files: int, tag: str, pick: list[int], lines: range) -> None:
    for f in pick:
        p = os.path.join(root, f"src/d{f % 20}/f{f}.txt")
        with open(p) as fh:
            body = fh.read().splitlines(keepends=True)
        for _ in range(3):
            i = rng.choice(lines)
            body[i] = f"{tag} {rng.randrange(10**9)}\n"
        with open(p, "w") as fh:
            fh.writelines(body)


def make_history(root: str, files: int, main_commits: int, branches: int, seed: int = 1) -> list[str]:
    """The generated git history; returns the topic branch names."""
    rng = random.Random(seed)
    git(root, "init", "-q", "-b", "main")
    for f in range(files):
        d = os.path.join(root, f"src/d{f % 20}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{f}.txt"), "w") as fh:
            fh.writelines(f"file {f} line {k}: {'x' * 40}\n" for k in range(40))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    hot = list(range(0, files, max(1, files // 100)))  # files both sides edit
    topics = []
    fork_every = max(1, main_commits // (branches + 1))
    for c in range(main_commits):
        if c % fork_every == 0 and len(topics) < branches:
            topics.append(f"topic{len(topics)}")
            git(root, "branch", topics[-1])
        # main edits the first half of the lines of hot files, and others
        edit(root, rng, files, f"main{c}", rng.sample(hot, 10) + rng.sample(range(files), 15), range(0, 18))
        git(root, "commit", "-q", "-am", f"main {c}")
    for n, t in enumerate(topics):
        git(root, "checkout", "-q", t)
        # Topics edit the second half of the lines (clean line merges); the
        # first topic also the first half's end (overlaps: conflicts).
        lines = range(12, 30) if n == 0 else range(22, 40)
        for c in range(10):
            edit(root, rng, files, f"{t}.{c}", rng.sample(hot, 8) + rng.sample(range(files), 4), lines)
            git(root, "commit", "-q", "-am", f"{t} {c}")
    git(root, "checkout", "-q", "main")
    return topics


def main(argv: list[str] | None = None) -> int:
    args = common.bench_args(__doc__, argv, "small history, 1 rep (a smoke run)", extra=lambda ap: ap.add_argument(
        "--files", type=int, default=None, help="files in the tree (default 2,000; 200 with --quick)"))
    files = args.files or (200 if args.quick else 2000)
    main_commits, branches = (12, 2) if args.quick else (60, 6)
    muse = muse_cmd()
    base = tempfile.mkdtemp(prefix="bench-diffmerge-")
    errors: list[str] = []
    g = os.path.join(base, "git")
    m = os.path.join(base, "muse")
    os.makedirs(g)
    print(f"history: {files} files x 40 lines, {main_commits} main commits, {branches} topics x 10 commits")
    topics = make_history(g, files, main_commits, branches)
    run_timed([muse, "init", m])
    run_timed([muse, "import-git", g], cwd=m)
    gmap = dict(line.split(" ", 1) for line in open(os.path.join(m, ".muse", "git-map")).read().splitlines())
    first = git(g, "rev-list", "--max-parents=0", "main")
    last = git(g, "rev-parse", "main")
    # Scratch branches for the merges (reset to main before each merge).
    git(g, "checkout", "-q", "-b", "scratch")
    run_timed([muse, "branch", "scratch", gmap[last]], cwd=m)
    run_timed([muse, "checkout", "scratch"], cwd=m)

    def muse_merge(t: str) -> dict:
        run_timed([muse, "reset", "--hard", gmap[last]], cwd=m)
        return run_timed([muse, "merge", t], cwd=m, check=False)

    def git_merge(t: str) -> dict:
        subprocess.run(["git", "merge", "--abort"], cwd=g, env=GIT_ENV, capture_output=True)
        git(g, "reset", "-q", "--hard", last)
        return run_timed(["git", "merge", "-q", "--no-edit", t], cwd=g, env=GIT_ENV, check=False)

    # Agreement first: the same verdict per branch.
    verdicts = []
    for t in topics:
        mr, gr = muse_merge(t), git_merge(t)
        gt = run_timed(["git", "merge-tree", "--write-tree", "main", t], cwd=g, env=GIT_ENV, check=False)
        verdicts.append((t, mr["rc"], gr["rc"], gt["rc"]))
        if (mr["rc"] == 0) != (gr["rc"] == 0) or (gr["rc"] == 0) != (gt["rc"] == 0):
            errors.append(f"{t}: muse merge rc {mr['rc']}, git merge rc {gr['rc']}, merge-tree rc {gt['rc']}")
    clean = sum(1 for v in verdicts if v[1] == 0)
    print(f"merges: {clean} clean, {len(topics) - clean} conflicted (muse and git agree: {not errors})")

    rows: dict[str, dict[str, list]] = {}

    def add(row: str, who: str, r: dict) -> None:
        rows.setdefault(row, {}).setdefault(who, []).append(r)

    for rep in range(args.reps):
        order = ("muse", "git") if rep % 2 == 0 else ("git", "muse")
        for who in order:
            if who == "muse":
                add("diff (patch)", who, run_timed([muse, "diff", gmap[first], gmap[last]], cwd=m))
                add("diff --stat", who, run_timed([muse, "diff", "--stat", gmap[first], gmap[last]], cwd=m))
                rs = [muse_merge(t) for t in topics]
            else:
                add("diff (patch)", who, run_timed(["git", "diff", first, last], cwd=g, env=GIT_ENV))
                add("diff --stat", who, run_timed(["git", "diff", "--stat", first, last], cwd=g, env=GIT_ENV))
                rs = [git_merge(t) for t in topics]
                add("merge-tree (git, no worktree)", who, {
                    "seconds": sum(run_timed(["git", "merge-tree", "--write-tree", "main", t], cwd=g, env=GIT_ENV,
                                             check=False)["seconds"] for t in topics),
                    "maxrss_kib": 0})
            add(f"merge x{len(topics)} (sum)", who, {"seconds": sum(r["seconds"] for r in rs),
                                                     "maxrss_kib": max(r["maxrss_kib"] for r in rs)})
    patch_bytes = len(run_timed([muse, "diff", gmap[first], gmap[last]], cwd=m)["stdout"])
    git_bytes = len(run_timed(["git", "diff", first, last], cwd=g, env=GIT_ENV)["stdout"])
    print(f"patch size: muse {patch_bytes:,} bytes, git {git_bytes:,} bytes")
    table, results = [], {}
    git_merge_s = statistics.median(r["seconds"] for r in rows[f"merge x{len(topics)} (sum)"]["git"])
    for row, by in rows.items():
        med = {w: statistics.median(r["seconds"] for r in rs) for w, rs in by.items()}
        rss = {w: max(r["maxrss_kib"] for r in rs) for w, rs in by.items()}
        mu, gi = med.get("muse"), med.get("git")
        if row.startswith("merge-tree"):
            ratio = f"{git_merge_s / gi:.2f} (git merge / merge-tree)"
        else:
            ratio = f"{mu / gi:.2f}" if mu and gi else "-"
        table.append([row, f"{mu:.3f}" if mu else "-", f"{gi:.3f}" if gi else "-", ratio,
                      f"{rss.get('muse', 0) / 1024:.1f}" if mu else "-", f"{rss.get('git', 0) / 1024:.1f}" if gi else "-"])
        results[row] = {"muse_s": mu, "git_s": gi, "muse_rss_kib": rss.get("muse"), "git_rss_kib": rss.get("git")}
    common.print_table(["step", "muse s", "git s", "muse/git", "muse MiB", "git MiB"], table, {1, 2, 3, 4, 5})
    if args.json:
        common.write_json(args.json, {"files": files, "topics": len(topics), "clean": clean, "rows": results,
                                      "verdicts": verdicts, "errors": errors})
    return common.end_run(base, args.keep_tmp, errors, what="disagreement(s) between muse and git")


if __name__ == "__main__":
    sys.exit(main())
