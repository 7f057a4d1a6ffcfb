"""test_worker_exit.py: attest-worker's exit status (worker/main.c).

  * --broker bogus://x (an endpoint ZeroMQ refuses at once): WRK-CONNECT is
    logged and the worker exits 1, so that systemd's Restart=on-failure
    restarts it; the same for --sink bogus://y, with several threads;
  * a valid endpoint where nothing listens is not an error (ZeroMQ keeps
    reconnecting): the worker runs, and exits 0 on SIGTERM.

    /usr/bin/python3 test_worker_exit.py --bin BUILD/bin
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402


def run(argv, timeout=30):
    p = subprocess.run(argv + ["--insecure"], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stderr


def body(args, t):
    exe = os.path.join(args.bin, "attest-worker")
    rc, err = run([exe, "--broker", "bogus://x", "--threads", "1"])
    t.check("--broker bogus://x: exit 1", rc == 1, (rc, err[-500:]))
    t.check("--broker bogus://x: WRK-CONNECT logged", "WRK-CONNECT" in err and "bogus://x" in err, err[-500:])
    rc, err = run([exe, "--sink", "bogus://y", "--threads", "3"])
    t.check("--sink bogus://y with 3 threads: exit 1", rc == 1, (rc, err[-500:]))
    t.check("--sink bogus://y: WRK-STOP after every thread stopped", "WRK-STOP" in err, err[-500:])
    port = cl.free_port()
    p = subprocess.Popen([exe, "--broker", "tcp://127.0.0.1:%d" % port, "--sink", "tcp://127.0.0.1:%d" % port,
                          "--threads", "2", "--insecure"], stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    t.check("a valid endpoint with nobody there: the worker keeps running", p.poll() is None)
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    err = p.stderr.read()
    t.check("then SIGTERM: exit 0", rc == 0, (rc, err[-500:]))


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("worker_exit", body))
