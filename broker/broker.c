/*  broker.c: admission, sequencing, credit-based dispatch, ack relay.
 *
 *  One thread, one zpoller over two ROUTER sockets. Each turn of the loop
 *  drains what is ready on both sockets (bounded per turn), then dispatches
 *  queued tasks to workers that have credit, then handles timers. Every
 *  message from the network is parsed strictly; anything malformed is
 *  counted, logged (rate-limited) and answered with ERROR.
 *
 *  Task states: QUEUED (waiting for a worker) -> DISPATCHED (a worker holds
 *  it) -> VERIFIED (the worker said DONE; the verdict is on its way to the
 *  sink) -> ACKED (the sink committed it; the producer was told). The ring
 *  frees slots from its base as they are ACKED. A task goes back to QUEUED
 *  when its worker stops without draining or goes silent, or when a new sink
 *  instance registers (what the old one had not committed may be gone).
 *
 *  Worker drain: LEAVE marks the worker draining (credit 0, no dispatch) and
 *  is answered with LEAVE_OK, which follows every TASKS sent to it on the
 *  same pipe; the worker_t is freed only once no task is dispatched to it.
 */
#include "broker.h"
#include "broker_metrics.h"
#include "clock.h"
#include "credit.h"
#include "log.h"
#include "wire.h"
#include <czmq.h>
#include <sodium.h>
#include <unistd.h>

const cfg_def_t broker_settings[] = {
    { "frontend", CFG_STR, "tcp://*:5555", 0, 0, "endpoint producers connect to (ROUTER, bound)" },
    { "backend", CFG_STR, "tcp://*:5556", 0, 0, "endpoint workers and the sink connect to (ROUTER, bound)" },
    { "window", CFG_INT, "16384", 64, 1 << 18, "attestations admitted and not yet committed; must equal the sink's" },
    { "producer-window", CFG_INT, "4096", 1, 1 << 22, "most credit one producer may hold" },
    { "max-batch", CFG_INT, "256", 1, WIRE_BATCH_MAX, "attestations per SUBMIT a producer may send" },
    { "dispatch-chunk", CFG_INT, "128", 1, WIRE_BATCH_MAX, "most tasks sent to one worker per turn" },
    { "target-latency-ms", CFG_INT, "20", 1, 60000, "longest a task should wait inside a worker; sizes each worker's share" },
    { "batch-us", CFG_INT, "300", 0, 100000, "while busy, wake at most once per this many microseconds (0: per message)" },
    { "saturated-batch-us", CFG_INT, "1000", 0, 100000, "the same while tasks wait for worker credit (the workers are the bottleneck)" },
    { "heartbeat-ms", CFG_INT, "1000", 50, 60000, "heartbeat interval" },
    { "worker-timeout-ms", CFG_INT, "5000", 100, 600000, "silence after which a worker is dropped and its tasks redispatched" },
    { "credit-idle-ms", CFG_INT, "1000", 10, 3600000, "a producer that submitted nothing this long gives back its unspent credit when others need it" },
    { "producer-timeout-ms", CFG_INT, "30000", 100, 3600000, "silence after which a producer's unspent credit is reclaimed" },
    { "redeliver-ms", CFG_INT, "10000", 100, 3600000, "a task dispatched or verified this long without being committed is dispatched again" },
    { "stats-ms", CFG_INT, "10000", 0, 3600000, "period of the statistics log line (0: never)" },
    { "metrics", CFG_STR, "", 0, 0, "serve Prometheus metrics at http://ADDR/metrics: HOST:PORT or :PORT (empty or 0: off)" },
    { "log-level", CFG_STR, "info", 0, 0, "debug, info, warn or error" },
};
const size_t broker_nsettings = sizeof broker_settings / sizeof broker_settings[0];

enum { T_FREE = 0, T_QUEUED, T_DISPATCHED, T_VERIFIED, T_ACKED };
#define S_RID_MAX 256
#define S_CAP_START 64      /* a new worker's congestion window */
#define S_CAP_MIN 4
#define S_TURN_MAX 512      /* messages read from one socket per turn */

typedef struct producer_t producer_t;
typedef struct worker_t worker_t;

typedef struct {
    uint8_t state;
    uint64_t seq;
    producer_t *producer;
    uint64_t cseq;
    uint64_t t_received, t_dispatched;
    uint64_t t_state;           /* monotonic time of the last state change */
    worker_t *worker;
    uint8_t *att;
    uint32_t att_len;
} task_t;

struct producer_t {
    char name[WIRE_NAME_MAX + 1];
    char key[2 * S_RID_MAX + 1];
    uint8_t rid[S_RID_MAX];
    size_t rid_len;
    credit_account_t acct;
    uint64_t last_seen;
    uint64_t last_submit;       /* mono us of its last SUBMIT (or of its HELLO) */
    uint64_t revoke_sent;       /* mono us of an unanswered REVOKE; 0: none */
    bool gone;
    size_t nacks;               /* pending ACK items this turn */
    wire_packer_t acks;
};

struct worker_t {
    char id[WIRE_NAME_MAX + 1];
    char key[2 * S_RID_MAX + 1];
    uint8_t rid[S_RID_MAX];
    size_t rid_len;
    uint64_t credit;
    uint64_t inflight;
    uint64_t cap;               /* most tasks it may hold now (congestion window) */
    uint64_t window;            /* the credit it announced in READY */
    uint64_t last_cut;          /* mono us of the last decrease of cap */
    uint64_t done;
    uint64_t reported;          /* items in its DONE messages, late ones too (metrics) */
    uint64_t last_seen;
    bool draining;              /* said LEAVE: no more dispatch; removed when inflight is 0 */
    void *handle;               /* in broker_t.rota */
};

typedef struct {
    uint64_t admitted, refused, malformed, dispatched, redispatched, done, acked, duplicates;
    uint64_t late_done, stale_commits;
    uint64_t revokes, released;         /* REVOKE messages sent, credit given back by RELEASE */
    uint64_t refused_by[AT_ERR_COUNT_];   /* refusals by reason code (metrics) */
} stats_t;

struct broker_t {
    const cfg_t *cfg;
    zsock_t *front, *back;
    void *fh, *bh;              /* libzmq handles */
    uint64_t epoch;
    uint64_t window;
    task_t *ring;               /* window slots, seq % window */
    uint64_t base;              /* lowest seq not yet ACKED */
    uint64_t next_seq;          /* next seq to assign */
    bool have_sink;
    bool sink_confirmed;        /* admission opened: see s_sink_confirm */
    char sink_instance[WIRE_NAME_MAX + 1];
    uint8_t sink_rid[S_RID_MAX];
    size_t sink_rid_len;
    uint64_t sink_last_seen;
    uint64_t *queue;            /* seqs waiting for a worker (deque) */
    uint64_t qcap, q_head, q_len;
    zhashx_t *producers;        /* key: hex routing id -> producer_t */
    zlistx_t *gone;             /* producers that left but still hold tasks */
    zhashx_t *workers;          /* key: hex routing id -> worker_t */
    zlistx_t *rota;             /* the same workers, in dispatch order */
    credit_t *credit;
    wire_packer_t out;
    stats_t st;
    uint64_t last_stats;
    uint64_t last_reclaim;      /* mono us of the last credit reclaim scan */
    broker_metrics_t *metrics;  /* NULL: metrics off */
};

/* ---------- small helpers ---------- */

static void s_rid_key(const uint8_t *rid, size_t len, char *key)
{
    sodium_bin2hex(key, 2 * S_RID_MAX + 1, rid, len);
}

static task_t *s_slot(broker_t *self, uint64_t seq)
{
    return &self->ring[seq % self->window];
}

static bool s_in_ring(broker_t *self, uint64_t seq)
{
    return seq >= self->base && seq < self->next_seq;
}

/*  Rebuilds the queue from the ring: every QUEUED task, in seq order. Used
 *  when stale entries (tasks acknowledged while queued) fill the deque. */
static void s_queue_compact(broker_t *self)
{
    self->q_head = 0;
    self->q_len = 0;
    for (uint64_t seq = self->base; seq < self->next_seq; seq++)
        if (s_slot(self, seq)->state == T_QUEUED)
            self->queue[self->q_len++] = seq;
}

static void s_queue_push_back(broker_t *self, uint64_t seq)
{
    if (self->q_len == self->qcap) {
        s_queue_compact(self);
        return;
    }
    self->queue[(self->q_head + self->q_len) % self->qcap] = seq;
    self->q_len++;
}

static void s_queue_push_front(broker_t *self, uint64_t seq)
{
    if (self->q_len == self->qcap) {
        s_queue_compact(self);
        return;
    }
    self->q_head = (self->q_head + self->qcap - 1) % self->qcap;
    self->queue[self->q_head] = seq;
    self->q_len++;
}

/*  Next task waiting for a worker, skipping stale entries; NULL if none. */
static task_t *s_queue_pop(broker_t *self)
{
    while (self->q_len) {
        uint64_t seq = self->queue[self->q_head];
        self->q_head = (self->q_head + 1) % self->qcap;
        self->q_len--;
        if (s_in_ring(self, seq) && s_slot(self, seq)->state == T_QUEUED)
            return s_slot(self, seq);
    }
    return NULL;
}

/*  Sends an ERROR to a peer; errors while sending are ignored (peer gone). */
static void s_send_error(broker_t *self, void *handle, const uint8_t *rid, size_t rid_len, at_err code,
                         const char *text)
{
    wire_begin(&self->out, WIRE_ERROR, 2);
    msgpack_pack_uint8(&self->out.pk, (uint8_t) code);
    wire_pack_str(&self->out, text, strlen(text));
    if (wire_send(handle, &self->out, rid, rid_len, ZMQ_DONTWAIT) != 0)
        at_log_limited(AT_LOG_DEBUG, "BRK-SEND", "error reply not sent: %s", zmq_strerror(errno));
}

static void s_send_simple(broker_t *self, void *handle, const uint8_t *rid, size_t rid_len, wire_type type)
{
    wire_begin(&self->out, type, 0);
    if (wire_send(handle, &self->out, rid, rid_len, ZMQ_DONTWAIT) != 0)
        at_log_limited(AT_LOG_DEBUG, "BRK-SEND", "%s not sent: %s", wire_type_name(type), zmq_strerror(errno));
}

/* ---------- producers ---------- */

static void s_producer_free(void **item)
{
    producer_t *p = *item;
    if (p) {
        wire_packer_destroy(&p->acks);
        free(p);
        *item = NULL;
    }
}

static void s_send_credit(broker_t *self, producer_t *p, uint64_t n)
{
    wire_begin(&self->out, WIRE_CREDIT, 1);
    msgpack_pack_uint64(&self->out.pk, n);
    if (wire_send(self->fh, &self->out, p->rid, p->rid_len, ZMQ_DONTWAIT) != 0)
        at_log_limited(AT_LOG_WARN, "BRK-SEND", "credit to %s not sent: %s", p->name, zmq_strerror(errno));
}

static void s_topup_all(broker_t *self)
{
    for (producer_t *p = zhashx_first(self->producers); p; p = zhashx_next(self->producers)) {
        uint64_t n = credit_topup(self->credit, &p->acct);
        if (n)
            s_send_credit(self, p, n);
    }
}

/*  The producer is gone (BYE or silence): reclaim its credit; keep the
 *  struct until its tasks are acknowledged. */
static void s_producer_leave(broker_t *self, producer_t *p, const char *why)
{
    at_log_info("BRK-PRODUCER", "producer %s left (%s), %" PRIu64 " in flight", p->name, why, p->acct.held);
    credit_leave(self->credit, &p->acct);
    zhashx_delete(self->producers, p->key);
    p->gone = true;
    if (p->acct.held == 0)
        s_producer_free((void **) &p);
    else
        zlistx_add_end(self->gone, p);
}

static void s_on_hello(broker_t *self, const uint8_t *rid, size_t rid_len, const char *key, wire_msg_t *m)
{
    const char *name;
    size_t len;
    if (wire_str(&m->f[0], &name, &len, WIRE_NAME_MAX) != AT_OK || len == 0) {
        self->st.malformed++;
        s_send_error(self, self->fh, rid, rid_len, AT_ERR_TYPE, "HELLO needs a producer name of 1..64 bytes");
        return;
    }
    producer_t *p = zhashx_lookup(self->producers, key);
    if (!p) {
        p = calloc(1, sizeof *p);
        assert(p);
        memcpy(p->name, name, len);
        snprintf(p->key, sizeof p->key, "%s", key);
        memcpy(p->rid, rid, rid_len);
        p->rid_len = rid_len;
        wire_packer_init(&p->acks);
        credit_join(self->credit, &p->acct);
        zhashx_insert(self->producers, key, p);
        at_log_info("BRK-PRODUCER", "producer %s joined (%zu active)", p->name, zhashx_size(self->producers));
    }
    p->last_seen = p->last_submit = at_clock_mono_us();
    uint64_t n = credit_topup(self->credit, &p->acct);
    wire_begin(&self->out, WIRE_WELCOME, 2);
    msgpack_pack_uint64(&self->out.pk, n);
    msgpack_pack_uint64(&self->out.pk, (uint64_t) cfg_int(self->cfg, "max-batch"));
    if (wire_send(self->fh, &self->out, rid, rid_len, ZMQ_DONTWAIT) != 0)
        at_log_limited(AT_LOG_WARN, "BRK-SEND", "welcome to %s not sent: %s", p->name, zmq_strerror(errno));
}

/*  Admits one attestation of a SUBMIT; returns 0 or the refusal reason. */
static at_err s_admit(broker_t *self, producer_t *p, const wire_submit_t *s, uint64_t now)
{
    if (!credit_take(self->credit, &p->acct))
        return AT_ERR_NO_CREDIT;
    attestation_t a;
    at_err rc = attestation_decode(&a, s->att, s->att_len);
    if (rc) {
        credit_refund(self->credit, &p->acct);
        return rc;
    }
    assert(self->next_seq - self->base < self->window);
    task_t *t = s_slot(self, self->next_seq);
    assert(t->state == T_FREE);
    t->state = T_QUEUED;
    t->seq = self->next_seq++;
    t->producer = p;
    t->cseq = s->cseq;
    t->t_received = now;
    t->t_dispatched = 0;
    t->worker = NULL;
    t->att = malloc(s->att_len);
    assert(t->att);
    memcpy(t->att, s->att, s->att_len);
    t->att_len = (uint32_t) s->att_len;
    s_queue_push_back(self, t->seq);
    self->st.admitted++;
    return AT_OK;
}

static void s_on_submit(broker_t *self, producer_t *p, wire_msg_t *m)
{
    const msgpack_object *items;
    size_t n;
    at_err rc = wire_array(&m->f[0], &items, &n, (size_t) cfg_int(self->cfg, "max-batch"), false);
    if (rc) {
        self->st.malformed++;
        at_log_limited(AT_LOG_WARN, "BRK-MALFORMED", "SUBMIT from %s: %s", p->name, at_strerror(rc));
        s_send_error(self, self->fh, p->rid, p->rid_len, rc, "SUBMIT batch is not an array of 1..max_batch items");
        return;
    }
    uint64_t now = at_clock_wall_us();
    p->last_submit = at_clock_mono_us();
    size_t nref = 0;
    wire_packer_t *w = &self->out;
    /* Refusals are rare: collect them in a second pass only if needed. */
    uint8_t reasons[WIRE_BATCH_MAX];
    uint64_t cseqs[WIRE_BATCH_MAX];
    for (size_t i = 0; i < n; i++) {
        wire_submit_t s = { 0 };
        rc = wire_submit_decode(&items[i], &s);
        uint64_t cseq = s.cseq;   /* 0 only when the cseq itself did not decode */
        if (rc == AT_OK)
            rc = s_admit(self, p, &s, now);
        if (rc) {
            self->st.refused_by[(unsigned) rc < AT_ERR_COUNT_ ? rc : 0]++;
            reasons[nref] = (uint8_t) rc;
            cseqs[nref++] = cseq;
        }
    }
    if (nref) {
        self->st.refused += nref;
        at_log_limited(AT_LOG_WARN, "BRK-REFUSE", "refused %zu of %zu from %s (first: cseq %" PRIu64 " %s)", nref,
                       n, p->name, cseqs[0], at_strerror(reasons[0]));
        wire_begin(w, WIRE_REFUSE, 1);
        msgpack_pack_array(&w->pk, nref);
        for (size_t i = 0; i < nref; i++) {
            wire_refusal_t r = { cseqs[i], reasons[i] };
            wire_pack_refusal(w, &r);
        }
        if (wire_send(self->fh, w, p->rid, p->rid_len, ZMQ_DONTWAIT) != 0)
            at_log_limited(AT_LOG_WARN, "BRK-SEND", "refusal to %s not sent: %s", p->name, zmq_strerror(errno));
    }
}

/*  RELEASE [credit]: the producer gives back unspent credit (asked by
 *  REVOKE, or of its own accord); others may be topped up from it. */
static void s_on_release(broker_t *self, producer_t *p, wire_msg_t *m)
{
    uint64_t n;
    if (wire_u64(&m->f[0], &n) != AT_OK) {
        self->st.malformed++;
        at_log_limited(AT_LOG_WARN, "BRK-MALFORMED", "RELEASE from %s: not an unsigned integer", p->name);
        s_send_error(self, self->fh, p->rid, p->rid_len, AT_ERR_TYPE, "RELEASE needs an unsigned integer");
        return;
    }
    p->revoke_sent = 0;
    uint64_t taken = credit_return(self->credit, &p->acct, n);
    self->st.released += taken;
    at_log_debug("BRK-RELEASE", "%s gave back %" PRIu64 " credit (of %" PRIu64 " asked)", p->name, taken, n);
    if (taken)
        s_topup_all(self);
}

/*  Credit granted and not spent is capacity nobody else can use. When the
 *  pool runs short, ask it back (REVOKE): from producers idle for
 *  credit-idle-ms, all but a small reserve (so they can still submit at
 *  once); from producers above their share since more joined, the excess.
 *  The producer answers RELEASE with what it had not yet spent; items it
 *  sent before are covered, as they reach the broker first. A REVOKE
 *  unanswered for 5 s is sent again. Scanned every 100 ms. */
static void s_reclaim(broker_t *self, uint64_t now)
{
    if (now - self->last_reclaim < 100000)
        return;
    self->last_reclaim = now;
    uint64_t idle_us = (uint64_t) cfg_int(self->cfg, "credit-idle-ms") * 1000;
    for (producer_t *p = zhashx_first(self->producers); p; p = zhashx_next(self->producers)) {
        if (p->revoke_sent && now - p->revoke_sent < 5000000)
            continue;
        uint64_t n = credit_reclaim(self->credit, &p->acct, now - p->last_submit >= idle_us);
        if (!n)
            continue;
        wire_begin(&self->out, WIRE_REVOKE, 1);
        msgpack_pack_uint64(&self->out.pk, n);
        if (wire_send(self->fh, &self->out, p->rid, p->rid_len, ZMQ_DONTWAIT) != 0) {
            at_log_limited(AT_LOG_WARN, "BRK-SEND", "revoke to %s not sent: %s", p->name, zmq_strerror(errno));
            continue;
        }
        p->revoke_sent = now;
        self->st.revokes++;
        at_log_limited(AT_LOG_INFO, "BRK-REVOKE", "asking %s to give back %" PRIu64 " unspent credit (%s)", p->name,
                       n, p->acct.idle ? "idle" : "above its share");
    }
}

static void s_on_frontend_msg(broker_t *self, const uint8_t *rid, size_t rid_len, wire_msg_t *m)
{
    char key[2 * S_RID_MAX + 1];
    s_rid_key(rid, rid_len, key);
    if (m->type == WIRE_HELLO) {
        s_on_hello(self, rid, rid_len, key, m);
        return;
    }
    producer_t *p = zhashx_lookup(self->producers, key);
    if (!p) {
        self->st.malformed++;
        at_log_limited(AT_LOG_WARN, "BRK-PROTOCOL", "%s from an unknown producer", wire_type_name(m->type));
        s_send_error(self, self->fh, rid, rid_len, AT_ERR_PROTOCOL, "say HELLO first");
        return;
    }
    p->last_seen = at_clock_mono_us();
    switch (m->type) {
    case WIRE_SUBMIT: s_on_submit(self, p, m); break;
    case WIRE_PING: s_send_simple(self, self->fh, rid, rid_len, WIRE_PONG); break;
    case WIRE_RELEASE: s_on_release(self, p, m); break;
    case WIRE_BYE: s_producer_leave(self, p, "bye"); break;
    default:
        self->st.malformed++;
        at_log_limited(AT_LOG_WARN, "BRK-PROTOCOL", "%s is not a producer message", wire_type_name(m->type));
        s_send_error(self, self->fh, rid, rid_len, AT_ERR_UNKNOWN_TYPE, "not a producer message");
    }
}

/* ---------- workers ---------- */

static void s_requeue(broker_t *self, task_t *t)
{
    if (t->state != T_DISPATCHED && t->state != T_VERIFIED)
        return;
    if (t->state == T_DISPATCHED && t->worker)
        t->worker->inflight--;
    t->state = T_QUEUED;
    t->worker = NULL;
    self->st.redispatched++;
}

/*  Puts every task the worker holds back at the front of the queue, in
 *  sequence order. */
static void s_requeue_worker(broker_t *self, worker_t *w)
{
    for (uint64_t seq = self->next_seq; seq-- > self->base;) {
        task_t *t = s_slot(self, seq);
        if (t->state == T_DISPATCHED && t->worker == w) {
            s_requeue(self, t);
            s_queue_push_front(self, seq);
        }
    }
}

static void s_worker_remove(broker_t *self, worker_t *w, const char *why)
{
    at_log_info("BRK-WORKER", "worker %s left (%s), %" PRIu64 " tasks back in the queue", w->id, why, w->inflight);
    s_requeue_worker(self, w);
    zhashx_delete(self->workers, w->key);
    zlistx_delete(self->rota, w->handle);
    free(w);
}

/*  LEAVE: the first one starts a drain (no more dispatch; LEAVE_OK follows
 *  every TASKS already sent on the same pipe; the worker is removed once it
 *  has reported all it holds). A LEAVE from a draining worker means it is
 *  stopping at once: what it still holds goes back to the queue. */
static void s_on_leave(broker_t *self, worker_t *w)
{
    if (w->draining) {
        s_worker_remove(self, w, "stopped while draining");
        return;
    }
    w->draining = true;
    w->credit = 0;
    s_send_simple(self, self->bh, w->rid, w->rid_len, WIRE_LEAVE_OK);
    at_log_info("BRK-WORKER", "worker %s draining, %" PRIu64 " tasks still to report", w->id, w->inflight);
    if (w->inflight == 0)
        s_worker_remove(self, w, "drained");
}

static void s_on_ready(broker_t *self, const uint8_t *rid, size_t rid_len, const char *key, wire_msg_t *m)
{
    const char *id;
    size_t len;
    uint64_t credit;
    if (wire_str(&m->f[0], &id, &len, WIRE_NAME_MAX) || len == 0 || wire_u64(&m->f[1], &credit)
        || credit > WIRE_BATCH_MAX * 64) {
        self->st.malformed++;
        s_send_error(self, self->bh, rid, rid_len, AT_ERR_TYPE, "READY needs [worker_id str, credit uint]");
        return;
    }
    worker_t *w = zhashx_lookup(self->workers, key);
    if (!w) {
        w = calloc(1, sizeof *w);
        assert(w);
        snprintf(w->key, sizeof w->key, "%s", key);
        memcpy(w->rid, rid, rid_len);
        w->rid_len = rid_len;
        zhashx_insert(self->workers, key, w);
        w->handle = zlistx_add_end(self->rota, w);
    } else {
        s_requeue_worker(self, w);   /* a worker restarting its session holds nothing */
        w->draining = false;
    }
    memcpy(w->id, id, len);
    w->id[len] = 0;
    w->credit = credit;
    w->window = credit;
    w->cap = credit < S_CAP_START ? credit : S_CAP_START;
    w->last_seen = at_clock_mono_us();
    at_log_info("BRK-WORKER", "worker %s ready with credit %" PRIu64 " (%zu workers)", w->id, credit,
                zhashx_size(self->workers));
}

/*  Congestion control per worker (AIMD, as TCP does for a path): a worker
 *  may hold at most `cap` tasks. When the tasks it reports waited longer
 *  than target-latency-ms between dispatch and DONE, cap shrinks by a
 *  quarter (at most once per target interval); otherwise it grows by a
 *  quarter of what was reported, up to the credit the worker announced. A
 *  fast worker so holds enough to stay busy, and a slow one only what it
 *  can finish in the target time, so it neither starves the others nor
 *  holds back the sink's watermark. */
static void s_adapt_cap(broker_t *self, worker_t *w, uint64_t max_wait, size_t n)
{
    uint64_t target = (uint64_t) cfg_int(self->cfg, "target-latency-ms") * 1000, now = at_clock_mono_us();
    if (max_wait > target) {
        if (now - w->last_cut >= target) {
            w->cap -= w->cap / 4;
            if (w->cap < S_CAP_MIN)
                w->cap = S_CAP_MIN;
            w->last_cut = now;
        }
    } else if (n) {
        w->cap += n / 4 ? n / 4 : 1;
        if (w->cap > w->window)
            w->cap = w->window;
    }
}

static void s_on_done(broker_t *self, worker_t *w, wire_msg_t *m)
{
    const msgpack_object *items;
    size_t n;
    uint64_t credit;
    if (wire_array(&m->f[0], &items, &n, WIRE_BATCH_MAX, true) || wire_u64(&m->f[1], &credit)
        || credit > WIRE_BATCH_MAX) {
        self->st.malformed++;
        at_log_limited(AT_LOG_WARN, "BRK-MALFORMED", "bad DONE from worker %s", w->id);
        s_send_error(self, self->bh, w->rid, w->rid_len, AT_ERR_TYPE, "DONE needs [[seq...], credit]");
        return;
    }
    w->reported += n;
    uint64_t max_wait = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t seq;
        if (wire_u64(&items[i], &seq) != AT_OK)
            continue;
        task_t *t = s_in_ring(self, seq) ? s_slot(self, seq) : NULL;
        if (t && t->state == T_DISPATCHED && t->worker == w) {
            uint64_t now = at_clock_mono_us();
            if (now - t->t_state > max_wait)
                max_wait = now - t->t_state;
            t->state = T_VERIFIED;
            t->t_state = now;
            w->inflight--;
            w->done++;
            self->st.done++;
        } else {
            self->st.late_done++;
        }
    }
    s_adapt_cap(self, w, max_wait, n);
    if (w->draining) {
        if (w->inflight == 0)
            s_worker_remove(self, w, "drained");   /* w is freed: no task points to it any more */
        return;
    }
    w->credit += credit;
}

/*  A sink (re)registers. A new instance may have lost what it had not
 *  committed: every task not yet acknowledged is dispatched again (the sink
 *  answers those it already holds from its log). */
/*  The first sink after the broker starts: numbering (and admission) start
 *  only when a SINK_HELLO carrying our epoch (so sent after the sink
 *  adopted it, and with it a final watermark) reports the same
 *  next_seq we offered. Until the sink has adopted our epoch it may still
 *  commit verdicts of a previous broker, moving its watermark; starting
 *  behind it would give new attestations sequence numbers the log already
 *  holds. Nothing is admitted before, so moving the start is free. */
static void s_sink_confirm(broker_t *self, uint64_t next_seq)
{
    if (next_seq != self->next_seq) {
        assert(self->base == self->next_seq && self->q_len == 0);
        self->base = self->next_seq = next_seq;
        return;   /* offered again in the SINK_WELCOME that follows */
    }
    self->sink_confirmed = true;
    credit_set_open(self->credit, true);
    at_log_info("BRK-SINK", "sink confirmed: sequence starts at %" PRIu64, next_seq);
    s_topup_all(self);
}

static void s_on_sink_hello(broker_t *self, const uint8_t *rid, size_t rid_len, wire_msg_t *m)
{
    const char *inst;
    size_t len;
    uint64_t next_seq, next_index, epoch;
    if (wire_str(&m->f[0], &inst, &len, WIRE_NAME_MAX) || wire_u64(&m->f[1], &next_seq)
        || wire_u64(&m->f[2], &next_index) || wire_u64(&m->f[3], &epoch)) {
        self->st.malformed++;
        s_send_error(self, self->bh, rid, rid_len, AT_ERR_TYPE, "SINK_HELLO needs [instance, next_seq, next_index, epoch]");
        return;
    }
    bool same = self->have_sink && strlen(self->sink_instance) == len && memcmp(self->sink_instance, inst, len) == 0;
    self->sink_last_seen = at_clock_mono_us();
    if (same && !self->sink_confirmed && epoch == self->epoch)
        s_sink_confirm(self, next_seq);   /* sent after it adopted our epoch */
    memcpy(self->sink_rid, rid, rid_len);
    self->sink_rid_len = rid_len;
    if (!same) {
        if (!self->have_sink || !self->sink_confirmed) {
            self->base = self->next_seq = next_seq;   /* nothing admitted yet */
        } else {
            for (uint64_t seq = self->next_seq; seq-- > self->base;) {
                task_t *t = s_slot(self, seq);
                if (t->state == T_DISPATCHED || t->state == T_VERIFIED) {
                    s_requeue(self, t);
                    s_queue_push_front(self, seq);
                }
            }
        }
        memcpy(self->sink_instance, inst, len);
        self->sink_instance[len] = 0;
        self->have_sink = true;
        at_log_info("BRK-SINK", "sink %s registered: log holds %" PRIu64 " entries, next seq %" PRIu64
                    ", epoch %" PRIu64, self->sink_instance, next_index, next_seq, self->epoch);
    }
    wire_begin(&self->out, WIRE_SINK_WELCOME, 2);
    msgpack_pack_uint64(&self->out.pk, self->epoch);
    msgpack_pack_uint64(&self->out.pk, self->sink_confirmed ? next_seq : self->next_seq);
    if (wire_send(self->bh, &self->out, rid, rid_len, ZMQ_DONTWAIT) != 0)
        at_log_limited(AT_LOG_WARN, "BRK-SEND", "sink welcome not sent: %s", zmq_strerror(errno));
    if (!same)
        s_topup_all(self);
}

/*  Adds one acknowledgement to its producer's pending ACK message. */
static void s_ack_add(broker_t *self, task_t *t, const wire_result_t *r)
{
    producer_t *p = t->producer;
    credit_release(self->credit, &p->acct, 1);
    if (p->gone)
        return;
    if (p->nacks == 0)
        msgpack_sbuffer_clear(&p->acks.sb);
    wire_result_t a = *r;
    a.key = t->cseq;
    wire_pack_result(&p->acks, &a);
    p->nacks++;
}

static void s_acks_flush(broker_t *self, producer_t *p)
{
    if (!p->nacks)
        return;
    wire_begin(&self->out, WIRE_ACK, 1);
    msgpack_pack_array(&self->out.pk, p->nacks);
    msgpack_sbuffer_write(&self->out.sb, p->acks.sb.data, p->acks.sb.size);
    if (wire_send(self->fh, &self->out, p->rid, p->rid_len, ZMQ_DONTWAIT) != 0)
        at_log_limited(AT_LOG_WARN, "BRK-SEND", "%zu acks to %s not sent: %s", p->nacks, p->name,
                       zmq_strerror(errno));
    self->st.acked += p->nacks;
    p->nacks = 0;
}

/*  Frees acknowledged slots at the ring's base, and producers that left
 *  once they hold nothing. */
static void s_advance_base(broker_t *self)
{
    while (self->base < self->next_seq) {
        task_t *t = s_slot(self, self->base);
        if (t->state != T_ACKED)
            break;
        free(t->att);
        memset(t, 0, sizeof *t);
        self->base++;
    }
    for (producer_t *p = zlistx_first(self->gone); p; p = zlistx_next(self->gone)) {
        if (p->acct.held == 0) {
            zlistx_delete(self->gone, zlistx_cursor(self->gone));
            s_producer_free((void **) &p);
            p = zlistx_first(self->gone);
            if (!p)
                break;
        }
    }
}

static void s_on_committed(broker_t *self, wire_msg_t *m)
{
    uint64_t epoch, next_seq;
    const msgpack_object *items;
    size_t n;
    if (wire_u64(&m->f[0], &epoch) || wire_u64(&m->f[1], &next_seq)
        || wire_array(&m->f[2], &items, &n, WIRE_RESULTS_MAX, true)) {
        self->st.malformed++;
        at_log_limited(AT_LOG_WARN, "BRK-MALFORMED", "bad COMMITTED from the sink");
        return;
    }
    if (epoch != self->epoch) {
        self->st.stale_commits++;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        wire_result_t r;
        if (wire_result_decode(&items[i], &r) != AT_OK) {
            self->st.malformed++;
            continue;
        }
        task_t *t = s_in_ring(self, r.key) ? s_slot(self, r.key) : NULL;
        if (!t || t->state == T_ACKED || t->state == T_FREE)
            continue;
        if (t->state == T_DISPATCHED && t->worker)
            t->worker->inflight--;
        t->state = T_ACKED;   /* if still queued, s_queue_pop skips it */
        self->st.duplicates += r.duplicate;
        s_ack_add(self, t, &r);
    }
    for (producer_t *p = zhashx_first(self->producers); p; p = zhashx_next(self->producers))
        s_acks_flush(self, p);
    s_advance_base(self);
    s_topup_all(self);
}

/* ---------- backend dispatch ---------- */

static void s_on_backend_msg(broker_t *self, const uint8_t *rid, size_t rid_len, wire_msg_t *m)
{
    char key[2 * S_RID_MAX + 1];
    s_rid_key(rid, rid_len, key);
    if (m->type == WIRE_READY) {
        s_on_ready(self, rid, rid_len, key, m);
        return;
    }
    if (m->type == WIRE_SINK_HELLO) {
        s_on_sink_hello(self, rid, rid_len, m);
        return;
    }
    if (m->type == WIRE_COMMITTED) {
        if (self->have_sink && rid_len == self->sink_rid_len && memcmp(rid, self->sink_rid, rid_len) == 0)
            s_on_committed(self, m);
        else
            self->st.stale_commits++;
        return;
    }
    worker_t *w = zhashx_lookup(self->workers, key);
    if (!w) {
        /* Unknown worker (e.g. the broker restarted): ask it to say READY again. */
        at_log_limited(AT_LOG_INFO, "BRK-PROTOCOL", "%s from an unknown worker: asking it to register",
                       wire_type_name(m->type));
        s_send_error(self, self->bh, rid, rid_len, AT_ERR_PROTOCOL, "unknown worker: send READY");
        return;
    }
    w->last_seen = at_clock_mono_us();
    switch (m->type) {
    case WIRE_DONE: s_on_done(self, w, m); break;
    case WIRE_HEARTBEAT: break;
    case WIRE_LEAVE: s_on_leave(self, w); break;
    default:
        self->st.malformed++;
        at_log_limited(AT_LOG_WARN, "BRK-PROTOCOL", "%s is not a worker message", wire_type_name(m->type));
        s_send_error(self, self->bh, rid, rid_len, AT_ERR_UNKNOWN_TYPE, "not a worker message");
    }
}

/*  Sends up to `max` queued tasks to one worker as one TASKS message. */
static size_t s_dispatch_to(broker_t *self, worker_t *w, size_t max)
{
    task_t *batch[WIRE_BATCH_MAX];
    size_t n = 0;
    while (n < max) {
        task_t *t = s_queue_pop(self);
        if (!t)
            break;
        batch[n++] = t;
    }
    if (!n)
        return 0;
    uint64_t now = at_clock_wall_us();
    wire_packer_t *o = &self->out;
    wire_begin(o, WIRE_TASKS, 2);
    msgpack_pack_uint64(&o->pk, self->epoch);
    msgpack_pack_array(&o->pk, n);
    for (size_t i = 0; i < n; i++) {
        task_t *t = batch[i];
        t->state = T_DISPATCHED;
        t->worker = w;
        t->t_dispatched = now;
        t->t_state = at_clock_mono_us();
        wire_task_t wt = { t->seq, t->producer->name, strlen(t->producer->name), t->cseq, t->t_received,
                           t->t_dispatched, t->att, t->att_len };
        wire_pack_task(o, &wt);
    }
    if (wire_send(self->bh, o, w->rid, w->rid_len, ZMQ_DONTWAIT) != 0) {
        at_log_limited(AT_LOG_WARN, "BRK-SEND", "tasks to %s not sent (%s): requeued", w->id, zmq_strerror(errno));
        for (size_t i = n; i-- > 0;) {
            batch[i]->state = T_QUEUED;
            batch[i]->worker = NULL;
            s_queue_push_front(self, batch[i]->seq);
        }
        w->credit = 0;   /* the worker is gone or stuck: wait for it to speak again */
        return 0;
    }
    w->credit -= n;
    w->inflight += n;
    self->st.dispatched += n;
    return n;
}

/*  Round robin over the workers with credit. Each gets at most
 *  dispatch-chunk tasks and at most an even share of the queue, so that a
 *  small burst is spread over idle workers instead of queueing behind one;
 *  a worker that was served moves to the end of the rota. A slow worker
 *  returns credit slowly and so is offered less. */
static void s_dispatch(broker_t *self)
{
    size_t chunk = (size_t) cfg_int(self->cfg, "dispatch-chunk");
    bool progress = true;
    while (self->q_len && progress) {
        progress = false;
        size_t with_credit = 0;
        for (worker_t *w = zlistx_first(self->rota); w; w = zlistx_next(self->rota))
            with_credit += w->credit > 0;
        if (!with_credit)
            break;
        size_t share = (size_t) ((self->q_len + with_credit - 1) / with_credit);
        size_t rounds = zlistx_size(self->rota);
        for (size_t i = 0; i < rounds && self->q_len; i++) {
            worker_t *w = zlistx_first(self->rota);
            zlistx_move_end(self->rota, w->handle);
            if (!w->credit)
                continue;
            size_t max = w->credit < chunk ? (size_t) w->credit : chunk;
            if (max > share)
                max = share;
            if (w->inflight >= w->cap)
                continue;
            if (max > w->cap - w->inflight)
                max = (size_t) (w->cap - w->inflight);
            /* No dribbling: a worker that still holds a chunk of work gets
             * its next tasks as a full chunk, so that TASKS, and the worker's
             * VERDICTS and DONE, stay large when the queue is long. */
            if (max < chunk && w->inflight >= chunk && self->q_len > max)
                continue;
            if (s_dispatch_to(self, w, max))
                progress = true;
        }
    }
}

/* ---------- receiving ---------- */

typedef void (s_handler_fn)(broker_t *self, const uint8_t *rid, size_t rid_len, wire_msg_t *m);

/*  Reads one [rid, body] message from a ROUTER; returns false when nothing
 *  is ready. Malformed messages are counted, logged and answered here. */
static bool s_recv_one(broker_t *self, void *handle, s_handler_fn *handler, const char *side)
{
    zmq_msg_t rid, body;
    zmq_msg_init(&rid);
    if (zmq_msg_recv(&rid, handle, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&rid);
        return false;
    }
    zmq_msg_init(&body);
    bool ok = zmq_msg_more(&rid) && zmq_msg_recv(&body, handle, 0) >= 0;
    bool extra = ok && zmq_msg_more(&body);
    while (zmq_msg_more(ok ? &body : &rid)) {   /* drain any further frames */
        zmq_msg_t junk;
        zmq_msg_init(&junk);
        zmq_msg_recv(&junk, handle, 0);
        bool more = zmq_msg_more(&junk);
        zmq_msg_close(&junk);
        if (!more)
            break;
    }
    const uint8_t *r = zmq_msg_data(&rid);
    size_t rlen = zmq_msg_size(&rid) < S_RID_MAX ? zmq_msg_size(&rid) : S_RID_MAX;
    if (!ok || extra) {
        self->st.malformed++;
        at_log_limited(AT_LOG_WARN, "BRK-FRAMES", "%s: message with the wrong number of frames", side);
        s_send_error(self, handle, r, rlen, AT_ERR_FRAMES, "a message is exactly one frame");
    } else {
        wire_msg_t m;
        at_err rc = wire_parse(&m, zmq_msg_data(&body), zmq_msg_size(&body));
        if (rc) {
            self->st.malformed++;
            at_log_limited(AT_LOG_WARN, "BRK-MALFORMED", "%s: unreadable message (%s, %zu bytes)", side,
                           at_strerror(rc), zmq_msg_size(&body));
            s_send_error(self, handle, r, rlen, rc, "message could not be parsed");
        } else {
            handler(self, r, rlen, &m);
            wire_msg_done(&m);
        }
    }
    zmq_msg_close(&body);
    zmq_msg_close(&rid);
    return true;
}

/* ---------- timers ---------- */

static void s_expire(broker_t *self, uint64_t now)
{
    uint64_t wt = (uint64_t) cfg_int(self->cfg, "worker-timeout-ms") * 1000;
    uint64_t pt = (uint64_t) cfg_int(self->cfg, "producer-timeout-ms") * 1000;
    for (worker_t *w = zhashx_first(self->workers); w;) {
        worker_t *next = zhashx_next(self->workers);
        /* A draining worker whose tasks were requeued or acknowledged
         * elsewhere (redelivery, a new sink) may reach 0 without a DONE. */
        bool drained = w->draining && w->inflight == 0;
        if (drained || now - w->last_seen > wt) {
            s_worker_remove(self, w, drained ? "drained" : "silent");
            next = zhashx_first(self->workers);   /* the hash changed: restart */
        }
        w = next;
    }
    for (producer_t *p = zhashx_first(self->producers); p;) {
        producer_t *next = zhashx_next(self->producers);
        if (now - p->last_seen > pt) {
            s_producer_leave(self, p, "silent");
            next = zhashx_first(self->producers);
        }
        p = next;
    }
}

/*  A task whose verdict never reached the log (a VERDICTS or COMMITTED
 *  message lost, a worker that dropped it) would hold the sink's watermark
 *  forever: after redeliver-ms it is dispatched again. The sink ignores a
 *  second verdict for a sequence number it holds, and answers one it has
 *  committed from the log. */
static void s_redeliver(broker_t *self, uint64_t now)
{
    uint64_t limit = (uint64_t) cfg_int(self->cfg, "redeliver-ms") * 1000;
    size_t n = 0;
    for (uint64_t seq = self->next_seq; seq-- > self->base;) {
        task_t *t = s_slot(self, seq);
        if ((t->state == T_DISPATCHED || t->state == T_VERIFIED) && now - t->t_state > limit) {
            s_requeue(self, t);
            s_queue_push_front(self, seq);
            n++;
        }
    }
    if (n)
        at_log_limited(AT_LOG_WARN, "BRK-REDELIVER", "%zu tasks not committed after %" PRIu64 " ms: dispatched again",
                       n, limit / 1000);
}

static void s_heartbeat_workers(broker_t *self)
{
    for (worker_t *w = zhashx_first(self->workers); w; w = zhashx_next(self->workers))
        s_send_simple(self, self->bh, w->rid, w->rid_len, WIRE_HEARTBEAT);
}

static void s_log_stats(broker_t *self)
{
    at_log_info("BRK-STATS",
                "admitted=%" PRIu64 " refused=%" PRIu64 " dispatched=%" PRIu64 " redispatched=%" PRIu64
                " done=%" PRIu64 " acked=%" PRIu64 " duplicates=%" PRIu64 " malformed=%" PRIu64
                " queued=%" PRIu64 " held=%" PRIu64 " revokes=%" PRIu64 " released=%" PRIu64
                " producers=%zu workers=%zu",
                self->st.admitted, self->st.refused, self->st.dispatched, self->st.redispatched, self->st.done,
                self->st.acked, self->st.duplicates, self->st.malformed, self->q_len, self->next_seq - self->base,
                self->st.revokes, self->st.released, zhashx_size(self->producers), zhashx_size(self->workers));
}

static void s_timers(broker_t *self, uint64_t *last_tick)
{
    uint64_t now = at_clock_mono_us();
    s_reclaim(self, now);
    uint64_t hb = (uint64_t) cfg_int(self->cfg, "heartbeat-ms") * 1000;
    if (now - *last_tick < hb)
        return;
    *last_tick = now;
    s_expire(self, now);
    s_redeliver(self, now);
    s_heartbeat_workers(self);
    uint64_t stats = (uint64_t) cfg_int(self->cfg, "stats-ms") * 1000;
    if (stats && now - self->last_stats >= stats) {
        self->last_stats = now;
        s_log_stats(self);
    }
}

/*  Publishes a snapshot for the metrics endpoint (at most every 100 ms). */
static void s_metrics(broker_t *self)
{
    if (!broker_metrics_due(self->metrics))
        return;
    uint64_t granted = 0, wcredit = 0;
    for (producer_t *p = zhashx_first(self->producers); p; p = zhashx_next(self->producers))
        granted += p->acct.granted;
    broker_metrics_workers_begin(self->metrics);
    for (worker_t *w = zlistx_first(self->rota); w; w = zlistx_next(self->rota)) {
        wcredit += w->credit;
        broker_metrics_worker(self->metrics, w->id, w->inflight, w->reported);
    }
    broker_metrics_workers_end(self->metrics);
    uint64_t in_use = credit_in_use(self->credit);
    broker_metrics_snapshot_t s = {
        .admitted = self->st.admitted, .dispatched = self->st.dispatched, .redispatched = self->st.redispatched,
        .acked = self->st.acked, .duplicates = self->st.duplicates, .malformed = self->st.malformed,
        .refused_by = self->st.refused_by, .queue_depth = self->q_len,
        .held = in_use > granted ? in_use - granted : 0, .outstanding_credit = granted, .worker_credit = wcredit,
        .producers = zhashx_size(self->producers), .workers = zhashx_size(self->workers),
        .sink_lag = self->next_seq - self->base,
    };
    broker_metrics_publish(self->metrics, &s);
}

/* ---------- life cycle ---------- */

static zsock_t *s_bind_router(const char *endpoint)
{
    zsock_t *s = zsock_new(ZMQ_ROUTER);
    assert(s);
    wire_socket_defaults(s, 100000);
    zsock_set_router_mandatory(s, 1);
    if (zsock_bind(s, "%s", endpoint) < 0) {
        at_log_error("BRK-BIND", "cannot bind %s: %s", endpoint, zmq_strerror(errno));
        zsock_destroy(&s);
    }
    return s;
}

broker_t *broker_new(const cfg_t *cfg)
{
    broker_t *self = calloc(1, sizeof *self);
    assert(self);
    self->cfg = cfg;
    self->window = (uint64_t) cfg_int(cfg, "window");
    self->ring = calloc(self->window, sizeof *self->ring);
    self->qcap = 2 * self->window;
    self->queue = calloc(self->qcap, sizeof *self->queue);
    assert(self->ring && self->queue);
    randombytes_buf(&self->epoch, sizeof self->epoch);
    self->epoch = (self->epoch >> 1) | 1;   /* nonzero, fits a signed 64-bit integer too */
    self->producers = zhashx_new();
    self->workers = zhashx_new();
    self->rota = zlistx_new();
    self->gone = zlistx_new();
    self->credit = credit_new(self->window, (uint64_t) cfg_int(cfg, "producer-window"));
    credit_set_open(self->credit, false);
    wire_packer_init(&self->out);
    self->front = s_bind_router(cfg_str(cfg, "frontend"));
    self->back = s_bind_router(cfg_str(cfg, "backend"));
    if (!self->front || !self->back) {
        broker_destroy(&self);
        return NULL;
    }
    self->fh = zsock_resolve(self->front);
    self->bh = zsock_resolve(self->back);
    at_err mrc;
    self->metrics = broker_metrics_new(cfg_str(cfg, "metrics"), &mrc);
    if (mrc != AT_OK) {
        broker_destroy(&self);
        return NULL;
    }
    at_log_info("BRK-START", "broker up: frontend %s, backend %s, window %" PRIu64 ", epoch %" PRIu64,
                cfg_str(cfg, "frontend"), cfg_str(cfg, "backend"), self->window, self->epoch);
    return self;
}

void broker_destroy(broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_t *self = *self_p;
    for (uint64_t i = 0; i < self->window; i++)
        free(self->ring[i].att);
    free(self->ring);
    free(self->queue);
    if (self->producers) {
        for (producer_t *p = zhashx_first(self->producers); p; p = zhashx_next(self->producers))
            s_producer_free((void **) &p);
        zhashx_destroy(&self->producers);
    }
    if (self->gone) {
        for (producer_t *p = zlistx_first(self->gone); p; p = zlistx_next(self->gone))
            s_producer_free((void **) &p);
        zlistx_destroy(&self->gone);
    }
    if (self->workers) {
        for (worker_t *w = zhashx_first(self->workers); w; w = zhashx_next(self->workers))
            free(w);
        zhashx_destroy(&self->workers);
    }
    zlistx_destroy(&self->rota);
    broker_metrics_destroy(&self->metrics);
    credit_destroy(&self->credit);
    wire_packer_destroy(&self->out);
    zsock_destroy(&self->front);
    zsock_destroy(&self->back);
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
    int64_t us = cfg_int(self->cfg, self->q_len > 0 ? "saturated-batch-us" : "batch-us");
    if (us > 0)
        usleep((useconds_t) us);
}

at_err broker_run(broker_t *self)
{
    zpoller_t *poller = zpoller_new(self->front, self->back, NULL);
    assert(poller);
    uint64_t last_tick = at_clock_mono_us();
    int tick_ms = (int) cfg_int(self->cfg, "heartbeat-ms");
    while (!zsys_interrupted) {
        zpoller_wait(poller, tick_ms < 100 ? tick_ms : 100);
        if (zpoller_terminated(poller))
            break;
        bool busy = true;
        int turns = 0;
        while (busy && !zsys_interrupted) {
            busy = false;
            if (turns++ > 0)
                s_batch_pause(self);
            for (int i = 0; i < S_TURN_MAX && s_recv_one(self, self->bh, s_on_backend_msg, "backend"); i++)
                busy = true;
            for (int i = 0; i < S_TURN_MAX && s_recv_one(self, self->fh, s_on_frontend_msg, "frontend"); i++)
                busy = true;
            s_dispatch(self);
            s_metrics(self);
        }
        s_timers(self, &last_tick);
    }
    s_log_stats(self);
    at_log_info("BRK-STOP", "broker stopping");
    zpoller_destroy(&poller);
    return AT_OK;
}
