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


def check_lift(t, c, liar_ident, sm):
    """The operator fixes the liar and lifts its quarantine: `attest log
    unquarantine` (refused while the sink runs; an unknown identity is an
    error), the sink restarted, SIGHUP to the broker; the fixed worker,
    same key, is then given work again and its verdicts are committed."""
    rc, out, err = c.attest("log", "--dir", c.log_dir, "unquarantine", liar_ident)
    t.check("unquarantine while the sink runs: refused, exit 1, saying to stop the sink",
            rc == 1 and "stop the sink first" in err, (rc, err[-300:]))
    for w in [w for w in c.workers if w.name == "worker-liar"]:
        w.stop()
        c.workers.remove(w)   # stopped on purpose: not one of the processes that must be alive at the end
    t.check("the sink stops (SIGTERM, exit 0)", c.sink.stop() == 0)
    rc, out, err = c.attest("log", "--dir", c.log_dir, "unquarantine", "key:not-a-worker")
    t.check("unquarantine of an identity never quarantined: exit 1 saying so", rc == 1 and "not quarantined" in err,
            (rc, err[-300:]))
    rc, out, err = c.attest("log", "--dir", c.log_dir, "unquarantine", liar_ident)
    m = re.search(r"lifted at index (\d+)", out)
    t.check("unquarantine: lifted at the log's next index, exit 0", rc == 0 and m, (rc, out, err[-300:]))
    lift = int(m.group(1)) if m else None
    rc, out2, _ = c.attest("log", "--dir", c.log_dir, "unquarantine", liar_ident)
    t.check("unquarantine again: says it is already lifted, exit 0", rc == 0 and "already lifted" in out2, out2)
    c.start_sink(["--audit-sample", "5", "--metrics", "127.0.0.1:%d" % sm])
    time.sleep(1.0)
    def second_sink():   # the sink's stderr file holds both runs
        text = c.sink.stderr_text()
        return text[text.rfind("SNK-START"):]
    t.check("the restarted sink quarantines nobody", "workers quarantined" not in second_sink(), second_sink()[-400:])
    os.kill(c.broker.pid, 1)   # SIGHUP: the broker forgets its quarantines
    end = time.time() + 5
    while time.time() < end and "quarantined worker identities forgotten" not in c.broker.stderr_text():
        time.sleep(0.1)
    t.check("SIGHUP: the broker forgot the quarantine (BRK-RELOAD)",
            "quarantined worker identities forgotten" in c.broker.stderr_text(), c.broker.stderr_text()[-400:])
    c.start_worker("fixed", 1, key="liar")   # the same key, no --test-lie
    time.sleep(1.0)
    more = make_atts(1500)
    p = cl.Producer(c.frontend, "after-lift")
    t.check("producer welcomed after the lift", p.hello())
    cseqs = p.submit_all([a for a, _, _ in more], timeout=300)
    t.check("every attestation after the lift acknowledged", all(x in p.acks for x in cseqs))
    p.close()
    log = cl.read_log(c.log_dir)
    key = zmq_key(c, "liar")
    fixed = [e for e in log.entries if bytes(e["worker_key"]) == key and lift is not None and e["index"] >= lift]
    t.check("the fixed worker (the liar's key) judged entries again after the lift", len(fixed) > 0, len(fixed))
    forged = {aid: f for _, aid, f in more}
    t.check("and judged them correctly (forged ones invalid, the rest valid)",
            all(bytes(e["id"]) in forged and (e["verdict"] == 0) == (not forged[bytes(e["id"])]) for e in fixed),
            [(e["index"], e["verdict"]) for e in fixed][:5])
    t.check("no new quarantine after the lift", "quarantined at next_index" not in second_sink(),
            second_sink()[-400:])


def zmq_key(c, name):
    import zmq
    return zmq.utils.z85.decode(c.pub(name))


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
            check_lift(t, c, liar_ident, sm)
        c.finish(t, "audit")


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("audit", body))
