#!/usr/bin/env bash
# Run every test: Rust unit and integration tests, the project's Python tests,
# the user's seed suites (../shared/seed-tests, slow tests included), and a
# smoke run of the benchmarks. Expects ./scripts/install.sh to have run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
py="$here/.venv/bin/python"
# The seed suites and the CLI tests run the `muse` command the wheel installed
# (the native program, .venv/bin/muse).
export PATH="$here/.venv/bin:$PATH"
seeds="${MUSE_SEED_TESTS:-$here/../shared/seed-tests}"

# The hub's scale-out tier is tested on real services: PostgreSQL and
# Garage (S3), started here by scripts/hub-services.sh unless the caller
# already exported MUSE_HUB_DATABASE_URL and the rest (its `start` output).
# Those tests fail, never skip, without them. Services started here are
# stopped at the end (their state dir is kept: the next start resumes).
if [ -z "${MUSE_HUB_DATABASE_URL:-}" ]; then
  echo "== hub services for the scale-out tier (scripts/hub-services.sh start)"
  eval "$(./scripts/hub-services.sh start)"
  started_hub=1
fi
cleanup() {
  if command -v drop_test_watches >/dev/null 2>&1; then drop_test_watches; fi
  if [ "${started_hub:-}" = 1 ]; then ./scripts/hub-services.sh stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

echo "== cargo test"
cargo test --workspace --exclude muse-py

echo "== clippy on the C ABI: every unsafe block has its SAFETY comment"
cargo clippy -p muse-ffi --quiet -- -D clippy::undocumented_unsafe_blocks

echo "== C ABI: header up to date, C tests under ASan+UBSan, the C/C++ examples"
export PATH="$HOME/.cargo/bin:$PATH"
muse-ffi/gen-header.sh --verify
tests/c/run.sh
make -C examples/c run
echo "== libmuse installed into a scratch prefix; the examples rebuilt through pkg-config (muse.pc) and run"
prefix="$(mktemp -d)"
muse-ffi/install.sh --prefix "$prefix" --no-build
make -C examples/c clean >/dev/null
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" LD_LIBRARY_PATH="$prefix/lib" make -C examples/c PKG_CONFIG_BUILD=1 run
make -C examples/c clean >/dev/null
rm -rf "$prefix"

echo "== benchmark smoke runs (--quick: proves the scripts run; numbers are not meaningful)"
for b in bench/bench_*.py; do "$py" "$b" --quick; done
bench/run_c_bench.sh --quick

echo "== type stubs agree with the installed package (mypy.stubtest)"
# Run outside the checkout (it checks the installed package); no allowlist.
stubtest_dir="$(mktemp -d)"
( cd "$stubtest_dir" && "$py" -m mypy.stubtest muse )
rm -rf "$stubtest_dir"

echo "== project Python tests (tests/python)"
CI="${CI:-1}" "$py" -m pytest -q -p no:cacheprovider tests/python

echo "== crash torture (tests/crash_torture.py): SIGKILL add+commit, checkout, merge, bundle apply, import-git at random moments"
"$py" tests/crash_torture.py --trials "${MUSE_TORTURE_TRIALS:-25}" --seed 1

echo "== import this repository's own git history into muse and verify it commit by commit"
if git -C "$here" rev-parse --git-dir >/dev/null 2>&1; then
  scratch="$(mktemp -d)"
  ( cd "$scratch" && muse init >/dev/null && muse import-git "$here" --verify --json )
  rm -rf "$scratch"
fi

echo "== waiting for the filesystem to recover from the deletes above (timed suites follow)"
"$py" scripts/fs_settle.py --max-wait 60

echo "== seed suites ($seeds, MUSE_RUN_SLOW=1)"
( cd "$seeds" && MUSE_RUN_SLOW=1 "$py" -m pytest -q -p no:cacheprovider tests )

# The same tests with the file-system monitor on ([core] fsmonitor =
# "watchman" through MUSE_FSMONITOR): every command that walks the tree
# asks watchman instead. CI installs watchman and sets
# MUSE_REQUIRE_WATCHMAN=1, so there this never skips.
# watchman 4.9 holds one inotify instance per watched root, and the kernel
# allows 128 per user (fs.inotify.max_user_instances): the watches of the
# test repositories (pytest's and cargo's temp dirs, and roots that are
# gone) are dropped before and after the monitored runs, or repeated runs
# exhaust the instances and watchman refuses every new root.
drop_test_watches() {
  command -v watchman >/dev/null 2>&1 || return 0
  watchman watch-list 2>/dev/null | "$py" -c '
import json, os, sys
try:
    roots = json.load(sys.stdin).get("roots", [])
except ValueError:
    roots = []
for r in roots:
    if "/pytest-of-" in r or os.path.basename(r).startswith(".tmp") or "/.tmp" in r or not os.path.isdir(r):
        print(r)
' | while IFS= read -r r; do watchman watch-del "$r" >/dev/null 2>&1 || true; done
}

if command -v watchman >/dev/null 2>&1 || [ "${MUSE_REQUIRE_WATCHMAN:-}" = 1 ]; then
  drop_test_watches
  echo "== with the file-system monitor on (MUSE_FSMONITOR=watchman): watchman $(watchman --version)"
  echo "== cargo tests of the repository API and the working tree (MUSE_FSMONITOR=watchman)"
  MUSE_FSMONITOR=watchman cargo test -p muse-core --test repository --test worktree_safety --test diff_patch --test walk
  echo "== project Python tests (MUSE_FSMONITOR=watchman)"
  MUSE_FSMONITOR=watchman CI="${CI:-1}" "$py" -m pytest -q -p no:cacheprovider tests/python
  echo "== seed suites (MUSE_FSMONITOR=watchman, MUSE_RUN_SLOW=1)"
  ( cd "$seeds" && MUSE_FSMONITOR=watchman MUSE_RUN_SLOW=1 "$py" -m pytest -q -p no:cacheprovider tests )
else
  echo "== watchman is not installed: the monitored run is skipped here (./scripts/install-watchman.sh; CI runs it)"
fi

