#!/usr/bin/env bash
# cpu-per-process.sh: where the CPU goes in a saturated run. Starts a local
# cluster (attest up, 2 workers x 1 thread), runs `attest bench` against it
# and prints the CPU seconds each process used (user + system, from
# /proc/PID/stat), the microseconds of CPU per attestation, and the context
# switches of all their threads (/proc/PID/task/*/status).
#   scripts/cpu-per-process.sh [N] [build/bin]
set -euo pipefail
N=${1:-200000}
BIN=$(cd "${2:-build/bin}" && pwd)
D=$(mktemp -d /tmp/attest-cpu-XXXXXX)
trap 'kill -INT $UP 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$D"' EXIT
"$BIN/attest" up --data-dir "$D" --frontend-port 0 --backend-port 0 --sink-port 0 --log-level warn 2>"$D/up.err" &
UP=$!
for _ in $(seq 50); do grep -q 'producers connect to' "$D/up.err" 2>/dev/null && break; sleep 0.1; done
FE=$(grep -o 'tcp://127.0.0.1:[0-9]*' "$D/up.err" | head -1)
sleep 0.5
# name, CPU ticks, context switches (voluntary + involuntary, all threads)
cpu() { for p in $(pgrep -P $UP); do
          printf '%s %s %s\n' "$(basename "$(tr '\0' ' ' </proc/$p/cmdline | cut -d' ' -f1)")" \
            "$(awk '{print $14+$15}' /proc/$p/stat)" \
            "$(cat /proc/$p/task/*/status 2>/dev/null | awk '/ctxt_switches/ {n += $2} END {print n}')"
        done; }
cpu >"$D/before"
LINE=$("$BIN/attest" bench --n "$N" --broker "$FE" --log-dir "$D/log" --progress false 2>/dev/null | grep '^bench:')
echo "$LINE"
cpu >"$D/after"
RATE=$(echo "$LINE" | grep -o ' rate=[0-9]*' | cut -d= -f2)
paste "$D/before" "$D/after" | awk -v n="$N" -v hz="$(getconf CLK_TCK)" -v secs="$(echo "$N / $RATE" | bc -l)" \
  '{d=($5-$2)/hz; c=$6-$3; total+=c
    printf "%-14s %6.2f s CPU  %6.2f us/attestation  %7d context switches\n", $1, d, d*1e6/n, c}
   END {printf "context switches of these processes: %d (%.0f/s over the timed part, n / rate)\n", total, total/secs}'
