#!/usr/bin/env python3
"""test_up_ready.py: `attest up` says "ready" only when the cluster is.

  * a healthy cluster: the "attest up: ready" line comes, and at that moment
    the broker's own metrics say the sink is up (attest_broker_sink_up 1)
    and a verifier thread of each worker (w0, w1) is registered;
  * workers pointed at a broker that is not there: no "ready" line; after
    --ready-timeout-ms a "not ready" line names the missing workers, and the
    cluster keeps running (Ctrl-C stops it, exit 0);
  * a sink pointed elsewhere: the "not ready" line says the sink has not
    registered with the broker.
"""
import os
import signal
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402

WORKERS = 2


class Up:
    def __init__(self, args, extra, tmp, name):
        self.metrics = C.free_run(2 + WORKERS)
        ports = [str(C.free_port()) for _ in range(3)]
        argv = [os.path.join(args.bin, "attest"), "up", "--data-dir", os.path.join(tmp, name), "--workers",
                str(WORKERS), "--frontend-port", ports[0], "--backend-port", ports[1], "--sink-port", ports[2],
                "--metrics-port", str(self.metrics), "--log-listen", "off"] + extra
        self.p = C.Proc(name, argv, os.path.join(tmp, name + ".err"))

    def wait_for(self, text, timeout):
        end = time.time() + timeout
        while time.time() < end:
            err = self.p.stderr_text()
            if text in err or not self.p.alive():
                return text in err
            time.sleep(0.05)
        return False

    def line(self, prefix):
        for ln in self.p.stderr_text().splitlines():
            if ln.startswith(prefix):
                return ln
        return ""

    def scrape(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics, timeout=5) as r:
            return r.read().decode()

    def stop(self):
        return self.p.stop(signal.SIGINT, grace=30)


def healthy(args, T, tmp):
    u = Up(args, [], tmp, "healthy")
    try:
        ok = u.wait_for("attest up: ready", 60)
        text = u.scrape() if ok else ""
        T.check("healthy: 'attest up: ready' is printed", ok, u.p.stderr_text()[-800:])
        lines = text.splitlines()
        T.check("healthy: when it is, the broker says attest_broker_sink_up 1", "attest_broker_sink_up 1" in lines,
                [x for x in lines if "sink_up" in x])
        seen = [i for i in range(WORKERS) if any(x.startswith('attest_broker_worker_inflight{worker="w%d/' % i)
                                                  for x in lines)]
        T.check("healthy: and a thread of every worker is registered", seen == list(range(WORKERS)), seen)
        ln = u.line("attest up: ready")
        T.check("healthy: the ready line says what is up", "sink is registered" in ln
                and "%d of %d workers connected" % (WORKERS, WORKERS) in ln, ln)
        T.check("healthy: no 'not ready' line", "not ready" not in u.p.stderr_text())
    finally:
        rc = u.stop()
    T.check("healthy: Ctrl-C stops it, exit 0", rc == 0, rc)


def not_ready(args, T, tmp, name, extra, want):
    u = Up(args, extra + ["--ready-timeout-ms", "2000"], tmp, name)
    try:
        ok = u.wait_for("attest up: not ready", 30)
        ln = u.line("attest up: not ready")
        T.check("%s: a 'not ready' line after --ready-timeout-ms" % name, ok, u.p.stderr_text()[-800:])
        T.check("%s: it names what is missing (%s)" % (name, want), want in ln, ln)
        time.sleep(1.0)
        T.check("%s: no 'ready' line, the cluster still runs" % name,
                "attest up: ready" not in u.p.stderr_text() and u.p.alive())
    finally:
        rc = u.stop()
    T.check("%s: Ctrl-C stops it, exit 0" % name, rc == 0, rc)


def worker_metrics(args, T, tmp):
    """--worker-args "--metrics 127.0.0.1:P": worker i serves on P + i."""
    base = C.free_run(WORKERS)
    u = Up(args, ["--worker-args", "--metrics 127.0.0.1:%d" % base], tmp, "worker-metrics")
    try:
        ok = u.wait_for("attest up: ready", 60)
        got = []
        for i in range(WORKERS):
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % (base + i), timeout=5) as r:
                    text = r.read().decode()
                got.append("attest_worker_" in text)
            except OSError:
                got.append(False)
        T.check("--worker-args --metrics: worker i on port %d + i" % base, ok and all(got), (got, u.p.stderr_text()[-500:]))
    finally:
        rc = u.stop()
    T.check("worker-metrics: Ctrl-C stops it, exit 0", rc == 0, rc)


def body(args, T):
    tmp = tempfile.mkdtemp(prefix="attest-ready-")
    healthy(args, T, tmp)
    worker_metrics(args, T, tmp)
    nowhere = "tcp://127.0.0.1:%d" % C.free_port()
    not_ready(args, T, tmp, "workers-elsewhere", ["--worker-args", "--broker " + nowhere],
              "0 of %d workers connected to the broker (missing: w0, w1)" % WORKERS)
    not_ready(args, T, tmp, "sink-elsewhere", ["--sink-args", "--broker " + nowhere],
              "the sink has not registered with the broker")


if __name__ == "__main__":
    sys.exit(C.main_wrapper("test_up_ready", body))
