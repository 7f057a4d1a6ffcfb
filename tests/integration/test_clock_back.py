"""test_clock_back.py: t_committed never goes back along the log, even when
the wall clock does (protocol.md 12; `attest log find --since/--until`
bisects on it).

A VM's clock resynchronised or NTP stepping puts the wall clock behind the
last commit's stamp. To get there without touching the machine's clock: a
cluster logs 5 attestations, the sink is stopped, the last entry's
t_committed is moved one hour ahead in the LMDB file (as if the sink's
clock had been an hour fast), the sink starts again on that log and 5 more
are logged. Each new entry must carry a t_committed not below that hour-
ahead stamp, the whole log must be non-decreasing in t_committed, and the
sink must have said so (SNK-CLOCK).

    /usr/bin/python3 test_clock_back.py --bin BUILD/bin
"""
import os
import struct
import sys
import time

import lmdb
import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as cl  # noqa: E402
import logfixture as lf  # noqa: E402

AHEAD_US = 3600 * 10**6
T_COMMITTED = cl.ENTRY_KEYS.index("t_committed")


def submit(t, p, first, n, sk, label):
    atts = [lf.make_attestation(sk, subject="%s-%d" % (label, i))[0] for i in range(n)]
    end = time.time() + 20
    while p.credit < n and time.time() < end:
        p.recv(0.1)
    p.submit([(first + i, a) for i, a in enumerate(atts)])
    ok = p.wait_outcomes(list(range(first, first + n)), 60)
    t.check("%s: %d acknowledged" % (label, n), ok and all(first + i in p.acks for i in range(n)),
            (p.acks, p.refusals, p.errors))


def move_last_ahead(t, log_dir):
    """The last entry's t_committed + AHEAD_US, in place; returns it."""
    env = lmdb.open(log_dir, max_dbs=8, subdir=True, map_size=1 << 36, create=False)
    try:
        dbe = env.open_db(b"entries", create=False)
        with env.begin(write=True) as txn:
            cur = txn.cursor(db=dbe)
            t.check("the log has entries", cur.last())
            key, raw = cur.key(), bytes(cur.value())
            f = msgpack.unpackb(raw, raw=False)
            t.check("the entry re-encodes to its own bytes (so only t_committed changes)",
                    msgpack.packb(f, use_bin_type=True) == raw)
            f[T_COMMITTED] += AHEAD_US
            txn.put(key, msgpack.packb(f, use_bin_type=True), db=dbe)
            return struct.unpack(">Q", key)[0], f[T_COMMITTED]
    finally:
        env.close()


def body(args, t):
    with cl.Cluster(args.bin) as c:
        c.start(workers=1, threads=1)
        _, sk = lf.make_keypair()
        p = cl.Producer(c.frontend, "clock")
        t.check("producer welcomed", p.hello())
        submit(t, p, 1, 5, sk, "before")
        time.sleep(0.3)
        c.sink.stop()
        index, ahead = move_last_ahead(t, c.log_dir)
        t.say("entry %d now says t_committed=%d (an hour ahead)" % (index, ahead))
        c.start_sink()
        submit(t, p, 6, 5, sk, "after")
        p.close()
        t.check("the sink said its clock was behind", "SNK-CLOCK" in c.sink.stderr_text(),
                c.sink.stderr_text()[-2000:])
        c.finish(t, "clock")
        log = cl.read_log(c.log_dir)
        ts = [e["t_committed"] for e in log.entries]
        t.check("10 entries", len(ts) == 10, len(ts))
        t.check("the new entries are stamped no earlier than the hour-ahead one",
                all(x >= ahead for x in ts[index + 1:]) and len(ts) > index + 1, (ahead, ts[index + 1:]))
        t.check("t_committed never decreases along the log", all(a <= b for a, b in zip(ts, ts[1:])), ts)


if __name__ == "__main__":
    sys.exit(cl.main_wrapper("test_clock_back", body))
