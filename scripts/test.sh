#!/usr/bin/env bash
# Run every test: Rust unit and integration tests, the project's Python tests,
# the user's seed suites (../shared/seed-tests, slow tests included), and a
# smoke run of the benchmarks. Expects ./scripts/install.sh to have run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
py="$here/.venv/bin/python"
# The seed suites and the CLI tests run the `muse` console script.
export PATH="$here/.venv/bin:$PATH"
seeds="${MUSE_SEED_TESTS:-$here/../shared/seed-tests}"

echo "== cargo test"
cargo test --workspace --exclude muse-py

echo "== project Python tests (tests/python)"
"$py" -m pytest -q -p no:cacheprovider tests/python

echo "== seed suites ($seeds, MUSE_RUN_SLOW=1)"
# Left out until issue 4 lands: the MPack suites, which cannot even be
# collected before `muse.core.mpack` exists (the E2E file's other test, the
# musehub push, is always skipped).
deselect=(
  --ignore tests/test_mpack_delta.py
  --ignore tests/test_mpack_delta_e2e.py
)
( cd "$seeds" && MUSE_RUN_SLOW=1 "$py" -m pytest -q -p no:cacheprovider "${deselect[@]}" tests )

echo "== benchmark smoke run (bench/bench_store.py --quick)"
"$py" bench/bench_store.py --quick
