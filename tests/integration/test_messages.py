#!/usr/bin/env python3
"""test_messages.py: errors name the real cause.

  * a missing config file and a malformed one get different messages;
  * a bad value in a config file names the key, not a --flag;
  * `attest bench --broker` without --log-dir is a usage error before
    anything is submitted.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402


def run(args, argv):
    p = subprocess.run([os.path.join(args.bin, argv[0])] + argv[1:], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr


def body(args, T):
    d = tempfile.mkdtemp(prefix="attest-msg-")
    rc, err = run(args, ["attest-broker", "--config", os.path.join(d, "nope.conf")])
    T.check("missing config file: exit 2, says it cannot be read", rc == 2 and "cannot read config file" in err
            and "No such file" in err, err)
    bad = os.path.join(d, "bad.conf")
    with open(bad, "w") as f:
        f.write("this is = = not ZPL \"\n\t\tbroken\n")
    rc, err = run(args, ["attest-broker", "--config", bad])
    T.check("malformed config file: exit 2, says it is not valid ZPL", rc == 2 and "is not valid ZPL" in err, err)
    val = os.path.join(d, "val.conf")
    with open(val, "w") as f:
        f.write('heartbeat-ms = "fast"\n')
    rc, err = run(args, ["attest-broker", "--config", val])
    T.check("bad value in a file: names the key, not a flag", rc == 2 and "key 'heartbeat-ms' wants a whole number"
            in err and "--heartbeat-ms" not in err, err)
    rc, err = run(args, ["attest-broker", "--heartbeat-ms", "fast"])
    T.check("bad value on the command line: names the flag", rc == 2 and "--heartbeat-ms wants a whole number" in err,
            err)
    rc, err = run(args, ["attest", "bench", "--broker", "127.0.0.1:1", "--n", "10", "--insecure"])
    T.check("bench --broker without --log-dir: usage error before submitting", rc == 2 and "needs --log-dir" in err
            and "generating" not in err, err)


if __name__ == "__main__":
    sys.exit(C.main_wrapper("test_messages", body))
