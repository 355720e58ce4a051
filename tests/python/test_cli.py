"""The `muse` command, driven through real subprocesses (exit codes per SPEC §10:
0 ok, 1 user error, 2 not a repository, 3 internal/I-O)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from helpers import Cli, require_muse

require_muse()
muse = Cli(timeout=60)


@pytest.fixture
def wt(tmp_path: pathlib.Path) -> pathlib.Path:
    """`first`: a.txt and src/b.py (each command asserted to exit 0)."""
    return muse.new_repo(tmp_path / "wt", {"a.txt": "alpha\n", "src/b.py": "print('b')\n"})


def test_every_command_outside_a_repository_exits_2(tmp_path: pathlib.Path) -> None:
    for args in (["status"], ["log"], ["add", "."], ["commit", "-m", "x"], ["branch"], ["checkout", "x"],
                 ["diff"], ["verify"], ["gc"], ["code", "add", "."], ["merge", "x"], ["merge", "--abort"],
                 ["bundle", "create", "out.mpack", "main"], ["bundle", "apply", "out.mpack"],
                 ["import-git", "."], ["status", "--json"], ["log", "--json"]):
        r = muse(tmp_path, *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "not a muse repository" in r.stderr


def test_init_refuses_inside_a_repository(wt: pathlib.Path) -> None:
    r = muse(wt / "src", "init")
    assert r.returncode == 1 and "already inside" in r.stderr


def test_status_log_json_and_streaming(wt: pathlib.Path) -> None:
    (wt / "a.txt").write_text("alpha 2\n")
    (wt / "new.txt").write_text("n\n")
    (wt / "src" / "b.py").unlink()
    st = json.loads(muse(wt, "status", "--json").stdout)
    assert st["branch"] == "main" and st["clean"] is False
    assert {(c["path"], c["status"]) for c in st["unstaged"]} == {("a.txt", "modified"), ("src/b.py", "deleted")}
    assert st["untracked"] == ["new.txt"]
    assert muse(wt, "status", "--porcelain").stdout.splitlines() == [" M a.txt", " D src/b.py", "?? new.txt"]
    assert muse(wt, "commit", "-a", "-m", "second").returncode == 0
    st = json.loads(muse(wt, "status", "--json").stdout)
    assert st["unstaged"] == [] and st["untracked"] == ["new.txt"]
    log = json.loads(muse(wt, "log", "--json").stdout)
    assert [c["message"] for c in log["commits"]] == ["second", "first"]
    assert log["commits"][0]["parent_commit_id"] == log["commits"][1]["commit_id"]
    assert len(json.loads(muse(wt, "log", "--json", "--max-count", "1").stdout)["commits"]) == 1


def test_commit_with_nothing_staged_is_a_user_error(wt: pathlib.Path) -> None:
    r = muse(wt, "commit", "-m", "empty")
    assert r.returncode == 1 and "nothing to commit" in r.stderr
    assert muse(wt, "commit", "-m", "empty", "--allow-empty").returncode == 0


def test_add_of_a_path_that_matches_nothing(wt: pathlib.Path) -> None:
    r = muse(wt, "add", "no/such/file")
    assert r.returncode == 1 and "did not match" in r.stderr
    r = muse(wt, "add", "../outside")
    assert r.returncode == 1 and "outside the repository" in r.stderr


@pytest.mark.parametrize("name", ["a..b", "has space", "-leading", "x.lock"])
def test_bad_branch_names(wt: pathlib.Path, name: str) -> None:
    r = muse(wt, "branch", "--", name) if name.startswith("-") else muse(wt, "branch", name)
    assert r.returncode == 1, r.stderr
    assert "invalid branch name" in r.stderr
    assert not (wt / ".muse" / "refs" / "heads" / name).exists()


def test_unknown_branch(wt: pathlib.Path) -> None:
    r = muse(wt, "checkout", "nope")
    assert r.returncode == 1 and "not found" in r.stderr
    r = muse(wt, "log", "nope")
    assert r.returncode == 1 and "unknown revision" in r.stderr


def test_branch_checkout_roundtrip_restores_files(wt: pathlib.Path) -> None:
    muse.commit_on_branch(wt, "feature", {"f.txt": "feature file\n", "a.txt": "alpha on feature\n"}, "feature work")
    assert not (wt / "f.txt").exists()
    assert (wt / "a.txt").read_text() == "alpha\n"
    assert muse(wt, "checkout", "feature").returncode == 0
    assert (wt / "f.txt").read_text() == "feature file\n"
    names = muse(wt, "diff", "--name-status", "main", "feature").stdout.splitlines()
    assert names == ["M\ta.txt", "A\tf.txt"]
    branches = json.loads(muse(wt, "branch", "--json").stdout)
    assert branches["current"] == "feature"
    assert {b["name"] for b in branches["branches"]} == {"main", "feature"}
    assert muse(wt, "branch", "-d", "feature").returncode == 1  # HEAD is on it
    assert not list(wt.rglob(".restore-tmp-*"))


def test_checkout_over_a_dirty_file_is_refused(wt: pathlib.Path) -> None:
    assert muse(wt, "branch", "other").returncode == 0
    (wt / "a.txt").write_text("uncommitted\n")
    r = muse(wt, "checkout", "other")
    assert r.returncode == 1 and "local changes" in r.stderr and "a.txt" in r.stderr
    assert (wt / "a.txt").read_text() == "uncommitted\n"


def test_verify_catches_a_flipped_byte_and_a_truncated_commit(wt: pathlib.Path) -> None:
    assert muse(wt, "verify").returncode == 0
    obj = next(p for p in (wt / ".muse" / "objects").rglob("*") if p.is_file())
    data = bytearray(obj.read_bytes())
    data[0] ^= 0x01
    os.chmod(obj, 0o644)
    obj.write_bytes(bytes(data))
    r = muse(wt, "verify", "--json")
    assert r.returncode == 1
    rep = json.loads(r.stdout)
    assert rep["ok"] is False
    assert any("content hashes to" in p["problem"] for p in rep["problems"])
    commit = next((wt / ".muse" / "commits").glob("*.msgpack"))
    os.chmod(commit, 0o644)
    commit.write_bytes(commit.read_bytes()[:20])
    r = muse(wt, "verify")
    assert r.returncode == 1
    assert "BAD commit" in r.stdout


def test_gc_removes_stale_temps_and_status_leaves_none(wt: pathlib.Path) -> None:
    stray = wt / ".muse" / "commits" / ".muse-tmp-stray"
    stray.write_text("left by a killed writer")
    r = muse(wt, "status")
    assert r.returncode == 0 and not stray.exists()
    gc = json.loads(muse(wt, "gc", "--json").stdout)
    assert gc["temps_kept_live"] == 0


def test_python_m_muse_is_the_same_command(wt: pathlib.Path) -> None:
    r = subprocess.run([sys.executable, "-m", "muse", "log", "--oneline"], cwd=wt, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip().endswith("first")


def test_muse_repo_root_env_selects_the_repository(wt: pathlib.Path, tmp_path: pathlib.Path) -> None:
    r = muse(tmp_path, "log", "--oneline", env={"MUSE_REPO_ROOT": str(wt)})
    assert r.returncode == 0 and "first" in r.stdout


def _diverge(wt: pathlib.Path) -> None:
    muse.commit_on_branch(wt, "other", {"a.txt": "theirs\n", "c.txt": "new on other\n"}, "other")
    (wt / "a.txt").write_text("ours\n")
    assert muse(wt, "commit", "-a", "-m", "ours").returncode == 0


def test_merge_conflict_and_abort(wt: pathlib.Path) -> None:
    _diverge(wt)
    r = muse(wt, "merge", "other", "--json")
    assert r.returncode == 1
    assert json.loads(r.stdout) == {"result": "conflicts", "paths": ["a.txt"]}
    text = (wt / "a.txt").read_text()
    # git's diff3 style: ours, the merge base's line, theirs
    assert text.startswith("<<<<<<< HEAD\nours\n||||||| base\n"), text
    assert text.endswith("=======\ntheirs\n>>>>>>> other\n"), text
    assert (wt / "c.txt").exists()  # the clean part is applied and staged
    assert (wt / ".muse" / "MERGE_HEAD").exists()
    assert "UU a.txt" in muse(wt, "status", "--short").stdout.splitlines()
    long = muse(wt, "status").stdout
    assert "Unmerged paths:" in long and "both modified: a.txt" in long, long
    assert muse(wt, "merge", "other").returncode == 1  # one merge at a time
    r = muse(wt, "commit", "-m", "too early")
    assert r.returncode == 1 and "resolve" in r.stderr
    assert muse(wt, "merge", "--abort").returncode == 0
    assert (wt / "a.txt").read_text() == "ours\n"
    assert not (wt / "c.txt").exists()
    assert not (wt / ".muse" / "MERGE_HEAD").exists()
    assert muse(wt, "status", "--porcelain").stdout == ""
    assert muse(wt, "merge", "--abort").returncode == 1


def test_merge_resolved_records_two_parents(wt: pathlib.Path) -> None:
    _diverge(wt)
    assert muse(wt, "merge", "other").returncode == 1
    (wt / "a.txt").write_text("resolved\n")
    assert muse(wt, "add", "a.txt").returncode == 0
    assert muse(wt, "commit", "-m", "merge other").returncode == 0
    head = json.loads(muse(wt, "log", "--json", "-n", "1").stdout)["commits"][0]
    other = json.loads(muse(wt, "log", "--json", "-n", "1", "other").stdout)["commits"][0]
    assert head["parent2_commit_id"] == other["commit_id"]
    assert (wt / "c.txt").read_text() == "new on other\n"
    assert json.loads(muse(wt, "merge", "other", "--json").stdout)["result"] == "up-to-date"


def test_merge_fast_forward_and_clean_three_way(wt: pathlib.Path) -> None:
    muse.commit_on_branch(wt, "ff", {"z.txt": "z\n"}, "z", "z.txt")
    r = json.loads(muse(wt, "merge", "ff", "--json").stdout)
    assert r["result"] == "fast-forward" and (wt / "z.txt").exists()
    muse.commit_on_branch(wt, "side", {"s.txt": "side\n"}, "s", "s.txt")
    (wt / "a.txt").write_text("main edit\n")
    assert muse(wt, "commit", "-a", "-m", "m").returncode == 0
    r = json.loads(muse(wt, "merge", "side", "--json").stdout)
    assert r["result"] == "merged"
    assert (wt / "s.txt").read_text() == "side\n" and (wt / "a.txt").read_text() == "main edit\n"


def test_gc_reports_and_prunes_unreachable_data(wt: pathlib.Path) -> None:
    muse.commit_on_branch(wt, "doomed", {"d.txt": "only on doomed\n"}, "doomed", "d.txt")
    assert json.loads(muse(wt, "gc", "--json").stdout)["unreachable"]["commits"] == []
    r = muse(wt, "branch", "-d", "doomed")  # not merged: refused, as in git
    assert r.returncode == 1 and "not fully merged" in r.stderr, r.stderr
    assert muse(wt, "branch", "-D", "doomed").returncode == 0
    gc = json.loads(muse(wt, "gc", "--json").stdout)
    assert len(gc["unreachable"]["commits"]) == 1 and len(gc["unreachable"]["objects"]) == 1
    # Young data is kept by the grace period; --grace 0 prunes it.
    assert json.loads(muse(wt, "gc", "--prune", "--json").stdout)["pruned"] == 0
    assert json.loads(muse(wt, "gc", "--prune", "--grace", "0", "--json").stdout)["pruned"] == 3
    assert json.loads(muse(wt, "gc", "--json").stdout)["unreachable"] == {"commits": [], "snapshots": [], "objects": []}
    assert muse(wt, "verify").returncode == 0


def test_status_reports_ahead_and_behind_the_default_branch(wt: pathlib.Path) -> None:
    muse.ok(wt, "checkout", "-b", "topic")
    for i in range(2):
        muse.commit_files(wt, {f"t{i}.txt": f"{i}\n"}, f"t{i}")
    st = json.loads(muse(wt, "status", "--json").stdout)
    assert (st["ahead"], st["behind"], st["compared_to"]) == (2, 0, "main")
    muse.ok(wt, "checkout", "main")
    muse.commit_files(wt, {"m.txt": "m\n"}, "m")
    muse.ok(wt, "checkout", "topic")
    st = json.loads(muse(wt, "status", "--json").stdout)
    assert (st["ahead"], st["behind"]) == (2, 1)


def test_bundle_roundtrip_between_repositories(wt: pathlib.Path, tmp_path: pathlib.Path) -> None:
    (wt / "a.txt").write_text("second version\n")
    assert muse(wt, "commit", "-a", "-m", "second").returncode == 0
    bundle = tmp_path / "main.mpack"
    made = json.loads(muse(wt, "bundle", "create", str(bundle), "main", "--json").stdout)
    assert made["commits"] == 2 and bundle.stat().st_size == made["bytes"]
    dst = muse.new_repo(tmp_path / "dst")
    r = json.loads(muse(dst, "bundle", "apply", str(bundle), "--update-refs", "--json").stdout)
    assert (r["commits_written"], r["refs_updated"]) == (2, ["main"])
    again = json.loads(muse(dst, "bundle", "apply", str(bundle), "--json").stdout)
    assert again["commits_written"] == 0 and again["blobs_written"] == 0
    assert muse(dst, "checkout", "main", "--force").returncode == 0
    assert (dst / "a.txt").read_text() == "second version\n"
    assert muse(dst, "verify").returncode == 0
    data = bytearray(bundle.read_bytes())
    i = data.find(b"second version")
    data[i] ^= 0x20  # tamper with a blob's bytes
    bad = tmp_path / "bad.mpack"
    bad.write_bytes(bytes(data))
    other = muse.new_repo(tmp_path / "other")
    r = muse(other, "bundle", "apply", str(bad))
    assert r.returncode in (1, 3) and "blob" in r.stderr
    assert not list((other / ".muse" / "commits").iterdir())


def test_init_default_branch_short_status_and_provenance(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "r"
    r = muse(tmp_path, "init", str(root), "--default-branch", "trunk")
    assert r.returncode == 0, r.stderr
    assert (root / ".muse" / "HEAD").read_text() == "ref: refs/heads/trunk\n"
    (root / "a.txt").write_text("a\n")
    (root / "b.txt").write_text("b\n")
    assert muse(root, "add", "a.txt").returncode == 0
    assert muse(root, "status", "--short").stdout.splitlines() == ["A  a.txt", "?? b.txt"]
    r = muse(root, "commit", "-m", "by an agent", "--author", "Ann <ann@example.com>", "--agent-id", "agent-7",
             "--model-id", "model-x", "--toolchain-id", "tc-1", "--prompt-hash", "ph-9")
    assert r.returncode == 0, r.stderr
    (c,) = json.loads(muse(root, "log", "--json").stdout)["commits"]
    assert (c["branch"], c["author"], c["agent_id"], c["model_id"], c["toolchain_id"], c["prompt_hash"]) == (
        "trunk", "Ann <ann@example.com>", "agent-7", "model-x", "tc-1", "ph-9")
    assert muse(root, "status", "--short").stdout.splitlines() == ["?? b.txt"]


def test_plain_status_says_ahead_and_behind(wt: pathlib.Path) -> None:
    muse.ok(wt, "checkout", "-b", "topic")
    muse.commit_files(wt, {"t.txt": "t\n"}, "t")
    out = muse(wt, "status").stdout
    assert "On branch topic" in out and "Compared to main: 1 commit(s) ahead, 0 behind" in out
    assert muse(wt, "checkout", "main").returncode == 0
    assert "Compared to" not in muse(wt, "status").stdout


def test_hostile_bundles_move_no_ref_even_with_update_refs(wt: pathlib.Path, tmp_path: pathlib.Path) -> None:
    (wt / "a.txt").write_text("second version\n")
    assert muse(wt, "commit", "-a", "-m", "second").returncode == 0
    good = (tmp_path / "good.mpack")
    assert muse(wt, "bundle", "create", str(good), "main").returncode == 0
    wire = good.read_bytes()
    dst = muse.new_repo(tmp_path / "dst")

    def refused(data: bytes, what: str) -> None:
        p = tmp_path / "bad.mpack"
        p.write_bytes(data)
        r = muse(dst, "bundle", "apply", str(p), "--update-refs", "--json")
        assert r.returncode != 0 and r.stdout == "", (what, r.stdout, r.stderr)
        assert r.stderr.startswith("muse:"), (what, r.stderr)
        assert list((dst / ".muse" / "refs" / "heads").iterdir()) == [], what
        assert list((dst / ".muse" / "commits").iterdir()) == [], what

    tampered = bytearray(wire)
    tampered[wire.find(b"second version")] ^= 0x20
    refused(bytes(tampered), "tampered blob")
    refused(wire[: len(wire) // 2], "truncated")
    refused(b"\x00" + wire[1:], "not a bundle")
    # Over the 4 GiB limit: refused by its size, unread (a sparse file).
    big = tmp_path / "big.mpack"
    with open(big, "wb") as f:
        f.truncate((4 << 30) + 1)
    r = muse(dst, "bundle", "apply", str(big), "--update-refs")
    assert r.returncode == 1 and "over the limit" in r.stderr, r.stderr
    assert list((dst / ".muse" / "refs" / "heads").iterdir()) == []
    # The good bundle applies and moves main.
    r = muse(dst, "bundle", "apply", str(good), "--update-refs", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["refs_updated"] == ["main"]


def test_bundle_create_with_a_have_the_sender_does_not_store(wt: pathlib.Path, tmp_path: pathlib.Path) -> None:
    out = tmp_path / "b.mpack"
    unknown = "sha256:" + "ab" * 32
    r = muse(wt, "bundle", "create", str(out), "main", "--have", unknown, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["commits"] == 1


def test_a_corrupt_record_met_while_working_exits_3(wt: pathlib.Path) -> None:
    (wt / "a.txt").write_text("second\n")
    assert muse(wt, "commit", "-a", "-m", "second").returncode == 0
    first = json.loads(muse(wt, "log", "--json").stdout)["commits"][1]["commit_id"]
    rec = wt / ".muse" / "commits" / (first.split(":", 1)[1] + ".msgpack")
    rec.chmod(0o644)
    rec.write_bytes(rec.read_bytes()[:-7])  # truncated
    r = muse(wt, "log")
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert first.split(":", 1)[1] in r.stderr or "commit" in r.stderr
    # verify reports it as a finding: exit 1, the bad record named.
    v = muse(wt, "verify")
    assert v.returncode == 1 and first.split(":", 1)[1][:12] in (v.stdout + v.stderr)


def test_revisions_in_log_diff_and_checkout(wt: pathlib.Path) -> None:
    # git's revision syntax (muse_core::revision): ~n, ^n, short IDs, detached checkout.
    (wt / "a.txt").write_text("alpha 2\n")
    assert muse(wt, "commit", "-a", "-m", "second").returncode == 0
    log = json.loads(muse(wt, "log", "--json").stdout)["commits"]
    assert [c["message"] for c in log] == ["second", "first"]
    first, second = log[1]["commit_id"], log[0]["commit_id"]
    r = muse(wt, "log", "--oneline", "HEAD~1")
    assert r.returncode == 0 and r.stdout.split()[1] == "first", r.stdout
    r = muse(wt, "diff", "--name-status", "HEAD~1", "HEAD")
    assert r.returncode == 0 and r.stdout.strip() == "M\ta.txt", r.stdout
    r = muse(wt, "diff", "--name-status", first[7:19], "main")
    assert r.returncode == 0 and r.stdout.strip() == "M\ta.txt", r.stdout
    assert muse(wt, "log", "HEAD~x").returncode == 1
    r = muse(wt, "checkout", "--json", "HEAD~1")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["detached"] == first and out["branch"] is None
    assert (wt / "a.txt").read_text() == "alpha\n"
    assert json.loads(muse(wt, "status", "--json").stdout)["branch"] is None
    assert muse(wt, "checkout", "main").returncode == 0
    assert (wt / "a.txt").read_text() == "alpha 2\n"
    assert json.loads(muse(wt, "status", "--json").stdout)["head"] == second
