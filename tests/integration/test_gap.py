"""test_gap.py: a worker frozen while it holds tasks, and a sink paused under
load, cost about gap-ms, not a timeout (GAP, protocol.md 7.1, 7.7 and 8.5).

Part 1, a frozen worker.

Broker with --redeliver-ms 30000 --worker-timeout-ms 30000 (neither may fire
during the test), the sink with its default gap-ms 200, and two workers: w0,
and w1 with --test-delay-us 5000 (a slow worker: it always holds a few tasks
while there is work). `attest bench --n N --rate 2000` (x ATTEST_TEST_SCALE)
through the cluster; with a quarter of the run in the log, w1 gets SIGSTOP and
stays stopped.

The tasks w1 holds leave holes in the sink's reorder buffer while w0's later
verdicts arrive: the sink reports them (GAP), the broker dispatches them again
at once to w0 and sends w1 nothing more. Checks, while w1 is still stopped:
the log reaches all N entries (read back), within a functional deadline of
10 s from the SIGSTOP, far below the 30 s after which redelivery or the worker
timeout would have released them (the old code fails here); the broker's
attest_broker_gap_redispatched_total and the sink's attest_sink_gaps_total are
above 0, BRK-GAP and SNK-GAP lines were logged, no BRK-REDELIVER, and nothing
was charged as a worker death (attest_broker_poison_total 0, w1 not dropped).
Then w1 gets SIGCONT: its late verdicts and DONEs are harmless (the sink keeps
the first verdict per seq, the broker counts late DONEs): the bench exits 0
with lost=0 dup=0 order=ok, the log holds exactly N unique entries in cseq
order, every verdict equal to a fresh Ed25519 verification, and every process
exits 0.

Part 2, a paused sink. Broker with --redeliver-ms 30000 --worker-timeout-ms
30000, the sink, three workers; `attest bench --n M --rate 4000`; with a
quarter of the run in the log the sink gets SIGSTOP for 6 s, longer than the
ZMTP heartbeat timeout (4 s), so ZeroMQ replaces its connections and what was
queued on them (verdicts, COMMITTEDs) is lost; then SIGCONT. The holes, the
lost tail (probes after the disrupted link) and the lost acknowledgements
(SINK_HELLO's watermark) are dispatched again at once: the log must hold all
M entries within 10 s of SIGCONT, far below the 30 s redeliver-ms (the old
code waits for it), with no BRK-REDELIVER; then the bench's and the log's
checks as above. The seconds from SIGCONT until everything received before
it was committed are printed, from the log's t_received and t_committed.

    /usr/bin/python3 test_gap.py --bin BUILD/bin
"""
import os
import signal
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import faults as fl  # noqa: E402

DEADLINE_S = 10.0     # functional: far below the 30 s of redeliver-ms and worker-timeout-ms
SLOW = ["--test-delay-us", "5000"]


def scrape(port, name):
    """The value of an unlabelled series, or None."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def stopped(pid):
    """True while the process is in state T (stopped)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


def frozen_worker(args, t):
    n = max(2000, int(6000 * cl.scale()))
    bport, sport = cl.free_port(), cl.free_port()
    with cl.Cluster(args.bin) as c:
        c.start_broker(extra=["--redeliver-ms", "30000", "--worker-timeout-ms", "30000",
                              "--metrics", "127.0.0.1:%d" % bport])
        c.start_sink(extra=["--metrics", "127.0.0.1:%d" % sport])
        c.start_worker("w0", threads=1)
        w1 = c.start_worker("w1", threads=1, extra=SLOW)
        b = fl.start_bench(t, c, n, 2000, name="gap")
        t.check("the log holds a quarter of the run with the bench running", fl.wait_log(t, c, n // 4, b))

        t.say("SIGSTOP to w1 (pid %d) at %d entries; it stays stopped" % (w1.pid, cl.log_count(c.log_dir)))
        w1.send_signal(signal.SIGSTOP)
        t0 = time.time()
        reached = False
        while time.time() - t0 < DEADLINE_S:
            if cl.log_count(c.log_dir) >= n:
                reached = True
                break
            time.sleep(0.05)
        took = time.time() - t0
        count = cl.log_count(c.log_dir)
        print("gap: the log held all %d entries %.2f s after w1's SIGSTOP (%d at the deadline)" % (n, took, count)
              if reached else "gap: %d of %d entries %.1f s after w1's SIGSTOP" % (count, n, took))
        t.check("w1 is still stopped", stopped(w1.pid))
        t.check("while w1 is stopped the log reaches every one of the %d attestations (within %.0f s, not the 30 s "
                "timeouts)" % (n, DEADLINE_S), reached, "%d of %d" % (count, n))

        redisp = scrape(bport, "attest_broker_gap_redispatched_total")
        gaps = scrape(sport, "attest_sink_gaps_total")
        print("gap: attest_broker_gap_redispatched_total %s, attest_broker_gaps_total %s, attest_sink_gaps_total %s, "
              "attest_sink_gap_seqs_total %s" % (redisp, scrape(bport, "attest_broker_gaps_total"), gaps,
                                                 scrape(sport, "attest_sink_gap_seqs_total")))
        t.check("the broker dispatched tasks again because of a GAP", redisp is not None and redisp > 0, redisp)
        t.check("the sink sent GAP", gaps is not None and gaps > 0, gaps)
        t.check("no task was charged as a worker death (attest_broker_poison_total 0)",
                scrape(bport, "attest_broker_poison_total") == 0)
        berr, serr = c.broker.stderr_text(), c.sink.stderr_text()
        t.check("BRK-GAP and SNK-GAP logged", "BRK-GAP" in berr and "SNK-GAP" in serr)
        t.check("no BRK-REDELIVER (redeliver-ms never fired)", "BRK-REDELIVER" not in berr)
        t.check("w1 not dropped (worker-timeout-ms never fired)", not fl.left_lines(berr, "w1/0"),
                fl.left_lines(berr, "w1/0"))

        t.say("SIGCONT to w1: its late verdicts and DONEs must be harmless")
        w1.send_signal(signal.SIGCONT)
        log = fl.finish_bench(t, c, b, n, "gap")
        time.sleep(1.0)   # w1's late verdicts reach the sink meanwhile
        t.check("the log still holds exactly %d entries after w1's late verdicts" % n,
                cl.log_count(c.log_dir) == n, cl.log_count(c.log_dir))
        fl.check_verdicts(t, log.entries, "gap: log")
        mine = sum(1 for e in log.entries if e["worker"] == "w1/0")
        print("entries: w0/0 %d, w1/0 %d" % (len(log.entries) - mine, mine))
        c.finish(t, "gap")


def paused_sink(args, t):
    n = max(8000, int(20000 * cl.scale()))
    slow = ["--redeliver-ms", "30000", "--worker-timeout-ms", "30000"]
    with cl.Cluster(args.bin) as c:
        c.start_broker(extra=slow)
        c.start_sink()
        for i in range(3):
            c.start_worker("w%d" % i, threads=1)
        b = fl.start_bench(t, c, n, 4000, name="sink-pause")
        t.check("sink-pause: the log holds a quarter of the run with the bench running", fl.wait_log(t, c, n // 4, b))
        t.say("SIGSTOP to the sink (pid %d) at %d entries, for 6 s" % (c.sink.pid, cl.log_count(c.log_dir)))
        c.sink.send_signal(signal.SIGSTOP)
        time.sleep(6.0)
        c.sink.send_signal(signal.SIGCONT)
        t_cont = time.time()
        reached = False
        while time.time() - t_cont < DEADLINE_S:
            if cl.log_count(c.log_dir) >= n:
                reached = True
                break
            time.sleep(0.05)
        count = cl.log_count(c.log_dir)
        t.check("sink-pause: the log holds all %d entries within %.0f s of SIGCONT (redeliver-ms is 30 s)"
                % (n, DEADLINE_S), reached, "%d of %d after %.1f s" % (count, n, time.time() - t_cont))
        berr = c.broker.stderr_text()
        t.check("sink-pause: no BRK-REDELIVER (redeliver-ms never fired)", "BRK-REDELIVER" not in berr)
        log = fl.finish_bench(t, c, b, n, "sink-pause")
        cont_us = t_cont * 1e6
        before = [e["t_committed"] for e in log.entries if e["t_received"] < cont_us]
        if before:
            print("sink-pause: everything received before SIGCONT was committed %.2f s after it; max ACK latency "
                  "%.2f s" % ((max(before) - cont_us) / 1e6,
                              max(e["t_committed"] - e["t_received"] for e in log.entries) / 1e6))
        print("sink-pause: %d BRK-GAP lines" % berr.count("BRK-GAP"))
        c.finish(t, "sink-pause")


def body(args, t):
    frozen_worker(args, t)
    paused_sink(args, t)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("gap", body))
