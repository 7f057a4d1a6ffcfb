"""test_fairness.py: credit that idle producers hold is reclaimed for the
ones that want to submit.

Cluster: broker and sink with --pipeline-window 1024, broker --producer-window 1024
--credit-idle-ms 500, one worker.

 A. Four hoarders connect one after another and never submit. The first is
    granted the whole window; as each of the others joins, the broker asks
    the ones above their share for the excess (REVOKE) and they give it back
    (RELEASE): each ends up granted credit. One hoarder ignores REVOKE
    ("deaf"): the broker must not depend on it.
 B. Once they have been idle for more than credit-idle-ms, a fifth producer
    joins and submits 3,000 attestations. It must be granted credit (before
    this feature the hoarders held the whole window and it waited forever),
    idle hoarders must have given credit back (all but a reserve when asked
    for idleness), and every attestation must be acknowledged.
 C. A hoarder that was asked to give back its credit kept a reserve: it
    submits 10 attestations at once, without waiting for credit, and they
    are acknowledged.
 Throughout, the credit held by all producers plus what they have
 outstanding never exceeds the window. Finally the log (read back) holds
 each acknowledged attestation exactly once, at the index its ACK gave.

    /usr/bin/python3 test_fairness.py --bin BUILD/bin
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402

WINDOW = 1024
IDLE_MS = 500


def pump(producers, seconds):
    end = time.time() + seconds
    while time.time() < end:
        for p in producers:
            p.drain(0.0)
        time.sleep(0.01)


def held(producers):
    return sum(p.credit + p.outstanding() for p in producers)


def body(args, t):
    c = cl.Cluster(args.bin, window=WINDOW)
    c.start_broker(["--producer-window", str(WINDOW), "--credit-idle-ms", str(IDLE_MS), "--stats-ms", "500"])
    c.start_sink()
    c.start_worker("w1")
    _, sk = lf.make_keypair()

    t.say("A: four hoarders join one after another")
    hoarders = []
    worst = 0
    for i in range(4):
        h = cl.Producer(c.frontend, "hoarder-%d" % i, release=(i != 3))
        t.check("A: hoarder-%d is welcomed" % i, h.hello())
        hoarders.append(h)
        end = time.time() + 10
        while time.time() < end and h.credit == 0:
            pump(hoarders, 0.05)
            worst = max(worst, held(hoarders))
        pump(hoarders, 0.3)
        worst = max(worst, held(hoarders))
    first = hoarders[0]
    t.check("A: the first hoarder was granted the whole window", first.granted >= WINDOW, first.granted)
    t.check("A: it was asked to give credit back as others joined", len(first.revoked) > 0, first.revoked)
    t.check("A: and gave some back", first.released > 0, first.released)
    for h in hoarders[1:]:
        t.check("A: %s was granted credit though it joined a full pool" % h.name, h.granted > 0, h.granted)

    t.say("B: a fifth producer after the hoarders were idle for %d ms" % IDLE_MS)
    pump(hoarders, 2.5 * IDLE_MS / 1000.0)
    worker = cl.Producer(c.frontend, "busy")
    t.check("B: the busy producer is welcomed", worker.hello())
    everyone = hoarders + [worker]
    end = time.time() + 10
    while time.time() < end and worker.credit == 0:
        pump(everyone, 0.05)
        worst = max(worst, held(everyone))
    t.check("B: it is granted credit within 10 s", worker.credit > 0, worker.credit)
    atts = [lf.make_attestation(sk, subject="busy-%d" % i, data=b"fair") for i in range(3000)]

    def on_wait():
        for h in hoarders:
            h.drain(0.0)
    cseqs = worker.submit_all([a for a, _ in atts], timeout=120.0, on_wait=on_wait)
    worst = max(worst, held(everyone))
    acked = [c_ for c_ in cseqs if c_ in worker.acks]
    t.check("B: all 3,000 are acknowledged", len(acked) == 3000, "%d acked, %d refused" %
            (len(acked), len(worker.refusals)))
    state = [(h.name, h.granted, h.revoked, h.released, h.credit) for h in hoarders]
    t.check("B: every hoarder that was asked and listens gave credit back",
            all(h.released > 0 for h in hoarders[:3] if h.revoked), state)
    t.check("B: some hoarder was asked for all but a reserve (idle)",
            any(h.credit <= WINDOW // 16 for h in hoarders[:3]), [h.credit for h in hoarders])

    t.say("C: an idle hoarder submits from its reserve")
    pump(everyone, 0.2)
    h = min(hoarders[:3], key=lambda x: x.credit)
    reserve = h.credit
    t.check("C: it kept a reserve", reserve >= 10, reserve)
    small = [lf.make_attestation(sk, subject="late-%d" % i, data=b"fair") for i in range(10)]
    h.submit([(100 + i, a) for i, (a, _) in enumerate(small)])
    t.check("C: the 10 are acknowledged", h.wait_outcomes(range(100, 110), 30.0)
            and all(k in h.acks for k in range(100, 110)), h.refusals)
    worst = max(worst, held(everyone))
    t.check("credit held + outstanding over all producers never exceeded the window", worst <= WINDOW, worst)

    for p in everyone:
        p.close()
    stats = [ln for ln in c.broker.stderr_text().splitlines() if "BRK-STATS" in ln]
    t.check("the broker counts revokes and released credit", stats and "revokes=0 " not in stats[-1],
            stats[-1] if stats else "no BRK-STATS line")
    revokes = [ln for ln in c.broker.stderr_text().splitlines() if "BRK-REVOKE" in ln]
    t.check("the broker logged both kinds of REVOKE",
            any("(idle)" in ln for ln in revokes) and any("above its share" in ln for ln in revokes), revokes[:6])
    c.stop()

    t.say("the log, read back")
    log = cl.read_log(c.log_dir)
    by_id = {}
    for e in log.entries:
        by_id.setdefault(bytes(e["id"]), []).append(e["index"])
    expect = [(aid, worker.acks[k][1]) for k, (_, aid) in zip(cseqs, atts)]
    expect += [(aid, h.acks[100 + i][1]) for i, (_, aid) in enumerate(small)]
    bad = [(aid.hex()[:16], idx, by_id.get(aid)) for aid, idx in expect if by_id.get(aid) != [idx]]
    t.check("every acknowledged attestation is in the log once, at its index", not bad, bad[:5])
    t.check("the log is sound", not cl.log_problems(log), cl.log_problems(log)[:5])


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("test_fairness", body))
