"""test_status.py: `attest status` and `attest top` against a real cluster.

A broker, a sink and two workers (w0 with one verifier thread, w1 with two)
run on free loopback ports, each serving metrics. Then:

  a. idle: `attest status` exits 0 and shows the broker up with admission
     open, the sink registered with the broker's epoch (the one in the
     broker's BRK-START log line), one line per worker thread labelled by
     its configured id (w0/0, w1/0, w1/1); `--json` parses and has the
     fields (broker.reachable, epoch, producers, queue_depth, held,
     credit_outstanding, oldest_uncommitted_age_seconds, worker_list with
     id/inflight/window/rate, errors; sink.registered, epoch, entries,
     commit_rate, verdicts, errors);
  b. held work: both workers are stopped (SIGSTOP) and `attest bench
     --n 40` submits; status --json then shows the 40 held, a producer,
     queue + in flight == held, an oldest-uncommitted age of >= 1 s that
     grows between two looks; after SIGCONT everything commits and status
     shows 0 held, age 0, entries == the log's next_index == 40 and the
     verdicts summing to 40, a non-zero commit rate while committing
     is not required (the rate is a difference of two scrapes);
  c. `attest top --count 2` prints the screen twice (two clear-screens),
     then exits 0;
  d. no broker: status against a port where nothing listens exits 1 with
     one clear line naming the address; an unreachable sink is shown as
     such with exit 0;
  e. `attest up --metrics-port P` (P..P+3 free) says in its banner where
     the metrics are and that `attest status` shows the cluster; status
     against P and P+1 shows its two workers w0/0 and w1/0 and the sink
     registered; worker 1 serves on P+3; Ctrl-C stops it.

    /usr/bin/python3 test_status.py --bin BUILD/bin
"""
import json
import os
import re
import signal
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402

N = 40


def status(c, bport, sport, *extra):
    return c.attest("status", "--broker-metrics", "127.0.0.1:%d" % bport, "--sink-metrics",
                    "127.0.0.1:%d" % sport, *extra, timeout=30)


def status_json(c, bport, sport):
    rc, out, err = status(c, bport, sport, "--json")
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, out + err


def wait_for(pred, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    return pred()


def idle(t, c, bport, sport):
    def three():
        rc, d, _ = status_json(c, bport, sport)
        return d if d and d["broker"].get("workers") == 3 and d["sink"].get("registered") else None
    d = wait_for(three)
    t.check("status --json: 3 worker threads and a registered sink within 20 s", d is not None)
    rc, out, err = status(c, bport, sport)
    print(out)
    m = re.search(r"epoch (\d+)", c.broker.stderr_text())
    epoch = m.group(1) if m else "?"
    t.check("status: exit 0, broker up, admission open", rc == 0 and "up, epoch" in out
            and "admission open" in out, (rc, err))
    t.check("status: the sink registered with the broker's epoch %s (BRK-START)" % epoch,
            re.search(r"sink .*: registered, epoch %s\b" % epoch, out) is not None, out)
    t.check("status: one line per worker thread, by configured id",
            all(re.search(r"^\s+%s\s+\d+\s+\d+" % re.escape(w), out, re.M) for w in ("w0/0", "w1/0", "w1/1")), out)
    rc, d, err = status_json(c, bport, sport)
    t.check("status --json parses (exit 0)", rc == 0 and d is not None, err)
    if not d:
        return
    b, s = d["broker"], d["sink"]
    keys_b = ["reachable", "epoch", "sink_up", "producers", "workers", "queue_depth", "held", "credit_outstanding",
              "oldest_uncommitted_age_seconds", "worker_list", "errors"]
    keys_s = ["reachable", "registered", "epoch", "entries", "committed", "commit_rate", "verdicts", "errors"]
    t.check("json: broker and sink have every field", all(k in b for k in keys_b) and all(k in s for k in keys_s),
            ([k for k in keys_b if k not in b], [k for k in keys_s if k not in s]))
    t.check("json: epochs equal the broker's log line, exactly", str(b.get("epoch")) == epoch == str(s.get("epoch")),
            (b.get("epoch"), s.get("epoch"), epoch))
    ids = sorted(w["id"] for w in b.get("worker_list", []))
    t.check("json: worker_list w0/0 w1/0 w1/1 with inflight 0 and a window >= 4",
            ids == ["w0/0", "w1/0", "w1/1"] and all(w["inflight"] == 0 and w["window"] >= 4
                                                    and "rate" in w for w in b["worker_list"]), b.get("worker_list"))
    t.check("json: idle: queue 0, held 0, age 0, producers 0", b["queue_depth"] == 0 and b["held"] == 0
            and b["oldest_uncommitted_age_seconds"] == 0 and b["producers"] == 0, b)


def held(t, c, bport, sport):
    for w in c.workers:
        w.send_signal(signal.SIGSTOP)
    bench = cl.Bench(c.bindir, ["--broker", c.frontend, "--log-dir", c.log_dir, "--n", str(N)], c.tmp)
    try:
        def all_held():
            rc, d, _ = status_json(c, bport, sport)
            return d if d and d["broker"].get("held") == N and d["broker"]["oldest_uncommitted_age_seconds"] >= 1.0 \
                else None
        d1 = wait_for(all_held, 30)
        t.check("workers stopped: status shows %d held, oldest uncommitted age >= 1 s" % N, d1 is not None)
        if d1:
            b = d1["broker"]
            inflight = sum(w["inflight"] for w in b["worker_list"])
            t.check("held: queue (%s) + in flight (%s) == held" % (b["queue_depth"], inflight),
                    b["queue_depth"] + inflight == N, b)
            t.check("held: a producer connected", b["producers"] >= 1, b["producers"])
            time.sleep(1.2)
            _, d2, _ = status_json(c, bport, sport)
            t.check("held: the age grows (%.2f -> %.2f s)" % (b["oldest_uncommitted_age_seconds"],
                                                            d2["broker"]["oldest_uncommitted_age_seconds"]),
                    d2["broker"]["oldest_uncommitted_age_seconds"] >= b["oldest_uncommitted_age_seconds"] + 1.0)
            rc, out, _ = status(c, bport, sport, "--rate-ms", "0")
            t.check("held: the screen says %d held and an age in seconds" % N,
                    re.search(r"%d held .*oldest uncommitted \d+\.\d s" % N, out) is not None, out)
    finally:
        for w in c.workers:
            w.send_signal(signal.SIGCONT)
    rc = bench.wait(120)
    t.check("bench completes after SIGCONT", rc == 0, bench.output()[-800:])

    def done():
        rc, d, _ = status_json(c, bport, sport)
        return d if d and d["broker"]["held"] == 0 and d["sink"]["entries"] == N else None
    d = wait_for(done)
    t.check("after the run: held 0, entries %d" % N, d is not None)
    if not d:
        return
    log = cl.read_log(c.log_dir)
    t.check("entries == the log's next_index (%s)" % cl.meta_u64(log, b"next_index"),
            d["sink"]["entries"] == cl.meta_u64(log, b"next_index") == N)
    t.check("verdicts sum to %d" % N, sum(v["count"] for v in d["sink"]["verdicts"]) == N, d["sink"]["verdicts"])
    valid = sum(1 for e in log.entries if e["verdict"] == 0)
    got_valid = sum(v["count"] for v in d["sink"]["verdicts"] if v["verdict"] == "valid")
    t.check("valid verdicts (%d) == the log's (%d)" % (got_valid, valid), got_valid == valid)
    t.check("age back to 0", d["broker"]["oldest_uncommitted_age_seconds"] == 0, d["broker"])
    # (a worker's done count restarts when it registers again, as the stopped
    # workers may have after worker-timeout-ms: no sum is asserted)
    t.check("workers listed with integer done counts", all(isinstance(w["done"], int)
                                                         for w in d["broker"]["worker_list"]), d["broker"])


def top_and_failures(t, c, bport, sport):
    rc, out, err = c.attest("top", "--count", "2", "--interval-ms", "200", "--broker-metrics",
                            "127.0.0.1:%d" % bport, "--sink-metrics", "127.0.0.1:%d" % sport, timeout=30)
    t.check("top --count 2: exit 0, two screens", rc == 0 and out.count("\033[H\033[2J") == 2
            and len(re.findall(r"(?:^|\033\[2J)broker\s+127\.0\.0\.1:%d: up" % bport, out, re.M)) == 2,
            (rc, out[-600:], err))
    nobody = cl.free_port()
    rc, out, err = c.attest("status", "--broker-metrics", "127.0.0.1:%d" % nobody, timeout=30)
    t.check("no broker: exit 1 and one clear line naming 127.0.0.1:%d" % nobody,
            rc == 1 and "127.0.0.1:%d" % nobody in err and "not reachable" in err
            and len(err.strip().splitlines()) == 1, (rc, err))
    rc, out, err = c.attest("status", "--broker-metrics", "127.0.0.1:%d" % bport, "--sink-metrics",
                            "127.0.0.1:%d" % nobody, "--rate-ms", "0", timeout=30)
    t.check("no sink endpoint: exit 0, the sink shown as not reachable",
            rc == 0 and re.search(r"^sink .*not reachable", out, re.M) is not None, (rc, out))
    rc, out, err = c.attest("status", "--broker-metrics", "127.0.0.1:%d" % nobody, "--json", timeout=30)
    d = json.loads(out) if out.strip().startswith("{") else None
    t.check("no broker, --json: exit 1, the JSON says reachable false", rc == 1 and d
            and d["broker"]["reachable"] is False, (rc, out))


def free_base():
    return cl.free_run(4)


def attest_up(t, args):
    base = free_base()
    if base is None:
        t.skip("attest up --metrics-port", "no 4 consecutive free ports")
        return
    d = tempfile.mkdtemp(prefix="attest-status-up-")
    ports = [str(cl.free_port()) for _ in range(3)]
    errpath = os.path.join(d, "up.err")
    up = cl.Proc("up", [os.path.join(args.bin, "attest"), "up", "--data-dir", os.path.join(d, "data"),
                        "--workers", "2", "--frontend-port", ports[0], "--backend-port", ports[1], "--sink-port",
                        ports[2], "--metrics-port", str(base)], errpath)
    try:
        banner = wait_for(lambda: "'attest status'" in up.stderr_text(), 30)
        t.check("attest up: the banner says where the metrics are and names attest status",
                banner and "http://127.0.0.1:%d/metrics" % base in up.stderr_text(), up.stderr_text()[-800:])
        class C:
            pass
        c = C()
        c.attest = lambda *a, timeout=30: _run([os.path.join(args.bin, "attest")] + list(a), timeout)

        def ready():
            rc, d_, _ = status_json(c, base, base + 1)
            return d_ if rc == 0 and d_ and d_["broker"]["workers"] == 2 and d_["sink"].get("registered") else None
        got = wait_for(ready, 30)
        t.check("attest up: status against :%d/:%d shows 2 workers and the sink registered" % (base, base + 1),
                got is not None and sorted(w["id"] for w in got["broker"]["worker_list"]) == ["w0/0", "w1/0"],
                got)
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % (base + 3), timeout=5) as r:
                text = r.read().decode()
        except OSError as e:
            text = str(e)
        t.check("attest up: worker 1 serves metrics on :%d" % (base + 3), "attest_worker_tasks_total" in text,
                text[:200])
    finally:
        up.send_signal(signal.SIGINT)
        rc = up.wait(30)
        t.check("attest up stops on SIGINT with status 0", rc == 0, (rc, up.stderr_text()[-500:]))
        up.stop()


def _run(argv, timeout):
    import subprocess
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def body(args, t):
    with cl.Cluster(args.bin) as c:
        c.bindir = args.bin
        bport, sport = cl.free_port(), cl.free_port()
        c.start_broker(["--metrics", "127.0.0.1:%d" % bport])
        c.start_sink(["--metrics", "127.0.0.1:%d" % sport])
        c.start_worker("w0", threads=1)
        c.start_worker("w1", threads=2)
        idle(t, c, bport, sport)
        held(t, c, bport, sport)
        top_and_failures(t, c, bport, sport)
        c.stop_and_check(t)
    attest_up(t, args)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("status", body))
