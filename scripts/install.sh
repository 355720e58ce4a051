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
# Build the wheel (release, abi3) through the package's build backend
# (muse-py/build_backend: maturin, plus the native `muse` command as the
# wheel's script) and install it: the package, and .venv/bin/muse. Without
# build isolation, maturin's hooks run the `maturin` program found on PATH:
# .venv/bin goes first.
rm -rf target/wheels
PATH="$here/.venv/bin:$PATH" .venv/bin/python -m pip wheel --quiet --no-build-isolation --no-deps ./muse-py -w target/wheels
.venv/bin/python -m pip install --quiet --force-reinstall --no-deps target/wheels/muse-*.whl
version="$(.venv/bin/python -c "import muse; print(muse.__version__)")"
# .venv/bin/muse must be the native program (ELF, or Mach-O on macOS), not a
# Python script, and the same version as the package.
magic="$(head -c 4 .venv/bin/muse | od -An -tx1 | tr -d ' \n')"
case "$magic" in
    7f454c46 | cffaedfe | cefaedfe) ;;
    *) echo "install.sh: .venv/bin/muse is not a native executable (magic $magic)" >&2; exit 1 ;;
esac
[ "$(.venv/bin/muse --version)" = "muse $version" ] || {
    echo "install.sh: .venv/bin/muse --version says '$(.venv/bin/muse --version)', expected 'muse $version'" >&2
    exit 1
}
echo "installed muse $version"
