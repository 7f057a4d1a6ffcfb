#!/usr/bin/env python3
"""test_log_messages.py: `attest log` names the real cause when it cannot read a log.

  * a data directory given where the log directory is expected: "did you
    mean --log-dir DIR/log?";
  * a directory with no log: "no log at DIR";
  * a log it may not read (run as another user; needs root): "permission
    denied", not "no log".
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402


def body(args, T):
    with C.Cluster(args.bin) as cl:
        cl.start(workers=1)
        b = C.Bench(args.bin, ["--broker", cl.frontend, "--log-dir", cl.log_dir, "--n", "20", "--producers", "1"],
                    cl.tmp)
        T.check("a small log", b.wait(60) == 0, b.output()[-300:])
        cl.stop()
        rc, out, err = cl.attest("log", "--log-dir", cl.tmp, "count")
        T.check("data dir for log dir: did you mean DIR/log", rc == 1 and "did you mean --log-dir %s/log" % cl.tmp in err,
                err)
        empty = tempfile.mkdtemp(prefix="attest-nolog-")
        rc, out, err = cl.attest("log", "--log-dir", empty, "count")
        T.check("no log: says so", rc == 1 and "no log at %s" % empty in err, err)
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            T.skip("permission denied", "needs root and setpriv to run as another user")
            return
        os.chmod(cl.tmp, 0o755)
        os.chmod(cl.log_dir, 0o700)
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            os.path.join(args.bin, "attest"), "log", "--log-dir", cl.log_dir, "count"],
                           capture_output=True, text=True, timeout=30)
        T.check("unreadable log: permission denied, not 'no log'",
                p.returncode == 1 and "permission denied" in p.stderr and "no log" not in p.stderr, p.stderr)


if __name__ == "__main__":
    sys.exit(C.main_wrapper("test_log_messages", body))
