/*  sink.c: orders verdicts and writes them to the log (see sink.h).
 *
 *  One thread, one zmq_poll loop over two sockets:
 *    DEALER -> broker backend: SINK_HELLO out (start + heartbeat), SINK_WELCOME
 *              and POISON in, COMMITTED out after every durable commit, GAP
 *              out when a missing seq holds the ready prefix back gap-ms;
 *    PULL   <- workers: VERDICTS.
 *  A turn of the loop drains the broker, then drains the PULL socket with
 *  non-blocking receives, commits the ready prefix when it reaches commit-max
 *  or its first verdict has waited commit-delay-us (group commit: each commit
 *  costs an fdatasync and rewrites the last pages of the trees, so fewer,
 *  larger commits leave the CPU to the verifiers), reports a long-standing
 *  hole (GAP), answers late deliveries, and runs the timers.
 *
 *  Verdicts behind next_seq (redeliveries of something already committed)
 *  are answered from the log so the broker can still acknowledge them.
 *  Bad input from the network is counted and logged (rate-limited), never
 *  trusted: a message is validated as a whole before any of it is stored.
 */
#include "sink.h"
#include "audit.h"
#include "checkpoint.h"
#include "clock.h"
#include "log.h"
#include "utf8.h"
#include "logdb.h"
#include "reorder.h"
#include "revoke.h"
#include "sink_metrics.h"
#include "wire.h"
#include "zap.h"
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <string.h>

#define S_RETRY_US 100000u           /* wait after a failed commit */
#define S_DISKFULL_REPEAT_US 10000000u   /* a "still full" line at most this often */
#define S_STATS_US 10000000u         /* periodic statistics line */
#define S_DRAIN_MAX 256              /* messages per socket per loop turn */
#define S_PULL_HWM 64                /* VERDICTS messages queued per worker */
#define S_DEALER_HWM 1000
#define S_DEALER_LINGER_MS 200       /* lets the last COMMITTED go out on exit */
#define S_INSTANCE_BYTES 8
#define S_PREFETCH 8                 /* entries ahead whose id lookups are prefetched */

const char *const sink_summary =
    "attest-sink: restores sequence order of worker verdicts and appends them to the log";

#define S_ sink_settings_t
static const cfg_def_t s_settings[] = {
    CFG_STR_AT(S_, log_dir, "log-dir", "attest-data/log", "directory of the LMDB log (created if missing)"),
    CFG_ENDPOINT_AT(S_, verdicts, "verdicts", ENDPOINT_BIND, "tcp://*:5557",
                    "endpoint to bind for worker verdicts (PULL; HOST:PORT or :PORT too)"),
    CFG_ENDPOINT_AT(S_, broker, "broker", ENDPOINT_CONNECT, "tcp://127.0.0.1:5556",
                    "broker backend endpoint to connect to (DEALER; HOST:PORT too)"),
    CFG_INT_ALIAS_AT(S_, pipeline_window, "pipeline-window", "window", "16384", 64, REORDER_WINDOW_MAX,
                     "reorder window in sequence numbers; must equal the broker's pipeline-window"),
    CFG_INT_AT(S_, commit_max, "commit-max", "4096", 1, 65536, "most entries in one transaction"),
    CFG_INT_AT(S_, commit_delay_us, "commit-delay-us", "2000", 0, 10000000,
               "longest the first ready verdict waits for a group commit"),
    CFG_INT_AT(S_, commit_delay_max_us, "commit-delay-max-us", "12000", 0, 10000000,
               "under saturation the delay stretches up to this: to 1/8 of the time attestations waited for a worker"),
    CFG_INT_AT(S_, batch_us, "batch-us", "1000", 0, 100000,
               "under load, wake at most once per this many microseconds (0: on every message)"),
    CFG_INT_AT(S_, id_filter_mb, "id-filter-mb", "4", 1, 65536,
               "memory for the filter of logged ids that spares index lookups: about 1.5 bytes per id in the log"),
    CFG_INT_AT(S_, map_size_mb, "map-size-mb", "65536", 1, INT64_C(1) << 22,
               "the log's maximum size in MiB: the LMDB map doubles on demand up to this"),
    CFG_INT_AT(S_, map_initial_mb, "map-initial-mb", "256", 1, INT64_C(1) << 22,
               "the LMDB map's size at start in MiB (at least what the log holds; at most map-size-mb)"),
    CFG_INT_AT(S_, heartbeat_ms, "heartbeat-ms", "1000", 10, 60000, "interval of SINK_HELLO heartbeats to the broker"),
    CFG_INT_AT(S_, gap_ms, "gap-ms", "200", 0, 60000,
               "a missing seq holding back the ready prefix this long while later ones are buffered is reported to the"
               " broker (GAP), which dispatches it again at once; at most one GAP per this (0: off)"),
    CFG_STR_AT(S_, audit_sample, "audit-sample", "1",
               "percentage of committed verdicts re-judged by the spot audit, 0..100, two decimals at most (0: off)"),
    CFG_INT_AT(S_, clock_skew_s, "clock-skew-s", "300", 0, 86400,
               "the audit's allowed clock skew for issued_at: must equal the workers' clock-skew-s"),
    CFG_STR_AT(S_, log_level, "log-level", "info", "debug, info, warn or error"),
    CFG_STR_AT(S_, metrics, "metrics", "",
               "serve Prometheus metrics at http://ADDR/metrics: HOST:PORT or :PORT (empty or 0: off)"),
    CFG_STR_AT(S_, curve_secret, "curve-secret", "",
               "this sink's CURVE secret certificate (attest keygen --curve); required unless --insecure"),
    CFG_STR_AT(S_, broker_key, "broker-key", "", "the broker's public certificate"),
    CFG_STR_AT(S_, allow_workers, "allow-workers", "",
               "directory of worker public certificates allowed to send verdicts"),
    CFG_STR_AT(S_, log_key, "log-key", "",
               "the log's signing key (attest keygen --log): every commit signs a checkpoint (empty: none signed)"),
    CFG_STR_AT(S_, origin, "origin", "", "the checkpoints' origin line (empty: the log key's name)"),
    CFG_INT_AT(S_, checkpoints_kept, "checkpoints-kept", "100000", 1, INT64_C(1) << 40,
               "signed checkpoints kept in the log, the newest ones"),
    CFG_BOOL_AT(S_, insecure, "insecure", "false", "plaintext, no authentication (warned; attest_insecure 1)"),
};
#undef S_

typedef struct {
    uint64_t received;        /* verdict items in well-formed current-epoch messages */
    uint64_t committed;       /* entries appended */
    uint64_t duplicates;      /* ids already in the log: answered, not appended */
    uint64_t stale;           /* items dropped: no epoch yet, or another epoch */
    uint64_t out_of_window;   /* items at or beyond next_seq + window */
    uint64_t malformed;       /* messages dropped: bad bytes, frames or type */
    uint64_t late_answered;   /* items behind next_seq answered from the log */
    uint64_t late_unknown;    /* items behind next_seq not in the log: dropped */
    uint64_t redelivered;     /* items whose slot was already filled */
    uint64_t commits;         /* successful transactions */
    uint64_t commit_failures;
    uint64_t send_failures;   /* messages to the broker that could not be queued (out.failures) */
    uint64_t quarantined_dropped;  /* verdict items of quarantined workers: dropped */
    uint64_t audit_unrecorded;     /* disagreements the audit database could not record */
    uint64_t unauthorised;    /* VERDICTS from a key not (or no longer) allowed as worker: dropped */
    uint64_t poison;          /* POISON items taken from the broker (logged invalid, poison) */
    uint64_t gaps;            /* GAP messages sent while later verdicts were buffered */
    uint64_t gap_seqs;        /* the seqs they named below the highest buffered verdict (the holes) */
    uint64_t gap_probes;      /* GAP messages sent with nothing later buffered (the tail) */
} s_counters_t;

struct sink_t {
    size_t commit_max;
    uint64_t commit_delay_us, commit_delay_max_us, heartbeat_us, batch_us;
    uint64_t queue_wait_us;          /* moving average of t_dispatched - t_received */
    int map_size_mb;                 /* the map's maximum */
    int map_initial_mb;              /* its size at open (LMDB raises it to what the file holds) */
    logdb_map_usage_t map;           /* after the last commit (or open, or growth) */
    int id_filter_mb;
    logdb_t *log;
    reorder_t *rb;
    zsock_t *pull, *dealer;
    void *pull_h, *dealer_h;
    wire_out_t out;                  /* to the broker: counts and logs send failures (SNK-SEND) */
    wire_items_t results;            /* COMMITTED being built */
    char instance[2 * S_INSTANCE_BYTES + 1];
    bool has_epoch;
    uint64_t epoch;
    uint64_t next_seq, next_index;   /* the committed watermark */
    uint64_t last_committed_us;      /* t_committed of the last entry: stamps never go below it */
    uint64_t ready_since;            /* mono us the ready prefix became non-empty; 0 = empty */
    uint64_t paused_at;              /* mono us a batch pause began, until the drain after it; 0 = none */
    uint64_t retry_at;               /* mono us before which no commit is tried */
    int disk_full;                   /* 0, or the cause while commits fail for lack of space (NO_SPACE, QUOTA) */
    uint64_t disk_full_since, disk_full_logged, disk_full_failures;   /* mono us, mono us, failed commits */
    uint64_t next_hello, next_stats;
    uint64_t gap_us;                 /* gap-ms; 0: no GAP */
    uint64_t gap_first;              /* the first missing seq being watched (base + ready) */
    uint64_t gap_since;              /* mono us it was first seen missing; 0: none watched */
    uint64_t gap_next;               /* mono us before which no GAP is sent (one per gap-ms) */
    uint64_t gap_probe_us;           /* the interval of the next probe (nothing later buffered): doubles */
    bool probing;                    /* probes armed: the link was disrupted (s_note_link) */
    uint64_t last_welcome;           /* mono us of the last SINK_WELCOME; 0: none yet */
    bool pull_dry;                   /* the last drain of the PULL socket left it empty */
    wire_items_t gap;                /* GAP being built */
    s_counters_t c, c_logged;
    sink_metrics_t *metrics;         /* NULL: metrics off */
    wire_verdict_t *scratch;         /* WIRE_BATCH_MAX decoded items */
    wire_result_t *batch;            /* commit_max results of the open transaction */
    wire_result_t *late;             /* WIRE_RESULTS_MAX answers to late deliveries */
    size_t nlate;
    audit_t *audit;                  /* the spot audit (audit.h) */
    zhashx_t *quarantined;           /* worker identities quarantined (NUL-terminated keys) */
    note_signer_t *signer;           /* the log key: signs a checkpoint per commit (NULL: none) */
    char origin[CHECKPOINT_ORIGIN_MAX + 1];
    zap_t *zap;                      /* the workers' allowlist; NULL: plaintext (--insecure) */
    uint8_t broker_key[WIRE_KEY_BYTES];   /* with CURVE: the broker's key, the "worker" key of poison entries */
    bool has_broker_key;
    uint64_t window;                 /* pipeline-window, sent in SINK_HELLO */
    int exit_code;                   /* non-zero: stop sink_run with it (2: the broker refused our config) */
};

typedef void (*s_handler_fn)(sink_t *self, const wire_msg_t *m);

const cfg_def_t *sink_settings(size_t *count)
{
    *count = sizeof s_settings / sizeof s_settings[0];
    return s_settings;
}

static void *s_alloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p)
        abort();
    return p;
}

/*  The group-commit delay: commit-delay-us, stretched under saturation.
 *  When attestations have already waited long in the broker's queue for a
 *  worker (the verifiers are the bottleneck), a few more milliseconds
 *  before the commit are a small part of their latency, and fewer commits
 *  mean fewer fdatasyncs, COMMITTED, ACK and CREDIT messages and wake-ups:
 *  CPU that goes back to the verifiers. So the delay grows to 1/8 of the
 *  queueing time, up to commit-delay-max-us. Below saturation the queue is
 *  empty and the delay is commit-delay-us. */
static uint64_t s_commit_delay(const sink_t *self)
{
    uint64_t d = self->queue_wait_us / 8;
    if (d > self->commit_delay_max_us)
        d = self->commit_delay_max_us;
    return d > self->commit_delay_us ? d : self->commit_delay_us;
}

/*  Folds one VERDICTS message's queueing times (both stamps are the
 *  broker's clock) into the moving average, weight 1/8 per message. */
static void s_note_queue_wait(sink_t *self, const wire_verdict_t *v, size_t n)
{
    if (n == 0)
        return;
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].task.t_dispatched > v[i].task.t_received)
            sum += v[i].task.t_dispatched - v[i].task.t_received;
    uint64_t mean = sum / n;
    self->queue_wait_us = self->queue_wait_us - self->queue_wait_us / 8 + mean / 8;
}

/* ---------------------------------------------------------------- sending */

/*  A failed send is dropped: counted and logged by the wire_out_t. */
static void s_send_hello(sink_t *self)
{
    wire_sink_hello_t h = { .instance = self->instance, .instance_len = strlen(self->instance),
                            .next_seq = self->next_seq, .next_index = self->next_index,
                            .epoch = self->has_epoch ? self->epoch : 0, .window = self->window,
                            .held = reorder_ready(self->rb) };
    (void) wire_send_sink_hello(&self->out, &h);
    self->c.send_failures = self->out.failures;
}

/*  COMMITTED messages of at most WIRE_RESULTS_MAX results each. */
static void s_send_results(sink_t *self, const wire_result_t *res, size_t n)
{
    for (size_t off = 0; off < n; off += WIRE_RESULTS_MAX) {
        size_t k = n - off < WIRE_RESULTS_MAX ? n - off : WIRE_RESULTS_MAX;
        wire_items_clear(&self->results);
        for (size_t i = 0; i < k; i++)
            wire_items_result(&self->results, &res[off + i]);
        (void) wire_send_committed(&self->out, self->epoch, self->next_seq, &self->results);
    }
    self->c.send_failures = self->out.failures;
}

static void s_flush_late(sink_t *self)
{
    if (self->nlate == 0)
        return;
    s_send_results(self, self->late, self->nlate);
    self->nlate = 0;
}

/* ----------------------------------------------------------- gap report */

/*  GAP with every seq from the first missing one to the end of the window
 *  that the sink does not hold (reorder_missing: at most
 *  WIRE_GAP_RANGES_MAX ranges). A failed send is counted and logged by the
 *  wire_out_t and tried again when the next one is due, like one that
 *  went out. `holes`: later verdicts are buffered (counted and logged at
 *  info); otherwise a probe of the tail (counted apart, logged at debug). */
static void s_send_gap(sink_t *self, uint64_t now, bool holes)
{
    wire_range_t r[WIRE_GAP_RANGES_MAX];
    size_t n = reorder_missing(self->rb, r, WIRE_GAP_RANGES_MAX, WIRE_GAP_SEQS_MAX);
    if (n == 0)
        return;
    s_send_hello(self);   /* first, so that the broker knows this connection (it may be a new one) */
    wire_items_clear(&self->gap);
    uint64_t below = 0, end = reorder_base(self->rb) + reorder_window(self->rb);   /* seqs below the highest held */
    for (size_t i = 0; i < n; i++) {
        wire_items_range(&self->gap, &r[i]);
        below += r[i].first + r[i].count < end ? r[i].count : 0;
    }
    int rc = wire_send_gap(&self->out, self->epoch, &self->gap);
    self->c.send_failures = self->out.failures;
    if (rc != 0)
        return;
    if (!holes) {
        self->c.gap_probes++;
        at_log_debug("SNK-GAP", "seq %" PRIu64 " missing for %" PRIu64 " ms, nothing later buffered: GAP from there to"
                     " the end of the window", self->gap_first, (now - self->gap_since) / 1000);
        return;
    }
    self->c.gaps++;
    self->c.gap_seqs += below;
    at_log_limited(AT_LOG_INFO, "SNK-GAP", "seq %" PRIu64 " missing for %" PRIu64 " ms with %zu later verdicts"
                   " buffered (%" PRIu64 " seqs missing below them, %zu ranges): GAP to the broker", self->gap_first,
                   (now - self->gap_since) / 1000, reorder_filled(self->rb) - reorder_ready(self->rb), below, n);
}

/*  A SINK_WELCOME after more than two heartbeats (and 2 s) without one:
 *  the link to the broker was cut, or this process was paused (SIGSTOP).
 *  Verdicts and COMMITTEDs queued on the connections ZeroMQ replaced
 *  meanwhile are lost, possibly every verdict beyond the watermark, so
 *  that no later one shows the hole: probes of the tail are armed
 *  (s_check_gap). */
static void s_note_link(sink_t *self)
{
    uint64_t now = at_clock_mono_us(), quiet = 2 * self->heartbeat_us > 2000000 ? 2 * self->heartbeat_us : 2000000;
    if (self->last_welcome && now - self->last_welcome > quiet && !self->probing) {
        self->probing = true;
        self->gap_probe_us = self->gap_us;
        at_log_debug("SNK-GAP", "no SINK_WELCOME for %" PRIu64 " ms: probing for lost verdicts beyond seq %" PRIu64,
                     (now - self->last_welcome) / 1000, reorder_base(self->rb) + reorder_ready(self->rb));
    }
    self->last_welcome = now;
}

/*  Watches the first seq the ready prefix misses (base + ready): once the
 *  same one has been missing for gap-ms, with the verdict input drained
 *  (a backlog in the PULL socket may hold it), GAP. While later verdicts
 *  are buffered (a hole), at most once per gap-ms. With nothing later
 *  buffered, lost verdicts and an idle pipeline look the same from here:
 *  only after a disruption of the link (s_note_link) is the GAP sent, as a
 *  probe, at gap-ms, then twice, four times... as long, up to 32 times
 *  (6.4 s at the default), after which probing stops; the broker ignores
 *  what it does not hold. A first missing seq that moves on starts the
 *  clock again, so a busy pipeline's normal reordering (holes of a few
 *  milliseconds) sends nothing. */
static void s_check_gap(sink_t *self)
{
    bool holes = reorder_filled(self->rb) > reorder_ready(self->rb);
    if (!self->gap_us || !self->has_epoch || (!holes && !self->probing)) {
        self->gap_since = 0;   /* nothing to report: the clock starts when a hole shows (or probing begins) */
        return;
    }
    uint64_t now = at_clock_mono_us(), first = reorder_base(self->rb) + reorder_ready(self->rb);
    if (!self->gap_since || first != self->gap_first) {
        self->gap_first = first;
        self->gap_since = now;
        self->gap_probe_us = self->gap_us;
        return;
    }
    if (now - self->gap_since < self->gap_us || now < self->gap_next || !self->pull_dry)
        return;
    s_send_gap(self, now, holes);
    self->gap_next = now + (holes ? self->gap_us : self->gap_probe_us);
    if (holes)
        return;
    if (self->gap_probe_us >= 32 * self->gap_us)
        self->probing = false;   /* the last probe of the series */
    else
        self->gap_probe_us *= 2;
}

/*  When s_check_gap may send next (0: nothing watched). */
static uint64_t s_gap_due(const sink_t *self)
{
    if (!self->gap_since)
        return 0;
    uint64_t due = self->gap_since + self->gap_us;
    return due > self->gap_next ? due : self->gap_next;
}

/* ----------------------------------------------------------- committing */

static void s_note_map(sink_t *self)
{
    if (logdb_map_usage(self->log, &self->map) != AT_OK)
        memset(&self->map, 0, sizeof self->map);
}

/*  After a batch failed with a full map: doubles the map up to map-size-mb
 *  (no transaction is open now). True when it grew: run the batch again. */
static bool s_grow_map(sink_t *self)
{
    uint64_t was = self->map.map_size, now;
    if (logdb_grow(self->log, (uint64_t) self->map_size_mb << 20, &now) != AT_OK)
        return false;
    s_note_map(self);
    at_log_info("SNK-MAP-GROW", "log map grown from %" PRIu64 " to %" PRIu64 " MiB (maximum map-size-mb %d) at index %"
                PRIu64, was >> 20, now >> 20, self->map_size_mb, self->next_index);
    return true;
}

static const char *s_space_cause(at_err rc)
{
    return rc == AT_ERR_QUOTA ? "EDQUOT: disk quota exceeded" : "ENOSPC: no space left on device";
}

/*  A commit failed for lack of space: an operational state, said once when
 *  it begins (and every S_DISKFULL_REPEAT_US while it lasts), not at every
 *  retry. The verdicts stay in the reorder buffer; SINK_HELLO tells the
 *  broker it holds them, so it does not redeliver them. */
static void s_disk_full(sink_t *self, at_err rc, uint64_t now)
{
    self->disk_full_failures++;
    if (!self->disk_full) {
        self->disk_full = rc;
        self->disk_full_since = self->disk_full_logged = now;
        at_log_error("SNK-DISKFULL", "the log's disk is full (%s) at index %" PRIu64 ", seq %" PRIu64 ": %zu verdicts"
                     " held (the broker is told it need not redeliver them), commits retried every 100 ms; they"
                     " resume by themselves when space is freed", s_space_cause(rc), self->next_index, self->next_seq,
                     reorder_ready(self->rb));
        return;
    }
    if (now - self->disk_full_logged < S_DISKFULL_REPEAT_US)
        return;
    self->disk_full_logged = now;
    at_log_warn("SNK-DISKFULL", "the log's disk is still full (%s) after %" PRIu64 " s: %" PRIu64 " commits failed,"
                " %zu verdicts held", s_space_cause(rc), (now - self->disk_full_since) / 1000000,
                self->disk_full_failures, reorder_ready(self->rb));
}

/*  A commit succeeded: a disk-full state, if any, is over. */
static void s_disk_ok(sink_t *self)
{
    if (!self->disk_full)
        return;
    at_log_info("SNK-DISKFULL", "space again: commits resumed after %" PRIu64 " ms of a full disk (%" PRIu64
                " failed commits)", (at_clock_mono_us() - self->disk_full_since) / 1000, self->disk_full_failures);
    self->disk_full = 0;
    self->disk_full_failures = 0;
}

static at_err s_commit_failed(sink_t *self, at_err rc, size_t n)
{
    uint64_t now = at_clock_mono_us();
    self->c.commit_failures++;
    self->retry_at = now + S_RETRY_US;
    sink_metrics_commit_failed(self->metrics, rc);
    if (rc == AT_ERR_NO_SPACE || rc == AT_ERR_QUOTA)
        s_disk_full(self, rc, now);
    else if (rc == AT_ERR_MAP_FULL)
        at_log_limited(AT_LOG_ERROR, "SNK-MAPFULL", "the log is full: its map is at the maximum map-size-mb %d at"
                       " index %" PRIu64 "; raise map-size-mb and restart the sink; %zu verdicts held, retrying",
                       self->map_size_mb, self->next_index, n);
    else
        at_log_limited(AT_LOG_ERROR, "SNK-COMMIT", "commit of %zu verdicts from seq %" PRIu64
                       " failed: %s; retrying in 100 ms", n, self->next_seq, at_strerror(rc));
    return rc;
}

/*  Appends one ready verdict in the open transaction, or answers it from the
 *  log when its id is already there (earlier, or earlier in this batch). */
static at_err s_commit_one(sink_t *self, const reorder_item_t *it, uint64_t now, wire_result_t *out)
{
    logdb_entry_t e;
    memset(&e, 0, sizeof e);
    e.seq = it->seq;
    memcpy(e.id, it->id, AT_ID_BYTES);
    e.verdict = it->verdict;
    e.reason = it->reason;
    e.producer = it->producer;
    e.producer_len = it->producer_len;
    e.cseq = it->cseq;
    e.worker = it->worker;
    e.worker_len = it->worker_len;
    e.t_received = it->t_received;
    e.t_dispatched = it->t_dispatched;
    e.t_verified = it->t_verified;
    e.t_committed = now;
    e.att = it->att;
    e.att_len = it->att_len;
    e.producer_key = it->producer_key;
    e.producer_key_len = it->producer_key_len;
    e.worker_key = it->worker_key;
    e.worker_key_len = it->worker_key_len;
    e.epoch = self->epoch;   /* every buffered verdict is of the current epoch (s_on_welcome clears the others) */
    at_err rc = revoke_append(self->log, &e);   /* a revocation is judged in log order (store/revoke.h) */
    if (rc == AT_ERR_DUPLICATE) {
        uint64_t index;
        if ((rc = logdb_lookup_id(self->log, it->id, &index)) != AT_OK
            || (rc = logdb_get(self->log, index, &e, NULL, NULL)) != AT_OK)
            return rc;
        *out = (wire_result_t) { it->seq, index, e.verdict, e.reason, true };
        return AT_OK;
    }
    if (rc != AT_OK)
        return rc;
    *out = (wire_result_t) { it->seq, e.index, e.verdict, e.reason, false };   /* as logged */
    return AT_OK;
}

/*  Called after a durable commit of n ready verdicts. */
static void s_committed(sink_t *self, size_t n, uint64_t next_index)
{
    size_t dups = 0;
    for (size_t i = 0; i < n; i++) {
        dups += self->batch[i].duplicate;
        if (!self->batch[i].duplicate)
            sink_metrics_verdict(self->metrics, self->batch[i].verdict == WIRE_VALID, self->batch[i].reason);
    }
    reorder_pop(self->rb, n);
    self->next_seq += n;
    self->next_index = next_index;
    self->c.commits++;
    self->c.committed += n - dups;
    self->c.duplicates += dups;
    if (reorder_ready(self->rb) == 0)
        self->ready_since = 0;
    at_log_debug("SNK-COMMIT", "committed %zu (%zu duplicates), next_seq %" PRIu64, n, dups, self->next_seq);
    s_send_results(self, self->batch, n);
}

/*  The duplicate check and the id index touch memory at random: start
 *  loading it S_PREFETCH entries ahead, so that the misses overlap. */
static void s_prefetch(sink_t *self, size_t i)
{
    const uint8_t *id = reorder_peek_id(self->rb, i);
    if (id)
        logdb_prefetch_id(self->log, id);
}

/* ---------------------------------------------------------------- audit */

/*  A worker's identity as the quarantine knows it: with CURVE its
 *  authenticated key, "key:" and its Z85 (so a liar cannot escape by
 *  restarting under another --id, and every thread of the process goes
 *  with it); in plaintext the worker name of its VERDICTS. The broker
 *  computes the same (broker.c s_worker_identity). */
static void s_identity(const char *worker, size_t wlen, const uint8_t *key, size_t key_len,
                       char out[WIRE_NAME_MAX + 1])
{
    if (key_len == WIRE_KEY_BYTES) {
        memcpy(out, "key:", 4);
        zmq_z85_encode(out + 4, key, WIRE_KEY_BYTES);
        return;
    }
    wlen = wlen < WIRE_NAME_MAX ? wlen : WIRE_NAME_MAX;
    memcpy(out, worker, wlen);
    out[wlen] = 0;
}

static void s_key(const char *worker, size_t len, char key[WIRE_NAME_MAX + 1])
{
    len = len < WIRE_NAME_MAX ? len : WIRE_NAME_MAX;
    memcpy(key, worker, len);
    key[len] = 0;
}

static bool s_quarantined(const sink_t *self, const char *worker, size_t len)
{
    char key[WIRE_NAME_MAX + 1];
    s_key(worker, len, key);
    return zhashx_lookup(self->quarantined, key) != NULL;
}

static void s_send_quarantines(sink_t *self)
{
    for (const char *v = zhashx_first(self->quarantined); v; v = zhashx_next(self->quarantined)) {
        const char *key = zhashx_cursor(self->quarantined);
        (void) wire_send_quarantine(&self->out, key, strlen(key));
    }
    self->c.send_failures = self->out.failures;
}

/*  From now on nothing this worker judged is committed: its buffered
 *  verdicts are dropped (the broker dispatches those tasks again), its
 *  further VERDICTS too, and the broker is told. */
static void s_quarantine(sink_t *self, const char *worker, size_t len)
{
    char key[WIRE_NAME_MAX + 1];
    s_key(worker, len, key);
    if (zhashx_lookup(self->quarantined, key))
        return;
    zhashx_insert(self->quarantined, key, (void *) "quarantined");
    uint8_t raw[WIRE_KEY_BYTES];
    size_t dropped = strncmp(key, "key:", 4) == 0 && zmq_z85_decode(raw, key + 4)
                         ? reorder_drop_worker_key(self->rb, raw)
                         : reorder_drop_worker(self->rb, key, strlen(key));
    if (reorder_ready(self->rb) == 0)
        self->ready_since = 0;
    (void) wire_send_quarantine(&self->out, key, strlen(key));
    self->c.send_failures = self->out.failures;
    at_log_warn("SNK-QUARANTINE", "worker %s quarantined at next_index %" PRIu64 ": none of its verdicts is committed"
                " from there on (%zu buffered ones dropped); broker told", key, self->next_index, dropped);
}

/*  One disagreement: logged, recorded in the "audit" database, and the
 *  worker quarantined. */
static void s_audit_finding(sink_t *self, const audit_finding_t *f)
{
    at_log_limited(AT_LOG_ERROR, "SNK-AUDIT", "entry %" PRIu64 ": worker %s judged it %s (%s), the audit %s (%s)%s",
                   f->index, f->worker, f->got_verdict == WIRE_VALID ? "valid" : "invalid",
                   at_strerror(f->got_reason), f->expected_verdict == WIRE_VALID ? "valid" : "invalid",
                   at_strerror(f->expected_reason), f->id_differs ? ", and its id is not the attestation's" : "");
    logdb_audit_t a = { f->index, f->got_verdict, f->got_reason, f->expected_verdict, f->expected_reason,
                        at_clock_wall_us(), f->worker, f->worker_len };
    at_err rc = logdb_audit_record(self->log, &a);
    if (rc != AT_OK) {
        self->c.audit_unrecorded++;
        at_log_limited(AT_LOG_ERROR, "SNK-AUDIT", "entry %" PRIu64 ": the disagreement could not be recorded: %s",
                       f->index, at_strerror(rc));
    }
    s_quarantine(self, f->worker, f->worker_len);
}

static void s_audit_poll(sink_t *self)
{
    audit_finding_t f[16];
    size_t n;
    while ((n = audit_findings(self->audit, f, 16)) > 0)
        for (size_t i = 0; i < n; i++)
            s_audit_finding(self, &f[i]);
}

/*  After a durable commit of n ready verdicts (not popped yet): the
 *  sampling draw for each appended entry, and a copy of the sampled ones
 *  for the audit thread. */
static void s_audit_offer(sink_t *self, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        reorder_item_t it;
        if (self->batch[i].duplicate || !audit_pick(self->audit) || reorder_peek(self->rb, i, &it) != 0)
            continue;
        if (it.reason == AT_ERR_POISON)   /* the broker's verdict: no worker judged it */
            continue;
        char ident[WIRE_NAME_MAX + 1];
        s_identity(it.worker, it.worker_len, it.worker_key, it.worker_key_len, ident);
        audit_item_t a = { self->batch[i].index, it.t_verified, it.verdict, it.reason, it.id, ident,
                           strlen(ident), it.att, it.att_len };
        audit_offer(self->audit, &a);
    }
}

/*  A recorded disagreement quarantines its worker unless an operator
 *  lifted the quarantine after it (`attest log unquarantine`, logdb.h). */
static int s_load_quarantined(const logdb_audit_t *a, void *arg)
{
    sink_t *self = arg;
    char key[WIRE_NAME_MAX + 1];
    s_key(a->worker, a->worker_len, key);
    uint64_t lifted_at;
    if (logdb_lift_at(self->log, key, strlen(key), &lifted_at) == AT_OK && lifted_at > a->index)
        return 0;
    if (!zhashx_lookup(self->quarantined, key))
        zhashx_insert(self->quarantined, key, (void *) "quarantined");
    return 0;
}

/*  The t_committed of a commit: the wall clock, but never below the last
 *  entry's, so that t_committed never decreases along the log (attest log
 *  find --since/--until bisects on it, protocol.md 12) even when the wall
 *  clock steps back (a VM's clock resynchronised, NTP stepping). */
static uint64_t s_commit_stamp(sink_t *self)
{
    uint64_t now = at_clock_wall_us();
    if (now >= self->last_committed_us)
        return now;
    at_log_limited(AT_LOG_WARN, "SNK-CLOCK", "the wall clock is %" PRIu64 " us behind the last commit's t_committed:"
                   " stamping this commit with that time instead (t_committed never goes back)",
                   self->last_committed_us - now);
    return self->last_committed_us;
}

/*  One transaction over n ready verdicts; on failure nothing is kept. */
static at_err s_commit_batch(sink_t *self, size_t n)
{
    uint64_t t0 = at_clock_mono_us();
    at_err rc = logdb_begin(self->log);
    if (rc != AT_OK)
        return rc;
    uint64_t now = s_commit_stamp(self), next_index = self->next_index;
    for (size_t i = 0; i < n && i < S_PREFETCH; i++)
        s_prefetch(self, i);
    for (size_t i = 0; i < n; i++) {
        if (i + S_PREFETCH < n)
            s_prefetch(self, i + S_PREFETCH);
        reorder_item_t it;
        if (reorder_peek(self->rb, i, &it) != 0)
            rc = AT_ERR_PROTOCOL;   /* cannot happen: i < ready */
        else
            rc = s_commit_one(self, &it, now, &self->batch[i]);
        if (rc != AT_OK) {
            logdb_abort(self->log);
            return rc;
        }
        if (!self->batch[i].duplicate)
            next_index = self->batch[i].index + 1;
    }
    if ((rc = logdb_commit(self->log, self->next_seq + n)) != AT_OK)
        return rc;
    self->last_committed_us = now;
    sink_metrics_commit(self->metrics, at_clock_mono_us() - t0);
    s_audit_offer(self, n);
    s_committed(self, n, next_index);
    s_note_map(self);
    return AT_OK;
}

/*  One transaction over at most commit_max ready verdicts; a full map is
 *  grown (doubled, up to map-size-mb) and the batch run again. */
static at_err s_commit_once(sink_t *self)
{
    size_t n = reorder_ready(self->rb);
    if (n > self->commit_max)
        n = self->commit_max;
    at_err rc;
    while ((rc = s_commit_batch(self, n)) == AT_ERR_MAP_FULL && s_grow_map(self)) {
    }
    if (rc == AT_OK)
        s_disk_ok(self);
    return rc == AT_OK ? AT_OK : s_commit_failed(self, rc, n);
}

/*  Commits the ready prefix when a group commit is due. */
static void s_commit_ready(sink_t *self)
{
    while (reorder_ready(self->rb) > 0) {
        uint64_t now = at_clock_mono_us();
        if (now < self->retry_at)
            return;
        bool due = reorder_ready(self->rb) >= self->commit_max || now - self->ready_since >= s_commit_delay(self);
        if (!due || s_commit_once(self) != AT_OK)
            return;
    }
}

/* ------------------------------------------------------------- receiving */

/*  Counts and logs (rate-limited) what was dropped and from whom: the
 *  peer's role, the name it gave (VERDICTS) and its authenticated CURVE key
 *  when m is known, the message's size and the decoder's reason. */
static void s_malformed(sink_t *self, const char *peer, const wire_msg_t *m, const char *what, at_err rc)
{
    self->c.malformed++;
    const char *name = m && m->type == WIRE_VERDICTS && m->u.verdicts.worker_len ? m->u.verdicts.worker : NULL;
    if (name && !utf8_name_ok(name, m->u.verdicts.worker_len))
        name = NULL;   /* what the decoder refused is not printed */
    int name_len = name ? (int) m->u.verdicts.worker_len : 0;
    at_log_limited(AT_LOG_WARN, "SNK-MALFORMED", "%s%s%.*s%s%s: %s (%zu bytes) dropped: %s%s%s", peer,
                   name ? " " : "", name_len, name ? name : "", m && m->user_id ? " key " : "",
                   m && m->user_id ? m->user_id : "", what, m ? m->size : 0, at_strerror(rc),
                   m && m->why ? ": " : "", m && m->why ? m->why : "");
}

/*  Answers a verdict behind next_seq from the log, inside one read snapshot
 *  per message (*reading says whether it is open). */
static void s_answer_late(sink_t *self, const wire_verdict_t *v, bool *reading)
{
    uint64_t index;
    logdb_entry_t e;
    at_err rc = AT_OK;
    if (!*reading && (rc = logdb_read_begin(self->log)) == AT_OK)
        *reading = true;
    if (rc == AT_OK && (rc = logdb_lookup_id(self->log, v->id, &index)) == AT_OK)
        rc = logdb_get(self->log, index, &e, NULL, NULL);
    if (rc != AT_OK) {
        self->c.late_unknown++;
        at_log_limited(AT_LOG_WARN, "SNK-LATE", "seq %" PRIu64 " behind next_seq %" PRIu64
                       " and not in the log (%s): dropped", v->task.seq, self->next_seq, at_strerror(rc));
        return;
    }
    if (self->nlate == WIRE_RESULTS_MAX)
        s_flush_late(self);
    self->late[self->nlate++] = (wire_result_t) { v->task.seq, index, e.verdict, e.reason, e.seq != v->task.seq };
    self->c.late_answered++;
}

/*  worker_key: the sender's authenticated key (NULL in plaintext). */
static void s_take(sink_t *self, const wire_verdict_t *v, const char *worker, size_t wlen,
                   const uint8_t *worker_key, bool *reading)
{
    reorder_item_t it = {
        .seq = v->task.seq, .cseq = v->task.cseq, .t_received = v->task.t_received,
        .t_dispatched = v->task.t_dispatched, .t_verified = v->t_verified,
        .verdict = v->verdict, .reason = v->reason,
        .producer = v->task.producer, .producer_len = v->task.producer_len,
        .worker = worker, .worker_len = wlen, .att = v->task.att, .att_len = v->task.att_len,
        .producer_key = v->task.producer_key, .producer_key_len = v->task.producer_key_len,
        .worker_key = worker_key, .worker_key_len = worker_key ? WIRE_KEY_BYTES : 0,
    };
    memcpy(it.id, v->id, AT_ID_BYTES);
    switch (reorder_put(self->rb, &it)) {
    case REORDER_OK:
        /* What is read after a deliberate pause may have arrived as early
         * as the pause began: its group-commit delay counts from there. */
        if (self->ready_since == 0 && reorder_ready(self->rb) > 0)
            self->ready_since = self->paused_at ? self->paused_at : at_clock_mono_us();
        break;
    case REORDER_OUT_OF_WINDOW:
        self->c.out_of_window++;
        at_log_limited(AT_LOG_WARN, "SNK-WINDOW", "seq %" PRIu64 " beyond the window (next_seq %" PRIu64
                       ", window %zu): dropped", it.seq, self->next_seq, reorder_window(self->rb));
        break;
    case REORDER_BEHIND:
        s_answer_late(self, v, reading);
        break;
    case REORDER_ALREADY:
        self->c.redelivered++;
        break;
    case REORDER_TOO_LARGE:
        s_malformed(self, "worker", NULL, "verdict", AT_ERR_OVERSIZE);
        break;
    }
}

/*  Decodes every item into self->scratch; false (counted, logged) when one
 *  is malformed or claims reason poison, the broker's verdict alone (7.6;
 *  the audit never samples it). */
static bool s_decode_verdicts(sink_t *self, const wire_msg_t *m, const wire_list_t *items)
{
    for (size_t i = 0; i < items->n; i++) {
        at_err rc = wire_verdict_at(items, i, &self->scratch[i]);
        if (rc == AT_OK && self->scratch[i].reason == AT_ERR_POISON)
            rc = AT_ERR_RANGE;
        if (rc != AT_OK) {
            char what[48];
            snprintf(what, sizeof what, "VERDICTS item %zu of %zu", i, items->n);
            s_malformed(self, "worker", m, what, rc);
            return false;
        }
    }
    return true;
}

/*  VERDICTS [epoch, worker_id, items] (the message checked by wire_recv):
 *  all or nothing on malformed items. */
static void s_on_verdicts(sink_t *self, const wire_msg_t *m)
{
    const wire_verdicts_t *vs = &m->u.verdicts;
    uint64_t epoch = vs->epoch;
    const char *worker = vs->worker;
    size_t wlen = vs->worker_len, n = vs->items.n;
    uint8_t key[WIRE_KEY_BYTES];
    bool has_key = false;
    if (self->zap) {   /* the worker's identity is its authenticated key, never a name it sends */
        if (!zap_permits(self->zap, m->user_id, "worker") || !(has_key = zap_user_key(m->user_id, key))) {
            self->c.unauthorised++;
            at_log_limited(AT_LOG_WARN, "SNK-AUTH", "VERDICTS from %s (worker %.*s): key not allowed: %zu dropped",
                           m->user_id ? m->user_id : "?", (int) wlen, worker, n);
            return;
        }
    }
    if (!self->has_epoch || epoch != self->epoch) {
        self->c.stale += n;
        at_log_limited(AT_LOG_WARN, "SNK-STALE", "worker %.*s: %zu verdicts of epoch %" PRIu64
                       " dropped (current: %s%" PRIu64 ")", (int) wlen, worker, n, epoch,
                       self->has_epoch ? "" : "none, ", self->epoch);
        return;
    }
    char ident[WIRE_NAME_MAX + 1];
    s_identity(worker, wlen, key, has_key ? WIRE_KEY_BYTES : 0, ident);
    if (s_quarantined(self, ident, strlen(ident))) {
        self->c.quarantined_dropped += n;
        at_log_limited(AT_LOG_WARN, "SNK-QUARANTINE", "worker %.*s is quarantined: %zu verdicts dropped", (int) wlen,
                       worker, n);
        return;
    }
    if (!s_decode_verdicts(self, m, &vs->items))
        return;
    self->c.received += n;
    s_note_queue_wait(self, self->scratch, n);
    bool reading = false;
    for (size_t i = 0; i < n; i++)
        s_take(self, &self->scratch[i], worker, wlen, has_key ? key : NULL, &reading);
    if (reading)
        logdb_read_end(self->log);
}

/*  One POISON item as the verdict the broker gives it: invalid, reason
 *  poison, judged by "broker" now. The id is computed here (the broker
 *  admitted only attestations that decode). */
static at_err s_poison_verdict(const wire_list_t *items, size_t i, wire_verdict_t *v, uint8_t id[AT_ID_BYTES])
{
    at_err rc = wire_task_at(items, i, &v->task);
    attestation_t a;
    if (rc == AT_OK)
        rc = attestation_decode(&a, v->task.att, v->task.att_len);
    if (rc != AT_OK)
        return rc;
    attestation_id(&a, id);
    v->id = id;
    v->t_verified = at_clock_wall_us();
    v->verdict = WIRE_INVALID;
    v->reason = AT_ERR_POISON;
    return AT_OK;
}

/*  POISON [epoch, items], from the broker (the DEALER's only peer): tasks
 *  whose workers kept dying while holding them. Each is taken as a verdict
 *  of worker "broker" (with CURVE the broker's key is the entry's worker
 *  key), invalid with reason poison, and committed in seq order like any
 *  other (protocol.md 7.6). */
static void s_on_poison(sink_t *self, const wire_msg_t *m)
{
    const wire_tasks_t *p = &m->u.poison;
    if (!self->has_epoch || p->epoch != self->epoch) {
        self->c.stale += p->items.n;
        at_log_limited(AT_LOG_WARN, "SNK-STALE", "POISON of epoch %" PRIu64 ": %zu dropped", p->epoch, p->items.n);
        return;
    }
    uint8_t ids[WIRE_BATCH_MAX][AT_ID_BYTES];
    for (size_t i = 0; i < p->items.n; i++) {
        at_err rc = s_poison_verdict(&p->items, i, &self->scratch[i], ids[i]);
        if (rc != AT_OK) {
            s_malformed(self, "broker", NULL, "POISON item", rc);
            return;
        }
    }
    bool reading = false;
    self->c.received += p->items.n;
    self->c.poison += p->items.n;
    for (size_t i = 0; i < p->items.n; i++)
        s_take(self, &self->scratch[i], "broker", strlen("broker"), self->has_broker_key ? self->broker_key : NULL,
               &reading);
    if (reading)
        logdb_read_end(self->log);
}

/*  SINK_WELCOME [epoch, first_seq]. */
static void s_on_welcome(sink_t *self, const wire_msg_t *m)
{
    uint64_t epoch = m->u.sink_welcome.epoch, first_seq = m->u.sink_welcome.first_seq;
    s_note_link(self);
    bool adopted = !self->has_epoch || epoch != self->epoch;
    if (adopted) {
        at_log_info("SNK-EPOCH", "epoch %" PRIu64 " (was %s%" PRIu64 "); %zu buffered verdicts cleared",
                    epoch, self->has_epoch ? "" : "none, ", self->epoch, reorder_filled(self->rb));
        self->has_epoch = true;
        self->epoch = epoch;
        reorder_reset(self->rb, self->next_seq);
        self->ready_since = 0;
        self->gap_since = 0;
        self->nlate = 0;
    }
    /* Our watermark is final for this epoch now (verdicts of the old one
     * are dropped): confirm it to the broker at once, which starts
     * numbering only when a SINK_HELLO confirms its first_seq; it differs
     * if we committed the old epoch's verdicts after our last SINK_HELLO. */
    if (first_seq != self->next_seq)
        at_log_info("SNK-WELCOME", "broker starts at seq %" PRIu64 " but the log is at %" PRIu64 ": telling it",
                    first_seq, self->next_seq);
    if (adopted || first_seq != self->next_seq)
        s_send_hello(self);
}

/*  ERROR [reason, text] from the broker. reason config: the broker refused
 *  to register us because a setting that must match its own does not (the
 *  pipeline-window): retrying cannot help, so the sink stops with exit 2.
 *  Anything else is logged and the heartbeat goes on. */
static void s_on_error(sink_t *self, const wire_msg_t *m)
{
    const wire_error_t *e = &m->u.error;
    if (e->reason == AT_ERR_CONFIG) {
        at_log_error("SNK-WINDOW-MISMATCH", "the broker refused this sink: %.*s; set the same pipeline-window on"
                     " both and restart", (int) e->text_len, e->text);
        self->exit_code = 2;
        return;
    }
    at_log_limited(AT_LOG_WARN, "SNK-BROKER-ERROR", "the broker answered ERROR %s: %.*s", at_strerror(e->reason),
                   (int) e->text_len, e->text);
}

static const s_handler_fn s_broker_handlers[WIRE_TYPE_MAX_] = { [WIRE_SINK_WELCOME] = s_on_welcome,
                                                                 [WIRE_ERROR] = s_on_error,
                                                                 [WIRE_POISON] = s_on_poison };
static const s_handler_fn s_worker_handlers[WIRE_TYPE_MAX_] = { [WIRE_VERDICTS] = s_on_verdicts };

/*  Handles up to S_DRAIN_MAX messages; true when the socket ran dry. */
static bool s_drain(sink_t *self, void *handle, const s_handler_fn *table, const char *peer)
{
    for (int k = 0; k < S_DRAIN_MAX; k++) {
        wire_msg_t m;
        at_err rc = wire_recv(handle, false, &m);
        if (rc == AT_ERR_BUSY)
            return true;
        if (rc != AT_OK)
            s_malformed(self, peer, &m, m.type ? wire_type_name(m.type) : "message", rc);
        else if (table[m.type])
            table[m.type](self, &m);
        else
            s_malformed(self, peer, &m, wire_type_name(m.type), AT_ERR_PROTOCOL);
        wire_msg_done(&m);
    }
    return false;
}

/* --------------------------------------------------------------- running */

static void s_log_stats(sink_t *self, const char *event)
{
    const s_counters_t *c = &self->c;
    double avg = c->commits ? (double) (c->committed + c->duplicates) / (double) c->commits : 0.0;
    at_log_info(event, "received=%" PRIu64 " committed=%" PRIu64 " duplicates=%" PRIu64 " stale=%" PRIu64
                " out_of_window=%" PRIu64 " malformed=%" PRIu64 " late_answered=%" PRIu64
                " late_unknown=%" PRIu64 " redelivered=%" PRIu64 " commits=%" PRIu64 " avg_batch=%.1f"
                " commit_failures=%" PRIu64 " send_failures=%" PRIu64 " poison=%" PRIu64 " gaps=%" PRIu64
                " gap_seqs=%" PRIu64 " gap_probes=%" PRIu64 " buffered=%zu next_seq=%" PRIu64 " next_index=%" PRIu64,
                c->received, c->committed, c->duplicates, c->stale, c->out_of_window, c->malformed, c->late_answered,
                c->late_unknown, c->redelivered, c->commits, avg, c->commit_failures, c->send_failures, c->poison,
                c->gaps, c->gap_seqs, c->gap_probes, reorder_filled(self->rb), self->next_seq, self->next_index);
    audit_stats_t a;
    audit_stats(self->audit, &a);
    at_log_info(event, "audit: sampled=%" PRIu64 " checked=%" PRIu64 " dropped=%" PRIu64 " disagreements=%" PRIu64
                " quarantined=%zu quarantined_dropped=%" PRIu64, a.sampled, a.checked, a.dropped, a.disagreements,
                zhashx_size(self->quarantined), c->quarantined_dropped);
    self->c_logged = self->c;
}

/*  Beyond its capacity the id filter lets more and more new ids through to
 *  an index lookup (a B-tree search, from disk once the index outgrows the
 *  page cache): say so, with what to do. */
static void s_check_filter(const sink_t *self)
{
    uint64_t cap = logdb_id_filter_capacity(self->log);
    if (self->next_index > cap)
        at_log_limited(AT_LOG_WARN, "SNK-FILTER", "the log holds %" PRIu64 " ids, more than the id filter's %" PRIu64
                       " (id-filter-mb %d): appends look ids up in the index more often; raise id-filter-mb to about"
                       " %" PRIu64, self->next_index, cap, self->id_filter_mb,
                       (self->next_index * 3 / 2 >> 20) + 1);
}

static void s_timers(sink_t *self)
{
    uint64_t now = at_clock_mono_us();
    if (now >= self->next_hello) {
        s_send_hello(self);
        s_send_quarantines(self);   /* again and again: a lost one, or a new broker */
        self->next_hello = now + self->heartbeat_us;
    }
    if (now >= self->next_stats) {
        if (memcmp(&self->c, &self->c_logged, sizeof self->c) != 0) {
            s_log_stats(self, "SNK-STATS");
            s_check_filter(self);
        }
        self->next_stats = now + S_STATS_US;
    }
}

/*  Copies the counters to the metrics endpoint (a few relaxed stores). */
static void s_metrics(sink_t *self)
{
    if (!self->metrics)
        return;
    const s_counters_t *c = &self->c;
    sink_metrics_snapshot_t s = {
        .received = c->received, .committed = c->committed, .duplicates = c->duplicates, .commits = c->commits,
        .malformed = c->malformed, .stale = c->stale, .reorder_buffered = reorder_filled(self->rb),
        .next_index = self->next_index, .next_seq = self->next_seq, .registered = self->has_epoch,
        .insecure = self->zap == NULL, .unauthorised = c->unauthorised,
        .handshakes_refused = self->zap ? zap_refused(self->zap) : 0,
        .epoch = self->has_epoch ? self->epoch : 0, .gaps = c->gaps, .gap_seqs = c->gap_seqs,
        .gap_probes = c->gap_probes,
    };
    audit_stats_t a;
    audit_stats(self->audit, &a);
    s.audit_sampled = a.sampled;
    s.audit_checked = a.checked;
    s.audit_dropped = a.dropped;
    s.audit_disagreements = a.disagreements;
    s.quarantined = zhashx_size(self->quarantined);
    s.quarantined_dropped = self->c.quarantined_dropped;
    s.map_size = self->map.map_size;
    s.map_used = self->map.used;
    s.map_used_ppm = (uint64_t) ((double) self->map.used * 1e6 / (double) ((uint64_t) self->map_size_mb << 20));
    s.disk_full = self->disk_full != 0;
    sink_metrics_publish(self->metrics, &s);
}

static int s_poll_timeout_ms(const sink_t *self)
{
    uint64_t now = at_clock_mono_us();
    uint64_t due = self->next_hello < self->next_stats ? self->next_hello : self->next_stats;
    if (reorder_ready(self->rb) > 0) {
        uint64_t commit_at = self->ready_since + s_commit_delay(self);
        if (commit_at < self->retry_at)
            commit_at = self->retry_at;
        if (commit_at < due)
            due = commit_at;
    }
    uint64_t gap_at = s_gap_due(self);
    if (gap_at && gap_at < due)
        due = gap_at;
    if (self->nlate > 0 || due <= now)
        return 0;
    return (int) ((due - now + 999) / 1000);
}

/*  Under load, do not wake for every VERDICTS message: while verdicts are
 *  buffered (a commit is coming anyway), sleep until the group commit is
 *  due, or batch-us while a gap holds the ready prefix back; what arrives
 *  meanwhile waits in the socket and is drained in one go. Waking a process
 *  costs more CPU than handling a message, and the CPU belongs to the
 *  verifiers. Idle, the sink blocks in poll and answers the first message
 *  at once. */
static void s_batch_pause(sink_t *self)
{
    if (!self->batch_us || reorder_filled(self->rb) == 0 || self->nlate > 0)
        return;
    uint64_t now = at_clock_mono_us(), sleep_us = self->batch_us;
    if (reorder_ready(self->rb) > 0) {
        uint64_t commit_at = self->ready_since + s_commit_delay(self);
        if (commit_at < self->retry_at)
            commit_at = self->retry_at;
        if (commit_at <= now || reorder_ready(self->rb) >= self->commit_max)
            return;
        sleep_us = commit_at - now;
    }
    self->paused_at = now;
    usleep((useconds_t) sleep_us);
}

/*  On a signal: one more try at the ready prefix, then a summary. */
static void s_shutdown(sink_t *self)
{
    self->retry_at = 0;
    while (reorder_ready(self->rb) > 0 && s_commit_once(self) == AT_OK) {
    }
    s_flush_late(self);
    if (reorder_filled(self->rb))
        at_log_warn("SNK-STOP", "%zu verdicts beyond a gap (or uncommitted) dropped; the broker will redeliver",
                    reorder_filled(self->rb));
    s_log_stats(self, "SNK-STOP");
}

/*  Handshakes waiting for the allowlist, and a SIGHUP's reload. */
static void s_serve_zap(sink_t *self)
{
    if (zap_sighup_take() && self->zap) {
        at_log_info("SNK-RELOAD", "SIGHUP: reloading the allowlist");
        (void) zap_reload(self->zap);
    }
    if (self->zap)
        zap_serve(self->zap);
}

int sink_run(sink_t *self)
{
    int rc = 0;
    s_send_hello(self);
    uint64_t now = at_clock_mono_us();
    self->next_hello = now + self->heartbeat_us;
    self->next_stats = now + S_STATS_US;
    while (!zsys_interrupted && !self->exit_code) {
        zmq_pollitem_t items[3] = { { self->dealer_h, 0, ZMQ_POLLIN, 0 }, { self->pull_h, 0, ZMQ_POLLIN, 0 },
                                    { self->zap ? zap_handle(self->zap) : NULL, 0, ZMQ_POLLIN, 0 } };
        s_batch_pause(self);
        s_serve_zap(self);
        if (zmq_poll(items, self->zap ? 3 : 2, s_poll_timeout_ms(self)) < 0) {
            if (errno == EINTR)
                continue;
            at_log_error("SNK-POLL", "poll failed: %s", zmq_strerror(errno));
            rc = 1;
            break;
        }
        if (items[0].revents & ZMQ_POLLIN)
            s_drain(self, self->dealer_h, s_broker_handlers, "broker");
        self->pull_dry = !(items[1].revents & ZMQ_POLLIN) || s_drain(self, self->pull_h, s_worker_handlers, "worker");
        self->paused_at = 0;
        s_commit_ready(self);
        s_check_gap(self);
        s_audit_poll(self);
        s_flush_late(self);
        s_timers(self);
        s_metrics(self);
    }
    s_shutdown(self);
    return self->exit_code ? self->exit_code : rc;
}

/* -------------------------------------------------------------- creating */

/*  last_committed_us from the log's last entry (0 for an empty log). */
static at_err s_load_last_committed(sink_t *self)
{
    self->last_committed_us = 0;
    if (self->next_index == 0)
        return AT_OK;
    at_err rc = logdb_read_begin(self->log);
    if (rc != AT_OK)
        return rc;
    logdb_entry_t e;
    rc = logdb_get(self->log, self->next_index - 1, &e, NULL, NULL);
    if (rc == AT_OK)
        self->last_committed_us = e.t_committed;
    logdb_read_end(self->log);
    if (rc != AT_OK)
        at_log_error("SNK-START", "cannot read the log's last entry (%" PRIu64 "): %s", self->next_index - 1,
                     at_strerror(rc));
    return rc;
}

static at_err s_open_log(sink_t *self, const char *dir)
{
    if (zsys_dir_create("%s", dir) != 0) {
        at_log_error("SNK-START", "cannot create log directory %s: %s", dir, strerror(errno));
        return AT_ERR_IO;
    }
    at_err rc;
    self->log = logdb_open(dir, false, (uint64_t) self->map_initial_mb << 20, &rc);
    if (!self->log)
        return rc;
    s_note_map(self);
    if (self->map.used > (uint64_t) self->map_size_mb << 20)
        at_log_warn("SNK-MAPFULL", "the log at %s holds %" PRIu64 " MiB, more than map-size-mb %d: nothing more can be"
                    " appended; raise map-size-mb", dir, self->map.used >> 20, self->map_size_mb);
    logdb_state_t st;
    if ((rc = logdb_state(self->log, &st)) != AT_OK)
        return rc;
    self->next_seq = st.next_seq;
    self->next_index = st.next_index;
    if ((rc = s_load_last_committed(self)) != AT_OK)
        return rc;
    if ((rc = logdb_set_id_filter_mb(self->log, (unsigned) self->id_filter_mb)) != AT_OK) {
        at_log_error("SNK-START", "cannot build the id filter of %d MiB: %s", self->id_filter_mb, at_strerror(rc));
        return rc;
    }
    s_check_filter(self);
    if ((rc = logdb_audit_each(self->log, s_load_quarantined, self)) != AT_OK) {
        at_log_error("SNK-START", "cannot read the audit database: %s", at_strerror(rc));
        return rc;
    }
    if (zhashx_size(self->quarantined))
        at_log_warn("SNK-QUARANTINE", "%zu workers quarantined (the log's audit database): their verdicts are dropped",
                    zhashx_size(self->quarantined));
    return AT_OK;
}

/*  The log key: from now on every commit signs a checkpoint. */
static at_err s_open_signer(sink_t *self, const sink_settings_t *s)
{
    if (!*s->log_key) {
        at_log_warn("SNK-LOGKEY", "no log-key: the Merkle tree is kept but no checkpoint is signed, so nobody can"
                                  " check this log without its files (attest keygen --log makes a key)");
        return AT_OK;
    }
    at_err rc;
    if (!(self->signer = note_signer_load(s->log_key, &rc))) {
        at_log_error("SNK-LOGKEY", "cannot load the log key %s: %s", s->log_key, at_strerror(rc));
        return rc;
    }
    note_verifier_t v;
    note_signer_verifier(self->signer, &v);
    snprintf(self->origin, sizeof self->origin, "%s", *s->origin ? s->origin : v.name);
    if ((rc = logdb_set_signer(self->log, self->signer, self->origin, (uint64_t) s->checkpoints_kept)) != AT_OK) {
        at_log_error("SNK-LOGKEY", "cannot sign the first checkpoint for origin '%s': %s", self->origin,
                     at_strerror(rc));
        return rc;
    }
    at_log_info("SNK-LOGKEY", "checkpoints signed by key %s+%08x for origin '%s'", v.name, v.key_id, self->origin);
    return AT_OK;
}

static zsock_t *s_socket(int type, int hwm, const char *endpoint, bool bind, const curve_keys_t *keys,
                         const char *server_key)
{
    zsock_t *sock = zsock_new(type);
    if (!sock) {
        at_log_error("SNK-START", "cannot create a socket: %s", zmq_strerror(errno));
        return NULL;
    }
    if (type == ZMQ_PULL)
        wire_socket_stream(sock, hwm);   /* the verdicts: no ZMTP heartbeats (wire.h) */
    else
        wire_socket_defaults(sock, hwm);
    if (keys && bind)
        curve_server(sock, keys, "verdicts");
    else if (keys)
        curve_client(sock, keys, server_key);
    int rc = bind ? zsock_bind(sock, "%s", endpoint) : zsock_connect(sock, "%s", endpoint);
    if (rc < 0) {
        at_log_error("SNK-START", "cannot %s %s: %s", bind ? "bind" : "connect to", endpoint, zmq_strerror(errno));
        zsock_destroy(&sock);
    }
    return sock;
}

static at_err s_open_sockets(sink_t *self, const sink_settings_t *s, const curve_keys_t *keys,
                             const char *broker_key)
{
    /* the broker's key is the worker key of the entries it judges (POISON) */
    self->has_broker_key = keys && broker_key && zmq_z85_decode(self->broker_key, broker_key) != NULL;
    if (keys) {   /* the ZAP handler before the listener */
        if (!(self->zap = zap_new()) || zap_allow(self->zap, "verdicts", "worker", s->allow_workers) != AT_OK)
            return AT_ERR_IO;
    }
    self->pull = s_socket(ZMQ_PULL, S_PULL_HWM, s->verdicts, true, keys, NULL);
    if (!self->pull)
        return AT_ERR_IO;
    self->dealer = s_socket(ZMQ_DEALER, S_DEALER_HWM, s->broker, false, keys, broker_key);
    if (!self->dealer)
        return AT_ERR_IO;
    zsock_set_linger(self->dealer, S_DEALER_LINGER_MS);
    self->pull_h = zsock_resolve(self->pull);
    self->dealer_h = zsock_resolve(self->dealer);
    wire_out_init(&self->out, self->dealer_h, "SNK-SEND");
    self->out.peer = "the broker";
    return AT_OK;
}

sink_t *sink_new(const sink_settings_t *s, const curve_keys_t *keys, const char *broker_key)
{
    sink_t *self = s_alloc(1, sizeof *self);
    self->commit_max = (size_t) s->commit_max;
    self->commit_delay_us = (uint64_t) s->commit_delay_us;
    self->commit_delay_max_us = (uint64_t) s->commit_delay_max_us;
    self->batch_us = (uint64_t) s->batch_us;
    self->heartbeat_us = (uint64_t) s->heartbeat_ms * 1000u;
    self->gap_us = (uint64_t) s->gap_ms * 1000u;
    self->map_size_mb = (int) s->map_size_mb;
    self->map_initial_mb = (int) (s->map_initial_mb < s->map_size_mb ? s->map_initial_mb : s->map_size_mb);
    self->id_filter_mb = (int) s->id_filter_mb;
    self->window = (uint64_t) s->pipeline_window;
    wire_items_init(&self->results, WIRE_COMMITTED);
    wire_items_init(&self->gap, WIRE_GAP);
    self->scratch = s_alloc(WIRE_BATCH_MAX, sizeof *self->scratch);
    self->batch = s_alloc(self->commit_max, sizeof *self->batch);
    self->late = s_alloc(WIRE_RESULTS_MAX, sizeof *self->late);
    self->quarantined = zhashx_new();
    uint32_t bp = 0;
    if (!self->quarantined)
        abort();
    if (!audit_parse_sample(s->audit_sample, &bp))
        at_log_error("SNK-START", "audit-sample '%s' is not a percentage: the audit is off", s->audit_sample);
    self->audit = audit_new(bp, (uint64_t) s->clock_skew_s);
    uint8_t raw[S_INSTANCE_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(self->instance, sizeof self->instance, raw, sizeof raw);
    if (s_open_log(self, s->log_dir) != AT_OK || s_open_signer(self, s) != AT_OK
        || s_open_sockets(self, s, keys, broker_key) != AT_OK) {
        sink_destroy(&self);
        return NULL;
    }
    self->rb = reorder_new((size_t) s->pipeline_window, self->next_seq);
    if (!self->rb) {
        at_log_error("SNK-START", "bad reorder window");
        sink_destroy(&self);
        return NULL;
    }
    at_err mrc;
    self->metrics = sink_metrics_new(s->metrics, &mrc);
    if (mrc != AT_OK) {
        sink_destroy(&self);
        return NULL;
    }
    s_metrics(self);
    zap_watch_sighup();
    at_log_info("SNK-START", "instance %s: log %s at next_seq %" PRIu64 ", next_index %" PRIu64 "; broker %s, workers"
                " send verdicts to %s; pipeline-window %" PRId64 ", audit-sample %s%% (settings: CFG lines at"
                " --log-level debug)", self->instance, s->log_dir, self->next_seq, self->next_index, s->broker,
                s->verdicts, s->pipeline_window, s->audit_sample);
    return self;
}

void sink_destroy(sink_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sink_t *self = *self_p;
    sink_metrics_destroy(&self->metrics);
    audit_destroy(&self->audit);
    zhashx_destroy(&self->quarantined);
    zsock_destroy(&self->pull);
    zsock_destroy(&self->dealer);
    zap_destroy(&self->zap);
    reorder_destroy(&self->rb);
    logdb_destroy(&self->log);
    note_signer_destroy(&self->signer);
    wire_out_destroy(&self->out);
    wire_items_destroy(&self->results);
    wire_items_destroy(&self->gap);
    free(self->scratch);
    free(self->batch);
    free(self->late);
    free(self);
    *self_p = NULL;
}
