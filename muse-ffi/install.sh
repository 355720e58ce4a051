#!/usr/bin/env bash
# Installs libmuse for C and C++ hosts:
#
#   PREFIX/include/muse.h
#   PREFIX/lib/libmuse.so.X.Y.Z, libmuse.so.X -> it, libmuse.so -> libmuse.so.X
#   PREFIX/lib/libmuse.a
#   PREFIX/lib/pkgconfig/muse.pc        (from muse-ffi/muse.pc.in)
#
# Usage: muse-ffi/install.sh [--prefix DIR] [--libdir DIR] [--no-build]
#        (default prefix /usr/local; DESTDIR is honoured for packaging)
# Then:  cc app.c $(pkg-config --cflags --libs muse)
#        cc app.c $(pkg-config --cflags muse) -l:libmuse.a $(pkg-config --static --libs muse | sed 's/-lmuse//')
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
prefix=/usr/local
libdir=""
build=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --libdir) libdir="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        *) echo "usage: $0 [--prefix DIR] [--libdir DIR] [--no-build]" >&2; exit 2 ;;
    esac
done
libdir="${libdir:-$prefix/lib}"
includedir="$prefix/include"
destdir="${DESTDIR:-}"

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n1)"
major="${version%%.*}"
if [[ $build == 1 ]]; then
    (cd "$root" && cargo build -p muse-ffi --release)
fi
# Cargo's target directory: $CARGO_TARGET_DIR when set (relative to the
# workspace root, where cargo ran), else target/.
target="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target" == /* ]] || target="$root/$target"
rel="$target/release"

install -d "$destdir$libdir/pkgconfig" "$destdir$includedir"
install -m 0644 "$root/include/muse.h" "$destdir$includedir/muse.h"
install -m 0755 "$rel/libmuse.so" "$destdir$libdir/libmuse.so.$version"
ln -sf "libmuse.so.$version" "$destdir$libdir/libmuse.so.$major"
ln -sf "libmuse.so.$major" "$destdir$libdir/libmuse.so"
install -m 0644 "$rel/libmuse.a" "$destdir$libdir/libmuse.a"
sed -e "s|@PREFIX@|$prefix|" -e "s|@LIBDIR@|$libdir|" -e "s|@INCLUDEDIR@|$includedir|" \
    -e "s|@VERSION@|$version|" -e "s|@LIBS_PRIVATE@|-lpthread -ldl -lm -lrt -lutil -lgcc_s|" \
    "$here/muse.pc.in" > "$destdir$libdir/pkgconfig/muse.pc"
echo "installed libmuse $version into $destdir$prefix (soname libmuse.so.$major)"
