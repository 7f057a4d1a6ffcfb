"""test_poison.py: a poison message is logged invalid (reason poison), and
nothing else is lost or blamed for it (protocol.md 8.5).

Broker with --heartbeat-ms 200 --worker-timeout-ms 1000 --poison-deliveries
5, the sink, and one worker of one thread started with the TEST ONLY flag
--test-crash-subject poison-pill (it abort()s when it verifies an
attestation with that subject). A Python producer submits 300 attestations,
one of them (cseq 60) with that subject. The test plays the supervisor: each
time the worker dies it starts a new one.

Checks: the worker died exactly 5 times (poison-deliveries), each time
verifying the pill; the pill is acknowledged invalid with reason poison (32),
not a duplicate; every other attestation is acknowledged valid (the ones
that shared a batch with the pill were suspects, dispatched alone, and
cleared by their DONE: none of them is blamed); the broker logged
BRK-POISON naming seq, producer and cseq, and attest_broker_poison_total is
1; the log read back holds 300 entries in cseq order: the pill invalid
poison, judged by worker "broker" (with the broker's key as the worker key,
CURVE), every other entry valid and equal to a fresh Ed25519 verification;
`attest log verify` passes (it does not re-judge a poison entry).

    /usr/bin/python3 test_poison.py --bin BUILD/bin
"""
import os
import resource
import sys
import time
import urllib.request

from zmq.utils import z85

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import faults as fl  # noqa: E402
import logfixture as lf  # noqa: E402

N = 300
PILL_CSEQ = 60
PILL = "poison-pill"
DELIVERIES = 5
POISON = 32
HB = ["--heartbeat-ms", "200"]


class Supervisor:
    """Restarts the worker whenever it died (as systemd or attest up would)."""

    def __init__(self, c):
        self.c, self.deaths, self.n = c, [], 0
        self.start()

    def start(self):
        self.w = self.c.start_worker("w%d" % self.n, threads=1, extra=HB + ["--test-crash-subject", PILL])
        self.n += 1

    def poll(self):
        if self.w.alive():
            return
        self.deaths.append((self.w.name, self.w.returncode(), self.w.stderr_text()))
        self.c.workers.remove(self.w)   # dead on purpose: not a process the end checks
        self.start()


def scrape(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def body(args, t):
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))   # the aborts leave no core files
    _, sk = lf.make_keypair()
    atts = [lf.make_attestation(sk, subject=PILL if i + 1 == PILL_CSEQ else "host-%d" % i)[0] for i in range(N)]
    with cl.Cluster(args.bin) as c:
        mport = cl.free_port()
        c.start_broker(extra=HB + ["--worker-timeout-ms", "1000", "--poison-deliveries", str(DELIVERIES),
                                   "--metrics", "127.0.0.1:%d" % mport])
        c.start_sink()
        sup = Supervisor(c)
        p = cl.Producer(c.frontend, "pill-producer")
        t.check("producer welcomed", p.hello())
        cseqs = list(range(1, N + 1))
        i, end = 0, time.time() + 120
        while time.time() < end and not all(x in p.acks or x in p.refusals for x in cseqs):
            if i < N and p.credit > 0:
                k = min(p.credit, p.max_batch, N - i)
                p.submit([(cseqs[i + j], atts[i + j]) for j in range(k)])
                i += k
            p.recv(0.1)
            p.drain(0.0)
            sup.poll()
        t.check("every attestation has an outcome", all(x in p.acks for x in cseqs),
                [x for x in cseqs if x not in p.acks][:10])
        deaths = sup.deaths
        t.check("the worker died exactly poison-deliveries (%d) times" % DELIVERIES, len(deaths) == DELIVERIES,
                [(n, rc) for n, rc, _ in deaths])
        t.check("each death was the TEST ONLY crash on the pill",
                all("WRK-CRASH" in err and PILL in err for _, _, err in deaths))
        pill = p.acks.get(PILL_CSEQ)
        t.check("the pill is acknowledged invalid, reason poison, not a duplicate",
                pill is not None and pill[2] == 1 and pill[3] == POISON and pill[4] is False, pill)
        others = [p.acks[x] for x in cseqs if x != PILL_CSEQ and x in p.acks]
        t.check("every other attestation is acknowledged valid (none blamed for the pill)",
                len(others) == N - 1 and all(a[2] == 0 and a[3] == 0 for a in others),
                [a for a in others if a[2] != 0][:5])
        berr = c.broker.stderr_text()
        lines = [ln for ln in berr.splitlines() if "BRK-POISON" in ln]
        t.check("broker: a BRK-POISON line naming seq, producer and cseq",
                any("producer pill-producer" in ln and "cseq %d" % PILL_CSEQ in ln and "seq " in ln for ln in lines),
                lines or berr[-1500:])
        print("broker: %s" % (lines[0] if lines else "no BRK-POISON line"))
        end = time.time() + 10   # the broker publishes its metrics every 100 ms at most
        while time.time() < end and scrape(mport, "attest_broker_poison_total") != 1:
            time.sleep(0.1)
        t.check("attest_broker_poison_total is 1", scrape(mport, "attest_broker_poison_total") == 1)

        log = cl.read_log(c.log_dir)
        t.check_log(log)
        ents = log.entries
        t.check("the log holds %d entries in cseq order" % N, [e["cseq"] for e in ents] == cseqs,
                [e["cseq"] for e in ents][:10])
        bad = [e for e in ents if e["cseq"] == PILL_CSEQ]
        e = bad[0] if bad else {}
        t.check("log: the pill is stored invalid, reason poison, judged by worker 'broker'",
                e.get("verdict") == 1 and e.get("reason") == POISON and e.get("worker") == "broker",
                {k: e.get(k) for k in ("verdict", "reason", "worker")})
        broker_key = z85.decode(c.pub("broker"))
        t.check("log: the poison entry's worker key is the broker's (CURVE lineage)",
                bytes(e.get("worker_key") or b"") == broker_key, (e.get("worker_key"), broker_key))
        fl.check_verdicts(t, [x for x in ents if x["cseq"] != PILL_CSEQ], "log")
        rc, out, err = c.attest("log", "--dir", c.log_dir, "verify")
        t.check("attest log verify passes (a poison entry is not judged again)", rc == 0, out[-500:] + err[-500:])
        c.finish(t, "poison")


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("poison", body))
