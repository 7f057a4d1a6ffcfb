"""test_slow_worker.py: credit-based dispatch keeps a slow worker from holding
the pipeline back.

`attest bench --workers 3 --slow-workers 1 --slow-delay-us 2000 --threads 1`
runs two normal workers (w0, w1) and one that sleeps 2 ms per task (w2). The
log is read back: nothing lost or duplicated, and the slow worker's share of
the entries (field 9, worker "w2/0") is small: under 10% (its fair share by
speed is about 2%). The throughput is printed, not asserted.

    /usr/bin/python3 test_slow_worker.py --bin BUILD/bin
"""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402


def body(args, t):
    n = max(3000, int(30000 * cl.scale()))
    with cl.Cluster(args.bin) as c:
        data = os.path.join(c.tmp, "data")
        t.say("bench: n=%d, 3 workers x 1 thread, one with --test-delay-us 2000" % n)
        b = cl.Bench(args.bin, ["--n", str(n), "--workers", "3", "--slow-workers", "1", "--slow-delay-us", "2000",
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
        slow = per.get("w2/0", 0)
        share = slow / max(1, len(log.entries))
        print("slow worker w2/0: %d entries = %.2f%%" % (slow, 100 * share))
        t.check("slow worker's share < 10%", share < 0.10, "%.2f%%" % (100 * share))
        t.check("both fast workers did work", per.get("w0/0", 0) > 0 and per.get("w1/0", 0) > 0, per)
        reports = c.sanitizer_reports()
        t.check("no sanitizer reports in the cluster's process logs", not reports, reports)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("slow_worker", body))
