#!/bin/sh
# bench-serve.sh: what the log server costs the pipeline (issue 9: "it never
# blocks or slows the sink; measure it"). Runs `attest bench -n N` twice on
# a fresh local cluster whose sink signs a checkpoint per commit: once
# alone, then once while READERS clients (default 2) read from `attest log
# serve` on that log in a loop: the checkpoint, then the rightmost partial
# tile of level 0 and 1, its entry bundle and a random full tile and bundle
# of the tree it names (one kept-alive HTTP/1.1 connection per reader).
# Prints both bench lines, their saturation ratios and the readers' rate.
#   scripts/bench-serve.sh [BUILD_DIR] [N] [READERS]
# N defaults to 200000 (docs/performance.md's saturation run). Run it on a
# quiet machine: the readers share the cores with the pipeline, which is
# part of what is measured (a server on another host would cost the sink
# only its LMDB readers). Needs /usr/bin/python3 for the readers.
set -eu
build=${1:-build}
n=${2:-200000}
readers=${3:-2}
A="$build/bin/attest"
tmp=$(mktemp -d /tmp/attest-bench-serve-XXXXXX)
serve_pid=
reader_pid=
cleanup() {
    [ -n "$reader_pid" ] && kill "$reader_pid" 2>/dev/null || true
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

bench() {   # bench DATA_DIR: the bench line on stdout, the rest in DATA_DIR.err (its cluster makes the log key)
    "$A" bench --progress false --n "$n" --data-dir "$1" 2>"$1.err" | grep '^bench:' || {
        echo "bench-serve: attest bench failed:" >&2
        tail -5 "$1.err" >&2
        exit 1
    }
}
ratio() { echo "$1" | sed -n 's/.* ratio=\([0-9.]*\).*/\1/p'; }

# The readers: READERS threads, each looping until the stop file exists;
# then one summary line.
readers_py='
import http.client, os, random, sys, threading, time
port, nthreads, stop = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
counts, lock = {}, threading.Lock()
def path(level, n, w=256):
    s = "%03d" % (n % 1000); n //= 1000
    while n:
        s = "x%03d/%s" % (n % 1000, s); n //= 1000
    return "/tile/%s/%s%s" % (level, s, "" if w == 256 else ".p/%d" % w)
def run():
    c, local = http.client.HTTPConnection("127.0.0.1", port, timeout=10), {}
    def get(p):
        c.request("GET", p); r = c.getresponse(); body = r.read()
        local[r.status] = local.get(r.status, 0) + 1
        return r.status, body
    while not os.path.exists(stop):
        try:
            st, body = get("/checkpoint")
            if st != 200:
                time.sleep(0.01); continue
            size = int(body.split(b"\n")[1])
            full, part = divmod(size, 256)
            if part:
                get(path(0, full, part)); get(path("entries", full, part))
            if full % 256:
                get(path(1, full // 256, full % 256))
            if full:
                k = random.randrange(full); get(path(0, k)); get(path("entries", k))
        except (OSError, http.client.HTTPException, ValueError, IndexError):
            local["error"] = local.get("error", 0) + 1
            c.close(); c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    with lock:
        for k, v in local.items():
            counts[k] = counts.get(k, 0) + v
t0 = time.time()
ts = [threading.Thread(target=run) for _ in range(nthreads)]
[t.start() for t in ts]; [t.join() for t in ts]
dt = time.time() - t0
total = sum(v for k, v in counts.items() if k != "error")
print("readers: %d threads, %d requests in %.1f s (%.0f/s), by status %s" % (nthreads, total, dt, total / dt, counts))
'

echo "== attest bench -n $n alone (checkpoints signed per commit)"
alone=$(bench "$tmp/alone")
echo "$alone"

echo "== attest bench -n $n with $readers clients reading tiles from attest log serve in a loop"
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
( bench "$tmp/with" >"$tmp/with.line" ) &
bench_pid=$!
i=0
while [ ! -e "$tmp/with/log/data.mdb" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
"$A" log serve --log-dir "$tmp/with/log" --listen "127.0.0.1:$port" 2>"$tmp/serve.err" &
serve_pid=$!
/usr/bin/python3 -c "$readers_py" "$port" "$readers" "$tmp/stop" >"$tmp/readers.out" &
reader_pid=$!
wait "$bench_pid" || { echo "bench-serve: attest bench failed with readers:" >&2; tail -5 "$tmp/with.err" >&2; exit 1; }
touch "$tmp/stop"
wait "$reader_pid" || true
reader_pid=
with=$(cat "$tmp/with.line")
echo "$with"
cat "$tmp/readers.out"
printf 'bench-serve: ratio alone=%s with_readers=%s (the issue: the server never slows the sink)\n' \
    "$(ratio "$alone")" "$(ratio "$with")"
