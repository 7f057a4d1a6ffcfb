#!/usr/bin/env python3
"""test_notify.py: the daemons speak systemd's notify protocol (Type=notify).

Each daemon gets its own NOTIFY_SOCKET, a unix datagram socket this test
binds, and must send there:

  * the worker, started before any broker exists: no READY=1 while it has
    no broker to hear from; READY=1 once the broker is up (it is connected);
  * the broker: READY=1 once it is bound, and, with WATCHDOG_USEC=400000,
    WATCHDOG=1 keep-alives at least every 200 ms or so;
  * the sink: READY=1 once its log is open and its socket bound;
  * all three: STOPPING=1 on SIGTERM, and exit 0.

And a NOTIFY_SOCKET that names nothing is not fatal: a broker so started
runs and stops normally.
"""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402


class Listener:
    """A unix datagram socket standing in for systemd's notify socket."""

    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.s.settimeout(0.1)
        self.got = []           # every assignment received, in order ("READY=1", "STATUS=...")

    def read(self, timeout):
        """Reads datagrams for up to timeout seconds (stops at the first
        quiet 100 ms after timeout); returns the new assignments."""
        new, end = [], time.time() + timeout
        while time.time() < end:
            try:
                data = self.s.recv(4096)
            except socket.timeout:
                continue
            new += data.decode(errors="replace").split("\n")
        self.got += new
        return new

    def wait_for(self, what, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if what in self.read(0.2) or what in self.got:
                return True
        return what in self.got


def env_for(sock, **extra):
    env = dict(os.environ)
    env.pop("WATCHDOG_USEC", None)
    env.pop("WATCHDOG_PID", None)
    env["NOTIFY_SOCKET"] = sock.path
    env.update(extra)
    return env


def body(args, T):
    with C.Cluster(args.bin) as cl:
        ls = {r: Listener(os.path.join(cl.tmp, "notify-%s.sock" % r)) for r in ("broker", "sink", "worker")}

        cl.env = env_for(ls["worker"])
        cl.start_worker("w0")
        ls["worker"].read(2.0)
        T.check("worker without a broker: no READY=1", "READY=1" not in ls["worker"].got, ls["worker"].got)

        cl.env = env_for(ls["broker"], WATCHDOG_USEC="400000")
        cl.start_broker()
        T.check("broker: READY=1 once bound", ls["broker"].wait_for("READY=1", 10), ls["broker"].got)
        ls["broker"].got = []
        ls["broker"].read(1.5)
        pings = ls["broker"].got.count("WATCHDOG=1")
        T.check("broker: WATCHDOG=1 keep-alives with WATCHDOG_USEC=400000 (>= 4 in 1.5 s, got %d)" % pings,
                pings >= 4, ls["broker"].got)

        cl.env = env_for(ls["sink"])
        cl.start_sink()
        T.check("sink: READY=1 once its log is open and bound", ls["sink"].wait_for("READY=1", 10), ls["sink"].got)
        T.check("worker: READY=1 once the broker is there", ls["worker"].wait_for("READY=1", 15), ls["worker"].got)
        T.check("worker: its STATUS says it is connected",
                any(x.startswith("STATUS=") and "connected" in x for x in ls["worker"].got), ls["worker"].got)

        codes = cl.stop()
        T.check("every daemon exits 0 on SIGTERM", all(v == 0 for v in codes.values()), codes)
        for role, sock in ls.items():
            sock.read(0.3)
            T.check("%s: STOPPING=1 on SIGTERM" % role, "STOPPING=1" in sock.got, sock.got)

        port = C.free_port()
        env = dict(os.environ, NOTIFY_SOCKET=os.path.join(cl.tmp, "nobody-listens.sock"))
        argv = [cl.exe("attest-broker"), "--frontend", "tcp://127.0.0.1:%d" % port,
                "--backend", "tcp://127.0.0.1:%d" % C.free_port(), "--insecure"]
        p = C.Proc("broker-nosock", argv, os.path.join(cl.tmp, "broker-nosock.err"), env)
        up = C.wait_port(port, proc=p)
        time.sleep(0.3)
        T.check("a NOTIFY_SOCKET nobody listens on: the broker runs", up and p.alive(), p.stderr_text()[-400:])
        T.check("... and stops with exit 0", p.stop(signal.SIGTERM) == 0, p.stderr_text()[-400:])


if __name__ == "__main__":
    sys.exit(C.main_wrapper("test_notify", body))
