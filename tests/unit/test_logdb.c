/*  test_logdb.c: the LMDB log (store/logdb.[ch]) in a temporary directory.
 *
 *  Covers: a batch of appends in one transaction, commit, reopen; the
 *  committed state (next_index, next_seq, head = hash of the last stored
 *  value); reading entries back; the hash chain across batches; lookups by id
 *  inside and outside a batch; abort leaving the state unchanged; a duplicate
 *  id refused without corrupting the batch or the log; a full map reported as
 *  AT_ERR_MAP_FULL; read-only opening; the id index flush and the id
 *  filter; the id claim rule (an invalid entry claims no id: a later valid
 *  copy is appended, a second invalid copy too, a copy of a valid entry is
 *  a duplicate; across commits and a reopen) and logdb_find_invalid; the
 *  "audit" database (record, read back, read-only). The entry codec
 *  itself: test_entry.c.
 */
#include "check.h"
#include "logdb.h"
#include <ftw.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_tmp[64];
static char s_dir[128];
static uint8_t s_att[300];

static void s_make_id(uint64_t i, uint8_t id[AT_ID_BYTES])
{
    crypto_generichash(id, AT_ID_BYTES, (const uint8_t *) &i, sizeof i, (const uint8_t *) "test-id", 7);
}

/*  The entry written for sequence number i (index is set by append). */
static logdb_entry_t s_entry(uint64_t i)
{
    logdb_entry_t e;
    memset(&e, 0, sizeof e);
    e.seq = i;
    s_make_id(i, e.id);
    e.verdict = i % 3 == 1;
    e.reason = e.verdict ? AT_ERR_SIGNATURE : AT_OK;
    e.producer = "producer-1";
    e.producer_len = 10;
    e.cseq = 500 + i;
    e.worker = i % 2 ? "worker-b" : "worker-a";
    e.worker_len = 8;
    e.t_received = 1700000000000000ull + i;
    e.t_dispatched = e.t_received + 10;
    e.t_verified = e.t_received + 20;
    e.t_committed = e.t_received + 30;
    e.att = s_att;
    e.att_len = 100 + (size_t) (i % 100);
    return e;
}

static bool s_entry_is(const logdb_entry_t *e, uint64_t index, uint64_t seq)
{
    logdb_entry_t w = s_entry(seq);
    return e->index == index && e->seq == seq && memcmp(e->id, w.id, 32) == 0 && e->verdict == w.verdict
        && e->reason == w.reason && e->producer_len == 10 && memcmp(e->producer, w.producer, 10) == 0
        && e->cseq == w.cseq && e->worker_len == 8 && memcmp(e->worker, w.worker, 8) == 0
        && e->t_received == w.t_received && e->t_dispatched == w.t_dispatched
        && e->t_verified == w.t_verified && e->t_committed == w.t_committed && e->att_len == w.att_len
        && memcmp(e->att, s_att, e->att_len) == 0;
}

/*  Every entry's id leads to its index (s_entry's ids are all distinct). */
static bool s_found_at(logdb_t *db, const logdb_entry_t *e, uint64_t index)
{
    uint64_t idx = UINT64_MAX;
    return logdb_lookup_id(db, e->id, &idx) == AT_OK && idx == index;
}

/*  Appends entries for seqs [from, to) in one batch and commits next_seq = to. */
static void s_batch(logdb_t *db, uint64_t from, uint64_t to, uint64_t first_index)
{
    CHECK_ERR(logdb_begin(db), AT_OK);
    for (uint64_t s = from; s < to; s++) {
        logdb_entry_t e = s_entry(s);
        CHECK_ERR(logdb_append(db, &e), AT_OK);
        CHECK(e.index == first_index + (s - from));
        CHECK(s_found_at(db, &e, e.index));                 /* the batch sees its own appends */
    }
    CHECK_ERR(logdb_commit(db, to), AT_OK);
}

/*  Reads the whole log: checks every entry (entry i holds seq seqs[i]), the
 *  hash chain, the ids and the state. */
static void s_verify(logdb_t *db, const uint64_t *seqs, uint64_t count, uint64_t next_seq)
{
    logdb_state_t st;
    CHECK_ERR(logdb_state(db, &st), AT_OK);
    CHECK(st.next_index == count && st.next_seq == next_seq);
    CHECK_ERR(logdb_read_begin(db), AT_OK);
    CHECK(logdb_count(db) == count);
    uint8_t prev[LOGDB_HASH_BYTES] = { 0 };
    unsigned bad = 0;
    for (uint64_t i = 0; i < count; i++) {
        logdb_entry_t e;
        const uint8_t *raw = NULL;
        size_t raw_len = 0;
        at_err rc = logdb_get(db, i, &e, &raw, &raw_len);
        CHECK_ERR(rc, AT_OK);
        if (rc)
            continue;
        bad += !s_entry_is(&e, i, seqs[i]);
        bad += memcmp(e.prev_hash, prev, LOGDB_HASH_BYTES) != 0;
        entry_hash(raw, raw_len, prev);
        bad += !s_found_at(db, &e, i);
        logdb_entry_t again;
        bad += entry_decode(&again, raw, raw_len) != AT_OK || again.index != i;
    }
    CHECK(bad == 0);
    CHECK(memcmp(st.head, prev, LOGDB_HASH_BYTES) == 0);   /* head = hash(last stored value) */
    logdb_entry_t e;
    CHECK_ERR(logdb_get(db, count, &e, NULL, NULL), AT_ERR_NOT_FOUND);
    logdb_read_end(db);
}

static void test_batches(void)
{
    at_err err = AT_ERR_IO;
    logdb_t *db = logdb_open(s_dir, false, 16u << 20, &err);
    CHECK(db != NULL && err == AT_OK);
    if (!db)
        return;
    logdb_state_t st, zero;
    memset(&zero, 0, sizeof zero);
    CHECK_ERR(logdb_state(db, &st), AT_OK);
    CHECK(memcmp(&st, &zero, sizeof st) == 0);
    uint8_t id[32];
    uint64_t idx;
    s_make_id(0, id);
    CHECK_ERR(logdb_lookup_id(db, id, &idx), AT_ERR_NOT_FOUND);

    s_batch(db, 0, 5, 0);
    logdb_destroy(&db);
    CHECK(db == NULL);
    logdb_destroy(&db);                               /* safe twice */

    db = logdb_open(s_dir, false, 0, &err);           /* 0: keep the file's map size */
    CHECK(db != NULL && err == AT_OK);
    if (!db)
        return;
    uint64_t seqs[32];
    for (uint64_t i = 0; i < 32; i++)
        seqs[i] = i;
    s_verify(db, seqs, 5, 5);

    s_batch(db, 5, 8, 5);                             /* the chain continues */
    s_verify(db, seqs, 8, 8);

    /* Abort: nothing of the batch remains, the writer's state is restored. */
    logdb_state_t before, after;
    CHECK_ERR(logdb_state(db, &before), AT_OK);
    CHECK_ERR(logdb_begin(db), AT_OK);
    for (uint64_t s = 100; s < 103; s++) {
        logdb_entry_t e = s_entry(s);
        CHECK_ERR(logdb_append(db, &e), AT_OK);
    }
    logdb_abort(db);
    CHECK_ERR(logdb_state(db, &after), AT_OK);
    CHECK(memcmp(&before, &after, sizeof before) == 0);
    s_make_id(100, id);
    CHECK_ERR(logdb_lookup_id(db, id, &idx), AT_ERR_NOT_FOUND);
    s_verify(db, seqs, 8, 8);

    /* A duplicate id is refused; the batch goes on and the log stays whole. */
    CHECK_ERR(logdb_begin(db), AT_OK);
    logdb_entry_t dup = s_entry(3);
    at_err rc = logdb_append(db, &dup);
    CHECK(rc != AT_OK);
    CHECK_ERR(rc, AT_ERR_DUPLICATE);
    logdb_entry_t e = s_entry(8);
    CHECK_ERR(logdb_append(db, &e), AT_OK);
    CHECK(e.index == 8);
    CHECK_ERR(logdb_commit(db, 9), AT_OK);
    s_verify(db, seqs, 9, 9);
    s_make_id(3, id);
    CHECK_ERR(logdb_lookup_id(db, id, &idx), AT_OK);
    CHECK(idx == 3);

    /* A duplicate within one batch. */
    CHECK_ERR(logdb_begin(db), AT_OK);
    e = s_entry(9);
    CHECK_ERR(logdb_append(db, &e), AT_OK);
    e = s_entry(9);
    CHECK_ERR(logdb_append(db, &e), AT_ERR_DUPLICATE);
    CHECK_ERR(logdb_commit(db, 10), AT_OK);
    s_verify(db, seqs, 10, 10);
    logdb_destroy(&db);

    /* Read-only: the same log, and no writes. */
    db = logdb_open(s_dir, true, 0, &err);
    CHECK(db != NULL && err == AT_OK);
    if (db) {
        s_verify(db, seqs, 10, 10);
        logdb_destroy(&db);
    }
}

static void test_open_errors(void)
{
    at_err err = AT_OK;
    char path[160];
    snprintf(path, sizeof path, "%s/missing", s_tmp);
    logdb_t *db = logdb_open(path, true, 0, &err);
    CHECK(db == NULL && err != AT_OK);
    /* An LMDB environment that holds no Attest log. */
    snprintf(path, sizeof path, "%s/other", s_tmp);
    MDB_env *env;
    CHECK(mdb_env_create(&env) == 0);
    CHECK(mkdir(path, 0700) == 0);
    CHECK(mdb_env_set_maxdbs(env, 4) == 0);
    CHECK(mdb_env_open(env, path, 0, 0600) == 0);
    mdb_env_close(env);
    db = logdb_open(path, true, 0, &err);
    CHECK(db == NULL);
    CHECK_ERR(err, AT_ERR_NOT_FOUND);
}

static void test_map_full(void)
{
    char path[160];
    snprintf(path, sizeof path, "%s/small", s_tmp);
    at_err err;
    logdb_t *db = logdb_open(path, false, 256u << 10, &err);
    CHECK(db != NULL);
    if (!db)
        return;
    at_err rc = AT_OK;
    uint64_t committed = 0;
    for (uint64_t b = 0; b < 1000 && rc == AT_OK; b++) {
        CHECK_ERR(logdb_begin(db), AT_OK);
        for (uint64_t k = 0; k < 8 && rc == AT_OK; k++) {
            logdb_entry_t e = s_entry(b * 8 + k);
            rc = logdb_append(db, &e);
        }
        if (rc == AT_OK)
            rc = logdb_commit(db, (b + 1) * 8);
        else
            logdb_abort(db);
        if (rc == AT_OK)
            committed = (b + 1) * 8;
    }
    CHECK_ERR(rc, AT_ERR_MAP_FULL);
    CHECK(committed > 0);
    logdb_state_t st;
    CHECK_ERR(logdb_state(db, &st), AT_OK);
    CHECK(st.next_index == committed && st.next_seq == committed);
    logdb_destroy(&db);
    db = logdb_open(path, false, 4u << 20, &err);    /* the operator grows the map */
    CHECK(db != NULL);
    if (!db)
        return;
    static uint64_t seqs[8192];
    for (uint64_t i = 0; i < 8192; i++)
        seqs[i] = i;
    if (committed + 8 <= 8192) {
        s_batch(db, committed, committed + 8, committed);
        s_verify(db, seqs, committed + 8, committed + 8);
    }
    logdb_destroy(&db);
}

/*  One batch of 8 entries from index b*8; a full map is grown (doubled, up
 *  to max) and the batch run again, as the sink does. Returns the result
 *  and counts the growths. */
static at_err s_batch_growing(logdb_t *db, uint64_t b, uint64_t max, int *grown)
{
    for (;;) {
        at_err rc = logdb_begin(db);
        for (uint64_t k = 0; k < 8 && rc == AT_OK; k++) {
            logdb_entry_t e = s_entry(b * 8 + k);
            rc = logdb_append(db, &e);
        }
        if (rc == AT_OK)
            rc = logdb_commit(db, (b + 1) * 8);
        else
            logdb_abort(db);
        uint64_t size;
        if (rc != AT_ERR_MAP_FULL || logdb_grow(db, max, &size) != AT_OK)
            return rc;
        (*grown)++;
    }
}

/*  The map grows on demand (logdb_grow doubles it) up to a maximum, then
 *  refuses; usage is reported; a reader opened before the growth adopts
 *  the new size; the log reopens at the grown size. */
static void test_map_grow(void)
{
    char path[160];
    snprintf(path, sizeof path, "%s/grow", s_tmp);
    at_err err;
    const uint64_t max = 2u << 20;
    logdb_t *db = logdb_open(path, false, 256u << 10, &err);
    logdb_t *rd = db ? logdb_open(path, true, 0, &err) : NULL;
    CHECK(db != NULL && rd != NULL);
    if (!db || !rd)
        return;
    logdb_map_usage_t u0, u1;
    CHECK_ERR(logdb_map_usage(db, &u0), AT_OK);
    CHECK(u0.map_size == 256u << 10 && u0.used > 0 && u0.used <= u0.map_size && u0.page_size >= 4096);
    at_err rc = AT_OK;
    uint64_t b = 0;
    int grown = 0;
    for (; b < 2000 && rc == AT_OK; b++)
        rc = s_batch_growing(db, b, max, &grown);
    CHECK_ERR(rc, AT_ERR_MAP_FULL);   /* at the maximum */
    CHECK(grown == 3);                /* 256 KiB -> 512 KiB -> 1 MiB -> 2 MiB */
    CHECK_ERR(logdb_map_usage(db, &u1), AT_OK);
    CHECK(u1.map_size == max && u1.used > u0.used && u1.used <= max);
    uint64_t size = 0;
    CHECK_ERR(logdb_grow(db, max, &size), AT_ERR_MAP_FULL);
    CHECK(size == max);
    uint64_t committed = (b - 1) * 8;
    logdb_state_t st;
    CHECK_ERR(logdb_state(db, &st), AT_OK);
    CHECK(st.next_index == committed && committed > 1000);
    CHECK_ERR(logdb_read_begin(rd), AT_OK);    /* the reader opened at 256 KiB sees it all */
    CHECK(logdb_count(rd) == committed);
    logdb_entry_t e;
    CHECK_ERR(logdb_get(rd, committed - 1, &e, NULL, NULL), AT_OK);
    logdb_read_end(rd);
    logdb_destroy(&rd);
    logdb_destroy(&db);
    db = logdb_open(path, false, 256u << 10, &err);   /* smaller than the file: LMDB keeps what it holds */
    CHECK(db != NULL);
    if (!db)
        return;
    CHECK_ERR(logdb_map_usage(db, &u0), AT_OK);
    CHECK(u0.map_size >= u1.used);
    CHECK_ERR(logdb_grow(db, 4u << 20, &size), AT_OK);   /* a raised maximum: room again */
    CHECK(size > u0.map_size && size <= 4u << 20);
    rc = s_batch_growing(db, committed / 8, 4u << 20, &grown);
    CHECK_ERR(rc, AT_OK);
    logdb_destroy(&db);
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb;
    (void) flag;
    (void) ftw;
    return remove(path);
}

/*  The ids index is written in sorted steps once LOGDB_IDS_FLUSH ids are
 *  pending: every id stays findable before, during and after a flush cycle,
 *  from the writer and from a reader, across a reopen in mid-cycle, and a
 *  duplicate is refused whichever side of ids_upto the first copy is. */
static void test_ids_flush(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/flush", s_tmp);
    at_err err;
    logdb_t *db = logdb_open(dir, false, 256u << 20, &err);
    CHECK(db && err == AT_OK);
    if (!db)
        return;
    const uint64_t batch = 1000, total = (LOGDB_IDS_FLUSH / batch + 40) * batch;   /* a multiple of batch */
    uint64_t seq = 0;
    bool reopened = false;
    while (seq < total) {
        CHECK_ERR(logdb_begin(db), AT_OK);
        for (uint64_t k = 0; k < batch; k++, seq++) {
            logdb_entry_t e = s_entry(seq);
            CHECK_ERR(logdb_append(db, &e), AT_OK);
        }
        CHECK_ERR(logdb_commit(db, seq), AT_OK);
        logdb_state_t st;
        CHECK_ERR(logdb_state(db, &st), AT_OK);
        if (!reopened && st.ids_upto == 0 && seq > LOGDB_IDS_FLUSH + 2 * batch) {
            logdb_destroy(&db);                       /* mid-cycle: some ids written, ids_upto not moved */
            db = logdb_open(dir, false, 0, &err);
            CHECK(db && err == AT_OK);
            if (!db)
                return;
            reopened = true;
        }
    }
    CHECK(reopened);
    logdb_state_t st;
    CHECK_ERR(logdb_state(db, &st), AT_OK);
    CHECK(st.next_index == total);
    CHECK(st.ids_upto >= LOGDB_IDS_FLUSH && st.ids_upto < total);   /* a cycle completed */
    unsigned missing = 0;
    for (uint64_t i = 0; i < total; i++) {
        logdb_entry_t e = s_entry(i);
        missing += !s_found_at(db, &e, i);
    }
    CHECK(missing == 0);
    CHECK_ERR(logdb_begin(db), AT_OK);                 /* duplicates below and above ids_upto */
    logdb_entry_t old = s_entry(5), recent = s_entry(total - 3);
    CHECK_ERR(logdb_append(db, &old), AT_ERR_DUPLICATE);
    CHECK_ERR(logdb_append(db, &recent), AT_ERR_DUPLICATE);
    logdb_abort(db);
    logdb_t *reader = logdb_open(dir, true, 0, &err);  /* a reader finds the unindexed tail too */
    CHECK(reader && err == AT_OK);
    if (reader) {
        CHECK_ERR(logdb_read_begin(reader), AT_OK);
        missing = 0;
        for (uint64_t i = 0; i < total; i += 97) {
            logdb_entry_t e = s_entry(i);
            missing += !s_found_at(reader, &e, i);
        }
        CHECK(missing == 0);
        uint8_t absent[AT_ID_BYTES];
        uint64_t idx;
        s_make_id(total + 1000000, absent);
        CHECK_ERR(logdb_lookup_id(reader, absent, &idx), AT_ERR_NOT_FOUND);
        logdb_read_end(reader);
        logdb_destroy(&reader);
    }
    logdb_destroy(&db);
}

/*  The id filter: its default capacity, resizing (rebuilt from the log),
 *  and duplicates still found after a resize, both in "ids" and in the
 *  unindexed tail. */
static void test_id_filter(void)
{
    char dir[160];
    snprintf(dir, sizeof dir, "%s/filter", s_tmp);
    at_err err;
    logdb_t *db = logdb_open(dir, false, 256u << 20, &err);
    CHECK(db != NULL);
    if (!db)
        return;
    CHECK(logdb_id_filter_capacity(db) == (uint64_t) LOGDB_FILTER_MB_DEFAULT * 8 * 1024 * 1024 / 12);
    uint64_t n = LOGDB_IDS_FLUSH + 5000;   /* some ids in "ids", the rest in the tail */
    for (uint64_t from = 0; from < n; from += 4096)
        s_batch(db, from, from + 4096 < n ? from + 4096 : n, from);
    CHECK_ERR(logdb_set_id_filter_mb(db, 1), AT_OK);
    CHECK(logdb_id_filter_capacity(db) == 1024u * 1024 * 8 / 12);
    uint64_t dups = 0, found = 0, valid = 0;
    CHECK_ERR(logdb_begin(db), AT_OK);
    for (uint64_t s = 0; s < n; s += 97) {
        logdb_entry_t e = s_entry(s);
        valid += e.verdict == 0;
        dups += logdb_append(db, &e) == AT_ERR_DUPLICATE;   /* an identical invalid copy is a retry: too */
        uint64_t idx;
        found += logdb_lookup_id(db, e.id, &idx) == AT_OK && idx == s;
    }
    logdb_entry_t fresh = s_entry(n + 1);   /* valid */
    CHECK(fresh.verdict == 0);
    CHECK_ERR(logdb_append(db, &fresh), AT_OK);
    CHECK_ERR(logdb_commit(db, n + 1), AT_OK);
    CHECK(dups == (n + 96) / 97 && found == dups && valid > 0);
    CHECK_ERR(logdb_set_id_filter_mb(db, 8), AT_OK);   /* and back up */
    CHECK(logdb_id_filter_capacity(db) == 8u * 1024 * 1024 * 8 / 12);
    CHECK_ERR(logdb_begin(db), AT_OK);
    logdb_entry_t again = s_entry(n + 1);
    CHECK_ERR(logdb_append(db, &again), AT_ERR_DUPLICATE);
    logdb_abort(db);
    logdb_destroy(&db);
}

/*  An entry with the id of key k (another space than s_make_id's), the
 *  given verdict, and attestation bytes of variant `bytes` (another
 *  signature: the same id, another submission). */
static logdb_entry_t s_copy(uint64_t k, uint8_t verdict, size_t bytes)
{
    logdb_entry_t e = s_entry(1000000 + k);
    e.verdict = verdict;
    e.reason = verdict ? AT_ERR_SIGNATURE : AT_OK;
    e.att_len = 100 + bytes;
    return e;
}

static const struct {
    uint64_t key;
    uint8_t verdict;
    size_t bytes;
    at_err want;             /* logdb_append's answer */
    uint64_t latest;         /* logdb_lookup_id's index afterwards */
} s_claims[] = {
    { 1, 1, 1, AT_OK, 0 },               /* index 0: a forged copy first: appended, invalid */
    { 1, 0, 0, AT_OK, 1 },               /* index 1: the genuine one: appended valid, not a duplicate */
    { 1, 0, 0, AT_ERR_DUPLICATE, 1 },    /* the genuine one again: a duplicate of index 1 */
    { 1, 1, 1, AT_ERR_DUPLICATE, 1 },    /* the forged copy after the valid one: a duplicate of index 1 */
    { 1, 1, 2, AT_ERR_DUPLICATE, 1 },    /* another forged copy: a duplicate of index 1 */
    { 2, 1, 1, AT_OK, 2 },               /* index 2: invalid */
    { 2, 1, 1, AT_ERR_DUPLICATE, 2 },    /* the same bytes again (a retry): a duplicate of index 2 */
    { 2, 1, 2, AT_OK, 3 },               /* index 3: other bytes: another submission, appended */
};
#define S_NCLAIMS (sizeof s_claims / sizeof s_claims[0])

/*  The id claim rule, in one batch, then across a commit and a reopen. */
static void test_id_claim(void)
{
    char dir[160];
    snprintf(dir, sizeof dir, "%s/claim", s_tmp);
    at_err err;
    logdb_t *db = logdb_open(dir, false, 16u << 20, &err);
    CHECK(db != NULL);
    if (!db)
        return;
    CHECK_ERR(logdb_begin(db), AT_OK);
    for (size_t i = 0; i < S_NCLAIMS; i++) {
        logdb_entry_t e = s_copy(s_claims[i].key, s_claims[i].verdict, s_claims[i].bytes);
        CHECK_ERR(logdb_append(db, &e), s_claims[i].want);
        uint64_t idx = UINT64_MAX;
        CHECK_ERR(logdb_lookup_id(db, e.id, &idx), AT_OK);
        CHECK(idx == s_claims[i].latest);
    }
    CHECK_ERR(logdb_commit(db, 10), AT_OK);
    logdb_destroy(&db);
    db = logdb_open(dir, false, 0, &err);   /* the tail is reloaded: the latest copy is still found */
    CHECK(db != NULL);
    if (!db)
        return;
    logdb_entry_t one = s_copy(1, 0, 0), two = s_copy(2, 0, 0), retry = s_copy(2, 1, 2);
    CHECK_ERR(logdb_begin(db), AT_OK);
    CHECK_ERR(logdb_append(db, &one), AT_ERR_DUPLICATE);
    CHECK_ERR(logdb_append(db, &retry), AT_ERR_DUPLICATE);   /* a retry of index 3 */
    CHECK_ERR(logdb_append(db, &two), AT_OK);   /* the genuine key 2 after two forged copies */
    CHECK(two.index == 4);
    logdb_entry_t late = s_copy(2, 1, 3);
    CHECK_ERR(logdb_append(db, &late), AT_ERR_DUPLICATE);
    CHECK_ERR(logdb_commit(db, 11), AT_OK);
    logdb_destroy(&db);
    db = logdb_open(dir, true, 0, &err);
    CHECK(db != NULL);
    if (!db)
        return;
    CHECK_ERR(logdb_read_begin(db), AT_OK);
    uint64_t idx = UINT64_MAX, inv[4] = { 0 };
    CHECK_ERR(logdb_lookup_id(db, two.id, &idx), AT_OK);
    CHECK(idx == 4);
    CHECK(logdb_find_invalid(db, two.id, 0, inv, 4) == 2 && inv[0] == 2 && inv[1] == 3);
    CHECK(logdb_find_invalid(db, one.id, 0, inv, 4) == 1 && inv[0] == 0);
    CHECK(logdb_find_invalid(db, two.id, 3, inv, 1) == 1 && inv[0] == 3);
    logdb_read_end(db);
    logdb_destroy(&db);
}

static int s_collect(const logdb_audit_t *a, void *arg)
{
    logdb_audit_t *out = arg;
    size_t n = out[0].index++;   /* out[0].index counts; records from out[1] */
    if (n < 3) {
        out[1 + n] = *a;
        out[1 + n].worker = NULL;
        CHECK(a->worker_len == 6 && memcmp(a->worker, n ? "liar/1" : "liar/0", 6) == 0);
    }
    return 0;
}

/*  The "audit" database: two records read back in index order, by the
 *  writer and by a reader; a log without records has none. */
static void test_audit_db(void)
{
    char dir[160];
    snprintf(dir, sizeof dir, "%s/audit", s_tmp);
    at_err err;
    logdb_t *db = logdb_open(dir, false, 16u << 20, &err);
    CHECK(db != NULL);
    if (!db)
        return;
    logdb_audit_t got[4];
    memset(got, 0, sizeof got);
    CHECK_ERR(logdb_audit_each(db, s_collect, got), AT_OK);
    CHECK(got[0].index == 0);
    logdb_audit_t b = { 9, 0, 0, 1, AT_ERR_SIGNATURE, 1700000000000001ull, "liar/1", 6 };
    logdb_audit_t a = { 7, 0, 0, 1, AT_ERR_SIGNATURE, 1700000000000000ull, "liar/0", 6 };
    CHECK_ERR(logdb_audit_record(db, &b), AT_OK);
    CHECK_ERR(logdb_audit_record(db, &a), AT_OK);
    for (int pass = 0; pass < 2; pass++) {
        memset(got, 0, sizeof got);
        CHECK_ERR(logdb_audit_each(db, s_collect, got), AT_OK);
        CHECK(got[0].index == 2 && got[1].index == 7 && got[2].index == 9);
        CHECK(got[1].got_verdict == 0 && got[1].expected_verdict == 1 && got[1].expected_reason == AT_ERR_SIGNATURE);
        CHECK(got[2].t_audited == 1700000000000001ull);
        logdb_destroy(&db);
        db = logdb_open(dir, true, 0, &err);   /* the second pass reads it read-only */
        CHECK(db != NULL);
        if (!db)
            return;
    }
    logdb_destroy(&db);
}

int main(void)
{
    CHECK_ERR(at_crypto_init(), AT_OK);
    for (size_t i = 0; i < sizeof s_att; i++)
        s_att[i] = (uint8_t) (i * 7);
    snprintf(s_tmp, sizeof s_tmp, "/tmp/attest-test-logdb-XXXXXX");
    if (!mkdtemp(s_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(s_dir, sizeof s_dir, "%s/log", s_tmp);
    test_batches();
    test_open_errors();
    test_map_full();
    test_map_grow();
    test_ids_flush();
    test_id_filter();
    test_id_claim();
    test_audit_db();
    CHECK(nftw(s_tmp, s_rm, 16, FTW_DEPTH | FTW_PHYS) == 0);
    CHECK(access(s_tmp, F_OK) != 0);
    return check_done("test_logdb");
}
