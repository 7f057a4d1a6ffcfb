/*  broker.c: the broker's poll loop and message handlers.
 *
 *  One thread, one zpoller over two ROUTER sockets. Each turn of the loop
 *  drains what is ready on both sockets (bounded per turn), then
 *  dispatches queued tasks to workers that have credit, then runs the
 *  timers. Each message is received and decoded by wire_recv and handed to
 *  the handler of its type in the table of its socket; what is malformed
 *  is counted, logged (rate-limited, saying what and from which side) and
 *  answered with ERROR.
 *
 *  The state lives in four modules, and this file only connects them:
 *    tasks      the task ring and dispatch queue (tasks.h)
 *    admission  producer sessions, credit, ACK buffers (admission.h)
 *    workers    the worker registry, congestion windows, dispatch (workers.h)
 *    sinklink   the sink session and the epoch (sinklink.h)
 *  Each decides; the handlers here send what they decided.
 */
#include "broker.h"
#include "admission.h"
#include "alloc.h"
#include "broker_metrics.h"
#include "clock.h"
#include "log.h"
#include <sodium.h>
#include "notify.h"
#include "sinklink.h"
#include "tasks.h"
#include "wire.h"
#include "workers.h"
#include "zap.h"
#include <czmq.h>
#include <errno.h>
#include <unistd.h>

#define S_TURN_MAX 512      /* messages read from one socket per turn */

typedef struct {
    uint64_t admitted, refused, malformed, dispatched, redispatched, done, acked, duplicates;
    uint64_t late_done, stale_commits, revokes, released, sink_lost, quarantine_refused;
    uint64_t unauthorised;                /* messages from a key not allowed in that role */
    uint64_t ready_again;                 /* READYs from workers already registered (kept as they were) */
    uint64_t blocked_reports;             /* BLOCKED messages: workers waiting on the sink */
    uint64_t gaps, stale_gaps;            /* GAP messages taken from the sink; ignored (other epoch or peer) */
    uint64_t gap_redispatched;            /* tasks dispatched again because of a GAP or a lost COMMITTED
                                             (in redispatched too) */
    uint64_t lost_acks;                   /* of those: below the sink's watermark, never acknowledged */
    uint64_t refused_by[AT_ERR_COUNT_];   /* refusals by reason code (metrics) */
} stats_t;

struct broker_t {
    const broker_settings_t *set;
    zsock_t *front, *back;
    wire_out_t fout, bout;      /* sends on the frontend and the backend */
    tasks_t *tasks;
    admission_t *adm;
    workers_t *workers;
    sinklink_t *sink;
    wire_items_t batch;         /* the TASKS being built */
    wire_items_t poison;        /* the POISON being built */
    wire_items_t refusals;      /* the REFUSE being built */
    stats_t st;
    uint64_t last_tick, last_stats;
    broker_metrics_t *metrics;  /* NULL: metrics off */
    zap_t *zap;                 /* the allowlists; NULL: plaintext (--insecure) */
    worker_t **stalled;         /* workers a GAP took tasks from, not heard from since: sent nothing */
    size_t nstalled, stalled_cap;
    bool in_gap;                /* tasks_gap is running: a released worker is stalled */
};

/* ---------- sending (the module callbacks) ---------- */

/*  rc of a send to p: a producer whose connection is gone (EHOSTUNREACH
 *  on the ROUTER_MANDATORY frontend) is marked for its session to end. */
static int s_to_producer(broker_t *self, producer_t *p, int rc)
{
    if (rc != 0 && errno == EHOSTUNREACH)
        admission_unreachable(self->adm, p);
    return rc;
}

static int s_send_credit(void *ctx, producer_t *p, uint64_t n)
{
    broker_t *self = ctx;
    return s_to_producer(self, p, wire_send_amount(&self->fout, producer_peer(p), WIRE_CREDIT, n));
}

static int s_send_revoke(void *ctx, producer_t *p, uint64_t n)
{
    broker_t *self = ctx;
    if (s_to_producer(self, p, wire_send_amount(&self->fout, producer_peer(p), WIRE_REVOKE, n)) != 0)
        return -1;
    self->st.revokes++;
    at_log_limited(AT_LOG_INFO, "BRK-REVOKE", "asking %s to give back %" PRIu64 " unspent credit (%s)",
                   producer_name(p), n, producer_idle(p) ? "idle" : "above its share");
    return 0;
}

static void s_send_acks(void *ctx, producer_t *p, const wire_items_t *acks)
{
    broker_t *self = ctx;
    (void) s_to_producer(self, p, wire_send_ack(&self->fout, producer_peer(p), acks));
    self->st.acked += wire_items_count(acks);
}

static void s_freed(void *ctx, struct producer_t *p)
{
    broker_t *self = ctx;
    admission_freed(self->adm, p);
}

/* ---------- stalled workers (GAP) ---------- */

/*  A worker a GAP took tasks from (it held them past gap-ms while the sink
 *  had later verdicts: stopped, or stuck) gets no more tasks until it is
 *  heard from again (any message); otherwise the room the GAP freed would
 *  be filled again with tasks that would wait as long. A small array: it
 *  holds at most the registered workers, and is empty nearly always. */
static size_t s_stalled_at(const broker_t *self, const worker_t *w)
{
    for (size_t i = 0; i < self->nstalled; i++)
        if (self->stalled[i] == w)
            return i;
    return SIZE_MAX;
}

static bool s_stalled(const broker_t *self, const worker_t *w) { return s_stalled_at(self, w) != SIZE_MAX; }

static void s_stall(broker_t *self, worker_t *w)
{
    if (s_stalled(self, w))
        return;
    if (self->nstalled == self->stalled_cap) {
        self->stalled_cap = self->stalled_cap ? 2 * self->stalled_cap : 8;
        self->stalled = at_realloc(self->stalled, self->stalled_cap * sizeof *self->stalled);
    }
    self->stalled[self->nstalled++] = w;
    at_log_limited(AT_LOG_INFO, "BRK-GAP", "worker %s held tasks the sink misses past gap-ms: they go to others, and"
                   " it gets no more until it is heard from", worker_id(w));
}

/*  w spoke (or is gone): dispatch to it as to any other. */
static void s_unstall(broker_t *self, const worker_t *w)
{
    size_t i = self->nstalled ? s_stalled_at(self, w) : SIZE_MAX;
    if (i != SIZE_MAX)
        self->stalled[i] = self->stalled[--self->nstalled];
}

static void s_released(void *ctx, struct worker_t *w)
{
    broker_t *self = ctx;
    workers_released(w);
    if (self->in_gap)
        s_stall(self, w);
}

/*  Adds task t to a TASKS or POISON being built, stamped t_dispatched. */
static void s_item_task(wire_items_t *items, const task_t *t, uint64_t t_dispatched)
{
    const char *name = producer_name(t->producer);
    const uint8_t *key = producer_key(t->producer);
    wire_task_t wt = { t->seq, name, strlen(name), t->cseq, t->t_received, t_dispatched, t->att, t->att_len,
                       key, key ? WIRE_KEY_BYTES : 0 };
    wire_items_task(items, &wt);
}

/*  Pops up to max queued tasks for w into batch. A suspect (a task whose
 *  last delivery ended with its worker's death, tasks.h) goes alone, to a
 *  worker that holds nothing, so that a next death is charged to it only. */
static size_t s_pop_for(broker_t *self, const worker_t *w, task_t **batch, size_t max)
{
    size_t n = 0;
    task_t *t;
    while (n < max && (t = tasks_pop(self->tasks)) != NULL) {
        if (t->failures && (n || worker_inflight(w))) {
            tasks_unpop(self->tasks, t);
            break;
        }
        batch[n++] = t;
        if (t->failures)
            break;
    }
    return n;
}

/*  Sends up to max queued tasks to w as one TASKS; returns how many. A
 *  worker holding a suspect gets nothing more until it reports it, a
 *  stalled one (GAP) nothing until it is heard from. */
static size_t s_send_tasks(void *ctx, worker_t *w, size_t max)
{
    broker_t *self = ctx;
    task_t *batch[WIRE_BATCH_MAX];
    uint64_t now = at_clock_wall_us(), mono = at_clock_mono_us();
    if (tasks_holds_suspect(self->tasks, w) || (self->nstalled && s_stalled(self, w)))
        return 0;
    size_t n = s_pop_for(self, w, batch, max);
    if (!n)
        return 0;
    wire_items_clear(&self->batch);
    for (size_t i = 0; i < n; i++)
        s_item_task(&self->batch, batch[i], now);
    if (wire_send_tasks(&self->bout, worker_peer(w), sinklink_epoch(self->sink), &self->batch) != 0) {
        for (size_t i = n; i-- > 0;)
            tasks_unpop(self->tasks, batch[i]);
        workers_send_failed(w);   /* gone or stuck: wait for it to speak again */
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        tasks_dispatched(self->tasks, batch[i], w, now, mono);
    self->st.dispatched += n;
    return n;
}

/*  A message that cannot be taken: counted, logged, answered. */
static void s_reject(broker_t *self, wire_out_t *out, const wire_msg_t *m, at_err code, const char *side,
                     const char *text)
{
    self->st.malformed++;
    char rid[2 * 8 + 1] = "";   /* from whom: the connection's routing id (its first 8 bytes) and CURVE key */
    if (m->rid_len)
        sodium_bin2hex(rid, sizeof rid, m->rid, m->rid_len < 8 ? m->rid_len : 8);
    at_log_limited(AT_LOG_WARN, "BRK-MALFORMED", "%s peer %s%s%s: %s (%zu bytes) refused: %s: %s", side, rid,
                   m->user_id ? " key " : "", m->user_id ? m->user_id : "", wire_type_name(m->type), m->size,
                   at_strerror(code), text);
    wire_peer_t to = { m->rid, m->rid_len, side };
    wire_send_error(out, &to, code, text);
}

/* ---------- frontend: producers ---------- */

/*  While admission is closed for want of a sink, a producer is told so
 *  (ERROR no_sink, protocol.md 5.10) after WELCOME and with every PONG: it
 *  gets no credit meanwhile, and without this it could not tell "no sink"
 *  from "pipeline full". Nothing is refused; CREDIT means open again. */
static void s_tell_no_sink(broker_t *self, producer_t *p)
{
    if (sinklink_up(self->sink))
        return;
    char text[200];
    const char *sink = sinklink_instance(self->sink);
    if (!sinklink_registered(self->sink))
        snprintf(text, sizeof text, "admission closed: no sink has registered with the broker yet");
    else if (!sinklink_confirmed(self->sink))
        snprintf(text, sizeof text, "admission closed: sink %s has registered and is not confirmed yet", sink);
    else
        snprintf(text, sizeof text, "admission closed: sink %s silent for %" PRIu64 " ms (sink-timeout-ms %" PRId64
                 "); open again when it is back", sink, sinklink_silent_us(self->sink, at_clock_mono_us()) / 1000,
                 self->set->sink_timeout_ms);
    wire_send_error(&self->fout, producer_peer(p), AT_ERR_NO_SINK, text);
}

static void s_on_hello(broker_t *self, producer_t *p, const wire_msg_t *m)
{
    (void) p;
    uint64_t grant;
    const wire_hello_t *h = &m->u.hello;
    uint8_t key[WIRE_KEY_BYTES];
    admission_hello_t a = { m->rid, m->rid_len, h->name, h->name_len, h->instance,
                            self->zap && zap_user_key(m->user_id, key) ? key : NULL };
    p = admission_hello(self->adm, &a, at_clock_mono_us(), &grant);
    wire_welcome_t w = { grant, (uint64_t) self->set->max_batch };
    (void) s_to_producer(self, p, wire_send_welcome(&self->fout, producer_peer(p), &w));
    s_tell_no_sink(self, p);
}

/*  Admits one attestation of a SUBMIT; returns 0 or the refusal reason.
 *  The ring bounds admission whatever credit says (BUSY when full). */
static at_err s_admit(broker_t *self, producer_t *p, const wire_submit_t *s, uint64_t now, uint64_t mono)
{
    if (!admission_take(self->adm, p, mono))
        return AT_ERR_NO_CREDIT;
    attestation_t a;
    at_err rc = attestation_decode(&a, s->att, s->att_len);
    if (rc == AT_OK && !tasks_admit(self->tasks, p, s->cseq, now, s->att, s->att_len))
        rc = AT_ERR_BUSY;
    if (rc) {
        admission_refund(self->adm, p);
        return rc;
    }
    self->st.admitted++;
    return AT_OK;
}

/*  The attestation id of a refused item in hex ("undecodable" when its
 *  bytes do not decode): operators grep the broker's log for it ("why was
 *  X not logged"). Computed for refused items only. */
static void s_refused_id(const wire_submit_t *s, char hex[2 * AT_ID_BYTES + 1])
{
    attestation_t a;
    uint8_t id[AT_ID_BYTES];
    if (!s->att || attestation_decode(&a, s->att, s->att_len) != AT_OK) {
        snprintf(hex, 2 * AT_ID_BYTES + 1, "undecodable");
        return;
    }
    attestation_id(&a, id);
    for (int i = 0; i < AT_ID_BYTES; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
}

static void s_on_submit(broker_t *self, producer_t *p, const wire_msg_t *m)
{
    const wire_list_t *items = &m->u.submit;
    if (items->n > (size_t) self->set->max_batch) {
        s_reject(self, &self->fout, m, AT_ERR_OVERSIZE, "frontend",
                 "SUBMIT batch is not an array of 1..max_batch items");
        return;
    }
    uint64_t now = at_clock_wall_us(), mono = at_clock_mono_us();
    wire_items_clear(&self->refusals);
    wire_refusal_t first = { 0, 0 };
    char first_id[2 * AT_ID_BYTES + 1] = "", id[2 * AT_ID_BYTES + 1];
    for (size_t i = 0; i < items->n; i++) {
        wire_submit_t s = { 0 };
        at_err rc = wire_submit_at(items, i, &s);   /* cseq is 0 only when it did not decode */
        if (rc == AT_OK)
            rc = s_admit(self, p, &s, now, mono);
        if (rc == AT_OK)
            continue;
        self->st.refused_by[(unsigned) rc < AT_ERR_COUNT_ ? rc : 0]++;
        wire_refusal_t r = { s.cseq, (uint8_t) rc };
        bool is_first = wire_items_count(&self->refusals) == 0;
        if (is_first || at_log_enabled(AT_LOG_DEBUG))
            s_refused_id(&s, id);
        if (is_first) {
            first = r;
            memcpy(first_id, id, sizeof id);
        }
        at_log_debug("BRK-REFUSE-ID", "refused from %s: cseq %" PRIu64 " id %s: %s", producer_name(p), s.cseq, id,
                     at_strerror(rc));
        wire_items_refusal(&self->refusals, &r);
    }
    size_t nref = wire_items_count(&self->refusals);
    if (nref) {
        self->st.refused += nref;
        at_log_limited(AT_LOG_WARN, "BRK-REFUSE", "refused %zu of %zu from %s (first: cseq %" PRIu64 " id %s %s)",
                       nref, items->n, producer_name(p), first.cseq, first_id, at_strerror(first.reason));
        wire_send_refuse(&self->fout, producer_peer(p), &self->refusals);
    }
}

/*  RELEASE [credit]: the producer gives back unspent credit (asked by
 *  REVOKE, or of its own accord); others may be topped up from it. */
static void s_on_release(broker_t *self, producer_t *p, const wire_msg_t *m)
{
    uint64_t taken = admission_release(self->adm, p, m->u.amount);
    self->st.released += taken;
    at_log_debug("BRK-RELEASE", "%s gave back %" PRIu64 " credit (of %" PRIu64 " asked)", producer_name(p), taken,
                 m->u.amount);
    if (taken)
        admission_topup(self->adm, s_send_credit, self);
}

static void s_on_ping(broker_t *self, producer_t *p, const wire_msg_t *m)
{
    (void) m;
    wire_send_empty(&self->fout, producer_peer(p), WIRE_PONG);
    s_tell_no_sink(self, p);
}

static void s_on_bye(broker_t *self, producer_t *p, const wire_msg_t *m)
{
    (void) m;
    admission_leave(self->adm, p, "bye");
}

typedef void(s_front_fn)(broker_t *self, producer_t *p, const wire_msg_t *m);
static s_front_fn *const s_front[WIRE_TYPE_MAX_] = {
    [WIRE_HELLO] = s_on_hello,     [WIRE_SUBMIT] = s_on_submit, [WIRE_RELEASE] = s_on_release,
    [WIRE_PING] = s_on_ping,       [WIRE_BYE] = s_on_bye,
};

/*  A message whose sender's key is not (or no longer) allowed in the role
 *  the message needs: counted, logged, answered with ERROR denied (not
 *  protocol, which would make a worker say READY again at once). */
static bool s_unauthorised(broker_t *self, wire_out_t *out, const wire_msg_t *m, const char *role)
{
    if (!self->zap || zap_permits(self->zap, m->user_id, role))
        return false;
    self->st.unauthorised++;
    at_log_limited(AT_LOG_WARN, "BRK-AUTH", "%s from %s refused: that key is not allowed as %s",
                   wire_type_name(m->type), m->user_id ? m->user_id : "an unauthenticated peer", role);
    wire_peer_t to = { m->rid, m->rid_len, role };
    wire_send_error(out, &to, AT_ERR_DENIED, "key not allowed in this role");
    return true;
}

static void s_on_frontend(broker_t *self, const wire_msg_t *m)
{
    producer_t *p = NULL;
    if (s_unauthorised(self, &self->fout, m, "producer"))
        return;
    if (m->type != WIRE_HELLO) {
        p = admission_find(self->adm, m->rid, m->rid_len, at_clock_mono_us());
        if (!p) {
            s_reject(self, &self->fout, m, AT_ERR_PROTOCOL, "frontend", "say HELLO first");
            return;
        }
    }
    if (!s_front[m->type]) {
        s_reject(self, &self->fout, m, AT_ERR_UNKNOWN_TYPE, "frontend", "not a producer message");
        return;
    }
    s_front[m->type](self, p, m);
}

/* ---------- backend: workers ---------- */

/*  Whether a worker leaving now is charged with the tasks it held (poison,
 *  tasks.h): only while the sink was heard lately. Workers blocked behind a
 *  stalled sink say BLOCKED and stay; one that falls silent all the same
 *  (an older worker, or a BLOCKED that could not get through) dies of the
 *  sink's fault, not of a task's. */
static bool s_charge_deaths(const broker_t *self)
{
    uint64_t bound = (uint64_t) self->set->sink_timeout_ms * 1000 / 2;
    return sinklink_up(self->sink) && sinklink_silent_us(self->sink, at_clock_mono_us()) < bound;
}

static void s_worker_remove(broker_t *self, worker_t *w, const char *why)
{
    size_t n = tasks_requeue_worker(self->tasks, w, s_charge_deaths(self));
    self->st.redispatched += n;
    s_unstall(self, w);   /* before it is freed */
    workers_remove(self->workers, w, why, n);
}

/*  The identity the sink's quarantine names a worker by: with CURVE its
 *  authenticated key ("key:" + Z85, never a name it sends), in plaintext the
 *  READY's worker_id (sink.c s_identity computes the same). */
static void s_worker_identity(const broker_t *self, const wire_msg_t *m, char out[WIRE_NAME_MAX + 1])
{
    uint8_t key[WIRE_KEY_BYTES];
    if (self->zap && zap_user_key(m->user_id, key)) {
        memcpy(out, "key:", 4);
        zmq_z85_encode(out + 4, key, WIRE_KEY_BYTES);
        return;
    }
    size_t len = m->u.ready.worker_len < WIRE_NAME_MAX ? m->u.ready.worker_len : WIRE_NAME_MAX;
    memcpy(out, m->u.ready.worker, len);
    out[len] = 0;
}

/*  READY. From a worker already registered it changes nothing but the
 *  credit (workers_ready): no requeue, however many come. */
static void s_on_ready(broker_t *self, worker_t *w, const wire_msg_t *m)
{
    (void) w;
    bool again;
    const wire_ready_t *r = &m->u.ready;
    char ident[WIRE_NAME_MAX + 1];
    s_worker_identity(self, m, ident);
    if (workers_quarantined(self->workers, ident, strlen(ident))) {
        self->st.quarantine_refused++;
        at_log_limited(AT_LOG_WARN, "BRK-QUARANTINE", "READY from quarantined worker %.*s (%s): refused",
                       (int) r->worker_len, r->worker, ident);
        wire_peer_t to = { m->rid, m->rid_len, "quarantined worker" };
        wire_send_error(&self->bout, &to, AT_ERR_QUARANTINED, "quarantined: the sink's audit found a wrong verdict");
        return;
    }
    w = workers_ready(self->workers, m->rid, m->rid_len, r->worker, r->worker_len, r->credit, at_clock_mono_us(),
                      &again);
    workers_set_identity(w, ident);
    s_unstall(self, w);
    self->st.ready_again += again;
}

/*  A DONE or HEARTBEAT: the worker is not (or no longer) blocked on the sink. */
static void s_unblocked(broker_t *self, worker_t *w)
{
    (void) self;
    uint64_t ms = workers_unblocked(w, at_clock_mono_us());
    if (ms)
        at_log_limited(AT_LOG_INFO, "BRK-WORKER-BLOCKED", "worker %s moves again after about %" PRIu64
                       " ms blocked on the sink", worker_id(w), ms);
}

static void s_on_done(broker_t *self, worker_t *w, const wire_msg_t *m)
{
    const wire_done_t *d = &m->u.done;
    uint64_t mono = at_clock_mono_us(), max_wait = 0;
    size_t verified = 0;
    for (size_t i = 0; i < d->seqs.n; i++) {
        uint64_t seq, waited;
        if (wire_seq_at(&d->seqs, i, &seq) != AT_OK)
            continue;
        if (tasks_verified(self->tasks, seq, w, mono, &waited)) {
            verified++;
            max_wait = waited > max_wait ? waited : max_wait;
        } else {
            self->st.late_done++;
        }
    }
    self->st.done += verified;
    s_unblocked(self, w);
    if (workers_done(self->workers, w, verified, d->seqs.n, max_wait, d->held_us, d->credit, mono))
        s_worker_remove(self, w, "drained");
}

/*  LEAVE: the first starts a drain (LEAVE_OK follows every TASKS already
 *  sent on the same pipe); a second means "stopping at once". */
static void s_on_leave(broker_t *self, worker_t *w, const wire_msg_t *m)
{
    (void) m;
    bool at_once;
    bool remove = workers_leave(self->workers, w, &at_once);
    if (!at_once)
        wire_send_empty(&self->bout, worker_peer(w), WIRE_LEAVE_OK);
    if (remove)
        s_worker_remove(self, w, at_once ? "stopped while draining" : "drained");
}

static void s_on_heartbeat(broker_t *self, worker_t *w, const wire_msg_t *m)
{
    (void) m;   /* workers_find noted the sign of life */
    s_unblocked(self, w);
}

/*  BLOCKED [blocked_ms]: a sign of life too, from a worker whose VERDICTS
 *  wait for the sink. It is slow because the sink is, not gone: it keeps
 *  what it holds (nothing is redispatched) and gets no more tasks until
 *  its next DONE or HEARTBEAT. */
static void s_on_blocked(broker_t *self, worker_t *w, const wire_msg_t *m)
{
    self->st.blocked_reports++;
    if (workers_blocked(self->workers, w, m->u.blocked_ms, at_clock_mono_us()))
        at_log_limited(AT_LOG_WARN, "BRK-WORKER-BLOCKED", "worker %s: its verdicts have waited %" PRIu64
                       " ms for the sink: kept with its %" PRIu64 " tasks, no more until it moves again",
                       worker_id(w), m->u.blocked_ms, worker_inflight(w));
}

/* ---------- backend: the sink ---------- */

/*  A sink whose pipeline-window is not the broker's would drop verdicts
 *  beyond its own window (SNK-WINDOW) or hold a smaller reorder buffer than
 *  the numbering needs: it is refused at every SINK_HELLO (ERROR config, a
 *  rate-limited BRK-SINK line) and never registered. True when refused. */
static bool s_sink_window_refused(broker_t *self, const wire_msg_t *m)
{
    uint64_t mine = tasks_window(self->tasks), theirs = m->u.sink_hello.window;
    if (theirs == mine)
        return false;
    char text[160];
    snprintf(text, sizeof text, "broker pipeline-window %" PRIu64 ", sink %" PRIu64 ": they must be equal", mine,
             theirs);
    at_log_limited(AT_LOG_ERROR, "BRK-SINK", "sink %.*s refused: %s", (int) m->u.sink_hello.instance_len,
                   m->u.sink_hello.instance, text);
    wire_peer_t to = { m->rid, m->rid_len, "backend" };
    wire_send_error(&self->bout, &to, AT_ERR_CONFIG, text);
    return true;
}

/*  Requeues, as a GAP would, the tasks of [from, from + count) dispatched
 *  or verified for at least gap-ms; each worker one is taken from is
 *  stalled (s_released). Returns how many. */
static size_t s_gap_requeue(broker_t *self, uint64_t from, uint64_t count, uint64_t now)
{
    self->in_gap = true;
    size_t n = tasks_gap(self->tasks, from, count, now, (uint64_t) self->set->gap_ms * 1000);
    self->in_gap = false;
    self->st.gap_redispatched += n;
    self->st.redispatched += n;
    return n;
}

/*  A SINK_HELLO of our epoch from the confirmed sink reports next_seq, its
 *  committed watermark. The COMMITTED for every seq below it went out
 *  before, on the same connection, so a task below it still not
 *  acknowledged lost its COMMITTED (the sink sends with ZMQ_DONTWAIT, and a
 *  connection replaced after a pause drops what was queued on it): without
 *  this the ring's base, and with it admission, would wait redeliver-ms.
 *  It is dispatched again at once (gap-ms old at least); the sink answers
 *  it from its log. */
static void s_lost_acks(broker_t *self, const wire_msg_t *m)
{
    const wire_sink_hello_t *h = &m->u.sink_hello;
    uint64_t base = tasks_base(self->tasks);
    if (!self->set->gap_ms || h->next_seq <= base || !sinklink_confirmed(self->sink)
        || !sinklink_accepts(self->sink, m->rid, m->rid_len, h->epoch))
        return;
    size_t n = s_gap_requeue(self, base, h->next_seq - base, at_clock_mono_us());
    self->st.lost_acks += n;
    if (n)
        at_log_limited(AT_LOG_INFO, "BRK-GAP", "the sink has committed up to seq %" PRIu64 " but %zu tasks from seq %"
                       PRIu64 " were never acknowledged (a COMMITTED lost): dispatched again, the sink answers them"
                       " from its log", h->next_seq, n, base);
}

static void s_on_sink_hello(broker_t *self, worker_t *w, const wire_msg_t *m)
{
    (void) w;
    if (s_sink_window_refused(self, m))
        return;
    sinklink_plan_t plan = sinklink_hello(self->sink, m->rid, m->rid_len, &m->u.sink_hello,
                                          tasks_next_seq(self->tasks), at_clock_mono_us());
    if (plan.renumber)
        tasks_restart_at(self->tasks, plan.start);
    if (plan.confirmed) {
        admission_set_open(self->adm, true);
        at_log_info("BRK-SINK", "sink confirmed: sequence starts at %" PRIu64, tasks_next_seq(self->tasks));
    }
    if (plan.recovered) {
        admission_set_open(self->adm, true);
        at_log_info("BRK-SINK", "sink %s is back: admission open again", sinklink_instance(self->sink));
    }
    if (plan.requeue)
        self->st.redispatched += tasks_requeue_all(self->tasks);
    if (plan.registered)
        at_log_info("BRK-SINK", "sink %s registered: log holds %" PRIu64 " entries, next seq %" PRIu64
                    ", epoch %" PRIu64, sinklink_instance(self->sink), m->u.sink_hello.next_index,
                    m->u.sink_hello.next_seq, sinklink_epoch(self->sink));
    wire_send_sink_welcome(&self->bout, sinklink_peer(self->sink), &plan.welcome);
    if (plan.registered || plan.confirmed || plan.recovered)
        admission_topup(self->adm, s_send_credit, self);
    if (!plan.requeue)
        s_lost_acks(self, m);
}

static void s_on_committed(broker_t *self, worker_t *w, const wire_msg_t *m)
{
    (void) w;
    const wire_committed_t *c = &m->u.committed;
    if (!sinklink_accepts(self->sink, m->rid, m->rid_len, c->epoch)) {
        self->st.stale_commits++;
        return;
    }
    sinklink_seen(self->sink, at_clock_mono_us());
    uint64_t now_wall = at_clock_wall_us();
    for (size_t i = 0; i < c->results.n; i++) {
        wire_result_t r;
        if (wire_result_at(&c->results, i, &r) != AT_OK) {
            self->st.malformed++;
            at_log_limited(AT_LOG_WARN, "BRK-MALFORMED", "COMMITTED item %zu from the sink: dropped", i);
            continue;
        }
        task_t *t = tasks_ack(self->tasks, r.key);
        if (!t)
            continue;
        self->st.duplicates += r.duplicate;
        broker_metrics_acked(self->metrics, now_wall > t->t_received ? now_wall - t->t_received : 0);
        r.key = t->cseq;
        admission_ack(self->adm, t->producer, &r);
    }
    admission_flush_acks(self->adm, s_send_acks, self);
    tasks_advance(self->tasks, s_freed, self);
    admission_reap(self->adm);
    admission_topup(self->adm, s_send_credit, self);
}

/*  QUARANTINE [worker_id], from the registered sink only: the sink's spot
 *  audit found a verdict of that worker wrong. Its live sessions are
 *  removed (what they held goes back to the queue, for other workers), and
 *  its READY is refused from now on: its further messages come from an
 *  unknown worker (ERROR protocol), and the READY that follows gets ERROR
 *  quarantined. */
static void s_on_quarantine(broker_t *self, worker_t *w, const wire_msg_t *m)
{
    (void) w;
    const wire_quarantine_t *q = &m->u.quarantine;
    if (!sinklink_is_sink(self->sink, m->rid, m->rid_len)) {
        s_reject(self, &self->bout, m, AT_ERR_PROTOCOL, "backend", "QUARANTINE is for the registered sink only");
        return;
    }
    workers_quarantine(self->workers, q->worker, q->worker_len);
    worker_t *x;
    while ((x = workers_find_identity(self->workers, q->worker, q->worker_len)) != NULL)
        s_worker_remove(self, x, "quarantined");
}

/*  GAP [epoch, ranges], from the registered sink: seqs it does not hold
 *  while its ready prefix is held back. Each task of them dispatched or
 *  verified for at least gap-ms goes back to the front of the queue at
 *  once (tasks_gap: uncharged, at most once per gap-ms per task); the rest
 *  (queued, acknowledged, too young, outside the ring) is ignored. Ranges
 *  from the top down, so that the queue's front is in seq order. A GAP
 *  from another routing id (the sink's connection was replaced and no
 *  SINK_HELLO has come on the new one yet; the sink sends one before each
 *  GAP) or of another epoch is counted and ignored, like a stale COMMITTED. */
static void s_on_gap(broker_t *self, worker_t *w, const wire_msg_t *m)
{
    (void) w;
    const wire_gap_t *g = &m->u.gap;
    if (!sinklink_accepts(self->sink, m->rid, m->rid_len, g->epoch)) {
        self->st.stale_gaps++;
        at_log_limited(AT_LOG_INFO, "BRK-GAP", "GAP of epoch %" PRIu64 " (ours %" PRIu64 ") from %s: ignored",
                       g->epoch, sinklink_epoch(self->sink),
                       sinklink_is_sink(self->sink, m->rid, m->rid_len) ? "the sink" : "a peer that is not the"
                       " registered sink");
        return;
    }
    self->st.gaps++;
    if (self->set->gap_ms == 0)
        return;
    uint64_t now = at_clock_mono_us();
    wire_range_t r = { 0, 0 };
    size_t n = 0;
    for (size_t i = g->ranges.n; i-- > 0;)
        if (wire_range_at(&g->ranges, i, &r) == AT_OK)   /* checked whole by wire_recv */
            n += s_gap_requeue(self, r.first, r.count, now);
    if (n)
        at_log_limited(AT_LOG_INFO, "BRK-GAP", "the sink misses %" PRIu64 " seqs from %" PRIu64 " (%zu ranges):"
                       " %zu dispatched again at once", g->seqs, r.first, g->ranges.n, n);
}

typedef void(s_back_fn)(broker_t *self, worker_t *w, const wire_msg_t *m);
static const struct {
    s_back_fn *fn;
    bool worker;        /* only from a registered worker */
    const char *role;   /* the role the sender's key must have (CURVE) */
} s_back[WIRE_TYPE_MAX_] = {
    [WIRE_READY] = { s_on_ready, false, "worker" },         [WIRE_SINK_HELLO] = { s_on_sink_hello, false, "sink" },
    [WIRE_COMMITTED] = { s_on_committed, false, "sink" },   [WIRE_DONE] = { s_on_done, true, "worker" },
    [WIRE_QUARANTINE] = { s_on_quarantine, false, "sink" },   [WIRE_GAP] = { s_on_gap, false, "sink" },
    [WIRE_HEARTBEAT] = { s_on_heartbeat, true, "worker" },  [WIRE_LEAVE] = { s_on_leave, true, "worker" },
    [WIRE_BLOCKED] = { s_on_blocked, true, "worker" },
};

/*  SIGHUP: the allowlists read again, and the quarantine set forgotten
 *  (an operator lifted one with `attest log unquarantine`; the sink names
 *  again, at its next heartbeat, those still in force, and drops the
 *  verdicts of a quarantined worker meanwhile). */
static void s_reload(broker_t *self)
{
    if (self->zap) {
        at_log_info("BRK-RELOAD", "SIGHUP: reloading the allowlists");
        (void) zap_reload(self->zap);
    }
    size_t n = workers_quarantine_clear(self->workers);
    if (n)
        at_log_info("BRK-RELOAD", "SIGHUP: %zu quarantined worker identities forgotten; the sink names again those"
                    " still quarantined", n);
}

/*  A worker whose key was removed from the allowlist (SIGHUP) is dropped at
 *  its next message: its tasks go back to the queue, nothing is lost. */
static bool s_back_unauthorised(broker_t *self, const wire_msg_t *m)
{
    const char *role = s_back[m->type].role ? s_back[m->type].role : "worker";
    if (!s_unauthorised(self, &self->bout, m, role))
        return false;
    worker_t *w = workers_find(self->workers, m->rid, m->rid_len, at_clock_mono_us());
    if (w)
        s_worker_remove(self, w, "key no longer allowed");
    return true;
}

static void s_on_backend(broker_t *self, const wire_msg_t *m)
{
    worker_t *w = NULL;
    if (s_back_unauthorised(self, m))
        return;
    bool known = s_back[m->type].fn != NULL;
    if (!known || s_back[m->type].worker) {
        w = workers_find(self->workers, m->rid, m->rid_len, at_clock_mono_us());
        if (!w) {
            /* Unknown worker (e.g. the broker restarted): ask it to say READY again. */
            at_log_limited(AT_LOG_INFO, "BRK-PROTOCOL", "%s from an unknown worker: asking it to register",
                           wire_type_name(m->type));
            wire_peer_t to = { m->rid, m->rid_len, "unknown worker" };
            wire_send_error(&self->bout, &to, AT_ERR_PROTOCOL, "unknown worker: send READY");
            return;
        }
    }
    if (w && self->nstalled)
        s_unstall(self, w);   /* heard from: stalled no more */
    if (!known) {
        s_reject(self, &self->bout, m, AT_ERR_UNKNOWN_TYPE, "backend", "not a worker message");
        return;
    }
    s_back[m->type].fn(self, w, m);
}

/* ---------- receiving ---------- */

typedef void(s_socket_fn)(broker_t *self, const wire_msg_t *m);

/*  Takes one message from a ROUTER; false when nothing is ready. */
static bool s_recv_one(broker_t *self, wire_out_t *out, s_socket_fn *handler, const char *side)
{
    wire_msg_t m;
    at_err rc = wire_recv(out->handle, true, &m);
    if (rc == AT_ERR_BUSY)
        return false;
    if (rc == AT_OK)
        handler(self, &m);
    else
        s_reject(self, out, &m, rc, side, m.why ? m.why : "message could not be read");
    wire_msg_done(&m);
    return true;
}

/* ---------- timers ---------- */

/*  A sink silent past sink-timeout-ms: admission closes (no new credit)
 *  until it speaks again; the attestations it holds wait for it. */
static void s_check_sink(broker_t *self, uint64_t now)
{
    if (!sinklink_check(self->sink, now))
        return;
    admission_set_open(self->adm, false);
    self->st.sink_lost++;
    at_log_warn("BRK-SINK-LOST", "no word from sink %s for %" PRIu64 " ms (sink-timeout-ms %" PRId64
                "): admission closed until it is back; %" PRIu64 " attestations wait for it",
                sinklink_instance(self->sink), sinklink_silent_us(self->sink, now) / 1000,
                self->set->sink_timeout_ms, tasks_held(self->tasks));
}

static void s_expire(broker_t *self, uint64_t now)
{
    const char *why;
    worker_t *w;
    while ((w = workers_expired(self->workers, now, &why)) != NULL)
        s_worker_remove(self, w, why);
    admission_expire(self->adm, now);
}

/*  A task whose verdict never reached the log (a VERDICTS or COMMITTED
 *  message lost, a worker that dropped it) would hold the sink's watermark
 *  forever: after redeliver-ms it is dispatched again. The sink ignores a
 *  second verdict for a sequence number it holds, and answers one it has
 *  committed from the log. Not the seqs the live sink says it holds (its
 *  disk full, say): sending them again would only burn the workers' CPU. */
static void s_redeliver(broker_t *self, uint64_t now)
{
    uint64_t limit = (uint64_t) self->set->redeliver_ms * 1000, from, to;
    (void) sinklink_held(self->sink, &from, &to);
    size_t n = tasks_requeue_older(self->tasks, now, limit, from, to);
    self->st.redispatched += n;
    if (n)
        at_log_limited(AT_LOG_WARN, "BRK-REDELIVER", "%zu tasks not committed after %" PRIu64 " ms: dispatched again",
                       n, limit / 1000);
}

static void s_heartbeat_workers(broker_t *self)
{
    for (worker_t *w = workers_first(self->workers); w; w = workers_next(self->workers))
        wire_send_empty(&self->bout, worker_peer(w), WIRE_HEARTBEAT);
}

static void s_log_stats(broker_t *self)
{
    const stats_t *st = &self->st;
    at_log_info("BRK-STATS",
                "admitted=%" PRIu64 " refused=%" PRIu64 " dispatched=%" PRIu64 " redispatched=%" PRIu64
                " done=%" PRIu64 " acked=%" PRIu64 " duplicates=%" PRIu64 " malformed=%" PRIu64
                " queued=%" PRIu64 " held=%" PRIu64 " revokes=%" PRIu64 " released=%" PRIu64
                " producers=%zu workers=%zu quarantined=%zu poison=%" PRIu64 " send_failures=%" PRIu64
                " gaps=%" PRIu64 " stale_gaps=%" PRIu64 " gap_redispatched=%" PRIu64 " lost_acks=%" PRIu64,
                st->admitted, st->refused, st->dispatched, st->redispatched, st->done, st->acked, st->duplicates,
                st->malformed, tasks_queued(self->tasks), tasks_held(self->tasks), st->revokes, st->released,
                admission_sessions(self->adm), workers_count(self->workers),
                workers_quarantined_count(self->workers), tasks_poison_count(self->tasks),
                self->fout.failures + self->bout.failures, st->gaps, st->stale_gaps, st->gap_redispatched,
                st->lost_acks);
}

static void s_timers(broker_t *self)
{
    uint64_t now = at_clock_mono_us();
    if (admission_drop_unreachable(self->adm) > 0)
        admission_topup(self->adm, s_send_credit, self);   /* their unspent credit, to the others */
    admission_reclaim(self->adm, now, s_send_revoke, self);
    if (now - self->last_tick < (uint64_t) self->set->heartbeat_ms * 1000)
        return;
    self->last_tick = now;
    s_expire(self, now);
    s_check_sink(self, now);
    s_redeliver(self, now);
    s_heartbeat_workers(self);
    uint64_t stats = (uint64_t) self->set->stats_ms * 1000;
    if (stats && now - self->last_stats >= stats) {
        self->last_stats = now;
        s_log_stats(self);
    }
}

/*  How long the attestation at the ring's base (the oldest not yet
 *  acknowledged) has waited since it was received; 0 when none waits. */
static uint64_t s_oldest_age_us(broker_t *self)
{
    if (tasks_held(self->tasks) == 0)
        return 0;
    const task_t *t = tasks_get(self->tasks, tasks_base(self->tasks));
    uint64_t now = at_clock_wall_us();
    return t && now > t->t_received ? now - t->t_received : 0;
}

/*  Publishes a snapshot for the metrics endpoint (at most every 100 ms). */
static void s_metrics(broker_t *self)
{
    if (!broker_metrics_due(self->metrics))
        return;
    uint64_t wcredit = 0, blocked = 0, granted = admission_granted(self->adm), in_use = admission_in_use(self->adm);
    broker_metrics_workers_begin(self->metrics);
    for (worker_t *w = workers_first(self->workers); w; w = workers_next(self->workers)) {
        wcredit += worker_credit(w);
        blocked += worker_blocked_ms(w) != 0;
        broker_metrics_worker(self->metrics, worker_id(w), worker_inflight(w), worker_reported(w), worker_cap(w),
                              worker_rtt_us(w));
    }
    broker_metrics_workers_end(self->metrics);
    broker_metrics_snapshot_t s = {
        .admitted = self->st.admitted, .dispatched = self->st.dispatched, .redispatched = self->st.redispatched,
        .acked = self->st.acked, .duplicates = self->st.duplicates, .malformed = self->st.malformed,
        .refused_by = self->st.refused_by, .queue_depth = tasks_queued(self->tasks),
        .held = in_use > granted ? in_use - granted : 0, .outstanding_credit = granted, .worker_credit = wcredit,
        .producers = admission_sessions(self->adm), .producers_superseded = admission_superseded(self->adm),
        .workers = workers_count(self->workers),
        .sink_lag = tasks_held(self->tasks), .sink_up = sinklink_up(self->sink), .sink_lost = self->st.sink_lost,
        .quarantined = workers_quarantined_count(self->workers), .quarantine_refused = self->st.quarantine_refused,
        .insecure = self->zap == NULL, .handshakes_refused = self->zap ? zap_refused(self->zap) : 0,
        .unauthorised = self->st.unauthorised,
        .oldest_age_us = s_oldest_age_us(self), .epoch = sinklink_epoch(self->sink),
        .poisoned = tasks_poison_count(self->tasks),
        .workers_blocked = blocked, .ready_again = self->st.ready_again,
        .gaps = self->st.gaps, .gap_redispatched = self->st.gap_redispatched,
    };
    broker_metrics_publish(self->metrics, &s);
}

/* ---------- life cycle ---------- */

static zsock_t *s_bind_router(const char *endpoint, const curve_keys_t *keys, const char *domain)
{
    zsock_t *s = zsock_new(ZMQ_ROUTER);
    if (!s)
        abort();
    wire_socket_defaults(s, 100000);
    zsock_set_router_mandatory(s, 1);
    if (keys)
        curve_server(s, keys, domain);
    if (zsock_bind(s, "%s", endpoint) < 0) {
        at_log_error("BRK-BIND", "cannot bind %s: %s", endpoint, zmq_strerror(errno));
        zsock_destroy(&s);
    }
    return s;
}

/*  The ZAP handler, bound before the listeners: producers on the frontend;
 *  the sink (only the keys of allow-sink) and workers on the backend. */
static at_err s_open_zap(broker_t *self, const broker_settings_t *set)
{
    self->zap = zap_new();
    if (!self->zap)
        return AT_ERR_IO;
    if (zap_allow(self->zap, "frontend", "producer", set->allow_producers) != AT_OK ||
        zap_allow(self->zap, "backend", "sink", set->allow_sink) != AT_OK ||
        zap_allow(self->zap, "backend", "worker", set->allow_workers) != AT_OK)
        return AT_ERR_IO;
    return AT_OK;
}

broker_t *broker_new(const broker_settings_t *set, const curve_keys_t *keys)
{
    broker_t *self = at_calloc(1, sizeof *self);
    self->set = set;
    uint64_t window = (uint64_t) set->pipeline_window;
    self->tasks = tasks_new(window, s_released, self);
    tasks_set_poison(self->tasks, (uint32_t) set->poison_deliveries);
    self->adm = admission_new(window, (uint64_t) set->producer_window, (uint64_t) set->credit_idle_ms * 1000,
                              (uint64_t) set->producer_timeout_ms * 1000);
    self->workers = workers_new((size_t) set->dispatch_chunk, (uint64_t) set->target_latency_ms * 1000,
                                (uint64_t) set->worker_timeout_ms * 1000);
    self->sink = sinklink_new(sinklink_random_epoch(), (uint64_t) set->sink_timeout_ms * 1000);
    wire_items_init(&self->batch, WIRE_TASKS);
    wire_items_init(&self->poison, WIRE_POISON);
    wire_items_init(&self->refusals, WIRE_REFUSE);
    if (keys && s_open_zap(self, set) != AT_OK) {
        broker_destroy(&self);
        return NULL;
    }
    self->front = s_bind_router(set->frontend, keys, "frontend");
    self->back = s_bind_router(set->backend, keys, "backend");
    if (!self->front || !self->back) {
        broker_destroy(&self);
        return NULL;
    }
    wire_out_init(&self->fout, zsock_resolve(self->front), "BRK-SEND");
    wire_out_init(&self->bout, zsock_resolve(self->back), "BRK-SEND");
    at_err mrc;
    self->metrics = broker_metrics_new(set->metrics, &mrc);
    if (mrc != AT_OK) {
        broker_destroy(&self);
        return NULL;
    }
    self->last_tick = at_clock_mono_us();
    zap_watch_sighup();
    at_log_info("BRK-START", "broker up: producers connect to %s, workers and the sink to %s; pipeline-window %"
                PRIu64 ", epoch %" PRIu64 " (settings: CFG lines at --log-level debug)", set->frontend, set->backend,
                window, sinklink_epoch(self->sink));
    return self;
}

void broker_destroy(broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_t *self = *self_p;
    tasks_destroy(&self->tasks);
    admission_destroy(&self->adm);
    workers_destroy(&self->workers);
    sinklink_destroy(&self->sink);
    broker_metrics_destroy(&self->metrics);
    wire_items_destroy(&self->batch);
    wire_items_destroy(&self->poison);
    wire_items_destroy(&self->refusals);
    if (self->front)
        wire_out_destroy(&self->fout);
    if (self->back)
        wire_out_destroy(&self->bout);
    zsock_destroy(&self->front);
    zsock_destroy(&self->back);
    zap_destroy(&self->zap);
    free(self->stalled);
    free(self);
    *self_p = NULL;
}

/*  While messages keep coming, take them in batches: wake at most once per
 *  batch-us instead of once per message. Waking a process costs more CPU
 *  than handling a message, and that CPU belongs to the verifiers. While
 *  tasks wait for worker credit the workers are saturated and hold enough
 *  work for several milliseconds, so the broker can wake less often still
 *  (saturated-batch-us). After an idle spell the first message is handled
 *  at once. */
static void s_batch_pause(const broker_t *self)
{
    int64_t us = tasks_queued(self->tasks) > 0 ? self->set->saturated_batch_us : self->set->batch_us;
    if (us > 0)
        usleep((useconds_t) us);
}

/*  Tasks judged poison go to the registered sink as POISON: it logs them
 *  invalid (reason poison) in seq order, and its COMMITTED acknowledges
 *  them like any verdict. A failed send is tried again at the next turn;
 *  a POISON lost on the way is sent again after redeliver-ms. */
static void s_send_poison(broker_t *self)
{
    if (!tasks_poison_pending(self->tasks) || !sinklink_registered(self->sink))
        return;
    task_t *batch[WIRE_BATCH_MAX];
    size_t n = tasks_poisoned(self->tasks, batch, WIRE_BATCH_MAX);
    wire_items_clear(&self->poison);
    for (size_t i = 0; i < n; i++)
        s_item_task(&self->poison, batch[i], batch[i]->t_dispatched);
    if (wire_send_poison(&self->bout, sinklink_peer(self->sink), sinklink_epoch(self->sink), &self->poison) != 0)
        return;
    uint64_t mono = at_clock_mono_us();
    for (size_t i = 0; i < n; i++) {
        const task_t *t = batch[i];
        at_log_limited(AT_LOG_WARN, "BRK-POISON", "seq %" PRIu64 " (producer %s, cseq %" PRIu64 "): %" PRIu16
                       " deliveries in a row ended with the worker's death: sent to the sink to be logged invalid"
                       " (poison)", t->seq, producer_name(t->producer), t->cseq, t->failures);
        tasks_poison_sent(self->tasks, batch[i], mono);
    }
}

/*  One busy stretch: drain both sockets, dispatch, until nothing comes. */
static void s_turns(broker_t *self)
{
    bool busy = true;
    for (int turns = 0; busy && !zsys_interrupted; turns++) {
        busy = false;
        if (turns > 0)
            s_batch_pause(self);
        if (self->zap)
            zap_serve(self->zap);
        for (int i = 0; i < S_TURN_MAX && s_recv_one(self, &self->bout, s_on_backend, "backend"); i++)
            busy = true;
        for (int i = 0; i < S_TURN_MAX && s_recv_one(self, &self->fout, s_on_frontend, "frontend"); i++)
            busy = true;
        workers_dispatch(self->workers, (size_t) tasks_queued(self->tasks), s_send_tasks, self);
        s_send_poison(self);
        s_metrics(self);
        notify_watchdog();   /* systemd WatchdogSec=: the loop still turns (every turn, busy or not) */
    }
}

at_err broker_run(broker_t *self)
{
    zpoller_t *poller = zpoller_new(self->front, self->back, NULL);
    if (!poller)
        abort();
    if (self->zap)
        zpoller_add(poller, zap_sock(self->zap));
    int tick_ms = (int) self->set->heartbeat_ms;
    while (!zsys_interrupted) {
        zpoller_wait(poller, tick_ms < 100 ? tick_ms : 100);
        if (zpoller_terminated(poller) && (zsys_interrupted || errno != EINTR))
            break;   /* EINTR alone: SIGHUP */
        if (zap_sighup_take())
            s_reload(self);
        s_turns(self);
        s_timers(self);
    }
    s_log_stats(self);
    at_log_info("BRK-STOP", "broker stopping");
    zpoller_destroy(&poller);
    return AT_OK;
}
