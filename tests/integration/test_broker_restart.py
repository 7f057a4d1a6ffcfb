"""test_broker_restart.py: the broker dies (SIGKILL) or stops (SIGTERM) in the
middle of a run and is restarted on the same ports; nothing is lost,
duplicated or reordered.

The producers' client library (cli/client.c) keeps every unacknowledged
attestation; when the new broker answers ERROR "say HELLO first" (or stays
silent) it says HELLO again and, on the new WELCOME, resubmits everything
pending in cseq order before anything new. Workers re-register (READY after
the broker's ERROR to their heartbeat); the sink re-registers with its
SINK_HELLO heartbeat and the new broker numbers from the sink's next_seq; its
new epoch makes the sink drop the old epoch's buffered verdicts. What the old
broker had committed is acknowledged as a duplicate at its existing index,
never appended again.

For each of SIGKILL and SIGTERM, on a fresh cluster (broker, sink, 3 workers):
`attest bench --broker ... --log-dir ... --n 40000 --rate 8000` (x
ATTEST_TEST_SCALE; the C client); once the log holds a fifth of the run the
broker is signalled, and restarted about a second later. The bench must exit
0 with lost=0 dup=0 order=ok, and the log read back must hold exactly the n
ids, unique, contiguous, hash chain and head intact, per producer the cseqs
1..n/2 strictly increasing along the log, and seq strictly increasing across
the restart.

    /usr/bin/python3 test_broker_restart.py --bin BUILD/bin
"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import faults as fl  # noqa: E402


def restart_run(t, c, sig, n):
    name = signal.Signals(sig).name
    b = fl.start_bench(t, c, n, 8000, name=name)
    t.check("%s: the log holds a fifth of the run with the bench running" % name, fl.wait_log(t, c, n // 5, b))
    t.say("%s: signalling the broker (pid %d) at %d entries" % (name, c.broker.pid, cl.log_count(c.log_dir)))
    rc = c.broker.stop(sig=sig, grace=30.0)
    at_stop = cl.log_count(c.log_dir)
    t.check("%s: the broker exited (rc %s)" % (name, rc), rc == (0 if sig == signal.SIGTERM else -signal.SIGKILL), rc)
    t.check("%s: the run was not over when the broker went down (%d < %d)" % (name, at_stop, n), at_stop < n)
    time.sleep(1.0)
    c.start_broker()
    t.say("%s: broker restarted (pid %d); waiting for the bench" % (name, c.broker.pid))
    log = fl.finish_bench(t, c, b, n, name)
    berr = c.broker.stderr_text()
    starts = re.findall(r"BRK-SINK.*next seq (\d+)", berr)
    t.check("%s: the sink registered with both brokers, the second numbering on from the log" % name,
            len(starts) == 2 and int(starts[1]) > 0, starts)
    t.check("%s: every worker registered with the new broker" % name,
            all(berr.count("worker w%d/0 ready" % i) >= 2 for i in range(3)), berr[-2000:])
    after = [e for e in log.entries if e["seq"] >= int(starts[-1])] if len(starts) == 2 else []
    t.check("%s: entries on both sides of the restart" % name, 0 < len(after) < n, len(after))
    bout = b.output()
    print("%s: client lines: %s" % (name, [ln for ln in bout.splitlines() if "CLI-REJOIN" in ln][:4]))
    t.check("%s: the clients resubmitted after the restart (CLI-REJOIN)" % name, "CLI-REJOIN" in bout,
            bout[-2000:])
    return log


def frozen_run(t, c, n):
    """The broker is frozen (SIGSTOP) for 7 s, longer than the client's 5 s
    silence limit, then thawed: the clients take the silence for a dead
    broker, say BYE and HELLO and resubmit what is pending; the thawed broker
    has admitted the originals as well, so many resubmissions are duplicates:
    the log must still hold each id once, in cseq order per producer."""
    name = "SIGSTOP"
    b = fl.start_bench(t, c, n, 8000, name=name)
    t.check("%s: the log holds a fifth of the run with the bench running" % name, fl.wait_log(t, c, n // 5, b))
    t.say("%s: freezing the broker (pid %d) for 7 s" % (name, c.broker.pid))
    c.broker.send_signal(signal.SIGSTOP)
    time.sleep(7.0)
    c.broker.send_signal(signal.SIGCONT)
    fl.finish_bench(t, c, b, n, name)
    bout = b.output()
    t.check("%s: the clients noticed the silence and resubmitted (CLI-REJOIN ... broker silent)" % name,
            "broker silent" in bout, bout[-2000:])


def body(args, t):
    n = max(4000, int(40000 * cl.scale()) // 2 * 2)
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):
        with cl.Cluster(args.bin) as c:
            c.start(workers=3, threads=1)
            if sig == signal.SIGSTOP:
                frozen_run(t, c, n)
            else:
                restart_run(t, c, sig, n)
            c.finish(t, signal.Signals(sig).name)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("broker_restart", body))
