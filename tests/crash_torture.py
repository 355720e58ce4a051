#!/usr/bin/env python3
"""Crash torture for the `muse` command (SPEC §4 and §12).

    python tests/crash_torture.py --trials N [--seed S] [--keep] [--muse PATH]

Each trial picks a kind of operation -- add+commit, checkout, merge, bundle
apply, import-git -- starts it on a scratch repository (``[core] fsync =
"off"``), SIGKILLs it (and its children) at a random moment drawn uniformly
from [0, typical duration] (the typical duration of each kind is measured by
one unkilled run), then checks that

* `muse verify` exits 0 and every branch's history walks (`muse log --json`);
* `muse status --json` works on the state the kill left;
* the interrupted command, run again, succeeds and leaves the expected result
  (for a merge: `muse merge --abort` succeeds whenever a merge is
  interrupted or in conflict and brings tree and HEAD back to the pre-merge
  commit; the merge run again then merges or reports its conflicts cleanly);
* no working-tree temp (`.restore-tmp-*`, `.muse-tmp-*`, `.obj-tmp-*`) is
  left in the working tree outside `.muse/`.

Fixtures are built once per run and reused across trials (a repository whose
trial failed is rebuilt from its template, the failed state kept for
inspection). The last line is ``crash-torture: N passed, M failed``; the exit
status is 0 only when no trial failed.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Callable

# The helpers shared with the pytest tests live in tests/python/helpers.py;
# this file runs as a script, so that directory is put on sys.path here.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "python"))

from helpers import (  # noqa: E402
    FAST_CONFIG,
    TEMP_PREFIXES,
    derive_files,
    muse_env,
    read_tree,
    run_or_kill,
    write_files,
)

KINDS = ("add+commit", "checkout", "merge", "bundle apply", "import-git")
TIMEOUT = 300.0


class Failure(Exception):
    """A check failed: the trial fails with this message."""


# ------------------------------------------------------------- utilities


def _env() -> dict[str, str]:
    return muse_env({"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                     "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1",
                     "HOME": os.environ.get("HOME", "/tmp")})


class Muse:
    def __init__(self, exe: str) -> None:
        self.exe = exe
        self.env = _env()

    def run(self, cwd: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([self.exe, *args], cwd=cwd, capture_output=True, text=True, env=self.env,
                                  timeout=TIMEOUT)
        except subprocess.TimeoutExpired as e:
            raise Failure(f"`muse {' '.join(args)}` hung for {TIMEOUT:.0f} s") from e

    def ok(self, cwd: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
        r = self.run(cwd, *args)
        if r.returncode != 0:
            raise Failure(f"`muse {' '.join(args)}` exited {r.returncode}: {(r.stderr or r.stdout).strip()[:300]}")
        return r

    def json(self, cwd: pathlib.Path, *args: str) -> dict:
        r = self.ok(cwd, *args)
        try:
            return json.loads(r.stdout)
        except ValueError as e:
            raise Failure(f"`muse {' '.join(args)}` printed no JSON: {r.stdout[:200]!r}") from e

    def killed(self, cwd: pathlib.Path, commands: list[list[str]], delay: float | None) -> tuple[bool, float]:
        """Runs `commands` one after the other; SIGKILLs the one running
        `delay` s after the start (None: never). Returns (killed, elapsed).
        A command that fails (not killed) is a failure."""
        start = time.monotonic()
        for args in commands:
            left = None if delay is None else delay - (time.monotonic() - start)
            if left is not None and left <= 0:
                return True, time.monotonic() - start  # the kill landed between two commands
            # On a kill, the command and any child (git) are SIGKILLed.
            rc, _, err = run_or_kill([self.exe, *args], cwd, self.env, TIMEOUT if left is None else left,
                                     capture=True)
            if rc is None:
                if left is None:
                    raise Failure(f"`muse {' '.join(args)}` hung for {TIMEOUT:.0f} s")
                return True, time.monotonic() - start
            if rc != 0 and not (args[0] == "merge" and rc == 1 and b"CONFLICT" in err):
                raise Failure(f"unkilled `muse {' '.join(args)}` exited {rc}: {err.decode(errors='replace')[:300]}")
        return False, time.monotonic() - start

    def commit_files(self, root: pathlib.Path, files: dict[str, str], message: str) -> None:
        """Writes `files`, then `muse add -A` and `muse commit -m MESSAGE`."""
        write_files(root, files)
        self.ok(root, "add", "-A")
        self.ok(root, "commit", "-m", message)


def tree_diff(got: dict[str, str], want: dict[str, str]) -> str:
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    differ = sorted(p for p in set(got) & set(want) if got[p] != want[p])
    return f"{len(missing)} missing {missing[:3]}, {len(extra)} extra {extra[:3]}, {len(differ)} differ {differ[:3]}"


def expect_tree(root: pathlib.Path, want: dict[str, str], what: str) -> None:
    got = read_tree(root)
    if got != want:
        raise Failure(f"{what}: working tree is wrong: {tree_diff(got, want)}")


def no_temps(root: pathlib.Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        if pathlib.Path(dirpath) == root and ".muse" in dirnames:
            dirnames.remove(".muse")
        bad = [n for n in filenames + dirnames if n.startswith(TEMP_PREFIXES)]
        if bad:
            raise Failure(f"temp file(s) left in the working tree: {os.path.join(dirpath, bad[0])}")


def tip(root: pathlib.Path, branch: str) -> str | None:
    p = root / ".muse" / "refs" / "heads" / branch
    return p.read_text().strip() if p.exists() else None


def init_repo(m: Muse, root: pathlib.Path) -> pathlib.Path:
    root.mkdir(parents=True)
    m.ok(root, "init")
    (root / ".muse" / "config.toml").write_text(FAST_CONFIG)
    return root


def copy_repo(src: pathlib.Path, dst: pathlib.Path) -> pathlib.Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True)
    return dst


# Kills that left a checkout or merge interrupted (the journal in place),
# counted by check_store: the share of kills that landed mid-operation.
LEFT_INTERRUPTED = {"n": 0}


def check_store(m: Muse, root: pathlib.Path) -> None:
    """verify exits 0; every branch's history walks; status works."""
    r = m.run(root, "verify", "--json")
    if r.returncode != 0:
        probs = ""
        try:
            probs = "; ".join(f"{p['item']}: {p['problem']}" for p in json.loads(r.stdout)["problems"][:3])
        except (ValueError, KeyError, TypeError):
            probs = (r.stderr or r.stdout)[:300]
        raise Failure(f"verify exited {r.returncode}: {probs}")
    for b in m.json(root, "branch", "--json")["branches"]:
        m.json(root, "log", "--json", b["name"])
    op = m.json(root, "status", "--json").get("operation")
    if op is not None and op.get("interrupted"):
        LEFT_INTERRUPTED["n"] += 1


def porcelain_clean(m: Muse, root: pathlib.Path, what: str) -> None:
    out = m.ok(root, "status", "--porcelain").stdout
    if out:
        n = len(out.splitlines())
        raise Failure(f"{what}: status is not clean ({n} line(s)): {out.splitlines()[:3]}")


# ---------------------------------------------------------------- kinds


class Kind:
    """One kind of trial: a fixture (built once), a trial run with a kill."""

    name = ""

    def __init__(self, m: Muse, work: pathlib.Path, rng: random.Random) -> None:
        self.m, self.work, self.rng = m, work / self.name.replace(" ", "-").replace("+", "-"), rng
        self.work.mkdir(parents=True)
        self.trials = 0
        self.build()

    def build(self) -> None:
        raise NotImplementedError

    def trial(self, delay: float | None) -> tuple[bool, float]:
        """One run killed after `delay` s (None: not killed), checked.
        Returns (killed, elapsed of the killed command)."""
        raise NotImplementedError

    def state_dirs(self) -> list[pathlib.Path]:
        """Where this kind's repositories live (kept on failure)."""
        return []

    def reset(self) -> None:
        """After a failure: start the next trial from a fresh fixture."""


def _files(n: int, tag: str, rng: random.Random, width: int = 40) -> dict[str, str]:
    return {f"d{i % width:02d}/f{i:04d}.txt": f"{tag} {i}\n" * rng.randint(2, 12) for i in range(n)}


class AddCommit(Kind):
    name = "add+commit"
    N = 1500

    def build(self) -> None:
        self.template = init_repo(self.m, self.work / "template")
        self.files = _files(self.N, "v0", self.rng)
        self.m.commit_files(self.template, self.files, "v0")
        self.template_files = dict(self.files)
        self.reset()

    def reset(self) -> None:
        self.repo = copy_repo(self.template, self.work / "repo")
        self.files = dict(self.template_files)
        self.since_reset = 0

    def state_dirs(self) -> list[pathlib.Path]:
        return [self.repo]

    def trial(self, delay: float | None) -> tuple[bool, float]:
        if self.since_reset >= 25:  # keep the store (and verify) small
            self.reset()
        self.since_reset += 1
        self.trials += 1
        root, rng, n = self.repo, self.rng, self.trials
        # The change: ~600 files rewritten, 60 new, 40 removed.
        paths = sorted(self.files)
        changed = set(rng.sample(paths, 600))
        for p in changed:
            self.files[p] = f"trial {n} {p}\n" * rng.randint(1, 10)
        for p in rng.sample(paths, 40):
            del self.files[p]
            changed.discard(p)
            (root / p).unlink()
        for i in range(60):
            p = f"t{n:04d}/new{i:02d}.txt"
            self.files[p] = f"new {n} {i}\n"
            changed.add(p)
        write_files(root, {p: self.files[p] for p in changed})
        before = len(self.m.json(root, "log", "--json")["commits"])
        killed, elapsed = self.m.killed(root, [["add", "-A"], ["commit", "-m", f"trial {n}"]], delay)
        check_store(self.m, root)
        # Run again: add, then commit unless the killed commit already landed.
        self.m.ok(root, "add", "-A")
        st = self.m.json(root, "status", "--json")
        if st["staged"]:
            self.m.ok(root, "commit", "-m", f"trial {n} again")
        after = len(self.m.json(root, "log", "--json")["commits"])
        if after != before + 1:
            raise Failure(f"history grew by {after - before} commit(s), not 1")
        porcelain_clean(self.m, root, "after add+commit")
        diff = self.m.json(root, "diff", "--json")
        if diff["changes"]:
            raise Failure(f"HEAD differs from the working tree: {diff['changes'][:3]}")
        expect_tree(root, self.files, "add+commit changed the working tree")
        no_temps(root)
        check_store(self.m, root)
        return killed, elapsed


class Checkout(Kind):
    name = "checkout"
    N = 1600

    def build(self) -> None:
        t = self.template = init_repo(self.m, self.work / "template")
        x = _files(self.N, "x", self.rng)
        self.m.commit_files(t, x, "main")
        self.m.ok(t, "checkout", "-b", "y")
        paths = sorted(x)
        y = derive_files(t, x, "y ", paths[:1300], paths[1300:1450],
                         {f"ynew/e{i % 7}/n{i:03d}.txt": f"y new {i}\n" for i in range(150)})
        self.m.commit_files(t, y, "y")
        self.m.ok(t, "checkout", "main")
        expect_tree(t, x, "checkout fixture")
        self.expected = {"main": x, "y": y}
        self.reset()

    def reset(self) -> None:
        self.repo = copy_repo(self.template, self.work / "repo")
        self.current = "main"

    def state_dirs(self) -> list[pathlib.Path]:
        return [self.repo]

    def trial(self, delay: float | None) -> tuple[bool, float]:
        root = self.repo
        target = "y" if self.current == "main" else "main"
        killed, elapsed = self.m.killed(root, [["checkout", target]], delay)
        check_store(self.m, root)
        r = self.m.run(root, "checkout", target)  # run again, no --force
        if r.returncode != 0:
            raise Failure(f"checkout {target} run again exited {r.returncode}: {r.stderr.strip()[:300]}")
        self.current = target
        expect_tree(root, self.expected[target], f"after checkout {target}")
        if (root / ".muse" / "HEAD").read_text() != f"ref: refs/heads/{target}\n":
            raise Failure(f"HEAD is {(root / '.muse' / 'HEAD').read_text()!r}, not on {target}")
        porcelain_clean(self.m, root, f"after checkout {target}")
        no_temps(root)
        return killed, elapsed


class Merge(Kind):
    name = "merge"
    N = 1500
    CONFLICTS = 3

    def build(self) -> None:
        t = self.template = init_repo(self.m, self.work / "template")
        base = _files(self.N, "base", self.rng, width=30)
        self.m.commit_files(t, base, "base")
        paths = sorted(base)
        ours_only, theirs_only = paths[:200], paths[200:]
        main = derive_files(t, base, "main ", ours_only)
        other = derive_files(t, base, "other ", theirs_only,  # 1,300 files
                             add={f"theirs/t{i:03d}.txt": f"t {i}\n" for i in range(60)})
        conflicted = ours_only[: self.CONFLICTS]
        otherc = derive_files(t, other, "otherc ", conflicted)  # other[p] == base[p] there
        for br, files in (("other", other), ("otherc", otherc)):
            self.m.ok(t, "checkout", "-b", br)
            self.m.commit_files(t, files, br)
            self.m.ok(t, "checkout", "-f", "main")
        write_files(t, main)
        self.m.ok(t, "commit", "-a", "-m", "main")
        expect_tree(t, main, "merge fixture")
        self.pre_files = main
        self.merged = {**other, **{p: main[p] for p in ours_only}}
        self.conflicted = sorted(conflicted)
        self.reset()

    def reset(self) -> None:
        self.repo = copy_repo(self.template, self.work / "repo")
        self.pre = tip(self.repo, "main")

    def state_dirs(self) -> list[pathlib.Path]:
        return [self.repo]

    def _back_to_pre(self, br: str, what: str) -> None:
        root = self.repo
        if tip(root, br) != self.pre:
            raise Failure(f"{what}: {br} is at {tip(root, br)}, not the pre-merge commit {self.pre}")
        expect_tree(root, self.pre_files, what)
        porcelain_clean(self.m, root, what)
        if (root / ".muse" / "MERGE_HEAD").exists():
            raise Failure(f"{what}: .muse/MERGE_HEAD is still there")
        if self.m.json(root, "status", "--json").get("operation") is not None:
            raise Failure(f"{what}: status --json still reports an operation")

    def trial(self, delay: float | None) -> tuple[bool, float]:
        root, m = self.repo, self.m
        self.trials += 1
        br = f"t{self.trials:04d}"
        theirs = "otherc" if self.rng.random() < 0.25 else "other"
        m.ok(root, "checkout", "-b", br)
        killed, elapsed = m.killed(root, [["merge", theirs]], delay)
        check_store(m, root)
        st = m.json(root, "status", "--json")
        now = tip(root, br)
        merge_head = (root / ".muse" / "MERGE_HEAD").exists()
        if now == self.pre:
            untouched = (not merge_head and st.get("operation") is None and not st["staged"]
                         and not st["unstaged"] and read_tree(root) == self.pre_files)
            if not untouched:  # interrupted, or stopped in conflict: abort
                r = m.run(root, "merge", "--abort")
                if r.returncode != 0:
                    raise Failure(f"merge --abort exited {r.returncode}: {r.stderr.strip()[:300]}")
                self._back_to_pre(br, "after merge --abort")
            # The merge, run again, merges or reports its conflicts cleanly.
            r = m.run(root, "merge", theirs, "--json")
            try:
                res = json.loads(r.stdout)
            except ValueError:
                raise Failure(f"merge {theirs} run again exited {r.returncode}: {r.stderr.strip()[:300]}")
            if theirs == "other":
                if r.returncode != 0 or res.get("result") != "merged":
                    raise Failure(f"merge other run again: exit {r.returncode}, {res}")
            else:
                if r.returncode != 1 or res != {"result": "conflicts", "paths": self.conflicted}:
                    raise Failure(f"merge otherc run again: exit {r.returncode}, {res}")
                m.ok(root, "merge", "--abort")
                self._back_to_pre(br, "after merge --abort of the conflicts")
                no_temps(root)
                m.ok(root, "checkout", "main")
                m.ok(root, "branch", "-D", br)
                return killed, elapsed
        else:
            # The merge commit landed; a recorded operation is finished by the rerun.
            if st.get("operation") is not None:
                m.ok(root, "merge", theirs)
            head = m.json(root, "log", "--json", "-n", "1", br)["commits"][0]
            if head["parent_commit_id"] != self.pre or head["parent2_commit_id"] != tip(root, theirs):
                raise Failure(f"merge commit has parents {head['parent_commit_id']}, {head['parent2_commit_id']}")
        expect_tree(root, self.merged, "after the merge")
        porcelain_clean(self.m, root, "after the merge")
        no_temps(root)
        m.ok(root, "checkout", "main")
        m.ok(root, "branch", "-D", br)
        expect_tree(root, self.pre_files, "back on main")
        return killed, elapsed


class BundleApply(Kind):
    name = "bundle apply"
    N = 1500

    def build(self) -> None:
        m = self.m
        src = init_repo(m, self.work / "source")
        base = _files(self.N, "base", self.rng)
        m.commit_files(src, base, "base")
        base_id = tip(src, "main")
        m.ok(src, "bundle", "create", str(self.work / "base.mpack"), "main")
        paths = sorted(base)
        v1 = derive_files(src, base, "v1 ", paths[:1200], paths[1200:1300],
                          {f"v1new/n{i:03d}.txt": f"v1 {i}\n" for i in range(150)})
        m.commit_files(src, v1, "v1")
        self.v1, self.v1_id, self.base_id = v1, tip(src, "main"), base_id
        self.bundle = self.work / "inc.mpack"
        m.ok(src, "bundle", "create", str(self.bundle), "main", "--have", base_id)
        t = self.template = init_repo(m, self.work / "template")
        m.ok(t, "bundle", "apply", str(self.work / "base.mpack"), "--update-refs")
        m.ok(t, "checkout", "-f", "main")
        expect_tree(t, base, "bundle receiver fixture")
        porcelain_clean(m, t, "bundle receiver fixture")
        self.repo = self.work / "repo"

    def state_dirs(self) -> list[pathlib.Path]:
        return [self.repo]

    def trial(self, delay: float | None) -> tuple[bool, float]:
        root, m = copy_repo(self.template, self.repo), self.m
        cmd = ["bundle", "apply", str(self.bundle), "--update-refs"]
        killed, elapsed = m.killed(root, [cmd], delay)
        check_store(m, root)
        t = tip(root, "main")
        if t not in (self.base_id, self.v1_id):
            raise Failure(f"main is at {t}, neither the base nor the bundle's tip")
        m.ok(root, *cmd)  # run again
        if tip(root, "main") != self.v1_id:
            raise Failure("main was not fast-forwarded to the bundle's tip")
        expect_tree(root, self.v1, "after bundle apply --update-refs")
        porcelain_clean(m, root, "after bundle apply --update-refs")
        no_temps(root)
        check_store(m, root)
        return killed, elapsed


class ImportGit(Kind):
    name = "import-git"

    def build(self) -> None:
        git = shutil.which("git")
        if not git:
            raise Failure("git is not on PATH")
        g = self.git_repo = self.work / "git-src"
        g.mkdir()
        env = _env()

        def run(*args: str) -> str:
            r = subprocess.run([git, *args], cwd=g, env=env, capture_output=True, text=True)
            if r.returncode != 0:
                raise Failure(f"git {' '.join(args)}: {r.stderr.strip()[:300]}")
            return r.stdout.strip()

        run("init", "-q", "-b", "main")
        files = _files(900, "g0", self.rng)
        write_files(g, files)
        run("add", "-A")
        run("commit", "-q", "-m", "c0")
        for c in range(1, 7):
            paths = sorted(files)
            for p in self.rng.sample(paths, 200):
                files[p] = f"g{c} {p}\n" * self.rng.randint(1, 6)
            for p in self.rng.sample(paths, 10):
                del files[p]
                (g / p).unlink()
            files.update({f"c{c}/n{i:03d}.txt": f"c{c} {i}\n" for i in range(40)})
            write_files(g, files)
            run("add", "-A")
            run("commit", "-q", "-m", f"c{c}")
            if c == 3:
                run("checkout", "-q", "-b", "side")
                write_files(g, {"side.txt": "side\n"})
                run("add", "-A")
                run("commit", "-q", "-m", "side")
                run("checkout", "-q", "main")
        self.main_count = int(run("rev-list", "--first-parent", "--count", "main"))
        self.repo = self.work / "repo"

    def state_dirs(self) -> list[pathlib.Path]:
        return [self.repo]

    def trial(self, delay: float | None) -> tuple[bool, float]:
        if self.repo.exists():
            shutil.rmtree(self.repo)
        root, m = init_repo(self.m, self.repo), self.m
        killed, elapsed = m.killed(root, [["import-git", str(self.git_repo)]], delay)
        check_store(m, root)
        rep = m.json(root, "import-git", str(self.git_repo), "--verify", "--json")  # run again
        if rep.get("verified") is not True:
            raise Failure(f"import-git --verify: {rep.get('problems', [])[:3]}")
        names = {b["name"] for b in m.json(root, "branch", "--json")["branches"]}
        if not {"main", "side"} <= names:
            raise Failure(f"imported branches are {sorted(names)}")
        n = len(m.json(root, "log", "--json", "main")["commits"])
        if n != self.main_count:
            raise Failure(f"main has {n} commit(s) after the import, git has {self.main_count}")
        no_temps(root)
        check_store(m, root)
        return killed, elapsed


KIND_CLASSES: dict[str, type[Kind]] = {
    "add+commit": AddCommit, "checkout": Checkout, "merge": Merge, "bundle apply": BundleApply,
    "import-git": ImportGit,
}


# ----------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--muse", default=None, help="the muse executable (default: muse on PATH)")
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of: " + ", ".join(KINDS))
    a = ap.parse_args(argv)

    exe = a.muse or shutil.which("muse")
    if not exe:
        print("crash-torture: no muse on PATH (give --muse)", file=sys.stderr)
        return 2
    kinds = [k.strip() for k in a.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KIND_CLASSES]
    if unknown or not kinds:
        print(f"crash-torture: unknown kind(s) {unknown}", file=sys.stderr)
        return 2
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 31)
    rng = random.Random(seed)
    work = pathlib.Path(tempfile.mkdtemp(prefix="muse-crash-torture-"))
    print(f"crash-torture: {a.trials} trial(s), seed {seed}, muse {exe}, scratch {work}", flush=True)
    m = Muse(exe)

    fixtures: dict[str, Kind] = {}
    typical: dict[str, float] = {}
    passed: dict[str, int] = dict.fromkeys(kinds, 0)
    failed: dict[str, int] = dict.fromkeys(kinds, 0)
    failures: list[str] = []
    fail_dir = work / "failures"
    start = time.monotonic()

    def keep_failed(label: str, k: Kind | None) -> str:
        if k is None:
            return ""
        dests = []
        for d in k.state_dirs():
            if d.exists():
                dest = fail_dir / f"{label}-{d.name}"
                shutil.copytree(d, dest, symlinks=True)
                dests.append(str(dest))
        return f" (state kept in {', '.join(dests)})" if dests else ""

    def attempt(label: str, kind: str, fn: Callable[[], str]) -> bool:
        try:
            note = fn()
            print(f"{label} {kind}: ok{note}", flush=True)
            return True
        except Failure as e:
            tag = "trial-" + "".join(c if c.isalnum() else "-" for c in label.strip("[] "))
            msg = f"{label} {kind}: FAIL: {e}{keep_failed(tag, fixtures.get(kind))}"
            print(msg, flush=True)
            failures.append(msg)
            k = fixtures.get(kind)
            if k is not None:
                try:
                    k.reset()
                except Failure as e2:
                    print(f"  (reset failed: {e2})", flush=True)
            return False

    kinds_left = list(kinds)
    for n in range(1, a.trials + 1):
        kind = rng.choice(kinds_left)
        label = f"[{n:>{len(str(a.trials))}}/{a.trials}]"
        if kind not in typical:
            def setup(kind: str = kind) -> str:
                t0 = time.monotonic()
                fixtures[kind] = KIND_CLASSES[kind](m, work, rng)
                built = time.monotonic() - t0
                _, elapsed = fixtures[kind].trial(None)  # calibration: one unkilled run, checked
                typical[kind] = max(elapsed, 0.01)
                return f" (fixture {built:.1f} s; typical duration {typical[kind]:.3f} s)"
            if not attempt(f"[setup {kind}]".replace(" ", "-", 1), kind, setup):
                failed[kind] += 1
                if kind not in fixtures:  # no fixture: no trial of this kind can run
                    print(f"crash-torture: no more {kind} trials (its fixture could not be built)", flush=True)
                    kinds_left.remove(kind)
                    if not kinds_left:
                        break
                    continue
                typical.setdefault(kind, 0.5)  # the calibration failed: a guess, so the trials still run

        def one(kind: str = kind) -> str:
            delay = rng.uniform(0.0, typical[kind])
            killed, elapsed = fixtures[kind].trial(delay)
            how = f"killed at {delay:.3f} s" if killed else f"finished in {elapsed:.3f} s before the kill at {delay:.3f} s"
            return f" ({how} of ~{typical[kind]:.3f} s)"

        if attempt(label, kind, one):
            passed[kind] += 1
        else:
            failed[kind] += 1

    total_failed = sum(failed.values())
    print(f"crash-torture: {time.monotonic() - start:.1f} s; by kind: "
          + ", ".join(f"{k}: {passed[k]}" + (f" (+{failed[k]} failed)" if failed[k] else "") for k in kinds), flush=True)
    print(f"crash-torture: {LEFT_INTERRUPTED['n']} kill(s) left a checkout or merge interrupted "
          "(finished or aborted by the checks above)", flush=True)
    if failures:
        print("failures:", flush=True)
        for f in failures:
            print("  " + f, flush=True)
    if a.keep or total_failed:
        print(f"crash-torture: scratch kept in {work}", flush=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"crash-torture: {sum(passed.values())} passed, {total_failed} failed", flush=True)
    return 0 if total_failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
