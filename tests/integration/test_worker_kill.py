"""test_worker_kill.py: a worker killed with SIGKILL, or frozen past the
timeout, costs nothing but a redispatch.

Broker with --heartbeat-ms 200 --worker-timeout-ms 1000, sink, 3 workers
(w0, w1, w2; --heartbeat-ms 200). `attest bench --broker ... --rate 8000
--n 30000` (x ATTEST_TEST_SCALE). Mid-run:

* w1 gets SIGKILL; the broker notices its silence and puts what it held back
  in the queue (a "worker w1/0 left (silent), N tasks back in the queue"
  line); a new worker w3 is started;
* w2 is frozen (SIGSTOP) until the broker has dropped it, then thawed
  (SIGCONT): its late verdicts and DONEs must be ignored harmlessly (the sink
  keeps the first verdict per seq and answers committed ones from the log;
  the broker answers the unknown worker's DONE with ERROR and it registers
  again).

Checks on the log read back: exactly n unique ids, contiguous, chain and head
intact, cseq order per producer, every verdict equal to a fresh Ed25519
verification (python3-nacl), the bench exits 0 with lost=0 dup=0 order=ok;
and w3, started mid-run, has its first entry in the log within one second of
its start (t_verified of its first entry minus the wall-clock time just before
it was started: a latency the issue demands).

    /usr/bin/python3 test_worker_kill.py --bin BUILD/bin
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import faults as fl  # noqa: E402

HB = ["--heartbeat-ms", "200"]


def wait_for(pred, timeout):
    """Polls pred until true; the timeout is a hang guard only."""
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def body(args, t):
    n = max(3000, int(30000 * cl.scale()))
    with cl.Cluster(args.bin) as c:
        c.start_broker(extra=HB + ["--worker-timeout-ms", "1000"])
        c.start_sink()
        for i in range(3):
            c.start_worker("w%d" % i, threads=1, extra=HB)
        w1, w2 = c.workers[1], c.workers[2]
        b = fl.start_bench(t, c, n, 8000, name="kill")
        t.check("the log holds a fifth of the run with the bench running", fl.wait_log(t, c, n // 5, b))

        t.say("SIGKILL to w1 (pid %d) at %d entries" % (w1.pid, cl.log_count(c.log_dir)))
        t.check("w1 killed by SIGKILL", w1.stop(sig=signal.SIGKILL) == -signal.SIGKILL)
        started_us = int(time.time() * 1e6)
        w3 = c.start_worker("w3", threads=1, extra=HB)
        t.say("w3 started (pid %d)" % w3.pid)
        t.check("broker dropped the silent w1/0",
                wait_for(lambda: fl.left_lines(c.broker.stderr_text(), "w1/0"), 30),
                c.broker.stderr_text()[-1500:])
        left = fl.left_lines(c.broker.stderr_text(), "w1/0")
        print("broker: w1/0 left: %s" % left)
        t.check("broker: 'worker w1/0 left (silent), ...' once", len(left) == 1 and left[0][0] == "silent", left)

        t.say("SIGSTOP to w2 (pid %d) until the broker drops it" % w2.pid)
        w2.send_signal(signal.SIGSTOP)
        dropped = wait_for(lambda: fl.left_lines(c.broker.stderr_text(), "w2/0"), 30)
        w2.send_signal(signal.SIGCONT)
        t.check("broker dropped the frozen w2/0 as silent", dropped
                and fl.left_lines(c.broker.stderr_text(), "w2/0")[0][0] == "silent")
        print("broker: w2/0 left: %s (what it held, frozen, is verified again by the others; "
              "its own late verdicts follow)" % fl.left_lines(c.broker.stderr_text(), "w2/0"))
        t.check("the bench was still running when w2 was thawed", b.proc.alive())
        t.check("w2, thawed, registers again (READY after the broker's ERROR)",
                wait_for(lambda: c.broker.stderr_text().count("worker w2/0 ready") >= 2, 30),
                c.broker.stderr_text()[-1500:])

        log = fl.finish_bench(t, c, b, n, "kill")
        fl.check_verdicts(t, log.entries, "kill: log")
        per = {}
        for e in log.entries:
            per[e["worker"]] = per.get(e["worker"], 0) + 1
        print("entries per worker: %s" % dict(sorted(per.items())))
        t.check("only w0..w3 appear in the log", set(per) <= {"w0/0", "w1/0", "w2/0", "w3/0"}, per)
        mine = [e for e in log.entries if e["worker"] == "w3/0"]
        t.check("w3, started mid-run, verified part of the run", len(mine) > 0, per)
        if mine:
            first = min(e["t_verified"] for e in mine)
            lat = (first - started_us) / 1e6
            print("w3: first entry verified %.3f s after its start" % lat)
            t.check("w3 received work within 1 s of its start (%.3f s, from the log's t_verified)" % lat,
                    lat < 1.0, lat)
        alive = {x.name: x.alive() for x in c.procs() if x is not w1}
        t.check("broker, sink, w0, w2, w3 alive at the end", all(alive.values()), alive)
        if t.failed:
            c.dump_stderr()
        c.workers = [w for w in c.workers if w is not w1]
        c.stop_and_check(t)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("worker_kill", body))
