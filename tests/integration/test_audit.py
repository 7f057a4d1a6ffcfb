"""test_audit.py: the sink's spot audit catches a lying worker, which is
quarantined; the rest of the run is judged correctly.

A cluster with one honest worker and one lying one (attest-worker
--test-lie: every bad signature judged valid), the sink at --audit-sample 5
(5%), metrics on for the broker and the sink. A Python producer submits
N = 5000 attestations (x ATTEST_TEST_SCALE, at least 2000), 20% of them
forged (a flipped signature bit). Then:
  - every attestation is acknowledged;
  - the sink logged SNK-AUDIT (naming the entry, the worker, both verdicts)
    and SNK-QUARANTINE "quarantined at next_index Q"; the broker logged
    BRK-QUARANTINE; the liar has no entry at or after Q, and fewer than a
    few hundred before it (the first disagreement on ~1% of its verdicts);
  - every entry from Q on is judged correctly: re-judged here with pynacl,
    and `attest log verify --from Q` passes;
  - metrics: the sink's attest_audit_disagreements_total >= 1 and
    attest_sink_workers_quarantined 1, the broker's
    attest_broker_workers_quarantined 1;
  - `attest log verify --worker liar/0` lists every entry the liar judged
    (the log says which), flags the wrong ones, lists the recorded
    disagreements, and exits 1; `--worker honest/0` finds nothing and exits 0;
  - the log is sound (contiguous, chained, the id claim rule).

    /usr/bin/python3 test_audit.py --bin BUILD/bin
"""
import os
import re
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402

LIAR, HONEST = "liar/0", "honest/0"


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    m = re.search(r"^%s(?:\{[^}]*\})? ([0-9.e+]+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def make_atts(n):
    _, sk = lf.make_keypair()
    atts = []
    for i in range(n):
        forged = i % 5 == 2
        enc, aid = lf.make_attestation(sk, subject="audit-%d" % i, bad_signature=forged)
        atts.append((enc, aid, forged))
    return atts


def check_log(t, c, q, atts):
    log = cl.read_log(c.log_dir)
    t.check_log(log, "log")
    liar = [e for e in log.entries if e["worker"] == LIAR]
    t.check("the liar judged some entries before its quarantine", len(liar) > 0)
    t.check("the liar has no entry at or after the quarantine point %s" % q,
            q is not None and all(e["index"] < q for e in liar), [e["index"] for e in liar if q and e["index"] >= q][:5])
    t.check("the liar was quarantined within its first few hundred verdicts (%d logged)" % len(liar),
            len(liar) < 600, len(liar))
    wrong = [e["index"] for e in log.entries if q is not None and e["index"] >= q
             and (cl.judge_entry(e)[0] != e["reason"] or (e["verdict"] == 0) != (e["reason"] == 0))]
    t.check("every entry from the quarantine point on is judged correctly (pynacl)", q is not None and not wrong,
            wrong[:5])
    forged_ids = {aid for _, aid, f in atts if f}
    after = [e for e in log.entries if q is not None and e["index"] >= q and e["id"] in forged_ids]
    t.check("forged attestations after the quarantine point are logged invalid (%d)" % len(after),
            after and all(e["verdict"] == 1 for e in after))
    return log, liar


def check_tool(t, c, q, liar, liar_ident):
    rc, out, err = c.attest("log", "--dir", c.log_dir, "verify", "--from", str(q))
    t.check("attest log verify --from Q passes", rc == 0 and "verdicts=ok" in out, (out + err)[-400:])
    rc, out, err = c.attest("log", "--dir", c.log_dir, "verify", "--worker", liar_ident)
    listed = [int(m) for m in re.findall(r"^entry (\d+):", out, re.M)]
    t.check("verify --worker liar lists every entry it judged", listed == [e["index"] for e in liar],
            (len(listed), len(liar)))
    t.check("verify --worker liar flags wrong verdicts and the recorded disagreements, exit 1",
            rc == 1 and "DISAGREES" in out and re.search(r"^audit: index \d+: the worker said valid", out, re.M),
            (rc, out[-400:], err))
    rc, out, err = c.attest("log", "--dir", c.log_dir, "verify", "--worker", HONEST)
    t.check("verify --worker honest: nothing wrong, exit 0", rc == 0 and "disagree=0 audit_disagreements=0" in out,
            (rc, out[-300:], err))


def body(args, t):
    n = max(2000, int(5000 * cl.scale()))
    atts = make_atts(n)
    with cl.Cluster(args.bin) as c:
        bm, sm = cl.free_port(), cl.free_port()
        c.add_key("liar", "workers")          # its own key: the quarantine names the key, not the --id
        c.start_broker(["--metrics", "127.0.0.1:%d" % bm])
        c.start_sink(["--audit-sample", "5", "--metrics", "127.0.0.1:%d" % sm])
        c.start_worker("honest", 1)
        c.start_worker("liar", 1, ["--test-lie"], key="liar")
        liar_ident = "key:" + c.pub("liar").decode()   # the identity the sink and the broker quarantine
        time.sleep(0.5)
        p = cl.Producer(c.frontend, "audited")
        t.check("producer welcomed", p.hello())
        t.say("submitting %d attestations, 20%% forged" % n)
        cseqs = p.submit_all([a for a, _, _ in atts], timeout=300)
        t.check("every attestation acknowledged", all(x in p.acks for x in cseqs),
                sum(x not in p.acks for x in cseqs))
        p.close()
        time.sleep(1.5)   # metrics and logs settle
        sink_err, broker_err = c.sink.stderr_text(), c.broker.stderr_text()
        m = re.search(r"SNK-QUARANTINE.*worker %s quarantined at next_index (\d+)" % re.escape(liar_ident), sink_err)
        q = int(m.group(1)) if m else None
        t.check("the sink logged the disagreement (SNK-AUDIT: entry, worker, verdicts)",
                re.search(r"SNK-AUDIT.*entry \d+: worker %s judged it valid \(ok\), the audit invalid \(signature\)"
                          % re.escape(liar_ident), sink_err), sink_err[-600:])
        t.check("the sink quarantined the liar (SNK-QUARANTINE at next_index Q)", q is not None, sink_err[-600:])
        t.check("the broker quarantined its key (BRK-QUARANTINE)", "BRK-QUARANTINE" in broker_err
                and liar_ident in broker_err, broker_err[-600:])
        t.check("the honest worker (another key) is not quarantined", "key:" + c.pub("worker").decode() not in
                "".join(l for l in sink_err.splitlines() if "quarantined at" in l))
        t.check("sink metric attest_audit_disagreements_total >= 1",
                (metric(sm, "attest_audit_disagreements_total") or 0) >= 1)
        t.check("sink metric attest_sink_workers_quarantined = 1", metric(sm, "attest_sink_workers_quarantined") == 1)
        t.check("broker metric attest_broker_workers_quarantined = 1",
                metric(bm, "attest_broker_workers_quarantined") == 1)
        log, liar = check_log(t, c, q, atts)
        if q is not None:
            check_tool(t, c, q, liar, liar_ident)
        c.finish(t, "audit")


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("audit", body))
