"""Wait until file creation on this filesystem is at its normal speed.

This machine's ext4 has no journal: for a minute or more after a mass
delete, creating files is 10x+ slower. The seed suites contain timing tests
(the GC sweep budgets), so scripts/test.sh calls this after the benchmark
smoke runs have deleted their scratch trees and before the timed suites.

    python scripts/fs_settle.py [--max-wait SECONDS] [--dir DIR]

Probes by creating 300 empty files in a fresh directory under DIR (default:
the temp dir, where pytest puts its tmp_path), `sync`ing first. Exits 0 in
every case; prints what it measured and how long it waited.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

SLOW_US = 60.0


def probe(base: str, files: int = 300) -> float:
    d = tempfile.mkdtemp(prefix="fs-settle-", dir=base)
    try:
        t0 = time.perf_counter()
        for i in range(files):
            os.close(os.open(os.path.join(d, str(i)), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        return (time.perf_counter() - t0) / files * 1e6
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-wait", type=float, default=300.0)
    ap.add_argument("--dir", default=tempfile.gettempdir())
    a = ap.parse_args()
    waited = 0.0
    seen = []
    while True:
        os.sync()
        us = probe(a.dir)
        seen.append(round(us))
        if us <= SLOW_US or waited >= a.max_wait:
            state = "normal" if us <= SLOW_US else "still slow"
            print(f"fs_settle: {state} after {waited:.0f} s (µs per create: {seen})", flush=True)
            return 0
        time.sleep(10)
        waited += 10


if __name__ == "__main__":
    raise SystemExit(main())
