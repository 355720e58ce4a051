#!/usr/bin/env python3
"""MPack bundle benchmarks: build / encode / decode / apply vs git bundles.

Usage::

    python bench/bench_mpack.py [--quick] [--json out.json] [--reps N] [--keep-tmp]

History (issue 4; the seed test ``test_mpack_delta_e2e.py``'s musehub shape):
1,031 commits x 700 files, 5 files changed per commit, 512-byte blobs
(``--quick``: 100 commits x 70 files). Built once per run, untimed:

- muse: one ``muse.core.io.Batch`` under ``[core] fsync = "off"`` (the
  default config is restored afterwards; the source is only read);
- git: ``git fast-import`` of a generated stream with the same file
  contents, paths, messages and changes per commit (one packfile).

Timed, each step in a fresh child process, repeated ``--reps`` times
(3, or 1 with ``--quick``), median and min reported:

- muse: ``build_mpack(src, [tip])``, ``encode_mpack``, ``decode_mpack``,
  ``apply_mpack`` into a fresh ``init_repo`` repository (default, durable
  config), their sum, and the four in one process; plus apply under
  ``fsync = "off"``, apply of the wire bytes, a verification-only apply
  (a bundle refused at its very last check) and a re-apply that writes
  nothing, to split where apply's time goes;
- git: ``git bundle create``, ``git bundle verify`` and ``git fetch <bundle>
  'refs/heads/*:refs/heads/*'`` into a fresh repository (unbundle +
  ``index-pack`` + connectivity check + ref update), stock config and with
  ``core.fsync=all``.

Peak RSS: muse rows ``ru_maxrss`` of the child read right after the timed
step (interpreter + imports + inputs + step); git rows ``/usr/bin/time -f %M``
around the git process (max over its waited-for children). Wire sizes:
muse wire bytes vs the bundle file (git's pack is zlib- and
delta-compressed). A filesystem-speed probe runs before each repetition;
temp trees are deleted only at the very end.

Exit status is 0 even when a target is missed; non-zero only on errors.
"""

from __future__ import annotations

import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

sys.dont_write_bytecode = True  # no __pycache__ in bench/ from the sibling import
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (the shared harness, bench/common.py)
from common import (  # noqa: E402
    GIT_ENV, TIME_BIN, Runner, dir_stats, fs_probe, muse_kind_stats, settle,
)
from common import ru_maxrss_kib as rss_kib  # noqa: E402

T0_EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z, the seed's first commit time
TARGET_S = 1.0  # build + encode + decode + apply

# The seed's dimensions (test_mpack_delta_e2e.py).
FULL = {"commits": 1_031, "files": 700, "changed": 5, "blob": 512}
QUICK = {"commits": 100, "files": 70, "changed": 5, "blob": 512}


# --------------------------------------------------------------------------
# The history, exactly as the seed builds it.
# --------------------------------------------------------------------------


def base_blob(i: int, size: int) -> bytes:
    return f"base-{i:06d}".encode() + b"x" * size


def variant_blob(c: int, j: int, size: int) -> bytes:
    return f"commit-{c:05d}-file-{j}".encode() + b"y" * size


def path_of(idx: int) -> str:
    return f"src/file_{idx:04d}.py"


def changed_idx(c: int, shape: dict) -> list[int]:
    return [(c * shape["changed"] + j) % shape["files"] for j in range(shape["changed"])]


# --------------------------------------------------------------------------
# Child side.
# --------------------------------------------------------------------------


def _read_cfg(root: str) -> str:
    with open(os.path.join(root, ".muse", "config.toml"), encoding="utf-8") as f:
        return f.read()


def _write_cfg(root: str, text: str) -> None:
    with open(os.path.join(root, ".muse", "config.toml"), "w", encoding="utf-8") as f:
        f.write(text)


def _fsync_off(root: str) -> None:
    _write_cfg(root, '[core]\nfsync = "off"\n')


def child_setup_muse(spec: dict) -> dict:
    """The seed's history in a muse repo: one Batch, fsync off (untimed)."""
    from muse.core.commits import CommitRecord
    from muse.core.ids import hash_commit, hash_snapshot
    from muse.core.io import Batch
    from muse.core.repo import init_repo
    from muse.core.snapshots import SnapshotRecord
    from muse.core.types import blob_id

    shape, d = spec["shape"], spec["dir"]
    t0 = time.perf_counter()
    init_repo(d)
    default_cfg = _read_cfg(d)
    _fsync_off(d)
    ts = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    parent = None
    with Batch(d) as b:
        base = []
        for i in range(shape["files"]):
            data = base_blob(i, shape["blob"])
            oid = blob_id(data)
            b.write_object(oid, data)
            base.append(oid)
        base_manifest = {path_of(i): base[i] for i in range(shape["files"])}
        for c in range(shape["commits"]):
            manifest = dict(base_manifest)
            for j, idx in enumerate(changed_idx(c, shape)):
                data = variant_blob(c, j, shape["blob"])
                oid = blob_id(data)
                b.write_object(oid, data)
                manifest[path_of(idx)] = oid
            sid = hash_snapshot(manifest)
            b.write_snapshot(SnapshotRecord(snapshot_id=sid, manifest=manifest))
            msg = f"commit-{c:05d}"
            cid = hash_commit(parent_ids=[parent] if parent else [], snapshot_id=sid, message=msg,
                              committed_at_iso=ts.isoformat(), author="gabriel")
            b.write_commit(CommitRecord(commit_id=cid, branch="main", snapshot_id=sid, message=msg,
                                        committed_at=ts, parent_commit_id=parent, author="gabriel"))
            parent = cid
            ts += datetime.timedelta(seconds=60)
        b.write_branch_ref("main", parent)
    stats = b.stats
    _write_cfg(d, default_cfg)  # the source is only read from now on
    os.sync()
    return {"seconds": time.perf_counter() - t0, "tip": parent, "stats": stats}


def git_stream(shape: dict) -> bytes:
    """A fast-import stream of the same history: same contents, paths,
    messages, times, and the same 5 changes (and reverts) per commit."""
    out: list[bytes] = []
    nf, size = shape["files"], shape["blob"]
    for i in range(nf):
        data = base_blob(i, size)
        out.append(b"blob\nmark :%d\ndata %d\n%s\n" % (i + 1, len(data), data))
    prev: list[int] = []
    for c in range(shape["commits"]):
        ts = T0_EPOCH + 60 * c
        msg = f"commit-{c:05d}".encode()
        out.append(common.fast_import_commit(b"gabriel <gabriel@example.com>", ts, msg))
        cur = changed_idx(c, shape)
        if c == 0:
            for i in range(nf):
                if i not in cur:
                    out.append(b"M 100644 :%d %s\n" % (i + 1, path_of(i).encode()))
        else:
            for i in prev:
                if i not in cur:  # revert last commit's change to the base blob
                    out.append(b"M 100644 :%d %s\n" % (i + 1, path_of(i).encode()))
        for j, idx in enumerate(cur):
            data = variant_blob(c, j, size)
            out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path_of(idx).encode(), len(data), data))
        out.append(b"\n")
        prev = cur
    return b"".join(out)


def child_setup_git(spec: dict) -> dict:
    shape, d = spec["shape"], spec["dir"]
    t0 = time.perf_counter()
    stream = git_stream(shape)
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", d], check=True, env=GIT_ENV)
    subprocess.run(["git", "-C", d, "fast-import", "--quiet"], input=stream, check=True,
                   stdout=subprocess.DEVNULL, env=GIT_ENV)
    os.sync()
    cnt = subprocess.run(["git", "-C", d, "count-objects", "-v"], check=True, env=GIT_ENV,
                         capture_output=True, text=True).stdout
    counts = dict(line.split(": ", 1) for line in cnt.strip().splitlines())
    return {"seconds": time.perf_counter() - t0, "stream_bytes": len(stream),
            "in_pack": int(counts.get("in-pack", 0)), "size_pack_kib": int(counts.get("size-pack", 0))}


def child_prepare(spec: dict) -> dict:
    """Untimed: write the wire bytes (and a refused-at-the-end variant) for
    the encode / decode / apply children, and the bundle's composition."""
    import msgpack

    from muse.core.mpack import build_mpack, decode_mpack, encode_mpack

    m = build_mpack(spec["src"], [spec["tip"]])
    wire = encode_mpack(m)
    with open(spec["wire"], "wb") as f:
        f.write(wire)
    bad = dict(m)
    # Refused at the very last check of verification (branch heads), after
    # every blob hash, manifest rebuild + hash and commit check: nothing written.
    bad["branch_heads"] = {"main": "sha256:" + "0" * 64}
    with open(spec["bad_wire"], "wb") as f:
        f.write(encode_mpack(bad))
    ok = decode_mpack(wire) == m
    comp = {
        "blobs": len(m["blobs"]), "snapshots": len(m["snapshots"]), "commits": len(m["commits"]),
        "blob_content_bytes": sum(len(b["content"]) for b in m["blobs"]),
        "blobs_packed_bytes": len(msgpack.packb(m["blobs"], use_bin_type=True)),
        "snapshots_packed_bytes": len(msgpack.packb(m["snapshots"], use_bin_type=True)),
        "commits_packed_bytes": len(msgpack.packb(m["commits"], use_bin_type=True)),
        "delta_upserts": sum(len(s["delta_upsert"]) for s in m["snapshots"]),
        "delta_removes": sum(len(s["delta_remove"]) for s in m["snapshots"]),
        "wire_bytes": len(wire),
        "wire_zlib6_bytes": len(zlib.compress(wire, 6)),
        "wire_zlib9_bytes": len(zlib.compress(wire, 9)),
        "round_trip_equal": ok,
    }
    return {"seconds": 0.0, "composition": comp}


def _load(path: str):
    from muse.core.mpack import decode_mpack

    with open(path, "rb") as f:
        wire = f.read()
    return wire, decode_mpack(wire)


def _fresh_dest(d: str, fsync: str) -> None:
    from muse.core.repo import init_repo

    init_repo(d)  # default config: fsync = "full" (durable)
    if fsync == "off":
        _fsync_off(d)


def _check_apply(r: dict, spec: dict) -> None:
    exp = spec["expect"]
    if (r["commits_written"], r["snapshots_written"], r["blobs_written"]) != \
            (exp["commits"], exp["snapshots"], exp["blobs"]):
        raise RuntimeError(f"apply wrote {r}, expected {exp}")


def child_muse(spec: dict) -> dict:
    from muse.core.mpack import apply_mpack, build_mpack, decode_mpack, encode_mpack

    pc = time.perf_counter
    step, extra = spec["step"], {}
    if step == "build":
        t0 = pc()
        m = build_mpack(spec["src"], [spec["tip"]])
        secs = pc() - t0
        rss = rss_kib()
        if len(m["commits"]) != spec["expect"]["commits"]:
            raise RuntimeError(f"build_mpack bundled {len(m['commits'])} commits")
        # Untimed: what loading the source's stored snapshots costs on its own
        # (build_mpack reads each commit's full manifest from the store).
        snaps = os.path.join(spec["src"], ".muse", "snapshots")
        files = [os.path.join(dp, f) for dp, _, fs in os.walk(snaps) for f in fs]
        t0 = pc()
        nbytes = 0
        for p in files:
            with open(p, "rb") as f:
                nbytes += len(f.read())
        extra["read_snapshot_files_s"] = pc() - t0
        extra["snapshot_files"] = len(files)
        extra["snapshot_bytes"] = nbytes
    elif step == "encode":
        wire, m = _load(spec["wire"])
        t0 = pc()
        out = encode_mpack(m)
        secs = pc() - t0
        rss = rss_kib()
        extra["same_bytes"] = out == wire
    elif step == "decode":
        with open(spec["wire"], "rb") as f:
            wire = f.read()
        t0 = pc()
        m = decode_mpack(wire)
        secs = pc() - t0
        rss = rss_kib()
    elif step in ("apply", "apply_bytes", "verify_only"):
        wire, m = _load(spec["bad_wire" if step == "verify_only" else "wire"])
        arg = wire if step == "apply_bytes" else m
        d = spec["dir"]
        _fresh_dest(d, spec["fsync"])
        os.sync()
        if step == "verify_only":
            from muse.core.errors import CorruptRecordError

            t0 = pc()
            try:
                apply_mpack(d, arg)
            except CorruptRecordError as e:
                secs = pc() - t0
                if "branch_heads" not in str(e):
                    raise
            else:
                raise RuntimeError("the refused bundle was applied")
            rss = rss_kib()
            if muse_kind_stats(os.path.join(d, ".muse"), "objects")[0]:
                raise RuntimeError("a refused bundle wrote objects")
        else:
            t0 = pc()
            r = apply_mpack(d, arg)
            secs = pc() - t0
            rss = rss_kib()
            _check_apply(r, spec)
            # Untimed: the same bundle again: full verification, manifests
            # rebuilt, records prepared, every item found present, no writes.
            t0 = pc()
            r2 = apply_mpack(d, arg)
            extra["reapply_s"] = pc() - t0
            if r2["commits_written"] or r2["blobs_written"] or r2["snapshots_written"]:
                raise RuntimeError(f"re-apply wrote {r2}")
    elif step == "pipeline":
        d = spec["dir"]
        _fresh_dest(d, "full")
        os.sync()
        t0 = pc()
        m = build_mpack(spec["src"], [spec["tip"]])
        t1 = pc()
        wire = encode_mpack(m)
        t2 = pc()
        m2 = decode_mpack(wire)
        t3 = pc()
        r = apply_mpack(d, m2)
        t4 = pc()
        secs = t4 - t0
        rss = rss_kib()
        _check_apply(r, spec)
        extra.update(build_s=t1 - t0, encode_s=t2 - t1, decode_s=t3 - t2, apply_s=t4 - t3)
    else:
        raise ValueError(step)
    return {"seconds": secs, "maxrss_kib": rss, "extra": extra}


def child_baseline(spec: dict) -> dict:
    import muse.core.mpack  # noqa: F401
    import muse.core.repo  # noqa: F401

    return {"seconds": 0.0, "maxrss_kib": rss_kib(), "extra": {}}


def run_child(spec: dict) -> None:
    kind = spec["kind"]
    if kind == "setup_muse":
        res = child_setup_muse(spec)
    elif kind == "setup_git":
        res = child_setup_git(spec)
    elif kind == "prepare":
        res = child_prepare(spec)
    elif kind == "muse":
        res = child_muse(spec)
    elif kind == "baseline":
        res = child_baseline(spec)
    else:
        raise ValueError(kind)
    res.setdefault("maxrss_kib", rss_kib())
    common.emit_child_result(res)


# --------------------------------------------------------------------------
# Parent side.
# --------------------------------------------------------------------------

MUSE_STEPS = [  # (key, label)
    ("build", "build_mpack(src, [tip])"),
    ("encode", "encode_mpack(bundle)"),
    ("decode", "decode_mpack(wire)"),
    ("apply", "apply_mpack(dest, bundle), durable (default config)"),
]
MUSE_EXTRA = [
    ("pipeline", "the 4 steps in one process (durable)"),
    ("apply_off", "apply_mpack(dest, bundle), fsync=off"),
    ("apply_bytes", "apply_mpack(dest, wire bytes), durable"),
    ("verify_only", "apply: verification only (refused at last check)"),
]
GIT_STEPS = [
    ("bundle_create", "git bundle create <file> main"),
    ("bundle_verify", "git bundle verify <file>"),
    ("fetch", "git fetch <bundle> into fresh repo (stock)"),
]
GIT_EXTRA = [("fetch_fsync", "git fetch <bundle>, core.fsync=all")]


class MpackRunner(Runner):
    def describe(self, spec: dict) -> str:
        return f"child {spec['kind']}/{spec.get('step', '-')}"

    def git(self, key: str, argv: list[str]) -> dict | None:
        r = self.cmd(f"git step {key} failed", ["git", *argv], env=GIT_ENV)
        if r is None:
            return None
        return {"seconds": r["seconds"], "maxrss_kib": r["maxrss_kib"], "extra": {}}


def _setup_failed(what: str, base: str, keep_tmp: bool) -> int:
    print(f"{what} failed", file=sys.stderr)
    if not keep_tmp:
        shutil.rmtree(base, ignore_errors=True)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = common.bench_args(__doc__, argv, "smoke mode: 100 commits x 70 files, 1 repetition",
                             run_child)

    shape = QUICK if args.quick else FULL
    reps = args.reps
    n_blobs = shape["files"] + shape["commits"] * shape["changed"]
    expect = {"commits": shape["commits"], "snapshots": shape["commits"], "blobs": n_blobs}

    base = tempfile.mkdtemp(prefix="muse-bench-mpack-", dir="/tmp")
    runner = MpackRunner(base, os.path.abspath(__file__))
    wall0 = time.perf_counter()
    load0 = os.getloadavg()
    print(f"muse mpack benchmark: {'QUICK' if args.quick else 'full'}: {shape['commits']:,} commits x "
          f"{shape['files']:,} files, {shape['changed']} changed/commit, {shape['blob']} B blobs; "
          f"{reps} rep(s), temp dir {base}", flush=True)
    common.print_load_start(load0)

    baseline = runner.child({"kind": "baseline"})
    probes: list[float] = []

    # ---- setup (untimed, once) --------------------------------------------
    src = os.path.join(base, "src-muse")
    src_git = os.path.join(base, "src.git")
    wire_path = os.path.join(base, "bundle.mpack")
    bad_path = os.path.join(base, "bundle-refused.mpack")
    print("  setup: building the muse history (one Batch, fsync=off)...", flush=True)
    sm = runner.child({"kind": "setup_muse", "shape": shape, "dir": src})
    print("  setup: building the git history (git fast-import)...", flush=True)
    sg = runner.child({"kind": "setup_git", "shape": shape, "dir": src_git})
    if not sm or not sg:
        return _setup_failed("setup", base, args.keep_tmp)
    tip = sm["tip"]
    prep = runner.child({"kind": "prepare", "src": src, "tip": tip, "wire": wire_path,
                         "bad_wire": bad_path})
    if not prep:
        return _setup_failed("prepare", base, args.keep_tmp)
    comp = prep["composition"]
    src_files, src_bytes = dir_stats(os.path.join(src, ".muse"))
    print(f"  setup: muse {sm['seconds']:.1f} s ({src_files:,} files, {src_bytes / 2**20:.1f} MiB in "
          f".muse), git {sg['seconds']:.1f} s ({sg['in_pack']:,} objects in one pack, "
          f"{sg['size_pack_kib'] / 1024:.1f} MiB)", flush=True)

    # ---- timing ------------------------------------------------------------
    results: dict[str, list[dict]] = {}
    bundle_sizes: list[int] = []
    dest_sizes: dict[str, tuple[int, int]] = {}

    def add(key: str, r: dict | None) -> None:
        if r:
            results.setdefault(key, []).append(r)

    muse_spec = {"kind": "muse", "src": src, "tip": tip, "wire": wire_path, "bad_wire": bad_path,
                 "expect": expect}
    for rep in range(reps):
        settle(runner, probes, args.settle_max)
        print(f"  rep {rep + 1}/{reps} (fs probe {probes[-1]:.0f} µs/create)", flush=True)

        def muse_jobs() -> None:
            for step in ("build", "encode", "decode"):
                add(step, runner.child({**muse_spec, "step": step}))
            for key, step, fsync in [("apply", "apply", "full"), ("apply_off", "apply", "off"),
                                     ("apply_bytes", "apply_bytes", "full"),
                                     ("verify_only", "verify_only", "full")]:
                d = runner.fresh_dir(f"dst-muse-{key}")
                add(key, runner.child({**muse_spec, "step": step, "fsync": fsync, "dir": d}))
                if key == "apply" and rep == 0:
                    dest_sizes["muse"] = dir_stats(os.path.join(d, ".muse"))
                    dest_sizes["muse_snapshots"] = muse_kind_stats(os.path.join(d, ".muse"), "snapshots")
            add("pipeline", runner.child({**muse_spec, "step": "pipeline",
                                          "dir": runner.fresh_dir("dst-muse-pipeline")}))

        def git_jobs() -> None:
            bundle = runner.fresh_dir("git-bundle") + ".bundle"
            add("bundle_create", runner.git("bundle_create",
                                            ["-C", src_git, "bundle", "create", "-q", bundle, "main"]))
            if not os.path.exists(bundle):
                return
            bundle_sizes.append(os.path.getsize(bundle))
            for key, cfg in [("fetch", []), ("fetch_fsync", ["-c", "core.fsync=all",
                                                            "-c", "core.fsyncMethod=batch"])]:
                d = runner.fresh_dir(f"dst-git-{key}")
                # bare: a non-bare fresh repo refuses to fetch into its
                # checked-out (unborn) main
                subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", d], check=True,
                               env=GIT_ENV)
                if key == "fetch":
                    add("bundle_verify", runner.git("bundle_verify",
                                                    ["-C", d, "bundle", "verify", "-q", bundle]))
                add(key, runner.git(key, ["-C", d, *cfg, "fetch", "-q", bundle,
                                          "refs/heads/*:refs/heads/*"]))
                if key == "fetch" and rep == 0:
                    dest_sizes["git"] = dir_stats(d)

        for job in ((muse_jobs, git_jobs) if rep % 2 == 0 else (git_jobs, muse_jobs)):
            job()
    timing_wall = time.perf_counter() - wall0
    load1 = os.getloadavg()
    probes.append(round(fs_probe(runner), 1))

    # ---- aggregate -----------------------------------------------------------
    agg: dict[str, dict] = {}
    for key, rs in results.items():
        agg[key] = {**common.summarize(rs), "extra": [r["extra"] for r in rs]}

    def med(key: str) -> float | None:
        return agg[key]["median_s"] if key in agg else None

    def extra_med(key: str, field: str) -> float | None:
        if key not in agg:
            return None
        xs = [x[field] for x in agg[key]["extra"] if field in x]
        return statistics.median(xs) if xs else None

    muse_total = (sum(med(k) for k, _ in MUSE_STEPS) if all(k in agg for k, _ in MUSE_STEPS)
                  else None)
    git_total = (sum(med(k) for k, _ in GIT_STEPS) if all(k in agg for k, _ in GIT_STEPS)
                 else None)
    muse_total_min = (sum(agg[k]["min_s"] for k, _ in MUSE_STEPS) if muse_total is not None
                      else None)
    git_total_min = (sum(agg[k]["min_s"] for k, _ in GIT_STEPS) if git_total is not None else None)

    # ---- table -----------------------------------------------------------------
    hdr = ["engine", "step", "median s", "min s", "% of total", "peak RSS MiB"]
    table: list[list[str] | None] = []

    def row(engine: str, key: str, label: str, total: float | None) -> None:
        a = agg.get(key)
        if not a:
            table.append([engine, label, "FAILED", "", "", ""])
            return
        pct = f"{a['median_s'] / total * 100:.0f} %" if total else ""
        table.append([engine, label, f"{a['median_s']:.4f}", f"{a['min_s']:.4f}", pct,
                      f"{a['peak_rss_mib']:.1f}"])

    def section(engine: str, steps: list, extras: list, total: float | None,
                total_min: float | None, total_label: str) -> None:
        for key, label in steps:
            row(engine, key, label, total)
        if total is not None:
            table.append([engine, total_label, f"{total:.4f}", f"{total_min:.4f}", "100 %",
                          f"{max(agg[k]['peak_rss_mib'] for k, _ in steps):.1f}"])
        for key, label in extras:
            row(engine, key, label, None)

    section("muse", MUSE_STEPS, MUSE_EXTRA, muse_total, muse_total_min,
            "total: build+encode+decode+apply (sum)")
    ra = extra_med("apply", "reapply_s")
    if ra is not None:
        table.append(["muse", "apply: re-apply, all present (no writes)*", f"{ra:.4f}",
                      f"{min(x['reapply_s'] for x in agg['apply']['extra']):.4f}", "", "*"])
    table.append(None)
    section("git", GIT_STEPS, GIT_EXTRA, git_total, git_total_min,
            "total: create+verify+fetch (sum)")

    print()
    common.print_table(hdr, table, {2, 3, 4, 5}, rstrip=False)
    print()

    bundle_size = int(statistics.median(bundle_sizes)) if bundle_sizes else None
    wire = comp["wire_bytes"]
    ratio = wire / bundle_size if bundle_size else None
    mib = 2 ** 20
    print(f"Wire size: muse {wire:,} B ({wire / mib:.2f} MiB); git bundle "
          + (f"{bundle_size:,} B ({bundle_size / mib:.2f} MiB); muse ÷ git = {ratio:.2f}x"
             if bundle_size else "n/a"))
    print("  git's bundle is a packfile: zlib-compressed objects, blobs and trees delta-encoded "
          "against each other; the muse wire is uncompressed msgpack (blobs stored whole).")
    z6, z9 = comp["wire_zlib6_bytes"], comp["wire_zlib9_bytes"]
    print(f"  for scale, the muse wire through plain zlib (no deltas): level 6 {z6:,} B, level 9 "
          f"{z9:,} B" + (f" ({z6 / bundle_size:.2f}x / {z9 / bundle_size:.2f}x git)." if bundle_size
                         else "."))
    other = wire - comp["blobs_packed_bytes"] - comp["snapshots_packed_bytes"] - comp["commits_packed_bytes"]
    print(f"  muse wire composition: blobs {comp['blobs_packed_bytes']:,} B ({comp['blobs']:,} blobs, "
          f"{comp['blob_content_bytes']:,} B content), snapshot deltas {comp['snapshots_packed_bytes']:,} B "
          f"({comp['snapshots']:,} snapshots, {comp['delta_upserts']:,} upserts, "
          f"{comp['delta_removes']:,} removes), commits {comp['commits_packed_bytes']:,} B "
          f"({comp['commits']:,}), rest {other:,} B.")
    if "muse" in dest_sizes and "git" in dest_sizes:
        mf, mb = dest_sizes["muse"]
        gf, gb = dest_sizes["git"]
        sf, sb = dest_sizes.get("muse_snapshots", (0, 0))
        _, srcsb = muse_kind_stats(os.path.join(src, ".muse"), "snapshots")
        print(f"After apply/fetch the receiver holds: muse {mf:,} files, {mb / mib:.1f} MiB in .muse "
              f"(snapshot records {sf:,}, {sb / mib:.1f} MiB; the Batch-built source's: "
              f"{srcsb / mib:.1f} MiB); git {gf:,} files, {gb / mib:.1f} MiB.")
    print()
    print(f"Times: median (and min) of {reps} run(s); each muse row in a fresh child process, each git "
          f"row one git process (spawn to reap, /usr/bin/time wrapper ~1 ms included).")
    print("muse inputs are prepared untimed in the child: the source repo (warm page cache), the wire "
          "bytes read from a file, the bundle dict decoded before encode/apply, a fresh init_repo "
          "destination (apply rows).")
    print("durable = the default config ([core] fsync = \"full\"): apply writes the bundle's items "
          "through one Batch: more than [pack] unpack_limit (100) items go into one pack file "
          "(fsync, rename, fsync of packs/), like git's index-pack; fewer are loose files (syncfs + "
          "renames + syncfs).")
    print("git: stock config (core.fsync default: packfile and its .idx are fsynced, refs are not); "
          "core.fsync=all also fsyncs refs etc. (fsyncMethod=batch). Destination repos are "
          "`git init --bare` (a non-bare fresh repo refuses to fetch into its checked-out unborn main). "
          "fetch = unbundle + index-pack (inflate + SHA-1 every object, resolve deltas, write .pack + "
          ".idx) + connectivity check + ref update.")
    print("peak RSS: muse = ru_maxrss of the child right after the timed step (interpreter + imports + "
          "inputs + step; the pipeline row: all 4 steps); git = /usr/bin/time -f %M (max over the git "
          "process and its children). Idle muse child: "
          + (f"{baseline['maxrss_kib'] / 1024:.1f} MiB." if baseline else "n/a."))
    print("* re-apply: the same bundle applied again to the populated destination of the durable apply "
          "row (untimed there, after it): verification + second manifest rebuild + record encoding + "
          "an existence check per item, no file written.")

    # ---- where does apply go ----------------------------------------------------
    notes = []
    a_full, a_off, a_bytes, vonly = med("apply"), med("apply_off"), med("apply_bytes"), med("verify_only")
    if None not in (a_full, a_off, vonly, ra):
        notes.append(
            f"apply split (medians): verification only {vonly:.3f} s (blob hashes, {shape['commits']:,} "
            f"manifests rebuilt + hashed, commit checks); re-apply without writes {ra:.3f} s (so the "
            f"write pass's CPU part, i.e. the 2nd rebuild + record encoding + existence checks, "
            f"~{max(ra - vonly, 0):.3f} s); fsync=off apply {a_off:.3f} s, so writing the "
            f"{expect['blobs'] + 2 * shape['commits']:,} items into one pack and renaming it into place "
            f"~{max(a_off - ra, 0):.3f} s; durable {a_full:.3f} s, so the pack's fsync and the fsync of "
            f"packs/ ~{a_full - a_off:.3f} s"
            + (" (negative: below this run's noise)." if a_full < a_off else "."))
    if a_bytes is not None and a_full is not None and med("decode") is not None:
        notes.append(f"apply_mpack(wire bytes) {a_bytes:.3f} s vs decode_mpack + apply_mpack(dict) "
                     f"{med('decode') + a_full:.3f} s (the dict path converts Python objects back to "
                     f"the Rust bundle inside apply).")
    rs = extra_med("build", "read_snapshot_files_s")
    if rs is not None and med("build") is not None:
        x = agg["build"]["extra"][0]
        notes.append(f"build_mpack reads every bundled commit's stored snapshot record: "
                     f"{x['snapshot_files']:,} files, {x['snapshot_bytes'] / mib:.1f} MiB; reading them "
                     f"alone (Python, warm cache, untimed) takes {rs:.3f} s of build's {med('build'):.3f} s; "
                     f"the rest is decoding, hash-verifying and diffing the manifests, reading blobs, "
                     f"and converting the bundle to a Python dict.")
    if "pipeline" in agg:
        ex = agg["pipeline"]["extra"]
        parts = ", ".join(f"{k[:-2]} {statistics.median(e[k] for e in ex):.3f}"
                          for k in ("build_s", "encode_s", "decode_s", "apply_s"))
        notes.append(f"one-process pipeline split (medians, s): {parts}.")
    enc = agg.get("encode")
    if enc and not all(e.get("same_bytes") for e in enc["extra"]):
        notes.append("WARNING: encode_mpack(decode_mpack(wire)) did not reproduce the wire bytes.")
    if not comp["round_trip_equal"]:
        notes.append("WARNING: decode_mpack(encode_mpack(bundle)) != bundle.")
    if muse_total is not None and git_total is not None:
        notes.append(f"muse total ÷ git total (time) = {muse_total / git_total:.2f}x (<1: muse faster); "
                     f"the steps do not correspond one to one (git bundle verify only checks the header "
                     f"and prerequisites; git's verification happens in fetch's index-pack).")
    notes.append(f"setup (untimed): muse {sm['seconds']:.1f} s ({src_files:,} files, "
                 f"{src_bytes / mib:.1f} MiB), git fast-import {sg['seconds']:.1f} s "
                 f"(stream {sg['stream_bytes'] / mib:.1f} MiB, {sg['in_pack']:,} objects, pack "
                 f"{sg['size_pack_kib'] / 1024:.1f} MiB).")
    for s in notes:
        print("  - " + s)

    # ---- targets ---------------------------------------------------------------------
    targets, target = common.new_targets()

    if muse_total is not None:
        target(f"build + encode + decode + apply (durable) <= {TARGET_S:g} s (sum of medians)",
               f"{muse_total:.3f} s", muse_total <= TARGET_S)
    if "pipeline" in agg:
        p = agg["pipeline"]["median_s"]
        target("  the same, one process", f"{p:.3f} s", p <= TARGET_S)
    if None not in (med("build"), med("encode"), med("decode"), a_off):
        s_off = med("build") + med("encode") + med("decode") + a_off
        target("  the same with apply under fsync=off (report)", f"{s_off:.3f} s", None)
    if ratio is not None:
        target("wire size muse ÷ git bundle (report)", f"{ratio:.2f}x", None)

    common.print_report_end(targets, args.quick, "100 commits x 70 files, 1 rep", load0, load1,
                            f"timing phase (setup included) {timing_wall:.1f} s", probes)
    if not TIME_BIN:
        print("note: no /usr/bin/time; git peak RSS is the wait4 rusage (includes the parent's RSS).")

    if args.json:
        out = {
            "quick": args.quick, "reps": reps, "shape": shape, **common.run_env(load0, load1),
            "fs_probe_us": probes,
            "baseline_rss_mib": baseline["maxrss_kib"] / 1024 if baseline else None,
            "setup": {"muse_s": sm["seconds"], "muse_stats": sm.get("stats"), "git": sg,
                      "muse_src_files": src_files, "muse_src_bytes": src_bytes},
            "composition": comp, "git_bundle_bytes": bundle_sizes, "wire_ratio": ratio,
            "dest_sizes": dest_sizes, "results": agg,
            "muse_total_s": muse_total, "git_total_s": git_total,
            "targets": targets, "notes": notes, "errors": runner.errors,
            "timing_wall_s": timing_wall,
        }
        try:
            import muse
            out["muse_version"] = muse.__version__
            out["git_version"] = common.git_version()
        except Exception:  # pragma: no cover - informational only
            pass
        common.write_json(args.json, out)

    # ---- cleanup: only now, after all timing is done -------------------------------
    return common.end_run(base, args.keep_tmp, runner.errors, sync=True)


if __name__ == "__main__":
    sys.exit(main())
