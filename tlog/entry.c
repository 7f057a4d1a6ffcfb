/*  entry.c: the log entry value codec and hash (see entry.h).
 *
 *  The encoder drives a msgpack packer whose writer copies into the
 *  caller's buffer and notes an overflow instead of growing it, so encoding
 *  an entry on the sink's append path allocates nothing. The decoder checks
 *  the input is bounded, unpacks into a per-thread zone (mpzone) and reads
 *  the fields with the small typed accessors below, the same checks the
 *  wire codec makes.
 */
#include "entry.h"
#include "mpfield.h"
#include "mpzone.h"
#include <msgpack.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>

typedef struct {
    uint8_t *p;
    size_t cap, len;
    bool overflow;
} s_out_t;

static int s_write(void *data, const char *buf, size_t len)
{
    s_out_t *o = data;
    if (o->overflow || len > o->cap - o->len) {
        o->overflow = true;
        return -1;
    }
    memcpy(o->p + o->len, buf, len);
    o->len += len;
    return 0;
}

static void s_pack(msgpack_packer *pk, const entry_t *e)
{
    msgpack_pack_array(pk, ENTRY_FIELDS);
    msgpack_pack_uint8(pk, ENTRY_FORMAT);
    msgpack_pack_uint64(pk, e->index);
    msgpack_pack_uint64(pk, e->seq);
    msgpack_pack_bin_with_body(pk, e->prev_hash, ENTRY_HASH_BYTES);
    msgpack_pack_bin_with_body(pk, e->id, AT_ID_BYTES);
    msgpack_pack_uint8(pk, e->verdict);
    msgpack_pack_uint8(pk, e->reason);
    msgpack_pack_str_with_body(pk, e->producer_len ? e->producer : "", e->producer_len);
    msgpack_pack_uint64(pk, e->cseq);
    msgpack_pack_str_with_body(pk, e->worker_len ? e->worker : "", e->worker_len);
    msgpack_pack_uint64(pk, e->t_received);
    msgpack_pack_uint64(pk, e->t_dispatched);
    msgpack_pack_uint64(pk, e->t_verified);
    msgpack_pack_uint64(pk, e->t_committed);
    msgpack_pack_bin_with_body(pk, e->att_len ? e->att : (const uint8_t *) "", e->att_len);
    msgpack_pack_bin_with_body(pk, e->producer_key_len ? e->producer_key : (const uint8_t *) "", e->producer_key_len);
    msgpack_pack_bin_with_body(pk, e->worker_key_len ? e->worker_key : (const uint8_t *) "", e->worker_key_len);
    msgpack_pack_uint64(pk, e->epoch);
}

at_err entry_encode(const entry_t *e, uint8_t *out, size_t cap, size_t *len)
{
    if (e->producer_len > ENTRY_NAME_MAX || e->worker_len > ENTRY_NAME_MAX || e->att_len > AT_ENCODED_MAX)
        return AT_ERR_OVERSIZE;
    if ((e->producer_key_len != 0 && e->producer_key_len != ENTRY_KEY_BYTES)
        || (e->worker_key_len != 0 && e->worker_key_len != ENTRY_KEY_BYTES))
        return AT_ERR_OVERSIZE;
    if (e->verdict > 1)
        return AT_ERR_RANGE;
    s_out_t o = { out, cap, 0, false };
    msgpack_packer pk;
    msgpack_packer_init(&pk, &o, s_write);
    s_pack(&pk, e);
    if (o.overflow)
        return AT_ERR_OVERSIZE;
    *len = o.len;
    return AT_OK;
}

void entry_hash(const uint8_t *value, size_t len, uint8_t out[ENTRY_HASH_BYTES])
{
    crypto_generichash(out, ENTRY_HASH_BYTES, len ? value : (const uint8_t *) "", len, NULL, 0);
}

/*  A binary of exactly want bytes, copied to out. */
static at_err s_fixed_bin(const msgpack_object *o, uint8_t *out, size_t want)
{
    const uint8_t *p;
    size_t n;
    at_err rc = mpfield_bin(o, &p, &n, want);
    if (rc)
        return rc;
    if (n != want)
        return AT_ERR_RANGE;
    memcpy(out, p, n);
    return AT_OK;
}

/*  A key of format 2: a binary of 0 or ENTRY_KEY_BYTES. */
static at_err s_key(const msgpack_object *o, const uint8_t **p, size_t *n)
{
    at_err rc = mpfield_bin(o, p, n, ENTRY_KEY_BYTES);
    if (rc == AT_OK && *n != 0 && *n != ENTRY_KEY_BYTES)
        return AT_ERR_RANGE;
    return rc;
}

/*  The field count of each format (0: no such format). */
static size_t s_fields_of(uint64_t format)
{
    switch (format) {
    case 1: return ENTRY_FORMAT_1_FIELDS;
    case 2: return ENTRY_FORMAT_2_FIELDS;
    case 3: return ENTRY_FIELDS;
    default: return 0;
    }
}

/*  Fills *e from the n (15: format 1, 17: format 2, 18: format 3) elements of the array. */
static at_err s_fields(entry_t *e, const msgpack_object *f, size_t n)
{
    at_err rc;
    uint64_t v, verdict, reason;
    if ((rc = mpfield_u64(&f[0], &v))) return rc;
    if (s_fields_of(v) != n) return AT_ERR_VERSION;
    e->format = (uint8_t) v;
    if (n >= ENTRY_FORMAT_2_FIELDS) {
        if ((rc = s_key(&f[15], &e->producer_key, &e->producer_key_len))) return rc;
        if ((rc = s_key(&f[16], &e->worker_key, &e->worker_key_len))) return rc;
    }
    if (n == ENTRY_FIELDS && (rc = mpfield_u64(&f[17], &e->epoch))) return rc;
    if ((rc = mpfield_u64(&f[1], &e->index))) return rc;
    if ((rc = mpfield_u64(&f[2], &e->seq))) return rc;
    if ((rc = s_fixed_bin(&f[3], e->prev_hash, ENTRY_HASH_BYTES))) return rc;
    if ((rc = s_fixed_bin(&f[4], e->id, AT_ID_BYTES))) return rc;
    if ((rc = mpfield_u64(&f[5], &verdict))) return rc;
    if ((rc = mpfield_u64(&f[6], &reason))) return rc;
    if (verdict > 1 || reason > 255) return AT_ERR_RANGE;
    e->verdict = (uint8_t) verdict;
    e->reason = (uint8_t) reason;
    if ((rc = mpfield_str(&f[7], &e->producer, &e->producer_len, ENTRY_NAME_MAX))) return rc;
    if ((rc = mpfield_u64(&f[8], &e->cseq))) return rc;
    if ((rc = mpfield_str(&f[9], &e->worker, &e->worker_len, ENTRY_NAME_MAX))) return rc;
    if ((rc = mpfield_u64(&f[10], &e->t_received))) return rc;
    if ((rc = mpfield_u64(&f[11], &e->t_dispatched))) return rc;
    if ((rc = mpfield_u64(&f[12], &e->t_verified))) return rc;
    if ((rc = mpfield_u64(&f[13], &e->t_committed))) return rc;
    return mpfield_bin(&f[14], &e->att, &e->att_len, AT_ENCODED_MAX);
}

at_err entry_decode(entry_t *out, const uint8_t *buf, size_t len)
{
    memset(out, 0, sizeof *out);
    if (!at_msgpack_bounded(buf, len))
        return AT_ERR_MSGPACK;
    msgpack_object root;
    msgpack_zone *zone;
    at_err rc = mpzone_unpack(buf, len, &root, &zone);
    if (rc == AT_OK && (root.type != MSGPACK_OBJECT_ARRAY || (root.via.array.size != ENTRY_FIELDS
                                                              && root.via.array.size != ENTRY_FORMAT_2_FIELDS
                                                              && root.via.array.size != ENTRY_FORMAT_1_FIELDS)))
        rc = AT_ERR_SHAPE;
    if (rc == AT_OK)
        rc = s_fields(out, root.via.array.ptr, root.via.array.size);
    mpzone_give(zone);
    return rc;
}
