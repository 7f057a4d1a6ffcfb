"""test_e2e_many_producers.py: 100,000 attestations (x ATTEST_TEST_SCALE) from
4 producers arrive complete, unique, in order and correctly judged.

Runs `attest bench` on its own local cluster (2 workers x 1 thread), which
audits the log itself, then re-checks the log independently here: every
entry belongs to bench-0..bench-3, indices contiguous, hash chain and head,
ids unique (and the ids db agrees), seq strictly increasing with index,
per-producer cseq strictly increasing with index, exactly 1% invalid with
reason 8 (signature), and every verdict equal to a fresh Ed25519 verification
(python3-nacl) of the signing bytes of the stored attestation.

    /usr/bin/python3 test_e2e_many_producers.py --bin BUILD/bin
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402


def body(args, t):
    n = max(1000, int(100000 * cl.scale()) // 1000 * 1000)
    nprod = 4
    with cl.Cluster(args.bin) as c:    # only for the temp dir; bench starts its own cluster
        data = os.path.join(c.tmp, "data")
        t.say("bench: n=%d producers=%d workers=2 threads=1" % (n, nprod))
        b = cl.Bench(args.bin, ["--n", str(n), "--producers", str(nprod), "--workers", "2", "--threads", "1",
                                "--data-dir", data], c.tmp)
        rc = b.wait(600)
        out = b.output()
        res = cl.parse_bench(out)
        t.check("bench exits 0 (its own audit: no loss, dup, disorder or misjudgement)", rc == 0,
                "rc=%s\n%s" % (rc, out[-2000:]))
        t.check("bench prints its summary line", res is not None, out[-2000:])
        if res:
            print(res["line"])
            t.check("bench line: committed=n lost=0 dup=0 order=ok",
                    res["committed"] == n and res["lost"] == 0 and res["dup"] == 0 and res["order"] == "ok",
                    res["line"])
            t.check("bench line: invalid = 1%% (%d)" % (n // 100), res["invalid"] == n // 100, res["line"])
        logdir = os.path.join(data, "log")
        t.say("reading the log back")
        log = cl.read_log(logdir)
        t.check_log(log)
        ents = log.entries
        names = {"bench-%d" % k for k in range(nprod)}
        t.check("log holds exactly n=%d entries" % n, len(ents) == n, len(ents))
        t.check("every entry comes from bench-0..bench-%d" % (nprod - 1),
                all(e["producer"] in names for e in ents), {e["producer"] for e in ents} - names)
        per = {p: [e["cseq"] for e in ents if e["producer"] == p] for p in names}
        t.check("each producer contributed n/%d entries" % nprod,
                all(len(v) == n // nprod for v in per.values()), {p: len(v) for p, v in per.items()})
        t.check("per-producer cseq strictly increasing with index",
                all(all(b > a for a, b in zip(v, v[1:])) for v in per.values()))
        t.check("per-producer cseqs are exactly 1..n/%d" % nprod,
                all(v == list(range(1, n // nprod + 1)) for v in per.values()))
        t.check("seq strictly increasing with index", all(b["seq"] > a["seq"] for a, b in zip(ents, ents[1:])))
        t.check("timestamps ordered: received <= dispatched <= verified <= committed",
                all(e["t_received"] <= e["t_dispatched"] <= e["t_verified"] <= e["t_committed"] for e in ents))
        invalid = [e for e in ents if e["verdict"] == 1]
        t.check("exactly %d invalid entries" % (n // 100), len(invalid) == n // 100, len(invalid))
        t.check("every invalid entry has reason 8 (signature)", all(e["reason"] == 8 for e in invalid),
                {e["reason"] for e in invalid})
        t.say("re-verifying %d signatures with python3-nacl" % n)
        wrong, badid = [], []
        for e in ents:
            reason, aid = cl.judge_entry(e)
            if reason != e["reason"]:
                wrong.append((e["index"], e["reason"], reason))
            if aid != e["id"]:
                badid.append(e["index"])
        t.check("every verdict matches a fresh Ed25519 verification", not wrong, wrong[:5])
        t.check("every id is BLAKE2b-256 of the signing bytes", not badid, badid[:5])
        workers = {e["worker"] for e in ents}
        t.check("both workers did some of the work (w0/0, w1/0)", workers == {"w0/0", "w1/0"}, workers)
        reports = c.sanitizer_reports()
        t.check("no sanitizer reports in the cluster's process logs", not reports, reports)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("e2e_many_producers", body))
