#!/usr/bin/env python3
"""test_log_size.py: the log's map grows on demand up to its maximum; its
use is exported; operations.md's backup and restore procedure works.

  grow:    a sink with --map-initial-mb 1 --map-size-mb 64 takes 6000
           attestations: its map doubles as needed (SNK-MAP-GROW), every
           entry is committed, and /metrics shows attest_sink_map_size_bytes
           above 1 MiB and attest_sink_map_used_ratio = used / 64 MiB. The
           bytes per entry are printed (operations.md's capacity planning).
  full:    with --map-size-mb 2 the map stops at 2 MiB: SNK-MAPFULL at ERROR
           and attest_sink_map_used_ratio >= 0.8 (the alert's threshold).
  restore: operations.md section 6, step by step: mdb_copy -c of the running
           sink's log; more appended after it; the cluster stopped; the copy's
           data.mdb restored into a new directory; attest log verify on it;
           a new cluster on it; appending continues (entries N..N+M), and
           verify passes on the whole.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(attest_sink_map_\w+) (\S+)$", text, re.M)}


def bench(cl, n, timeout=180):
    b = C.Bench(cl.bindir, ["--broker", cl.frontend, "--log-dir", cl.log_dir, "-n", str(n), "--producers", "1"],
                cl.tmp)
    return b, b.wait(timeout)


def grow(args, T):
    with C.Cluster(args.bin) as cl:
        mport = C.free_port()
        cl.start_broker()
        cl.start_sink(["--map-initial-mb", "1", "--map-size-mb", "64", "--metrics", "127.0.0.1:%d" % mport])
        cl.start_worker("w0")
        b, rc = bench(cl, 6000)
        T.check("grow: 6000 attestations committed with a map that starts at 1 MiB", rc == 0, b.output()[-400:])
        n = len(C.read_log(cl.log_dir).entries)
        serr = cl.sink.stderr_text()
        grows = re.findall(r"SNK-MAP-GROW log map grown from (\d+) to (\d+) MiB", serr)
        T.check("grow: the map doubled on demand (SNK-MAP-GROW)", grows and grows[0] == ("1", "2"), grows)
        time.sleep(0.2)
        m = scrape(mport)
        size, used, ratio = (m.get("attest_sink_map_%s" % k, -1) for k in ("size_bytes", "used_bytes", "used_ratio"))
        T.check("grow: attest_sink_map_size_bytes is the grown map (> 1 MiB, <= 64 MiB)",
                (1 << 20) < size <= (64 << 20) and size == int(grows[-1][1]) << 20 if grows else False, m)
        T.check("grow: attest_sink_map_used_ratio = used / maximum",
                0 < used <= size and abs(ratio - used / (64 << 20)) < 1e-5, m)
        T.say("capacity: %d entries, %d bytes of map in use: %.0f bytes per entry (bench attestations)"
              % (n, used, used / max(n, 1)))
        cl.stop_and_check(T)


def full(args, T):
    with C.Cluster(args.bin) as cl:
        mport = C.free_port()
        cl.start_broker()
        cl.start_sink(["--map-initial-mb", "1", "--map-size-mb", "2", "--metrics", "127.0.0.1:%d" % mport])
        cl.start_worker("w0")
        b = C.Bench(args.bin, ["--broker", cl.frontend, "--log-dir", cl.log_dir, "-n", "20000", "--producers", "1"],
                    cl.tmp)
        end = time.time() + 90
        while time.time() < end and "SNK-MAPFULL" not in cl.sink.stderr_text():
            time.sleep(0.2)
        serr = cl.sink.stderr_text()
        T.check("full: at the maximum, SNK-MAPFULL at ERROR naming map-size-mb",
                "ERROR SNK-MAPFULL" in serr and "map-size-mb 2" in serr, serr[-600:])
        time.sleep(0.3)
        m = scrape(mport)
        T.check("full: attest_sink_map_used_ratio >= 0.8 (the alert fires)", m.get("attest_sink_map_used_ratio", 0) >= 0.8,
                m)
        T.check("full: the map stayed at its maximum", m.get("attest_sink_map_size_bytes") == 2 << 20, m)
        b.proc.stop(grace=2.0)
        cl.stop()


def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def restore(args, T):
    mdb_copy = shutil.which("mdb_copy")
    if not mdb_copy:
        T.skip("restore: the documented procedure", "mdb_copy not installed (Debian package lmdb-utils)")
        return
    backup = None
    with C.Cluster(args.bin) as cl:
        cl.start(workers=1)
        b, rc = bench(cl, 800)
        T.check("restore: 800 entries before the backup", rc == 0, b.output()[-300:])
        backup = tempfile.mkdtemp(prefix="attest-it-backup-")            # empty, outside the cluster's dir
        rc, out, err = run([mdb_copy, "-c", cl.log_dir, backup])          # step 1: backup while running
        T.check("restore: mdb_copy -c of the running sink's log", rc == 0 and os.listdir(backup) == ["data.mdb"],
                (rc, err[-300:], os.listdir(backup)))
        b, rc = bench(cl, 300)                                            # appended after the backup
        T.check("restore: 300 more after the backup (lost by the restore)", rc == 0, b.output()[-300:])
        cl.stop()                                                         # step 2: stop the cluster
    with C.Cluster(args.bin) as cl:
        try:
            os.makedirs(cl.log_dir)                                       # step 3: restore into a new directory
            shutil.copy2(os.path.join(backup, "data.mdb"), cl.log_dir)
        finally:
            shutil.rmtree(backup, ignore_errors=True)
        rc, out, err = cl.attest("log", "--dir", cl.log_dir, "verify")    # step 4: verify the restored log
        T.check("restore: attest log verify on the restored log: 800 entries, chain ok",
                rc == 0 and "entries=800 " in out and "chain=ok" in out, (rc, out[-300:], err[-300:]))
        cl.start(workers=1)                                               # step 5: start the cluster on it
        serr = cl.sink.stderr_text()
        T.check("restore: the sink opens the restored log at next_index 800", "next_index 800" in serr, serr[-400:])
        b, rc = bench(cl, 200)                                            # step 6: appending continues
        T.check("restore: appending continues", rc == 0, b.output()[-300:])
        log = C.read_log(cl.log_dir)
        T.check("restore: 1000 entries, contiguous, in order", len(log.entries) == 1000 and not C.log_problems(log),
                (len(log.entries), C.log_problems(log)[:3]))
        rc, out, err = cl.attest("log", "--dir", cl.log_dir, "verify")
        T.check("restore: verify passes on the whole", rc == 0 and "entries=1000 " in out and "chain=ok" in out,
                (rc, out[-300:], err[-300:]))
        cl.stop_and_check(T)


def body(args, T):
    grow(args, T)
    full(args, T)
    restore(args, T)


if __name__ == "__main__":
    sys.exit(C.main_wrapper("test_log_size", body))
