#!/usr/bin/env python3
"""git history import benchmark: ``muse import-git`` vs ``git fast-import``.

Usage::

    python bench/bench_import.py [--quick] [--json out.json] [--reps N] [--keep-tmp]

Histories (issue 7), generated as one ``git fast-import`` stream each and
loaded once, untimed, into a source git repository:

- ``20k``: 20,000 commits over 2,000 files (40 directories x 50 files),
  3 files changed per commit, ~600-byte text blobs (the targets' history);
- ``5k``: the first 5,000 commits of the same generator (RSS against
  history length: ``20k`` vs ``5k``);
- ``5k-x4``: 5,000 commits, 12 files changed per commit (snapshot bytes
  against paths changed: ``5k-x4`` vs ``5k``).

``--quick``: 2,000 / 500 / 500 commits over 200 files.

Timed, each in a fresh process, ``--reps`` times (3, or 1 with ``--quick``):

- git: ``git fast-import`` of the stream file into a fresh bare repository
  (the reference: the same history written by git's own bulk importer);
- git: ``git fast-export`` of the source with the exact options muse uses,
  to ``/dev/null`` (the input muse's import reads: its floor);
- muse: ``muse import-git <src> --json`` into a fresh ``muse init``
  repository, default durable config (the command a user runs, process
  start included);
- muse: ``muse.core.import_git.import_git`` in a fresh Python child, default
  config and ``[core] fsync = "off"``: peak RSS is that process's own
  ``VmHWM``, without the ``git fast-export`` child;
- floor: one file per stored item: a Python child creates, writes and
  renames as many files as the import stored, with the same total bytes, in
  the same shard layout, without fsync (how much of an import is the cost
  of one file per object and per record).

Reported per history: commits/s, peak RSS, and bytes on disk per commit
for blobs (``objects/``), snapshot records (``snapshots/``) and commit
records (``commits/``) separately, next to git's pack (``.pack`` + ``.idx``)
bytes per commit.

Targets (history ``20k``): import >= 2,500 commits/s (the CLI row); peak
RSS independent of history length (``20k`` within 1.25x of ``5k`` and
within 16 MiB of it); snapshot bytes per commit proportional to paths changed
(``5k-x4`` / ``5k`` between 2.5 and 5.5, and ``20k`` under 10 % of one full
2,000-entry manifest record).

Exit status 0 even when a target is missed; non-zero only on errors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/ from the sibling import
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (the shared harness, bench/common.py)
from common import (  # noqa: E402
    GIT_ENV, Runner, dir_stats, fs_probe, muse_cmd, muse_kind_stats, settle, vm_hwm_kib,
)

T0_EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z
TARGET_CPS = 2_500.0

FULL = [
    {"name": "20k", "commits": 20_000, "files": 2_000, "changed": 3},
    {"name": "5k", "commits": 5_000, "files": 2_000, "changed": 3},
    {"name": "5k-x4", "commits": 5_000, "files": 2_000, "changed": 12},
]
QUICK = [
    {"name": "2k", "commits": 2_000, "files": 200, "changed": 3},
    {"name": "500", "commits": 500, "files": 200, "changed": 3},
    {"name": "500-x4", "commits": 500, "files": 200, "changed": 12},
]
# fast-export as muse's importer runs it (muse-core/src/import_git.rs).
EXPORT_ARGS = ["-c", "core.quotepath=false", "fast-export", "--all", "--reencode=yes",
               "--signed-tags=strip", "--tag-of-filtered-object=drop", "--show-original-ids",
               "--use-done-feature", "--reference-excluded-parents"]


# --------------------------------------------------------------------------
# The history.
# --------------------------------------------------------------------------


def path_of(i: int) -> str:
    return f"pkg{i % 40:02d}/module_{i:05d}.py"


def blob(i: int, version: int) -> bytes:
    """~600 B of Python-looking text, distinct per (file, version)."""
    head = f"# file {i} version {version}\n".encode()
    body = b"".join(b"def f%d_%d(x):\n    return x * %d + %d\n" % (i, k, version, k) for k in range(14))
    return head + body


def stream(shape: dict) -> bytes:
    """A ``git fast-import`` stream: commit 0 adds every file; commit c
    rewrites ``changed`` files chosen by a fixed stride."""
    out: list[bytes] = []
    nf, ch = shape["files"], shape["changed"]
    for c in range(shape["commits"]):
        ts = T0_EPOCH + 60 * c
        msg = f"commit {c}: touch {ch} files".encode()
        out.append(common.fast_import_commit(b"Bench <bench@example.com>", ts, msg, mark=c + 1))
        if c:
            out.append(b"from :%d\n" % c)
        idx = range(nf) if c == 0 else [((c * ch + j) * 7919) % nf for j in range(ch)]
        for i in idx:
            data = blob(i, c)
            out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path_of(i).encode(), len(data), data))
        out.append(b"\n")
    return b"".join(out)


# --------------------------------------------------------------------------
# Child side.
# --------------------------------------------------------------------------


def child_setup(spec: dict) -> dict:
    """Write the stream file and load it into the source git repository."""
    t0 = time.perf_counter()
    data = stream(spec["shape"])
    with open(spec["stream"], "wb") as f:
        f.write(data)
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", spec["src"]], check=True, env=GIT_ENV)
    subprocess.run(["git", "-C", spec["src"], "fast-import", "--quiet"], input=data, check=True,
                   stdout=subprocess.DEVNULL, env=GIT_ENV)
    os.sync()
    return {"seconds": time.perf_counter() - t0, "stream_bytes": len(data)}


def child_import(spec: dict) -> dict:
    from muse.core.import_git import import_git
    from muse.core.repo import init_repo

    d = spec["dir"]
    init_repo(d)
    if spec["fsync"] == "off":
        with open(os.path.join(d, ".muse", "config.toml"), "w", encoding="utf-8") as f:
            f.write('[core]\nfsync = "off"\n')
    os.sync()
    base_kib = vm_hwm_kib()
    t0 = time.perf_counter()
    r = import_git(d, spec["src"])
    secs = time.perf_counter() - t0
    return {"seconds": secs, "maxrss_kib": vm_hwm_kib(), "baseline_kib": base_kib, "report": r}


def child_floor(spec: dict) -> dict:
    """Create ``n`` files of ``size`` bytes each (tmp + rename, no fsync) in
    256 shard directories, the way an import lays out its objects."""
    d, n, size = spec["dir"], spec["n"], spec["size"]
    shards = [os.path.join(d, f"{i:02x}") for i in range(256)]
    for s in shards:
        os.makedirs(s)
    payload = b"x" * size
    os.sync()
    t0 = time.perf_counter()
    for i in range(n):
        s = shards[i & 255]
        tmp = os.path.join(s, f".tmp-{i}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        os.write(fd, payload)
        os.close(fd)
        os.rename(tmp, os.path.join(s, f"{i:016x}"))
    return {"seconds": time.perf_counter() - t0, "maxrss_kib": vm_hwm_kib()}


def run_child(spec: dict) -> None:
    res = {"setup": child_setup, "import": child_import, "floor": child_floor}[spec["kind"]](spec)
    common.emit_child_result(res)


# --------------------------------------------------------------------------
# Parent side.
# --------------------------------------------------------------------------


class ImportRunner(Runner):
    def describe(self, spec: dict) -> str:
        return f"child {spec['kind']}"

    def timed(self, argv: list[str], cwd: str | None = None, shell: bool = False) -> dict | None:
        return self.cmd(None, argv, cwd=cwd, env=GIT_ENV, shell=shell)


def store_stats(d: str) -> dict:
    m = os.path.join(d, ".muse")
    return {k: muse_kind_stats(m, k) for k in ("objects", "snapshots", "commits")}


def git_pack_stats(d: str) -> tuple[int, int]:
    return dir_stats(os.path.join(d, "objects"))


def main(argv: list[str] | None = None) -> int:
    args = common.bench_args(__doc__, argv, "smoke mode: 2,000-commit history, 1 repetition",
                             run_child)

    shapes = QUICK if args.quick else FULL
    reps = args.reps
    base = tempfile.mkdtemp(prefix="muse-bench-import-", dir="/tmp")
    runner = ImportRunner(base, os.path.abspath(__file__), timeout=1800)
    muse = muse_cmd()
    load0 = os.getloadavg()
    print(f"muse import-git benchmark: {'QUICK' if args.quick else 'full'}; histories "
          + ", ".join(f"{s['name']} ({s['commits']:,} commits x {s['files']:,} files, {s['changed']} changed)"
                      for s in shapes)
          + f"; {reps} rep(s); temp dir {base}", flush=True)
    common.print_load_start(load0)

    setups: dict[str, dict] = {}
    for s in shapes:
        spec = {"kind": "setup", "shape": s, "stream": os.path.join(base, f"{s['name']}.fi"),
                "src": os.path.join(base, f"src-{s['name']}.git")}
        r = runner.child(spec)
        if not r:
            return 1
        setups[s["name"]] = {**spec, **r}
        print(f"  setup {s['name']}: stream {r['stream_bytes'] / 2**20:.1f} MiB, source repo in "
              f"{r['seconds']:.1f} s", flush=True)

    results: dict[str, dict[str, list[dict]]] = {s["name"]: {} for s in shapes}
    sizes: dict[str, dict] = {}
    probes: list[float] = []

    def add(shape: str, key: str, r: dict | None) -> None:
        if r:
            results[shape].setdefault(key, []).append(r)

    for rep in range(reps):
        settle(runner, probes, args.settle_max)
        print(f"  rep {rep + 1}/{reps} (fs probe {probes[-1]:.0f} µs/create)", flush=True)
        for s in shapes:
            name, st = s["name"], setups[s["name"]]

            def git_jobs() -> None:
                d = runner.fresh_dir(f"git-{name}")
                subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", d], check=True, env=GIT_ENV)
                r = runner.timed(f"git -C '{d}' fast-import --quiet < '{st['stream']}'", shell=True)
                add(name, "git_fast_import", r)
                if rep == 0:
                    sizes.setdefault(name, {})["git"] = git_pack_stats(d)
                add(name, "git_fast_export", runner.timed(
                    f"git -C '{st['src']}' {' '.join(EXPORT_ARGS)} > /dev/null", shell=True))

            def muse_jobs() -> None:
                d = runner.fresh_dir(f"muse-cli-{name}")
                subprocess.run([muse, "init", d], check=True, capture_output=True)
                r = runner.timed([muse, "import-git", st["src"], "--json"], cwd=d)
                if r:
                    r["report"] = json.loads(r["stdout"])
                    if r["report"]["commits"] != s["commits"]:
                        runner.errors.append(f"{name}: imported {r['report']['commits']} commits")
                    add(name, "muse_cli", r)
                    if rep == 0:
                        sizes.setdefault(name, {})["muse"] = store_stats(d)
                for fsync in ("full", "off"):
                    add(name, f"muse_api_{fsync}", runner.child(
                        {"kind": "import", "src": st["src"], "fsync": fsync,
                         "dir": runner.fresh_dir(f"muse-api-{fsync}-{name}")}))
                mz = sizes.get(name, {}).get("muse")
                if mz:
                    n = sum(v[0] for v in mz.values())
                    nbytes = sum(v[1] for v in mz.values())
                    add(name, "floor", runner.child({"kind": "floor", "n": n, "size": max(1, nbytes // n),
                                                     "dir": runner.fresh_dir(f"floor-{name}")}))

            for job in ((muse_jobs, git_jobs) if rep % 2 == 0 else (git_jobs, muse_jobs)):
                job()
    load1 = os.getloadavg()
    probes.append(round(fs_probe(runner), 1))

    # ---- report --------------------------------------------------------------
    labels = [
        ("git_fast_import", "git", "fast-import < stream (fresh bare repo)"),
        ("git_fast_export", "git", "fast-export (muse's options) > /dev/null"),
        ("muse_cli", "muse", "muse import-git --json (CLI, durable)"),
        ("muse_api_full", "muse", "import_git() in Python, durable"),
        ("muse_api_off", "muse", "import_git() in Python, fsync=off"),
        ("floor", "floor", "one file per stored item: create+write+rename"),
    ]
    agg: dict[str, dict[str, dict]] = {}
    out_rows = []
    hdr = ["history", "engine", "what", "median s", "min s", "commits/s", "peak RSS MiB"]
    for s in shapes:
        name = s["name"]
        agg[name] = {}
        for key, eng, label in labels:
            rs = results[name].get(key)
            if not rs:
                out_rows.append([name, eng, label, "FAILED", "", "", ""])
                continue
            a = common.summarize(rs)
            agg[name][key] = a
            cps = s["commits"] / a["median_s"] if key != "floor" else None
            out_rows.append([name, eng, label, f"{a['median_s']:.3f}", f"{a['min_s']:.3f}",
                             f"{cps:,.0f}" if cps else "", f"{a['peak_rss_mib']:.1f}"])
        out_rows.append(None)
    print()
    common.print_table(hdr, out_rows, set(range(3, len(hdr))), rstrip=False)

    print("Bytes on disk per commit (apparent sizes; rep 1):")
    per_commit: dict[str, dict] = {}
    for s in shapes:
        name, z = s["name"], sizes.get(s["name"], {})
        if "muse" not in z or "git" not in z:
            continue
        c = s["commits"]
        pc = {k: z["muse"][k][1] / c for k in ("objects", "snapshots", "commits")}
        pc["git_pack"] = z["git"][1] / c
        per_commit[name] = pc
        files = sum(v[0] for v in z["muse"].values())
        print(f"  {name:7s} muse blobs {pc['objects']:8,.0f} B  snapshots {pc['snapshots']:7,.0f} B  "
              f"commits {pc['commits']:5,.0f} B  ({files:,} files)   git pack+idx {pc['git_pack']:7,.0f} B")
    print("Notes:")
    for s in shapes:
        a = agg[s["name"]]
        if "muse_api_off" in a and "floor" in a:
            print(f"  {s['name']}: one-file-per-item floor {a['floor']['median_s']:.2f} s = "
                  f"{a['floor']['median_s'] / a['muse_api_off']['median_s'] * 100:.0f} % of the fsync=off import "
                  f"({a['muse_api_off']['median_s']:.2f} s); fast-export alone "
                  f"{a.get('git_fast_export', {}).get('median_s', float('nan')):.2f} s")
        if "muse_api_full" in a and "muse_api_off" in a:
            print(f"  {s['name']}: durability barriers (durable - fsync=off) "
                  f"{a['muse_api_full']['median_s'] - a['muse_api_off']['median_s']:+.2f} s")
    print(f"  fs probes (µs per empty-file create, before each rep + at the end): {probes}")
    print(f"  load average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")

    # ---- targets -------------------------------------------------------------
    main_s, short_s, wide_s = shapes
    print("Targets:")
    targets = []
    cli = agg[main_s["name"]].get("muse_cli")
    if cli:
        cps = main_s["commits"] / cli["median_s"]
        targets.append((f"import {main_s['name']} >= {TARGET_CPS:,.0f} commits/s (CLI)", f"{cps:,.0f}",
                        cps >= TARGET_CPS))
    r_long = agg[main_s["name"]].get("muse_api_full")
    r_short = agg[short_s["name"]].get("muse_api_full")
    if r_long and r_short:
        a, b = r_long["peak_rss_mib"], r_short["peak_rss_mib"]
        targets.append((f"peak RSS {main_s['name']} vs {short_s['name']}: <= 1.25x and <= +16 MiB",
                        f"{a:.1f} vs {b:.1f} MiB", a <= 1.25 * b and a - b <= 16))
    if short_s["name"] in per_commit and wide_s["name"] in per_commit:
        ratio = per_commit[wide_s["name"]]["snapshots"] / per_commit[short_s["name"]]["snapshots"]
        targets.append((f"snapshot bytes/commit {wide_s['name']} / {short_s['name']} "
                        f"(4x the paths changed) in 2.5..5.5", f"{ratio:.2f}", 2.5 <= ratio <= 5.5))
    if main_s["name"] in per_commit:
        full = 2_000 * (len(path_of(1999)) + 71 + 3) if not args.quick else 200 * (len(path_of(199)) + 74)
        v = per_commit[main_s["name"]]["snapshots"]
        targets.append((f"snapshot bytes/commit {main_s['name']} < 10 % of a full manifest (~{full:,} B)",
                        f"{v:,.0f} B", v < 0.10 * full))
    for label, val, ok in targets:
        print(f"  {'PASS' if ok else 'MISS'}  {label}: {val}")
    if args.quick:
        print("  (--quick: the numbers only prove that the script runs)")

    if args.json:
        common.write_json(args.json, {
            "shapes": shapes, "agg": agg, "per_commit_bytes": per_commit, "sizes": sizes,
            "probes": probes, "errors": runner.errors,
            "targets": [{"target": t, "value": v, "pass": ok} for t, v, ok in targets]},
            indent=1, announce=False)
    common.remove_tmp_quiet(base, args.keep_tmp)
    return common.exit_status(runner.errors, "error(s)")


if __name__ == "__main__":
    sys.exit(main())
