#!/usr/bin/env python3
"""Working-tree walk benchmarks: ``build_snapshot_manifest`` vs git vs sha256sum.

Usage::

    python bench/bench_walk.py [--quick] [--json out.json] [--reps N] [--keep-tmp]

Trees (built once, untimed; see bench/README.md):

1. ``seed-5k``   -- 50 dirs x 100 files of ~750 B.
2. ``seed-75k``  -- 750 dirs x 100 files of 128 B (the targets' size).
3. ``stdlib``    -- a copy of this interpreter's standard library directory
   (``sysconfig.get_paths()["stdlib"]``, ``site-packages`` left out).

Every tree has ``<root>/.muse/`` (a bare ``mkdir``). Per tree and repetition,
after reading every file once (warm page cache, so every engine is compared
on hashing, not disk):

- muse, in a fresh child: stat cache deleted, ``build_snapshot_manifest``
  (cold), then a second call (warm, after the cold one).
- git, with a fresh git dir outside the tree (``.muse/`` in
  ``info/exclude``): ``git add -A`` (cold), ``git commit`` (untimed), one
  untimed ``git status --porcelain``.
- then the warm rows back to back, in an order that alternates between
  repetitions: the timed ``git status --porcelain``; muse in a fresh child
  making two calls with the cache on disk, the 2nd timed (warm, 2nd call);
  the stat floor (``bench/stat_floor.c``: readdir + one ``fstatat`` per
  file on every core, nothing else); muse in a fresh child making one call
  (warm, fresh process). Measured in one phase, after git's writes, so that
  no engine is timed while the machine is still busy with them and another
  is not.
- floors: ``find | xargs -0 sha256sum`` with 1 and 2 processes.

Peak RSS is per workload and whole-process: ``VmHWM`` of the muse child
(interpreter + import + walk) or ``/usr/bin/time -f %M`` around the git /
shell process (max over its waited-for children). Temp trees are deleted
only at the very end; a filesystem-speed probe runs before each repetition.

Exit status is 0 even when a target is missed; non-zero only on errors.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/ from the sibling import
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (the shared harness, bench/common.py)
from common import (  # noqa: E402
    GIT_ENV, GIT_ID, STDLIB_QUICK_SUBDIRS, Runner, build_stat_floor, copy_stdlib, fmt_rate,
    fs_probe, make_seed_tree, muse_so_info, run_timed, settle, stat_floor_argv, tree_stats,
    vm_hwm_kib, warm_read, wrapper_overhead_ms,
)


# --------------------------------------------------------------------------
# Child side: muse in a fresh process.
# --------------------------------------------------------------------------


def _drop_stat_cache(tree: str) -> list[str]:
    cache = os.path.join(tree, ".muse", "cache")
    gone = []
    if os.path.isdir(cache):
        for fn in os.listdir(cache):
            if fn.startswith("stat_cache"):
                os.unlink(os.path.join(cache, fn))
                gone.append(fn)
    return gone


def _cache_files(tree: str) -> dict:
    cache = os.path.join(tree, ".muse", "cache")
    if not os.path.isdir(cache):
        return {}
    return {fn: os.path.getsize(os.path.join(cache, fn)) for fn in sorted(os.listdir(cache))}


def _fingerprint(manifest: dict) -> str:
    import hashlib

    h = hashlib.sha256()
    for k in sorted(manifest):
        h.update(f"{k}\0{manifest[k]}\n".encode())
    return h.hexdigest()


def _timed_second_call(build, tree: str, first: dict, res: dict) -> float:
    """Time a second ``build(tree)`` after ``first`` (whose digest and size
    go into ``res``) and check both manifests are equal. ``first`` is
    emptied before the second call (only its digest is kept), so that call's
    peak RSS does not count two manifests alive at once."""
    fp1 = _fingerprint(first)
    res["files"] = len(first)
    first.clear()
    t0 = time.perf_counter()
    second = build(tree)
    secs = time.perf_counter() - t0
    if _fingerprint(second) != fp1:
        raise RuntimeError("the second manifest differs from the first")
    return secs


def run_child(spec: dict) -> None:
    tree, mode = spec["tree"], spec["mode"]
    import muse.core.stat_cache  # noqa: F401
    from muse.core.snapshot import build_snapshot_manifest

    pc = time.perf_counter
    res: dict = {"extra": {}}
    if mode == "baseline":
        res["seconds"] = 0.0
    elif mode == "cold_warm":
        res["extra"]["dropped"] = _drop_stat_cache(tree)
        t0 = pc()
        m1 = build_snapshot_manifest(tree)
        res["cold_s"] = pc() - t0
        res["maxrss_cold_kib"] = vm_hwm_kib()
        res["extra"]["cache_files"] = _cache_files(tree)
        res["warm_s"] = _timed_second_call(build_snapshot_manifest, tree, m1, res)
    elif mode == "warm_twice":
        if not _cache_files(tree):
            raise RuntimeError("no stat cache present for the warm 2nd-call run")
        m1 = build_snapshot_manifest(tree)  # warm from the cache file (untimed)
        res["seconds"] = _timed_second_call(build_snapshot_manifest, tree, m1, res)
    elif mode == "warm_fresh":
        if not _cache_files(tree):
            raise RuntimeError("no stat cache present for the warm fresh-process run")
        t0 = pc()
        m = build_snapshot_manifest(tree)
        res["seconds"] = pc() - t0
        res["files"] = len(m)
    else:
        raise ValueError(mode)
    res["maxrss_kib"] = vm_hwm_kib()
    res["ru_maxrss_kib"] = common.ru_maxrss_kib()
    common.emit_child_result(res)


# --------------------------------------------------------------------------
# Parent side.
# --------------------------------------------------------------------------

ROWS = [  # (key, engine, label)
    ("sha1", "floor", "sha256sum, 1 process"),
    ("sha2", "floor", "sha256sum, xargs -P2"),
    ("muse_cold", "muse", "cold: 1st call, no stat cache"),
    ("muse_warm_after_cold", "muse", "warm: 2nd call, after the cold one"),
    ("muse_warm", "muse", "warm: 2nd call, same process"),
    ("muse_warm_fresh", "muse", "warm: 1 call, fresh process"),
    ("git_add", "git", "cold: add -A, fresh git dir"),
    ("git_status", "git", "warm: status --porcelain"),
    ("stat_floor", "floor", "warm: readdir + lstat only (C)"),
]
PAIR = {"muse_cold": "git_add", "muse_warm": "git_status", "muse_warm_fresh": "git_status",
        "muse_warm_after_cold": "git_status",
        "stat_floor": "git_status"}


class WalkRunner(Runner):
    stat_floor: str | None = None  # the compiled bench/stat_floor.c, when there is one

    def describe(self, spec: dict) -> str:
        return f"muse child {spec}"


def one_rep(runner: WalkRunner, name: str, tree: str, rep: int, results: dict, info: dict) -> None:
    def add(key, secs, kib, files=None):
        results.setdefault((name, key), []).append(
            {"seconds": secs, "maxrss_kib": kib, "files": files})

    info.setdefault(name, {}).setdefault("warm_read_s", []).append(round(warm_read(tree), 3))
    find = f"find {tree} -type f -not -path '*/.muse/*' -print0"
    for key, xargs in (("sha1", "xargs -0 sha256sum"), ("sha2", "xargs -0 -P2 -n 500 sha256sum")):
        r = runner.cmd(f"{name} {key}", f"{find} | {xargs} > /dev/null", shell=True)
        if r:
            add(key, r["seconds"], r["maxrss_kib"])

    r = runner.child({"tree": tree, "mode": "cold_warm"})
    if r:
        add("muse_cold", r["cold_s"], r["maxrss_cold_kib"], r["files"])
        add("muse_warm_after_cold", r["warm_s"], r["maxrss_kib"], r["files"])
        info[name]["muse_cache_files"] = r["extra"]["cache_files"]

    gd = runner.fresh_dir(f"{name}-r{rep}.git")
    try:
        run_timed(["git", "init", "-q", "--bare", gd], env=GIT_ENV)
        with open(os.path.join(gd, "info", "exclude"), "a", encoding="utf-8") as fh:
            fh.write("/.muse/\n")
    except Exception as e:
        runner.fail(f"{name} git init: {e}")
        return
    g = ["git", f"--git-dir={gd}", f"--work-tree={tree}"]
    r = runner.cmd(f"{name} git add", [*g, "add", "-A"], env=GIT_ENV)
    if not r:
        return
    files = None
    try:
        files = run_timed([*g, "ls-files", "-z"], env=GIT_ENV)["stdout"].count("\0")
        t0 = time.perf_counter()
        run_timed([*g, *GIT_ID, "commit", "-q", "-m", "x"], env=GIT_ENV)
        info[name].setdefault("git_commit_s", []).append(round(time.perf_counter() - t0, 3))
        run_timed([*g, "status", "--porcelain"], env=GIT_ENV)  # untimed priming run
    except Exception as e:
        runner.fail(f"{name} git setup: {e}")
        return
    add("git_add", r["seconds"], r["maxrss_kib"], files)

    # The warm rows, back to back in one phase (after git's writes, which
    # slow everything that follows for a while), in an order that alternates
    # between repetitions.
    def git_status():
        r = runner.cmd(f"{name} git status", [*g, "status", "--porcelain"], env=GIT_ENV)
        if r:
            if r["stdout"].strip():
                runner.fail(f"{name}: git status not clean: {r['stdout'][:500]}")
            add("git_status", r["seconds"], r["maxrss_kib"], files)

    def stat_floor():
        if runner.stat_floor:
            r = runner.cmd(f"{name} stat floor", stat_floor_argv(runner.stat_floor, tree))
            if r:
                add("stat_floor", r["seconds"], r["maxrss_kib"], json.loads(r["stdout"])["files"])

    def muse_warm():
        r = runner.child({"tree": tree, "mode": "warm_twice"})
        if r:
            add("muse_warm", r["seconds"], r["maxrss_kib"], r["files"])

    def muse_warm_fresh():
        r = runner.child({"tree": tree, "mode": "warm_fresh"})
        if r:
            add("muse_warm_fresh", r["seconds"], r["maxrss_kib"], r["files"])

    block = [git_status, muse_warm, stat_floor, muse_warm_fresh]
    for job in (block if rep % 2 == 0 else block[::-1]):
        job()


def main(argv: list[str] | None = None) -> int:
    args = common.bench_args(__doc__, argv,
                             "smoke mode: trees N/10 (stdlib: 3 packages), 1 repetition",
                             run_child, "do not delete the temp dir")

    q = args.quick
    reps = args.reps
    s = 10 if q else 1
    big = "seed-7.5k" if q else "seed-75k"
    shapes = [  # (name, ndirs, nfiles, size)
        ("seed-500" if q else "seed-5k", 50 // s, 100, 750),
        (big, 750 // s, 100, 128),
    ]
    target_tree = big

    base = tempfile.mkdtemp(prefix="muse-bench-walk-", dir="/tmp")
    runner = WalkRunner(base, os.path.abspath(__file__))
    runner.stat_floor, floor_why = build_stat_floor(base)
    if not runner.stat_floor:
        print(f"  stat floor row left out: {floor_why}", flush=True)
    wall0 = time.perf_counter()
    load0 = os.getloadavg()
    so0 = muse_so_info()
    print(f"muse walk benchmark: {'QUICK (trees N/10, 1 rep)' if q else 'full'}, {reps} rep(s), "
          f"temp dir {base}", flush=True)
    print(f"  {so0}", flush=True)

    # ---- setup (untimed) -------------------------------------------------
    trees: dict[str, str] = {}
    info: dict = {}
    for name, nd, nf, size in shapes:
        t0 = time.perf_counter()
        root = os.path.join(base, name)
        make_seed_tree(root, nd, nf, size)
        os.mkdir(os.path.join(root, ".muse"))
        trees[name] = root
        info[name] = {"setup_s": round(time.perf_counter() - t0, 2)}
    t0 = time.perf_counter()
    root = os.path.join(base, "stdlib")
    src = copy_stdlib(root, q)
    os.mkdir(os.path.join(root, ".muse"))
    trees["stdlib"] = root
    info["stdlib"] = {"setup_s": round(time.perf_counter() - t0, 2), "source": src}
    for name, root in trees.items():
        n, b = tree_stats(root)
        info[name].update({"files": n, "bytes": b})
        print(f"  tree {name}: {n:,} files, {b / 2**20:,.1f} MiB, built in "
              f"{info[name]['setup_s']:.1f} s", flush=True)
    os.sync()

    baseline = runner.child({"tree": base, "mode": "baseline"})
    overhead = wrapper_overhead_ms()
    results: dict[tuple, list[dict]] = {}
    probes: list[float] = []
    for rep in range(reps):
        settle(runner, probes, args.settle_max)
        print(f"  rep {rep + 1}/{reps} (fs probe {probes[-1]:.0f} µs/create)", flush=True)
        for name, tree in trees.items():
            one_rep(runner, name, tree, rep, results, info)
    timing_wall = time.perf_counter() - wall0
    load1 = os.getloadavg()
    probes.append(round(fs_probe(runner), 1))
    so1 = muse_so_info()

    # ---- aggregate -------------------------------------------------------
    agg: dict[tuple, dict] = {}
    rows = []
    for name in trees:
        for key, engine, label in ROWS:
            rs = results.get((name, key))
            if not rs:
                continue
            files = next((r["files"] for r in rs if r["files"] is not None), info[name]["files"])
            a = {"tree": name, "key": key, "engine": engine, "label": label, "files": files,
                 **common.summarize(rs)}
            a["files_per_s"] = files / a["median_s"] if a["median_s"] > 0 else float("inf")
            agg[(name, key)] = a
            rows.append(a)
    for a in rows:
        a["ratio"] = None
        p = agg.get((a["tree"], PAIR.get(a["key"], "")))
        if p:
            a["ratio"] = a["median_s"] / p["median_s"]

    # ---- table -----------------------------------------------------------
    hdr = ["tree", "files", "engine", "mode", "median s", "min s", "files/s", "muse÷git time",
           "peak RSS MiB"]
    table = [[a["tree"], f"{a['files']:,}", a["engine"], a["label"], f"{a['median_s']:.4f}",
              f"{a['min_s']:.4f}", fmt_rate(a["files_per_s"]),
              "" if a["ratio"] is None else f"{a['ratio']:.2f}", f"{a['peak_rss_mib']:.1f}"]
             for a in rows]
    print()
    common.print_table(hdr, table, {1, 4, 5, 6, 7, 8}, [a["tree"] for a in rows])
    print()
    print(f"Times: median (and min) of {reps} run(s); files/s = files / median. muse÷git time = "
          f"muse median / git median (<1: muse faster); cold rows vs `git add -A`, warm rows vs "
          f"`git status --porcelain`.")
    print("muse = muse.core.snapshot.build_snapshot_manifest(root), timed inside a fresh child "
          "(import untimed; cold = stat cache deleted, page cache warm; warm 2nd call, after the "
          "cold one = same child; warm 2nd call = a child's 2nd call with the cache on disk, timed "
          "back to back with git status and the stat floor; warm fresh process = new child, cache "
          "on disk). The cold call hashes on all cores and writes the stat cache.")
    print("git = stock git (no system/global config), fresh bare git dir outside the tree, "
          "--work-tree=<tree>, `/.muse/` in info/exclude; timed as a whole process (start "
          "included). `git add -A` also zlib-compresses and writes one loose object per file "
          "(no fsync: git's default) and writes the index, so it does more than a manifest. "
          "`git status` runs after `git commit` (untimed) and one untimed status, on a clean tree.")
    print("floors = `find <tree> -type f -not -path '*/.muse/*' -print0 | xargs -0 [-P2 -n 500] "
          "sha256sum > /dev/null` (a shell pipeline; read + SHA-256 of every file, nothing stored); "
          f"stat floor = bench/stat_floor.c on {os.cpu_count()} threads: readdir of every directory "
          "and one fstatat per file, nothing compared or stored, timed as a process like git: the "
          "least work of any warm walk that checks every file with one lstat (muse and git both do).")
    print("peak RSS = whole process, max over runs: muse rows = the child's VmHWM (interpreter + "
          "import + walk; the 'after the cold one' row is the child's final peak, so it includes "
          f"the cold call); git / floor rows = `/usr/bin/time -f %M` (max over the pipeline's processes; "
          f"the wrapper adds ~{overhead:.1f} ms to their wall times). "
          + (f"Idle muse child (import only): {baseline['maxrss_kib'] / 1024:.1f} MiB."
             if baseline else ""))
    notes = []
    for name in trees:
        i = info[name]
        if name == "stdlib":
            notes.append(f"stdlib: copy of {i['source']} "
                         + (f"(only {', '.join(STDLIB_QUICK_SUBDIRS)})" if q
                            else "(site-packages left out)"))
        counts = {a["engine"] + ":" + a["key"]: a["files"] for a in rows
                  if a["tree"] == name and a["key"] in ("muse_cold", "git_add")}
        if len(set(counts.values()) | {i["files"]}) > 1:
            notes.append(f"{name}: FILE COUNTS DIFFER: tree {i['files']:,}, {counts}")
        if "muse_cache_files" in i:
            cf = ", ".join(f"{k} {v / 1024:,.0f} KiB" for k, v in i["muse_cache_files"].items())
            notes.append(f"{name}: .muse/cache after the cold call: {cf}")
        if i.get("warm_read_s"):
            notes.append(f"{name}: pre-read of every file (untimed) {statistics.median(i['warm_read_s']):.2f} s; "
                         f"git commit (untimed) {statistics.median(i.get('git_commit_s', [0])):.2f} s")
        sf, mw = agg.get((name, "stat_floor")), agg.get((name, "muse_warm"))
        if sf and mw:
            notes.append(f"{name}: muse warm (2nd call) ÷ stat floor: {mw['median_s'] / sf['median_s']:.2f}")
        f1, f2 = agg.get((name, "sha1")), agg.get((name, "sha2"))
        mc = agg.get((name, "muse_cold"))
        if mc and f1 and f2:
            notes.append(f"{name}: muse cold ÷ sha256sum floor: {mc['median_s'] / f1['median_s']:.2f} "
                         f"(1 process), {mc['median_s'] / f2['median_s']:.2f} (2 processes)")
    for s_ in notes:
        print("  - " + s_)

    # ---- targets ---------------------------------------------------------
    targets, target = common.new_targets()

    t = target_tree
    n = info[t]["files"]
    a = agg.get((t, "muse_cold"))
    if a:
        target(f"cold manifest of {n:,} files <= 1.0 s", f"{a['median_s']:.3f} s", a["median_s"] <= 1.0)
    a = agg.get((t, "muse_warm"))
    if a:
        target(f"warm manifest of {n:,} files (2nd call) <= 100 ms",
               f"{a['median_s'] * 1e3:.1f} ms", a["median_s"] <= 0.1)
        g = agg.get((t, "git_status"))
        if g:
            r = a["median_s"] / g["median_s"]
            target(f"warm manifest of {n:,} files <= 0.5x `git status`",
                   f"{a['median_s'] * 1e3:.1f} vs {g['median_s'] * 1e3:.1f} ms = {r:.2f}x", r <= 0.5)
            f = agg.get((t, "stat_floor"))
            if f:
                r = f["median_s"] / g["median_s"]
                target("(reachability) stat floor, readdir + 1 lstat per file only, vs `git status`",
                       f"{f['median_s'] * 1e3:.1f} vs {g['median_s'] * 1e3:.1f} ms = {r:.2f}x", None)
    peaks = [agg[(t, k)]["peak_rss_mib"] for k in ("muse_cold", "muse_warm_after_cold", "muse_warm",
                                                   "muse_warm_fresh")
             if (t, k) in agg]
    if peaks:
        target(f"muse whole-process peak RSS at {n:,} files <= 64 MiB",
               f"{max(peaks):.1f} MiB", max(peaks) <= 64)
    common.print_report_end(targets, q, "trees N/10, 1 rep", load0, load1,
                            f"timing phase {timing_wall:.1f} s (setup included)", probes,
                            (so0, so1))

    if args.json:
        out = {"quick": q, "reps": reps, **common.run_env(load0, load1, (so0, so1)),
               "trees": info, "fs_probe_us": probes,
               "baseline_rss_mib": baseline and baseline["maxrss_kib"] / 1024,
               "time_wrapper_overhead_ms": overhead,
               "rows": rows, "targets": targets, "errors": runner.errors,
               "timing_wall_s": timing_wall,
               "git_version": common.git_version()}
        common.write_json(args.json, out)

    # ---- cleanup: only now, after all timing is done ---------------------
    return common.end_run(base, args.keep_tmp, runner.errors)


if __name__ == "__main__":
    sys.exit(main())
