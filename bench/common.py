"""The harness the benchmark scripts in ``bench/`` share.

Every ``bench_*.py`` script (and ``ab_cli.py``) imports this module as a
sibling: the scripts are run as ``python bench/bench_X.py``, so ``bench/`` is
``sys.path[0]``, for the parent and for the ``--child`` processes it starts
(they re-execute the same script, see :class:`Runner`). Its top-level imports
are kept to a few small stdlib modules because a child's peak RSS is part of
what the scripts measure.

What is here:

- running things: :class:`Runner` (fresh temp dirs, workloads in fresh
  child processes, timed commands, error collection), :func:`run_timed`
  (wall time and peak RSS of one command), :func:`wrapper_overhead_ms`;
- peak RSS: :func:`ru_maxrss_kib`, :func:`vm_hwm_kib`;
- the filesystem "slow phase": :func:`fs_probe`, :func:`settle`;
- trees and stores: :func:`make_seed_tree`, :func:`copy_stdlib`,
  :func:`tree_stats`, :func:`warm_read`, :func:`dir_stats`,
  :func:`muse_kind_stats`, the stat floor (:func:`build_stat_floor`,
  :func:`stat_floor_argv`);
- the command line: :func:`add_common_args`, :func:`parse_args`;
- results: :func:`summarize`, :func:`new_targets`, :func:`print_table`,
  :func:`print_targets`, :func:`print_load_and_probes`, :func:`write_json`,
  :func:`remove_tmp`, :func:`remove_tmp_quiet`, :func:`exit_status`.

Units: seconds (``*_s``, ``seconds``), KiB for raw peak RSS (``*_kib``),
MiB for reported peak RSS (``*_mib``), microseconds for the fs probe.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# Git with stock defaults: no system/global config (user.* passed with -c),
# except that no command starts git's automatic maintenance. A commit that
# leaves more than `gc.auto` (6,700) loose objects, as the stdlib workload of
# bench_cli does, starts a detached `git maintenance run --auto` (gc + repack)
# that goes on compressing for seconds after the timed command has returned,
# while the next workloads are timed: seen here, it ran through every clean
# `status` row of bench_cli, muse's and git's alike. Without it each command
# is timed alone; git's commit only skips spawning that process. Explicit
# `git gc` / `git repack` (bench_git_history) are not affected.
GIT_ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
           "LC_ALL": "C", "GIT_CONFIG_COUNT": "2",
           "GIT_CONFIG_KEY_0": "gc.auto", "GIT_CONFIG_VALUE_0": "0",
           "GIT_CONFIG_KEY_1": "maintenance.auto", "GIT_CONFIG_VALUE_1": "false"}
GIT_ID = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]

TIME_BIN = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None

SLOW_FS_US = 60.0  # empty-file creates slower than this (µs): the fs is in a slow phase

STAT_FLOOR_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stat_floor.c")

STDLIB_QUICK_SUBDIRS = ("json", "email", "asyncio")

PACK_KINDS = {"objects": 0, "commits": 1, "snapshots": 2}


# --------------------------------------------------------------------------
# Processes, peak RSS.
# --------------------------------------------------------------------------


def ru_maxrss_kib() -> int:
    """``ru_maxrss`` of this process in KiB (Linux): its peak RSS, which for a
    spawned process includes the RSS its parent had at the spawn."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def vm_hwm_kib() -> int:
    """This process's own peak RSS (``VmHWM``) in KiB: unlike ``ru_maxrss`` it
    does not include the RSS of the parent the process was spawned from.
    Falls back to ``ru_maxrss`` where ``/proc/self/status`` has no ``VmHWM``."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return ru_maxrss_kib()


def run_timed(argv, cwd=None, env=None, shell=False, check=True, rss=True) -> dict:
    """Run one command; return its wall time (spawn to reap, process start
    included), peak RSS in KiB, exit code, stdout and stderr.

    ``argv`` is a list of arguments, or with ``shell=True`` one string run by
    ``/bin/sh -c``. Returns ``{"seconds": float, "maxrss_kib": int, "rc":
    int, "rss_from": "/usr/bin/time" | "wait4", "stdout": str, "stderr":
    str}``; with ``check`` (default) a non-zero exit raises ``RuntimeError``.

    The peak RSS comes from GNU ``/usr/bin/time -f %M`` wrapped around the
    command (about 1 ms added to the wall time, the same for every engine):
    the rusage of a process spawned directly from this (Python) parent would
    include the parent's own RSS, which ``exec`` carries over into
    ``ru_maxrss``. Without ``/usr/bin/time`` the ``wait4`` rusage is used
    (``rss_from`` says which).

    With ``rss=False`` the command is spawned bare (no wrapper: the least
    harness time around a short command such as a ``--version``) and
    ``maxrss_kib`` / ``rss_from`` are ``None``; measure the peak RSS in a
    separate run with the default."""
    if shell:
        argv = ["/bin/sh", "-c", argv]
    wrap = rss and TIME_BIN is not None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", prefix="rss-", suffix=".txt") as rssf:
        full = [TIME_BIN, "-f", "%M", "-o", rssf.name, *argv] if wrap else list(argv)
        t0 = time.perf_counter()
        p = subprocess.Popen(full, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        secs = time.perf_counter() - t0
        p.returncode = rc = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        res = {"seconds": secs, "maxrss_kib": ru.ru_maxrss, "rc": rc, "rss_from": "wait4",
               "stdout": out.read().decode(errors="replace"),
               "stderr": err.read().decode(errors="replace")}
        if not rss:
            res["maxrss_kib"] = res["rss_from"] = None
        elif wrap:
            lines = [x for x in rssf.read().split() if x.isdigit()]
            if lines:
                res["maxrss_kib"] = int(lines[-1])
                res["rss_from"] = "/usr/bin/time"
    if check and rc != 0:
        cmd = " ".join(map(str, argv))
        raise RuntimeError(f"`{cmd}` failed (rc={rc}): {res['stderr'][-2000:]}")
    return res


def wrapper_overhead_ms(n: int = 20) -> float:
    """Median extra wall time of ``run_timed`` (the /usr/bin/time wrapper)
    over a bare spawn of ``/bin/true``, in ms (0.0 without the wrapper);
    ``n`` spawns of each."""
    if not TIME_BIN:
        return 0.0
    a, b = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(["/bin/true"], check=True)
        a.append(time.perf_counter() - t0)
        b.append(run_timed(["/bin/true"])["seconds"])
    return (statistics.median(b) - statistics.median(a)) * 1e3


def muse_cmd() -> str:
    """Path of the ``muse`` command the wheel installed into this interpreter's
    environment (next to ``sys.executable``: a console script or a native
    executable), else the one on ``PATH``, else ``"muse"``."""
    p = os.path.join(os.path.dirname(sys.executable), "muse")
    return p if os.access(p, os.X_OK) else (shutil.which("muse") or "muse")


def muse_so_info() -> str:
    """One line naming the muse version and its extension module's path and
    mtime (``HH:MM:SS``), or why muse is not importable; printed at the start
    and compared at the end of a run to catch a rebuild in between."""
    try:
        import muse
        import muse._native as n
        st = os.stat(n.__file__)
        return (f"muse {muse.__version__}, {n.__file__} mtime "
                f"{time.strftime('%H:%M:%S', time.localtime(st.st_mtime))}")
    except Exception as e:  # pragma: no cover - informational only
        return f"muse not importable: {e}"


def emit_child_result(res: dict) -> None:
    """Child side: print ``res`` as one JSON line on stdout, which
    :meth:`Runner.child` reads (the last stdout line) in the parent."""
    print(json.dumps(res))


class Runner:
    """Parent side of a benchmark run: fresh directories under ``base``,
    workloads in fresh child processes, timed commands, and the list of
    errors (``errors``: one message per failed run; a script exits 1 when it
    is not empty, see :func:`exit_status`).

    ``script`` is the absolute path of the benchmark script: :meth:`child`
    re-executes it as ``sys.executable script --child SPEC``. ``timeout``:
    seconds a child may take."""

    def __init__(self, base: str, script: str, timeout: float = 900) -> None:
        self.base = base
        self.script = script
        self.timeout = timeout
        self.counter = 0
        self.errors: list[str] = []

    def fresh_dir(self, tag: str) -> str:
        """A new path ``<base>/NNN-<tag>`` (numbered in order; not created)."""
        self.counter += 1
        return os.path.join(self.base, f"{self.counter:03d}-{tag}")

    def fail(self, msg: str) -> None:
        """Record one failed run: print ``ERROR: msg`` on stderr, keep it."""
        print("ERROR: " + msg, file=sys.stderr, flush=True)
        self.errors.append(msg)

    def describe(self, spec: dict) -> str:
        """How a failed child is named in its error message (scripts
        override it to pick the fields of their spec that say which job)."""
        return f"child {spec}"

    def child(self, spec: dict) -> dict | None:
        """Run ``spec`` (a JSON-able dict) in a fresh child process of the
        script (cwd ``base``), after ``os.sync()`` so that earlier jobs'
        dirty pages are flushed off this job's clock. Returns the dict the
        child printed as its last stdout line (see
        :func:`emit_child_result`), or ``None`` after recording a failure."""
        os.sync()  # flush earlier jobs' dirty pages off this job's clock
        proc = subprocess.run(
            [sys.executable, self.script, "--child", json.dumps(spec)],
            capture_output=True, text=True, cwd=self.base, timeout=self.timeout,
        )
        if proc.returncode != 0:
            self.fail(f"{self.describe(spec)} failed (rc={proc.returncode}):\n"
                      f"{proc.stderr[-3000:]}")
            return None
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def cmd(self, what: str | None, argv, sync: bool = True, **kw) -> dict | None:
        """:func:`run_timed` ``(argv, **kw)`` (after ``os.sync()`` unless
        ``sync`` is false); returns its dict, or ``None`` after recording the
        failure as ``"<what>: <error>"`` (just the error when ``what`` is
        ``None``)."""
        if sync:
            os.sync()  # earlier jobs' writeback off this command's clock
        try:
            return run_timed(argv, **kw)
        except Exception as e:  # noqa: BLE001 - reported, the run goes on
            self.fail(str(e) if what is None else f"{what}: {e}")
            return None


# --------------------------------------------------------------------------
# The filesystem's slow phase.
# --------------------------------------------------------------------------


def fs_probe(runner: Runner, files: int = 300) -> float:
    """Microseconds per empty-file create of ``files`` files in a fresh dir
    of ``runner`` (a health check: ~30 µs normally here, 10x+ more for a
    minute after a mass delete)."""
    d = runner.fresh_dir("probe")
    os.makedirs(d)
    t0 = time.perf_counter()
    for i in range(files):
        os.close(os.open(os.path.join(d, str(i)), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return (time.perf_counter() - t0) / files * 1e6


def settle(runner: Runner, probes: list, max_wait: float) -> None:
    """Probe the fs (appending each probe, µs rounded to 0.1, to ``probes``);
    while it is slower than ``SLOW_FS_US``, wait 10 s at a time, up to
    ``max_wait`` seconds in all (then warn and go on)."""
    waited = 0.0
    while True:
        os.sync()
        us = fs_probe(runner)
        probes.append(round(us, 1))
        if us <= SLOW_FS_US or waited >= max_wait:
            if us > SLOW_FS_US:
                print(f"    WARNING: fs still slow ({us:.0f} µs/create) after {waited:.0f} s; "
                      f"results will be pessimistic", flush=True)
            return
        print(f"    fs slow ({us:.0f} µs per empty-file create; recent mass delete "
              f"elsewhere?), waiting 10 s", flush=True)
        time.sleep(10)
        waited += 10


# --------------------------------------------------------------------------
# Trees, stores, the stat floor.
# --------------------------------------------------------------------------


def build_stat_floor(dst_dir: str) -> tuple[str | None, str]:
    """Compile ``bench/stat_floor.c`` (the "stat floor": readdir + one
    ``fstatat`` per file on N threads, nothing else) into ``dst_dir`` with
    ``$CC`` (default ``cc``). Returns ``(path, "")``, or ``(None, reason)``
    when there is no C compiler or the build fails (the row is then left
    out and the reason printed)."""
    cc = os.environ.get("CC", "cc")
    if not shutil.which(cc):
        return None, f"no C compiler ({cc}) on PATH"
    out = os.path.join(dst_dir, "stat_floor")
    proc = subprocess.run([cc, "-O2", "-pthread", "-o", out, STAT_FLOOR_SRC],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None, f"{cc} failed: {proc.stderr.strip()[:300]}"
    return out, ""


def stat_floor_argv(binary: str, tree: str) -> list[str]:
    """argv of one stat-floor pass over ``tree`` on every CPU (timed as a
    whole process, like ``git status``; prints JSON with ``files``)."""
    return [binary, tree, str(os.cpu_count() or 1), "1"]


def make_seed_tree(root: str, ndirs: int, nfiles: int, size: int) -> int:
    """``ndirs`` dirs ``d%04d`` x ``nfiles`` files ``f%04d.txt`` of ``size``
    bytes, distinct contents, under ``root`` (created). Returns the file
    count."""
    for d in range(ndirs):
        dd = os.path.join(root, f"d{d:04d}")
        os.makedirs(dd)
        for f in range(nfiles):
            head = f"seed file d{d:04d}/f{f:04d}\n".encode()
            body = (head * (size // len(head) + 1))[:size]
            with open(os.path.join(dd, f"f{f:04d}.txt"), "wb") as fh:
                fh.write(body)
    return ndirs * nfiles


def copy_stdlib(dst: str, quick: bool) -> str:
    """Copy the running interpreter's stdlib dir (without ``site-packages``)
    to ``dst`` (``symlinks=True``); with ``quick`` only the packages in
    ``STDLIB_QUICK_SUBDIRS``. Returns the source path."""
    import sysconfig

    src = sysconfig.get_paths()["stdlib"]
    if quick:
        os.makedirs(dst)
        for sub in STDLIB_QUICK_SUBDIRS:
            shutil.copytree(os.path.join(src, sub), os.path.join(dst, sub), symlinks=True)
    else:
        shutil.copytree(src, dst, symlinks=True,
                        ignore=lambda d, names: ["site-packages"] if d == src else [])
    return src


def tree_stats(root: str) -> tuple[int, int]:
    """(regular files, bytes) under ``root``, outside ``.muse/`` and ``.git/``."""
    n = b = 0
    for dp, dns, fns in os.walk(root):
        if dp == root:
            dns[:] = [x for x in dns if x not in (".muse", ".git")]
        for fn in fns:
            st = os.lstat(os.path.join(dp, fn))
            if (st.st_mode & 0o170000) == 0o100000:
                n += 1
                b += st.st_size
    return n, b


def warm_read(root: str) -> float:
    """Read every file under root once (page cache warm); returns seconds."""
    t0 = time.perf_counter()
    for dp, dns, fns in os.walk(root):
        for fn in fns:
            p = os.path.join(dp, fn)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as fh:
                    while fh.read(1 << 20):
                        pass
    return time.perf_counter() - t0


def dir_stats(root: str) -> tuple[int, int]:
    """(files, apparent bytes) under root (every entry that is not a dir)."""
    n = b = 0
    for dp, _dn, fn in os.walk(root):
        for f in fn:
            try:
                b += os.lstat(os.path.join(dp, f)).st_size
                n += 1
            except OSError:
                pass
    return n, b


def muse_kind_stats(muse: str, kind: str) -> tuple[int, int]:
    """(items, bytes) of one kind ("objects", "commits", "snapshots") in the
    muse store at ``muse`` (a ``.muse`` dir): its loose files plus its
    entries in ``packs/*.pack`` (index read as muse-core/src/pack.rs lays it
    out: 56-byte entries, kind at byte 32, length at byte 48)."""
    import struct

    n, b = dir_stats(os.path.join(muse, kind))
    pdir = os.path.join(muse, "packs")
    for name in sorted(os.listdir(pdir)) if os.path.isdir(pdir) else []:
        with open(os.path.join(pdir, name), "rb") as f:
            f.seek(-24, os.SEEK_END)
            trailer = f.read(24)
            index_offset, count = struct.unpack("<QQ", trailer[:16])
            f.seek(index_offset)
            raw = f.read(count * 56)
        for i in range(count):
            e = raw[i * 56:(i + 1) * 56]
            if e[32] == PACK_KINDS[kind]:
                n += 1
                b += struct.unpack("<Q", e[48:56])[0]
    return n, b


def fast_import_commit(ident: bytes, ts: int, msg: bytes, mark: int | None = None) -> bytes:
    """The header of one ``git fast-import`` commit on ``refs/heads/main``:
    optional ``mark :<mark>``, author and committer ``ident`` (``b"Name
    <email>"``) at ``ts`` (Unix seconds, +0000), and ``msg`` as its data
    (followed by a newline). The caller appends ``from`` / ``M`` lines and
    the closing empty line."""
    return (b"commit refs/heads/main\n" + (b"mark :%d\n" % mark if mark is not None else b"")
            + b"author %s %d +0000\ncommitter %s %d +0000\ndata %d\n%s\n"
            % (ident, ts, ident, ts, len(msg), msg))


# --------------------------------------------------------------------------
# The command line.
# --------------------------------------------------------------------------


def add_common_args(ap, quick_help: str, tmp_help: str = "do not delete the temp dirs",
                    child: bool = True) -> None:
    """Add the options every timing script has, in this order: ``--quick``
    (help ``quick_help``), ``--json OUT``, ``--reps N`` (default 3, 1 with
    ``--quick``), ``--keep-tmp`` (help ``tmp_help``), ``--settle-max S``
    (seconds; default 120, 0 with ``--quick``) and, with ``child``, the
    hidden ``--child SPEC``. Script-specific options go after these.
    Resolve the defaults with :func:`parse_args`."""
    import argparse

    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--json", metavar="OUT", help="write all results as JSON to OUT")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 3, 1 with --quick)")
    ap.add_argument("--keep-tmp", action="store_true", help=tmp_help)
    ap.add_argument("--settle-max", type=float, default=None,
                    help="max seconds to wait for a slow filesystem before each rep "
                         "(default 120; 0 with --quick)")
    if child:
        ap.add_argument("--child", metavar="SPEC", help=argparse.SUPPRESS)


def bench_args(doc: str, argv: list[str] | None, quick_help: str, run_child=None,
               tmp_help: str = "do not delete the temp dirs", extra=None):
    """The whole command line of a timing script: an ``ArgumentParser``
    described by the first paragraph of ``doc`` (the script's docstring),
    :func:`add_common_args` (``--child`` only when there is a ``run_child``),
    then ``extra(ap)`` for the script's own options; parsed and resolved by
    :func:`parse_args` (which runs a ``--child`` and exits)."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    add_common_args(ap, quick_help, tmp_help, child=run_child is not None)
    if extra is not None:
        extra(ap)
    return parse_args(ap, argv, run_child)


def parse_args(ap, argv: list[str] | None, run_child=None):
    """Parse ``argv`` with ``ap`` (set up by :func:`add_common_args`).

    In a child (``--child SPEC``), call ``run_child(spec_dict)`` and exit
    the process with status 0 (an exception in it exits 1 with its
    traceback on stderr, which the parent reports). Otherwise return the
    namespace with
    ``reps`` (int) and ``settle_max`` (float seconds) resolved from
    ``--quick`` where not given: 3 reps and 120 s, or 1 and 0 s."""
    args = ap.parse_args(argv)
    if getattr(args, "child", None):
        run_child(json.loads(args.child))
        sys.exit(0)
    args.reps = args.reps or (1 if args.quick else 3)
    if args.settle_max is None:
        args.settle_max = 0.0 if args.quick else 120.0
    return args


# --------------------------------------------------------------------------
# Results.
# --------------------------------------------------------------------------


def fmt_rate(x: float) -> str:
    """A rate (items per second) as a whole number with thousands commas."""
    return f"{x:,.0f}"


def summarize(rs: list[dict]) -> dict:
    """Aggregate repetitions ``rs`` (dicts with ``seconds`` and
    ``maxrss_kib``) into ``{"median_s", "min_s", "all_s" (the seconds in
    run order), "peak_rss_mib" (max over runs, MiB)}``, in that key order."""
    secs = [r["seconds"] for r in rs]
    return {"median_s": statistics.median(secs), "min_s": min(secs), "all_s": secs,
            "peak_rss_mib": max(r["maxrss_kib"] for r in rs) / 1024}


def new_targets():
    """``(targets, target)``: an empty list and ``target(name, measured,
    ok)`` that appends ``{"target": name, "measured": measured, "status":
    "PASS" | "MISS" | "N/A"}`` to it (``ok`` true / false / ``None``, the
    last for a reference line that is not judged)."""
    targets: list[dict] = []

    def target(name: str, value: str, ok: bool | None) -> None:
        targets.append({"target": name, "measured": value,
                        "status": "N/A" if ok is None else ("PASS" if ok else "MISS")})

    return targets, target


def print_table(hdr: list, table: list, right: set, groups: list | None = None,
                rstrip: bool = True) -> None:
    """Print a header, a dashed rule and the rows of ``table`` (lists of
    cells), columns two spaces apart and as wide as their widest cell; the
    column indexes in ``right`` right-justified, the others left-justified,
    trailing blanks stripped unless ``rstrip`` is false. A ``None`` row
    prints an empty line; with ``groups`` (one key per row) an empty line
    also goes between rows whose keys differ."""
    real = [r for r in table if r is not None]
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *real)]

    def line(cells: list) -> str:
        s = "  ".join(str(c).rjust(wd) if i in right else str(c).ljust(wd)
                      for i, (c, wd) in enumerate(zip(cells, widths)))
        return s.rstrip() if rstrip else s

    print(line(hdr))
    print("  ".join("-" * wd for wd in widths))
    prev = None
    for i, cells in enumerate(table):
        if cells is None:
            print()
            continue
        if groups is not None:
            if i > 0 and groups[i] != prev:
                print()
            prev = groups[i]
        print(line(cells))


def print_targets(targets: list, quick: bool, note: str) -> None:
    """Print the targets made by :func:`new_targets` under a ``Targets``
    heading (with ``quick``: ``(QUICK mode: <note> -- not
    representative)``), then ``P/J PASS`` counting only judged ones."""
    print()
    print("Targets" + (f" (QUICK mode: {note} -- not representative)" if quick else ""))
    tw = max((len(t["target"]) for t in targets), default=10)
    mw = max((len(t["measured"]) for t in targets), default=10)
    for t in targets:
        print(f"  {t['target'].ljust(tw)}  {t['measured'].rjust(mw)}  {t['status']}")
    scored = [t for t in targets if t["status"] != "N/A"]  # N/A: a reference line, not a target
    print(f"  {sum(t['status'] == 'PASS' for t in scored)}/{len(scored)} PASS")


def print_load_start(load0: tuple) -> None:
    """Print the 1/5/15-minute load averages ``load0`` and the CPU count."""
    print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} "
          f"({os.cpu_count()} CPUs)", flush=True)


def print_load_and_probes(load0: tuple, load1: tuple, phase: str, probes: list) -> None:
    """Print the closing lines: 1-minute load average at start and end, CPU
    count and ``phase`` (e.g. ``"timing phase 12.3 s"``), then the fs probe
    values (µs per empty-file create) of the run."""
    print(f"load average at start {load0[0]:.2f}, at end {load1[0]:.2f} ({os.cpu_count()} CPUs); "
          f"{phase}")
    print(f"fs probe (µs per empty-file create; ~30 normal, >{SLOW_FS_US:.0f} slow): "
          f"{', '.join(f'{p:.0f}' for p in probes)}")


def print_report_end(targets: list, quick: bool, note: str, load0: tuple, load1: tuple,
                     phase: str, probes: list, muse_so: tuple | None = None) -> None:
    """The end of a report: :func:`print_targets` ``(targets, quick, note)``,
    an empty line, :func:`print_load_and_probes` ``(load0, load1, phase,
    probes)`` and, with ``muse_so`` = ``(at start, at end)`` of
    :func:`muse_so_info`, a warning when the two differ."""
    print_targets(targets, quick, note)
    print()
    print_load_and_probes(load0, load1, phase, probes)
    if muse_so is not None and muse_so[1] != muse_so[0]:
        print(f"WARNING: the muse extension changed during the run: {muse_so[0]} -> {muse_so[1]}")


def run_env(load0: tuple, load1: tuple, muse_so: tuple | None = None) -> dict:
    """The run's setting for the JSON output, in this key order: ``python``
    (``sys.version``), ``platform``, ``cpus``, ``loadavg_start`` /
    ``loadavg_end`` (``os.getloadavg()`` triples) and, with ``muse_so`` =
    ``(at start, at end)`` of :func:`muse_so_info`, ``muse`` / ``muse_end``."""
    import platform

    env = {"python": sys.version, "platform": platform.platform(), "cpus": os.cpu_count(),
           "loadavg_start": load0, "loadavg_end": load1}
    if muse_so is not None:
        env["muse"], env["muse_end"] = muse_so
    return env


def git_version() -> str:
    """``git --version``'s output, stripped."""
    return run_timed(["git", "--version"])["stdout"].strip()


def write_json(path: str, obj, indent: int = 2, announce: bool = True) -> None:
    """Write ``obj`` as JSON to ``path`` (``indent``); with ``announce`` print
    ``wrote <path>``."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent)
    if announce:
        print(f"wrote {path}")


def remove_tmp(base: str, keep: bool, sync: bool = False) -> None:
    """End of run, after all timing: keep ``base`` (``--keep-tmp``, say so)
    or delete it and say how long that took; with ``sync``, ``os.sync()``
    right after the delete (the freed inode-table blocks written back now,
    so the after-delete slow phase of a journal-less ext4 is short)."""
    if keep:
        print(f"kept temp dir {base}")
        return
    t0 = time.perf_counter()
    shutil.rmtree(base, ignore_errors=True)
    if sync:
        # Write the freed inode-table blocks back now: ext4 without a journal
        # avoids reusing an inode for 60 s after its deletion, 360 s while its
        # inode-table block is dirty, and file creation crawls meanwhile.
        os.sync()
        print(f"removed temp dir {base} (+ sync) in {time.perf_counter() - t0:.1f} s")
    else:
        print(f"removed temp dir {base} in {time.perf_counter() - t0:.1f} s")


def remove_tmp_quiet(base: str, keep: bool) -> bool:
    """Keep ``base`` (print ``temp dir kept: <base>``) or delete it and
    ``os.sync()`` without a word. Returns True when it was deleted."""
    if keep:
        print(f"temp dir kept: {base}")
        return False
    shutil.rmtree(base, ignore_errors=True)
    os.sync()
    return True


def end_run(base: str, keep_tmp: bool, errors: list, sync: bool = False,
            what: str = "run(s) failed") -> int:
    """The last step of a run: :func:`remove_tmp` ``(base, keep_tmp, sync)``,
    then the exit code from :func:`exit_status` ``(errors, what)``."""
    remove_tmp(base, keep_tmp, sync)
    return exit_status(errors, what)


def exit_status(errors: list, what: str = "run(s) failed") -> int:
    """The script's exit code: 1 after printing ``<len(errors)> <what>`` on
    stderr when any run failed, else 0 (missed targets do not count)."""
    if errors:
        print(f"{len(errors)} {what}", file=sys.stderr)
        return 1
    return 0
