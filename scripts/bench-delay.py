#!/usr/bin/python3
"""bench-delay.py: throughput with distant workers (a benchmark, not a test).

Runs, for each added round trip (default 0, 25, 50 and 100 ms), a fresh
cluster on loopback: broker and sink as usual, and W worker "hosts" (default
2) whose links to the broker and to the sink both go through their own
tests/tools/delayproxy (one-way delay RTT/2 each way, so every worker link
has RTT more round trip; the producers and the sink's link to the broker
are not delayed). Then `attest bench --broker ... --log-dir ... --rate R`
offers the same load at every delay, and it prints, per delay, the bench's
rate, the steady throughput read back from the log (entries per second by
t_committed over the middle 60% of the run), their ratio to the 0 ms run,
and the broker's per-worker window and network RTT estimate
(attest_broker_worker_window / _rtt_seconds, sampled mid-run; "-" when the
broker does not export them).

The workers simulate verification (--sim-verify-us, default 200: each
verifier thread's capacity is exactly 5,000/s without using the CPU), so the
figures measure the dispatch and its window, not the shared machine's CPU.
Choose --rate below saturation: what the 0 ms case reaches unpaced (run
with --rate 0 --delays 0 to see it) less a margin.

    /usr/bin/python3 scripts/bench-delay.py --bin build/bin [--rate 8000] [--n 80000]
        [--delays 0,25,50,100] [--workers 2] [--threads 2] [--sim-verify-us 200]
        [--repeat 1] [--worker-args "..."] [--broker-args "..."] [--curve]

Needs python3-lmdb and python3-msgpack (Debian's /usr/bin/python3). Runs as
any user (no namespaces: the delay is the relay's); root is not needed.
"""
import argparse
import atexit
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import cluster as cl  # noqa: E402


_PROXIES = []


def _stop_proxies():
    for ps in _PROXIES:
        for p in ps:
            if p.poll() is None:
                p.terminate()


atexit.register(_stop_proxies)


def start_proxy(tooldir, tmp, name, target_port, delay_ms):
    """A delayproxy in front of 127.0.0.1:target_port; returns (proc, port)."""
    err = os.path.join(tmp, "proxy-%s.err" % name)
    p = subprocess.Popen([os.path.join(tooldir, "delayproxy"), "--listen", "127.0.0.1:0", "--target",
                          "127.0.0.1:%d" % target_port, "--delay-ms", "%g" % delay_ms],
                         stdout=subprocess.PIPE, stderr=open(err, "ab"), text=True, start_new_session=True)
    line = p.stdout.readline()
    m = re.search(r"listening on .*:(\d+)$", line.strip())
    if not m:
        p.kill()
        raise RuntimeError("delayproxy did not start: %r" % line)
    return p, int(m.group(1))


def ready_count(broker):
    return broker.stderr_text().count(" ready with credit ")


def scrape(port):
    """{worker: (window, rtt_s, inflight)} from the broker's /metrics."""
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2).read().decode()
    except OSError:
        return {}
    out = {}
    for name, idx in (("attest_broker_worker_window", 0), ("attest_broker_worker_rtt_seconds", 1),
                      ("attest_broker_worker_inflight", 2)):
        for m in re.finditer(r'^%s\{worker="([^"]+)"\} (\S+)$' % name, text, re.M):
            out.setdefault(m.group(1), [None, None, None])[idx] = float(m.group(2))
    return out


def steady_rate(log_dir, first_index):
    """Entries per second by t_committed over the middle 60% of this run's entries."""
    log = cl.read_log(log_dir)
    ts = sorted(e["t_committed"] for e in log.entries[first_index:])
    if len(ts) < 100:
        return 0.0
    lo, hi = ts[len(ts) // 5], ts[len(ts) * 4 // 5]
    return (len(ts) * 3 // 5) / ((hi - lo) / 1e6) if hi > lo else 0.0


def run_one(a, rtt_ms):
    bindir = os.path.abspath(a.bin)
    tooldir = os.path.join(os.path.dirname(bindir), "tests")
    mport = cl.free_port()
    c = cl.Cluster(bindir, secure=a.curve)
    proxies = []
    _PROXIES.append(proxies)
    try:
        c.start_broker(["--metrics", "127.0.0.1:%d" % mport] + shlex.split(a.broker_args))
        c.start_sink()
        for h in range(a.workers):
            pb, bport = start_proxy(tooldir, c.tmp, "h%d-broker" % h, c.bport, rtt_ms / 2.0)
            ps, sport = start_proxy(tooldir, c.tmp, "h%d-sink" % h, c.sport, rtt_ms / 2.0)
            proxies += [pb, ps]
            argv = [c.exe("attest-worker"), "--broker", "tcp://127.0.0.1:%d" % bport, "--sink",
                    "tcp://127.0.0.1:%d" % sport, "--threads", str(a.threads), "--id", "h%d" % h,
                    "--sim-verify-us", str(a.sim_verify_us)] + c.key_args("worker") + shlex.split(a.worker_args)
            c.workers.append(cl.Proc("worker-h%d" % h, argv, os.path.join(c.tmp, "worker-h%d.err" % h)))
        end = time.time() + 20
        while ready_count(c.broker) < a.workers * a.threads and time.time() < end:
            time.sleep(0.05)
        if ready_count(c.broker) < a.workers * a.threads:
            raise RuntimeError("workers did not register:\n" + c.broker.stderr_text()[-2000:])
        first = cl.log_count(c.log_dir)
        samples = []
        stop = threading.Event()

        def sampler():   # mid-run: once half of this run's entries are in the log
            while not stop.is_set() and cl.log_count(c.log_dir) < first + a.n // 2:
                time.sleep(0.1)
            if not stop.is_set():
                samples.append(scrape(mport))
        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        b = cl.Bench(bindir, ["--broker", c.frontend, "--log-dir", c.log_dir, "--n", str(a.n), "--rate", str(a.rate),
                              "--producers", str(a.producers), "--workers", str(a.workers), "--threads",
                              str(a.threads), "--sim-verify-us", str(a.sim_verify_us)], c.tmp)
        rc = b.wait(a.n / max(a.rate, 1000) * 4 + 120)
        stop.set()
        out = cl.parse_bench(b.output())
        if rc != 0 or not out:
            raise RuntimeError("bench failed (rc %s):\n%s" % (rc, b.output()[-2000:]))
        steady = steady_rate(c.log_dir, first)
        return out, steady, (samples[0] if samples else {})
    finally:
        for p in proxies:
            p.terminate()
        c.close()
        for p in proxies:
            p.wait(timeout=5)


def fmt_workers(snap):
    if not snap:
        return ""
    parts = []
    for w in sorted(snap):
        win, rtt, infl = snap[w]
        parts.append("%s:win=%s,infl=%s,rtt=%s" % (w, "-" if win is None else "%d" % win,
                                                   "-" if infl is None else "%d" % infl,
                                                   "-" if rtt is None else "%.1fms" % (rtt * 1000)))
    return " " + " ".join(parts)


def main():
    # SIGTERM: exit through atexit, which stops the cluster's processes (own sessions).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    ap = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--delays", default="0,25,50,100", help="added round trips to the worker hosts, ms")
    ap.add_argument("--rate", type=int, default=8000, help="offered load, attestations/s (same at every delay)")
    ap.add_argument("--n", type=int, default=80000)
    ap.add_argument("--producers", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="worker hosts (processes), each behind its own relays")
    ap.add_argument("--threads", type=int, default=2, help="verifier threads per worker")
    ap.add_argument("--sim-verify-us", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--worker-args", default="")
    ap.add_argument("--broker-args", default="")
    ap.add_argument("--curve", action="store_true", help="CURVE on every link (default: --insecure)")
    a = ap.parse_args()
    delays = [float(x) for x in a.delays.split(",")]
    print("bench-delay: rate=%d/s n=%d workers=%d threads=%d sim_verify_us=%d (capacity %d/s)"
          % (a.rate, a.n, a.workers, a.threads, a.sim_verify_us,
             a.workers * a.threads * 1000000 // max(a.sim_verify_us, 1)), flush=True)
    base = {}
    for r in range(a.repeat):
        for d in delays:
            out, steady, snap = run_one(a, d)
            if d == delays[0]:
                base = {"rate": out["rate"], "steady": steady}
            ratio = out["rate"] / base["rate"] if base.get("rate") else 0
            sratio = steady / base["steady"] if base.get("steady") else 0
            print("bench-delay: rtt_ms=%g rate=%d/s ratio=%.3f steady=%.0f/s steady_ratio=%.3f lost=%d dup=%d order=%s%s"
                  % (d, out["rate"], ratio, steady, sratio, out["lost"], out["dup"], out["order"], fmt_workers(snap)),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
