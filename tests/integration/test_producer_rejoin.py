"""test_producer_rejoin.py: a producer back on a new connection gets its
credit at once (protocol.md 5.1, HELLO's instance), and a producer whose
connection is gone loses its session at once (5.8; issue 11, a producer
host cut off).

A producer cut off by a partition comes back on a new connection, under a
new routing id, while the broker still holds its old connection (it learns
that the connection is dead only from ZMTP heartbeats, 4 s): the old
session still holds its unspent credit, and nobody can answer its REVOKEs,
so a new session on a full pipeline got no credit until producer-timeout-ms
(30 s). On a cluster (broker with a pipeline window of 64, sink, one
worker; CURVE):
  1. producer A (instance I) connects through a TCP proxy, is welcomed and
     granted the whole window; then the proxy freezes (keeps both TCP
     connections open, forwards nothing: a partition);
  2. producer C, same key, no instance: welcomed, no credit within 1.5 s
     (A's grant is still out: the control, which shows what B fixes);
  3. producer B, same key, instance I, on a new connection: granted
     credit at once; A's session ends (BRK-PRODUCER "superseded");
  4. producer D with instance I but another CURVE key does not end B's
     session (an instance counts only under the same authenticated key);
  5. B submits an attestation, it is acknowledged and read back from the
     log at its index;
  6. D says BYE; B's socket is closed without BYE (B holds about half
     the window unspent, C the other half); producer E joins: the pool is
     short, the broker asks B and C back for their excess over a
     three-way share, finds B's connection gone on that REVOKE
     (EHOSTUNREACH) and ends B's session ("connection gone"), so E gets
     more than a three-way share (21) within 3 s: only possible once B's
     session has ended (otherwise after producer-timeout-ms, 30 s).

    /usr/bin/python3 test_producer_rejoin.py --bin BUILD/bin
"""
import os
import select
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402


class FreezingProxy:
    """A TCP proxy from a free local port to target; freeze() stops all
    forwarding but keeps every connection open (a silent partition)."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.frozen = threading.Event()
        self.stop = threading.Event()
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        try:
            self._accept_loop()
        except OSError:
            pass    # closed under us at the end

    def _accept_loop(self):
        while not self.stop.is_set():
            r, _, _ = select.select([self.lsock], [], [], 0.1)
            if not r:
                continue
            a, _ = self.lsock.accept()
            b = socket.create_connection(self.target)
            self.held += [a, b]
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a, b):
        try:
            self._forward(a, b)
        except OSError:
            pass    # closed under us at the end

    def _forward(self, a, b):
        peer = {a: b, b: a}
        while not self.stop.is_set():
            if self.frozen.is_set():
                time.sleep(0.05)
                continue
            r, _, _ = select.select([a, b], [], [], 0.05)
            for x in r:
                if self.frozen.is_set():
                    break
                data = x.recv(65536)
                if not data:
                    return
                peer[x].sendall(data)

    def freeze(self):
        self.frozen.set()

    def close(self):
        self.stop.set()
        for x in self.held + [self.lsock]:
            try:
                x.close()
            except OSError:
                pass


def wait_credit(p, want, timeout):
    end = time.time() + timeout
    while p.credit < want and time.time() < end:
        p.recv(0.1)
    return p.credit


def body(args, t):
    with cl.Cluster(args.bin, window=64) as c:
        c.start(workers=1, threads=1)
        inst = os.urandom(16)
        proxy = FreezingProxy(c.fport)
        a = cl.Producer("tcp://127.0.0.1:%d" % proxy.port, "rejoiner", curve=c.client_keys("producer"))
        t.check("A welcomed", a.hello(instance=inst))
        t.check("A granted credit", wait_credit(a, 1, 20) >= 1, a.credit)
        time.sleep(0.3)
        a.recv(0.1)
        got_a = a.credit
        t.say("A holds %d credit" % got_a)
        proxy.freeze()     # a partition: the broker still has A's connection

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
        d.close()          # BYE
        time.sleep(0.5)
        for p in (b, ctl):
            p.recv(0.2)
        t.say("B holds %d, C %d" % (b.credit, ctl.credit))
        b.sock.close(0)    # gone without BYE; the broker's pipe for it ends, the broker is not told
        time.sleep(0.3)
        t0 = time.time()
        e = cl.Producer(c.frontend, "newcomer")
        t.check("E welcomed", e.hello())
        end = time.time() + 3
        while e.credit <= 21 and time.time() < end:
            e.recv(0.1)
            ctl.recv(0.01)
        t.check("E granted more than a three-way share within 3 s (B's gone session ended)", e.credit > 21,
                (e.credit, time.time() - t0))
        t.say("E holds %d credit %.0f ms after its HELLO" % (e.credit, (time.time() - t0) * 1000))
        t.check("the broker says B's connection was gone", "connection gone" in c.broker.stderr_text(),
                c.broker.stderr_text()[-2000:])
        e.close()
        ctl.close()
        a.close()
        proxy.close()
        c.finish(t, "rejoin")
        if ack is not None:
            log = cl.read_log(c.log_dir)
            e = log.entries[ack[1]] if ack[1] < len(log.entries) else None
            t.check("the log holds it at the acknowledged index", e is not None and e.get("id") == aid,
                    e and e.get("id"))


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("test_producer_rejoin", body))
