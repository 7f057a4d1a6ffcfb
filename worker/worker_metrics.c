/*  worker_metrics.c: the worker's metric families (see worker_metrics.h and
 *  docs/operations.md, "Metrics"). */
#include "worker_metrics.h"
#include "metrics.h"
#include "clock.h"

#define S_HEARD_US 3000000u   /* a thread that heard nothing this long is not connected */
#include <stdlib.h>

struct worker_metrics_t {
    metrics_t *reg;
    char *stats;                 /* first verifier_stats_t */
    size_t stride, n;
    metrics_series_t *tasks, *valid, *invalid, *malformed, *threads, *busy, *connected, *insecure, *verify;
    metrics_series_t *registrations, *reg_ignored, *blocked_reports, *blocked_time, *blocked_now;
};

/*  One task's judging time, microseconds: 10 us .. 1 s. */
static const uint64_t s_verify_bounds[] = { 10, 25, 50, 75, 100, 150, 250, 500, 1000, 2500, 10000, 100000,
                                            1000000 };

/*  On the HTTP thread, under the registry's lock: sums the threads' atomics. */
static void s_collect(void *arg)
{
    worker_metrics_t *self = arg;
    uint64_t tasks = 0, valid = 0, invalid = 0, malformed = 0, busy = 0, connected = 0, now = at_clock_mono_us();
    uint64_t registrations = 0, reg_ignored = 0, blocked_reports = 0, blocked_us = 0, blocked_now = 0;
    for (size_t i = 0; i < self->n; i++) {
        verifier_stats_t *st = (verifier_stats_t *) (void *) (self->stats + i * self->stride);
        tasks += st->tasks;
        valid += st->valid;
        invalid += st->invalid;
        malformed += st->malformed;
        busy += st->busy_us;
        uint64_t heard = st->heard_us;
        connected += heard && now - heard < S_HEARD_US;
        registrations += st->registrations;
        reg_ignored += st->reg_ignored;
        blocked_reports += st->blocked_reports;
        uint64_t since = st->blocked_since_us;   /* a send still waiting counts up to now */
        blocked_us += st->sink_blocked_us + (since && now > since ? now - since : 0);
        blocked_now += since != 0;
    }
    metrics_set(self->registrations, registrations);
    metrics_set(self->reg_ignored, reg_ignored);
    metrics_set(self->blocked_reports, blocked_reports);
    metrics_set(self->blocked_time, blocked_us);
    metrics_set(self->blocked_now, blocked_now);
    metrics_set(self->connected, connected);
    metrics_set(self->tasks, tasks);
    metrics_set(self->valid, valid);
    metrics_set(self->invalid, invalid);
    metrics_set(self->malformed, malformed);
    metrics_set(self->busy, busy);
}

static void s_define(worker_metrics_t *self)
{
    metrics_t *m = self->reg;
    self->tasks = metrics_counter(m, "attest_worker_tasks_total", "Tasks judged by this process's verifiers.");
    self->valid = metrics_counter(m, "attest_worker_valid_total", "Tasks judged valid.");
    self->invalid = metrics_counter(m, "attest_worker_invalid_total",
                                    "Tasks judged invalid (structure, signature or time).");
    self->malformed = metrics_counter(m, "attest_worker_malformed_total",
                                      "Messages from the broker dropped as malformed or unexpected.");
    self->threads = metrics_gauge(m, "attest_worker_threads", "Verifier threads in this process.");
    self->busy = metrics_series(metrics_family(m, "attest_worker_busy_seconds_total", METRICS_COUNTER,
                                               "Time the verifiers spent judging tasks, summed over threads.",
                                               NULL, 1000000), NULL);
    metrics_set(self->threads, self->n);
    self->connected = metrics_gauge(m, "attest_worker_connected_threads",
                                    "Verifier threads that heard from the broker in the last 3 s "
                                    "(the broker sends HEARTBEAT every second).");
    self->verify = metrics_histogram(m, "attest_worker_verify_seconds",
                                     "Time to judge one task (decode, id, signature, time check).", s_verify_bounds,
                                     sizeof s_verify_bounds / sizeof s_verify_bounds[0], 1000000);
    self->registrations = metrics_counter(m, "attest_worker_registrations_total",
                                          "READY messages sent (at start, and when the broker did not know a thread).");
    self->reg_ignored = metrics_counter(m, "attest_worker_register_ignored_total",
                                        "'unknown worker' errors ignored because a READY was outstanding "
                                        "(re-registration backoff).");
    self->blocked_reports = metrics_counter(m, "attest_worker_blocked_reports_total",
                                            "BLOCKED messages sent: the broker told that a thread waits on the sink.");
    self->blocked_time = metrics_series(metrics_family(m, "attest_worker_sink_blocked_seconds_total", METRICS_COUNTER,
                                                       "Time verifier threads waited to hand VERDICTS to the sink "
                                                       "(sends that had to retry), summed over threads.",
                                                       NULL, 1000000), NULL);
    self->blocked_now = metrics_gauge(m, "attest_worker_sink_blocked_threads",
                                      "Verifier threads waiting now to hand VERDICTS to the sink.");
    metrics_ready_when(m, self->connected, "no verifier thread has heard from the broker in 3 s");
    self->insecure = metrics_gauge(m, "attest_insecure", "1 when the daemon runs in plaintext (--insecure).");
}

void worker_metrics_set_insecure(worker_metrics_t *self, bool insecure)
{
    if (self)
        metrics_set(self->insecure, insecure ? 1 : 0);
}

worker_metrics_t *worker_metrics_new(const char *address, verifier_stats_t *stats, size_t stride, size_t nthreads,
                                     at_err *rc)
{
    *rc = AT_OK;
    if (!metrics_wanted(address))
        return NULL;
    worker_metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->reg = metrics_new();
    self->stats = (char *) stats;
    self->stride = stride;
    self->n = nthreads;
    s_define(self);
    metrics_on_scrape(self->reg, s_collect, self);
    if ((*rc = metrics_serve(self->reg, address, "WRK-METRICS")) != AT_OK)
        worker_metrics_destroy(&self);
    return self;
}

void worker_metrics_destroy(worker_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    metrics_destroy(&(*self_p)->reg);
    free(*self_p);
    *self_p = NULL;
}

struct metrics_series_t *worker_metrics_verify_seconds(worker_metrics_t *self)
{
    return self ? self->verify : NULL;
}
