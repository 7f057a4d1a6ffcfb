/*  test_attestation.c: the attestation format (proto/attestation.[ch]) and the
 *  error names (proto/at_err.[ch]).
 *
 *  Covers: the RFC 8032 Ed25519 vectors through libsodium (the primitive the
 *  format relies on); a golden attestation computed independently in Python
 *  (signing bytes, id, signature, encoding); encode/decode round trips; every
 *  rejection reason of attestation_decode on hand-made msgpack; sign/verify and
 *  the id; attestation_check_time; attestation_judge; at_strerror and
 *  at_err_from_name. Runs from tests/ (ctest sets the working directory), so
 *  the vectors are read from vectors/.
 */
#include "attestation.h"
#include "check.h"
#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>

/* ---- fixture: a signed attestation whose fields the test owns ---------- */

typedef struct {
    uint8_t pk[AT_KEY_BYTES], sk[AT_SECRET_BYTES];
    uint8_t nonce[AT_NONCE_BYTES], sig[AT_SIG_BYTES];
    char schema[AT_SCHEMA_MAX], subject[AT_SUBJECT_MAX];
    uint8_t data[AT_DATA_MAX];
    attestation_t a;
} fixture_t;

/*  A valid, signed attestation with small fields and an expiry. */
static void s_fixture(fixture_t *fx)
{
    memset(fx, 0, sizeof *fx);
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t) (0xA0 + i);
    crypto_sign_seed_keypair(fx->pk, fx->sk, seed);
    memcpy(fx->schema, "attest/demo/v1", 14);
    memcpy(fx->subject, "pkg:deb/openssl@3.0.11", 22);
    memcpy(fx->data, "\x01\x02\x03", 3);
    memset(fx->nonce, 0x5A, sizeof fx->nonce);
    fx->a = (attestation_t) {
        .version = AT_VERSION, .schema = fx->schema, .schema_len = 14, .attester = fx->pk,
        .subject = fx->subject, .subject_len = 22, .data = fx->data, .data_len = 3,
        .issued_at = 1700000000, .has_expires = true, .expires_at = 1700086400,
        .nonce = fx->nonce, .signature = fx->sig,
    };
    attestation_sign(&fx->a, fx->sk, fx->sig);
}

/*  Encodes fx->a (re-signed) into out; returns the length. */
static size_t s_encode(fixture_t *fx, uint8_t *out)
{
    attestation_sign(&fx->a, fx->sk, fx->sig);
    size_t len = 0;
    CHECK_ERR(attestation_encode(&fx->a, out, AT_ENCODED_MAX, &len), AT_OK);
    return len;
}

/* ---- (a) RFC 8032 section 7.1 ------------------------------------------ */

static void test_rfc8032(void)
{
    FILE *f = fopen("vectors/rfc8032.txt", "r");
    CHECK(f != NULL);
    if (!f)
        return;
    static char line[8192], name[64], skh[128], pkh[128], msgh[4096], sigh[256];
    int vectors = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%63s %127s %127s %4095s %255s", name, skh, pkh, msgh, sigh) != 5) {
            CHECK(!"malformed line in vectors/rfc8032.txt");
            continue;
        }
        uint8_t seed[32], pk_want[32], sig_want[64], msg[2048], pk[32], sk[64], sig[64];
        long mlen = strcmp(msgh, "-") == 0 ? 0 : check_unhex(msgh, msg, sizeof msg);
        CHECK(check_unhex(skh, seed, 32) == 32 && check_unhex(pkh, pk_want, 32) == 32);
        CHECK(check_unhex(sigh, sig_want, 64) == 64 && mlen >= 0);
        crypto_sign_seed_keypair(pk, sk, seed);
        CHECK(memcmp(pk, pk_want, 32) == 0);
        crypto_sign_detached(sig, NULL, msg, (size_t) mlen, sk);
        CHECK(memcmp(sig, sig_want, 64) == 0);
        CHECK(crypto_sign_verify_detached(sig_want, msg, (size_t) mlen, pk_want) == 0);
        sig[17] ^= 0x04;
        CHECK(crypto_sign_verify_detached(sig, msg, (size_t) mlen, pk_want) != 0);
        if (mlen > 0) {
            msg[mlen - 1] ^= 0x80;
            CHECK(crypto_sign_verify_detached(sig_want, msg, (size_t) mlen, pk_want) != 0);
        }
        if (strcmp(name, "TEST_1024") == 0)
            CHECK(mlen == 1023);
        vectors++;
    }
    fclose(f);
    CHECK(vectors == 4);
}

/* ---- golden attestation ------------------------------------------------ */

typedef struct {
    uint8_t seed[32], pk[32], schema[AT_SCHEMA_MAX], subject[AT_SUBJECT_MAX], data[AT_DATA_MAX];
    uint8_t nonce[16], signing[AT_SIGNING_MAX], sig[64], id[32], enc[AT_ENCODED_MAX];
    long schema_len, subject_len, data_len, signing_len, enc_len;
    uint64_t issued_at, expires_at;
} golden_t;

static void s_golden_field(golden_t *g, const char *key, const char *val)
{
    static const struct { const char *key; size_t off, cap, len_off; } hexes[] = {
        { "seed", offsetof(golden_t, seed), 32, 0 },
        { "public", offsetof(golden_t, pk), 32, 0 },
        { "schema", offsetof(golden_t, schema), AT_SCHEMA_MAX, offsetof(golden_t, schema_len) },
        { "subject", offsetof(golden_t, subject), AT_SUBJECT_MAX, offsetof(golden_t, subject_len) },
        { "data", offsetof(golden_t, data), AT_DATA_MAX, offsetof(golden_t, data_len) },
        { "nonce", offsetof(golden_t, nonce), 16, 0 },
        { "signing_bytes", offsetof(golden_t, signing), AT_SIGNING_MAX, offsetof(golden_t, signing_len) },
        { "signature", offsetof(golden_t, sig), 64, 0 },
        { "id", offsetof(golden_t, id), 32, 0 },
        { "encoded", offsetof(golden_t, enc), AT_ENCODED_MAX, offsetof(golden_t, enc_len) },
    };
    if (strcmp(key, "issued_at") == 0)
        g->issued_at = strtoull(val, NULL, 10);
    else if (strcmp(key, "expires_at") == 0)
        g->expires_at = strtoull(val, NULL, 10);
    for (size_t i = 0; i < sizeof hexes / sizeof hexes[0]; i++) {
        if (strcmp(key, hexes[i].key))
            continue;
        long n = check_unhex(val, (uint8_t *) g + hexes[i].off, hexes[i].cap);
        CHECK(n >= 0);
        if (hexes[i].len_off)
            *(long *) ((uint8_t *) g + hexes[i].len_off) = n;
        else
            CHECK(n == (long) hexes[i].cap);
    }
}

static void test_golden(void)
{
    static golden_t g;
    FILE *f = fopen("vectors/attestation_v1.txt", "r");
    CHECK(f != NULL);
    if (!f)
        return;
    static char line[4096], key[64], val[4000];
    while (fgets(line, sizeof line, f))
        if (line[0] != '#' && sscanf(line, "%63s %3999s", key, val) == 2)
            s_golden_field(&g, key, val);
    fclose(f);

    uint8_t pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, g.seed);
    CHECK(memcmp(pk, g.pk, 32) == 0);
    attestation_t a = {
        .version = 1, .schema = (const char *) g.schema, .schema_len = (size_t) g.schema_len,
        .attester = pk, .subject = (const char *) g.subject, .subject_len = (size_t) g.subject_len,
        .data = g.data, .data_len = (size_t) g.data_len, .issued_at = g.issued_at, .has_expires = true,
        .expires_at = g.expires_at, .nonce = g.nonce, .signature = NULL,
    };
    uint8_t sb[AT_SIGNING_MAX], sig[64], id[32], enc[AT_ENCODED_MAX];
    size_t n = attestation_signing_bytes(&a, sb);
    CHECK(n == (size_t) g.signing_len && memcmp(sb, g.signing, n) == 0);
    attestation_sign(&a, sk, sig);
    CHECK(memcmp(sig, g.sig, 64) == 0);
    a.signature = sig;
    attestation_id(&a, id);
    CHECK(memcmp(id, g.id, 32) == 0);
    size_t len = 0;
    CHECK_ERR(attestation_encode(&a, enc, sizeof enc, &len), AT_OK);
    CHECK(len == (size_t) g.enc_len && memcmp(enc, g.enc, len) == 0);
    uint8_t jid[32];
    CHECK_ERR(attestation_judge(g.enc, (size_t) g.enc_len, g.issued_at + 10, 60, jid), AT_OK);
    CHECK(memcmp(jid, g.id, 32) == 0);
}

/* ---- (b) round trips ---------------------------------------------------- */

static bool s_same(const attestation_t *x, const attestation_t *y)
{
    return x->version == y->version && x->schema_len == y->schema_len
        && memcmp(x->schema, y->schema, x->schema_len) == 0 && memcmp(x->attester, y->attester, 32) == 0
        && x->subject_len == y->subject_len && memcmp(x->subject, y->subject, x->subject_len) == 0
        && x->data_len == y->data_len && (x->data_len == 0 || memcmp(x->data, y->data, x->data_len) == 0)
        && x->issued_at == y->issued_at && x->has_expires == y->has_expires && x->expires_at == y->expires_at
        && memcmp(x->nonce, y->nonce, 16) == 0 && memcmp(x->signature, y->signature, 64) == 0;
}

static void s_round_trip(fixture_t *fx)
{
    uint8_t buf[AT_ENCODED_MAX];
    size_t len = s_encode(fx, buf);
    attestation_t b;
    at_err rc = attestation_decode(&b, buf, len);
    CHECK_ERR(rc, AT_OK);
    if (rc != AT_OK)
        return;
    CHECK(s_same(&fx->a, &b));
    CHECK_ERR(attestation_verify(&b), AT_OK);
}

static void test_round_trip(void)
{
    static fixture_t fx;
    s_fixture(&fx);
    s_round_trip(&fx);                          /* with expires_at */
    fx.a.has_expires = false;
    fx.a.expires_at = 0;
    s_round_trip(&fx);                          /* without */
    fx.a.data_len = 0;
    s_round_trip(&fx);                          /* empty data */
    fx.a.data = NULL;
    s_round_trip(&fx);                          /* empty data, NULL pointer */
    fx.a.schema_len = 1;
    fx.a.subject_len = 1;
    s_round_trip(&fx);                          /* shortest strings */
    /* Every field at its maximum, 64-bit times: the largest canonical encoding. */
    memset(fx.schema, 's', AT_SCHEMA_MAX);
    memset(fx.subject, 'u', AT_SUBJECT_MAX);
    memset(fx.data, 0xEE, AT_DATA_MAX);
    fx.a.schema_len = AT_SCHEMA_MAX;
    fx.a.subject_len = AT_SUBJECT_MAX;
    fx.a.data = fx.data;
    fx.a.data_len = AT_DATA_MAX;
    fx.a.issued_at = UINT64_MAX - 1;
    fx.a.has_expires = true;
    fx.a.expires_at = UINT64_MAX;
    s_round_trip(&fx);
    /* Multi-byte UTF-8 at the maximum length (2 bytes x 128 = 256). */
    for (int i = 0; i < AT_SUBJECT_MAX; i += 2)
        memcpy(fx.subject + i, "\xc3\xa9", 2);
    s_round_trip(&fx);
    /* Encoding refuses what decoding would refuse, and a too small buffer. */
    uint8_t buf[AT_ENCODED_MAX];
    size_t len;
    fx.a.subject_len = AT_SUBJECT_MAX + 1;
    CHECK_ERR(attestation_encode(&fx.a, buf, sizeof buf, &len), AT_ERR_OVERSIZE);
    fx.a.subject_len = 0;
    CHECK_ERR(attestation_encode(&fx.a, buf, sizeof buf, &len), AT_ERR_RANGE);
    fx.a.subject_len = 10;
    CHECK_ERR(attestation_encode(&fx.a, buf, 100, &len), AT_ERR_OVERSIZE);
}

/*  Appends a msgpack header with the largest form: 0xdd/0xdb/0xc6 + be32, or
 *  0xcf + be64 for an integer. */
static uint8_t *s_wide(uint8_t *p, uint8_t tag, uint64_t v, int bytes)
{
    *p++ = tag;
    for (int i = bytes - 1; i >= 0; i--)
        *p++ = (uint8_t) (v >> (8 * i));
    return p;
}

/*  The widest legal encoding of a maximal attestation still fits. */
static void test_widest_encoding(void)
{
    static fixture_t fx;
    s_fixture(&fx);
    memset(fx.schema, 's', AT_SCHEMA_MAX);
    memset(fx.subject, 'u', AT_SUBJECT_MAX);
    static uint8_t buf[2048];
    uint8_t *p = s_wide(buf, 0xdd, 9, 4);
    p = s_wide(p, 0xcf, 1, 8);
    p = s_wide(p, 0xdb, AT_SCHEMA_MAX, 4);
    memcpy(p, fx.schema, AT_SCHEMA_MAX), p += AT_SCHEMA_MAX;
    p = s_wide(p, 0xc6, 32, 4);
    memcpy(p, fx.pk, 32), p += 32;
    p = s_wide(p, 0xdb, AT_SUBJECT_MAX, 4);
    memcpy(p, fx.subject, AT_SUBJECT_MAX), p += AT_SUBJECT_MAX;
    p = s_wide(p, 0xc6, AT_DATA_MAX, 4);
    memset(p, 0xEE, AT_DATA_MAX), p += AT_DATA_MAX;
    p = s_wide(p, 0xcf, UINT64_MAX - 1, 8);
    p = s_wide(p, 0xcf, UINT64_MAX, 8);
    p = s_wide(p, 0xc6, 16, 4);
    memcpy(p, fx.nonce, 16), p += 16;
    p = s_wide(p, 0xc6, 64, 4);
    memcpy(p, fx.sig, 64), p += 64;
    size_t len = (size_t) (p - buf);
    CHECK(len == 1582 && len <= AT_ENCODED_MAX);
    attestation_t a;
    CHECK_ERR(attestation_decode(&a, buf, len), AT_OK);
    CHECK(a.schema_len == AT_SCHEMA_MAX && a.subject_len == AT_SUBJECT_MAX && a.data_len == AT_DATA_MAX);
    CHECK(a.issued_at == UINT64_MAX - 1 && a.has_expires && a.expires_at == UINT64_MAX);
}

/* ---- (c) rejections ----------------------------------------------------- */

static fixture_t s_fx;   /* the fields packed by s_pack_default */

static void s_pack_default(msgpack_packer *pk, int i)
{
    const attestation_t *a = &s_fx.a;
    switch (i) {
    case 0: msgpack_pack_uint8(pk, 1); break;
    case 1: msgpack_pack_str_with_body(pk, a->schema, a->schema_len); break;
    case 2: msgpack_pack_bin_with_body(pk, a->attester, 32); break;
    case 3: msgpack_pack_str_with_body(pk, a->subject, a->subject_len); break;
    case 4: msgpack_pack_bin_with_body(pk, a->data, a->data_len); break;
    case 5: msgpack_pack_uint64(pk, a->issued_at); break;
    case 6: msgpack_pack_uint64(pk, a->expires_at); break;
    case 7: msgpack_pack_bin_with_body(pk, a->nonce, 16); break;
    case 8: msgpack_pack_bin_with_body(pk, a->signature, 64); break;
    default: msgpack_pack_nil(pk); break;
    }
}

static const uint8_t s_zeros[2048];
static void p_bin4(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, "abcd", 4); }
static void p_str32(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, s_zeros, 32); }
static void p_neg(msgpack_packer *pk) { msgpack_pack_int64(pk, -1); }
static void p_float(msgpack_packer *pk) { msgpack_pack_double(pk, 1700000000.0); }
static void p_strnum(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "1700086400", 10); }
static void p_true(msgpack_packer *pk) { msgpack_pack_true(pk); }
static void p_v2(msgpack_packer *pk) { msgpack_pack_uint8(pk, 2); }
static void p_v0(msgpack_packer *pk) { msgpack_pack_uint8(pk, 0); }
static void p_vstr(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "1", 1); }
static void p_bin31(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, s_zeros, 31); }
static void p_bin33(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, s_zeros, 33); }
static void p_bin15(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, s_zeros, 15); }
static void p_bin63(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, s_zeros, 63); }
static void p_bin0(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, s_zeros, 0); }
static void p_empty_str(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "", 0); }
static void p_same_time(msgpack_packer *pk) { msgpack_pack_uint64(pk, s_fx.a.issued_at); }
static void p_earlier(msgpack_packer *pk) { msgpack_pack_uint64(pk, s_fx.a.issued_at - 1); }
static void p_bad_utf8(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "pkg:\xff", 5); }
static void p_overlong(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "a\xc0\xaf", 3); }
static void p_surrogate(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "\xed\xa0\x80", 3); }
static void p_cut_utf8(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "ab\xe2\x9c", 4); }
static void p_schema129(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 129); }
static void p_data1025(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, s_zeros, 1025); }

typedef struct {
    const char *what;
    int count;                          /* array elements */
    int at;                             /* element replaced (-1: none) */
    void (*pack)(msgpack_packer *pk);
    at_err want;
} reject_case_t;

static const reject_case_t s_rejects[] = {
    { "valid (control)", 9, -1, NULL, AT_OK },
    { "empty array", 0, -1, NULL, AT_ERR_SHAPE },
    { "8 elements", 8, -1, NULL, AT_ERR_SHAPE },
    { "10 elements", 10, -1, NULL, AT_ERR_SHAPE },
    { "1 element", 1, -1, NULL, AT_ERR_SHAPE },
    { "version 2", 9, 0, p_v2, AT_ERR_VERSION },
    { "version 0", 9, 0, p_v0, AT_ERR_VERSION },
    { "version 2, 5 elements", 5, 0, p_v2, AT_ERR_VERSION },
    { "version 2, 12 elements", 12, 0, p_v2, AT_ERR_VERSION },
    { "version 2 alone", 1, 0, p_v2, AT_ERR_VERSION },
    { "version as str", 9, 0, p_vstr, AT_ERR_TYPE },
    { "schema as bin", 9, 1, p_bin4, AT_ERR_TYPE },
    { "attester as str", 9, 2, p_str32, AT_ERR_TYPE },
    { "subject as bin", 9, 3, p_bin4, AT_ERR_TYPE },
    { "data as str", 9, 4, p_vstr, AT_ERR_TYPE },
    { "issued_at negative", 9, 5, p_neg, AT_ERR_TYPE },
    { "issued_at float", 9, 5, p_float, AT_ERR_TYPE },
    { "expires_at as string", 9, 6, p_strnum, AT_ERR_TYPE },
    { "expires_at bool", 9, 6, p_true, AT_ERR_TYPE },
    { "nonce as str", 9, 7, p_str32, AT_ERR_TYPE },
    { "signature as str", 9, 8, p_str32, AT_ERR_TYPE },
    { "schema 129 bytes", 9, 1, p_schema129, AT_ERR_OVERSIZE },
    { "data 1025 bytes", 9, 4, p_data1025, AT_ERR_OVERSIZE },
    { "attester 31 bytes", 9, 2, p_bin31, AT_ERR_RANGE },
    { "attester 33 bytes", 9, 2, p_bin33, AT_ERR_RANGE },
    { "nonce 15 bytes", 9, 7, p_bin15, AT_ERR_RANGE },
    { "signature 63 bytes", 9, 8, p_bin63, AT_ERR_RANGE },
    { "signature empty", 9, 8, p_bin0, AT_ERR_RANGE },
    { "empty schema", 9, 1, p_empty_str, AT_ERR_RANGE },
    { "empty subject", 9, 3, p_empty_str, AT_ERR_RANGE },
    { "expires_at == issued_at", 9, 6, p_same_time, AT_ERR_RANGE },
    { "expires_at < issued_at", 9, 6, p_earlier, AT_ERR_RANGE },
    { "subject 0xff", 9, 3, p_bad_utf8, AT_ERR_RANGE },
    { "subject overlong '/'", 9, 3, p_overlong, AT_ERR_RANGE },
    { "subject surrogate", 9, 3, p_surrogate, AT_ERR_RANGE },
    { "subject cut sequence", 9, 3, p_cut_utf8, AT_ERR_RANGE },
    { "schema 0xff", 9, 1, p_bad_utf8, AT_ERR_RANGE },
};

static void s_pack_case(msgpack_sbuffer *sb, const reject_case_t *c)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, (size_t) c->count);
    for (int i = 0; i < c->count; i++) {
        if (i == c->at)
            c->pack(&pk);
        else
            s_pack_default(&pk, i);
    }
}

static void s_expect(const uint8_t *buf, size_t len, at_err want, const char *what)
{
    attestation_t a;
    at_err rc = attestation_decode(&a, buf, len);
    CHECK_ERR(rc, want);
    if (rc != want)
        fprintf(stderr, "  case: %s\n", what);
}

static void test_rejections(void)
{
    s_fixture(&s_fx);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    for (size_t i = 0; i < sizeof s_rejects / sizeof s_rejects[0]; i++) {
        s_pack_case(&sb, &s_rejects[i]);
        s_expect((const uint8_t *) sb.data, sb.size, s_rejects[i].want, s_rejects[i].what);
    }
    /* Byte-level cases on the valid encoding. */
    static uint8_t buf[AT_ENCODED_MAX + 64];
    s_pack_case(&sb, &s_rejects[0]);
    size_t len = sb.size;
    memcpy(buf, sb.data, len);
    s_expect(buf, len - 1, AT_ERR_MSGPACK, "truncated by one byte");
    s_expect(buf, 1, AT_ERR_MSGPACK, "only the array header");
    s_expect(buf, 0, AT_ERR_MSGPACK, "empty buffer");
    buf[len] = 0x00;
    s_expect(buf, len + 1, AT_ERR_TRAILING, "one trailing byte");
    memcpy(buf + len, buf, len);
    s_expect(buf, 2 * len, AT_ERR_TRAILING, "two attestations back to back");
    s_expect((const uint8_t *) "\xc1", 1, AT_ERR_MSGPACK, "0xc1 (never used)");
    buf[0] = 0x99;
    buf[1] = 0xc1;
    s_expect(buf, len, AT_ERR_MSGPACK, "0xc1 inside the array");
    s_expect((const uint8_t *) "\x01", 1, AT_ERR_SHAPE, "an integer");
    s_expect((const uint8_t *) "\x81\x01\x02", 3, AT_ERR_SHAPE, "a map");
    s_expect((const uint8_t *) "\xa3" "abc", 4, AT_ERR_SHAPE, "a string");
    s_expect((const uint8_t *) "\x90", 1, AT_ERR_SHAPE, "empty array (fixarray)");
    s_expect((const uint8_t *) "\xdc\x00\x00", 3, AT_ERR_SHAPE, "empty array (array16)");
    memset(buf, 0xc0, sizeof buf);      /* nil: valid msgpack, refused by length first */
    s_expect(buf, AT_ENCODED_MAX + 1, AT_ERR_OVERSIZE, "length > AT_ENCODED_MAX");
    msgpack_sbuffer_destroy(&sb);
}

/* ---- (d) signature and id ----------------------------------------------- */

static void s_id(const attestation_t *a, uint8_t id[32]) { attestation_id(a, id); }

static void test_sign_and_id(void)
{
    static fixture_t fx;
    s_fixture(&fx);
    attestation_t *a = &fx.a;
    CHECK_ERR(attestation_verify(a), AT_OK);

    /* Tampering with the decoded bytes. */
    uint8_t buf[AT_ENCODED_MAX];
    size_t len = s_encode(&fx, buf);
    uint8_t *p = memmem(buf, len, "openssl", 7);
    CHECK(p != NULL);
    if (p)
        p[0] = 'O';
    attestation_t b;
    CHECK_ERR(attestation_decode(&b, buf, len), AT_OK);
    CHECK_ERR(attestation_verify(&b), AT_ERR_SIGNATURE);
    uint8_t id[32];
    CHECK_ERR(attestation_judge(buf, len, a->issued_at, 60, id), AT_ERR_SIGNATURE);

    /* Another key's signature, and a signature from the wrong key. */
    uint8_t pk2[32], sk2[64], sig2[64];
    crypto_sign_keypair(pk2, sk2);
    attestation_sign(a, sk2, sig2);
    attestation_t c = *a;
    c.signature = sig2;
    CHECK_ERR(attestation_verify(&c), AT_ERR_SIGNATURE);
    c.attester = pk2;
    CHECK_ERR(attestation_verify(&c), AT_ERR_SIGNATURE);   /* attester is signed */
    attestation_sign(&c, sk2, sig2);
    CHECK_ERR(attestation_verify(&c), AT_OK);

    /* The id: stable, independent of the signature, bound to every field. */
    uint8_t id0[32], id1[32];
    s_id(a, id0);
    s_id(a, id1);
    CHECK(memcmp(id0, id1, 32) == 0);
    uint8_t other_sig[64];
    memset(other_sig, 0x33, sizeof other_sig);
    c = *a;
    c.signature = other_sig;
    s_id(&c, id1);
    CHECK(memcmp(id0, id1, 32) == 0);
    CHECK_ERR(attestation_decode(&b, buf, len), AT_OK);   /* tampered subject */
    s_id(&b, id1);
    CHECK(memcmp(id0, id1, 32) != 0);

    uint8_t nonce2[16], key2[32];
    memcpy(nonce2, fx.nonce, 16);
    nonce2[15] ^= 1;
    memcpy(key2, fx.pk, 32);
    key2[0] ^= 1;
    struct { const char *what; attestation_t m; } muts[] = {
        { "version", *a }, { "schema", *a }, { "attester", *a }, { "subject", *a },
        { "data", *a }, { "data length", *a }, { "issued_at", *a }, { "expires_at", *a },
        { "has_expires", *a }, { "nonce", *a }, { "expires 0 vs absent", *a },
    };
    muts[0].m.version = 2;
    muts[1].m.schema_len--;
    muts[2].m.attester = key2;
    muts[3].m.subject = "pkg:deb/openssl@3.0.12";
    muts[4].m.data = (const uint8_t *) "\x01\x02\x04";
    muts[5].m.data_len = 2;
    muts[6].m.issued_at++;
    muts[7].m.expires_at++;
    muts[8].m.has_expires = false;
    muts[9].m.nonce = nonce2;
    muts[10].m.expires_at = 0;          /* has_expires with 0 differs from absent */
    attestation_t absent = *a;
    absent.has_expires = false;
    absent.expires_at = 0;
    uint8_t id_absent[32];
    s_id(&absent, id_absent);
    for (size_t i = 0; i < sizeof muts / sizeof muts[0]; i++) {
        s_id(&muts[i].m, id1);
        CHECK(memcmp(id0, id1, 32) != 0);
        CHECK_ERR(attestation_verify(&muts[i].m), AT_ERR_SIGNATURE);
        if (memcmp(id0, id1, 32) == 0)
            fprintf(stderr, "  id did not change with %s\n", muts[i].what);
    }
    s_id(&muts[10].m, id1);
    CHECK(memcmp(id1, id_absent, 32) != 0);
    /* Length prefixes make field boundaries unambiguous. */
    attestation_t s1 = *a, s2 = *a;
    s1.schema = "ab";
    s1.schema_len = 2;
    s1.subject = "cd";
    s1.subject_len = 2;
    s2.schema = "abc";
    s2.schema_len = 3;
    s2.subject = "d";
    s2.subject_len = 1;
    s_id(&s1, id0);
    s_id(&s2, id1);
    CHECK(memcmp(id0, id1, 32) != 0);
}

/* ---- (e) time ------------------------------------------------------------ */

static void test_check_time(void)
{
    static fixture_t fx;
    s_fixture(&fx);
    attestation_t a = fx.a;
    a.issued_at = 1000;
    a.has_expires = true;
    a.expires_at = 2000;
    CHECK_ERR(attestation_check_time(&a, 900, 60), AT_ERR_NOT_YET_VALID);   /* 100 s ahead */
    CHECK_ERR(attestation_check_time(&a, 939, 60), AT_ERR_NOT_YET_VALID);   /* 61 s ahead */
    CHECK_ERR(attestation_check_time(&a, 940, 60), AT_OK);                  /* exactly the skew */
    CHECK_ERR(attestation_check_time(&a, 970, 60), AT_OK);                  /* within skew */
    CHECK_ERR(attestation_check_time(&a, 999, 0), AT_ERR_NOT_YET_VALID);
    CHECK_ERR(attestation_check_time(&a, 1000, 0), AT_OK);
    CHECK_ERR(attestation_check_time(&a, 1999, 60), AT_OK);
    CHECK_ERR(attestation_check_time(&a, 2000, 60), AT_ERR_EXPIRED);        /* expires_at <= now */
    CHECK_ERR(attestation_check_time(&a, 5000, 60), AT_ERR_EXPIRED);
    a.has_expires = false;
    CHECK_ERR(attestation_check_time(&a, 5000, 60), AT_OK);                 /* no expiry */
    CHECK_ERR(attestation_check_time(&a, UINT64_MAX / 2, 60), AT_OK);
}

/* ---- (f) judge ------------------------------------------------------------ */

static void test_judge(void)
{
    static fixture_t fx;
    s_fixture(&fx);
    uint8_t buf[AT_ENCODED_MAX], id[32], want[32], zero[32] = { 0 };
    size_t len = s_encode(&fx, buf);
    attestation_id(&fx.a, want);
    uint64_t t = fx.a.issued_at;

    CHECK_ERR(attestation_judge(buf, len, t + 5, 60, id), AT_OK);
    CHECK(memcmp(id, want, 32) == 0);
    memset(id, 0xff, 32);
    CHECK_ERR(attestation_judge(buf, len, t - 3600, 60, id), AT_ERR_NOT_YET_VALID);
    CHECK(memcmp(id, want, 32) == 0);
    CHECK_ERR(attestation_judge(buf, len, fx.a.expires_at, 60, id), AT_ERR_EXPIRED);
    CHECK(memcmp(id, want, 32) == 0);
    buf[len - 1] ^= 0x01;                       /* last byte of the signature */
    CHECK_ERR(attestation_judge(buf, len, t + 5, 60, id), AT_ERR_SIGNATURE);
    CHECK(memcmp(id, want, 32) == 0);           /* the id does not cover the signature */
    memset(id, 0xff, 32);
    CHECK_ERR(attestation_judge(buf, len - 1, t + 5, 60, id), AT_ERR_MSGPACK);
    CHECK(memcmp(id, zero, 32) == 0);
    buf[len] = 0;
    CHECK_ERR(attestation_judge(buf, len + 1, t + 5, 60, id), AT_ERR_TRAILING);
    CHECK_ERR(attestation_judge((const uint8_t *) "\x91\x02", 2, t, 60, id), AT_ERR_VERSION);
    CHECK(memcmp(id, zero, 32) == 0);
    CHECK_ERR(attestation_judge((const uint8_t *) "\x05", 1, t, 60, id), AT_ERR_SHAPE);
}

/* ---- (g) error names ------------------------------------------------------ */

static void test_err_names(void)
{
    for (int i = 0; i < AT_ERR_COUNT_; i++) {
        const char *name = at_strerror(i);
        CHECK(name && strcmp(name, "unknown") != 0);
        CHECK(at_err_from_name(name) == i);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(name, at_strerror(j)) != 0);
    }
    CHECK(strcmp(at_strerror(AT_OK), "ok") == 0);
    CHECK(strcmp(at_strerror(AT_ERR_SIGNATURE), "signature") == 0);
    CHECK(strcmp(at_strerror(AT_ERR_EXPIRED), "expired") == 0);
    CHECK(strcmp(at_strerror(-1), "unknown") == 0);
    CHECK(strcmp(at_strerror(AT_ERR_COUNT_), "unknown") == 0);
    CHECK(strcmp(at_strerror(1000), "unknown") == 0);
    CHECK(at_err_from_name("unknown") == -1);
    CHECK(at_err_from_name("") == -1);
    CHECK(at_err_from_name("SIGNATURE") == -1);
    /* The numbers are part of the protocol and the log format. */
    CHECK(AT_ERR_MSGPACK == 1 && AT_ERR_SIGNATURE == 8 && AT_ERR_EXPIRED == 10 && AT_ERR_INTERRUPTED == 24);
}

int main(void)
{
    CHECK_ERR(at_crypto_init(), AT_OK);
    test_rfc8032();
    test_golden();
    test_round_trip();
    test_widest_encoding();
    test_rejections();
    test_sign_and_id();
    test_check_time();
    test_judge();
    test_err_names();
    return check_done("test_attestation");
}
