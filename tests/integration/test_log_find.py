"""test_log_find.py: `attest log find` and the find indexes against a real
run's log, each answer compared with a Python scan of the log (read raw
with python3-lmdb); `get -1` and negative indices; unique and ambiguous id
prefixes for get and id; ISO 8601 times and stage durations; a log without
the indexes (dropped with python3-lmdb) answered by a scan, then rebuilt by
`attest log reindex`; and a refusal at admission whose attestation id is in
the broker's BRK-REFUSE line.   Usage: /usr/bin/python3 test_log_find.py --bin BUILD/bin
"""
import datetime
import json
import os
import shutil
import sys
import time

import lmdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402

N = 600
SCHEMAS = ["attest/demo/v1", "kyc/v2", "build/provenance/v1"]


def make_atts(keys):
    """N attestations: attesters and schemas round-robin, one subject in
    five shared ("shared-K"), one in seven a bad signature, one in eleven
    expired."""
    now = int(time.time())
    out = []
    for i in range(N):
        sk = keys[i % len(keys)][1]
        subject = "shared-%d" % (i % 3) if i % 5 == 0 else "subject-%d" % i
        kw = {}
        if i % 11 == 3:
            kw = {"issued_at": now - 100, "expires_at": now - 50}
        att, _ = lf.make_attestation(sk, schema=SCHEMAS[i % len(SCHEMAS)], subject=subject,
                                     bad_signature=i % 7 == 2, **kw)
        out.append(att)
    return out


def submit(c, atts):
    """Two producers, half each; returns when every item has an outcome."""
    ps = [cl.Producer(c.frontend, name) for name in ("prod-a", "prod-b")]
    for p in ps:
        assert p.hello()
    half = len(atts) // 2
    done = [ps[0].submit_all(atts[:half]), ps[1].submit_all(atts[half:])]
    ok = all(p.wait_outcomes(d, 120) for p, d in zip(ps, done))
    for p in ps:
        p.close()
    return ok


def find(c, *args):
    rc, out, err = c.attest("log", "--dir", c.log_dir, "find", "--format", "json", *args)
    return rc, [json.loads(x)["index"] for x in out.splitlines() if x.strip()], err


def pyscan(log, pred):
    out = []
    for e in log.entries:
        a = lf.decode_attestation(e["att"])
        if pred(e, a):
            out.append(e["index"])
    return out


def iso(us):
    return datetime.datetime.fromtimestamp(us // 1000000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (us % 1000000)


def check_filters(t, c, log, keys, label):
    """Every filter alone and some together: find's indices == the scan's."""
    cases = []
    for pk, _ in keys:
        cases.append((["--attester", pk.hex()], lambda e, a, pk=pk: a and a["attester"] == pk))
    for s in SCHEMAS:
        cases.append((["--schema", s], lambda e, a, s=s: a and a["schema"] == s))
    for s in ("shared-1", "subject-7", "no-such-subject"):
        cases.append((["--subject", s], lambda e, a, s=s: a and a["subject"] == s))
    cases.append((["--producer", "prod-b"], lambda e, a: e["producer"] == "prod-b"))
    w = log.entries[-1]["worker"]
    cases.append((["--worker", w], lambda e, a, w=w: e["worker"] == w))
    cases.append((["--reason", "signature"], lambda e, a: e["reason"] == lf.REASONS["signature"]))
    cases.append((["--reason", "expired"], lambda e, a: e["reason"] == lf.REASONS["expired"]))
    pk0 = keys[0][0]
    cases.append((["--attester", pk0.hex(), "--schema", SCHEMAS[1], "--reason", "ok"],
                  lambda e, a: a and a["attester"] == pk0 and a["schema"] == SCHEMAS[1] and e["reason"] == 0))
    mid = log.entries[len(log.entries) // 2]["t_committed"]
    cases.append((["--since", iso(mid)], lambda e, a: e["t_committed"] >= mid))
    cases.append((["--until", iso(mid), "--schema", SCHEMAS[0]],
                  lambda e, a: e["t_committed"] <= mid and a and a["schema"] == SCHEMAS[0]))
    cases.append((["--since", "1h", "--producer", "prod-a"], lambda e, a: e["producer"] == "prod-a"))
    cases.append((["--until", "2000-01-01"], lambda e, a: False))
    for args, pred in cases:
        rc, got, err = find(c, *args)
        want = pyscan(log, pred)
        t.check("%s: find %s == scan (%d)" % (label, " ".join(a[:16] for a in args), len(want)),
                rc == 0 and got == want and (want or "no-such" in " ".join(args) or "2000" in " ".join(args)),
                "rc %d got %s want %s %s" % (rc, got[:10], want[:10], err[-300:]))
    rc, got, _ = find(c, "--schema", SCHEMAS[2], "--limit", "5")
    t.check(label + ": --limit 5", rc == 0 and got == pyscan(log, lambda e, a: a and a["schema"] == SCHEMAS[2])[:5])


def check_get(t, c, log):
    n = len(log.entries)
    last = log.entries[-1]
    rc, out, err = c.attest("log", "--dir", c.log_dir, "get", "-1")
    e = json.loads(out) if rc == 0 else {}
    t.check("get -1 is the last entry", e.get("index") == n - 1, out + err)
    t.check("get: committed_at is ISO 8601 UTC", e.get("committed_at") == iso(last["t_committed"]), e.get("committed_at"))
    st = e.get("stages", "")
    t.check("get: stages name queue, verify and commit in ms", st.startswith("queue ") and ", verify " in st
            and ", commit " in st and st.endswith(" ms"), st)
    rc, out, _ = c.attest("log", "--dir", c.log_dir, "get", "-%d" % n)
    t.check("get -N is entry 0", rc == 0 and json.loads(out)["index"] == 0)
    rc, _, err = c.attest("log", "--dir", c.log_dir, "get", "-%d" % (n + 1))
    t.check("get -(N+1): error", rc == 1 and "before the first entry" in err, err)
    ids = [e["id"].hex() for e in log.entries]
    # A unique prefix with a hex letter in it (all digits, `get` reads an index).
    h, k = next((x, k) for x in ids for k in range(4, 64)
                if sum(1 for y in ids if y.startswith(x[:k])) == 1 and not x[:k].isdigit())
    for cmd in ("get", "id"):
        rc, out, err = c.attest("log", "--dir", c.log_dir, cmd, h[:k])
        t.check("%s with a unique %d-digit prefix" % (cmd, k),
                rc == 0 and json.loads(out)["id"] == h, out[:200] + err)
    amb = next(ids[i][:k2] for i in range(len(ids)) for k2 in (2, 1)
               if sum(1 for x in set(ids) if x.startswith(ids[i][:k2])) > 1)
    rc, _, err = c.attest("log", "--dir", c.log_dir, "id", amb)
    t.check("id with an ambiguous prefix: error", rc == 1 and "ambiguous" in err, err)
    rc, _, err = c.attest("log", "--dir", c.log_dir, "get", "xyz")
    t.check("get xyz: usage error", rc == 2, err)
    for bad in (["--reason", "sig"], ["--since", "yesterday"], ["--attester", "abc"], ["--format", "csv"]):
        rc, _, err = c.attest("log", "--dir", c.log_dir, "find", *bad)
        t.check("find %s: usage error naming the option" % " ".join(bad), rc == 2 and bad[0] in err, err)
    rc, out, err = c.attest("log", "--dir", c.log_dir, "find", "--subject", "subject-7")
    t.check("find: the table shows the ISO time and stages", rc == 0 and "COMMITTED (UTC)" in out
            and iso(log.entries[[x["index"] for x in log.entries if lf.decode_attestation(x["att"])["subject"]
                                 == "subject-7"][0]]["t_committed"]) in out and "queue " in out, out + err)
    rc, out, err = c.attest("log", "--dir", c.log_dir, "tail", "--n", "3", "--format", "table")
    t.check("tail --format table: a header and 3 rows", rc == 0 and len(out.splitlines()) == 4, out + err)


def drop_indexes(path):
    env = lmdb.open(path, max_dbs=8, subdir=True, map_size=1 << 30)
    with env.begin(write=True) as txn:
        for name in (b"by_attester", b"by_schema", b"by_subject", b"by_subject_1024"):
            try:   # the subject index is by_subject_1024, or by_subject in a log from before it (protocol.md 12)
                db = env.open_db(name, txn=txn, dupsort=True, create=False)
            except lmdb.NotFoundError:
                continue
            txn.drop(db, delete=True)
    env.close()


def check_old_log(t, c, log, keys):
    drop_indexes(c.log_dir)
    rc, got, err = find(c, "--attester", keys[1][0].hex())
    want = pyscan(log, lambda e, a: a and a["attester"] == keys[1][0])
    t.check("a log without the indexes: find scans, says so, and is right",
            rc == 0 and got == want and "reindex" in err, err)
    rc, out, err = c.attest("log", "--dir", c.log_dir, "reindex")
    t.check("reindex", rc == 0 and ("%d entries indexed" % len(log.entries)) in out, out + err)
    rc, got, err = find(c, "--attester", keys[1][0].hex())
    t.check("after reindex: the index answers", rc == 0 and got == want and "by_attester index" in err
            and "reindex" not in err, err)
    check_filters(t, c, log, keys, "reindexed")


def check_refusal_id(t, bindir, sk):
    """A broker without a sink grants no credit: a SUBMIT is refused
    (no_credit, 13), and BRK-REFUSE names the attestation id."""
    with cl.Cluster(bindir) as c:
        c.start_broker()
        p = cl.Producer(c.frontend, "refused")
        t.check("refusal: producer welcomed", p.hello())
        att, aid = lf.make_attestation(sk, subject="never-logged")
        p.submit([(1, att)])
        p.wait_outcomes([1], 20)
        t.check("refusal: refused no_credit", p.refusals.get(1) == 13, p.refusals)
        p.submit([(2, b"\x93\x01\x02\x03")])
        p.wait_outcomes([2], 20)
        p.close()
        time.sleep(0.3)
        text = c.broker.stderr_text()
        t.check("BRK-REFUSE carries the attestation id", ("id %s no_credit" % aid.hex()) in text, text[-600:])
        t.check("BRK-REFUSE says when the bytes do not decode", "id undecodable" in text, text[-600:])
        c.stop()


def body(args, t):
    keys = [lf.make_keypair() for _ in range(4)]
    atts = make_atts(keys)
    with cl.Cluster(args.bin) as c:
        c.start(workers=2, threads=1)
        t.check("every attestation has an outcome", submit(c, atts))
        c.stop()
        log = cl.read_log(c.log_dir)
        t.check("the log holds them all", len(log.entries) == N, len(log.entries))
        check_filters(t, c, log, keys, "indexed")
        check_get(t, c, log)
        saved = os.path.join(c.tmp, "log-saved")
        shutil.copytree(c.log_dir, saved)
        check_old_log(t, c, log, keys)
    check_refusal_id(t, args.bin, keys[0][1])


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("log_find", body))
