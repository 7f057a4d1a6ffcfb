"""test_reregister.py: after a broker hiccup the workers re-register once
each, not once per message (protocol.md 6.1, 6.4).

A worker thread the broker does not know (the broker restarted, or its
connection was re-made after a pause) gets ERROR protocol "unknown worker:
send READY" for every message it sent meanwhile. It used to answer each
with a READY, and the broker treated each READY as a new session,
requeueing what it had just dispatched: hundreds of READY lines in a
millisecond. Now the worker sends READY at most once per backoff period
(50 ms doubling to 2 s, with jitter, reset once the broker shows it knows
it) and ignores further "unknown worker" errors while a READY is
outstanding; the broker takes a READY from a registered worker as a no-op
(nothing requeued, a rate-limited BRK-WORKER-AGAIN line, counted in
attest_broker_worker_ready_again_total).

First, at the protocol level (broker and sink, fake workers on pyzmq): a
fake worker A with credit 8 takes the 8 tasks of a producer's SUBMIT, then
says READY 50 times more (heartbeating meanwhile). The broker must requeue
nothing (attest_broker_redispatched_total stays 0, A is sent no task a
second time), count 50 repeated READYs, and log at most a rate-limited
handful of BRK-WORKER-AGAIN lines; when A then stops at once (LEAVE twice),
a fake worker B gets all 8 (one at a time, as suspects: A stopped holding
them): A had kept them throughout.

Then two runs, each on a fresh cluster: broker (--heartbeat-ms 200
--worker-timeout-ms 1500, --metrics), sink, 2 workers x 2 threads
(--heartbeat-ms 50: many messages queue while the broker is away,
--metrics); `attest bench` n=30,000 at 4,000/s (x ATTEST_TEST_SCALE).
  SIGSTOP   once the log holds 5,000 entries the broker is stopped for 6 s
            (longer than the 4 s ZMTP heartbeat timeout, so the workers
            re-make their connections and come back as unknown), then
            continued;
  restart   the broker is killed (SIGKILL) at 5,000 entries and started
            again on the same ports a second later.
Checks, per run: per worker thread the broker logged at most 3 "ready"
registrations (the first, one after the hiccup, one to spare) where it used
to log one per queued message; each worker process sent at most 4 READYs
per thread (attest_worker_registrations_total) and the broker counted at
most 4 repeated READYs per thread (attest_broker_worker_ready_again_total);
each thread did come back (registered again after the hiccup); and the run
completes: bench exit 0, lost=0 dup=0 order=ok, the log read back holds
exactly the n attestations, contiguous, chained, ids unique, per producer in
cseq order.

Before the fix (main at f65e401) the SIGSTOP run logged 28-29 "ready" lines
per thread.

    /usr/bin/python3 test_reregister.py --bin BUILD/bin
"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import faults as fl  # noqa: E402
import logfixture as lf  # noqa: E402
import zmq  # noqa: E402

THREADS = ["w0/0", "w0/1", "w1/0", "w1/1"]
MAX_READY_LINES = 3       # per thread: the first, one after the hiccup, one to spare
MAX_READY_SENT = 4        # per thread, as the worker counts them


def ready_lines(text, w):
    return len(re.findall(r"BRK-WORKER worker %s ready with credit" % re.escape(w), text))


def hiccup(t, c, kind, bargs):
    if kind == "SIGSTOP":
        t.say("SIGSTOP: freezing the broker (pid %d) for 6 s at %d entries" % (c.broker.pid, cl.log_count(c.log_dir)))
        c.broker.send_signal(signal.SIGSTOP)
        time.sleep(6.0)
        c.broker.send_signal(signal.SIGCONT)
    else:
        t.say("restart: killing the broker (pid %d) at %d entries" % (c.broker.pid, cl.log_count(c.log_dir)))
        c.broker.stop(sig=signal.SIGKILL)
        time.sleep(1.0)
        c.start_broker(bargs)
        t.say("restart: broker started again (pid %d)" % c.broker.pid)


def run(t, args, kind, n):
    bport, wports = cl.free_port(), [cl.free_port(), cl.free_port()]
    bargs = ["--heartbeat-ms", "200", "--worker-timeout-ms", "1500", "--metrics", "127.0.0.1:%d" % bport]
    with cl.Cluster(args.bin) as c:
        c.start_broker(bargs)
        c.start_sink()
        for i in range(2):
            c.start_worker("w%d" % i, 2, ["--heartbeat-ms", "50", "--metrics", "127.0.0.1:%d" % wports[i]])
        b = fl.start_bench(t, c, n, 4000, name=kind)
        t.check("%s: the log holds 5000 entries with the bench running" % kind, fl.wait_log(t, c, 5000, b))
        hiccup(t, c, kind, bargs)
        fl.finish_bench(t, c, b, n, kind)
        berr = c.broker.stderr_text()      # both brokers' lines in the restart run (one file)
        lines = {w: ready_lines(berr, w) for w in THREADS}
        print("%s: BRK-WORKER ready lines per thread: %s" % (kind, lines))
        t.check("%s: every thread registered again after the hiccup" % kind, all(v >= 2 for v in lines.values()),
                lines)
        t.check("%s: at most %d registrations logged per thread" % (kind, MAX_READY_LINES),
                all(v <= MAX_READY_LINES for v in lines.values()), lines)
        bm = cl.scrape(bport) or {}
        again = bm.get("attest_broker_worker_ready_again_total")
        sent = [(cl.scrape(p) or {}).get("attest_worker_registrations_total") for p in wports]
        print("%s: READYs sent per worker process (2 threads each): %s; repeated READYs at the broker: %s"
              % (kind, sent, again))
        t.check("%s: each worker sent at most %d READYs per thread" % (kind, MAX_READY_SENT),
                all(s is not None and s <= 2 * MAX_READY_SENT for s in sent), sent)
        t.check("%s: the broker saw at most %d repeated READYs per thread" % (kind, MAX_READY_SENT),
                again is not None and again <= len(THREADS) * MAX_READY_SENT, again)
        c.finish(t, kind)


def dealer(ctx, ep):
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    cl.curve_socket(s, ep)
    s.connect(ep)
    return s


def take_tasks(sock, want, timeout, beat=False, done=False):
    """Seqs of the TASKS received on sock within timeout (stops early at want
    seqs; beat: send HEARTBEAT every 200 ms meanwhile; done: answer each
    TASKS with DONE, as a worker that judged them would)."""
    seqs, last = [], 0.0
    end = time.time() + timeout
    while time.time() < end and (want is None or len(seqs) < want):
        if beat and time.time() - last > 0.2:
            sock.send(cl.pack(cl.HEARTBEAT))
            last = time.time()
        if sock.poll(50):
            m = cl.unpack(sock.recv())
            if m[1] == cl.TASKS:
                seqs += [item[0] for item in m[3]]
                if done:
                    sock.send(cl.pack(cl.DONE, [item[0] for item in m[3]], len(m[3]), 0))   # held_us 0: not known
    return seqs


def repeated_ready(t, args):
    t.say("repeated READY from a registered fake worker")
    bport = cl.free_port()
    with cl.Cluster(args.bin) as c:
        c.start_broker(["--heartbeat-ms", "200", "--worker-timeout-ms", "1500", "--metrics", "127.0.0.1:%d" % bport])
        c.start_sink()
        ctx = zmq.Context.instance()
        a = dealer(ctx, c.backend)
        a.send(cl.pack(cl.READY, "fakeA/0", 8))
        time.sleep(0.3)
        _, sk = lf.make_keypair()
        p = cl.Producer(c.frontend, "p-again")
        t.check("again: producer welcomed", p.hello())
        end = time.time() + 20
        while p.credit < 8 and time.time() < end:
            p.recv(0.1)
        p.submit([(i + 1, lf.make_attestation(sk, subject="again-%d" % i)[0]) for i in range(8)])
        first = take_tasks(a, 8, 20.0, beat=True)
        t.check("again: fake worker A got the 8 tasks", len(first) == 8, first)
        for _ in range(50):
            a.send(cl.pack(cl.READY, "fakeA/0", 8))
        more = take_tasks(a, None, 1.5, beat=True)
        t.check("again: A is sent none of its tasks a second time", not (set(more) & set(first)), more)
        m = cl.scrape(bport) or {}
        t.check("again: nothing requeued (attest_broker_redispatched_total 0)",
                m.get("attest_broker_redispatched_total") == 0, m.get("attest_broker_redispatched_total"))
        t.check("again: 50 repeated READYs counted", m.get("attest_broker_worker_ready_again_total") == 50,
                m.get("attest_broker_worker_ready_again_total"))
        berr = c.broker.stderr_text()
        lines = berr.count("BRK-WORKER-AGAIN")
        t.check("again: BRK-WORKER-AGAIN rate-limited (%d lines for 50)" % lines, 1 <= lines <= 10, lines)
        t.check("again: A registered once", berr.count("worker fakeA/0 ready with credit") == 1)
        b = dealer(ctx, c.backend)
        b.send(cl.pack(cl.READY, "fakeB/0", 8))
        time.sleep(0.3)
        a.send(cl.pack(cl.LEAVE))
        a.send(cl.pack(cl.LEAVE))       # stopping at once: what A holds goes back to the queue
        moved = take_tasks(b, 8, 20.0, beat=True, done=True)   # one at a time: suspects now (protocol.md 8.5)
        t.check("again: after A stops, B gets the 8 tasks A had kept", sorted(moved) == sorted(first), moved)
        a.close(0)
        b.close(0)
        p.close()
        c.finish(t, "again")


def body(args, t):
    n = max(10000, int(30000 * cl.scale()) // 2 * 2)
    repeated_ready(t, args)
    for kind in ("SIGSTOP", "restart"):
        run(t, args, kind, n)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("reregister", body))
