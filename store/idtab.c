/*  idtab.c: id -> index map (see idtab.h). */
#include "idtab.h"
#include "alloc.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct idtab_t {
    uint8_t (*ids)[AT_ID_BYTES];   /* ring: the id of index i at ids[i & (ids_cap - 1)] */
    size_t ids_cap;                /* a power of two */
    uint64_t lo, hi;               /* the entries are [lo, hi) */
    uint64_t *slots;               /* tag << 32 | (uint32_t) index; 0: empty */
    size_t cap;                    /* slots, a power of two, at least twice the entries */
};

static uint64_t s_hash(const uint8_t *id)
{
    uint64_t h;
    memcpy(&h, id, sizeof h);
    return h;
}

/*  Never 0, so that a used slot is never 0. */
static uint64_t s_tag(uint64_t h) { return ((h >> 32) | 1u) << 32; }

idtab_t *idtab_new(size_t capacity_hint)
{
    idtab_t *self = at_calloc(1, sizeof *self);
    self->ids_cap = 64;
    while (self->ids_cap < capacity_hint)
        self->ids_cap *= 2;
    self->cap = 2 * self->ids_cap;
    self->ids = at_calloc(self->ids_cap, AT_ID_BYTES);
    self->slots = at_calloc(self->cap, sizeof *self->slots);
    return self;
}

void idtab_destroy(idtab_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->ids);
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

static const uint8_t *s_id(const idtab_t *self, uint64_t index) { return self->ids[index & (self->ids_cap - 1)]; }

static void s_insert(idtab_t *self, const uint8_t *id, uint64_t index)
{
    uint64_t h = s_hash(id);
    size_t mask = self->cap - 1;
    size_t i = (size_t) h & mask;
    while (self->slots[i])
        i = (i + 1) & mask;
    self->slots[i] = s_tag(h) | (uint32_t) index;
}

/*  Rebuilds the slots from the ring (after growing, or dropping entries). */
static void s_rehash(idtab_t *self)
{
    memset(self->slots, 0, self->cap * sizeof *self->slots);
    for (uint64_t i = self->lo; i < self->hi; i++)
        s_insert(self, s_id(self, i), i);
}

static void s_grow_ids(idtab_t *self)
{
    size_t cap = self->ids_cap * 2;
    uint8_t (*ids)[AT_ID_BYTES] = at_calloc(cap, AT_ID_BYTES);
    for (uint64_t i = self->lo; i < self->hi; i++)
        memcpy(ids[i & (cap - 1)], s_id(self, i), AT_ID_BYTES);
    free(self->ids);
    self->ids = ids;
    self->ids_cap = cap;
}

void idtab_put(idtab_t *self, const uint8_t id[AT_ID_BYTES], uint64_t index)
{
    if (self->hi == self->lo)
        self->lo = self->hi = index;
    assert(index == self->hi);
    assert(self->hi - self->lo < UINT32_MAX);
    if (self->hi - self->lo + 1 > self->ids_cap)
        s_grow_ids(self);
    memcpy(self->ids[index & (self->ids_cap - 1)], id, AT_ID_BYTES);
    self->hi++;
    if (2 * (self->hi - self->lo) > self->cap) {
        free(self->slots);
        self->cap *= 2;
        self->slots = at_calloc(self->cap, sizeof *self->slots);
        s_rehash(self);
    } else {
        s_insert(self, id, index);
    }
}

void idtab_prefetch(const idtab_t *self, const uint8_t id[AT_ID_BYTES])
{
    __builtin_prefetch(&self->slots[(size_t) s_hash(id) & (self->cap - 1)], 1);
}

bool idtab_get(const idtab_t *self, const uint8_t id[AT_ID_BYTES], uint64_t *index)
{
    uint64_t h = s_hash(id), tag = s_tag(h);
    size_t mask = self->cap - 1;
    bool found = false;
    /* The whole probe run: a repeated id has a slot per copy, and the
     * latest (highest index) is wanted. */
    for (size_t i = (size_t) h & mask; self->slots[i]; i = (i + 1) & mask) {
        if ((self->slots[i] & 0xffffffff00000000u) != tag)
            continue;
        /* the one index in [lo, hi) with these low 32 bits */
        uint64_t at = self->lo + (uint32_t) ((uint32_t) self->slots[i] - (uint32_t) self->lo);
        if (at < self->hi && (!found || at > *index) && memcmp(s_id(self, at), id, AT_ID_BYTES) == 0) {
            *index = at;
            found = true;
        }
    }
    return found;
}

size_t idtab_count(const idtab_t *self) { return (size_t) (self->hi - self->lo); }

void idtab_clear(idtab_t *self)
{
    memset(self->slots, 0, self->cap * sizeof *self->slots);
    self->lo = self->hi = 0;
}

void idtab_drop_from(idtab_t *self, uint64_t from)
{
    if (from >= self->hi)
        return;
    self->hi = from > self->lo ? from : self->lo;
    s_rehash(self);
}

void idtab_drop_below(idtab_t *self, uint64_t below)
{
    if (below <= self->lo)
        return;
    self->lo = below < self->hi ? below : self->hi;
    s_rehash(self);
}

typedef struct {
    uint64_t key;                /* the id's first 8 bytes, big-endian */
    uint32_t pos;                /* index - lo */
} s_sortkey_t;

static uint64_t s_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/*  LSD radix sort by key, 8 bits per pass: linear time, so a flush cycle's
 *  sort of tens of thousands of ids takes well under a millisecond (qsort
 *  with memcmp took about ten, a stall in the commit it ran in). */
static void s_radix(s_sortkey_t *a, s_sortkey_t *tmp, size_t n)
{
    for (int shift = 0; shift < 64; shift += 8) {
        size_t count[257] = { 0 };
        for (size_t i = 0; i < n; i++)
            count[((a[i].key >> shift) & 0xff) + 1]++;
        for (int b = 0; b < 256; b++)
            count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++)
            tmp[count[(a[i].key >> shift) & 0xff]++] = a[i];
        memcpy(a, tmp, n * sizeof *a);
    }
}

idtab_entry_t *idtab_sorted(const idtab_t *self)
{
    size_t n = idtab_count(self);
    idtab_entry_t *out = at_calloc(n, sizeof *out);
    s_sortkey_t *keys = at_calloc(2 * n, sizeof *keys);
    for (size_t i = 0; i < n; i++)
        keys[i] = (s_sortkey_t) { s_be64(s_id(self, self->lo + i)), (uint32_t) i };
    s_radix(keys, keys + n, n);
    for (size_t i = 0; i < n; i++) {
        memcpy(out[i].id, s_id(self, self->lo + keys[i].pos), AT_ID_BYTES);
        out[i].index_plus_1 = self->lo + keys[i].pos + 1;
        /* equal first 8 bytes (about never): insertion sort by the whole id */
        for (size_t j = i; j > 0 && keys[j - 1].key == keys[j].key
                           && memcmp(out[j - 1].id, out[j].id, AT_ID_BYTES) > 0; j--) {
            idtab_entry_t e = out[j];
            out[j] = out[j - 1];
            out[j - 1] = e;
            s_sortkey_t k = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = k;
        }
    }
    free(keys);
    return out;
}
