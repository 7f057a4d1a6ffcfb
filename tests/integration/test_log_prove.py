"""test_log_prove.py: `attest log checkpoint`, `prove`, `consistency` and
the tree checks of `attest log verify`, against a real run's log (a sink
with a log key), every answer checked by an independent Python
implementation of RFC 9162 (hashes, proof verification), of C2SP signed
notes (python3-nacl) and of the tile layout (read raw with python3-lmdb):
JSON shapes, the C2SP tlog-proof text, the RFC 9162 TransItems, bad
indices and sizes, id prefixes, verify with and without the key, --since
(a saved checkpoint, a forged one, another log's), --from/--to, tampered
tiles and checkpoints, and a log written before the tree.

The helpers at the top (tree, notes, tiles, LMDB export) are shared with
test_go_interop.py.   Usage: /usr/bin/python3 test_log_prove.py --bin BUILD/bin
"""
import base64
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import time

import lmdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402

ORIGIN = "attest.test/prove-log"

from tlogfixture import (leaf_hash, mth, verify_inclusion, verify_consistency, open_note,  # noqa: E402
                         sign_note, parse_checkpoint, tile_path)

# ------------------------------------------------------------------ the log




def open_log(path, write=False):
    return lmdb.open(path, readonly=not write, lock=True, max_dbs=16, subdir=True, map_size=1 << 36, create=False)


def read_tree(path):
    """(raw entries, {(L, N): tile bytes}, {size: note}) in one read txn."""
    env = open_log(path)
    try:
        dbs = {n: env.open_db(n, create=False) for n in (b"entries", b"tiles", b"checkpoints")}
        with env.begin(buffers=False) as txn:
            raws = [bytes(v) for _, v in txn.cursor(db=dbs[b"entries"])]
            tiles = {(k[0], struct.unpack(">Q", k[1:9])[0]): bytes(v) for k, v in txn.cursor(db=dbs[b"tiles"])}
            notes = {struct.unpack(">Q", k)[0]: bytes(v).decode() for k, v in txn.cursor(db=dbs[b"checkpoints"])}
    finally:
        env.close()
    return raws, tiles, notes


def export(path, out):
    """Writes the log's tiles (as stored) and entry bundles under out/tile/,
    the layout of the C2SP tlog-tiles API, and returns the newest note."""
    raws, tiles, notes = read_tree(path)
    for (level, n), b in tiles.items():
        p = os.path.join(out, tile_path(level, n, len(b) // 32))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(b)
    for n in range((len(raws) + 255) // 256):
        chunk = raws[256 * n:256 * (n + 1)]
        p = os.path.join(out, tile_path("entries", n, len(chunk)))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(b"".join(struct.pack(">H", len(e)) + e for e in chunk))
    return notes[max(notes)] if notes else None


def put_tile(path, level, n, data):
    env = open_log(path, write=True)
    try:
        db = env.open_db(b"tiles", create=False)
        with env.begin(write=True) as txn:
            txn.put(bytes([level]) + struct.pack(">Q", n), data, db=db)
    finally:
        env.close()


def put_checkpoint(path, size, note):
    env = open_log(path, write=True)
    try:
        db = env.open_db(b"checkpoints", create=False)
        with env.begin(write=True) as txn:
            txn.put(struct.pack(">Q", size), note.encode(), db=db)
    finally:
        env.close()


def flip(b, at):
    b = bytearray(b)
    b[at] ^= 1
    return bytes(b)


def log_id(origin):
    """The RFC 9162 log id the tool uses: DER OID 2.25.<SHA-256(origin)[:16]>."""
    v = int.from_bytes(hashlib.sha256(origin.encode()).digest()[:16], "big")
    digits = []
    while True:
        digits.append(v & 0x7f)
        v >>= 7
        if not v:
            break
    digits.reverse()
    return bytes([105] + [d | 0x80 for d in digits[:-1]] + [digits[-1]])


def parse_transitem(b):
    """(type, log_id, a, b, [hashes]) of an RFC 9162 proof TransItem."""
    t = struct.unpack(">H", b[:2])[0]
    n = b[2]
    lid = b[3:3 + n]
    p = 3 + n
    x, y = struct.unpack(">QQ", b[p:p + 16])
    p += 16
    vlen = struct.unpack(">H", b[p:p + 2])[0]
    p += 2
    end, hs = p + vlen, []
    while p < end:
        assert b[p] == 32
        hs.append(b[p + 1:p + 33])
        p += 33
    assert p == len(b), "trailing bytes"
    return t, lid, x, y, hs


def start_cluster(bindir, origin=ORIGIN):
    """A cluster whose sink signs checkpoints for origin with keys/log.key
    (the harness makes it); the public key is keys/log.pub, beside the log
    directory as `attest up` lays it out."""
    c = cl.Cluster(bindir)
    c.start_broker()
    c.start_sink(extra=["--origin", origin])
    c.start_worker("w0", threads=2)
    return c


def submit(c, atts, name):
    p = cl.Producer(c.frontend, name)
    assert p.hello()
    done = p.submit_all(atts)
    ok = p.wait_outcomes(done, 300)
    p.close()
    return ok


def make_atts(n, tag):
    _, sk = lf.make_keypair()
    return [lf.make_attestation(sk, subject="%s-%d" % (tag, i), data=b"x" * (i % 40))[0] for i in range(n)]


def wait_checkpoint(c, size, timeout=60):
    """The newest checkpoint note once it has `size` entries (None on timeout)."""
    end = time.time() + timeout
    while time.time() < end:
        rc, out, _ = c.attest("log", "--dir", c.log_dir, "checkpoint", "--json")
        if rc == 0 and json.loads(out)["size"] >= size:
            return json.loads(out)["note"]
        time.sleep(0.05)
    return None

# ------------------------------------------------------------------ the tests


def run(c, *args):
    return c.attest("log", "--dir", c.log_dir, *args)


def run_bytes(c, *args):
    p = subprocess.run([c.exe("attest"), "log", "--dir", c.log_dir] + list(args), capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode()


def test_checkpoint(t, c, w):
    rc, out, err = run(c, "checkpoint")
    t.check("checkpoint: prints the newest note as stored", rc == 0 and out == w["notes"][max(w["notes"])], out + err)
    body = open_note(out, w["vkey"])
    t.check("checkpoint: the note's signature verifies with keys/log.pub (python3-nacl)", body is not None)
    cp = parse_checkpoint(body or "x\n0\n\n")
    t.check("checkpoint: origin, size and root are the log's", cp["origin"] == ORIGIN and cp["size"] == w["n"]
            and cp["root"] == mth(w["leaves"]), cp)
    rc, out, err = run(c, "checkpoint", "--json")
    j = json.loads(out) if rc == 0 else {}
    t.check("checkpoint --json: origin, size, root, root_hex, time, note",
            sorted(j) == ["note", "origin", "root", "root_hex", "size", "time"] and j["size"] == w["n"]
            and base64.b64decode(j["root"]) == mth(w["leaves"]) and j["root_hex"] == mth(w["leaves"]).hex()
            and abs(j["time"] - time.time()) < 600 and j["note"] == w["notes"][w["n"]], out + err)
    rc, out, err = run(c, "checkpoint", "--size", str(w["old"]))
    t.check("checkpoint --size: the older note", rc == 0 and out == w["old_note"], out + err)
    missing = next(s for s in range(1, w["n"]) if s not in w["notes"])
    rc, out, err = run(c, "checkpoint", "--size", str(missing))
    t.check("checkpoint --size of a size never checkpointed: exit 1, says so", rc == 1 and "no checkpoint" in err,
            err)
    rc, _, err = run(c, "checkpoint", "--log-key", w["other_pub"])
    t.check("checkpoint --log-key of another key: exit 1, names the problem", rc == 1 and "no signature" in err, err)


def check_inclusion_json(t, w, j, i, size, label):
    root = mth(w["leaves"][:size])
    proof = [base64.b64decode(x) for x in j.get("proof", [])]
    t.check("%s: keys" % label, sorted(j) == ["checkpoint", "entry", "index", "leaf_hash", "leaf_hash_hex", "proof",
                                              "root", "root_hex", "size"], sorted(j))
    t.check("%s: index, size, entry bytes, leaf hash" % label,
            j.get("index") == i and j.get("size") == size and base64.b64decode(j["entry"]) == w["raws"][i]
            and base64.b64decode(j["leaf_hash"]) == w["leaves"][i] and j["leaf_hash_hex"] == w["leaves"][i].hex())
    t.check("%s: the proof verifies (Python RFC 9162) against the recomputed root" % label,
            base64.b64decode(j["root"]) == root and verify_inclusion(i, size, w["leaves"][i], proof, root))
    t.check("%s: carries the checkpoint of its size, or null" % label, j["checkpoint"] == w["notes"].get(size))


def test_prove(t, c, w):
    n, old = w["n"], w["old"]
    for i in sorted({0, 1, 255, 256, 257, old - 1, old, n - 1, n // 2}):
        rc, out, err = run(c, "prove", str(i), "--json")
        if t.check("prove %d --json: exit 0" % i, rc == 0, err):
            check_inclusion_json(t, w, json.loads(out), i, n, "prove %d" % i)
    rc, out, err = run(c, "prove", "7", "--size", str(old), "--json")
    if t.check("prove --size OLD: exit 0", rc == 0, err):
        check_inclusion_json(t, w, json.loads(out), 7, old, "prove 7 --size %d" % old)
    odd = next(s for s in range(old + 1, n) if s not in w["notes"])
    rc, out, err = run(c, "prove", "3", "--size", str(odd), "--json")
    if t.check("prove --size without a checkpoint: exit 0", rc == 0, err):
        check_inclusion_json(t, w, json.loads(out), 3, odd, "prove 3 --size %d" % odd)
    rc, out, err = run(c, "prove", "3", "--size", str(odd))
    t.check("prove (text): says no checkpoint of that size and that the proof checked",
            rc == 0 and "none stored of size %d" % odd in out and "checked" in out, out + err)
    aid = w["ids"][42]
    for arg in (aid.hex(), aid.hex()[:12].upper()):
        rc, out, err = run(c, "prove", arg, "--json")
        t.check("prove by id %s...: the entry's index" % arg[:12], rc == 0 and json.loads(out)["index"] == 42, err)
    cases = [((str(n),), 2, "not in a tree"), (("5", "--size", str(n + 1)), 2, "beyond the tree"),
             (("5", "--size", "5"), 2, "not in a tree"), (("zz",), 2, "want an INDEX"),
             (("-3",), 2, "want an INDEX"), (("abcdef0123456789" * 4,), 1, "no entry with id"),
             (("1", "--format", "xml"), 2, "--format")]
    for args, code, msg in cases:
        rc, out, err = run(c, "prove", *args)
        t.check("prove %s: exit %d, says '%s'" % (" ".join(args)[:40], code, msg), rc == code and msg in err,
                (rc, err))


def test_c2sp(t, c, w):
    n = w["n"]
    rc, out, err = run(c, "prove", "300", "--format", "c2sp")
    head, _, note = out.partition("\n\n")
    lines = head.split("\n")
    proof = [base64.b64decode(x) for x in lines[2:]]
    t.check("c2sp: header line, index line, proof lines, empty line, the checkpoint verbatim",
            rc == 0 and lines[0] == "c2sp.org/tlog-proof@v1" and lines[1] == "index 300" and note == w["notes"][n],
            out + err)
    body = open_note(note, w["vkey"])
    cp = parse_checkpoint(body) if body else {}
    t.check("c2sp: its checkpoint opens and its proof verifies against the checkpoint's root",
            body is not None and verify_inclusion(300, cp["size"], w["leaves"][300], proof, cp["root"]))
    odd = next(s for s in range(w["old"] + 1, n) if s not in w["notes"])
    rc, _, err = run(c, "prove", "3", "--size", str(odd), "--format", "c2sp")
    t.check("c2sp of a size without a checkpoint: exit 1, says why", rc == 1 and "none of size" in err, err)


def test_rfc9162(t, c, w):
    n, old = w["n"], w["old"]
    rc, raw, err = run_bytes(c, "prove", "300", "--format", "rfc9162")
    rc2, b64, _ = run_bytes(c, "prove", "300", "--format", "rfc9162", "--base64")
    try:
        typ, lid, size, index, hs = parse_transitem(raw)
    except Exception as e:   # noqa: BLE001
        typ, lid, size, index, hs = None, b"", 0, 0, [str(e)]
    t.check("rfc9162 inclusion: TransItem inclusion_proof_v2 (0x0106), log id 2.25.<SHA-256(origin)>, size, index",
            rc == 0 and typ == 0x0106 and lid == log_id(ORIGIN) and size == n and index == 300, (rc, err, typ, lid))
    t.check("rfc9162 inclusion: the path verifies", rc == 0 and verify_inclusion(300, n, w["leaves"][300], hs,
                                                                                  mth(w["leaves"])))
    t.check("rfc9162 --base64: the same bytes", rc2 == 0 and base64.b64decode(b64) == raw)
    rc, raw, err = run_bytes(c, "consistency", str(old), str(n), "--format", "rfc9162")
    try:
        typ, lid, a, b, hs = parse_transitem(raw)
    except Exception as e:   # noqa: BLE001
        typ, lid, a, b, hs = None, b"", 0, 0, [str(e)]
    t.check("rfc9162 consistency: consistency_proof_v2 (0x0105), sizes, a path that verifies",
            rc == 0 and typ == 0x0105 and lid == log_id(ORIGIN) and (a, b) == (old, n)
            and verify_consistency(old, n, mth(w["leaves"][:old]), mth(w["leaves"]), hs), (rc, err))


def test_consistency(t, c, w):
    n, old = w["n"], w["old"]
    rc, out, err = run(c, "consistency", str(old), str(n), "--json")
    j = json.loads(out) if rc == 0 else {}
    proof = [base64.b64decode(x) for x in j.get("proof", [])]
    t.check("consistency --json: keys", sorted(j) == ["new_checkpoint", "new_root", "new_root_hex", "new_size",
                                                      "old_checkpoint", "old_root", "old_root_hex", "old_size",
                                                      "proof"], out + err)
    t.check("consistency --json: the proof verifies (Python RFC 9162), roots and checkpoints are the log's",
            j.get("old_size") == old and j.get("new_size") == n and verify_consistency(
                old, n, mth(w["leaves"][:old]), mth(w["leaves"]), proof)
            and j["old_checkpoint"] == w["old_note"] and j["new_checkpoint"] == w["notes"][n])
    for a, b in ((1, n), (old - 1, old + 5), (255, 256), (256, 257), (n, n)):
        rc, out, err = run(c, "consistency", str(a), str(b), "--json")
        j = json.loads(out) if rc == 0 else {"proof": []}
        ok = rc == 0 and verify_consistency(a, b, mth(w["leaves"][:a]), mth(w["leaves"][:b]),
                                            [base64.b64decode(x) for x in j["proof"]])
        t.check("consistency %d %d: verifies" % (a, b), ok, err)
    rc, out, err = run(c, "consistency", str(old), str(n))
    t.check("consistency (text): exit 0, says it checked", rc == 0 and "checked" in out, out + err)
    for args, msg in (((0, n), "0 < OLD"), ((5, n + 1), "0 < OLD"), ((9, 3), "0 < OLD"), (("a", "b"), "want two")):
        rc, _, err = run(c, "consistency", str(args[0]), str(args[1]))
        t.check("consistency %s %s: exit 2, says why" % args, rc == 2 and msg in err, err)
    rc, _, err = run(c, "consistency", "1", "2", "--format", "c2sp")
    t.check("consistency --format c2sp: refused (C2SP has no consistency encoding)",
            rc == 2 and "C2SP defines no" in err, err)


def test_verify(t, c, w, tmp):
    rc, out, err = run(c, "verify")
    t.check("verify: exit 0, tree recomputed, checkpoint root and signature (keys/log.pub found next to the log)",
            rc == 0 and "tree: size=%d" % w["n"] in out and "signature=ok" in out, out + err)
    rc, out, err = run(c, "verify", "--log-key", w["vkey_path"], "--since", w["old_path"])
    t.check("verify --since OLD: the log extends the saved checkpoint", rc == 0 and "since: the tree of size %d "
            "extends the saved checkpoint of size %d" % (w["n"], w["old"]) in out, out + err)
    rc, out, err = run(c, "verify", "--log-key", w["other_pub"])
    t.check("verify --log-key of another key: exit 1", rc == 1 and "FAILED" in out, out + err)
    rc, out, err = run(c, "verify", "--from", "100", "--to", "300")
    t.check("verify --from 100 --to 300: the range's entries and leaf hashes",
            rc == 0 and "[100, 300)" in out and "entries=200" in out, out + err)
    forged = os.path.join(tmp, "forged.note")
    with open(forged, "w") as f:   # signed by the log's own key: a rewritten log's checkpoint
        f.write(sign_note("%s\n%d\n%s\n" % (ORIGIN, w["old"], base64.b64encode(os.urandom(32)).decode()),
                          open(w["skey_path"]).read()))
    rc, out, err = run(c, "verify", "--since", forged)
    t.check("verify --since a checkpoint of a rewritten log: exit 1, 'NOT a prefix'",
            rc == 1 and "NOT a prefix" in out, out + err)
    other = os.path.join(tmp, "other.note")
    with open(other, "w") as f:
        f.write(w["other_note"])
    rc, out, err = run(c, "verify", "--since", other)
    t.check("verify --since another log's checkpoint: exit 1", rc == 1 and "FAILED" in out, out + err)
    copy = os.path.join(tmp, "bare", "log")
    shutil.copytree(c.log_dir, copy)
    rc, out, err = c.attest("log", "--dir", copy, "verify")
    t.check("verify without a key: exit 0, says the signature was NOT CHECKED", rc == 0 and "NOT CHECKED" in out,
            out + err)
    rekeyed = os.path.join(tmp, "rekeyed")
    shutil.copytree(c.log_dir, os.path.join(rekeyed, "log"))
    os.makedirs(os.path.join(rekeyed, "keys"))
    shutil.copy(w["other_pub"], os.path.join(rekeyed, "keys", "log.pub"))
    rc, out, err = c.attest("log", "--dir", os.path.join(rekeyed, "log"), "verify")
    t.check("verify beside another key (a restored log, a re-keyed sink): exit 0, the signature NOT CHECKED, "
            "says the key beside the log did not sign it", rc == 0 and "did not sign it" in out, out + err)
    rc, out, err = c.attest("log", "--dir", os.path.join(rekeyed, "log"), "verify", "--log-key", w["other_pub"])
    t.check("... and with that key given: exit 1", rc == 1 and "no signature by this key" in out, out + err)


def test_tamper(t, c, w, tmp):
    def fresh(name):
        d = os.path.join(tmp, name, "log")
        shutil.copytree(c.log_dir, d)
        return d
    key = ["--log-key", w["vkey_path"]]
    d = fresh("t-full")
    put_tile(d, 0, 1, flip(w["tiles"][(0, 1)], 5 * 32 + 7))
    rc, out, err = c.attest("log", "--dir", d, "verify", *key)
    t.check("tampered full tile 0/1 (hash 5): verify fails naming tile 0/1 and entry 261",
            rc == 1 and "tile 0/1" in out and "index 261" in out, out + err)
    rc, out, err = c.attest("log", "--dir", d, "prove", "260")
    t.check("tampered tile: prove 260 (whose path holds the bad hash) refuses: the proof does not lead to the root",
            rc == 1 and "does not lead" in err, out + err)
    d = fresh("t-partial")
    last = max(k for k in w["tiles"] if k[0] == 0)
    put_tile(d, 0, last[1], w["tiles"][last][:-32])
    rc, out, err = c.attest("log", "--dir", d, "verify", *key)
    t.check("truncated partial tile: verify fails on its width", rc == 1 and "width" in out, out + err)
    d = fresh("t-upper")
    put_tile(d, 1, 0, flip(w["tiles"][(1, 0)], 3))
    rc, out, err = c.attest("log", "--dir", d, "verify", *key)
    t.check("tampered level-1 tile: verify fails naming tile 1/0", rc == 1 and "tile 1/0" in out, out + err)
    d = fresh("t-cp")
    note = w["notes"][w["n"]]
    lines = note.split("\n")
    lines[2] = base64.b64encode(flip(base64.b64decode(lines[2]), 0)).decode()
    put_checkpoint(d, w["n"], "\n".join(lines))
    rc, out, err = c.attest("log", "--dir", d, "verify", *key)
    t.check("tampered checkpoint root: verify fails (signature)", rc == 1 and "signature" in out, out + err)
    d = fresh("t-cp-nokey")    # no keys/log.pub beside this copy
    put_checkpoint(d, w["n"], "\n".join(lines))
    rc, out, err = c.attest("log", "--dir", d, "verify")
    t.check("tampered checkpoint root: verify fails even without checking the signature",
            rc == 1 and "root" in out, out + err)


def test_no_tree(t, attest, tmp):
    d = os.path.join(tmp, "old-log")
    _, sk = lf.make_keypair()
    lf.write_log(d, [{"att": lf.make_attestation(sk, subject="s%d" % i)[0]} for i in range(5)])
    p = subprocess.run([attest, "log", "--dir", d, "verify"], capture_output=True, text=True)
    t.check("a log written before the tree: verify passes and says (on stderr) there is no tree",
            p.returncode == 0 and "tree: none" in p.stderr and "tree" not in p.stdout, p.stdout + p.stderr)
    p = subprocess.run([attest, "log", "--dir", d, "prove", "1"], capture_output=True, text=True)
    t.check("a log written before the tree: prove says it has no tree", p.returncode == 1 and "no Merkle tree"
            in p.stderr, p.stderr)
    p = subprocess.run([attest, "log", "--dir", d, "verify", "--log-key", os.path.join(tmp, "x.pub")],
                       capture_output=True, text=True)
    t.check("a log written before the tree, --log-key of a missing file: exit 1", p.returncode == 1, p.stderr)


def build_world(t, c, tmp, n_old, n_new):
    """Submits n_old, saves that checkpoint, then n_new more; returns what the
    checks compare with (read raw from LMDB, after the cluster stopped)."""
    t.check("submit %d" % n_old, submit(c, make_atts(n_old, "a"), "prove-a"))
    old_note = wait_checkpoint(c, n_old)
    t.check("the checkpoint of size %d is there" % n_old, old_note is not None and
            parse_checkpoint(old_note.partition("\n\n")[0] + "\n")["size"] == n_old)
    t.check("submit %d more" % n_new, submit(c, make_atts(n_new, "b"), "prove-b"))
    t.check("the checkpoint of size %d is there" % (n_old + n_new), wait_checkpoint(c, n_old + n_new) is not None)
    codes = c.stop()
    t.check("cluster stopped cleanly", all(v == 0 for v in codes.values()), codes)
    raws, tiles, notes = read_tree(c.log_dir)
    log = cl.read_log(c.log_dir)
    old_path = os.path.join(tmp, "old.note")
    with open(old_path, "w") as f:
        f.write(old_note or "")
    osk = os.path.join(tmp, "other")
    rc, _, err = c.attest("keygen", "--log", "--out", osk, "--name", "other.test/log")
    t.check("keygen --log of another log's key", rc == 0, err)
    ovk = osk + ".pub"
    other_note = sign_note("other.test/log\n3\n%s\n" % base64.b64encode(os.urandom(32)).decode(),
                           open(osk + ".key").read())
    return {"n": len(raws), "old": n_old, "raws": raws, "leaves": [leaf_hash(r) for r in raws], "tiles": tiles,
            "notes": notes, "old_note": old_note, "old_path": old_path, "ids": [e["id"] for e in log.entries],
            "vkey_path": os.path.join(c.keys, "log.pub"), "vkey": open(os.path.join(c.keys, "log.pub")).read(),
            "skey_path": os.path.join(c.keys, "log.key"), "other_pub": ovk, "other_note": other_note}


def body(args, t):
    c = start_cluster(args.bin)
    try:
        w = build_world(t, c, c.tmp, 300, 300)
        t.check("the log's tree: stored tiles equal the Python recomputation (level 0)",
                all(w["tiles"].get((0, k)) == b"".join(w["leaves"][256 * k:256 * (k + 1)])
                    for k in range((w["n"] + 255) // 256)))
        test_checkpoint(t, c, w)
        test_prove(t, c, w)
        test_c2sp(t, c, w)
        test_rfc9162(t, c, w)
        test_consistency(t, c, w)
        test_verify(t, c, w, c.tmp)
        test_tamper(t, c, w, c.tmp)
        test_no_tree(t, c.exe("attest"), c.tmp)
    finally:
        c.close()


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("log_prove", body))
