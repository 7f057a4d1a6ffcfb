#!/usr/bin/env python3
"""test_log_serve.py: `attest log serve`, the tlog-tiles HTTP API of the log
(docs/protocol-14-serve.md), checked by recomputing everything it serves.

  serve:   a cluster whose sink signs checkpoints (the harness's log key,
           origin set apart) takes N=1000 attestations; then
           `attest log serve` on a free port. /checkpoint parses as a C2SP
           checkpoint of size 1000 and its Ed25519 signature checks; the
           entry bundles hold exactly the stored entries; SHA-256(0x00 ||
           entry) of each is the level-0 tile's hash; the level-1 tile holds
           the roots of the full level-0 tiles; the root recomputed from the
           level-0 hashes (RFC 6962) is the checkpoint's; caching headers;
           a partial request of a full tile is its prefix; 404 beyond the
           checkpoint's size and for malformed paths, 405 for other methods,
           garbage on the socket answered or dropped, and the server alive
           and answering after all of it.
  grow:    while a client reads tiles in a loop, another 1000 attestations
           are committed (the reader does not stop the sink); the checkpoint
           grows to 2000 and what was served at 1000 is a prefix of what is
           served now (tiles only grow).
  metrics: attest_logserve_requests_total by kind and status and
           attest_logserve_bad_requests_total count what was asked.
  cli:     --help, usage errors (exit 2), no log or a port in use (exit 1),
           `attest log --dir DIR serve`.
  up:      `attest up` starts the log server beside the cluster and prints
           its URL; /checkpoint answers there once the sink signs one.
"""
import base64
import hashlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import nacl.signing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402

ORIGIN = "attest.test/serve"
N = 1000
IMMUTABLE = "public, max-age=31536000, immutable"


# ---------------------------------------------------------------- keys, notes

def note_key_id(name, pub):
    """Go sumdb/note: the first 4 bytes of SHA-256(name || "\\n" || 0x01 || key)."""
    return hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]


def load_verifier(path):
    """(name, Ed25519 public key) of a note verifier key file
    ("name+hash+base64(0x01 || key)", as attest keygen --log writes it)."""
    with open(path) as f:
        name, kid, b64 = f.read().strip().split("+", 2)   # base64 may hold "+", a name may not
    raw = base64.b64decode(b64)
    if raw[:1] != b"\x01" or len(raw) != 33 or note_key_id(name, raw[1:]).hex() != kid:
        raise RuntimeError("%s: not an Ed25519 note verifier key" % path)
    return name, raw[1:]


def open_note(text, name, pub):
    """(body, verified): the note's text before the blank line and whether a
    signature line by (name, pub) verifies over it."""
    body, sep, sigs = text.partition("\n\n")
    if not sep:
        return None, False
    body += "\n"
    kid = note_key_id(name, pub)
    vk = nacl.signing.VerifyKey(pub)
    for line in sigs.splitlines():
        m = re.match("^\u2014 (\\S+) (\\S+)$", line)
        if not m or m.group(1) != name:
            continue
        raw = base64.b64decode(m.group(2))
        if raw[:4] != kid or len(raw) != 68:
            continue
        try:
            vk.verify(body.encode(), raw[4:])
            return body, True
        except Exception:
            return body, False
    return body, False


def parse_checkpoint(body):
    """origin, size, root, time of a C2SP checkpoint body (tlog/checkpoint.h)."""
    lines = body.split("\n")
    t = 0
    for extra in lines[3:]:
        if extra.startswith("time "):
            t = int(extra[5:])
    return lines[0], int(lines[1]), base64.b64decode(lines[2]), t


# ---------------------------------------------------------------- hashing

def leaf_hash(b):
    return hashlib.sha256(b"\x00" + b).digest()


def node_hash(a, b):
    return hashlib.sha256(b"\x01" + a + b).digest()


def mth(hashes):
    """RFC 6962 MTH over leaf hashes (the left subtree: the largest power of
    two below n)."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def tile_path(level, n, width=256):
    """merkle_tile_path: N in 3-digit groups, all but the last with "x"."""
    s = "%03d" % (n % 1000)
    n //= 1000
    while n:
        s = "x%03d/%s" % (n % 1000, s)
        n //= 1000
    lv = "entries" if level is None else str(level)
    return "/tile/%s/%s%s" % (lv, s, "" if width == 256 else ".p/%d" % width)


def split_hashes(body):
    return [body[i:i + 32] for i in range(0, len(body), 32)]


def split_bundle(body):
    """The entries of a bundle (uint16 big-endian length, bytes), or None
    when it does not split exactly."""
    out, i = [], 0
    while i < len(body):
        if i + 2 > len(body):
            return None
        ln = (body[i] << 8) | body[i + 1]
        if i + 2 + ln > len(body):
            return None
        out.append(body[i + 2:i + 2 + ln])
        i += 2 + ln
    return out


# ---------------------------------------------------------------- HTTP

class Http:
    def __init__(self, port):
        self.port = port

    def req(self, path, method="GET", body=None):
        """(status, headers dict lower-cased, body bytes); the path sent as is."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.putrequest(method, path, skip_accept_encoding=True)
            if body is not None:
                c.putheader("Content-Length", str(len(body)))
            c.endheaders(body)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def get(self, path):
        return self.req(path)


def start_server(cl, extra=()):
    port = C.free_port()
    argv = [cl.exe("attest"), "log", "serve", "--dir", cl.log_dir, "--listen", "127.0.0.1:%d" % port] + list(extra)
    p = C.Proc("logserve", argv, os.path.join(cl.tmp, "logserve.err"))
    if not C.wait_port(port, proc=p):
        raise RuntimeError("attest log serve did not start:\n" + p.stderr_text())
    return p, Http(port)


def wait_checkpoint(h, size, timeout=60):
    """The newest checkpoint's text once its size is at least size."""
    end = time.time() + timeout
    text = ""
    while time.time() < end:
        st, _, body = h.get("/checkpoint")
        if st == 200:
            text = body.decode()
            if parse_checkpoint(text.partition("\n\n")[0] + "\n")[1] >= size:
                return text
        time.sleep(0.2)
    return text


def submit(cl, n, timeout=180):
    b = C.Bench(cl.bindir, ["--broker", cl.frontend, "--log-dir", cl.log_dir, "-n", str(n), "--producers", "1"],
                cl.tmp)
    return b.wait(timeout), b.output()


# ---------------------------------------------------------------- checks

def check_checkpoint(T, h, key, size):
    st, hd, body = h.get("/checkpoint")
    T.check("checkpoint: 200, text/plain; charset=utf-8, Cache-Control no-cache",
            st == 200 and hd.get("content-type") == "text/plain; charset=utf-8"
            and hd.get("cache-control") == "no-cache", (st, hd))
    text, ok = open_note(body.decode("utf-8", "replace"), *key)
    T.check("checkpoint: the log key's signature verifies over the body", ok, body[:300])
    origin, n, root, t = parse_checkpoint(text or "\n\n\n")
    T.check("checkpoint: origin %s, size %d, a time line near now" % (ORIGIN, size),
            origin == ORIGIN and n == size and abs(t - time.time()) < 600, (origin, n, t))
    return root


def fetch_level0(T, h, size):
    """Every level-0 hash of the tree of size leaves, from its tiles; and the
    entries from its bundles. Checks types and caching on the way."""
    hashes, entries, ok_hdr, ok_len = [], [], True, True
    for n in range((size + 255) // 256):
        w = min(256, size - 256 * n)
        for level, out in ((0, hashes), (None, entries)):
            st, hd, body = h.get(tile_path(level, n, w))
            cache = IMMUTABLE if w == 256 else "public, max-age=10"
            ok_hdr = ok_hdr and st == 200 and hd.get("content-type") == "application/octet-stream" \
                and hd.get("cache-control") == cache
            if level == 0:
                ok_len = ok_len and len(body) == 32 * w
                out.extend(split_hashes(body))
            else:
                got = split_bundle(body)
                ok_len = ok_len and got is not None and len(got) == w
                out.extend(got or [])
    T.check("tiles and bundles of level 0 (size %d): 200, application/octet-stream, full ones immutable, "
            "partial ones max-age=10" % size, ok_hdr)
    T.check("tiles are 32 bytes per hash, bundles split exactly into W entries", ok_len)
    return hashes, entries


def check_tree(T, h, log, size, root):
    hashes, entries = fetch_level0(T, h, size)
    T.check("bundles: entries [0, %d) are the stored entry values, byte for byte" % size,
            entries == log.raws[:size], "%d entries" % len(entries))
    T.check("level 0: each hash is SHA-256(0x00 || the bundle's entry)",
            len(hashes) == size and all(leaf_hash(e) == x for e, x in zip(entries, hashes)))
    full = size // 256
    if full:
        st, _, body = h.get(tile_path(1, 0, full))
        want = [mth(hashes[256 * i:256 * (i + 1)]) for i in range(full)]
        T.check("level 1 (tile/1/000.p/%d): the roots of the %d full level-0 tiles" % (full, full),
                st == 200 and split_hashes(body) == want, st)
    T.check("the root recomputed from the level-0 hashes (RFC 6962) is the checkpoint's", mth(hashes) == root)
    return hashes


def check_not_found(T, h, size):
    full, part = size // 256, size % 256
    beyond = [tile_path(0, full + 1), tile_path(0, full), tile_path(0, full, part + 1), tile_path(None, full),
              tile_path(None, full, part + 1), tile_path(None, full + 1, 1), tile_path(1, 0),
              tile_path(1, 0, full + 1), tile_path(2, 0, 1), tile_path(7, 0, 1), tile_path(0, 10 ** 15)]
    st = {p: h.get(p)[0] for p in beyond}
    T.check("404 for tiles and bundles beyond the checkpoint's size", all(v == 404 for v in st.values()), st)
    malformed = ["/tile/0/1.p/0", "/tile/0/x1", "/tile/0/1", "/tile/0/0001", "/tile/entries/x000/000",
                 "/tile/0/000.p/256", "/tile/0/000.p/01", "/tile/0/000.p/", "/tile/00/000", "/tile/-1/000",
                 "/tile/64/000", "/tile/0/000/", "/tile/0//000", "/tile/0/x000/001", "/tile/entries/000.p/0",
                 "/../", "/tile/../checkpoint", "/checkpoint/", "/tile/0/00a", "/", "/tile",
                 "/tile/0/000.p/5x", "/" + "x" * 4000, "/tile/0/" + "x001/" * 700 + "000"]
    st = {p[:40]: h.get(p)[0] for p in malformed}
    T.check("404 for malformed paths (strict merkle_tile_parse; '..', long ones)",
            all(v == 404 for v in st.values()), st)
    T.check("tile/0/001 (the canonical path of tile 1) is a tile: 200", h.get("/tile/0/001")[0] == 200)


def check_methods(T, h):
    codes = {m: h.req("/checkpoint", m, b"x" * 10 if m in ("POST", "PUT") else None) for m in
             ("POST", "PUT", "DELETE", "OPTIONS")}
    T.check("405 with Allow: GET, HEAD for POST, PUT, DELETE, OPTIONS",
            all(v[0] == 405 and v[1].get("allow") == "GET, HEAD" for v in codes.values()),
            {m: v[0] for m, v in codes.items()})
    st, hd, body = h.req("/checkpoint", "HEAD")
    T.check("HEAD /checkpoint: 200, no body, Content-Length", st == 200 and body == b"" and
            int(hd.get("content-length", "0")) > 0, (st, hd))
    st, _, body = h.get("/healthz")
    T.check("healthz: 200 ok", st == 200 and body == b"ok\n", (st, body))
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
    got = []
    for path, method in (("/checkpoint", "GET"), ("/tile/0/000", "GET"), ("/nope", "GET"), ("/checkpoint", "POST"),
                         ("/tile/entries/000", "GET")):
        c.request(method, path, body=b"abc" if method == "POST" else None)
        r = c.getresponse()
        got.append((r.status, len(r.read())))
    c.close()
    T.check("keep-alive: five requests (a POST with a body among them) on one connection, each answered",
            [g[0] for g in got] == [200, 200, 404, 405, 200] and got[1][1] == 8192, got)


def check_garbage(T, h, proc):
    """Bytes that are not HTTP, a half request left open, a huge header:
    each answered (400, 414, 431) or dropped, the server unharmed."""
    junk = [b"\x00\xff\xfe garbage\r\n\r\n", os.urandom(4096), b"GET /checkpoint HTTP/9.9\r\n\r\n",
            b"GET /tile/0/000 HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 100000 + b"\r\n\r\n", b"GET / HTTP/1.1\r\n"]
    for data in junk:
        try:
            with socket.create_connection(("127.0.0.1", h.port), timeout=3) as s:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                s.recv(1024)
        except OSError:
            pass
    st, _, _ = h.get("/healthz")
    T.check("garbage on the socket: the server is alive and answers", proc.alive() and st == 200, st)


def serve(cl, T, key):
    rc, out = submit(cl, N)
    T.check("%d attestations committed" % N, rc == 0, out[-400:])
    proc, h = start_server(cl, ["--metrics", "127.0.0.1:%d" % cl.mport])
    text = wait_checkpoint(h, N)
    T.check("a checkpoint of size %d is served" % N, text != "", text[:200])
    log = C.read_log(cl.log_dir)
    root = check_checkpoint(T, h, key, N)
    hashes = check_tree(T, h, log, N, root)
    st, hd, body = h.get(tile_path(0, 0, 5))
    T.check("tile/0/000.p/5 of a full tile: its first 5 hashes, partial caching",
            st == 200 and split_hashes(body) == hashes[:5] and hd.get("cache-control") == "public, max-age=10")
    check_not_found(T, h, N)
    check_methods(T, h)
    check_garbage(T, h, proc)
    return proc, h, hashes


def reader_loop(h, stop, counts):
    """Reads tiles and the checkpoint in a loop until stop is set."""
    paths = [tile_path(0, 0), tile_path(0, 1), tile_path(None, 2), "/checkpoint", tile_path(1, 0, 3)]
    i = 0
    while not stop.is_set():
        try:
            st = h.get(paths[i % len(paths)])[0]
            counts[st] = counts.get(st, 0) + 1
        except OSError:
            counts["error"] = counts.get("error", 0) + 1
        i += 1


def grow(cl, T, key, h, old_hashes):
    stop, counts = threading.Event(), {}
    readers = [threading.Thread(target=reader_loop, args=(h, stop, counts)) for _ in range(2)]
    for r in readers:
        r.start()
    rc, out = submit(cl, N)
    stop.set()
    for r in readers:
        r.join()
    T.check("grow: %d more committed while 2 clients read tiles in a loop (%s)" % (N, counts),
            rc == 0 and counts.get(200, 0) > 0 and set(counts) == {200}, (out[-300:], counts))
    text = wait_checkpoint(h, 2 * N)
    T.check("grow: the checkpoint grew to %d" % (2 * N), text != "")
    log = C.read_log(cl.log_dir)
    root = check_checkpoint(T, h, key, 2 * N)
    hashes = check_tree(T, h, log, 2 * N, root)
    T.check("grow: the level-0 hashes served at %d are a prefix of those served at %d" % (N, 2 * N),
            hashes[:N] == old_hashes)
    st, _, body = h.get(tile_path(0, N // 256, N % 256))
    T.check("grow: the partial tile of the old size is still served, a prefix of the now full tile",
            st == 200 and split_hashes(body) == hashes[256 * (N // 256):N])


def scrape(port):
    with urllib_open("http://127.0.0.1:%d/metrics" % port) as r:
        text = r.read().decode()
    out = {}
    for m in re.finditer(r'^(attest_logserve_\w+)(\{[^}]*\})? (\S+)$', text, re.M):
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def urllib_open(url):
    import urllib.request
    return urllib.request.urlopen(url, timeout=5)


def check_metrics(T, port):
    m = scrape(port)
    tiles = m.get('attest_logserve_requests_total{kind="tile",status="200"}', 0)
    nf = m.get('attest_logserve_requests_total{kind="tile",status="404"}', 0)
    bad = m.get("attest_logserve_bad_requests_total", 0)
    sent = m.get('attest_logserve_response_bytes_total{kind="tile"}', 0)
    T.check("metrics: tile requests by status (200 and 404), bytes, bad requests counted",
            tiles > 10 and nf >= 8 and bad >= 20 and sent >= 32 * tiles, (tiles, nf, bad, sent))


def test_serve(args, T):
    with C.Cluster(args.bin) as cl:
        cl.mport = C.free_port()
        key = load_verifier(cl.log_pub)   # the harness's log key (attest keygen --log); the sink signs with it
        cl.start_broker()
        cl.start_sink(["--origin", ORIGIN])
        cl.start_worker("w0")
        proc, h, hashes = serve(cl, T, key)
        grow(cl, T, key, h, hashes)
        check_metrics(T, cl.mport)
        test_cli(args, T, cl.log_dir)
        T.check("SIGTERM: attest log serve exits 0", proc.stop() == 0, proc.stderr_text()[-500:])
        bad = proc.stderr_text().count("LSV-BADREQ")
        T.check("bad requests logged, rate limited (at most 5 a second)", 0 < bad < 60, bad)
        if T.failed:
            cl.dump_stderr()
            print(proc.stderr_text()[-2000:])
        cl.stop_and_check(T)


def test_up(args, T):
    """attest up runs the log server beside the cluster and prints its URL."""
    tmp = tempfile.mkdtemp(prefix="attest-it-up-")
    ports = [C.free_port() for _ in range(4)]
    argv = [os.path.join(args.bin, "attest"), "up", "--data-dir", os.path.join(tmp, "data"), "--insecure",
            "--frontend-port", str(ports[0]), "--backend-port", str(ports[1]), "--sink-port", str(ports[2]),
            "--metrics-port", "0", "--workers", "1", "--log-listen", "127.0.0.1:%d" % ports[3]]
    up = C.Proc("up", argv, os.path.join(tmp, "up.err"))
    try:
        end = time.time() + 30
        while time.time() < end and "log server" not in up.stderr_text() and up.alive():
            time.sleep(0.1)
        T.check("up: prints the log server's URL", "http://127.0.0.1:%d" % ports[3] in up.stderr_text(),
                up.stderr_text()[-800:])
        text = wait_checkpoint(Http(ports[3]), 0, timeout=20)
        body, ok = open_note(text, *load_verifier(os.path.join(tmp, "data", "keys", "log.pub")))
        T.check("up: /checkpoint on --log-listen answers with a checkpoint signed by DATA/keys/log.key", ok,
                text[:200])
    finally:
        up.send_signal(signal.SIGINT)
        rc = up.wait(20)
        up.stop()
        T.check("up: Ctrl-C stops it (exit 0), the log server too", rc == 0 and not port_open(ports[3]), rc)
        subprocess.run(["rm", "-rf", tmp])


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_cli(args, T, log_dir):
    """--help, usage errors (exit 2), a missing log (exit 1), flags before
    the subcommand, a port taken (exit 1)."""
    a = os.path.join(args.bin, "attest")

    def run(*argv):
        p = subprocess.run([a] + list(argv), capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout + p.stderr
    rc, out = run("log", "serve", "--help")
    T.check("cli: attest log serve --help lists its settings (exit 0)", rc == 0 and all(
        "--" + k in out for k in ("dir", "listen", "threads", "connections", "timeout-s", "partial-max-age-s",
                                  "metrics")), out[-600:])
    rc, out = run("log", "--help")
    T.check("cli: attest log --help names serve", rc == 0 and "serve" in out, out[-300:])
    rc1, out1 = run("log", "serve", "--bogus", "1")
    rc2, out2 = run("log", "serve", "--dir", log_dir, "--listen", "nonsense")
    rc3, out3 = run("log", "serve", "--threads", "0")
    T.check("cli: an unknown flag, a bad --listen, --threads 0: exit 2 naming it",
            rc1 == 2 and "bogus" in out1 and rc2 == 2 and "nonsense" in out2 and rc3 == 2 and "threads" in out3,
            (rc1, rc2, rc3, out2[-200:]))
    rc, out = run("log", "serve", "--dir", "/nonexistent/log", "--listen", "127.0.0.1:0")
    T.check("cli: no log at --dir: exit 1 saying so", rc == 1 and "no log at" in out, (rc, out[-200:]))
    port = C.free_port()
    p = C.Proc("logserve-cli", [a, "log", "--dir", log_dir, "serve", "--listen", "127.0.0.1:%d" % port],
               os.path.join(os.path.dirname(log_dir), "logserve-cli.err"))
    up = C.wait_port(port, proc=p)
    T.check("cli: attest log --dir DIR serve (flags before the subcommand) serves",
            up and Http(port).get("/healthz")[0] == 200, p.stderr_text()[-300:])
    rc, out = run("log", "serve", "--dir", log_dir, "--listen", "127.0.0.1:%d" % port)
    T.check("cli: a port in use: exit 1 saying so", rc == 1 and "cannot serve" in out, (rc, out[-200:]))
    T.check("cli: SIGTERM: exit 0", p.stop() == 0)


def test_tree_appears(args, T):
    """A server started on a log written before the tree (no tiles yet)
    answers 404, and serves the checkpoint once a sink has integrated the
    tree, without a restart (it looks again for the tree, once a second)."""
    import logfixture as F
    with C.Cluster(args.bin) as cl:
        pk, sk = F.make_keypair()
        F.write_log(cl.log_dir, [{"att": F.make_attestation(sk, subject="old-%d" % i)[0]} for i in range(300)])
        proc, h = start_server(cl)
        st, _, _ = h.get("/checkpoint")
        T.check("old log without a tree: /checkpoint is 404", st == 404, st)
        cl.start_broker()
        cl.start_sink(["--origin", ORIGIN])
        text = wait_checkpoint(h, 300, timeout=20)
        T.check("after a sink integrated the tree: the same server serves its checkpoint of size 300",
                text != "", proc.stderr_text()[-500:])
        T.check("the server said the tree appeared (LOG-TREE)", "tree appeared" in proc.stderr_text(),
                proc.stderr_text()[-500:])
        T.check("SIGTERM: exit 0", proc.stop() == 0)
        if T.failed:
            cl.dump_stderr()
        cl.stop_and_check(T)


def body(args, T):
    test_serve(args, T)
    test_tree_appears(args, T)
    test_up(args, T)


if __name__ == "__main__":
    sys.exit(C.main_wrapper("log_serve", body))
