#!/usr/bin/env python3
"""Remotes benchmark: ``muse clone`` / ``muse fetch`` through ``muse serve``
beside ``git clone`` / ``git fetch`` over ``git daemon``, on loopback, on the
same real history.

Usage::

    python bench/bench_remote.py [--quick] [--git-repo PATH] [--commits N]
        [--fetch-commits K] [--json out.json] [--reps N] [--keep-tmp]

The history is a real one: the first-parent line of ``--branch`` (default
``master``, else ``main``) of ``--git-repo`` cut at the commit with about
``--commits`` ancestors (default: git's own history from
``/work/.mirror/git+git/repo`` when present, 20,000 commits; ``--quick``:
this checkout's own history, all of it). Set-up, untimed:

- two bare git repositories served by ``git daemon --export-all`` on
  127.0.0.1: ``old.git`` (the tip ``--fetch-commits`` first-parent commits
  back) and ``full.git`` (the tip), each made by ``git fetch`` of exactly
  that history (a fresh pack of what is reachable);
- two hosted muse repositories in a ``muse serve --root`` on 127.0.0.1,
  ``bench/old`` and ``bench/full``, filled by ``muse import-git`` from those
  two (public: no token needed).

Timed, per repetition, muse and git alternating (order flipped every other
repetition), each a whole process:

1. clone: ``muse clone http://…/bench/old`` vs ``git clone
   git://…/old.git`` (the history up to the old tip, working tree checked
   out);
2. fetch: in those clones, ``muse fetch full`` (remote ``full`` added,
   untimed) vs ``git fetch git://…/full.git master:refs/remotes/full/master``
   (the last ``--fetch-commits`` commits).

Reported: median wall time, ratio muse/git (< 1: muse faster), the client's
peak RSS (``/usr/bin/time``), the server's peak RSS (``muse serve``: its
``VmHWM`` over the whole run; git: ``git pack-objects``, the heavy part of
``upload-pack``, through ``uploadpack.packObjectsHook``), and the bytes on
the wire each way (one extra untimed clone and fetch per engine through a
counting TCP proxy).

Exit status 0 even when a target is missed; non-zero on errors (a failed
command, a clone whose tip is not the expected commit).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

GIT_MIRROR = "/work/.mirror/git+git/repo"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git(*args, cwd=None, check=True) -> str:
    p = subprocess.run(["git", *args], cwd=cwd, env=common.GIT_ENV, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {p.stderr[-2000:]}")
    return p.stdout.strip()


def pick_tips(src: str, branch: str, commits: int | None, fetch_commits: int) -> tuple[str, str, int, int]:
    """(old tip, full tip, ancestors of each): the full tip is the
    first-parent commit with about ``commits`` ancestors (all of ``branch``
    when None), the old tip ``fetch_commits`` first parents before it."""
    line = git("rev-list", "--first-parent", branch, cwd=src).split()
    count = lambda c: int(git("rev-list", "--count", c, cwd=src))  # noqa: E731
    lo, hi = 0, len(line) - 1  # line[0] is the tip (most ancestors)
    if commits is not None and count(line[0]) > commits:
        # Binary search on the first-parent line for ~commits ancestors.
        while lo < hi:
            mid = (lo + hi) // 2
            if count(line[mid]) > commits:
                lo = mid + 1
            else:
                hi = mid
    full_i = lo if commits is not None else 0
    old_i = min(full_i + fetch_commits, len(line) - 1)
    return line[old_i], line[full_i], count(line[old_i]), count(line[full_i])


class CountingProxy:
    """A TCP proxy on 127.0.0.1 that counts the bytes each way."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.up = 0
        self.down = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket, up: bool) -> None:
        try:
            while True:
                data = a.recv(1 << 16)
                if not data:
                    break
                b.sendall(data)
                with self.lock:
                    if up:
                        self.up += len(data)
                    else:
                        self.down += len(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(c, s, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(s, c, False), daemon=True).start()

    def reset(self) -> tuple[int, int]:
        with self.lock:
            r = (self.up, self.down)
            self.up = self.down = 0
        return r


def vm_hwm_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited (rc={proc.returncode}): {proc.stderr.read()[-2000:] if proc.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")


def main(argv: list[str] | None = None) -> int:
    def extra(ap) -> None:
        ap.add_argument("--git-repo", help=f"git repository with the history (default {GIT_MIRROR} "
                                            "when present, else this checkout; --quick: this checkout)")
        ap.add_argument("--branch", help="its branch (default master, else main, else HEAD)")
        ap.add_argument("--commits", type=int, default=None,
                        help="cut the history at ~N commits (default 20000; --quick: all)")
        ap.add_argument("--fetch-commits", type=int, default=None,
                        help="first-parent commits the fetch brings (default 500; --quick 20)")
        ap.add_argument("--muse", help="the muse program (default: the one on PATH / .venv)")

    args = common.bench_args(__doc__, argv, "this checkout's own history, 1 repetition",
                             tmp_help="do not delete the temp dir", extra=extra)
    q = args.quick
    src = args.git_repo or (HERE if q or not os.path.isdir(GIT_MIRROR) else GIT_MIRROR)
    commits = args.commits if args.commits is not None else (None if q or src == HERE else 20000)
    fetch_commits = args.fetch_commits or (20 if q else 500)
    branch = args.branch
    if branch is None:
        for b in ("master", "main"):
            if git("rev-parse", "--verify", "-q", f"refs/heads/{b}", cwd=src, check=False):
                branch = b
                break
        else:
            branch = "HEAD"
    muse = os.path.abspath(args.muse) if args.muse and os.sep in args.muse else (args.muse or common.muse_cmd())
    # The embedded tier, no token, no monitor: none of the caller's MUSE_*
    # settings (CI exports the scale-out tier's MUSE_HUB_DATABASE_URL).
    menv = {k: v for k, v in os.environ.items() if not k.startswith("MUSE_")}
    base = tempfile.mkdtemp(prefix="muse-bench-remote-", dir="/tmp")
    runner = common.Runner(base, os.path.abspath(__file__))
    procs: list[subprocess.Popen] = []
    load0 = os.getloadavg()
    results: dict = {"rows": {}}
    try:
        old_tip, full_tip, n_old, n_full = pick_tips(src, branch, commits, fetch_commits)
        print(f"remote benchmark: {'quick' if q else 'full'}, {args.reps} rep(s), temp dir {base}")
        print(f"  history: {src} {branch}: old tip {old_tip[:12]} ({n_old:,} commits), "
              f"full tip {full_tip[:12]} ({n_full:,} commits, +{n_full - n_old:,})", flush=True)
        print(f"  {common.git_version()}; muse {muse}", flush=True)

        # ---- set-up: git side ------------------------------------------------
        gitroot = os.path.join(base, "git")
        os.makedirs(gitroot)
        t0 = time.perf_counter()
        for name, tip in (("old", old_tip), ("full", full_tip)):
            d = os.path.join(gitroot, f"{name}.git")
            git("init", "-q", "--bare", d)
            git("fetch", "-q", "--no-tags", src, f"{tip}:refs/heads/master", cwd=d)
            git("symbolic-ref", "HEAD", "refs/heads/master", cwd=d)
        print(f"  git: old.git + full.git made in {time.perf_counter() - t0:.1f} s", flush=True)
        hook = os.path.join(base, "pack-objects-hook.sh")
        hook_log = os.path.join(base, "pack-objects-rss.txt")
        with open(hook, "w") as f:
            f.write(f"#!/bin/sh\nexec {common.TIME_BIN} -a -o {hook_log} -f %M \"$@\"\n")
        os.chmod(hook, 0o755)
        gcfg = os.path.join(base, "gitconfig-daemon")
        with open(gcfg, "w") as f:
            f.write(f"[uploadpack]\n\tpackObjectsHook = {hook}\n")
        gport = free_port()
        genv = {**common.GIT_ENV, "GIT_CONFIG_GLOBAL": gcfg}
        gd = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={gitroot}",
                               "--listen=127.0.0.1", f"--port={gport}", gitroot],
                              env=genv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(gd)
        wait_port(gport, gd, "git daemon")

        # ---- set-up: muse side -----------------------------------------------
        hub = os.path.join(base, "hub")
        t0 = time.perf_counter()
        for name in ("old", "full"):
            common.run_timed([muse, "serve", "init-repo", "--root", hub, f"bench/{name}", "--public"], env=menv)
            common.run_timed([muse, "import-git", os.path.join(gitroot, f"{name}.git")],
                             cwd=os.path.join(hub, "bench", name), env=menv)
        print(f"  muse: hub repositories bench/old + bench/full imported in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        mport = free_port()
        ms = subprocess.Popen([muse, "serve", "--root", hub, "--listen", f"127.0.0.1:{mport}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=menv)
        procs.append(ms)
        wait_port(mport, ms, "muse serve")
        murl = f"http://127.0.0.1:{mport}/bench"
        gurl = f"git://127.0.0.1:{gport}"

        # The muse commit IDs of the two tips: what a clone and a fetch must end at.
        def muse_tip(cwd: str, rev: str = "HEAD") -> str | None:
            out = common.run_timed([muse, "log", "--json", "-n", "1", rev], cwd=cwd, check=False, env=menv)
            try:
                return json.loads(out["stdout"])["commits"][0]["commit_id"]
            except (ValueError, KeyError, IndexError):
                return None

        tips = {n: muse_tip(os.path.join(hub, "bench", n), "master") for n in ("old", "full")}

        rows: dict[tuple, list] = {}

        def add(key, r):
            rows.setdefault(key, []).append(r)

        probes: list[float] = []
        t_phase = time.perf_counter()
        for rep in range(args.reps):
            common.settle(runner, probes, args.settle_max)
            engines = ["muse", "git"] if rep % 2 == 0 else ["git", "muse"]
            dst = {}
            for eng in engines:
                d = runner.fresh_dir(f"clone-{eng}")
                dst[eng] = d
                if eng == "muse":
                    r = runner.cmd(f"muse clone rep {rep + 1}", [muse, "clone", f"{murl}/old", d], env=menv)
                else:
                    r = runner.cmd(f"git clone rep {rep + 1}", ["git", "clone", "-q", f"{gurl}/old.git", d],
                                   env=common.GIT_ENV)
                if r:
                    add(("clone", eng), r)
            # Correctness: both clones end at the old tip.
            if muse_tip(dst["muse"]) != tips["old"]:
                runner.fail(f"muse clone rep {rep + 1}: HEAD is not {tips['old']}")
            if git("rev-parse", "HEAD", cwd=dst["git"]) != old_tip:
                runner.fail(f"git clone rep {rep + 1}: HEAD is not {old_tip}")
            common.run_timed([muse, "remote", "add", "full", f"{murl}/full"], cwd=dst["muse"], env=menv)
            for eng in engines:
                if eng == "muse":
                    r = runner.cmd(f"muse fetch rep {rep + 1}", [muse, "fetch", "full"], cwd=dst["muse"], env=menv)
                else:
                    r = runner.cmd(f"git fetch rep {rep + 1}",
                                   ["git", "fetch", "-q", f"{gurl}/full.git", "master:refs/remotes/full/master"],
                                   cwd=dst["git"], env=common.GIT_ENV)
                if r:
                    add(("fetch", eng), r)
            if muse_tip(dst["muse"], "full/master") != tips["full"]:
                runner.fail(f"muse fetch rep {rep + 1}: full/master is not {tips['full']}")
        phase = time.perf_counter() - t_phase

        # ---- wire bytes: one more clone + fetch per engine through a proxy ---
        wire = {}
        pm, pg = CountingProxy(mport), CountingProxy(gport)
        d = runner.fresh_dir("wire-muse")
        common.run_timed([muse, "clone", f"http://127.0.0.1:{pm.port}/bench/old", d], env=menv)
        wire[("clone", "muse")] = pm.reset()
        common.run_timed([muse, "remote", "add", "full", f"http://127.0.0.1:{pm.port}/bench/full"], cwd=d, env=menv)
        common.run_timed([muse, "fetch", "full"], cwd=d, env=menv)
        wire[("fetch", "muse")] = pm.reset()
        d = runner.fresh_dir("wire-git")
        common.run_timed(["git", "clone", "-q", f"git://127.0.0.1:{pg.port}/old.git", d], env=common.GIT_ENV)
        wire[("clone", "git")] = pg.reset()
        common.run_timed(["git", "fetch", "-q", f"git://127.0.0.1:{pg.port}/full.git",
                          "master:refs/remotes/full/master"], cwd=d, env=common.GIT_ENV)
        wire[("fetch", "git")] = pg.reset()

        server_rss = {"muse": vm_hwm_kib(ms.pid)}
        try:
            with open(hook_log) as f:
                vals = [int(x) for x in f.read().split() if x.isdigit()]
            server_rss["git"] = max(vals) if vals else None
        except OSError:
            server_rss["git"] = None
        load1 = os.getloadavg()

        # ---- report -----------------------------------------------------------
        print()
        hdr = ["work", "engine", "runs", "median s", "min s", "÷git", "client RSS MiB",
               "server RSS MiB", "wire up", "wire down"]
        table = []
        targets, target = common.new_targets()
        for work in ("clone", "fetch"):
            med = {eng: statistics.median(r["seconds"] for r in rows[(work, eng)])
                   for eng in ("muse", "git") if rows.get((work, eng))}
            ratio = med["muse"] / med["git"] if len(med) == 2 else None
            for eng in ("muse", "git"):
                rs = rows.get((work, eng), [])
                if not rs:
                    continue
                s = common.summarize(rs)
                up, down = wire.get((work, eng), (0, 0))
                srss = server_rss.get(eng)
                table.append([work, eng, len(rs), f"{s['median_s']:.2f}", f"{s['min_s']:.2f}",
                              f"{ratio:.2f}x" if eng == "muse" and ratio is not None else "",
                              f"{s['peak_rss_mib']:.0f}", "" if srss is None else f"{srss / 1024:.0f}",
                              f"{up / 2**20:.1f} MiB", f"{down / 2**20:.1f} MiB"])
                results["rows"][f"{work}/{eng}"] = {**s, "wire_up": up, "wire_down": down,
                                                    "server_peak_rss_kib": srss}
            if ratio is not None:
                results["rows"][f"{work}/ratio"] = ratio
                n = n_old if work == "clone" else n_full - n_old
                target(f"{work} ({n:,} commits) muse ÷ git", f"{ratio:.2f}x", None)
        common.print_table(hdr, table, right={2, 3, 4, 5, 6, 7, 8, 9})
        print()
        print(f"Times: whole processes, muse and git alternating; server RSS: muse serve's VmHWM over "
              f"the whole run, git's largest pack-objects. Wire: bytes through a counting proxy in one "
              f"extra untimed run per engine (up = client to server).")
        common.print_report_end(targets, q, "this checkout's own history", load0, load1,
                                f"timing phase {phase:.1f} s", probes)
        results["history"] = {"src": src, "branch": branch, "old_tip": old_tip, "full_tip": full_tip,
                              "old_commits": n_old, "full_commits": n_full}
        results["env"] = common.run_env(load0, load1)
        if args.json:
            common.write_json(args.json, results)
    except Exception as e:  # noqa: BLE001
        runner.fail(f"{type(e).__name__}: {e}")
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    return common.end_run(base, args.keep_tmp, runner.errors)


if __name__ == "__main__":
    sys.exit(main())
