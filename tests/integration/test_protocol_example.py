"""test_protocol_example.py: the Python producer of docs/protocol.md section 11
runs, as printed, against a real cluster.

The fenced ```python block under the "## 11." heading is extracted from the
document, its endpoint (tcp://127.0.0.1:15555) pointed at the test cluster's
frontend, and run with /usr/bin/python3 right after the cluster starts (so
the WELCOME may still carry credit 0: the sink is not confirmed yet). It must
print the id and one ACK [cseq 1, index, valid, reason 0, not duplicate],
and the log read back must hold that id at that index, from "py-producer".
A second run submits the same kind of attestation again (a fresh key), and
both are in the log.

    /usr/bin/python3 test_protocol_example.py --bin BUILD/bin
"""
import ast
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "protocol.md")
EXAMPLE_ENDPOINT = "tcp://127.0.0.1:15555"


def section_11_code():
    """The first ```python block after the '## 11.' heading (and before '## 12.')."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## 11\..*?$(.*?)^## 12\.", text, re.S | re.M)
    if not m:
        return None
    b = re.search(r"^```python\n(.*?)^```", m.group(1), re.S | re.M)
    return b.group(1) if b else None


def run_example(code, timeout=60):
    p = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def parse_output(out):
    """(id hex, ACK list) from the example's output, or (None, None)."""
    mid = re.search(r"^id ([0-9a-f]{64})$", out, re.M)
    mack = re.search(r"^ACK \[cseq, index, verdict, reason, duplicate\]: (.*)$", out, re.M)
    ack = ast.literal_eval(mack.group(1)) if mack else None
    return (mid.group(1) if mid else None), ack


def body(args, t):
    code = section_11_code()
    t.check("docs/protocol.md section 11 has a python block", code is not None)
    if code is None:
        return
    t.check("the example connects to %s (replaced by the test's endpoint)" % EXAMPLE_ENDPOINT,
            EXAMPLE_ENDPOINT in code)
    t.check("the example does not assume credit in WELCOME (0 until the sink is confirmed)",
            "assert credit >= 1" not in code)
    with cl.Cluster(args.bin, secure=False) as c:   # section 11's producer is plaintext (--insecure)
        c.start_broker()
        c.start_sink()
        c.start_worker("w0", threads=1)
        runnable = code.replace(EXAMPLE_ENDPOINT, c.frontend)
        results = []
        for run in range(2):
            rc, out, err = run_example(runnable)
            print(out, end="")
            aid, ack = parse_output(out)
            t.check("run %d: the example exits 0" % run, rc == 0, err[-2000:])
            t.check("run %d: it prints the attestation id" % run, aid is not None, out)
            t.check("run %d: it gets one ACK for cseq 1, valid, reason 0, not a duplicate" % run,
                    isinstance(ack, list) and len(ack) == 1 and ack[0][0] == 1 and ack[0][2] == 0
                    and ack[0][3] == 0 and ack[0][4] is False, (ack, err[-1000:]))
            results.append((aid, ack))
        log = cl.read_log(c.log_dir)
        t.check_log(log)
        by_id = log.by_id()
        for run, (aid, ack) in enumerate(results):
            e = by_id.get(bytes.fromhex(aid)) if aid else None
            t.check("run %d: the id is in the log at the ACK's index, from py-producer" % run,
                    e is not None and ack is not None and e["index"] == ack[0][1] and e["producer"] == "py-producer"
                    and e["verdict"] == 0 and e["cseq"] == 1, e)
        t.check("the log holds exactly the two entries", len(log.entries) == 2, len(log.entries))
        if t.failed:
            c.dump_stderr()
        c.stop_and_check(t)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("protocol_example", body))
