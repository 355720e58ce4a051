"""`muse cherry-pick` and `muse revert` through the CLI: a commit's change
as a new commit, conflicts stopping them, --continue and --abort."""

from __future__ import annotations

import json
import pathlib

from helpers import Cli, require_muse

require_muse()
muse = Cli(timeout=120)

NUMBERED = "".join(f"line {i}\n" for i in range(1, 21))


def test_cherry_pick_revert_continue_abort(tmp_path: pathlib.Path) -> None:
    muse.ok(tmp_path, "init")
    muse.commit_files(tmp_path, {"f.txt": NUMBERED}, "base")
    muse.ok(tmp_path, "checkout", "-b", "topic")
    muse.commit_files(tmp_path, {"f.txt": NUMBERED.replace("line 3\n", "three, topic\n")}, "topic 3")
    topic = json.loads(muse.ok(tmp_path, "log", "--json", "-n", "1").stdout)["commits"][0]["commit_id"]
    muse.ok(tmp_path, "checkout", "main")
    muse.commit_files(tmp_path, {"f.txt": NUMBERED.replace("line 18\n", "eighteen, main\n")}, "main 18")
    out = muse.ok(tmp_path, "cherry-pick", topic[7:15]).stdout  # a short ID
    assert "topic 3" in out
    both = NUMBERED.replace("line 3\n", "three, topic\n").replace("line 18\n", "eighteen, main\n")
    assert (tmp_path / "f.txt").read_text() == both
    r = json.loads(muse.ok(tmp_path, "revert", "HEAD", "--json").stdout)
    assert r["result"] == "committed"
    assert (tmp_path / "f.txt").read_text() == NUMBERED.replace("line 18\n", "eighteen, main\n")
    assert json.loads(muse.ok(tmp_path, "log", "--json", "-n", "1").stdout)["commits"][0]["message"].startswith("Revert ")
    # Conflicting: both edit line 3.
    muse.commit_files(tmp_path, {"f.txt": NUMBERED.replace("line 3\n", "three, main\n")}, "main 3")
    r = muse(tmp_path, "cherry-pick", "topic", "--json")
    assert r.returncode == 1 and json.loads(r.stdout) == {"result": "conflicts", "paths": ["f.txt"]}
    assert "UU f.txt" in muse.ok(tmp_path, "status", "--short").stdout
    assert "Cherry-picking topic with conflicts" in muse.ok(tmp_path, "status").stdout
    muse.ok(tmp_path, "cherry-pick", "--abort")
    assert (tmp_path / "f.txt").read_text() == NUMBERED.replace("line 3\n", "three, main\n")
    assert muse(tmp_path, "cherry-pick", "topic").returncode == 1
    (tmp_path / "f.txt").write_text(NUMBERED.replace("line 3\n", "three, resolved\n"))
    muse.ok(tmp_path, "add", "f.txt")
    muse.ok(tmp_path, "cherry-pick", "--continue")
    head = json.loads(muse.ok(tmp_path, "log", "--json", "-n", "1").stdout)["commits"][0]
    assert head["message"].startswith("topic 3") and head["parent2_commit_id"] is None
    assert json.loads(muse.ok(tmp_path, "status", "--json").stdout)["clean"]
