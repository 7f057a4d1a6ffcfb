/*  logprove.c: proofs from a read snapshot of the log, their encodings, and
 *  the tree audit of `attest log verify` (see logprove.h).
 *
 *  Proofs come from tlog/merkle.h reading the snapshot's stored hashes
 *  (logdb_merkle_reader) and are checked before they are returned: a proof
 *  the tool prints always verifies against the root it prints, and that
 *  root is the stored checkpoint's when one of that size exists.
 *
 *  The audit recomputes the tree from the entries alone, the way an outside
 *  verifier would: leaf hash SHA-256(0x00 || stored bytes) per entry, the
 *  hashes of level 8 * (L + 1) from full tiles of level 8 * L, each tile
 *  compared with the stored one as it completes, the root from a stack of
 *  complete subtrees (RFC 9162 2.1.1 folds them right to left).
 */
#include "logprove.h"
#include "alloc.h"
#include "sha256.h"
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_B64_HASH (sodium_base64_ENCODED_LEN(MERKLE_HASH_BYTES, sodium_base64_VARIANT_ORIGINAL))
#define S_LEVELS 8      /* tile levels: 8 * 8 = 64 tree levels */

static void s_err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_err(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, LOGPROVE_ERR_MAX, fmt, ap);
    va_end(ap);
}

static json_t *s_b64(const void *bytes, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *s = at_malloc(cap);
    sodium_bin2base64(s, cap, bytes, len, sodium_base64_VARIANT_ORIGINAL);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *s_hex(const uint8_t h[MERKLE_HASH_BYTES])
{
    char hex[2 * MERKLE_HASH_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, h, MERKLE_HASH_BYTES);
    return json_string(hex);
}

static json_t *s_note(const char *note, size_t len)
{
    return note ? json_stringn(note, len) : json_null();
}

/*  The body of a note: up to and including the line before the first empty line. */
static size_t s_body_len(const char *note, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (note[i] == '\n' && note[i + 1] == '\n')
            return i + 1;
    return 0;
}

at_err logprove_open(const note_verifier_t *v, const char *note, size_t len, checkpoint_t *out)
{
    size_t body_len = s_body_len(note, len);
    if (v) {
        at_err rc = note_open(v, note, len, &body_len);
        if (rc)
            return rc;
    }
    if (body_len == 0)
        return AT_ERR_SHAPE;
    return checkpoint_parse(out, note, body_len) == AT_OK ? AT_OK : AT_ERR_SHAPE;
}

at_err logprove_head(logdb_t *db, logprove_head_t *out)
{
    memset(out, 0, sizeof *out);
    at_err rc = logdb_tree(db, &out->size, out->root);
    if (rc)
        return rc;
    rc = logdb_checkpoint(db, 0, &out->note, &out->note_len, &out->note_size);
    if (rc == AT_ERR_NOT_FOUND) {
        out->note = NULL;
        return AT_OK;
    }
    return rc;
}

/*  The stored checkpoint of exactly `size` (NULL when none) and, when there
 *  is one, whether its root is `root`. */
static at_err s_checkpoint_of(logdb_t *db, uint64_t size, const uint8_t root[MERKLE_HASH_BYTES], const char **note,
                              size_t *len, char *err)
{
    uint64_t at;
    at_err rc = logdb_checkpoint(db, size, note, len, &at);
    if (rc == AT_ERR_NOT_FOUND || (rc == AT_OK && at != size)) {
        *note = NULL;
        *len = 0;
        return AT_OK;
    }
    if (rc) {
        s_err(err, "reading the checkpoint of size %" PRIu64 ": %s", size, at_strerror(rc));
        return rc;
    }
    checkpoint_t c;
    if (logprove_open(NULL, *note, *len, &c) != AT_OK) {
        s_err(err, "the stored checkpoint of size %" PRIu64 " is not a checkpoint note", size);
        return AT_ERR_CORRUPT;
    }
    if (c.size != size || sodium_memcmp(c.root, root, MERKLE_HASH_BYTES) != 0) {
        s_err(err, "the stored checkpoint of size %" PRIu64 " has another root than the stored tiles give "
                   "(run 'attest log verify')", size);
        return AT_ERR_CORRUPT;
    }
    return AT_OK;
}

static at_err s_tree_size(logdb_t *db, uint64_t *size, char *err)
{
    uint8_t root[MERKLE_HASH_BYTES];
    at_err rc = logdb_tree(db, size, root);
    if (rc == AT_ERR_NOT_FOUND)
        s_err(err, "the log has no Merkle tree yet (written before it: the sink builds it when it opens the log)");
    else if (rc)
        s_err(err, "reading the tree: %s", at_strerror(rc));
    return rc;
}

static at_err s_root(logdb_t *db, uint64_t size, uint8_t root[MERKLE_HASH_BYTES], char *err)
{
    merkle_reader_t r = logdb_merkle_reader(db);
    at_err rc = merkle_root(&r, size, root);
    if (rc)
        s_err(err, "computing the root of size %" PRIu64 " from the stored tiles: %s (run 'attest log verify')",
              size, at_strerror(rc));
    return rc;
}

at_err logprove_inclusion(logdb_t *db, uint64_t index, uint64_t size, logprove_inclusion_t *out, char *err)
{
    memset(out, 0, sizeof *out);
    out->index = index;
    out->size = size;
    uint64_t tree;
    at_err rc = s_tree_size(db, &tree, err);
    if (rc)
        return rc;
    if (size > tree || index >= size) {
        s_err(err, index >= size ? "index %" PRIu64 " is not in a tree of size %" PRIu64
                                 : "index %" PRIu64 ": size %" PRIu64 " is beyond the tree (%" PRIu64 " leaves)",
              index, size, tree);
        return AT_ERR_RANGE;
    }
    rc = logdb_get(db, index, NULL, &out->entry, &out->entry_len);
    if (rc) {
        s_err(err, "entry %" PRIu64 ": %s", index, at_strerror(rc));
        return rc;
    }
    merkle_leaf_hash(out->entry, out->entry_len, out->leaf_hash);
    merkle_reader_t r = logdb_merkle_reader(db);
    if ((rc = s_root(db, size, out->root, err)) != AT_OK)
        return rc;
    if ((rc = merkle_prove_inclusion(&r, index, size, out->proof, &out->len)) != AT_OK) {
        s_err(err, "proving entry %" PRIu64 " in size %" PRIu64 ": %s", index, size, at_strerror(rc));
        return rc;
    }
    if (!merkle_verify_inclusion(index, size, out->leaf_hash, out->proof, out->len, out->root)) {
        s_err(err, "the proof of entry %" PRIu64 " does not lead to the root: the stored tiles do not match the "
                   "entry (run 'attest log verify')", index);
        return AT_ERR_CORRUPT;
    }
    return s_checkpoint_of(db, size, out->root, &out->note, &out->note_len, err);
}

at_err logprove_consistency(logdb_t *db, uint64_t old_size, uint64_t new_size, logprove_consistency_t *out,
                            char *err)
{
    memset(out, 0, sizeof *out);
    out->old_size = old_size;
    out->new_size = new_size;
    uint64_t tree;
    at_err rc = s_tree_size(db, &tree, err);
    if (rc)
        return rc;
    if (old_size == 0 || old_size > new_size || new_size > tree) {
        s_err(err, "want 0 < OLD <= NEW <= %" PRIu64 " (the tree's size), got %" PRIu64 " and %" PRIu64, tree,
              old_size, new_size);
        return AT_ERR_RANGE;
    }
    merkle_reader_t r = logdb_merkle_reader(db);
    if ((rc = s_root(db, old_size, out->old_root, err)) || (rc = s_root(db, new_size, out->new_root, err)))
        return rc;
    if ((rc = merkle_prove_consistency(&r, old_size, new_size, out->proof, &out->len)) != AT_OK) {
        s_err(err, "proving %" PRIu64 " -> %" PRIu64 ": %s", old_size, new_size, at_strerror(rc));
        return rc;
    }
    if (!merkle_verify_consistency(old_size, new_size, out->old_root, out->new_root, out->proof, out->len)) {
        s_err(err, "the consistency proof does not check against the stored tiles (run 'attest log verify')");
        return AT_ERR_CORRUPT;
    }
    rc = s_checkpoint_of(db, old_size, out->old_root, &out->old_note, &out->old_note_len, err);
    return rc ? rc : s_checkpoint_of(db, new_size, out->new_root, &out->new_note, &out->new_note_len, err);
}

/* --------------------------------------------------------------------------
 * Encodings */

static json_t *s_proof_json(const merkle_hash_t *proof, size_t len)
{
    json_t *a = json_array();
    for (size_t i = 0; i < len; i++)
        json_array_append_new(a, s_b64(proof[i], MERKLE_HASH_BYTES));
    return a;
}

json_t *logprove_inclusion_json(const logprove_inclusion_t *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer((json_int_t) p->index));
    json_object_set_new(o, "size", json_integer((json_int_t) p->size));
    json_object_set_new(o, "leaf_hash", s_b64(p->leaf_hash, MERKLE_HASH_BYTES));
    json_object_set_new(o, "leaf_hash_hex", s_hex(p->leaf_hash));
    json_object_set_new(o, "root", s_b64(p->root, MERKLE_HASH_BYTES));
    json_object_set_new(o, "root_hex", s_hex(p->root));
    json_object_set_new(o, "proof", s_proof_json(p->proof, p->len));
    json_object_set_new(o, "checkpoint", s_note(p->note, p->note_len));
    json_object_set_new(o, "entry", s_b64(p->entry, p->entry_len));
    return o;
}

json_t *logprove_consistency_json(const logprove_consistency_t *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "old_size", json_integer((json_int_t) p->old_size));
    json_object_set_new(o, "new_size", json_integer((json_int_t) p->new_size));
    json_object_set_new(o, "old_root", s_b64(p->old_root, MERKLE_HASH_BYTES));
    json_object_set_new(o, "old_root_hex", s_hex(p->old_root));
    json_object_set_new(o, "new_root", s_b64(p->new_root, MERKLE_HASH_BYTES));
    json_object_set_new(o, "new_root_hex", s_hex(p->new_root));
    json_object_set_new(o, "proof", s_proof_json(p->proof, p->len));
    json_object_set_new(o, "old_checkpoint", s_note(p->old_note, p->old_note_len));
    json_object_set_new(o, "new_checkpoint", s_note(p->new_note, p->new_note_len));
    return o;
}

json_t *logprove_checkpoint_json(const char *note, size_t len)
{
    checkpoint_t c;
    if (logprove_open(NULL, note, len, &c) != AT_OK)
        return NULL;
    json_t *o = json_object();
    json_object_set_new(o, "origin", json_string(c.origin));
    json_object_set_new(o, "size", json_integer((json_int_t) c.size));
    json_object_set_new(o, "root", s_b64(c.root, MERKLE_HASH_BYTES));
    json_object_set_new(o, "root_hex", s_hex(c.root));
    json_object_set_new(o, "time", json_integer((json_int_t) c.time));
    json_object_set_new(o, "note", json_stringn(note, len));
    return o;
}

char *logprove_c2sp(const logprove_inclusion_t *p)
{
    if (!p->note)
        return NULL;
    size_t cap = 64 + p->len * (S_B64_HASH + 1) + p->note_len + 1;
    char *s = at_malloc(cap);
    size_t n = (size_t) snprintf(s, cap, "c2sp.org/tlog-proof@v1\nindex %" PRIu64 "\n", p->index);
    for (size_t i = 0; i < p->len; i++) {
        sodium_bin2base64(s + n, cap - n, p->proof[i], MERKLE_HASH_BYTES, sodium_base64_VARIANT_ORIGINAL);
        n += strlen(s + n);
        s[n++] = '\n';
    }
    s[n++] = '\n';
    memcpy(s + n, p->note, p->note_len);
    s[n + p->note_len] = '\0';
    return s;
}

size_t logprove_log_id(const char *origin, uint8_t out[LOGPROVE_LOG_ID_MAX])
{
    uint8_t h[SHA256_BYTES];
    sha256_digest(origin, strlen(origin), h);
    /* 128 bits in base-128 digits, most significant first: 19 digits. */
    uint8_t digits[19];
    for (int d = 18; d >= 0; d--) {
        unsigned bit0 = (unsigned) (18 - d) * 7, v = 0;
        for (unsigned b = 0; b < 7 && bit0 + b < 128; b++) {
            unsigned bit = bit0 + b;   /* counted from the least significant end */
            v |= (unsigned) ((h[15 - bit / 8] >> (bit % 8)) & 1) << b;
        }
        digits[d] = (uint8_t) v;
    }
    size_t first = 0;
    while (first < 18 && digits[first] == 0)
        first++;
    size_t n = 0;
    out[n++] = 2 * 40 + 25;   /* the arcs 2.25 (UUID-based OIDs, ITU-T X.667) */
    for (size_t d = first; d < 19; d++)
        out[n++] = (uint8_t) (digits[d] | (d < 18 ? 0x80 : 0));
    return n;
}

static size_t s_be(uint8_t *out, uint64_t v, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++)
        out[i] = (uint8_t) (v >> (8 * (bytes - 1 - i)));
    return bytes;
}

/*  type, log_id, two u64, then the NodeHash vector (u16 byte length). */
static size_t s_rfc9162(unsigned type, const char *origin, uint64_t a, uint64_t b, const merkle_hash_t *path,
                        size_t len, uint8_t *out)
{
    uint8_t id[LOGPROVE_LOG_ID_MAX];
    size_t id_len = logprove_log_id(origin, id), n = s_be(out, type, 2);
    out[n++] = (uint8_t) id_len;
    memcpy(out + n, id, id_len);
    n += id_len;
    n += s_be(out + n, a, 8);
    n += s_be(out + n, b, 8);
    n += s_be(out + n, len * (1 + MERKLE_HASH_BYTES), 2);
    for (size_t i = 0; i < len; i++) {
        out[n++] = MERKLE_HASH_BYTES;
        memcpy(out + n, path[i], MERKLE_HASH_BYTES);
        n += MERKLE_HASH_BYTES;
    }
    return n;
}

size_t logprove_rfc9162_inclusion(const logprove_inclusion_t *p, const char *origin, uint8_t *out)
{
    return s_rfc9162(LOGPROVE_RFC9162_INCLUSION, origin, p->size, p->index, p->proof, p->len, out);
}

size_t logprove_rfc9162_consistency(const logprove_consistency_t *p, const char *origin, uint8_t *out)
{
    return s_rfc9162(LOGPROVE_RFC9162_CONSISTENCY, origin, p->old_size, p->new_size, p->proof, p->len, out);
}

/* --------------------------------------------------------------------------
 * The tree audit */

typedef struct {
    logdb_t *db;
    merkle_hash_t buf[S_LEVELS][MERKLE_TILE_WIDTH];   /* the hashes of each tile level not yet in a full tile */
    size_t cnt[S_LEVELS];
    uint64_t tile[S_LEVELS];                          /* number of the tile being filled */
    merkle_hash_t stack[64];                          /* complete subtrees of the leaves so far, for the root */
    unsigned height[64];
    size_t depth;
    logprove_audit_t *st;
    uint64_t *at;
    char *problem;
} s_audit_t;

/*  Compares recomputed tile (level, n) with the stored one. */
static bool s_tile_check(s_audit_t *a, unsigned level, uint64_t n, const merkle_hash_t *want, size_t width)
{
    const uint8_t *got;
    size_t got_w;
    at_err rc = logdb_tile(a->db, level, n, &got, &got_w);
    uint64_t first = (n * MERKLE_TILE_WIDTH) << (MERKLE_TILE_HEIGHT * level);
    *a->at = first;
    if (rc) {
        s_err(a->problem, "tile %u/%" PRIu64 " (from entry %" PRIu64 "): %s", level, n, first,
              rc == AT_ERR_NOT_FOUND ? "missing" : at_strerror(rc));
        return false;
    }
    if (got_w != width) {
        s_err(a->problem, "tile %u/%" PRIu64 " (from entry %" PRIu64 "): stored width %zu, the tree gives %zu", level,
              n, first, got_w, width);
        return false;
    }
    for (size_t k = 0; k < width; k++)
        if (sodium_memcmp(got + k * MERKLE_HASH_BYTES, want[k], MERKLE_HASH_BYTES) != 0) {
            *a->at = first + ((uint64_t) k << (MERKLE_TILE_HEIGHT * level));
            s_err(a->problem, "tile %u/%" PRIu64 ": hash %zu differs from the one recomputed from the entries "
                              "(first bad entry index %" PRIu64 ")", level, n, k, *a->at);
            return false;
        }
    a->st->tiles++;
    return true;
}

/*  The root of 256 hashes (a full tile) into out. */
static void s_tile_root(const merkle_hash_t *h, uint8_t out[MERKLE_HASH_BYTES])
{
    merkle_hash_t w[MERKLE_TILE_WIDTH / 2];
    for (size_t i = 0; i < MERKLE_TILE_WIDTH / 2; i++)
        merkle_node_hash(h[2 * i], h[2 * i + 1], w[i]);
    for (size_t n = MERKLE_TILE_WIDTH / 4; n >= 1; n /= 2)
        for (size_t i = 0; i < n; i++)
            merkle_node_hash(w[2 * i], w[2 * i + 1], w[i]);
    memcpy(out, w[0], MERKLE_HASH_BYTES);
}

static bool s_push(s_audit_t *a, unsigned level, const uint8_t h[MERKLE_HASH_BYTES])
{
    memcpy(a->buf[level][a->cnt[level]++], h, MERKLE_HASH_BYTES);
    if (a->cnt[level] < MERKLE_TILE_WIDTH)
        return true;
    if (!s_tile_check(a, level, a->tile[level], a->buf[level], MERKLE_TILE_WIDTH))
        return false;
    uint8_t up[MERKLE_HASH_BYTES];
    s_tile_root(a->buf[level], up);
    a->cnt[level] = 0;
    a->tile[level]++;
    return level + 1 < S_LEVELS ? s_push(a, level + 1, up) : true;
}

static void s_stack_push(s_audit_t *a, const uint8_t leaf[MERKLE_HASH_BYTES])
{
    memcpy(a->stack[a->depth], leaf, MERKLE_HASH_BYTES);
    a->height[a->depth++] = 0;
    while (a->depth >= 2 && a->height[a->depth - 1] == a->height[a->depth - 2]) {
        merkle_node_hash(a->stack[a->depth - 2], a->stack[a->depth - 1], a->stack[a->depth - 2]);
        a->height[a->depth - 2]++;
        a->depth--;
    }
}

static void s_stack_root(const s_audit_t *a, uint8_t out[MERKLE_HASH_BYTES])
{
    if (a->depth == 0) {
        sha256_digest(NULL, 0, out);
        return;
    }
    memcpy(out, a->stack[a->depth - 1], MERKLE_HASH_BYTES);
    for (size_t i = a->depth - 1; i-- > 0;)
        merkle_node_hash(a->stack[i], out, out);
}

static bool s_leaf(s_audit_t *a, uint64_t i, uint8_t h[MERKLE_HASH_BYTES])
{
    const uint8_t *raw;
    size_t len;
    at_err rc = logdb_get(a->db, i, NULL, &raw, &len);
    if (rc) {
        *a->at = i;
        s_err(a->problem, "entry %" PRIu64 ": %s", i, at_strerror(rc));
        return false;
    }
    merkle_leaf_hash(raw, len, h);
    a->st->leaves++;
    return true;
}

/*  The partial tiles left at the end, and no stored tile past them. */
static bool s_audit_end(s_audit_t *a, uint64_t size)
{
    for (unsigned level = 0; level < S_LEVELS; level++) {
        if (a->cnt[level] && !s_tile_check(a, level, a->tile[level], a->buf[level], a->cnt[level]))
            return false;
        const uint8_t *h;
        size_t w;
        uint64_t next = a->tile[level] + (a->cnt[level] ? 1 : 0);
        if (logdb_tile(a->db, level, next, &h, &w) == AT_OK) {
            *a->at = size;
            s_err(a->problem, "tile %u/%" PRIu64 " is stored but lies beyond the tree of %" PRIu64 " entries", level,
                  next, size);
            return false;
        }
    }
    return true;
}

bool logprove_audit_tree(logdb_t *db, uint64_t size, const uint8_t root[MERKLE_HASH_BYTES], logprove_audit_t *st,
                         uint64_t *at, char *problem)
{
    s_audit_t *a = at_calloc(1, sizeof *a);
    *a = (s_audit_t) { .db = db, .st = st, .at = at, .problem = problem };
    bool ok = true;
    for (uint64_t i = 0; i < size && ok; i++) {
        uint8_t h[MERKLE_HASH_BYTES];
        ok = s_leaf(a, i, h) && s_push(a, 0, h);
        if (ok)
            s_stack_push(a, h);
    }
    ok = ok && s_audit_end(a, size);
    if (ok && root) {
        uint8_t got[MERKLE_HASH_BYTES];
        s_stack_root(a, got);
        if (sodium_memcmp(got, root, MERKLE_HASH_BYTES) != 0) {
            *at = size;
            s_err(problem, "the root recomputed from the %" PRIu64 " entries is not the tree's root", size);
            ok = false;
        }
    }
    free(a);
    return ok;
}

bool logprove_audit_range(logdb_t *db, uint64_t from, uint64_t to, logprove_audit_t *st, uint64_t *at,
                          char *problem)
{
    s_audit_t a = { .db = db, .st = st, .at = at, .problem = problem };
    for (uint64_t i = from; i < to; i++) {
        uint8_t h[MERKLE_HASH_BYTES];
        const uint8_t *tile;
        size_t w;
        if (!s_leaf(&a, i, h))
            return false;
        at_err rc = logdb_tile(db, 0, i / MERKLE_TILE_WIDTH, &tile, &w);
        *at = i;
        if (rc || w <= i % MERKLE_TILE_WIDTH) {
            s_err(problem, "entry %" PRIu64 ": its tile 0/%" PRIu64 " is %s", i, i / MERKLE_TILE_WIDTH,
                  rc ? at_strerror(rc) : "too short");
            return false;
        }
        if (sodium_memcmp(tile + (i % MERKLE_TILE_WIDTH) * MERKLE_HASH_BYTES, h, MERKLE_HASH_BYTES) != 0) {
            s_err(problem, "entry %" PRIu64 ": its leaf hash differs from the one in tile 0/%" PRIu64, i,
                  i / MERKLE_TILE_WIDTH);
            return false;
        }
        st->tiles += i % MERKLE_TILE_WIDTH == 0;
    }
    return true;
}
