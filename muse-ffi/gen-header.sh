#!/usr/bin/env bash
# Regenerates include/muse.h from muse-ffi/src with the pinned cbindgen.
#
#   muse-ffi/gen-header.sh            write include/muse.h
#   muse-ffi/gen-header.sh --verify   fail (exit 1) if include/muse.h differs
#                                     from what the sources generate (CI)
#
# Needs cbindgen 0.29.4 on PATH (or in $CBINDGEN):
#   cargo install cbindgen --version 0.29.4 --locked
set -euo pipefail
want_version="0.29.4"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
header="$root/include/muse.h"
cbindgen="${CBINDGEN:-cbindgen}"

if ! command -v "$cbindgen" >/dev/null 2>&1; then
    echo "gen-header: cbindgen not found; install it with:" >&2
    echo "  cargo install cbindgen --version $want_version --locked" >&2
    exit 2
fi
have_version="$("$cbindgen" --version | awk '{print $2}')"
if [[ "$have_version" != "$want_version" ]]; then
    echo "gen-header: cbindgen $have_version found, $want_version required (the header is pinned to it):" >&2
    echo "  cargo install cbindgen --version $want_version --locked --force" >&2
    exit 2
fi

mode="${1:-}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# cbindgen reads `cargo metadata`; keep its scratch files out of the tree.
(cd "$here" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}" \
    "$cbindgen" --config cbindgen.toml --crate muse-ffi --output "$tmp/muse.h" --quiet)

case "$mode" in
    --verify|--check)
        if ! diff -u "$header" "$tmp/muse.h"; then
            echo "gen-header: include/muse.h is out of date; run muse-ffi/gen-header.sh and commit it" >&2
            exit 1
        fi
        echo "gen-header: include/muse.h is up to date"
        ;;
    "")
        mkdir -p "$(dirname "$header")"
        if [[ -f "$header" ]] && cmp -s "$header" "$tmp/muse.h"; then
            echo "gen-header: include/muse.h unchanged"
        else
            cp "$tmp/muse.h" "$header"
            echo "gen-header: wrote include/muse.h"
        fi
        ;;
    *)
        echo "usage: $0 [--verify]" >&2
        exit 2
        ;;
esac
