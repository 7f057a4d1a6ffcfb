#!/usr/bin/env bash
# fuzz.sh: builds the libFuzzer targets (tests/fuzz/) with clang and fuzzes
# each for a bounded time; the fuzz leg of .ci/run. Fails (exit 1) on any
# crash, leak, sanitizer report, timeout or out-of-memory of any target.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [BUILD_DIR]     (defaults: 45, build-fuzz)
#   FUZZ_JOBS=2 (default) targets run at once; FUZZ_TARGETS="wire jsonl" a subset
#
# Each target starts from a scratch copy of its committed seed corpus
# (tests/fuzz/corpus/<target>/, never modified here) and writes what it
# found (crash-*, leak-*, timeout-*, oom-*) to BUILD_DIR/fuzz-out/<target>/
# with its full log; a finding there is a new test case: copy it into the
# corpus once the bug is fixed. The last line per target is libFuzzer's
# final status line (executions, cov: edges, ft: features, corpus size),
# the figures docs/fuzzing.md records. LSan suppressions: tests/fuzz/lsan.supp.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${1:-45}
BUILD=${2:-build-fuzz}
JOBS=${FUZZ_JOBS:-2}
TARGETS=${FUZZ_TARGETS:-"attestation wire jsonl config entry tile_path note"}

CC=clang cmake -S . -B "$BUILD" -DATTEST_FUZZ=ON >/dev/null
cmake --build "$BUILD" -j2 --target $(printf 'fuzz_%s ' $TARGETS)

export LSAN_OPTIONS="suppressions=$ROOT/tests/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"

fuzz_one() {
  local t=$1 out="$BUILD/fuzz-out/$1"
  rm -rf "$out" && mkdir -p "$out/corpus"
  cp "$ROOT/tests/fuzz/corpus/$t/"* "$out/corpus/"
  # -close_fd_mask=1: the config target prints --help text to stdout
  if "$BUILD/fuzz/fuzz_$t" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 -detect_leaks=1 \
      -close_fd_mask=1 -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" >"$out/log" 2>&1; then
    printf '%-12s ok    %s\n' "$t" "$(grep -E '^#[0-9]+' "$out/log" | tail -n 1)"
  else
    printf '%-12s FAIL  (see %s/log)\n' "$t" "$out"
    grep -E 'ERROR|SUMMARY|oracle' "$out/log" | head -n 5
    return 1
  fi
}
export -f fuzz_one
export BUILD SECS ROOT

printf '%s\n' $TARGETS | xargs -P "$JOBS" -I{} bash -c 'fuzz_one {}' || {
  echo "fuzz: a target failed; findings in $BUILD/fuzz-out/<target>/" >&2
  exit 1
}
for t in $TARGETS; do
  if ls "$BUILD/fuzz-out/$t/" | grep -qE '^(crash|leak|timeout|oom|slow-unit)-'; then
    echo "fuzz: $t left a finding in $BUILD/fuzz-out/$t/" >&2
    exit 1
  fi
done
echo "fuzz: every target ran ${SECS} s without a finding"
