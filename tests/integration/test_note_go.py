#!/usr/bin/env python3
"""test_note_go.py: Attest's signed notes against Go's golang.org/x/mod/sumdb/note,
an implementation nobody here wrote (tests/go/notecheck drives it).

Skips (exit 77, ctest SKIP_RETURN_CODE) with a message when `go` or the
Debian package golang-golang-x-mod-dev is missing (scripts/install-deps.sh
installs both). notecheck is built in GOPATH mode, without network.

  keys:      `attest keygen --log --out DIR/log --name example.com/log` writes
             log.key (0600) and log.pub (0644, the verifier key it prints);
             it refuses to overwrite them without --force;
  C -> Go:   a checkpoint body signed by `attest note sign` verifies with Go's
             note.Open, which returns the same body; Go signing the same body
             with the same key gives the same note byte for byte (Ed25519 is
             deterministic);
  Go -> C:   a key made by Go's note.GenerateKey signs in C and in Go; a
             Go-signed note verifies with `attest note verify`;
  cosigned:  a note with both keys' signature lines verifies with either key
             in both implementations (other keys' lines are ignored);
  tampered:  a body byte flipped, a signature byte flipped, another key:
             both implementations refuse; a signer file readable by others is
             refused by `attest note sign`;
  sink:      a cluster (the harness gives the sink a log key) takes 300
             attestations; the newest checkpoint in the log's "checkpoints"
             db verifies with Go and with attest, its body is a checkpoint of
             the log's size with a time line, and with its size changed
             neither accepts it.

    /usr/bin/python3 test_note_go.py --bin BUILD/bin
"""
import base64
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time

import lmdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402

SKIPPED = 77   # ctest's SKIP_RETURN_CODE for this test (tests/CMakeLists.txt)
GOPATH = "/usr/share/gocode"
NOTECHECK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "go", "notecheck", "main.go")
ROOT = base64.b64encode(bytes(range(32))).decode()
BODY = "example.com/log\n1234\n%s\ntime 1764640000\n" % ROOT


def run(argv, timeout=120):
    p = subprocess.run(argv, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def build_notecheck(T, tmp):
    """The Go verifier, or None after a skip message."""
    go = shutil.which("go")
    if not go:
        T.skip("Go interop", "`go` is not installed (apt-get install golang-go golang-golang-x-mod-dev)")
        return None
    if not os.path.isdir(os.path.join(GOPATH, "src/golang.org/x/mod/sumdb/note")):
        T.skip("Go interop", "golang.org/x/mod/sumdb/note is not in %s (apt-get install golang-golang-x-mod-dev)"
               % GOPATH)
        return None
    exe = os.path.join(tmp, "notecheck")
    env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOCACHE=os.path.join(tmp, "gocache"),
               GOFLAGS="", CGO_ENABLED="0")
    p = subprocess.run([go, "build", "-o", exe, NOTECHECK], capture_output=True, text=True, env=env,
                       cwd=os.path.dirname(NOTECHECK), timeout=600)
    T.check("notecheck (Go sumdb/note) builds in GOPATH mode", p.returncode == 0, p.stderr[-800:])
    return exe if p.returncode == 0 else None


def write(path, data, mode=0o644):
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.chmod(path, mode)
    return path


def keys(T, attest, tmp):
    base = os.path.join(tmp, "log")
    rc, out, err = run([attest, "keygen", "--log", "--out", base, "--name", "example.com/log"])
    T.check("attest keygen --log -> 0", rc == 0, err)
    key, pub = base + ".key", base + ".pub"
    kmode, pmode = (stat.S_IMODE(os.stat(p).st_mode) if os.path.exists(p) else None for p in (key, pub))
    T.check("log.key is mode 0600, log.pub 0644", kmode == 0o600 and pmode == 0o644, (kmode, pmode))
    vkey = open(pub).read() if pmode else ""
    T.check("log.pub holds the printed verifier key, one line", vkey == out.decode() and vkey.count("\n") == 1
            and vkey.startswith("example.com/log+"), (vkey, out))
    skey = open(key).read() if kmode else ""
    T.check("log.key holds PRIVATE+KEY+example.com/log+<id>+...", skey.startswith("PRIVATE+KEY+example.com/log+")
            and skey[28:37] == vkey[16:25], skey[:37])
    rc, _, err = run([attest, "keygen", "--log", "--out", base])
    T.check("attest keygen --log refuses to overwrite without --force", rc == 1 and "--force" in err
            and open(pub).read() == vkey, (rc, err))
    rc, out, _ = run([attest, "note", "--help"])
    T.check("attest note --help -> 0", rc == 0 and b"verify" in out and b"sign" in out, rc)
    rc, out, _ = run([attest, "help"])
    T.check("attest help lists note", rc == 0 and b"  note " in out, out[-400:])
    return key, pub


def c_to_go(T, attest, nc, tmp, key, pub):
    body = write(os.path.join(tmp, "body"), BODY)
    rc, note, err = run([attest, "note", "sign", "--key", key, body])
    T.check("attest note sign a checkpoint body -> 0", rc == 0 and note.startswith(BODY.encode() + b"\n\xe2\x80\x94 "),
            (rc, err, note[:200]))
    c_note = write(os.path.join(tmp, "c.note"), note)
    rc, out, err = run([nc, "verify", pub, c_note])
    T.check("C-signed checkpoint verifies with Go's note.Open, same body", rc == 0 and out == BODY.encode(),
            (rc, err, out))
    rc, gnote, err = run([nc, "sign", key, body])
    T.check("Go signs with the key attest made (NewSigner accepts it), byte-identical note", rc == 0
            and gnote == note, (rc, err, gnote, note))
    rc, out, err = run([attest, "note", "verify", "--key", pub, c_note])
    T.check("attest note verify: own note -> 0, prints the body", rc == 0 and out == BODY.encode(), (rc, err))
    return note


def go_to_c(T, attest, nc, tmp):
    rc, out, err = run([nc, "keygen", "go.example/log"])
    lines = out.decode().splitlines()
    T.check("Go note.GenerateKey -> signer and verifier texts", rc == 0 and len(lines) == 2, (rc, err))
    if len(lines) != 2:
        return None
    gkey = write(os.path.join(tmp, "go.key"), lines[0] + "\n", 0o600)
    gpub = write(os.path.join(tmp, "go.pub"), lines[1] + "\n")
    body = os.path.join(tmp, "body")
    rc, gnote, err = run([nc, "sign", gkey, body])
    T.check("Go signs the checkpoint body", rc == 0, err)
    g_note = write(os.path.join(tmp, "go.note"), gnote)
    rc, out, err = run([attest, "note", "verify", "--key", gpub, g_note])
    T.check("Go-signed note verifies with attest note verify (Go's verifier key parses)", rc == 0
            and out == BODY.encode(), (rc, err))
    rc, cnote, err = run([attest, "note", "sign", "--key", gkey, body])
    T.check("attest signs with Go's signer key, byte-identical to Go's note", rc == 0 and cnote == gnote,
            (rc, err))
    return gkey, gpub, gnote


def cosigned(T, attest, nc, tmp, pub, gpub, c_note, g_note):
    both = c_note + g_note[len(BODY) + 1:]
    path = write(os.path.join(tmp, "both.note"), both)
    for who, key in (("attest's", pub), ("Go's", gpub)):
        rc, out, err = run([attest, "note", "verify", "--key", key, path])
        T.check("cosigned note: attest verifies it with %s key" % who, rc == 0 and out == BODY.encode(), (rc, err))
        rc, out, err = run([nc, "verify", key, path])
        T.check("cosigned note: Go verifies it with %s key" % who, rc == 0 and out == BODY.encode(), (rc, err))


def tampered(T, attest, nc, tmp, key, pub, gpub, c_note):
    flip_body = c_note.replace(b"\n1234\n", b"\n1235\n")
    sig_at = c_note.rindex(b" ") + 10
    flip_sig = c_note[:sig_at] + (b"A" if c_note[sig_at:sig_at + 1] != b"A" else b"B") + c_note[sig_at + 1:]
    cases = [("a body byte flipped", pub, flip_body), ("a signature byte flipped", pub, flip_sig),
             ("verified with another key", gpub, c_note), ("no blank line", pub, c_note.replace(b"\n\n", b"\n"))]
    for what, vkey, data in cases:
        path = write(os.path.join(tmp, "bad.note"), data)
        rc, out, err = run([attest, "note", "verify", "--key", vkey, path])
        T.check("tampered (%s): attest note verify -> 1" % what, rc == 1 and out == b"", (rc, err))
        rc, out, err = run([nc, "verify", vkey, path])
        T.check("tampered (%s): Go refuses it" % what, rc == 1 and out == b"", (rc, err))
    os.chmod(key, 0o644)
    rc, out, err = run([attest, "note", "sign", "--key", key, os.path.join(tmp, "body")])
    T.check("a signer key readable by others is refused", rc == 1 and "0600" in err and out == b"", (rc, err))
    os.chmod(key, 0o600)


def newest_checkpoint(log_dir):
    """(size, signed note) of the newest checkpoint in the log (store/logdb.h: u64 BE size -> note)."""
    env = lmdb.open(log_dir, readonly=True, lock=True, max_dbs=8, subdir=True, map_size=1 << 36, create=False)
    try:
        db = env.open_db(b"checkpoints", create=False)
        with env.begin(buffers=False) as txn:
            cur = txn.cursor(db=db)
            if not cur.last():
                return None, None
            return struct.unpack(">Q", cur.key())[0], bytes(cur.value())
    finally:
        env.close()


def sink_checkpoint(T, bindir, attest, nc, tmp):
    n = 300
    with C.Cluster(bindir) as cl:
        cl.start(workers=1)
        b = C.Bench(bindir, ["--broker", cl.frontend, "--log-dir", cl.log_dir, "--n", str(n), "--producers", "1"],
                    cl.tmp)
        T.check("sink: %d attestations committed" % n, b.wait(120) == 0, b.output()[-300:])
        deadline, size, note = time.time() + 30, None, None
        while time.time() < deadline and size != n:
            size, note = newest_checkpoint(cl.log_dir)
            time.sleep(0.2)
        T.check("sink: the newest checkpoint covers all %d entries" % n, size == n, size)
        cl.stop_and_check(T)
        if not note:
            return
        path = write(os.path.join(tmp, "sink.note"), note)
        rc, gbody, err = run([nc, "verify", cl.log_pub, path])
        T.check("sink: Go's note.Open verifies the sink's checkpoint", rc == 0, (rc, err, note[:300]))
        rc, cbody, err = run([attest, "note", "verify", "--key", cl.log_pub, path])
        T.check("sink: attest note verify agrees, same body", rc == 0 and cbody == gbody, (rc, err))
        lines = gbody.decode().split("\n")
        T.check("sink: the body is origin, size %d, 32-byte root, time line" % n, len(lines) >= 5
                and lines[1] == str(n) and len(base64.b64decode(lines[2])) == 32 and lines[3].startswith("time ")
                and abs(int(lines[3][5:]) - time.time()) < 600, lines)
        bad = write(os.path.join(tmp, "sink-bad.note"), note.replace(b"\n%d\n" % n, b"\n%d\n" % (n + 1), 1))
        rc_go = run([nc, "verify", cl.log_pub, bad])[0]
        rc_c = run([attest, "note", "verify", "--key", cl.log_pub, bad])[0]
        T.check("sink: its checkpoint with the size changed fails both", rc_go == 1 and rc_c == 1, (rc_go, rc_c))


def body(args, T):
    attest = os.path.join(args.bin, "attest")
    tmp = tempfile.mkdtemp(prefix="attest-it-note-")
    try:
        nc = build_notecheck(T, tmp)
        if not nc:
            if not T.failed:
                raise SystemExit(SKIPPED)
            return
        key, pub = keys(T, attest, tmp)
        c_note = c_to_go(T, attest, nc, tmp, key, pub)
        got = go_to_c(T, attest, nc, tmp)
        if got:
            cosigned(T, attest, nc, tmp, pub, got[1], c_note, got[2])
            tampered(T, attest, nc, tmp, key, pub, got[1], c_note)
        sink_checkpoint(T, args.bin, attest, nc, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(C.main_wrapper("test_note_go", body))
