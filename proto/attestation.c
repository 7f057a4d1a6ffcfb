/*  attestation.c: strict codec, signing bytes, id, Ed25519 sign and verify. */
#include "attestation.h"
#include "utf8.h"
#include "mpfield.h"
#include "mpzone.h"
#include <msgpack.h>
#include <sodium.h>
#include <string.h>

static const char s_domain[10] = "attest/v1";   /* 9 chars and the NUL */

at_err at_crypto_init(void)
{
    return sodium_init() < 0 ? AT_ERR_IO : AT_OK;
}

static uint64_t s_be_get(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = (v << 8) | p[i];
    return v;
}

/*  Sizes of one msgpack header at p (avail bytes readable): its bytes before
 *  any payload (*hdr), the payload bytes (*body) and the elements that follow
 *  it (*kids). Length bytes past avail are not read (then *hdr > avail).
 *  False for 0xc1. */
static bool s_mp_header(const uint8_t *p, size_t avail, size_t *hdr, uint64_t *body, uint64_t *kids)
{
    static const uint8_t fixed[32] = {   /* 0xc0..0xdf: header size, 0 = special */
        1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 5, 9, 2, 3, 5, 9, 2, 3, 5, 9, 3, 4, 6, 10, 18, 0, 0, 0, 0, 0, 0, 0 };
    uint8_t b = p[0];
    *body = 0;
    *kids = 0;
    *hdr = 1;
    if (b <= 0x7f || b >= 0xe0) return true;
    if (b <= 0x8f) { *kids = 2u * (b & 0x0f); return true; }
    if (b <= 0x9f) { *kids = b & 0x0f; return true; }
    if (b <= 0xbf) { *body = b & 0x1f; return true; }
    if (b == 0xc1) return false;
    if (fixed[b - 0xc0]) { *hdr = fixed[b - 0xc0]; return true; }
    /* bin8/16/32 c4-c6, ext8/16/32 c7-c9, str8/16/32 d9-db, array dc-dd, map de-df */
    static const struct { uint8_t tag, lenbytes, extra; } var[] = {
        { 0xc4, 1, 0 }, { 0xc5, 2, 0 }, { 0xc6, 4, 0 }, { 0xc7, 1, 1 }, { 0xc8, 2, 1 }, { 0xc9, 4, 1 },
        { 0xd9, 1, 0 }, { 0xda, 2, 0 }, { 0xdb, 4, 0 }, { 0xdc, 2, 0 }, { 0xdd, 4, 0 }, { 0xde, 2, 0 }, { 0xdf, 4, 0 } };
    for (size_t i = 0; i < sizeof var / sizeof var[0]; i++) {
        if (var[i].tag != b)
            continue;
        *hdr = 1u + var[i].lenbytes + var[i].extra;
        if (avail < 1u + var[i].lenbytes)
            return true;                /* truncated: the caller sees hdr > avail */
        uint64_t n = s_be_get(p + 1, var[i].lenbytes);
        if (b >= 0xdc)
            *kids = b >= 0xde ? 2 * n : n;
        else
            *body = n;
        return true;
    }
    return false;
}

bool at_msgpack_bounded(const uint8_t *buf, size_t len)
{
    size_t pos = 0;
    uint64_t pending = 1;               /* objects still to read */
    while (pending > 0) {
        if (pos >= len)
            return false;
        size_t hdr;
        uint64_t body, kids;
        if (!s_mp_header(buf + pos, len - pos, &hdr, &body, &kids))
            return false;
        if (hdr > len - pos || body > len - pos - hdr)
            return false;
        pos += hdr + (size_t) body;
        pending = pending - 1 + kids;
        if (pending > len - pos)
            return false;
    }
    return true;
}

at_err attestation_check(const attestation_t *a)
{
    if (a->version != AT_VERSION)
        return AT_ERR_VERSION;
    if (a->schema_len > AT_SCHEMA_MAX || a->subject_len > AT_SUBJECT_MAX || a->data_len > AT_DATA_MAX)
        return AT_ERR_OVERSIZE;
    if (a->schema_len == 0 || a->subject_len == 0 || !a->attester || !a->nonce || !a->signature)
        return AT_ERR_RANGE;
    if (!utf8_valid((const uint8_t *) a->schema, a->schema_len)
        || !utf8_valid((const uint8_t *) a->subject, a->subject_len))
        return AT_ERR_RANGE;
    if (a->has_expires && a->expires_at <= a->issued_at)
        return AT_ERR_RANGE;
    return AT_OK;
}

static at_err s_bin_exact(const msgpack_object *o, const uint8_t **p, size_t want)
{
    size_t n;
    at_err rc = mpfield_bin(o, p, &n, want);
    if (rc == AT_ERR_OVERSIZE || (rc == AT_OK && n != want))
        return AT_ERR_RANGE;
    return rc;
}

static at_err s_uint(const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return AT_ERR_TYPE;
    *out = o->via.u64;
    return AT_OK;
}

/*  Fills *out from the nine elements of the decoded array. */
static at_err s_fields(attestation_t *out, const msgpack_object *f)
{
    at_err rc;
    if ((rc = mpfield_str(&f[1], &out->schema, &out->schema_len, AT_SCHEMA_MAX))) return rc;
    if ((rc = s_bin_exact(&f[2], &out->attester, AT_KEY_BYTES))) return rc;
    if ((rc = mpfield_str(&f[3], &out->subject, &out->subject_len, AT_SUBJECT_MAX))) return rc;
    if ((rc = mpfield_bin(&f[4], &out->data, &out->data_len, AT_DATA_MAX))) return rc;
    if ((rc = s_uint(&f[5], &out->issued_at))) return rc;
    out->has_expires = f[6].type != MSGPACK_OBJECT_NIL;
    out->expires_at = 0;
    if (out->has_expires && (rc = s_uint(&f[6], &out->expires_at))) return rc;
    if ((rc = s_bin_exact(&f[7], &out->nonce, AT_NONCE_BYTES))) return rc;
    if ((rc = s_bin_exact(&f[8], &out->signature, AT_SIG_BYTES))) return rc;
    return attestation_check(out);
}

at_err attestation_decode(attestation_t *out, const uint8_t *buf, size_t len)
{
    memset(out, 0, sizeof *out);
    if (len > AT_ENCODED_MAX)
        return AT_ERR_OVERSIZE;
    if (!at_msgpack_bounded(buf, len))
        return AT_ERR_MSGPACK;
    msgpack_object root;
    msgpack_zone *zone;
    at_err rc = mpzone_unpack(buf, len, &root, &zone);
    if (rc == AT_OK && (root.type != MSGPACK_OBJECT_ARRAY || root.via.array.size == 0))
        rc = AT_ERR_SHAPE;
    if (rc == AT_OK) {
        const msgpack_object *f = root.via.array.ptr;
        uint64_t version;
        if ((rc = s_uint(&f[0], &version)) == AT_OK) {
            if (version != AT_VERSION)
                rc = AT_ERR_VERSION;
            else if (root.via.array.size != 9)
                rc = AT_ERR_SHAPE;
            else {
                out->version = (uint8_t) version;
                rc = s_fields(out, f);
            }
        }
    }
    mpzone_give(zone);
    return rc;
}

at_err attestation_encode(const attestation_t *a, uint8_t *out, size_t cap, size_t *len)
{
    at_err rc = attestation_check(a);
    if (rc)
        return rc;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 9);
    msgpack_pack_uint8(&pk, a->version);
    msgpack_pack_str_with_body(&pk, a->schema, a->schema_len);
    msgpack_pack_bin_with_body(&pk, a->attester, AT_KEY_BYTES);
    msgpack_pack_str_with_body(&pk, a->subject, a->subject_len);
    msgpack_pack_bin_with_body(&pk, a->data_len ? a->data : (const uint8_t *) "", a->data_len);
    msgpack_pack_uint64(&pk, a->issued_at);
    if (a->has_expires)
        msgpack_pack_uint64(&pk, a->expires_at);
    else
        msgpack_pack_nil(&pk);
    msgpack_pack_bin_with_body(&pk, a->nonce, AT_NONCE_BYTES);
    msgpack_pack_bin_with_body(&pk, a->signature, AT_SIG_BYTES);
    if (sb.size > cap || sb.size > AT_ENCODED_MAX)
        rc = AT_ERR_OVERSIZE;
    else {
        memcpy(out, sb.data, sb.size);
        *len = sb.size;
    }
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static uint8_t *s_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        p[i] = (uint8_t) (v & 0xff);
        v >>= 8;
    }
    return p + bytes;
}

size_t attestation_signing_bytes(const attestation_t *a, uint8_t *out)
{
    uint8_t *p = out;
    memcpy(p, s_domain, sizeof s_domain);
    p += sizeof s_domain;
    *p++ = a->version;
    p = s_be(p, a->schema_len, 2);
    memcpy(p, a->schema, a->schema_len);
    p += a->schema_len;
    memcpy(p, a->attester, AT_KEY_BYTES);
    p += AT_KEY_BYTES;
    p = s_be(p, a->subject_len, 2);
    memcpy(p, a->subject, a->subject_len);
    p += a->subject_len;
    p = s_be(p, a->data_len, 4);
    if (a->data_len)
        memcpy(p, a->data, a->data_len);
    p += a->data_len;
    p = s_be(p, a->issued_at, 8);
    *p++ = a->has_expires ? 1 : 0;
    p = s_be(p, a->has_expires ? a->expires_at : 0, 8);
    memcpy(p, a->nonce, AT_NONCE_BYTES);
    p += AT_NONCE_BYTES;
    return (size_t) (p - out);
}

void attestation_id(const attestation_t *a, uint8_t id[AT_ID_BYTES])
{
    uint8_t buf[AT_SIGNING_MAX];
    size_t n = attestation_signing_bytes(a, buf);
    crypto_generichash(id, AT_ID_BYTES, buf, n, NULL, 0);
}

void attestation_sign(const attestation_t *a, const uint8_t sk[AT_SECRET_BYTES], uint8_t sig[AT_SIG_BYTES])
{
    uint8_t buf[AT_SIGNING_MAX];
    size_t n = attestation_signing_bytes(a, buf);
    crypto_sign_detached(sig, NULL, buf, n, sk);
}

at_err attestation_verify(const attestation_t *a)
{
    uint8_t buf[AT_SIGNING_MAX];
    size_t n = attestation_signing_bytes(a, buf);
    return crypto_sign_verify_detached(a->signature, buf, n, a->attester) == 0 ? AT_OK : AT_ERR_SIGNATURE;
}

at_err attestation_check_time(const attestation_t *a, uint64_t now, uint64_t skew)
{
    if (a->issued_at > now + skew)
        return AT_ERR_NOT_YET_VALID;
    if (a->has_expires && a->expires_at <= now)
        return AT_ERR_EXPIRED;
    return AT_OK;
}

at_err attestation_judge(const uint8_t *buf, size_t len, uint64_t now, uint64_t skew, uint8_t id[AT_ID_BYTES])
{
    attestation_t a;
    at_err rc = attestation_decode(&a, buf, len);
    if (rc) {
        memset(id, 0, AT_ID_BYTES);
        return rc;
    }
    uint8_t sb[AT_SIGNING_MAX];
    size_t n = attestation_signing_bytes(&a, sb);
    crypto_generichash(id, AT_ID_BYTES, sb, n, NULL, 0);
    if (crypto_sign_verify_detached(a.signature, sb, n, a.attester) != 0)
        return AT_ERR_SIGNATURE;
    return attestation_check_time(&a, now, skew);
}
