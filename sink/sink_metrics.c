/*  sink_metrics.c: the sink's metric families (see sink_metrics.h and
 *  docs/operations.md, "Metrics"). */
#include "sink_metrics.h"
#include "metrics.h"
#include <stdio.h>
#include <stdlib.h>

struct sink_metrics_t {
    metrics_t *reg;
    metrics_series_t *received, *committed, *duplicates, *commits, *malformed, *stale;
    metrics_series_t *buffered, *next_index, *next_seq, *commit_seconds, *registered;
    metrics_series_t *audit_sampled, *audit_checked, *audit_dropped, *audit_disagreements;
    metrics_series_t *quarantined, *quarantined_dropped, *epoch;
    metrics_series_t *insecure, *unauthorised, *hs_refused;
    metrics_family_t *verdicts;
    metrics_series_t *by[2][AT_ERR_COUNT_];   /* [valid?][reason]: made at first use */
    metrics_series_t *map_size, *map_used, *map_used_ratio;
    metrics_series_t *disk_full;
    metrics_series_t *gaps, *gap_seqs, *gap_probes;
    metrics_family_t *failures;
    metrics_series_t *fail_by[AT_ERR_COUNT_];   /* by cause: made at first use */
};

/*  Failure causes shown from the start (as 0). */
static const at_err s_fail_causes[] = { AT_ERR_NO_SPACE, AT_ERR_QUOTA, AT_ERR_MAP_FULL, AT_ERR_IO, AT_ERR_DB };

static metrics_series_t *s_fail_series(sink_metrics_t *self, int cause)
{
    if (cause <= 0 || cause >= AT_ERR_COUNT_)
        cause = AT_ERR_DB;
    if (!self->fail_by[cause])
        self->fail_by[cause] = metrics_series(self->failures, at_strerror(cause));
    return self->fail_by[cause];
}

/*  Shown from the start (as 0) so that rate() works from the first one. */
static const at_err s_invalid_reasons[] = { AT_ERR_SIGNATURE, AT_ERR_EXPIRED, AT_ERR_NOT_YET_VALID };

static metrics_series_t *s_verdict_series(sink_metrics_t *self, bool valid, int reason)
{
    if (reason < 0 || reason >= AT_ERR_COUNT_)
        reason = AT_ERR_RANGE;
    metrics_series_t **slot = &self->by[valid][reason];
    if (!*slot) {
        char label[64];
        snprintf(label, sizeof label, "%s" METRICS_SEP "%s", valid ? "valid" : "invalid", at_strerror(reason));
        *slot = metrics_series(self->verdicts, label);
    }
    return *slot;
}

/*  Commit durations, microseconds: 100 us .. 5 s. */
static const uint64_t s_bounds[] = { 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
                                     100000, 250000, 500000, 1000000, 2500000, 5000000 };

/*  A full disk and failed commits. */
static void s_define_space(sink_metrics_t *self)
{
    metrics_t *m = self->reg;
    self->disk_full = metrics_gauge(m, "attest_sink_disk_full",
                                    "1 while commits fail for lack of space on the log's disk (ENOSPC, EDQUOT).");
    self->failures = metrics_family(m, "attest_sink_commit_failures_total", METRICS_COUNTER,
                                    "Failed commits (retried every 100 ms), by cause.", "cause", 1);
    for (size_t i = 0; i < sizeof s_fail_causes / sizeof s_fail_causes[0]; i++)
        s_fail_series(self, s_fail_causes[i]);
}

static void s_define(sink_metrics_t *self)
{
    metrics_t *m = self->reg;
    self->received = metrics_counter(m, "attest_sink_received_total",
                                     "Verdicts received in well-formed messages of the current epoch.");
    self->committed = metrics_counter(m, "attest_sink_committed_total", "Entries appended to the log.");
    self->duplicates = metrics_counter(m, "attest_sink_duplicates_total",
                                       "Verdicts whose id was already in the log (answered, not appended).");
    self->commits = metrics_counter(m, "attest_sink_commits_total", "Successful LMDB write transactions.");
    self->commit_seconds = metrics_histogram(m, "attest_sink_commit_seconds",
                                             "Duration of a successful group commit, fdatasync included.",
                                             s_bounds, sizeof s_bounds / sizeof s_bounds[0], 1000000);
    self->buffered = metrics_gauge(m, "attest_sink_reorder_buffered",
                                   "Verdicts held in the reorder buffer, waiting for a gap or a commit.");
    self->next_index = metrics_gauge(m, "attest_sink_log_entries", "Entries in the log.");
    self->next_seq = metrics_gauge(m, "attest_sink_committed_watermark",
                                   "Committed watermark: the sequence number the next entry will carry.");
    self->registered = metrics_gauge(m, "attest_sink_registered",
                                     "1 once the log is open and the sink has adopted a broker's epoch.");
    metrics_ready_when(m, self->registered, "not registered with a broker yet (no SINK_WELCOME)");
    self->insecure = metrics_gauge(m, "attest_insecure", "1 when the daemon runs in plaintext (--insecure).");
    self->unauthorised = metrics_counter(m, "attest_sink_unauthorised_total",
                                         "VERDICTS messages dropped: the sender's key is not allowed as a worker.");
    self->hs_refused = metrics_counter(m, "attest_sink_handshakes_refused_total",
                                       "CURVE handshakes refused by the ZAP allowlist.");
    self->map_size = metrics_gauge(m, "attest_sink_map_size_bytes",
                                   "Size of the log's LMDB map now; it doubles on demand up to map-size-mb.");
    self->map_used = metrics_gauge(m, "attest_sink_map_used_bytes", "Bytes of the log's map in use (pages).");
    self->map_used_ratio = metrics_series(metrics_family(m, "attest_sink_map_used_ratio", METRICS_GAUGE,
                                                         "Log map in use over its maximum (map-size-mb): alert at 0.8.",
                                                         NULL, 1000000), NULL);
    self->malformed = metrics_counter(m, "attest_sink_malformed_total",
                                      "Messages or items dropped: bad bytes, frames or type.");
    self->stale = metrics_counter(m, "attest_sink_stale_total",
                                  "Verdicts dropped: no epoch yet, or of another epoch.");
    self->gaps = metrics_counter(m, "attest_sink_gaps_total",
                                 "GAP messages sent: a missing seq held the ready prefix back gap-ms while later"
                                 " verdicts were buffered.");
    self->gap_seqs = metrics_counter(m, "attest_sink_gap_seqs_total",
                                     "Seqs those GAP messages named below the highest buffered verdict (the holes).");
    self->gap_probes = metrics_counter(m, "attest_sink_gap_probes_total",
                                       "GAP messages sent with nothing later buffered: probes for a lost tail after"
                                       " the link to the broker was disrupted.");
    self->audit_sampled = metrics_counter(m, "attest_audit_sampled_total",
                                          "Committed verdicts sampled for the spot audit.");
    self->audit_checked = metrics_counter(m, "attest_audit_checked_total", "Sampled verdicts re-judged.");
    self->audit_dropped = metrics_counter(m, "attest_audit_dropped_total",
                                          "Samples not audited: the audit queue was full.");
    self->audit_disagreements = metrics_counter(m, "attest_audit_disagreements_total",
                                                "Re-judged verdicts the audit found wrong (alert on any increase).");
    self->quarantined = metrics_gauge(m, "attest_sink_workers_quarantined",
                                      "Workers quarantined by the spot audit (alert on > 0).");
    self->quarantined_dropped = metrics_counter(m, "attest_sink_quarantined_dropped_total",
                                                "Verdicts of quarantined workers dropped.");
    self->epoch = metrics_gauge(m, "attest_sink_epoch",
                                "The broker epoch the sink adopted (0: none yet); changes when a broker restarts.");
    self->verdicts = metrics_family(m, "attest_verdicts_total", METRICS_COUNTER,
                                    "Entries appended to the log, by verdict and reason (duplicates not counted).",
                                    "verdict,reason", 1);
    s_verdict_series(self, true, AT_OK);
    for (size_t i = 0; i < sizeof s_invalid_reasons / sizeof s_invalid_reasons[0]; i++)
        s_verdict_series(self, false, s_invalid_reasons[i]);
    s_define_space(self);
}

sink_metrics_t *sink_metrics_new(const char *address, at_err *rc)
{
    *rc = AT_OK;
    if (!metrics_wanted(address))
        return NULL;
    sink_metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->reg = metrics_new();
    s_define(self);
    if ((*rc = metrics_serve(self->reg, address, "SNK-METRICS")) != AT_OK)
        sink_metrics_destroy(&self);
    return self;
}

void sink_metrics_destroy(sink_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    metrics_destroy(&(*self_p)->reg);
    free(*self_p);
    *self_p = NULL;
}

void sink_metrics_publish(sink_metrics_t *self, const sink_metrics_snapshot_t *s)
{
    if (!self)
        return;
    metrics_set(self->received, s->received);
    metrics_set(self->committed, s->committed);
    metrics_set(self->duplicates, s->duplicates);
    metrics_set(self->commits, s->commits);
    metrics_set(self->malformed, s->malformed);
    metrics_set(self->stale, s->stale);
    metrics_set(self->buffered, s->reorder_buffered);
    metrics_set(self->next_index, s->next_index);
    metrics_set(self->next_seq, s->next_seq);
    metrics_set(self->registered, s->registered ? 1 : 0);
    metrics_set(self->audit_sampled, s->audit_sampled);
    metrics_set(self->audit_checked, s->audit_checked);
    metrics_set(self->audit_dropped, s->audit_dropped);
    metrics_set(self->audit_disagreements, s->audit_disagreements);
    metrics_set(self->quarantined, s->quarantined);
    metrics_set(self->quarantined_dropped, s->quarantined_dropped);
    metrics_set(self->insecure, s->insecure);
    metrics_set(self->unauthorised, s->unauthorised);
    metrics_set(self->hs_refused, s->handshakes_refused);
    metrics_set(self->epoch, s->epoch);
    metrics_set(self->map_size, s->map_size);
    metrics_set(self->map_used, s->map_used);
    metrics_set(self->map_used_ratio, s->map_used_ppm);
    metrics_set(self->disk_full, s->disk_full ? 1 : 0);
    metrics_set(self->gaps, s->gaps);
    metrics_set(self->gap_seqs, s->gap_seqs);
    metrics_set(self->gap_probes, s->gap_probes);
}

void sink_metrics_commit_failed(sink_metrics_t *self, int cause)
{
    if (self)
        metrics_add(s_fail_series(self, cause), 1);
}

void sink_metrics_verdict(sink_metrics_t *self, bool valid, int reason)
{
    if (self)
        metrics_add(s_verdict_series(self, valid, reason), 1);
}

void sink_metrics_commit(sink_metrics_t *self, uint64_t us)
{
    if (self)
        metrics_observe(self->commit_seconds, us);
}
