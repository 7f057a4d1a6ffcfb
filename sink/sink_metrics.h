/*  sink_metrics.h: the sink's Prometheus metrics (see metrics/metrics.h).
 *
 *  The sink's loop copies its counters here once per turn of the loop
 *  (relaxed atomic stores, no lock, no allocation) and reports the duration
 *  of every successful commit, fdatasync included, to a histogram. The HTTP
 *  thread serves the last values.
 *
 *  Every call accepts a NULL sink_metrics_t (metrics off) and does nothing.
 */
#ifndef AT_SINK_METRICS_H
#define AT_SINK_METRICS_H
#include "at_err.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct sink_metrics_t sink_metrics_t;

typedef struct {
    uint64_t received, committed, duplicates, commits, malformed, stale;
    uint64_t reorder_buffered;      /* verdicts held in the reorder buffer */
    uint64_t next_index;            /* entries in the log */
    uint64_t next_seq;              /* committed watermark */
    bool registered;                /* the log is open and a broker epoch adopted (SINK_WELCOME) */
    uint64_t audit_sampled, audit_checked, audit_dropped, audit_disagreements;
    uint64_t quarantined;           /* workers quarantined (gauge) */
    uint64_t quarantined_dropped;   /* their verdicts dropped */
    uint64_t insecure;              /* 1: plaintext (--insecure) */
    uint64_t unauthorised;          /* VERDICTS from a key not allowed as worker */
    uint64_t handshakes_refused;    /* ZAP 400s */
    uint64_t epoch;                 /* the adopted broker epoch, 0: none */
    uint64_t map_size, map_used;    /* the LMDB map now and the bytes in use (logdb_map_usage) */
    uint64_t map_used_ppm;          /* map_used per million of the maximum (map-size-mb) */
    bool disk_full;                 /* commits fail for lack of space (ENOSPC, EDQUOT) */
    uint64_t gaps, gap_seqs;        /* GAP messages sent while later verdicts were buffered; the holes they named */
    uint64_t gap_probes;            /* GAP messages sent with nothing later buffered */
} sink_metrics_snapshot_t;

/*  Serves metrics on `address` (metrics.h syntax). Returns NULL with *rc =
 *  AT_OK when the address says off; NULL with an error in *rc (logged) when
 *  it cannot serve. */
sink_metrics_t *sink_metrics_new(const char *address, at_err *rc);
void sink_metrics_destroy(sink_metrics_t **self_p);

void sink_metrics_publish(sink_metrics_t *self, const sink_metrics_snapshot_t *s);
/*  One successful commit took `us` microseconds (begin to durable). */
/*  One entry appended to the log (not a duplicate) with this verdict and
 *  reason (an at_err code): attest_verdicts_total{verdict,reason}. Call
 *  from the sink's loop only (the first use of a reason allocates). */
void sink_metrics_verdict(sink_metrics_t *self, bool valid, int reason);

void sink_metrics_commit(sink_metrics_t *self, uint64_t us);
/*  One commit failed with this cause (an at_err code):
 *  attest_sink_commit_failures_total{cause}. From the sink's loop only. */
void sink_metrics_commit_failed(sink_metrics_t *self, int cause);

#endif
