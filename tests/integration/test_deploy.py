"""test_deploy.py: offline validation of the deployment files in deploy/.

  a. systemd units (deploy/systemd): `systemd-analyze verify` passes with no
     warning on each unit (a copy whose ExecStart points at the executables
     under test), `systemd-analyze security --offline` rates each OK, and
     each unit has the directives docs/deploy.md promises (user, restart,
     stop signal and timeout, hardening, state directory of the sink).
     Skipped with a message when systemd-analyze is missing.
  b. every configuration file (deploy/*.conf, deploy/cluster/*.conf, the
     files inside the ConfigMaps of deploy/k8s) is accepted by its
     executable: it is really started with --config FILE (endpoints, the
     sink's log-dir and any metrics listener overridden by flags, which win
     over the file, so that it runs on free loopback ports in a temporary
     directory), its effective-config lines (CFG) show every key of the
     file with the file's value, the file lists every setting the executable
     has (no more, no fewer), and it stops with status 0 on SIGTERM. Also:
     the broker's pipeline-window equals the sink's in each set.
  c. the Kubernetes YAML parses (python3-yaml), holds the expected kinds,
     names, ports, probes, limits, PVC and HPA metric, its cross references
     hold (Service selectors, ConfigMap names, endpoints in the configs,
     kustomization resources), and yamllint (when installed) finds nothing.
  d. the Containerfile: build and runtime stages on this Debian release,
     every runtime package exists here (`apt-cache show`), and every shared
     library the built executables need directly comes from one of them.

    /usr/bin/python3 test_deploy.py --bin BUILD/bin
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
ROLES = ["broker", "sink", "worker"]
START_EVENT = {"broker": "BRK-START", "sink": "SNK-START", "worker": "WRK-START"}
RUNTIME_PACKAGES = ["libzmq5", "libczmq4", "libmsgpackc2", "liblmdb0", "libsodium23", "libjansson4",
                    "libmicrohttpd12", "libcurl4", "libsystemd0", "libssl3"]
YAMLLINT_CONFIG = "{extends: default, rules: {line-length: {max: 120}, document-start: disable}}"


def run(argv, timeout=30, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    return p.returncode, p.stdout, p.stderr


# ------------------------------------------------------------------ systemd

def parse_unit(path):
    """{section: [(key, value), ...]} of a systemd unit file."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                out.setdefault(section, [])
            else:
                k, _, v = line.partition("=")
                out[section].append((k.strip(), v.strip()))
    return out


def unit_values(unit, section, key):
    return [v for k, v in unit.get(section, []) if k == key]


def seconds(span):
    """Seconds of a systemd time span such as 30s, 2min, 1min 30s, 45."""
    total = 0.0
    units = {"ms": 0.001, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "": 1}
    for num, unit in re.findall(r"([0-9.]+)\s*([a-z]*)", span):
        if unit not in units:
            return None
        total += float(num) * units[unit]
    return total


def check_units(t, bindir, tmp):
    udir = os.path.join(DEPLOY, "systemd")
    names = {"broker": "attest-broker.service", "sink": "attest-sink.service", "worker": "attest-worker@.service"}
    units = {}
    for role, name in names.items():
        path = os.path.join(udir, name)
        ok = t.check("systemd: %s exists" % name, os.path.isfile(path))
        if ok:
            units[role] = parse_unit(path)
    for role, u in units.items():
        name = names[role]
        svc = "Service"
        exe = unit_values(u, svc, "ExecStart")
        want = "/usr/local/bin/attest-%s --config /etc/attest/%s.conf" % (role, role)
        if role == "worker":
            want += " --id %H-%i"
        t.check("systemd: %s ExecStart runs %s" % (name, want), len(exe) == 1 and exe[0].startswith(want), exe)
        t.check("systemd: %s runs as user attest" % name, unit_values(u, svc, "User") == ["attest"])
        t.check("systemd: %s Restart=on-failure, not on bad config (exit 2)" % name,
                unit_values(u, svc, "Restart") == ["on-failure"]
                and "2" in " ".join(unit_values(u, svc, "RestartPreventExitStatus")).split())
        t.check("systemd: %s KillSignal=SIGTERM and a TimeoutStopSec" % name,
                unit_values(u, svc, "KillSignal") == ["SIGTERM"] and len(unit_values(u, svc, "TimeoutStopSec")) == 1)
        hard = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes", "ProtectHome": "yes",
                "PrivateDevices": "yes"}
        bad = [k for k, v in hard.items() if unit_values(u, svc, k) != [v]]
        t.check("systemd: %s hardening %s" % (name, ", ".join("%s=%s" % kv for kv in hard.items())), not bad, bad)
        after = " ".join(unit_values(u, "Unit", "After")).split()
        wants = " ".join(unit_values(u, "Unit", "Wants")).split()
        t.check("systemd: %s After= and Wants=network-online.target" % name,
                "network-online.target" in after and "network-online.target" in wants)
    if "sink" in units:
        u = units["sink"]
        t.check("systemd: attest-sink.service StateDirectory=attest, ReadWritePaths=/var/lib/attest",
                unit_values(u, "Service", "StateDirectory") == ["attest"]
                and "/var/lib/attest" in " ".join(unit_values(u, "Service", "ReadWritePaths")).split())
        conf = read_zpl(os.path.join(DEPLOY, "cluster", "sink.conf"))[0]
        t.check("systemd: cluster sink.conf log-dir lies in the unit's StateDirectory /var/lib/attest",
                conf.get("log-dir", "").startswith("/var/lib/attest/"), conf.get("log-dir"))

    if "worker" in units:
        drain = int(read_zpl(os.path.join(DEPLOY, "cluster", "worker.conf"))[0].get("drain-timeout-ms", "0"))
        stop = unit_values(units["worker"], "Service", "TimeoutStopSec")
        secs = seconds(stop[0]) if stop else None
        t.check("systemd: attest-worker@ TimeoutStopSec (%s) exceeds the cluster drain-timeout-ms (%d ms)"
                % (stop[0] if stop else "?", drain), secs is not None and secs * 1000 > drain)

    sa = shutil.which("systemd-analyze")
    if not sa:
        t.skip("systemd: systemd-analyze verify", "systemd-analyze is not installed (Debian package systemd)")
        return
    # A copy of each unit whose ExecStart names the executables under test
    # (verify checks that the command exists and is executable), plus an
    # instance of the template. verify does not resolve User= (systemd 252),
    # so no user is created on this machine.
    vdir = os.path.join(tmp, "units")
    os.makedirs(vdir)
    for name in names.values():
        with open(os.path.join(udir, name)) as f:
            text = f.read().replace("/usr/local/bin/", bindir.rstrip("/") + "/")
        with open(os.path.join(vdir, name), "w") as f:
            f.write(text)
    shutil.copy(os.path.join(vdir, names["worker"]), os.path.join(vdir, "attest-worker@w1.service"))
    for name in list(names.values()) + ["attest-worker@w1.service"]:
        rc, out, err = run([sa, "verify", "--man=no", os.path.join(vdir, name)], cwd=vdir)
        text = (out + err).strip()
        t.check("systemd: systemd-analyze verify %s: exit 0, no warning" % name, rc == 0 and not text,
                (rc, text[:600]))
    for name in ["attest-broker.service", "attest-sink.service", "attest-worker@w1.service"]:
        rc, out, err = run([sa, "security", "--offline=true", "--no-pager", os.path.join(vdir, name)], cwd=vdir)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", out + err)
        if m is None and ("Unknown command verb" in err + out or "unrecognized option" in err):
            t.skip("systemd: security %s" % name, "this systemd-analyze has no offline security check")
            continue
        t.check("systemd: systemd-analyze security %s: exposure <= 2.0 (got %s)"
                % (name, m.group(1) if m else "?"), m is not None and float(m.group(1)) <= 2.0, (out + err)[-400:])


# ------------------------------------------------------------------ configs

ZPL_LINE = re.compile(r'^([A-Za-z0-9][A-Za-z0-9_-]*)\s*=\s*(?:"([^"]*)"|(\S*))\s*(?:#.*)?$')


def read_zpl(path=None, text=None):
    """({key: value}, [problems]) of a flat ZPL file (key = "value", # comments)."""
    if text is None:
        with open(path) as f:
            text = f.read()
    kv, problems = {}, []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = ZPL_LINE.match(line)
        if not m:
            problems.append("line %d not key = \"value\": %r" % (n, line))
            continue
        key = m.group(1)
        if key in kv:
            problems.append("key %s twice" % key)
        kv[key] = m.group(2) if m.group(2) is not None else m.group(3)
    return kv, problems


def help_settings(exe):
    """{name: default} from the executable's --help table: lines
    "  --name TYPE  help (default: D; MIN..MAX)"; deprecated old names and
    --config/--help/--version are left out (test_settings.py checks more)."""
    rc, out, err = run([exe, "--help"])
    out = out + err
    found = {}
    for m in re.finditer(r"^  --([a-z0-9-]+)(?: N| TEXT)?\s+(.*)$", out, re.M):
        name, rest = m.group(1), m.group(2)
        if name in ("config", "help", "version") or rest.startswith("deprecated:"):
            continue
        d = re.search(r"\(default: (.*?)(?:; -?\d+\.\.-?\d+)?\)$", rest[rest.rfind("(default: "):])
        found[name] = "" if not d or d.group(1) == '""' else d.group(1)
    return found


def listener_override(key, value, default):
    """A free-loopback replacement for a setting that makes the process
    listen (a bound endpoint or a port), or None."""
    v = value if value is not None else default
    if v is None:
        return None
    looks_listen = re.match(r"^tcp://(\*|0\.0\.0\.0|\[::\]|[^/]*):\d+$", v) and (
        "*" in v or "0.0.0.0" in v or key in ("frontend", "backend", "verdicts") or "metric" in key)
    if looks_listen:
        return "tcp://127.0.0.1:%d" % cl.free_port()
    if ("metric" in key or key.endswith("-port") or key in ("listen", "http")) and re.match(r"^\d+$", v):
        return str(cl.free_port())
    if ("metric" in key or key.endswith("-listen") or key.endswith("-addr")) and re.match(r"^[^/]*:\d+$", v):
        return "127.0.0.1:%d" % cl.free_port()
    return None


def config_sources(t):
    """[(label, role, text, extra_flags)] of every configuration file to check,
    plus deploy/cluster/worker + each worker-N.env (its flags)."""
    out = []
    for role in ROLES:
        for d in (DEPLOY, os.path.join(DEPLOY, "cluster")):
            p = os.path.join(d, role + ".conf")
            if t.check("configs: %s exists" % os.path.relpath(p, ROOT), os.path.isfile(p)):
                with open(p) as f:
                    out.append((os.path.relpath(p, ROOT), role, f.read(), []))
    for doc, path in k8s_docs():
        if doc.get("kind") != "ConfigMap":
            continue
        for key, text in (doc.get("data") or {}).items():
            role = key[:-5] if key.endswith(".conf") else None
            if role in ROLES:
                out.append(("%s ConfigMap %s/%s" % (os.path.relpath(path, ROOT), doc["metadata"]["name"], key),
                            role, text, []))
    wconf = os.path.join(DEPLOY, "cluster", "worker.conf")
    for env in sorted(glob.glob(os.path.join(DEPLOY, "cluster", "worker-*.env"))):
        with open(env) as f:
            lines = [ln.strip() for ln in f if ln.strip() and not ln.strip().startswith("#")]
        ok = t.check("configs: %s holds one ATTEST_WORKER_FLAGS= line" % os.path.relpath(env, ROOT),
                     len(lines) == 1 and lines[0].startswith("ATTEST_WORKER_FLAGS="), lines)
        if ok and os.path.isfile(wconf):
            with open(wconf) as f:
                out.append(("deploy/cluster/worker.conf + %s" % os.path.basename(env), "worker", f.read(),
                            lines[0].split("=", 1)[1].split()))
    return out


def flag_pairs(flags):
    """{name: value} of '--name value' flags."""
    out, i = {}, 0
    while i < len(flags):
        if flags[i].startswith("--") and i + 1 < len(flags):
            out[flags[i][2:]] = flags[i + 1]
            i += 2
        else:
            i += 1
    return out


def http_get(hostport, path="/metrics", timeout=3.0):
    import http.client
    host, port = hostport.rsplit(":", 1)
    conn = http.client.HTTPConnection(host or "127.0.0.1", int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def builtin_defaults(bindir, tmp, settings):
    """{role: {key: default}}: the values each executable logs as CFG ...
    (default) when run with no file (a setting's help text may itself
    mention a default, e.g. the worker's id), completed from --help for the
    few settings this run has to set."""
    out, procs = {}, {}
    for role in ROLES:
        argv = [os.path.join(bindir, "attest-" + role), "--insecure", "--log-level", "debug"]   # CFG lines are at debug
        if role == "broker":
            argv += ["--frontend", "tcp://127.0.0.1:%d" % cl.free_port(),
                     "--backend", "tcp://127.0.0.1:%d" % cl.free_port()]
        elif role == "sink":
            argv += ["--verdicts", "tcp://127.0.0.1:%d" % cl.free_port(), "--log-dir", os.path.join(tmp, "deflog"),
                     "--broker", "tcp://127.0.0.1:%d" % cl.free_port()]
        else:
            argv += ["--threads", "1", "--drain-timeout-ms", "0"] if "drain-timeout-ms" in settings[role] \
                else ["--threads", "1"]
        procs[role] = cl.Proc("defaults-" + role, argv, os.path.join(tmp, "defaults-%s.err" % role))
    end = time.time() + 10.0
    for role, p in procs.items():
        while time.time() < end and p.alive() and START_EVENT[role] not in p.stderr_text():
            time.sleep(0.05)
        p.stop(signal.SIGTERM, grace=5.0)
        out[role] = dict(settings[role])
        for m in re.finditer(r" CFG (\S+) = (.*?) \(default\)$", p.stderr_text(), re.M):
            out[role][m.group(1)] = m.group(2)
    return out


def start_config(t, bindir, tmp, i, label, role, text, extra, known, backend, dead, defaults):
    kv, problems = read_zpl(text=text)
    t.check("configs: %s parses as flat ZPL" % label, not problems and kv, problems[:3])
    if not extra:
        missing = sorted(set(known) - set(kv))
        unknown = sorted(set(kv) - set(known))
        t.check("configs: %s lists exactly the settings of attest-%s" % (label, role),
                known and not missing and not unknown, "missing %s, unknown %s" % (missing, unknown))
    if label == "deploy/%s.conf" % role:     # its header says: the values are the built-in defaults
        differ = ["%s: file %r, default %r" % (k, v, defaults[k]) for k, v in sorted(kv.items())
                  if k in defaults and v != defaults[k]]
        t.check("configs: %s holds the built-in defaults (attest-%s --help)" % (label, role), not differ, differ)
    path = os.path.join(tmp, "cfg%d-%s.conf" % (i, role))
    with open(path, "w") as f:
        f.write(text)
    given = dict(kv)
    given.update(flag_pairs(extra))
    over = {}
    for key in set(known) | set(given):
        o = listener_override(key, given.get(key), known.get(key))
        if o is not None:
            over[key] = o
    # The test's helper broker and the dead endpoints are plaintext: the
    # keys the file names (e.g. /etc/attest/keys) are not on this host.
    over["curve-secret"] = ""
    over["insecure"] = "true"
    over["log-level"] = "debug"                    # the CFG lines checked below are at debug
    if role == "sink":
        over["log-dir"] = os.path.join(tmp, "log%d" % i)
        over["broker"] = dead                      # no broker: the sink runs all the same
        over["log-key"] = ""                       # /etc/attest/keys/log.key is not on this host either
    if role == "worker":
        over["broker"] = backend                   # the helper broker answers LEAVE with LEAVE_OK
        over["sink"] = dead
        if given.get("threads", "0") == "0":
            over["threads"] = "1"                  # any thread count proves the file; one is cheap
    argv = [os.path.join(bindir, "attest-" + role), "--config", path] + extra
    for k, v in sorted(over.items()):
        argv += ["--" + k, v]
    p = cl.Proc("%s-%d" % (role, i), argv, os.path.join(tmp, "cfg%d.err" % i))
    return {"label": label, "role": role, "kv": kv, "given": given, "over": over, "extra": extra, "p": p}


def check_running(t, r, settings):
    label, role, p = r["label"], r["role"], r["p"]
    err = p.stderr_text()
    started = t.check("configs: %s: attest-%s --config starts (%s) and keeps running"
                      % (label, role, START_EVENT[role]), p.alive() and START_EVENT[role] in err,
                      (p.returncode(), err[-800:]))
    cfg = {}
    for m in re.finditer(r" CFG (\S+) = (.*?)( \(default\))?$", err, re.M):
        cfg[m.group(1)] = (m.group(2), m.group(3) is not None)
    wrong = []
    for key, value in r["given"].items():
        want = r["over"].get(key, value)
        got = cfg.get(key)
        if got is None or got[0] != want or got[1]:
            wrong.append("%s: given %r, logged %r" % (key, value, got))
    t.check("configs: %s: every key logged (CFG) with its value (%d keys, %d overridden for the test)"
            % (label, len(r["given"]), len(set(r["over"]) & set(r["given"]))), started and not wrong, wrong[:4])
    t.check("configs: %s: CFG lines cover every setting" % label, set(cfg) == set(settings[role]),
            sorted(set(settings[role]) ^ set(cfg)))
    metrics = r["given"].get("metrics", "")
    if started and metrics not in ("", "0"):
        try:
            status, body = http_get(r["over"]["metrics"])
        except (OSError, KeyError) as e:
            status, body = str(e), ""
        want = "attest_%s_" % role
        t.check("configs: %s: metrics %s (moved to %s) answers GET /metrics 200 with %s* series (the probes)"
                % (label, metrics, r["over"].get("metrics"), want), status == 200 and want in body,
                (status, body[:200]))
        if role == "broker":
            for name in ("attest_broker_queue_depth", "attest_broker_outstanding_credit", "attest_broker_workers"):
                t.check("configs: %s: /metrics has %s" % (label, name),
                        re.search(r"^%s(\{| )" % name, body, re.M) is not None)


def backup_while_running(t, bindir, tmp, sinks):
    """docs/deploy.md's backup: mdb_copy -c of the running sink's log, then
    `attest log verify` on the copy."""
    mc = shutil.which("mdb_copy")
    if not mc:
        t.skip("backup: mdb_copy -c while the sink runs", "mdb_copy not installed (Debian package lmdb-utils)")
        return
    if not sinks or not sinks[0]["p"].alive():
        return
    dst = os.path.join(tmp, "backup")
    os.makedirs(dst)
    rc, out, err = run([mc, "-c", sinks[0]["over"]["log-dir"], dst])
    t.check("backup: mdb_copy -c of the running sink's log", rc == 0 and os.path.isfile(os.path.join(dst, "data.mdb")),
            (rc, err[:300]))
    rc, out, err = run([os.path.join(bindir, "attest"), "log", "--dir", dst, "verify"])
    t.check("backup: attest log verify on the copy", rc == 0 and "chain=ok" in out, (rc, out[:200], err[:300]))


def check_configs(t, bindir, tmp):
    sources = config_sources(t)
    for role in ROLES:
        n = sum(1 for s in sources if s[1] == role and not s[3])
        t.check("configs: %d files for %s (deploy/, deploy/cluster/, k8s ConfigMap)" % (n, role), n >= 3, n)
    settings = {r: help_settings(os.path.join(bindir, "attest-" + r)) for r in ROLES}
    defaults = builtin_defaults(bindir, tmp, settings)
    # A helper broker for the workers: on SIGTERM a worker drains and waits
    # (drain-timeout-ms) for the broker's LEAVE_OK.
    backend = "tcp://127.0.0.1:%d" % cl.free_port()
    dead = "tcp://127.0.0.1:%d" % cl.free_port()
    helper = cl.Proc("helper-broker", [os.path.join(bindir, "attest-broker"), "--frontend",
                                       "tcp://127.0.0.1:%d" % cl.free_port(), "--backend", backend],
                     os.path.join(tmp, "helper-broker.err"))
    runs = [start_config(t, bindir, tmp, i, label, role, text, extra, settings[role], backend, dead,
                         defaults[role]) for i, (label, role, text, extra) in enumerate(sources)]
    end = time.time() + 10.0
    for r in runs:
        while time.time() < end and r["p"].alive() and START_EVENT[r["role"]] not in r["p"].stderr_text():
            time.sleep(0.05)
    time.sleep(0.5)
    for r in runs:
        check_running(t, r, settings)
    backup_while_running(t, bindir, tmp, [r for r in runs if r["label"] == "deploy/cluster/sink.conf"])
    for r in runs:   # SIGTERM to all at once, then collect: drains overlap
        r["p"].send_signal(signal.SIGTERM)
    end = time.time() + 15.0
    for r in runs:
        r["p"].wait(max(0.1, end - time.time()))
        rc = r["p"].stop(signal.SIGKILL, grace=5.0)   # only if still running
        t.check("configs: %s: attest-%s exits 0 on one SIGTERM" % (r["label"], r["role"]), rc == 0,
                (rc, r["p"].stderr_text()[-400:]))
        if r["role"] == "worker":
            t.check("configs: %s: the worker drained (WRK-DRAIN ... drain complete)" % r["label"],
                    "drain complete" in r["p"].stderr_text(), r["p"].stderr_text()[-400:])
    helper.stop()
    # Window agreement in each set of three.
    groups = {}
    for r in runs:
        if not r["extra"]:
            groups.setdefault(os.path.dirname(r["label"].split(" ")[0]), {})[r["role"]] = r["kv"]
    for g, by_role in sorted(groups.items()):
        if "broker" in by_role and "sink" in by_role:
            b, s = by_role["broker"].get("pipeline-window"), by_role["sink"].get("pipeline-window")
            t.check("configs: %s: broker pipeline-window (%s) equals the sink's (%s)" % (g, b, s),
                    b is not None and b == s)
    return {r["label"]: r["kv"] for r in runs}


# ------------------------------------------------------------------ k8s

_K8S = None


def k8s_docs():
    """[(doc, path)] of every YAML document in deploy/k8s (parsed once)."""
    global _K8S
    if _K8S is None:
        import yaml
        _K8S = []
        for path in sorted(glob.glob(os.path.join(DEPLOY, "k8s", "*.yaml"))):
            with open(path) as f:
                for doc in yaml.safe_load_all(f):
                    if doc is not None:
                        _K8S.append((doc, path))
    return _K8S


def find(kind, name):
    for doc, _ in k8s_docs():
        if doc.get("kind") == kind and doc.get("metadata", {}).get("name") == name:
            return doc
    return None


def container(workload):
    return workload["spec"]["template"]["spec"]["containers"][0]


def probe_ok(c, port_name, port):
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    for kind, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        g = (c.get(kind) or {}).get("httpGet") or {}
        target = g.get("port")
        if g.get("path") != path or (target != port and ports.get(target) != port):
            return False
    return True


def check_workload(t, kind, name, role, ports, mem_limit=None):
    w = find(kind, name)
    if not t.check("k8s: %s %s" % (kind, name), w is not None):
        return None
    c = container(w)
    pod = w["spec"]["template"]
    t.check("k8s: %s selector matches its pod labels" % name,
            all(pod["metadata"]["labels"].get(k) == v for k, v in w["spec"]["selector"]["matchLabels"].items()))
    cports = sorted(p["containerPort"] for p in c.get("ports", []))
    t.check("k8s: %s container ports %s" % (name, ports), cports == sorted(ports), cports)
    metrics = [p for p in ports if 9100 <= p <= 9102][0]
    t.check("k8s: %s readiness and liveness probes: HTTP GET /readyz and /healthz on %d" % (name, metrics),
            probe_ok(c, "metrics", metrics))
    res = c.get("resources") or {}
    t.check("k8s: %s has cpu+memory requests and limits" % name,
            all(k in (res.get(s) or {}) for s in ("requests", "limits") for k in ("cpu", "memory")), res)
    if mem_limit:
        t.check("k8s: %s memory limit %s" % (name, mem_limit), (res.get("limits") or {}).get("memory") == mem_limit)
    cmd = c.get("command", []) + c.get("args", [])
    t.check("k8s: %s runs /usr/local/bin/attest-%s --config /etc/attest/%s.conf" % (name, role, role),
            cmd[:3] == ["/usr/local/bin/attest-%s" % role, "--config", "/etc/attest/%s.conf" % role], cmd)
    sc = pod["spec"].get("securityContext") or {}
    t.check("k8s: %s runs as non-root" % name, sc.get("runAsNonRoot") is True and sc.get("runAsUser", 0) != 0)
    vols = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    cm = (vols.get(mounts.get("/etc/attest"), {}).get("configMap") or {}).get("name")
    cmdoc = find("ConfigMap", cm) if cm else None
    t.check("k8s: %s mounts ConfigMap %s holding %s.conf at /etc/attest" % (name, cm, role),
            cmdoc is not None and "%s.conf" % role in (cmdoc.get("data") or {}))
    return w


def check_service(t, name, ports, workload):
    s = find("Service", name)
    if not t.check("k8s: Service %s" % name, s is not None):
        return
    sp = sorted(p["port"] for p in s["spec"]["ports"])
    t.check("k8s: Service %s ports %s" % (name, ports), sp == sorted(ports), sp)
    if workload is not None:
        labels = workload["spec"]["template"]["metadata"]["labels"]
        t.check("k8s: Service %s selects the %s pods" % (name, workload["metadata"]["name"]),
                all(labels.get(k) == v for k, v in s["spec"]["selector"].items()))


def k8s_conf(name, key):
    doc = find("ConfigMap", name)
    return read_zpl(text=((doc or {}).get("data") or {}).get(key, ""))[0]


def check_k8s(t):
    try:
        import yaml  # noqa: F401
    except ImportError:
        t.check("k8s: python3-yaml is installed (scripts/install-deps.sh)", False)
        return
    kdir = os.path.join(DEPLOY, "k8s")
    files = sorted(glob.glob(os.path.join(kdir, "*.yaml")))
    try:
        docs = k8s_docs()
        t.check("k8s: %d YAML files, %d documents parse" % (len(files), len(docs)), files and docs)
    except Exception as e:   # yaml.YAMLError
        t.check("k8s: YAML parses", False, e)
        return
    kinds = sorted("%s/%s" % (d["kind"], d["metadata"]["name"]) for d, _ in docs if d.get("kind") != "Kustomization")
    t.say("k8s objects: " + ", ".join(kinds))
    kust = [d for d, _ in docs if d.get("kind") == "Kustomization"]
    if t.check("k8s: kustomization.yaml is a Kustomization", len(kust) == 1):
        res = kust[0].get("resources", [])
        listed = set(res)
        others = {os.path.basename(f) for f in files} - {"kustomization.yaml"}
        t.check("k8s: kustomization lists every manifest and only existing ones", listed == others,
                (sorted(listed), sorted(others)))
    broker = check_workload(t, "Deployment", "attest-broker", "broker", [5555, 5556, 9100], "128Mi")
    if broker is not None:
        t.check("k8s: broker Deployment has 1 replica and Recreate strategy",
                broker["spec"].get("replicas") == 1 and broker["spec"].get("strategy", {}).get("type") == "Recreate")
    check_service(t, "attest-broker", [5555, 5556, 9100], broker)
    sink = check_workload(t, "StatefulSet", "attest-sink", "sink", [5557, 9101], "128Mi")
    if sink is not None:
        t.check("k8s: sink StatefulSet has 1 replica", sink["spec"].get("replicas") == 1)
        vct = {v["metadata"]["name"]: v for v in sink["spec"].get("volumeClaimTemplates", [])}
        mounts = {m["name"]: m["mountPath"] for m in container(sink).get("volumeMounts", [])}
        pvc = [n for n in vct if n in mounts]
        ok = len(pvc) == 1 and "storage" in vct[pvc[0]]["spec"]["resources"]["requests"]
        t.check("k8s: sink PersistentVolumeClaim template mounted (%s at %s)"
                % (pvc[0] if pvc else "?", mounts.get(pvc[0]) if pvc else "?"), ok)
        logdir = k8s_conf("attest-sink-config", "sink.conf").get("log-dir", "")
        t.check("k8s: sink log-dir %s lies on the PVC" % logdir,
                ok and logdir.startswith(mounts[pvc[0]].rstrip("/") + "/"))
    check_service(t, "attest-sink", [5557, 9101], sink)
    worker = check_workload(t, "Deployment", "attest-worker", "worker", [9102])
    if worker is not None:
        cmd = container(worker).get("command", []) + container(worker).get("args", [])
        env = {e["name"]: e for e in container(worker).get("env", [])}
        t.check("k8s: worker --id is the pod name",
                "--id" in cmd and cmd[cmd.index("--id") + 1] == "$(POD_NAME)"
                and env.get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
                == "metadata.name")
        wconf = k8s_conf("attest-worker-config", "worker.conf")
        grace = worker["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        drain = int(wconf.get("drain-timeout-ms", "0"))
        t.check("k8s: worker terminationGracePeriodSeconds (%s) exceeds drain-timeout-ms (%d ms)" % (grace, drain),
                grace * 1000 > drain)
        limit = str(container(worker)["resources"]["limits"]["cpu"])
        t.check("k8s: worker threads (%s) set explicitly, equal to its CPU limit (%s)"
                % (wconf.get("threads"), limit), wconf.get("threads") not in (None, "0") and wconf["threads"] == limit)
    hpa = find("HorizontalPodAutoscaler", "attest-worker")
    if t.check("k8s: HorizontalPodAutoscaler attest-worker (autoscaling/v2) targets Deployment attest-worker",
               hpa is not None and hpa.get("apiVersion") == "autoscaling/v2"
               and hpa["spec"]["scaleTargetRef"].get("kind") == "Deployment"
               and hpa["spec"]["scaleTargetRef"].get("name") == "attest-worker"):
        names = []
        for m in hpa["spec"].get("metrics", []):
            if m.get("type") in ("External", "Pods"):
                body = m[m["type"].lower()]
                names.append((body["metric"]["name"], body["target"]))
        q = [tg for n, tg in names if n == "attest_broker_queue_depth"]
        t.check("k8s: HPA scales on metric attest_broker_queue_depth (External or Pods)", len(q) == 1, names)
        window = int(k8s_conf("attest-broker-config", "broker.conf").get("pipeline-window", "0"))
        if q and q[0].get("type") == "AverageValue":
            av = int(str(q[0]["averageValue"]))
            mx = hpa["spec"]["maxReplicas"]
            t.check("k8s: HPA averageValue x maxReplicas (%d x %d) <= broker pipeline-window %d (reachable)"
                    % (av, mx, window), av * mx <= window)
    # Endpoints inside the ConfigMaps point at the Services.
    svc_ports = {}
    for d, _ in docs:
        if d.get("kind") == "Service":
            svc_ports[d["metadata"]["name"]] = {p["port"] for p in d["spec"]["ports"]}
    wc, sc = k8s_conf("attest-worker-config", "worker.conf"), k8s_conf("attest-sink-config", "sink.conf")
    for label, ep in (("worker broker", wc.get("broker")), ("worker sink", wc.get("sink")),
                      ("sink broker", sc.get("broker"))):
        m = re.match(r"^tcp://([a-z0-9-]+):(\d+)$", ep or "")
        t.check("k8s: %s endpoint %s is a Service port" % (label, ep),
                m is not None and int(m.group(2)) in svc_ports.get(m.group(1), set()))
    # yamllint, and the Kubernetes schema validators Debian does not ship.
    yl = shutil.which("yamllint")
    if yl:
        rc, out, err = run([yl, "-s", "-f", "parsable", "-d", YAMLLINT_CONFIG] + files)
        t.check("k8s: yamllint (strict, line length 120) finds nothing", rc == 0 and not out.strip(),
                (out + err)[:800])
    else:
        t.skip("k8s: yamllint", "not installed (scripts/install-deps.sh installs it)")
    for tool in ("kubeconform", "kubeval"):
        if shutil.which(tool):
            rc, out, err = run([tool, "-strict", "-ignore-missing-schemas"] + files)
            t.check("k8s: %s" % tool, rc == 0, (out + err)[:800])
        else:
            t.skip("k8s: %s schema validation" % tool, "not installed (not packaged in Debian 12)")


# ------------------------------------------------------------------ Containerfile

def stages(text):
    """[(from_line, [instruction lines])] with continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.upper().startswith("FROM "):
            out.append((s, []))
        elif out:
            out[-1][1].append(s)
    return out


def apt_installs(lines):
    pkgs = []
    for s in lines:
        for m in re.finditer(r"apt-get install ([^&;|]*)", s):
            pkgs += [w for w in m.group(1).split() if not w.startswith("-")]
    return pkgs


def debian_codename():
    try:
        with open("/etc/os-release") as f:
            m = re.search(r"^VERSION_CODENAME=(\S+)", f.read(), re.M)
            return m.group(1) if m else None
    except OSError:
        return None


def packages_of(paths):
    """{path: Debian package} for library paths, with one dpkg -S call (each
    path is also tried as its realpath and its /usr-merged twin)."""
    cands = {}
    for path in paths:
        for c in (path, os.path.realpath(path)):
            for v in (c, c[4:] if c.startswith("/usr/") else "/usr" + c):
                cands.setdefault(v, set()).add(path)
    rc, out, _ = run(["dpkg", "-S"] + sorted(cands))
    found = {}
    for line in out.splitlines():
        pkgs, _, owned = line.partition(": ")
        for path in cands.get(owned.strip(), ()):
            found.setdefault(path, pkgs.split(",")[0].split(":")[0].strip())
    return found


def check_containerfile(t, bindir):
    path = os.path.join(DEPLOY, "Containerfile")
    if not t.check("image: deploy/Containerfile exists", os.path.isfile(path)):
        return
    with open(path) as f:
        text = f.read()
    st = stages(text)
    if not t.check("image: two stages (build, runtime)", len(st) == 2, [s[0] for s in st]):
        return
    (bfrom, blines), (rfrom, rlines) = st
    # The base images are ARGs (a debootstrapped base can replace them: test_container.py): their defaults.
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.M))
    bfrom, rfrom = (re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), x) for x in (bfrom, rfrom))
    code = debian_codename()
    t.check("image: both stages are Debian %s (this machine's release)" % code,
            code is not None and all(re.match(r"FROM debian:%s(-slim)?\b" % code, s, re.I) for s in (bfrom, rfrom)),
            (bfrom, rfrom))
    bpk = apt_installs(blines)
    t.check("image: build stage installs the -dev packages and cmake",
            "cmake" in bpk and all(p in bpk for p in ("libzmq3-dev", "libczmq-dev", "libmsgpack-dev",
                                                     "liblmdb-dev", "libsodium-dev", "libjansson-dev")), bpk)
    t.check("image: build stage builds with cmake", any("cmake --build" in s for s in blines))
    rpk = apt_installs(rlines)
    t.check("image: runtime stage installs exactly the runtime libraries %s" % " ".join(RUNTIME_PACKAGES),
            sorted(rpk) == sorted(RUNTIME_PACKAGES), rpk)
    copies = " ".join(s for s in rlines if s.upper().startswith("COPY"))
    t.check("image: runtime stage copies the four executables to /usr/local/bin",
            all(re.search(r"/%s\b" % e, copies) for e in ("attest-broker", "attest-sink", "attest-worker", "attest"))
            and "/usr/local/bin" in copies, copies)
    users = [s.split()[1] for s in rlines if s.upper().startswith("USER ")]
    t.check("image: runtime stage runs as a non-root user", users and users[-1].split(":")[0] not in ("0", "root"),
            users)
    if not shutil.which("apt-cache"):
        t.skip("image: runtime packages exist", "apt-cache not found")
    elif not glob.glob("/var/lib/apt/lists/*Packages*"):
        t.skip("image: runtime packages exist", "no apt package lists (run apt-get update)")
    else:
        rc, out, err = run(["apt-cache", "show", "--no-all-versions"] + rpk, timeout=60)
        versions = dict(re.findall(r"^Package: (\S+)\n(?:.*\n)*?Version: (\S+)", out, re.M))
        for pkg in rpk:
            t.check("image: apt-cache show %s (%s)" % (pkg, versions.get(pkg, "missing")), pkg in versions,
                    err.strip()[:300])
    # Every library the built executables load directly is in the runtime set.
    if not (shutil.which("readelf") and shutil.which("ldd") and shutil.which("dpkg")):
        t.skip("image: runtime libraries cover the executables", "readelf, ldd or dpkg missing")
        return
    libs = {}
    for exe in ("attest-broker", "attest-sink", "attest-worker", "attest"):
        p = os.path.join(bindir, exe)
        rc, out, _ = run(["readelf", "-d", p])
        needed = re.findall(r"\(NEEDED\).*\[(.+)\]", out)
        rc, lout, _ = run(["ldd", p])
        where = dict(re.findall(r"^\s*(\S+) => (/\S+)", lout, re.M))
        libs[exe] = [(so, where.get(so)) for so in needed]
    owner = packages_of({w for v in libs.values() for _, w in v if w})
    for exe, needed in libs.items():
        missing = []
        for so, path in needed:
            if re.match(r"lib(asan|ubsan|lsan|tsan)\.", so):
                continue        # sanitizer build (CI's second pass)
            pkg = owner.get(path)
            if pkg is None or (pkg not in rpk and pkg != "libc6"):
                missing.append("%s (%s)" % (so, pkg))
        t.check("image: %s needs only libc6 and the runtime packages (%d libraries)" % (exe, len(needed)),
                needed and not missing, missing)


def body(args, t):
    tmp = tempfile.mkdtemp(prefix="attest-deploy-")
    try:
        t.say("systemd units")
        check_units(t, args.bin, tmp)
        t.say("Kubernetes manifests")
        check_k8s(t)
        t.say("configuration files, each run by its executable")
        check_configs(t, args.bin, tmp)
        t.say("Containerfile")
        check_containerfile(t, args.bin)
    finally:
        cl.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("deploy", body))
