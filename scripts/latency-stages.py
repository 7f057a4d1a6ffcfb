#!/usr/bin/python3
"""latency-stages.py: where each attestation's latency went, by stage.

Joins an `attest bench --history FILE` (what each producer was told, with
wall-clock submission and outcome times) with the log's stage timestamps
(t_received, t_dispatched, t_verified, t_committed) and prints percentiles
of every stage, and each stage's mean over the slowest 1%. Stamps come from
different processes' wall clocks: run the bench and the cluster on one host.

    scripts/latency-stages.py LOG_DIR HISTORY
    e.g. attest bench --n 200000 --rate 26000 --keep --history /tmp/h.txt
         scripts/latency-stages.py /tmp/attest-bench-XXXXXX/log /tmp/h.txt

Needs python3-lmdb and python3-msgpack (Debian).
"""
import sys

import lmdb
import msgpack

STAGES = ["submit -> received", "received -> dispatched", "dispatched -> verified",
          "verified -> commit began", "commit began -> outcome", "total"]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip())
    log_dir, history = sys.argv[1], sys.argv[2]
    times = {}
    with open(history) as f:
        for line in f:
            r = line.split()
            if line.startswith("#") or len(r) < 10 or r[3] != "acked" or r[7] == "1":
                continue                     # only first-time acknowledgements (not duplicates)
            times[int(r[4])] = (int(r[8]), int(r[9]))
    if not times:
        sys.exit("no acknowledged items with times in %s (a history from an older bench?)" % history)
    env = lmdb.open(log_dir, readonly=True, lock=False, max_dbs=4, subdir=True, create=False)
    entries = env.open_db(b"entries", create=False)
    rows = []
    with env.begin() as txn:
        for _, v in txn.cursor(db=entries):
            e = msgpack.unpackb(v, raw=True)
            t = times.get(e[1])
            if t:
                sub, ack = t
                rows.append((e[10] - sub, e[11] - e[10], e[12] - e[11], e[13] - e[12], ack - e[13], ack - sub))
    if not rows:
        sys.exit("none of the history's items are in %s" % log_dir)

    def pct(col, p):
        return col[min(len(col) - 1, int(len(col) * p))] / 1000.0
    print("%d attestations; milliseconds" % len(rows))
    print("%-26s %8s %8s %8s %8s" % ("stage", "p50", "p90", "p99", "p99.9"))
    for j, name in enumerate(STAGES):
        col = sorted(r[j] for r in rows)
        print("%-26s %8.2f %8.2f %8.2f %8.2f" % (name, pct(col, .5), pct(col, .9), pct(col, .99), pct(col, .999)))
    rows.sort(key=lambda r: r[5])
    slow = rows[int(len(rows) * .99):]
    print("slowest 1%%, mean per stage: %s" % ", ".join(
        "%s %.2f" % (name, sum(r[j] for r in slow) / len(slow) / 1000.0) for j, name in enumerate(STAGES)))


if __name__ == "__main__":
    main()
