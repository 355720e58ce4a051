"""``python -m muse``: the ``muse`` command.

The command is a native program built from the Rust crate ``muse-cli``;
installing the package puts it in the environment's scripts directory
(``<venv>/bin/muse``), and a shell that has that directory on ``PATH`` runs
it without starting Python. ``python -m muse ARGS`` finds the same program
(:func:`find_muse_bin`) and replaces this process with it, so it behaves as
``muse ARGS``: same output, same exit status (0 ok, 1 user error, 2 not a
repository, 3 internal or I/O error); see ``muse --help``.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig


def find_muse_bin() -> str:
    """The path of the ``muse`` program installed with this package: in the
    scripts directory of the running interpreter's environment, else in the
    user scheme's one (``pip install --user``), else next to
    ``sys.executable``, else the first ``muse`` on ``PATH``.

    Raises :class:`FileNotFoundError` (naming the places looked in) when
    there is none."""
    exe = "muse" + (sysconfig.get_config_var("EXE") or "")
    dirs = [sysconfig.get_path("scripts")]
    if sys.version_info >= (3, 10):
        user_scheme = sysconfig.get_preferred_scheme("user")
    elif os.name == "nt":
        user_scheme = "nt_user"
    elif sys.platform == "darwin" and getattr(sys, "_framework", None):
        user_scheme = "osx_framework_user"
    else:
        user_scheme = "posix_user"
    dirs.append(sysconfig.get_path("scripts", scheme=user_scheme))
    dirs.append(os.path.dirname(os.path.abspath(sys.executable)))
    for d in dirs:
        path = os.path.join(d, exe)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    on_path = shutil.which(exe)
    if on_path:
        return on_path
    raise FileNotFoundError(
        f"the {exe} program is not installed: looked in {', '.join(dict.fromkeys(dirs))} and on PATH; "
        "reinstall the muse package with pip (or ./scripts/install.sh in a checkout)")


def main() -> None:
    """Run the ``muse`` program with ``sys.argv[1:]``: on POSIX it replaces
    this process (``os.execv``); on Windows, where there is no such thing,
    it runs as a child and this process exits with its status. Exits 3 with
    a message on stderr when the program is not installed."""
    try:
        muse = find_muse_bin()
    except FileNotFoundError as e:
        print(f"muse: {e}", file=sys.stderr)
        sys.exit(3)
    argv = [muse, *sys.argv[1:]]
    if sys.platform == "win32":
        import subprocess

        sys.exit(subprocess.run(argv).returncode)
    os.execv(muse, argv)


if __name__ == "__main__":
    main()
