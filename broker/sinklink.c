/*  sinklink.c: the sink session and the epoch (see sinklink.h). */
#include "sinklink.h"
#include "alloc.h"
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define S_RID_MAX 256

struct sinklink_t {
    uint64_t epoch;
    bool have_sink;
    bool confirmed;
    char instance[WIRE_NAME_MAX + 1];
    uint8_t rid[S_RID_MAX];
    wire_peer_t peer;
    uint64_t last_seen;
    uint64_t timeout_us;
    bool lost;
    uint64_t held_from, held_to;   /* what the sink holds uncommitted (its latest SINK_HELLO of our epoch) */
};

uint64_t sinklink_random_epoch(void)
{
    uint64_t e;
    randombytes_buf(&e, sizeof e);
    return (e >> 1) | 1;   /* nonzero, fits a signed 64-bit integer too */
}

sinklink_t *sinklink_new(uint64_t epoch, uint64_t timeout_us)
{
    sinklink_t *self = at_calloc(1, sizeof *self);
    self->epoch = epoch;
    self->timeout_us = timeout_us;
    self->peer.rid = self->rid;
    self->peer.name = "sink";
    return self;
}

void sinklink_destroy(sinklink_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

static bool s_same(const sinklink_t *self, const wire_sink_hello_t *h)
{
    return self->have_sink && strlen(self->instance) == h->instance_len
           && memcmp(self->instance, h->instance, h->instance_len) == 0;
}

/*  The current sink, confirming our epoch: if its watermark is the one we
 *  offered, admission opens; else we offer its watermark instead. */
static void s_confirm(sinklink_t *self, const wire_sink_hello_t *h, uint64_t next_seq, sinklink_plan_t *plan)
{
    if (h->next_seq != next_seq) {
        plan->renumber = true;
        plan->start = h->next_seq;
        return;   /* offered again in the SINK_WELCOME that follows */
    }
    self->confirmed = true;
    plan->confirmed = true;
}

/*  Another instance than the one we know. */
static void s_register(sinklink_t *self, const wire_sink_hello_t *h, sinklink_plan_t *plan)
{
    if (!self->have_sink || !self->confirmed) {
        plan->renumber = true;   /* nothing admitted yet */
        plan->start = h->next_seq;
    } else {
        plan->requeue = true;
    }
    memcpy(self->instance, h->instance, h->instance_len);
    self->instance[h->instance_len] = 0;
    self->have_sink = true;
    plan->registered = true;
}

sinklink_plan_t sinklink_hello(sinklink_t *self, const uint8_t *rid, size_t rid_len, const wire_sink_hello_t *h,
                               uint64_t next_seq, uint64_t now)
{
    sinklink_plan_t plan = { 0 };
    bool same = s_same(self, h);
    self->last_seen = now;
    if (self->lost) {
        self->lost = false;
        plan.recovered = self->confirmed;
    }
    if (same && !self->confirmed && h->epoch == self->epoch)
        s_confirm(self, h, next_seq, &plan);   /* sent after it adopted our epoch */
    self->peer.rid_len = rid_len < S_RID_MAX ? rid_len : S_RID_MAX;
    memcpy(self->rid, rid, self->peer.rid_len);
    if (!same)
        s_register(self, h, &plan);
    self->held_from = self->held_to = 0;
    if (h->epoch == self->epoch) {   /* else its buffer is of another numbering */
        self->held_from = h->next_seq;
        self->held_to = h->next_seq + (h->held < h->window ? h->held : h->window);
    }
    plan.welcome.epoch = self->epoch;
    plan.welcome.first_seq = self->confirmed ? h->next_seq : plan.renumber ? plan.start : next_seq;
    return plan;
}

bool sinklink_accepts(const sinklink_t *self, const uint8_t *rid, size_t rid_len, uint64_t epoch)
{
    return self->have_sink && rid_len == self->peer.rid_len && memcmp(rid, self->rid, rid_len) == 0
           && epoch == self->epoch;
}

void sinklink_seen(sinklink_t *self, uint64_t now) { self->last_seen = now; }

bool sinklink_check(sinklink_t *self, uint64_t now)
{
    if (!self->have_sink || self->lost || now - self->last_seen <= self->timeout_us)
        return false;
    self->lost = true;
    return true;
}

bool sinklink_up(const sinklink_t *self) { return self->have_sink && self->confirmed && !self->lost; }

bool sinklink_held(const sinklink_t *self, uint64_t *from, uint64_t *to)
{
    bool up = sinklink_up(self);
    *from = up ? self->held_from : 0;
    *to = up ? self->held_to : 0;
    return up && *to > *from;
}
uint64_t sinklink_silent_us(const sinklink_t *self, uint64_t now) { return now - self->last_seen; }

bool sinklink_is_sink(const sinklink_t *self, const uint8_t *rid, size_t rid_len)
{
    return self->have_sink && rid_len == self->peer.rid_len && memcmp(rid, self->rid, rid_len) == 0;
}

uint64_t sinklink_epoch(const sinklink_t *self) { return self->epoch; }
bool sinklink_confirmed(const sinklink_t *self) { return self->confirmed; }
bool sinklink_registered(const sinklink_t *self) { return self->have_sink; }
const char *sinklink_instance(const sinklink_t *self) { return self->instance; }
const wire_peer_t *sinklink_peer(const sinklink_t *self) { return &self->peer; }
