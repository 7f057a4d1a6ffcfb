"""test_slow_worker.py: credit-based dispatch keeps a slow worker from holding
the pipeline back.

`attest bench --workers 3 --slow-workers 1 --slow-delay-us 2000 --threads 1`
runs two normal workers (w0, w1) and one that sleeps 2 ms per task (w2). The
log is read back: nothing lost or duplicated, and from the entries' worker
field (field 9, "w2/0" for the slow one) and times:
  - the slow worker judged some entries (credit keeps it fed, it is not
    starved), and fewer than either fast worker;
  - no more than its delay allows: at most span / 2 ms, where span is the
    time from the first dispatch to the last verdict in the log;
  - about its share by speed: each worker judges one task at a time, a fast
    worker in span / (its count), the slow one in that plus 2 ms, so it is
    expected to judge span / (2 ms + span / fast) entries; the count must be
    within a generous band of that (x0.25 .. x1.5: scheduling, batching of
    credit and the sanitizer builds' slower fast workers all move it), and
    its share of the log under 10%.
The throughput is printed, not asserted.

    /usr/bin/python3 test_slow_worker.py --bin BUILD/bin
"""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402


DELAY_US = 2000   # --slow-delay-us: the slow worker's extra time per task


def check_shares(t, entries, per, delay_us):
    """The slow worker's count against what its delay allows and predicts."""
    slow, fast = per.get("w2/0", 0), [per.get("w0/0", 0), per.get("w1/0", 0)]
    t.check("both fast workers did work", min(fast) > 0, per)
    t.check("the slow worker judged some entries", slow > 0, per)
    t.check("the slow worker judged fewer than each fast one", slow < min(fast), per)
    if not entries or min(fast) == 0:
        return
    span = max(e["t_verified"] for e in entries) - min(e["t_dispatched"] for e in entries)
    span = max(span, 1)
    most = span / delay_us
    fast_mean = sum(fast) / len(fast)
    expected = span / (delay_us + span / fast_mean)
    share = slow / len(entries)
    print("span %.3f s; slow worker w2/0: %d entries = %.2f%% of the log; at most %.0f by its delay, "
          "expected %.0f by speed" % (span / 1e6, slow, 100 * share, most, expected))
    t.check("the slow worker judged no more than its delay allows (<= span / %d us)" % delay_us,
            slow <= 1.1 * most + 2, "%d > %.0f" % (slow, most))
    t.check("the slow worker's count is within x0.25..x1.5 of its share by speed",
            0.25 * expected <= slow <= 1.5 * expected + 2, "%d vs expected %.0f" % (slow, expected))
    t.check("the slow worker's share of the log < 10%", share < 0.10, "%.2f%%" % (100 * share))


def body(args, t):
    n = max(3000, int(30000 * cl.scale()))
    with cl.Cluster(args.bin) as c:
        data = os.path.join(c.tmp, "data")
        t.say("bench: n=%d, 3 workers x 1 thread, one with --test-delay-us %d" % (n, DELAY_US))
        b = cl.Bench(args.bin, ["--n", str(n), "--workers", "3", "--slow-workers", "1", "--slow-delay-us", str(DELAY_US),
                                "--threads", "1", "--data-dir", data], c.tmp)
        rc = b.wait(600)
        out = b.output()
        res = cl.parse_bench(out)
        t.check("bench exits 0", rc == 0, "rc=%s\n%s" % (rc, out[-2000:]))
        t.check("bench prints its summary line", res is not None, out[-2000:])
        if res:
            print(res["line"])
            print("throughput: %d/s (printed, not asserted)" % res["rate"])
            t.check("bench: lost=0 dup=0 order=ok", res["lost"] == 0 and res["dup"] == 0 and res["order"] == "ok",
                    res["line"])
        log = cl.read_log(os.path.join(data, "log"))
        t.check_log(log)
        t.check("log holds all %d entries" % n, len(log.entries) == n, len(log.entries))
        t.check("ids unique", len({e["id"] for e in log.entries}) == len(log.entries))
        per = collections.Counter(e["worker"] for e in log.entries)
        print("entries per worker: %s" % dict(sorted(per.items())))
        t.check("only the three workers appear", set(per) <= {"w0/0", "w1/0", "w2/0"}, per)
        check_shares(t, log.entries, per, DELAY_US)
        reports = c.sanitizer_reports()
        t.check("no sanitizer reports in the cluster's process logs", not reports, reports)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("slow_worker", body))
