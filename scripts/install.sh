#!/usr/bin/env bash
# Install muse from source into ./.venv: a virtualenv with the build and test
# tools, and the `muse` package built in release mode from this checkout.
# Needs: a Rust toolchain (cargo), Python >= 3.9 with venv, a C compiler.
# Also installs the pinned cbindgen (into ~/.cargo/bin) for the C header.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "maturin>=1.5,<2" "pytest>=7" "msgpack>=1" "pygit2>=1.14" "mypy>=2.4,<3"
# cbindgen, pinned: generates (and CI verifies) include/muse.h.
if ! command -v cbindgen >/dev/null 2>&1 || [ "$(cbindgen --version)" != "cbindgen 0.29.4" ]; then
    cargo install cbindgen --version 0.29.4 --locked --quiet
fi
# Build the wheel (release, abi3) and install it.
rm -rf target/wheels
.venv/bin/maturin build --release --manifest-path muse-py/Cargo.toml --out target/wheels --quiet
.venv/bin/python -m pip install --quiet --force-reinstall --no-deps target/wheels/muse-*.whl
.venv/bin/python -c "import muse; print('installed muse', muse.__version__)"
