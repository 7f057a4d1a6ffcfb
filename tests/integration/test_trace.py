"""test_trace.py: `attest trace ID|INDEX` shows one attestation's whole story,
read from the log (docs/ops-trace.md).

On a CURVE cluster (broker, sink with the harness's log key keys/log.key, one honest worker "w0", one thread: "w0/0"), a Python producer "tracer" with the
harness's producer key submits, one at a time so the order is known:
  1. a genuine attestation (valid);
  2. another one with a bad signature (invalid, signature);
  3. a forged copy of a third attestation (its id, a garbage signature:
     invalid), then 4. the genuine third one (valid, after its copy);
  5. a genuine one that expires 2 s later (valid when judged);
  6. after 3 s, one more (valid), so that the newest checkpoint's time is
     past 5's expiry; 7, 8. two whose ids begin with "e" (an ambiguous
     prefix); 9. one more, then 10. its revocation (store/revoke.h).
Then `attest trace --json` of each, by full id, by a unique prefix and by
index, checks: the entry (index, id, verdict, reason, schema, subject,
attester) and the lineage equal what was submitted and what the log holds
(producer name, its CURVE key = the harness's producer public key, cseq,
broker seq, worker w0 and its key); the stage timestamps equal the stored
ones and the durations are non-negative and add up; the same-id section
links 3 and 4 both ways; the status is valid / invalid (signature) /
expired since 5's expires_at by the checkpoint's clock; 9 is revoked at
10's index by 10's id, and 10's own checkpoint and proof check.
The covering checkpoint's size is > index, its signature checks with the
default key DIR/../keys/log.pub, the proof is "checked", and the proof
also checks here, recomputed in Python from the stored entry bytes (RFC
9162); without a key the signature is "not checked: no --log-key"; another
log key makes the signature fail and the exit status 1. The human output has its sections and "key: value" lines. Not
found (an unknown id, an index past the end): exit 1; an ambiguous prefix:
exit 1; not an id or index, no argument: exit 2. Last, the worker is
replaced by a lying one (--test-lie) under --audit-sample 100: a forged
attestation it calls valid shows the spot audit's disagreement.

    /usr/bin/python3 test_trace.py --bin BUILD/bin
"""
import hashlib
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402

SCHEMA = "attest/trace/v1"
REVOKE_SCHEMA = "attest/revocation/v1"   # store/revoke.h


def submit_one(t, p, cseq, att):
    p.submit([(cseq, att)])
    p.wait_outcomes([cseq], 60)
    a = p.acks.get(cseq)
    t.check("cseq %d acknowledged" % cseq, a is not None, p.refusals.get(cseq))
    return a or [cseq, None, None, None, None]


def other_log_key(c):
    """Another log key pair (not the log's): its .pub path."""
    base = os.path.join(c.tmp, "other")
    rc, out, err = c.attest("keygen", "--log", "--out", base, "--name", "trace.test/other")
    if rc != 0:
        raise RuntimeError("attest keygen --log failed: " + out + err)
    return base + ".pub"


def trace(c, *args):
    rc, out, err = c.attest("trace", "--dir", c.log_dir, *args)
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, out + err


def root_from_proof(index, size, leaf, proof):
    """RFC 9162 2.1.3.2: the root an inclusion proof leads to (None: bad)."""
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while fn & 1 == 0 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def check_entry(t, c, label, tr, want, stored):
    """The entry and lineage sections against what was submitted (want) and
    the stored entry (a dict of cluster.read_log)."""
    e, ln = tr.get("entry", {}), tr.get("lineage", {})
    t.check("%s: index, id, verdict and reason" % label, tr.get("index") == want["index"]
            and tr.get("id") == want["id"].hex() and e.get("verdict") == want["verdict"]
            and e.get("reason") == want["reason"], (tr.get("index"), tr.get("id"), e.get("verdict"), e.get("reason")))
    t.check("%s: schema, subject, attester as submitted" % label, e.get("schema") == SCHEMA
            and e.get("subject") == want["subject"] and e.get("attester") == want["attester"].hex(), e)
    t.check("%s: lineage: producer 'tracer', its CURVE key = the harness's producer key, cseq" % label,
            ln.get("producer") == "tracer" and ln.get("producer_key") == c.pub("producer").decode()
            and ln.get("cseq") == want["cseq"], ln)
    t.check("%s: lineage: broker seq as stored, worker w0/0 (thread 0 of w0) and its key" % label, ln.get("seq") == stored["seq"]
            and ln.get("worker") == "w0/0" and ln.get("worker_key") == c.pub("worker").decode()
            and ln.get("producer_key_hex") == stored["producer_key"].hex(), ln)
    t.check("%s: lineage: broker epoch as stored (entry format 3), nonzero" % label,
            stored["format"] == 3 and ln.get("epoch") == stored["epoch"] and stored["epoch"] != 0,
            (ln.get("epoch"), stored.get("epoch"), stored.get("format")))


def check_stages(t, label, tr, stored):
    s = tr.get("stages", {})
    names = ["t_received", "t_dispatched", "t_verified", "t_committed"]
    t.check("%s: stage timestamps as stored (us, with UTC forms)" % label,
            all(s.get(n) == stored[n] and s.get(n + "_utc", "").endswith("Z") for n in names), s)
    d = [s.get(k) for k in ("queue_us", "verify_us", "commit_us", "total_us")]
    ok = all(isinstance(x, int) and x >= 0 for x in d)
    t.check("%s: durations non-negative, the stamps' differences, adding up to the total" % label, ok
            and d[0] == stored["t_dispatched"] - stored["t_received"]
            and d[1] == stored["t_verified"] - stored["t_dispatched"]
            and d[2] == stored["t_committed"] - stored["t_verified"] and d[3] == d[0] + d[1] + d[2], d)


def check_proof(t, label, tr, index, raw):
    """The covering checkpoint and the proof, also recomputed here."""
    cp, pr = tr.get("checkpoint") or {}, tr.get("proof") or {}
    t.check("%s: the covering checkpoint's size > index, its signature checked with the default key"
            % label, cp.get("size", 0) > index and cp.get("signature", {}).get("ok") is True
            and str(cp.get("signature", {}).get("key_file", "")).endswith("keys/log.pub"), cp)
    t.check("%s: proof checked" % label, pr.get("checked") is True and pr.get("size") == cp.get("size"), pr)
    leaf = hashlib.sha256(b"\x00" + raw).digest()
    got = root_from_proof(index, cp.get("size", 0), leaf, [bytes.fromhex(h) for h in pr.get("hashes", [])])
    t.check("%s: the proof leads from the stored entry's leaf hash to the signed root (recomputed here)" % label,
            pr.get("leaf_hash") == leaf.hex() and got is not None and got.hex() == cp.get("root"), pr)


def nonce_for(sk, subject, prefix, issued_at):
    """A nonce that gives the attestation an id beginning with prefix."""
    while True:
        nonce = os.urandom(16)
        _, aid = lf.make_attestation(sk, schema=SCHEMA, subject=subject, nonce=nonce, issued_at=issued_at)
        if aid.hex().startswith(prefix):
            return nonce


def submit_story(t, c, p):
    """The six submissions; returns {name: want dict}."""
    _, sk = lf.make_keypair()
    now = int(time.time())
    w = {}

    def one(name, cseq, subject, verdict, reason, **kw):
        att, aid = lf.make_attestation(sk, schema=SCHEMA, subject=subject, **kw)
        a = submit_one(t, p, cseq, att)
        w[name] = {"index": a[1], "id": aid, "verdict": verdict, "reason": reason, "subject": subject,
                   "attester": sk[32:], "cseq": cseq, "expires_at": kw.get("expires_at")}
        t.check("%s logged %s (%s)" % (name, verdict, reason), a[2] == (0 if verdict == "valid" else 1)
                and a[3] == lf.REASONS[reason], a)
    one("genuine", 1, "host-a", "valid", "ok", expires_at=now + 86400)
    one("badsig", 2, "host-b", "invalid", "signature", bad_signature=True)
    nonce = os.urandom(16)
    one("forged", 3, "host-c", "invalid", "signature", nonce=nonce, issued_at=now - 5, bad_signature=True)
    one("claimed", 4, "host-c", "valid", "ok", nonce=nonce, issued_at=now - 5)
    one("shortlived", 5, "host-d", "valid", "ok", expires_at=now + 2)
    time.sleep(3.5)
    one("later", 6, "host-e", "valid", "ok")
    for cseq, name in ((7, "twin1"), (8, "twin2")):     # two ids that begin with "e": an ambiguous prefix
        n = nonce_for(sk, name, "e", now)
        one(name, cseq, name, "valid", "ok", nonce=n, issued_at=now)
    one("revokee", 9, "host-r", "valid", "ok")
    rev, rid = lf.make_attestation(sk, schema=REVOKE_SCHEMA, subject=w["revokee"]["id"].hex(), data=b"key lost")
    a = submit_one(t, p, 10, rev)
    t.check("the revocation of revokee (same attester key) logged valid", a[2] == 0, a)
    w["revocation"] = {"index": a[1], "id": rid}
    return w


def check_lookups(t, c, w, by_index, raws):
    for name in ("genuine", "badsig", "claimed", "later"):
        rc, tr, err = trace(c, w[name]["id"].hex(), "--json")
        t.check("trace %s by full id: exit 0, JSON" % name, rc == 0 and tr is not None, err[-300:])
        if tr is None:
            continue
        stored = by_index[w[name]["index"]]
        check_entry(t, c, name, tr, w[name], stored)
        check_stages(t, name, tr, stored)
        check_proof(t, name, tr, w[name]["index"], raws[w[name]["index"]])
    rc, tr, err = trace(c, w["claimed"]["id"].hex()[:12], "--json")
    t.check("trace by a unique prefix: the valid entry, its forged copy listed (invalid, signature)",
            rc == 0 and tr and tr["index"] == w["claimed"]["index"]
            and [(x["index"], x["verdict"], x["reason"]) for x in tr["same_id"]]
            == [(w["forged"]["index"], "invalid", "signature")] and tr["status"]["status"] == "valid", (rc, tr, err))
    rc, tr, err = trace(c, str(w["forged"]["index"]), "--json")
    t.check("trace by index of the forged copy: invalid (signature), the valid entry listed and named in the status",
            rc == 0 and tr and tr["id"] == w["forged"]["id"].hex() and tr["status"]["status"] == "invalid"
            and tr["status"]["reason"] == "signature" and tr["status"]["valid_entry_index"] == w["claimed"]["index"]
            and [x["index"] for x in tr["same_id"]] == [w["claimed"]["index"]], (rc, tr and tr["status"], err))
    rc, tr, err = trace(c, str(w["badsig"]["index"]), "--json")
    t.check("trace by index of the bad signature: status invalid (signature), no other entry",
            rc == 0 and tr and tr["status"]["status"] == "invalid" and tr["status"]["reason"] == "signature"
            and tr["same_id"] == [] and tr["same_id_total"] == 0, (rc, tr and tr["status"], err))


def check_status(t, c, w):
    rc, tr, err = trace(c, w["shortlived"]["id"].hex(), "--json")
    st = (tr or {}).get("status", {})
    clock = "checkpoint"
    t.check("the short-lived one: expired since its expires_at by the newest checkpoint's clock",
            rc == 0 and st.get("status") == "expired" and st.get("expired_since") == w["shortlived"]["expires_at"]
            and st.get("clock") == clock and st.get("clock_time", 0) >= w["shortlived"]["expires_at"], (rc, st, err))
    rc, tr, err = trace(c, w["genuine"]["id"].hex(), "--json")
    st = (tr or {}).get("status", {})
    t.check("the genuine one: valid, not expired, not revoked, no audit",
            rc == 0 and st.get("status") == "valid" and st.get("expired") is False and st.get("revoked") is False
            and tr.get("audit") is None, (rc, st))


def check_revoked(t, c, w):
    rc, tr, err = trace(c, w["revokee"]["id"].hex(), "--json")
    st = (tr or {}).get("status", {})
    rv = st.get("revocation") or {}
    t.check("the revoked one: status revoked at the revocation's index, by its id",
            rc == 0 and st.get("status") == "revoked" and st.get("revoked") is True
            and st.get("revoked_at_index") == w["revocation"]["index"]
            and st.get("revoked_by_id") == w["revocation"]["id"].hex() and rv.get("data") == "key lost", (rc, st, err))
    t.check("the revocation's own checkpoint covers it, signed, and its proof is checked (revoked as of it)",
            (rv.get("checkpoint") or {}).get("size", 0) > w["revocation"]["index"]
            and (rv.get("checkpoint") or {}).get("signature", {}).get("ok") is True
            and (rv.get("proof") or {}).get("checked") is True
            and (rv.get("proof") or {}).get("index") == w["revocation"]["index"], rv)
    rc, out, err = c.attest("trace", "--dir", c.log_dir, w["revokee"]["id"].hex())
    kv = {l[2:17].strip(): l[17:] for l in out.splitlines() if l.startswith("  ")}
    t.check("human output: 'revoked at index N by entry M', its reason, revoked as of checkpoint S",
            rc == 0 and kv.get("status:") == "revoked at index %d by entry %s"
            % (w["revocation"]["index"], w["revocation"]["id"].hex()) and kv.get("its reason:") == "key lost"
            and kv.get("revoked as of:", "").startswith("checkpoint size "), kv)


def check_human(t, c, w):
    rc, out, err = c.attest("trace", "--dir", c.log_dir, str(w["claimed"]["index"]))
    lines = out.splitlines()
    sections = [l for l in lines if l and not l.startswith(" ")]
    want = ["entry", "lineage", "stages", "same id", "audit", "checkpoint", "status"]
    t.check("human output: its sections in order", rc == 0 and [s.split(" (")[0] for s in sections] == want,
            sections)
    kv = {l[2:17].strip(): l[17:] for l in lines if l.startswith("  ")}
    t.check("human output: aligned 'key: value' lines (producer, producer_key, worker, status)",
            kv.get("producer:") == "tracer" and kv.get("producer_key:") == c.pub("producer").decode()
            and kv.get("worker:") == "w0/0" and kv.get("status:") == "valid", kv)
    t.check("human output: the signature checked with the default key, the proof checked",
            kv.get("signature:", "").startswith("checked (key ") and kv.get("proof:", "").startswith("checked:"), kv)
    alias = os.path.join(c.tmp, "elsewhere")      # a copy of the log with no keys/log.pub beside it
    os.makedirs(os.path.join(alias, "log"))
    shutil.copy(os.path.join(c.log_dir, "data.mdb"), os.path.join(alias, "log"))   # the sink is idle
    rc, out, err = c.attest("trace", "--dir", os.path.join(alias, "log"), str(w["claimed"]["index"]))
    kv = {l[2:17].strip(): l[17:] for l in out.splitlines() if l.startswith("  ")}
    t.check("no key given and none at DIR/../keys/log.pub: 'signature not checked: no --log-key', the proof "
            "checked against a root whose signature is not checked, exit 0", rc == 0
            and kv.get("signature:") == "not checked: no --log-key"
            and kv.get("proof:", "").endswith("(the root's signature is not checked)"), (rc, kv, err))


def check_errors(t, c, w):
    rc, _, err = c.attest("trace", "--dir", c.log_dir, "ab" * 32)
    t.check("an unknown id: exit 1, says so", rc == 1 and "no entry with id" in err, (rc, err))
    rc, _, err = c.attest("trace", "--dir", c.log_dir, "999999")
    t.check("an index past the end: exit 1, says so", rc == 1 and "no entry at index" in err, (rc, err))
    rc, _, err = c.attest("trace", "--dir", c.log_dir, "xyz")
    t.check("not an id or an index: exit 2", rc == 2, (rc, err))
    rc, _, err = c.attest("trace", "--dir", c.log_dir)
    t.check("no argument: exit 2", rc == 2, (rc, err))
    rc, _, err = c.attest("trace", "--dir", c.log_dir, "e")
    t.check("an ambiguous prefix (e, twin1's and twin2's): exit 1, says so", rc == 1 and "ambiguous" in err,
            (rc, err))
    rc, tr, err = trace(c, w["twin2"]["id"].hex()[:16], "--json")
    t.check("a longer prefix of twin2: found", rc == 0 and tr and tr["index"] == w["twin2"]["index"], (rc, err))
    rc, tr, err = trace(c, w["genuine"]["id"].hex(), "--json", "--log-key", other_log_key(c))
    sig = ((tr or {}).get("checkpoint") or {}).get("signature", {})
    t.check("another log key: the signature does not check, exit 1",
            rc == 1 and sig.get("checked") is True and sig.get("ok") is False and "FAILED" in err, (rc, sig, err))
    rc, _, err = c.attest("trace", "--dir", c.log_dir, "0", "--log-key", os.path.join(c.tmp, "nonexistent.pub"))
    t.check("a --log-key that cannot be read: exit 2", rc == 2 and "--log-key" in err, (rc, err))


def check_audit(t, c):
    """The honest worker replaced by a liar under a 100% audit."""
    c.workers[0].stop()
    c.workers = []
    c.start_worker("liar", 1, ["--test-lie"], key="liar")
    time.sleep(0.5)
    p = cl.Producer(c.frontend, "tracer")
    t.check("producer welcomed again", p.hello())
    _, sk = lf.make_keypair()
    att, aid = lf.make_attestation(sk, schema=SCHEMA, subject="lied-about", bad_signature=True)
    a = submit_one(t, p, 11, att)
    p.close()
    t.check("the liar judged the forged one valid", a[2] == 0, a)
    tr, end = None, time.time() + 20
    while time.time() < end:
        rc, tr, err = trace(c, aid.hex(), "--json")
        if tr and tr.get("audit"):
            break
        time.sleep(0.3)
    au = (tr or {}).get("audit") or {}
    t.check("trace shows the spot audit's disagreement (the worker said valid, the audit invalid (signature))",
            au.get("got_verdict") == "valid" and au.get("expected_verdict") == "invalid"
            and au.get("expected_reason") == "signature" and (tr or {}).get("status", {}).get("audit_disagrees"),
            (tr or {}).get("audit"))


def body(args, t):
    with cl.Cluster(args.bin) as c:
        c.add_key("liar", "workers")    # the allowlists are read at start; the liar comes last (check_audit)
        c.start_broker()
        c.start_sink(["--audit-sample", "100"])     # with the harness's log key keys/log.key
        c.start_worker("w0", 1)
        p = cl.Producer(c.frontend, "tracer")
        t.check("producer welcomed", p.hello())
        w = submit_story(t, c, p)
        p.close()
        log = cl.read_log(c.log_dir)
        t.check_log(log, "log")
        by_index = {e["index"]: e for e in log.entries}
        raws = {e["index"]: r for e, r in zip(log.entries, log.raws)}
        check_lookups(t, c, w, by_index, raws)
        check_status(t, c, w)
        check_revoked(t, c, w)
        check_human(t, c, w)
        check_errors(t, c, w)
        check_audit(t, c)
        c.finish(t, "trace")


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("trace", body))
