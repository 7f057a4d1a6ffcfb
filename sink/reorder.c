/*  reorder.c: a fixed ring of verdict slots indexed by seq % window.
 *
 *  `ready` is kept incrementally: a put at base + ready extends the prefix
 *  over every slot already filled after it, so finding the ready count is
 *  O(1) and each slot is walked over once per fill.
 */
#include "reorder.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool filled;
    uint8_t verdict, reason;
    uint8_t producer_len, worker_len;
    uint8_t producer_key_len, worker_key_len;
    uint16_t att_len;
    uint64_t seq, cseq, t_received, t_dispatched, t_verified;
    uint8_t id[AT_ID_BYTES];
    char producer[WIRE_NAME_MAX];
    char worker[WIRE_NAME_MAX];
    uint8_t producer_key[WIRE_KEY_BYTES], worker_key[WIRE_KEY_BYTES];
    uint8_t *att;          /* att_len bytes, allocated while filled */
} s_slot_t;

struct reorder_t {
    s_slot_t *slots;
    size_t window;
    uint64_t base;
    size_t ready;     /* contiguous filled slots from base */
    size_t filled;    /* filled slots in the whole window */
};

reorder_t *reorder_new(size_t window, uint64_t base)
{
    if (window == 0 || window > REORDER_WINDOW_MAX)
        return NULL;
    reorder_t *self = calloc(1, sizeof *self);
    if (!self)
        abort();
    self->slots = calloc(window, sizeof *self->slots);
    if (!self->slots)
        abort();
    self->window = window;
    self->base = base;
    return self;
}

void reorder_destroy(reorder_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    reorder_reset(*self_p, 0);
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

static s_slot_t *s_slot(const reorder_t *self, uint64_t seq)
{
    return &self->slots[seq % self->window];
}

static void s_empty(s_slot_t *s)
{
    free(s->att);
    s->att = NULL;
    s->filled = false;
}

static void s_copy_in(s_slot_t *s, const reorder_item_t *it)
{
    s->seq = it->seq;
    s->cseq = it->cseq;
    s->t_received = it->t_received;
    s->t_dispatched = it->t_dispatched;
    s->t_verified = it->t_verified;
    s->verdict = it->verdict;
    s->reason = it->reason;
    memcpy(s->id, it->id, AT_ID_BYTES);
    s->producer_len = (uint8_t) it->producer_len;
    if (it->producer_len)
        memcpy(s->producer, it->producer, it->producer_len);
    s->worker_len = (uint8_t) it->worker_len;
    if (it->worker_len)
        memcpy(s->worker, it->worker, it->worker_len);
    s->producer_key_len = (uint8_t) it->producer_key_len;
    if (it->producer_key_len)
        memcpy(s->producer_key, it->producer_key, it->producer_key_len);
    s->worker_key_len = (uint8_t) it->worker_key_len;
    if (it->worker_key_len)
        memcpy(s->worker_key, it->worker_key, it->worker_key_len);
    s->att_len = (uint16_t) it->att_len;
    s->att = malloc(it->att_len + 1);
    if (!s->att)
        abort();
    if (it->att_len)
        memcpy(s->att, it->att, it->att_len);
    s->filled = true;
}

/*  Extends the ready prefix over the filled slots that follow it. */
static void s_extend_ready(reorder_t *self)
{
    while (self->ready < self->window && s_slot(self, self->base + self->ready)->filled)
        self->ready++;
}

reorder_rc reorder_put(reorder_t *self, const reorder_item_t *item)
{
    if (item->seq < self->base)
        return REORDER_BEHIND;
    if (item->seq - self->base >= self->window)
        return REORDER_OUT_OF_WINDOW;
    if (item->producer_len > WIRE_NAME_MAX || item->worker_len > WIRE_NAME_MAX
        || item->att_len > AT_ENCODED_MAX || item->producer_key_len > WIRE_KEY_BYTES
        || item->worker_key_len > WIRE_KEY_BYTES)
        return REORDER_TOO_LARGE;
    s_slot_t *s = s_slot(self, item->seq);
    if (s->filled)
        return REORDER_ALREADY;
    s_copy_in(s, item);
    self->filled++;
    if (item->seq == self->base + self->ready)
        s_extend_ready(self);
    return REORDER_OK;
}

size_t reorder_ready(const reorder_t *self) { return self->ready; }
size_t reorder_filled(const reorder_t *self) { return self->filled; }
uint64_t reorder_base(const reorder_t *self) { return self->base; }
size_t reorder_window(const reorder_t *self) { return self->window; }

const uint8_t *reorder_peek_id(const reorder_t *self, size_t i)
{
    return i < self->ready ? s_slot(self, self->base + i)->id : NULL;
}

int reorder_peek(const reorder_t *self, size_t i, reorder_item_t *out)
{
    if (i >= self->ready)
        return -1;
    const s_slot_t *s = s_slot(self, self->base + i);
    out->seq = s->seq;
    out->cseq = s->cseq;
    out->t_received = s->t_received;
    out->t_dispatched = s->t_dispatched;
    out->t_verified = s->t_verified;
    out->verdict = s->verdict;
    out->reason = s->reason;
    memcpy(out->id, s->id, AT_ID_BYTES);
    out->producer = s->producer;
    out->producer_len = s->producer_len;
    out->worker = s->worker;
    out->worker_len = s->worker_len;
    out->att = s->att;
    out->att_len = s->att_len;
    out->producer_key = s->producer_key;
    out->producer_key_len = s->producer_key_len;
    out->worker_key = s->worker_key;
    out->worker_key_len = s->worker_key_len;
    return 0;
}

/*  Adds the run of `run` empty slots ending before `end` to out. */
static void s_add_run(wire_range_t *out, size_t *n, uint64_t *seqs, uint64_t max_seqs, uint64_t end, uint64_t run)
{
    uint64_t count = run < max_seqs - *seqs ? run : max_seqs - *seqs;
    out[(*n)++] = (wire_range_t) { end - run, count };
    *seqs += count;
}

size_t reorder_missing(const reorder_t *self, wire_range_t *out, size_t max_ranges, uint64_t max_seqs)
{
    size_t n = 0, later = self->filled - self->ready;   /* filled slots beyond the prefix, still to pass */
    uint64_t seqs = 0, run = 0;                          /* empty slots in a row before seq */
    uint64_t seq = self->base + self->ready, end = self->base + self->window;
    for (; later && n < max_ranges && seqs < max_seqs; seq++) {
        if (!s_slot(self, seq)->filled) {
            run++;
            continue;
        }
        later--;
        if (run)
            s_add_run(out, &n, &seqs, max_seqs, seq, run);
        run = 0;
    }
    if (!later && n < max_ranges && seqs < max_seqs && end > seq)   /* the run above the highest filled slot */
        s_add_run(out, &n, &seqs, max_seqs, end, end - seq);
    return n;
}

size_t reorder_pop(reorder_t *self, size_t n)
{
    if (n > self->ready)
        n = self->ready;
    for (size_t i = 0; i < n; i++)
        s_empty(s_slot(self, self->base + i));
    self->base += n;
    self->ready -= n;
    self->filled -= n;
    /*  The rest of the prefix is still contiguous; slots beyond it may have
     *  been filled before the gap closed, which s_extend_ready already saw. */
    return n;
}

size_t reorder_drop_worker(reorder_t *self, const char *worker, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < self->window && self->filled; i++) {
        s_slot_t *s = &self->slots[i];
        if (s->filled && s->worker_len == len && memcmp(s->worker, worker, len) == 0) {
            s_empty(s);
            self->filled--;
            n++;
        }
    }
    self->ready = 0;
    s_extend_ready(self);
    return n;
}

size_t reorder_drop_worker_key(reorder_t *self, const uint8_t key[WIRE_KEY_BYTES])
{
    size_t n = 0;
    for (size_t i = 0; i < self->window && self->filled; i++) {
        s_slot_t *s = &self->slots[i];
        if (s->filled && s->worker_key_len == WIRE_KEY_BYTES && memcmp(s->worker_key, key, WIRE_KEY_BYTES) == 0) {
            s_empty(s);
            self->filled--;
            n++;
        }
    }
    self->ready = 0;
    s_extend_ready(self);
    return n;
}

void reorder_reset(reorder_t *self, uint64_t new_base)
{
    if (self->filled)
        for (size_t i = 0; i < self->window; i++)
            s_empty(&self->slots[i]);
    self->base = new_base;
    self->ready = 0;
    self->filled = 0;
}
