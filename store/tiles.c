/*  tiles.c: the Merkle tree as C2SP tiles in LMDB, and its checkpoints
 *  (see tiles.h).
 *
 *  Per tile level L the writer holds the rightmost tile's row of hashes and
 *  a stack of the complete subtrees inside it, heights strictly decreasing
 *  from the bottom. Appending a hash pushes it as height 0 and merges equal
 *  heights; a merge that reaches height 8 is the root of the full tile: the
 *  tile is put, the row starts again, and that root is appended to level
 *  L + 1. The tree's root folds every level's stack, the highest level's
 *  bottom first (the leftmost, largest subtree), right to left.
 */
#include "tiles.h"
#include "alloc.h"
#include "checkpoint.h"
#include "log.h"
#include "sha256.h"
#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define S_KEY_BYTES 9      /* u8 level, u64 big-endian tile number */
#define S_NOTE_MAX (CHECKPOINT_BODY_MAX + NOTE_SIG_LINE_MAX + 2)

typedef struct {
    merkle_hash_t row[MERKLE_TILE_WIDTH];   /* hashes of level 8 * L from 256 * n */
    unsigned width;
    uint64_t n;                             /* the tile's number */
    merkle_hash_t stack[MERKLE_TILE_HEIGHT + 1];   /* + 1: a push before its merges */
    uint8_t height[MERKLE_TILE_HEIGHT + 1];
    unsigned depth;
    bool dirty;                             /* row changed since the last tiles_write */
} s_level_t;

struct tiles_t {
    MDB_dbi tiles, checkpoints;
    uint64_t size;
    s_level_t lv[TILES_LEVELS];
};

tiles_t *tiles_new(void)
{
    return at_calloc(1, sizeof(tiles_t));
}

void tiles_destroy(tiles_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

int tiles_open(tiles_t *self, MDB_txn *txn, bool create, bool *present)
{
    unsigned flags = create ? MDB_CREATE : 0;
    int rc = mdb_dbi_open(txn, "tiles", flags, &self->tiles);
    if (!rc)
        rc = mdb_dbi_open(txn, "checkpoints", flags, &self->checkpoints);
    *present = rc == 0;
    return rc == MDB_NOTFOUND && !create ? 0 : rc;
}

static void s_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}

static uint64_t s_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static at_err s_db_err(int rc, const char *what)
{
    if (rc == MDB_MAP_FULL)
        return AT_ERR_MAP_FULL;
    at_log_error("LOG-TREE", "%s: %s", what, mdb_strerror(rc));
    return AT_ERR_DB;
}

static void s_tile_key(uint8_t key[S_KEY_BYTES], unsigned level, uint64_t n)
{
    key[0] = (uint8_t) level;
    s_put_be64(key + 1, n);
}

static at_err s_put_tile(tiles_t *self, MDB_txn *txn, unsigned level, const s_level_t *lv)
{
    uint8_t kb[S_KEY_BYTES];
    s_tile_key(kb, level, lv->n);
    MDB_val k = { sizeof kb, kb }, v = { lv->width * (size_t) MERKLE_HASH_BYTES, (void *) lv->row };
    int rc = mdb_put(txn, self->tiles, &k, &v, 0);
    return rc ? s_db_err(rc, "put tile") : AT_OK;
}

/*  Pushes h as a height-0 subtree and merges equal heights; true when the
 *  merges completed the whole tile (its root in *root, the stack empty). */
static bool s_stack_push(s_level_t *lv, const uint8_t h[MERKLE_HASH_BYTES], uint8_t root[MERKLE_HASH_BYTES])
{
    assert(lv->depth <= MERKLE_TILE_HEIGHT);
    memcpy(lv->stack[lv->depth], h, MERKLE_HASH_BYTES);
    lv->height[lv->depth++] = 0;
    while (lv->depth >= 2 && lv->height[lv->depth - 1] == lv->height[lv->depth - 2]) {
        unsigned top = lv->depth - 1;
        uint8_t parent[MERKLE_HASH_BYTES];
        merkle_node_hash(lv->stack[top - 1], lv->stack[top], parent);
        uint8_t height = (uint8_t) (lv->height[top - 1] + 1);
        lv->depth--;
        if (height == MERKLE_TILE_HEIGHT) {
            memcpy(root, parent, MERKLE_HASH_BYTES);
            lv->depth = 0;
            return true;
        }
        memcpy(lv->stack[top - 1], parent, MERKLE_HASH_BYTES);
        lv->height[top - 1] = height;
    }
    return false;
}

/*  Appends h to level `level`'s row; a full tile is put and its root
 *  appended one level up. */
static at_err s_append(tiles_t *self, MDB_txn *txn, unsigned level, const uint8_t leaf_hash[MERKLE_HASH_BYTES])
{
    uint8_t h[MERKLE_HASH_BYTES], root[MERKLE_HASH_BYTES];
    memcpy(h, leaf_hash, MERKLE_HASH_BYTES);
    for (;; level++) {
        assert(level < TILES_LEVELS);
        s_level_t *lv = &self->lv[level];
        memcpy(lv->row[lv->width++], h, MERKLE_HASH_BYTES);
        lv->dirty = true;
        if (!s_stack_push(lv, h, root))
            return AT_OK;
        at_err err = s_put_tile(self, txn, level, lv);
        if (err)
            return err;
        lv->width = 0;
        lv->n++;
        lv->dirty = false;
        memcpy(h, root, MERKLE_HASH_BYTES);
    }
}

at_err tiles_add(tiles_t *self, MDB_txn *txn, const void *leaf, size_t len)
{
    uint8_t h[MERKLE_HASH_BYTES];
    merkle_leaf_hash(leaf, len, h);
    at_err err = s_append(self, txn, 0, h);
    if (err == AT_OK)
        self->size++;
    return err;
}

at_err tiles_write(tiles_t *self, MDB_txn *txn)
{
    for (unsigned l = 0; l < TILES_LEVELS; l++) {
        s_level_t *lv = &self->lv[l];
        if (!lv->dirty || lv->width == 0)
            continue;
        at_err err = s_put_tile(self, txn, l, lv);
        if (err)
            return err;
        lv->dirty = false;
    }
    return AT_OK;
}

at_err tiles_get(tiles_t *self, MDB_txn *txn, unsigned level, uint64_t n, const uint8_t **hashes, size_t *width)
{
    uint8_t kb[S_KEY_BYTES];
    s_tile_key(kb, level, n);
    MDB_val k = { sizeof kb, kb }, v;
    int rc = mdb_get(txn, self->tiles, &k, &v);
    if (rc == MDB_NOTFOUND)
        return AT_ERR_NOT_FOUND;
    if (rc)
        return s_db_err(rc, "get tile");
    if (v.mv_size == 0 || v.mv_size % MERKLE_HASH_BYTES || v.mv_size > MERKLE_TILE_WIDTH * MERKLE_HASH_BYTES)
        return AT_ERR_CORRUPT;
    *hashes = v.mv_data;
    *width = v.mv_size / MERKLE_HASH_BYTES;
    return AT_OK;
}

/*  Level `level`'s rightmost tile of the tree of `size` leaves, from txn. */
static at_err s_load_level(tiles_t *self, MDB_txn *txn, unsigned level, uint64_t size)
{
    s_level_t *lv = &self->lv[level];
    uint64_t shifted = level * MERKLE_TILE_HEIGHT < 64 ? size >> (level * MERKLE_TILE_HEIGHT) : 0;
    unsigned width = (unsigned) (shifted % MERKLE_TILE_WIDTH);
    memset(lv, 0, sizeof *lv);
    lv->n = shifted / MERKLE_TILE_WIDTH;
    if (width == 0)
        return AT_OK;
    const uint8_t *hashes;
    size_t stored;
    at_err err = tiles_get(self, txn, level, lv->n, &hashes, &stored);
    if (err == AT_ERR_NOT_FOUND || (err == AT_OK && stored != width)) {
        at_log_error("LOG-TREE", "tile %u/%" PRIu64 " does not hold the %u hashes a tree of %" PRIu64 " leaves has",
                     level, lv->n, width, size);
        return AT_ERR_CORRUPT;
    }
    if (err)
        return err;
    for (unsigned i = 0; i < width; i++) {
        uint8_t unused[MERKLE_HASH_BYTES];
        memcpy(lv->row[i], hashes + (size_t) i * MERKLE_HASH_BYTES, MERKLE_HASH_BYTES);
        (void) s_stack_push(lv, lv->row[i], unused);   /* width < 256: never completes */
    }
    lv->width = width;
    return AT_OK;
}

at_err tiles_load(tiles_t *self, MDB_txn *txn, uint64_t size)
{
    for (unsigned l = 0; l < TILES_LEVELS; l++) {
        at_err err = s_load_level(self, txn, l, size);
        if (err)
            return err;
    }
    self->size = size;
    return AT_OK;
}

uint64_t tiles_size(const tiles_t *self)
{
    return self->size;
}

void tiles_root(const tiles_t *self, uint8_t out[MERKLE_HASH_BYTES])
{
    bool have = false;
    for (unsigned l = 0; l < TILES_LEVELS; l++) {
        const s_level_t *lv = &self->lv[l];
        for (unsigned i = lv->depth; i-- > 0;) {   /* right to left: the top of level 0 first */
            if (have)
                merkle_node_hash(lv->stack[i], out, out);
            else
                memcpy(out, lv->stack[i], MERKLE_HASH_BYTES);
            have = true;
        }
    }
    if (!have)
        sha256_digest(NULL, 0, out);
}

/*  Deletes the oldest checkpoints beyond keep. */
static int s_prune(tiles_t *self, MDB_txn *txn, uint64_t keep)
{
    MDB_stat st;
    int rc = mdb_stat(txn, self->checkpoints, &st);
    if (rc || st.ms_entries <= keep)
        return rc;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(txn, self->checkpoints, &c)))
        return rc;
    MDB_val k, v;
    for (uint64_t extra = st.ms_entries - keep; !rc && extra > 0; extra--) {
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        if (!rc)
            rc = mdb_cursor_del(c, 0);
    }
    mdb_cursor_close(c);
    return rc;
}

at_err tiles_checkpoint(tiles_t *self, MDB_txn *txn, const note_signer_t *signer, const char *origin,
                        uint64_t keep, uint64_t time_s)
{
    checkpoint_t cp = { .size = self->size, .time = time_s };
    size_t olen = strlen(origin);
    if (olen == 0 || olen > CHECKPOINT_ORIGIN_MAX)
        return AT_ERR_CONFIG;
    memcpy(cp.origin, origin, olen + 1);
    tiles_root(self, cp.root);
    char body[CHECKPOINT_BODY_MAX + 1], note[S_NOTE_MAX];
    size_t blen = checkpoint_format(&cp, body, sizeof body), nlen;
    if (blen == 0)
        return AT_ERR_CONFIG;
    at_err err = note_sign(signer, body, blen, note, sizeof note, &nlen);
    if (err)
        return err == AT_ERR_OVERSIZE ? AT_ERR_CONFIG : err;
    uint8_t kb[8];
    s_put_be64(kb, cp.size);
    MDB_val k = { sizeof kb, kb }, v = { nlen, note };
    int rc = mdb_put(txn, self->checkpoints, &k, &v, 0);
    if (!rc)
        rc = s_prune(self, txn, keep < 1 ? 1 : keep);
    return rc ? s_db_err(rc, "put checkpoint") : AT_OK;
}

uint64_t tiles_checkpoint_newest(tiles_t *self, MDB_txn *txn)
{
    const char *note;
    size_t len;
    uint64_t size;
    return tiles_checkpoint_get(self, txn, 0, false, &note, &len, &size) == AT_OK ? size : 0;
}

at_err tiles_checkpoint_get(tiles_t *self, MDB_txn *txn, uint64_t size, bool covering, const char **note,
                            size_t *len, uint64_t *at_size)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, self->checkpoints, &c);
    if (rc)
        return s_db_err(rc, "read checkpoints");
    uint8_t kb[8];
    s_put_be64(kb, covering ? size + 1 : size);
    MDB_val k = { sizeof kb, kb }, v;
    MDB_cursor_op op = covering ? MDB_SET_RANGE : size == 0 ? MDB_LAST : MDB_SET_KEY;
    rc = mdb_cursor_get(c, &k, &v, op);
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND || (rc == 0 && k.mv_size != 8))
        return rc ? AT_ERR_NOT_FOUND : AT_ERR_CORRUPT;
    if (rc)
        return s_db_err(rc, "read checkpoint");
    *note = v.mv_data;
    *len = v.mv_size;
    *at_size = s_get_be64(k.mv_data);
    return AT_OK;
}
