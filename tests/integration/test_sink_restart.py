"""test_sink_restart.py: the sink dies (SIGKILL) or stops (SIGTERM) in the
middle of a run and is restarted with the same arguments; nothing is lost,
duplicated or reordered.

For each of SIGKILL and SIGTERM, on a fresh cluster (broker, sink, 2
workers): `attest bench --broker FRONTEND --log-dir LOG --n 50000` (x
ATTEST_TEST_SCALE; paced with --rate so the kill always lands mid-run)
submits through the running cluster; once the log holds a tenth of the run,
the sink is signalled, waited for, and restarted. The bench must exit 0 with
lost=0 dup=0 order=ok, and the log, read back here, must hold exactly the n
entries, contiguous, hash chain and head intact, ids unique, per-producer
cseq increasing, with the kill having happened before the end.

Then duplicates: the same 100 attestations submitted twice by a Python
producer: the second round's ACKs carry duplicate=true and the first round's
index, and the log holds each id once.

    /usr/bin/python3 test_sink_restart.py --bin BUILD/bin
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import faults as fl  # noqa: E402
import logfixture as lf  # noqa: E402


def restart_run(args, t, c, sig, n):
    name = signal.Signals(sig).name
    rate = 10000
    b = cl.Bench(args.bin, ["--broker", c.frontend, "--log-dir", c.log_dir, "--n", str(n), "--producers", "2",
                            "--rate", str(rate)], c.tmp)
    t.say("%s: bench n=%d at --rate %d through the running cluster" % (name, n, rate))
    end = time.time() + 300
    count = 0
    while time.time() < end and b.proc.alive():
        count = cl.log_count(c.log_dir)
        if count >= n // 10:
            break
        time.sleep(0.02)
    t.say("%s: log holds %d entries: signalling the sink (pid %d)" % (name, count, c.sink.pid))
    t.check("%s: the log holds some entries before the signal" % name, count >= n // 10, count)
    t.check("%s: the bench was still running at the signal" % name, b.proc.alive())
    rc = c.sink.stop(sig=sig, grace=30.0)
    at_kill = cl.log_count(c.log_dir)
    t.check("%s: the sink exited (rc %s)" % (name, rc), rc == (0 if sig == signal.SIGTERM else -signal.SIGKILL), rc)
    t.check("%s: the run was not over when the sink went down (%d < %d)" % (name, at_kill, n), at_kill < n, at_kill)
    c.start_sink()
    t.say("%s: sink restarted (pid %d); waiting for the bench" % (name, c.sink.pid))
    log = fl.finish_bench(t, c, b, n, name)   # bench line, exact log, per-producer cseq 1..n/2 in order
    stop = [l for l in c.sink.stderr_text().splitlines() if "SNK-START" in l]
    t.check("%s: the restarted sink resumed from the log (SNK-START twice, the second not at 0)" % name,
            len(stop) == 2 and "next_index 0" not in stop[1], stop)
    return log


def duplicates(t, c):
    t.say("duplicates: the same 100 attestations twice")
    _, sk = lf.make_keypair()
    atts = [lf.make_attestation(sk, subject="dup-%d" % i) for i in range(100)]
    before = cl.log_count(c.log_dir)
    p = cl.Producer(c.frontend, "dups")
    t.check("producer dups welcomed", p.hello())
    first = p.submit_all([a for a, _ in atts], first_cseq=1, timeout=120)
    t.check("round 1: 100 ACKs, none duplicate",
            all(x in p.acks and not p.acks[x][4] for x in first), [p.acks.get(x) for x in first[:3]])
    second = p.submit_all([a for a, _ in atts], first_cseq=101, timeout=120)
    t.check("round 2: 100 ACKs, all duplicate=true", all(x in p.acks and p.acks[x][4] is True for x in second),
            [p.acks.get(x) for x in second[:3]])
    t.check("round 2 ACKs carry round 1's index and verdict",
            all(p.acks[b][1:4] == p.acks[a][1:4] for a, b in zip(first, second) if a in p.acks and b in p.acks))
    twin, twin_id = lf.make_attestation(sk, subject="twin")
    p.submit([(201, twin), (202, twin)])                  # the same attestation twice in one batch
    p.wait_outcomes([201, 202], 60)
    a, b = p.acks.get(201), p.acks.get(202)
    t.check("same attestation twice in one SUBMIT: one new entry, one duplicate of it",
            a is not None and b is not None and a[1] == b[1] and a[4] is False and b[4] is True, (a, b))
    p.close()
    log = cl.read_log(c.log_dir)
    t.check_log(log, "dups: log")
    by_id = {}
    for e in log.entries:
        by_id.setdefault(e["id"], []).append(e["index"])
    t.check("log grew by exactly 101", len(log.entries) == before + 101, len(log.entries) - before)
    t.check("the twin is in the log once", [e["index"] for e in log.entries if e["id"] == twin_id] == [a and a[1]])
    t.check("each of the 100 ids is in the log once, at round 1's index",
            all(by_id.get(aid) == [p.acks[i + 1][1]] for i, (_, aid) in enumerate(atts)))


def body(args, t):
    n = max(5000, int(50000 * cl.scale()) // 2 * 2)
    for sig in (signal.SIGKILL, signal.SIGTERM):
        with cl.Cluster(args.bin) as c:
            c.start(workers=2, threads=1)
            restart_run(args, t, c, sig, n)
            if sig == signal.SIGKILL:
                duplicates(t, c)
            c.finish(t, signal.Signals(sig).name)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("sink_restart", body))
