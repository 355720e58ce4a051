"""The PEP 517 build backend of the ``muse`` package: maturin, plus the ``muse`` command.

maturin builds the package (``python/muse`` and the extension
``muse._native``), but a wheel with pyo3 bindings cannot also carry a Rust
binary (maturin issue #368). So every hook is maturin's, and the two that
build a wheel (``build_wheel``, ``build_editable``) first build the ``muse``
binary of the ``muse-cli`` crate with cargo and stage a copy in the wheel
data directory that maturin packs when it exists: ``<module-name>.data/``
next to ``pyproject.toml`` (here ``muse._native.data/``; the ``data`` of
``[tool.maturin]`` when that is set). A file under ``scripts/`` there goes
into the wheel as ``muse-<version>.data/scripts/muse``, which installers
put in the environment's scripts directory: ``pip install`` makes
``<venv>/bin/muse`` the native program, and no Python starts when a user
types ``muse``.

The staged copy is removed when maturin is done, so the source tree is left
as it was and a plain ``maturin build`` / ``maturin develop`` (which do not
go through this backend) build the package without the command; the
directory is in ``.gitignore`` in case a build is killed half-way.

The binary is built like maturin builds the extension: the ``release``
profile unless ``--profile`` (in ``MATURIN_PEP517_ARGS`` or the
``maturin.build-args`` config setting) or ``profile`` /
``editable-profile`` in ``[tool.maturin]`` says otherwise, with the same
``--target``, ``--target-dir``, ``--jobs``, ``--locked``, ``--frozen``,
``--offline``, ``--config`` and ``-Z`` options, in the same cargo target
directory (``CARGO_TARGET_DIR`` and cargo's configuration apply, as cargo
reads them). An sdist carries the ``muse-cli`` crate because ``muse-py``
depends on it (maturin packs a crate's path dependencies).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

import maturin

#: The crate and the binary target that make the ``muse`` command.
CLI_PACKAGE = "muse-cli"
CLI_BIN = "muse"

# Hooks that need nothing besides maturin's.
build_sdist = maturin.build_sdist
get_requires_for_build_sdist = maturin.get_requires_for_build_sdist
get_requires_for_build_wheel = maturin.get_requires_for_build_wheel
get_requires_for_build_editable = maturin.get_requires_for_build_editable
prepare_metadata_for_build_wheel = maturin.prepare_metadata_for_build_wheel
prepare_metadata_for_build_editable = maturin.prepare_metadata_for_build_editable


def build_wheel(
    wheel_directory: str,
    config_settings: Optional[Mapping[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    """PEP 517 ``build_wheel``: maturin's wheel, with the ``muse`` binary as a script."""
    with _staged_cli(config_settings, editable=False):
        return str(maturin.build_wheel(wheel_directory, config_settings, metadata_directory))


def build_editable(
    wheel_directory: str,
    config_settings: Optional[Mapping[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    """PEP 660 ``build_editable``: maturin's editable wheel, with the ``muse`` binary as a script."""
    with _staged_cli(config_settings, editable=True):
        return str(maturin.build_editable(wheel_directory, config_settings, metadata_directory))


@contextlib.contextmanager
def _staged_cli(config_settings: Optional[Mapping[str, Any]], editable: bool) -> Iterator[None]:
    """Builds the ``muse`` binary and stages a copy under ``<wheel data
    dir>/scripts/`` for the ``with`` block; then removes the copy, and the
    directories if that leaves them empty."""
    binary = build_cli(config_settings, editable)
    scripts = wheel_data_dir() / "scripts"
    scripts.mkdir(parents=True, exist_ok=True)
    staged = scripts / binary.name
    shutil.copy2(binary, staged)
    try:
        yield
    finally:
        staged.unlink(missing_ok=True)
        for d in (scripts, scripts.parent):
            try:
                d.rmdir()
            except OSError:  # not empty: data files of someone else's
                break


def wheel_data_dir() -> Path:
    """The wheel data directory maturin packs: ``[tool.maturin] data``, else
    ``<module-name>.data``, relative to ``pyproject.toml`` (the working
    directory of every PEP 517 hook)."""
    config = maturin.get_config()
    if config.get("data"):
        return Path(config["data"])
    if not config.get("module-name"):
        raise RuntimeError("muse_build needs [tool.maturin] module-name (or data) in pyproject.toml")
    return Path(config["module-name"] + ".data")


def cargo_build_command(config_settings: Optional[Mapping[str, Any]], editable: bool) -> list[str]:
    """The ``cargo build`` command line for the ``muse`` binary, with the
    options of maturin's own cargo invocation that apply to every crate of
    the workspace (see the module docstring)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for value_option in ("--profile", "--target", "--target-dir"):
        parser.add_argument(value_option)
    parser.add_argument("-m", "--manifest-path")
    parser.add_argument("-j", "--jobs")
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("-Z", dest="unstable_flags", action="append", default=[])
    for flag in ("--locked", "--frozen", "--offline"):
        parser.add_argument(flag, action="store_true")
    args, _ = parser.parse_known_args(maturin.get_maturin_pep517_args(config_settings))
    tool = maturin.get_config()

    profile = args.profile or (editable and tool.get("editable-profile")) or tool.get("profile") or "release"
    manifest = args.manifest_path or tool.get("manifest-path") or "Cargo.toml"
    cmd = [
        "cargo", "build", "--manifest-path", str(manifest), "--package", CLI_PACKAGE, "--bin", CLI_BIN,
        "--profile", profile, "--message-format", "json-render-diagnostics",
    ]
    for option in ("target", "target_dir", "jobs"):
        if getattr(args, option):
            cmd += ["--" + option.replace("_", "-"), getattr(args, option)]
    for flag in ("locked", "frozen", "offline"):
        if getattr(args, flag) or tool.get(flag):
            cmd.append("--" + flag)
    for kv in args.config or tool.get("config") or []:
        cmd += ["--config", kv]
    for z in args.unstable_flags or tool.get("unstable-flags") or []:
        cmd += ["-Z", z]
    return cmd


def build_cli(config_settings: Optional[Mapping[str, Any]] = None, editable: bool = False) -> Path:
    """Builds the ``muse`` binary and returns its path, as cargo reports it
    (so wherever the target directory and the profile put it)."""
    cmd = cargo_build_command(config_settings, editable)
    # maturin's environment: when cargo is missing it installs a Rust
    # toolchain and returns the environment that uses it (else None).
    get_env = getattr(maturin, "_get_env", lambda: None)
    print("Running `{}`".format(" ".join(cmd)), file=sys.stderr, flush=True)
    # stdout: one JSON message per line; diagnostics and progress go to stderr.
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, env=get_env(), check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"building the muse command failed: {' '.join(cmd)} exited {proc.returncode}")
    executable = None
    for line in proc.stdout.decode(errors="replace").splitlines():
        msg = json.loads(line) if line.startswith("{") else {}
        target = msg.get("target") or {}
        if msg.get("reason") == "compiler-artifact" and target.get("name") == CLI_BIN and "bin" in target.get("kind", []):
            executable = msg.get("executable")
    if not executable:
        raise RuntimeError(f"cargo did not report the {CLI_BIN} binary: {' '.join(cmd)}")
    return Path(executable)
