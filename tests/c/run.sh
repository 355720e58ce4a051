#!/usr/bin/env bash
# Builds libmuse in release mode, compiles the C tests in tests/c/ against it
# with AddressSanitizer + UndefinedBehaviorSanitizer, and runs them. Fails on
# any test failure, sanitizer report (errors and leaks) or compiler warning.
#
#   tests/c/run.sh               build, then run every test twice: linked
#                                against libmuse.so and against libmuse.a
#   tests/c/run.sh --no-build    use the library already in $TARGET/sanitize/release
#   tests/c/run.sh --valgrind    also run the tests, built without sanitizers,
#                                under valgrind --leak-check=full
#
# Environment: CC (default cc), CARGO_BUILD_JOBS (passed to cargo),
# CARGO_TARGET_DIR ($TARGET: cargo's target directory, default target/),
# MUSE_CTEST_DIR (build directory, default $TARGET/ctest).
#
# Sanitizers and a Rust library: the library is built here without its
# default `mimalloc` feature (into $TARGET/sanitize), so Rust uses the system
# allocator; the test executable is instrumented, so the ASan runtime is
# linked into it and intercepts malloc/free for the Rust code too; no
# LD_PRELOAD is needed. (LD_PRELOAD
# of libasan is only needed to load an instrumented library into an
# uninstrumented host such as python.) LeakSanitizer runs at exit
# (detect_leaks=1): memory the library keeps in process-wide caches is
# reachable from globals and is not reported, so no suppressions are needed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

build=1
valgrind=0
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        --valgrind) valgrind=1 ;;
        *) echo "usage: $0 [--no-build] [--valgrind]" >&2; exit 2 ;;
    esac
done

cc="${CC:-cc}"
# Cargo's target directory: $CARGO_TARGET_DIR when set (relative to the
# workspace root, as cargo reads it from here), else target/.
target="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target" == /* ]] || target="$root/$target"
out="${MUSE_CTEST_DIR:-$target/ctest}"
rel="$target/sanitize/release"
tests=(test_api test_errors test_threads test_repository test_remotes)

if [[ $build == 1 ]]; then
    echo "== cargo build -p muse-ffi --release --no-default-features (system allocator, for the sanitizers)"
    cargo build -p muse-ffi --release --no-default-features --target-dir "$target/sanitize" --quiet
fi
for f in libmuse.so libmuse.a; do
    [[ -f "$rel/$f" ]] || { echo "missing $rel/$f (run without --no-build)" >&2; exit 1; }
done

# The shared library's soname is libmuse.so.0: programs linked against it
# look for that name at run time. Lay out the usual symlinks in a private
# lib directory and point the tests' rpath there.
rm -rf "$out"
mkdir -p "$out/lib"
cp "$rel/libmuse.so" "$out/lib/libmuse.so.0.1.0"
ln -s libmuse.so.0.1.0 "$out/lib/libmuse.so.0"
ln -s libmuse.so.0 "$out/lib/libmuse.so"
cp "$rel/libmuse.a" "$out/lib/libmuse.a"
static_libs="-lpthread -ldl -lm -lrt -lutil -lgcc_s"

common=(-std=c11 -g -O1 -Wall -Wextra -Wpedantic -Werror -I "$root/include" -I "$here")
san=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)

# The header must also compile as strict C99 and as C++.
echo "== header: C99 and C++ compile checks"
printf '#include "muse.h"\nint main(void){return muse_version()[0]==0;}\n' > "$out/hdr.c"
"$cc" -std=c99 -Wall -Wextra -Wpedantic -Werror -I "$root/include" -c "$out/hdr.c" -o "$out/hdr_c.o"
"${CXX:-c++}" -x c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -I "$root/include" -c "$out/hdr.c" -o "$out/hdr_cxx.o"

# Every function the library exports is declared in the header, and back.
echo "== exported symbols match include/muse.h"
nm -D --defined-only "$out/lib/libmuse.so.0.1.0" | awk '$2 == "T" {print $3}' | sort > "$out/exported.txt"
grep -oE '\bmuse_[a-z0-9_]+\(' "$root/include/muse.h" | tr -d '(' | sort -u > "$out/declared.txt"
if ! diff -u "$out/declared.txt" "$out/exported.txt"; then
    echo "exported symbols and header declarations differ (- header, + library)" >&2
    exit 1
fi
echo "   $(wc -l < "$out/exported.txt") functions"

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1:check_initialization_order=1:strict_string_checks=1:exitcode=66"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=67"

failed=0
run() {
    local name="$1"; shift
    local log="$out/${name//[^A-Za-z0-9_]/_}.log"
    if "$@" >"$log" 2>&1 && ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
        echo "   ok    $name ($(grep -E 'checks (passed|FAILED)' "$log" | tail -n1))"
    else
        echo "   FAIL  $name (log: $log)"
        sed 's/^/      /' "$log" | tail -n 60
        failed=1
    fi
}

echo "== C tests with ASan + UBSan ($("$cc" --version | head -n1))"
for t in "${tests[@]}"; do
    # Against the shared library (rpath to the private lib directory).
    "$cc" "${common[@]}" "${san[@]}" "$here/$t.c" -o "$out/$t.shared" \
        -L "$out/lib" -Wl,-rpath,"$out/lib" -lmuse -lpthread
    # Against the static library.
    "$cc" "${common[@]}" "${san[@]}" "$here/$t.c" -o "$out/$t.static" \
        "$out/lib/libmuse.a" $static_libs
done
readelf -d "$out/test_api.shared" | grep -q 'NEEDED.*libmuse.so.0' \
    || { echo "test binary does not record libmuse.so.0" >&2; exit 1; }
for t in "${tests[@]}"; do
    run "$t (shared)" env TMPDIR="${TMPDIR:-/tmp}" "$out/$t.shared"
    run "$t (static)" env TMPDIR="${TMPDIR:-/tmp}" "$out/$t.static"
done

if [[ $valgrind == 1 ]]; then
    echo "== C tests under valgrind (no sanitizers)"
    for t in "${tests[@]}"; do
        "$cc" "${common[@]}" "$here/$t.c" -o "$out/$t.plain" -L "$out/lib" -Wl,-rpath,"$out/lib" -lmuse -lpthread
        # "possibly lost" blocks are the library's process-wide caches (hash
        # tables hold interior pointers); definite and indirect leaks fail.
        run "$t (valgrind)" valgrind -q --error-exitcode=68 --leak-check=full \
            --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect "$out/$t.plain"
    done
fi

if [[ $failed != 0 ]]; then
    echo "== C tests FAILED"
    exit 1
fi
echo "== C tests passed"
