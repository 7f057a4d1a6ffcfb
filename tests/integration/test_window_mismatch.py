#!/usr/bin/env python3
"""test_window_mismatch.py: a sink whose pipeline-window differs from the
broker's is refused when it registers, with a clear error on both sides.

Broker with --pipeline-window 1024; a sink with 512 sends SINK_HELLO carrying
its window: the broker answers ERROR (config) "broker pipeline-window 1024,
sink 512: they must be equal", logs BRK-SINK at ERROR and does not register
it; the sink logs SNK-WINDOW-MISMATCH and exits 2 (configuration). Then a
sink with the broker's window registers and a short run is logged whole.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402

TEXT = "broker pipeline-window 1024, sink 512: they must be equal"


def refused(cl, T):
    argv = [cl.exe("attest-sink"), "--log-dir", cl.log_dir, "--verdicts", cl.sink_ep, "--broker", cl.backend,
            "--pipeline-window", "512"] + cl.key_args("sink")
    p = C.Proc("sink-512", argv, os.path.join(cl.tmp, "sink-512.err"))
    rc = p.wait(20)
    err = p.stderr_text()
    T.check("a sink with another window exits 2 (configuration)", rc == 2, "rc=%s\n%s" % (rc, err[-600:]))
    T.check("the sink says SNK-WINDOW-MISMATCH with both windows",
            "ERROR SNK-WINDOW-MISMATCH" in err and TEXT in err, err[-600:])
    time.sleep(0.3)
    berr = cl.broker.stderr_text()
    T.check("the broker logs BRK-SINK at ERROR with both windows",
            "ERROR BRK-SINK" in berr and TEXT in berr, berr[-600:])
    T.check("the broker did not register it", "registered" not in berr, berr[-600:])


def body(args, T):
    with C.Cluster(args.bin, window=1024) as cl:
        cl.start_broker()
        refused(cl, T)
        cl.start_sink()
        cl.start_worker("w0")
        b = C.Bench(args.bin, ["--broker", cl.frontend, "--log-dir", cl.log_dir, "--n", "200", "--producers", "1"],
                    cl.tmp)
        T.check("a sink with the broker's window registers and the run completes", b.wait(120) == 0,
                b.output()[-500:])
        log = C.read_log(cl.log_dir)
        T.check("log whole and in order", len(log.entries) == 200 and not C.log_problems(log),
                "n=%d" % len(log.entries))
        cl.stop_and_check(T)


if __name__ == "__main__":
    sys.exit(C.main_wrapper("test_window_mismatch", body))
