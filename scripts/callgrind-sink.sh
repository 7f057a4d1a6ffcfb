#!/usr/bin/env bash
# callgrind-sink.sh: the sink's instructions per attestation, immune to the
# machine's noise (performance.md 10). Runs `attest bench` with the sink
# (only) under valgrind --tool=callgrind, all its threads in one profile,
# and prints the inclusive instruction count (Ir) per attestation of its
# main pieces; the profile is kept for callgrind_annotate.
#   scripts/callgrind-sink.sh [N] [build-rel/bin] [OUT]
# The bench finds its executables beside `attest`, so a temporary directory
# holds copies of them with attest-sink replaced by a wrapper. The sink runs
# ~30x slower under valgrind: its group commits are larger than at native
# speed, so per-commit costs (fdatasync, checkpoint) weigh less here.
# valgrind does not execute SHA-NI: libcrypto falls back to its SSSE3/AVX
# SHA-256, so the sha256 lines are an upper bound (time them with
# tests/bench/shabench).
set -euo pipefail
N=${1:-20000}
BIN=$(cd "${2:-build-rel/bin}" && pwd)
OUT=${3:-/tmp/callgrind.sink.out}
command -v valgrind >/dev/null || { echo "callgrind-sink: valgrind not found" >&2; exit 1; }
D=$(mktemp -d /tmp/attest-cg-XXXXXX)
trap 'rm -rf "$D"' EXIT
cp "$BIN/attest" "$BIN/attest-broker" "$BIN/attest-worker" "$D/"
cp "$BIN/attest-sink" "$D/attest-sink.real"
printf '#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s %s/attest-sink.real "$@"\n' "$OUT" "$D" \
  >"$D/attest-sink"
chmod +x "$D/attest-sink"
rm -f "$OUT"
"$D/attest" bench --n "$N" --workers 2 --threads 1 --progress false 2>&1 | grep '^bench: n='
[ -s "$OUT" ] || { echo "callgrind-sink: no profile written to $OUT" >&2; exit 1; }
callgrind_annotate --inclusive=yes "$OUT" 2>/dev/null >"$D/annotate"
echo "Ir per attestation (inclusive), n=$N:"
for s in "PROGRAM TOTALS" sink_run s_commit_once logdb_append tiles_add merkle_leaf_hash merkle_node_hash \
         entry_hash findex_add entry_encode logdb_commit findex_write s_drain start_thread s_thread \
         crypto_secretbox_open_detached; do
  v=$(grep -m1 -E "(PROGRAM TOTALS|[:?]$s )" <(grep -F "$s" "$D/annotate") | awk '{gsub(",", "", $1); print $1}')
  [ -n "$v" ] && awk -v s="$s" -v v="$v" -v n="$N" 'BEGIN { printf "  %-32s %8.0f\n", s, v / n }'
done
echo "profile: $OUT"
