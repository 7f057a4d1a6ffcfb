"""test_go_interop.py: Attest's checkpoints, tiles and proofs verified by
code nobody here wrote: Go's golang.org/x/mod/sumdb/note and sumdb/tlog,
through tests/go/tlogcheck (issue 9, "Interoperability").

A cluster whose sink signs checkpoints; 3000 attestations (partial tiles at
levels 0 and 1), the checkpoint saved, 2000 more. Then tlogcheck, given the
log's public key, the newest checkpoint and the tiles and entry bundles
(exported from LMDB in the C2SP layout, and served by `attest log serve`
when that exists), checks: the checkpoint's signature (note.Open), the tree
hash from the tiles, Go's own inclusion proofs (tlog.ProveRecord /
CheckRecord) of sampled entries and every tile and entry (-full), our
`attest log prove --json` and `--format c2sp` proofs (tlog.CheckRecord),
and consistency with the saved checkpoint, Go's (tlog.ProveTree) and ours
(`attest log consistency --json`, tlog.CheckTree). Then a stored tile, an
entry and the checkpoint are tampered with, each in a copy of the log
(python3-lmdb): `attest log verify` and tlogcheck must both fail.

Skips (exit 77) when go or Debian's golang-golang-x-mod-dev is missing.
Usage: /usr/bin/python3 test_go_interop.py --bin BUILD/bin
"""
import json
import os
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import test_log_prove as tp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GO_SRC = os.path.join(HERE, "..", "go", "tlogcheck", "main.go")
GOPATH = "/usr/share/gocode"
N_OLD, N_NEW = 3000, 2000
SKIP = 77


def go_missing():
    if shutil.which("go") is None:
        return "go is not installed (Debian: golang-go)"
    if not os.path.isdir(os.path.join(GOPATH, "src", "golang.org", "x", "mod", "sumdb", "tlog")):
        return "golang.org/x/mod/sumdb is not in %s (Debian: golang-golang-x-mod-dev)" % GOPATH
    return None


def build_tlogcheck(t, tmp):
    exe = os.path.join(tmp, "tlogcheck")
    env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOCACHE=os.path.join(tmp, "gocache"),
               GOFLAGS="", HOME=tmp)
    p = subprocess.run(["go", "build", "-o", exe, os.path.abspath(GO_SRC)], capture_output=True, text=True, env=env,
                       timeout=600)
    t.check("tlogcheck builds (GOPATH mode, no network)", p.returncode == 0, p.stdout + p.stderr)
    return exe if p.returncode == 0 else None


def tlogcheck(exe, vkey, checkpoint, tiles, *extra):
    p = subprocess.run([exe, "-vkey", vkey, "-checkpoint", checkpoint, "-tiles", tiles] + list(extra),
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout + p.stderr


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def our_proofs(t, c, tmp, n):
    """Our proofs for sampled entries, in the files tlogcheck reads."""
    idx = sorted({0, 1, 255, 256, 65, N_OLD - 1, N_OLD, n - 1} | {k * 97 % n for k in range(40)})
    proofs = []
    for i in idx:
        rc, out, err = c.attest("log", "--dir", c.log_dir, "prove", str(i), "--json")
        if rc == 0:
            proofs.append(json.loads(out))
    for i in (5, 1000, N_OLD - 1):
        rc, out, err = c.attest("log", "--dir", c.log_dir, "prove", str(i), "--size", str(N_OLD), "--json")
        if rc == 0:
            proofs.append(json.loads(out))
    t.check("attest log prove --json: %d proofs (%d at size %d)" % (len(proofs), 3, N_OLD),
            len(proofs) == len(idx) + 3)
    c2sp = []
    for i, size in ((7, n), (N_OLD + 17, n), (2500, N_OLD)):
        rc, out, err = c.attest("log", "--dir", c.log_dir, "prove", str(i), "--size", str(size), "--format", "c2sp")
        if t.check("attest log prove %d --size %d --format c2sp" % (i, size), rc == 0, err):
            c2sp.append(write(os.path.join(tmp, "p%d-%d.tlog-proof" % (i, size)), out))
    rc, out, err = c.attest("log", "--dir", c.log_dir, "consistency", str(N_OLD), str(n), "--json")
    t.check("attest log consistency %d %d --json" % (N_OLD, n), rc == 0, err)
    return (["-proofs", write(os.path.join(tmp, "proofs.json"), json.dumps(proofs)),
             "-consistency", write(os.path.join(tmp, "consistency.json"), out), "-c2sp", ",".join(c2sp)])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def check_served(t, c, exe, vkey, cp_path, extra):
    """tlogcheck against `attest log serve` over HTTP, when it exists."""
    rc, out, err = c.attest("log", "serve", "--help")
    if rc != 0:
        t.skip("tlogcheck over HTTP", "no 'attest log serve' in this build")
        return
    port = free_port()
    srv = cl.Proc("serve", [c.exe("attest"), "log", "serve", "--dir", c.log_dir, "--listen", "127.0.0.1:%d" % port],
                  os.path.join(c.tmp, "serve.err"))
    try:
        if not t.check("attest log serve listens", cl.wait_port(port, proc=srv), srv.stderr_text()):
            return
        rc, out = tlogcheck(exe, vkey, cp_path, "http://127.0.0.1:%d" % port, "-full", *extra)
        t.check("tlogcheck over HTTP from attest log serve: all checks pass", rc == 0, out)
    finally:
        srv.stop()


def tampered(t, c, exe, vkey, tmp, name, edit, extra):
    """A copy of the log edited by edit(dir): verify and tlogcheck must fail."""
    d = os.path.join(tmp, name, "log")
    shutil.copytree(c.log_dir, d)
    edit(d)
    rc, out, err = c.attest("log", "--dir", d, "verify", "--log-key", vkey)
    t.check("%s: attest log verify fails" % name, rc == 1 and "FAILED at index" in out, out + err)
    t.say("%s: %s" % (name, (out.strip().splitlines() or ["?"])[-1]))
    exp = os.path.join(tmp, name, "export")
    note = tp.export(d, exp)
    cp = write(os.path.join(tmp, name, "cp.note"), note)
    rc, out = tlogcheck(exe, vkey, cp, exp, "-full", *extra)
    t.check("%s: the Go verifier fails" % name, rc == 1 and "FAIL" in out, out)
    t.say("%s: %s" % (name, "; ".join(x for x in out.splitlines() if x.startswith("FAIL"))[:300]))


def body(args, t):
    why = go_missing()
    if why:
        print("go_interop: skipped: %s" % why, flush=True)
        sys.exit(SKIP)
    c = tp.start_cluster(args.bin, origin="attest.test/go-interop")
    try:
        exe = build_tlogcheck(t, c.tmp)
        t.check("submit %d" % N_OLD, tp.submit(c, tp.make_atts(N_OLD, "a"), "go-a"))
        old = tp.wait_checkpoint(c, N_OLD)
        t.check("checkpoint of size %d saved" % N_OLD, old is not None and "\n%d\n" % N_OLD in old, old)
        old_path = write(os.path.join(c.tmp, "old.note"), old or "")
        t.check("submit %d more" % N_NEW, tp.submit(c, tp.make_atts(N_NEW, "b"), "go-b"))
        t.check("checkpoint of size %d" % (N_OLD + N_NEW), tp.wait_checkpoint(c, N_OLD + N_NEW) is not None)
        codes = c.stop()
        t.check("cluster stopped cleanly", all(v == 0 for v in codes.values()), codes)
        if exe is None:
            return
        n = cl.log_count(c.log_dir)
        vkey = os.path.join(c.keys, "log.pub")
        extra = our_proofs(t, c, c.tmp, n) + ["-old", old_path]
        exp = os.path.join(c.tmp, "export")
        cp_path = write(os.path.join(c.tmp, "cp.note"), tp.export(c.log_dir, exp))
        rc, out = tlogcheck(exe, vkey, cp_path, exp, "-full", *extra)
        print(out, flush=True)
        t.check("tlogcheck: signature, tiles, Go's and our inclusion proofs, C2SP proofs, consistency: all pass",
                rc == 0 and "all checks passed" in out and out.count("ok   ") >= 9, out)
        rc, out, err = c.attest("log", "--dir", c.log_dir, "verify", "--log-key", vkey, "--since", old_path)
        t.check("attest log verify --since the saved checkpoint", rc == 0 and "extends" in out, out + err)
        check_served(t, c, exe, vkey, cp_path, extra)
        raws, tiles, notes = tp.read_tree(c.log_dir)
        tampered(t, c, exe, vkey, c.tmp, "tile", lambda d: tp.put_tile(d, 0, 3, tp.flip(tiles[(0, 3)], 77)), [])
        tampered(t, c, exe, vkey, c.tmp, "level-1-tile",
                 lambda d: tp.put_tile(d, 1, 0, tp.flip(tiles[(1, 0)], 40)), [])

        def edit_entry(d):
            env = tp.open_log(d, write=True)
            db = env.open_db(b"entries", create=False)
            with env.begin(write=True) as txn:
                k = (1234).to_bytes(8, "big")
                v = bytearray(txn.get(k, db=db))
                v[-1] ^= 1      # the value's last byte: still msgpack, another hash
                txn.put(k, bytes(v), db=db)
            env.close()
        tampered(t, c, exe, vkey, c.tmp, "entry", edit_entry, [])

        def edit_cp(d):
            note = notes[max(notes)]
            tp.put_checkpoint(d, max(notes), note.replace("\n%d\n" % n, "\n%d\n" % (n + 1), 1))
        tampered(t, c, exe, vkey, c.tmp, "checkpoint", edit_cp, [])
    finally:
        c.close()


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("go_interop", body))
