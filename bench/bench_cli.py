#!/usr/bin/env python3
"""End-to-end CLI benchmarks: the ``muse`` command vs ``git``, process start included.

Usage::

    python bench/bench_cli.py [--quick] [--json out.json] [--reps N] [--keep-tmp]
                              [--native-bin PATH]

Workloads (see bench/README.md):

1. ``startup``  -- ``python -c pass``, ``python -c 'import muse._native'``,
   ``muse --version``, ``git --version``: what every command pays first.
2. ``commit``   -- on a fresh repository per repetition (``muse init`` /
   ``git init`` untimed in setup): ``muse add -A`` then ``muse commit -m x``,
   vs ``git add -A`` then ``git commit -q -m x`` on an identical copy (stock
   git, and git with ``core.fsync=all`` + ``core.fsyncMethod=batch``), for the
   seed's 1,000-file tree (10 dirs x 100 files of ~750 B) and a copy of this
   interpreter's stdlib directory (``site-packages`` left out).
3. ``status``   -- ``muse status`` vs ``git status --porcelain`` on a clean
   75,000-file tree (750 dirs x 100 files of 128 B; added and committed in
   setup, one untimed status each, then the timed ones).

Every command is a fresh process started with ``subprocess``; the wall time
is measured around it (spawn to reap). Peak RSS per command comes from
``/usr/bin/time -f %M`` around it (see ``common.run_timed``). Trees are
built before timing; temp dirs are deleted only at the very end; a
filesystem-speed probe runs before each repetition.

Exit status is 0 even when a target is missed; non-zero only on errors.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/ from the sibling import
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (the shared harness, bench/common.py)
from common import (  # noqa: E402
    GIT_ENV, GIT_ID, STDLIB_QUICK_SUBDIRS, TIME_BIN, Runner, build_stat_floor, copy_stdlib,
    fs_probe, make_seed_tree, muse_cmd, muse_so_info, run_timed, settle, stat_floor_argv,
    tree_stats, wrapper_overhead_ms,
)

MUSE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("MUSE_")}
GIT_FSYNC = ["-c", "core.fsync=all", "-c", "core.fsyncMethod=batch"]
FLOOR_STEP = "readdir + lstat only (C)"


def engine_cmds(engine: str, muse: str) -> dict:
    """argv prefixes and env per engine for init / add / commit / status."""
    if engine == "muse":
        return {"env": MUSE_ENV, "init": [muse, "init"], "add": [muse, "add", "-A"],
                "commit": [muse, "commit", "-m", "x"], "status": [muse, "status"],
                "check": [muse, "status", "--porcelain"]}
    extra = GIT_FSYNC if engine == "git-fsync" else []
    return {"env": GIT_ENV, "init": ["git", "init", "-q"],
            "add": ["git", *extra, "add", "-A"],
            "commit": ["git", *GIT_ID, *extra, "commit", "-q", "-m", "x"],
            "status": ["git", "status", "--porcelain"],
            "check": ["git", "status", "--porcelain"]}


def staged_count(engine: str, tree: str, add_out: str) -> int | None:
    if engine == "muse":
        m = re.search(r"staged (\d+) file", add_out)
        return int(m.group(1)) if m else None
    r = run_timed(["git", "ls-files", "-z"], cwd=tree, env=GIT_ENV)
    return r["stdout"].count("\0")


def main(argv: list[str] | None = None) -> int:
    def native_bin_arg(ap) -> None:
        ap.add_argument("--native-bin", metavar="PATH",
                        help="also time a native `muse` binary (e.g. target/release/muse) for "
                             "--version and status")

    args = common.bench_args(__doc__, argv,
                             "smoke mode: trees N/10 (stdlib: 3 packages), 1 repetition",
                             tmp_help="do not delete the temp dir", extra=native_bin_arg)

    q = args.quick
    reps = args.reps
    muse = muse_cmd()
    native = os.path.abspath(args.native_bin) if args.native_bin else None
    py = sys.executable
    commit_shapes = [  # (name, ndirs, nfiles, size) or stdlib
        ("seed-100" if q else "seed-1k", 1 if q else 10, 100, 750),
        ("stdlib", None, None, None),
    ]
    status_shape = ("seed-7.5k" if q else "seed-75k", 75 if q else 750, 100, 128)
    engines = ["muse", "git", "git-fsync"]

    base = tempfile.mkdtemp(prefix="muse-bench-cli-", dir="/tmp")
    runner = Runner(base, os.path.abspath(__file__))  # commands only: no --child runs
    floor_bin, floor_why = build_stat_floor(base)
    wall0 = time.perf_counter()
    load0 = os.getloadavg()
    so0 = muse_so_info()
    print(f"muse CLI benchmark: {'QUICK (trees N/10, 1 rep)' if q else 'full'}, {reps} rep(s), "
          f"temp dir {base}", flush=True)
    print(f"  {so0}; muse command {muse}" + (f"; native {native}" if native else ""), flush=True)

    # ---- setup (untimed): one fresh tree per (workload, rep, engine) -------
    def build(name, nd, nf, size, dst):
        if nd is None:
            copy_stdlib(dst, q)
        else:
            make_seed_tree(dst, nd, nf, size)

    info: dict = {"trees": {}, "setup": {}}
    results: dict[tuple, list[dict]] = {}

    def add(key, r, files=None):
        results.setdefault(key, []).append(
            {"seconds": r["seconds"], "maxrss_kib": r["maxrss_kib"], "files": files})

    commit_dirs: dict[tuple, str] = {}
    for name, nd, nf, size in commit_shapes:
        t0 = time.perf_counter()
        for rep in range(reps):
            for eng in engines:
                d = runner.fresh_dir(f"commit-{name}-r{rep}-{eng}")
                build(name, nd, nf, size, d)
                commit_dirs[(name, rep, eng)] = d
                c = engine_cmds(eng, muse)
                r = runner.cmd(f"{eng} init", c["init"], cwd=d, env=c["env"], sync=False)
                if r:
                    add(("commit", name, eng, "init"), r)
        n, b = tree_stats(commit_dirs[(name, 0, "muse")])
        info["trees"][name] = {"files": n, "bytes": b, "setup_s": round(time.perf_counter() - t0, 1)}
        print(f"  commit trees {name}: {n:,} files, {b / 2**20:,.1f} MiB each, "
              f"{reps * len(engines)} copies built + init in {info['trees'][name]['setup_s']:.1f} s",
              flush=True)

    sname, nd, nf, size = status_shape
    status_dirs = {}
    t0 = time.perf_counter()
    for eng in ("muse", "git"):
        d = runner.fresh_dir(f"status-{sname}-{eng}")
        make_seed_tree(d, nd, nf, size)
        status_dirs[eng] = d
        c = engine_cmds(eng, muse)
        for step in ("init", "add", "commit", "status"):
            r = runner.cmd(f"status setup {eng} {step}", c[step], cwd=d, env=c["env"])
            if not r:
                break
            info["setup"][f"{sname} {eng} {step}"] = round(r["seconds"], 3)
            info["setup"][f"{sname} {eng} {step} peak RSS MiB"] = round(r["maxrss_kib"] / 1024, 1)
    n, b = tree_stats(status_dirs["muse"])
    info["trees"][sname] = {"files": n, "bytes": b, "setup_s": round(time.perf_counter() - t0, 1)}
    print(f"  status trees {sname}: {n:,} files, {b / 2**20:,.1f} MiB each, 2 copies built, "
          f"added and committed in {info['trees'][sname]['setup_s']:.1f} s", flush=True)
    os.sync()
    overhead = wrapper_overhead_ms()

    # ---- timing ------------------------------------------------------------
    probes: list[float] = []
    startup = [("python", "-c pass", [py, "-c", "pass"]),
               ("python", "-c 'import muse._native'", [py, "-c", "import muse._native"]),
               ("muse", "--version", [muse, "--version"]),
               ("git", "--version", ["git", "--version"])]
    if native:
        startup.append(("muse-native", "--version", [native, "--version"]))
    for rep in range(reps):
        settle(runner, probes, args.settle_max)
        print(f"  rep {rep + 1}/{reps} (fs probe {probes[-1]:.0f} µs/create)", flush=True)
        for eng, label, cmd in startup:
            r = runner.cmd(f"startup {eng} {label}", cmd, cwd=base, env=MUSE_ENV, sync=False)
            if r:
                add(("startup", "-", eng, label), r)
        for name, *_ in commit_shapes:
            for eng in (engines if rep % 2 == 0 else engines[::-1]):
                d = commit_dirs[(name, rep, eng)]
                c = engine_cmds(eng, muse)
                ra = runner.cmd(f"{name} {eng} add", c["add"], cwd=d, env=c["env"])
                rc = ra and runner.cmd(f"{name} {eng} commit", c["commit"], cwd=d, env=c["env"],
                                       sync=False)
                if not (ra and rc):
                    continue
                files = staged_count(eng, d, ra["stdout"])
                add(("commit", name, eng, "add -A"), ra, files)
                add(("commit", name, eng, "commit -m x"), rc, files)
                add(("commit", name, eng, "add + commit"),
                    {"seconds": ra["seconds"] + rc["seconds"],
                     "maxrss_kib": max(ra["maxrss_kib"], rc["maxrss_kib"])}, files)
                chk = run_timed(c["check"], cwd=d, env=c["env"], check=False)
                if chk["rc"] != 0 or chk["stdout"].strip():
                    runner.fail(f"{name} {eng}: not clean after commit: {chk['stdout'][:300]}"
                                f"{chk['stderr'][:300]}")
        status_order = [("muse", "status"), ("git", "status --porcelain")]
        if native:
            status_order.append(("muse-native", "status"))
        if floor_bin:
            status_order.append(("floor", FLOOR_STEP))
        for eng, label in (status_order if rep % 2 == 0 else status_order[::-1]):
            d = status_dirs["git" if eng == "git" else "muse"]
            c = engine_cmds("git" if eng == "git" else "muse", muse)
            cmd = [native, "status"] if eng == "muse-native" else c["status"]
            if eng == "floor":
                cmd = stat_floor_argv(floor_bin, d)
            r = runner.cmd(f"status {eng}", cmd, cwd=d, env=c["env"])
            if r and eng == "floor":
                add(("status", sname, eng, label), r, json.loads(r["stdout"])["files"])
            elif r:
                if eng == "git" and r["stdout"].strip():
                    runner.fail(f"git status not clean: {r['stdout'][:300]}")
                if eng != "git" and "working tree clean" not in r["stdout"]:
                    runner.fail(f"{eng} status not clean: {r['stdout'][:300]}")
                add(("status", sname, eng, label), r, info["trees"][sname]["files"])
    timing_wall = time.perf_counter() - wall0
    load1 = os.getloadavg()
    probes.append(round(fs_probe(runner), 1))
    so1 = muse_so_info()

    # ---- aggregate -----------------------------------------------------------
    rows = []
    agg: dict[tuple, dict] = {}
    order = [("startup", "-", e, label) for e, label, _ in startup]
    order += [("commit", name, e, step) for name, *_ in commit_shapes for e in engines
              for step in ("init", "add -A", "commit -m x", "add + commit")]
    order += [("status", sname, e, label) for e, label in
              (("muse", "status"), ("muse-native", "status"), ("git", "status --porcelain"),
               ("floor", FLOOR_STEP))]
    for key in order:
        rs = results.get(key)
        if not rs:
            continue
        w, name, eng, step = key
        files = next((r["files"] for r in rs if r.get("files") is not None),
                     info["trees"].get(name, {}).get("files"))
        a = {"workload": w, "tree": name, "engine": eng, "step": step, "files": files,
             **common.summarize(rs),
             "files_seen": sorted({r["files"] for r in rs if r.get("files") is not None})}
        agg[key] = a
        rows.append(a)
    step_pair = {"add -A": "add -A", "commit -m x": "commit -m x", "add + commit": "add + commit",
                 "init": "init", "status": "status --porcelain", "--version": "--version",
                 FLOOR_STEP: "status --porcelain"}
    for a in rows:
        a["ratio"] = a["ratio_fsync"] = None
        if a["engine"] in ("muse", "muse-native", "floor"):
            g = agg.get((a["workload"], a["tree"], "git", step_pair.get(a["step"], "")))
            if g:
                a["ratio"] = a["median_s"] / g["median_s"]
            g = agg.get((a["workload"], a["tree"], "git-fsync", step_pair.get(a["step"], "")))
            if g:
                a["ratio_fsync"] = a["median_s"] / g["median_s"]

    hdr = ["workload", "tree", "files", "engine", "step", "median s", "min s", "muse÷git",
           "muse÷git-fsync", "peak RSS MiB"]
    table = [[a["workload"], a["tree"], "" if a["files"] is None else f"{a['files']:,}",
              a["engine"], a["step"], f"{a['median_s']:.4f}", f"{a['min_s']:.4f}",
              "" if a["ratio"] is None else f"{a['ratio']:.2f}",
              "" if a["ratio_fsync"] is None else f"{a['ratio_fsync']:.2f}",
              f"{a['peak_rss_mib']:.1f}"] for a in rows]
    print()
    common.print_table(hdr, table, {2, 5, 6, 7, 8, 9}, [(a["workload"], a["tree"]) for a in rows])
    print()
    print(f"Times: median (and min) of {reps} run(s); wall time of the whole process (spawn to "
          f"reap: interpreter / binary start included) measured around `subprocess`; "
          f"muse÷git = muse median / git median (<1: muse faster).")
    print(f"muse = {muse} (console script: starts Python, imports the extension, runs the Rust "
          f"CLI inside it); default config (fsync = \"full\": durable). git = stock git, no "
          f"system/global config, user.* via -c (no fsync of loose objects or the index by "
          f"default); git-fsync = git -c core.fsync=all -c core.fsyncMethod=batch.")
    print("commit: a fresh repository per repetition (init untimed: the init rows are the setup "
          "runs); `add + commit` = sum of the two process times; the tree is checked clean "
          "afterwards (untimed). Engine order alternates between repetitions.")
    print(f"status: `muse status` (long form) and `git status --porcelain` on clean committed "
          f"copies of the same tree; each was run once untimed after the commit. "
          + (f"floor = bench/stat_floor.c on {os.cpu_count()} threads over the muse copy: readdir "
             f"of every directory and one fstatat per file, nothing else (the least work of a "
             f"status that checks every file with one lstat, as both engines do)."
             if floor_bin else f"(stat floor row left out: {floor_why})"))
    print(f"peak RSS = `/usr/bin/time -f %M` around each process, max over runs (add + commit: the "
          f"larger of the two); the wrapper adds ~{overhead:.1f} ms to every wall time "
          f"(muse and git alike; not subtracted)." if TIME_BIN else
          "peak RSS = wait4 rusage (no /usr/bin/time: includes the parent's RSS at spawn)")
    notes = []
    for name, t in info["trees"].items():
        if name == "stdlib":
            notes.append("stdlib = copy of the interpreter's stdlib dir "
                         + (f"(only {', '.join(STDLIB_QUICK_SUBDIRS)})" if q
                            else "(site-packages left out)"))
        seen = {a["engine"]: a["files_seen"] for a in rows
                if a["tree"] == name and a["step"] == "add -A"}
        bad = {e: s for e, s in seen.items() if s and s != [t["files"]]}
        if bad:
            notes.append(f"{name}: FILE COUNTS DIFFER from the tree's {t['files']:,}: {bad}")
    st = info["setup"]
    if st:
        notes.append("status tree setup (1 run each): " + "; ".join(
            f"{e} " + ", ".join(f"{s} {st[f'{sname} {e} {s}']:.2f} s "
                                f"({st[f'{sname} {e} {s} peak RSS MiB']:.0f} MiB)"
                                for s in ("init", "add", "commit", "status")
                                if f"{sname} {e} {s}" in st)
            for e in ("muse", "git")))
    v = agg.get(("startup", "-", "muse", "--version"))
    p0 = agg.get(("startup", "-", "python", "-c pass"))
    p1 = agg.get(("startup", "-", "python", "-c 'import muse._native'"))
    if v and p0 and p1:
        notes.append(f"startup split: interpreter {p0['median_s'] * 1e3:.1f} ms, + extension import "
                     f"{(p1['median_s'] - p0['median_s']) * 1e3:.1f} ms, + console script and "
                     f"clap `--version` {(v['median_s'] - p1['median_s']) * 1e3:.1f} ms = "
                     f"`muse --version` {v['median_s'] * 1e3:.1f} ms")
        s_ = agg.get(("status", sname, "muse", "status"))
        if s_:
            notes.append(f"muse status at {info['trees'][sname]['files']:,} files minus "
                         f"`muse --version`: {(s_['median_s'] - v['median_s']) * 1e3:.1f} ms of "
                         f"command work")
    for s_ in notes:
        print("  - " + s_)

    # ---- targets ---------------------------------------------------------
    targets, target = common.new_targets()

    cname = commit_shapes[0][0]
    a = agg.get(("commit", cname, "muse", "add + commit"))
    if a:
        target(f"muse add -A + commit of {info['trees'][cname]['files']:,} files <= 150 ms",
               f"{a['median_s'] * 1e3:.1f} ms", a["median_s"] <= 0.150)
    a = agg.get(("status", sname, "muse", "status"))
    g = agg.get(("status", sname, "git", "status --porcelain"))
    if a and g:
        r = a["median_s"] / g["median_s"]
        target(f"clean muse status at {info['trees'][sname]['files']:,} files <= 0.5x git status",
               f"{a['median_s'] * 1e3:.1f} vs {g['median_s'] * 1e3:.1f} ms = {r:.2f}x", r <= 0.5)
        f = agg.get(("status", sname, "floor", FLOOR_STEP))
        if f:
            r = f["median_s"] / g["median_s"]
            target("(reachability) stat floor, readdir + 1 lstat per file only, vs git status",
                   f"{f['median_s'] * 1e3:.1f} vs {g['median_s'] * 1e3:.1f} ms = {r:.2f}x", None)
    common.print_report_end(targets, q, "trees N/10, 1 rep", load0, load1,
                            f"total {timing_wall:.1f} s (setup included)", probes, (so0, so1))

    if args.json:
        out = {"quick": q, "reps": reps, **common.run_env(load0, load1, (so0, so1)),
               "info": info, "fs_probe_us": probes,
               "time_wrapper_overhead_ms": overhead, "rows": rows, "targets": targets,
               "errors": runner.errors, "timing_wall_s": timing_wall,
               "git_version": common.git_version()}
        common.write_json(args.json, out)

    return common.end_run(base, args.keep_tmp, runner.errors)


if __name__ == "__main__":
    sys.exit(main())
