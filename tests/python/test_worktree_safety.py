"""Working-tree safety of the `muse` command (SPEC §4, §10, §12), driven
through real subprocesses of the `muse` found on PATH:

* every working-tree write stays beneath the root and never follows a
  symlink in a leading path component (checkout, merge);
* the stage is changed under a lock: concurrent `add`s all land;
* commits racing `gc` (and `gc --prune --grace 0`) never fail with an I/O
  error and never leave a ref pointing at missing data;
* a SIGKILLed checkout is finished by running it again, a SIGKILLed merge is
  undone by `merge --abort`, and `status` reports the interrupted operation;
* exit codes: 3 for a missing record met while working, non-zero naming the
  file and line for a config that does not parse;
* `bundle apply --update-refs` onto the checked-out branch updates the
  working tree, or refuses (ref unmoved) over local changes;
* reserved branch names are refused.
"""

from __future__ import annotations

import concurrent.futures
import json
import pathlib
import subprocess
import time

import pytest

from helpers import TEMP_PREFIXES, Cli, derive_files, muse_env, read_tree, require_muse, run_or_kill, write_files

MUSE = require_muse()  # a missing command is a failure, not a skip
muse = Cli(timeout=120)
ok = muse.ok


# ---------------------------------------------------------------- helpers


def new_repo(root: pathlib.Path, files: dict[str, str] | None = None, message: str = "first") -> pathlib.Path:
    """A repository with ``[core] fsync = "off"``; ``files`` committed (`add .`) if given."""
    return muse.new_repo(root, files, message, fsync_off=True)


def temps_in_tree(root: pathlib.Path) -> list[str]:
    return [p for p in read_tree(root) if p.rsplit("/", 1)[-1].startswith(TEMP_PREFIXES)]


def head_file(root: pathlib.Path) -> str:
    return (root / ".muse" / "HEAD").read_text()


def branch_tip(root: pathlib.Path, branch: str) -> str:
    return (root / ".muse" / "refs" / "heads" / branch).read_text().strip()


def status_json(root: pathlib.Path) -> dict:
    r = ok(root, "status", "--json")
    return json.loads(r.stdout)


def kill_after(root: pathlib.Path, args: list[str], delay: float) -> int | None:
    """Runs `muse ARGS`, SIGKILLs it after `delay` s; its exit status (None if killed)."""
    return run_or_kill([MUSE, *args], root, muse_env(), delay)[0]


def assert_reported_interrupted(root: pathlib.Path, kind: str) -> None:
    """`muse status` names the interrupted `kind`; `status --json` reports it as the operation."""
    r = muse(root, "status")
    assert r.returncode == 0, r.stderr
    text = (r.stdout + r.stderr).lower()
    mentioned = "interrupted" in text and kind in text
    assert mentioned, f"status does not mention the interrupted {kind}:\n{r.stdout[:600]}"
    op = status_json(root).get("operation")
    assert isinstance(op, dict) and op.get("kind") == kind, f"status --json operation = {op!r}"


def assert_settled(root: pathlib.Path, r: subprocess.CompletedProcess[str], files: dict[str, str],
                   branch: str) -> None:
    """`r` finished (or undid) an interrupted operation: it exited 0, the tree
    is `files` and clean, no temp is left, HEAD is on `branch`, and status
    reports no operation."""
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert read_tree(root) == files
    assert muse(root, "status", "--porcelain").stdout == ""
    assert temps_in_tree(root) == []
    assert head_file(root) == f"ref: refs/heads/{branch}\n"
    assert status_json(root).get("operation") is None


FRACTIONS = (0.5, 0.35, 0.65, 0.25, 0.8, 0.45, 0.55, 0.3, 0.7, 0.4, 0.6, 0.2, 0.9, 0.15, 0.75, 0.5, 0.33, 0.66)


# ------------------------------------------- A. working-tree confinement


@pytest.fixture
def outside(tmp_path: pathlib.Path) -> pathlib.Path:
    d = tmp_path / "outside"
    d.mkdir()
    (d / "keep.txt").write_text("must survive\n")
    return d


def _outside_untouched(outside: pathlib.Path) -> None:
    assert outside.is_dir() and not outside.is_symlink()
    assert sorted(p.relative_to(outside).as_posix() for p in outside.rglob("*")) == ["keep.txt"]
    assert (outside / "keep.txt").read_text() == "must survive\n"


def _repo_with_link_branch(tmp_path: pathlib.Path) -> pathlib.Path:
    """`main` has a.txt; `other` (from main) adds escape/victim.txt and escape/sub/deep.txt."""
    root = new_repo(tmp_path / "wt", {"a.txt": "alpha\n"}, "first")
    muse.commit_on_branch(root, "other", {"escape/victim.txt": "victim\n", "escape/sub/deep.txt": "deep\n"},
                          "escape dir")
    assert not (root / "escape").exists()
    return root


def test_checkout_refuses_to_write_through_an_untracked_symlink(tmp_path: pathlib.Path, outside: pathlib.Path) -> None:
    root = _repo_with_link_branch(tmp_path)
    (root / "escape").symlink_to(outside, target_is_directory=True)
    main_tip = branch_tip(root, "main")

    r = muse(root, "checkout", "other")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "symbolic link" in r.stderr and "escape" in r.stderr, r.stderr
    _outside_untouched(outside)
    assert (root / "escape").is_symlink()
    assert head_file(root) == "ref: refs/heads/main\n" and branch_tip(root, "main") == main_tip

    r = muse(root, "checkout", "-f", "other")
    assert r.returncode == 0, (r.stdout, r.stderr)
    _outside_untouched(outside)
    link = root / "escape"
    assert link.is_dir() and not link.is_symlink()
    assert (link / "victim.txt").read_text() == "victim\n"
    assert (link / "sub" / "deep.txt").read_text() == "deep\n"
    assert head_file(root) == "ref: refs/heads/other\n"
    assert muse(root, "status", "--porcelain").stdout == ""


def test_checkout_force_long_flag_also_replaces_the_symlink(tmp_path: pathlib.Path, outside: pathlib.Path) -> None:
    root = _repo_with_link_branch(tmp_path)
    (root / "escape").symlink_to(outside, target_is_directory=True)
    r = muse(root, "checkout", "--force", "other")
    assert r.returncode == 0, (r.stdout, r.stderr)
    _outside_untouched(outside)
    assert not (root / "escape").is_symlink() and (root / "escape" / "victim.txt").read_text() == "victim\n"


@pytest.mark.parametrize("kind", ["three-way", "fast-forward"])
def test_merge_refuses_to_write_through_an_untracked_symlink(
        tmp_path: pathlib.Path, outside: pathlib.Path, kind: str) -> None:
    root = _repo_with_link_branch(tmp_path)
    if kind == "three-way":  # main diverges from other
        write_files(root, {"a.txt": "alpha on main\n"})
        ok(root, "commit", "-a", "-m", "main moves")
    (root / "escape").symlink_to(outside, target_is_directory=True)
    main_tip = branch_tip(root, "main")

    r = muse(root, "merge", "other")
    assert r.returncode == 1, (r.stdout, r.stderr)
    _outside_untouched(outside)
    assert (root / "escape").is_symlink()
    assert branch_tip(root, "main") == main_tip
    assert head_file(root) == "ref: refs/heads/main\n"


# ----------------------------------------------------- B. concurrent add


def test_concurrent_adds_all_land_in_the_stage(tmp_path: pathlib.Path) -> None:
    root = new_repo(tmp_path / "r")
    muse.commit_files(root, {"README": "base\n"}, "base", "README")
    base = branch_tip(root, "main")
    workers, per = 8, 25

    def worker(k: int) -> list[tuple[str, int, str]]:
        out = []
        for i in range(per):
            name = f"f_{k}_{i}.txt"
            (root / name).write_text(f"{k} {i}\n")
            r = muse(root, "add", name)
            out.append((name, r.returncode, r.stderr))
        return out

    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        results = [x for chunk in ex.map(worker, range(workers)) for x in chunk]
    failed = [(n, rc, err) for n, rc, err in results if rc != 0]
    expected = {f"f_{k}_{i}.txt" for k in range(workers) for i in range(per)}
    st = status_json(root)
    staged = {c["path"] for c in st["staged"] if c["status"] == "added"}
    lost = expected - staged
    assert not failed and not lost, (
        f"{len(failed)} add(s) failed, e.g. {failed[:2]}; {len(lost)} of {len(expected)} added paths are not staged")
    assert st["untracked"] == []

    ok(root, "commit", "-m", "all")
    st = status_json(root)
    assert st["clean"] is True and st["untracked"] == [] and st["staged"] == []
    diff = json.loads(ok(root, "diff", "--json", base, "main").stdout)
    assert {c["path"] for c in diff["changes"] if c["status"] == "added"} == expected


# ------------------------------------------ C, D. commits racing gc


def _commits_racing_gc(root: pathlib.Path, gc_args: list[str], lock_waits_ok: bool) -> None:
    """4 committers x 40 (add of a new blob + commit) while `muse GC_ARGS`
    runs in a loop. No command may fail with an I/O error (exit 3, "No such
    file"); exit 1 only for a lost race on the branch ref ("moved"), or, with
    `lock_waits_ok`, for a bounded lock wait that ran out -- but at least half
    the commits must land (the gc loop must not starve writers). Every commit
    that succeeded is in main's history; verify finds nothing."""
    committers, per = 4, 40
    deadline = time.monotonic() + 60  # bounded even when the committers keep waiting on locks
    muse.commit_files(root, {f"c{k}.txt": "start\n" for k in range(committers)}, "base")
    stop = False
    gc_results: list[tuple[int, str]] = []

    def gc_loop() -> None:
        while not stop:
            r = muse(root, *gc_args)
            gc_results.append((r.returncode, r.stderr))

    def committer(k: int) -> list[tuple[str, int, str, str]]:
        out = []
        for i in range(per):
            if time.monotonic() > deadline:
                break
            # A new blob each time: it is unreachable until the commit lands.
            (root / f"c{k}.txt").write_text(f"committer {k} commit {i}\n" * 3)
            r = muse(root, "add", f"c{k}.txt")
            out.append(("add", r.returncode, r.stdout, r.stderr))
            r = muse(root, "commit", "--allow-empty", "-m", f"c{k}-{i}", "--json")
            out.append(("commit", r.returncode, r.stdout, r.stderr))
        return out

    with concurrent.futures.ThreadPoolExecutor(committers + 1) as ex:
        gcf = ex.submit(gc_loop)
        results = [x for chunk in ex.map(committer, range(committers)) for x in chunk]
        stop = True
        gcf.result()

    def bad(rc: int, err: str) -> bool:
        if rc == 0:
            return False
        if "No such file" in err or rc != 1:
            return True
        if lock_waits_ok and "lock" in err:
            return False
        return "moved" not in err  # exit 1 only for a lost compare-and-swap race on the branch

    failures = [(what, rc, err) for what, rc, _, err in results if bad(rc, err)]
    assert not failures, f"{len(failures)} failure(s), e.g. {failures[:3]}"
    assert gc_results, "gc never ran"
    gc_failures = [(rc, err) for rc, err in gc_results if rc == 3 or "No such file" in err]
    assert not gc_failures, gc_failures[:3]

    made = [json.loads(out)["commit_id"] for what, rc, out, _ in results if what == "commit" and rc == 0]
    print(f"{len(made)} of {committers * per} commits made; {len(gc_results)} gc run(s); "
          f"{sum(1 for _, rc, _, _ in results if rc != 0)} command(s) exited non-zero")
    # Lock waits are tolerated, starvation is not: the loop must leave writers room.
    assert len(made) >= committers * per // 2, (
        f"only {len(made)} of {committers * per} commits landed beside the `muse {' '.join(gc_args)}` loop "
        f"(writers starved), e.g. {[err for _, rc, _, err in results if rc != 0][:1]}")
    log = muse(root, "log", "--json")
    assert log.returncode == 0, log.stderr
    history = {c["commit_id"] for c in json.loads(log.stdout)["commits"]}
    lost = [c for c in made if c not in history]
    assert not lost, f"{len(lost)} commit(s) reported success but are not in main's history"

    v = muse(root, "verify", "--json")
    assert v.returncode == 0, (v.stdout[-3000:], v.stderr)
    rep = json.loads(v.stdout)
    assert rep["ok"] is True and rep["problems"] == []


def test_commits_racing_gc_never_fail_with_io_errors(tmp_path: pathlib.Path) -> None:
    _commits_racing_gc(new_repo(tmp_path / "r"), ["gc"], lock_waits_ok=False)


def test_commits_racing_gc_prune_grace_0_keep_the_repository_whole(tmp_path: pathlib.Path) -> None:
    _commits_racing_gc(new_repo(tmp_path / "r"), ["gc", "--prune", "--grace", "0"], lock_waits_ok=True)


# --------------------------------------------- E. killed checkout resumes


def test_killed_checkout_is_reported_and_finished_by_running_it_again(tmp_path: pathlib.Path) -> None:
    root = new_repo(tmp_path / "r")
    main_files = {f"d{i % 40:02d}/f{i:04d}.txt": f"main {i}\n" * 8 for i in range(2400)}
    muse.commit_files(root, main_files, "main", "-A")
    ok(root, "checkout", "-b", "b2")
    # 2,300 modified, 100 deleted, 100 added: b2 differs from main in 2,500 files.
    paths = list(main_files)
    b2_files = derive_files(root, main_files, "b2 ", paths[:2300], paths[2300:],
                            {f"new/n{i:03d}.txt": f"new {i}\n" for i in range(100)})
    muse.commit_files(root, b2_files, "b2", "-A")
    t0 = time.monotonic()
    ok(root, "checkout", "main")
    typical = time.monotonic() - t0
    assert read_tree(root) == main_files

    for frac in FRACTIONS:
        kill_after(root, ["checkout", "b2"], typical * frac)
        tree = read_tree(root)
        if tree != main_files and tree != b2_files:
            break  # landed mid-way: the tree partially changed
        r = muse(root, "checkout", "-f", "main")  # back to the start, try another delay
        assert r.returncode == 0 and read_tree(root) == main_files, (r.stdout, r.stderr)
    else:
        pytest.fail(f"no SIGKILL landed mid-checkout (typical duration {typical:.3f} s)")

    # While interrupted, status says so.
    assert_reported_interrupted(root, "checkout")

    # Running it again (no --force) finishes it.
    assert_settled(root, muse(root, "checkout", "b2"), b2_files, "b2")
    assert muse(root, "verify").returncode == 0


# ----------------------------------------------- F. killed merge aborts


def test_killed_merge_is_reported_and_undone_by_abort(tmp_path: pathlib.Path) -> None:
    root = new_repo(tmp_path / "r")
    base_files = {f"d{i % 30:02d}/f{i:04d}.txt": f"base {i}\n" * 8 for i in range(1500)}
    muse.commit_files(root, base_files, "base", "-A")
    paths = list(base_files)
    # other changes 1,300 files ...
    other_files = derive_files(root, base_files, "other ", paths[200:1500],
                               add={f"theirs/t{i:03d}.txt": f"t {i}\n" for i in range(50)})
    muse.commit_on_branch(root, "other", other_files, "other", "-A")
    # ... main changes 200 others: a clean three-way merge
    main_files = derive_files(root, base_files, "main ", paths[:200])
    write_files(root, main_files)
    ok(root, "commit", "-a", "-m", "main")
    pre = branch_tip(root, "main")
    merged_files = {**other_files, **{p: main_files[p] for p in paths[:200]}}

    # Typical duration of the merge, on a throwaway branch.
    ok(root, "checkout", "-b", "try0")
    t0 = time.monotonic()
    r = ok(root, "merge", "other", "--json")
    typical = time.monotonic() - t0
    assert json.loads(r.stdout)["result"] == "merged" and read_tree(root) == merged_files
    ok(root, "checkout", "main")
    ok(root, "branch", "-D", "try0")

    for n, frac in enumerate(FRACTIONS, start=1):
        br = f"try{n}"
        ok(root, "checkout", "-b", br)
        kill_after(root, ["merge", "other"], typical * frac)
        tree = read_tree(root)
        if branch_tip(root, br) == pre and tree != main_files:
            break  # landed mid-way: files changed, no merge commit yet
        muse(root, "merge", "--abort")  # may have nothing to abort
        r = muse(root, "checkout", "-f", "main")
        assert r.returncode == 0 and read_tree(root) == main_files, (r.stdout, r.stderr)
        ok(root, "branch", "-D", br)
    else:
        pytest.fail(f"no SIGKILL landed mid-merge (typical duration {typical:.3f} s)")

    assert_reported_interrupted(root, "merge")

    assert_settled(root, muse(root, "merge", "--abort"), main_files, br)
    assert branch_tip(root, br) == pre
    # And the merge can be made again.
    r = ok(root, "merge", "other", "--json")
    assert json.loads(r.stdout)["result"] == "merged" and read_tree(root) == merged_files
    assert muse(root, "verify").returncode == 0


# ------------------------------------------------------- G. exit codes


def test_a_missing_head_snapshot_exits_3_naming_it(tmp_path: pathlib.Path) -> None:
    root = new_repo(tmp_path / "r", {"a.txt": "a\n", "b.txt": "b\n"}, "one")
    head = json.loads(ok(root, "log", "--json").stdout)["commits"][0]
    hexid = head["snapshot_id"].split(":", 1)[1]
    rec = root / ".muse" / "snapshots" / f"{hexid}.msgpack"
    assert rec.is_file(), "the snapshot record is not a loose file (packed?)"
    rec.chmod(0o644)
    rec.unlink()
    r = muse(root, "status")
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert hexid in r.stderr, r.stderr


def test_a_config_that_does_not_parse_is_an_error_naming_file_and_line(tmp_path: pathlib.Path) -> None:
    root = new_repo(tmp_path / "r", {"a.txt": "a\n"}, "one")
    (root / ".muse" / "config.toml").write_text("[core\nfsync = ")
    wrong = []
    for args in (["status"], ["log"], ["verify"], ["gc"], ["checkout", "main"]):
        r = muse(root, *args)
        if r.returncode == 0 or "config.toml" not in r.stderr or "line" not in r.stderr:
            wrong.append((args, r.returncode, r.stderr[:300]))
    assert not wrong, f"commands that did not report the bad config (file and line): {wrong}"


# --------------------------- H. bundle apply onto the checked-out branch


def _two_repos_sharing_a_base(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path, dict[str, str]]:
    a = new_repo(tmp_path / "A", {"a.txt": "a\n", "keep.txt": "keep\n", "gone.txt": "to be removed\n"}, "base")
    base = branch_tip(a, "main")
    ok(a, "bundle", "create", str(tmp_path / "base.mpack"), "main")
    b = new_repo(tmp_path / "B")
    ok(b, "bundle", "apply", str(tmp_path / "base.mpack"), "--update-refs")
    ok(b, "checkout", "-f", "main")
    assert read_tree(b) == read_tree(a)
    assert muse(b, "status", "--porcelain").stdout == ""
    # A moves on: a modified, gone removed, new files added.
    (a / "gone.txt").unlink()
    muse.commit_files(a, {"a.txt": "a v2\n", "new.txt": "new\n", "dir/deep.txt": "deep\n"}, "second", "-A")
    bundle = tmp_path / "f.mpack"
    ok(a, "bundle", "create", str(bundle), "main", "--have", base)
    return a, b, bundle, read_tree(a)


def test_bundle_apply_update_refs_updates_a_clean_checked_out_tree(tmp_path: pathlib.Path) -> None:
    a, b, bundle, a_files = _two_repos_sharing_a_base(tmp_path)
    r = muse(b, "bundle", "apply", str(bundle), "--update-refs")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert branch_tip(b, "main") == branch_tip(a, "main")
    assert read_tree(b) == a_files
    assert muse(b, "status", "--porcelain").stdout == ""
    assert temps_in_tree(b) == []


def test_bundle_apply_update_refs_refuses_over_local_changes(tmp_path: pathlib.Path) -> None:
    a, b, bundle, _ = _two_repos_sharing_a_base(tmp_path)
    before = branch_tip(b, "main")
    (b / "keep.txt").write_text("my local edit\n")
    r = muse(b, "bundle", "apply", str(bundle), "--update-refs")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "local changes" in r.stderr, r.stderr
    assert branch_tip(b, "main") == before
    assert (b / "keep.txt").read_text() == "my local edit\n"
    assert (b / "gone.txt").exists() and not (b / "new.txt").exists()


# --------------------------------------------- I. reserved branch names


@pytest.mark.parametrize("name", ["HEAD", "refs/heads/x"])
def test_reserved_branch_names_are_refused(tmp_path: pathlib.Path, name: str) -> None:
    root = new_repo(tmp_path / "r", {"a.txt": "a\n"}, "one")
    r = muse(root, "branch", name)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert not (root / ".muse" / "refs" / "heads" / name).exists()
    assert {b["name"] for b in json.loads(ok(root, "branch", "--json").stdout)["branches"]} == {"main"}
