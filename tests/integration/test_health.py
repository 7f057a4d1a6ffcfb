#!/usr/bin/env python3
"""test_health.py: /healthz and /readyz on every daemon; the broker's sink timeout.

  * /healthz is 200 on broker, sink and worker as soon as they serve;
  * /readyz: broker 503 until a sink is registered and confirmed; sink 503
    until it has adopted a broker's epoch; worker 503 until a verifier
    thread has heard from the broker; then 200;
  * a sink that stops answering (SIGSTOP) past --sink-timeout-ms makes the
    broker log BRK-SINK-LOST, export attest_broker_sink_up 0 and answer
    /readyz 503; after SIGCONT all is well again and work goes through.
"""
import os
import signal
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402


def get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return None, str(e)


def wait_status(port, path, want, timeout=15):
    t0 = time.time()
    got = None
    while time.time() - t0 < timeout:
        got = get(port, path)
        if got[0] == want:
            return got
        time.sleep(0.1)
    return got


def body(args, T):
    with C.Cluster(args.bin) as cl:
        bm, sm, wm = C.free_port(), C.free_port(), C.free_port()
        cl.start_broker(["--metrics", "127.0.0.1:%d" % bm, "--sink-timeout-ms", "1000"])
        T.check("broker /healthz 200", wait_status(bm, "/healthz", 200)[0] == 200)
        st, text = get(bm, "/readyz")
        T.check("broker /readyz 503 without a sink", st == 503 and "no sink" in text, (st, text))
        cl.start_sink(["--metrics", "127.0.0.1:%d" % sm])
        T.check("sink /readyz 200 once registered", wait_status(sm, "/readyz", 200)[0] == 200)
        T.check("broker /readyz 200 once the sink is confirmed", wait_status(bm, "/readyz", 200)[0] == 200)
        w = cl.start_worker("w0", extra=["--metrics", "127.0.0.1:%d" % wm])
        T.check("worker /healthz 200", wait_status(wm, "/healthz", 200)[0] == 200)
        T.check("worker /readyz 200 once it hears from the broker", wait_status(wm, "/readyz", 200)[0] == 200)
        T.check("unknown path 404", get(bm, "/nope")[0] == 404)

        cl.sink.send_signal(signal.SIGSTOP)
        st, text = wait_status(bm, "/readyz", 503, timeout=10)
        T.check("sink silent: broker /readyz 503", st == 503, (st, text))
        _, metrics = get(bm, "/metrics")
        T.check("sink silent: attest_broker_sink_up 0", "\nattest_broker_sink_up 0\n" in metrics)
        T.check("sink silent: BRK-SINK-LOST logged", "BRK-SINK-LOST" in cl.broker.stderr_text())
        cl.sink.send_signal(signal.SIGCONT)
        T.check("sink back: broker /readyz 200", wait_status(bm, "/readyz", 200)[0] == 200)
        T.check("sink back: logged", "is back: admission open again" in cl.broker.stderr_text())
        b = C.Bench(args.bin, ["--broker", cl.frontend, "--log-dir", cl.log_dir, "--n", "200", "--producers", "1"],
                    cl.tmp)
        T.check("work goes through after the sink came back", b.wait(60) == 0, b.output()[-300:])
        T.check("log holds the 200", len(C.read_log(cl.log_dir).entries) == 200)
        w.send_signal(signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(C.main_wrapper("test_health", body))
