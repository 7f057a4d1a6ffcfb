#!/usr/bin/env python3
"""test_submit_connect.py: `attest submit` tells a broker that is not there
from one that is there but cannot admit.

  * nothing listens at --broker: after --connect-timeout-ms (1500) it exits
    1 saying "the broker at X did not answer HELLO within 1500 ms", well
    before --timeout-ms (60 s), having read no line (no output line);
  * a broker that answers but grants no credit (no sink yet): no "did not
    answer" line; the wait for credit is the one that ends (--timeout-ms).
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402

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
    rc, out, err, dt = submit(c, c.frontend, ["--connect-timeout-ms", "1500", "--timeout-ms", "3000"])
    T.check("broker without a sink: exit 1 after the credit wait", rc == 1 and dt >= 2.9, (rc, dt, err[-400:]))
    T.check("broker without a sink: not reported as a broker that did not answer", "did not answer" not in err,
            err[-400:])
    T.check("broker without a sink: the line ends with no credit", "no credit from the broker" in err, err[-400:])
    return err


def body(args, T):
    with C.Cluster(args.bin) as c:
        nobody(c, T)
        c.start_broker()
        no_credit(c, T)
        c.stop_and_check(T)


if __name__ == "__main__":
    sys.exit(C.main_wrapper("test_submit_connect", body))
