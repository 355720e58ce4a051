"""`[core] fsmonitor = "watchman"`: every change between two commands is
seen, and the monitor gives exactly what the walk gives.

Each step changes the working tree, then runs ``muse status --porcelain``
with the monitor (``MUSE_FSMONITOR=watchman``, asserting from the log that
watchman answered and the tree was not walked) and without it
(``MUSE_FSMONITOR=off``), and compares both with the expected lines.

These tests need the ``watchman`` command. CI installs it and sets
``MUSE_REQUIRE_WATCHMAN=1``, so there a missing watchman is a failure; on a
machine without it they are skipped. The fallbacks (no watchman, a fresh
watchman instance, a ``.museignore`` change, a corrupt state file) are
tested too.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

from helpers import Cli, require_muse, write_files

require_muse()
muse = Cli(timeout=120)

WATCHMAN = shutil.which("watchman")
if not WATCHMAN and os.environ.get("MUSE_REQUIRE_WATCHMAN") == "1":
    raise RuntimeError("MUSE_REQUIRE_WATCHMAN=1 but `watchman` is not on PATH")
pytestmark = pytest.mark.skipif(not WATCHMAN, reason="watchman is not installed (CI sets MUSE_REQUIRE_WATCHMAN=1)")

FALLBACK = "walking the tree"
LOG = {"MUSE_LOG": "muse.core.fsmonitor=info"}


def st(root: pathlib.Path, mode: str, env: dict[str, str] | None = None) -> tuple[list[str], str]:
    """`muse status --porcelain` lines and stderr, with the monitor `mode`."""
    r = muse(root, "status", "--porcelain", env={"MUSE_FSMONITOR": mode, **LOG, **(env or {})})
    assert r.returncode == 0, r.stderr
    return sorted(r.stdout.splitlines()), r.stderr


def check(root: pathlib.Path, expected: list[str], *, monitored: bool = True) -> None:
    """Status with and without the monitor equals `expected`; with
    `monitored`, watchman answered (no fallback walk)."""
    with_fsm, err = st(root, "watchman")
    assert with_fsm == sorted(expected), err
    if monitored:
        assert FALLBACK not in err, err
    without, _ = st(root, "off")
    assert without == sorted(expected)


@pytest.fixture
def wt(tmp_path: pathlib.Path):
    root = tmp_path / "wt"
    root.mkdir()
    muse.ok(root, "init")
    assert muse(root, "config", "core.fsmonitor").returncode == 1  # unset: exit 1, as git
    muse.ok(root, "config", "core.fsmonitor", "watchman")
    assert 'fsmonitor = "watchman"' in (root / ".muse" / "config.toml").read_text()
    assert muse.ok(root, "config", "core.fsmonitor").stdout == "watchman\n"
    write_files(root, {
        "a.txt": "a\n", "src/lib.rs": "fn x() {}\n", "src/deep/er/f.txt": "f\n",
        "docs/one.md": "1\n", "docs/two.md": "2\n", ".museignore": "*.log\nbuild/\n",
    })
    # The first monitored command has no clock yet: it walks and saves one.
    r = muse(root, "add", "-A", env=LOG)
    assert r.returncode == 0 and "no saved clock yet" in r.stderr and FALLBACK in r.stderr, r.stderr
    muse.ok(root, "commit", "-m", "one")
    yield root
    subprocess.run([WATCHMAN, "watch-del", str(root.resolve())], capture_output=True, timeout=30)


def test_clean_then_every_kind_of_change(wt: pathlib.Path) -> None:
    check(wt, [])
    (wt / "a.txt").write_text("changed\n")
    check(wt, [" M a.txt"])
    (wt / "new.txt").write_text("n\n")
    (wt / "x" / "y" / "z").mkdir(parents=True)
    (wt / "x" / "y" / "z" / "deep.txt").write_text("d\n")
    check(wt, [" M a.txt", "?? new.txt", "?? x/y/z/deep.txt"])
    (wt / "src" / "lib.rs").unlink()
    check(wt, [" M a.txt", " D src/lib.rs", "?? new.txt", "?? x/y/z/deep.txt"])
    (wt / "a.txt").write_text("a\n")  # back to the committed content
    check(wt, [" D src/lib.rs", "?? new.txt", "?? x/y/z/deep.txt"])


def test_renames_of_files_and_directories(wt: pathlib.Path) -> None:
    (wt / "docs" / "one.md").rename(wt / "docs" / "uno.md")
    check(wt, [" D docs/one.md", "?? docs/uno.md"])
    (wt / "docs").rename(wt / "manual")
    check(wt, [" D docs/one.md", " D docs/two.md", "?? manual/two.md", "?? manual/uno.md"])
    (wt / "manual").rename(wt / "docs")
    (wt / "docs" / "uno.md").rename(wt / "docs" / "one.md")
    check(wt, [])
    # A deep directory moved under another name, and back.
    (wt / "src" / "deep").rename(wt / "src" / "shallow")
    check(wt, [" D src/deep/er/f.txt", "?? src/shallow/er/f.txt"])
    (wt / "src" / "shallow").rename(wt / "src" / "deep")
    check(wt, [])


def test_directory_and_file_swap_and_symlinks(wt: pathlib.Path) -> None:
    shutil.rmtree(wt / "docs")
    (wt / "docs").write_text("now a file\n")
    check(wt, [" D docs/one.md", " D docs/two.md", "?? docs"])
    (wt / "docs").unlink()
    (wt / "a.txt").unlink()
    (wt / "a.txt").mkdir()
    (wt / "a.txt" / "inner").write_text("i\n")
    check(wt, [" D a.txt", " D docs/one.md", " D docs/two.md", "?? a.txt/inner"])
    shutil.rmtree(wt / "a.txt")
    # A symlink is never content (SPEC §5), in place of a file or a directory.
    (wt / "a.txt").symlink_to("src/lib.rs")
    (wt / "docs").symlink_to(wt / "src")
    check(wt, [" D a.txt", " D docs/one.md", " D docs/two.md"])


def test_ignored_paths_and_museignore_edits(wt: pathlib.Path) -> None:
    (wt / "debug.log").write_text("x\n")
    (wt / "build" / "out").mkdir(parents=True)
    (wt / "build" / "out" / "bin").write_text("x\n")
    (wt / "keep.log.txt").write_text("k\n")
    check(wt, ["?? keep.log.txt"])
    # A .museignore edit changes what is ignored anywhere below it: the
    # monitor falls back to the walk, and the answer is right.
    (wt / ".museignore").write_text("*.log\n")
    lines, err = st(wt, "watchman")
    assert FALLBACK in err and ".museignore changed" in err
    expected = [" M .museignore", "?? build/out/bin", "?? keep.log.txt"]
    assert lines == sorted(expected)
    check(wt, expected)
    # A new nested .museignore.
    (wt / "build" / ".museignore").write_text("out/\n")
    lines, err = st(wt, "watchman")
    assert FALLBACK in err
    check(wt, [" M .museignore", "?? build/.museignore", "?? keep.log.txt"])


def test_same_size_same_mtime_rewrite_is_seen(wt: pathlib.Path) -> None:
    """The racy case the stat cache cannot see: content rewritten in place,
    same size, mtime put back. watchman reports the write."""
    f = wt / "docs" / "two.md"
    old = os.stat(f)
    os.utime(f, ns=(old.st_atime_ns, old.st_mtime_ns - 10**10))  # well before the cache
    check(wt, [])  # both record the file with its (old) mtime
    before = os.stat(f)
    with open(f, "r+") as h:  # same inode, same size
        h.write("3")
    os.utime(f, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(f)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    lines, err = st(wt, "watchman")
    assert lines == [" M docs/two.md"] and FALLBACK not in err
    # A change made right after the last command wrote its state.
    (wt / "a.txt").write_text("b\n")
    lines, _ = st(wt, "watchman")
    assert lines == [" M a.txt", " M docs/two.md"]


def test_add_commit_and_checkout_use_the_monitor(wt: pathlib.Path) -> None:
    (wt / "a.txt").write_text("two\n")
    (wt / "new.txt").write_text("n\n")
    r = muse(wt, "add", "-A", env={"MUSE_FSMONITOR": "watchman", **LOG})
    assert r.returncode == 0 and FALLBACK not in r.stderr, r.stderr
    check(wt, ["M  a.txt", "A  new.txt"])
    (wt / "a.txt").write_text("three\n")
    check(wt, ["MM a.txt", "A  new.txt"])
    r = muse(wt, "commit", "-a", "-m", "two", env={"MUSE_FSMONITOR": "watchman", **LOG})
    assert r.returncode == 0 and FALLBACK not in r.stderr, r.stderr
    check(wt, [])
    muse.ok(wt, "branch", "side", "HEAD~1")
    muse.ok(wt, "checkout", "side")
    assert (wt / "a.txt").read_text() == "a\n" and not (wt / "new.txt").exists()
    check(wt, [])
    muse.ok(wt, "checkout", "main")
    check(wt, [])
    assert (wt / "a.txt").read_text() == "three\n"


def test_fallbacks_give_the_same_answer(wt: pathlib.Path) -> None:
    (wt / "a.txt").write_text("z\n")
    # watchman unreachable: a warning, then the walk.
    lines, err = st(wt, "watchman", env={"WATCHMAN_SOCK": str(wt / "no-such-socket")})
    assert lines == [" M a.txt"] and "watchman unavailable" in err and FALLBACK in err
    # No watchman program at all (and no saved socket to try): a warning,
    # then the walk.
    (wt / ".muse" / "cache" / "fsmonitor.bin").unlink()
    bare = wt.parent / "bin-without-watchman"
    bare.mkdir()
    (bare / "muse").symlink_to(require_muse())
    lines, err = st(wt, "watchman", env={"PATH": str(bare), "WATCHMAN_SOCK": ""})
    assert lines == [" M a.txt"] and "watchman unavailable" in err and "cannot run watchman" in err, err
    # The daemon forgets the root: a fresh instance, then the walk.
    subprocess.run([WATCHMAN, "watch-del", str(wt.resolve())], capture_output=True, timeout=30, check=True)
    (wt / "b.txt").write_text("b\n")
    lines, err = st(wt, "watchman")
    assert lines == [" M a.txt", "?? b.txt"] and FALLBACK in err
    check(wt, [" M a.txt", "?? b.txt"])
    # A corrupt state file is never trusted.
    state = wt / ".muse" / "cache" / "fsmonitor.bin"
    data = state.read_bytes()
    state.write_bytes(data[: len(data) // 2])
    lines, err = st(wt, "watchman")
    assert lines == [" M a.txt", "?? b.txt"] and "not usable" in err
    state.write_bytes(b"garbage")
    lines, err = st(wt, "watchman")
    assert lines == [" M a.txt", "?? b.txt"] and "not usable" in err
    check(wt, [" M a.txt", "?? b.txt"])


def test_python_api_and_bad_setting(wt: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import muse as m

    (wt / "a.txt").write_text("py\n")
    (wt / "py.txt").write_text("p\n")
    monkeypatch.setenv("MUSE_FSMONITOR", "watchman")
    s1 = m.Repository(str(wt)).status()
    monkeypatch.setenv("MUSE_FSMONITOR", "off")
    s2 = m.Repository(str(wt)).status()
    assert [(e.path, e.worktree) for e in s1] == [(e.path, e.worktree) for e in s2]
    assert [(e.path, e.worktree) for e in s1] == [("a.txt", "modified"), ("py.txt", "untracked")]
    r = muse(wt, "status", env={"MUSE_FSMONITOR": "inotify"})
    assert r.returncode == 1 and "MUSE_FSMONITOR" in r.stderr
    r = muse(wt, "config", "core.fsmonitor", "fanotify")  # refused, nothing written
    assert r.returncode == 1 and "fsmonitor" in r.stderr
    assert muse.ok(wt, "config", "core.fsmonitor").stdout == "watchman\n"
    cfg = wt / ".muse" / "config.toml"
    cfg.write_text(cfg.read_text().replace('fsmonitor = "watchman"', 'fsmonitor = "fanotify"'))
    # An invalid config.toml stops every command (even with the variable set),
    # and `muse config` can still repair it.
    r = muse(wt, "status", env={"MUSE_FSMONITOR": "off"})
    assert r.returncode == 1 and "fsmonitor" in r.stderr and "config.toml" in r.stderr
    assert muse.ok(wt, "config", "core.fsmonitor").stdout == "fanotify\n"
    muse.ok(wt, "config", "--unset", "core.fsmonitor")
    monkeypatch.delenv("MUSE_FSMONITOR")
    lines, _ = st(wt, "off")
    assert lines == [" M a.txt", "?? py.txt"]
    assert muse.ok(wt, "config", "--list").stdout.count("fsmonitor") == 0
    assert muse(wt, "config", "core.nosuchkey", "1").returncode == 1
