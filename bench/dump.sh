#!/bin/sh
# bench/dump.sh [RUNS] - how fast fltblame reads a kernel triage dump into a
# crash finding and parses a setupact.log (corpus files), release build.
# No peer runs side by side: the peers here read neither format.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-50}
cmake -S "$top" -B "$top/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$top/build-bench" -j2 --target bench_crash >/dev/null
echo "machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "runs: $runs (medians; first run pays the page cache)"
"$top/build-bench/tests/bench_crash" "$top/../shared/corpus" "$runs"
