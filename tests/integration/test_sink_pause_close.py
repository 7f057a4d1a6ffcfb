"""test_sink_pause_close.py: a paused sink survives its workers' connections
closing while it is stopped (libzmq 4.3.4 zeromq/libzmq#4364).

The sink's PULL takes at most 64 messages per worker connection; when it
is full libzmq stops reading that connection. If the peer then closes it
(a worker killed, a worker's ZMTP heartbeat timing out on a stopped sink)
and the engine writes afterwards (a ZMTP heartbeat), libzmq 4.3.4 aborts
the process: `Assertion failed: !_io_error (stream_engine_base.cpp:331)`.
The chaos test hit it in one run of five at SIGCONT after a 6 s SIGSTOP.
The verdict path (workers' PUSH, the sink's PULL) therefore runs without
ZMTP heartbeats (proto/wire.h wire_socket_stream), and a worker's
connection to a paused sink is no longer closed under it (its queued
verdicts were lost with it).

Cluster: broker (--heartbeat-ms 200 --worker-timeout-ms 1500
--redeliver-ms 3000), sink, 3 workers x 1 thread (--chunk 1: the pipes fill
quickly). `attest bench` runs as fast as admitted; at 3,000 entries the
sink is SIGSTOPped; 1 s later one worker is SIGKILLed (its connection
closes under the stopped engine) and another SIGSTOPped then SIGCONTed
(its connection stays); 6 s into the pause the sink is SIGCONTed.

Checks: the sink is alive 3 s after SIGCONT and exits 0 at the end (no
abort); the bench completes with lost=0 dup=0 order=ok and the log read
back holds every attestation, contiguous, chained, each id once.

    /usr/bin/python3 test_sink_pause_close.py --bin BUILD/bin
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import faults as fl  # noqa: E402

WINDOW = 65536


def body(args, t):
    n = max(30000, int(40000 * cl.scale()) // 2 * 2)
    with cl.Cluster(args.bin, window=WINDOW) as c:
        c.start_broker(["--heartbeat-ms", "200", "--worker-timeout-ms", "1500", "--producer-window", str(WINDOW),
                        "--redeliver-ms", "3000"])
        c.start_sink()
        for i in range(3):
            c.start_worker("w%d" % i, 1, ["--heartbeat-ms", "200", "--chunk", "1"])
        b = fl.start_bench(t, c, n, 0)
        t.check("the log holds 3000 entries with the bench running", fl.wait_log(t, c, 3000, b))
        t.say("stopping the sink at %d entries" % cl.log_count(c.log_dir))
        c.sink.send_signal(signal.SIGSTOP)
        time.sleep(1.0)
        victim = c.workers[0]
        victim.send_signal(signal.SIGKILL)   # its connection closes under the stopped engine
        victim.wait(5)
        c.workers.remove(victim)
        c.workers[0].send_signal(signal.SIGSTOP)
        time.sleep(5.0)
        c.workers[0].send_signal(signal.SIGCONT)
        c.sink.send_signal(signal.SIGCONT)
        time.sleep(3.0)
        t.check("the sink survived the SIGCONT (no libzmq abort)", c.sink.alive(), c.sink.stderr_text()[-800:])
        log = fl.finish_bench(t, c, b, n, "sink paused, a worker killed")
        t.check("the log holds every attestation the bench had acknowledged", len(log.entries) == n, len(log.entries))
        c.finish(t, "sink paused, connections closed")


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("sink_pause_close", body))
