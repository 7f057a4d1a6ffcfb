/*  broker_metrics.h: the broker's Prometheus metrics (see metrics/metrics.h).
 *
 *  The broker's loop is single-threaded and keeps its own statistics; at
 *  most every S_PUBLISH_US (100 ms) it copies them here in one snapshot
 *  (broker_metrics_due, then broker_metrics_publish and the per-worker
 *  calls), and the HTTP thread serves what was published last. Nothing on
 *  the hot path changes.
 *
 *  Every call accepts a NULL broker_metrics_t (metrics off) and does nothing.
 */
#ifndef AT_BROKER_METRICS_H
#define AT_BROKER_METRICS_H
#include "at_err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct broker_metrics_t broker_metrics_t;

typedef struct {
    uint64_t admitted, dispatched, redispatched, acked, duplicates, malformed;
    const uint64_t *refused_by;     /* AT_ERR_COUNT_ counts, indexed by reason code */
    uint64_t queue_depth;           /* tasks waiting for a worker */
    uint64_t held;                  /* admitted and not committed */
    uint64_t outstanding_credit;    /* granted to producers, unspent */
    uint64_t worker_credit;         /* announced by workers, unused */
    uint64_t producers, workers;
    uint64_t producers_superseded;  /* sessions ended by the same producer's HELLO on a new connection */
    uint64_t sink_lag;              /* next_seq - base */
    bool sink_up;                   /* a sink is registered, confirmed and not silent past sink-timeout-ms */
    uint64_t sink_lost;             /* times the sink was taken for lost */
    uint64_t quarantined;           /* worker identities quarantined by the sink's audit */
    uint64_t quarantine_refused;    /* messages from quarantined workers answered ERROR */
    uint64_t insecure;              /* 1: plaintext (--insecure) */
    uint64_t handshakes_refused;    /* ZAP 400s */
    uint64_t unauthorised;          /* messages from a key not allowed in that role */
    uint64_t oldest_age_us;         /* now - t_received of the task at the ring's base (0: none held) */
    uint64_t epoch;                 /* this broker instance's epoch */
    uint64_t poisoned;              /* tasks judged poison (poison-deliveries worker deaths in a row) */
    uint64_t workers_blocked;       /* workers that said BLOCKED and have not moved since */
    uint64_t ready_again;           /* READYs from workers already registered (nothing requeued) */
    uint64_t gaps;                  /* GAP messages from the sink */
    uint64_t gap_redispatched;      /* tasks dispatched again at once because of a GAP */
} broker_metrics_snapshot_t;

/*  Serves metrics on `address` (metrics.h syntax). Returns NULL with *rc =
 *  AT_OK when the address says off; NULL with an error in *rc (logged) when
 *  it cannot serve. */
broker_metrics_t *broker_metrics_new(const char *address, at_err *rc);
void broker_metrics_destroy(broker_metrics_t **self_p);

/*  True when a new snapshot is due (rate limit of the publication). */
bool broker_metrics_due(broker_metrics_t *self);
void broker_metrics_publish(broker_metrics_t *self, const broker_metrics_snapshot_t *s);

/*  The per-worker series: begin, one call per connected worker, end.
 *  Threads with one id are one series: counts summed, rtt_us the largest. */
void broker_metrics_workers_begin(broker_metrics_t *self);
void broker_metrics_worker(broker_metrics_t *self, const char *id, uint64_t inflight, uint64_t done,
                           uint64_t window, uint64_t rtt_us);

/*  An acknowledgement went out for a task received `us` microseconds ago
 *  (attest_broker_ack_latency_seconds). */
void broker_metrics_acked(broker_metrics_t *self, uint64_t us);
void broker_metrics_workers_end(broker_metrics_t *self);

#endif
