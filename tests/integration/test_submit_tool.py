"""test_submit_tool.py: `attest submit` and the client library (cli/client.c)
against a fake broker written here (a ZeroMQ ROUTER speaking the frontend of
proto/wire.h), so it runs without the real broker, workers and sink.
Usage: /usr/bin/python3 test_submit_tool.py --bin BUILD/bin
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import msgpack
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402

T = cl.Checks("submit_tool")   # the helpers below check through it

HELLO, WELCOME, SUBMIT, CREDIT, ACK, REFUSE, PING, PONG, ERROR, BYE, REVOKE, RELEASE = range(1, 13)


class FakeBroker(threading.Thread):
    """Welcomes with `credit`/`max_batch`, judges each attestation like a
    worker, refuses subjects starting with "refuse-me" (reason busy), marks
    repeated ids as duplicates, and returns one credit per ACK. With
    hold=N it keeps outcomes until N items arrived, then acks them in reverse
    order. It also sends some garbage first, which the client must survive."""

    def __init__(self, port=None, credit=3, max_batch=2, hold=0, delay=0.0):
        """port None: bind now to a random free port (no race with other
        tests); a given port is bound after `delay` seconds, in the thread."""
        super().__init__(daemon=True)
        self.port, self.credit, self.max_batch, self.hold, self.delay = port, credit, max_batch, hold, delay
        self.batches, self.atts, self.hellos, self.byes, self.pings = [], {}, 0, 0, 0
        self.ids, self.held = {}, []
        self.rid, self.releases, self.to_send = None, [], []   # to_send: messages the test queues for the client
        self.stop = threading.Event()
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.linger = 0
        if port is None:
            self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")

    def run(self):
        time.sleep(self.delay)
        sock = self.sock
        if self.delay:
            sock.bind("tcp://127.0.0.1:%d" % self.port)
        while not self.stop.is_set():
            while self.to_send and self.rid:
                self.send(sock, self.rid, *self.to_send.pop(0))
            if sock.poll(50):
                rid, frame = sock.recv_multipart()
                self.handle(sock, rid, msgpack.unpackb(frame, raw=False))
        sock.close()
        self.ctx.term()

    def send(self, sock, rid, *msg):
        sock.send_multipart([rid, msgpack.packb([1] + list(msg), use_bin_type=True)])

    def handle(self, sock, rid, msg):
        kind = msg[1]
        if kind == HELLO:
            self.hellos += 1
            self.rid = rid
            sock.send_multipart([rid, b"\xc1"])                              # not msgpack
            self.send(sock, rid, 99)                                         # unknown type
            self.send(sock, rid, ACK, [[99999, 1, 0, 0, False]])             # unknown cseq
            self.send(sock, rid, ACK, "not an array")                        # wrong field type
            self.send(sock, rid, WELCOME, self.credit, self.max_batch)
        elif kind == SUBMIT:
            self.batches.append(len(msg[2]))
            for cseq, att in msg[2]:
                self.atts[cseq] = att
                self.held.append(self.outcome(cseq, att))
            if len(self.held) >= self.hold:
                self.flush(sock, rid)
        elif kind == PING:
            self.pings += 1
            self.send(sock, rid, PONG)
        elif kind == BYE:
            self.byes += 1
        elif kind == RELEASE:
            self.releases.append(msg[2])

    def outcome(self, cseq, att):
        a = lf.decode_attestation(att)
        if a["subject"].startswith("refuse-me"):
            return (REFUSE, [cseq, 15])   # busy
        reason, aid = lf.judge(att, int(time.time()))
        dup = aid in self.ids
        index = self.ids.setdefault(aid, len(self.ids))
        return (ACK, [cseq, index, 0 if reason == 0 else 1, reason, dup])

    def flush(self, sock, rid):
        held, self.held = self.held, []
        if self.hold:
            held.reverse()
        acks = [x for k, x in held if k == ACK]
        refusals = [x for k, x in held if k == REFUSE]
        if refusals:
            self.send(sock, rid, REFUSE, refusals)
        if acks:
            self.send(sock, rid, ACK, acks)
            self.send(sock, rid, CREDIT, len(acks))


def submit(attest, port, lines, *extra, timeout=60):
    args = [attest, "submit", "--insecure", "--broker", "tcp://127.0.0.1:%d" % port] + list(extra)
    p = subprocess.run(args, input="".join(x + "\n" for x in lines), capture_output=True, text=True,
                       timeout=timeout)
    outs = {}
    for x in p.stdout.splitlines():
        o = json.loads(x)
        outs.setdefault(o["line"], []).append(o)
    return p.returncode, outs, p.stdout, p.stderr


def fields(enc):
    """An encoded attestation as a pre-signed JSON line."""
    a = lf.decode_attestation(enc)
    return json.dumps({"schema": a["schema"], "subject": a["subject"], "data_b64": __import__("base64").b64encode(
        a["data"]).decode(), "issued_at": a["issued_at"], "expires_at": a["expires_at"], "nonce": a["nonce"].hex(),
        "attester": a["attester"].hex(), "signature": a["signature"].hex()})


def test_mixed(attest, tmp, sk):
    keyfile = os.path.join(tmp, "k.json")
    lf.write_keyfile(keyfile, sk[32:], sk)
    now = int(time.time())
    presigned, presigned_id = lf.make_attestation(sk, subject="pre", data=b"\x00\xffbin")
    badsig, _ = lf.make_attestation(sk, subject="bad", bad_signature=True)
    lines = [
        json.dumps({"schema": "s/v1", "subject": "signed-here", "data": "hello \u00e9"}),        # 1 valid
        fields(presigned),                                                                      # 2 valid, exact bytes
        fields(badsig),                                                                         # 3 invalid signature
        json.dumps({"schema": "s/v1", "subject": "x", "colour": "red"}),                        # 4 unknown field
        json.dumps({"schema": "s/v1", "subject": "x", "attester": "00" * 32}),                  # 5 half pre-signed
        "{not json",                                                                            # 6
        "",                                                                                     # 7 blank: skipped
        json.dumps({"schema": "s/v1", "subject": "old", "issued_at": now - 100, "expires_at": now - 10}),  # 8 expired
        fields(presigned),                                                                      # 9 duplicate
        json.dumps({"schema": "s/v1", "subject": "refuse-me"}),                                 # 10 refused
        json.dumps({"schema": "s/v1", "subject": "b64", "data_b64": "AAEC", "nonce": "11" * 16}),  # 11 valid
        json.dumps({"schema": "s/v1", "subject": "x", "data": "a", "data_b64": "AA=="}),        # 12 both data
        json.dumps({"schema": "", "subject": "x"}),                                             # 13 empty schema
        json.dumps({"schema": "s/v1", "subject": "x", "issued_at": 100, "expires_at": 50}),     # 14 bad times
    ]
    fb = FakeBroker(credit=3, max_batch=2)
    port = fb.port
    fb.start()
    rc, outs, out, err = submit(attest, port, lines, "--key", keyfile, "--producer", "tester")
    fb.stop.set()
    fb.join()
    T.check("mixed.exit1", rc == 1, err)
    one = {n: v[0] for n, v in outs.items() if len(v) == 1}
    T.check("mixed.one_outcome_per_line", all(len(v) == 1 for v in outs.values()) and 7 not in outs, out)
    T.check("mixed.l1_valid", one.get(1, {}).get("verdict") == "valid", out)
    T.check("mixed.l2_valid_id", one.get(2, {}).get("id") == presigned_id.hex(), out)
    cseq2 = one.get(2, {}).get("cseq")
    T.check("mixed.l2_exact_bytes", fb.atts.get(cseq2) == presigned, "presigned bytes changed")
    T.check("mixed.l3_signature", one.get(3, {}).get("reason") == "signature"
            and one.get(3, {}).get("verdict") == "invalid", out)
    T.check("mixed.l4_unknown_field", "colour" in one.get(4, {}).get("error", ""), out)
    T.check("mixed.l5_half", "signature" in one.get(5, {}).get("error", ""), out)
    T.check("mixed.l6_not_json", "not JSON" in one.get(6, {}).get("error", ""), out)
    T.check("mixed.l8_expired", one.get(8, {}).get("reason") == "expired", out)
    T.check("mixed.l9_duplicate", one.get(9, {}).get("duplicate") is True
            and one.get(9, {}).get("index") == one.get(2, {}).get("index"), out)
    T.check("mixed.l10_refused", one.get(10, {}).get("refused") is True and one.get(10, {}).get("reason") == "busy",
            out)
    T.check("mixed.l11_b64", one.get(11, {}).get("verdict") == "valid"
            and lf.decode_attestation(fb.atts[one[11]["cseq"]])["data"] == b"\x00\x01\x02"
            and lf.decode_attestation(fb.atts[one[11]["cseq"]])["nonce"] == b"\x11" * 16, out)
    T.check("mixed.l12_13_14_errors", all("error" in one.get(n, {}) for n in (12, 13, 14)), out)
    T.check("mixed.batches", fb.batches and max(fb.batches) <= 2, fb.batches)
    T.check("mixed.producer_bye", fb.byes == 1, fb.byes)
    T.check("mixed.summary", "valid=4 invalid=2 refused=1 errors=6 unacknowledged=0" in err, err)
    signed = lf.decode_attestation(fb.atts[one[1]["cseq"]])
    T.check("mixed.signed_with_key", signed["attester"] == sk[32:] and signed["data"] == "hello \u00e9".encode())


def test_many_out_of_order(attest, sk):
    """150 lines, large credit, acks held then delivered in reverse: the pending
    ring grows past its first size and outcomes arrive out of order."""
    lines = [fields(lf.make_attestation(sk, subject="m%d" % i)[0]) for i in range(150)]
    fb = FakeBroker(credit=1000, max_batch=16, hold=150)
    port = fb.port
    fb.start()
    rc, outs, out, err = submit(attest, port, lines)
    fb.stop.set()
    fb.join()
    T.check("many.exit0", rc == 0, err[-500:])
    ok = len(outs) == 150 and all(outs[n][0]["verdict"] == "valid" for n in outs)
    T.check("many.all_acked", ok, err[-500:])
    T.check("many.cseq_to_line", ok and all(lf.decode_attestation(fb.atts[outs[n][0]["cseq"]])["subject"]
                                            == "m%d" % (n - 1) for n in outs))
    T.check("many.batches", max(fb.batches) <= 16 and sum(fb.batches) == 150, fb.batches)


def test_no_broker(attest, sk):
    port = cl.free_port()
    t0 = time.time()
    rc, outs, out, err = submit(attest, port, [fields(lf.make_attestation(sk)[0])], "--timeout-ms", "1500",
                                "--connect-timeout-ms", "1500")
    T.check("nobroker.exit1", rc == 1 and "did not answer HELLO within 1500 ms" in err, err)
    T.check("nobroker.quick", time.time() - t0 < 10)


def test_late_broker(attest, sk):
    """The broker comes up 2.5 s after the client: HELLO is repeated."""
    port = cl.free_port()
    fb = FakeBroker(port, credit=5, max_batch=4, delay=2.5)
    fb.start()
    rc, outs, out, err = submit(attest, port, [fields(lf.make_attestation(sk, subject="late%d" % i)[0])
                                               for i in range(3)])
    fb.stop.set()
    fb.join()
    T.check("late.exit0", rc == 0 and len(outs) == 3, err)
    T.check("late.hellos", 1 <= fb.hellos <= 2, fb.hellos)


def test_unacknowledged(attest, sk):
    """The broker never answers: flush times out, the client PINGs meanwhile."""
    fb = FakeBroker(credit=5, max_batch=4, hold=999)
    port = fb.port
    fb.start()
    rc, outs, out, err = submit(attest, port, [fields(lf.make_attestation(sk)[0])], "--timeout-ms", "2500")
    fb.stop.set()
    fb.join()
    T.check("unacked.exit1", rc == 1 and "unacknowledged=1" in err, err)
    T.check("unacked.listed", list(outs) == [1] and len(outs[1]) == 1 and outs[1][0].get("unacknowledged") is True
            and len(outs[1][0].get("id", "")) == 64, outs)
    T.check("unacked.pings", fb.pings >= 1, fb.pings)


def test_streaming(attest, sk):
    """Input that comes slowly (a pipe kept open): each outcome is printed
    while the next line is still awaited, a REVOKE is answered with RELEASE
    of the unspent credit, and the client PINGs while its input is quiet."""
    fb = FakeBroker(credit=10, max_batch=4)
    fb.start()
    p = subprocess.Popen([attest, "submit", "--insecure", "--broker", "tcp://127.0.0.1:%d" % fb.port], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True)
    reader.start()

    def wait(cond, secs):
        end = time.time() + secs
        while time.time() < end and not cond():
            time.sleep(0.02)
        return cond()
    try:
        p.stdin.write(fields(lf.make_attestation(sk, subject="stream-1")[0]) + "\n")
        p.stdin.flush()
        T.check("stream.first_outcome_before_eof", wait(lambda: len(lines) == 1, 10.0), lines)
        fb.to_send.append((REVOKE, 100))
        T.check("stream.revoke_answered", wait(lambda: fb.releases, 5.0), fb.releases)
        T.check("stream.released_its_credit", fb.releases in ([9], [10]), fb.releases)   # 10 granted, 1 spent (1 back)
        pings = fb.pings
        T.check("stream.pings_while_input_quiet", wait(lambda: fb.pings > pings, 5.0), fb.pings)
        fb.to_send.append((CREDIT, 5))
        time.sleep(0.2)
        p.stdin.write(fields(lf.make_attestation(sk, subject="stream-2")[0]) + "\n")
        p.stdin.close()
        rc = p.wait(timeout=30)
        reader.join(5)
        T.check("stream.exit0", rc == 0 and len(lines) == 2, (rc, lines, p.stderr.read()))
        T.check("stream.outcomes", all(json.loads(x).get("index") is not None for x in lines), lines)
    finally:
        if p.poll() is None:
            p.kill()
        fb.stop.set()
        fb.join()


def submit_bytes(attest, port, data, *extra, timeout=60):
    """submit with raw bytes on stdin (NUL bytes included)."""
    args = [attest, "submit", "--insecure", "--broker", "tcp://127.0.0.1:%d" % port] + list(extra)
    p = subprocess.run(args, input=data, capture_output=True, timeout=timeout)
    outs = {}
    for x in p.stdout.decode().splitlines():
        o = json.loads(x)
        outs.setdefault(o["line"], []).append(o)
    return p.returncode, outs, p.stdout.decode(), p.stderr.decode()


U64_ISSUED, U64_EXPIRES = 2**63 + 5, 2**64 - 1


def test_bad_bytes(attest, sk):
    """Input a new user could feed by mistake: a line starting with a NUL byte
    (was skipped as blank, exit 0), hex fields with "\u0000junk" after the
    digits (were accepted: the hex was measured with strlen), and times above
    INT64_MAX (were refused by the JSON parser)."""
    pre = json.loads(fields(lf.make_attestation(sk, subject="hexnul")[0]))
    lines = [
        b'\0{"schema":"x"}',                                                       # 1 NUL first: a line error
        json.dumps(dict(pre, nonce=pre["nonce"] + "\u0000zz")).encode(),          # 2 hex + NUL junk
        json.dumps(dict(pre, attester=pre["attester"] + "\u0000")).encode(),      # 3
        json.dumps(dict(pre, signature=pre["signature"] + "\u0000ab")).encode(),  # 4
        b'  \t\r',                                                                # 5 blank: skipped
        b'{"schema":"s","subject":"big","issued_at":%d,"expires_at":%d}' % (U64_ISSUED, U64_EXPIRES),  # 6 u64
    ]
    fb = FakeBroker(credit=8, max_batch=4)
    fb.start()
    rc, outs, out, err = submit_bytes(attest, fb.port, b"\n".join(lines) + b"\n", "--key", KEYFILE[0])
    fb.stop.set()
    fb.join()
    one = {n: v[0] for n, v in outs.items() if len(v) == 1}
    T.check("bad_bytes.nul_first_is_error", "error" in one.get(1, {}) and rc == 1, out + err)
    for n, f in ((2, "nonce"), (3, "attester"), (4, "signature")):
        T.check("bad_bytes.hex_nul_%s" % f, f in one.get(n, {}).get("error", ""), out)
    T.check("bad_bytes.blank_skipped", 5 not in outs, out)
    sent = [lf.decode_attestation(a) for a in fb.atts.values()]
    big = [a for a in sent if a["subject"] == "big"]
    T.check("bad_bytes.u64_times_accepted", len(big) == 1 and big[0]["issued_at"] == U64_ISSUED
            and big[0]["expires_at"] == U64_EXPIRES and "error" not in one.get(6, {"error": 1}), out + err)
    T.check("bad_bytes.only_the_good_line_sent", len(sent) == 1, sent)


def test_u64_export_reimport(attest, tmp, sk):
    """`attest log` prints u64 values above INT64_MAX unsigned, and the
    attestation fields of an exported line submit back to the same bytes."""
    att, _ = lf.make_attestation(sk, subject="u64", issued_at=U64_ISSUED, expires_at=U64_EXPIRES)
    logdir = os.path.join(tmp, "u64log")
    lf.write_log(logdir, [{"att": att, "cseq": 2**63, "t_committed": 2**64 - 1}])
    p = subprocess.run([attest, "log", "--dir", logdir, "export"], capture_output=True, text=True)
    e = json.loads(p.stdout) if p.returncode == 0 else {}
    T.check("u64.export_unsigned", e.get("cseq") == 2**63 and e.get("t_committed") == 2**64 - 1
            and e.get("issued_at") == U64_ISSUED and e.get("expires_at") == U64_EXPIRES, p.stdout + p.stderr)
    p = subprocess.run([attest, "log", "--dir", logdir, "get", "0"], capture_output=True, text=True)
    g = json.loads(p.stdout) if p.returncode == 0 else {}
    T.check("u64.get_unsigned", g.get("t_committed") == 2**64 - 1 and g.get("cseq") == 2**63, p.stdout + p.stderr)
    keys = ("schema", "subject", "data", "data_b64", "issued_at", "expires_at", "nonce", "attester", "signature")
    line = json.dumps({k: e[k] for k in keys if k in e})
    fb = FakeBroker(credit=4, max_batch=4)
    fb.start()
    rc, outs, out, err = submit(attest, fb.port, [line])
    fb.stop.set()
    fb.join()
    T.check("u64.reimport_same_bytes", list(fb.atts.values()) == [att], out + err)


KEYFILE = [None]


def test_help(attest):
    p = subprocess.run([attest, "submit", "--help"], capture_output=True, text=True)
    T.check("help", p.returncode == 0 and "--broker" in p.stdout and "--timeout-ms" in p.stdout)


def body(args, t):
    attest = os.path.join(args.bin, "attest")
    tmp = tempfile.mkdtemp(prefix="attest-submit-")
    try:
        _, sk = lf.make_keypair()
        test_help(attest)
        KEYFILE[0] = os.path.join(tmp, "bad-bytes-key.json")
        lf.write_keyfile(KEYFILE[0], sk[32:], sk)
        test_bad_bytes(attest, sk)
        test_u64_export_reimport(attest, tmp, sk)
        test_mixed(attest, tmp, sk)
        test_many_out_of_order(attest, sk)
        test_no_broker(attest, sk)
        test_late_broker(attest, sk)
        test_unacknowledged(attest, sk)
        test_streaming(attest, sk)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("submit_tool", body, T))
