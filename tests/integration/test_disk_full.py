"""test_disk_full.py: the sink's disk full is an operational state, not a
retry storm, and nothing is lost (protocol.md 7.1, operations.md).

The sink's log directory is a tmpfs of 8 MiB (mount -t tmpfs -o size=8m;
needs root: without it, or when the mount fails, the test prints why and
exits 77, which ctest counts as skipped). Broker with --redeliver-ms 1000
(so a redelivery would show within the hold), the sink with --metrics, one
worker. A Python producer:

  1. submits 1000 attestations: all acknowledged;
  2. the tmpfs is filled up with a file; 1000 more are submitted. Checks:
     attest_sink_disk_full becomes 1; attest_sink_commit_failures_total has
     the cause no_space; the sink's log has one SNK-DISKFULL line naming
     ENOSPC when the state began, not one per retry; nothing of the second
     batch is acknowledged; and during 3 s of disk full the broker
     redelivers nothing (the sink's SINK_HELLO says it holds the verdicts:
     no BRK-REDELIVER line, attest_broker_redispatched_total unchanged);
  3. the file is removed: commits resume by themselves, attest_sink_disk_full
     is 0 again, SNK-DISKFULL says the space is back; every attestation of
     the second batch is acknowledged.

The log read back holds the 2000 entries in cseq order, each verdict equal
to a fresh Ed25519 verification, the chain intact.

    /usr/bin/python3 test_disk_full.py --bin BUILD/bin
"""
import errno
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import faults as fl  # noqa: E402
import logfixture as lf  # noqa: E402

N1, N2 = 1000, 1000
HOLD_S = 3.0
SKIP = 77


def metrics(port):
    out = {}
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
    return out


def wait_for(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def fill(path):
    """Writes path until the filesystem is full; returns the bytes written."""
    n, chunk = 0, b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                n += f.write(chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
        for size in (4096, 512, 1):   # the last few bytes too
            try:
                while True:
                    n += f.write(b"\0" * size)
            except OSError:
                pass
    return n


def submit_nowait(p, atts, first):
    """Submits every attestation within credit without waiting for outcomes."""
    i, end = 0, time.time() + 60
    cseqs = list(range(first, first + len(atts)))
    while i < len(atts) and time.time() < end:
        p.drain(0.0)
        if p.credit <= 0:
            p.recv(0.2)
            continue
        n = min(p.credit, p.max_batch, len(atts) - i)
        p.submit([(cseqs[i + k], atts[i + k]) for k in range(n)])
        i += n
    return cseqs


def mount_tmpfs(path):
    if os.geteuid() != 0:
        return "needs root to mount a tmpfs"
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", path], capture_output=True, text=True)
    return None if r.returncode == 0 else "mount -t tmpfs failed: " + r.stderr.strip()


def body(args, t):
    _, sk = lf.make_keypair()
    atts = [lf.make_attestation(sk, subject="host-%d" % i)[0] for i in range(N1 + N2)]
    with cl.Cluster(args.bin) as c:
        why = mount_tmpfs(c.log_dir)
        if why:
            print("disk_full: skipped: %s" % why)
            sys.exit(SKIP)
        try:
            run(t, c, atts)
        finally:
            c.stop()
            subprocess.run(["umount", "-l", c.log_dir], capture_output=True)


def run(t, c, atts):
    sport, bport = cl.free_port(), cl.free_port()
    c.start_broker(extra=["--redeliver-ms", "1000", "--heartbeat-ms", "200", "--metrics", "127.0.0.1:%d" % bport])
    c.start_sink(extra=["--metrics", "127.0.0.1:%d" % sport, "--heartbeat-ms", "200"])
    c.start_worker("w0", threads=1)
    p = cl.Producer(c.frontend, "disk-producer")
    t.check("producer welcomed", p.hello())
    first = p.submit_all(atts[:N1])
    t.check("1: the first %d acknowledged" % N1, all(x in p.acks for x in first))
    t.check("1: attest_sink_disk_full is 0", metrics(sport).get("attest_sink_disk_full") == 0.0)

    filler = os.path.join(c.log_dir, "filler")
    t.say("filling the tmpfs: %d bytes" % fill(filler))
    second = submit_nowait(p, atts[N1:], N1 + 1)
    t.check("2: attest_sink_disk_full becomes 1",
            wait_for(lambda: metrics(sport).get("attest_sink_disk_full") == 1.0, 30), metrics(sport))
    m = metrics(sport)
    fails = {k: v for k, v in m.items() if k.startswith("attest_sink_commit_failures_total")}
    t.check("2: commit failures counted with cause no_space",
            fails.get('attest_sink_commit_failures_total{cause="no_space"}', 0) > 0, fails)
    redispatched = metrics(bport).get("attest_broker_redispatched_total")
    redeliver_lines = c.broker.stderr_text().count("BRK-REDELIVER")
    time.sleep(HOLD_S)
    p.drain(0.0)
    t.check("2: nothing of the second batch acknowledged while the disk is full",
            not any(x in p.acks for x in second))
    serr = c.sink.stderr_text()
    full = [ln for ln in serr.splitlines() if "SNK-DISKFULL" in ln]
    print("sink: %s" % (full[0] if full else "no SNK-DISKFULL line"))
    t.check("2: SNK-DISKFULL names ENOSPC", full and "ENOSPC" in full[0], full[:3] or serr[-1500:])
    t.check("2: SNK-DISKFULL once per state change, not per retry (%d lines in %.0f s of 100 ms retries)"
            % (len(full), HOLD_S), 1 <= len(full) <= 3, full)
    t.check("2: no SNK-COMMIT line saying Input/output error", "Input/output error" not in serr)
    t.check("2: the broker redelivers nothing the sink holds (no BRK-REDELIVER, redispatched unchanged)",
            c.broker.stderr_text().count("BRK-REDELIVER") == redeliver_lines
            and metrics(bport).get("attest_broker_redispatched_total") == redispatched,
            (redispatched, metrics(bport).get("attest_broker_redispatched_total")))

    os.unlink(filler)
    t.say("space freed")
    t.check("3: every attestation of the second batch acknowledged once space returned",
            p.wait_outcomes(second, 60) and all(x in p.acks for x in second),
            [x for x in second if x not in p.acks][:5])
    t.check("3: attest_sink_disk_full is 0 again",
            wait_for(lambda: metrics(sport).get("attest_sink_disk_full") == 0.0, 10))
    back = [ln for ln in c.sink.stderr_text().splitlines() if "SNK-DISKFULL" in ln and "resumed" in ln]
    print("sink: %s" % (back[0] if back else "no 'resumed' line"))
    t.check("3: SNK-DISKFULL says commits resumed", back)
    t.check("all acknowledged valid", all(p.acks[x][2] == 0 for x in first + second))
    c.stop()
    log = cl.read_log(c.log_dir)
    t.check_log(log)
    t.check("the log holds %d entries in cseq order" % (N1 + N2), [e["cseq"] for e in log.entries] == first + second)
    fl.check_verdicts(t, log.entries, "log")
    reports = c.sanitizer_reports()
    t.check("no sanitizer reports in the process logs", not reports, reports)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("disk_full", body))
