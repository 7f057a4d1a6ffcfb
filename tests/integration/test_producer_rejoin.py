"""test_producer_rejoin.py: a producer back on a new connection gets its
credit at once (protocol.md 5.1, HELLO's instance; issue 11, a producer host
cut off).

A producer whose connection died (a partition, its TCP connection reset)
comes back on a new connection, under a new routing id; its old session
still holds its unspent credit, and nobody can answer the REVOKEs for it,
so before the instance field the new session got no credit until
producer-timeout-ms (30 s). On a cluster (broker with a pipeline window of
64, sink, one worker; CURVE):
  1. producer A (instance I) is welcomed and granted the whole window;
  2. A's socket is closed without BYE (the connection is gone, the broker
     is not told);
  3. producer C, same key, no instance: welcomed, no credit within 1.5 s
     (A's grant is still out: the control, which shows what B fixes);
  4. producer B, same key, instance I, on a new connection: granted
     credit at once; A's session ends (BRK-PRODUCER "superseded");
  5. producer D with instance I but another CURVE key does not end B's
     session (an instance counts only under the same authenticated key);
  6. B submits an attestation, it is acknowledged and read back from the
     log at its index.

    /usr/bin/python3 test_producer_rejoin.py --bin BUILD/bin
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402


def wait_credit(p, want, timeout):
    end = time.time() + timeout
    while p.credit < want and time.time() < end:
        p.recv(0.1)
    return p.credit


def body(args, t):
    with cl.Cluster(args.bin, window=64) as c:
        c.start(workers=1, threads=1)
        inst = os.urandom(16)
        a = cl.Producer(c.frontend, "rejoiner")
        t.check("A welcomed", a.hello(instance=inst))
        t.check("A granted credit", wait_credit(a, 1, 20) >= 1, a.credit)
        time.sleep(0.3)
        a.recv(0.1)
        got_a = a.credit
        t.say("A holds %d credit" % got_a)
        a.sock.close(0)    # the connection dies; no BYE

        ctl = cl.Producer(c.frontend, "control")
        t.check("C (no instance) welcomed", ctl.hello())
        t.check("C gets no credit while A's old session holds it", wait_credit(ctl, 1, 1.5) == 0, ctl.credit)

        b = cl.Producer(c.frontend, "rejoiner")
        t0 = time.time()
        t.check("B (same key, same instance) welcomed", b.hello(instance=inst))
        got = wait_credit(b, 1, 5)
        t.check("B granted credit at once (A's session superseded)", got >= 1, got)
        t.say("B granted %d credit %.0f ms after its HELLO" % (got, (time.time() - t0) * 1000))
        time.sleep(0.3)
        t.check("the broker says A was superseded", "superseded" in c.broker.stderr_text(),
                c.broker.stderr_text()[-2000:])

        c.add_key("other-producer", allow="producers")
        c.broker.send_signal(signal.SIGHUP)    # the allowlist is read again
        time.sleep(0.5)
        d = cl.Producer(c.frontend, "rejoiner", curve=c.client_keys("other-producer"))
        t.check("D (other key, same instance) welcomed", d.hello(instance=inst))
        time.sleep(0.5)
        t.check("D did not end B's session (one superseded line)",
                c.broker.stderr_text().count("superseded") == 1, c.broker.stderr_text()[-2000:])

        _, sk = lf.make_keypair()
        att, aid = lf.make_attestation(sk, subject="after-rejoin")
        b.submit([(1, att)])
        b.wait_outcomes([1], 60)
        ack = b.acks.get(1)
        t.check("B's attestation acknowledged", ack is not None and ack[2] == 0, (ack, b.refusals, b.errors))
        for p in (b, ctl, d):
            p.close()
        c.finish(t, "rejoin")
        if ack is not None:
            log = cl.read_log(c.log_dir)
            e = log.entries[ack[1]] if ack[1] < len(log.entries) else None
            t.check("the log holds it at the acknowledged index", e is not None and e.get("id") == aid,
                    e and e.get("id"))


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("test_producer_rejoin", body))
