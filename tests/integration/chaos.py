"""chaos.py: the multi-host chaos test (ctest name `chaos`, label chaos).

Builds a private network of Linux network namespaces (needs root and
`ip netns`; otherwise prints "chaos: skipped: <reason>" and exits 0):

    switch namespace  <prefix>sw : bridge br0, one veth port per host
    <prefix>broker 10.77.0.1     attest-broker  (frontend :5555, backend :5556)
    <prefix>sink   10.77.0.2     attest-sink    (verdicts :5557, LMDB log on a tmpfs)
    <prefix>w1..w3 10.77.0.11-13 one attest-worker each (1 thread), replaced when killed
    <prefix>p1,p2  10.77.0.21-22 `attest bench --broker tcp://10.77.0.1:5555 --log-dir LOG`

Nothing is created in the root namespace: the bridge lives in the switch
namespace and every address is in 10.77.0.0/24 inside the test's namespaces.
<prefix> is "atch<pid>-"; namespaces of earlier runs whose pid is gone are
removed (with their processes) at start, and their log tmpfs unmounted. Everything is torn down at the end,
on failure, on SIGTERM/SIGINT (try/finally + atexit).

The sink's log directory is a tmpfs of its own (4 GiB limit, mounted before
the sink starts; only what is written uses memory), so that its disk can be
made full. Without the mount the disk_full fault is skipped.

Load: 2 benches x --n N/2 x 2 producer threads, paced at CHAOS_RATE
(default 5000/s) in total; N (CHAOS_N) defaults to the offered rate times
the schedule's length plus 8 s, so that the load runs through every fault.

Faults (CHAOS_FAULTS, comma-separated, default all) run one at a time, each
in its own slot (its duration, then a settle time before the next), in the
order of PLAN, so that each kind's recovery is its own:

    kill      SIGKILL a random worker, start a replacement (three times)
    drain     SIGTERM a worker (drain: LEAVE), start a replacement; it must exit 0
    loss      5% random drop (nft numgen, else iptables statistic) in and out of a worker host, 6 s
    partition_worker  `ip link set eth0 down` on a worker host for 6 s, then up
    worker_stop  SIGSTOP a random worker for 5 s, then SIGCONT
    partition_producer  nft drop everything in/out of producer host p1 for 7 s, then
              heal: its C clients hear nothing, take the broker for gone after
              5 s, and say HELLO again and resubmit what is unacknowledged
              once the network is back (duplicates are answered, not logged)
    sink      SIGKILL the sink, restart it on the same address and log
    sink_stop SIGSTOP the sink for 6 s, then SIGCONT
    partition_sink  the sink split from the broker and the workers: nft drops
              everything in/out of the sink host (its only peers are the broker
              and the workers; silent, no reject) for 8 s, then heal
    delay     a delay-only phase on every worker host, 10 s: 50 ms of added round
              trip (DELAY_RTT_MS). With tc netem when the kernel has sch_netem;
              else with BUILD/tests/delayproxy (no run-time switch): two proxies
              in each worker host's namespace (127.0.0.1:15556 to the broker's
              backend, :15557 to the sink, 25 ms each way), each host's worker
              replaced by one through them and the direct one drained, and back
              at the end (the proxies stop when the delayed workers have
              drained); else a tc tbf rate limit of 3 Mbit/s both ways
              (queueing delay, not a fixed delay)
    disk_full the sink's tmpfs remounted with size = what it holds now (+64 KiB):
              the disk fills at once; 15 s later remounted at 4 GiB (grown)
    broker_stop  SIGSTOP the broker for 10 s, then SIGCONT
    broker    SIGKILL the broker, restart it on the same addresses (last)

Recovery, from the log (the t_committed stamps read back at the end, not
the 200 ms samples of next_index that only show progress). The level: the
throughput of the whole load (first to last commit), capped at the offered
rate. A moment t is healthy when the commits in [t, t+0.5 s) are at least
half the level's. A fault's recovery is the time from its end (the heal,
SIGCONT, the disk grown; the injection itself for kill, drain, sink and
broker) to the first commit from which every moment is healthy until the
end of the fault's slot (the next fault), so that commits that resume and
stop again at a hole are not a recovery; a count the slot's end cuts off is
reported with "+". For the timed faults on one worker host, which the
others should route around, the longer of that and the longest stall while
the fault lasted (from a moment that is not healthy to a resumption healthy
for HOLD_S, 2 s; "NOT ROUTED AROUND" when it outlasts the fault). For
partition_producer, the commits and level of p1's own attestations (the
other host's half goes on). Per kind, the figure is the longest. For the
delay phase, the lowest ratio of the 1 s throughput during it to the level
(delay_min_ratio) and the mean ratio (delay_mean_ratio). The 2 s target is
reported (over_target lists the kinds above it), not asserted.

At the end the whole log is read back (streamed) and checked: indices
contiguous, hash chain and head, seq increasing, ids unique and the ids db
agreeing, every generated attestation present exactly once (lost/dup, from
the log: each bench signs with its own fresh attester key and numbers its
subjects pkg:demo/artifact-<i>), each producer's order kept (cseq and item
number increasing along the log per (attester, producer name)), every
verdict as generated (1% bad signatures: invalid, reason 8), re-verified
with python3-nacl on a sample (every invalid entry and every 10th entry;
CHAOS_VERIFY_ALL=1 for all). Each bench must exit 0 with lost=0 dup=0
order=ok. Also checked: no daemon died on its own, every drained worker
exited 0, commits resumed after every fault before the load ended, no
recovery above CHAOS_MAX_RECOVERY_MS (20000; a guard against a wedged
pipeline, not the target).

The last two lines are
    P passed, F failed
    chaos: n=N committed=C faults=F lost=L dup=D order=ok max_recovery_ms=T
        recovery_ms=kill:1620,drain:0,...,broker:900 delay_min_ratio=R
        delay_mean_ratio=M target_ms=2000 over_target=KIND,...   (one line)
and the exit status is 1 if any check failed.

Environment: CHAOS_N, CHAOS_RATE, CHAOS_FAULTS, CHAOS_SEED (random choices),
CHAOS_KEEP=1 (keep the data directory; the log is copied off the tmpfs),
CHAOS_VERIFY_ALL=1, CHAOS_MAX_RECOVERY_MS (default 20000).

    /usr/bin/python3 tests/integration/chaos.py --bin build/bin
"""
import argparse
import atexit
import bisect
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

# The schedule: (kind, duration s, settle s), one fault at a time in this
# order. The settle time lets the recovery show before the next fault (it
# also covers the longest recoveries measured on main: sink_stop and
# partition_sink); CHAOS_FAULTS keeps the slots of the kinds it names.
PLAN = [("kill", 0, 4), ("drain", 0, 4), ("loss", 6, 4), ("partition_worker", 6, 4), ("kill", 0, 4),
        ("worker_stop", 5, 4), ("partition_producer", 7, 10), ("sink", 0, 5), ("sink_stop", 6, 11),
        ("partition_sink", 8, 7), ("kill", 0, 4), ("delay", 10, 4), ("disk_full", 15, 5), ("broker_stop", 10, 5),
        ("broker", 0, 6)]
ALL_FAULTS = list(dict.fromkeys(k for k, _, _ in PLAN))
LEAD_S = 2.0          # steady load before the first fault (its level)
TAIL_S = 8.0          # load offered after the last slot
ROUTED = ("kill", "drain", "loss", "partition_worker", "worker_stop")   # one worker: the others carry the load
DELAY_RTT_MS = 50     # the delay phase's added round trip
PROXY_EP = "tcp://127.0.0.1:%d"          # a worker host's delay proxies (its own namespace)
PROXY_BPORT, PROXY_SPORT = 15556, 15557  # to the broker's backend, to the sink
TMPFS_SIZE = "4g"     # the sink's log tmpfs, outside the disk_full fault
DISK_SLACK = 64 << 10  # disk_full: bytes left free when the tmpfs is shrunk
HEALTH_W = 0.5        # recovery: window of the health test, s
HOLD_S = 2.0          # recovery: a stall while a routed fault lasts ends when healthy this long
TARGET_MS = 2000      # the target (reported, not asserted)
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
    return stale + clean_stale_mounts()


def clean_stale_mounts():
    """Unmounts the log tmpfs of runs whose pid is gone (<tmp>/attest-chaos-<pid>-*/log)
    and removes their directories."""
    gone = []
    try:
        with open("/proc/self/mounts") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return gone
    for m in mounts:
        if len(m) < 3 or m[2] != "tmpfs":
            continue
        path = m[1].replace("\\040", " ")
        base = os.path.basename(os.path.dirname(path))
        parts = base.split("-")
        if os.path.basename(path) != "log" or len(parts) < 4 or parts[:2] != ["attest", "chaos"] \
                or not parts[2].isdigit():
            continue
        pid = int(parts[2])
        if pid == os.getpid() or not pid_alive(pid):
            run(["umount", "-l", path], check=False, quiet=True)
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
            gone.append(path)
    return gone


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
        """netem: DELAY_RTT_MS/2 each way (a fixed DELAY_RTT_MS of added round
        trip); tbf: 3 Mbit/s both ways (queueing delay, no fixed delay)."""
        sw = self.ns("sw")
        if self.mech["delay"] == "netem":
            spec = ["netem", "delay", "%dms" % (DELAY_RTT_MS // 2)]
        else:
            spec = ["tbf", "rate", "3mbit", "burst", "32kb", "latency", "300ms"]
        self.sh(host, ["tc", "qdisc", "add", "dev", "eth0", "root"] + spec)
        run(["ip", "netns", "exec", sw, "tc", "qdisc", "add", "dev", "p-" + host, "root"] + spec)

    def delay_off(self, host):
        self.sh(host, ["tc", "qdisc", "del", "dev", "eth0", "root"], check=False)
        run(["ip", "netns", "exec", self.ns("sw"), "tc", "qdisc", "del", "dev", "p-" + host, "root"], check=False)

    def delay_what(self):
        if self.mech["delay"] == "netem":
            return "tc netem: %d ms of added round trip" % DELAY_RTT_MS
        if self.mech["delay"] == "proxy":
            return "delayproxy: %d ms of added round trip (no sch_netem)" % DELAY_RTT_MS
        return "tc tbf rate 3mbit both ways (queueing delay; no sch_netem, no delayproxy)"


class LogDisk:
    """The sink's log directory on a tmpfs of its own (TMPFS_SIZE), mounted in
    the root mount namespace before the sink starts (`ip netns exec` gives
    each process a mount namespace of its own, which need not see mounts
    made after it started). A tmpfs's size is its superblock's, so a remount
    reaches the sink too: fill() shrinks it to what it holds (the disk is
    full at once), grow() gives the room back."""

    def __init__(self, path):
        self.path = path
        self.mounted = False

    def mount(self):
        """None, or why the tmpfs could not be mounted."""
        os.makedirs(self.path, exist_ok=True)
        r = run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % TMPFS_SIZE, "tmpfs", self.path], check=False,
                quiet=True)
        if r.returncode != 0:
            return "mount -t tmpfs failed: %s" % r.stderr.decode(errors="replace").strip()
        self.mounted = True
        return None

    def used(self):
        st = os.statvfs(self.path)
        return (st.f_blocks - st.f_bfree) * st.f_frsize

    def _remount(self, size):
        return run(["mount", "-o", "remount,size=%s" % size, self.path], check=False, quiet=True)

    def fill(self):
        """Shrinks the tmpfs to what it holds + DISK_SLACK; returns the size.
        tmpfs refuses a size below its use, which grows meanwhile: retried."""
        err = ""
        for _ in range(50):
            size = (self.used() + DISK_SLACK + 4095) // 4096 * 4096
            r = self._remount(str(size))
            if r.returncode == 0:
                return size
            err = r.stderr.decode(errors="replace").strip()
            time.sleep(0.005)
        raise RuntimeError("cannot shrink the log tmpfs: %s" % err)

    def grow(self):
        r = self._remount(TMPFS_SIZE)
        if r.returncode != 0:
            raise RuntimeError("cannot grow the log tmpfs: %s" % r.stderr.decode(errors="replace").strip())

    def unmount(self, keep_in=None):
        """Copies the log to keep_in first when given."""
        if not self.mounted:
            return
        if keep_in:
            shutil.copytree(self.path, keep_in, dirs_exist_ok=True)
        run(["umount", "-l", self.path], check=False, quiet=True)
        self.mounted = False


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
        self.tmp = tempfile.mkdtemp(prefix="attest-chaos-%d-" % os.getpid())
        self.log_dir = os.path.join(self.tmp, "log")
        self.disk = LogDisk(self.log_dir)
        self.keys = os.path.join(self.tmp, "keys")
        self._make_keys()         # CURVE on every link, as deployed
        self.broker = None
        self.sink = None
        self.workers = {h: [] for h in WORKER_HOSTS}   # host -> [Proc], the last one alive
        self.gen = {h: 0 for h in WORKER_HOSTS}
        self.benches = []
        self.all_procs = []
        self.faults = []          # dicts: kind, detail, start, end, duration, settle
        self.paused = set()       # processes under SIGSTOP (SIGCONT at teardown)
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

    def start_worker(self, host, delayed=False):
        """delayed: connected through the host's delay proxies (start_proxies)."""
        g = self.gen[host]
        self.gen[host] += 1
        wid = "%s-g%d%s" % (host, g, "-delayed" if delayed else "")
        broker, sink = (PROXY_EP % PROXY_BPORT, PROXY_EP % PROXY_SPORT) if delayed else \
            (self.ep("broker", BPORT), self.ep("sink", SPORT))
        argv = [self.exe("attest-worker"), "--config", self.conf("worker.conf"), "--broker", broker,
                "--sink", sink, "--threads", "1", "--heartbeat-ms", "200", "--id", wid] + self.key_args("worker")
        p = self.spawn(host, "worker-" + wid, argv)
        p.wid = wid
        self.workers[host].append(p)
        return p

    def live_workers(self):
        return [(h, ps[-1]) for h, ps in self.workers.items() if ps and ps[-1].alive()]

    def proxy_exe(self):
        return os.path.join(os.path.dirname(self.bin), "tests", "delayproxy")

    def start_proxies(self, host):
        """Two delayproxies in host's namespace, DELAY_RTT_MS/2 each way: on
        127.0.0.1 to the broker's backend and to the sink's verdicts."""
        out = []
        for port, target in ((PROXY_BPORT, ("broker", BPORT)), (PROXY_SPORT, ("sink", SPORT))):
            argv = [self.proxy_exe(), "--listen", "127.0.0.1:%d" % port, "--target",
                    "%s:%d" % (self.net.ip(target[0]), target[1]), "--delay-ms", "%g" % (DELAY_RTT_MS / 2.0)]
            px = self.spawn(host, "delayproxy-%s-%s" % (host, target[0]), argv)
            out.append(px)
            if not self.wait_listen(px, [port]):
                raise RuntimeError("delayproxy did not start:\n" + px.stderr_text()[-2000:])
        return out

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

    # ---- faults: on_<kind>(duration, rng) injects and returns the fault (or
    # None when it cannot be injected now); off_<kind>(f) ends a timed one.
    def fault(self, kind, detail, duration=0.0):
        f = {"kind": kind, "detail": detail, "start": time.time(), "end": None, "duration": duration}
        self.faults.append(f)
        self.t.say("fault %-18s %s (log %d)" % (kind, detail, self.committed()))
        return f

    def end_fault(self, f):
        off = getattr(self, "off_" + f["kind"], None)
        if off:
            off(f)
        f["end"] = time.time()
        self.t.say("heal  %-18s (log %d)" % (f["kind"], self.committed()))

    def check_deaths(self):
        """Processes that exited without us asking."""
        for p in self.all_procs:
            if not p.expected_exit and p.name != "bench" and not p.name.startswith("bench") and not p.alive() \
                    and p not in self.unexpected:
                self.unexpected.append(p)
                self.t.say("UNEXPECTED: %s exited rc %s; its last lines:\n    %s" % (
                    p.name, p.returncode(), "\n    ".join(p.stderr_text().splitlines()[-5:])))

    def pause(self, p):
        p.send_signal(signal.SIGSTOP)
        self.paused.add(p)

    def resume(self, p):
        p.send_signal(signal.SIGCONT)
        self.paused.discard(p)

    def resume_all(self):
        for p in list(self.paused):
            self.resume(p)

    def on_kill(self, dur, rng):
        live = self.live_workers()
        if not live:
            return None
        host, p = rng.choice(live)
        f = self.fault("kill", "SIGKILL worker %s on %s" % (p.wid, host))
        p.expected_exit = True
        p.stop(sig=signal.SIGKILL, grace=5.0)
        self.start_worker(host)
        return f

    def on_drain(self, dur, rng):
        live = self.live_workers()
        if not live:
            return None
        host, p = rng.choice(live)
        f = self.fault("drain", "SIGTERM worker %s on %s, replacement started" % (p.wid, host))
        self.start_worker(host)
        self.drain(p)
        return f

    def drain(self, p):
        """SIGTERM (drain); a thread reaps it into drain_results. Returns the thread."""
        p.expected_exit = True
        th = threading.Thread(target=self._reap_drain, args=(p, time.time()), daemon=True)
        p.send_signal(signal.SIGTERM)
        th.start()
        return th

    def _reap_drain(self, p, t):
        rc = p.wait(30.0)
        self.drain_results.append((p.wid, rc, time.time() - t))
        if rc is None:
            p.stop(sig=signal.SIGKILL, grace=2.0)

    def on_loss(self, dur, rng):
        host = rng.choice(WORKER_HOSTS)
        self.net.loss_on(host, 5)
        f = self.fault("loss", "5%% random drop in and out of %s (%s), %d s" % (host, self.net.mech["filter"], dur),
                       dur)
        f["host"] = host
        return f

    def off_loss(self, f):
        self.net.loss_off(f["host"])

    def on_partition_worker(self, dur, rng):
        host = rng.choice(WORKER_HOSTS)
        self.net.link(host, False)
        f = self.fault("partition_worker", "ip link set eth0 down on %s, %d s" % (host, dur), dur)
        f["host"] = host
        return f

    def off_partition_worker(self, f):
        self.net.link(f["host"], True)

    def on_worker_stop(self, dur, rng):
        live = self.live_workers()
        if not live:
            return None
        host, p = rng.choice(live)
        self.pause(p)
        f = self.fault("worker_stop", "SIGSTOP worker %s on %s, %d s" % (p.wid, host, dur), dur)
        f["proc"] = p
        return f

    def off_worker_stop(self, f):
        self.resume(f["proc"])

    def on_partition_producer(self, dur, rng):
        self.net.drop_all_on("p1")
        return self.fault("partition_producer", "%s drops everything on producer host p1, %d s"
                          % (self.net.mech["filter"], dur), dur)

    def off_partition_producer(self, f):
        self.net.drop_all_off("p1")

    def on_sink(self, dur, rng):
        f = self.fault("sink", "SIGKILL the sink, restart on %s" % self.ep("sink", SPORT))
        self.sink.expected_exit = True
        self.sink.stop(sig=signal.SIGKILL, grace=5.0)
        self.start_sink()
        return f

    def on_sink_stop(self, dur, rng):
        self.pause(self.sink)
        return self.fault("sink_stop", "SIGSTOP the sink, %d s" % dur, dur)

    def off_sink_stop(self, f):
        self.resume(self.sink)

    def on_partition_sink(self, dur, rng):
        self.net.drop_all_on("sink")
        return self.fault("partition_sink", "the sink split from the broker and the workers: %s drops everything "
                          "on the sink host, %d s" % (self.net.mech["filter"], dur), dur)

    def off_partition_sink(self, f):
        self.net.drop_all_off("sink")

    def on_delay(self, dur, rng):
        """tc (netem, else tbf) on every worker host; with the delay proxy
        (which has no run-time switch) each host's worker is replaced by one
        connected through the host's proxies, and the direct one drained."""
        if self.net.mech["delay"] != "proxy":
            for h in WORKER_HOSTS:
                self.net.delay_on(h)
            return self.fault("delay", "%s on every worker host, %d s" % (self.net.delay_what(), dur), dur)
        proxies = [px for h in WORKER_HOSTS for px in self.start_proxies(h)]
        f = self.fault("delay", "%s on every worker host: their workers replaced by ones through it, %d s"
                       % (self.net.delay_what(), dur), dur)
        f["proxies"] = proxies
        self.swap_workers(delayed=True)
        return f

    def off_delay(self, f):
        if self.net.mech["delay"] != "proxy":
            for h in WORKER_HOSTS:
                self.net.delay_off(h)
            return
        drains = self.swap_workers(delayed=False)
        threading.Thread(target=self._stop_proxies, args=(drains, f["proxies"]), daemon=True).start()

    def swap_workers(self, delayed):
        """Starts a worker on every worker host (delayed or direct), then drains
        the one it replaces; returns the drain threads."""
        drains = []
        for h in WORKER_HOSTS:
            old = self.workers[h][-1] if self.workers[h] and self.workers[h][-1].alive() else None
            self.start_worker(h, delayed=delayed)
            if old is not None:
                drains.append(self.drain(old))
        return drains

    def _stop_proxies(self, drains, proxies):
        """Once the delayed workers have drained (they report through them)."""
        for th in drains:
            th.join(40.0)
        for px in proxies:
            px.expected_exit = True
            px.stop(grace=5.0)

    def on_disk_full(self, dur, rng):
        used = self.disk.used()
        size = self.disk.fill()
        return self.fault("disk_full", "the log tmpfs shrunk to %d KiB (it held %d KiB), %d s"
                          % (size >> 10, used >> 10, dur), dur)

    def off_disk_full(self, f):
        self.disk.grow()

    def on_broker_stop(self, dur, rng):
        self.pause(self.broker)
        return self.fault("broker_stop", "SIGSTOP the broker, %d s" % dur, dur)

    def off_broker_stop(self, f):
        self.resume(self.broker)

    def on_broker(self, dur, rng):
        f = self.fault("broker", "SIGKILL the broker, restart on %s/%d" % (self.ep("broker", FPORT), BPORT))
        self.broker.expected_exit = True
        self.broker.stop(sig=signal.SIGKILL, grace=5.0)
        self.start_broker()
        return f

    def schedule(self, selected):
        """[(offset s, "on"|"off", slot)] in time order, and the schedule's
        length: the PLAN slots of the selected kinds one after the other."""
        ev, off = [], LEAD_S
        for k, (kind, dur, settle) in enumerate(p for p in PLAN if p[0] in selected):
            slot = {"n": k, "kind": kind, "duration": dur, "settle": settle}
            ev.append((off, "on", slot))
            if dur:
                ev.append((off + dur, "off", slot))
            off += dur + settle
        return ev, off

    def do(self, when, slot, rng):
        """Runs one schedule event; True when a fault was injected."""
        if when == "off":
            if slot.get("fault"):
                self.end_fault(slot["fault"])
            return False
        f = getattr(self, "on_" + slot["kind"])(slot["duration"], rng)
        if f is None:
            self.t.say("fault %s: nothing to inject it into now" % slot["kind"])
            return False
        f["settle"] = slot["settle"]
        slot["fault"] = f
        if not slot["duration"]:
            f["end"] = time.time()
        return True


# ------------------------------------------------------------------ recovery

class Commits:
    """The log's commit times: t_committed (µs, the sink's wall clock, one
    stamp per transaction) of every entry, in log order, kept as distinct
    stamps (s) with the count of entries committed up to each."""

    def __init__(self):
        self.times, self.cum = [], []

    def add(self, t_us):
        t = t_us / 1e6
        if self.times and t <= self.times[-1]:     # the same transaction (or a clock step back)
            self.cum[-1] += 1
        else:
            self.times.append(t)
            self.cum.append((self.cum[-1] if self.cum else 0) + 1)

    def _before(self, t):
        k = bisect.bisect_left(self.times, t)
        return self.cum[k - 1] if k else 0

    def count(self, a, b):
        """Entries committed in [a, b)."""
        return self._before(b) - self._before(a)

    def first_from(self, t):
        """The first commit at or after t (None after the last)."""
        k = bisect.bisect_left(self.times, t)
        return self.times[k] if k < len(self.times) else None

    def last(self):
        return self.times[-1] if self.times else 0.0


def healthy(c, t, level):
    """The commits in [t, t+HEALTH_W) are at least half of level's."""
    return c.count(t, t + HEALTH_W) >= level * HEALTH_W / 2.0


def resumption(c, ref, level, until, hold=float("inf")):
    """(ms, note): from ref to the first commit from which every moment is
    healthy for hold (and at most up to until or the end of the load); 0
    when it is healthy from ref on. Note "+" when until cut it off, "load
    finished" when the load ended first; (None, "no commit after it") when
    nothing was committed after ref."""
    if c.last() <= ref:
        return None, "no commit after it"
    lim = min(until, c.last())
    t = ref
    while True:
        while t + HEALTH_W <= lim and not healthy(c, t, level):
            t += 0.05
        if t + HEALTH_W > lim:
            if until < c.last():
                return int((until - ref) * 1000.0), "+"
            return int((c.last() - ref) * 1000.0), "load finished"
        r = max(ref, c.first_from(t))
        u, bad = r, None
        while u < min(r + hold, lim - HEALTH_W):
            if not healthy(c, u, level):
                bad = u
                break
            u += 0.05
        if bad is None:
            return int((r - ref) * 1000.0), ""
        t = bad


def longest_stall(c, a, b, level, until):
    """(ms, end, note) of the longest stall that begins in [a, b): from a
    moment that is not healthy to the resumption after it (healthy for
    HOLD_S)."""
    t, worst = a, (0, a, "")
    while t + HEALTH_W <= min(b, c.last()):
        if healthy(c, t, level):
            t += 0.05
            continue
        ms, note = resumption(c, t, level, until, HOLD_S)
        if ms is None:
            break
        if ms > worst[0]:
            worst = (ms, t + ms / 1000.0, note)
        if note:
            break
        t += ms / 1000.0 + 0.05
    return worst


def recovery(c, f, level):
    """(ms, note) of fault f, on commits c at the steady level; see the top
    of the file. Instantaneous faults count from the injection, the others
    from their end; commits must then stay healthy to the end of the
    fault's slot. For those on one worker host (ROUTED), the longer of that
    and the longest stall while they lasted."""
    s = f["start"]
    e = f["end"] if f["duration"] else s
    until = e + f["settle"]
    at_end, note = resumption(c, e, level, until)
    if f["kind"] not in ROUTED or not f["duration"] or at_end is None:
        return at_end, note
    stall, stall_end, note_s = longest_stall(c, s, e, level, until)
    if not note_s and stall_end > e + 0.5:
        note_s = "NOT ROUTED AROUND while it lasted"
    return max(stall, at_end), note_s if stall >= at_end else note


def delay_ratios(c, f, level):
    """(lowest, mean) ratio of the throughput during the delay phase to level:
    the lowest over the 1 s windows inside it (0.1 s apart), the mean over
    the whole phase."""
    s, e = f["start"], f["end"] or f["start"]
    if level <= 0 or e - s < 1.0:
        return None, None
    lows, t = [], s
    while t + 1.0 <= e:
        lows.append(c.count(t, t + 1.0) / float(level))
        t += 0.1
    return min(lows), c.count(s, e) / (e - s) / float(level)


def trace(c, t0, t1):
    """Commits per 0.5 s from t0 to t1 (at most 48 numbers)."""
    out, t = [], t0
    while t < t1 and len(out) < 48:
        out.append(str(c.count(t, t + 0.5)))
        t += 0.5
    return " ".join(out)


def steady_level(c, offered):
    """The throughput of the whole load (first to last commit), capped at the
    offered rate: the level every fault's health is judged against."""
    span = c.last() - (c.times[0] if c.times else 0.0)
    return min(float(offered), c.cum[-1] / span) if span > 0 else float(offered)


def report_recovery(t, commits, faults, t0, offered):
    """Prints each fault's recovery and trace; returns {kind: (ms, note)} with
    the longest per kind, and the delay phase's (lowest, mean) ratios.
    commits: "all", and "p1" (the partitioned producer host's own)."""
    levels = {"all": steady_level(commits["all"], offered),
              "p1": steady_level(commits["p1"], offered / len(PRODUCER_HOSTS))}
    print("recovery (from t_committed; level %.0f/s, p1's %.0f/s; see resumption()):" % (levels["all"], levels["p1"]))
    kinds, ratios = {}, (None, None)
    for f in faults:
        which = "p1" if f["kind"] == "partition_producer" else "all"
        c, level = commits[which], levels[which]
        ms, note = recovery(c, f, level)
        f["recovery_ms"], f["note"] = ms, note
        e = f["end"] or f["start"]
        print("  +%6.1fs %-18s recovery %5s ms %s" % (f["start"] - t0, f["kind"], "-" if ms is None else ms, note))
        print("           %scommits per 0.5 s from 1 s before it: %s"
              % ("p1's " if which == "p1" else "", trace(c, f["start"] - 1.0, e + f["settle"])))
        if f["kind"] == "delay":
            ratios = delay_ratios(c, f, level)
            if ratios[0] is not None:
                print("           throughput during it / level: lowest %.3f, mean %.3f" % ratios)
        old = kinds.get(f["kind"])
        if old is None or (old[0] is not None and (ms is None or ms > old[0])):
            kinds[f["kind"]] = (ms, note)
    return kinds, ratios


# ------------------------------------------------------------------ the log audit

def kind_of(i):
    """gen.c: about 10 per mille with a corrupted signature, spread evenly."""
    return 1 if ((i + 1) * 10) // 1000 != (i * 10) // 1000 else 0


def history_attester(path):
    """The attester key of a bench's history (its first line)."""
    with open(path) as f:
        return bytes.fromhex(f.readline().split()[2])


def check_history(t, path, where):
    """Compares one bench's history (what each producer was told) with the
    log: every acknowledged attestation is in the log exactly at the index
    it was acknowledged with; nothing refused or left without an outcome."""
    attester = history_attester(path)
    with open(path) as f:
        f.readline()
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
    res = {"committed": 0, "lost": n_total, "dup": 0, "order": "ok", "where": {}, "commits": Commits(),
           "by_attester": {}}
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
                res["commits"].add(e["t_committed"])
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
                res["by_attester"].setdefault(attester, Commits()).add(e["t_committed"])
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

def settings():
    """The environment's knobs (see the top of the file); exits 2 on an unknown fault kind."""
    env = os.environ.get
    selected = [f.strip() for f in env("CHAOS_FAULTS", ",".join(ALL_FAULTS)).split(",") if f.strip()]
    unknown = [f for f in selected if f not in ALL_FAULTS]
    if unknown:
        print("chaos: unknown CHAOS_FAULTS %s (known: %s)" % (unknown, ",".join(ALL_FAULTS)))
        sys.exit(2)
    return {"selected": selected, "n": int(env("CHAOS_N", "0")), "rate": int(env("CHAOS_RATE", "5000")),
            "seed": int(env("CHAOS_SEED", str(int(time.time()) % 100000))),
            "verify_all": env("CHAOS_VERIFY_ALL") == "1", "keep": env("CHAOS_KEEP") == "1",
            "max_allowed": int(env("CHAOS_MAX_RECOVERY_MS", "20000"))}


def prepare(t, c, selected):
    """Network, mechanisms and the log tmpfs; drops the kinds this machine cannot inject."""
    c.net.setup()
    t.say("network: %d namespaces %s*, bridge br0 in %ssw, %s.0/24" % (len(c.net.made), c.net.prefix,
                                                                         c.net.prefix, SUBNET))
    mech = c.net.probe()
    if mech["delay"] != "netem" and os.access(c.proxy_exe(), os.X_OK):
        mech["delay"] = "proxy"
    t.say("mechanisms: loss and silent partition: %s; delay: %s; link partition: ip link set down/up"
          % (mech["filter"] or "NONE", c.net.delay_what() if mech["delay"] else "NONE"))
    why = c.disk.mount()
    t.say("the sink's log: %s" % ("a tmpfs of %s at %s" % (TMPFS_SIZE, c.log_dir) if not why
                                  else "on the disk (%s)" % why))
    unable = {"loss": not mech["filter"], "partition_sink": not mech["filter"],
              "partition_producer": not mech["filter"], "delay": not mech["delay"], "disk_full": bool(why)}
    for f in [f for f in selected if unable.get(f)]:
        t.skip("fault %s" % f, why if f == "disk_full" else "no mechanism for it here (scripts/install-deps.sh)")
        selected.remove(f)


def start_load(c, per_bench, nprod, rate):
    for h in PRODUCER_HOSTS:
        argv = [c.exe("attest"), "bench", "--progress", "false", "--broker", c.ep("broker", FPORT),
                "--log-dir", c.log_dir, "--n", str(per_bench), "--producers", str(nprod),
                "--rate", str(rate // len(PRODUCER_HOSTS)), "--workers", "1", "--threads", "1",
                "--history", os.path.join(c.tmp, "history-%s.txt" % h)] + c.key_args("producer")
        c.benches.append(c.spawn(h, "bench-" + h, argv))


def run_schedule(t, c, events, rng, n_total):
    """Waits for the load to flow, then runs the events; returns t0 (the
    schedule's zero)."""
    end = time.time() + 180
    while time.time() < end and c.committed() < n_total // 100 and any(b.alive() for b in c.benches):
        time.sleep(0.1)
        c.check_deaths()
    t.check("load flowing: the log holds 1%% (%d) of n" % c.committed(), c.committed() >= n_total // 100)
    t0 = time.time()
    loaded = 0
    for off, when, slot in events:
        while time.time() < t0 + off:
            time.sleep(0.02)
            c.check_deaths()
        if when == "on" and not any(b.alive() for b in c.benches):
            t.say("load over before %s at +%.0fs: not injected" % (slot["kind"], off))
            continue
        if c.do(when, slot, rng) and c.committed() < n_total:
            loaded += 1
    planned = sum(1 for _, w, _ in events if w == "on")
    t.check("every scheduled fault injected while the load ran (%d of %d)" % (loaded, planned), loaded == planned)
    return t0


def wait_benches(t, c, per_bench):
    t.say("fault schedule over; waiting for the benches")
    for b in c.benches:
        end = time.time() + 420
        while b.alive() and time.time() < end:
            time.sleep(0.2)
            c.check_deaths()
    for b in c.benches:
        rc = b.wait(1.0)
        out = b.stderr_text()
        br = c.cl.parse_bench(out)
        if br:
            print("%s: %s" % (b.host, br["line"]), flush=True)
        t.check("%s: bench exits 0 with committed=%d lost=0 dup=0 order=ok" % (b.host, per_bench),
                rc == 0 and br and br["committed"] == per_bench and br["lost"] == 0 and br["dup"] == 0
                and br["order"] == "ok", "rc=%s %s" % (rc, br["line"] if br else out[-1500:]))


def stop_cluster(t, c, selected):
    time.sleep(0.5)
    c.sampling = False
    time.sleep(0.3)
    c.check_deaths()
    t.check("no broker, sink or worker died on its own", not c.unexpected,
            ["%s rc %s" % (p.name, p.returncode()) for p in c.unexpected])
    drains = list(c.drain_results)
    if "drain" in selected or drains:
        t.check("every drained worker exited 0 within 30 s after SIGTERM (%s)"
                % ", ".join("%s rc %s in %.1f s" % (w, rc, s) for w, rc, s in drains),
                drains and all(rc == 0 for _, rc, _ in drains))
    for h, p in c.live_workers():
        p.expected_exit = True
        p.stop(grace=10.0)
    rc = c.sink.stop(grace=20.0)
    t.check("the sink stops cleanly on SIGTERM (rc %s)" % rc, rc == 0)
    rc = c.broker.stop(grace=10.0)
    t.check("the broker stops cleanly on SIGTERM (rc %s)" % rc, rc == 0)


def check_recovery(t, c, commits, t0, rate, max_allowed):
    """Reports the recoveries from the log; returns the summary's fields."""
    kinds, ratios = report_recovery(t, commits, c.faults, t0, rate)
    wedged = ["%s at +%.1fs: %s" % (f["kind"], f["start"] - t0, f["note"]) for f in c.faults
              if f.get("note") in ("load finished", "no commit after it")]
    t.check("commits resumed after every fault before the load ended", not wedged, wedged)
    worst = max([ms for ms, _ in kinds.values() if ms is not None] or [-1])
    t.check("every recovery within %d ms (CHAOS_MAX_RECOVERY_MS; a guard, not the target)" % max_allowed,
            worst <= max_allowed, ["%s: %s ms" % (k, v[0]) for k, v in kinds.items()
                                   if v[0] is not None and v[0] > max_allowed])
    n = {}
    for f in c.faults:
        n[f["kind"]] = n.get(f["kind"], 0) + 1
    t.say("faults injected: %d (%s)" % (len(c.faults), ", ".join("%s %d" % kv for kv in n.items())))
    per = ",".join("%s:%s%s" % (k, "-" if ms is None else ms, "+" if note == "+" else "")
                   for k, (ms, note) in kinds.items())
    over = ",".join(k for k, (ms, _) in kinds.items() if ms is None or ms > TARGET_MS)
    fmt = lambda x: "-" if x is None else "%.3f" % x  # noqa: E731
    return {"max": worst, "line": "max_recovery_ms=%d recovery_ms=%s delay_min_ratio=%s delay_mean_ratio=%s "
            "target_ms=%d over_target=%s" % (worst, per or "-", fmt(ratios[0]), fmt(ratios[1]), TARGET_MS,
                                             over or "none")}


def body(t, c, cfg, lf):
    """Everything between the set-up and the teardown; returns the audit's result and the recovery summary."""
    selected, rate, nprod = cfg["selected"], cfg["rate"], 2
    prepare(t, c, selected)
    events, length = c.schedule(selected)
    n_total = (cfg["n"] or int(rate * (length + TAIL_S))) // 200 * 200
    cfg["n_total"] = n_total
    per_bench = n_total // len(PRODUCER_HOSTS)
    t.say("schedule: %.0f s (%s); n=%d (2 benches x %d, 2 producers each) at %d/s"
          % (length, " ".join("+%.0f %s" % (o, s["kind"]) for o, w, s in events if w == "on"), n_total, per_bench,
             rate))
    c.start_broker()
    c.start_sink()
    for h in WORKER_HOSTS:
        c.start_worker(h)
    threading.Thread(target=c.sampler, daemon=True).start()
    start_load(c, per_bench, nprod, rate)
    t0 = run_schedule(t, c, events, random.Random(cfg["seed"]), n_total)
    wait_benches(t, c, per_bench)
    stop_cluster(t, c, selected)
    t.say("auditing the log (%s)" % c.log_dir)
    res = audit_log(t, c.cl, lf, c.log_dir, n_total, nprod, cfg["verify_all"])
    for h in PRODUCER_HOSTS:
        path = os.path.join(c.tmp, "history-%s.txt" % h)
        if os.path.exists(path):
            check_history(t, path, res["where"])
        else:
            t.check("%s: the bench wrote its history" % h, False, path)
    t.check("the log holds exactly n=%d entries" % n_total, res["committed"] == n_total, res["committed"])
    p1 = os.path.join(c.tmp, "history-p1.txt")
    commits = {"all": res["commits"],
               "p1": res["by_attester"].get(history_attester(p1), Commits()) if os.path.exists(p1) else Commits()}
    return res, check_recovery(t, c, commits, t0, rate, cfg["max_allowed"])


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
    cfg = settings()
    t.say("faults: %s; seed %d" % (",".join(cfg["selected"]), cfg["seed"]))
    stale = clean_stale()
    if stale:
        t.say("removed %d stale namespaces and mounts of earlier runs: %s" % (len(stale), " ".join(stale)))
    c = Chaos(args, t, cl)
    done = {"x": False}

    def teardown():
        if done["x"]:
            return
        done["x"] = True
        c.sampling = False
        c.resume_all()
        cl.stop_all()
        c.net.teardown()
        keep = cfg["keep"] or (t.failed and os.environ.get("CHAOS_KEEP_ON_FAILURE") == "1")
        c.disk.unmount(keep_in=os.path.join(c.tmp, "log.kept") if keep else None)

    def on_signal(signum, frame):
        raise SystemExit("chaos: stopped by signal %d" % signum)
    atexit.register(teardown)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    res = {"committed": 0, "lost": -1, "dup": -1, "order": "unknown"}
    summary = {"max": -1, "line": "max_recovery_ms=-1"}
    try:
        res, summary = body(t, c, cfg, lf)
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
        t.check("teardown: the log tmpfs unmounted", not c.disk.mounted)
        if cfg["keep"] or (t.failed and os.environ.get("CHAOS_KEEP_ON_FAILURE") == "1"):
            print("chaos: data kept in %s" % c.tmp)
        else:
            shutil.rmtree(c.tmp, ignore_errors=True)
    print("chaos: %.1f s" % (time.time() - t.t0))
    print("%d passed, %d failed" % (t.passed, len(t.failed)))
    print("chaos: n=%d committed=%d faults=%d lost=%d dup=%d order=%s %s"
          % (cfg.get("n_total", 0), res["committed"], len(c.faults), res["lost"], res["dup"], res["order"],
             summary["line"]), flush=True)
    bad = t.failed or res["lost"] != 0 or res["dup"] != 0 or res["order"] != "ok"
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
