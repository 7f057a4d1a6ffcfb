"""test_blocked_sink.py: workers blocked on a stopped sink keep heartbeating
the broker, which keeps them (protocol.md 6.4, 6.7).

While the sink is stopped its PULL takes nothing, so the workers' VERDICTS
sends block. A worker thread blocked there used to send nothing to the
broker, which then declared every worker "left (silent)" at once and
redispatched all they held. Now the thread tells the broker BLOCKED (how
long it has waited) at least once per heartbeat-ms from its send retry loop,
and the broker keeps it, with its tasks, giving it nothing more until it
moves again.

Cluster: broker (--heartbeat-ms 200 --worker-timeout-ms 1500, --metrics),
sink, 2 workers x 2 threads (--heartbeat-ms 200, --chunk 1 so that the
pipes to the sink fill with messages quickly, --metrics). `attest bench`
(2 producers, as fast as admitted, producer-window = pipeline-window =
65536) runs through it; once the log holds 5,000 entries the sink is
SIGSTOPped for 6 s, then SIGCONTed.

Checks:
  * the workers did block on the sink (else this test proves nothing): the
    broker logged BRK-WORKER-BLOCKED, and attest_broker_workers_blocked
    was > 0 while the sink was stopped; the workers counted BLOCKED sent
    and time blocked (attest_worker_blocked_reports_total,
    attest_worker_sink_blocked_seconds_total);
  * the broker declared no worker left (read from its stderr: no
    BRK-WORKER "left" line for any worker thread) and registered each
    thread once;
  * after SIGCONT the run completes: the bench exits 0 with lost=0 dup=0
    order=ok, and the log read back holds exactly the n attestations,
    contiguous, chained, each id once, per producer in cseq order: every
    acknowledged attestation is in the log.

Before the fix (main at f65e401) the broker logged "left (silent)" for every
worker thread about 1.5 s into the pause and, after SIGCONT, hundreds of
READY lines.

    /usr/bin/python3 test_blocked_sink.py --bin BUILD/bin
"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import faults as fl  # noqa: E402

WINDOW = 65536
PAUSE_S = 6.0
THREADS = ["w0/0", "w0/1", "w1/0", "w1/1"]


def pause_sink(t, c, bport):
    """SIGSTOP the sink for PAUSE_S, sampling the broker's blocked gauge; returns its highest value."""
    t.say("stopping the sink (pid %d) at %d entries for %.0f s" % (c.sink.pid, cl.log_count(c.log_dir), PAUSE_S))
    c.sink.send_signal(signal.SIGSTOP)
    most = 0
    end = time.time() + PAUSE_S
    while time.time() < end:
        m = cl.scrape(bport, timeout=1.0) or {}
        most = max(most, m.get("attest_broker_workers_blocked", 0))
        time.sleep(0.2)
    c.sink.send_signal(signal.SIGCONT)
    t.say("sink continued; attest_broker_workers_blocked reached %d during the pause" % most)
    return most


def body(args, t):
    n = max(30000, int(60000 * cl.scale()) // 2 * 2)
    bport, wports = cl.free_port(), [cl.free_port(), cl.free_port()]
    with cl.Cluster(args.bin, window=WINDOW) as c:
        c.start_broker(["--heartbeat-ms", "200", "--worker-timeout-ms", "1500", "--producer-window", str(WINDOW),
                        "--redeliver-ms", "3000", "--metrics", "127.0.0.1:%d" % bport])
        c.start_sink()
        for i in range(2):
            c.start_worker("w%d" % i, 2, ["--heartbeat-ms", "200", "--chunk", "1",
                                          "--metrics", "127.0.0.1:%d" % wports[i]])
        b = fl.start_bench(t, c, n, 0)
        t.check("the log holds 5000 entries with the bench running", fl.wait_log(t, c, 5000, b))
        most = pause_sink(t, c, bport)
        log = fl.finish_bench(t, c, b, n, "sink paused")
        berr = c.broker.stderr_text()
        wm = [cl.scrape(p) or {} for p in wports]
        blocked_lines = [ln for ln in berr.splitlines() if "BRK-WORKER-BLOCKED" in ln]
        print("\n".join(blocked_lines[:4]))
        t.check("the workers blocked on the stopped sink and told the broker (BRK-WORKER-BLOCKED)",
                any("verdicts have waited" in ln for ln in blocked_lines), berr[-2000:])
        t.check("attest_broker_workers_blocked > 0 while the sink was stopped", most > 0, most)
        t.check("the workers counted BLOCKED sent and time blocked on the sink",
                all(m.get("attest_worker_blocked_reports_total", 0) > 0
                    and m.get("attest_worker_sink_blocked_seconds_total", 0) > 0 for m in wm),
                [(m.get("attest_worker_blocked_reports_total"), m.get("attest_worker_sink_blocked_seconds_total"))
                 for m in wm])
        left = {w: fl.left_lines(berr, w) for w in THREADS}
        t.check("the broker declared no worker thread left (silent or otherwise)",
                not any(left.values()), {w: v for w, v in left.items() if v})
        ready = {w: len(re.findall(r"BRK-WORKER worker %s ready with credit" % re.escape(w), berr)) for w in THREADS}
        t.check("each worker thread registered once", all(v == 1 for v in ready.values()), ready)
        t.check("the log holds every attestation the bench had acknowledged", len(log.entries) == n, len(log.entries))
        c.finish(t, "sink paused")


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("blocked_sink", body))
