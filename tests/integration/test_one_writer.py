#!/usr/bin/env python3
"""test_one_writer.py: a log directory has exactly one writer.

A second attest-sink on the log directory of a running one must refuse to
start (exit 1) and name the process that holds the log; the first keeps
working, and the log read back is whole and in order. `attest log verify`
also catches entries whose seq goes backwards (what two writers produced
before the lock), checked on a copy of the log with one entry's seq changed.
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402


def body(args, T):
    with C.Cluster(args.bin) as cl:
        cl.start(workers=1)
        b = C.Bench(args.bin, ["--broker", cl.frontend, "--log-dir", cl.log_dir, "--n", "500", "--producers", "1"],
                    cl.tmp)
        T.check("first sink works", b.wait(120) == 0, b.output()[-500:])
        # A second sink on the same log directory (another verdicts port).
        argv = cl.sink_argv()
        argv[argv.index("--verdicts") + 1] = "tcp://127.0.0.1:%d" % C.free_port()
        second = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        T.check("second sink refused (exit 1)", second.returncode == 1, "rc=%s" % second.returncode)
        T.check("it names the process holding the log",
                "already has a writer" in second.stderr and ("pid %d" % cl.sink.pid) in second.stderr,
                second.stderr[-400:])
        T.check("first sink still alive", cl.sink.alive())
        log = C.read_log(cl.log_dir)
        T.check("log whole and in order", len(log.entries) == 500 and not C.log_problems(log),
                "n=%d problems=%s" % (len(log.entries), C.log_problems(log)[:3]))
        cl.stop()
        # seq going backwards (what two writers produced before the lock) is caught by verify.
        copy = os.path.join(cl.tmp, "copy")
        shutil.copytree(cl.log_dir, copy)
        import lmdb
        import msgpack
        env = lmdb.open(copy, max_dbs=4)
        entries = env.open_db(b"entries")
        with env.begin(write=True) as tx:
            e = msgpack.unpackb(tx.get((10).to_bytes(8, "big"), db=entries))
            e[2] = 3   # below entry 9's seq
            tx.put((10).to_bytes(8, "big"), msgpack.packb(e, use_bin_type=True), db=entries)
        env.close()
        rc, out, err = cl.attest("log", "--dir", copy, "verify")
        T.check("verify names the order problem at index 10",
                rc == 1 and "FAILED at index 10" in out and "order: seq" in out, out[-300:] + err[-300:])


if __name__ == "__main__":
    sys.exit(C.main_wrapper("test_one_writer", body))
