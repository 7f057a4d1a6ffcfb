#!/usr/bin/python3
"""smoke_sink.py: a manual smoke test of attest-sink against a fake broker.

Not picked up by ctest (the name does not start with test_). Run:
    /usr/bin/python3 tests/integration/smoke_sink.py --bin build/bin

It fakes the broker's ROUTER (answers SINK_HELLO with SINK_WELCOME), pushes
hand-made VERDICTS (out of order, a duplicate id, stale, malformed,
multipart, out of window, a late redelivery), checks the COMMITTED messages,
stops the sink with SIGINT, checks the LMDB log (order, hash chain, meta)
and restarts the sink to check the watermark in SINK_HELLO.
"""
import argparse
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import lmdb
import msgpack
import zmq

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def recv(sock, timeout_ms=3000):
    if not sock.poll(timeout_ms):
        return None
    return sock.recv_multipart()


def verdict(seq, ident, att, verdict=0, reason=0, producer="p1", cseq=None):
    cseq = seq + 100 if cseq is None else cseq
    return [seq, producer, cseq, 1000 + seq, 2000 + seq, 3000 + seq, verdict, reason, ident, att]


def ident(n):
    return hashlib.blake2b(b"id%d" % n, digest_size=32).digest()


def expect_hello(router):
    while True:
        parts = recv(router)
        if parts is None:
            return None, None
        rid, body = parts[0], msgpack.unpackb(parts[1], raw=False)
        if body[1] == 30:
            return rid, body


def collect_committed(router, seqs, timeout=3.0):
    """{seq: result} (and "_next_seq") from COMMITTED messages until every
    seq in `seqs` has been seen or the timeout passes."""
    got, deadline = {}, time.time() + timeout
    while not all(s in got for s in seqs) and time.time() < deadline:
        parts = recv(router, 200)
        if parts is None:
            continue
        body = msgpack.unpackb(parts[1], raw=False)
        if body[1] == 32:
            check(body[2] == 7, "COMMITTED carries epoch 7")
            for r in body[4]:
                got[r[0]] = r
            got["_next_seq"] = body[3]
    return got


def start_sink(args, logdir, bport, vport):
    cmd = [os.path.join(args.bin, "attest-sink"), "--log-dir", logdir, "--broker", "tcp://127.0.0.1:%d" % bport,
           "--verdicts", "tcp://127.0.0.1:%d" % vport, "--heartbeat-ms", "200", "--window", "64",
           "--map-size-mb", "16", "--log-level", "debug"]
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)


def check_log(logdir):
    env = lmdb.open(logdir, readonly=True, max_dbs=4, lock=False)
    entries, ids, meta = (env.open_db(n) for n in (b"entries", b"ids", b"meta"))
    with env.begin() as txn:
        rows = [(struct.unpack(">Q", k)[0], v) for k, v in txn.cursor(db=entries)]
        check([i for i, _ in rows] == [0, 1, 2], "log holds entries 0,1,2")
        prev = b"\0" * 32
        for i, raw in rows:
            e = msgpack.unpackb(raw, raw=False)
            check(e[1] == i and e[2] == i and e[3] == prev, "entry %d: index, seq %d, prev_hash" % (i, e[2]))
            check(e[4] == ident(i) and e[7] == "p1" and e[9] == "w1" and e[14] == b"att%d" % i,
                  "entry %d: id, producer, worker, attestation" % i)
            check(txn.get(ident(i), db=ids) == struct.pack(">Q", i), "ids maps id %d" % i)
            prev = hashlib.blake2b(raw, digest_size=32).digest()
        check(txn.get(b"head", db=meta) == prev, "meta head = hash of the last entry")
        check(txn.get(b"next_seq", db=meta) == struct.pack(">Q", 4), "meta next_seq = 4")
        check(txn.get(b"next_index", db=meta) == struct.pack(">Q", 3), "meta next_index = 3")
    env.close()


def run(args):
    tmp = tempfile.mkdtemp(prefix="smoke-sink-")
    logdir = os.path.join(tmp, "data", "log")   # two levels: the sink creates both
    bport, vport = free_port(), free_port()
    exe = os.path.join(args.bin, "attest-sink")
    check(subprocess.run([exe, "--help"], capture_output=True).returncode == 0, "--help exits 0")
    check(subprocess.run([exe, "--window", "0"], capture_output=True).returncode == 2, "bad config exits 2")
    check(subprocess.run([exe, "--log-level", "loud"], capture_output=True).returncode == 2, "bad log-level exits 2")

    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.bind("tcp://127.0.0.1:%d" % bport)
    sink = start_sink(args, logdir, bport, vport)
    try:
        rid, hello = expect_hello(router)
        check(hello is not None and hello[3:5] == [0, 0], "SINK_HELLO with next_seq 0, next_index 0")
        push = ctx.socket(zmq.PUSH)
        push.connect("tcp://127.0.0.1:%d" % vport)
        push.send(msgpack.packb([1, 40, 7, "w1", [verdict(2, ident(2), b"att2")]]))   # before any epoch: stale
        time.sleep(0.2)
        router.send_multipart([rid, msgpack.packb([1, 31, 7, 0])])
        time.sleep(0.2)
        push.send(msgpack.packb([1, 40, 6, "w1", [verdict(0, ident(0), b"att0")]]))   # stale epoch
        push.send(b"\x93\x01\x28")                                                      # malformed
        push.send(msgpack.packb([1, 40, 7, "w1", [verdict(0, ident(0), b"x"), [1, 2]]]))  # bad item: no partial effect
        push.send_multipart([b"a", b"b"])                                               # multipart
        push.send(msgpack.packb([1, 40, 7, "w1", [verdict(64, ident(64), b"far")]]))   # out of window
        push.send(msgpack.packb([1, 40, 7, "w1", [verdict(2, ident(2), b"att2"), verdict(1, ident(1), b"att1")]]))
        time.sleep(0.3)
        push.send(msgpack.packb([1, 40, 7, "w1", [verdict(3, ident(0), b"att0", cseq=7),
                                                  verdict(0, ident(0), b"att0")]]))
        got = collect_committed(router, [0, 1, 2, 3])
        check(got.get(0) == [0, 0, 0, 0, False], "COMMITTED seq 0 -> index 0")
        check(got.get(1) == [1, 1, 0, 0, False], "COMMITTED seq 1 -> index 1")
        check(got.get(2) == [2, 2, 0, 0, False], "COMMITTED seq 2 -> index 2")
        check(got.get(3) == [3, 0, 0, 0, True], "COMMITTED seq 3 -> duplicate of index 0")
        check(got.get("_next_seq") == 4, "COMMITTED carries next_seq 4")
        push.send(msgpack.packb([1, 40, 7, "w2", [verdict(1, ident(1), b"att1"), verdict(2, ident(99), b"?")]]))
        got = collect_committed(router, [1], timeout=1.0)
        check(got.get(1) == [1, 1, 0, 0, False], "late redelivery of seq 1 answered from the log")
        check(2 not in got, "late seq unknown to the log is dropped")
    finally:
        time.sleep(0.2)
        sink.send_signal(signal.SIGINT)
        _, err = sink.communicate(timeout=10)
    check(sink.returncode == 0, "SIGINT -> exit 0")
    stop = [l for l in err.splitlines() if "SNK-STOP" in l]
    print("\n".join(stop))
    check(any("committed=3 duplicates=1 stale=2 out_of_window=1 malformed=3 late_answered=1 late_unknown=1" in l
              for l in stop), "summary counters")
    check_log(logdir)

    sink = start_sink(args, logdir, bport, vport)
    try:
        _, hello = expect_hello(router)
        check(hello is not None and hello[3:5] == [4, 3], "restart: SINK_HELLO next_seq 4, next_index 3")
    finally:
        sink.send_signal(signal.SIGINT)
        sink.communicate(timeout=10)
    router.close()
    push.close()
    ctx.term()
    if args.verbose:
        print(err)
    shutil.rmtree(tmp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    run(args)
    print("smoke_sink: %s" % ("FAILED: %d" % len(FAILS) if FAILS else "all checks passed"))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
