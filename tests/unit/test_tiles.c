/*  test_tiles.c: the Merkle tree the log keeps in its tiles (store/tiles.c,
 *  through logdb), in a temporary directory.
 *
 *  Covers: after every commit of batches of many sizes (across the 256-leaf
 *  tile and the 65536-leaf level-1 tile boundaries) the writer's root equals
 *  a naive RFC 6962 MTH over the leaf hashes of the stored entries, and a
 *  reader's root (rebuilt from the stored tiles) equals it too; every stored
 *  level-0 tile holds exactly the leaf hashes of its entries and level-1
 *  tiles the roots of level-0 tiles; an aborted batch leaves the tree as
 *  committed; a reopened writer goes on with the same tree; a log written
 *  before the tree (no tiles, no tree_size) is integrated when a writer
 *  opens it, with the same root.
 */
#include "check.h"
#include "logdb.h"
#include <ftw.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdlib.h>
#include <unistd.h>

static char s_tmp[64];
static uint8_t s_att[200];
static merkle_hash_t *s_leaves;   /* leaf hashes of the stored entries, in index order */
static uint64_t s_count;
#define S_LEAVES_MAX 80000   /* the most entries main() appends: 70,104 */

static logdb_entry_t s_entry(uint64_t i)
{
    logdb_entry_t e;
    memset(&e, 0, sizeof e);
    e.seq = i;
    crypto_generichash(e.id, AT_ID_BYTES, (const uint8_t *) &i, sizeof i, (const uint8_t *) "tiles", 5);
    e.producer = "p";
    e.producer_len = 1;
    e.worker = "w";
    e.worker_len = 1;
    e.t_received = e.t_dispatched = e.t_verified = e.t_committed = 1700000000000000ull + i;
    e.att = s_att;
    e.att_len = 50 + (size_t) (i % 150);
    return e;
}

/*  Naive MTH(leaves[lo, hi)), RFC 6962 2.1. */
static void s_mth(uint64_t lo, uint64_t hi, uint8_t out[32])
{
    if (hi - lo == 1) {
        memcpy(out, s_leaves[lo], 32);
        return;
    }
    uint64_t k = 1;
    while (k * 2 < hi - lo)
        k *= 2;
    uint8_t l[32], r[32];
    s_mth(lo, lo + k, l);
    s_mth(lo + k, hi, r);
    merkle_node_hash(l, r, out);
}

static void s_naive_root(uint64_t n, uint8_t out[32])
{
    if (n == 0)
        crypto_hash_sha256(out, NULL, 0);
    else
        s_mth(0, n, out);
}

/*  Appends entries [s_count, s_count + n) in one batch, commits (or aborts), and
 *  remembers the stored bytes' leaf hashes of what committed. */
static void s_batch(logdb_t *db, uint64_t n, bool commit)
{
    if (s_count + n > S_LEAVES_MAX) {
        CHECK(!"more entries than s_leaves holds");
        return;
    }
    CHECK_ERR(logdb_begin(db), AT_OK);
    for (uint64_t i = s_count; i < s_count + n; i++) {
        logdb_entry_t e = s_entry(i);
        CHECK_ERR(logdb_append(db, &e), AT_OK);
    }
    if (!commit) {
        logdb_abort(db);
        return;
    }
    CHECK_ERR(logdb_commit(db, s_count + n), AT_OK);
    CHECK_ERR(logdb_read_begin(db), AT_OK);
    for (uint64_t i = s_count; i < s_count + n; i++) {
        const uint8_t *raw;
        size_t len;
        CHECK_ERR(logdb_get(db, i, NULL, &raw, &len), AT_OK);
        merkle_leaf_hash(raw, len, s_leaves[i]);
    }
    logdb_read_end(db);
    s_count += n;
}

static void s_check_root(logdb_t *writer)
{
    uint8_t want[32], got[32];
    uint64_t size = 0;
    s_naive_root(s_count, want);
    CHECK_ERR(logdb_tree(writer, &size, got), AT_OK);
    CHECK(size == s_count && memcmp(got, want, 32) == 0);
}

/*  A reader's root, from the stored tiles (no writer open: one environment
 *  per file per process). */
static void s_check_reader_root(const char *dir)
{
    uint8_t want[32], got[32];
    uint64_t size = 0;
    s_naive_root(s_count, want);
    at_err err;
    logdb_t *reader = logdb_open(dir, true, 0, &err);
    CHECK(reader != NULL);
    if (!reader)
        return;
    memset(got, 0, 32);
    CHECK_ERR(logdb_tree(reader, &size, got), AT_OK);
    CHECK(size == s_count && memcmp(got, want, 32) == 0);
    logdb_destroy(&reader);
}

/*  Every stored tile of levels 0 and 1 is what the leaves make. */
static void s_check_tiles(logdb_t *db)
{
    CHECK_ERR(logdb_read_begin(db), AT_OK);
    for (uint64_t t = 0; t * 256 < s_count; t++) {
        const uint8_t *h;
        size_t w, want_w = s_count - t * 256 < 256 ? (size_t) (s_count - t * 256) : 256;
        CHECK_ERR(logdb_tile(db, 0, t, &h, &w), AT_OK);
        CHECK(w == want_w && memcmp(h, s_leaves[t * 256], w * 32) == 0);
    }
    uint64_t full0 = s_count / 256;
    for (uint64_t t = 0; t * 256 < full0; t++) {
        const uint8_t *h;
        size_t w;
        CHECK_ERR(logdb_tile(db, 1, t, &h, &w), AT_OK);
        for (size_t j = 0; j < w; j++) {
            uint8_t r[32];
            s_mth((t * 256 + j) * 256, (t * 256 + j + 1) * 256, r);
            CHECK(memcmp(h + j * 32, r, 32) == 0);
        }
    }
    logdb_read_end(db);
}

/*  Removes the tree from the log at dir, as a log written before it. */
static void s_drop_tree(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi tiles, meta;
    CHECK(mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 16) == 0 && mdb_env_open(env, dir, 0, 0640) == 0);
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    CHECK(mdb_dbi_open(txn, "tiles", 0, &tiles) == 0 && mdb_drop(txn, tiles, 1) == 0);
    CHECK(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    MDB_val k = { 9, "tree_size" };
    CHECK(mdb_del(txn, meta, &k, NULL) == 0);
    CHECK(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb, (void) flag, (void) ftw;
    return remove(path);
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    strcpy(s_tmp, "/tmp/attest-test-tiles-XXXXXX");
    CHECK(mkdtemp(s_tmp) != NULL);
    s_leaves = calloc(S_LEAVES_MAX, sizeof *s_leaves);
    for (size_t i = 0; i < sizeof s_att; i++)
        s_att[i] = (uint8_t) (i * 7);
    at_err err;
    logdb_t *db = logdb_open(s_tmp, false, 64u << 20, &err);
    CHECK(db != NULL);
    s_check_root(db);   /* the empty tree */
    static const uint64_t sizes[] = { 1, 1, 2, 5, 8, 100, 138, 255, 1, 256, 257, 3000, 1, 511, 4096 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        s_batch(db, sizes[i], true);
        s_check_root(db);
    }
    s_batch(db, 300, false);   /* aborted: the tree stays as committed */
    s_check_root(db);
    logdb_destroy(&db);
    s_check_reader_root(s_tmp);
    db = logdb_open(s_tmp, false, 64u << 20, &err);   /* a writer again: the same tree goes on */
    CHECK(db != NULL);
    while (s_count < 66000) {   /* past 65536: level 1's first tile fills, level 2 begins */
        s_batch(db, 4093, true);
    }
    s_check_root(db);
    s_check_tiles(db);
    logdb_destroy(&db);
    s_check_reader_root(s_tmp);
    s_drop_tree(s_tmp);
    db = logdb_open(s_tmp, false, 64u << 20, &err);   /* integrates the entries */
    CHECK(db != NULL);
    s_check_root(db);
    s_check_tiles(db);
    s_batch(db, 77, true);
    s_check_root(db);
    logdb_destroy(&db);
    s_check_reader_root(s_tmp);
    nftw(s_tmp, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(s_leaves);
    return check_done("test_tiles");
}
