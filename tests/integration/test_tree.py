"""test_tree.py: the Merkle tree the sink keeps over the log (protocol.md 14,
store/tiles.h), checked from the LMDB files alone with an independent
implementation here (RFC 6962 hashing, C2SP tiles and checkpoints).

  root:  `attest bench --n 100000` (x ATTEST_TEST_SCALE) through a cluster
         whose sink signs checkpoints; then the root recomputed from all
         entries (leaf = the entry's stored bytes) equals the newest
         checkpoint's root, its size is the log's, its Ed25519 signature
         verifies with the log's public key, every stored tile holds the
         hashes the entries make, and older stored checkpoints are roots of
         prefixes of the log.
  crash: a paced bench while the sink is SIGKILLed five times mid-run and
         restarted; after each restart and at the end the tree, the tiles
         and the newest checkpoint agree with the entries exactly (same
         transaction: never one commit apart), and the bench loses nothing.

    /usr/bin/python3 test_tree.py --bin BUILD/bin
"""
import hashlib
import os
import signal
import struct
import sys
import time

import lmdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402
import faults as fl  # noqa: E402
import tlogfixture as tf  # noqa: E402


def read_tree(path):
    """(entries' raw bytes, {(level, n): hashes bytes}, {size: note}, meta)."""
    env = lmdb.open(path, readonly=True, lock=True, max_dbs=16, subdir=True, map_size=1 << 36, create=False)
    try:
        dbs = {n: env.open_db(n, create=False) for n in (b"entries", b"tiles", b"checkpoints", b"meta")}
        with env.begin(buffers=False) as txn:
            raws = [bytes(v) for _, v in txn.cursor(db=dbs[b"entries"])]
            tiles = {(k[0], struct.unpack(">Q", k[1:])[0]): bytes(v) for k, v in txn.cursor(db=dbs[b"tiles"])}
            cps = {struct.unpack(">Q", k)[0]: bytes(v).decode() for k, v in txn.cursor(db=dbs[b"checkpoints"])}
            meta = {bytes(k): bytes(v) for k, v in txn.cursor(db=dbs[b"meta"])}
    finally:
        env.close()
    return raws, tiles, cps, meta


node = tf.node_hash


def levels(leaves):
    """Every complete level: levels[h][i] = hash of leaves [i*2^h, (i+1)*2^h)."""
    out = [leaves]
    while len(out[-1]) > 1:
        prev = out[-1]
        out.append([node(prev[2 * i], prev[2 * i + 1]) for i in range(len(prev) // 2)])
    return out


def root_of(lv, size):
    """MTH of the first size leaves from complete subtrees (RFC 6962)."""
    if size == 0:
        return hashlib.sha256(b"").digest()
    parts, start = [], 0
    for h in range(63, -1, -1):
        if size & (1 << h):
            parts.append(lv[h][start >> h])
            start += 1 << h
    r = parts[-1]
    for p in reversed(parts[:-1]):
        r = node(p, r)
    return r


def open_checkpoint(note, pub_text):
    """(origin, size, root) when the note is signed by the key, else None."""
    body = tf.open_note(note, pub_text)
    if body is None:
        return None
    cp = tf.parse_checkpoint(body)
    return cp["origin"], cp["size"], cp["root"]


def check_tree(t, label, path, pub_text, full=True):
    raws, tiles, cps, meta = read_tree(path)
    n = len(raws)
    leaves = [hashlib.sha256(b"\x00" + r).digest() for r in raws]
    lv = levels(leaves)
    tree_size = struct.unpack(">Q", meta.get(b"tree_size", b"\0" * 8))[0]
    t.check("%s: meta tree_size = the %d entries" % (label, n), tree_size == n, tree_size)
    newest = max(cps) if cps else -1
    opened = open_checkpoint(cps[newest], pub_text) if cps else None
    t.check("%s: the newest checkpoint is of size %d, signed by the log key, its root recomputed from the entries"
            % (label, n), newest == n and opened is not None and opened[1] == n and opened[2] == root_of(lv, n),
            (newest, opened and opened[1]))
    bad_tiles = []
    for (level, tn), hashes in sorted(tiles.items()):
        h = 8 * level
        want = lv[h][tn * 256:tn * 256 + 256] if h < len(lv) else []
        got = [hashes[i:i + 32] for i in range(0, len(hashes), 32)]
        if got != want:
            bad_tiles.append((level, tn, len(got), len(want)))
    want_tiles = sum(-(-len(lv[h]) // 256) for h in range(0, len(lv), 8) if len(lv[h]) > 0)
    t.check("%s: every stored tile (%d) holds the hashes the entries make, none missing" % (label, len(tiles)),
            not bad_tiles and len(tiles) == want_tiles, (bad_tiles[:3], len(tiles), want_tiles))
    if full:
        sample = sorted(cps)[:: max(1, len(cps) // 50)]
        wrong = [s for s in sample if (open_checkpoint(cps[s], pub_text) or (0, 0, b""))[1:] != (s, root_of(lv, s))]
        t.check("%s: older checkpoints (%d sampled of %d) are signed roots of prefixes of the log"
                % (label, len(sample), len(cps)), not wrong, wrong[:3])
    return n


def test_root(args, t):
    n = max(5000, int(100000 * C.scale()))
    with C.Cluster(args.bin) as c:
        c.start(workers=2, threads=1)
        b = C.Bench(args.bin, ["--broker", c.frontend, "--log-dir", c.log_dir, "--n", str(n), "--producers", "2"],
                    c.tmp)
        rc = b.wait(600)
        t.check("root: bench of %d exits 0" % n, rc == 0, b.output()[-400:])
        got = check_tree(t, "root", c.log_dir, open(c.log_pub).read())
        t.check("root: the log holds the %d" % n, got == n, got)
        rc, out, err = c.attest("log", "--dir", c.log_dir, "verify")
        t.check("root: attest log verify passes", rc == 0, (out + err)[-400:])
        c.finish(t, "root")


def test_crash(args, t):
    n = max(6000, int(60000 * C.scale()) // 2 * 2)
    with C.Cluster(args.bin) as c:
        c.start(workers=2, threads=1)
        pub = open(c.log_pub).read()
        b = C.Bench(args.bin, ["--broker", c.frontend, "--log-dir", c.log_dir, "--n", str(n), "--producers", "2",
                               "--rate", "8000"], c.tmp)
        kills = 0
        for k in range(5):
            target = n * (k + 1) // 7
            end = time.time() + 120
            while time.time() < end and b.proc.alive() and C.log_count(c.log_dir) < target:
                time.sleep(0.01)
            if not b.proc.alive():
                break
            rc = c.sink.stop(sig=signal.SIGKILL, grace=10.0)
            kills += rc == -signal.SIGKILL
            check_tree(t, "crash %d" % (k + 1), c.log_dir, pub, full=False)
            c.start_sink()
        t.check("crash: the sink was SIGKILLed five times mid-run", kills == 5, kills)
        fl.finish_bench(t, c, b, n, "crash")
        check_tree(t, "crash: end", c.log_dir, pub)
        c.finish(t, "crash")


def body(args, t):
    test_root(args, t)
    test_crash(args, t)


if __name__ == "__main__":
    sys.exit(C.main_wrapper("tree", body))
