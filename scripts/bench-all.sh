#!/usr/bin/env bash
# bench-all.sh: runs every benchmark quoted in docs/performance.md, one line
# of output each. Run on a quiet machine (nothing else using the CPU): the
# figures are only comparable when the benchmark has the cores to itself.
#   scripts/bench-all.sh [build/bin]
set -euo pipefail
BIN=${1:-build/bin}
A="$BIN/attest"
run() { echo "\$ attest bench $*"; "$A" bench --progress false "$@" 2>/dev/null | grep '^bench:'; }

echo "== saturation, durable commits (target ratio >= 0.85)"
run --n 200000 --workers 2 --threads 1
echo "== half of verify_limit (target p99 <= 10 ms)"
limit=$("$A" bench --n 20000 --workers 2 --threads 1 --progress false 2>/dev/null | grep -o 'verify_limit=[0-9]*' | cut -d= -f2)
run --n 200000 --workers 2 --threads 1 --rate $((limit / 2))
echo "== overload: one producer offering 10x what the workers verify (memory bound)"
run --n 200000 --workers 2 --threads 1 --producers 1 --rate $((limit * 10))
echo "== heterogeneous: one of two workers 2 ms slower per task"
run --n 100000 --workers 2 --threads 1 --slow-workers 1 --slow-delay-us 2000
echo "== worker scaling, simulated 2 ms verification (ideal W x 500/s)"
for W in 1 2 4 8 16 32; do run --n $((W * 3000)) --workers $W --threads 1 --sim-verify-us 2000; done
