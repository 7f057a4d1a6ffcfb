"""test_log_tool.py: `attest keygen` and `attest log` against logs built with
logfixture (no pipeline needed), including tampered copies that verify must
reject.   Usage: /usr/bin/python3 test_log_tool.py --bin BUILD/bin
"""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402

T = cl.Checks("log_tool")   # the helpers below check through it


def run(attest, *args, stdin=None, timeout=30):
    p = subprocess.run([attest] + list(args), input=stdin, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def lines(text):
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def build_entries(sk):
    now = int(time.time())
    specs = [
        lf.make_attestation(sk, subject="host-0", data=b"hello")[0],
        lf.make_attestation(sk, subject="host-1", data=b"\xff\x00\x01")[0],
        lf.make_attestation(sk, subject="host-2", data=b"x", bad_signature=True)[0],
        lf.make_attestation(sk, subject="host-3", issued_at=now - 100, expires_at=now - 50)[0],
        lf.make_attestation(sk, subject="host-4", expires_at=now + 3600)[0],
        lf.make_attestation(sk, subject="host-5", issued_at=now + 10000)[0],
        lf.make_attestation(sk, subject="h\u00e9te-6", data="\u00e9t\u00e9".encode())[0],
    ]
    return [{"att": a, "producer": "p%d" % (i % 2), "worker": "w%d" % (i % 3)} for i, a in enumerate(specs)]


def test_keygen(attest, tmp):
    path = os.path.join(tmp, "key.json")
    rc, out, err = run(attest, "keygen", "--out", path)
    T.check("keygen.rc", rc == 0, err)
    T.check("keygen.mode", stat.S_IMODE(os.stat(path).st_mode) == 0o600)
    key = json.load(open(path))
    T.check("keygen.prints_public", out.strip() == key["public"])
    pk, sk = lf.make_keypair(bytes.fromhex(key["secret"])[:32])
    T.check("keygen.pair_matches", pk.hex() == key["public"] and sk.hex() == key["secret"])
    rc, _, err = run(attest, "keygen", "--out", path)
    T.check("keygen.no_overwrite", rc == 1 and "--force" in err, err)
    rc, out2, _ = run(attest, "keygen", "--out", path, "--force")
    T.check("keygen.force", rc == 0 and out2 != out)
    rc, out, _ = run(attest, "keygen", "--help")
    T.check("keygen.help", rc == 0 and "--out" in out)


def test_read(attest, logdir, ents):
    rc, out, err = run(attest, "log", "--dir", logdir, "count")
    T.check("count", rc == 0 and out.strip() == str(len(ents)), out + err)
    rc, out, err = run(attest, "log", "get", "0", "--dir", logdir)   # flags after the subcommand
    e = json.loads(out) if rc == 0 else {}
    T.check("get.0", e.get("index") == 0 and e.get("data") == "hello" and e.get("verdict") == "valid"
            and e.get("reason") == "ok" and e.get("id") == ents[0]["id"].hex()
            and e.get("prev_hash") == "00" * 32 and e.get("subject") == "host-0", out + err)
    T.check("get.lineage", e.get("producer") == "p0" and e.get("worker") == "w0" and e.get("cseq") == 1
            and e.get("t_committed") == ents[0]["t_committed"] and e.get("expires_at") is None)
    rc, out, err = run(attest, "log", "--dir", logdir, "get", "1")
    e = json.loads(out) if rc == 0 else {}
    T.check("get.binary_data_b64", e.get("data_b64") == "/wAB" and "data" not in e
            and e.get("prev_hash") == ents[0]["hash"].hex(), out + err)
    rc, out, err = run(attest, "log", "--dir", logdir, "get", "6")
    T.check("get.utf8", rc == 0 and json.loads(out).get("data") == "\u00e9t\u00e9", out + err)
    rc, _, err = run(attest, "log", "--dir", logdir, "get", "99")
    T.check("get.missing", rc == 1 and "no entry at index 99" in err, err)
    rc, out, err = run(attest, "log", "--dir", logdir, "id", ents[4]["id"].hex())
    T.check("id.found", rc == 0 and json.loads(out)["index"] == 4, out + err)
    rc, _, err = run(attest, "log", "--dir", logdir, "id", "ab" * 32)
    T.check("id.missing", rc == 1 and "no entry" in err, err)
    rc, _, err = run(attest, "log", "--dir", logdir, "id", "xyz")
    T.check("id.bad_hex", rc == 2, err)
    rc, out, err = run(attest, "log", "--dir", logdir, "rejected")
    rej = lines(out)
    T.check("rejected", rc == 0 and [(r["index"], r["reason"]) for r in rej]
            == [(2, "signature"), (3, "expired"), (5, "not_yet_valid")], out + err)
    T.check("rejected.all_invalid", all(r["verdict"] == "invalid" for r in rej))
    rc, out, err = run(attest, "log", "--dir", logdir, "export")
    exp = lines(out)
    T.check("export.stdout", rc == 0 and [x["index"] for x in exp] == list(range(len(ents))), err)
    path = logdir + "-export.jsonl"
    rc, out, err = run(attest, "log", "--out", path, "--dir", logdir, "export")
    T.check("export.file", rc == 0 and lines(open(path).read()) == exp and out == "", err)
    rc, out, err = run(attest, "log", "--dir", logdir, "tail", "--n", "2")
    T.check("tail", rc == 0 and [x["index"] for x in lines(out)] == [5, 6], out + err)
    rc, out, err = run(attest, "log", "--dir", logdir, "verify")
    T.check("verify.ok", rc == 0 and out.strip() == "verify: entries=7 valid=4 invalid=3 chain=ok ids=ok verdicts=ok",
            out + err)


def test_errors(attest, tmp):
    rc, _, err = run(attest, "log", "--dir", os.path.join(tmp, "nolog"), "count")
    T.check("nolog", rc == 1 and "no log at" in err and "attest up" in err, err)
    rc, _, err = run(attest, "log", "--dir", tmp, "frobnicate")
    T.check("unknown_sub", rc == 2 and "frobnicate" in err, err)
    rc, _, err = run(attest, "log", "--dir", tmp)
    T.check("no_sub", rc == 2, err)
    rc, _, err = run(attest, "log", "get")
    T.check("get.no_arg", rc == 2 and "get INDEX" in err, err)
    rc, out, _ = run(attest, "log", "--help")
    T.check("log.help", rc == 0 and "verify" in out and "--dir" in out)
    empty = os.path.join(tmp, "empty")
    lf.write_log(empty, [])
    rc, out, err = run(attest, "log", "--dir", empty, "verify")
    T.check("verify.empty", rc == 0 and "entries=0" in out, out + err)


def tampered(tmp, logdir, name, fn):
    d = os.path.join(tmp, name)
    shutil.copytree(logdir, d)
    if os.path.exists(os.path.join(d, "lock.mdb")):
        os.remove(os.path.join(d, "lock.mdb"))
    fn(d)
    return d


def test_tampered(attest, tmp, logdir, ents, sk, tag):
    other, _ = lf.make_attestation(sk, subject="host-x")
    cases = [
        ("flip_verdict", lambda d: lf.tamper_entry(d, 2, verdict=0, reason=0), "FAILED at index 2: verdicts"),
        ("wrong_reason", lambda d: lf.tamper_entry(d, 3, reason=9), "FAILED at index 3: verdicts"),
        ("edit_time", lambda d: lf.tamper_entry(d, 3, t_committed=1), "FAILED at index 4: chain"),
        ("swap_att", lambda d: lf.tamper_entry(d, 1, att=other), "FAILED at index 1: ids"),
        ("bad_index", lambda d: lf.tamper_entry(d, 5, index=50), "FAILED at index 5: entries"),
        ("bad_head", lambda d: lf.tamper_meta(d, b"head", b"\x01" * 32), "FAILED at index 7: chain: meta head is not the hash of the last entry (index 6)"),
        ("short_count", lambda d: lf.tamper_meta(d, b"next_index", lf.be64(6)), "FAILED at index 6: entries"),
        # the last entry deleted (meta still says 7): reported at its own index,
        # not as a failed id lookup at index 0 (the tail's ids are read first)
        ("drop_last", lambda d: lf.delete_entry(d, 6),
         "FAILED at index 6: entries: entry missing (the log says it has 7 entries)"),
        ("drop_middle", lambda d: lf.delete_entry(d, 5),
         "FAILED at index 5: entries: entry missing (the log says it has 7 entries)"),
        ("garbage_entry", lambda d: lf.put_raw_entry(d, 5, b"\x93\x01"),
         "FAILED at index 5: entries: the entry does not decode: "),
        # indexed: entry 6's id is not its attestation's; tail: the tail lookup
        # finds id 0 at index 6 first, so the duplicate shows at index 0
        ("dup_id", lambda d: lf.tamper_entry(d, 6, id=ents[0]["id"]),
         "FAILED at index 6: ids" if tag == "indexed" else "FAILED at index 0: ids: duplicate id, also at index 6"),
    ]
    if tag == "indexed":   # the "ids" database is used for every entry
        cases += [
            ("drop_id", lambda d: lf.delete_id(d, ents[4]["id"]), "FAILED at index 4: ids"),
            ("wrong_id_map", lambda d: lf.put_id(d, ents[4]["id"], 5), "FAILED at index 4: ids: the ids index maps"),
        ]
    for name, fn, want in cases:
        d = tampered(tmp, logdir, tag + "-" + name, fn)
        rc, out, err = run(attest, "log", "--dir", d, "verify")
        T.check("tampered.%s.%s" % (tag, name), rc == 1 and out.startswith("verify: " + want), out + err)


def test_duplicate_entries(attest, tmp, sk):
    """The same attestation logged twice (what a sink must never do)."""
    att, _ = lf.make_attestation(sk, subject="twice")
    specs = [{"att": lf.make_attestation(sk)[0]}, {"att": att}, {"att": lf.make_attestation(sk)[0]}, {"att": att}]
    for index_ids in (True, False):
        d = os.path.join(tmp, "dup-%s" % index_ids)
        lf.write_log(d, specs, index_ids=index_ids)
        rc, out, err = run(attest, "log", "--dir", d, "verify")
        T.check("verify.duplicate.%s" % index_ids, rc == 1 and "duplicate id" in out, out + err)


def test_follow(attest, tmp, sk):
    d = os.path.join(tmp, "follow")
    lf.write_log(d, [{"att": lf.make_attestation(sk, subject="f0")[0]}])
    p = subprocess.Popen([attest, "log", "--dir", d, "tail", "--follow", "--n", "5"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(15, p.kill)   # a hung reader must not hang the test
    watchdog.start()
    try:
        first = p.stdout.readline()
        lf.write_log(d, [{"att": lf.make_attestation(sk, subject="f%d" % i)[0]} for i in (1, 2)])
        more = [p.stdout.readline(), p.stdout.readline()]
        p.send_signal(signal.SIGINT)
        rc = p.wait(timeout=5)
        got = [json.loads(x)["subject"] for x in [first] + more]
        T.check("tail.follow", got == ["f0", "f1", "f2"] and rc == 0, "%r rc=%s" % (got, rc))
    except (ValueError, KeyError) as e:
        T.check("tail.follow", False, repr(e))
    finally:
        watchdog.cancel()
        if p.poll() is None:
            p.kill()
            p.wait()


def body(args, t):
    attest = os.path.join(args.bin, "attest")
    tmp = tempfile.mkdtemp(prefix="attest-logtool-")
    try:
        _, sk = lf.make_keypair()
        test_keygen(attest, tmp)
        for tag, index_ids in (("indexed", True), ("tail", False)):
            # "tail": the first 4 ids are in "ids", the last 3 only in entries
            logdir = os.path.join(tmp, "log-" + tag)
            specs = build_entries(sk)
            ents = lf.write_log(logdir, specs[:4]) + lf.write_log(logdir, specs[4:], index_ids=index_ids)
            test_read(attest, logdir, ents)
            test_tampered(attest, tmp, logdir, ents, sk, tag)
        test_errors(attest, tmp)
        test_duplicate_entries(attest, tmp, sk)
        test_follow(attest, tmp, sk)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("log_tool", body, T))
