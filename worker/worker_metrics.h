/*  worker_metrics.h: a worker process's Prometheus metrics (see
 *  metrics/metrics.h).
 *
 *  The verifier threads keep their statistics in atomics (verifier.h); at
 *  every scrape the HTTP thread sums them over the threads. Nothing is
 *  published by the verifiers and nothing on their path takes a lock.
 *
 *  Every call accepts a NULL worker_metrics_t (metrics off) and does nothing.
 */
#ifndef AT_WORKER_METRICS_H
#define AT_WORKER_METRICS_H
#include "at_err.h"
#include <stdbool.h>
#include "verifier.h"
#include <stddef.h>

typedef struct worker_metrics_t worker_metrics_t;

/*  Serves metrics on `address` (metrics.h syntax) for `nthreads` verifier
 *  threads whose statistics are stats[0..nthreads-1], each `stride` bytes
 *  apart (they live inside the caller's per-thread structs, which must
 *  outlive the worker_metrics_t). Returns NULL with *rc = AT_OK when the
 *  address says off; NULL with an error in *rc (logged) when it cannot serve. */
worker_metrics_t *worker_metrics_new(const char *address, verifier_stats_t *stats, size_t stride, size_t nthreads,
                                     at_err *rc);
void worker_metrics_destroy(worker_metrics_t **self_p);
/*  attest_insecure: 1 when the worker runs in plaintext. NULL: nothing. */
void worker_metrics_set_insecure(worker_metrics_t *self, bool insecure);

/*  The histogram attest_worker_verify_seconds (one task's judging time,
 *  observed by the verifier threads; see verifier_opts_t); NULL when self
 *  is NULL. Belongs to self. */
struct metrics_series_t *worker_metrics_verify_seconds(worker_metrics_t *self);

#endif
