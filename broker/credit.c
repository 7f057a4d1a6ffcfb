/*  credit.c: fair admission credit (see credit.h). */
#include "credit.h"
#include "alloc.h"
#include <assert.h>
#include <stdlib.h>

struct credit_t {
    uint64_t capacity;
    uint64_t max_window;
    uint64_t in_use;        /* sum over accounts of granted + held */
    uint64_t active;        /* accounts joined and not left */
    bool open;
};

credit_t *credit_new(uint64_t capacity, uint64_t max_window)
{
    credit_t *self = at_calloc(1, sizeof *self);
    self->capacity = capacity;
    self->max_window = max_window;
    self->open = true;
    return self;
}

void credit_destroy(credit_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

void credit_set_open(credit_t *self, bool open) { self->open = open; }

void credit_join(credit_t *self, credit_account_t *a)
{
    assert(!a->active);
    a->active = true;
    a->granted = 0;
    a->held = 0;
    self->active++;
}

void credit_leave(credit_t *self, credit_account_t *a)
{
    if (!a->active)
        return;
    a->active = false;
    self->in_use -= a->granted;
    a->granted = 0;
    self->active--;
}

bool credit_take(credit_t *self, credit_account_t *a)
{
    (void) self;
    if (!a->active || a->granted == 0)
        return false;
    a->idle = false;
    a->granted--;
    a->held++;
    return true;
}

void credit_refund(credit_t *self, credit_account_t *a)
{
    assert(a->held > 0);
    a->held--;
    if (a->active)
        a->granted++;
    else
        self->in_use--;
}

void credit_release(credit_t *self, credit_account_t *a, uint64_t n)
{
    assert(a->held >= n && self->in_use >= n);
    a->held -= n;
    self->in_use -= n;
}

uint64_t credit_limit(const credit_t *self)
{
    uint64_t share = self->capacity / (self->active ? self->active : 1);
    return share < self->max_window ? share : self->max_window;
}

uint64_t credit_return(credit_t *self, credit_account_t *a, uint64_t n)
{
    if (n > a->granted)
        n = a->granted;
    a->granted -= n;
    if (a->active)
        self->in_use -= n;
    return n;
}

uint64_t credit_reclaim(credit_t *self, credit_account_t *a, bool idle)
{
    if (!a->active || a->granted == 0)
        return 0;
    uint64_t limit = credit_limit(self), step = limit / 4 ? limit / 4 : 1;
    if (self->capacity - self->in_use >= step)
        return 0;   /* the pool is not short */
    uint64_t want = 0;
    if (idle) {
        uint64_t reserve = limit / 16 ? limit / 16 : 1;
        want = a->granted > reserve ? a->granted - reserve : 0;
        a->idle = true;
    }
    uint64_t have = a->granted + a->held;
    if (have > limit && have - limit > want)
        want = have - limit;
    return want < a->granted ? want : a->granted;
}

uint64_t credit_topup(credit_t *self, credit_account_t *a)
{
    if (!self->open || !a->active || a->idle)
        return 0;
    uint64_t limit = credit_limit(self);
    uint64_t have = a->granted + a->held;
    if (have >= limit)
        return 0;
    uint64_t want = limit - have;
    uint64_t step = limit / 4 ? limit / 4 : 1;
    if (want < step && have > 0)
        return 0;
    uint64_t free_cap = self->capacity - self->in_use;
    if (want > free_cap)
        want = free_cap;
    if (want == 0 || (want < step && have > 0))
        return 0;
    a->granted += want;
    self->in_use += want;
    return want;
}

uint64_t credit_in_use(const credit_t *self) { return self->in_use; }
uint64_t credit_active(const credit_t *self) { return self->active; }
uint64_t credit_granted(const credit_account_t *a) { return a->granted; }
uint64_t credit_held(const credit_account_t *a) { return a->held; }
bool credit_is_idle(const credit_account_t *a) { return a->idle; }
