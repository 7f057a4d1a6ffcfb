"""test_metrics.py: the Prometheus endpoints of the broker, the sink and the
workers agree with the log, speak the exposition format, and shrug off
garbage.

A broker, a sink and two workers (w0, w1, one thread each) run on free
loopback ports, each with --metrics 127.0.0.1:<free port>. Then:

  a. before any load: every endpoint answers GET /metrics with 200 and
     Content-Type text/plain; version=0.0.4; the broker shows up=1, two
     worker threads, one attest_broker_worker_inflight series per thread;
  b. `attest bench --broker ... --log-dir ... --n 5000` runs against the
     cluster; once it is done the numbers settle and agree with the log read
     back (python3-lmdb, meta next_index): sink committed_total ==
     next_index == entries == 5000, broker admitted/acked == 5000, sum of
     the workers' tasks_total >= 5000 and valid+invalid == tasks, the log's
     valid count <= the workers' valid total, queue_depth, held, uncommitted and
     reorder_buffered == 0, the commit histogram's count == commits_total;
     attest_verdicts_total{verdict,reason} equals the log's counts, the
     ack-latency histogram counts every ack, the verify-time histogram every
     task, the oldest-uncommitted age is 0, broker and sink show one epoch,
     a window per worker labelled by its configured id, attest_build_info
     and the process_* metrics on every daemon;
  c. every exposition passes `promtool check metrics` (Debian package
     prometheus) or, when promtool is missing, a strict parser of the text
     format here (which also always runs: HELP/TYPE once and before the
     samples, names and labels well formed, escapes, no duplicate series,
     histogram buckets cumulative and ending in +Inf == _count);
  d. another path is 404, POST is 405;
  e. a burst of 50 garbage requests (binary junk, bad request lines, huge
     headers, bad versions, half requests closed early, a TLS hello) at
     every endpoint: each process stays up, the endpoint still answers, and
     the counters are unchanged;
  f. a worker asked to serve metrics on a port in use exits 1 and says so;
  g. everything stops with status 0 on SIGTERM, with no sanitizer report.

    /usr/bin/python3 test_metrics.py --bin BUILD/bin
"""
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402

N = 5000
CONTENT_TYPE = "text/plain; version=0.0.4"


# ------------------------------------------------------------ scraping

def http_get(port, path="/metrics", method="GET", timeout=5.0):
    """(status, content type, body text) of one request."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method,
                                 data=b"x" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode("utf-8", "replace")


# ----------------------------------------------- a strict format parser

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
SAMPLE_RE = re.compile(r"^(%s)(\{.*\})? (\S+)( -?\d+)?$" % NAME)
FLOAT_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^[+-]?Inf$|^NaN$")


def parse_labels(text):
    """{name: value} of '{a="x",b="y"}', or raises ValueError."""
    out = {}
    i, s = 1, text
    while i < len(s) - 1:
        m = re.compile(LABEL).match(s, i)
        if not m:
            raise ValueError("bad label name at %r" % s[i:])
        name = m.group(0)
        i = m.end()
        if s[i:i + 2] != '="':
            raise ValueError("expected =\" after %s" % name)
        i += 2
        val = []
        while True:
            if i >= len(s) - 1:
                raise ValueError("unterminated label value")
            c = s[i]
            if c == "\\":
                e = s[i + 1]
                if e not in '\\"n':
                    raise ValueError("bad escape \\%s" % e)
                val.append({"\\": "\\", '"': '"', "n": "\n"}[e])
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise ValueError("raw newline in a label value")
            else:
                val.append(c)
                i += 1
        if name in out:
            raise ValueError("label %s twice" % name)
        out[name] = "".join(val)
        if s[i] == ",":
            i += 1
        elif i != len(s) - 1:
            raise ValueError("expected , or } at %r" % s[i:])
    if not s.endswith("}"):
        raise ValueError("labels not closed")
    return out


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[:-len(suffix)]) in ("histogram", "summary"):
            return name[:-len(suffix)]
    return name


def parse_exposition(text):
    """Parses the text format strictly; returns ({(name, ((k, v), ...)): value}, [problems])."""
    problems, samples, types, helps = [], {}, {}, {}
    if text and not text.endswith("\n"):
        problems.append("no newline at the end")
    seen_families, current = set(), None
    hist = {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (%s) (.*)$" % NAME, line)
            if not m:
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    problems.append("line %d: bad %r" % (n, line))
                continue
            kind, name, rest = m.groups()
            if kind == "HELP":
                if name in helps:
                    problems.append("line %d: HELP %s twice" % (n, name))
                if re.search(r"\\[^\\n]", rest.replace("\\\\", "")):
                    problems.append("line %d: bad escape in HELP" % n)
                helps[name] = rest
            else:
                if name in types:
                    problems.append("line %d: TYPE %s twice" % (n, name))
                if rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    problems.append("line %d: unknown type %r" % (n, rest))
                if name in seen_families:
                    problems.append("line %d: TYPE %s after its samples" % (n, name))
                types[name] = rest
            continue
        if not line.strip():
            problems.append("line %d: empty line" % n)
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            problems.append("line %d: not a sample: %r" % (n, line))
            continue
        name, labels, value = m.group(1), m.group(2), m.group(3)
        try:
            lab = parse_labels(labels) if labels else {}
        except ValueError as e:
            problems.append("line %d: %s" % (n, e))
            continue
        if not FLOAT_RE.match(value):
            problems.append("line %d: bad value %r" % (n, value))
            continue
        fam = family_of(name, types)
        if fam != current and fam in seen_families:
            problems.append("line %d: samples of %s not together" % (n, fam))
        seen_families.add(fam)
        current = fam
        if fam not in types:
            problems.append("line %d: %s has no TYPE" % (n, fam))
        if types.get(fam) == "counter" and not fam.endswith("_total"):
            problems.append("line %d: counter %s does not end in _total" % (n, fam))
        key = (name, tuple(sorted(lab.items())))
        if key in samples:
            problems.append("line %d: duplicate series %s%s" % (n, name, labels or ""))
        v = float(value)
        samples[key] = v
        if types.get(fam) == "histogram":
            base = tuple(sorted((k, x) for k, x in lab.items() if k != "le"))
            h = hist.setdefault((fam, base), {"buckets": [], "count": None, "sum": None})
            if name.endswith("_bucket"):
                if "le" not in lab:
                    problems.append("line %d: bucket without le" % n)
                else:
                    h["buckets"].append((float(lab["le"]), v))
            elif name.endswith("_count"):
                h["count"] = v
            elif name.endswith("_sum"):
                h["sum"] = v
    for (fam, _), h in hist.items():
        b = h["buckets"]
        if not b or b[-1][0] != math.inf:
            problems.append("%s: last bucket is not +Inf" % fam)
        if any(b2[0] <= b1[0] or b2[1] < b1[1] for b1, b2 in zip(b, b[1:])):
            problems.append("%s: buckets not increasing/cumulative" % fam)
        if b and h["count"] != b[-1][1]:
            problems.append("%s: _count %s != +Inf bucket %s" % (fam, h["count"], b[-1][1]))
        if h["sum"] is None:
            problems.append("%s: no _sum" % fam)
    for name in types:
        if name not in helps:
            problems.append("%s: TYPE without HELP" % name)
    return samples, problems


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def series(samples, name):
    """{labels dict as tuple: value} of every series of a metric name."""
    return {k[1]: v for k, v in samples.items() if k[0] == name}


def promtool_check(text):
    """(ran, ok, output) of `promtool check metrics` on the text."""
    exe = shutil.which("promtool")
    if not exe:
        return False, None, "promtool not found"
    p = subprocess.run([exe, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    return True, p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), (p.stdout + p.stderr).strip()


# ------------------------------------------------------------- garbage

def garbage_requests():
    """50 malformed or hostile requests (bytes)."""
    out = [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),     # a TLS ClientHello
        bytes((i * 37 + 11) % 256 for i in range(3000)),                          # binary junk
        b"GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /metrics\r\n\r\n",                                                  # HTTP/0.9 style
        b"BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET " + b"/a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",               # 40 KB request line
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 60000 + b"\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(3000)) + b"\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
        b"GET /%00%ff/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\r\n\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHo",                                          # cut short, then closed
        b"G",
        b"",                                                                       # connect and close
    ]
    i = 0
    while len(out) < 50:
        i += 1
        out.append(b"GET /metrics?%d HTTP/1.1\r\nHost: \xff\xfe%d\r\n\x00\r\n\r\n" % (i, i) if i % 2 else
                   bytes((i * 131 + k * 7) % 256 for k in range(64 + i * 13)))
    return out[:50]


def send_garbage(port, payload):
    """Sends one payload and reads whatever comes back for a moment."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as s:
            if payload:
                s.sendall(payload)
            s.settimeout(0.5)
            try:
                s.recv(4096)
            except OSError:
                pass
    except OSError:
        pass       # the server may reset a connection that sent junk: that is fine


# ---------------------------------------------------------------- body

def scrape_all(t, ports):
    out = {}
    for role, port in ports.items():
        status, ctype, text = http_get(port)
        out[role] = (status, ctype, text)
    return out


def settled(ports, timeout=20.0):
    """Scrapes until the pipeline is idle and the numbers agree (the bench's BYEs handled: no credit
    outstanding); returns the samples by role."""
    end = time.time() + timeout
    while True:
        by_role = {}
        for role, port in ports.items():
            _, _, text = http_get(port)
            by_role[role] = parse_exposition(text)[0]
        b, s = by_role["broker"], by_role["sink"]
        if ((value(b, "attest_broker_acked_total") or 0) >= N and value(b, "attest_broker_queue_depth") == 0
                and value(b, "attest_broker_held") == 0 and value(b, "attest_broker_outstanding_credit") == 0
                and (value(s, "attest_sink_committed_total") or 0) >= N
                and value(s, "attest_sink_reorder_buffered") == 0) or time.time() > end:
            return by_role
        time.sleep(0.2)


def body(args, t):
    with cl.Cluster(args.bin) as c:
        ports = {"broker": cl.free_port(), "sink": cl.free_port(), "w0": cl.free_port(), "w1": cl.free_port()}
        c.start_broker(["--metrics", "127.0.0.1:%d" % ports["broker"]])
        c.start_sink(["--metrics", "127.0.0.1:%d" % ports["sink"]])
        for wid in ("w0", "w1"):
            c.start_worker(wid, threads=1, extra=["--metrics", "127.0.0.1:%d" % ports[wid]])
        for role, port in ports.items():
            t.check("%s: metrics port %d is listening" % (role, port), cl.wait_port(port, timeout=20.0), port)

        # a. before any load
        end = time.time() + 20
        while time.time() < end:
            status, ctype, text = http_get(ports["broker"])
            if value(parse_exposition(text)[0], "attest_broker_workers") == 2:
                break
            time.sleep(0.1)
        for role, (status, ctype, text) in scrape_all(t, ports).items():
            t.check("%s: GET /metrics -> 200, Content-Type %s" % (role, CONTENT_TYPE),
                    status == 200 and ctype.startswith(CONTENT_TYPE), (status, ctype))
        b = parse_exposition(http_get(ports["broker"])[2])[0]
        t.check("broker: attest_broker_up 1, 2 worker threads, 0 queued",
                value(b, "attest_broker_up") == 1 and value(b, "attest_broker_workers") == 2
                and value(b, "attest_broker_queue_depth") == 0, (value(b, "attest_broker_up"),
                                                                 value(b, "attest_broker_workers")))
        inflight = series(b, "attest_broker_worker_inflight")
        t.check("broker: one attest_broker_worker_inflight series per thread (w0/0, w1/0)",
                sorted(dict(k)["worker"] for k in inflight) == ["w0/0", "w1/0"], inflight)
        t.check("broker: attest_broker_refused_total{reason=\"no_credit\"} shown as 0",
                value(b, "attest_broker_refused_total", reason="no_credit") == 0)

        # b. load, then agreement with the log
        t.say("bench: n=%d against the running cluster" % N)
        bench = cl.Bench(args.bin, ["--broker", c.frontend, "--log-dir", c.log_dir, "--n", str(N)], c.tmp)
        rc = bench.wait(600)
        out = bench.output()
        res = cl.parse_bench(out)
        t.check("bench exits 0 and prints its summary", rc == 0 and res is not None, out[-1500:])
        if res:
            print(res["line"])
            t.check("bench: committed=%d lost=0 dup=0 order=ok" % N, res["committed"] == N and res["lost"] == 0
                    and res["dup"] == 0 and res["order"] == "ok", res["line"])
        m = settled(ports)
        b, s = m["broker"], m["sink"]
        log = cl.read_log(c.log_dir)
        t.check_log(log)
        next_index = cl.meta_u64(log, b"next_index")
        valid_in_log = sum(1 for e in log.entries if e["verdict"] == 0)
        print("log: next_index=%s entries=%d valid=%d" % (next_index, len(log.entries), valid_in_log))
        t.check("log: meta next_index == entries == %d" % N, next_index == len(log.entries) == N,
                (next_index, len(log.entries)))
        t.check("sink: attest_sink_committed_total == next_index",
                value(s, "attest_sink_committed_total") == next_index,
                value(s, "attest_sink_committed_total"))
        t.check("sink: attest_sink_log_entries == next_index", value(s, "attest_sink_log_entries") == next_index,
                value(s, "attest_sink_log_entries"))
        t.check("sink: received_total >= %d, duplicates 0, malformed 0, stale 0" % N,
                (value(s, "attest_sink_received_total") or 0) >= N and value(s, "attest_sink_duplicates_total") == 0
                and value(s, "attest_sink_malformed_total") == 0 and value(s, "attest_sink_stale_total") == 0,
                [value(s, k) for k in ("attest_sink_received_total", "attest_sink_duplicates_total",
                                       "attest_sink_malformed_total", "attest_sink_stale_total")])
        commits = value(s, "attest_sink_commits_total")
        t.check("sink: commit histogram count == commits_total (%s) > 0" % commits,
                commits and value(s, "attest_sink_commit_seconds_count") == commits
                and value(s, "attest_sink_commit_seconds_sum") > 0, value(s, "attest_sink_commit_seconds_count"))
        t.check("sink: attest_sink_reorder_buffered == 0", value(s, "attest_sink_reorder_buffered") == 0)
        for k in ("admitted", "acked", "dispatched"):
            name = "attest_broker_%s_total" % k
            want = (lambda v: v >= N) if k == "dispatched" else (lambda v: v == N)
            t.check("broker: %s %s %d" % (name, ">=" if k == "dispatched" else "==", N),
                    value(b, name) is not None and want(value(b, name)), value(b, name))
        t.check("broker: queue_depth, held, uncommitted, outstanding_credit all 0 at the end",
                all(value(b, "attest_broker_" + k) == 0 for k in ("queue_depth", "held", "uncommitted",
                                                                  "outstanding_credit")),
                [(k, value(b, "attest_broker_" + k)) for k in ("queue_depth", "held", "uncommitted",
                                                               "outstanding_credit")])
        t.check("broker: duplicates 0, malformed 0, refused 0",
                value(b, "attest_broker_duplicates_total") == 0 and value(b, "attest_broker_malformed_total") == 0
                and sum(series(b, "attest_broker_refused_total").values()) == 0)
        done = sum(series(b, "attest_broker_worker_done_total").values())
        t.check("broker: sum of attest_broker_worker_done_total (%d) >= %d" % (done, N), done >= N)
        t.check("broker: every worker_inflight is 0 at the end",
                all(v == 0 for v in series(b, "attest_broker_worker_inflight").values()),
                series(b, "attest_broker_worker_inflight"))
        tasks = sum(value(m[w], "attest_worker_tasks_total") for w in ("w0", "w1"))
        valid = sum(value(m[w], "attest_worker_valid_total") for w in ("w0", "w1"))
        invalid = sum(value(m[w], "attest_worker_invalid_total") for w in ("w0", "w1"))
        print("workers: tasks=%d valid=%d invalid=%d" % (tasks, valid, invalid))
        t.check("workers: sum of attest_worker_tasks_total (%d) >= %d" % (tasks, N), tasks >= N)
        t.check("workers: valid + invalid == tasks", valid + invalid == tasks, (valid, invalid, tasks))
        t.check("workers: valid in the log (%d) <= valid_total (%d)" % (valid_in_log, valid), valid_in_log <= valid)
        # the operator's families (issue 10): verdicts by reason agree with the log
        REASONS = {0: "ok", 8: "signature", 9: "not_yet_valid", 10: "expired"}
        want_v = {}
        for e in log.entries:
            key = ("valid" if e["verdict"] == 0 else "invalid", REASONS.get(e["reason"], str(e["reason"])))
            want_v[key] = want_v.get(key, 0) + 1
        got_v = {(dict(k)["verdict"], dict(k)["reason"]): v for k, v in series(s, "attest_verdicts_total").items()
                 if v}
        t.check("sink: attest_verdicts_total{verdict,reason} == the log's counts %s" % want_v,
                got_v == {k: v for k, v in want_v.items() if k[1] in REASONS.values()}, got_v)
        t.check("sink: attest_verdicts_total sums to %d" % N, sum(got_v.values()) == N, got_v)
        t.check("broker: ack latency histogram count == acked (%d), sum > 0" % N,
                value(b, "attest_broker_ack_latency_seconds_count") == N
                and value(b, "attest_broker_ack_latency_seconds_sum") > 0,
                value(b, "attest_broker_ack_latency_seconds_count"))
        t.check("broker: oldest uncommitted age is 0 with nothing held",
                value(b, "attest_broker_oldest_uncommitted_age_seconds") == 0)
        t.check("broker and sink: the same epoch (attest_broker_epoch == attest_sink_epoch > 0)",
                value(b, "attest_broker_epoch") and value(b, "attest_broker_epoch") == value(s, "attest_sink_epoch"),
                (value(b, "attest_broker_epoch"), value(s, "attest_sink_epoch")))
        win = series(b, "attest_broker_worker_window")
        t.check("broker: a window per worker, labelled by the configured id (w0/0, w1/0), each >= 4",
                sorted(dict(k)["worker"] for k in win) == ["w0/0", "w1/0"] and all(v >= 4 for v in win.values()),
                win)
        vcount = sum(value(m[w], "attest_worker_verify_seconds_count") or 0 for w in ("w0", "w1"))
        t.check("workers: verify-time histogram count (%d) == tasks (%d)" % (vcount, tasks), vcount == tasks)
        for role in ("broker", "sink", "w0"):
            bi = series(m[role], "attest_build_info")
            t.check("%s: attest_build_info{version,commit} 1" % role,
                    len(bi) == 1 and list(bi.values()) == [1] and set(dict(list(bi)[0])) == {"version", "commit"}, bi)
            procs = ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                     "process_start_time_seconds", "process_open_fds", "process_max_fds"]
            missing = [n for n in procs if value(m[role], n) is None]
            t.check("%s: the standard process_* metrics" % role, not missing
                    and value(m[role], "process_resident_memory_bytes") > 1e6
                    and abs(value(m[role], "process_start_time_seconds") - time.time()) < 3600, missing)
        t.check("workers: each did some work and reports 1 thread and busy time > 0",
                all(value(m[w], "attest_worker_tasks_total") > 0 and value(m[w], "attest_worker_threads") == 1
                    and value(m[w], "attest_worker_busy_seconds_total") > 0 for w in ("w0", "w1")))

        # c. the exposition format
        texts = {role: http_get(port)[2] for role, port in ports.items()}
        ran_any = False
        for role, text in texts.items():
            samples, problems = parse_exposition(text)
            t.check("%s: strict parser: %d samples, no problem" % (role, len(samples)),
                    samples and not problems, problems[:5])
            ran, ok, msg = promtool_check(text)
            ran_any |= ran
            if ran:
                t.check("%s: promtool check metrics passes" % role, ok, msg)
        if not ran_any:
            print("promtool not found (Debian package prometheus): checked with the strict parser only")
        names = {"broker": ["attest_broker_admitted_total", "attest_broker_refused_total",
                            "attest_broker_dispatched_total", "attest_broker_redispatched_total",
                            "attest_broker_acked_total", "attest_broker_duplicates_total",
                            "attest_broker_malformed_total", "attest_broker_queue_depth", "attest_broker_held",
                            "attest_broker_outstanding_credit", "attest_broker_worker_credit",
                            "attest_broker_producers", "attest_broker_workers", "attest_broker_worker_inflight",
                            "attest_broker_worker_done_total", "attest_broker_uncommitted", "attest_broker_up",
                            "attest_broker_workers_blocked", "attest_broker_worker_ready_again_total",
                            "attest_broker_producer_sessions_superseded_total"],
                 "sink": ["attest_sink_received_total", "attest_sink_committed_total", "attest_sink_duplicates_total",
                          "attest_sink_commits_total", "attest_sink_commit_seconds", "attest_sink_reorder_buffered",
                          "attest_sink_log_entries", "attest_sink_malformed_total", "attest_sink_stale_total"],
                 "w0": ["attest_worker_tasks_total", "attest_worker_valid_total", "attest_worker_invalid_total",
                        "attest_worker_malformed_total", "attest_worker_threads",
                        "attest_worker_busy_seconds_total", "attest_worker_registrations_total",
                        "attest_worker_register_ignored_total", "attest_worker_blocked_reports_total",
                        "attest_worker_sink_blocked_seconds_total", "attest_worker_sink_blocked_threads"]}
        for role, want in names.items():
            missing = [n for n in want if "# TYPE %s " % n not in texts[role]]
            t.check("%s: every documented metric is exposed (%d)" % (role, len(want)), not missing, missing)

        # d. other paths and methods
        for role, port in ports.items():
            st404 = [http_get(port, p)[0] for p in ("/", "/metricsx", "/metrics/", "/favicon.ico")]
            st405 = http_get(port, "/metrics", method="POST")[0]
            t.check("%s: other paths -> 404, POST -> 405" % role, st404 == [404] * 4 and st405 == 405,
                    (st404, st405))

        # e. garbage
        before = {role: parse_exposition(http_get(port)[2])[0] for role, port in ports.items()}
        junk = garbage_requests()
        t.say("sending %d garbage requests to each endpoint" % len(junk))
        for role, port in ports.items():
            for payload in junk:
                send_garbage(port, payload)
        alive = {p.name: p.alive() for p in c.procs()}
        t.check("after the garbage: every process is still running", all(alive.values()), alive)
        for role, port in ports.items():
            status, ctype, text = http_get(port)
            samples, problems = parse_exposition(text)
            t.check("%s: still answers 200 with a well-formed exposition" % role, status == 200 and not problems,
                    (status, problems[:3]))
            # The spot audit's counters move on their own for a moment after a
            # run (its thread re-judges what was sampled): not garbage's doing.
            keys = [k for k in before[role] if k[0].endswith("_total") and "busy" not in k[0]
                    and not k[0].startswith("attest_audit_") and not k[0].startswith("process_")]
            changed = [k[0] for k in keys if samples.get(k) != before[role][k]]
            t.check("%s: counters unchanged by the garbage" % role, not changed, changed)

        # f. a metrics port already in use
        extra = ["--metrics", "127.0.0.1:%d" % ports["broker"]]
        w = c.start_worker("wclash", threads=1, extra=extra)
        rc = w.wait(20)
        t.check("a worker given a metrics port in use exits 1 (WRK-METRICS)",
                rc == 1 and "WRK-METRICS" in w.stderr_text(), (rc, w.stderr_text()[-500:]))
        c.workers.remove(w)
        w.stop()
        rc = subprocess.run([c.exe("attest-sink"), "--insecure", "--metrics", "nonsense", "--log-dir", os.path.join(c.tmp, "x"),
                             "--verdicts", "tcp://127.0.0.1:%d" % cl.free_port()], capture_output=True, text=True,
                            timeout=30)
        t.check("a sink given an unreadable metrics address exits non-zero and names it",
                rc.returncode != 0 and "nonsense" in rc.stderr, (rc.returncode, rc.stderr[-300:]))

        # g. clean stop
        c.stop_and_check(t)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("metrics", body))
