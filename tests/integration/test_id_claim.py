"""test_id_claim.py: no bystander can claim an id (protocol.md 12, 13.2).

On a cluster (broker, sink, one honest worker), a Python producer submits,
one at a time so the order is known:
  1. a forged copy of an attestation (the same signing bytes, so the same
     id, with a garbage signature): logged invalid (signature), not a
     duplicate;
  2. the genuine one: logged VALID at a new index and acknowledged as NOT a
     duplicate;
  3. the genuine one again: a duplicate of the valid entry (its index);
  4. the forged copy again: a duplicate of the valid entry too;
  5, 6. two different forged copies (other signatures) of another
     attestation whose genuine one never comes: each logged invalid, neither
     a duplicate (distinct submissions);
  7. copy 6 again, byte for byte (a retry, as after a broker restart): a
     duplicate of entry 6.
Then `attest log id` prints the valid entry for the first id and, for the
second, says there is no valid entry and prints both invalid ones;
`attest log verify` passes (it checks the rule); the log read back holds
what the ACKs said.

    /usr/bin/python3 test_id_claim.py --bin BUILD/bin
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402


def submit_one(t, p, cseq, att):
    p.submit([(cseq, att)])
    p.wait_outcomes([cseq], 60)
    a = p.acks.get(cseq)
    t.check("cseq %d acknowledged" % cseq, a is not None, p.refusals.get(cseq))
    return a or [cseq, None, None, None, None]


def pretty_entries(text):
    """The JSON objects `attest log id` printed (pretty, one after another)."""
    dec, out, i = json.JSONDecoder(), [], 0
    text = text.strip()
    while i < len(text):
        o, j = dec.raw_decode(text, i)
        out.append(o)
        i = j
        while i < len(text) and text[i].isspace():
            i += 1
    return out


def body(args, t):
    with cl.Cluster(args.bin) as c:
        c.start(workers=1, threads=1)
        _, sk = lf.make_keypair()
        nonce, issued = os.urandom(16), int(time.time()) - 10
        genuine, aid = lf.make_attestation(sk, subject="claimed", nonce=nonce, issued_at=issued)
        forged, fid = lf.make_attestation(sk, subject="claimed", nonce=nonce, issued_at=issued, bad_signature=True)
        t.check("the forged copy has the genuine one's id", fid == aid)
        other, oid = lf.make_attestation(sk, subject="never-genuine", bad_signature=True)
        other2 = other[:-1] + bytes([other[-1] ^ 0x80])   # another garbage signature, the same id
        p = cl.Producer(c.frontend, "bystander")
        t.check("producer welcomed", p.hello())
        end = time.time() + 20   # the WELCOME may come before the sink is confirmed: wait for credit
        while p.credit < 1 and time.time() < end:
            p.recv(0.1)
        t.check("producer granted credit", p.credit >= 1, p.credit)
        sig = lf.REASONS["signature"]
        a1 = submit_one(t, p, 1, forged)
        t.check("1 forged first: logged invalid (signature), not a duplicate",
                a1[2] == 1 and a1[3] == sig and a1[4] is False, a1)
        a2 = submit_one(t, p, 2, genuine)
        t.check("2 genuine after it: logged VALID at a new index, NOT a duplicate",
                a2[2] == 0 and a2[4] is False and a2[1] is not None and a2[1] != a1[1], a2)
        a3 = submit_one(t, p, 3, genuine)
        t.check("3 genuine again: a duplicate of the valid entry", a3[4] is True and a3[1] == a2[1] and a3[2] == 0, a3)
        a4 = submit_one(t, p, 4, forged)
        t.check("4 forged after the valid one: a duplicate of the valid entry",
                a4[4] is True and a4[1] == a2[1] and a4[2] == 0, a4)
        a5 = submit_one(t, p, 5, other)
        a6 = submit_one(t, p, 6, other2)
        t.check("5, 6 two different forged copies, no genuine: both logged invalid, neither a duplicate",
                a5[2] == 1 and a6[2] == 1 and a5[4] is False and a6[4] is False and a5[1] != a6[1], (a5, a6))
        a7 = submit_one(t, p, 7, other2)
        t.check("7 copy 6 again byte for byte (a retry): a duplicate of entry 6",
                a7[4] is True and a7[1] == a6[1] and a7[2] == 1, a7)
        p.close()

        rc, out, err = c.attest("log", "--dir", c.log_dir, "id", aid.hex())
        got = pretty_entries(out) if rc == 0 else []
        t.check("attest log id (claimed id): the valid entry", rc == 0 and len(got) == 1
                and got[0].get("index") == a2[1] and got[0].get("verdict") in (0, "valid"), (rc, out[:300], err))
        rc, out, err = c.attest("log", "--dir", c.log_dir, "id", oid.hex())
        got = pretty_entries(out) if rc == 0 else []
        t.check("attest log id (never-genuine id): no valid entry, says so, prints both invalid ones",
                rc == 0 and "no valid entry" in err and [g.get("index") for g in got] == [a5[1], a6[1]],
                (rc, out[:300], err))
        rc, out, err = c.attest("log", "--dir", c.log_dir, "verify")
        t.check("attest log verify passes (no two valid entries with one id)", rc == 0 and "ids=ok" in out, out + err)
        log = cl.read_log(c.log_dir)
        t.check_log(log, "log")
        by_index = {e["index"]: e for e in log.entries}
        t.check("the log holds what the ACKs said", len(log.entries) == 4
                and by_index[a1[1]]["verdict"] == 1 and by_index[a2[1]]["verdict"] == 0
                and log.ids.get(aid, a2[1]) == a2[1] and log.ids.get(oid, a6[1]) == a6[1], [(e["index"], e["verdict"]) for e in log.entries])
        c.finish(t, "id claim")


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("id_claim", body))
