"""test_receipts.py: receipts with the acknowledgement (protocol.md 14,
cli/receipt.h), end to end with the real executables.

A cluster whose sink signs checkpoints (the harness's log key) and
`attest log serve` beside it. `attest submit --receipts DIR` submits 700
attestations (some with a bad signature, so invalid entries get receipts
too) and writes a receipt per acknowledged line; then:
  - every output line names its receipt, one file per attestation;
  - `attest verify-receipt` verifies every one offline (the log server
    stopped, only the log's public key), and its JSON says the index, id and
    verdict the ACK said;
  - Python re-checks one receipt from the formats alone: the note's Ed25519
    signature, the leaf hash of the entry bytes, the RFC 9162 inclusion path
    up to the checkpoint's root;
  - tampered receipts fail: a flipped entry byte, a flipped proof hash, a
    wrong index, a flipped signature, another log's key;
  - a resubmission (duplicate) gets the receipt of the entry already logged;
  - a log server serving a tampered tile (a copy of the log with one hash of
    level-0 tile 0 flipped) gets no receipt out of the fetcher: it refuses
    (receipt_error), it does not write a receipt.

    /usr/bin/python3 test_receipts.py --bin BUILD/bin
"""
import base64
import glob
import json
import os
import shutil
import struct
import sys

import lmdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402
import logfixture as lf  # noqa: E402
import tlogfixture as tf  # noqa: E402

N = 700


def start_server(c):
    port = C.free_port()
    argv = [c.exe("attest"), "log", "serve", "--dir", c.log_dir, "--listen", "127.0.0.1:%d" % port]
    p = C.Proc("logserve", argv, os.path.join(c.tmp, "logserve.err"))
    if not C.wait_port(port, proc=p):
        raise RuntimeError("attest log serve did not start:\n" + p.stderr_text())
    return p, "http://127.0.0.1:%d" % port


def line_of(enc):
    """A pre-signed JSON line (cli/jsonl.h) of an encoded attestation."""
    a = lf.decode_attestation(enc)
    return {"schema": a["schema"], "subject": a["subject"], "data_b64": base64.b64encode(a["data"]).decode(),
            "issued_at": a["issued_at"], "expires_at": a["expires_at"], "nonce": a["nonce"].hex(),
            "attester": a["attester"].hex(), "signature": a["signature"].hex()}


def make_lines(path, n):
    """n pre-signed lines, every 10th with a bad signature."""
    pk, sk = lf.make_keypair()
    with open(path, "w") as f:
        for i in range(n):
            att, _ = lf.make_attestation(sk, subject="rcpt-%d" % i, bad_signature=(i % 10 == 3))
            f.write(json.dumps(line_of(att)) + "\n")


def submit(c, lines, rdir, url):
    return c.attest("submit", "--broker", c.frontend, *c.client_args(), "--input", lines, "--receipts", rdir,
                    "--log-url", url, "--log-key", c.log_pub, timeout=300)


def python_check(t, receipt, pub_text):
    """The receipt checked from the formats alone (protocol.md 14), by tlogfixture."""
    body = tf.open_note(receipt["checkpoint"], pub_text)
    cp = tf.parse_checkpoint(body) if body else {}
    entry = base64.b64decode(receipt["entry"])
    proof = [base64.b64decode(p) for p in receipt["inclusion_proof"]]
    ok = body is not None and cp["size"] == receipt["tree_size"] and tf.verify_inclusion(
        receipt["index"], cp["size"], tf.leaf_hash(entry), proof, cp["root"])
    t.check("python: the checkpoint is signed by the log key, the proof leads to its root", ok, cp)


def tamper(t, c, path, label, fn, key=None):
    with open(path) as f:
        r = json.load(f)
    fn(r)
    bad = os.path.join(c.tmp, "bad-receipt.json")
    with open(bad, "w") as f:
        json.dump(r, f)
    rc, out, err = c.attest("verify-receipt", bad, "--log-key", key or c.log_pub)
    t.check("tampered (%s): verify-receipt fails" % label, rc == 1 and "NOT VERIFIED" in out, (rc, out, err))


def flip_b64(s, at=5):
    b = bytearray(base64.b64decode(s))
    b[at % len(b)] ^= 1
    return base64.b64encode(bytes(b)).decode()


def flip_sig(r):
    body, sig = r["checkpoint"].rsplit(" ", 1)
    r["checkpoint"] = body + " " + flip_b64(sig.strip(), 10) + "\n"


def start_server_on(c, log_dir):
    port = C.free_port()
    argv = [c.exe("attest"), "log", "serve", "--dir", log_dir, "--listen", "127.0.0.1:%d" % port]
    p = C.Proc("logserve-copy", argv, os.path.join(c.tmp, "logserve-copy.err"))
    if not C.wait_port(port, proc=p):
        raise RuntimeError("attest log serve did not start:\n" + p.stderr_text())
    return p, "http://127.0.0.1:%d" % port


def lying_server(t, c, again):
    """A copy of the log whose level-0 tile 0 has one hash flipped, served:
    the fetcher must refuse to make the receipt of an entry in that tile."""
    copy = os.path.join(c.tmp, "log-copy")
    shutil.copytree(c.log_dir, copy, ignore=shutil.ignore_patterns("writer.lock"))
    env = lmdb.open(copy, max_dbs=16, subdir=True, map_size=1 << 30)
    tiles = env.open_db(b"tiles", create=False)
    with env.begin(write=True, db=tiles) as txn:
        key = bytes([0]) + struct.pack(">Q", 0)
        v = bytearray(txn.get(key))
        v[3 * 32 + 5] ^= 1      # the hash of leaf 3
        txn.put(key, bytes(v))
    env.close()
    server, url = start_server_on(c, copy)
    rdir = os.path.join(c.tmp, "receipts-lying")
    rc, out, err = submit(c, again, rdir, url)
    a = json.loads(out.splitlines()[0]) if out.strip() else {}
    t.check("a log server with a tampered tile: no receipt, an error instead (exit 1)",
            rc == 1 and "receipt" not in a and a.get("receipt_error") == "corrupt"
            and not glob.glob(os.path.join(rdir, "*.json")), (rc, out, err[-300:]))
    server.stop()


def body(args, t):
    with C.Cluster(args.bin) as c:
        c.start(workers=2, threads=1)
        server, url = start_server(c)
        lines, rdir = os.path.join(c.tmp, "in.jsonl"), os.path.join(c.tmp, "receipts")
        make_lines(lines, N)
        rc, out, err = submit(c, lines, rdir, url)
        acks = [json.loads(x) for x in out.splitlines() if x.strip()]
        named = [a for a in acks if "receipt" in a]
        t.check("submit: every line acknowledged with a receipt", rc == 0 and len(named) == N, (rc, err[-500:]))
        files = sorted(glob.glob(os.path.join(rdir, "*.json")))
        t.check("one receipt file per attestation", len(files) == N, len(files))
        server.stop()   # offline from here: only the log's public key
        rc, out, err = c.attest("verify-receipt", "--json", "--log-key", c.log_pub, rdir)
        res = {json.loads(x)["file"]: json.loads(x) for x in out.splitlines() if x.strip()}
        agree = all(res.get(a["receipt"], {}).get("verified") and res[a["receipt"]]["index"] == a["index"]
                    and res[a["receipt"]]["id"] == a["id"] and res[a["receipt"]]["verdict"] == a["verdict"]
                    for a in named)
        t.check("verify-receipt: all %d verify offline and say what the ACKs said" % N, rc == 0 and agree,
                (rc, err[-300:]))
        invalid = [a for a in named if a["verdict"] == "invalid"]
        t.check("invalid entries get receipts too", len(invalid) == N // 10, len(invalid))
        with open(files[0]) as f:
            python_check(t, json.load(f), open(c.log_pub).read())
        tamper(t, c, files[1], "entry byte", lambda r: r.update(entry=flip_b64(r["entry"], 40)))
        tamper(t, c, files[2], "proof hash", lambda r: r["inclusion_proof"].__setitem__(0, flip_b64(
            r["inclusion_proof"][0])))
        tamper(t, c, files[3], "index", lambda r: r.update(index=r["index"] + 1))
        tamper(t, c, files[4], "signature", flip_sig)
        other = os.path.join(c.tmp, "other")
        c.attest("keygen", "--log", "--out", other, "--name", "attest.local/log")
        tamper(t, c, files[5], "another log's key of the same name", lambda r: None, key=other + ".pub")
        server, url = start_server(c)
        first = named[7]
        with open(lines) as f:
            line8 = f.readlines()[7]
        again = os.path.join(c.tmp, "again.jsonl")
        with open(again, "w") as f:
            f.write(line8)
        rdir2 = os.path.join(c.tmp, "receipts2")
        rc, out, err = submit(c, again, rdir2, url)
        a = json.loads(out.splitlines()[0]) if out.strip() else {}
        t.check("a duplicate gets the receipt of the entry already logged", rc == 0 and a.get("duplicate")
                and a.get("index") == first["index"] and os.path.exists(a.get("receipt", "")), (rc, out, err))
        server.stop()
        lying_server(t, c, again)
        c.finish(t, "receipts")


if __name__ == "__main__":
    sys.exit(C.main_wrapper("receipts", body))
