/*  test_findex.c: the log's find indexes (store/findex.[ch] through the
 *  logdb API) in a temporary directory.
 *
 *  Covers: every entry found under its attester, schema and subject, and
 *  nothing else, across batches of different sizes and a reopen (read-only
 *  too); an aborted batch leaving no index values; an entry whose
 *  attestation does not decode indexed nowhere; a log written without the
 *  indexes (they are dropped with raw LMDB): find_from at the old count, new
 *  entries indexed, logdb_reindex indexing the rest; the time bisection;
 *  id prefixes (unique, odd length, ambiguous, absent, not hex), in the
 *  "ids" database and in the unindexed tail; the subject index's layout
 *  (by_subject_1024 in a new log, "by_subject" with 16384-entry buckets in a
 *  log from before, a stale by_subject_1024 beside it dropped).
 */
#include "check.h"
#include "logdb.h"
#include <ftw.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_ATTESTERS 37
#define S_SCHEMAS 37   /* more than findex.c remembers (16): its memo evicts and collides */
#define S_N 5000

static char s_tmp[64];
static uint8_t s_keys[S_ATTESTERS][AT_KEY_BYTES];
static uint8_t s_enc[AT_ENCODED_MAX];

static void s_schema(uint64_t i, char *out) { snprintf(out, 32, "schema/%u", (unsigned) (i % S_SCHEMAS)); }
/*  Subjects: one in ten shared by many entries, the rest unique. */
static void s_subject(uint64_t i, char *out)
{
    snprintf(out, 32, i % 10 == 0 ? "subject-shared-%u" : "subject-%u", (unsigned) (i % 10 == 0 ? i % 3 : i));
}

/*  The entry for i: its attestation encoded into s_enc (a dummy signature:
 *  the index does not verify). i % 97 == 5: bytes that do not decode. */
static logdb_entry_t s_entry(uint64_t i)
{
    char schema[32], subject[32];
    uint8_t nonce[AT_NONCE_BYTES] = { 0 }, sig[AT_SIG_BYTES] = { 0 };
    memcpy(nonce, &i, sizeof i);
    s_schema(i, schema);
    s_subject(i, subject);
    attestation_t a = { .version = 1, .schema = schema, .schema_len = strlen(schema),
                        .attester = s_keys[i % S_ATTESTERS], .subject = subject, .subject_len = strlen(subject),
                        .issued_at = 1700000000, .nonce = nonce, .signature = sig };
    logdb_entry_t e;
    memset(&e, 0, sizeof e);
    size_t len = 0;
    CHECK_ERR(attestation_encode(&a, s_enc, sizeof s_enc, &len), AT_OK);
    attestation_id(&a, e.id);
    e.seq = i + 1;
    e.producer = "p";
    e.producer_len = 1;
    e.t_committed = 1700000000000000ull + (i / 100) * 1000;   /* batches of 100 share a time */
    e.att = s_enc;
    e.att_len = i % 97 == 5 ? 3 : len;
    return e;
}

static void s_append(logdb_t *db, uint64_t from, uint64_t to, bool commit)
{
    CHECK_ERR(logdb_begin(db), AT_OK);
    for (uint64_t i = from; i < to; i++) {
        logdb_entry_t e = s_entry(i);
        CHECK_ERR(logdb_append(db, &e), AT_OK);
    }
    if (commit)
        CHECK_ERR(logdb_commit(db, to + 1), AT_OK);
    else
        logdb_abort(db);
}

typedef struct {
    uint64_t got[S_N];
    size_t n;
} s_hits_t;

static int s_collect(uint64_t index, void *arg)
{
    s_hits_t *h = arg;
    if (h->n < S_N)
        h->got[h->n++] = index;
    return 0;
}

/*  The indices logdb_find_each gives for (by, value) are exactly the
 *  entries in [from, to) that have it, ascending. */
static void s_expect(logdb_t *db, logdb_by_t by, uint64_t want_i, uint64_t from, uint64_t to)
{
    static s_hits_t h;
    h.n = 0;
    char buf[32];
    const void *v = s_keys[want_i % S_ATTESTERS];
    size_t len = AT_KEY_BYTES;
    if (by != LOGDB_BY_ATTESTER) {
        by == LOGDB_BY_SCHEMA ? s_schema(want_i, buf) : s_subject(want_i, buf);
        v = buf;
        len = strlen(buf);
    }
    CHECK_ERR(logdb_find_each(db, by, v, len, 0, UINT64_MAX, s_collect, &h), AT_OK);
    size_t k = 0;
    bool ok = true;
    for (uint64_t i = from; i < to; i++) {
        char b2[32];
        bool match = i % 97 != 5;
        if (by == LOGDB_BY_ATTESTER)
            match = match && i % S_ATTESTERS == want_i % S_ATTESTERS;
        else if (by == LOGDB_BY_SCHEMA)
            match = match && (s_schema(i, b2), strcmp(b2, buf) == 0);
        else
            match = match && (s_subject(i, b2), strcmp(b2, buf) == 0);
        if (match)
            ok = ok && k < h.n && h.got[k++] == i;
    }
    CHECK(ok && k == h.n);
}

static void s_expect_all(logdb_t *db, uint64_t from, uint64_t to)
{
    CHECK_ERR(logdb_read_begin(db), AT_OK);
    for (uint64_t i = 0; i < 40; i++) {
        s_expect(db, LOGDB_BY_ATTESTER, i, from, to);
        s_expect(db, LOGDB_BY_SCHEMA, i, from, to);
        s_expect(db, LOGDB_BY_SUBJECT, i, from, to);   /* i = 0, 10, 20, 30: shared subjects */
    }
    s_expect(db, LOGDB_BY_SUBJECT, to - 1, from, to);
    logdb_read_end(db);
}

static void test_index(void)
{
    char dir[160];
    snprintf(dir, sizeof dir, "%s/a", s_tmp);
    at_err err;
    logdb_t *db = logdb_open(dir, false, 64u << 20, &err);
    CHECK(db != NULL);
    if (!db)
        return;
    s_append(db, 0, 1, true);
    s_append(db, 1, 1000, true);
    s_append(db, 1000, 1500, false);   /* aborted: indexes nothing */
    s_append(db, 1000, 4096, true);
    s_expect_all(db, 0, 4096);
    logdb_destroy(&db);
    db = logdb_open(dir, true, 0, &err);
    CHECK(db != NULL);
    if (!db)
        return;
    uint64_t from = 99;
    CHECK_ERR(logdb_read_begin(db), AT_OK);
    CHECK(logdb_find_indexed(db, &from) && from == 0);
    logdb_read_end(db);
    s_expect_all(db, 0, 4096);
    logdb_destroy(&db);
}

/*  Drops the find indexes with raw LMDB: a log as written before them. */
static void s_drop_find(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    CHECK(mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 8) == 0 && mdb_env_open(env, dir, 0, 0640) == 0);
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    const char *names[] = { "by_attester", "by_schema", "by_subject_1024" };
    for (int i = 0; i < 3; i++)
        CHECK(mdb_dbi_open(txn, names[i], MDB_DUPSORT | MDB_DUPFIXED, &dbi) == 0 && mdb_drop(txn, dbi, 1) == 0);
    CHECK(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
}

static void test_old_log(void)
{
    char dir[160];
    snprintf(dir, sizeof dir, "%s/old", s_tmp);
    at_err err;
    logdb_t *db = logdb_open(dir, false, 64u << 20, &err);
    s_append(db, 0, 3000, true);
    logdb_destroy(&db);
    s_drop_find(dir);
    db = logdb_open(dir, true, 0, &err);   /* a reader: no indexes */
    uint64_t from = 0;
    CHECK_ERR(logdb_read_begin(db), AT_OK);
    CHECK(!logdb_find_indexed(db, &from) && from == 3000);
    CHECK_ERR(logdb_find_each(db, LOGDB_BY_SCHEMA, "schema/1", 8, 0, UINT64_MAX, s_collect, NULL), AT_ERR_NOT_FOUND);
    logdb_read_end(db);
    logdb_destroy(&db);
    db = logdb_open(dir, false, 64u << 20, &err);   /* the writer creates them from here on */
    s_append(db, 3000, S_N, true);
    CHECK_ERR(logdb_read_begin(db), AT_OK);
    CHECK(logdb_find_indexed(db, &from) && from == 3000);
    logdb_read_end(db);
    s_expect_all(db, 3000, S_N);
    uint64_t done = 0;
    CHECK_ERR(logdb_reindex(db, &done), AT_OK);
    CHECK(done == 3000);
    CHECK_ERR(logdb_read_begin(db), AT_OK);
    CHECK(logdb_find_indexed(db, &from) && from == 0);
    logdb_read_end(db);
    s_expect_all(db, 0, S_N);
    CHECK_ERR(logdb_reindex(db, &done), AT_OK);   /* nothing left to do */
    CHECK(done == 0);
    logdb_destroy(&db);
}

static void test_time_and_prefix(void)
{
    char dir[160], hex[65];
    snprintf(dir, sizeof dir, "%s/a", s_tmp);
    at_err err;
    logdb_t *db = logdb_open(dir, true, 0, &err);
    CHECK(db != NULL);
    if (!db)
        return;
    CHECK_ERR(logdb_read_begin(db), AT_OK);
    uint64_t at = 1;
    CHECK_ERR(logdb_time_search(db, 0, &at), AT_OK);
    CHECK(at == 0);
    CHECK_ERR(logdb_time_search(db, 1700000000000000ull + 1000 * 7 + 1, &at), AT_OK);
    CHECK(at == 800);
    CHECK_ERR(logdb_time_search(db, UINT64_MAX, &at), AT_OK);
    CHECK(at == 4096);
    /* Ids of entries 10 (in "ids"? the log is below the flush size: all in the tail) */
    logdb_entry_t e = s_entry(10);
    uint8_t id[AT_ID_BYTES];
    sodium_bin2hex(hex, sizeof hex, e.id, AT_ID_BYTES);
    const size_t lens[] = { 64, 45, 26, 7 };
    for (size_t k = 0; k < 4; k++) {
        size_t n = lens[k];
        char p[65];
        memcpy(p, hex, n);
        p[n] = 0;
        CHECK_ERR(logdb_lookup_prefix(db, p, id, &at), AT_OK);
        CHECK(at == 10 && memcmp(id, e.id, AT_ID_BYTES) == 0);
    }
    CHECK_ERR(logdb_lookup_prefix(db, "0", id, &at), AT_ERR_DUPLICATE);   /* 4096 ids: many begin with 0 */
    CHECK_ERR(logdb_lookup_prefix(db, "zz", id, &at), AT_ERR_RANGE);
    hex[12] = hex[12] == '0' ? '1' : '0';
    hex[13] = 0;
    CHECK_ERR(logdb_lookup_prefix(db, hex, id, &at), AT_ERR_NOT_FOUND);
    logdb_read_end(db);
    logdb_destroy(&db);
}

/*  Prefixes in the "ids" database (a log past the first flush). */
static void test_prefix_flushed(void)
{
    char dir[160], hex[65];
    snprintf(dir, sizeof dir, "%s/big", s_tmp);
    at_err err;
    logdb_t *db = logdb_open(dir, false, 256u << 20, &err);
    for (uint64_t i = 0; i < 4 * LOGDB_IDS_FLUSH; i += 4096)
        s_append(db, i, i + 4096, true);
    logdb_destroy(&db);
    db = logdb_open(dir, true, 0, &err);
    logdb_state_t st;
    CHECK_ERR(logdb_state(db, &st), AT_OK);
    CHECK(st.ids_upto > 100);
    CHECK_ERR(logdb_read_begin(db), AT_OK);
    logdb_entry_t e = s_entry(100);
    sodium_bin2hex(hex, sizeof hex, e.id, AT_ID_BYTES);
    hex[11] = 0;
    uint8_t id[AT_ID_BYTES];
    uint64_t at = 0;
    CHECK_ERR(logdb_lookup_prefix(db, hex, id, &at), AT_OK);
    CHECK(at == 100);
    /* Many buckets (16384 entries each): whole-log and ranged queries. */
    uint64_t n = logdb_count(db);
    s_expect(db, LOGDB_BY_ATTESTER, 3, 0, n);
    s_expect(db, LOGDB_BY_SUBJECT, 20, 0, n);
    s_expect(db, LOGDB_BY_SUBJECT, 100001, 0, n);
    static s_hits_t h;
    h.n = 0;
    CHECK_ERR(logdb_find_each(db, LOGDB_BY_ATTESTER, s_keys[3], AT_KEY_BYTES, 40000, 50000, s_collect, &h), AT_OK);
    size_t inside = 0, want = 0;
    for (size_t k = 0; k < h.n; k++) {
        inside += h.got[k] >= 40000 && h.got[k] < 50000;
        CHECK(h.got[k] >= (40000u >> 14 << 14) && h.got[k] < ((50000u >> 14) + 1) << 14);
    }
    for (uint64_t i = 40000; i < 50000; i++)
        want += i % S_ATTESTERS == 3 && i % 97 != 5;
    CHECK(inside == want && want > 0);
    logdb_read_end(db);
    logdb_destroy(&db);
}

/*  With raw LMDB: whether database `name` exists and the largest bucket
 *  among its keys; legacy turns a new log's subject index into the one a
 *  log from before by_subject_1024 has (an empty "by_subject"). */
static bool s_raw_subject(const char *dir, const char *name, bool legacy, uint32_t *max_bucket)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k, v;
    unsigned flags = MDB_DUPSORT | MDB_DUPFIXED;
    *max_bucket = 0;
    CHECK(mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 16) == 0 && mdb_env_open(env, dir, 0, 0640) == 0);
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    if (legacy) {
        CHECK(mdb_dbi_open(txn, "by_subject_1024", flags, &dbi) == 0 && mdb_drop(txn, dbi, 1) == 0);
        CHECK(mdb_dbi_open(txn, "by_subject", flags | MDB_CREATE, &dbi) == 0);
    }
    bool exists = mdb_dbi_open(txn, name, flags, &dbi) == 0;
    if (exists) {
        CHECK(mdb_cursor_open(txn, dbi, &cur) == 0);
        if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 12) {
            const uint8_t *b = k.mv_data;
            *max_bucket = (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
        }
        mdb_cursor_close(cur);
    }
    CHECK(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
    return exists;
}

/*  The subject index of a new log is by_subject_1024, in 1024-entry
 *  buckets; a log whose subject index is "by_subject" (from before) keeps
 *  16384-entry buckets, for the writer and for readers, across many
 *  buckets; a by_subject_1024 beside it (a newer sink ran first, then an
 *  older one) is dropped by the writer and never read. */
static void test_subject_layout(void)
{
    char dir[160];
    uint32_t max_bucket;
    at_err err;
    const uint64_t n = 40000;
    for (int legacy = 0; legacy < 2; legacy++) {
        snprintf(dir, sizeof dir, "%s/layout%d", s_tmp, legacy);
        logdb_t *db = logdb_open(dir, false, 64u << 20, &err);
        CHECK(db != NULL);
        if (!db)
            return;
        logdb_destroy(&db);
        CHECK(s_raw_subject(dir, "by_subject_1024", legacy, &max_bucket) == !legacy);
        db = logdb_open(dir, false, 64u << 20, &err);
        for (uint64_t i = 0; i < n; i += 2000)
            s_append(db, i, i + 2000, true);
        s_expect_all(db, 0, n);
        logdb_destroy(&db);
        CHECK(s_raw_subject(dir, legacy ? "by_subject" : "by_subject_1024", false, &max_bucket));
        CHECK(max_bucket == (n - 1) >> (legacy ? 14 : 10));
        CHECK(s_raw_subject(dir, legacy ? "by_subject_1024" : "by_subject", false, &max_bucket) == false);
        db = logdb_open(dir, true, 0, &err);   /* a reader takes the log's layout */
        s_expect_all(db, 0, n);
        CHECK_ERR(logdb_read_begin(db), AT_OK);
        s_expect(db, LOGDB_BY_SUBJECT, 33333, 0, n);
        logdb_read_end(db);
        logdb_destroy(&db);
    }
}

/*  A stale by_subject_1024 beside "by_subject" (an older sink after a
 *  newer one): the writer drops it, and find answers from "by_subject". */
static void test_subject_stale(void)
{
    char dir[160];
    uint32_t max_bucket;
    at_err err;
    snprintf(dir, sizeof dir, "%s/stale", s_tmp);
    logdb_t *db = logdb_open(dir, false, 64u << 20, &err);
    s_append(db, 0, 3000, true);
    logdb_destroy(&db);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    CHECK(mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 16) == 0 && mdb_env_open(env, dir, 0, 0640) == 0);
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    CHECK(mdb_dbi_open(txn, "by_subject", MDB_DUPSORT | MDB_DUPFIXED | MDB_CREATE, &dbi) == 0);
    uint8_t from[8] = { 0, 0, 0, 0, 0, 0, 3000 >> 8, 3000 & 0xff };   /* as the older sink sets it */
    MDB_dbi meta;
    MDB_val k = { 9, "find_from" }, v = { 8, from };
    CHECK(mdb_dbi_open(txn, "meta", 0, &meta) == 0 && mdb_put(txn, meta, &k, &v, 0) == 0);
    CHECK(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
    db = logdb_open(dir, false, 64u << 20, &err);   /* "by_subject" is the index now: the other is dropped */
    CHECK(db != NULL);
    if (!db)
        return;
    s_append(db, 3000, 5000, true);
    CHECK_ERR(logdb_read_begin(db), AT_OK);
    for (uint64_t i = 3000; i < 3040; i++)
        s_expect(db, LOGDB_BY_SUBJECT, i, 3000, 5000);   /* what the older sink's index holds, nothing below */
    logdb_read_end(db);
    logdb_destroy(&db);
    CHECK(!s_raw_subject(dir, "by_subject_1024", false, &max_bucket));
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb;
    (void) flag;
    (void) ftw;
    return remove(path);
}

int main(void)
{
    CHECK_ERR(at_crypto_init(), AT_OK);
    for (int i = 0; i < S_ATTESTERS; i++)
        crypto_generichash(s_keys[i], AT_KEY_BYTES, (const uint8_t *) &i, sizeof i, NULL, 0);
    snprintf(s_tmp, sizeof s_tmp, "/tmp/attest-test-findex-XXXXXX");
    if (!mkdtemp(s_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_index();
    test_old_log();
    test_time_and_prefix();
    test_prefix_flushed();
    test_subject_layout();
    test_subject_stale();
    CHECK(nftw(s_tmp, s_rm, 16, FTW_DEPTH | FTW_PHYS) == 0);
    return check_done("test_findex");
}
