"""test_malformed.py: every kind of malformed input is refused with the right
code, nothing malformed reaches the log, and the pipeline keeps working.

Cluster: broker, sink, one worker (2 threads). Inputs:
  frontend (producer DEALER): not msgpack, empty, truncated, trailing bytes,
    not an array, wrong protocol version, version of the wrong type, unknown
    type, wrong field count, SUBMIT/PING before HELLO, multi-frame, bad HELLO
    names, bad SUBMIT batches -> ERROR with the specific at_err code; a frame
    over 4 MiB (the connection is dropped by ZMQ_MAXMSGSIZE);
  attestations in a SUBMIT: bad msgpack, truncated, trailing bytes, wrong
    arity, not an array, wrong types, unknown version, oversize data,
    oversize encoding, bad lengths, bad UTF-8, expiry before issue -> REFUSE
    with the specific code, NOT in the log; bad signature / expired / issued
    in the future -> in the log as invalid with reason 8 / 10 / 9;
  backend (fake worker DEALER): garbage, multi-frame, DONE before READY,
    READY with bad fields, DONE for unknown seqs or for seqs held by another
    worker, bad DONE, a producer message, a forged COMMITTED; malformed GAPs
    (no range, a count of 0, overlapping ranges, a range not [uint, uint])
    -> ERROR with their code; a GAP from a worker's key -> ERROR denied; a
    well-formed GAP from the sink's key on a connection that is not the
    registered sink -> ignored (counted, BRK-GAP "... ignored"), no ERROR;
  sink verdict port (PUSH): garbage, multi-frame, wrong type, malformed
    VERDICTS (shape, item arity, types, verdict 2, short id, oversize), and a
    well-formed VERDICTS of a stale epoch;
  raw TCP garbage to each of the three ports.
Afterwards 1000 valid attestations are ACKed at the indices where the log
(read back) has them, the log is sound, and every process is still alive.

    /usr/bin/python3 test_malformed.py --bin BUILD/bin
"""
import os
import re
import socket
import sys
import time

import msgpack
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402

P = cl.pack
MB4 = 4 << 20


def dealer(ctx, ep):
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    cl.curve_socket(s, ep)     # the cluster's producer key on the frontend, worker key on the backend
    s.connect(ep)
    return s


def frontend_cases(t, c, ctx):
    t.say("frontend: malformed messages -> ERROR with a specific reason")
    good = P(cl.HELLO, "x")
    cases = [
        ("not msgpack (0xc1)", b"\xc1", 1),
        ("empty frame", b"", 1),
        ("truncated msgpack", good[:-1], 1),
        ("array header claiming 2^32-1 elements", b"\xdd\xff\xff\xff\xff\x01", 1),
        ("trailing bytes", good + b"\x00", 2),
        ("not an array", msgpack.packb(5), 3),
        ("array of one", msgpack.packb([1]), 3),
        ("version of the wrong type", msgpack.packb(["1", 1, "x"]), 4),
        ("wrong protocol version", msgpack.packb([2, 1, "x"]), 5),
        ("unknown type 99", msgpack.packb([1, 99]), 11),
        ("unknown type 0", msgpack.packb([1, 0]), 11),
        ("HELLO without its field", msgpack.packb([1, 1]), 3),
        ("HELLO with two fields past its name", msgpack.packb([1, 1, "x", b"0123456789abcdef", "y"]), 3),
        ("HELLO with a str for its instance", msgpack.packb([1, 1, "x", "y"]), 4),
        ("HELLO with a 15-byte instance", msgpack.packb([1, 1, "x", b"0123456789abcde"], use_bin_type=True), 4),
        ("SUBMIT before HELLO", P(cl.SUBMIT, [[1, b"x"]]), 14),
        ("PING before HELLO", P(cl.PING), 14),
        ("HELLO with an empty name", P(cl.HELLO, ""), 4),
        ("HELLO with a binary name", P(cl.HELLO, b"bin"), 4),
        ("HELLO with a control character in the name", P(cl.HELLO, "evil\nBRK-FAKE"), 4),
        ("HELLO with a name that is not UTF-8", msgpack.packb([1, 1, b"p\xff"], use_bin_type=False), 4),
    ]
    for what, frame, want in cases:
        s = dealer(ctx, c.frontend)
        s.send(frame)
        err = cl.expect_error(s)
        t.check("frontend %s -> ERROR %d" % (what, want), err is not None and err[0] == want, err)
        s.close(0)
    s = dealer(ctx, c.frontend)
    s.send(P(cl.HELLO, "n" * 65))
    err = cl.expect_error(s)
    t.check("frontend HELLO with a 65-byte name -> ERROR (type or oversize)", err is not None and err[0] in (4, 6),
            err)
    s.close(0)
    s = dealer(ctx, c.frontend)
    s.send_multipart([P(cl.PING), b"second frame"])
    err = cl.expect_error(s)
    t.check("frontend multi-frame message -> ERROR 12 (frames)", err is not None and err[0] == 12, err)
    s.close(0)

    p = cl.Producer(c.frontend, "mal-session")
    t.check("a producer says HELLO", p.hello())
    for what, frame, want in [
        ("SUBMIT batch not an array", P(cl.SUBMIT, 5), 4),
        ("SUBMIT empty batch", P(cl.SUBMIT, []), 3),
        ("SUBMIT batch over max_batch", P(cl.SUBMIT, [[i + 1, b"x"] for i in range(p.max_batch + 1)]), 6),
        ("WELCOME sent by a producer", P(cl.WELCOME, 1, 1), 11),
        ("READY sent to the frontend", P(cl.READY, "w", 1), 11),
        ("RELEASE with a string", P(cl.RELEASE, "all"), 4),
        ("RELEASE without its field", P(cl.RELEASE), 3),
        ("REVOKE sent by a producer", P(cl.REVOKE, 5), 11),
    ]:
        p.errors.clear()
        p.send_raw(frame)
        end = time.time() + 5
        while not p.errors and time.time() < end:
            p.recv(0.1)
        t.check("frontend %s -> ERROR %d" % (what, want), p.errors and p.errors[0][0] == want, p.errors)
    p.send_raw(P(cl.PING))
    end = time.time() + 5
    got = None
    while got is None and time.time() < end:
        m = p.recv(0.1)
        if m and m[1] == cl.PONG:
            got = m
    t.check("the session still answers PING with PONG", got is not None)
    p.close()


def oversize_frames(t, c, ctx):
    t.say("oversize frames (> 4 MiB) to all three ports")
    big = P(cl.SUBMIT, [[1, b"\0" * (MB4 + 1024)]])
    for ep in (c.frontend, c.backend):
        s = dealer(ctx, ep)
        s.send(big)
        t.check("no reply to an oversize frame on %s" % ep, cl.expect_error(s, 1.0) is None)
        s.close(0)
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 500)
    cl.curve_socket(s, c.sink_ep)
    s.connect(c.sink_ep)
    s.send(b"\x93\x01\x28" + b"\0" * (MB4 + 1024))
    s.close()
    p = cl.Producer(c.frontend, "after-oversize")
    t.check("the broker still welcomes producers after oversize frames", p.hello())
    p.close()


def raw_tcp(t, c):
    t.say("raw TCP garbage to every port")
    payloads = [b"GET / HTTP/1.0\r\n\r\n", os.urandom(70000),
                b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + b"NULL" + b"\0" * 16 + os.urandom(200),
                b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f" * 10]
    sent = 0
    for port in (c.fport, c.bport, c.sport):
        for data in payloads:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(data)
                    sent += 1
            except OSError:
                sent += 1      # the peer closing on garbage is fine
    t.check("garbage sent to 3 ports x %d payloads" % len(payloads), sent == 3 * len(payloads))


def att_cases(t, c, sk):
    """Malformed attestations inside a well-formed SUBMIT."""
    t.say("malformed attestations -> REFUSE with a specific reason, not logged")
    now = int(time.time())
    pk = sk[32:]
    good, _ = lf.make_attestation(sk, subject="good")
    f = msgpack.unpackb(good, raw=False)

    def enc(fields):
        return msgpack.packb(fields, use_bin_type=True)

    def with_(i, v):
        g = list(f)
        g[i] = v
        return enc(g)

    def signed(**kw):
        return lf.make_attestation(sk, **kw)[0]

    cases = [
        ("bad msgpack", b"\xc1\x00\x01", 1),
        ("truncated", good[:-5], 1),
        ("trailing bytes", good + b"\x00", 2),
        ("wrong arity (8 fields)", enc(f[:8]), 3),
        ("wrong arity (10 fields)", enc(f + [1]), 3),
        ("not an array", enc("attestation"), 3),
        ("empty array", enc([]), 3),
        ("schema of the wrong type", with_(1, 7), 4),
        ("attester as a string", with_(2, "k" * 32), 4),
        ("issued_at as a string", with_(5, "now"), 4),
        ("expires_at as a string", with_(6, "never"), 4),
        ("negative issued_at", with_(5, -1), 4),
        ("version as a string", with_(0, "1"), 4),
        ("unknown attestation version 2", with_(0, 2), 5),
        ("oversize data (1025 bytes)", with_(4, b"d" * 1025), 6),
        ("oversize schema (129 bytes)", with_(1, "s" * 129), 6),
        ("oversize subject (257 bytes)", with_(3, "s" * 257), 6),
        ("short nonce (15 bytes)", with_(7, b"n" * 15), 7),
        ("short signature (63 bytes)", with_(8, b"s" * 63), 7),
        ("short attester (31 bytes)", with_(2, pk[:31]), 7),
        ("empty schema", with_(1, ""), 7),
        # msgpack refuses to pack invalid UTF-8 as str: patch the fixstr body "good".
        ("subject not UTF-8", good.replace(b"\xa4good", b"\xa4go\xff\xfe"), 7),
        ("expires_at not after issued_at", signed(subject="e", issued_at=now - 10, expires_at=now - 10), 7),
    ]
    p = cl.Producer(c.frontend, "mal-atts")
    t.check("producer mal-atts welcomed", p.hello())
    end = time.time() + 20
    while p.credit < len(cases) + 10 and time.time() < end:
        p.recv(0.1)
    items = [(i + 1, att) for i, (_, att, _) in enumerate(cases)]
    p.submit(items)
    p.wait_outcomes([i for i, _ in items], 60)
    for i, (what, att, want) in enumerate(cases):
        got = p.refusals.get(i + 1)
        t.check("attestation %s -> REFUSE %d" % (what, want), got == want,
                "ack %r" % (p.acks.get(i + 1),) if got is None else got)

    # An attestation too large for the wire item itself (> AT_ENCODED_MAX bytes).
    huge = good + b"\0" * 1700
    p.submit([(100, huge)])
    end = time.time() + 10
    while 100 not in p.refusals and not p.refused0 and time.time() < end:
        p.recv(0.1)
    t.check("attestation of 1700+ bytes -> REFUSE [100, 6]", p.refusals.get(100) == 6, p.refusals.get(100))
    # A SUBMIT item that is not [cseq, bin]: no cseq to report, so cseq 0.
    before = p.refused0
    p.send_raw(P(cl.SUBMIT, [[101, "text, not bin"]]))
    p.sent += 1
    p.credit -= 1
    end = time.time() + 10
    while 101 not in p.refusals and p.refused0 == before and time.time() < end:
        p.recv(0.1)
    t.check("SUBMIT item [101, str] -> REFUSE [101, 4]", p.refusals.get(101) == 4, p.refusals.get(101))
    p.send_raw(P(cl.SUBMIT, [[102], ["x", b"y"]]))
    p.sent += 2
    p.credit -= 2
    end = time.time() + 10
    while p.refused0 < before + 3 and 102 not in p.refusals and time.time() < end:
        p.recv(0.1)
    t.check("SUBMIT items without a readable cseq -> REFUSE [0, 3] and [0, 4]", p.refused0 >= before + 2,
            p.refused0 - before)
    refused_atts = [att for _, att, _ in cases] + [huge]
    p.close()
    return refused_atts


def invalid_but_logged(t, c, sk):
    t.say("well-formed but invalid attestations -> in the log as invalid")
    now = int(time.time())
    cases = [
        ("bad signature", lf.make_attestation(sk, subject="badsig", bad_signature=True), 8),
        ("expired", lf.make_attestation(sk, subject="expired", issued_at=now - 100, expires_at=now - 50), 10),
        ("issued far in the future", lf.make_attestation(sk, subject="future", issued_at=now + 10000), 9),
        ("signed by another key", None, 8),
    ]
    _, other = lf.make_keypair()
    a, aid = lf.make_attestation(other, subject="otherkey")
    f = msgpack.unpackb(a, raw=False)
    f[2] = sk[32:]                                           # claim sk's attester, keep other's signature
    forged = msgpack.packb(f, use_bin_type=True)
    fid = lf.judge(forged, now)[1]
    cases[3] = ("signed by another key", (forged, fid), 8)
    p = cl.Producer(c.frontend, "invalids")
    t.check("producer invalids welcomed", p.hello())
    end = time.time() + 20
    while p.credit < len(cases) and time.time() < end:
        p.recv(0.1)
    p.submit([(i + 1, x[1][0]) for i, x in enumerate(cases)])
    ok = p.wait_outcomes(range(1, len(cases) + 1), 60)
    t.check("all invalid attestations get an outcome", ok)
    for i, (what, (att, aid), want) in enumerate(cases):
        a = p.acks.get(i + 1)
        t.check("%s -> ACK invalid reason %d" % (what, want), a is not None and a[2] == 1 and a[3] == want, a)
    p.close()
    return [(x[1][1], x[2], p.acks.get(i + 1)) for i, x in enumerate(cases)]


def backend_cases(t, c, ctx):
    t.say("backend: a fake worker")
    cases = [
        ("garbage", b"\xc1", 1),
        ("trailing bytes", P(cl.HEARTBEAT) + b"\x00", 2),
        ("wrong field count", msgpack.packb([1, cl.READY, "w"]), 3),
        ("DONE before READY", P(cl.DONE, [1, 2, 3], 0, 0), 14),
        ("READY with an int id", P(cl.READY, 5, 1), 4),
        ("READY with an empty id", P(cl.READY, "", 1), 4),
        ("READY with an id that is not UTF-8 (it would reach /metrics)",
         msgpack.packb([1, cl.READY, b"w\xff\xfe", 1], use_bin_type=False), 4),
        ("READY with a quote and a newline in the id", P(cl.READY, 'w"}\n#', 1), 4),
        ("READY with a string credit", P(cl.READY, "fake", "10"), 4),
        ("READY with a huge credit", P(cl.READY, "fake", 1 << 40), 4),
        ("READY with a negative credit", P(cl.READY, "fake", -1), 4),
        ("GAP with no range", P(cl.GAP, 1, []), 3),
        ("GAP with a count of 0", P(cl.GAP, 1, [[5, 0]]), 7),
        ("GAP with overlapping ranges", P(cl.GAP, 1, [[5, 3], [6, 1]]), 7),
        ("GAP with a range of one field", P(cl.GAP, 1, [[5]]), 4),
    ] + ([("GAP from a worker's key", P(cl.GAP, 1, [[0, 10]]), 26)] if c.secure else [])
    for what, frame, want in cases:
        s = dealer(ctx, c.backend)
        s.send(frame)
        err = cl.expect_error(s)
        t.check("backend %s -> ERROR %d" % (what, want), err is not None and err[0] == want, err)
        s.close(0)
    s = dealer(ctx, c.backend)
    s.send_multipart([P(cl.HEARTBEAT), b"x"])
    err = cl.expect_error(s)
    t.check("backend multi-frame -> ERROR 12", err is not None and err[0] == 12, err)
    s.close(0)
    # A GAP with the sink's key from a connection that is not the registered sink: ignored, no ERROR.
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    if c.secure:
        cl.curve_socket(s, keys=c.client_keys("sink"))
    s.connect(c.backend)
    s.send(P(cl.GAP, 1, [[0, 1 << 18]]))
    err = cl.expect_error(s, timeout=1.0)
    t.check("backend GAP from a peer that is not the registered sink -> no ERROR", err is None, err)
    end = time.time() + 5
    while "not the registered sink: ignored" not in c.broker.stderr_text() and time.time() < end:
        time.sleep(0.05)
    t.check("broker: BRK-GAP '... not the registered sink: ignored'",
            "not the registered sink: ignored" in c.broker.stderr_text())
    s.close(0)

    fake = dealer(ctx, c.backend)
    fake.send(P(cl.READY, "fake/0", 0))      # credit 0: the broker must send it no tasks
    time.sleep(0.2)
    for what, frame, want in [
        ("DONE with a huge credit", P(cl.DONE, [], 5000, 0), 4),
        ("DONE with a non-array", P(cl.DONE, 7, 0, 0), 4),
        ("SUBMIT sent to the backend", P(cl.SUBMIT, [[1, b"x"]]), 11),
    ]:
        fake.send(frame)
        err = cl.expect_error(fake)
        t.check("backend (registered) %s -> ERROR %d" % (what, want), err is not None and err[0] == want, err)
    # DONE for seqs the fake does not hold (unknown, or dispatched elsewhere): ignored.
    fake.send(P(cl.DONE, [10 ** 12, 2 ** 64 - 1, "x"] + list(range(0, 200)), 0, 0))
    fake.send(P(cl.HEARTBEAT))
    # A COMMITTED from a peer that is not the sink: ignored (no ACKs from it).
    fake.send(P(cl.COMMITTED, 1, 10 ** 6, [[s, s, 0, 0, False] for s in range(0, 100)]))
    tasks = []
    end = time.time() + 1.0
    while time.time() < end:
        if fake.poll(100):
            m = cl.unpack(fake.recv())
            if m[1] == cl.TASKS:
                tasks.append(m)
    t.check("a worker that granted no credit receives no TASKS", not tasks, len(tasks))
    return fake


def probe_epoch(t, c, ctx, sk):
    """A fake worker with credit 1 takes one task (learning the broker's epoch),
    then LEAVEs: the broker must requeue the task for the real worker."""
    t.say("fake worker takes one task, then LEAVEs")
    fake = dealer(ctx, c.backend)
    fake.send(P(cl.READY, "probe/0", 1))
    time.sleep(0.3)
    att, aid = lf.make_attestation(sk, subject="probe")
    p = cl.Producer(c.frontend, "probe")
    t.check("producer probe welcomed", p.hello())
    end = time.time() + 20
    while p.credit < 1 and time.time() < end:
        p.recv(0.1)
    p.submit([(1, att)])
    task = None
    end = time.time() + 20
    while task is None and time.time() < end:
        if fake.poll(100):
            m = cl.unpack(fake.recv())
            if m[1] == cl.TASKS:
                task = m
    t.check("the fake worker receives TASKS with the one task", task is not None and len(task[3]) == 1
            and task[3][0][1] == "probe" and task[3][0][2] == 1 and task[3][0][5] == att, task)
    fake.send(P(cl.LEAVE))
    fake.close(0)
    return (task[2] if task else None), p, aid


def sink_cases(t, c, ctx, epoch):
    t.say("sink verdict port: garbage and malformed VERDICTS (epoch %s)" % epoch)
    fake_ids = [os.urandom(32) for _ in range(12)]
    E = epoch

    def item(seq, aid, verdict=0, reason=0, att=b"att", producer="p", n=None):
        it = [seq, producer, 1, 1, 2, 3, verdict, reason, aid, att, b""]
        return it[:n] if n else it

    far = 10 ** 9
    malformed = [
        b"\xc1", b"", P(cl.VERDICTS, E, "w", [item(far, fake_ids[0])]) + b"\x00",
        P(cl.HELLO, "x"),                                               # not a worker message
        msgpack.packb([1, cl.VERDICTS, E, "w"]),                        # wrong field count
        P(cl.VERDICTS, E, "w", []),                                     # empty batch
        P(cl.VERDICTS, str(E), "w", [item(far, fake_ids[1])]),          # epoch of the wrong type
        P(cl.VERDICTS, E, "w" * 65, [item(far, fake_ids[2])]),          # worker id too long
        P(cl.VERDICTS, E, "w", [item(far, fake_ids[3]), item(far + 1, fake_ids[4], n=9)]),  # all or nothing
        P(cl.VERDICTS, E, "w", [item(far, fake_ids[5], verdict=2)]),
        P(cl.VERDICTS, E, "w", [item(far, fake_ids[6][:31])]),
        P(cl.VERDICTS, E, "w", [item(far, fake_ids[7], att=b"a" * 1601)]),
        P(cl.VERDICTS, E, "w", [item(far, fake_ids[8], producer="p" * 65)]),
    ]
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 2000)
    cl.curve_socket(push, c.sink_ep)
    push.connect(c.sink_ep)
    for fr in malformed:
        push.send(fr)
    push.send_multipart([b"a", b"b"])                                   # multipart: malformed too
    push.send(P(cl.VERDICTS, E + 1, "w", [item(s, fake_ids[9]) for s in range(4)]))   # stale epoch: 4 items
    push.send(P(cl.VERDICTS, E, "w", [item(far, fake_ids[10])]))                     # beyond the window
    push.close()
    return fake_ids, {"malformed": len(malformed) + 1, "stale": 4, "out_of_window": 1}


def final_batch(t, c, sk, n=1000):
    t.say("a normal batch of %d valid attestations" % n)
    atts = [lf.make_attestation(sk, subject="final-%d" % i) for i in range(n)]
    p = cl.Producer(c.frontend, "final")
    t.check("producer final welcomed", p.hello())
    cseqs = p.submit_all([a for a, _ in atts], timeout=300)
    t.check("all %d ACKed" % n, all(x in p.acks for x in cseqs), n - len(p.acks))
    t.check("all %d valid, none duplicate" % n, all(p.acks[x][2] == 0 and not p.acks[x][4] for x in p.acks))
    p.close()
    return atts, p


def body(args, t):
    _, sk = lf.make_keypair()
    ctx = zmq.Context.instance()
    with cl.Cluster(args.bin) as c:
        c.start_broker()
        c.start_sink()
        epoch, probe, probe_id = probe_epoch(t, c, ctx, sk)
        c.start_worker("w0", threads=2)
        t.check("the task the fake worker left is ACKed", probe.wait_outcomes([1], 60) and 1 in probe.acks,
                probe.refusals)
        probe.close()
        frontend_cases(t, c, ctx)
        raw_tcp(t, c)
        oversize_frames(t, c, ctx)
        refused = att_cases(t, c, sk)
        fake = backend_cases(t, c, ctx)
        fake_ids, sink_want = sink_cases(t, c, ctx, epoch if epoch is not None else 1)
        invalids = invalid_but_logged(t, c, sk)
        atts, p = final_batch(t, c, sk)
        fake.send(cl.pack(cl.LEAVE))
        fake.close(0)
        alive = {x.name: x.alive() for x in c.procs()}
        t.check("broker, sink and worker still alive (same pids)", all(alive.values()), alive)
        log = cl.read_log(c.log_dir)
        t.check_log(log)
        by_id = log.by_id()
        t.check("log holds exactly the probe, 4 invalid and 1000 valid entries", len(log.entries) == 5 + len(atts),
                len(log.entries))
        e = by_id.get(probe_id)
        t.check("the probe task was verified by the real worker after the fake one left",
                e is not None and e["worker"] in ("w0/0", "w0/1") and e["index"] == probe.acks.get(1, [0, -1])[1],
                e and (e["worker"], e["index"]))
        for aid, want, ack in invalids:
            e = by_id.get(aid)
            t.check("invalid reason %d is logged as invalid at its ACK's index" % want,
                    e is not None and e["verdict"] == 1 and e["reason"] == want and ack and e["index"] == ack[1],
                    e and (e["verdict"], e["reason"], e["index"], ack))
        t.check("every final attestation is in the log at its ACK's index",
                all(by_id.get(aid, {}).get("index") == p.acks[i + 1][1] for i, (_, aid) in enumerate(atts)))
        stored = {e["att"] for e in log.entries}
        t.check("no refused attestation bytes are in the log", not any(a in stored for a in refused))
        t.check("no injected verdict id is in the log", not any(x in by_id for x in fake_ids))
        t.check("no entry from a fake worker or forged producer",
                {e["worker"] for e in log.entries} <= {"w0/0", "w0/1"}
                and {e["producer"] for e in log.entries} == {"probe", "invalids", "final"},
                ({e["worker"] for e in log.entries}, {e["producer"] for e in log.entries}))
        rc = c.sink.stop()
        t.check("the sink stops cleanly on SIGTERM (exit 0)", rc == 0, rc)
        stop = [l for l in c.sink.stderr_text().splitlines() if "SNK-STOP" in l and "malformed=" in l]
        print(stop[-1] if stop else "no SNK-STOP line")
        counts = {}
        for k in sink_want:
            m = re.search(r"\b%s=(\d+)" % k, stop[-1] if stop else "")
            counts[k] = int(m.group(1)) if m else None
        # Raw TCP garbage can reach the sink as ZMTP/1.0 frames (libzmq accepts
        # unversioned peers), so it may add to "malformed": at least, not exactly.
        t.check("the sink counted every bad VERDICTS message: %s" % sink_want,
                None not in counts.values() and counts["malformed"] >= sink_want["malformed"]
                and counts["stale"] == sink_want["stale"] and counts["out_of_window"] == sink_want["out_of_window"],
                counts)
        # Every counted malformed message says what it was and from whom
        # (issue: the counter rose with no line naming the sender).
        bl = [l for l in c.broker.stderr_text().splitlines() if "BRK-MALFORMED" in l and "suppressed" not in l]
        t.check("BRK-MALFORMED lines name the side, the peer's routing id and its CURVE key, the type and size",
                bl and all(re.search(r"(frontend|backend) peer [0-9a-f]+( key \w+:\S+)?: \S+ \(\d+ bytes\) refused", l)
                           for l in bl) and any(" key producer:" in l for l in bl) and any(" key worker:" in l for l in bl),
                bl[:3])
        sl = [l for l in c.sink.stderr_text().splitlines() if "SNK-MALFORMED" in l]
        t.check("SNK-MALFORMED lines name the peer, its CURVE key and the size",
                sl and any(re.search(r"worker( \S+)? key worker:\S+: .* \(\d+ bytes\) dropped", l) for l in sl), sl[:3])
        if t.failed:
            c.dump_stderr()
        c.stop_and_check(t)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("malformed", body))
