#!/usr/bin/env python3
"""test_up_failfast.py: `attest up` fails fast, with the real cause.

  * a child that exits 2 (bad usage or configuration) stops the cluster at
    once, and its own message is on stderr;
  * a broker that refuses its arguments is reported as such, not as "ports
    in use";
  * a port held by another process refuses the start (no worker joins
    another cluster's sink);
  * a crash loop backs off exponentially and gives up after 8 tries, exit 1.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402


def up(args, extra, timeout):
    d = tempfile.mkdtemp(prefix="attest-up-")
    ports = [str(C.free_port()) for _ in range(3)]
    argv = [os.path.join(args.bin, "attest"), "up", "--data-dir", os.path.join(d, "data"), "--workers", "1",
            "--frontend-port", ports[0], "--backend-port", ports[1], "--sink-port", ports[2]] + extra
    t0 = time.time()
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stderr, time.time() - t0
    except subprocess.TimeoutExpired as e:
        return None, (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or ""), \
            time.time() - t0


def body(args, T):
    rc, err, dt = up(args, ["--worker-args", "--bogus"], 30)
    T.check("worker exit 2: cluster stops, exit 1", rc == 1 and dt < 10, "rc=%s dt=%.1f" % (rc, dt))
    T.check("worker exit 2: the worker's own message is shown",
            "unknown option '--bogus'" in err and "worker-0 exited with status 2" in err, err[-600:])

    rc, err, dt = up(args, ["--broker-args", "--bogus"], 30)
    T.check("broker exit 2: named as refused arguments", rc == 1 and "broker exited (status 2)" in err
            and "refused its arguments" in err and "in use" not in err, err[-600:])

    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    held = s.getsockname()[1]
    rc, err, dt = up(args, ["--sink-port", str(held)], 30)
    s.close()
    T.check("a port in use refuses the start", rc == 1 and ("port %d (sink) is in use" % held) in err, err[-400:])

    rc, err, dt = up(args, ["--worker-args", "--broker bogus://x"], 90)
    delays = [float(x) for x in re.findall(r"worker-0 exited \(status 1\): restarting it in ([0-9.]+) s", err)]
    T.check("crash loop: 8 restarts, each later than the last", len(delays) == 8
            and all(b >= a for a, b in zip(delays, delays[1:])) and delays[-1] > delays[0] * 8, delays)
    T.check("crash loop: gives up, exit 1", rc == 1 and "exited 9 times in a row" in err and "giving up" in err,
            "rc=%s %s" % (rc, err[-400:]))


if __name__ == "__main__":
    sys.exit(C.main_wrapper("test_up_failfast", body))
