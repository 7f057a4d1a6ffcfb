#!/usr/bin/env python3
"""test_short_forms.py: host:port endpoints and short flags, on the real
executables.

A cluster whose every endpoint is written short: the broker binds
--frontend :P1 and --backend 127.0.0.1:P2, the sink binds --verdicts :P3 and
reads `broker = "127.0.0.1:P2"` from its --config file, the worker connects
with --broker 127.0.0.1:P2 --sink 127.0.0.1:P3, and `attest bench --broker
127.0.0.1:P1 -n 150` submits through it. The effective settings (CFG lines at
debug) show the full tcp:// form. Then the short flags of the tools:
`attest log tail -n 3`, `attest log export -o FILE`, `attest keygen -o FILE`
and `attest submit -k FILE`, against the long forms; and `-x`, a letter
that is no short name, is refused with exit 2.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402


def start(cl, T):
    p1, p2, p3 = cl.fport, cl.bport, cl.sport
    cl.broker = C.Proc("broker", [cl.exe("attest-broker"), "--frontend", ":%d" % p1, "--backend", "127.0.0.1:%d" % p2,
                                  "--log-level", "debug", "--insecure"], os.path.join(cl.tmp, "broker.err"))
    T.check("broker up on short endpoints", C.wait_port(p1, proc=cl.broker) and C.wait_port(p2, proc=cl.broker),
            cl.broker.stderr_text()[-500:])
    conf = os.path.join(cl.tmp, "sink.conf")
    with open(conf, "w") as f:
        f.write('broker = "127.0.0.1:%d"\n' % p2)
    cl.sink = C.Proc("sink", [cl.exe("attest-sink"), "--config", conf, "--log-dir", cl.log_dir, "--verdicts",
                              ":%d" % p3, "--log-level", "debug", "--insecure"], os.path.join(cl.tmp, "sink.err"))
    T.check("sink up", C.wait_port(p3, proc=cl.sink), cl.sink.stderr_text()[-500:])
    cl.start_worker("w0", extra=["--broker", "127.0.0.1:%d" % p2, "--sink", "127.0.0.1:%d" % p3,
                                 "--log-level", "debug"])
    return p1, p2, p3


def body(args, T):
    with C.Cluster(args.bin, secure=False) as cl:   # the endpoints are the point here, not the keys
        p1, p2, p3 = start(cl, T)
        b = C.Bench(args.bin, ["--broker", "127.0.0.1:%d" % p1, "--log-dir", cl.log_dir, "-n", "150",
                               "--producers", "1", "--insecure"], cl.tmp)
        T.check("bench through host:port endpoints completes", b.wait(120) == 0, b.output()[-500:])
        T.check("150 entries logged", len(C.read_log(cl.log_dir).entries) == 150)
        berr, serr = cl.broker.stderr_text(), cl.sink.stderr_text()
        werr = cl.workers[0].stderr_text()
        T.check("broker CFG shows full endpoints", ("CFG frontend = tcp://*:%d" % p1) in berr
                and ("CFG backend = tcp://127.0.0.1:%d" % p2) in berr, berr[:1500])
        T.check("sink CFG shows full endpoints (one from the file)", ("CFG broker = tcp://127.0.0.1:%d" % p2) in serr
                and ("CFG verdicts = tcp://*:%d" % p3) in serr, serr[:1500])
        T.check("worker CFG shows full endpoints", ("CFG sink = tcp://127.0.0.1:%d" % p3) in werr, werr[:1500])
        short_flags(cl, T)
        cl.stop_and_check(T)


def short_flags(cl, T):
    rc, out, err = cl.attest("log", "--dir", cl.log_dir, "tail", "-n", "3")
    lines = out.splitlines()
    T.check("attest log tail -n 3: three entries", rc == 0 and len(lines) == 3, (rc, out[-300:], err[-300:]))
    rc2, out2, _ = cl.attest("log", "--dir", cl.log_dir, "tail", "--n", "3")
    T.check("... the same as --n 3", rc2 == 0 and out2 == out)
    path = os.path.join(cl.tmp, "export.jsonl")
    rc, _, err = cl.attest("log", "--dir", cl.log_dir, "export", "-o", path)
    with open(path) as f:
        n = sum(1 for _ in f) if rc == 0 else -1
    T.check("attest log export -o FILE writes every entry", rc == 0 and n == 150, (rc, n, err[-300:]))
    key = os.path.join(cl.tmp, "p.key")
    rc, _, err = cl.attest("keygen", "-o", key)
    T.check("attest keygen -o FILE", rc == 0 and os.path.exists(key), err[-300:])
    line = json.dumps({"schema": "ex.v1", "subject": "s-1", "data": "hello"}) + "\n"
    rc, out, err = cl.attest("submit", "--broker", "127.0.0.1:%d" % cl.fport, "-k", key, "--insecure", stdin=line, timeout=60)
    T.check("attest submit -k FILE --broker HOST:PORT", rc == 0, (rc, out[-300:], err[-300:]))
    rc, _, err = cl.attest("log", "--dir", cl.log_dir, "tail", "-x")
    T.check("an unknown short flag -x: exit 2 naming it", rc == 2 and "'-x'" in err, (rc, err[-300:]))
    rc, _, err = cl.attest("submit", "--broker", "localhost", stdin="")
    T.check("--broker localhost (no port): exit 2, says what it wants", rc == 2 and "HOST:PORT" in err,
            (rc, err[-300:]))


if __name__ == "__main__":
    sys.exit(C.main_wrapper("test_short_forms", body))
