#!/usr/bin/env python3
"""test_submit_resubmit.py: `attest submit --signed-out` makes a resubmission exact.

Lines signed with --key get a fresh nonce and time on every run, so
resubmitting the same input after an interruption would log them twice.
--signed-out FILE records each attestation exactly as sent: resubmitting that
file gives the same ids, and what was already logged comes back as a
duplicate. An interrupted submit (SIGINT) exits 130 and lists every line it
sent that was not answered, with its id.
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402


def outcomes(text):
    return [json.loads(l) for l in text.splitlines() if l.strip().startswith("{")]


def line(i):
    return json.dumps({"schema": "test/v1", "subject": "s-%d" % i, "data": "d%d" % i}) + "\n"


def wait_acks(path, n, timeout=30):
    t0 = time.time()
    while time.time() - t0 < timeout:
        with open(path) as f:
            got = [o for o in outcomes(f.read()) if "index" in o]
        if len(got) >= n:
            return got
        time.sleep(0.05)
    return got


def body(args, T):
    with C.Cluster(args.bin) as cl:
        cl.start(workers=1)
        key = os.path.join(cl.tmp, "key.json")
        rc, _, err = cl.attest("keygen", "--out", key)
        T.check("keygen", rc == 0, err)
        signed = os.path.join(cl.tmp, "signed.jsonl")
        outp = os.path.join(cl.tmp, "out1.jsonl")
        argv = [cl.exe("attest"), "submit", "--broker", cl.frontend, "--key", key, "--signed-out", signed] + cl.client_args()
        with open(outp, "w") as out:
            p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE, text=True)
            for i in range(50):
                p.stdin.write(line(i))
            p.stdin.flush()
            first = wait_acks(outp, 50)
            T.check("50 acknowledged", len(first) == 50, len(first))
            for w in cl.workers:
                w.send_signal(signal.SIGSTOP)      # the next lines stay unanswered
            for i in range(50, 60):
                p.stdin.write(line(i))
            p.stdin.flush()
            time.sleep(1.0)
            p.send_signal(signal.SIGINT)
            try:
                rc = p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = None
            err = p.stderr.read()
        for w in cl.workers:
            w.send_signal(signal.SIGCONT)
        T.check("interrupted submit exits 130", rc == 130, "rc=%s %s" % (rc, err[-300:]))
        with open(outp) as f:
            res = outcomes(f.read())
        unack = {o["line"]: o["id"] for o in res if o.get("unacknowledged")}
        T.check("the 10 unanswered lines are listed with their ids", sorted(unack) == list(range(51, 61)),
                sorted(unack))
        with open(signed) as f:
            T.check("signed-out holds the 60 attestations as sent", len(f.readlines()) == 60)
        # Resubmit the signed file: the same ids; the first 50 come back as duplicates.
        rc, out, err = cl.attest("submit", "--broker", cl.frontend, "--input", signed, *cl.client_args(), timeout=120)
        again = {o["line"]: o for o in outcomes(out) if "index" in o}
        T.check("resubmission: all 60 acknowledged", rc == 0 and len(again) == 60, "rc=%s %s" % (rc, err[-300:]))
        ids1 = {o["line"]: o["id"] for o in first}
        T.check("same ids as the first run", all(again[n]["id"] == ids1[n] for n in ids1)
                and all(again[n]["id"] == unack[n] for n in unack))
        T.check("what was logged comes back as duplicate", all(again[n]["duplicate"] for n in ids1))
        log = C.read_log(cl.log_dir)
        T.check("the log holds each attestation once (60 entries)", len(log.entries) == 60, len(log.entries))


if __name__ == "__main__":
    sys.exit(C.main_wrapper("test_submit_resubmit", body))
