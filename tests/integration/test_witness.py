"""test_witness.py: witnessing (protocol.md 14.8): `attest witness` and
`attest log serve --witness-keys DIR --cosignatures DIR`, with the real
executables.

A cluster whose sink signs checkpoints, and the log server with one
allowlisted witness key (made by `attest keygen --witness`):
  - `attest witness --once` fetches, checks and cosigns the checkpoint; the
    served /checkpoint then carries the witness's cosignature line after the
    log's signature, and Python verifies it from the C2SP tlog-cosignature
    bytes alone (key ID SHA-256(name || "\\n" || 0x04 || key)[:4], message
    "cosignature/v1\\ntime T\\n" || body, Ed25519 with nacl); the log's own
    signature still verifies; --state holds the checkpoint cosigned;
  - the witness in its loop (200 ms) for about 2 s while attestations arrive
    cosigns the newer checkpoints, and exits 0 on SIGTERM;
  - POST /cosignature: a cosignature made in Python with the witness's seed
    is accepted (200), so are 20 of them for 20 stored sizes, of which only
    the newest 16 files are kept; a key not allowlisted gets 403, a
    tampered line 400, a size with no stored checkpoint 404, a malformed
    body 400;
  - a rollback (a tiny Python server serving an older checkpoint the log
    really signed) and a fork (a checkpoint of the same size as the one
    cosigned, another root, signed with the log's key) are refused:
    WIT-INCONSISTENT, exit 1, the state file unchanged; in its loop the
    witness keeps refusing and exits 1; pointed back at the real server it
    cosigns again.

    /usr/bin/python3 test_witness.py --bin BUILD/bin
"""
import base64
import hashlib
import http.server
import json
import os
import shutil
import signal
import struct
import sys
import threading
import time
import urllib.error
import urllib.request

import lmdb
import nacl.signing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402
import logfixture as lf  # noqa: E402

DASH = "\u2014 "
WNAME = "witness.test/w1"


def fetch(url, data=None):
    """(status, body bytes) of a GET, or a POST when data is given."""
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start_server(c, wkeys, cdir):
    port = C.free_port()
    argv = [c.exe("attest"), "log", "serve", "--log-dir", c.log_dir, "--listen", "127.0.0.1:%d" % port,
            "--witness-keys", wkeys, "--cosignatures", cdir]
    p = C.Proc("logserve", argv, os.path.join(c.tmp, "logserve.err"))
    if not C.wait_port(port, proc=p):
        raise RuntimeError("attest log serve did not start:\n" + p.stderr_text())
    return p, "http://127.0.0.1:%d" % port


def submit(c, n, tag):
    pk, sk = lf.make_keypair()
    path = os.path.join(c.tmp, "in-%s.jsonl" % tag)
    with open(path, "w") as f:
        for i in range(n):
            enc, _ = lf.make_attestation(sk, subject="wit-%s-%d" % (tag, i))
            a = lf.decode_attestation(enc)
            f.write(json.dumps({"schema": a["schema"], "subject": a["subject"],
                                "data_b64": base64.b64encode(a["data"]).decode(), "issued_at": a["issued_at"],
                                "expires_at": a["expires_at"], "nonce": a["nonce"].hex(),
                                "attester": a["attester"].hex(), "signature": a["signature"].hex()}) + "\n")
    rc, out, err = c.attest("submit", "--broker", c.frontend, *c.client_args(), "--input", path, timeout=120)
    if rc != 0:
        raise RuntimeError("attest submit failed: " + err[-500:])


def witness_args(c, url, wkey, state):
    return ["witness", "--log-url", url, "--log-key", c.log_pub, "--key", wkey, "--state", state]


def seed_of(skey_path):
    """(name, 32-byte seed) of a note signer key file."""
    text = open(skey_path).read().strip()
    parts = text.split("+", 4)
    return parts[2], base64.b64decode(parts[4])[1:]


def cosig_key(vkey_text):
    """(name, key ID, public key) of a witness vkey, checked (type 0x04)."""
    name, hexid, b64 = vkey_text.strip().split("+", 2)
    raw = base64.b64decode(b64)
    assert raw[0] == 4 and len(raw) == 33, "not a cosignature key"
    kid = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    assert kid.hex() == hexid, "key ID does not match"
    return name, kid, raw[1:]


def make_cosig(name, seed, body, ts):
    """A cosignature line from the spec's bytes, signed in Python."""
    sk = nacl.signing.SigningKey(seed)
    pub = bytes(sk.verify_key)
    kid = hashlib.sha256(name.encode() + b"\n\x04" + pub).digest()[:4]
    msg = b"cosignature/v1\ntime %d\n" % ts + body
    sig = sk.sign(msg).signature
    return DASH + name + " " + base64.b64encode(kid + struct.pack(">Q", ts) + sig).decode() + "\n"


def split_note(note):
    body, sigs = note.split(b"\n\n", 1)
    return body + b"\n", [s for s in sigs.decode().split("\n") if s]


def verify_cosig(line, body, key):
    """The timestamp of a valid cosignature line by key over body, else None."""
    name, kid, pub = key
    if not line.startswith(DASH + name + " "):
        return None
    raw = base64.b64decode(line.split(" ")[2])
    if len(raw) != 76 or raw[:4] != kid:
        return None
    ts = struct.unpack(">Q", raw[4:12])[0]
    try:
        nacl.signing.VerifyKey(pub).verify(b"cosignature/v1\ntime %d\n" % ts + body, raw[12:])
        return ts
    except Exception:
        return None


def log_sig_ok(c, note):
    body, sigs = split_note(note)
    name, _, b64 = open(c.log_pub).read().strip().split("+", 2)
    pub = base64.b64decode(b64)[1:]
    for s in sigs:
        if s.startswith(DASH + name + " "):
            try:
                nacl.signing.VerifyKey(pub).verify(body, base64.b64decode(s.split(" ")[2])[4:])
                return True
            except Exception:
                return False
    return False


def stored_checkpoints(c):
    """{size: note bytes} of the log's checkpoints database."""
    env = lmdb.open(c.log_dir, max_dbs=16, subdir=True, readonly=True, lock=True, map_size=1 << 30)
    db = env.open_db(b"checkpoints", create=False)
    with env.begin(db=db) as txn:
        out = {struct.unpack(">Q", k)[0]: bytes(v) for k, v in txn.cursor()}
    env.close()
    return out


class FixedCheckpoint(http.server.BaseHTTPRequestHandler):
    note = b""

    def do_GET(self):
        if self.path == "/checkpoint":
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.note)))
            self.end_headers()
            self.wfile.write(self.note)
        else:
            self.send_error(404)

    def log_message(self, *a):
        pass


def fake_server(note):
    FixedCheckpoint.note = note
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FixedCheckpoint)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, "http://127.0.0.1:%d" % srv.server_address[1]


def sign_note(c, body):
    name, seed = seed_of(c.log_key + ".key")
    hexid = open(c.log_pub).read().split("+")[1]
    sig = nacl.signing.SigningKey(seed).sign(body).signature
    return body + b"\n" + (DASH + name + " ").encode() + base64.b64encode(bytes.fromhex(hexid) + sig) + b"\n"


def check_first(t, c, url, wkey, wpub, state):
    rc, out, err = c.attest(*witness_args(c, url, wkey, state), "--once")
    t.check("attest witness --once: cosigned, exit 0", rc == 0 and "WIT-COSIGNED" in err, (rc, err[-600:]))
    st, note = fetch(url + "/checkpoint")
    body, sigs = split_note(note)
    size = int(body.split(b"\n")[1])
    key = cosig_key(open(wpub).read())
    ts = [verify_cosig(s, body, key) for s in sigs]
    t.check("/checkpoint carries the witness's cosignature, verified in Python from the spec's bytes",
            st == 200 and len(sigs) == 2 and ts[1] is not None and abs(ts[1] - time.time()) < 60, (st, sigs))
    t.check("the log's own signature still verifies, and comes first", log_sig_ok(c, note) and ts[0] is None)
    saved = open(state, "rb").read()
    t.check("--state holds the checkpoint cosigned", split_note(saved)[0] == body, saved[:200])
    cosigned = os.path.join(c.tmp, "cosigned-checkpoint")
    with open(cosigned, "wb") as f:
        f.write(note)
    rc, out, err = c.attest("note", "verify", "--key", c.log_pub, cosigned)
    t.check("attest note verify (note_open) accepts the cosigned checkpoint", rc == 0, (rc, out, err[-300:]))
    return size


def check_loop(t, c, url, wkey, wpub, state, size0):
    p = C.Proc("witness", [c.exe("attest")] + witness_args(c, url, wkey, state) + ["--interval-ms", "200"],
               os.path.join(c.tmp, "witness-loop.err"))
    key = cosig_key(open(wpub).read())
    seen = set()
    end = time.time() + 2.0
    for i in range(3):
        submit(c, 20, "loop%d" % i)
    newest = 0
    while time.time() < end + 10:
        st, note = fetch(url + "/checkpoint")
        body, sigs = split_note(note)
        newest = int(body.split(b"\n")[1])
        if any(verify_cosig(s, body, key) for s in sigs):
            seen.add(newest)
        if time.time() >= end and newest in seen and newest > size0:
            break
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    rc = p.wait(10)
    t.check("the witness loop cosigned newer checkpoints while they came", max(seen or {0}) > size0, (seen, size0))
    t.check("the witness loop exits 0 on SIGTERM (nothing refused)", rc == 0, (rc, p.stderr_text()[-500:]))


def check_post(t, c, url, wkey, cdir):
    name, seed = seed_of(wkey)
    cps = stored_checkpoints(c)
    for i in range(25):
        if len([x for x in cps if x > 0]) >= 20:
            break
        submit(c, 2, "more%d" % i)
        cps = stored_checkpoints(c)
    sizes = sorted(x for x in cps if x > 0)[-20:]
    codes = []
    for s in sizes:
        body = split_note(cps[s])[0]
        codes.append(fetch(url + "/cosignature", b"%d\n" % s + make_cosig(name, seed, body, int(time.time())).encode())[0])
    t.check("20 cosignatures made in Python for 20 stored sizes: all 200", codes == [200] * 20 and len(sizes) == 20,
            (codes, len(cps)))
    kid = cosig_key(open(wkey[:-4] + ".pub").read())[1].hex()
    files = sorted(f for f in os.listdir(cdir) if f.startswith(kid + "-"))
    t.check("only the newest 16 sizes are kept per witness",
            len(files) == 16 and files[-1] == "%s-%020d" % (kid, sizes[-1]) and files[0] == "%s-%020d" % (
                kid, sizes[-16]), files)
    other = os.path.join(c.tmp, "w2")
    c.attest("keygen", "--witness", "--out", other, "--name", "witness.test/w2")
    s = sizes[-1]
    body = split_note(cps[s])[0]
    n2, seed2 = seed_of(other + ".key")
    st, _ = fetch(url + "/cosignature", b"%d\n" % s + make_cosig(n2, seed2, body, int(time.time())).encode())
    t.check("a cosignature by a key not allowlisted: 403", st == 403, st)
    good = make_cosig(name, seed, body, int(time.time()))
    raw = bytearray(base64.b64decode(good.split(" ")[2]))
    raw[40] ^= 1
    bad = DASH + name + " " + base64.b64encode(bytes(raw)).decode() + "\n"
    st, _ = fetch(url + "/cosignature", b"%d\n" % s + bad.encode())
    t.check("a tampered cosignature: 400", st == 400, st)
    st, _ = fetch(url + "/cosignature", b"%d\n" % (s - 1 if s - 1 not in cps else s + 1000) + good.encode())
    t.check("a size with no stored checkpoint: 404", st == 404, st)
    st, _ = fetch(url + "/cosignature", good.encode())
    t.check("a body without the size line: 400", st == 400, st)
    st, _ = fetch(url + "/cosignature", b"%d\n" % s + good.encode())
    t.check("the good one: 200", st == 200, st)


def check_refusals(t, c, url, wkey, state):
    saved = open(state, "rb").read()
    body = split_note(saved)[0]
    size = int(body.split(b"\n")[1])
    cps = stored_checkpoints(c)
    older = max(s for s in cps if s < size)
    for label, note in (("a rollback (an older checkpoint the log signed)", cps[older]),
                        ("a fork (same size, another root, signed with the log's key)",
                         sign_note(c, b"\n".join(body.split(b"\n")[:2]) + b"\n"
                                   + base64.b64encode(hashlib.sha256(b"fork").digest()) + b"\ntime 1\n"))):
        srv, furl = fake_server(note)
        rc, out, err = c.attest(*witness_args(c, furl, wkey, state), "--once")
        t.check("%s: refused, WIT-INCONSISTENT, exit 1, the state unchanged" % label,
                rc == 1 and "WIT-INCONSISTENT" in err and "WIT-COSIGNED" not in err
                and open(state, "rb").read() == saved, (rc, err[-500:]))
        srv.shutdown()
    srv, furl = fake_server(cps[older])
    p = C.Proc("witness-refusing", [c.exe("attest")] + witness_args(c, furl, wkey, state) + ["--interval-ms", "100"],
               os.path.join(c.tmp, "witness-refusing.err"))
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    rc = p.wait(10)
    t.check("in its loop the witness keeps refusing and exits 1", rc == 1 and open(state, "rb").read() == saved
            and "WIT-INCONSISTENT" in p.stderr_text(), (rc, p.stderr_text()[-300:]))
    srv.shutdown()
    rc, out, err = c.attest(*witness_args(c, url, wkey, state), "--once")
    t.check("pointed back at the real log server it cosigns again", rc == 0 and "WIT-COSIGNED" in err, (rc, err[-300:]))


def body(args, t):
    with C.Cluster(args.bin) as c:
        c.start(workers=1, threads=1)
        wdir, wkeys, cdir = os.path.join(c.tmp, "witness"), os.path.join(c.tmp, "wkeys"), os.path.join(c.tmp, "cosigs")
        os.makedirs(wdir)
        os.makedirs(wkeys)
        wkey, wpub = os.path.join(wdir, "w1.key"), os.path.join(wdir, "w1.pub")
        rc, out, err = c.attest("keygen", "--witness", "--out", os.path.join(wdir, "w1"), "--name", WNAME)
        t.check("keygen --witness: NAME.key (0600) and NAME.pub (type 0x04)",
                rc == 0 and oct(os.stat(wkey).st_mode & 0o777) == "0o600" and cosig_key(open(wpub).read())[0] == WNAME
                and out.strip() == open(wpub).read().strip(), (rc, out, err))
        shutil.copy(wpub, wkeys)
        submit(c, 30, "first")
        server, url = start_server(c, wkeys, cdir)
        state = os.path.join(wdir, "state")
        size0 = check_first(t, c, url, wkey, wpub, state)
        check_loop(t, c, url, wkey, wpub, state, size0)
        check_post(t, c, url, wkey, cdir)
        check_refusals(t, c, url, wkey, state)
        server.stop()
        t.check("the log server exits 0", server.returncode() == 0, server.returncode())
        c.finish(t, "witness")


if __name__ == "__main__":
    sys.exit(C.main_wrapper("witness", body))
