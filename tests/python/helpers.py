"""Helpers shared by the tests that drive the `muse` command as a subprocess
(``tests/python/test_*.py``, imported as ``helpers`` since pytest puts this
directory on ``sys.path``) and by ``tests/crash_torture.py`` (a script, which
adds this directory to ``sys.path`` itself).

Standard library only: the crash torture runs without pytest.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence

MUSE = shutil.which("muse") or ""
TEMP_PREFIXES = (".restore-tmp-", ".muse-tmp-", ".obj-tmp-")
FAST_CONFIG = '[core]\nfsync = "off"\n'


def require_muse() -> str:
    """The `muse` on PATH; a missing command is a failure, not a skip."""
    if not MUSE:
        raise RuntimeError(
            "the muse command is not on PATH (run ./scripts/install.sh; test.sh puts .venv/bin first)")
    return MUSE


def muse_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without ``MUSE_REPO_ROOT``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k != "MUSE_REPO_ROOT"}
    env.update(extra or {})
    return env


def write_files(root: pathlib.Path, files: Mapping[str, str]) -> None:
    """Writes each ``relative path -> text`` below ``root``, making directories."""
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def read_tree(root: pathlib.Path) -> dict[str, str]:
    """Every file of the working tree outside `.muse/`, path -> text."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if pathlib.Path(dirpath) == root and ".muse" in dirnames:
            dirnames.remove(".muse")
        for name in filenames:
            p = pathlib.Path(dirpath) / name
            out[p.relative_to(root).as_posix()] = p.read_text(errors="replace")
    return out


def derive_files(root: pathlib.Path, files: Mapping[str, str], tag: str, rewrite: Iterable[str],
                 remove: Iterable[str] = (), add: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``files`` with ``tag + old text`` in each ``rewrite`` path,
    the ``remove`` paths dropped (and unlinked below ``root``) and ``add``
    added. Nothing is written: pass the result to :func:`write_files`."""
    out = dict(files)
    for p in rewrite:
        out[p] = tag + files[p]
    for p in remove:
        del out[p]
        (root / p).unlink()
    out.update(add or {})
    return out


class Cli:
    """The `muse` command with a per-call time limit of ``timeout`` s.

    ``cli(cwd, *args)`` runs it; the other methods assert that each command
    they run exits 0."""

    def __init__(self, timeout: float = 60) -> None:
        self.timeout = timeout

    def __call__(self, cwd: pathlib.Path, *args: str,
                 env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Runs `muse ARGS` in ``cwd`` (``env``: variables added to :func:`muse_env`)."""
        return subprocess.run([require_muse(), *args], cwd=cwd, capture_output=True, text=True,
                              env=muse_env(env), timeout=self.timeout)

    def ok(self, cwd: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
        """`muse ARGS`, asserted to exit 0."""
        r = self(cwd, *args)
        assert r.returncode == 0, (args, r.returncode, r.stdout[-2000:], r.stderr[-2000:])
        return r

    def commit_files(self, root: pathlib.Path, files: Mapping[str, str], message: str, *add: str) -> None:
        """Writes ``files``, `muse add ADD` (default ``.``), `muse commit -m MESSAGE`."""
        write_files(root, files)
        self.ok(root, "add", *(add or (".",)))
        self.ok(root, "commit", "-m", message)

    def commit_on_branch(self, root: pathlib.Path, branch: str, files: Mapping[str, str], message: str,
                         *add: str, back: str = "main") -> None:
        """`muse checkout -b BRANCH`, :meth:`commit_files`, `muse checkout BACK`."""
        self.ok(root, "checkout", "-b", branch)
        self.commit_files(root, files, message, *add)
        self.ok(root, "checkout", back)

    def new_repo(self, root: pathlib.Path, files: Mapping[str, str] | None = None, message: str = "first",
                 fsync_off: bool = False) -> pathlib.Path:
        """`muse init` in a new directory ``root`` (``[core] fsync = "off"``
        with ``fsync_off``); with ``files``, they are written, added (`.`)
        and committed."""
        root.mkdir(parents=True)
        self.ok(root, "init")
        if fsync_off:
            (root / ".muse" / "config.toml").write_text(FAST_CONFIG)
        if files is not None:
            self.commit_files(root, files, message)
        return root


def run_or_kill(argv: Sequence[str], cwd: pathlib.Path, env: Mapping[str, str], timeout: float | None,
                capture: bool = False) -> tuple[int | None, bytes, bytes]:
    """Runs ``argv`` in a new session; SIGKILLs its whole process group (the
    command and any child) when it is still running after ``timeout`` s.
    Returns (exit status, or None if killed; stdout; stderr), the output
    captured only with ``capture``."""
    pipe = subprocess.PIPE if capture else subprocess.DEVNULL
    p = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdout=pipe, stderr=pipe, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return None, b"", b""
    return p.returncode, out or b"", err or b""
