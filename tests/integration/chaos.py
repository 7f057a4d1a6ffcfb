"""chaos.py: the multi-host chaos test (ctest name `chaos`, label chaos).

Builds a private network of Linux network namespaces (needs root and
`ip netns`; otherwise prints "chaos: skipped: <reason>" and exits 0):

    switch namespace  <prefix>sw : bridge br0, one veth port per host
    <prefix>broker 10.77.0.1     attest-broker  (frontend :5555, backend :5556)
    <prefix>sink   10.77.0.2     attest-sink    (verdicts :5557, LMDB log in a temp dir)
    <prefix>w1..w3 10.77.0.11-13 one attest-worker each (1 thread), replaced when killed
    <prefix>p1,p2  10.77.0.21-22 `attest bench --broker tcp://10.77.0.1:5555 --log-dir LOG`

Nothing is created in the root namespace: the bridge lives in the switch
namespace and every address is in 10.77.0.0/24 inside the test's namespaces.
<prefix> is "atch<pid>-"; namespaces of earlier runs whose pid is gone are
removed (with their processes) at start. Everything is torn down at the end,
on failure, on SIGTERM/SIGINT (try/finally + atexit).

Load: 2 benches x --n N/2 (CHAOS_N, default 500000) x 2 producer threads,
paced at CHAOS_RATE (default 5000/s) in total. Faults while it runs
(CHAOS_FAULTS, comma-separated, default all):

    kill      SIGKILL a random worker every few seconds, start a replacement
    drain     SIGTERM a worker (drain: LEAVE), start a replacement; it must exit 0
    loss      5% random drop (nft numgen, else iptables statistic) in and out of a worker host, 10 s
    partition_worker  `ip link set eth0 down` on a worker host for 10 s, then up
    partition_sink    nft drop everything in/out of the sink host for 10 s, then heal
    partition_producer  nft drop everything in/out of producer host p1 for 8 s, then
              heal: its C clients hear nothing, take the broker for gone after
              5 s, and say HELLO again and resubmit what is unacknowledged
              once the network is back (duplicates are answered, not logged)
    delay     netem delay on a worker host if the kernel has sch_netem; else a tbf
              rate limit (queueing delay) both ways, 10 s
    sink      SIGKILL the sink, restart it on the same address and log
    broker    SIGKILL the broker, restart it on the same addresses (scheduled last)

The log's committed count (meta next_index, python3-lmdb, read-only) is
sampled every 200 ms. Recovery of a fault: when the throughput over a 1 s
window falls below half of that over the 1 s before the fault, the time
until it is back above half, counted from the injection (from the heal for
the sink partition; the longer of both for the timed worker-host faults);
details in recovery_ms(). max_recovery_ms is the longest; a check fails
above CHAOS_MAX_RECOVERY_MS (20000). A per-fault throughput trace is printed.

At the end the whole log is read back (streamed) and checked: indices
contiguous, hash chain and head, seq increasing, ids unique and the ids db
agreeing, every generated attestation present exactly once (lost/dup, from
the log: each bench signs with its own fresh attester key and numbers its
subjects pkg:demo/artifact-<i>), each producer's order kept (cseq and item
number increasing along the log per (attester, producer name)), every
verdict as generated (1% bad signatures: invalid, reason 8), re-verified
with python3-nacl on a sample (every invalid entry and every 10th entry;
CHAOS_VERIFY_ALL=1 for all). Each bench must exit 0 with lost=0 dup=0 order=ok.

The last two lines are
    chaos: n=N committed=C faults=F lost=L dup=D order=ok max_recovery_ms=T
    P passed, F failed
and the exit status is 1 if any check failed.

Environment: CHAOS_N, CHAOS_RATE, CHAOS_FAULTS, CHAOS_SEED (random choices),
CHAOS_KEEP=1 (keep the data directory), CHAOS_VERIFY_ALL=1,
CHAOS_MAX_RECOVERY_MS (default 20000: a check fails when a fault's recovery
takes longer).

    /usr/bin/python3 tests/integration/chaos.py --bin build/bin
"""
import argparse
import atexit
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

ALL_FAULTS = ["kill", "drain", "loss", "partition_worker", "partition_sink", "partition_producer", "delay", "sink",
              "broker"]
NS_BASE = "atch"
SUBNET = "10.77.0"
HOSTS = {"broker": 1, "sink": 2, "w1": 11, "w2": 12, "w3": 13, "p1": 21, "p2": 22}
WORKER_HOSTS = ["w1", "w2", "w3"]
PRODUCER_HOSTS = ["p1", "p2"]
FPORT, BPORT, SPORT = 5555, 5556, 5557


def skip(reason):
    print("chaos: skipped: %s" % reason, flush=True)
    sys.exit(0)


def run(argv, check=True, quiet=False, input=None):
    if input is not None:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, input=input.encode())
    else:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        raise RuntimeError("%s: rc %d: %s" % (" ".join(argv), r.returncode, r.stderr.decode(errors="replace").strip()))
    if not quiet and r.returncode != 0:
        print("  (%s: rc %d: %s)" % (" ".join(argv), r.returncode, r.stderr.decode(errors="replace").strip()))
    return r


def pid_alive(pid):
    """True when pid is a live (not zombie) chaos test process: a run that
    died leaves its pid dead, a zombie, or reused by something else."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read()
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X") and b"chaos" in cmd


def netns_list():
    r = run(["ip", "netns", "list"], check=False, quiet=True)
    return [line.split()[0] for line in r.stdout.decode().splitlines() if line.strip()]


def netns_pids(ns):
    r = run(["ip", "netns", "pids", ns], check=False, quiet=True)
    return [int(x) for x in r.stdout.decode().split() if x.isdigit()]


def kill_ns(ns):
    """SIGKILL every process in namespace ns (all ours: the namespace is), then delete it."""
    for _ in range(50):
        pids = netns_pids(ns)
        if not pids:
            break
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    run(["ip", "netns", "del", ns], check=False, quiet=True)


def clean_stale():
    """Removes namespaces atch<pid>-* of runs whose pid is gone."""
    stale = []
    for ns in netns_list():
        if not ns.startswith(NS_BASE) or "-" not in ns:
            continue
        pid = ns[len(NS_BASE):ns.index("-")]
        if pid.isdigit() and (int(pid) == os.getpid() or not pid_alive(int(pid))):
            stale.append(ns)
    for ns in sorted(stale, key=lambda n: n.endswith("-sw")):    # hosts first, the switch last
        kill_ns(ns)
    return stale


# ------------------------------------------------------------------ the network

class Net:
    def __init__(self):
        self.prefix = "%s%d-" % (NS_BASE, os.getpid())
        self.made = []
        self.mech = {}

    def ns(self, host):
        return self.prefix + host

    def ip(self, host):
        return "%s.%d" % (SUBNET, HOSTS[host])

    def exec_argv(self, host, argv):
        return ["ip", "netns", "exec", self.ns(host)] + list(argv)

    def sh(self, host, argv, check=True, quiet=False, input=None):
        return run(self.exec_argv(host, argv), check=check, quiet=quiet, input=input)

    def setup(self):
        sw = self.ns("sw")
        run(["ip", "netns", "add", sw])
        self.made.append(sw)
        run(["ip", "-n", sw, "link", "set", "lo", "up"])
        run(["ip", "-n", sw, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", sw, "link", "set", "br0", "up"])
        for host in HOSTS:
            ns = self.ns(host)
            run(["ip", "netns", "add", ns])
            self.made.append(ns)
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "-n", sw, "link", "add", "p-" + host, "type", "veth", "peer", "name", "eth0", "netns", ns])
            run(["ip", "-n", sw, "link", "set", "p-" + host, "master", "br0"])
            run(["ip", "-n", sw, "link", "set", "p-" + host, "up"])
            run(["ip", "-n", ns, "addr", "add", self.ip(host) + "/24", "dev", "eth0"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        # everyone reaches the broker host (when ping is installed)
        if shutil.which("ping"):
            for host in HOSTS:
                if host == "broker":
                    continue
                for _ in range(30):
                    if self.sh(host, ["ping", "-c", "1", "-W", "1", self.ip("broker")], check=False,
                               quiet=True).returncode == 0:
                        break
                    time.sleep(0.2)
                else:
                    raise RuntimeError("%s cannot reach the broker host" % host)

    def teardown(self):
        for ns in reversed(self.made):
            kill_ns(ns)
        self.made = []

    # ---- fault mechanisms
    def probe(self):
        """Which mechanisms this kernel and these tools have."""
        h = "w1"
        nft = shutil.which("nft") is not None and \
            self.sh(h, ["nft", "add", "table", "inet", "chaosprobe"], check=False, quiet=True).returncode == 0
        if nft:
            r = self.sh(h, ["nft", "-f", "-"], check=False, quiet=True, input=(
                "table inet chaosprobe {\n chain input {\n  type filter hook input priority 0; policy accept;\n"
                "  numgen random mod 100 < 0 drop\n }\n}\n"))
            nft = r.returncode == 0
            self.sh(h, ["nft", "delete", "table", "inet", "chaosprobe"], check=False, quiet=True)
        ipt = shutil.which("iptables") is not None and \
            self.sh(h, ["iptables", "-L", "-n"], check=False, quiet=True).returncode == 0
        self.mech["filter"] = "nft" if nft else "iptables" if ipt else None
        netem = self.sh(h, ["tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"], check=False,
                        quiet=True).returncode == 0
        if netem:
            self.sh(h, ["tc", "qdisc", "del", "dev", "lo", "root"], check=False, quiet=True)
            self.mech["delay"] = "netem"
        else:
            tbf = self.sh(h, ["tc", "qdisc", "add", "dev", "lo", "root", "tbf", "rate", "1mbit", "burst", "16kb",
                              "latency", "100ms"], check=False, quiet=True).returncode == 0
            if tbf:
                self.sh(h, ["tc", "qdisc", "del", "dev", "lo", "root"], check=False, quiet=True)
            self.mech["delay"] = "tbf" if tbf else None
        return self.mech

    def loss_on(self, host, pct):
        if self.mech["filter"] == "nft":
            self.sh(host, ["nft", "-f", "-"], input=(
                "table inet chaosloss {\n"
                " chain input {\n  type filter hook input priority 0; policy accept;\n  iif lo accept\n"
                "  numgen random mod 100 < %d drop\n }\n"
                " chain output {\n  type filter hook output priority 0; policy accept;\n  oif lo accept\n"
                "  numgen random mod 100 < %d drop\n }\n}\n" % (pct, pct)))
        else:
            for chain in ("INPUT", "OUTPUT"):
                self.sh(host, ["iptables", "-A", chain, "!", "-i" if chain == "INPUT" else "-o", "lo", "-m",
                               "statistic", "--mode", "random", "--probability", "%.2f" % (pct / 100.0), "-j",
                               "DROP"])

    def loss_off(self, host):
        if self.mech["filter"] == "nft":
            self.sh(host, ["nft", "delete", "table", "inet", "chaosloss"], check=False)
        else:
            self.sh(host, ["iptables", "-F", "INPUT"], check=False)
            self.sh(host, ["iptables", "-F", "OUTPUT"], check=False)

    def drop_all_on(self, host):
        if self.mech["filter"] == "nft":
            self.sh(host, ["nft", "-f", "-"], input=(
                "table inet chaospart {\n"
                " chain input {\n  type filter hook input priority 0; policy drop;\n  iif lo accept\n }\n"
                " chain output {\n  type filter hook output priority 0; policy drop;\n  oif lo accept\n }\n}\n"))
        else:
            self.sh(host, ["iptables", "-A", "INPUT", "!", "-i", "lo", "-j", "DROP"])
            self.sh(host, ["iptables", "-A", "OUTPUT", "!", "-o", "lo", "-j", "DROP"])

    def drop_all_off(self, host):
        if self.mech["filter"] == "nft":
            self.sh(host, ["nft", "delete", "table", "inet", "chaospart"], check=False)
        else:
            self.sh(host, ["iptables", "-F", "INPUT"], check=False)
            self.sh(host, ["iptables", "-F", "OUTPUT"], check=False)

    def link(self, host, up):
        self.sh(host, ["ip", "link", "set", "eth0", "up" if up else "down"])

    def delay_on(self, host):
        """netem: 40 ms +- 10 ms both ways; tbf: 3 Mbit/s both ways (queueing delay)."""
        sw = self.ns("sw")
        if self.mech["delay"] == "netem":
            spec = ["netem", "delay", "40ms", "10ms"]
        else:
            spec = ["tbf", "rate", "3mbit", "burst", "32kb", "latency", "300ms"]
        self.sh(host, ["tc", "qdisc", "add", "dev", "eth0", "root"] + spec)
        run(["ip", "netns", "exec", sw, "tc", "qdisc", "add", "dev", "p-" + host, "root"] + spec)

    def delay_off(self, host):
        self.sh(host, ["tc", "qdisc", "del", "dev", "eth0", "root"], check=False)
        run(["ip", "netns", "exec", self.ns("sw"), "tc", "qdisc", "del", "dev", "p-" + host, "root"], check=False)


# ------------------------------------------------------------------ processes

def listening(pid, port):
    """True when the process's network namespace has a TCP listener on port
    (/proc/PID/net/tcp shows the namespace of that process)."""
    try:
        with open("/proc/%d/net/tcp" % pid) as f:
            next(f)
            for line in f:
                p = line.split()
                if len(p) > 3 and p[3] == "0A" and int(p[1].split(":")[1], 16) == port:
                    return True
    except (OSError, StopIteration, ValueError):
        return False
    return False


class Chaos:
    def __init__(self, args, t, cl):
        self.args, self.t, self.cl = args, t, cl
        self.bin = args.bin
        self.net = Net()
        self.tmp = tempfile.mkdtemp(prefix="attest-chaos-")
        self.log_dir = os.path.join(self.tmp, "log")
        self.keys = os.path.join(self.tmp, "keys")
        self._make_keys()         # CURVE on every link, as deployed
        self.broker = None
        self.sink = None
        self.workers = {h: [] for h in WORKER_HOSTS}   # host -> [Proc], the last one alive
        self.gen = {h: 0 for h in WORKER_HOSTS}
        self.benches = []
        self.all_procs = []
        self.faults = []          # dicts: kind, detail, start, end
        self.samples = []         # (time, committed)
        self.sampling = True
        self.unexpected = []      # processes that died by themselves
        self.drain_results = []   # (worker, rc, seconds)
        self.lock = threading.Lock()

    # ---- endpoints and argv
    def ep(self, host, port):
        return "tcp://%s:%d" % (self.net.ip(host), port)

    def _make_keys(self):
        for d in ("producers", "workers", "sinks"):
            os.makedirs(os.path.join(self.keys, d), exist_ok=True)
        for name, allow in (("broker", None), ("sink", "sinks"), ("worker", "workers"), ("producer", "producers")):
            self.cl.keygen(self.bin, os.path.join(self.keys, name))
            if allow:
                shutil.copy(os.path.join(self.keys, name), os.path.join(self.keys, allow, name))

    def key_args(self, role):
        k = lambda n: os.path.join(self.keys, n)  # noqa: E731
        if role == "broker":
            return ["--curve-secret", k("broker_secret"), "--allow-producers", k("producers"),
                    "--allow-workers", k("workers"), "--allow-sink", k("sinks")]
        if role == "sink":
            return ["--curve-secret", k("sink_secret"), "--broker-key", k("broker"), "--allow-workers", k("workers")]
        if role == "worker":
            return ["--curve-secret", k("worker_secret"), "--broker-key", k("broker"), "--sink-key", k("sink")]
        return ["--curve-secret", k("producer_secret"), "--broker-key", k("broker")]

    def exe(self, name):
        return os.path.join(self.bin, name)

    def conf(self, name):
        return os.path.join(ROOT, "deploy", name)

    def spawn(self, host, name, argv):
        p = self.cl.Proc(name, self.net.exec_argv(host, argv), os.path.join(self.tmp, name + ".err"))
        p.host = host
        p.expected_exit = False
        self.all_procs.append(p)
        return p

    def wait_listen(self, proc, ports, timeout=20.0):
        end = time.time() + timeout
        while time.time() < end:
            if not proc.alive():
                return False
            if all(listening(proc.pid, port) for port in ports):
                return True
            time.sleep(0.05)
        return False

    def start_broker(self):
        argv = [self.exe("attest-broker"), "--config", self.conf("broker.conf"),
                "--frontend", self.ep("broker", FPORT), "--backend", self.ep("broker", BPORT),
                "--heartbeat-ms", "200", "--worker-timeout-ms", "1500", "--stats-ms", "5000"] + self.key_args("broker")
        self.broker = self.spawn("broker", "broker", argv)
        if not self.wait_listen(self.broker, [FPORT, BPORT]):
            raise RuntimeError("broker did not start:\n" + self.broker.stderr_text()[-2000:])

    def start_sink(self):
        argv = [self.exe("attest-sink"), "--config", self.conf("sink.conf"), "--log-dir", self.log_dir,
                "--verdicts", self.ep("sink", SPORT), "--broker", self.ep("broker", BPORT), "--heartbeat-ms", "200"] \
            + self.key_args("sink")
        self.sink = self.spawn("sink", "sink", argv)
        if not self.wait_listen(self.sink, [SPORT]):
            raise RuntimeError("sink did not start:\n" + self.sink.stderr_text()[-2000:])

    def start_worker(self, host):
        g = self.gen[host]
        self.gen[host] += 1
        wid = "%s-g%d" % (host, g)
        argv = [self.exe("attest-worker"), "--config", self.conf("worker.conf"), "--broker", self.ep("broker", BPORT),
                "--sink", self.ep("sink", SPORT), "--threads", "1", "--heartbeat-ms", "200", "--id", wid] \
            + self.key_args("worker")
        p = self.spawn(host, "worker-" + wid, argv)
        p.wid = wid
        self.workers[host].append(p)
        return p

    def live_workers(self):
        return [(h, ps[-1]) for h, ps in self.workers.items() if ps and ps[-1].alive()]

    # ---- the sampler
    def sampler(self):
        import lmdb
        env = None
        t0 = time.time()
        while self.sampling:
            try:
                if env is None and os.path.exists(os.path.join(self.log_dir, "data.mdb")):
                    env = lmdb.open(self.log_dir, readonly=True, lock=True, max_dbs=4, subdir=True,
                                    map_size=1 << 36, create=False)
                    dbm = env.open_db(b"meta", create=False)
                n = 0
                if env is not None:
                    with env.begin(db=dbm) as txn:
                        v = txn.get(b"next_index")
                        n = struct.unpack(">Q", v)[0] if v and len(v) == 8 else 0
                with self.lock:
                    self.samples.append((time.time(), n))
            except Exception as e:      # meta db not there yet, etc.
                if time.time() - t0 > 60 and env is None:
                    print("sampler: %s" % e, flush=True)
                if env is not None:
                    try:
                        env.close()
                    except Exception:
                        pass
                env = None
            time.sleep(0.2)
        if env is not None:
            env.close()

    def committed(self):
        with self.lock:
            return self.samples[-1][1] if self.samples else 0

    # ---- faults
    def fault(self, kind, detail, duration=0.0):
        f = {"kind": kind, "detail": detail, "start": time.time(), "end": None, "duration": duration}
        self.faults.append(f)
        self.t.say("fault %-16s %s (log %d)" % (kind, detail, self.committed()))
        return f

    def check_deaths(self):
        """Processes that exited without us asking."""
        for p in self.all_procs:
            if not p.expected_exit and p.name != "bench" and not p.name.startswith("bench") and not p.alive() \
                    and p not in self.unexpected:
                self.unexpected.append(p)
                self.t.say("UNEXPECTED: %s exited rc %s; its last lines:\n    %s" % (
                    p.name, p.returncode(), "\n    ".join(p.stderr_text().splitlines()[-5:])))

    def f_kill(self, rng):
        live = self.live_workers()
        if not live:
            return
        host, p = rng.choice(live)
        f = self.fault("kill", "SIGKILL worker %s on %s" % (p.wid, host))
        p.expected_exit = True
        p.stop(sig=signal.SIGKILL, grace=5.0)
        self.start_worker(host)
        f["end"] = time.time()

    def f_drain(self, rng):
        live = self.live_workers()
        if not live:
            return
        host, p = rng.choice(live)
        f = self.fault("drain", "SIGTERM worker %s on %s, replacement started" % (p.wid, host))
        p.expected_exit = True
        self.start_worker(host)
        t = time.time()
        p.send_signal(signal.SIGTERM)
        threading.Thread(target=self._reap_drain, args=(p, t), daemon=True).start()
        f["end"] = time.time()

    def _reap_drain(self, p, t):
        rc = p.wait(30.0)
        self.drain_results.append((p.wid, rc, time.time() - t))
        if rc is None:
            p.stop(sig=signal.SIGKILL, grace=2.0)

    def f_loss_on(self, host):
        return self.fault("loss", "5%% random drop in and out of %s (%s), 10 s" % (host, self.net.mech["filter"]), 10)

    def f_sink_restart(self):
        f = self.fault("sink", "SIGKILL the sink, restart on %s" % self.ep("sink", SPORT))
        self.sink.expected_exit = True
        self.sink.stop(sig=signal.SIGKILL, grace=5.0)
        self.start_sink()
        f["end"] = time.time()

    def f_broker_restart(self):
        f = self.fault("broker", "SIGKILL the broker, restart on %s/%d" % (self.ep("broker", FPORT), BPORT))
        self.broker.expected_exit = True
        self.broker.stop(sig=signal.SIGKILL, grace=5.0)
        self.start_broker()
        f["end"] = time.time()

    def schedule(self, selected, rng):
        """(offset s, action, args) in time order. Faults with a duration are a
        start and an end event. The broker restart comes last, so that if it
        loses data the other faults have run under load first."""
        ev = []
        wh = list(WORKER_HOSTS)
        rng.shuffle(wh)
        if "kill" in selected:
            for off in (4, 11, 19, 33, 47, 61, 70, 84):
                ev.append((off, "kill", None))
        if "loss" in selected:
            ev.append((7, "loss_on", wh[0]))
            ev.append((17, "loss_off", wh[0]))
        if "drain" in selected:
            ev.append((14, "drain", None))
            ev.append((66, "drain", None))
        if "partition_worker" in selected:
            ev.append((24, "link_down", wh[1]))
            ev.append((34, "link_up", wh[1]))
        if "sink" in selected:
            ev.append((38, "sink", None))
        if "partition_sink" in selected:
            ev.append((44, "sink_drop", "sink"))
            ev.append((54, "sink_heal", "sink"))
        if "partition_producer" in selected:
            ev.append((27, "producer_drop", "p1"))
            ev.append((35, "producer_heal", "p1"))
        if "delay" in selected and self.net.mech["delay"]:
            ev.append((57, "delay_on", wh[2]))
            ev.append((67, "delay_off", wh[2]))
        if "broker" in selected:
            ev.append((76, "broker", None))
        ev.sort(key=lambda e: e[0])
        return ev

    def do(self, action, arg, rng, open_faults):
        if action == "kill":
            self.f_kill(rng)
        elif action == "drain":
            self.f_drain(rng)
        elif action == "loss_on":
            self.net.loss_on(arg, 5)
            open_faults["loss"] = self.f_loss_on(arg)
        elif action == "loss_off":
            self.net.loss_off(arg)
            self._end(open_faults, "loss")
        elif action == "link_down":
            self.net.link(arg, False)
            open_faults["pw"] = self.fault("partition_worker", "ip link set eth0 down on %s, 10 s" % arg, 10)
        elif action == "link_up":
            self.net.link(arg, True)
            self._end(open_faults, "pw")
        elif action == "sink":
            self.f_sink_restart()
        elif action == "sink_drop":
            self.net.drop_all_on(arg)
            open_faults["ps"] = self.fault("partition_sink", "%s drops everything on the sink host, 10 s"
                                           % self.net.mech["filter"], 10)
        elif action == "sink_heal":
            self.net.drop_all_off(arg)
            self._end(open_faults, "ps")
        elif action == "producer_drop":
            self.net.drop_all_on(arg)
            open_faults["pp"] = self.fault("partition_producer", "%s drops everything on producer host %s, 8 s"
                                           % (self.net.mech["filter"], arg), 8)
        elif action == "producer_heal":
            self.net.drop_all_off(arg)
            self._end(open_faults, "pp")
        elif action == "delay_on":
            self.net.delay_on(arg)
            what = "netem delay 40ms+-10ms" if self.net.mech["delay"] == "netem" else \
                "tbf rate 3mbit (queueing delay; no sch_netem)"
            open_faults["delay"] = self.fault("delay", "%s both ways on %s, 10 s" % (what, arg), 10)
        elif action == "delay_off":
            self.net.delay_off(arg)
            self._end(open_faults, "delay")
        elif action == "broker":
            self.f_broker_restart()

    def _end(self, open_faults, key):
        f = open_faults.pop(key, None)
        if f:
            f["end"] = time.time()
            self.t.say("heal  %-16s (log %d)" % (f["kind"], self.committed()))


# ------------------------------------------------------------------ recovery

def count_at(samples, t):
    """Committed count at time t (the last sample at or before t)."""
    lo, hi = 0, len(samples)
    while lo < hi:
        mid = (lo + hi) // 2
        if samples[mid][0] <= t:
            lo = mid + 1
        else:
            hi = mid
    return samples[lo - 1][1] if lo > 0 else 0


def rate_at(samples, t):
    """Throughput over the 1 s window ending at t."""
    return count_at(samples, t) - count_at(samples, t - 1.0)


def recovery_from(samples, ref, dip_until, level, total):
    """(ms, note). If the 1 s throughput falls below level/2 at some time in
    [ref, dip_until], the time from ref until it is back at >= level/2;
    0 when it never falls that low."""
    t_done = next((t for t, n in samples if n >= total), None)
    last = samples[-1][0]
    t, dip = ref, None
    while t <= min(dip_until, last):
        if t_done is not None and t >= t_done:
            break
        if rate_at(samples, t) < level / 2.0:
            dip = t
            break
        t += 0.1
    if dip is None:
        return 0, ""
    t = dip
    while t <= last:
        if rate_at(samples, t) >= level / 2.0:
            return int((t - ref) * 1000.0), ""
        if t_done is not None and t >= t_done:
            return int((t_done - ref) * 1000.0), "load finished"
        t += 0.1
    return int((last - ref) * 1000.0), "NOT RECOVERED"


def recovery_ms(samples, f, total, offered, next_start=None):
    """(ms, level/s, note). Level: throughput over the 1 s before the fault,
    capped at the offered rate (a catch-up burst after an earlier fault is
    not the steady level). Recovery: when the throughput over a 1 s window
    falls below level/2, the time until it is back above level/2, counted
    from the injection for instantaneous faults (a dip within 5 s of it);
    for faults with a duration that the cluster can route around (one
    worker host lossy, slow or cut off) the longer of the counts from the
    injection (a dip while it lasts, which must end before the heal) and
    from the heal (a dip within 5 s of it); for the sink partition (one
    sink: nothing can route around it, so the partition itself is not
    recovery time) and a producer host's partition (its load cannot reach
    the broker at all) from the heal."""
    s, e = f["start"], f["end"] or f["start"]
    nxt = next_start if next_start is not None and next_start > s else float("inf")
    level = min(offered, rate_at(samples, s))
    if level < 200:
        return None, level, "no steady load before it"
    if not f["duration"]:
        ms, note = recovery_from(samples, s, min(s + 5.0, nxt), level, total)
        return ms, level, note
    at_heal, note_h = recovery_from(samples, e, max(e, min(e + 5.0, nxt)), level, total)
    if f["kind"] in ("partition_sink", "partition_producer"):
        return at_heal, level, note_h
    at_inj, note_i = recovery_from(samples, s, min(e, nxt), level, total)
    if not note_i and s + at_inj / 1000.0 > e + 0.5:
        note_i = "NOT ROUTED AROUND while it lasted"
    return max(at_inj, at_heal), level, note_i or note_h


# ------------------------------------------------------------------ the log audit

def kind_of(i):
    """gen.c: about 10 per mille with a corrupted signature, spread evenly."""
    return 1 if ((i + 1) * 10) // 1000 != (i * 10) // 1000 else 0


def check_history(t, path, where):
    """Compares one bench's history (what each producer was told) with the
    log: every acknowledged attestation is in the log exactly at the index
    it was acknowledged with; nothing refused or left without an outcome."""
    with open(path) as f:
        head = f.readline().split()
        attester = bytes.fromhex(head[2])
        rows = [line.split() for line in f]
    counts, wrong = {}, []
    for r in rows:
        i, outcome, index = int(r[0]), r[3], int(r[4])
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome == "acked" and where.get((attester, i)) != index:
            wrong.append("item %d acknowledged at %d, in the log at %s" % (i, index, where.get((attester, i))))
    name = os.path.basename(path)
    t.check("%s: %d acknowledged, every one in the log at its acknowledged index" % (name, counts.get("acked", 0)),
            rows and not wrong, wrong[:5])
    t.check("%s: none refused, none without an outcome" % name,
            counts.get("refused", 0) == 0 and counts.get("timeout", 0) == 0, counts)


def audit_log(t, cl, lf, log_dir, n_total, nprod, verify_all):
    import hashlib
    import lmdb
    import msgpack
    env = lmdb.open(log_dir, readonly=True, lock=True, max_dbs=4, subdir=True, map_size=1 << 36, create=False)
    res = {"committed": 0, "lost": n_total, "dup": 0, "order": "ok", "where": {}}
    try:
        dbe, dbi, dbm = (env.open_db(x, create=False) for x in (b"entries", b"ids", b"meta"))
        with env.begin(buffers=True) as txn:
            meta = {bytes(k): bytes(v) for k, v in txn.cursor(db=dbm)}
            u64 = lambda k: struct.unpack(">Q", meta[k])[0] if k in meta else 0  # noqa: E731
            next_index, upto = u64(b"next_index"), u64(b"ids_upto")
            ids = {bytes(k): struct.unpack(">Q", bytes(v))[0] for k, v in txn.cursor(db=dbi)}
            prev = bytes(32)
            problems = {"contiguous": [], "chain": [], "seq": [], "ids": [], "verdict": [], "times": [],
                        "reason": [], "lineage": [], "idhash": [], "fresh": []}
            seen_ids = {}
            items = {}            # attester -> set of i
            where = res["where"]  # (attester, i) -> log index
            last = {}             # (attester, producer) -> (cseq, i)
            order_bad = []
            last_seq = -1
            invalid = 0
            nverified = 0
            count = 0
            workers = set()
            for k, v in txn.cursor(db=dbe):
                raw = bytes(v)
                idx = count
                count += 1
                e = dict(zip(cl.ENTRY_KEYS, msgpack.unpackb(raw, raw=False)))
                key = struct.unpack(">Q", bytes(k))[0] if len(k) == 8 else -1
                if key != idx or e["index"] != idx:
                    problems["contiguous"].append(idx)
                if e["prev_hash"] != prev:
                    problems["chain"].append(idx)
                prev = hashlib.blake2b(raw, digest_size=32).digest()
                if e["seq"] <= last_seq:
                    problems["seq"].append(idx)
                last_seq = e["seq"]
                aid = e["id"]
                if aid in seen_ids:
                    res["dup"] += 1
                    problems["ids"].append("id of %d again at %d" % (seen_ids[aid], idx))
                seen_ids[aid] = idx
                if (idx < upto or aid in ids) and ids.get(aid) != idx:
                    problems["ids"].append("ids db maps entry %d's id to %r" % (idx, ids.get(aid)))
                if not (e["t_received"] <= e["t_dispatched"] <= e["t_verified"] <= e["t_committed"]):
                    problems["times"].append(idx)
                workers.add(e["worker"])
                a = msgpack.unpackb(e["att"], raw=False)
                attester, subject = bytes(a[2]), a[3]
                try:
                    i = int(subject.rsplit("-", 1)[1])
                except (ValueError, IndexError):
                    problems["lineage"].append("entry %d: subject %r" % (idx, subject))
                    continue
                got = items.setdefault(attester, set())
                if i in got:
                    res["dup"] += 1
                got.add(i)
                where[(attester, i)] = idx
                if e["producer"] != "bench-%d" % (i % nprod):
                    problems["lineage"].append("entry %d: item %d from producer %r" % (idx, i, e["producer"]))
                pk = (attester, e["producer"])
                if pk in last and (e["cseq"] <= last[pk][0] or i <= last[pk][1]):
                    order_bad.append("entry %d: %s cseq %d item %d after cseq %d item %d"
                                     % (idx, e["producer"], e["cseq"], i, last[pk][0], last[pk][1]))
                last[pk] = (e["cseq"], i)
                want = kind_of(i)
                if e["verdict"] != want:
                    problems["verdict"].append("entry %d item %d: verdict %d, generated %s"
                                               % (idx, i, e["verdict"], "bad" if want else "good"))
                if e["verdict"] == 1:
                    invalid += 1
                    if e["reason"] != 8:
                        problems["reason"].append((idx, e["reason"]))
                if verify_all or e["verdict"] == 1 or idx % 10 == 0:
                    nverified += 1
                    reason, fid = cl.judge_entry(e)
                    if reason != e["reason"]:
                        problems["fresh"].append((idx, e["reason"], reason))
                    if fid != aid:
                        problems["idhash"].append(idx)
            head = meta.get(b"head")
        res["committed"] = count
        distinct = sum(len(s) for s in items.values())
        res["lost"] = n_total - distinct
        if order_bad or problems["seq"]:
            res["order"] = "BROKEN"
        t.check("log: next_index %d = entries %d" % (next_index, count), next_index == count)
        t.check("log: indices contiguous from 0", not problems["contiguous"], problems["contiguous"][:5])
        t.check("log: hash chain intact and head = hash of the last entry",
                not problems["chain"] and (count == 0 or head == prev), problems["chain"][:5])
        t.check("log: seq strictly increasing along the log", not problems["seq"], problems["seq"][:5])
        t.check("log: ids unique and the ids db agrees", not problems["ids"], problems["ids"][:5])
        t.check("log: %d attesters (one per bench), %d items each"
                % (len(items), n_total // max(1, len(items))), len(items) == len(PRODUCER_HOSTS),
                {a.hex()[:8]: len(s) for a, s in items.items()})
        t.check("log: every generated attestation present (lost=%d)" % res["lost"], res["lost"] == 0)
        t.check("log: none twice (dup=%d)" % res["dup"], res["dup"] == 0)
        t.check("log: each producer's order kept (cseq and item number increasing per producer)",
                not order_bad, order_bad[:5])
        t.check("log: lineage: item i comes from producer bench-(i mod %d)" % nprod, not problems["lineage"],
                problems["lineage"][:5])
        t.check("log: timestamps ordered received <= dispatched <= verified <= committed",
                not problems["times"], problems["times"][:5])
        t.check("log: every verdict as generated (%d invalid = 1%%)" % invalid,
                not problems["verdict"] and invalid == count // 100, problems["verdict"][:5])
        t.check("log: every invalid entry has reason 8 (signature)", not problems["reason"], problems["reason"][:5])
        t.check("log: %d verdicts re-verified with python3-nacl agree" % nverified, not problems["fresh"],
                problems["fresh"][:5])
        t.check("log: ids are BLAKE2b-256 of the signing bytes (same sample)", not problems["idhash"],
                problems["idhash"][:5])
        t.say("log: %d entries verified by %d worker names" % (count, len(workers)))
    finally:
        env.close()
    return res


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)

    if sys.platform != "linux":
        skip("not Linux")
    if os.geteuid() != 0:
        skip("needs root for network namespaces (ip netns)")
    if not shutil.which("ip"):
        skip("the ip tool (iproute2) is not installed")
    probe = "%s%d-probe" % (NS_BASE, os.getpid())
    r = run(["ip", "netns", "add", probe], check=False, quiet=True)
    if r.returncode != 0:
        skip("cannot create a network namespace: %s" % r.stderr.decode(errors="replace").strip())
    run(["ip", "netns", "del", probe], check=False, quiet=True)
    for name in ("attest-broker", "attest-sink", "attest-worker", "attest"):
        if not os.access(os.path.join(args.bin, name), os.X_OK):
            print("chaos: %s not found in %s" % (name, args.bin))
            return 1

    import cluster as cl
    import logfixture as lf

    t = cl.Checks("chaos")
    selected = [f.strip() for f in os.environ.get("CHAOS_FAULTS", ",".join(ALL_FAULTS)).split(",") if f.strip()]
    unknown = [f for f in selected if f not in ALL_FAULTS]
    if unknown:
        print("chaos: unknown CHAOS_FAULTS %s (known: %s)" % (unknown, ",".join(ALL_FAULTS)))
        return 2
    n_total = int(os.environ.get("CHAOS_N", "500000")) // 200 * 200
    rate = int(os.environ.get("CHAOS_RATE", "5000"))
    seed = int(os.environ.get("CHAOS_SEED", str(int(time.time()) % 100000)))
    verify_all = os.environ.get("CHAOS_VERIFY_ALL") == "1"
    keep = os.environ.get("CHAOS_KEEP") == "1"
    max_allowed = int(os.environ.get("CHAOS_MAX_RECOVERY_MS", "20000"))
    rng = random.Random(seed)
    nprod = 2
    per_bench = n_total // len(PRODUCER_HOSTS)

    stale = clean_stale()
    if stale:
        t.say("removed %d stale namespaces of earlier runs: %s" % (len(stale), " ".join(stale)))
    c = Chaos(args, t, cl)
    done = {"x": False}

    def teardown():
        if done["x"]:
            return
        done["x"] = True
        c.sampling = False
        cl.stop_all()
        c.net.teardown()

    def on_signal(signum, frame):
        raise SystemExit("chaos: stopped by signal %d" % signum)
    atexit.register(teardown)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    res = {"committed": 0, "lost": n_total, "dup": -1, "order": "unknown"}
    max_rec = -1
    try:
        t.say("faults: %s; seed %d; n=%d (2 benches x %d, 2 producers each) at %d/s"
              % (",".join(selected), seed, n_total, per_bench, rate))
        c.net.setup()
        t.say("network: %d namespaces %s*, bridge br0 in %ssw, %s.0/24" % (len(c.net.made), c.net.prefix,
                                                                             c.net.prefix, SUBNET))
        mech = c.net.probe()
        t.say("mechanisms: loss and silent partition: %s; delay: %s; link partition: ip link set down/up"
              % (mech["filter"] or "NONE", {"netem": "tc netem", "tbf": "tc tbf rate limit (no sch_netem: "
                                            "queueing delay instead of a fixed delay)", None: "NONE"}[mech["delay"]]))
        if not mech["filter"]:
            for f in ("loss", "partition_sink", "partition_producer"):
                if f in selected:
                    t.skip("fault %s" % f, "neither nft nor iptables works here (scripts/install-deps.sh)")
                    selected.remove(f)
        c.start_broker()
        c.start_sink()
        for h in WORKER_HOSTS:
            c.start_worker(h)
        threading.Thread(target=c.sampler, daemon=True).start()
        for h in PRODUCER_HOSTS:
            argv = [c.exe("attest"), "bench", "--progress", "false", "--broker", c.ep("broker", FPORT),
                    "--log-dir", c.log_dir, "--n", str(per_bench), "--producers", str(nprod),
                    "--rate", str(rate // len(PRODUCER_HOSTS)), "--workers", "1", "--threads", "1",
                    "--history", os.path.join(c.tmp, "history-%s.txt" % h)] + c.key_args("producer")
            b = c.spawn(h, "bench-" + h, argv)
            c.benches.append(b)
        # the load is flowing once the log holds 1%
        end = time.time() + 180
        while time.time() < end and c.committed() < n_total // 100 and any(b.alive() for b in c.benches):
            time.sleep(0.1)
            c.check_deaths()
        t.check("load flowing: the log holds 1%% (%d) of n" % c.committed(), c.committed() >= n_total // 100)
        t0 = time.time()
        events = c.schedule(selected, rng)
        open_faults = {}
        injected_while_loaded = 0
        for off, action, arg in events:
            while time.time() < t0 + off:
                time.sleep(0.05)
                c.check_deaths()
            if not any(b.alive() for b in c.benches) and not action.endswith(("_off", "_up", "_heal")):
                t.say("load over before %s at +%ds: not injected" % (action, off))
                continue
            nf = len(c.faults)
            c.do(action, arg, rng, open_faults)
            if len(c.faults) > nf and c.committed() < n_total:
                injected_while_loaded += 1
        planned = sum(1 for _, a, _ in events if not a.endswith(("_off", "_up", "_heal")))
        t.check("every scheduled fault injected while the load ran (%d of %d)" % (injected_while_loaded, planned),
                injected_while_loaded == planned)
        t.say("fault schedule over; waiting for the benches")
        for b in c.benches:
            end = time.time() + 420
            while b.alive() and time.time() < end:
                time.sleep(0.2)
                c.check_deaths()
        for b in c.benches:
            rc = b.wait(1.0)
            out = b.stderr_text()
            br = cl.parse_bench(out)
            if br:
                print("%s: %s" % (b.host, br["line"]), flush=True)
            t.check("%s: bench exits 0 with committed=%d lost=0 dup=0 order=ok" % (b.host, per_bench),
                    rc == 0 and br and br["committed"] == per_bench and br["lost"] == 0 and br["dup"] == 0
                    and br["order"] == "ok", "rc=%s %s" % (rc, br["line"] if br else out[-1500:]))
        time.sleep(0.5)
        c.sampling = False
        time.sleep(0.3)
        c.check_deaths()
        t.check("no broker, sink or worker died on its own", not c.unexpected,
                ["%s rc %s" % (p.name, p.returncode()) for p in c.unexpected])
        drains = list(c.drain_results)
        if "drain" in selected:
            t.check("every drained worker exited 0 within 30 s after SIGTERM (%s)"
                    % ", ".join("%s rc %s in %.1f s" % (w, rc, s) for w, rc, s in drains),
                    drains and all(rc == 0 for _, rc, _ in drains))
        # recovery
        samples = list(c.samples)
        print("recovery (1 s throughput back above half of the second before the fault; see recovery_ms):")
        worst, notrec = -1, []
        for k, f in enumerate(c.faults):
            nxt = c.faults[k + 1]["start"] if k + 1 < len(c.faults) else None
            ms, level, note = recovery_ms(samples, f, n_total, rate, nxt)
            f["recovery_ms"] = ms
            print("  +%6.1fs %-16s level %5d/s  recovery %s ms %s" % (f["start"] - t0, f["kind"], level,
                                                                     "-" if ms is None else ms, note))
            e = f["end"] or f["start"]

            def trace(t0):
                return " ".join(str(count_at(samples, t0 + 0.5 * k + 1.0) - count_at(samples, t0 + 0.5 * k))
                                for k in range(13))
            print("           1 s throughput before %d; from the injection, every 0.5 s: %s" % (
                count_at(samples, f["start"]) - count_at(samples, f["start"] - 1.0), trace(f["start"])))
            if f["duration"]:
                print("           from the heal: %s" % trace(e))
            if ms is not None:
                worst = max(worst, ms)
            if note.startswith("NOT"):
                notrec.append("%s: %s" % (f["kind"], note))
        max_rec = worst
        t.check("throughput recovered after every fault", not notrec, notrec)
        t.check("every recovery within %d ms (CHAOS_MAX_RECOVERY_MS)" % max_allowed, worst <= max_allowed,
                ["%s at +%.1fs: %s ms" % (f["kind"], f["start"] - t0, f.get("recovery_ms")) for f in c.faults
                 if (f.get("recovery_ms") or 0) > max_allowed])
        kinds = {}
        for f in c.faults:
            kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
        t.say("faults injected: %d (%s)" % (len(c.faults), ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))
        # stop the cluster: the sink and broker must stop cleanly on SIGTERM
        for h, p in c.live_workers():
            p.expected_exit = True
            p.stop(grace=10.0)
        rc = c.sink.stop(grace=20.0)
        t.check("the sink stops cleanly on SIGTERM (rc %s)" % rc, rc == 0)
        rc = c.broker.stop(grace=10.0)
        t.check("the broker stops cleanly on SIGTERM (rc %s)" % rc, rc == 0)
        t.say("auditing the log (%s)" % c.log_dir)
        res = audit_log(t, cl, lf, c.log_dir, n_total, nprod, verify_all)
        for h in PRODUCER_HOSTS:
            path = os.path.join(c.tmp, "history-%s.txt" % h)
            if os.path.exists(path):
                check_history(t, path, res["where"])
            else:
                t.check("%s: the bench wrote its history" % h, False, path)
        t.check("the log holds exactly n=%d entries" % n_total, res["committed"] == n_total, res["committed"])
    except SystemExit as e:
        t.check("not interrupted", False, e)
    except Exception:
        traceback.print_exc()
        t.check("no exception in the test body", False)
    finally:
        if t.failed:
            for p in c.all_procs:
                if p.name in ("broker", "sink") or p.name.startswith("bench"):
                    lines = p.stderr_text().splitlines()
                    print("---- %s (%s), last lines:" % (p.name, p.errpath))
                    print("\n".join(lines[-15:]))
        c.sampling = False
        teardown()
        left = [ns for ns in netns_list() if ns.startswith(c.net.prefix)]
        t.check("teardown: no namespace of this run left", not left, left)
        alive = [p.name for p in c.all_procs if p.alive()]
        t.check("teardown: no process of this run left", not alive, alive)
        if keep or (t.failed and os.environ.get("CHAOS_KEEP_ON_FAILURE") == "1"):
            print("chaos: data kept in %s" % c.tmp)
        else:
            shutil.rmtree(c.tmp, ignore_errors=True)
    print("chaos: %.1f s" % (time.time() - t.t0))
    print("chaos: n=%d committed=%d faults=%d lost=%d dup=%d order=%s max_recovery_ms=%d"
          % (n_total, res["committed"], len(c.faults), res["lost"], res["dup"], res["order"], max_rec))
    print("%d passed, %d failed" % (t.passed, len(t.failed)), flush=True)
    bad = t.failed or res["lost"] != 0 or res["dup"] != 0 or res["order"] != "ok"
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
