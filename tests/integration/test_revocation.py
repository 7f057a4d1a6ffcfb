"""test_revocation.py: revocations judged by the sink in log order
(store/revoke.h, docs/protocol-14-revocation.md), with the real executables
over CURVE.

A cluster (broker, sink with --audit-sample 100 so that every entry is
re-judged by the spot audit, one worker); attester keys A and B made with
`attest keygen`. In this order, one at a time:
  1. target T1 signed by A, submitted with `attest submit --key A`: valid;
  2. `attest revoke T1 --key B`: logged invalid, revoke_key (exit 1);
  3. `attest revoke T1 --key A --reason ...`: logged valid (exit 0);
     `attest log id T1` then says "revoked at index N by entry ..." and its
     JSON has status "revoked" and revoked_by {index, id, reason};
  4. `attest revoke T1 --key A` again: logged invalid, revoke_twice;
  5. `attest revoke T2 --key A` before T2 is in the log: revoke_unknown;
     then T2 (made here, signed by A) is submitted: valid; then a new
     `attest revoke T2 --key A`: valid;
  6. a revocation whose subject is not an id (Python-built, signed by A):
     revoke_subject.
"Revoked as of checkpoint N" is then shown as protocol.md 14 says: the
newest checkpoint (the sink signs one per commit) verifies with the log's
public key, and inclusion proofs of T1's entry and of its revocation's
(RFC 6962 paths from the stored entries) verify against its root, and the
revocation's bytes name T1 and T1's attester. Then, read back: every entry's verdict and reason in the log (python lmdb)
are what the ACKs said, the "revoked" status index holds exactly T1 and T2
with the indices of their targets and valid revocations, `attest log verify`
passes (it judges revocations again in log order), `attest log verify
--worker` finds no disagreement, the spot audit found none (no SNK-AUDIT,
the worker is not quarantined), and the log is sound.

    /usr/bin/python3 test_revocation.py --bin BUILD/bin
"""
import base64
import json
import os
import struct
import sys
import time

import lmdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402
import test_log_serve as ls  # noqa: E402  (note, checkpoint and RFC 6962 helpers)
from tlogfixture import verify_inclusion  # noqa: E402  (RFC 9162 2.1.3.2)

SCHEMA = "attest/revocation/v1"
REVOKE_UNKNOWN, REVOKE_KEY, REVOKE_TWICE, REVOKE_SUBJECT = 27, 28, 29, 30


def keyfile(t, c, name):
    path = os.path.join(c.tmp, name + ".key")
    rc, out, err = c.attest("keygen", "--out", path)
    t.check("attest keygen %s" % name, rc == 0, err)
    with open(path) as f:
        k = json.load(f)
    return path, bytes.fromhex(k["secret"])


def revoke(c, target, key, *extra):
    """attest revoke; returns (exit code, the outcome JSON or {}, stderr)."""
    rc, out, err = c.attest("revoke", target.hex(), "--key", key, "--broker", c.frontend, *c.client_args(),
                            "--timeout-ms", "60000", *extra)
    lines = [json.loads(x) for x in out.splitlines() if x.strip()]
    return rc, lines[0] if len(lines) == 1 else {}, err


def submit_keyed(t, c, key, subject):
    line = json.dumps({"schema": "attest/demo/v1", "subject": subject, "data": "build ok"})
    rc, out, err = c.attest("submit", "--key", key, "--broker", c.frontend, *c.client_args(), stdin=line + "\n")
    o = [json.loads(x) for x in out.splitlines() if x.strip()]
    t.check("attest submit %s: valid" % subject, rc == 0 and len(o) == 1 and o[0].get("verdict") == "valid", (rc, out, err))
    return o[0] if o else {}


def submit_raw(t, c, att, cseq):
    p = cl.Producer(c.frontend, "raw")
    t.check("raw producer welcomed", p.hello())
    p.submit([(cseq, att)])
    p.wait_outcomes([cseq], 60)
    p.close()
    a = p.acks.get(cseq)
    t.check("raw submission %d acknowledged" % cseq, a is not None, p.refusals)
    return a or [cseq, None, None, None, None]


def revoked_db(path):
    """The "revoked" status index: target id -> (target index, revocation index)."""
    env = lmdb.open(path, readonly=True, lock=True, max_dbs=16, subdir=True, map_size=1 << 36, create=False)
    try:
        db = env.open_db(b"revoked", create=False)
        with env.begin() as txn:
            return {bytes(k): struct.unpack(">QQ", v) for k, v in txn.cursor(db=db)}
    finally:
        env.close()


def check_log_id(t, c, target, target_index, want_by):
    rc, out, err = c.attest("log", "--dir", c.log_dir, "id", target.hex())
    try:
        o = json.loads(out)
    except ValueError:
        o = {}
    rb = o.get("revoked_by", {})
    t.check("attest log id T1: status revoked, revoked_by the revocation's index and id, with its reason",
            rc == 0 and o.get("status") == "revoked" and rb.get("index") == want_by["index"]
            and rb.get("id") == want_by["id"] and rb.get("reason") == "key compromised", (rc, out[-400:], err))
    t.check("attest log id T1 says 'revoked at index N by entry'",
            ("revoked at index %d by entry %s" % (want_by["index"], want_by["id"][:16])) in err, err)
    rc, out, err = c.attest("log", "--dir", c.log_dir, "get", str(want_by["index"]))
    try:
        o = json.loads(out)
    except ValueError:
        o = {}
    t.check("attest log get REVOCATION: valid, revokes T1 at its index", rc == 0 and o.get("status") == "valid"
            and o.get("revokes", {}).get("id") == target.hex() and o.get("revokes", {}).get("index") == target_index
            and o.get("data") == "key compromised", (rc, out[-400:], err))


def usage(t, c, key):
    rc, out, _ = c.attest("revoke", "--help")
    t.check("attest revoke --help -> 0 with usage", rc == 0 and "Usage" in out, rc)
    rc, _, err = c.attest("revoke", "ab" * 32, "--key", key, "--no-such-flag")
    t.check("attest revoke --no-such-flag -> 2 naming it", rc == 2 and "--no-such-flag" in err, err)
    rc, _, err = c.attest("revoke", "abc", "--key", key)
    t.check("attest revoke with a short ID -> 2", rc == 2 and "64 hex digits" in err, err)
    rc, _, err = c.attest("revoke", "ab" * 32)
    t.check("attest revoke without --key -> 2", rc == 2 and "--key" in err, err)


def scenario(t, c, key_a, sk_a, key_b):
    t1 = submit_keyed(t, c, key_a, "host-1")
    t1_id, acks = bytes.fromhex(t1.get("id", "00" * 32)), {}
    rc, o, err = revoke(c, t1_id, key_b)
    t.check("2 revoke T1 with key B: invalid revoke_key, exit 1",
            rc == 1 and o.get("verdict") == "invalid" and o.get("reason") == "revoke_key", (rc, o, err))
    acks["wrong key"] = (o, 1, REVOKE_KEY)
    rc, o, err = revoke(c, t1_id, key_a, "--reason", "key compromised")
    t.check("3 revoke T1 with key A: valid, exit 0", rc == 0 and o.get("verdict") == "valid"
            and o.get("target") == t1_id.hex() and o.get("duplicate") is False, (rc, o, err))
    acks["right key"] = (o, 0, 0)
    check_log_id(t, c, t1_id, t1.get("index"), o)
    rc, o, err = revoke(c, t1_id, key_a)
    t.check("4 revoke T1 again: invalid revoke_twice", rc == 1 and o.get("reason") == "revoke_twice", (rc, o, err))
    acks["twice"] = (o, 1, REVOKE_TWICE)
    t2, t2_id = lf.make_attestation(sk_a, subject="host-2")
    rc, o, err = revoke(c, t2_id, key_a)
    t.check("5 revoke T2 before T2: invalid revoke_unknown", rc == 1 and o.get("reason") == "revoke_unknown", (rc, o, err))
    acks["before"] = (o, 1, REVOKE_UNKNOWN)
    a = submit_raw(t, c, t2, 1)
    t.check("5 then T2 itself: valid", a[2] == 0, a)
    rc, o, err = revoke(c, t2_id, key_a)
    t.check("5 then a new revocation of T2: valid", rc == 0 and o.get("verdict") == "valid", (rc, o, err))
    acks["after"] = (o, 0, 0)
    bad, _ = lf.make_attestation(sk_a, schema=SCHEMA, subject="not-an-id")
    a = submit_raw(t, c, bad, 2)
    t.check("6 a revocation whose subject is no id: invalid revoke_subject", a[2] == 1 and a[3] == REVOKE_SUBJECT, a)
    return t1, t1_id, a, t2_id, acks


def check_read_back(t, c, t1, t1_id, a_bad, t2_id, acks):
    log = cl.read_log(c.log_dir)
    t.check_log(log, "log")
    at = {e["index"]: e for e in log.entries}
    for name, (o, verdict, reason) in acks.items():
        e = at.get(o.get("index"), {})
        t.check("log: the %s revocation is stored %s (%d)" % (name, "valid" if verdict == 0 else "invalid", reason),
                e.get("verdict") == verdict and e.get("reason") == reason and e.get("id", b"").hex() == o.get("id"),
                (e.get("verdict"), e.get("reason")))
    e = at.get(a_bad[1], {})
    t.check("log: the no-id revocation is stored invalid revoke_subject",
            e.get("verdict") == 1 and e.get("reason") == REVOKE_SUBJECT)
    rev = revoked_db(c.log_dir)
    t2_at = next((e["index"] for e in log.entries if e["id"] == t2_id and e["verdict"] == 0), None)
    want = {t1_id: (t1.get("index"), acks["right key"][0].get("index")), t2_id: (t2_at, acks["after"][0].get("index"))}
    t.check("the status index holds exactly T1 and T2 with their targets' and revocations' indices", rev == want,
            ({k.hex()[:8]: v for k, v in rev.items()}, {k.hex()[:8]: v for k, v in want.items()}))


def inclusion_path(hashes, m):
    """RFC 6962 PATH(m, D[n]) over leaf hashes."""
    n = len(hashes)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return inclusion_path(hashes[:k], m) + [ls.mth(hashes[k:])]
    return inclusion_path(hashes[k:], m - k) + [ls.mth(hashes[:k])]


def newest_checkpoint(path):
    env = lmdb.open(path, readonly=True, lock=True, max_dbs=16, subdir=True, map_size=1 << 36, create=False)
    try:
        db = env.open_db(b"checkpoints", create=False)
        with env.begin() as txn:
            cur = txn.cursor(db=db)
            return bytes(cur.value()).decode() if cur.last() else ""
    finally:
        env.close()


def check_provable(t, c, t1, acks):
    """Revoked as of the newest checkpoint: two inclusion proofs (protocol.md 14)."""
    with open(c.log_pub) as f:
        name, _, b64 = f.read().strip().split("+", 2)   # verifier key text: name+keyid+base64(0x01 || key)
    pub = base64.b64decode(b64)[1:]
    body, ok = ls.open_note(newest_checkpoint(c.log_dir), name, pub)
    t.check("the newest checkpoint verifies with the log's public key", ok, body)
    _, size, root, when = ls.parse_checkpoint(body or "\n\n\n")
    log = cl.read_log(c.log_dir)
    leaves = [ls.leaf_hash(r) for r in log.raws[:size]]
    i, j = t1.get("index", -1), acks["right key"][0].get("index", -1)
    t.check("the checkpoint covers T1 and its revocation, and has a time line", 0 <= i < j < size and when > 0,
            (i, j, size, when))
    t.check("inclusion proofs of T1 and of its revocation verify against the checkpoint's root",
            0 <= i < j < size and verify_inclusion(i, size, leaves[i], inclusion_path(leaves, i), root)
            and verify_inclusion(j, size, leaves[j], inclusion_path(leaves, j), root), (i, j, size))
    e, r = log.entries[i] if 0 <= i < len(log.entries) else {}, log.entries[j] if 0 <= j < len(log.entries) else {}
    ta, ra = lf.decode_attestation(e.get("att", b"")) or {}, lf.decode_attestation(r.get("att", b"")) or {}
    t.check("the revocation's entry: valid, the reserved schema, subject T1's id, T1's attester",
            r.get("verdict") == 0 and ra.get("schema") == SCHEMA and ra.get("subject") == e.get("id", b"").hex()
            and ra.get("attester") == ta.get("attester") and e.get("verdict") == 0, (r.get("verdict"), ra.get("schema")))


def check_tools(t, c):
    rc, out, err = c.attest("log", "--dir", c.log_dir, "verify")
    t.check("attest log verify passes and judged the 2 valid revocations again",
            rc == 0 and "verdicts=ok" in out and "revocations: 2 valid" in out, out + err)
    rc, out, err = c.attest("log", "--dir", c.log_dir, "verify", "--worker", "w0/0")
    t.check("attest log verify --worker w0/0: no disagreement (the sink's revocation reasons are not the worker's)",
            rc == 0 and "disagree=0 audit_disagreements=0" in out, out[-600:] + err)
    time.sleep(1.0)   # the audit thread judges behind the commits
    text = c.sink.stderr_text()
    t.check("the spot audit (100%) found no disagreement, nobody quarantined",
            "SNK-AUDIT" not in text and "SNK-QUARANTINE" not in text, text[-1500:])


def body(args, t):
    with cl.Cluster(args.bin) as c:
        c.start_broker()
        c.start_sink(["--audit-sample", "100"])
        c.start_worker("w0")
        key_a, sk_a = keyfile(t, c, "a")
        key_b, _ = keyfile(t, c, "b")
        usage(t, c, key_a)
        t1, t1_id, a_bad, t2_id, acks = scenario(t, c, key_a, sk_a, key_b)
        check_read_back(t, c, t1, t1_id, a_bad, t2_id, acks)
        check_provable(t, c, t1, acks)
        check_tools(t, c)
        c.finish(t, "revocation")


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("revocation", body))
