"""test_curve.py: CurveZMQ and the ZAP allowlists on every link (issue 8).

Real executables on loopback, CURVE on (keys made by `attest keygen --curve`):
  * secure by default: a daemon with neither curve-secret nor --insecure
    exits 2 naming the setting; attest keygen --curve writes a 0600 secret;
  * an unknown key is refused on each of the three listeners (frontend,
    backend, sink PULL): no answer, and the listener logs SEC-REFUSED with
    the key in Z85; a plaintext client gets nothing from a CURVE listener;
  * a worker key is refused as the sink (ERROR protocol on SINK_HELLO), a
    producer key is refused as a worker (the backend refuses its handshake);
  * a worker key removed from the allowlist + SIGHUP to broker and sink: the
    broker drops that worker at its next message, its tasks are redispatched
    and nothing is lost (every submitted attestation is logged once, in
    order); a new connection with that key is refused;
  * every entry names the producer's and the worker's authenticated keys
    (log format 2; format 3 adds the broker epoch), and `attest log verify` checks them.

    /usr/bin/python3 test_curve.py --bin BUILD/bin
"""
import os
import signal
import stat
import subprocess
import sys
import time

import zmq
import zmq.utils.z85

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402

P = cl.pack


def run(argv, timeout=30):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def secure_by_default(t, args, tmp):
    t.say("secure by default: no key and no --insecure is a usage error")
    for exe, setting in (("attest-broker", "curve-secret"), ("attest-sink", "curve-secret"),
                         ("attest-worker", "curve-secret")):
        rc, _, err = run([os.path.join(args.bin, exe), "--metrics", ""])
        t.check("%s without a key exits 2" % exe, rc == 2, (rc, err[-300:]))
        t.check("%s says what to set" % exe, setting in err and "--insecure" in err, err[-300:])
    path = os.path.join(tmp, "k1")
    pub = cl.keygen(args.bin, path)
    mode = stat.S_IMODE(os.stat(path + "_secret").st_mode)
    t.check("keygen --curve: the secret file is 0600", mode == 0o600, oct(mode))
    t.check("keygen --curve: prints the Z85 public key of the certificate", pub == cl.load_cert(path)[0], pub)
    t.check("keygen --curve: the secret file holds the secret", cl.load_cert(path + "_secret")[1] is not None)
    os.chmod(path + "_secret", 0o644)
    rc, _, err = run([os.path.join(args.bin, "attest-worker"), "--curve-secret", path + "_secret",
                      "--broker-key", path, "--sink-key", path])
    t.check("a secret readable by others is refused (exit 2)", rc == 2 and "0600" in err, (rc, err[-300:]))


def stranger(ctx, c, name):
    """A key pair in no allowlist."""
    c.add_key(name)
    pub, sec = cl.load_cert(c.key(name) + "_secret")
    return pub, sec


def refused_log(proc, key, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if any("SEC-REFUSED" in ln and key.decode() in ln for ln in proc.stderr_text().splitlines()):
            return True
        time.sleep(0.1)
    return False


def unknown_keys(t, c, ctx):
    t.say("unknown keys and plaintext clients are refused on every listener")
    pub, sec = stranger(ctx, c, "stranger")
    p = cl.Producer(c.frontend, "stranger", curve=(pub, sec, c.pub("broker")))
    t.check("frontend: an unknown producer key gets no WELCOME", not p.hello(timeout=3.0))
    t.check("frontend: the broker logs the refused key", refused_log(c.broker, pub))
    p.close()
    w = ctx.socket(zmq.DEALER)
    w.setsockopt(zmq.LINGER, 0)
    cl.curve_socket(w, keys=(pub, sec, c.pub("broker")))
    w.connect(c.backend)
    w.send(P(cl.READY, "stranger/0", 8))
    t.check("backend: an unknown worker key gets nothing", not w.poll(2000))
    w.close(0)
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 0)
    cl.curve_socket(s, keys=(pub, sec, c.pub("sink")))
    s.connect(c.sink_ep)
    t.check("sink: the sink logs the refused worker key", refused_log(c.sink, pub))
    s.close(0)
    plain = cl.Producer(c.frontend, "plaintext", curve=())      # () : no CURVE
    t.check("frontend: a plaintext client gets no WELCOME", not plain.hello(timeout=2.0))
    plain.close()


def wrong_roles(t, c, ctx):
    t.say("a worker key cannot register as the sink; a producer key cannot be a worker")
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    cl.curve_socket(s, keys=c.client_keys("worker"))
    s.connect(c.backend)
    s.send(P(cl.SINK_HELLO, "fake-sink", 0, 0, 0, 16384, 0))
    err = cl.expect_error(s, 5.0)
    t.check("SINK_HELLO with a worker key: ERROR denied", err is not None and err[0] == cl.E["denied"], err)
    s.close(0)
    w = ctx.socket(zmq.DEALER)
    w.setsockopt(zmq.LINGER, 0)
    cl.curve_socket(w, keys=c.client_keys("producer"))
    w.connect(c.backend)
    w.send(P(cl.READY, "producer-as-worker/0", 8))
    t.check("READY with a producer key: nothing (the backend refuses the handshake)", not w.poll(2000))
    t.check("the broker logs the producer key refused on the backend", refused_log(c.broker, c.pub("producer")))
    w.close(0)


def revoke_worker(t, c, sk, n):
    t.say("worker key removed + SIGHUP: dropped, tasks redispatched, nothing lost")
    atts = [lf.make_attestation(sk, subject="s-%d" % i) for i in range(n)]
    p = cl.Producer(c.frontend, "curve-producer")
    t.check("producer welcomed over CURVE", p.hello())
    half = n // 2
    first = p.submit_all([a for a, _ in atts[:half]])
    end = time.time() + 60
    while len(p.acks) < 50 and time.time() < end:
        p.recv(0.01)
    c.disallow("worker2", "workers")
    c.broker.send_signal(signal.SIGHUP)
    c.sink.send_signal(signal.SIGHUP)
    cseqs = first + p.submit_all([a for a, _ in atts[half:]], first_cseq=half + 1)
    ok = p.wait_outcomes(cseqs, 180)
    t.check("every attestation has an outcome", ok, (len(p.acks), len(p.refusals)))
    t.check("none refused", not p.refusals, p.refusals)
    time.sleep(1.5)
    blog = c.broker.stderr_text()
    t.check("the broker reloaded on SIGHUP", "BRK-RELOAD" in blog)
    t.check("the sink reloaded on SIGHUP", "SNK-RELOAD" in c.sink.stderr_text())
    t.check("the broker dropped the removed worker", "key no longer allowed" in blog, blog[-1500:])
    p.close()
    return atts


def check_log(t, c, atts):
    log = cl.read_log(c.log_dir)
    ids = [aid for _, aid in atts]
    got = [bytes(e["id"]) for e in log.entries]
    t.check("every attestation logged exactly once, in submission order", got == ids, (len(got), len(ids)))
    t.check("no problems in the log", not cl.log_problems(log), cl.log_problems(log)[:5])
    prod = zmq.utils.z85.decode(c.pub("producer"))
    workers = {zmq.utils.z85.decode(c.pub("worker")): "worker", zmq.utils.z85.decode(c.pub("worker2")): "worker2"}
    t.check("every entry is format 3", all(e["format"] == 3 for e in log.entries))
    epochs = {e["epoch"] for e in log.entries}
    t.check("every entry names the one broker epoch (nonzero) its seq was assigned under",
            len(epochs) == 1 and 0 not in epochs, epochs)
    t.check("every entry names the producer's key",
            all(bytes(e["producer_key"]) == prod for e in log.entries))
    used = {workers.get(bytes(e["worker_key"]), "?") for e in log.entries}
    t.check("every entry names a worker's key, and both workers judged", used == {"worker", "worker2"}, used)
    rc, out, err = c.attest("log", "--dir", c.log_dir, "verify")
    t.check("attest log verify passes and counts the authenticated lineage",
            rc == 0 and "lineage: %d entries" % len(atts) in out, (rc, out, err))
    rc, out, _ = c.attest("log", "--dir", c.log_dir, "get", "0")
    t.check("attest log get shows the keys in Z85", c.pub("producer").decode() in out, out[:600])


def new_connection_refused(t, c):
    t.say("a new connection with the removed key is refused")
    w = c.start_worker("again", key="worker2")
    t.check("the broker refuses the removed key's new handshake", refused_log(c.broker, c.pub("worker2"), 8.0))
    w.stop()
    c.workers.remove(w)


def body(args, t):
    _, sk = lf.make_keypair()
    ctx = zmq.Context.instance()
    n = max(400, int(3000 * cl.scale()))
    with cl.Cluster(args.bin) as c:
        secure_by_default(t, args, c.tmp)
        c.add_key("worker2", "workers")
        c.start_broker(["--redeliver-ms", "2000"])
        c.start_sink()
        c.start_worker("w0", threads=1)
        c.start_worker("w2", threads=1, extra=["--test-delay-us", "2000"], key="worker2")
        unknown_keys(t, c, ctx)
        wrong_roles(t, c, ctx)
        atts = revoke_worker(t, c, sk, n)
        check_log(t, c, atts)
        new_connection_refused(t, c)
        if t.failed:
            c.dump_stderr()
        codes = c.stop()
        t.check("the daemons exit 0", all(v == 0 for k, v in codes.items() if "w2" not in k), codes)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("test_curve", body))
