/*  test_entry.c: the log entry value codec and hash (tlog/entry.[ch]).
 *
 *  Covers: encode then decode gives back every field, for the smallest and
 *  the widest entry (which fits ENTRY_ENCODED_MAX exactly or below); the
 *  encoder refuses names and attestations over their bounds, a verdict
 *  over 1 and a buffer too small, without writing past it; the hash is
 *  BLAKE2b-256 of the bytes; a table of malformed values the decoder
 *  rejects with the right code, and byte-level truncation and trailing
 *  garbage.
 */
#include "check.h"
#include "entry.h"
#include <msgpack.h>
#include <sodium.h>
#include <stdbool.h>

static uint8_t s_att[AT_ENCODED_MAX + 1];
static char s_name[ENTRY_NAME_MAX + 2];

/*  An entry with every number at its widest (u64 max) and the longest
 *  names and attestation, or the smallest (zeros, empty strings). */
static entry_t s_entry(bool widest)
{
    entry_t e;
    memset(&e, widest ? 0xff : 0, sizeof e);
    e.verdict = widest;
    e.reason = widest ? 255 : 0;
    e.producer = s_name;
    e.producer_len = widest ? ENTRY_NAME_MAX : 0;
    e.worker = s_name;
    e.worker_len = widest ? ENTRY_NAME_MAX : 0;
    e.att = s_att;
    e.att_len = widest ? AT_ENCODED_MAX : 0;
    e.producer_key = s_att;
    e.producer_key_len = widest ? ENTRY_KEY_BYTES : 0;
    e.worker_key = s_att + 1;
    e.worker_key_len = widest ? ENTRY_KEY_BYTES : 0;
    return e;
}

static bool s_same(const entry_t *a, const entry_t *b)
{
    return a->index == b->index && a->seq == b->seq && memcmp(a->prev_hash, b->prev_hash, ENTRY_HASH_BYTES) == 0
        && memcmp(a->id, b->id, AT_ID_BYTES) == 0 && a->verdict == b->verdict && a->reason == b->reason
        && a->producer_len == b->producer_len && memcmp(a->producer, b->producer, a->producer_len) == 0
        && a->cseq == b->cseq && a->worker_len == b->worker_len && memcmp(a->worker, b->worker, a->worker_len) == 0
        && a->t_received == b->t_received && a->t_dispatched == b->t_dispatched && a->t_verified == b->t_verified
        && a->t_committed == b->t_committed && a->att_len == b->att_len && memcmp(a->att, b->att, a->att_len) == 0
        && a->producer_key_len == b->producer_key_len && a->worker_key_len == b->worker_key_len
        && memcmp(a->producer_key, b->producer_key, a->producer_key_len) == 0
        && memcmp(a->worker_key, b->worker_key, a->worker_key_len) == 0 && a->epoch == b->epoch
        && b->format == ENTRY_FORMAT;
}

static void test_round_trip(void)
{
    static uint8_t buf[ENTRY_ENCODED_MAX + 16];
    for (int widest = 0; widest <= 1; widest++) {
        entry_t e = s_entry(widest), back;
        size_t len = 0;
        CHECK_ERR(entry_encode(&e, buf, ENTRY_ENCODED_MAX, &len), AT_OK);
        CHECK(len > 0 && len <= ENTRY_ENCODED_MAX);
        if (widest)
            CHECK(len == ENTRY_ENCODED_MAX);   /* the bound is exact, not a guess */
        CHECK_ERR(entry_decode(&back, buf, len), AT_OK);
        CHECK(s_same(&e, &back));
        if (widest)
            CHECK(back.att == buf + len - e.att_len - 2 * (2 + ENTRY_KEY_BYTES) - 9);   /* borrowed from buf; the epoch u64 last */
        /* One byte short: refused, nothing written past the buffer. */
        buf[len - 1] = 0x5a;
        size_t short_len = 12345;
        CHECK_ERR(entry_encode(&e, buf, len - 1, &short_len), AT_ERR_OVERSIZE);
        CHECK(buf[len - 1] == 0x5a && short_len == 12345);
    }
}

static void test_encode_refuses(void)
{
    uint8_t buf[ENTRY_ENCODED_MAX];
    size_t len;
    entry_t e = s_entry(true);
    e.producer_len = ENTRY_NAME_MAX + 1;
    CHECK_ERR(entry_encode(&e, buf, sizeof buf, &len), AT_ERR_OVERSIZE);
    e = s_entry(true);
    e.worker_len = ENTRY_NAME_MAX + 1;
    CHECK_ERR(entry_encode(&e, buf, sizeof buf, &len), AT_ERR_OVERSIZE);
    e = s_entry(true);
    e.att_len = AT_ENCODED_MAX + 1;
    CHECK_ERR(entry_encode(&e, buf, sizeof buf, &len), AT_ERR_OVERSIZE);
    e = s_entry(true);
    e.verdict = 2;
    CHECK_ERR(entry_encode(&e, buf, sizeof buf, &len), AT_ERR_RANGE);
    e = s_entry(true);
    e.producer_key_len = 31;
    CHECK_ERR(entry_encode(&e, buf, sizeof buf, &len), AT_ERR_OVERSIZE);
    e = s_entry(true);
    e.worker_key_len = 33;
    CHECK_ERR(entry_encode(&e, buf, sizeof buf, &len), AT_ERR_OVERSIZE);
    e = s_entry(false);
    CHECK_ERR(entry_encode(&e, buf, 0, &len), AT_ERR_OVERSIZE);
}

static void test_hash(void)
{
    uint8_t buf[ENTRY_ENCODED_MAX], h[ENTRY_HASH_BYTES], want[ENTRY_HASH_BYTES];
    size_t len;
    entry_t e = s_entry(true);
    CHECK_ERR(entry_encode(&e, buf, sizeof buf, &len), AT_OK);
    entry_hash(buf, len, h);
    crypto_generichash(want, sizeof want, buf, len, NULL, 0);
    CHECK(memcmp(h, want, sizeof h) == 0);
    buf[len / 2] ^= 1;
    entry_hash(buf, len, want);
    CHECK(memcmp(h, want, sizeof h) != 0);
    entry_hash(NULL, 0, h);   /* the empty value: allowed, BLAKE2b-256("") */
    crypto_generichash(want, sizeof want, (const uint8_t *) "", 0, NULL, 0);
    CHECK(memcmp(h, want, sizeof h) == 0);
}

/* ---- entry_decode on garbage ------------------------------------------------- */

typedef struct {
    const char *what;
    int field;          /* replaced field, -1 none */
    int count;          /* array elements */
    void (*pack)(msgpack_packer *pk);
    at_err want;
} entry_case_t;

static const uint8_t s_zeros[2048];
static void p_v2(msgpack_packer *pk) { msgpack_pack_uint8(pk, 2); }
static void p_str(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "x", 1); }
static void p_bin31(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, s_zeros, 31); }
static void p_two(msgpack_packer *pk) { msgpack_pack_uint8(pk, 2); }
static void p_256(msgpack_packer *pk) { msgpack_pack_uint16(pk, 256); }
static void p_name65(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, s_zeros, 65); }
static void p_neg(msgpack_packer *pk) { msgpack_pack_int8(pk, -1); }
static void p_att_big(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, s_zeros, AT_ENCODED_MAX + 1); }

static void p_v1(msgpack_packer *pk) { msgpack_pack_uint8(pk, 1); }
static void p_v3(msgpack_packer *pk) { msgpack_pack_uint8(pk, 3); }
static void p_v4(msgpack_packer *pk) { msgpack_pack_uint8(pk, 4); }
static void p_key0(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, s_zeros, 0); }
static void p_key33(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, s_zeros, 33); }

/*  Format 1 (15 fields, written before CURVE) and format 2 (17, before the
 *  epoch) stay readable; format 3 has 18. */
static const entry_case_t s_entry_cases[] = {
    { "valid (format 1)", -1, 15, NULL, AT_OK },
    { "valid (format 2)", -1, 17, NULL, AT_OK },
    { "format 2, keys empty", 15, 17, p_key0, AT_OK },
    { "format 2, producer_key 31 bytes", 15, 17, p_bin31, AT_ERR_RANGE },
    { "format 2, worker_key 33 bytes", 16, 17, p_key33, AT_ERR_OVERSIZE },
    { "format 2, worker_key a str", 16, 17, p_str, AT_ERR_TYPE },
    { "format 1 with 17 fields", 0, 17, p_v1, AT_ERR_VERSION },
    { "valid (format 3)", -1, 18, NULL, AT_OK },
    { "format 3, epoch a str", 17, 18, p_str, AT_ERR_TYPE },
    { "format 3, epoch negative", 17, 18, p_neg, AT_ERR_TYPE },
    { "format 3 with 17 fields", 0, 17, p_v3, AT_ERR_VERSION },
    { "format 2 with 18 fields", 0, 18, p_v2, AT_ERR_VERSION },
    { "format 4", 0, 18, p_v4, AT_ERR_VERSION },
    { "14 fields", -1, 14, NULL, AT_ERR_SHAPE },
    { "16 fields", -1, 16, NULL, AT_ERR_SHAPE },
    { "19 fields", -1, 19, NULL, AT_ERR_SHAPE },
    { "format 2 with 15 fields", 0, 15, p_v2, AT_ERR_VERSION },
    { "index as str", 1, 15, p_str, AT_ERR_TYPE },
    { "prev_hash 31 bytes", 3, 15, p_bin31, AT_ERR_RANGE },
    { "prev_hash as str", 3, 15, p_str, AT_ERR_TYPE },
    { "id 31 bytes", 4, 15, p_bin31, AT_ERR_RANGE },
    { "verdict 2", 5, 15, p_two, AT_ERR_RANGE },
    { "reason 256", 6, 15, p_256, AT_ERR_RANGE },
    { "producer 65 bytes", 7, 15, p_name65, AT_ERR_OVERSIZE },
    { "worker as bin", 9, 15, p_bin31, AT_ERR_TYPE },
    { "t_committed negative", 13, 15, p_neg, AT_ERR_TYPE },
    { "attestation as str", 14, 15, p_str, AT_ERR_TYPE },
    { "attestation too long", 14, 15, p_att_big, AT_ERR_OVERSIZE },
};

static void s_pack_entry_field(msgpack_packer *pk, int i, int count)
{
    static const uint8_t h[32] = { 9 };
    switch (i) {
    case 0: msgpack_pack_uint8(pk, count == 18 ? 3 : count == 17 ? 2 : 1); break;   /* 17 fields: format 2, 18: 3 */
    case 15: case 16: msgpack_pack_bin_with_body(pk, h, 32); break;
    case 3: case 4: msgpack_pack_bin_with_body(pk, h, 32); break;
    case 5: case 6: msgpack_pack_uint8(pk, 1); break;
    case 7: case 9: msgpack_pack_str_with_body(pk, "name", 4); break;
    case 14: msgpack_pack_bin_with_body(pk, s_zeros, 50); break;
    default: msgpack_pack_uint64(pk, 1000 + (uint64_t) i); break;
    }
}

static void test_entry_decode(void)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    entry_t e;
    for (size_t c = 0; c < sizeof s_entry_cases / sizeof s_entry_cases[0]; c++) {
        const entry_case_t *ec = &s_entry_cases[c];
        msgpack_sbuffer_clear(&sb);
        msgpack_pack_array(&pk, (size_t) ec->count);
        for (int i = 0; i < ec->count; i++) {
            if (i == ec->field)
                ec->pack(&pk);
            else
                s_pack_entry_field(&pk, i, ec->count);
        }
        at_err rc = entry_decode(&e, (const uint8_t *) sb.data, sb.size);
        CHECK_ERR(rc, ec->want);
        if (rc != ec->want)
            fprintf(stderr, "  case: %s\n", ec->what);
    }
    /* Byte-level garbage around the valid value. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 15);
    for (int i = 0; i < 15; i++)
        s_pack_entry_field(&pk, i, 15);
    static uint8_t buf[512];
    size_t len = sb.size;
    memcpy(buf, sb.data, len);
    CHECK_ERR(entry_decode(&e, buf, len), AT_OK);
    CHECK(e.index == 1001 && e.seq == 1002 && e.verdict == 1 && e.att_len == 50);
    buf[len] = 0xc0;
    CHECK_ERR(entry_decode(&e, buf, len + 1), AT_ERR_TRAILING);
    unsigned bad = 0;
    for (size_t n = 0; n < len; n++)
        bad += entry_decode(&e, buf, n) != AT_ERR_MSGPACK;
    CHECK(bad == 0);
    CHECK_ERR(entry_decode(&e, (const uint8_t *) "\xc1", 1), AT_ERR_MSGPACK);
    CHECK_ERR(entry_decode(&e, (const uint8_t *) "\x05", 1), AT_ERR_SHAPE);
    CHECK_ERR(entry_decode(&e, (const uint8_t *) "\x80", 1), AT_ERR_SHAPE);
    CHECK_ERR(entry_decode(&e, (const uint8_t *) "\xdd\xff\xff\xff\xff", 5), AT_ERR_MSGPACK);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    CHECK_ERR(at_crypto_init(), AT_OK);
    for (size_t i = 0; i < sizeof s_att; i++)
        s_att[i] = (uint8_t) (i * 7);
    memset(s_name, 'n', sizeof s_name);
    test_round_trip();
    test_encode_refuses();
    test_hash();
    test_entry_decode();
    return check_done("test_entry");
}
