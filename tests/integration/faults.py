"""faults.py: shared steps of the fault tests (test_worker_drain.py,
test_worker_kill.py, test_broker_restart.py): run `attest bench` through a
running cluster, do something to one process mid-run, then check the log read
back.

    b = start_bench(t, c, n, rate)                   # bench --broker ... --log-dir ...
    wait_log(t, c, n // 4, b)                        # mid-run: the log holds a quarter
    ...                                              # kill, stop, restart something
    log = finish_bench(t, c, b, n, name)             # bench exit 0, lost=0 dup=0 order=ok, log checks

Every wait has a timeout, but only as a guard against hangs: no check here
passes or fails because something was fast or slow.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402

LEFT_RE = re.compile(r"BRK-WORKER.*worker (\S+) left \(([^)]*)\), (\d+) tasks back in the queue")


def start_bench(t, c, n, rate, producers=2, name="run"):
    b = cl.Bench(c.bindir, ["--broker", c.frontend, "--log-dir", c.log_dir, "--n", str(n), "--rate", str(rate),
                            "--producers", str(producers)], c.tmp)
    t.say("%s: bench n=%d at --rate %d (%d producers) through the running cluster" % (name, n, rate, producers))
    return b


def wait_log(t, c, count, bench=None, timeout=300.0):
    """Waits until the log holds at least count entries (False on timeout, or
    when the bench ended first)."""
    end = time.time() + timeout
    now = 0
    while time.time() < end:
        now = cl.log_count(c.log_dir)
        if now >= count:
            return True
        if bench is not None and not bench.proc.alive():
            return False
        time.sleep(0.01)
    t.say("log holds %d entries, waited for %d" % (now, count))
    return False


def finish_bench(t, c, b, n, name, producers=2, timeout=600):
    """Waits for the bench and checks its line and the log: exactly n entries,
    contiguous, hash chain and head, ids unique, seq increasing, and per
    producer the cseqs 1..n/producers strictly increasing along the log."""
    rc = b.wait(timeout)
    out = b.output()
    res = cl.parse_bench(out)
    t.check("%s: bench exits 0" % name, rc == 0, "rc=%s\n%s" % (rc, out[-3000:]))
    if res:
        print(res["line"])
    t.check("%s: bench committed=n lost=0 dup=0 order=ok" % name,
            res is not None and res["committed"] == n and res["lost"] == 0 and res["dup"] == 0
            and res["order"] == "ok", res and res["line"])
    log = cl.read_log(c.log_dir)
    t.check_log(log, "%s: log" % name)
    ents = log.entries
    t.check("%s: log holds exactly %d entries" % (name, n), len(ents) == n, len(ents))
    t.check("%s: %d unique ids" % (name, n), len({e["id"] for e in ents}) == n, len({e["id"] for e in ents}))
    per = {}
    for e in ents:
        per.setdefault(e["producer"], []).append(e["cseq"])
    names = ["bench-%d" % k for k in range(producers)]
    t.check("%s: per producer, cseq strictly increasing along the log" % name,
            all(all(y > x for x, y in zip(v, v[1:])) for v in per.values()))
    t.check("%s: producers %s with cseq exactly 1..%d each" % (name, ", ".join(names), n // producers),
            sorted(per) == names and all(v == list(range(1, n // producers + 1)) for v in per.values()),
            {k: len(v) for k, v in per.items()})
    return log


def check_verdicts(t, ents, what):
    """Every entry's verdict and id equal a fresh judgement (python3-nacl)."""
    wrong, badid = [], []
    for e in ents:
        reason, aid = cl.judge_entry(e)
        if reason != e["reason"]:
            wrong.append((e["index"], e["worker"], e["reason"], reason))
        if aid != e["id"]:
            badid.append(e["index"])
    t.check("%s: every verdict (%d) matches a fresh Ed25519 verification" % (what, len(ents)), not wrong, wrong[:5])
    t.check("%s: every id is BLAKE2b-256 of the signing bytes" % what, not badid, badid[:5])


def left_lines(text, worker):
    """(why, tasks back in the queue) of each BRK-WORKER "left" line of worker."""
    return [(m.group(2), int(m.group(3))) for m in LEFT_RE.finditer(text) if m.group(1) == worker]
