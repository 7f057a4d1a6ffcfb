"""test_settings.py: the sample configurations agree with the settings tables,
and every executable's exit codes are what docs/operations.md says.

Configurations (deploy/*.conf and deploy/cluster/*.conf): the table of each
daemon is read from `<exe> --help` (one line per key: "--name TYPE help
(default: D; MIN..MAX)", then "deprecated: old name of --new" lines). For
every conf:
  * every key is in that daemon's table under its current name (not a
    deprecated alias), and every key of the table is in the conf;
  * every value has the key's type and lies within its bounds; in
    deploy/*.conf ("the values below are the built-in defaults") every value
    is the default;
  * the comment above each key ends with "default VALUE, MIN..MAX" (or
    "default VALUE" for text and bools) and that matches the table; no
    other line of the comment restates bounds (they drifted before);
  * the broker's pipeline-window equals the sink's in each set.

Exit codes, for attest-broker, attest-sink, attest-worker and attest:
  * --help -> 0 with the options on stdout; --version -> 0 printing
    "<prog> X.Y.Z (<commit>)";
  * an unknown option -> 2 with a message naming it; a stray positional
    (e.g. a config path without --config) -> 2 naming it; a bad value -> 2;
  * a sink whose log directory cannot be created (under a regular file) -> 1;
    a broker or a sink whose port is taken -> 1;
  * SIGTERM -> 0 for the broker and the sink, which log their effective
    settings at start-up; an old name (--window) is accepted with a
    CFG-DEPRECATED warning naming the new one.

    /usr/bin/python3 test_settings.py --bin BUILD/bin
"""
import glob
import os
import re
import signal
import socket
import subprocess
import time
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DAEMONS = ["attest-broker", "attest-sink", "attest-worker"]
OPTION = re.compile(r"^  --(\S+)( N| TEXT)?\s+(.*)$")
DEFAULT = re.compile(r"\(default: (.*?)(?:; (-?\d+)\.\.(-?\d+))?\)$")
DEPRECATED = re.compile(r"deprecated: old name of --(\S+),")
CONF_KEY = re.compile(r'^([a-z][a-z0-9-]*)\s*=\s*"(.*)"\s*$')
CONF_DEFAULT = re.compile(r'^#\s+default ("[^"]*"|\S+)(?:, (-?\d+)\.\.(-?\d+))?$')
BOUNDS = re.compile(r"-?\d+\.\.-?\d+")
VERSION = re.compile(r"^(\S+) (\d+\.\d+\.\d+) \(([0-9a-f]{4,40}|unknown)\)$")


def run(argv, timeout=30):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def table(bindir, exe):
    """{name: {"type", "default", "min", "max"}}, {alias: name} from --help."""
    rc, out, _ = run([os.path.join(bindir, exe), "--help"])
    keys, aliases = {}, {}
    for line in out.splitlines():
        m = OPTION.match(line)
        if not m or m.group(1) in ("config", "help", "version"):
            continue
        name, rest = m.group(1), m.group(3)
        d = DEPRECATED.match(rest)
        if d:
            aliases[name] = d.group(1)
            continue
        i = rest.rfind("(default: ")
        dm = DEFAULT.search(rest[i:]) if i >= 0 else None
        if not dm:
            keys[name] = None          # unparsable: reported by the caller
            continue
        kind = {" N": "int", " TEXT": "str", None: "bool"}[m.group(2)]
        default = "" if dm.group(1) == '""' else dm.group(1)
        lo, hi = (int(dm.group(2)), int(dm.group(3))) if dm.group(2) else (None, None)
        keys[name] = {"type": kind, "default": default, "min": lo, "max": hi}
    return rc, keys, aliases


def read_conf(path):
    """[(key, value, [comment lines above it])]."""
    items, block = [], []
    with open(path) as f:
        for line in f.read().splitlines():
            if line.startswith("#"):
                block.append(line)
            elif CONF_KEY.match(line):
                m = CONF_KEY.match(line)
                items.append((m.group(1), m.group(2), block))
                block = []
            else:
                block = []
    return items


def value_ok(spec, value):
    if spec["type"] == "int":
        try:
            v = int(value, 10)
        except ValueError:
            return False
        return spec["min"] <= v <= spec["max"]
    if spec["type"] == "bool":
        return value in ("true", "false", "1", "0")
    return True


def stated_default(spec, block):
    """Checks the "default ..." line; returns a problem or None."""
    if not block or not CONF_DEFAULT.match(block[-1]):
        return "the last comment line is not 'default VALUE[, MIN..MAX]': %r" % (block[-1:] or "")
    m = CONF_DEFAULT.match(block[-1])
    d = m.group(1)
    if spec["type"] == "str":
        if not (d.startswith('"') and d.endswith('"')) or d[1:-1] != spec["default"]:
            return "states default %s, the table has \"%s\"" % (d, spec["default"])
    elif d != spec["default"]:
        return "states default %s, the table has %s" % (d, spec["default"])
    if spec["type"] == "int":
        if m.group(2) is None or (int(m.group(2)), int(m.group(3))) != (spec["min"], spec["max"]):
            return "states bounds %s..%s, the table has %d..%d" % (m.group(2), m.group(3), spec["min"], spec["max"])
    elif m.group(2) is not None:
        return "states bounds for a key that has none"
    for line in block[:-1]:
        if BOUNDS.search(line):
            return "bounds restated outside the default line: %r" % line
    return None


def check_conf(t, path, role, keys, aliases, all_defaults):
    rel = os.path.relpath(path, ROOT)
    items = read_conf(path)
    seen = {}
    for key, value, block in items:
        spec = keys.get(key)
        if key in aliases:
            t.check("%s: %s is a current name" % (rel, key), False, "deprecated; use %s" % aliases[key])
            continue
        if not t.check("%s: %s is a key of attest-%s" % (rel, key, role), spec is not None,
                       "unknown key" if key not in keys else "unparsable --help line"):
            continue
        seen[key] = value
        t.check("%s: %s = %r has its type and is within bounds" % (rel, key, value), value_ok(spec, value), spec)
        problem = stated_default(spec, block)
        t.check("%s: %s: the comment states the table's default and bounds" % (rel, key), problem is None, problem)
        if all_defaults:
            t.check("%s: %s is the built-in default" % (rel, key), value == spec["default"],
                    (value, spec["default"]))
    missing = sorted(set(keys) - set(seen))
    t.check("%s: every key of the table is listed" % rel, not missing, missing)
    names = [k for k, _, _ in items]
    t.check("%s: no key twice" % rel, len(set(names)) == len(names), names)
    return seen


def configs(t, bindir):
    tables = {}
    for role in ("broker", "sink", "worker"):
        rc, keys, aliases = table(bindir, "attest-" + role)
        t.check("attest-%s --help lists its table (%d keys)" % (role, len(keys)), rc == 0 and len(keys) >= 10,
                (rc, sorted(keys)))
        tables[role] = (keys, aliases)
    t.check("attest-sink: old name window stands for pipeline-window",
            tables["sink"][1].get("window") == "pipeline-window", tables["sink"][1])
    t.check("attest-worker: old name window stands for credit", tables["worker"][1].get("window") == "credit",
            tables["worker"][1])
    for d, all_defaults in (("deploy", True), ("deploy/cluster", False)):
        values = {}
        for path in sorted(glob.glob(os.path.join(ROOT, d, "*.conf"))):
            role = re.search(r"(broker|sink|worker)\.conf$", path).group(1)
            values[role] = check_conf(t, path, role, tables[role][0], tables[role][1], all_defaults)
        b, s = values.get("broker", {}).get("pipeline-window"), values.get("sink", {}).get("pipeline-window")
        t.check("%s: the broker's pipeline-window (%s) equals the sink's (%s)" % (d, b, s), b is not None and b == s)


def usage_codes(t, bindir, tmp):
    attest = os.path.join(bindir, "attest")
    for exe in DAEMONS + ["attest"]:
        path = os.path.join(bindir, exe)
        rc, out, err = run([path, "--help"])
        t.check("%s --help -> 0 with usage on stdout" % exe, rc == 0 and ("Options" in out or "Commands" in out),
                (rc, err[:200]))
        rc, out, err = run([path, "--version"])
        m = VERSION.match(out.strip())
        t.check("%s --version -> 0: '%s'" % (exe, out.strip()), rc == 0 and m and m.group(1) == exe, (rc, out, err))
    for exe in DAEMONS:
        path = os.path.join(bindir, exe)
        rc, _, err = run([path, "--no-such-option", "1"])
        t.check("%s --no-such-option -> 2 naming it" % exe, rc == 2 and "--no-such-option" in err, (rc, err[:300]))
        rc, _, err = run([path, "/etc/attest/%s.conf" % exe[7:]])
        t.check("%s CONFPATH (no --config) -> 2 naming it" % exe, rc == 2 and "/etc/attest/" in err, (rc, err[:300]))
        rc, _, err = run([path, "--log-level", "debug", "stray"])
        t.check("%s ... stray -> 2 naming it" % exe, rc == 2 and "stray" in err, (rc, err[:300]))
        rc, _, err = run([path, "--heartbeat-ms", "often"])
        t.check("%s --heartbeat-ms often -> 2 naming the setting" % exe, rc == 2 and "heartbeat-ms" in err,
                (rc, err[:300]))
    rc, _, err = run([attest, "--no-such-option"])
    t.check("attest --no-such-option -> 2 naming it", rc == 2 and "--no-such-option" in err, (rc, err[:300]))
    rc, _, err = run([attest])
    t.check("attest (no command) -> 2", rc == 2, rc)
    for sub in ("up", "demo", "keygen", "submit", "bench"):
        rc, _, err = run([attest, sub, "stray"])
        t.check("attest %s stray -> 2 naming it" % sub, rc == 2 and "stray" in err, (rc, err[:300]))
    rc, _, err = run([attest, "bench", "--n", "0"])
    t.check("attest bench --n 0 (below its bound) -> 2", rc == 2 and "--n" in err, (rc, err[:300]))
    rc, _, err = run([attest, "log", "--dir", tmp, "count", "extra"])
    t.check("attest log count extra -> 2", rc == 2, (rc, err[:300]))


def bound_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s, s.getsockname()[1]


def runtime_codes(t, c):
    """Failures after the settings are good are 1; SIGTERM is 0."""
    blocker = os.path.join(c.tmp, "a-file")
    with open(blocker, "w") as f:
        f.write("not a directory\n")
    rc, _, err = run([c.exe("attest-sink"), "--insecure", "--log-dir", os.path.join(blocker, "log"),
                      "--verdicts", "tcp://127.0.0.1:%d" % cl.free_port()])
    t.check("attest-sink with a log dir under a regular file -> 1", rc == 1 and "SNK-START" in err, (rc, err[-300:]))
    sock, port = bound_port()
    try:
        rc, _, err = run([c.exe("attest-broker"), "--insecure", "--frontend", "tcp://127.0.0.1:%d" % port,
                          "--backend", "tcp://127.0.0.1:%d" % cl.free_port()])
        t.check("attest-broker whose frontend port is taken -> 1", rc == 1, (rc, err[-300:]))
        rc, _, err = run([c.exe("attest-sink"), "--insecure", "--log-dir", os.path.join(c.tmp, "log2"),
                          "--verdicts", "tcp://127.0.0.1:%d" % port])
        t.check("attest-sink whose verdicts port is taken -> 1", rc == 1, (rc, err[-300:]))
    finally:
        sock.close()

    # CFG lines are at debug; the windows must be equal (the broker refuses a sink whose window differs)
    broker = c.start_broker(["--log-level", "debug"] + (["--pipeline-window", "1024"] if not c.window else []))
    sink = c.start_sink((["--window", "1024"] if not c.window else []) + ["--log-level", "debug"])
    cl.wait_port(c.sport, proc=sink)
    serr = sink.stderr_text()
    t.check("the sink logs its effective settings at start-up",
            "CFG pipeline-window = 1024" in serr and "CFG log-dir = " in serr, serr[-600:])
    t.check("the old name --window is accepted with a CFG-DEPRECATED warning naming pipeline-window",
            "CFG-DEPRECATED" in serr and "pipeline-window" in serr.split("CFG-DEPRECATED", 1)[-1][:200], serr[-600:])
    t.check("the broker logs its effective settings at start-up", "CFG heartbeat-ms = " in broker.stderr_text(),
            broker.stderr_text()[-400:])
    rc = sink.stop(signal.SIGTERM, grace=15.0)
    t.check("attest-sink exits 0 on SIGTERM", rc == 0, (rc, sink.stderr_text()[-300:]))
    rc = broker.stop(signal.SIGTERM, grace=15.0)
    t.check("attest-broker exits 0 on SIGTERM", rc == 0, (rc, broker.stderr_text()[-300:]))
    info_level(t, c)


def info_level(t, c):
    """At the default level (info): no CFG lines, one start-up line per
    daemon saying where producers connect, where the log is, which broker."""
    skip_b, skip_s = len(c.broker.stderr_text()), len(c.sink.stderr_text())   # the files are appended to
    broker = c.start_broker()
    sink = c.start_sink()
    cl.wait_port(c.sport, proc=sink)
    time.sleep(0.3)
    berr, serr = broker.stderr_text()[skip_b:], sink.stderr_text()[skip_s:]
    t.check("info level: no CFG lines", " DEBUG CFG " not in berr + serr, (berr[-300:], serr[-300:]))
    starts = [l for l in berr.splitlines() if " BRK-START " in l]
    t.check("info level: one BRK-START line saying where producers connect",
            len(starts) == 1 and ("producers connect to %s" % c.frontend) in starts[0], starts)
    starts = [l for l in serr.splitlines() if " SNK-START " in l]
    t.check("info level: one SNK-START line with the log directory and the broker",
            len(starts) == 1 and c.log_dir in starts[0] and c.backend in starts[0], starts)
    c.stop()


def body(args, t):
    configs(t, args.bin)
    with cl.Cluster(args.bin) as c:
        usage_codes(t, args.bin, c.tmp)
        runtime_codes(t, c)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("settings", body))
