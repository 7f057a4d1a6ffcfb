/*  tasks.c: the task ring and dispatch queue (see tasks.h).
 *
 *  The queue is a deque of sequence numbers of twice the window. Entries go
 *  stale when a queued task is acknowledged (a new sink answered it from
 *  its log) or requeued twice; tasks_pop skips them, and a full deque is
 *  rebuilt from the ring in seq order.
 *
 *  A GAP (tasks_gap) goes through the same requeue loop as the others,
 *  over its range only, and leaves a DISPATCHED task's worker in
 *  moved_from; tasks_requeue_worker scans for those of a worker that is
 *  gone (it scans the ring anyway).
 *
 *  Two counters keep the poison bookkeeping off the hot path: suspects
 *  (tasks whose count is above 0, not poison) and poison_pending (tasks in
 *  TASK_POISON); the ring is scanned for either only while it is non-zero.
 */
#include "tasks.h"
#include "alloc.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct tasks_t {
    task_t *ring;
    uint64_t window;
    uint64_t base, next_seq;
    uint64_t *queue;
    uint64_t qcap, q_head, q_len;
    tasks_released_fn *released;
    void *ctx;
    uint32_t poison_after;          /* 0: never */
    uint64_t suspects, poison_pending;
    uint64_t poisoned;              /* tasks judged poison, ever */
};

tasks_t *tasks_new(uint64_t window, tasks_released_fn *released, void *ctx)
{
    assert(window >= 1);
    tasks_t *self = at_calloc(1, sizeof *self);
    self->window = window;
    self->ring = at_calloc(window, sizeof *self->ring);
    self->qcap = 2 * window;
    self->queue = at_calloc(self->qcap, sizeof *self->queue);
    self->released = released;
    self->ctx = ctx;
    return self;
}

void tasks_destroy(tasks_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tasks_t *self = *self_p;
    for (uint64_t i = 0; i < self->window; i++)
        free(self->ring[i].att);
    free(self->ring);
    free(self->queue);
    free(self);
    *self_p = NULL;
}

void tasks_set_poison(tasks_t *self, uint32_t deliveries) { self->poison_after = deliveries; }

uint64_t tasks_window(const tasks_t *self) { return self->window; }
uint64_t tasks_base(const tasks_t *self) { return self->base; }
uint64_t tasks_next_seq(const tasks_t *self) { return self->next_seq; }
uint64_t tasks_held(const tasks_t *self) { return self->next_seq - self->base; }
uint64_t tasks_queued(const tasks_t *self) { return self->q_len; }
bool tasks_full(const tasks_t *self) { return self->next_seq - self->base >= self->window; }

static task_t *s_slot(tasks_t *self, uint64_t seq) { return &self->ring[seq % self->window]; }

static bool s_in_ring(const tasks_t *self, uint64_t seq) { return seq >= self->base && seq < self->next_seq; }

void tasks_restart_at(tasks_t *self, uint64_t seq)
{
    assert(self->base == self->next_seq && "renumbering a ring that holds tasks");
    assert(self->suspects == 0 && self->poison_pending == 0);
    self->base = self->next_seq = seq;
    self->q_head = self->q_len = 0;
}

/*  Rebuilds the queue from the ring: every QUEUED task, in seq order. */
static void s_compact(tasks_t *self)
{
    self->q_head = 0;
    self->q_len = 0;
    for (uint64_t seq = self->base; seq < self->next_seq; seq++)
        if (s_slot(self, seq)->state == TASK_QUEUED)
            self->queue[self->q_len++] = seq;
}

static void s_push_back(tasks_t *self, uint64_t seq)
{
    if (self->q_len == self->qcap) {
        s_compact(self);
        return;
    }
    self->queue[(self->q_head + self->q_len) % self->qcap] = seq;
    self->q_len++;
}

static void s_push_front(tasks_t *self, uint64_t seq)
{
    if (self->q_len == self->qcap) {
        s_compact(self);
        return;
    }
    self->q_head = (self->q_head + self->qcap - 1) % self->qcap;
    self->queue[self->q_head] = seq;
    self->q_len++;
}

task_t *tasks_admit(tasks_t *self, struct producer_t *producer, uint64_t cseq, uint64_t t_received,
                    const uint8_t *att, size_t att_len)
{
    if (tasks_full(self))
        return NULL;
    task_t *t = s_slot(self, self->next_seq);
    assert(t->state == TASK_FREE);
    *t = (task_t) { .state = TASK_QUEUED, .seq = self->next_seq++, .producer = producer, .cseq = cseq,
                    .t_received = t_received };
    t->att = at_malloc(att_len ? att_len : 1);
    memcpy(t->att, att, att_len);
    t->att_len = (uint32_t) att_len;
    s_push_back(self, t->seq);
    return t;
}

task_t *tasks_get(tasks_t *self, uint64_t seq) { return s_in_ring(self, seq) ? s_slot(self, seq) : NULL; }

task_t *tasks_pop(tasks_t *self)
{
    while (self->q_len) {
        uint64_t seq = self->queue[self->q_head];
        self->q_head = (self->q_head + 1) % self->qcap;
        self->q_len--;
        if (s_in_ring(self, seq) && s_slot(self, seq)->state == TASK_QUEUED)
            return s_slot(self, seq);
    }
    return NULL;
}

void tasks_unpop(tasks_t *self, task_t *t)
{
    assert(t->state == TASK_QUEUED);
    s_push_front(self, t->seq);
}

void tasks_dispatched(tasks_t *self, task_t *t, struct worker_t *worker, uint64_t now_wall, uint64_t now_mono)
{
    (void) self;
    assert(t->state == TASK_QUEUED && !t->poison);
    t->state = TASK_DISPATCHED;
    t->worker = worker;
    if (t->moved_from == worker)   /* back with the worker a GAP took it from: held again, charged as held */
        t->moved_from = NULL;
    t->t_dispatched = now_wall;
    t->t_state = now_mono;
}

bool tasks_verified(tasks_t *self, uint64_t seq, const struct worker_t *worker, uint64_t now_mono,
                    uint64_t *waited)
{
    task_t *t = tasks_get(self, seq);
    if (!t || t->state != TASK_DISPATCHED || t->worker != worker)
        return false;
    *waited = now_mono - t->t_state;
    if (t->failures)   /* a DONE: the count of deliveries in a row starts again */
        self->suspects--;
    t->failures = 0;
    t->moved_from = NULL;
    t->state = TASK_VERIFIED;
    t->t_state = now_mono;
    t->worker = NULL;
    return true;
}

/*  The task leaves its worker without a DONE. */
static void s_release(tasks_t *self, task_t *t)
{
    if (t->state == TASK_DISPATCHED && t->worker && self->released)
        self->released(self->ctx, t->worker);
    t->worker = NULL;
}

task_t *tasks_ack(tasks_t *self, uint64_t seq)
{
    task_t *t = tasks_get(self, seq);
    if (!t || t->state == TASK_ACKED || t->state == TASK_FREE)
        return NULL;
    s_release(self, t);
    if (t->state == TASK_POISON)   /* answered before it went out (from the log) */
        self->poison_pending--;
    t->state = TASK_ACKED;   /* if still queued, tasks_pop skips it */
    return t;
}

uint64_t tasks_advance(tasks_t *self, tasks_freed_fn *freed, void *ctx)
{
    uint64_t n = 0;
    while (self->base < self->next_seq) {
        task_t *t = s_slot(self, self->base);
        if (t->state != TASK_ACKED)
            break;
        if (freed)
            freed(ctx, t->producer);
        if (t->failures && !t->poison)
            self->suspects--;
        free(t->att);
        memset(t, 0, sizeof *t);
        self->base++;
        n++;
    }
    return n;
}

/*  The delivery of t ended with its worker's death: one more in a row.
 *  A task already judged poison is charged no more. */
static void s_charge(tasks_t *self, task_t *t)
{
    if (t->poison)
        return;
    if (t->failures == 0)
        self->suspects++;
    if (t->failures < UINT16_MAX)
        t->failures++;
    if (self->poison_after && t->failures >= self->poison_after) {
        t->poison = true;
        self->suspects--;
        self->poisoned++;
    }
}

typedef bool(s_match_fn)(const task_t *t, const void *arg, uint64_t now);

/*  What a requeue does to the worker of a DISPATCHED task besides
 *  releasing it: nothing, charge the task with its death, or remember it
 *  (a GAP moved the task away: tasks_gap). */
typedef enum { S_RELEASE, S_CHARGE, S_MOVE } s_how;

/*  The one requeue loop, over the seqs [from, to) of the ring: from the top
 *  down, so that pushing each at the front leaves them in seq order. A
 *  poison task goes to TASK_POISON (for the sink) instead of the queue. */
static size_t s_requeue_if(tasks_t *self, uint64_t from, uint64_t to, s_match_fn *match, const void *arg,
                           uint64_t now, s_how how)
{
    size_t n = 0;
    from = from > self->base ? from : self->base;
    to = to < self->next_seq ? to : self->next_seq;
    for (uint64_t seq = to; seq-- > from;) {
        task_t *t = s_slot(self, seq);
        if ((t->state != TASK_DISPATCHED && t->state != TASK_VERIFIED) || !match(t, arg, now))
            continue;
        bool held = t->state == TASK_DISPATCHED;
        if (held && how == S_MOVE)
            t->moved_from = t->worker;
        s_release(self, t);
        if (held && how == S_CHARGE)
            s_charge(self, t);
        n++;
        if (t->poison) {
            t->state = TASK_POISON;
            self->poison_pending++;
            continue;
        }
        t->state = TASK_QUEUED;
        s_push_front(self, seq);
    }
    return n;
}

/*  `worker` is gone: the tasks a GAP moved away from it before their DONE
 *  forget it, and with `charge` its death counts against them as if they
 *  were still its (a queued one that so becomes poison goes to the sink). */
static void s_forget_moved(tasks_t *self, const struct worker_t *worker, bool charge)
{
    for (uint64_t seq = self->base; seq < self->next_seq; seq++) {
        task_t *t = s_slot(self, seq);
        if (t->moved_from != worker)
            continue;
        t->moved_from = NULL;
        if (!charge || (t->state != TASK_QUEUED && t->state != TASK_DISPATCHED))
            continue;
        s_charge(self, t);
        if (t->poison && t->state == TASK_QUEUED) {   /* its queue entry goes stale */
            t->state = TASK_POISON;
            self->poison_pending++;
        }
    }
}

static bool s_held_by(const task_t *t, const void *worker, uint64_t now)
{
    (void) now;
    return t->state == TASK_DISPATCHED && t->worker == worker;
}

typedef struct {
    uint64_t limit, held_from, held_to;
} s_older_t;

static bool s_older(const task_t *t, const void *arg, uint64_t now)
{
    const s_older_t *o = arg;
    return now - t->t_state > o->limit && (t->seq < o->held_from || t->seq >= o->held_to);
}

static bool s_any(const task_t *t, const void *arg, uint64_t now)
{
    (void) t, (void) arg, (void) now;
    return true;
}

size_t tasks_requeue_worker(tasks_t *self, const struct worker_t *worker, bool charge)
{
    size_t n = s_requeue_if(self, self->base, self->next_seq, s_held_by, worker, 0, charge ? S_CHARGE : S_RELEASE);
    s_forget_moved(self, worker, charge);
    return n;
}

size_t tasks_requeue_older(tasks_t *self, uint64_t now_mono, uint64_t older_than_us, uint64_t held_from,
                           uint64_t held_to)
{
    s_older_t o = { older_than_us, held_from, held_to };
    return s_requeue_if(self, self->base, self->next_seq, s_older, &o, now_mono, S_RELEASE);
}

size_t tasks_requeue_all(tasks_t *self)
{
    return s_requeue_if(self, self->base, self->next_seq, s_any, NULL, 0, S_RELEASE);
}

/*  A GAP may take t: in its state long enough, and not a DISPATCHED one
 *  moved before and not reported since, nor a DISPATCHED suspect (alone on
 *  its worker so that a death is charged to it: moving it would let it
 *  kill another worker before the first death is counted). */
static bool s_gap_due(const task_t *t, const void *arg, uint64_t now)
{
    uint64_t min_age = *(const uint64_t *) arg;
    if (t->state == TASK_DISPATCHED && (t->moved_from || t->failures))
        return false;
    return now - t->t_state >= min_age;
}

size_t tasks_gap(tasks_t *self, uint64_t first, uint64_t count, uint64_t now_mono, uint64_t min_age_us)
{
    uint64_t end = first + count < first ? UINT64_MAX : first + count;
    return s_requeue_if(self, first, end, s_gap_due, &min_age_us, now_mono, S_MOVE);
}

uint64_t tasks_suspects(const tasks_t *self) { return self->suspects; }

bool tasks_holds_suspect(const tasks_t *self, const struct worker_t *worker)
{
    if (self->suspects == 0)
        return false;
    for (uint64_t seq = self->base; seq < self->next_seq; seq++) {
        const task_t *t = &self->ring[seq % self->window];
        if (t->state == TASK_DISPATCHED && t->failures && t->worker == worker)
            return true;
    }
    return false;
}

uint64_t tasks_poison_pending(const tasks_t *self) { return self->poison_pending; }
uint64_t tasks_poison_count(const tasks_t *self) { return self->poisoned; }

size_t tasks_poisoned(tasks_t *self, task_t **out, size_t max)
{
    size_t n = 0;
    for (uint64_t seq = self->base; self->poison_pending && seq < self->next_seq && n < max; seq++)
        if (s_slot(self, seq)->state == TASK_POISON)
            out[n++] = s_slot(self, seq);
    return n;
}

void tasks_poison_sent(tasks_t *self, task_t *t, uint64_t now_mono)
{
    assert(t->state == TASK_POISON && t->poison);
    t->state = TASK_VERIFIED;
    t->t_state = now_mono;
    self->poison_pending--;
}
