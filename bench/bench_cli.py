#!/usr/bin/env python3
"""End-to-end CLI benchmarks: the ``muse`` command vs ``git``, process start included.

Usage::

    python bench/bench_cli.py [--quick] [--json out.json] [--reps N] [--inner N]
                              [--keep-tmp] [--settle-max S] [--native-bin PATH]

Workloads (see bench/README.md, section "CLI benchmarks"):

1. ``startup``  -- a bare spawn (``/bin/true``), ``python -c pass``,
   ``python -c 'import muse._native'``, ``muse --version``, ``git --version``:
   what every command pays first.
2. ``commit``   -- on a fresh repository per repetition (``muse init`` /
   ``git init`` untimed in setup): ``muse add -A`` then ``muse commit -m x``,
   vs ``git add -A`` then ``git commit -q -m x`` on an identical copy (stock
   git, and git with ``core.fsync=all`` + ``core.fsyncMethod=batch``), for the
   seed's 1,000-file tree and a copy of this interpreter's stdlib directory.
3. ``status``   -- clean ``muse status --porcelain`` vs ``git status
   --porcelain`` at 20,000 and 75,000 files (100 files of 128 B per dir), and
   at 75,000 files ``muse`` with ``[core] fsmonitor = "watchman"`` vs git
   without fsmonitor and vs git with its ``fsmonitor-watchman`` hook and
   ``core.untrackedCache=true`` (separate copies per setting).
4. ``status-edit`` -- after each repetition appended a line to the same 10
   tracked files of each 75k copy: one ``status --porcelain`` each, whose
   output must list exactly those 10 files as modified.

The targets of issue 19 are muse time / git time (medians): 1. clean status
without fsmonitor <= 1.0x at 20k and 75k files; 2. clean status with
watchman at 75k <= 0.2x git without fsmonitor and <= 0.5x git with
fsmonitor + untracked cache; 3. status after editing 10 files, with watchman,
<= 0.3x git without fsmonitor; 4. ``muse --version`` <= 1.5x ``git
--version``. The artifact sizes (wheel, libmuse, the installed extension and
``muse`` executable) are printed too.

Every command is a fresh process started with ``subprocess``; the wall time
is measured around it (spawn to reap) with nothing wrapped around it; the
muse and git runs of a comparison alternate (``--inner`` pairs per
repetition, the order flipped every other pair). Peak RSS comes from separate
(untimed) runs under ``/usr/bin/time -f %M``. Trees are built before timing;
temp dirs (and the watchman watches on them) are deleted only at the very
end; a filesystem-speed probe runs before each repetition.

Exit status is 0 even when a target is missed; non-zero on errors (a failed
command, a status output that is wrong), and when watchman is missing or
broken while ``MUSE_BENCH_REQUIRE_WATCHMAN=1`` is set (without it the
watchman cases are skipped and the run says so).
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/ from the sibling import
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (the shared harness, bench/common.py)
from common import (  # noqa: E402
    GIT_ENV, GIT_ID, STDLIB_QUICK_SUBDIRS, TIME_BIN, Runner, build_stat_floor, copy_stdlib,
    fs_probe, make_seed_tree, muse_cmd, muse_so_info, run_timed, settle, stat_floor_argv,
    tree_stats,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the checkout
MUSE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("MUSE_")}
GIT_FSYNC = ["-c", "core.fsync=all", "-c", "core.fsyncMethod=batch"]
FLOOR_STEP = "readdir + lstat only (C)"
ST = "status --porcelain"
N_EDITS = 10
# Engines of the status workloads: (name, vcs, tree setting).
MUSE, GIT, MUSE_WM, GIT_FSM = "muse", "git", "muse+watchman", "git+fsmonitor"
HOOK_NAME = "query-watchman"
# The status trees' untimed `git add`: every blob over 1 byte is streamed into
# one pack (bulk checkin) instead of one loose object file each: a 75k-file
# repository holds ~800 files in .git instead of ~75,000, which is quicker to
# build and, above all, to delete at the end (a clean or 10-edit `git status`
# compares the index with lstat and file hashes and reads no blob).
GIT_ADD_PACKED = ["git", "-c", "core.bigFileThreshold=1", "add", "-A"]


def engine_cmds(engine: str, muse: str) -> dict:
    """argv prefixes and env per engine for init / add / commit / status."""
    if engine.startswith("muse"):
        return {"env": MUSE_ENV, "init": [muse, "init"], "add": [muse, "add", "-A"],
                "commit": [muse, "commit", "-m", "x"], "status": [muse, "status", "--porcelain"],
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


# --------------------------------------------------------------------------
# watchman, git's fsmonitor hook, muse's config.
# --------------------------------------------------------------------------


def watchman_state() -> tuple[str | None, str]:
    """``(version, "")`` when ``watchman`` is on PATH and answers (this starts
    its server if needed), else ``(None, why not)``."""
    if not shutil.which("watchman"):
        return None, "watchman is not on PATH"
    try:
        p = subprocess.run(["watchman", "version"], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            return None, f"`watchman version` failed (rc={p.returncode}): {p.stderr.strip()[:300]}"
        return json.loads(p.stdout).get("version", "?"), ""
    except Exception as e:  # noqa: BLE001 - reported
        return None, f"`watchman version` failed: {e}"


def watchman_roots() -> list[str]:
    """The roots watchman watches now ([] when it does not answer)."""
    try:
        p = subprocess.run(["watchman", "watch-list"], capture_output=True, text=True, timeout=60)
        return list(json.loads(p.stdout).get("roots", [])) if p.returncode == 0 else []
    except Exception:  # noqa: BLE001
        return []


def watchman_cleanup(base: str) -> list[str]:
    """``watchman watch-del`` every watched root that is ``base`` or under it
    (the trees of this run, whoever registered them); returns those roots."""
    gone = []
    for r in watchman_roots():
        if r == base or r.startswith(base.rstrip("/") + "/"):
            subprocess.run(["watchman", "watch-del", r], capture_output=True, timeout=60)
            gone.append(r)
    return gone


def git_hook_sample() -> tuple[str | None, str]:
    """Path of the ``fsmonitor-watchman.sample`` hook git ships: in
    ``$(git --exec-path)/../../share/git-core/templates/hooks/``, else in the
    hooks of a fresh ``git init`` (its template dir). ``(None, why)`` if none."""
    try:
        ex = subprocess.run(["git", "--exec-path"], capture_output=True, text=True,
                            check=True).stdout.strip()
        p = os.path.normpath(os.path.join(ex, "..", "..", "share", "git-core", "templates",
                                          "hooks", "fsmonitor-watchman.sample"))
        if os.path.isfile(p):
            return p, ""
    except Exception:  # noqa: BLE001
        pass
    return None, "no fsmonitor-watchman.sample under git's exec-path templates"


def git_hook_from_init(scratch: str) -> str | None:
    """The sample hook of a fresh ``git init`` in ``scratch`` (created), or None."""
    subprocess.run(["git", "init", "-q", scratch], capture_output=True, env=GIT_ENV)
    p = os.path.join(scratch, ".git", "hooks", "fsmonitor-watchman.sample")
    return p if os.path.isfile(p) else None


def git_fsmonitor_check(tree: str) -> dict:
    """Whether git's fsmonitor is in effect in ``tree``: ``git ls-files -f``
    (a lowercase tag = entry marked fsmonitor-valid), the index extensions
    (``FSMN`` fsmonitor, ``UNTR`` untracked cache) and one ``git status``
    under ``GIT_TRACE2_PERF`` (the hook query region and its response)."""
    out: dict = {}
    ls = run_timed(["git", "ls-files", "-f"], cwd=tree, env=GIT_ENV, check=False)["stdout"]
    tags = [ln[:1] for ln in ls.splitlines() if ln]
    out["entries"] = len(tags)
    out["fsmonitor_valid"] = sum(1 for t in tags if t.islower())
    with open(os.path.join(tree, ".git", "index"), "rb") as f:
        idx = f.read()
    out["index_ext_FSMN"] = b"FSMN" in idx
    out["index_ext_UNTR"] = b"UNTR" in idx
    env = {**GIT_ENV, "GIT_TRACE2_PERF": "1", "GIT_TRACE2_PERF_BRIEF": "1"}
    tr = run_timed(["git", "status", "--porcelain"], cwd=tree, env=env, check=False)
    lines = tr["stderr"].splitlines()

    def leave_s(category: str, label: str) -> float | None:
        # a region_leave line: ... | <elapsed in region> | <category> | <label>
        for ln in lines:
            f = [x.strip() for x in ln.split("|")]
            if "region_leave" in f and len(f) >= 3 and f[-2] == category and f[-1].endswith(label):
                try:
                    return float(f[-3])
                except ValueError:
                    return None
        return None

    out["hook_query_s"] = leave_s("fsm_hook", "label:query")
    out["hook_queried"] = out["hook_query_s"] is not None
    resp = [ln.rsplit("response-length:", 1)[-1].strip() for ln in lines
            if "query/response-length:" in ln]
    out["hook_response_bytes"] = int(resp[-1]) if resp and resp[-1].isdigit() else None
    out["read_directory_s"] = leave_s("dir", "label:read_directory")
    out["in_effect"] = bool(out["entries"] and out["fsmonitor_valid"] >= 0.99 * out["entries"]
                            and out["hook_queried"] and out["index_ext_FSMN"])
    return out


def fmt_git_fsm(c: dict) -> str:
    return (f"{'IN EFFECT' if c['in_effect'] else 'NOT in effect'}: {c['fsmonitor_valid']:,}/"
            f"{c['entries']:,} entries fsmonitor-valid (ls-files -f), index extensions "
            f"FSMN={'yes' if c['index_ext_FSMN'] else 'no'} "
            f"UNTR={'yes' if c['index_ext_UNTR'] else 'no'}, hook queried="
            f"{'yes' if c['hook_queried'] else 'no'}"
            + (f" ({c['hook_query_s'] * 1e3:.1f} ms, {c['hook_response_bytes']} B answer)"
               if c["hook_queried"] else "")
            + (f", untracked scan (read_directory) {c['read_directory_s'] * 1e3:.1f} ms"
               if c["read_directory_s"] is not None else "") + " (one GIT_TRACE2_PERF status)")


def muse_config_set(repo: str, table: str, key: str, value: str) -> None:
    """Set ``key = value`` (``value`` already TOML) in ``[table]`` of
    ``repo/.muse/config.toml``: replace the key in an existing ``[table]``,
    else add it right under the header, else append the table."""
    p = os.path.join(repo, ".muse", "config.toml")
    text = open(p, encoding="utf-8").read() if os.path.exists(p) else ""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    entry = f"{key} = {value}\n"
    for i, ln in enumerate(lines):
        if ln.strip() == f"[{table}]":
            j = i + 1
            while j < len(lines) and not lines[j].lstrip().startswith("["):
                if re.match(rf"\s*{re.escape(key)}\s*=", lines[j]):
                    lines[j] = entry
                    break
                j += 1
            else:
                lines.insert(i + 1, entry)
            break
    else:
        lines += ([] if not lines else ["\n"]) + [f"[{table}]\n", entry]
    with open(p, "w", encoding="utf-8") as f:
        f.writelines(lines)


# --------------------------------------------------------------------------
# Artifacts.
# --------------------------------------------------------------------------


def exe_kind(path: str) -> str:
    """``ELF``, ``script (#!<interpreter>)`` or ``other`` for the file at path."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError as e:
        return f"unreadable ({e})"
    if head.startswith(b"\x7fELF"):
        return "ELF"
    if head.startswith(b"#!"):
        return "script (" + head.split(b"\n", 1)[0].decode(errors="replace") + ")"
    return "other"


def artifacts(muse: str) -> list[dict]:
    """Sizes of the build outputs of the checkout and of what is installed:
    ``[{"what", "path", "bytes" | None, "note"}]``."""
    out = []

    def one(what: str, path: str | None, note: str = "") -> None:
        if path and os.path.exists(path):
            st = os.stat(path)
            out.append({"what": what, "path": path, "bytes": st.st_size,
                        "note": note or time.strftime("mtime %Y-%m-%d %H:%M",
                                                       time.localtime(st.st_mtime))})
        else:
            out.append({"what": what, "path": path, "bytes": None, "note": "not built"
                        if what.startswith(("wheel", "target")) else "not found"})

    wheels = sorted(glob.glob(os.path.join(ROOT, "target", "wheels", "*.whl")),
                    key=os.path.getmtime)
    one("wheel (newest in target/wheels)", wheels[-1] if wheels else
        os.path.join(ROOT, "target", "wheels", "*.whl"))
    for name in ("libmuse.so", "libmuse.a", "muse"):
        one(f"target/release/{name}", os.path.join(ROOT, "target", "release", name))
    spec = importlib.util.find_spec("muse")
    sos = []
    if spec and spec.submodule_search_locations:
        for d in spec.submodule_search_locations:
            sos += sorted(glob.glob(os.path.join(d, "_native*.so")))
    one("installed muse/_native*.so", sos[0] if sos else None)
    real = os.path.realpath(shutil.which(muse) or muse)
    one("installed `muse` command", real, exe_kind(real))
    return out


def fmt_size(b: int | None) -> str:
    return "-" if b is None else f"{b / 2**20:,.2f} MiB ({b:,} B)"


# --------------------------------------------------------------------------
# The run.
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    def extra_args(ap) -> None:
        ap.add_argument("--inner", type=int, default=None,
                        help="alternating muse/git pairs per repetition for the startup and "
                             "status cases (default 7, 2 with --quick)")
        ap.add_argument("--native-bin", metavar="PATH",
                        help="also time another `muse` executable (e.g. target/release/muse) for "
                             "--version and the clean 75k status")

    args = common.bench_args(__doc__, argv,
                             "smoke mode: trees of 2,000 and 7,500 files, small commit trees, "
                             "1 repetition", tmp_help="do not delete the temp dir",
                             extra=extra_args)
    base = tempfile.mkdtemp(prefix="muse-bench-cli-", dir="/tmp")
    try:
        return run(args, base)
    finally:
        gone = watchman_cleanup(base)
        if gone:
            print(f"watchman: removed {len(gone)} watch(es) of this run: {', '.join(gone)}",
                  flush=True)
        if os.path.isdir(base) and not args.keep_tmp:  # after an exception (run() deletes it)
            shutil.rmtree(base, ignore_errors=True)


def run(args, base: str) -> int:
    q = args.quick
    reps = args.reps
    inner = args.inner or (2 if q else 7)
    muse = muse_cmd()
    muse_kind = exe_kind(os.path.realpath(muse))
    native = os.path.abspath(args.native_bin) if args.native_bin else None
    py = sys.executable
    require_wm = os.environ.get("MUSE_BENCH_REQUIRE_WATCHMAN") == "1"
    commit_shapes = [  # (name, ndirs, nfiles, size) or stdlib
        ("seed-100" if q else "seed-1k", 1 if q else 10, 100, 750),
        ("stdlib", None, None, None),
    ]
    small = ("seed-2k" if q else "seed-20k", 20 if q else 200, 100, 128)
    big = ("seed-7.5k" if q else "seed-75k", 75 if q else 750, 100, 128)
    engines = ["muse", "git", "git-fsync"]

    runner = Runner(base, os.path.abspath(__file__))  # commands only: no --child runs
    floor_bin, floor_why = build_stat_floor(base)
    wall0 = time.perf_counter()
    load0 = os.getloadavg()
    so0 = muse_so_info()
    wm_version, wm_why = watchman_state()
    roots0 = set(watchman_roots()) if wm_version else set()
    arts = artifacts(muse)
    print(f"muse CLI benchmark: {'QUICK (small trees, 1 rep)' if q else 'full'}, {reps} rep(s) x "
          f"{inner} alternating pair(s), temp dir {base}", flush=True)
    print(f"  {so0}", flush=True)
    on_path = shutil.which("muse")
    print(f"  muse command {muse} ({muse_kind})"
          + (f"; NOTE: `muse` on PATH is {on_path}" if on_path and
             os.path.realpath(on_path) != os.path.realpath(muse) else "")
          + (f"; also timing {native} ({exe_kind(native)})" if native else ""), flush=True)
    print(f"  {common.git_version()}; watchman "
          + (wm_version if wm_version else f"UNAVAILABLE: {wm_why} -> the watchman cases are "
             f"skipped" + (" (MUSE_BENCH_REQUIRE_WATCHMAN=1: the run will fail)"
                           if require_wm else "")), flush=True)
    hook_src, hook_why = (git_hook_sample() if wm_version else (None, "no watchman"))
    if wm_version and not hook_src:
        hook_src = git_hook_from_init(runner.fresh_dir("hook-template"))
        hook_why = "" if hook_src else hook_why + ", nor in a fresh `git init`"
    if wm_version and hook_src and not shutil.which("perl"):
        hook_src, hook_why = None, "perl (which the hook sample needs) is not on PATH"
    if wm_version and not hook_src:
        print(f"  git fsmonitor case skipped: {hook_why}", flush=True)

    info: dict = {"trees": {}, "setup": {}, "watchman": wm_version, "watchman_why": wm_why,
                  "git_hook_sample": hook_src, "muse_kind": muse_kind, "inner": inner}
    times: dict[tuple, list[float]] = {}   # timed runs (bare spawn)
    rsss: dict[tuple, list[int]] = {}      # separate runs under /usr/bin/time, KiB
    files_of: dict[tuple, int] = {}

    def add_time(key, secs):
        times.setdefault(key, []).append(secs)

    def add_rss(key, kib):
        if kib is not None:
            rsss.setdefault(key, []).append(kib)

    # ---- setup (untimed): commit trees, one per (shape, rep, engine) -------
    commit_dirs: dict[tuple, str] = {}
    commit_res: dict[tuple, list[dict]] = {}

    def add_commit(key, r, files=None):
        commit_res.setdefault(key, []).append(
            {"seconds": r["seconds"], "maxrss_kib": r["maxrss_kib"], "files": files})

    for name, nd, nf, size in commit_shapes:
        t0 = time.perf_counter()
        for rep in range(reps):
            for eng in engines:
                d = runner.fresh_dir(f"commit-{name}-r{rep}-{eng}")
                if nd is None:
                    copy_stdlib(d, q)
                else:
                    make_seed_tree(d, nd, nf, size)
                commit_dirs[(name, rep, eng)] = d
                c = engine_cmds(eng, muse)
                r = runner.cmd(f"{eng} init", c["init"], cwd=d, env=c["env"], sync=False)
                if r:
                    add_commit(("commit", name, eng, "init"), r)
        n, b = tree_stats(commit_dirs[(name, 0, "muse")])
        info["trees"][name] = {"files": n, "bytes": b, "setup_s": round(time.perf_counter() - t0, 1)}
        print(f"  commit trees {name}: {n:,} files, {b / 2**20:,.1f} MiB each, "
              f"{reps * len(engines)} copies built + init in {info['trees'][name]['setup_s']:.1f} s",
              flush=True)

    # ---- setup (untimed): status trees ---------------------------------------
    # (tree name, engine) -> dir; engines muse / git at both sizes, and at the
    # big size muse+watchman and git+fsmonitor on their own copies.
    sdirs: dict[tuple, str] = {}
    st_cases = [(small, MUSE), (small, GIT), (big, MUSE), (big, GIT)]
    if wm_version:
        st_cases.append((big, MUSE_WM))
        if hook_src:
            st_cases.append((big, GIT_FSM))
    git_fsm_check: dict = {}
    muse_wm_watch: dict = {}

    def clean_check(eng: str, r: dict) -> str | None:
        if r["rc"] != 0 or r["stdout"].strip():
            return (f"{eng} status --porcelain not clean (rc={r['rc']}): {r['stdout'][:300]}"
                    f"{r['stderr'][:300]}")
        return None

    for (tname, nd, nf, size), eng in st_cases:
        t0 = time.perf_counter()
        d = runner.fresh_dir(f"status-{tname}-{eng.replace('+', '-')}")
        make_seed_tree(d, nd, nf, size)
        sdirs[(tname, eng)] = d
        files_of[tname] = nd * nf
        c = engine_cmds(eng, muse)
        ok = True
        for step in ("init", "add", "commit"):
            argv = c[step]
            if step == "add" and not eng.startswith("muse"):
                argv = GIT_ADD_PACKED  # untimed: blobs into one pack (status never reads them)
            r = runner.cmd(f"status setup {tname} {eng} {step}", argv, cwd=d, env=c["env"])
            if not r:
                ok = False
                break
            info["setup"][f"{tname} {eng} {step}"] = {
                "s": round(r["seconds"], 3), "peak_rss_mib": round(r["maxrss_kib"] / 1024, 1)}
        if not ok:
            continue
        if eng == MUSE_WM:
            muse_config_set(d, "core", "fsmonitor", '"watchman"')
            info["muse_config"] = open(os.path.join(d, ".muse", "config.toml"),
                                       encoding="utf-8").read()
        if eng == GIT_FSM:
            hook = os.path.join(d, ".git", "hooks", HOOK_NAME)
            os.makedirs(os.path.dirname(hook), exist_ok=True)
            shutil.copyfile(hook_src, hook)
            os.chmod(hook, 0o755)
            for kv in (("core.fsmonitor", f".git/hooks/{HOOK_NAME}"), ("core.untrackedCache", "true")):
                runner.cmd("git config", ["git", "config", *kv], cwd=d, env=GIT_ENV, sync=False)
            r = runner.cmd("git update-index --untracked-cache --fsmonitor",
                           ["git", "update-index", "--untracked-cache", "--fsmonitor"],
                           cwd=d, env=GIT_ENV)
            if r:
                info["setup"][f"{tname} {eng} update-index"] = {"s": round(r["seconds"], 3)}
        # untimed warm-up statuses: the first refreshes the index / stat cache
        # (and, with a monitor, establishes the watch and saves the clock)
        for i in range(3):
            r = runner.cmd(f"status setup {tname} {eng} status {i + 1}", c["status"], cwd=d,
                           env=c["env"], check=False)
            if r:
                info["setup"][f"{tname} {eng} status {i + 1}"] = {
                    "s": round(r["seconds"], 3), "peak_rss_mib": round(r["maxrss_kib"] / 1024, 1)}
                msg = clean_check(eng, r)
                if msg:
                    runner.fail(f"setup: {msg}")
                    break
        if eng == GIT_FSM:
            git_fsm_check["setup"] = git_fsmonitor_check(d)
        if eng == MUSE_WM:
            roots = watchman_roots()
            muse_wm_watch = {"watched": any(d == r_ or d.startswith(r_.rstrip("/") + "/")
                                            for r_ in roots)}
        n, b = tree_stats(d)
        info["trees"].setdefault(tname, {"files": n, "bytes": b, "copies": []})
        info["trees"][tname]["copies"].append(
            {"engine": eng, "dir": d, "setup_s": round(time.perf_counter() - t0, 1)})
        print(f"  status tree {tname} {eng}: {n:,} files, {b / 2**20:,.1f} MiB, built + init + "
              f"add + commit + 3 statuses in {time.perf_counter() - t0:.1f} s", flush=True)
    if git_fsm_check:
        print(f"  git fsmonitor after setup: {fmt_git_fsm(git_fsm_check['setup'])}", flush=True)
    if muse_wm_watch:
        verb = "watches" if muse_wm_watch["watched"] else "does NOT watch"
        print(f"  muse+watchman: watchman {verb} the muse copy after the warm-up statuses"
              + ("" if muse_wm_watch["watched"] else " (fsmonitor not implemented in the engine "
                 "yet? the key is then ignored and the numbers equal the plain ones)"), flush=True)
    os.sync()

    # ---- timing ------------------------------------------------------------
    probes: list[float] = []
    imp_ok = subprocess.run([py, "-c", "import muse._native"], capture_output=True).returncode == 0
    startup = [("spawn", "/bin/true", ["/bin/true"]),
               ("python", "-c pass", [py, "-c", "pass"])]
    if imp_ok:
        startup.append(("python", "-c 'import muse._native'", [py, "-c", "import muse._native"]))
    startup += [("muse", "--version", [muse, "--version"]),
                ("git", "--version", ["git", "--version"])]
    if native:
        startup.append(("muse-native", "--version", [native, "--version"]))

    # clean-status runs of one pair: (key, argv, cwd, env, what); muse next to
    # the git it is compared with, so that flipping the order alternates them
    def status_runs() -> list[tuple]:
        out = []
        for tname in (small[0], big[0]):
            for eng in (MUSE, GIT) + ((MUSE_WM, GIT_FSM) if tname == big[0] else ()):
                d = sdirs.get((tname, eng))
                if d:
                    c = engine_cmds(eng, muse)
                    out.append((("status", tname, eng, ST), c["status"], d, c["env"], eng))
            if native and tname == big[0] and (tname, MUSE) in sdirs:
                out.append((("status", tname, "muse-native", ST), [native, "status", "--porcelain"],
                             sdirs[(tname, MUSE)], MUSE_ENV, "muse-native"))
            if floor_bin and (tname, MUSE) in sdirs:
                out.append((("status", tname, "floor", FLOOR_STEP),
                            stat_floor_argv(floor_bin, sdirs[(tname, MUSE)]),
                            sdirs[(tname, MUSE)], MUSE_ENV, "floor"))
        return out

    srun = status_runs()
    pair = 0
    for rep in range(reps):
        settle(runner, probes, args.settle_max)
        print(f"  rep {rep + 1}/{reps} (fs probe {probes[-1]:.0f} µs/create)", flush=True)
        # startup: bare spawns, inner rounds with flipped order, then 1 RSS run each
        for i in range(inner):
            for eng, label, cmd in (startup if (pair + i) % 2 == 0 else startup[::-1]):
                r = runner.cmd(f"startup {eng} {label}", cmd, cwd=base, env=MUSE_ENV, sync=False,
                               rss=False)
                if r:
                    add_time(("startup", "-", eng, label), r["seconds"])
        for eng, label, cmd in startup:
            r = runner.cmd(f"startup {eng} {label} (rss)", cmd, cwd=base, env=MUSE_ENV, sync=False)
            if r:
                add_rss(("startup", "-", eng, label), r["maxrss_kib"])
        # commit: as before (fresh repository per rep; /usr/bin/time-wrapped runs)
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
                add_commit(("commit", name, eng, "add -A"), ra, files)
                add_commit(("commit", name, eng, "commit -m x"), rc, files)
                add_commit(("commit", name, eng, "add + commit"),
                           {"seconds": ra["seconds"] + rc["seconds"],
                            "maxrss_kib": max(ra["maxrss_kib"], rc["maxrss_kib"])}, files)
                chk = run_timed(c["check"], cwd=d, env=c["env"], check=False)
                if chk["rc"] != 0 or chk["stdout"].strip():
                    runner.fail(f"{name} {eng}: not clean after commit: {chk['stdout'][:300]}"
                                f"{chk['stderr'][:300]}")
        # clean status: inner pairs, order flipped every other pair
        for i in range(inner):
            for key, cmd, d, env, eng in (srun if (pair + i) % 2 == 0 else srun[::-1]):
                r = runner.cmd(f"clean status {key[1]} {eng}", cmd, cwd=d, env=env, rss=False,
                               check=False)
                if not r:
                    continue
                if eng == "floor":
                    if r["rc"] == 0:
                        add_time(key, r["seconds"])
                        files_of[("floor", key[1])] = json.loads(r["stdout"])["files"]
                    else:
                        runner.fail(f"stat floor failed: {r['stderr'][:300]}")
                    continue
                msg = clean_check(eng, r)
                if msg:
                    runner.fail(f"clean status {key[1]}: {msg}")
                else:
                    add_time(key, r["seconds"])
        for key, cmd, d, env, eng in srun:
            if eng != "floor":
                r = runner.cmd(f"clean status {key[1]} {eng} (rss)", cmd, cwd=d, env=env,
                               check=False)
                if r and not clean_check(eng, r):
                    add_rss(key, r["maxrss_kib"])
        pair += inner

    if (big[0], GIT_FSM) in sdirs:
        git_fsm_check["after_clean_timing"] = git_fsmonitor_check(sdirs[(big[0], GIT_FSM)])

    # ---- status after editing 10 files (after all clean runs: dirties the trees)
    bn, bd, bf = big[0], big[1], big[2]
    edited = [f"d{(k * bd) // N_EDITS:04d}/f{(k * 37 + 3) % bf:04d}.txt" for k in range(N_EDITS)]
    edit_engs = [e for e in (MUSE_WM, GIT, GIT_FSM, MUSE) if (bn, e) in sdirs]
    n_edit = reps * inner
    os.sync()
    print(f"  status after editing {N_EDITS} files: {n_edit} round(s) on the {bn} copies of "
          f"{', '.join(edit_engs)}", flush=True)
    expect = sorted(edited)

    def edit_check(eng: str, r: dict) -> str | None:
        got = []
        bad = []
        for ln in r["stdout"].splitlines():
            if len(ln) > 3 and "M" in ln[:2] and ln[2] == " ":
                got.append(ln[3:])
            elif ln.strip():
                bad.append(ln)
        if r["rc"] != 0 or bad or sorted(got) != expect:
            return (f"{eng} status --porcelain after editing {N_EDITS} files: expected exactly "
                    f"{expect} as modified, got rc={r['rc']} modified={sorted(got)} "
                    f"other lines={bad[:10]} stderr={r['stderr'][:300]}")
        return None

    for i in range(n_edit):
        for eng in edit_engs:  # the edits, untimed: one more line in each of the 10 files
            for rel in edited:
                with open(os.path.join(sdirs[(bn, eng)], rel), "a", encoding="utf-8") as f:
                    f.write(f"edit round {i}\n")
        order = edit_engs if i % 2 == 0 else edit_engs[::-1]
        for eng in order:
            c = engine_cmds(eng, muse)
            r = runner.cmd(f"status after edits {eng}", c["status"], cwd=sdirs[(bn, eng)],
                           env=c["env"], rss=False, check=False)
            if not r:
                continue
            msg = edit_check(eng, r)
            if msg:
                runner.fail(msg)
            else:
                add_time(("status-edit", bn, eng, ST), r["seconds"])
        if i % inner == inner - 1:  # one RSS run per engine per rep (same edits, 2nd status)
            for eng in edit_engs:
                c = engine_cmds(eng, muse)
                r = runner.cmd(f"status after edits {eng} (rss)", c["status"],
                               cwd=sdirs[(bn, eng)], env=c["env"], check=False)
                if r and not edit_check(eng, r):
                    add_rss(("status-edit", bn, eng, ST), r["maxrss_kib"])
    if (bn, GIT_FSM) in sdirs:
        git_fsm_check["after_edits"] = git_fsmonitor_check(sdirs[(bn, GIT_FSM)])

    timing_wall = time.perf_counter() - wall0
    load1 = os.getloadavg()
    probes.append(round(fs_probe(runner), 1))
    so1 = muse_so_info()
    roots1 = set(watchman_roots()) if wm_version else set()

    # ---- aggregate -----------------------------------------------------------
    rows = []
    agg: dict[tuple, dict] = {}

    order = [("startup", "-", e, label) for e, label, _ in startup]
    order += [("commit", name, e, step) for name, *_ in commit_shapes for e in engines
              for step in ("init", "add -A", "commit -m x", "add + commit")]
    for w in ("status", "status-edit"):
        for tname in (small[0], big[0]):
            for e in (MUSE, "muse-native", GIT, MUSE_WM, GIT_FSM):
                order.append((w, tname, e, ST))
            order.append((w, tname, "floor", FLOOR_STEP))
    for key in order:
        w, name, eng, step = key
        if w == "commit":
            rs = commit_res.get(key)
            if not rs:
                continue
            files = next((r["files"] for r in rs if r.get("files") is not None),
                         info["trees"].get(name, {}).get("files"))
            a = {"workload": w, "tree": name, "engine": eng, "step": step, "files": files,
                 **common.summarize(rs),
                 "files_seen": sorted({r["files"] for r in rs if r.get("files") is not None})}
        else:
            ts = times.get(key)
            if not ts:
                continue
            rk = rsss.get(key)
            files = (files_of.get(("floor", name)) if eng == "floor" else files_of.get(name))
            a = {"workload": w, "tree": name, "engine": eng, "step": step, "files": files,
                 "median_s": statistics.median(ts), "min_s": min(ts), "all_s": ts, "n": len(ts),
                 "peak_rss_mib": max(rk) / 1024 if rk else None}
        agg[key] = a
        rows.append(a)
    step_pair = {"add -A": "add -A", "commit -m x": "commit -m x", "add + commit": "add + commit",
                 "init": "init", ST: ST, "--version": "--version", FLOOR_STEP: ST}
    for a in rows:
        a["ratio"] = a["ratio_fsm"] = a["ratio_fsync"] = None
        if a["engine"] in ("muse", "muse-native", "floor", MUSE_WM):
            w, t, s = a["workload"], a["tree"], step_pair.get(a["step"], "")
            for field, ge in (("ratio", "git"), ("ratio_fsync", "git-fsync"), ("ratio_fsm", GIT_FSM)):
                g = agg.get((w, t, ge, s))
                if g:
                    a[field] = a["median_s"] / g["median_s"]

    hdr = ["workload", "tree", "files", "engine", "step", "runs", "median ms", "min ms",
           "÷git", "÷git-fsync", "÷git+fsmonitor", "peak RSS MiB"]

    def r2(x):
        return "" if x is None else f"{x:.2f}"

    table = [[a["workload"], a["tree"], "" if a["files"] is None else f"{a['files']:,}",
              a["engine"], a["step"], len(a["all_s"]), f"{a['median_s'] * 1e3:.1f}",
              f"{a['min_s'] * 1e3:.1f}", r2(a["ratio"]), r2(a["ratio_fsync"]), r2(a["ratio_fsm"]),
              "" if a["peak_rss_mib"] is None else f"{a['peak_rss_mib']:.1f}"] for a in rows]
    print()
    common.print_table(hdr, table, {2, 5, 6, 7, 8, 9, 10, 11},
                       [(a["workload"], a["tree"]) for a in rows])
    print()
    is_script = muse_kind.startswith("script")
    print(f"Times: median (and min) of the runs; wall time of the whole process (spawn to reap, "
          f"process start included) measured around `subprocess`. startup and status rows: bare "
          f"spawns ({inner} per repetition, muse and git alternating, order flipped every other "
          f"round), peak RSS from one separate /usr/bin/time run per repetition; commit rows: "
          f"one /usr/bin/time-wrapped run per repetition (~0.5 ms added, not subtracted). "
          f"÷git = muse median / git median (<1: muse faster).")
    print(f"muse = {muse} ({muse_kind}"
          + ("; a console script: starts Python, imports the extension, runs the Rust CLI inside "
             "it" if is_script else "") + "); default config (fsync = \"full\": durable). git = "
          "stock git, no system/global config, user.* via -c; git-fsync = git -c core.fsync=all "
          "-c core.fsyncMethod=batch.")
    print(f"status: `status --porcelain` on clean committed copies of the same tree, one copy "
          f"per engine and setting, each warmed with 3 untimed statuses. muse+watchman = "
          f"`[core] fsmonitor = \"watchman\"` in .muse/config.toml; git+fsmonitor = git's "
          f"fsmonitor-watchman.sample as .git/hooks/{HOOK_NAME}, core.fsmonitor + "
          f"core.untrackedCache=true, `git update-index --untracked-cache --fsmonitor`. "
          f"status-edit: before each round one line is appended to the same {N_EDITS} tracked "
          f"files of every 75k copy (untimed), then one status each; the output must list "
          f"exactly those files as modified (RSS: a second status after the same edits)."
          + (f" floor = bench/stat_floor.c on {os.cpu_count()} threads over the muse copy: "
             f"readdir + one fstatat per file, nothing else." if floor_bin
             else f" (stat floor rows left out: {floor_why})"))
    notes = []
    if not wm_version:
        notes.append(f"watchman cases SKIPPED: {wm_why}")
    elif not hook_src:
        notes.append(f"git+fsmonitor case SKIPPED: {hook_why}")
    for name in (c[0] for c in commit_shapes):
        t = info["trees"][name]
        if name == "stdlib":
            notes.append("stdlib = copy of the interpreter's stdlib dir "
                         + (f"(only {', '.join(STDLIB_QUICK_SUBDIRS)})" if q
                            else "(site-packages left out)"))
        seen = {a["engine"]: a["files_seen"] for a in rows
                if a["tree"] == name and a["step"] == "add -A"}
        bad = {e: s for e, s in seen.items() if s and s != [t["files"]]}
        if bad:
            notes.append(f"{name}: FILE COUNTS DIFFER from the tree's {t['files']:,}: {bad}")
    for stage, c in git_fsm_check.items():
        notes.append(f"git fsmonitor ({stage.replace('_', ' ')}): {fmt_git_fsm(c)}")
    if muse_wm_watch:
        notes.append("muse+watchman: watchman " + ("watched" if muse_wm_watch["watched"] else
                                                    "did NOT watch (engine fsmonitor absent?)")
                     + " the muse copy after its warm-up statuses")
    st = info["setup"]
    for tname in (small[0], big[0]):
        parts = []
        for e in (MUSE, GIT, MUSE_WM, GIT_FSM):
            steps = [(s, st.get(f"{tname} {e} {s}")) for s in
                     ("add", "commit", "update-index", "status 1", "status 3")]
            steps = [f"{s} {v['s']:.2f} s" for s, v in steps if v]
            if steps:
                parts.append(f"{e} " + ", ".join(steps))
        if parts:
            notes.append(f"{tname} setup (1 run each): " + "; ".join(parts))
    v = agg.get(("startup", "-", "muse", "--version"))
    p0 = agg.get(("startup", "-", "python", "-c pass"))
    p1 = agg.get(("startup", "-", "python", "-c 'import muse._native'"))
    sp = agg.get(("startup", "-", "spawn", "/bin/true"))
    if sp:
        notes.append(f"spawn floor: /bin/true {sp['median_s'] * 1e3:.2f} ms (harness + exec, in "
                     f"every row)")
    if v and p0 and p1 and is_script:
        notes.append(f"startup split: interpreter {p0['median_s'] * 1e3:.1f} ms, + extension import "
                     f"{(p1['median_s'] - p0['median_s']) * 1e3:.1f} ms, + console script and "
                     f"clap `--version` {(v['median_s'] - p1['median_s']) * 1e3:.1f} ms = "
                     f"`muse --version` {v['median_s'] * 1e3:.1f} ms")
    if v:
        for tname in (small[0], big[0]):
            s_ = agg.get(("status", tname, "muse", ST))
            if s_:
                notes.append(f"muse status at {files_of[tname]:,} files minus `muse --version`: "
                             f"{(s_['median_s'] - v['median_s']) * 1e3:.1f} ms of command work")
    new_roots = sorted(r for r in roots1 - roots0 if not r.startswith(base + "/"))
    if new_roots:
        notes.append(f"watchman roots added during the run outside the temp dir (left alone): "
                     f"{new_roots}")
    for s_ in notes:
        print("  - " + s_)

    # ---- artifacts -----------------------------------------------------------
    print()
    print("Artifacts")
    common.print_table(["what", "size", "path", "note"],
                       [[a["what"], fmt_size(a["bytes"]), a["path"] or "-", a["note"]]
                        for a in arts], {1})

    # ---- summary of the targets ----------------------------------------------
    summary: list[dict] = []

    def mib(x):
        return None if x is None else round(x, 1)

    def ratio_target(name, mkey, gkey, limit, skip_why=None):
        a, g = agg.get(mkey), agg.get(gkey)
        if skip_why:
            summary.append({"target": name, "limit": f"<= {limit}x", "status": "SKIP",
                            "why": skip_why})
            return
        if not (a and g):
            summary.append({"target": name, "limit": f"<= {limit}x", "status": "ERROR",
                            "why": "no measurement (see errors)"})
            return
        r = a["median_s"] / g["median_s"]
        summary.append({"target": name, "muse_ms": a["median_s"] * 1e3,
                        "git_ms": g["median_s"] * 1e3, "ratio": r, "limit": f"<= {limit}x",
                        "status": "PASS" if r <= limit else "MISS",
                        "muse_rss_mib": mib(a["peak_rss_mib"]), "git_rss_mib": mib(g["peak_rss_mib"])})

    sn, bn_ = small[0], big[0]
    nfs, nfb = files_of[sn], files_of[bn_]
    no_wm = None if wm_version else f"watchman unavailable: {wm_why}"
    no_fsm = no_wm or (None if hook_src else f"git hook: {hook_why}")
    ratio_target(f"1. clean status, {nfs:,} files, no fsmonitor ÷ git",
                 ("status", sn, MUSE, ST), ("status", sn, GIT, ST), 1.0)
    ratio_target(f"1. clean status, {nfb:,} files, no fsmonitor ÷ git",
                 ("status", bn_, MUSE, ST), ("status", bn_, GIT, ST), 1.0)
    ratio_target(f"2a. clean status, {nfb:,}, muse+watchman ÷ git (no fsmonitor)",
                 ("status", bn_, MUSE_WM, ST), ("status", bn_, GIT, ST), 0.2, no_wm)
    ratio_target(f"2b. clean status, {nfb:,}, muse+watchman ÷ git+fsmonitor+untrackedCache",
                 ("status", bn_, MUSE_WM, ST), ("status", bn_, GIT_FSM, ST), 0.5, no_fsm)
    ratio_target(f"3. status after {N_EDITS} edits, {nfb:,}, muse+watchman ÷ git (no fsmonitor)",
                 ("status-edit", bn_, MUSE_WM, ST), ("status-edit", bn_, GIT, ST), 0.3, no_wm)
    ratio_target("4. muse --version ÷ git --version",
                 ("startup", "-", "muse", "--version"), ("startup", "-", "git", "--version"), 1.5)
    cname = commit_shapes[0][0]
    a = agg.get(("commit", cname, "muse", "add + commit"))
    g = agg.get(("commit", cname, "git", "add + commit"))
    if a:
        summary.append({"target": f"muse add -A + commit, {info['trees'][cname]['files']:,} files "
                                  f"(absolute)", "muse_ms": a["median_s"] * 1e3,
                        "git_ms": g["median_s"] * 1e3 if g else None, "ratio": None,
                        "limit": "<= 150 ms", "status": "PASS" if a["median_s"] <= 0.150 else "MISS",
                        "muse_rss_mib": mib(a["peak_rss_mib"]),
                        "git_rss_mib": mib(g["peak_rss_mib"]) if g else None})
    for tname, n in ((sn, nfs), (bn_, nfb)):
        f, g = agg.get(("status", tname, "floor", FLOOR_STEP)), agg.get(("status", tname, GIT, ST))
        if f and g:
            summary.append({"target": f"(reachability) stat floor ÷ git status, {n:,} files",
                            "muse_ms": f["median_s"] * 1e3, "git_ms": g["median_s"] * 1e3,
                            "ratio": f["median_s"] / g["median_s"], "limit": "-", "status": "N/A",
                            "muse_rss_mib": None, "git_rss_mib": mib(g["peak_rss_mib"])})

    def cell(x, fmt):
        return "-" if x is None else format(x, fmt)

    print()
    print("Summary: issue 19 targets (muse median ÷ git median; RSS = peak, MiB)"
          + (" -- QUICK mode: small trees, 1 rep, not representative" if q else ""))
    common.print_table(
        ["target", "muse ms", "git ms", "ratio", "target", "result", "muse RSS", "git RSS"],
        [[s["target"], cell(s.get("muse_ms"), ".1f"), cell(s.get("git_ms"), ".1f"),
          cell(s.get("ratio"), ".2f") + ("x" if s.get("ratio") is not None else ""), s["limit"],
          s["status"] + (f" ({s['why']})" if s.get("why") else ""),
          cell(s.get("muse_rss_mib"), ".1f"), cell(s.get("git_rss_mib"), ".1f")]
         for s in summary], {1, 2, 3, 6, 7})
    judged = [s for s in summary if s["status"] in ("PASS", "MISS", "ERROR")]
    print(f"  {sum(s['status'] == 'PASS' for s in judged)}/{len(judged)} PASS"
          + (f", {sum(s['status'] == 'SKIP' for s in summary)} skipped"
             if any(s["status"] == "SKIP" for s in summary) else ""))
    if git_fsm_check:
        last = git_fsm_check.get("after_clean_timing") or git_fsm_check["setup"]
        print(f"  git fsmonitor hook with watchman {wm_version}: "
              f"{'in effect' if last['in_effect'] else 'NOT in effect'} "
              f"({last['fsmonitor_valid']:,}/{last['entries']:,} entries fsmonitor-valid)")
    if muse_wm_watch:
        verb = "watches" if muse_wm_watch["watched"] else "does not watch"
        print(f"  muse fsmonitor: watchman {verb} the muse+watchman copy")
    print()
    common.print_load_and_probes(load0, load1, f"total {timing_wall:.1f} s (setup included)", probes)
    if so1 != so0:
        print(f"WARNING: the muse extension changed during the run: {so0} -> {so1}")

    wm_failed = require_wm and not wm_version
    if wm_failed:
        print(f"ERROR: MUSE_BENCH_REQUIRE_WATCHMAN=1 but {wm_why}", file=sys.stderr)

    if args.json:
        out = {"quick": q, "reps": reps, "inner": inner, **common.run_env(load0, load1, (so0, so1)),
               "muse_cmd": muse, "info": info, "fs_probe_us": probes,
               "git_fsmonitor": git_fsm_check, "muse_fsmonitor_watch": muse_wm_watch,
               "edited_files": edited, "artifacts": arts, "rows": rows, "summary": summary,
               "errors": runner.errors, "timing_wall_s": timing_wall,
               "git_version": common.git_version()}
        common.write_json(args.json, out)

    # the watches go before the trees (main's finally removes any left)
    gone = watchman_cleanup(base)
    if gone:
        print(f"watchman: removed {len(gone)} watch(es) of this run", flush=True)
    rc = common.end_run(base, args.keep_tmp, runner.errors)
    return 1 if wm_failed else rc


if __name__ == "__main__":
    sys.exit(main())
