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
#include "checkpoint.h"
#include "clock.h"
#include "entry.h"
#include "log.h"
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    size_t off[MERKLE_TILE_HEIGHT + 1];   /* where level k's nodes begin in nodes, in hashes */
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
    for (size_t i = 0; i < S_BUNDLE_SLOTS; i++)
        free(self->bundles[i].data);
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
static void s_nodes(s_slot_t *s)
{
    size_t total = 0, w = s->width;
    for (unsigned k = 0; k <= MERKLE_TILE_HEIGHT; k++, w /= 2) {
        s->off[k] = total;
        total += w;
    }
    free(s->nodes);
    s->nodes = at_malloc(total * MERKLE_HASH_BYTES);
    memcpy(s->nodes, s->data, (size_t) s->width * MERKLE_HASH_BYTES);
    w = s->width;
    for (unsigned k = 1; k <= MERKLE_TILE_HEIGHT; k++, w /= 2)
        for (size_t i = 0; i < w / 2; i++)
            merkle_node_hash(s->nodes + (s->off[k - 1] + 2 * i) * MERKLE_HASH_BYTES,
                             s->nodes + (s->off[k - 1] + 2 * i + 1) * MERKLE_HASH_BYTES,
                             s->nodes + (s->off[k] + i) * MERKLE_HASH_BYTES);
}

/*  The cached slot of (level, n, width), fetched when missing. */
static at_err s_slot(receipt_fetcher_t *self, s_slot_t *slots, size_t count, int level, uint64_t n, unsigned width,
                     const s_slot_t **out)
{
    s_slot_t *victim = &slots[0];
    for (size_t i = 0; i < count; i++) {
        s_slot_t *s = &slots[i];
        if (s->used && s->level == level && s->n == n && s->width == width) {
            s->used = ++self->clock;
            *out = s;
            return AT_OK;
        }
        if (s->used < victim->used)
            victim = s;
    }
    char path[MERKLE_TILE_PATH_MAX];
    if (merkle_tile_path(path, sizeof path, level, n, width) == 0)
        return AT_ERR_RANGE;
    at_err err = s_get(self, path);
    if (err)
        return err == AT_ERR_NOT_FOUND ? AT_ERR_CORRUPT : err;   /* the checkpoint says it exists */
    if (level != MERKLE_TILE_ENTRIES && self->body.len != (size_t) width * MERKLE_HASH_BYTES)
        return AT_ERR_CORRUPT;
    free(victim->data);
    victim->data = at_malloc(self->body.len ? self->body.len : 1);
    memcpy(victim->data, self->body.buf, self->body.len);
    victim->len = self->body.len;
    victim->level = level;
    victim->n = n;
    victim->width = width;
    victim->used = ++self->clock;
    if (level != MERKLE_TILE_ENTRIES)
        s_nodes(victim);
    *out = victim;
    return AT_OK;
}

/*  The width of tile (level tl, number tile_n) in a tree of size leaves. */
static unsigned s_width(uint64_t size, unsigned tl, uint64_t tile_n)
{
    uint64_t at_level = tl * MERKLE_TILE_HEIGHT < 64 ? size >> (tl * MERKLE_TILE_HEIGHT) : 0;
    uint64_t left = at_level - tile_n * MERKLE_TILE_WIDTH;
    return at_level <= tile_n * MERKLE_TILE_WIDTH ? 0 : left >= MERKLE_TILE_WIDTH ? MERKLE_TILE_WIDTH : (unsigned) left;
}

/*  merkle_reader_t: a stored hash of the tree of the size in arg's checkpoint. */
typedef struct {
    receipt_fetcher_t *self;
    uint64_t size;
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
    at_err err = s_slot(a->self, a->self->tiles, S_TILE_SLOTS, (int) tl, tile_n, width, &s);
    if (err)
        return err;
    uint64_t i = n - ((tile_n * MERKLE_TILE_WIDTH) >> k);   /* the node's place in its level of the tile */
    if (i >= (uint64_t) (width >> k))
        return AT_ERR_RANGE;   /* not a complete subtree of this tree */
    memcpy(out, s->nodes + (s->off[k] + i) * MERKLE_HASH_BYTES, MERKLE_HASH_BYTES);
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
    s_reader_arg_t a = { self, next->size };
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
    memcpy(self->note, note, note_len);
    self->cp = next;
    self->note_len = note_len;
    self->have = true;
    return AT_OK;
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
    size_t at = 0;
    for (uint64_t i = n * MERKLE_TILE_WIDTH;; i++) {
        if (at + 2 > s->len)
            return AT_ERR_CORRUPT;
        size_t l = (size_t) s->data[at] << 8 | s->data[at + 1];
        if (at + 2 + l > s->len)
            return AT_ERR_CORRUPT;
        if (i == index) {
            *entry = s->data + at + 2;
            *len = l;
            return AT_OK;
        }
        at += 2 + l;
    }
}

static json_t *s_b64(const uint8_t *bin, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *s = at_malloc(cap);
    sodium_bin2base64(s, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static char *s_receipt_json(const receipt_fetcher_t *self, const entry_t *e, const uint8_t *entry, size_t len,
                            const merkle_hash_t *proof, size_t plen)
{
    char hex[2 * AT_ID_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, e->id, AT_ID_BYTES);
    json_t *p = json_array();
    for (size_t i = 0; i < plen; i++)
        json_array_append_new(p, s_b64(proof[i], MERKLE_HASH_BYTES));
    json_t *o = json_pack("{s:s, s:I, s:s, s:o, s:I, s:o, s:s#}", "format", RECEIPT_FORMAT, "index",
                          (json_int_t) e->index, "id", hex, "entry", s_b64(entry, len), "tree_size",
                          (json_int_t) self->cp.size, "inclusion_proof", p, "checkpoint", self->note,
                          (int) self->note_len);
    char *text = o ? json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text)
        abort();
    return text;
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
    s_reader_arg_t a = { self, self->cp.size };
    merkle_reader_t r = { s_read, &a };
    merkle_hash_t proof[MERKLE_PROOF_MAX];
    uint8_t leaf[MERKLE_HASH_BYTES];
    if ((err = merkle_prove_inclusion(&r, index, self->cp.size, proof, &plen)))
        return err;
    merkle_leaf_hash(entry, len, leaf);
    if (!merkle_verify_inclusion(index, self->cp.size, leaf, proof, plen, self->cp.root))
        return AT_ERR_CORRUPT;
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
