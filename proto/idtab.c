/*  idtab.c: id -> index map (see idtab.h). */
#include "idtab.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct idtab_t {
    idtab_entry_t *slots;
    size_t cap;                  /* a power of two */
    size_t count;
};

static uint64_t s_hash(const uint8_t *id)
{
    uint64_t h;
    memcpy(&h, id, sizeof h);
    return h;
}

idtab_t *idtab_new(size_t capacity_hint)
{
    idtab_t *self = calloc(1, sizeof *self);
    assert(self);
    self->cap = 64;
    while (self->cap < 2 * capacity_hint)
        self->cap *= 2;
    self->slots = calloc(self->cap, sizeof *self->slots);
    assert(self->slots);
    return self;
}

void idtab_destroy(idtab_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

static idtab_entry_t *s_find(const idtab_t *self, const uint8_t *id)
{
    size_t mask = self->cap - 1;
    for (size_t i = s_hash(id) & mask;; i = (i + 1) & mask) {
        idtab_entry_t *e = &self->slots[i];
        if (!e->index_plus_1 || memcmp(e->id, id, AT_ID_BYTES) == 0)
            return e;
    }
}

static void s_grow(idtab_t *self)
{
    idtab_entry_t *old = self->slots;
    size_t old_cap = self->cap;
    self->cap *= 2;
    self->slots = calloc(self->cap, sizeof *self->slots);
    assert(self->slots);
    self->count = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].index_plus_1)
            idtab_put(self, old[i].id, old[i].index_plus_1 - 1);
    free(old);
}

void idtab_put(idtab_t *self, const uint8_t id[AT_ID_BYTES], uint64_t index)
{
    if (2 * (self->count + 1) > self->cap)
        s_grow(self);
    idtab_entry_t *e = s_find(self, id);
    if (!e->index_plus_1) {
        memcpy(e->id, id, AT_ID_BYTES);
        self->count++;
    }
    e->index_plus_1 = index + 1;
}

bool idtab_get(const idtab_t *self, const uint8_t id[AT_ID_BYTES], uint64_t *index)
{
    const idtab_entry_t *e = s_find(self, id);
    if (!e->index_plus_1)
        return false;
    *index = e->index_plus_1 - 1;
    return true;
}

size_t idtab_count(const idtab_t *self) { return self->count; }

void idtab_clear(idtab_t *self)
{
    memset(self->slots, 0, self->cap * sizeof *self->slots);
    self->count = 0;
}

/*  Keeps the entries with lo <= index < hi. */
static void s_keep(idtab_t *self, uint64_t lo, uint64_t hi)
{
    idtab_entry_t *keep = malloc(self->count * sizeof *keep + 1);
    assert(keep);
    size_t n = 0;
    for (size_t i = 0; i < self->cap; i++) {
        uint64_t index = self->slots[i].index_plus_1 - 1;
        if (self->slots[i].index_plus_1 && index >= lo && index < hi)
            keep[n++] = self->slots[i];
    }
    idtab_clear(self);
    for (size_t i = 0; i < n; i++)
        idtab_put(self, keep[i].id, keep[i].index_plus_1 - 1);
    free(keep);
}

void idtab_drop_from(idtab_t *self, uint64_t from) { s_keep(self, 0, from); }
void idtab_drop_below(idtab_t *self, uint64_t below) { s_keep(self, below, UINT64_MAX); }

static int s_cmp(const void *a, const void *b)
{
    return memcmp(((const idtab_entry_t *) a)->id, ((const idtab_entry_t *) b)->id, AT_ID_BYTES);
}

idtab_entry_t *idtab_sorted(const idtab_t *self)
{
    idtab_entry_t *out = malloc(self->count * sizeof *out + 1);
    assert(out);
    size_t n = 0;
    for (size_t i = 0; i < self->cap; i++)
        if (self->slots[i].index_plus_1)
            out[n++] = self->slots[i];
    qsort(out, n, sizeof *out, s_cmp);
    return out;
}
