/*  broker_metrics.c: the broker's metric families and their publication
 *  (see broker_metrics.h and docs/operations.md, "Metrics"). */
#include "broker_metrics.h"
#include "clock.h"
#include "metrics.h"
#include <stdlib.h>
#include <string.h>

#define S_PUBLISH_US 100000u

/*  Reasons a producer's attestation is refused: always shown (as 0 until
 *  one happens) so that rate() works from the first refusal on. */
static const at_err s_reasons[] = {
    AT_ERR_NO_CREDIT, AT_ERR_MSGPACK, AT_ERR_TRAILING, AT_ERR_SHAPE, AT_ERR_TYPE,
    AT_ERR_VERSION, AT_ERR_OVERSIZE, AT_ERR_RANGE,
};
#define S_NREASONS (sizeof s_reasons / sizeof s_reasons[0])

struct broker_metrics_t {
    metrics_t *reg;
    uint64_t last;
    metrics_series_t *admitted, *dispatched, *redispatched, *acked, *duplicates, *malformed;
    metrics_series_t *queue_depth, *held, *outstanding_credit, *worker_credit, *producers, *workers, *superseded;
    metrics_series_t *sink_lag, *up, *sink_up, *sink_lost, *insecure, *hs_refused, *unauthorised;
    metrics_series_t *quarantined, *quarantine_refused, *oldest_age, *epoch, *latency, *poisoned;
    metrics_series_t *workers_blocked, *ready_again, *gaps, *gap_redispatched;
    metrics_family_t *refused, *inflight, *done, *window, *rtt;
    /* the per-worker snapshot being gathered */
    size_t nw, cap;
    char **ids;
    uint64_t *w_inflight, *w_done, *w_window, *w_rtt;
};

/*  Received -> acknowledged, microseconds: 1 ms .. 60 s. */
static const uint64_t s_latency_bounds[] = { 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
                                             1000000, 2500000, 5000000, 10000000, 30000000, 60000000 };

static void s_define(broker_metrics_t *self)
{
    metrics_t *m = self->reg;
    self->admitted = metrics_counter(m, "attest_broker_admitted_total",
                                     "Attestations admitted and given a sequence number.");
    self->refused = metrics_family(m, "attest_broker_refused_total", METRICS_COUNTER,
                                   "Attestations refused at admission, by reason.", "reason", 1);
    self->dispatched = metrics_counter(m, "attest_broker_dispatched_total", "Tasks sent to workers.");
    self->redispatched = metrics_counter(m, "attest_broker_redispatched_total",
                                         "Tasks queued again (worker gone or silent, redelivery, new sink).");
    self->acked = metrics_counter(m, "attest_broker_acked_total", "Acknowledgements sent to producers.");
    self->poisoned = metrics_counter(m, "attest_broker_poison_total",
                                     "Tasks logged invalid (poison): their workers died holding them poison-deliveries"
                                     " times in a row.");
    self->gaps = metrics_counter(m, "attest_broker_gaps_total",
                                 "GAP messages from the sink: seqs it misses while its ready prefix is held back.");
    self->gap_redispatched = metrics_counter(m, "attest_broker_gap_redispatched_total",
                                             "Tasks dispatched again at once because the sink reported them missing"
                                             " (GAP) or committed them without its COMMITTED arriving (also in"
                                             " attest_broker_redispatched_total).");
    self->duplicates = metrics_counter(m, "attest_broker_duplicates_total",
                                       "Committed results whose attestation id was already in the log.");
    self->malformed = metrics_counter(m, "attest_broker_malformed_total",
                                      "Messages dropped or answered with ERROR: malformed or not allowed.");
    self->queue_depth = metrics_gauge(m, "attest_broker_queue_depth", "Tasks waiting for a worker.");
    self->held = metrics_gauge(m, "attest_broker_held", "Attestations admitted and not yet committed.");
    self->outstanding_credit = metrics_gauge(m, "attest_broker_outstanding_credit",
                                             "Credit granted to producers and not yet spent.");
    self->worker_credit = metrics_gauge(m, "attest_broker_worker_credit",
                                        "Credit announced by workers and not yet used by dispatch.");
    self->producers = metrics_gauge(m, "attest_broker_producers", "Producers connected.");
    self->superseded = metrics_counter(m, "attest_broker_producer_sessions_superseded_total",
                                       "Producer sessions ended because the same producer (HELLO instance and key)"
                                       " joined again on a new connection.");
    self->workers = metrics_gauge(m, "attest_broker_workers", "Worker threads registered.");
    self->workers_blocked = metrics_gauge(m, "attest_broker_workers_blocked",
                                          "Worker threads that said BLOCKED (their verdicts wait for the sink) and "
                                          "have not moved since: kept, given no tasks.");
    self->ready_again = metrics_counter(m, "attest_broker_worker_ready_again_total",
                                        "READY messages from worker threads already registered (nothing requeued).");
    self->quarantined = metrics_gauge(m, "attest_broker_workers_quarantined",
                                      "Worker identities quarantined by the sink's spot audit (alert on > 0).");
    self->quarantine_refused = metrics_counter(m, "attest_broker_quarantine_refused_total",
                                               "READY messages of quarantined workers answered ERROR quarantined.");
    self->inflight = metrics_family(m, "attest_broker_worker_inflight", METRICS_GAUGE,
                                    "Tasks dispatched to a worker thread and not reported done.", "worker", 1);
    self->done = metrics_family(m, "attest_broker_worker_done_total", METRICS_COUNTER,
                                "Tasks a worker thread reported done (since it registered).", "worker", 1);
    self->sink_lag = metrics_gauge(m, "attest_broker_uncommitted",
                                   "Sequence numbers assigned and not yet acknowledged by the sink.");
    self->up = metrics_gauge(m, "attest_broker_up", "1 while the broker runs.");
    self->sink_up = metrics_gauge(m, "attest_broker_sink_up",
                                  "1 while a sink is registered, confirmed and heard from within sink-timeout-ms "
                                  "(0: admission closed).");
    self->sink_lost = metrics_counter(m, "attest_broker_sink_lost_total",
                                      "Times the sink was silent past sink-timeout-ms.");
    self->window = metrics_family(m, "attest_broker_worker_window", METRICS_GAUGE,
                                  "Congestion window of a worker thread: the most tasks it may hold now.", "worker", 1);
    self->rtt = metrics_family(m, "attest_broker_worker_rtt_seconds", METRICS_GAUGE,
                               "Network round trip to a worker as the broker estimates it (dispatch to DONE less the"
                               " time the worker held the tasks; 0: no estimate yet).", "worker", 1000000);
    self->oldest_age = metrics_series(metrics_family(m, "attest_broker_oldest_uncommitted_age_seconds", METRICS_GAUGE,
                                                     "Age of the oldest attestation admitted and not yet "
                                                     "acknowledged (0: none waiting).", NULL, 1000000), NULL);
    self->epoch = metrics_gauge(m, "attest_broker_epoch", "This broker instance's epoch (the sink adopts it).");
    self->latency = metrics_histogram(m, "attest_broker_ack_latency_seconds",
                                      "End-to-end latency: attestation received by the broker to its ACK sent.",
                                      s_latency_bounds, sizeof s_latency_bounds / sizeof s_latency_bounds[0],
                                      1000000);
    metrics_ready_when(m, self->sink_up, "no sink registered and confirmed, or it is silent (sink-timeout-ms)");
    metrics_set(self->up, 1);
    self->insecure = metrics_gauge(m, "attest_insecure", "1 when the daemon runs in plaintext (--insecure).");
    self->hs_refused = metrics_counter(m, "attest_broker_handshakes_refused_total",
                                       "CURVE handshakes refused by the ZAP allowlists.");
    self->unauthorised = metrics_counter(m, "attest_broker_unauthorised_total",
                                         "Messages refused because the sender's key is not allowed in that role.");
}

broker_metrics_t *broker_metrics_new(const char *address, at_err *rc)
{
    *rc = AT_OK;
    if (!metrics_wanted(address))
        return NULL;
    broker_metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->reg = metrics_new();
    s_define(self);
    uint64_t zero[S_NREASONS] = { 0 };
    const char *names[S_NREASONS];
    for (size_t i = 0; i < S_NREASONS; i++)
        names[i] = at_strerror(s_reasons[i]);
    metrics_publish(self->refused, S_NREASONS, names, zero);
    if ((*rc = metrics_serve(self->reg, address, "BRK-METRICS")) != AT_OK)
        broker_metrics_destroy(&self);
    return self;
}

static void s_workers_free(broker_metrics_t *self)
{
    for (size_t i = 0; i < self->nw; i++)
        free(self->ids[i]);
    self->nw = 0;
}

void broker_metrics_destroy(broker_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_metrics_t *self = *self_p;
    metrics_destroy(&self->reg);
    s_workers_free(self);
    free(self->ids);
    free(self->w_inflight);
    free(self->w_done);
    free(self->w_window);
    free(self->w_rtt);
    free(self);
    *self_p = NULL;
}

bool broker_metrics_due(broker_metrics_t *self)
{
    if (!self)
        return false;
    uint64_t now = at_clock_mono_us();
    if (self->last && now - self->last < S_PUBLISH_US)
        return false;
    self->last = now;
    return true;
}

/*  The refusal reasons always shown, plus any other that happened. */
static void s_publish_refused(broker_metrics_t *self, const uint64_t *by)
{
    const char *names[AT_ERR_COUNT_];
    uint64_t values[AT_ERR_COUNT_];
    size_t n = 0;
    for (size_t i = 0; i < S_NREASONS; i++) {
        names[n] = at_strerror(s_reasons[i]);
        values[n++] = by ? by[s_reasons[i]] : 0;
    }
    for (int code = 1; by && code < AT_ERR_COUNT_; code++) {
        bool listed = false;
        for (size_t i = 0; i < S_NREASONS; i++)
            listed |= s_reasons[i] == (at_err) code;
        if (!listed && by[code]) {
            names[n] = at_strerror(code);
            values[n++] = by[code];
        }
    }
    metrics_publish(self->refused, n, names, values);
}

void broker_metrics_publish(broker_metrics_t *self, const broker_metrics_snapshot_t *s)
{
    if (!self)
        return;
    metrics_set(self->admitted, s->admitted);
    metrics_set(self->dispatched, s->dispatched);
    metrics_set(self->redispatched, s->redispatched);
    metrics_set(self->acked, s->acked);
    metrics_set(self->poisoned, s->poisoned);
    metrics_set(self->gaps, s->gaps);
    metrics_set(self->gap_redispatched, s->gap_redispatched);
    metrics_set(self->duplicates, s->duplicates);
    metrics_set(self->malformed, s->malformed);
    metrics_set(self->queue_depth, s->queue_depth);
    metrics_set(self->held, s->held);
    metrics_set(self->outstanding_credit, s->outstanding_credit);
    metrics_set(self->worker_credit, s->worker_credit);
    metrics_set(self->producers, s->producers);
    metrics_set(self->superseded, s->producers_superseded);
    metrics_set(self->workers, s->workers);
    metrics_set(self->workers_blocked, s->workers_blocked);
    metrics_set(self->ready_again, s->ready_again);
    metrics_set(self->quarantined, s->quarantined);
    metrics_set(self->quarantine_refused, s->quarantine_refused);
    metrics_set(self->sink_lag, s->sink_lag);
    metrics_set(self->sink_up, s->sink_up ? 1 : 0);
    metrics_set(self->sink_lost, s->sink_lost);
    metrics_set(self->insecure, s->insecure);
    metrics_set(self->hs_refused, s->handshakes_refused);
    metrics_set(self->unauthorised, s->unauthorised);
    metrics_set(self->oldest_age, s->oldest_age_us);
    metrics_set(self->epoch, s->epoch);
    s_publish_refused(self, s->refused_by);
}

void broker_metrics_workers_begin(broker_metrics_t *self)
{
    if (self)
        s_workers_free(self);
}

void broker_metrics_acked(broker_metrics_t *self, uint64_t us)
{
    if (self)
        metrics_observe(self->latency, us);
}

void broker_metrics_worker(broker_metrics_t *self, const char *id, uint64_t inflight, uint64_t done,
                           uint64_t window, uint64_t rtt_us)
{
    if (!self)
        return;
    for (size_t i = 0; i < self->nw; i++) {
        if (strcmp(self->ids[i], id) == 0) {   /* two threads with one id: one series */
            self->w_inflight[i] += inflight;
            self->w_done[i] += done;
            self->w_window[i] += window;
            self->w_rtt[i] = rtt_us > self->w_rtt[i] ? rtt_us : self->w_rtt[i];
            return;
        }
    }
    if (self->nw == self->cap) {
        self->cap = self->cap ? 2 * self->cap : 16;
        self->ids = realloc(self->ids, self->cap * sizeof *self->ids);
        self->w_inflight = realloc(self->w_inflight, self->cap * sizeof *self->w_inflight);
        self->w_done = realloc(self->w_done, self->cap * sizeof *self->w_done);
        self->w_window = realloc(self->w_window, self->cap * sizeof *self->w_window);
        self->w_rtt = realloc(self->w_rtt, self->cap * sizeof *self->w_rtt);
        if (!self->ids || !self->w_inflight || !self->w_done || !self->w_window || !self->w_rtt)
            abort();
    }
    self->ids[self->nw] = strdup(id);
    if (!self->ids[self->nw])
        abort();
    self->w_inflight[self->nw] = inflight;
    self->w_window[self->nw] = window;
    self->w_rtt[self->nw] = rtt_us;
    self->w_done[self->nw++] = done;
}

void broker_metrics_workers_end(broker_metrics_t *self)
{
    if (!self)
        return;
    metrics_publish(self->inflight, self->nw, (const char *const *) self->ids, self->w_inflight);
    metrics_publish(self->done, self->nw, (const char *const *) self->ids, self->w_done);
    metrics_publish(self->window, self->nw, (const char *const *) self->ids, self->w_window);
    metrics_publish(self->rtt, self->nw, (const char *const *) self->ids, self->w_rtt);
}
