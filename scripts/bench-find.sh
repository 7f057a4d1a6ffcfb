#!/bin/sh
# bench-find.sh: the time `attest log find --attester KEY` takes on a log of
# N entries (default 1,000,000) by A attesters (default 1000), written
# directly through the store library by build/tests/mklog (the find indexes
# included, as the sink writes them). Prints the best of R runs (default 5)
# of the whole command (process start to exit, output to /dev/null), in
# the default table format and in JSON lines.
#   scripts/bench-find.sh [BUILD_DIR] [N] [A] [R]
# The log goes to a temporary directory (about 0.5 KB per entry), removed at
# the end. The target: under 50 ms at 1,000,000 entries.
set -eu
build=${1:-build}
n=${2:-1000000}
attesters=${3:-1000}
runs=${4:-5}
dir=$(mktemp -d /tmp/attest-bench-find-XXXXXX)
trap 'rm -rf "$dir"' EXIT INT TERM
key=$("$build/tests/mklog" "$dir/log" "$n" "$attesters" | tail -1)
# best_us FORMAT: the best wall time of the command in us over the runs
best_us() {
    best=
    for r in $(seq "$runs"); do
        t0=$(date +%s%N)
        "$build/bin/attest" log --log-dir "$dir/log" find --attester "$key" --format "$1" >/dev/null 2>"$dir/err"
        t1=$(date +%s%N)
        us=$(( (t1 - t0) / 1000 ))
        if [ -z "$best" ] || [ "$us" -lt "$best" ]; then best=$us; fi
    done
    echo "$best"
}
table=$(best_us table)
json=$(best_us json)
matches=$(sed -n 's/^find: \([0-9]*\) entr.*/\1/p' "$dir/err")
printf 'bench-find: entries=%s attesters=%s matches=%s find_ms=%d.%03d json_ms=%d.%03d (best of %s, the whole command, output to /dev/null; find_ms: the default table format)\n' \
    "$n" "$attesters" "$matches" $((table / 1000)) $((table % 1000)) $((json / 1000)) $((json % 1000)) "$runs"
