"""test_worker_drain.py: a worker drains on SIGTERM.

On SIGTERM a worker says LEAVE (send me nothing more) and keeps working; the
broker stops dispatching to it and answers LEAVE_OK, which arrives after
every TASKS sent to it; the worker reports all it holds and exits 0; the
broker removes it once it holds nothing. So nothing it received is verified
again by someone else.

1. Drain mid-run: broker, sink, 3 workers (w0, w1, w2, 1 thread each);
   `attest bench --broker ... --log-dir ... --rate 8000 --n 30000` (x
   ATTEST_TEST_SCALE); once the log holds a quarter of the run, SIGTERM w1.
   Checks: w1 exits 0 after LEAVE_OK; the bench ends with lost=0 dup=0
   order=ok; the log (read back) holds exactly n unique ids, contiguous,
   chain intact, cseq order per producer; the broker's "worker w1/0 left"
   line says "drained" with 0 tasks back in the queue (nothing w1 received
   went to another worker); every log entry verified by w1/0 has the right
   verdict, and their number equals the tasks w1 says it judged (so none of
   its verdicts was superseded by a redispatch).
2. A second SIGTERM stops a drain at once: a slow worker (--test-delay-us
   100000, window 64) that holds tasks gets SIGTERM twice; it exits 0
   without LEAVE_OK, the broker puts what it held back in the queue (a
   "stopped while draining" line with more than 0 tasks), and the run still
   ends complete.

    /usr/bin/python3 test_worker_drain.py --bin BUILD/bin
"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import faults as fl  # noqa: E402


def drain_mid_run(t, c, n):
    b = fl.start_bench(t, c, n, 8000, name="drain")
    t.check("drain: the log holds a quarter of the run with the bench running", fl.wait_log(t, c, n // 4, b))
    w1 = c.workers[1]
    t.say("drain: SIGTERM to w1 (pid %d) at %d entries" % (w1.pid, cl.log_count(c.log_dir)))
    w1.send_signal(signal.SIGTERM)
    rc = w1.wait(30)                                  # hang guard only
    t.check("drain: w1 exits 0 after SIGTERM", rc == 0, rc)
    t.check("drain: the bench was still running when w1 had left", b.proc.alive())
    log = fl.finish_bench(t, c, b, n, "drain")
    werr = w1.stderr_text()
    t.check("drain: w1 drained (LEAVE sent, LEAVE_OK received)",
            "stop requested: draining" in werr and "LEAVE_OK: drain complete" in werr, werr[-1500:])
    t.check("drain: w1 did not stop without a complete drain", "without a complete drain" not in werr)
    berr = c.broker.stderr_text()
    left = fl.left_lines(berr, "w1/0")
    t.check("drain: broker: 'worker w1/0 left (drained), 0 tasks back in the queue', once",
            left == [("drained", 0)], left)
    t.check("drain: broker: w1/0 was marked draining", "worker w1/0 draining" in berr)
    mine = [e for e in log.entries if e["worker"] == "w1/0"]
    t.check("drain: w1/0 verified some of the run before it left", len(mine) > 0, len(mine))
    fl.check_verdicts(t, mine, "drain: w1/0's entries")
    m = re.search(r"WRK-STOP.*tasks=(\d+)", werr)
    judged = int(m.group(1)) if m else -1
    t.check("drain: every task w1 judged is in the log under w1/0 (%d = %d)" % (len(mine), judged),
            judged == len(mine), (judged, len(mine)))
    others = [e for e in log.entries if e["worker"] not in ("w0/0", "w1/0", "w2/0")]
    t.check("drain: only w0, w1, w2 appear in the log", not others, {e["worker"] for e in others})
    return log


def second_signal(t, c, n0):
    n = max(600, int(3000 * cl.scale()))
    ws = c.start_worker("ws", threads=1, extra=["--test-delay-us", "100000", "--credit", "64"])
    b = fl.start_bench(t, c, n, 1000, name="second SIGTERM")
    end = time.time() + 120                           # hang guard only
    while time.time() < end and b.proc.alive():
        if any(e["worker"] == "ws/0" for e in cl.read_log(c.log_dir).entries[n0:]):
            break
        time.sleep(0.05)
    got = [e for e in cl.read_log(c.log_dir).entries[n0:] if e["worker"] == "ws/0"]
    t.check("second SIGTERM: the slow worker reported its first verdicts (it holds more)", len(got) > 0)
    ws.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    ws.send_signal(signal.SIGTERM)
    rc = ws.wait(20)                                  # hang guard only
    t.check("second SIGTERM: the slow worker exits 0", rc == 0, rc)
    werr = ws.stderr_text()
    t.check("second SIGTERM: it stopped without waiting for LEAVE_OK",
            "without a complete drain" in werr and "LEAVE_OK" not in werr, werr[-1500:])
    left = fl.left_lines(c.broker.stderr_text(), "ws/0")
    t.check("second SIGTERM: broker: 'ws/0 left (stopped while draining), N > 0 tasks back in the queue'",
            len(left) == 1 and left[0][0] == "stopped while draining" and left[0][1] > 0, left)
    rc = b.wait(600)
    res = cl.parse_bench(b.output())
    t.check("second SIGTERM: bench exits 0 with lost=0 dup=0 order=ok",
            rc == 0 and res and res["lost"] == 0 and res["dup"] == 0 and res["order"] == "ok",
            "rc=%s %s" % (rc, res and res["line"]))
    log = cl.read_log(c.log_dir)
    t.check_log(log, "second SIGTERM: log")
    t.check("second SIGTERM: log holds both runs (%d + %d), ids unique" % (n0, n),
            len(log.entries) == n0 + n and len({e["id"] for e in log.entries}) == n0 + n, len(log.entries))


def body(args, t):
    n = max(3000, int(30000 * cl.scale()))
    with cl.Cluster(args.bin) as c:
        c.start(workers=3, threads=1)
        drain_mid_run(t, c, n)
        second_signal(t, c, n)
        alive = {x.name: x.alive() for x in c.procs() if x.name not in ("worker-w1", "worker-ws")}
        t.check("broker, sink, w0, w2 alive at the end", all(alive.values()), alive)
        if t.failed:
            c.dump_stderr()
        c.workers = [w for w in c.workers if w.alive()]
        c.stop_and_check(t)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("worker_drain", body))
