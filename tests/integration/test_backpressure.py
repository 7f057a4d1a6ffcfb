"""test_backpressure.py: an overloading producer is held back by credit,
memory stays bounded, and nothing is lost.

Cluster: broker and sink with --pipeline-window 1024, ONE worker (1 thread) slowed
with --test-delay-us 500.

 A. A misbehaving producer, while no worker is running (so nothing can be
    committed and no credit can come back): it sends its whole credit plus
    50 more. Exactly the 50 beyond its credit are refused with reason 13
    (no_credit); then the worker starts and the admitted ones are ACKed.
 B. An overloading producer submits 20,000 attestations as fast as credit
    allows, waiting only when credit runs out. At every moment: credit held
    + attestations outstanding (sent, not ACKed/refused) <= window, and
    sent - acked <= window. It must have run out of credit at least once.
    Every attestation is ACKed (none refused).
 During both, the broker's and the sink's VmRSS are sampled from
 /proc/PID/status and must stay under 64 MB.
 Finally the log (read back) holds each ACKed attestation exactly once, at
 the index its ACK gave, and none of the 50 refused ones.

    /usr/bin/python3 test_backpressure.py --bin BUILD/bin
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402

WINDOW = 1024
RSS_LIMIT_KB = 64 * 1024


class RssSampler:
    def __init__(self, procs):
        self.procs = procs
        self.samples = 0
        self.last = 0.0

    def sample(self, force=False):
        now = time.time()
        if not force and now - self.last < 0.05:
            return
        self.last = now
        for p in self.procs:
            p.sample_rss()
        self.samples += 1

    def report(self, t):
        for p in self.procs:
            print("%s peak VmRSS: %.1f MB (%d samples)" % (p.name, p.peak_rss_kb / 1024.0, self.samples))
            t.check("%s VmRSS stayed under 64 MB" % p.name, 0 < p.peak_rss_kb < RSS_LIMIT_KB,
                    "%.1f MB" % (p.peak_rss_kb / 1024.0))


def make_atts(sk, n, tag):
    out = []
    for i in range(n):
        att, aid = lf.make_attestation(sk, subject="%s-%d" % (tag, i), data=b"bp")
        out.append((att, aid))
    return out


def phase_a(t, c, rss, sk):
    t.say("A: misbehaving producer (no worker yet)")
    m = cl.Producer(c.frontend, "greedy")
    t.check("A: greedy producer is welcomed", m.hello())
    end = time.time() + 30
    while m.credit < WINDOW and time.time() < end:     # credit opens once the sink registered
        m.recv(0.1)
    credit = m.credit
    t.check("A: one producer alone is granted the whole window (%d)" % WINDOW, credit == WINDOW, credit)
    atts = make_atts(sk, credit + 50, "greedy")
    items = [(i + 1, a) for i, (a, _) in enumerate(atts)]
    for k in range(0, len(items), m.max_batch):         # ignore credit on purpose
        m.submit(items[k:k + m.max_batch])
        rss.sample()
    excess = set(range(credit + 1, credit + 51))
    end = time.time() + 30
    while len(m.refusals) < 50 and time.time() < end:
        m.recv(0.1)
        rss.sample()
    t.check("A: exactly the 50 beyond credit are refused",
            set(m.refusals) == excess, sorted(set(m.refusals) ^ excess)[:10])
    t.check("A: every refusal has reason 13 (no_credit)", all(r == 13 for r in m.refusals.values()),
            set(m.refusals.values()))
    t.check("A: nothing acknowledged while no worker runs", not m.acks, len(m.acks))
    t.say("A: starting the slow worker")
    c.start_worker("w0", threads=1, extra=["--test-delay-us", "500"])
    admitted = list(range(1, credit + 1))
    end = time.time() + 300
    while not all(x in m.acks for x in admitted) and time.time() < end:
        m.recv(0.1)
        rss.sample()
    t.check("A: the %d admitted are all ACKed" % credit, all(x in m.acks for x in admitted),
            credit - len(m.acks))
    m.close()      # BYE: its unspent credit returns to the pool
    return atts, m


def phase_b(t, c, rss, sk, n):
    t.say("B: overloading producer, %d attestations" % n)
    atts = make_atts(sk, n, "flood")
    p = cl.Producer(c.frontend, "flood")
    t.check("B: flood producer is welcomed", p.hello())
    waits, i = 0, 0
    violations = []
    end = time.time() + 600
    while i < n and time.time() < end:
        p.drain(0.0)
        rss.sample()
        if p.credit + p.outstanding() > WINDOW or p.sent - len(p.acks) > WINDOW:
            violations.append((p.credit, p.outstanding(), p.sent, len(p.acks)))
        if p.credit <= 0:
            waits += 1
            p.recv(0.2)        # credit ran out: wait for CREDIT
            continue
        k = min(p.credit, p.max_batch, n - i)
        p.submit([(i + j + 1, atts[i + j][0]) for j in range(k)])
        i += k
    t.check("B: all %d submitted" % n, i == n, i)
    cseqs = list(range(1, n + 1))
    while not all(x in p.acks or x in p.refusals for x in cseqs) and time.time() < end:
        p.recv(0.2)
        rss.sample()
    print("B: waited for credit %d times; max outstanding %d; max credit+outstanding %d; granted %d in total"
          % (waits, p.max_outstanding, p.max_held, p.granted))
    t.check("B: credit + outstanding never exceeded the window", not violations and p.max_held <= WINDOW,
            violations[:3] or p.max_held)
    t.check("B: sent - acked never exceeded the window", p.max_outstanding <= WINDOW, p.max_outstanding)
    t.check("B: the producer had to wait for credit", waits > 0, waits)
    t.check("B: every attestation ACKed", all(x in p.acks for x in cseqs), n - len(p.acks))
    t.check("B: nothing refused", not p.refusals and not p.refused0, p.refusals)
    t.check("B: no ERROR from the broker", not p.errors, p.errors)
    p.close()
    return atts, p


def body(args, t):
    n = max(2000, int(20000 * cl.scale()))
    _, sk = lf.make_keypair()
    # Under AddressSanitizer the quarantine of freed memory (256 MB by
    # default) would dominate VmRSS: keep it small so the bound still means
    # something there.
    with cl.Cluster(args.bin, window=WINDOW, asan_quarantine_mb=8) as c:
        if c.asan:
            print("AddressSanitizer build: children run with quarantine_size_mb=8")
        c.start_broker()
        c.start_sink()
        rss = RssSampler([c.broker, c.sink])
        atts_a, m = phase_a(t, c, rss, sk)
        atts_b, p = phase_b(t, c, rss, sk, n)
        rss.sample(force=True)
        rss.report(t)
        t.check("broker, sink and worker still running", all(x.alive() for x in c.procs()),
                [x.name for x in c.procs() if not x.alive()])
        log = cl.read_log(c.log_dir)
        t.check_log(log)
        by_id = log.by_id()
        t.check("log holds %d + %d entries" % (WINDOW, n), len(log.entries) == WINDOW + n, len(log.entries))
        refused_ids = [atts_a[x - 1][1] for x in m.refusals]
        t.check("none of the 50 refused attestations is in the log", not any(x in by_id for x in refused_ids))
        ok_a = all(by_id.get(atts_a[x - 1][1], {}).get("index") == m.acks[x][1] for x in m.acks)
        t.check("A: each ACKed attestation is in the log at its ACK's index", ok_a)
        ok_b = all(by_id.get(atts_b[x - 1][1], {}).get("index") == p.acks[x][1] for x in p.acks)
        t.check("B: each ACKed attestation is in the log at its ACK's index", ok_b)
        t.check("B: log cseqs of 'flood' are 1..n in index order",
                [e["cseq"] for e in log.entries if e["producer"] == "flood"] == list(range(1, n + 1)))
        t.check("all valid (verdict 0)", all(e["verdict"] == 0 for e in log.entries))
        c.stop_and_check(t)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("backpressure", body))
