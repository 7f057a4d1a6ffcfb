/*  workers.c: the worker registry and the dispatch choice (see workers.h). */
#include "workers.h"
#include "alloc.h"
#include "log.h"
#include <czmq.h>
#include <sodium.h>

#define S_RID_MAX 256
#define S_KEY_MAX (2 * S_RID_MAX + 1)

struct worker_t {
    char id[WIRE_NAME_MAX + 1];
    char ident[WIRE_NAME_MAX + 1];   /* the quarantine's identity (workers_set_identity); "": its id */
    char key[S_KEY_MAX];
    uint8_t rid[S_RID_MAX];
    wire_peer_t peer;
    uint64_t credit;            /* tasks it will still take */
    uint64_t inflight;          /* tasks it holds */
    uint64_t cap;               /* most tasks it may hold now (congestion window): min(granted, bdp + room) */
    uint64_t room;              /* the part for the worker's own time (AIMD against the target) */
    uint64_t bdp;               /* the part on the wire: rate x rtt (a quarter more while probing) */
    uint64_t granted;           /* the credit it announced in READY */
    uint64_t last_cut;          /* mono us of the last decrease of room */
    uint64_t rtt_us;            /* network round trip estimate; 0: none yet */
    uint64_t rtt_min[2];        /* least sample of the current and the previous period */
    uint64_t rtt_period;        /* mono us the current period began */
    uint64_t rate;              /* tasks per second it completes: the most of the last one to two periods */
    uint64_t rate_hi[2];        /* the most of the current and the previous period */
    uint64_t rate_period;       /* mono us the current period began */
    uint64_t rate_n, rate_t0;   /* tasks completed since rate_t0 (mono us) */
    uint64_t reported;
    uint64_t last_seen;
    uint64_t blocked_since;     /* mono us its block began, by its first BLOCKED (0: not blocked) */
    uint64_t blocked_ms;        /* the blocked time it reported last */
    bool draining;
    void *handle;               /* in workers_t.rota */
};

struct workers_t {
    zhashx_t *byrid;            /* hex routing id -> worker_t */
    zlistx_t *rota;             /* the same workers, in dispatch order */
    zhashx_t *quarantined;      /* identity (NUL-terminated) -> itself: refused workers */
    size_t chunk;
    uint64_t target_us, timeout_us;
};

static void s_key(const uint8_t *rid, size_t len, char *key)
{
    sodium_bin2hex(key, S_KEY_MAX, rid, len < S_RID_MAX ? len : S_RID_MAX);
}

workers_t *workers_new(size_t chunk, uint64_t target_us, uint64_t timeout_us)
{
    workers_t *self = at_calloc(1, sizeof *self);
    self->byrid = zhashx_new();
    self->rota = zlistx_new();
    self->quarantined = zhashx_new();
    if (!self->byrid || !self->rota || !self->quarantined)
        abort();
    self->chunk = chunk;
    self->target_us = target_us;
    self->timeout_us = timeout_us;
    return self;
}

void workers_destroy(workers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    workers_t *self = *self_p;
    for (worker_t *w = zlistx_first(self->rota); w; w = zlistx_next(self->rota))
        free(w);
    zlistx_destroy(&self->rota);
    zhashx_destroy(&self->byrid);
    zhashx_destroy(&self->quarantined);
    free(self);
    *self_p = NULL;
}

static worker_t *s_add(workers_t *self, const uint8_t *rid, size_t rid_len, const char *key)
{
    worker_t *w = at_calloc(1, sizeof *w);
    snprintf(w->key, sizeof w->key, "%s", key);
    w->peer.rid_len = rid_len < S_RID_MAX ? rid_len : S_RID_MAX;
    memcpy(w->rid, rid, w->peer.rid_len);
    w->peer.rid = w->rid;
    w->peer.name = w->id;
    zhashx_insert(self->byrid, key, w);
    w->handle = zlistx_add_end(self->rota, w);
    return w;
}

/*  READY from a worker already registered: the same worker saying it again
 *  (its READY crossed our answers to what it sent before, or went out
 *  again after its backoff). Nothing it holds is requeued: it still judges
 *  and reports every task it was sent (ZeroMQ keeps their order). Its
 *  credit is what it announces less what it holds; its congestion window
 *  stays. */
static void s_ready_again(workers_t *self, worker_t *w, uint64_t credit)
{
    (void) self;
    bool was_draining = w->draining;
    w->draining = false;
    w->granted = credit;
    w->credit = credit > w->inflight ? credit - w->inflight : 0;
    if (w->cap > credit)
        w->cap = credit;
    if (w->room > credit)
        w->room = credit;
    at_log_limited(AT_LOG_INFO, "BRK-WORKER-AGAIN", "worker %s said READY again while registered%s: kept its %"
                   PRIu64 " tasks, credit %" PRIu64, w->id, was_draining ? " (drain ended)" : "", w->inflight,
                   w->credit);
}

worker_t *workers_ready(workers_t *self, const uint8_t *rid, size_t rid_len, const char *id, size_t id_len,
                        uint64_t credit, uint64_t now, bool *again)
{
    char key[S_KEY_MAX];
    s_key(rid, rid_len, key);
    worker_t *w = zhashx_lookup(self->byrid, key);
    *again = w != NULL;
    if (id_len > WIRE_NAME_MAX)
        id_len = WIRE_NAME_MAX;
    w = w ? w : s_add(self, rid, rid_len, key);
    memcpy(w->id, id, id_len);
    w->id[id_len] = 0;
    w->last_seen = now;
    if (*again) {
        s_ready_again(self, w, credit);
        return w;
    }
    w->credit = w->granted = credit;
    w->cap = w->room = credit < WORKERS_CAP_START ? credit : WORKERS_CAP_START;
    w->rtt_us = w->rate = w->rate_n = w->bdp = 0;
    w->rtt_min[0] = w->rtt_min[1] = UINT64_MAX;
    w->rate_hi[0] = w->rate_hi[1] = 0;
    w->rtt_period = w->rate_t0 = w->rate_period = now;
    at_log_info("BRK-WORKER", "worker %s ready with credit %" PRIu64 " (%zu workers)", w->id, credit,
                zhashx_size(self->byrid));
    return w;
}

bool workers_blocked(workers_t *self, worker_t *w, uint64_t blocked_ms, uint64_t now)
{
    (void) self;
    bool first = w->blocked_since == 0;
    if (first) {   /* when the block began, as the worker counts it (bounded: it comes off the wire) */
        uint64_t us = blocked_ms <= now / 1000 ? blocked_ms * 1000 : now;
        w->blocked_since = now - us ? now - us : 1;
    }
    w->blocked_ms = blocked_ms;
    return first;
}

uint64_t workers_unblocked(worker_t *w, uint64_t now)
{
    if (!w->blocked_since)
        return 0;
    uint64_t ms = now > w->blocked_since ? (now - w->blocked_since) / 1000 : 0;
    w->blocked_since = 0;
    w->blocked_ms = 0;
    return ms ? ms : 1;
}

worker_t *workers_find(workers_t *self, const uint8_t *rid, size_t rid_len, uint64_t now)
{
    char key[S_KEY_MAX];
    s_key(rid, rid_len, key);
    worker_t *w = zhashx_lookup(self->byrid, key);
    if (w)
        w->last_seen = now;
    return w;
}

/*  A round trip sample (dispatch to DONE, less the time the worker held
 *  the tasks): the estimate is the least sample of this period and the
 *  last (WORKERS_RTT_PERIOD_US each). Periods turn only when samples come,
 *  so an estimate is kept, not forgotten, while none do. */
static void s_rtt_sample(worker_t *w, uint64_t sample, uint64_t now)
{
    if (now - w->rtt_period >= WORKERS_RTT_PERIOD_US) {
        w->rtt_min[1] = w->rtt_min[0];
        w->rtt_min[0] = UINT64_MAX;
        w->rtt_period = now;
    }
    if (sample < w->rtt_min[0])
        w->rtt_min[0] = sample;
    w->rtt_us = w->rtt_min[0] < w->rtt_min[1] ? w->rtt_min[0] : w->rtt_min[1];
}

/*  The completion rate: counted over intervals of at least a round trip
 *  (and WORKERS_RATE_MIN_US), the most of this period and the last. The
 *  most, not the mean: a window cut for a moment lowers the rate it lets
 *  through, and a mean would make the next window smaller still. */
static void s_rate_sample(worker_t *w, size_t verified, uint64_t now)
{
    w->rate_n += verified;
    uint64_t span = now - w->rate_t0, min = w->rtt_us > WORKERS_RATE_MIN_US ? w->rtt_us : WORKERS_RATE_MIN_US;
    if (span < min)
        return;
    if (now - w->rate_period >= WORKERS_RTT_PERIOD_US) {
        w->rate_hi[1] = w->rate_hi[0];
        w->rate_hi[0] = 0;
        w->rate_period = now;
    }
    uint64_t r = w->rate_n * 1000000u / span;
    if (r > w->rate_hi[0])
        w->rate_hi[0] = r;
    w->rate = w->rate_hi[0] > w->rate_hi[1] ? w->rate_hi[0] : w->rate_hi[1];
    w->rate_n = 0;
    w->rate_t0 = now;
}

/*  AIMD on room, against the worker's own time: cut by a quarter (not
 *  below WORKERS_CAP_MIN, at most once per round trip + target, the time
 *  a cut takes to show) when it exceeds the target, else grow by a
 *  quarter of what was reported. Then cap = min(granted, bdp + room). */
static void s_adapt_cap(workers_t *self, worker_t *w, uint64_t own_us, size_t n, uint64_t now)
{
    if (own_us > self->target_us) {
        if (now - w->last_cut >= w->rtt_us + self->target_us) {
            w->room -= w->room / 4;
            if (w->room < WORKERS_CAP_MIN)
                w->room = WORKERS_CAP_MIN;
            w->last_cut = now;
        }
    } else if (n) {
        w->room += n / 4 ? n / 4 : 1;
        if (w->room > w->granted)
            w->room = w->granted;
    }
    /* While its own time is within the target, probe: a quarter more than
     * the rate it completes now (the rate a window allows is all it can
     * show; without the margin it would never show it could do more). */
    uint64_t bdp = w->rate * w->rtt_us / 1000000u;
    if (own_us <= self->target_us)
        bdp += bdp / 4;
    w->bdp = bdp;
    w->cap = bdp + w->room < w->granted ? bdp + w->room : w->granted;
}

/*  The worker's own time for this DONE: what it says it held the tasks
 *  (held_us, when known), else the round trip less the network's. */
static uint64_t s_own_time(const worker_t *w, uint64_t max_wait, uint64_t held_us)
{
    if (held_us)
        return held_us;
    return max_wait > w->rtt_us ? max_wait - w->rtt_us : 0;
}

bool workers_done(workers_t *self, worker_t *w, size_t verified, size_t reported, uint64_t max_wait_us,
                  uint64_t held_us, uint64_t credit, uint64_t now)
{
    w->reported += reported;
    w->inflight -= verified <= w->inflight ? verified : w->inflight;
    if (verified && held_us)
        s_rtt_sample(w, max_wait_us > held_us ? max_wait_us - held_us : 0, now);
    s_rate_sample(w, verified, now);
    s_adapt_cap(self, w, verified ? s_own_time(w, max_wait_us, held_us) : 0, reported, now);
    if (w->draining)
        return w->inflight == 0;
    w->credit += credit;
    return false;
}

bool workers_leave(workers_t *self, worker_t *w, bool *at_once)
{
    (void) self;
    *at_once = w->draining;
    if (w->draining)
        return true;
    w->draining = true;
    w->credit = 0;
    at_log_info("BRK-WORKER", "worker %s draining, %" PRIu64 " tasks still to report", w->id, w->inflight);
    return w->inflight == 0;
}

void workers_remove(workers_t *self, worker_t *w, const char *why, size_t requeued)
{
    at_log_info("BRK-WORKER", "worker %s left (%s), %zu tasks back in the queue", w->id, why, requeued);
    zhashx_delete(self->byrid, w->key);
    zlistx_delete(self->rota, w->handle);
    free(w);
}

void workers_released(worker_t *w)
{
    if (w->inflight)
        w->inflight--;
}

void workers_send_failed(worker_t *w) { w->credit = 0; }

/*  How many tasks w may get now out of `queued`, given an even `share`.
 *  A message is at most dispatch-chunk and at most room: the worker judges
 *  a message's tasks one after another, so one larger than what it may
 *  hold for its own time would overrun the target by itself (a worker far
 *  away holds much more than room, most of it on the wire). */
static size_t s_room(const workers_t *self, const worker_t *w, size_t queued, size_t share)
{
    if (!w->credit || w->inflight >= w->cap || w->blocked_since)
        return 0;   /* no room, or blocked on the sink: more would only wait in its queue */
    size_t chunk = w->room < self->chunk ? (size_t) w->room : self->chunk;
    size_t max = w->credit < chunk ? (size_t) w->credit : chunk;
    if (max > share)
        max = share;
    if (max > w->cap - w->inflight)
        max = (size_t) (w->cap - w->inflight);
    /* No dribbling: a worker that still holds a chunk (beyond what is on
     * the wire to it) gets a full one. */
    uint64_t holds = w->inflight > w->bdp ? w->inflight - w->bdp : 0;
    if (max < chunk && holds >= chunk && queued > max)
        return 0;
    return max;
}

/*  One pass over the rota; returns how many went out. */
static size_t s_round(workers_t *self, size_t *queued, workers_send_fn *send, void *ctx)
{
    size_t with_credit = 0, sent = 0;
    for (worker_t *w = zlistx_first(self->rota); w; w = zlistx_next(self->rota))
        with_credit += w->credit > 0;
    if (!with_credit)
        return 0;
    size_t share = (*queued + with_credit - 1) / with_credit;
    size_t rounds = zlistx_size(self->rota);
    for (size_t i = 0; i < rounds && *queued; i++) {
        worker_t *w = zlistx_first(self->rota);
        zlistx_move_end(self->rota, w->handle);
        size_t max = s_room(self, w, *queued, share);
        size_t n = max ? send(ctx, w, max) : 0;
        w->credit -= n;
        w->inflight += n;
        *queued -= n <= *queued ? n : *queued;
        sent += n;
    }
    return sent;
}

size_t workers_dispatch(workers_t *self, size_t queued, workers_send_fn *send, void *ctx)
{
    size_t total = 0, n = 1;
    while (queued && n) {
        n = s_round(self, &queued, send, ctx);
        total += n;
    }
    return total;
}

worker_t *workers_expired(workers_t *self, uint64_t now, const char **why)
{
    for (worker_t *w = zlistx_first(self->rota); w; w = zlistx_next(self->rota)) {
        /* A draining worker whose tasks were requeued or acknowledged
         * elsewhere (redelivery, a new sink) may reach 0 without a DONE. */
        if (w->draining && w->inflight == 0) {
            *why = "drained";
            return w;
        }
        if (now - w->last_seen > self->timeout_us) {
            *why = "silent";
            return w;
        }
    }
    return NULL;
}

/*  The identity quarantine knows a worker by: its authenticated key with
 *  CURVE ("key:" + Z85, set by the broker from the READY's handshake), else
 *  its worker_id (the sink's side is s_identity in sink/sink.c). */
static const char *s_identity(const worker_t *w) { return *w->ident ? w->ident : w->id; }

void workers_set_identity(worker_t *w, const char *ident)
{
    snprintf(w->ident, sizeof w->ident, "%s", ident ? ident : "");
}


/*  id[0..len) as a NUL-terminated key (at most WIRE_NAME_MAX bytes). */
static void s_identity_key(const char *id, size_t len, char key[WIRE_NAME_MAX + 1])
{
    len = len < WIRE_NAME_MAX ? len : WIRE_NAME_MAX;
    memcpy(key, id, len);
    key[len] = 0;
}

bool workers_quarantine(workers_t *self, const char *id, size_t len)
{
    char key[WIRE_NAME_MAX + 1];
    s_identity_key(id, len, key);
    if (zhashx_lookup(self->quarantined, key))
        return false;
    zhashx_insert(self->quarantined, key, (void *) "quarantined");
    at_log_warn("BRK-QUARANTINE", "worker %s quarantined by the sink's audit: no more tasks, READY refused", key);
    return true;
}

size_t workers_quarantine_clear(workers_t *self)
{
    size_t n = zhashx_size(self->quarantined);
    zhashx_purge(self->quarantined);
    return n;
}

bool workers_quarantined(const workers_t *self, const char *id, size_t len)
{
    char key[WIRE_NAME_MAX + 1];
    s_identity_key(id, len, key);
    return zhashx_lookup(self->quarantined, key) != NULL;
}

worker_t *workers_find_identity(workers_t *self, const char *id, size_t len)
{
    char key[WIRE_NAME_MAX + 1];
    s_identity_key(id, len, key);
    for (worker_t *w = zlistx_first(self->rota); w; w = zlistx_next(self->rota))
        if (strcmp(s_identity(w), key) == 0)
            return w;
    return NULL;
}

size_t workers_quarantined_count(const workers_t *self) { return zhashx_size(self->quarantined); }

worker_t *workers_first(workers_t *self) { return zlistx_first(self->rota); }
worker_t *workers_next(workers_t *self) { return zlistx_next(self->rota); }
const char *worker_id(const worker_t *w) { return w->id; }
const wire_peer_t *worker_peer(const worker_t *w) { return &w->peer; }
uint64_t worker_inflight(const worker_t *w) { return w->inflight; }
uint64_t worker_credit(const worker_t *w) { return w->credit; }
uint64_t worker_cap(const worker_t *w) { return w->cap; }
uint64_t worker_rtt_us(const worker_t *w) { return w->rtt_us; }
uint64_t worker_rate(const worker_t *w) { return w->rate; }
uint64_t worker_reported(const worker_t *w) { return w->reported; }
bool worker_draining(const worker_t *w) { return w->draining; }
uint64_t worker_blocked_ms(const worker_t *w) { return w->blocked_since ? w->blocked_ms : 0; }
size_t workers_count(const workers_t *self) { return zhashx_size(self->byrid); }
