"""cluster.py: shared helpers for the integration tests that drive the real
executables (attest-broker, attest-sink, attest-worker, attest) on loopback.

    t = Checks("slow_worker")                       # check()/done() with the summary line
    with Cluster(bindir, window=1024) as c:          # temp dir, removed at the end
        c.start_broker(); c.start_sink(); c.start_worker("w1", threads=1)
        p = Producer(c.frontend, "p1"); p.hello()
        ...
        log = read_log(c.log_dir)                    # readonly, lock=True: safe while the sink runs
        t.check_log(log)                             # contiguous, hash chain, head, ids unique
    sys.exit(t.done())

Every process started here is stopped (SIGTERM, then SIGKILL after a grace
period) when the Cluster is closed, and at interpreter exit (atexit) in case
a test dies with an exception. Needs Debian's /usr/bin/python3 with
python3-zmq, python3-msgpack, python3-nacl and python3-lmdb.
"""
import atexit
import os
import re
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
import zmq.auth

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import logfixture as lf  # noqa: E402

# Message types (proto/wire.h).
HELLO, WELCOME, SUBMIT, CREDIT, ACK, REFUSE, PING, PONG, ERROR, BYE = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
REVOKE, RELEASE = 11, 12
READY, TASKS, DONE, HEARTBEAT, LEAVE, LEAVE_OK, BLOCKED = 20, 21, 22, 23, 24, 25, 26
SINK_HELLO, SINK_WELCOME, COMMITTED, GAP, VERDICTS = 30, 31, 32, 35, 40

# Reason codes (proto/at_err.h).
E = {"ok": 0, "msgpack": 1, "trailing": 2, "shape": 3, "type": 4, "version": 5, "oversize": 6, "range": 7,
     "signature": 8, "not_yet_valid": 9, "expired": 10, "unknown_type": 11, "frames": 12, "no_credit": 13,
     "protocol": 14, "busy": 15, "timeout": 16, "duplicate": 22, "denied": 26}

ENTRY_KEYS = ["format", "index", "seq", "prev_hash", "id", "verdict", "reason", "producer", "cseq", "worker",
              "t_received", "t_dispatched", "t_verified", "t_committed", "att", "producer_key", "worker_key",
              "epoch"]
ZERO32 = bytes(32)

_LIVE = set()          # every Proc not yet reaped, for the atexit hook
# endpoint -> (public, secret, server public) of the default client key for
# that endpoint (registered by a CURVE Cluster); Producer and curve_socket()
# use it, so protocol-speaking tests run with CURVE without knowing it.
_CURVE = {}
# frontend endpoint -> the flags of `attest bench --broker` / `attest submit` for it
_CLIENT_ARGS = {}


def load_cert(path):
    """(public, secret) Z85 bytes of a zcert file (secret None for a public one)."""
    return zmq.auth.load_certificate(path)


def keygen(bindir, path):
    """attest keygen --curve --out path; returns the public key (Z85 bytes)."""
    p = subprocess.run([os.path.join(bindir, "attest"), "keygen", "--curve", "--out", path], capture_output=True,
                       text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("attest keygen --curve failed: " + p.stderr)
    return p.stdout.strip().encode()


def curve_socket(sock, endpoint=None, keys=None):
    """Makes sock a CURVE client: keys = (public, secret, server public), or
    the default client key registered for endpoint. No-op in plaintext."""
    if keys is None:
        keys = _CURVE.get(endpoint)
    if keys:
        sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = keys
    return sock


def scale():
    """ATTEST_TEST_SCALE (default 1.0): multiplies the sizes of the big runs."""
    try:
        return max(0.01, float(os.environ.get("ATTEST_TEST_SCALE", "1.0")))
    except ValueError:
        return 1.0


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick:
    tests running at once do not collide)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_run(n):
    """A port P with P..P+n-1 all free on 127.0.0.1 a moment ago, taken below
    the kernel's ephemeral range (net.ipv4.ip_local_port_range): a run of
    fixed ports inside it can be taken meanwhile by any outgoing connection's
    local port (seen in CI: a worker's --metrics port PORT+i in use). None
    when no such run is found."""
    import random
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        base = random.randrange(10000, max(10001, low - n))
        socks = []
        try:
            for i in range(n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            pass
        finally:
            for s in socks:
                s.close()
    return None


def wait_port(port, timeout=20.0, proc=None):
    """True once a TCP connect to 127.0.0.1:port succeeds."""
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and not proc.alive():
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def is_asan(path):
    """True when the executable is built with AddressSanitizer (slower, more memory)."""
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def vm_rss_kb(pid):
    """Current VmRSS of a process in kB (None if it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Checks:
    """Named checks, printed as they run; done() prints 'N passed, M failed'
    and returns the exit status: 1 when a check failed or when no check ran
    at all (a test that asserted nothing has not passed)."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = []
        self.t0 = time.time()

    def say(self, text):
        print("[%6.1fs] %s" % (time.time() - self.t0, text), flush=True)

    def check(self, what, cond, detail=""):
        if cond:
            self.passed += 1
            print("ok   %s" % what, flush=True)
        else:
            self.failed.append(what)
            print("FAIL %s%s" % (what, (": " + str(detail)) if detail != "" else ""), flush=True)
        return bool(cond)

    def skip(self, what, reason):
        print("SKIP %s: %s" % (what, reason), flush=True)

    def check_log(self, log, prefix="log"):
        """The structural invariants of logdb.h."""
        problems = log_problems(log)
        self.check("%s: %d entries, indices contiguous from 0, hash chain, head, ids unique"
                   % (prefix, len(log.entries)), not problems, "; ".join(problems[:5]))
        return not problems

    def done(self):
        print("%s: %.1f s" % (self.name, time.time() - self.t0))
        if self.passed + len(self.failed) == 0:
            self.failed.append("at least one check ran")
            print("FAIL %s: no check ran" % self.name, flush=True)
        print("%d passed, %d failed" % (self.passed, len(self.failed)), flush=True)
        return 1 if self.failed else 0


def main_wrapper(name, body, checks=None):
    """Runs body(args, checks) with --bin parsed; an exception counts as a
    failure. checks: a Checks made earlier (e.g. at module level, for tests
    whose helpers call it directly); a new one by default."""
    import argparse
    import traceback
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    t = checks if checks is not None else Checks(name)

    def on_signal(signum, frame):      # SIGTERM/SIGINT: unwind so finally/atexit stop the children
        raise SystemExit("%s: stopped by signal %d" % (name, signum))
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        body(args, t)
    except Exception:
        traceback.print_exc()
        t.check("no exception in the test body", False)
    finally:
        stop_all()
    return t.done()


# ---------------------------------------------------------------- processes

class Proc:
    """One child process with stderr in a file."""

    def __init__(self, name, argv, errpath, env=None):
        self.name, self.argv, self.errpath = name, argv, errpath
        self.err = open(errpath, "ab")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.err, stderr=self.err,
                                  start_new_session=True, env=env)
        self.pid = self.p.pid
        self.peak_rss_kb = 0
        _LIVE.add(self)

    def alive(self):
        return self.p.poll() is None

    def returncode(self):
        return self.p.poll()

    def sample_rss(self):
        kb = vm_rss_kb(self.pid) if self.alive() else None
        if kb and kb > self.peak_rss_kb:
            self.peak_rss_kb = kb
        return kb

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, grace=10.0):
        """Signal, wait up to grace seconds, then SIGKILL. Returns the exit code
        (negative: killed by that signal)."""
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            if self.wait(grace) is None:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait()
        _LIVE.discard(self)
        if not self.err.closed:
            self.err.close()
        return self.p.returncode

    def stderr_text(self):
        try:
            with open(self.errpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def stop_all():
    for p in list(_LIVE):
        try:
            p.stop(grace=5.0)
        except Exception:
            pass


atexit.register(stop_all)


# The broker's pipeline-window flag (its old name --window is an alias for one release).
BROKER_WINDOW_FLAG = "--pipeline-window"


class Cluster:
    """Broker, sink and workers on loopback, in a temporary directory."""

    def __init__(self, bindir, window=None, keep=False, asan_quarantine_mb=None, secure=True):
        """asan_quarantine_mb: for AddressSanitizer builds, the children's
        quarantine of freed memory (ASan's default of 256 MB shows up in
        VmRSS of any process that allocates and frees a lot).
        secure: CURVE on every link (keys made in tmp/keys by attest keygen
        --curve: broker, sink, worker, producer, and the allowlist directories
        producers/, workers/, sinks/); False: every process --insecure."""
        self.bindir = bindir
        self.env = None
        self.window = window
        self.keep = keep or os.environ.get("ATTEST_TEST_KEEP") == "1"
        self.tmp = tempfile.mkdtemp(prefix="attest-it-")
        self.log_dir = os.path.join(self.tmp, "log")
        self.fport, self.bport, self.sport = free_port(), free_port(), free_port()
        self.frontend = "tcp://127.0.0.1:%d" % self.fport
        self.backend = "tcp://127.0.0.1:%d" % self.bport
        self.sink_ep = "tcp://127.0.0.1:%d" % self.sport
        self.broker = None
        self.sink = None
        self.workers = []
        self.nsinks = 0
        self.secure = secure
        self.keys = os.path.join(self.tmp, "keys")
        if secure:
            self._make_keys()
        self.log_key = os.path.join(self.keys, "log")   # log.key (the sink signs checkpoints), log.pub
        os.makedirs(self.keys, exist_ok=True)
        p = subprocess.run([self.exe("attest"), "keygen", "--log", "--out", self.log_key], capture_output=True,
                           text=True)
        if p.returncode != 0:
            raise RuntimeError("attest keygen --log failed: " + p.stderr)
        self.log_pub = self.log_key + ".pub"
        _CLIENT_ARGS[self.frontend] = self.client_args()
        self.asan = is_asan(self.exe("attest-broker"))
        if self.asan and asan_quarantine_mb is not None:
            self.env = dict(os.environ)
            opts = self.env.get("ASAN_OPTIONS", "")
            self.env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=%d" % asan_quarantine_mb
        atexit.register(self.close)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def exe(self, name):
        return os.path.join(self.bindir, name)

    def _make_keys(self):
        os.makedirs(self.keys, exist_ok=True)
        for d in ("producers", "workers", "sinks"):
            os.makedirs(os.path.join(self.keys, d), exist_ok=True)
        for name, allow in (("broker", None), ("sink", "sinks"), ("worker", "workers"), ("producer", "producers")):
            self.add_key(name, allow)
        _CURVE[self.frontend] = self.client_keys("producer")
        _CURVE[self.backend] = self.client_keys("worker")
        _CURVE[self.sink_ep] = self.client_keys("worker", server="sink")

    def key(self, name):
        return os.path.join(self.keys, name)

    def pub(self, name):
        return load_cert(self.key(name))[0]

    def add_key(self, name, allow=None):
        """Makes keys/NAME (+ _secret) and, if allow names an allowlist
        (producers, workers, sinks), puts the public certificate in it."""
        keygen(self.bindir, self.key(name))
        if allow:
            shutil.copy(self.key(name), os.path.join(self.keys, allow, name))

    def disallow(self, name, allow):
        os.unlink(os.path.join(self.keys, allow, name))

    def client_keys(self, name, server="broker"):
        """(public, secret, server public) for a pyzmq CURVE client."""
        pub, sec = load_cert(self.key(name) + "_secret")
        return (pub, sec, self.pub(server))

    def key_args(self, role, name=None):
        """The CURVE flags of a daemon (role broker, sink, worker; name: the
        key pair to use, default the role's)."""
        if not self.secure:
            return ["--insecure"]
        k, name = self.key, name or role
        if role == "broker":
            return ["--curve-secret", k(name) + "_secret", "--allow-producers", k("producers"),
                    "--allow-workers", k("workers"), "--allow-sink", k("sinks")]
        if role == "sink":
            return ["--curve-secret", k(name) + "_secret", "--broker-key", k("broker"), "--allow-workers", k("workers")]
        return ["--curve-secret", k(name) + "_secret", "--broker-key", k("broker"), "--sink-key", k("sink")]

    def client_args(self, name="producer"):
        """The flags of attest submit / bench --broker for this cluster."""
        if not self.secure:
            return ["--insecure"]
        return ["--curve-secret", self.key(name) + "_secret", "--broker-key", self.key("broker")]

    def _win(self, name="--pipeline-window"):
        return [name, str(self.window)] if self.window else []

    def start_broker(self, extra=()):
        argv = [self.exe("attest-broker"), "--frontend", self.frontend, "--backend", self.backend] + self._win(BROKER_WINDOW_FLAG) \
            + self.key_args("broker")
        self.broker = Proc("broker", argv + list(extra), os.path.join(self.tmp, "broker.err"), self.env)
        ok = wait_port(self.bport, proc=self.broker) and wait_port(self.fport, proc=self.broker)
        if not ok:
            raise RuntimeError("broker did not start:\n" + self.broker.stderr_text())
        return self.broker

    def sink_argv(self, extra=()):
        return [self.exe("attest-sink"), "--log-dir", self.log_dir, "--verdicts", self.sink_ep,
                "--broker", self.backend, "--log-key", self.log_key + ".key"] + self._win() + self.key_args("sink") \
            + list(extra)

    def start_sink(self, extra=()):
        self.nsinks += 1
        self.sink = Proc("sink", self.sink_argv(extra), os.path.join(self.tmp, "sink.err"), self.env)
        if not wait_port(self.sport, proc=self.sink):
            raise RuntimeError("sink did not start:\n" + self.sink.stderr_text())
        return self.sink

    def start_worker(self, wid, threads=1, extra=(), key=None):
        """key: the key pair to use (keys/KEY, made with add_key), default "worker"."""
        argv = [self.exe("attest-worker"), "--broker", self.backend, "--sink", self.sink_ep,
                "--threads", str(threads), "--id", wid] + self.key_args("worker", key) + list(extra)
        w = Proc("worker-" + wid, argv, os.path.join(self.tmp, "worker-%s.err" % wid.replace("/", "_")), self.env)
        self.workers.append(w)
        return w

    def start(self, workers=1, threads=1, worker_extra=()):
        self.start_broker()
        self.start_sink()
        for i in range(workers):
            self.start_worker("w%d" % i, threads, worker_extra)
        return self

    def procs(self):
        return [p for p in [self.broker, self.sink] + self.workers if p is not None]

    def attest(self, *args, timeout=120, stdin=None):
        """Runs the attest tool; returns (rc, stdout, stderr)."""
        p = subprocess.run([self.exe("attest")] + list(args), input=stdin, capture_output=True, text=True,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def stop(self):
        """Workers first, then the sink, then the broker (as cluster_stop)."""
        codes = {}
        for w in self.workers:
            codes[w.name] = w.stop()
        if self.sink:
            codes["sink"] = self.sink.stop()
        if self.broker:
            codes["broker"] = self.broker.stop()
        return codes

    def sanitizer_reports(self):
        """Sanitizer reports in any process log under the temp dir (ours and
        those `attest bench` writes to its data dir)."""
        found = []
        for root, _, files in os.walk(self.tmp):
            for f in files:
                if f.endswith((".err", ".log", ".out")):
                    try:
                        with open(os.path.join(root, f), "rb") as fh:
                            text = fh.read().decode("utf-8", "replace")
                    except OSError:
                        continue
                    for marker in ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "ThreadSanitizer",
                                   "runtime error:"):
                        if marker in text:
                            found.append("%s: %s" % (f, marker))
        return found

    def stop_and_check(self, t):
        """Stops everything (SIGTERM) and checks that each process exited 0
        and that no sanitizer reported anything."""
        codes = self.stop()
        t.check("every process exits 0 on SIGTERM", all(v == 0 for v in codes.values()), codes)
        reports = self.sanitizer_reports()
        t.check("no sanitizer reports in the process logs", not reports, reports)

    def finish(self, t, label):
        """The end of a fault run: every process still alive (none died on its
        own), the logs shown if anything failed, then stop_and_check."""
        alive = {x.name: x.alive() for x in self.procs()}
        t.check("%s: every process alive at the end" % label, all(alive.values()), alive)
        if t.failed:
            self.dump_stderr()
        self.stop_and_check(t)

    def dump_stderr(self, limit=3000):
        for p in self.procs():
            text = p.stderr_text()
            print("---- %s stderr (last %d chars) ----\n%s" % (p.name, limit, text[-limit:]))

    def close(self):
        try:
            self.stop()
        finally:
            if self.tmp and os.path.isdir(self.tmp):
                if self.keep:
                    print("cluster: kept %s" % self.tmp)
                else:
                    shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- the log

class Log:
    def __init__(self, entries, raws, ids, meta):
        self.entries = entries     # list of dicts (ENTRY_KEYS), in key order
        self.raws = raws           # stored value bytes, same order
        self.keys = [e["_key"] for e in entries]
        self.ids = ids             # id -> index (the "ids" db)
        self.meta = meta           # name -> raw bytes

    def by_id(self):
        return {e["id"]: e for e in self.entries}


def read_log(path):
    """Reads the whole log in one read transaction. Opens readonly WITH the
    lock file, so it is safe while the sink writes; the environment is opened
    and closed here (LMDB must not be opened twice in one process)."""
    env = lmdb.open(path, readonly=True, lock=True, max_dbs=4, subdir=True, map_size=1 << 36, create=False)
    try:
        dbe, dbi, dbm = (env.open_db(n, create=False) for n in (b"entries", b"ids", b"meta"))
        entries, raws, ids, meta = [], [], {}, {}
        with env.begin(buffers=False) as txn:
            for k, v in txn.cursor(db=dbe):
                f = msgpack.unpackb(v, raw=False)
                e = dict(zip(ENTRY_KEYS, f))
                e["_fields"] = len(f)
                e["_key"] = struct.unpack(">Q", k)[0] if len(k) == 8 else -1
                entries.append(e)
                raws.append(bytes(v))
            for k, v in txn.cursor(db=dbi):
                ids[bytes(k)] = struct.unpack(">Q", v)[0] if len(v) == 8 else -1
            for k, v in txn.cursor(db=dbm):
                meta[bytes(k)] = bytes(v)
    finally:
        env.close()
    return Log(entries, raws, ids, meta)


def log_count(path):
    """Number of entries now in the log (0 when there is no log yet)."""
    if not os.path.exists(os.path.join(path, "data.mdb")):
        return 0
    try:
        env = lmdb.open(path, readonly=True, lock=True, max_dbs=4, subdir=True, map_size=1 << 36, create=False)
    except lmdb.Error:
        return 0
    try:
        dbe = env.open_db(b"entries", create=False)
        with env.begin() as txn:
            return txn.stat(dbe)["entries"]
    except lmdb.Error:
        return 0
    finally:
        env.close()


def meta_u64(log, key, default=None):
    v = log.meta.get(key)
    return struct.unpack(">Q", v)[0] if v is not None and len(v) == 8 else default


def ids_upto(log):
    """Entries below this index have their id in the "ids" db (logdb.h)."""
    return meta_u64(log, b"ids_upto", 0)


def log_problems(log):
    """Returns a list of violated invariants (empty when the log is sound)."""
    bad = []
    prev = ZERO32
    # "ids" must cover the entries below meta "ids_upto" (0 when absent), at
    # the latest entry with each id;
    # later ids may be missing (found by reading their entries), and every
    # key it has must point at the entry with that id.
    upto = ids_upto(log)
    seen = {}
    for i, (e, raw) in enumerate(zip(log.entries, log.raws)):
        if e["_key"] != i or e["index"] != i:
            bad.append("entry %d: key %d index %s (not contiguous)" % (i, e["_key"], e["index"]))
        if {1: 15, 2: 17, 3: 18}.get(e["format"]) != e["_fields"]:   # protocol.md 12
            bad.append("entry %d: format %r" % (i, e["format"]))
        if e["prev_hash"] != prev:
            bad.append("entry %d: prev_hash does not match the hash of entry %d" % (i, i - 1))
        # The id claim rule (protocol.md 12): only a valid entry claims its
        # id; invalid copies may repeat, but never after the valid one.
        if e["id"] in seen:
            bad.append("entry %d: %s, but a valid entry with its id is at index %d"
                       % (i, "two valid entries" if e["verdict"] == 0 else "an invalid copy", seen[e["id"]]))
        if e["verdict"] == 0:
            seen[e["id"]] = i
        if (i < upto or e["id"] in log.ids) and (log.ids.get(e["id"]) != i if e["verdict"] == 0
                                                 else log.ids.get(e["id"], -1) < i):
            bad.append("entry %d: ids db maps its id to %r" % (i, log.ids.get(e["id"])))
        if e["verdict"] not in (0, 1) or (e["verdict"] == 0) != (e["reason"] == 0):
            bad.append("entry %d: verdict %r with reason %r" % (i, e["verdict"], e["reason"]))
        prev = lf.blake2b32(raw)
    for k, idx in log.ids.items():
        if not (0 <= idx < len(log.entries)) or log.entries[idx]["id"] != k:
            bad.append("ids db maps %s to %d, which is not that entry" % (k.hex()[:16], idx))
            break
    if upto > len(log.entries):
        bad.append("meta ids_upto %d beyond %d entries" % (upto, len(log.entries)))
    head = log.meta.get(b"head")
    if log.entries and head != prev:
        bad.append("meta head %s != hash of the last entry %s" % (head and head.hex(), prev.hex()))
    ni = log.meta.get(b"next_index")
    if ni is not None and struct.unpack(">Q", ni)[0] != len(log.entries):
        bad.append("meta next_index %d != %d entries" % (struct.unpack(">Q", ni)[0], len(log.entries)))
    seqs = [e["seq"] for e in log.entries]
    if any(b <= a for a, b in zip(seqs, seqs[1:])):
        bad.append("seq not strictly increasing with index")
    nseq = log.meta.get(b"next_seq")
    if nseq is not None and seqs and struct.unpack(">Q", nseq)[0] <= seqs[-1]:
        bad.append("meta next_seq %d not beyond the last seq %d" % (struct.unpack(">Q", nseq)[0], seqs[-1]))
    return bad


def judge_entry(e, skew=lf.SKEW):
    """Fresh judgement of a stored attestation at the time it was verified:
    (reason, id) as attestation_judge gives them (Ed25519 via python3-nacl)."""
    return lf.judge(e["att"], e["t_verified"] // 1000000, skew)


# ---------------------------------------------------------------- a producer

def scrape(port, timeout=5.0):
    """The samples of http://127.0.0.1:PORT/metrics as {"name{labels}": value}
    (None when it cannot be read)."""
    import urllib.request
    out = {}
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=timeout) as r:
            for line in r.read().decode().splitlines():
                if line and not line.startswith("#"):
                    name, _, value = line.rpartition(" ")
                    out[name] = float(value)
    except OSError:
        return None
    return out


def pack(*fields):
    return msgpack.packb([1] + list(fields), use_bin_type=True)


def unpack(frame):
    return msgpack.unpackb(frame, raw=False)


class Producer:
    """A minimal producer speaking the frontend protocol on a DEALER socket,
    with exact control over what is sent. It keeps the books: credit held,
    sent, acked, refused, and the largest number ever outstanding."""

    def __init__(self, endpoint, name, ctx=None, release=True, curve=None):
        """release: answer REVOKE with RELEASE of the unspent credit, as a
        conforming producer does (False: ignore REVOKE). curve: (public,
        secret, server public) for CURVE, default the key the cluster of
        that endpoint registered (plaintext if none)."""
        self.release = release
        self.revoked = []         # amounts asked back by REVOKE
        self.released = 0         # credit given back by RELEASE
        self.ctx = ctx or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        curve_socket(self.sock, endpoint, curve)
        self.sock.connect(endpoint)
        self.name = name
        self.credit = 0
        self.granted = 0          # total credit ever received
        self.max_batch = 1
        self.sent = 0
        self.acks = {}            # cseq -> [cseq, index, verdict, reason, duplicate]
        self.refusals = {}        # cseq -> reason (0-cseq refusals are counted in refused0)
        self.refused0 = 0
        self.errors = []          # ERROR messages [reason, text]
        self.other = []           # anything else received
        self.max_outstanding = 0
        self.max_held = 0         # max of credit + outstanding

    def send_raw(self, frame):
        self.sock.send(frame)

    def hello(self, timeout=20.0, instance=None):
        """instance: 16 bytes for HELLO's optional instance field (protocol.md 5.1)."""
        self.sock.send(pack(HELLO, self.name, instance) if instance is not None else pack(HELLO, self.name))
        end = time.time() + timeout
        while time.time() < end:
            m = self.recv(0.2)
            if m and m[1] == WELCOME:
                return True
        return False

    def outstanding(self):
        return self.sent - len(self.acks) - len(self.refusals) - self.refused0

    def _note(self):
        o = self.outstanding()
        self.max_outstanding = max(self.max_outstanding, o)
        self.max_held = max(self.max_held, o + self.credit)

    def handle(self, m):
        t = m[1] if isinstance(m, list) and len(m) > 1 else None
        if t == WELCOME:
            self.credit += m[2]
            self.granted += m[2]
            self.max_batch = m[3]
        elif t == CREDIT:
            self.credit += m[2]
            self.granted += m[2]
        elif t == ACK:
            for r in m[2]:
                self.acks[r[0]] = r
        elif t == REFUSE:
            for cseq, reason in m[2]:
                if cseq == 0:
                    self.refused0 += 1
                else:
                    self.refusals[cseq] = reason
                self.credit += 1      # a refusal returns its credit
        elif t == ERROR:
            self.errors.append(m[2:])
        elif t == REVOKE:
            self.revoked.append(m[2])
            if self.release:
                give = max(0, min(m[2], self.credit))
                self.credit -= give
                self.released += give
                self.sock.send(pack(RELEASE, give))
        else:
            self.other.append(m)
        self._note()

    def recv(self, timeout=1.0):
        """Receives and books one message; None after timeout seconds."""
        if not self.sock.poll(int(timeout * 1000)):
            return None
        frames = self.sock.recv_multipart()
        m = unpack(frames[-1]) if len(frames) == 1 else ["multipart", frames]
        self.handle(m)
        return m

    def drain(self, timeout=0.0):
        n = 0
        while self.recv(timeout) is not None:
            n += 1
            timeout = 0.0
        return n

    def submit(self, items):
        """Sends one SUBMIT of [(cseq, att_bytes), ...] whatever the credit."""
        self.sock.send(pack(SUBMIT, [[c, a] for c, a in items]))
        self.sent += len(items)
        self.credit -= len(items)
        self._note()

    def wait_outcomes(self, cseqs, timeout=120.0):
        """Waits until every cseq has an ACK or a REFUSE; True if all did."""
        want = set(cseqs)
        end = time.time() + timeout
        while time.time() < end:
            if all(c in self.acks or c in self.refusals for c in want):
                return True
            self.recv(0.2)
        return all(c in self.acks or c in self.refusals for c in want)

    def submit_all(self, atts, first_cseq=1, timeout=300.0, on_wait=None):
        """Submits every attestation within credit (batches of max_batch),
        waiting for credit when it runs out; returns the cseqs used."""
        cseqs = list(range(first_cseq, first_cseq + len(atts)))
        i = 0
        end = time.time() + timeout
        while i < len(atts) and time.time() < end:
            self.drain(0.0)
            if self.credit <= 0:
                if on_wait:
                    on_wait()
                self.recv(0.2)
                continue
            n = min(self.credit, self.max_batch, len(atts) - i)
            self.submit([(cseqs[i + k], atts[i + k]) for k in range(n)])
            i += n
        self.wait_outcomes(cseqs, max(1.0, end - time.time()))
        return cseqs

    def bye(self):
        self.sock.send(pack(BYE))

    def close(self):
        """Says BYE when welcomed (so the broker reclaims the unspent credit
        at once instead of after producer-timeout-ms), then closes."""
        if self.granted or self.max_batch > 1:
            self.bye()
            self.sock.close(1000)
        else:
            self.sock.close(0)


def expect_error(sock, timeout=5.0):
    """Receives until an ERROR arrives on sock; returns [reason, text] or None."""
    end = time.time() + timeout
    while time.time() < end:
        if not sock.poll(100):
            continue
        frames = sock.recv_multipart()
        try:
            m = unpack(frames[-1])
        except Exception:
            continue
        if isinstance(m, list) and len(m) >= 4 and m[1] == ERROR:
            return m[2:]
    return None


# ---------------------------------------------------------------- bench

BENCH_RE = re.compile(r"^bench: n=(\d+) committed=(\d+) valid=(\d+) invalid=(\d+) lost=(\d+) dup=(\d+) "
                      r"order=(\S+) rate=(\d+)/s", re.M)


def parse_bench(text):
    """The numbers of the `bench: ...` line as a dict, or None."""
    m = BENCH_RE.search(text)
    if not m:
        return None
    keys = ["n", "committed", "valid", "invalid", "lost", "dup", "order", "rate"]
    out = dict(zip(keys, m.groups()))
    for k in keys:
        if k != "order":
            out[k] = int(out[k])
    out["line"] = text[m.start():text.find("\n", m.start()) if "\n" in text[m.start():] else len(text)]
    return out


class Bench:
    """`attest bench` as a child process (its own session; killed on exit)."""

    def __init__(self, bindir, args, outdir):
        self.out_path = os.path.join(outdir, "bench.out")
        args = list(args)
        if "--broker" in args:     # a running cluster: its producer key (or --insecure)
            args += _CLIENT_ARGS.get(args[args.index("--broker") + 1], [])
        self.proc = Proc("bench", [os.path.join(bindir, "attest"), "bench", "--progress", "false"] + args,
                         self.out_path)

    def wait(self, timeout):
        rc = self.proc.wait(timeout)
        if rc is None:
            self.proc.stop(grace=2.0)
            rc = None
        else:
            self.proc.stop()
        return rc

    def output(self):
        return self.proc.stderr_text()
