"""``python -m muse`` and the ``muse`` console script: the Rust CLI.

The command itself is implemented in Rust (``muse-cli``) and runs inside the
native extension with the GIL released; see ``muse --help``.
"""

from __future__ import annotations

import sys

# `_signal` is the C module behind `signal`; `signal` itself imports `enum`,
# which is a third of this script's start-up time.
import _signal  # type: ignore[import-not-found, unused-ignore]  # (no typeshed stub)


def main() -> None:
    """Run the ``muse`` command with ``sys.argv`` and exit with its status
    (0 ok, 1 user error, 2 not a repository, 3 internal or I/O error)."""
    # Behave like a native command: Ctrl-C ends the process (every write is
    # atomic, and the next command's startup GC removes stray temps), and a
    # closed pipe (`muse log | head`) ends it quietly.
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
    from muse._native import cli_main

    sys.exit(cli_main(sys.argv))


if __name__ == "__main__":
    main()
