#!/usr/bin/env bash
# The C-vs-Python write_object benchmark: N distinct 272-byte blobs written
# one call at a time into a fresh repository under `[core] fsync = "off"`,
# blob IDs computed before timing, best and median over ROUNDS alternating rounds.
#
#   bench/run_c_bench.sh [N] [ROUNDS]     (defaults: 10000, 5)
#   bench/run_c_bench.sh --quick          (N = 1000, 1 round: a smoke run)
#
# C:      bench/bench_c_write.c linked against target/release/libmuse.so
# Python: muse.core.object_store.write_object from the installed wheel
#         ($PYTHON, default ./.venv/bin/python, else python3)
# Needs a release build of muse-ffi (built or brought up to date here) and, for the
# Python row, the `muse` package importable. Exit status 0 unless a run fails
# (the numbers are a report, not a gate).
#
# Where: the repositories go to $TMPDIR (default /tmp). On ext4, right after
# many files were deleted (earlier rounds, other jobs), creating inodes gets
# up to 10x slower for a while (the kernel's `recently_deleted` scan in the
# inode allocator), which makes wall and CPU times bimodal for both engines
# alike; TMPDIR=/dev/shm (tmpfs) measures the library without that noise.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
n=10000
reps=5
if [[ "${1:-}" == "--quick" ]]; then
    n=1000; reps=1
else
    n="${1:-$n}"; reps="${2:-$reps}"
fi
out="$root/target/bench-c"
rel="$root/target/release"
(cd "$root" && cargo build -p muse-ffi --release --quiet)  # a no-op when up to date; never a stale library
mkdir -p "$out/lib"
ln -sf "$rel/libmuse.so" "$out/lib/libmuse.so.0"
ln -sf libmuse.so.0 "$out/lib/libmuse.so"
"${CC:-cc}" -std=c11 -O2 -Wall -Wextra -Werror -I "$root/include" "$here/bench_c_write.c" -o "$out/bench_c_write" \
    -L "$out/lib" -Wl,-rpath,"$out/lib" -lmuse

py="${PYTHON:-}"
if [[ -z "$py" ]]; then
    if [[ -x "$root/.venv/bin/python" ]]; then py="$root/.venv/bin/python"; else py=python3; fi
fi
cat > "$out/bench_py_write.py" <<'PY'
import os, shutil, sys, tempfile, time
from muse.core.object_store import write_object
from muse.core.repo import init_repo
from muse.core.types import blob_id
n = int(sys.argv[1])
data = [f"perf-obj-{i:08d}".encode() * 16 for i in range(n)]
oids = [blob_id(c) for c in data]          # untimed, as in the C program
d = tempfile.mkdtemp(prefix="muse-bench-py-")
init_repo(d)
with open(os.path.join(d, ".muse", "config.toml"), "w", encoding="utf-8") as f:
    f.write('[core]\nfsync = "off"\n\n[limits]\nmax_ancestors = 50000\n')
written = 0
c0 = time.process_time()
t0 = time.perf_counter()
for oid, c in zip(oids, data):
    written += write_object(d, oid, c)
secs = time.perf_counter() - t0
cpu = time.process_time() - c0
assert written == n, (written, n)
print(f"rep 1: {n} x write_object: {secs:.4f} s ({secs / n * 1e6:.2f} us/op), cpu {cpu:.4f} s")
shutil.rmtree(d)
PY

# The machine may be shared: alternate the two engines, one repetition
# each per round (C first in odd rounds, Python first in even ones), so
# that a burst of load hits both alike. Wall time and CPU time (user +
# system of the process during the loop) are both reported; CPU time is
# the steadier of the two on a busy machine.
c_times=(); c_cpu=(); py_times=(); py_cpu=()
run_c() { "$out/bench_c_write" "$n" 1 | awk '/^rep/ {print $6, $11}'; }
run_py() { "$py" "$out/bench_py_write.py" "$n" | awk '/^rep/ {print $6, $11}'; }
tmp="${TMPDIR:-/tmp}"
echo "== $reps round(s) of $n x write_object, C (libmuse) and Python ($("$py" --version 2>&1)), fsync=off," \
    "in $tmp ($(stat -f -c %T "$tmp"))"
for ((r = 1; r <= reps; r++)); do
    if (( r % 2 )); then c=$(run_c); p=$(run_py); else p=$(run_py); c=$(run_c); fi
    read -r cw cc <<<"$c"
    read -r pw pc <<<"$p"
    echo "round $r: C wall $cw s cpu $cc s | Python wall $pw s cpu $pc s"
    c_times+=("$cw"); c_cpu+=("$cc"); py_times+=("$pw"); py_cpu+=("$pc")
done
"$py" - "$n" "${c_times[*]}" "${c_cpu[*]}" "${py_times[*]}" "${py_cpu[*]}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
rows = {}
for name, wall, cpu in (("C (libmuse)", sys.argv[2], sys.argv[3]), ("Python", sys.argv[4], sys.argv[5])):
    w = [float(x) for x in wall.split()]
    c = [float(x) for x in cpu.split()]
    rows[name] = (min(w), statistics.median(w), min(c), statistics.median(c))
    print(f"{name:12s} write_object x{n}: wall best {min(w):.4f} s ({min(w) / n * 1e6:.1f} us/op), "
          f"median {statistics.median(w):.4f} s; cpu best {min(c):.4f} s ({min(c) / n * 1e6:.1f} us/op), "
          f"median {statistics.median(c):.4f} s")
cw, _, cc, ccm = rows["C (libmuse)"]
pw, _, pc, pcm = rows["Python"]
print(f"C / Python: wall best {cw / pw:.2f}, cpu best {cc / pc:.2f}, cpu median {ccm / pcm:.2f}")
PY
