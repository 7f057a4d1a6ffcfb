"""test_cli_help.py: command-line contract of every executable, and
`attest submit` end to end.

  * attest-broker, attest-sink, attest-worker, attest and every attest
    subcommand answer --help with exit 0 and a usage on stdout;
  * an unknown flag exits 2 with a message naming the flag; a bad value
    (not a number, out of bounds) exits 2 naming the setting;
  * a bad --config file (missing, unknown key, value out of bounds) exits 2;
  * `attest keygen --out K`, then `attest submit --key K` against a running
    cluster with JSON lines: unsigned lines (signed with K), a pre-signed
    line (another attester; must be submitted exactly as given), a
    pre-signed line with a bad signature, lines that cannot be used
    (malformed JSON, unknown field, attester without signature). The output
    lines carry the right verdicts, reasons, ids and indices (checked against
    the log read back), the exit status is 1 (some lines failed), and
    `attest log verify` passes.

    /usr/bin/python3 test_cli_help.py --bin BUILD/bin
"""
import json
import os
import subprocess
import sys
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402

SUBCOMMANDS = ["up", "demo", "keygen", "submit", "log", "bench", "status", "top", "revoke", "verify-receipt", "note", "trace", "witness"]
DAEMONS = ["attest-broker", "attest-sink", "attest-worker"]


def run(argv, stdin=None, timeout=60):
    p = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def help_and_flags(t, bindir, tmp):
    attest = os.path.join(bindir, "attest")
    rc, out, _ = run([attest, "--help"])
    t.check("attest --help -> 0 with the command list", rc == 0 and all(s in out for s in SUBCOMMANDS), rc)
    rc, _, err = run([attest])
    t.check("attest with no command -> 2", rc == 2, rc)
    rc, _, err = run([attest, "frobnicate"])
    t.check("attest frobnicate -> 2 naming it", rc == 2 and "frobnicate" in err, (rc, err))
    for sub in SUBCOMMANDS:
        rc, out, err = run([attest, sub, "--help"])
        t.check("attest %s --help -> 0 with usage" % sub, rc == 0 and ("Usage" in out or "Options" in out), (rc, out[:200], err[:200]))
        rc, _, err = run([attest, sub, "--no-such-flag"], timeout=30)
        t.check("attest %s --no-such-flag -> 2 naming the flag" % sub, rc == 2 and "--no-such-flag" in err,
                (rc, err[:300]))
    for d in DAEMONS:
        exe = os.path.join(bindir, d)
        rc, out, err = run([exe, "--help"])
        t.check("%s --help -> 0 with the settings" % d, rc == 0 and "--log-level" in out and "--config" in out,
                (rc, err[:200]))
        rc, _, err = run([exe, "--no-such-flag", "1"])
        t.check("%s --no-such-flag -> 2 naming the flag" % d, rc == 2 and "--no-such-flag" in err, (rc, err[:300]))
        rc, _, err = run([exe, "--heartbeat-ms", "soon"])
        t.check("%s --heartbeat-ms soon -> 2 naming the setting" % d, rc == 2 and "heartbeat-ms" in err,
                (rc, err[:300]))
        rc, _, err = run([exe, "--heartbeat-ms", "0"])
        t.check("%s --heartbeat-ms 0 (below its bound) -> 2" % d, rc == 2 and "heartbeat-ms" in err, (rc, err[:300]))
        rc, _, err = run([exe, "--log-level", "loud"])
        t.check("%s --log-level loud -> 2" % d, rc == 2, (rc, err[:300]))
        rc, _, err = run([exe, "--config", os.path.join(tmp, "missing.conf")])
        t.check("%s --config MISSING -> 2" % d, rc == 2 and "missing.conf" in err, (rc, err[:300]))
        unknown = os.path.join(tmp, "unknown-%s.conf" % d)
        with open(unknown, "w") as f:
            f.write("frobnicate = 1\n")
        rc, _, err = run([exe, "--config", unknown])
        t.check("%s --config with an unknown key -> 2 naming it" % d, rc == 2 and "frobnicate" in err,
                (rc, err[:300]))
        bounds = os.path.join(tmp, "bounds-%s.conf" % d)
        with open(bounds, "w") as f:
            f.write("heartbeat-ms = 0\n")
        rc, _, err = run([exe, "--config", bounds])
        t.check("%s --config with a value out of bounds -> 2" % d, rc == 2 and "heartbeat-ms" in err,
                (rc, err[:300]))
    rc, _, err = run([os.path.join(bindir, "attest-broker"), "--pipeline-window", "63"])
    t.check("attest-broker --pipeline-window 63 (below 64) -> 2", rc == 2 and "pipeline-window" in err, (rc, err[:300]))
    rc, _, err = run([os.path.join(bindir, "attest-broker"), "--window", "63"])
    t.check("attest-broker --window 63 (the old name, same bounds) -> 2", rc == 2 and "window" in err, (rc, err[:300]))


def submit_e2e(t, c, tmp):
    t.say("attest submit end to end")
    key = os.path.join(tmp, "k.json")
    rc, out, err = c.attest("keygen", "--out", key)
    t.check("attest keygen --out K -> 0", rc == 0, err)
    kj = json.load(open(key))
    pk, sk = lf.make_keypair(bytes.fromhex(kj["secret"])[:32])
    t.check("key file holds a matching pair", pk.hex() == kj["public"])
    now = int(time.time())
    _, other = lf.make_keypair()
    nonce = os.urandom(16)
    pre, pre_id = lf.make_attestation(other, schema="s/pre", subject="pre-signed", data=b"as given",
                                      issued_at=now - 5, expires_at=now + 3600, nonce=nonce)
    pf = lf.decode_attestation(pre)
    bad, bad_id = lf.make_attestation(other, schema="s/pre", subject="bad-sig", issued_at=now - 5,
                                      bad_signature=True)
    bf = lf.decode_attestation(bad)

    def presigned(f, **extra):
        d = {"schema": f["schema"], "subject": f["subject"], "data": f["data"].decode(), "issued_at": f["issued_at"],
             "expires_at": f["expires_at"], "nonce": f["nonce"].hex(), "attester": f["attester"].hex(),
             "signature": f["signature"].hex()}
        d.update(extra)
        return json.dumps(d)

    lines = [
        json.dumps({"schema": "s/unsigned", "subject": "u1", "data": "hello"}),                       # 1 valid
        json.dumps({"schema": "s/unsigned", "subject": "u2", "data_b64": "/wAB", "expires_at": now + 60}),  # 2 valid
        presigned(pf),                                                                                 # 3 valid as-is
        presigned(bf),                                                                                 # 4 invalid
        "{this is not json",                                                                           # 5 error
        json.dumps({"schema": "s", "subject": "x", "colour": "red"}),                                  # 6 error
        json.dumps({"schema": "s", "subject": "x", "attester": pk.hex()}),                             # 7 error
        "",                                                                                            # 8 blank
        json.dumps({"schema": "s/unsigned", "subject": "u3", "issued_at": now - 100, "expires_at": now - 50}),  # 9
    ]
    rc, out, err = c.attest("submit", "--broker", c.frontend, *c.client_args(), "--key", key, "--producer", "cli-test",
                            "--timeout-ms", "60000", stdin="\n".join(lines) + "\n", timeout=120)
    print(out.strip())
    print(err.strip())
    t.check("attest submit exits 1 (some lines could not be used)", rc == 1, rc)
    try:
        res = {o["line"]: o for o in (json.loads(x) for x in out.splitlines() if x.strip())}
    except ValueError:
        res = {}
        t.check("attest submit output is JSON lines", False, out)
    t.check("one output line per non-blank input line", sorted(res) == [1, 2, 3, 4, 5, 6, 7, 9], sorted(res))
    for ln in (1, 2, 3):
        o = res.get(ln, {})
        t.check("line %d: valid, reason ok, not duplicate" % ln,
                o.get("verdict") == "valid" and o.get("reason") == "ok" and o.get("duplicate") is False, o)
    o = res.get(4, {})
    t.check("line 4 (bad signature): invalid, reason signature", o.get("verdict") == "invalid"
            and o.get("reason") == "signature", o)
    o = res.get(9, {})
    t.check("line 9 (expired): invalid, reason expired", o.get("verdict") == "invalid" and o.get("reason") == "expired",
            o)
    for ln in (5, 6, 7):
        t.check("line %d: an error line, not submitted" % ln, "error" in res.get(ln, {}) and
                "index" not in res.get(ln, {}), res.get(ln))
    t.check("line 6's error names the unknown field", "colour" in res.get(6, {}).get("error", ""), res.get(6))
    t.check("pre-signed lines keep their ids (submitted as given)",
            res.get(3, {}).get("id") == pre_id.hex() and res.get(4, {}).get("id") == bad_id.hex(),
            (res.get(3, {}).get("id"), pre_id.hex()))
    log = cl.read_log(c.log_dir)
    t.check_log(log)
    acked = [res[ln] for ln in (1, 2, 3, 4, 9) if ln in res]
    t.check("the log holds exactly the 5 submitted lines", len(log.entries) == 5, len(log.entries))
    t.check("output indices are distinct and each names the entry with that id",
            len({o.get("index") for o in acked}) == 5 and
            all(o.get("index") is not None and o["index"] < len(log.entries) and
                log.entries[o["index"]]["id"].hex() == o.get("id") for o in acked),
            [(o.get("index"), o.get("id", "")[:8]) for o in acked])
    t.check("log entries are from producer cli-test", all(e["producer"] == "cli-test" for e in log.entries))
    by_id = log.by_id()
    e = by_id.get(pre_id)
    sf = lf.decode_attestation(e["att"]) if e else None
    t.check("the pre-signed attestation is stored with its own attester, nonce and signature",
            sf is not None and sf["attester"] == pf["attester"] and sf["signature"] == pf["signature"]
            and sf["nonce"] == nonce and sf["expires_at"] == now + 3600 and sf["data"] == b"as given", sf)
    e1 = by_id.get(bytes.fromhex(res.get(1, {}).get("id", "00" * 32)))
    f1 = lf.decode_attestation(e1["att"]) if e1 else None
    t.check("unsigned lines were signed with K (attester = K's public key, signature verifies)",
            f1 is not None and f1["attester"] == pk and cl.judge_entry(e1)[0] == 0, f1 and f1["attester"].hex())
    e2 = by_id.get(bytes.fromhex(res.get(2, {}).get("id", "00" * 32)))
    t.check("data_b64 is decoded into the stored data",
            e2 is not None and lf.decode_attestation(e2["att"])["data"] == b"\xff\x00\x01")
    log_dir_spellings(t, c)
    rc, out, err = c.attest("log", "--dir", c.log_dir, "verify")
    t.check("attest log verify passes", rc == 0 and "chain=ok" in out and "ids=ok" in out and "verdicts=ok" in out,
            out + err)
    rc, out, err = c.attest("submit", "--broker", c.frontend, *c.client_args(), "--key", key, "--producer", "cli-test",
                            stdin=lines[0] + "\n", timeout=60)
    o = json.loads(out.splitlines()[0]) if rc == 0 and out.strip() else {}
    t.check("resubmitting line 1's content signs a new attestation (fresh nonce) -> a new index",
            o.get("verdict") == "valid" and o.get("index") == 5, (rc, out, err))


def log_dir_spellings(t, c):
    """--log-dir names the log directory everywhere (as for the sink and
    bench); the old --dir still works, with a CFG-DEPRECATED warning."""
    attest = c.exe("attest")
    for cmd in (["log"], ["trace"], ["log", "serve"]):
        rc, out, _ = run([attest] + cmd + ["--help"])
        t.check("attest %s --help lists --log-dir, and --dir as its old name" % " ".join(cmd),
                rc == 0 and "--log-dir TEXT" in out
                and "--dir TEXT" in out and "old name of --log-dir" in out, out[-600:])
    rc1, new_out, new_err = c.attest("log", "--log-dir", c.log_dir, "count")
    rc2, old_out, old_err = c.attest("log", "--dir", c.log_dir, "count")
    t.check("attest log --log-dir D count and --dir D count agree", rc1 == 0 and rc2 == 0 and new_out == old_out
            and new_out.strip() != "", (rc1, rc2, new_out, old_out))
    t.check("--log-dir: no warning; --dir: CFG-DEPRECATED naming log-dir", "CFG-DEPRECATED" not in new_err
            and "CFG-DEPRECATED" in old_err and "'log-dir'" in old_err, (new_err, old_err))
    rc, out, err = c.attest("trace", "--log-dir", c.log_dir, "0", "--json")
    t.check("attest trace --log-dir D 0 reads the log", rc == 0 and out.strip() != "", (rc, err[-300:]))


def body(args, t):
    with cl.Cluster(args.bin) as c:
        help_and_flags(t, args.bin, c.tmp)
        c.start(workers=1, threads=1)
        submit_e2e(t, c, c.tmp)
        c.stop_and_check(t)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("cli_help", body))
