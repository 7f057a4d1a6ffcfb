/*  receipt.c: receipts built from the log server's tiles, and their offline
 *  verification (see receipt.h).
 *
 *  The fetcher holds the newest checkpoint it verified (size, root, note).
 *  Its merkle_reader_t reads a stored hash (level, n) from the tile that
 *  holds it at that tree size, fetched once and cached: full tiles are
 *  immutable, a partial tile is cached under its width. Entry bundles are
 *  cached the same way (a few, the newest).
 */
#include "receipt.h"
#include "alloc.h"
#include "b64.h"
#include "checkpoint.h"
#include "clock.h"
#include "entry.h"
#include "log.h"
#include "sha256.h"
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_LEVELS 8           /* tile levels: 256^8 = 2^64 leaves */
#define S_TILE_SLOTS 32
#define S_BUNDLE_SLOTS 4
#define S_BODY_MAX (1u << 20)     /* longest response accepted */
#define S_NOTE_MAX 8192           /* longest checkpoint note accepted */

typedef struct {
    int level;                 /* tile level, or MERKLE_TILE_ENTRIES */
    uint64_t n;
    unsigned width;
    uint64_t used;             /* LRU clock; 0 = empty */
    uint8_t *data;             /* tiles: width hashes; bundles: the body */
    size_t len;
    uint8_t *nodes;            /* tiles: the complete subtrees inside, level by level (s_nodes) */
    uint32_t *ent_off;         /* bundles: where each entry's length prefix is, for the first ent_n */
    size_t ent_n;              /* bundles: the entries that fit in the body, in order (s_bundle_index) */
    size_t off[MERKLE_TILE_HEIGHT + 1];   /* where level k's nodes begin in nodes, in hashes */
    bool verified;             /* tiles: its hashes are those of the held checkpoint's tree (s_verified) */
} s_slot_t;

typedef struct {
    uint8_t *buf;
    size_t len, cap;
} s_body_t;

struct receipt_fetcher_t {
    CURL *curl;
    char url[512];
    note_verifier_t key;
    checkpoint_t cp;           /* the held checkpoint (cp.size 0 with no note: none) */
    char note[S_NOTE_MAX];
    size_t note_len;
    char *note_json;           /* the note as a JSON string, written once per held note (s_hold_note) */
    size_t note_json_len;
    bool have;
    s_slot_t tiles[S_TILE_SLOTS], bundles[S_BUNDLE_SLOTS];
    uint64_t clock;
    s_body_t body;
};

static size_t s_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
    s_body_t *b = arg;
    size_t n = size * nmemb;
    if (b->len + n > S_BODY_MAX)
        return 0;   /* makes curl fail: a response this long is not ours */
    if (b->len + n > b->cap) {
        b->cap = b->len + n > 2 * b->cap ? b->len + n : 2 * b->cap;
        b->buf = at_realloc(b->buf, b->cap);
    }
    memcpy(b->buf + b->len, ptr, n);
    b->len += n;
    return n;
}

receipt_fetcher_t *receipt_fetcher_new(const char *url, const note_verifier_t *log_key)
{
    receipt_fetcher_t *self = at_calloc(1, sizeof *self);
    snprintf(self->url, sizeof self->url, "%s", url);
    size_t n = strlen(self->url);
    while (n > 0 && self->url[n - 1] == '/')
        self->url[--n] = '\0';
    self->key = *log_key;
    if (!(self->curl = curl_easy_init())) {
        at_log_error("RCP-HTTP", "cannot start libcurl");
        free(self);
        return NULL;
    }
    curl_easy_setopt(self->curl, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(self->curl, CURLOPT_WRITEDATA, &self->body);
    curl_easy_setopt(self->curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(self->curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(self->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(self->curl, CURLOPT_TCP_NODELAY, 1L);
    return self;
}

void receipt_fetcher_destroy(receipt_fetcher_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    receipt_fetcher_t *self = *self_p;
    for (size_t i = 0; i < S_TILE_SLOTS; i++) {
        free(self->tiles[i].data);
        free(self->tiles[i].nodes);
    }
    for (size_t i = 0; i < S_BUNDLE_SLOTS; i++) {
        free(self->bundles[i].data);
        free(self->bundles[i].ent_off);
    }
    free(self->note_json);
    free(self->body.buf);
    curl_easy_cleanup(self->curl);
    free(self);
    *self_p = NULL;
}

uint64_t receipt_tree_size(const receipt_fetcher_t *self)
{
    return self->have ? self->cp.size : 0;
}

/*  GET base/path into self->body. AT_ERR_NOT_FOUND for a 404, AT_ERR_IO
 *  for anything but a 200. */
static at_err s_get(receipt_fetcher_t *self, const char *path)
{
    char url[700];
    snprintf(url, sizeof url, "%s/%s", self->url, path);
    self->body.len = 0;
    curl_easy_setopt(self->curl, CURLOPT_URL, url);
    CURLcode rc = curl_easy_perform(self->curl);
    long status = 0;
    curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
        at_log_limited(AT_LOG_WARN, "RCP-HTTP", "GET %s: %s", url, curl_easy_strerror(rc));
        return AT_ERR_IO;
    }
    if (status == 404)
        return AT_ERR_NOT_FOUND;
    if (status != 200) {
        at_log_limited(AT_LOG_WARN, "RCP-HTTP", "GET %s: HTTP status %ld", url, status);
        return AT_ERR_IO;
    }
    return AT_OK;
}

/*  The hashes of every complete subtree inside a fetched tile, computed
 *  once: level 0 is the tile itself, level k + 1 pairs level k's. A stored
 *  hash is then a lookup, not up to 127 node hashes. */
static void s_nodes(s_slot_t *s, const uint8_t *old_nodes, const size_t *old_off, unsigned old_width)
{
    size_t total = 0, w = s->width;
    for (unsigned k = 0; k <= MERKLE_TILE_HEIGHT; k++, w /= 2) {
        s->off[k] = total;
        total += w;
    }
    uint8_t *nodes = at_malloc(total * MERKLE_HASH_BYTES);
    memcpy(nodes, s->data, (size_t) s->width * MERKLE_HASH_BYTES);
    w = s->width;
    for (unsigned k = 1; k <= MERKLE_TILE_HEIGHT; k++, w /= 2) {
        size_t keep = old_nodes ? (size_t) (old_width >> k) : 0;   /* complete before: unchanged */
        if (keep)
            memcpy(nodes + s->off[k] * MERKLE_HASH_BYTES, old_nodes + old_off[k] * MERKLE_HASH_BYTES,
                   keep * MERKLE_HASH_BYTES);
        for (size_t i = keep; i < w / 2; i++)
            merkle_node_hash(nodes + (s->off[k - 1] + 2 * i) * MERKLE_HASH_BYTES,
                             nodes + (s->off[k - 1] + 2 * i + 1) * MERKLE_HASH_BYTES,
                             nodes + (s->off[k] + i) * MERKLE_HASH_BYTES);
    }
    free(s->nodes);
    s->nodes = nodes;
}

/*  A slot to fill with (level, n, width): the same tile at a smaller width
 *  when cached (the tree grew: it is replaced), else the least recently used. */
static s_slot_t *s_victim(s_slot_t *slots, size_t count, int level, uint64_t n)
{
    s_slot_t *victim = &slots[0];
    for (size_t i = 0; i < count; i++) {
        s_slot_t *s = &slots[i];
        if (s->used && s->level == level && s->n == n)
            return s;
        if (s->used < victim->used)
            victim = s;
    }
    return victim;
}

/*  Where each entry of a fetched bundle begins (a u16 big-endian length,
 *  then the entry: C2SP tlog-tiles), found once per fetch: a receipt's
 *  entry is then a lookup, not a walk over up to 255 entries (which was
 *  half of receipt_build's own time: a cache miss per entry). ent_n stops
 *  at the first length that overruns the body, where a walk would have
 *  failed. */
static void s_bundle_index(s_slot_t *v)
{
    free(v->ent_off);
    v->ent_off = at_malloc(MERKLE_TILE_WIDTH * sizeof *v->ent_off);
    v->ent_n = 0;
    size_t at = 0;
    while (v->ent_n < MERKLE_TILE_WIDTH && at + 2 <= v->len) {
        size_t l = (size_t) v->data[at] << 8 | v->data[at + 1];
        if (at + 2 + l > v->len)
            break;
        v->ent_off[v->ent_n++] = (uint32_t) at;
        at += 2 + l;
    }
}

/*  Stores the fetched body in v as (level, n, width); a tile's inner
 *  subtrees are computed, reusing those of the narrower copy v held when
 *  its hashes are a prefix of the new ones (the tile only grew). */
static void s_fill(s_slot_t *v, const s_body_t *body, int level, uint64_t n, unsigned width)
{
    bool grew = v->used && v->level == level && v->n == n && level != MERKLE_TILE_ENTRIES && v->width < width
                && memcmp(v->data, body->buf, (size_t) v->width * MERKLE_HASH_BYTES) == 0;
    unsigned old_width = grew ? v->width : 0;
    free(v->data);
    v->data = at_malloc(body->len ? body->len : 1);
    memcpy(v->data, body->buf, body->len);
    v->len = body->len;
    v->level = level;
    v->n = n;
    v->width = width;
    v->verified = false;
    if (level == MERKLE_TILE_ENTRIES) {
        s_bundle_index(v);
        return;
    }
    size_t old_off[MERKLE_TILE_HEIGHT + 1];
    memcpy(old_off, v->off, sizeof old_off);
    s_nodes(v, grew ? v->nodes : NULL, old_off, old_width);
}

/*  The cached slot of (level, n, width), fetched when missing. */
static at_err s_slot(receipt_fetcher_t *self, s_slot_t *slots, size_t count, int level, uint64_t n, unsigned width,
                     const s_slot_t **out)
{
    for (size_t i = 0; i < count; i++) {
        s_slot_t *s = &slots[i];
        if (s->used && s->level == level && s->n == n && s->width == width) {
            s->used = ++self->clock;
            *out = s;
            return AT_OK;
        }
    }
    char path[MERKLE_TILE_PATH_MAX];
    if (merkle_tile_path(path, sizeof path, level, n, width) == 0)
        return AT_ERR_RANGE;
    at_err err = s_get(self, path);
    if (err)
        return err == AT_ERR_NOT_FOUND ? AT_ERR_CORRUPT : err;   /* the checkpoint says it exists */
    if (level != MERKLE_TILE_ENTRIES && self->body.len != (size_t) width * MERKLE_HASH_BYTES)
        return AT_ERR_CORRUPT;
    s_slot_t *v = s_victim(slots, count, level, n);
    s_fill(v, &self->body, level, n, width);
    v->used = ++self->clock;
    *out = v;
    return AT_OK;
}

/*  The width of tile (level tl, number tile_n) in a tree of size leaves. */
static unsigned s_width(uint64_t size, unsigned tl, uint64_t tile_n)
{
    uint64_t at_level = tl * MERKLE_TILE_HEIGHT < 64 ? size >> (tl * MERKLE_TILE_HEIGHT) : 0;
    uint64_t left = at_level - tile_n * MERKLE_TILE_WIDTH;
    return at_level <= tile_n * MERKLE_TILE_WIDTH ? 0 : left >= MERKLE_TILE_WIDTH ? MERKLE_TILE_WIDTH : (unsigned) left;
}

/*  The hash of the complete subtree k levels above the tile's row at place
 *  i of that level (within the tile). */
static const uint8_t *s_node(const s_slot_t *s, unsigned k, uint64_t i)
{
    return s->nodes + (s->off[k] + i) * MERKLE_HASH_BYTES;
}

/*  The held checkpoint's rightmost tiles, one per level, fetched and
 *  checked against its root: the complete subtrees they hold, folded right
 *  to left, are the tree's root (RFC 6962 MTH). Marks them verified. */
static at_err s_verify_frontier(receipt_fetcher_t *self)
{
    uint64_t size = self->cp.size;
    uint8_t acc[MERKLE_HASH_BYTES];
    s_slot_t *slot[S_LEVELS];
    unsigned nslots = 0;
    bool have = false;
    for (unsigned l = 0; l < S_LEVELS && l * MERKLE_TILE_HEIGHT < 64 && size >> (l * MERKLE_TILE_HEIGHT); l++) {
        uint64_t at_level = size >> (l * MERKLE_TILE_HEIGHT);
        unsigned w = (unsigned) (at_level % MERKLE_TILE_WIDTH);
        const s_slot_t *s;
        if (w == 0)
            continue;
        at_err err = s_slot(self, self->tiles, S_TILE_SLOTS, (int) l, at_level / MERKLE_TILE_WIDTH, w, &s);
        if (err)
            return err;
        for (unsigned k = 0; k < MERKLE_TILE_HEIGHT; k++) {
            if (!(w & (1u << k)))
                continue;
            if (have)
                merkle_node_hash(s_node(s, k, (w >> k) - 1), acc, acc);
            else
                memcpy(acc, s_node(s, k, (w >> k) - 1), MERKLE_HASH_BYTES);
            have = true;
        }
        slot[nslots++] = (s_slot_t *) s;
    }
    if (!have)
        sha256_digest(NULL, 0, acc);
    if (sodium_memcmp(acc, self->cp.root, MERKLE_HASH_BYTES) != 0)
        return AT_ERR_CORRUPT;
    for (unsigned i = 0; i < nslots; i++)
        slot[i]->verified = true;
    return AT_OK;
}

/*  Tile (tl, tile_n) of the held checkpoint's tree, its hashes checked:
 *  a partial tile by s_verify_frontier, a full one by its root being the
 *  hash its parent tile (checked the same way) holds for it. */
static at_err s_verified(receipt_fetcher_t *self, unsigned tl, uint64_t tile_n, const s_slot_t **out)
{
    unsigned width = s_width(self->cp.size, tl, tile_n);
    if (width == 0 || tl >= S_LEVELS)
        return AT_ERR_RANGE;
    const s_slot_t *s, *parent;
    at_err err = s_slot(self, self->tiles, S_TILE_SLOTS, (int) tl, tile_n, width, &s);
    if (!err && !s->verified && width < MERKLE_TILE_WIDTH) {   /* the frontier's, fetched again since */
        if (!(err = s_verify_frontier(self)))
            err = s_slot(self, self->tiles, S_TILE_SLOTS, (int) tl, tile_n, width, &s);
        if (!err && !s->verified)
            err = AT_ERR_CORRUPT;
    }
    if (err || s->verified) {
        *out = s;
        return err;
    }
    if ((err = s_verified(self, tl + 1, tile_n / MERKLE_TILE_WIDTH, &parent)))
        return err;
    if (sodium_memcmp(s_node(s, MERKLE_TILE_HEIGHT, 0), s_node(parent, 0, tile_n % MERKLE_TILE_WIDTH),
                      MERKLE_HASH_BYTES) != 0)
        return AT_ERR_CORRUPT;
    ((s_slot_t *) s)->verified = true;
    *out = s;
    return AT_OK;
}

/*  merkle_reader_t: a stored hash of the tree of `size` leaves, from its
 *  tiles; checked tiles only when verified (the held checkpoint's tree),
 *  as fetched otherwise (a consistency proof, checked as a whole). */
typedef struct {
    receipt_fetcher_t *self;
    uint64_t size;
    bool verified;
} s_reader_arg_t;

static at_err s_read(void *arg, unsigned level, uint64_t n, uint8_t out[MERKLE_HASH_BYTES])
{
    s_reader_arg_t *a = arg;
    unsigned tl = level / MERKLE_TILE_HEIGHT, k = level % MERKLE_TILE_HEIGHT;
    if (k && n >> (64 - k))
        return AT_ERR_RANGE;
    uint64_t tile_n = (n << k) / MERKLE_TILE_WIDTH;
    unsigned width = s_width(a->size, tl, tile_n);
    if (width == 0)
        return AT_ERR_RANGE;
    const s_slot_t *s;
    at_err err = a->verified ? s_verified(a->self, tl, tile_n, &s)
                             : s_slot(a->self, a->self->tiles, S_TILE_SLOTS, (int) tl, tile_n, width, &s);
    if (err)
        return err;
    uint64_t i = n - ((tile_n * MERKLE_TILE_WIDTH) >> k);   /* the node's place in its level of the tile */
    if (i >= (uint64_t) (width >> k))
        return AT_ERR_RANGE;   /* not a complete subtree of this tree */
    memcpy(out, s_node(s, k, i), MERKLE_HASH_BYTES);
    return AT_OK;
}

/*  A fetched checkpoint is consistent with the held one. */
static at_err s_consistent(receipt_fetcher_t *self, const checkpoint_t *next)
{
    if (!self->have || self->cp.size == 0)
        return AT_OK;
    if (next->size < self->cp.size)
        return AT_ERR_CORRUPT;   /* the log shrank: a fork or a rollback */
    if (next->size == self->cp.size)
        return sodium_memcmp(next->root, self->cp.root, MERKLE_HASH_BYTES) == 0 ? AT_OK : AT_ERR_CORRUPT;
    s_reader_arg_t a = { self, next->size, false };
    merkle_reader_t r = { s_read, &a };
    merkle_hash_t proof[2 * MERKLE_PROOF_MAX];
    size_t len;
    at_err err = merkle_prove_consistency(&r, self->cp.size, next->size, proof, &len);
    if (err)
        return err;
    return merkle_verify_consistency(self->cp.size, next->size, self->cp.root, next->root, proof, len)
               ? AT_OK
               : AT_ERR_CORRUPT;
}

static void s_hold_note(receipt_fetcher_t *self, const char *note, size_t len);

/*  Fetches, verifies and holds the newest checkpoint. */
static at_err s_refresh(receipt_fetcher_t *self)
{
    at_err err = s_get(self, "checkpoint");
    if (err)
        return err;
    size_t body_len;
    checkpoint_t next;
    if (self->body.len >= S_NOTE_MAX)
        return AT_ERR_CORRUPT;
    if ((err = note_open(&self->key, (const char *) self->body.buf, self->body.len, &body_len)))
        return err == AT_ERR_SHAPE ? AT_ERR_CORRUPT : AT_ERR_SIGNATURE;
    if (checkpoint_parse(&next, (const char *) self->body.buf, body_len) != AT_OK)
        return AT_ERR_CORRUPT;
    char note[S_NOTE_MAX];   /* s_consistent reuses the body buffer */
    size_t note_len = self->body.len;
    memcpy(note, self->body.buf, note_len);
    if ((err = s_consistent(self, &next))) {
        at_log_limited(AT_LOG_ERROR, "RCP-CONSISTENCY", "checkpoint of size %" PRIu64 " is not consistent with the"
                       " one of size %" PRIu64 " seen before: %s", next.size, self->cp.size, at_strerror(err));
        return AT_ERR_CORRUPT;
    }
    checkpoint_t held = self->cp;
    self->cp = next;
    if ((err = s_verify_frontier(self))) {
        at_log_limited(AT_LOG_ERROR, "RCP-TILES", "the log server's tiles do not make the root of its checkpoint"
                       " of size %" PRIu64 ": %s", next.size, at_strerror(err));
        self->cp = held;
        return AT_ERR_CORRUPT;
    }
    s_hold_note(self, note, note_len);
    self->have = true;
    return AT_OK;
}

at_err receipt_refresh(receipt_fetcher_t *self)
{
    return s_refresh(self);
}

at_err receipt_fetcher_hold(receipt_fetcher_t *self, const char *note, size_t len)
{
    size_t body_len;
    checkpoint_t cp;
    if (self->have)
        return AT_ERR_PROTOCOL;
    if (len >= S_NOTE_MAX)
        return AT_ERR_SHAPE;
    at_err err = note_open(&self->key, note, len, &body_len);
    if (err)
        return err == AT_ERR_SHAPE ? AT_ERR_SHAPE : AT_ERR_SIGNATURE;
    if (checkpoint_parse(&cp, note, body_len) != AT_OK)
        return AT_ERR_SHAPE;
    self->cp = cp;
    s_hold_note(self, note, len);
    self->have = true;
    return AT_OK;
}

const char *receipt_checkpoint(const receipt_fetcher_t *self, checkpoint_t *cp, size_t *len)
{
    if (!self->have)
        return NULL;
    *cp = self->cp;
    *len = self->note_len;
    return self->note;
}

at_err receipt_need(receipt_fetcher_t *self, uint64_t index, int timeout_ms, int poll_ms)
{
    uint64_t end = at_clock_mono_us() + (uint64_t) timeout_ms * 1000;
    while (!self->have || self->cp.size <= index) {
        at_err err = s_refresh(self);
        if (err && err != AT_ERR_IO && err != AT_ERR_NOT_FOUND)
            return err;
        if (self->have && self->cp.size > index)
            break;
        if (at_clock_mono_us() >= end)
            return AT_ERR_TIMEOUT;
        usleep((useconds_t) (poll_ms > 0 ? poll_ms : 1) * 1000);
    }
    return AT_OK;
}

/*  Entry index's bytes from its bundle at the held size (borrowed from the cache). */
static at_err s_entry(receipt_fetcher_t *self, uint64_t index, const uint8_t **entry, size_t *len)
{
    uint64_t n = index / MERKLE_TILE_WIDTH;
    unsigned width = s_width(self->cp.size, 0, n);
    const s_slot_t *s;
    at_err err = s_slot(self, self->bundles, S_BUNDLE_SLOTS, MERKLE_TILE_ENTRIES, n, width, &s);
    if (err)
        return err;
    size_t i = (size_t) (index % MERKLE_TILE_WIDTH);
    if (i >= s->ent_n)
        return AT_ERR_CORRUPT;
    size_t at = s->ent_off[i];
    *entry = s->data + at + 2;
    *len = (size_t) s->data[at] << 8 | s->data[at + 1];
    return AT_OK;
}

/*  A growing text. */
typedef struct {
    char *p;
    size_t len, cap;
} s_text_t;

static void s_puts(s_text_t *t, const char *src);

static void s_put(s_text_t *t, const char *src, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->p = at_realloc(t->p, t->cap);
    }
    memcpy(t->p + t->len, src, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void s_puts(s_text_t *t, const char *src)
{
    s_put(t, src, strlen(src));
}

/*  Public bytes (an entry, proof hashes): b64.h's encoder, not libsodium's
 *  constant-time one, which was 5 of a receipt's 12 us. */
static void s_put_b64(s_text_t *t, const uint8_t *bin, size_t len)
{
    char buf[B64_ENCODED_LEN(ENTRY_ENCODED_MAX) + 2];
    buf[0] = '"';
    size_t n = b64_encode(buf + 1, sizeof buf - 2, bin, len);
    buf[1 + n] = '"';
    s_put(t, buf, n + 2);
}

/*  A JSON string of the note: note_open accepted it, so it is UTF-8 without
 *  control characters but "\n"; '"' and '\\' cannot occur in a checkpoint
 *  but are escaped all the same. */
static void s_put_note(s_text_t *t, const char *note, size_t len)
{
    s_put(t, "\"", 1);
    size_t run = 0;   /* start of the bytes not written yet: copied in runs */
    for (size_t i = 0; i < len; i++) {
        const char *esc = note[i] == '\n' ? "\\n" : note[i] == '"' ? "\\\"" : note[i] == '\\' ? "\\\\" : NULL;
        if (!esc)
            continue;
        s_put(t, note + run, i - run);
        s_put(t, esc, 2);
        run = i + 1;
    }
    s_put(t, note + run, len - run);
    s_put(t, "\"", 1);
}

/*  Holds note[0..len) (len < S_NOTE_MAX) and its JSON string, written here
 *  once rather than per receipt (the escape loop was a fifth of
 *  receipt_build's own time). */
static void s_hold_note(receipt_fetcher_t *self, const char *note, size_t len)
{
    memcpy(self->note, note, len);
    self->note_len = len;
    s_text_t t = { NULL, 0, 0 };
    s_put_note(&t, note, len);
    free(self->note_json);
    self->note_json = t.p;
    self->note_json_len = t.len;
}

/*  The receipt's JSON (receipt.h), written directly: it is on the path of
 *  every acknowledgement, and every value but the note is an integer, hex
 *  or base64, which need no escaping. */
static char *s_receipt_json(const receipt_fetcher_t *self, const entry_t *e, const uint8_t *entry, size_t len,
                            const merkle_hash_t *proof, size_t plen)
{
    size_t guess = 512 + B64_ENCODED_LEN(len) + plen * (B64_ENCODED_LEN(MERKLE_HASH_BYTES) + 6) + self->note_json_len;
    s_text_t t = { at_malloc(guess), 0, guess };   /* one allocation: the JSON fits */
    char head[256], hex[2 * AT_ID_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, e->id, AT_ID_BYTES);
    int n = snprintf(head, sizeof head, "{\n \"format\": \"%s\",\n \"index\": %" PRIu64 ",\n \"id\": \"%s\",\n"
                     " \"entry\": ", RECEIPT_FORMAT, e->index, hex);
    s_put(&t, head, (size_t) n);
    s_put_b64(&t, entry, len);
    n = snprintf(head, sizeof head, ",\n \"tree_size\": %" PRIu64 ",\n \"inclusion_proof\": [", self->cp.size);
    s_put(&t, head, (size_t) n);
    for (size_t i = 0; i < plen; i++) {
        s_puts(&t, i ? ",\n  " : "\n  ");
        s_put_b64(&t, proof[i], MERKLE_HASH_BYTES);
    }
    s_puts(&t, "\n ],\n \"checkpoint\": ");
    s_put(&t, self->note_json, self->note_json_len);
    s_puts(&t, "\n}");
    return t.p;
}

at_err receipt_build(receipt_fetcher_t *self, uint64_t index, const uint8_t *id, char **json)
{
    if (!self->have || index >= self->cp.size)
        return AT_ERR_RANGE;
    const uint8_t *entry;
    size_t len, plen;
    at_err err = s_entry(self, index, &entry, &len);
    if (err)
        return err;
    entry_t e;
    if (entry_decode(&e, entry, len) != AT_OK || e.index != index || (id && memcmp(id, e.id, AT_ID_BYTES)))
        return AT_ERR_CORRUPT;
    /* Every hash read is from a tile checked against the signed root
     * (s_verified), so the proof needs no check of its own: the entry's leaf
     * hash must be the one its level-0 tile holds. */
    s_reader_arg_t a = { self, self->cp.size, true };
    merkle_reader_t r = { s_read, &a };
    merkle_hash_t proof[MERKLE_PROOF_MAX];
    uint8_t leaf[MERKLE_HASH_BYTES], stored[MERKLE_HASH_BYTES];
    merkle_leaf_hash(entry, len, leaf);
    if ((err = s_read(&a, 0, index, stored)) || sodium_memcmp(leaf, stored, MERKLE_HASH_BYTES) != 0)
        return err ? err : AT_ERR_CORRUPT;
    if ((err = merkle_prove_inclusion(&r, index, self->cp.size, proof, &plen)))
        return err;
    *json = s_receipt_json(self, &e, entry, len, proof, plen);
    return AT_OK;
}

/* ------------------------------------------------------------ verifying */

static bool s_unb64(json_t *j, uint8_t *out, size_t cap, size_t *len)
{
    const char *s = json_string_value(j);
    return s && sodium_base642bin(out, cap, s, strlen(s), NULL, len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0;
}

/*  The proof array of a receipt. */
static bool s_proof(json_t *arr, merkle_hash_t *proof, size_t *plen)
{
    if (!json_is_array(arr) || json_array_size(arr) > MERKLE_PROOF_MAX)
        return false;
    *plen = json_array_size(arr);
    for (size_t i = 0; i < *plen; i++) {
        size_t l;
        if (!s_unb64(json_array_get(arr, i), proof[i], MERKLE_HASH_BYTES, &l) || l != MERKLE_HASH_BYTES)
            return false;
    }
    return true;
}

/*  The signed checkpoint of a receipt, opened with log_key. */
static at_err s_receipt_checkpoint(json_t *o, const note_verifier_t *log_key, checkpoint_t *cp)
{
    const char *note = json_string_value(json_object_get(o, "checkpoint"));
    size_t body_len;
    if (!note)
        return AT_ERR_SHAPE;
    at_err err = note_open(log_key, note, strlen(note), &body_len);
    if (err)
        return err == AT_ERR_SHAPE ? AT_ERR_SHAPE : AT_ERR_SIGNATURE;
    return checkpoint_parse(cp, note, body_len) == AT_OK ? AT_OK : AT_ERR_SHAPE;
}

static at_err s_verify(json_t *o, const note_verifier_t *log_key, receipt_info_t *out)
{
    uint8_t entry[ENTRY_ENCODED_MAX];
    merkle_hash_t proof[MERKLE_PROOF_MAX];
    uint8_t leaf[MERKLE_HASH_BYTES], id[AT_ID_BYTES];
    size_t elen, plen, idl;
    checkpoint_t cp;
    const char *fmt = json_string_value(json_object_get(o, "format"));
    const char *idhex = json_string_value(json_object_get(o, "id"));
    json_t *ji = json_object_get(o, "index"), *js = json_object_get(o, "tree_size");
    if (!fmt || strcmp(fmt, RECEIPT_FORMAT) || !idhex || !json_is_integer(ji) || !json_is_integer(js)
        || json_integer_value(ji) < 0 || !s_unb64(json_object_get(o, "entry"), entry, sizeof entry, &elen)
        || !s_proof(json_object_get(o, "inclusion_proof"), proof, &plen)
        || sodium_hex2bin(id, sizeof id, idhex, strlen(idhex), NULL, &idl, NULL) || idl != AT_ID_BYTES)
        return AT_ERR_SHAPE;
    at_err err = s_receipt_checkpoint(o, log_key, &cp);
    if (err)
        return err;
    uint64_t index = (uint64_t) json_integer_value(ji);
    entry_t e;
    if (entry_decode(&e, entry, elen) != AT_OK)
        return AT_ERR_SHAPE;
    merkle_leaf_hash(entry, elen, leaf);
    if ((uint64_t) json_integer_value(js) != cp.size || e.index != index || memcmp(e.id, id, AT_ID_BYTES)
        || !merkle_verify_inclusion(index, cp.size, leaf, proof, plen, cp.root))
        return AT_ERR_CORRUPT;
    *out = (receipt_info_t){ .index = index, .tree_size = cp.size, .checkpoint_time = cp.time,
                             .verdict = e.verdict, .reason = e.reason };
    memcpy(out->id, id, AT_ID_BYTES);
    snprintf(out->origin, sizeof out->origin, "%s", cp.origin);
    return AT_OK;
}

at_err receipt_verify(const char *json, size_t len, const note_verifier_t *log_key, receipt_info_t *out)
{
    json_t *o = json_loadb(json, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return AT_ERR_SHAPE;
    }
    at_err err = s_verify(o, log_key, out);
    json_decref(o);
    return err;
}
