#!/usr/bin/env python3
"""A real git history in muse and in git, side by side (issue 20).

Usage::

    python bench/bench_git_history.py [--src GIT_DIR] [--branch B] [--commits N]
                                      [--muse PATH] [--json out.json] [--keep-tmp] [--quick]

The source is a real git repository: ``--src`` (default: git's own history,
the mirror at ``/work/.mirror/git+git/repo`` when it exists, else this
project's own ``.git``; ``--quick``, what CI runs, always takes this
project's own history). ``--branch`` (default: the
source's ``HEAD`` branch) and the tags it contains are copied into a fresh
bare repository by ``git fetch`` (git's own pack, as a user's clone has it);
``--commits N`` cuts the branch at the first-parent commit whose ancestry
holds about N commits.

Then, each once, as whole processes (wall time and peak RSS by
``/usr/bin/time``), git and muse on the same history:

===========================  ==========================================  =====================================
step                         git                                         muse
===========================  ==========================================  =====================================
storage                      ``.pack`` + ``.idx`` bytes of the clone      ``muse import-git`` (commits/s), then
                                                                         ``muse gc --aggressive``; bytes under
                                                                         ``.muse``
bundle create (whole)        ``git bundle create f --all``               ``muse bundle create f <branches>``
bundle apply                 ``git fetch f 'refs/*:refs/*'`` into a bare  ``muse bundle apply f --update-refs``
                             repository (index-pack + refs)              into a fresh repository
verify                       ``git fsck --full``                         ``muse verify``
===========================  ==========================================  =====================================

Targets (issue 20): ``.muse`` bytes <= 1.5x git's pack; bundle bytes <=
1.5x git's; bundle create and apply time <= 2x git's and peak RSS <= 1 GiB;
``verify`` <= 1.0x ``git fsck --full``; import >= 700 commits/s (a quiet
machine; the seeds ask for 472). Commit counts must be equal
(``git rev-list --all --count`` vs muse's import report): a difference is an
error, not a miss.

Exit status 0 when targets are missed; 1 when a step fails or the counts
differ.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import muse_cmd, new_targets, print_targets, run_timed, write_json  # noqa: E402

MIRROR = "/work/.mirror/git+git/repo"
GIB = 1 << 30


def git(*args: str, cwd: str | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def du_bytes(path: str) -> int:
    """Apparent bytes of the regular files under ``path``."""
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(d, f)).st_size
            except FileNotFoundError:
                pass
    return total


def mib(b: float) -> str:
    return f"{b / (1 << 20):,.1f} MiB"


def default_src() -> str:
    if os.path.isdir(MIRROR):
        return MIRROR
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return git("rev-parse", "--absolute-git-dir", cwd=here)


def prepare(src: str, branch: str | None, commits: int | None, dst: str) -> tuple[str, int, str]:
    """Copy ``branch`` of ``src`` (cut to ~``commits``) and its tags into a
    fresh bare repository ``dst``. Returns (branch, commit count, tip)."""
    if branch is None:
        try:
            branch = git("symbolic-ref", "-q", "HEAD", cwd=src).removeprefix("refs/heads/")
            tip = git("rev-parse", f"refs/heads/{branch}", cwd=src)
        except subprocess.CalledProcessError:  # a detached HEAD (a CI checkout)
            branch, tip = "main", git("rev-parse", "HEAD", cwd=src)
    else:
        tip = git("rev-parse", f"refs/heads/{branch}", cwd=src)
    if commits:
        line = git("rev-list", "--first-parent", tip, cwd=src).split()
        lo, hi = 0, len(line) - 1  # line[0] is the tip (most commits)
        while lo < hi:  # the newest first-parent commit with <= commits ancestors
            mid = (lo + hi) // 2
            if int(git("rev-list", "--count", line[mid], cwd=src)) <= commits:
                hi = mid
            else:
                lo = mid + 1
        tip = line[lo]
    git("init", "-q", "--bare", dst)
    tags = [t for t in git("tag", "--merged", tip, cwd=src).split() if t]
    refspecs = [f"{tip}:refs/heads/{branch}"] + [f"refs/tags/{t}:refs/tags/{t}" for t in tags]
    # Many refspecs: fetch in chunks (argv limits), git's own pack each time.
    subprocess.run(["git", "fetch", "-q", "--no-tags", src, refspecs[0]], cwd=dst, check=True)
    for i in range(1, len(refspecs), 500):
        subprocess.run(["git", "fetch", "-q", "--no-tags", src, *refspecs[i:i + 500]], cwd=dst, check=True)
    subprocess.run(["git", "symbolic-ref", "HEAD", f"refs/heads/{branch}"], cwd=dst, check=True)
    n = int(git("rev-list", "--all", "--count", cwd=dst))
    return branch, n, tip


def pack_bytes(git_dir: str) -> int:
    d = os.path.join(git_dir, "objects", "pack")
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith((".pack", ".idx")))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", help="a git repository (default: git's mirror, else this project's .git)")
    ap.add_argument("--branch", help="branch to copy (default: the source's HEAD branch)")
    ap.add_argument("--commits", type=int, help="cut the branch at about N commits")
    ap.add_argument("--muse", default=muse_cmd(),
                    help="the muse binary (default: the one installed next to this Python, else on PATH)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run (CI): this project's own history, whatever --src says")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--keep-tmp", action="store_true")
    ap.add_argument("--tmp", help="parent of the temp dir (default: $TMPDIR)")
    a = ap.parse_args(argv)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = git("rev-parse", "--absolute-git-dir", cwd=here) if a.quick else (a.src or default_src())
    muse = os.path.abspath(a.muse) if os.sep in a.muse else a.muse
    base = tempfile.mkdtemp(prefix="bench-git-history-", dir=a.tmp)
    env = dict(os.environ)
    for k in ("MUSE_REPO_ROOT", "MUSE_FSMONITOR"):
        env.pop(k, None)
    res: dict = {"src": src, "muse": muse, "muse_version": subprocess.run([muse, "--version"], capture_output=True,
                                                                         text=True).stdout.strip()}
    errors: list[str] = []
    try:
        print(f"source {src}; load {os.getloadavg()[0]:.2f}; muse {res['muse_version']}", flush=True)
        gdir = os.path.join(base, "src.git")
        t0 = time.perf_counter()
        branch, n_git, tip = prepare(src, a.branch, a.commits, gdir)
        res.update(branch=branch, tip=tip, commits_git=n_git)
        print(f"history: {n_git:,} commits on {branch} (tip {tip[:10]}) and its tags, copied in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)

        def step(name: str, argv: list[str], cwd: str) -> dict:
            print(f"  {name} ...", end="", flush=True)
            r = run_timed(argv, cwd=cwd, env=env, check=False)
            ok = r["rc"] == 0
            print(f" {r['seconds']:.2f} s, {r['maxrss_kib'] / 1024:,.0f} MiB{'' if ok else ' FAILED'}", flush=True)
            if not ok:
                errors.append(f"{name}: rc={r['rc']}: {r['stderr'][-1500:]}")
            res[name] = {"seconds": r["seconds"], "rss_mib": r["maxrss_kib"] / 1024, "rc": r["rc"]}
            return r

        # git
        res["git_pack_bytes"] = pack_bytes(gdir)
        gb = os.path.join(base, "all.bundle")
        step("git_bundle_create", ["git", "bundle", "create", "-q", gb, "--all"], gdir)
        res["git_bundle_bytes"] = os.path.getsize(gb) if os.path.exists(gb) else 0
        g2 = os.path.join(base, "g2.git")
        git("init", "-q", "--bare", g2)
        step("git_bundle_apply", ["git", "fetch", "-q", gb, "refs/*:refs/*"], g2)
        step("git_fsck", ["git", "fsck", "--full", "--no-progress"], gdir)

        # muse
        m = os.path.join(base, "m")
        os.makedirs(m)
        subprocess.run([muse, "init"], cwd=m, env=env, check=True, capture_output=True)
        r = step("muse_import", [muse, "import-git", gdir, "--json"], m)
        n_muse = None
        if r["rc"] == 0:
            try:
                rep = json.loads(r["stdout"])
                n_muse = rep.get("commits") or rep.get("commits_imported")
            except ValueError:
                errors.append("muse import-git --json printed no JSON")
        res["commits_muse"] = n_muse
        if n_muse is not None and n_muse != n_git:
            errors.append(f"commit counts differ: git {n_git}, muse {n_muse}")
        res["muse_bytes_after_import"] = du_bytes(os.path.join(m, ".muse"))
        # A full repack that chooses deltas again, as git advises after
        # fast-import (`git repack -a -d -f`): plain `muse gc` is git's
        # `gc --auto` (only packs under 32 MiB are merged), which leaves an
        # import's big packs as the importer wrote them.
        step("muse_gc", [muse, "gc", "--aggressive"], m)
        res["muse_bytes"] = du_bytes(os.path.join(m, ".muse"))
        br = subprocess.run([muse, "branch", "--json"], cwd=m, env=env, capture_output=True, text=True)
        try:
            branches = [b["name"] if isinstance(b, dict) else b for b in json.loads(br.stdout).get("branches", [])]
        except (ValueError, AttributeError):
            branches = [branch]
        mb = os.path.join(base, "all.mpack")
        step("muse_bundle_create", [muse, "bundle", "create", mb, *(branches or [branch])], m)
        res["muse_bundle_bytes"] = os.path.getsize(mb) if os.path.exists(mb) else 0
        m2 = os.path.join(base, "m2")
        os.makedirs(m2)
        subprocess.run([muse, "init"], cwd=m2, env=env, check=True, capture_output=True)
        step("muse_bundle_apply", [muse, "bundle", "apply", mb, "--update-refs"], m2)
        step("muse_verify", [muse, "verify"], m)
    finally:
        if a.keep_tmp:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)

    targets, target = new_targets()

    def ratio(x: float | None, y: float | None) -> float | None:
        return None if not x or not y else x / y

    def sec(k: str) -> float | None:
        return res.get(k, {}).get("seconds") if res.get(k, {}).get("rc") == 0 else None

    r_size = ratio(res.get("muse_bytes"), res.get("git_pack_bytes"))
    target(".muse bytes / git pack <= 1.5x",
           f"{mib(res.get('muse_bytes', 0))} / {mib(res.get('git_pack_bytes', 0))} = "
           + (f"{r_size:.2f}x" if r_size else "n/a"), r_size is not None and r_size <= 1.5)
    r_b = ratio(res.get("muse_bundle_bytes"), res.get("git_bundle_bytes"))
    target("bundle bytes / git bundle <= 1.5x",
           f"{mib(res.get('muse_bundle_bytes', 0))} / {mib(res.get('git_bundle_bytes', 0))} = "
           + (f"{r_b:.2f}x" if r_b else "n/a"), r_b is not None and r_b <= 1.5)
    for what in ("create", "apply"):
        mt, gt = sec(f"muse_bundle_{what}"), sec(f"git_bundle_{what}")
        rt = ratio(mt, gt)
        target(f"bundle {what} time / git <= 2x",
               (f"{mt:.2f} / {gt:.2f} s = {rt:.2f}x" if rt else "n/a"), rt is not None and rt <= 2.0)
        rss = res.get(f"muse_bundle_{what}", {}).get("rss_mib")
        grss = res.get(f"git_bundle_{what}", {}).get("rss_mib")
        target(f"bundle {what} peak RSS <= 1 GiB",
               f"{rss or 0:,.0f} MiB (git {grss or 0:,.0f} MiB)", rss is not None and rss * (1 << 20) <= GIB)
    mv, gf = sec("muse_verify"), sec("git_fsck")
    rv = ratio(mv, gf)
    target("verify / git fsck --full <= 1.0x", (f"{mv:.2f} / {gf:.2f} s = {rv:.2f}x" if rv else "n/a"),
           rv is not None and rv <= 1.0)
    it = sec("muse_import")
    cps = n_git / it if it else None
    res["import_commits_per_s"] = cps
    target("import >= 700 commits/s", f"{cps:,.0f} commits/s" if cps else "n/a", cps is not None and cps >= 700)
    res["targets"] = targets
    res["errors"] = errors
    print_targets(targets, a.quick, "this project's own small history")
    for e in errors:
        print(f"ERROR: {e}")
    if a.json:
        write_json(a.json, res)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
