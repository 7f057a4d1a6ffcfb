/*  findex.c: the secondary indexes by attester, schema and subject (see
 *  findex.h for the layout). A batch's items are kept per index as
 *  (hash, index) pairs in index order; at commit each bucket's run of them
 *  is radix-sorted by hash (stable, so each key's indices stay ascending)
 *  and written one run of equal keys at a time.
 *
 *  A log has few schemas, each on many entries: the writer remembers the
 *  hashes of the last S_MEMO_SLOTS schemas it saw (direct-mapped, checked
 *  byte for byte), since BLAKE2b of a short string costs ~0.2 us and the
 *  check a few ns (performance.md 10). Subjects are mostly unique: hashed
 *  every time. */
#include "findex.h"
#include "alloc.h"
#include "attestation.h"
#include "log.h"
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t key;                /* the 8 hash bytes read big-endian */
    uint64_t index;
} s_item_t;

/*  The bucket of an index: saturated, so that past 2^(32+shift) entries
 *  (4.4e12 at shift 10) every entry lands in the last bucket, which is
 *  slower to write but still correct, instead of wrapping around. */
static uint32_t s_bucket(uint64_t index, unsigned shift)
{
    uint64_t b = index >> shift;
    return b > UINT32_MAX ? UINT32_MAX : (uint32_t) b;
}

typedef struct {
    s_item_t *items, *tmp;
    size_t n, cap;
} s_batch_t;

#define S_MEMO_SLOTS 16
#define S_MEMO_MAX 120           /* longer schemas are hashed every time */

/*  A remembered schema and the key part of its hash (len 0: empty slot;
 *  a schema is never empty, s_fields refuses it). */
typedef struct {
    size_t len;
    uint64_t key;
    uint8_t bytes[S_MEMO_MAX];
} s_memo_t;

struct findex_t {
    MDB_dbi dbi[FINDEX_COUNT_];
    s_batch_t batch[FINDEX_COUNT_];
    uint8_t *vals;               /* one run's values, u64 big-endian */
    size_t vals_cap;
    s_memo_t memo[S_MEMO_SLOTS]; /* writer: recent schemas' keys */
    unsigned shift[FINDEX_COUNT_];   /* bucket = index >> shift, per index */
};

static const char *const s_names[FINDEX_COUNT_] = { "by_attester", "by_schema", "by_subject" };
static const unsigned s_flags = MDB_DUPSORT | MDB_DUPFIXED;

findex_t *findex_new(void)
{
    findex_t *self = at_calloc(1, sizeof(findex_t));
    for (int i = 0; i < FINDEX_COUNT_; i++)
        self->shift[i] = FINDEX_BUCKET_SHIFT;
    return self;
}

void findex_destroy(findex_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    findex_t *self = *self_p;
    for (int i = 0; i < FINDEX_COUNT_; i++) {
        free(self->batch[i].items);
        free(self->batch[i].tmp);
    }
    free(self->vals);
    free(self);
    *self_p = NULL;
}

/*  Opens one index's database; creates it when create (*created). */
static int s_open_db(MDB_txn *txn, const char *name, bool create, MDB_dbi *dbi, bool *created)
{
    int rc = mdb_dbi_open(txn, name, s_flags, dbi);
    if (rc == MDB_NOTFOUND && create) {
        rc = mdb_dbi_open(txn, name, s_flags | MDB_CREATE, dbi);
        *created = *created || rc == 0;
    }
    return rc;
}

/*  The subject index: "by_subject" (16384-entry buckets) where it exists, a
 *  log from before FINDEX_SUBJECT_DB, which its writer then keeps using; else
 *  FINDEX_SUBJECT_DB (1024-entry buckets). A writer finding both (an older
 *  sink ran on this log after a newer one, writing only "by_subject" and
 *  moving find_from past what it did not index) drops the stale one. */
static int s_open_subject(findex_t *self, MDB_txn *txn, bool create, bool *created)
{
    MDB_dbi newer;
    int rc = mdb_dbi_open(txn, s_names[FINDEX_SUBJECT], s_flags, &self->dbi[FINDEX_SUBJECT]);
    if (rc == 0) {
        self->shift[FINDEX_SUBJECT] = FINDEX_BUCKET_SHIFT;
        if (create && mdb_dbi_open(txn, FINDEX_SUBJECT_DB, s_flags, &newer) == 0) {
            at_log_info("LOG-FIND", "dropping %s: an older sink wrote by_subject after it", FINDEX_SUBJECT_DB);
            rc = mdb_drop(txn, newer, 1);
        }
        return rc;
    }
    if (rc != MDB_NOTFOUND)
        return rc;
    self->shift[FINDEX_SUBJECT] = FINDEX_SUBJECT_SHIFT;
    return s_open_db(txn, FINDEX_SUBJECT_DB, create, &self->dbi[FINDEX_SUBJECT], created);
}

int findex_open(findex_t *self, MDB_txn *txn, bool create, bool *present, bool *created)
{
    *present = *created = false;
    int rc = 0;
    for (int i = 0; i < FINDEX_COUNT_ && !rc; i++)
        rc = i == FINDEX_SUBJECT ? s_open_subject(self, txn, create, created)
                                 : s_open_db(txn, s_names[i], create, &self->dbi[i], created);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    *present = !*created;
    return 0;
}

void findex_hash(findex_by_t by, const void *value, size_t len, uint8_t out[FINDEX_HASH_BYTES])
{
    if (by == FINDEX_ATTESTER && len == AT_KEY_BYTES) {
        memcpy(out, value, FINDEX_HASH_BYTES);
        return;
    }
    uint8_t h[16];
    crypto_generichash(h, sizeof h, len ? value : (const void *) "", len, NULL, 0);
    memcpy(out, h, FINDEX_HASH_BYTES);
}

static uint64_t s_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void s_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}

static void s_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}

static void s_grow(s_batch_t *b)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 1024;
        b->items = at_realloc(b->items, b->cap * sizeof *b->items);
        free(b->tmp);
        b->tmp = at_calloc(b->cap, sizeof *b->tmp);
    }
}

/*  The key part of a schema's or subject's hash, read big-endian. */
static uint64_t s_key(const void *value, size_t len)
{
    uint8_t h[FINDEX_HASH_BYTES];
    findex_hash(FINDEX_SCHEMA, value, len, h);
    return s_be64(h);
}

/*  The memo slot of value[0..len), 1 <= len: its length and first and last
 *  8 bytes mixed (schemas that differ elsewhere may share a slot: they only
 *  evict each other). */
static size_t s_memo_slot(const uint8_t *value, size_t len)
{
    uint64_t head = 0, tail = 0;
    memcpy(&head, value, len < 8 ? len : 8);
    memcpy(&tail, value + (len < 8 ? 0 : len - 8), len < 8 ? len : 8);
    uint64_t x = (head * 0x9e3779b97f4a7c15ull) ^ (tail * 0xc2b2ae3d27d4eb4full) ^ len;
    return (size_t) (x >> 60) % S_MEMO_SLOTS;
}

/*  s_key of a schema, through the memo. */
static uint64_t s_schema_key(findex_t *self, const uint8_t *value, size_t len)
{
    if (len == 0 || len > S_MEMO_MAX)
        return s_key(value, len);
    s_memo_t *m = &self->memo[s_memo_slot(value, len)];
    if (m->len != len || memcmp(m->bytes, value, len) != 0) {
        m->key = s_key(value, len);
        m->len = len;
        memcpy(m->bytes, value, len);
    }
    return m->key;
}

static void s_push(s_batch_t *b, uint64_t key, uint64_t index)
{
    s_grow(b);
    b->items[b->n++] = (s_item_t) { key, index };
}

/*  A msgpack header at *p (of end): the length of a str (want_str) or bin
 *  whose body follows, advancing *p past the header; -1 when it is not one
 *  or the body does not fit. */
static long s_len(const uint8_t **p, const uint8_t *end, bool want_str)
{
    if (*p >= end)
        return -1;
    uint8_t t = *(*p)++;
    size_t hdr = 0, n = 0;
    if (want_str && t >= 0xa0 && t <= 0xbf)
        n = t & 0x1f;
    else if (t == (want_str ? 0xd9 : 0xc4))
        hdr = 1;
    else if (t == (want_str ? 0xda : 0xc5))
        hdr = 2;
    else if (t == (want_str ? 0xdb : 0xc6))
        hdr = 4;
    else
        return -1;
    if ((size_t) (end - *p) < hdr)
        return -1;
    for (size_t i = 0; i < hdr; i++)
        n = n << 8 | *(*p)++;
    return (size_t) (end - *p) < n ? -1 : (long) n;
}

/*  A msgpack unsigned integer (or a signed one holding a non-negative
 *  value, which attestation_decode accepts too) or array header at *p of
 *  any width: its value (the element count for an array), advancing *p;
 *  false when it is not one. */
static bool s_uint(const uint8_t **p, const uint8_t *end, bool array, uint64_t *v)
{
    if (*p >= end)
        return false;
    uint8_t t = *(*p)++;
    size_t w = 0;
    if (!array && t <= 0x7f)
        return *v = t, true;
    if (array && t >= 0x90 && t <= 0x9f)
        return *v = t & 0x0f, true;
    bool is_signed = !array && t >= 0xd0 && t <= 0xd3;   /* msgpack-c reads a non-negative int as unsigned */
    if (array)
        w = t == 0xdc ? 2 : t == 0xdd ? 4 : 0;
    else if (is_signed)
        w = (size_t) 1 << (t - 0xd0);
    else
        w = t == 0xcc ? 1 : t == 0xcd ? 2 : t == 0xce ? 4 : t == 0xcf ? 8 : 0;
    if (w == 0 || (size_t) (end - *p) < w)
        return false;
    if (is_signed && (**p & 0x80))
        return false;   /* negative: not an unsigned value */
    for (*v = 0; w > 0; w--)
        *v = *v << 8 | *(*p)++;
    return true;
}

/*  The fields the indexes need, read straight off the encoding (the first
 *  four of the nine: [version, schema str, attester bin32, subject str,
 *  ...], any header widths, as attestation_decode accepts them); a cheap
 *  walk, not a decode: the sink runs it per entry, and readers check every
 *  candidate with attestation_decode anyway. */
static bool s_fields(const uint8_t *p, size_t len, attestation_t *a)
{
    const uint8_t *end = p + len;
    uint64_t v;
    if (!s_uint(&p, end, true, &v) || v != 9 || !s_uint(&p, end, false, &v) || v != AT_VERSION)
        return false;
    long n = s_len(&p, end, true);
    if (n <= 0)
        return false;
    a->schema = (const char *) p, a->schema_len = (size_t) n, p += n;
    if (s_len(&p, end, false) != AT_KEY_BYTES)
        return false;
    a->attester = p, p += AT_KEY_BYTES;
    if ((n = s_len(&p, end, true)) <= 0)
        return false;
    a->subject = (const char *) p, a->subject_len = (size_t) n;
    return true;
}

void findex_add(findex_t *self, uint64_t index, const uint8_t *att, size_t att_len)
{
    attestation_t a;
    if (!s_fields(att, att_len, &a))
        return;   /* bytes that are not an attestation (logged invalid): nothing to index */
    s_push(&self->batch[FINDEX_ATTESTER], s_be64(a.attester), index);   /* a public key: its bytes are the hash */
    s_push(&self->batch[FINDEX_SCHEMA], s_schema_key(self, (const uint8_t *) a.schema, a.schema_len), index);
    s_push(&self->batch[FINDEX_SUBJECT], s_key(a.subject, a.subject_len), index);
}

/*  LSD radix sort of a[0..n) by key, 8 bits a pass (stable), through tmp;
 *  passes where every key has the same byte are skipped. The result ends
 *  in a. */
static void s_sort(s_item_t *a, s_item_t *tmp, size_t n)
{
    s_item_t *src = a, *dst = tmp;
    for (int shift = 0; shift < 64 && n > 1; shift += 8) {
        size_t count[257] = { 0 };
        for (size_t i = 0; i < n; i++)
            count[((src[i].key >> shift) & 0xff) + 1]++;
        if (count[((src[0].key >> shift) & 0xff) + 1] == n)
            continue;
        for (int c = 0; c < 256; c++)
            count[c + 1] += count[c];
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i].key >> shift) & 0xff]++] = src[i];
        s_item_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}

/*  One key's run items[0..n): one MDB_MULTIPLE put of its indices. */
static int s_write_run(findex_t *self, MDB_cursor *cur, unsigned shift, const s_item_t *items, size_t n)
{
    if (n * 8 > self->vals_cap) {
        self->vals_cap = n * 8 * 2;
        self->vals = at_realloc(self->vals, self->vals_cap);
    }
    for (size_t i = 0; i < n; i++)
        s_put_be64(self->vals + 8 * i, items[i].index);
    uint8_t kb[FINDEX_KEY_BYTES];
    s_put_be32(kb, s_bucket(items[0].index, shift));
    s_put_be64(kb + 4, items[0].key);
    size_t done = 0;
    int rc = 0;
    while (!rc && done < n) {
        MDB_val k = { sizeof kb, kb };
        MDB_val d[2] = { { 8, self->vals + 8 * done }, { n - done, NULL } };
        rc = mdb_cursor_put(cur, &k, d, MDB_MULTIPLE);
        if (!rc && d[1].mv_size == 0)
            rc = MDB_BAD_VALSIZE;   /* no progress: never expected */
        done += d[1].mv_size;
    }
    return rc;
}

static int s_write_one(findex_t *self, MDB_txn *txn, findex_by_t by)
{
    s_batch_t *b = &self->batch[by];
    if (b->n == 0)
        return 0;
    MDB_cursor *cur = NULL;
    unsigned shift = self->shift[by];
    int rc = mdb_cursor_open(txn, self->dbi[by], &cur);
    /* The items are in index order: each bucket's are contiguous. */
    for (size_t lo = 0, hi; !rc && lo < b->n; lo = hi) {
        for (hi = lo + 1; hi < b->n && s_bucket(b->items[hi].index, shift) == s_bucket(b->items[lo].index, shift); hi++)
            ;
        s_sort(b->items + lo, b->tmp, hi - lo);
        for (size_t i = lo, j; !rc && i < hi; i = j) {
            for (j = i + 1; j < hi && b->items[j].key == b->items[i].key; j++)
                ;
            rc = s_write_run(self, cur, shift, b->items + i, j - i);
        }
    }
    if (cur)
        mdb_cursor_close(cur);
    b->n = 0;
    return rc;
}

int findex_write(findex_t *self, MDB_txn *txn)
{
    int rc = 0;
    for (int i = 0; i < FINDEX_COUNT_ && !rc; i++)
        rc = s_write_one(self, txn, (findex_by_t) i);
    findex_clear(self);
    return rc;
}

void findex_clear(findex_t *self)
{
    for (int i = 0; i < FINDEX_COUNT_; i++)
        self->batch[i].n = 0;
}

size_t findex_pending(const findex_t *self)
{
    return self->batch[FINDEX_ATTESTER].n;
}

/*  Calls fn on each value of a page of duplicates; *stop when fn says so. */
static at_err s_each_page(const MDB_val *page, findex_fn *fn, void *arg, bool *stop)
{
    if (page->mv_size % 8)
        return AT_ERR_CORRUPT;
    const uint8_t *p = page->mv_data;
    for (size_t i = 0; i < page->mv_size / 8 && !*stop; i++)
        *stop = fn(s_be64(p + 8 * i), arg) != 0;
    return AT_OK;
}

/*  One bucket's values under kb. */
static at_err s_each_bucket(MDB_cursor *cur, uint8_t kb[FINDEX_KEY_BYTES], findex_fn *fn, void *arg, bool *stop)
{
    MDB_val k = { FINDEX_KEY_BYTES, kb }, d;
    int rc = mdb_cursor_get(cur, &k, &d, MDB_SET);
    if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &d, MDB_GET_MULTIPLE);
    at_err err = AT_OK;
    while (rc == 0 && err == AT_OK && !*stop) {
        err = s_each_page(&d, fn, arg, stop);
        rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT_MULTIPLE);
    }
    return err == AT_OK && rc && rc != MDB_NOTFOUND ? AT_ERR_DB : err;
}

at_err findex_each(findex_t *self, MDB_txn *txn, findex_by_t by, const void *value, size_t len, uint64_t from,
                   uint64_t to, findex_fn *fn, void *arg)
{
    uint8_t kb[FINDEX_KEY_BYTES];
    findex_hash(by, value, len, kb + 4);
    MDB_cursor *cur;
    if (from >= to)
        return AT_OK;
    if (mdb_cursor_open(txn, self->dbi[by], &cur) != 0)
        return AT_ERR_DB;
    at_err err = AT_OK;
    bool stop = false;
    unsigned shift = self->shift[by];
    for (uint64_t b = s_bucket(from, shift); err == AT_OK && !stop && b <= s_bucket(to - 1, shift); b++) {
        s_put_be32(kb, (uint32_t) b);
        err = s_each_bucket(cur, kb, fn, arg, &stop);
    }
    mdb_cursor_close(cur);
    return err;
}
