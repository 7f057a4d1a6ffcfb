#!/usr/bin/env python3
"""test_submit_connect.py: `attest submit` tells a broker that is not there
from one that is there but cannot admit.

  * nothing listens at --broker: after --connect-timeout-ms (1500) it exits
    1 saying "the broker at X did not answer HELLO within 1500 ms", well
    before --timeout-ms (60 s), having read no line (no output line);
  * a broker that answers but grants no credit (no sink yet): no "did not
    answer" line; the wait for credit is the one that ends (--timeout-ms);
  * the broker says why admission is closed (ERROR no_sink, protocol.md
    5.10): after WELCOME and after PONG, to a producer speaking the protocol
    directly; `attest submit`'s CLI-WAIT line and its final line error name
    the cause ("has no sink", "no sink has registered"); once a sink is
    there, no notice and submits go through; with the sink stopped, once the
    broker takes it for lost (BRK-SINK-LOST), the notice says it is silent,
    and when it is back submits go through again.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402

NO_SINK = 31
LINE = json.dumps({"schema": "s/connect", "subject": "x", "data": "hello"}) + "\n"


def keyfile(c):
    path = os.path.join(c.tmp, "producer.key")
    if not os.path.exists(path):
        rc, _, err = c.attest("keygen", "--out", path)
        if rc != 0:
            raise RuntimeError("attest keygen failed: " + err)
    return path


def submit(c, endpoint, extra, timeout=120):
    t0 = time.time()
    rc, out, err = c.attest("submit", "--broker", endpoint, *c.client_args(), "--key", keyfile(c), *extra,
                            stdin=LINE, timeout=timeout)
    return rc, out, err, time.time() - t0


def nobody(c, T):
    ep = "tcp://127.0.0.1:%d" % C.free_port()
    rc, out, err, dt = submit(c, ep, ["--connect-timeout-ms", "1500", "--timeout-ms", "60000"])
    T.check("no broker: exit 1 after the connect timeout (%.1f s), not the 60 s credit wait" % dt,
            rc == 1 and 1.4 < dt < 15, (rc, dt, err[-400:]))
    T.check("no broker: says the broker at X did not answer HELLO within 1500 ms",
            "the broker at %s did not answer HELLO within 1500 ms" % ep in err, err[-400:])
    T.check("no broker: no line was read or answered", out.strip() == "", out[:300])


def no_credit(c, T):
    rc, out, err, dt = submit(c, c.frontend, ["--connect-timeout-ms", "1500", "--timeout-ms", "3500"])
    T.check("broker without a sink: exit 1 after the credit wait", rc == 1 and dt >= 3.4, (rc, dt, err[-400:]))
    T.check("broker without a sink: not reported as a broker that did not answer", "did not answer" not in err,
            err[-400:])
    T.check("broker without a sink: CLI-WAIT says the broker at X has no sink, none registered yet",
            "CLI-WAIT" in err and "the broker at %s has no sink" % c.frontend in err
            and "no sink has registered with the broker yet" in err, err[-600:])
    T.check("broker without a sink: the line ends with no credit, naming the cause",
            "no credit from the broker at %s within 3500 ms: it has no sink" % c.frontend in err, err[-600:])
    return err


def notices(c, T, label, want):
    """HELLO and PING as a bare producer; the ERROR no_sink notices seen."""
    p = C.Producer(c.frontend, "probe-" + label)
    ok = p.hello()
    p.drain(0.5)
    after_welcome = [e for e in p.errors if e[0] == NO_SINK]
    p.errors.clear()
    p.sock.send(C.pack(C.PING))
    got_pong, end = False, time.time() + 5
    while time.time() < end and not (got_pong and (p.errors or not want)):
        m = p.recv(0.2)
        got_pong = got_pong or (m is not None and m[1] == C.PONG)
    p.drain(0.3)
    after_pong = [e for e in p.errors if e[0] == NO_SINK]
    p.close()
    return ok and got_pong, after_welcome, after_pong


def protocol_notice(c, T):
    ok, w, pg = notices(c, T, "nosink", True)
    T.check("no sink: HELLO -> WELCOME, then ERROR no_sink (31) saying none has registered", ok and len(w) == 1
            and "no sink has registered" in w[0][1], w)
    T.check("no sink: PING -> PONG, then ERROR no_sink again", len(pg) == 1, pg)


def with_sink(c, T):
    c.start_sink()
    c.start_worker("w0")
    rc, out, err, _ = submit(c, c.frontend, ["--timeout-ms", "30000"])
    T.check("with a sink: the submit is acknowledged, no CLI-WAIT about a sink", rc == 0 and "has no sink" not in err,
            (rc, out, err[-400:]))
    ok, w, pg = notices(c, T, "sink", False)
    T.check("with a sink: no ERROR no_sink after WELCOME or PONG", ok and not w and not pg, (ok, w, pg))


def sink_lost(c, T):
    c.sink.stop()
    end = time.time() + 20
    while time.time() < end and "BRK-SINK-LOST" not in c.broker.stderr_text():
        time.sleep(0.2)
    T.check("sink stopped: the broker takes it for lost (BRK-SINK-LOST)", "BRK-SINK-LOST" in c.broker.stderr_text())
    rc, out, err, _ = submit(c, c.frontend, ["--timeout-ms", "3500"])
    T.check("sink lost: CLI-WAIT says the broker has no sink, the sink being silent",
            "the broker at %s has no sink" % c.frontend in err and "silent for" in err, err[-600:])
    T.check("sink lost: exit 1, the line error names the cause", rc == 1 and "it has no sink (admission closed: sink"
            in err, (rc, err[-600:]))
    c.start_sink()
    rc, out, err, _ = submit(c, c.frontend, ["--timeout-ms", "30000"])
    T.check("sink back: the submit is acknowledged", rc == 0 and '"verdict": "valid"' in out.replace('":"', '": "'),
            (rc, out, err[-400:]))


def body(args, T):
    with C.Cluster(args.bin) as c:
        nobody(c, T)
        c.start_broker(["--sink-timeout-ms", "2500"])
        no_credit(c, T)
        protocol_notice(c, T)
        with_sink(c, T)
        sink_lost(c, T)
        c.stop_and_check(T)


if __name__ == "__main__":
    sys.exit(C.main_wrapper("test_submit_connect", body))
