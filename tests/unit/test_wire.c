/*  test_wire.c: every protocol message (proto/wire.[ch]).
 *
 *  Each message type is built with wire_begin and the packers, parsed with
 *  wire_parse and its fields read back with the accessors and item decoders.
 *  Then the rejections: version, type, field count, trailing bytes,
 *  truncation, frame size, batch size, and items of the wrong shape or type.
 *  Last, a deterministic mutation fuzz loop (fixed seed) feeds corrupted
 *  messages, attestations and log entries to every decoder and asserts only
 *  that each returns a valid at_err; the ASan/UBSan build catches memory and
 *  undefined-behaviour errors. FUZZ_ITERATIONS in the environment overrides
 *  the number of iterations.
 */
#include "attestation.h"
#include "check.h"
#include "logdb.h"
#include "wire.h"
#include <sodium.h>
#include <stdlib.h>

static uint8_t s_att[AT_ENCODED_MAX];   /* a valid signed attestation */
static size_t s_att_len;
static const uint8_t s_id[AT_ID_BYTES] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

static void s_make_attestation(void)
{
    uint8_t seed[32], pk[32], sk[64], nonce[16], sig[64];
    memset(seed, 0x42, sizeof seed);      /* fixed: the fuzz seeds must not vary */
    memset(nonce, 0x24, sizeof nonce);
    crypto_sign_seed_keypair(pk, sk, seed);
    attestation_t a = {
        .version = 1, .schema = "attest/demo/v1", .schema_len = 14, .attester = pk,
        .subject = "pkg:deb/zlib@1.2.13", .subject_len = 19, .data = (const uint8_t *) "xyz",
        .data_len = 3, .issued_at = 1700000000, .has_expires = true, .expires_at = 1700003600,
        .nonce = nonce, .signature = sig,
    };
    attestation_sign(&a, sk, sig);
    CHECK_ERR(attestation_encode(&a, s_att, sizeof s_att, &s_att_len), AT_OK);
}

/*  Parses w's message; checks the type and field count. */
static at_err s_parse(wire_msg_t *m, const wire_packer_t *w, wire_type type, size_t nf)
{
    at_err rc = wire_parse(m, w->sb.data, w->sb.size);
    CHECK_ERR(rc, AT_OK);
    if (rc)
        return rc;
    CHECK(m->type == type && m->nf == nf);
    return AT_OK;
}

static uint64_t s_u64(const msgpack_object *o)
{
    uint64_t v = 0;
    CHECK_ERR(wire_u64(o, &v), AT_OK);
    return v;
}

static bool s_str_is(const msgpack_object *o, const char *want, size_t max)
{
    const char *p;
    size_t n;
    at_err rc = wire_str(o, &p, &n, max);
    CHECK_ERR(rc, AT_OK);
    return rc == AT_OK && n == strlen(want) && memcmp(p, want, n) == 0;
}

/*  The batch in field o: checks its length and returns the items. */
static const msgpack_object *s_items(const msgpack_object *o, size_t want, size_t max)
{
    const msgpack_object *items = NULL;
    size_t n = 0;
    CHECK_ERR(wire_array(o, &items, &n, max, false), AT_OK);
    CHECK(n == want);
    return n == want ? items : NULL;
}

/* ---- every message type --------------------------------------------------- */

static void test_empty_messages(wire_packer_t *w)
{
    static const wire_type empty[] = { WIRE_PING, WIRE_PONG, WIRE_BYE, WIRE_HEARTBEAT, WIRE_LEAVE, WIRE_LEAVE_OK };
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        wire_msg_t m;
        wire_begin(w, empty[i], 0);
        if (s_parse(&m, w, empty[i], 0) == AT_OK)
            wire_msg_done(&m);
        CHECK(w->sb.size == 3);
    }
}

static void test_frontend(wire_packer_t *w)
{
    wire_msg_t m;
    wire_begin(w, WIRE_HELLO, 1);
    wire_pack_str(w, "producer-1", 10);
    if (s_parse(&m, w, WIRE_HELLO, 1) == AT_OK) {
        CHECK(s_str_is(&m.f[0], "producer-1", WIRE_NAME_MAX));
        wire_msg_done(&m);
    }
    wire_begin(w, WIRE_WELCOME, 2);
    msgpack_pack_uint64(&w->pk, 4096);
    msgpack_pack_uint64(&w->pk, WIRE_BATCH_MAX);
    if (s_parse(&m, w, WIRE_WELCOME, 2) == AT_OK) {
        CHECK(s_u64(&m.f[0]) == 4096 && s_u64(&m.f[1]) == WIRE_BATCH_MAX);
        wire_msg_done(&m);
    }
    wire_begin(w, WIRE_CREDIT, 1);
    msgpack_pack_uint64(&w->pk, UINT64_MAX);
    if (s_parse(&m, w, WIRE_CREDIT, 1) == AT_OK) {
        CHECK(s_u64(&m.f[0]) == UINT64_MAX);
        wire_msg_done(&m);
    }
    wire_begin(w, WIRE_ERROR, 2);
    msgpack_pack_uint8(&w->pk, AT_ERR_FRAMES);
    wire_pack_str(w, "two frames expected", 19);
    if (s_parse(&m, w, WIRE_ERROR, 2) == AT_OK) {
        CHECK(s_u64(&m.f[0]) == AT_ERR_FRAMES);
        CHECK(s_str_is(&m.f[1], "two frames expected", 256));
        wire_msg_done(&m);
    }
}

static void test_submit(wire_packer_t *w)
{
    wire_msg_t m;
    wire_begin(w, WIRE_SUBMIT, 1);
    msgpack_pack_array(&w->pk, 3);
    for (uint64_t i = 0; i < 3; i++) {
        wire_submit_t s = { .cseq = 100 + i, .att = s_att, .att_len = s_att_len };
        wire_pack_submit(w, &s);
    }
    if (s_parse(&m, w, WIRE_SUBMIT, 1) != AT_OK)
        return;
    const msgpack_object *items = s_items(&m.f[0], 3, WIRE_BATCH_MAX);
    for (size_t i = 0; items && i < 3; i++) {
        wire_submit_t s;
        CHECK_ERR(wire_submit_decode(&items[i], &s), AT_OK);
        CHECK(s.cseq == 100 + i && s.att_len == s_att_len && memcmp(s.att, s_att, s_att_len) == 0);
        attestation_t a;
        CHECK_ERR(attestation_decode(&a, s.att, s.att_len), AT_OK);
        CHECK_ERR(attestation_verify(&a), AT_OK);
    }
    wire_msg_done(&m);
}

static void test_results(wire_packer_t *w)
{
    wire_msg_t m;
    wire_result_t in[3] = {
        { .key = 7, .index = 0, .verdict = WIRE_VALID, .reason = 0, .duplicate = false },
        { .key = 8, .index = 1, .verdict = WIRE_INVALID, .reason = AT_ERR_SIGNATURE, .duplicate = false },
        { .key = 9, .index = 0, .verdict = WIRE_VALID, .reason = 0, .duplicate = true },
    };
    static const wire_type types[] = { WIRE_ACK, WIRE_COMMITTED };
    for (size_t t = 0; t < 2; t++) {
        bool committed = types[t] == WIRE_COMMITTED;
        wire_begin(w, types[t], committed ? 3 : 1);
        if (committed) {
            msgpack_pack_uint64(&w->pk, 5);        /* epoch */
            msgpack_pack_uint64(&w->pk, 10);       /* next_seq */
        }
        msgpack_pack_array(&w->pk, 3);
        for (size_t i = 0; i < 3; i++)
            wire_pack_result(w, &in[i]);
        if (s_parse(&m, w, types[t], committed ? 3 : 1) != AT_OK)
            continue;
        if (committed)
            CHECK(s_u64(&m.f[0]) == 5 && s_u64(&m.f[1]) == 10);
        const msgpack_object *items = s_items(&m.f[committed ? 2 : 0], 3, WIRE_RESULTS_MAX);
        for (size_t i = 0; items && i < 3; i++) {
            wire_result_t r;
            CHECK_ERR(wire_result_decode(&items[i], &r), AT_OK);
            CHECK(r.key == in[i].key && r.index == in[i].index && r.verdict == in[i].verdict
                  && r.reason == in[i].reason && r.duplicate == in[i].duplicate);
        }
        wire_msg_done(&m);
    }
    wire_begin(w, WIRE_REFUSE, 1);
    msgpack_pack_array(&w->pk, 2);
    wire_refusal_t rf[2] = { { .cseq = 1, .reason = AT_ERR_BUSY }, { .cseq = 2, .reason = AT_ERR_OVERSIZE } };
    wire_pack_refusal(w, &rf[0]);
    wire_pack_refusal(w, &rf[1]);
    if (s_parse(&m, w, WIRE_REFUSE, 1) == AT_OK) {
        const msgpack_object *items = s_items(&m.f[0], 2, WIRE_RESULTS_MAX);
        for (size_t i = 0; items && i < 2; i++) {
            wire_refusal_t r;
            CHECK_ERR(wire_refusal_decode(&items[i], &r), AT_OK);
            CHECK(r.cseq == rf[i].cseq && r.reason == rf[i].reason);
        }
        wire_msg_done(&m);
    }
}

static wire_task_t s_task(uint64_t i)
{
    return (wire_task_t) { .seq = 1000 + i, .producer = "producer-1", .producer_len = 10, .cseq = 50 + i,
                           .t_received = 1700000000000000ull + i, .t_dispatched = 1700000000000100ull + i,
                           .att = s_att, .att_len = s_att_len };
}

static bool s_task_is(const wire_task_t *t, uint64_t i)
{
    wire_task_t want = s_task(i);
    return t->seq == want.seq && t->producer_len == 10 && memcmp(t->producer, "producer-1", 10) == 0
        && t->cseq == want.cseq && t->t_received == want.t_received && t->t_dispatched == want.t_dispatched
        && t->att_len == s_att_len && memcmp(t->att, s_att, s_att_len) == 0;
}

static void test_backend(wire_packer_t *w)
{
    wire_msg_t m;
    wire_begin(w, WIRE_READY, 2);
    wire_pack_str(w, "worker-7", 8);
    msgpack_pack_uint64(&w->pk, 32);
    if (s_parse(&m, w, WIRE_READY, 2) == AT_OK) {
        CHECK(s_str_is(&m.f[0], "worker-7", WIRE_NAME_MAX) && s_u64(&m.f[1]) == 32);
        wire_msg_done(&m);
    }
    wire_begin(w, WIRE_TASKS, 2);
    msgpack_pack_uint64(&w->pk, 3);
    msgpack_pack_array(&w->pk, 2);
    for (uint64_t i = 0; i < 2; i++) {
        wire_task_t t = s_task(i);
        wire_pack_task(w, &t);
    }
    if (s_parse(&m, w, WIRE_TASKS, 2) == AT_OK) {
        CHECK(s_u64(&m.f[0]) == 3);
        const msgpack_object *items = s_items(&m.f[1], 2, WIRE_BATCH_MAX);
        for (size_t i = 0; items && i < 2; i++) {
            wire_task_t t;
            CHECK_ERR(wire_task_decode(&items[i], &t), AT_OK);
            CHECK(s_task_is(&t, i));
        }
        wire_msg_done(&m);
    }
    wire_begin(w, WIRE_DONE, 2);
    msgpack_pack_array(&w->pk, 3);
    for (uint64_t i = 0; i < 3; i++)
        msgpack_pack_uint64(&w->pk, 1000 + i);
    msgpack_pack_uint64(&w->pk, 3);
    if (s_parse(&m, w, WIRE_DONE, 2) == AT_OK) {
        const msgpack_object *items = s_items(&m.f[0], 3, WIRE_BATCH_MAX);
        for (size_t i = 0; items && i < 3; i++)
            CHECK(s_u64(&items[i]) == 1000 + i);
        CHECK(s_u64(&m.f[1]) == 3);
        wire_msg_done(&m);
    }
}

static void test_sink(wire_packer_t *w)
{
    wire_msg_t m;
    wire_begin(w, WIRE_SINK_HELLO, 4);
    wire_pack_str(w, "sink-a", 6);
    msgpack_pack_uint64(&w->pk, 12);
    msgpack_pack_uint64(&w->pk, 9);
    msgpack_pack_uint64(&w->pk, 77);
    if (s_parse(&m, w, WIRE_SINK_HELLO, 4) == AT_OK) {
        CHECK(s_str_is(&m.f[0], "sink-a", WIRE_NAME_MAX) && s_u64(&m.f[1]) == 12 && s_u64(&m.f[2]) == 9
              && s_u64(&m.f[3]) == 77);
        wire_msg_done(&m);
    }
    wire_begin(w, WIRE_SINK_WELCOME, 2);
    msgpack_pack_uint64(&w->pk, 4);
    msgpack_pack_uint64(&w->pk, 12);
    if (s_parse(&m, w, WIRE_SINK_WELCOME, 2) == AT_OK) {
        CHECK(s_u64(&m.f[0]) == 4 && s_u64(&m.f[1]) == 12);
        wire_msg_done(&m);
    }
    wire_begin(w, WIRE_VERDICTS, 3);
    msgpack_pack_uint64(&w->pk, 4);
    wire_pack_str(w, "worker-7", 8);
    msgpack_pack_array(&w->pk, 2);
    for (uint64_t i = 0; i < 2; i++) {
        wire_verdict_t v = { .task = s_task(i), .t_verified = 1700000000000200ull + i,
                             .verdict = (uint8_t) i, .reason = i ? AT_ERR_EXPIRED : AT_OK, .id = s_id };
        wire_pack_verdict(w, &v);
    }
    if (s_parse(&m, w, WIRE_VERDICTS, 3) == AT_OK) {
        CHECK(s_u64(&m.f[0]) == 4 && s_str_is(&m.f[1], "worker-7", WIRE_NAME_MAX));
        const msgpack_object *items = s_items(&m.f[2], 2, WIRE_BATCH_MAX);
        for (size_t i = 0; items && i < 2; i++) {
            wire_verdict_t v;
            CHECK_ERR(wire_verdict_decode(&items[i], &v), AT_OK);
            CHECK(s_task_is(&v.task, i) && v.t_verified == 1700000000000200ull + i);
            CHECK(v.verdict == i && v.reason == (i ? AT_ERR_EXPIRED : AT_OK) && memcmp(v.id, s_id, 32) == 0);
        }
        wire_msg_done(&m);
    }
}

static void test_type_names(void)
{
    CHECK(strcmp(wire_type_name(WIRE_HELLO), "HELLO") == 0);
    CHECK(strcmp(wire_type_name(WIRE_VERDICTS), "VERDICTS") == 0);
    CHECK(strcmp(wire_type_name(0), "unknown") == 0);
    CHECK(strcmp(wire_type_name(WIRE_REVOKE), "REVOKE") == 0);
    CHECK(strcmp(wire_type_name(WIRE_RELEASE), "RELEASE") == 0);
    CHECK(strcmp(wire_type_name(13), "unknown") == 0);
    CHECK(strcmp(wire_type_name(-1), "unknown") == 0);
    CHECK(strcmp(wire_type_name(WIRE_TYPE_MAX_), "unknown") == 0);
}

/* ---- rejections of whole messages ------------------------------------------ */

static at_err s_parse_raw(const void *buf, size_t len)
{
    wire_msg_t m;
    at_err rc = wire_parse(&m, buf, len);
    if (rc == AT_OK)
        wire_msg_done(&m);
    return rc;
}

#define RAW(s) s_parse_raw(s, sizeof(s) - 1)

static void test_message_rejections(wire_packer_t *w)
{
    CHECK_ERR(RAW("\x93\x01\x01\xa1p"), AT_OK);                       /* [1, HELLO, "p"] */
    CHECK_ERR(RAW("\x93\x02\x01\xa1p"), AT_ERR_VERSION);              /* version 2 */
    CHECK_ERR(RAW("\x93\x00\x01\xa1p"), AT_ERR_VERSION);
    CHECK_ERR(RAW("\x92\x02\x07"), AT_ERR_VERSION);
    CHECK_ERR(RAW("\x93\xa1\x31\x01\xa1p"), AT_ERR_TYPE);             /* version "1" */
    CHECK_ERR(RAW("\x92\x01\xa4PING"), AT_ERR_TYPE);                  /* type as str */
    CHECK_ERR(RAW("\x92\x01\xff"), AT_ERR_TYPE);                      /* type -1 */
    CHECK_ERR(RAW("\x92\x01\x00"), AT_ERR_UNKNOWN_TYPE);
    CHECK_ERR(RAW("\x92\x01\x0d"), AT_ERR_UNKNOWN_TYPE);              /* 13: a gap */
    CHECK_ERR(RAW("\x93\x01\x0b\x05"), AT_OK);                        /* REVOKE 5 */
    CHECK_ERR(RAW("\x92\x01\x0c"), AT_ERR_SHAPE);                     /* RELEASE without its field */
    CHECK_ERR(RAW("\x92\x01\x29"), AT_ERR_UNKNOWN_TYPE);              /* 41 = WIRE_TYPE_MAX_ */
    CHECK_ERR(RAW("\x92\x01\xcc\xc8"), AT_ERR_UNKNOWN_TYPE);          /* 200 */
    CHECK_ERR(RAW("\x92\x01\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), AT_ERR_UNKNOWN_TYPE);
    CHECK_ERR(RAW("\x92\x01\x07"), AT_OK);                            /* PING */
    CHECK_ERR(RAW("\x93\x01\x07\xc0"), AT_ERR_SHAPE);                 /* PING with a field */
    CHECK_ERR(RAW("\x92\x01\x01"), AT_ERR_SHAPE);                     /* HELLO without producer */
    CHECK_ERR(RAW("\x94\x01\x01\xa1p\xa1q"), AT_ERR_SHAPE);           /* HELLO with two */
    CHECK_ERR(RAW("\x91\x01"), AT_ERR_SHAPE);
    CHECK_ERR(RAW("\x90"), AT_ERR_SHAPE);
    CHECK_ERR(RAW("\x01"), AT_ERR_SHAPE);
    CHECK_ERR(RAW("\x82\x01\x01\x02\x07"), AT_ERR_SHAPE);             /* a map */
    CHECK_ERR(RAW("\x92\x01\x07\x00"), AT_ERR_TRAILING);
    CHECK_ERR(RAW("\x92\x01\x07\x92\x01\x07"), AT_ERR_TRAILING);     /* two messages */
    CHECK_ERR(RAW("\x93\x01\x01\xa3pq"), AT_ERR_MSGPACK);             /* cut inside a str */
    CHECK_ERR(RAW("\x92\x01"), AT_ERR_MSGPACK);
    CHECK_ERR(RAW("\xc1"), AT_ERR_MSGPACK);
    CHECK_ERR(RAW("\x92\x01\xc1"), AT_ERR_MSGPACK);
    CHECK_ERR(s_parse_raw("", 0), AT_ERR_MSGPACK);

    /* Truncating a real message at every length. */
    wire_begin(w, WIRE_SUBMIT, 1);
    msgpack_pack_array(&w->pk, 1);
    wire_submit_t s = { .cseq = 1, .att = s_att, .att_len = s_att_len };
    wire_pack_submit(w, &s);
    CHECK_ERR(s_parse_raw(w->sb.data, w->sb.size), AT_OK);
    unsigned bad = 0;
    for (size_t n = 0; n < w->sb.size; n++)
        bad += s_parse_raw(w->sb.data, n) != AT_ERR_MSGPACK;
    CHECK(bad == 0);

    /* Larger than a frame may be: refused before parsing. */
    size_t big = (size_t) WIRE_FRAME_MAX + 1;
    uint8_t *buf = malloc(big);
    CHECK(buf != NULL);
    if (buf) {
        memset(buf, 0xc0, big);
        CHECK_ERR(s_parse_raw(buf, big), AT_ERR_OVERSIZE);
        free(buf);
    }
}

/* ---- rejections of batches and items ---------------------------------------- */

static void s_submit_batch(wire_packer_t *w, size_t n)
{
    wire_begin(w, WIRE_SUBMIT, 1);
    msgpack_pack_array(&w->pk, n);
    for (size_t i = 0; i < n; i++) {
        wire_submit_t s = { .cseq = i, .att = s_att, .att_len = s_att_len };
        wire_pack_submit(w, &s);
    }
}

static void test_batch_bounds(wire_packer_t *w)
{
    const size_t sizes[] = { 0, 1, WIRE_BATCH_MAX, WIRE_BATCH_MAX + 1 };
    const at_err want[] = { AT_ERR_SHAPE, AT_OK, AT_OK, AT_ERR_OVERSIZE };
    for (size_t k = 0; k < 4; k++) {
        wire_msg_t m;
        s_submit_batch(w, sizes[k]);
        CHECK(w->sb.size <= WIRE_FRAME_MAX);
        if (s_parse(&m, w, WIRE_SUBMIT, 1) != AT_OK)
            continue;
        const msgpack_object *items;
        size_t n = 0;
        CHECK_ERR(wire_array(&m.f[0], &items, &n, WIRE_BATCH_MAX, false), want[k]);
        if (sizes[k] == 0)
            CHECK_ERR(wire_array(&m.f[0], &items, &n, WIRE_BATCH_MAX, true), AT_OK);
        if (want[k] == AT_OK)
            CHECK(n == sizes[k]);
        wire_msg_done(&m);
    }
    msgpack_object notarray = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 3 };
    const msgpack_object *items;
    size_t n;
    CHECK_ERR(wire_array(&notarray, &items, &n, WIRE_BATCH_MAX, true), AT_ERR_TYPE);
}

/*  Decodes the first item of a one-field message built by `build`. */
typedef at_err (*item_decoder_t)(const msgpack_object *o, void *out);
static at_err d_submit(const msgpack_object *o, void *out) { return wire_submit_decode(o, out); }
static at_err d_task(const msgpack_object *o, void *out) { return wire_task_decode(o, out); }
static at_err d_verdict(const msgpack_object *o, void *out) { return wire_verdict_decode(o, out); }
static at_err d_result(const msgpack_object *o, void *out) { return wire_result_decode(o, out); }
static at_err d_refusal(const msgpack_object *o, void *out) { return wire_refusal_decode(o, out); }

static const uint8_t s_big[AT_ENCODED_MAX + 1];
static const char s_long_name[] = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";  /* 65 */

static void s_task_fields(msgpack_packer *pk, const char *producer, size_t plen)
{
    msgpack_pack_uint64(pk, 1);
    msgpack_pack_str_with_body(pk, producer, plen);
    msgpack_pack_uint64(pk, 2);
    msgpack_pack_uint64(pk, 3);
    msgpack_pack_uint64(pk, 4);
}

/*  Item builders: each packs one item (possibly malformed). */
static void i_submit_ok(msgpack_packer *pk) { msgpack_pack_array(pk, 2); msgpack_pack_uint8(pk, 1); msgpack_pack_bin_with_body(pk, s_big, 10); }
static void i_submit_3(msgpack_packer *pk) { msgpack_pack_array(pk, 3); msgpack_pack_uint8(pk, 1); msgpack_pack_bin_with_body(pk, s_big, 10); msgpack_pack_nil(pk); }
static void i_submit_1(msgpack_packer *pk) { msgpack_pack_array(pk, 1); msgpack_pack_uint8(pk, 1); }
static void i_not_array(msgpack_packer *pk) { msgpack_pack_uint8(pk, 1); }
static void i_map(msgpack_packer *pk) { msgpack_pack_map(pk, 1); msgpack_pack_uint8(pk, 1); msgpack_pack_uint8(pk, 2); }
static void i_submit_cseq_str(msgpack_packer *pk) { msgpack_pack_array(pk, 2); msgpack_pack_str_with_body(pk, "1", 1); msgpack_pack_bin_with_body(pk, s_big, 10); }
static void i_submit_cseq_neg(msgpack_packer *pk) { msgpack_pack_array(pk, 2); msgpack_pack_int8(pk, -1); msgpack_pack_bin_with_body(pk, s_big, 10); }
static void i_submit_att_str(msgpack_packer *pk) { msgpack_pack_array(pk, 2); msgpack_pack_uint8(pk, 1); msgpack_pack_str_with_body(pk, "abc", 3); }
static void i_submit_att_big(msgpack_packer *pk) { msgpack_pack_array(pk, 2); msgpack_pack_uint8(pk, 1); msgpack_pack_bin_with_body(pk, s_big, AT_ENCODED_MAX + 1); }
static void i_task_ok(msgpack_packer *pk) { msgpack_pack_array(pk, 6); s_task_fields(pk, "p", 1); msgpack_pack_bin_with_body(pk, s_big, 10); }
static void i_task_5(msgpack_packer *pk) { msgpack_pack_array(pk, 5); s_task_fields(pk, "p", 1); }
static void i_task_long_producer(msgpack_packer *pk) { msgpack_pack_array(pk, 6); s_task_fields(pk, s_long_name, 65); msgpack_pack_bin_with_body(pk, s_big, 10); }
static void i_task_producer_bin(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 6);
    msgpack_pack_uint64(pk, 1);
    msgpack_pack_bin_with_body(pk, "p", 1);
    msgpack_pack_uint64(pk, 2);
    msgpack_pack_uint64(pk, 3);
    msgpack_pack_uint64(pk, 4);
    msgpack_pack_bin_with_body(pk, s_big, 10);
}
static void s_verdict(msgpack_packer *pk, uint64_t verdict, uint64_t reason, size_t idlen, bool id_as_str)
{
    msgpack_pack_array(pk, 10);
    s_task_fields(pk, "p", 1);
    msgpack_pack_uint64(pk, 5);
    msgpack_pack_uint64(pk, verdict);
    msgpack_pack_uint64(pk, reason);
    if (id_as_str)
        msgpack_pack_str_with_body(pk, s_big, idlen);
    else
        msgpack_pack_bin_with_body(pk, s_big, idlen);
    msgpack_pack_bin_with_body(pk, s_big, 10);
}
static void i_verdict_ok(msgpack_packer *pk) { s_verdict(pk, 1, AT_ERR_SIGNATURE, 32, false); }
static void i_verdict_2(msgpack_packer *pk) { s_verdict(pk, 2, 0, 32, false); }
static void i_verdict_256(msgpack_packer *pk) { s_verdict(pk, 256, 0, 32, false); }
static void i_verdict_reason_300(msgpack_packer *pk) { s_verdict(pk, 1, 300, 32, false); }
static void i_verdict_id31(msgpack_packer *pk) { s_verdict(pk, 0, 0, 31, false); }
static void i_verdict_id33(msgpack_packer *pk) { s_verdict(pk, 0, 0, 33, false); }
static void i_verdict_id_str(msgpack_packer *pk) { s_verdict(pk, 0, 0, 32, true); }
static void s_result(msgpack_packer *pk, uint64_t verdict, uint64_t reason, int dup)
{
    msgpack_pack_array(pk, 5);
    msgpack_pack_uint64(pk, 1);
    msgpack_pack_uint64(pk, 2);
    msgpack_pack_uint64(pk, verdict);
    msgpack_pack_uint64(pk, reason);
    if (dup < 0)
        msgpack_pack_uint8(pk, 1);
    else if (dup)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}
static void i_result_ok(msgpack_packer *pk) { s_result(pk, 0, 0, 1); }
static void i_result_dup_int(msgpack_packer *pk) { s_result(pk, 0, 0, -1); }
static void i_result_reason_256(msgpack_packer *pk) { s_result(pk, 1, 256, 0); }
static void i_result_6(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 6);
    for (int i = 0; i < 4; i++)
        msgpack_pack_uint8(pk, 0);
    msgpack_pack_false(pk);
    msgpack_pack_nil(pk);
}
static void i_refusal_ok(msgpack_packer *pk) { msgpack_pack_array(pk, 2); msgpack_pack_uint8(pk, 1); msgpack_pack_uint8(pk, AT_ERR_BUSY); }
static void i_refusal_reason_str(msgpack_packer *pk) { msgpack_pack_array(pk, 2); msgpack_pack_uint8(pk, 1); msgpack_pack_str_with_body(pk, "busy", 4); }
static void i_refusal_reason_300(msgpack_packer *pk) { msgpack_pack_array(pk, 2); msgpack_pack_uint8(pk, 1); msgpack_pack_uint16(pk, 300); }

typedef struct {
    const char *what;
    void (*build)(msgpack_packer *pk);
    item_decoder_t decode;
    at_err want;
} item_case_t;

static const item_case_t s_item_cases[] = {
    { "submit ok", i_submit_ok, d_submit, AT_OK },
    { "submit 3 fields", i_submit_3, d_submit, AT_ERR_SHAPE },
    { "submit 1 field", i_submit_1, d_submit, AT_ERR_SHAPE },
    { "submit not an array", i_not_array, d_submit, AT_ERR_TYPE },
    { "submit a map", i_map, d_submit, AT_ERR_TYPE },
    { "submit cseq str", i_submit_cseq_str, d_submit, AT_ERR_TYPE },
    { "submit cseq negative", i_submit_cseq_neg, d_submit, AT_ERR_TYPE },
    { "submit attestation str", i_submit_att_str, d_submit, AT_ERR_TYPE },
    { "submit attestation too long", i_submit_att_big, d_submit, AT_ERR_OVERSIZE },
    { "task ok", i_task_ok, d_task, AT_OK },
    { "task 5 fields", i_task_5, d_task, AT_ERR_SHAPE },
    { "task as submit", i_submit_ok, d_task, AT_ERR_SHAPE },
    { "task not an array", i_not_array, d_task, AT_ERR_TYPE },
    { "task producer 65 bytes", i_task_long_producer, d_task, AT_ERR_OVERSIZE },
    { "task producer bin", i_task_producer_bin, d_task, AT_ERR_TYPE },
    { "verdict ok", i_verdict_ok, d_verdict, AT_OK },
    { "verdict as task", i_task_ok, d_verdict, AT_ERR_SHAPE },
    { "verdict not an array", i_not_array, d_verdict, AT_ERR_TYPE },
    { "verdict 2", i_verdict_2, d_verdict, AT_ERR_RANGE },
    { "verdict 256", i_verdict_256, d_verdict, AT_ERR_RANGE },
    { "verdict reason 300", i_verdict_reason_300, d_verdict, AT_ERR_RANGE },
    { "verdict id 31 bytes", i_verdict_id31, d_verdict, AT_ERR_RANGE },
    { "verdict id 33 bytes", i_verdict_id33, d_verdict, AT_ERR_OVERSIZE },
    { "verdict id str", i_verdict_id_str, d_verdict, AT_ERR_TYPE },
    { "result ok", i_result_ok, d_result, AT_OK },
    { "result duplicate as int", i_result_dup_int, d_result, AT_ERR_TYPE },
    { "result reason 256", i_result_reason_256, d_result, AT_ERR_RANGE },
    { "result 6 fields", i_result_6, d_result, AT_ERR_SHAPE },
    { "result not an array", i_not_array, d_result, AT_ERR_TYPE },
    { "refusal ok", i_refusal_ok, d_refusal, AT_OK },
    { "refusal reason str", i_refusal_reason_str, d_refusal, AT_ERR_TYPE },
    { "refusal reason 300", i_refusal_reason_300, d_refusal, AT_ERR_RANGE },
    { "refusal as result", i_result_ok, d_refusal, AT_ERR_SHAPE },
};

static void test_item_rejections(wire_packer_t *w)
{
    union { wire_submit_t s; wire_task_t t; wire_verdict_t v; wire_result_t r; wire_refusal_t f; } out;
    for (size_t i = 0; i < sizeof s_item_cases / sizeof s_item_cases[0]; i++) {
        const item_case_t *c = &s_item_cases[i];
        wire_msg_t m;
        wire_begin(w, WIRE_ACK, 1);      /* any one-field message: items are decoded alone */
        msgpack_pack_array(&w->pk, 1);
        c->build(&w->pk);
        if (s_parse(&m, w, WIRE_ACK, 1) != AT_OK)
            continue;
        const msgpack_object *items = s_items(&m.f[0], 1, WIRE_RESULTS_MAX);
        if (items) {
            at_err rc = c->decode(&items[0], &out);
            CHECK_ERR(rc, c->want);
            if (rc != c->want)
                fprintf(stderr, "  case: %s\n", c->what);
        }
        wire_msg_done(&m);
    }
    /* Field accessors on their own. */
    msgpack_object o = { .type = MSGPACK_OBJECT_NIL };
    uint64_t u;
    bool b;
    const char *p;
    const uint8_t *bp;
    size_t n;
    CHECK_ERR(wire_u64(&o, &u), AT_ERR_TYPE);
    CHECK_ERR(wire_bool(&o, &b), AT_ERR_TYPE);
    CHECK_ERR(wire_str(&o, &p, &n, 10), AT_ERR_TYPE);
    CHECK_ERR(wire_bin(&o, &bp, &n, 10), AT_ERR_TYPE);
    o.type = MSGPACK_OBJECT_STR;
    o.via.str.ptr = "abcdef";
    o.via.str.size = 6;
    CHECK_ERR(wire_str(&o, &p, &n, 6), AT_OK);
    CHECK_ERR(wire_str(&o, &p, &n, 5), AT_ERR_OVERSIZE);
    CHECK_ERR(wire_bin(&o, &bp, &n, 6), AT_ERR_TYPE);
}

/* ---- the allocation bound (at_msgpack_bounded) ------------------------------ */

/*  An object using every msgpack type, so that each header size is walked. */
static void s_pack_every_type(msgpack_packer *pk)
{
    static const uint8_t blob[70000];
    msgpack_pack_array(pk, 31);
    msgpack_pack_nil(pk);
    msgpack_pack_true(pk);
    msgpack_pack_false(pk);
    msgpack_pack_uint8(pk, 7);
    msgpack_pack_uint8(pk, 200);
    msgpack_pack_uint16(pk, 60000);
    msgpack_pack_uint32(pk, 4000000000u);
    msgpack_pack_uint64(pk, UINT64_MAX);
    msgpack_pack_int8(pk, -5);
    msgpack_pack_int8(pk, -100);
    msgpack_pack_int16(pk, -30000);
    msgpack_pack_int32(pk, -2000000000);
    msgpack_pack_int64(pk, INT64_MIN);
    msgpack_pack_float(pk, 1.5f);
    msgpack_pack_double(pk, 2.5);
    msgpack_pack_str_with_body(pk, blob, 5);
    msgpack_pack_str_with_body(pk, blob, 200);
    msgpack_pack_str_with_body(pk, blob, 300);
    msgpack_pack_str_with_body(pk, blob, sizeof blob);
    msgpack_pack_bin_with_body(pk, blob, 200);
    msgpack_pack_bin_with_body(pk, blob, 300);
    msgpack_pack_bin_with_body(pk, blob, sizeof blob);
    const size_t ext_sizes[] = { 1, 2, 4, 8, 16, 3, 300, 70000 };   /* fixext 1..16, ext8/16/32 */
    for (size_t i = 0; i < 8; i++)
        msgpack_pack_ext_with_body(pk, blob, ext_sizes[i], 1);
    msgpack_pack_map(pk, 2);
    msgpack_pack_uint8(pk, 1);
    msgpack_pack_array(pk, 20);
    for (int i = 0; i < 20; i++)
        msgpack_pack_nil(pk);
    msgpack_pack_str_with_body(pk, "k", 1);
    msgpack_pack_map(pk, 0);
}

static void test_bounded(wire_packer_t *w)
{
    msgpack_sbuffer_clear(&w->sb);
    s_pack_every_type(&w->pk);
    const uint8_t *p = (const uint8_t *) w->sb.data;
    size_t len = w->sb.size;
    CHECK(at_msgpack_bounded(p, len));
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    CHECK(msgpack_unpack_next(&up, (const char *) p, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len);
    msgpack_unpacked_destroy(&up);
    unsigned wrong = 0;
    for (size_t n = 0; n < len; n += n < 400 ? 1 : 97)     /* every prefix is incomplete */
        wrong += at_msgpack_bounded(p, n);
    CHECK(wrong == 0);
    CHECK(at_msgpack_bounded((const uint8_t *) "\x93\xc0\xc0\xc0", 4));
    CHECK(at_msgpack_bounded((const uint8_t *) "\x93\xc0\xc0\xc0\xff", 5));   /* trailing: msgpack's call */
    CHECK(!at_msgpack_bounded((const uint8_t *) "\x94\xc0\xc0\xc0", 4));
    CHECK(!at_msgpack_bounded((const uint8_t *) "\xc1", 1));
    CHECK(!at_msgpack_bounded((const uint8_t *) "", 0));

    /* A few bytes that declare billions of elements: refused before msgpack
       allocates count * sizeof(msgpack_object). */
    static const struct { const char *bytes; size_t len; } huge[] = {
        { "\xdd\xff\xff\xff\xff", 5 },
        { "\xdf\xff\xff\xff\xff", 5 },
        { "\xdc\xff\xff", 3 },
        { "\x93\x01\x03\x91\xdd\x7f\xff\xff\xff", 9 },          /* inside a SUBMIT */
        { "\x99\x01\xa1s\xdf\x10\x00\x00\x00", 8 },              /* inside an attestation */
    };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        const uint8_t *b = (const uint8_t *) huge[i].bytes;
        attestation_t a;
        logdb_entry_t e;
        CHECK(!at_msgpack_bounded(b, huge[i].len));
        CHECK_ERR(s_parse_raw(b, huge[i].len), AT_ERR_MSGPACK);
        CHECK_ERR(attestation_decode(&a, b, huge[i].len), AT_ERR_MSGPACK);
        CHECK_ERR(logdb_entry_decode(&e, b, huge[i].len), AT_ERR_MSGPACK);
    }
}

/* ---- fuzz ------------------------------------------------------------------ */

typedef struct {
    uint8_t *data;
    size_t len;
} seed_t;

#define NSEEDS 24
static seed_t s_seeds[NSEEDS];
static size_t s_nseeds;

static void s_add_seed(const void *data, size_t len)
{
    if (s_nseeds == NSEEDS)
        return;
    s_seeds[s_nseeds].data = malloc(len);
    memcpy(s_seeds[s_nseeds].data, data, len);
    s_seeds[s_nseeds++].len = len;
}

static void s_add_packer_seed(const wire_packer_t *w) { s_add_seed(w->sb.data, w->sb.size); }

/*  Valid messages of every shape, attestations and a log entry. */
static void s_build_seeds(wire_packer_t *w)
{
    s_add_seed(s_att, s_att_len);
    s_submit_batch(w, 3);
    s_add_packer_seed(w);
    wire_begin(w, WIRE_TASKS, 2);
    msgpack_pack_uint64(&w->pk, 1);
    msgpack_pack_array(&w->pk, 2);
    for (uint64_t i = 0; i < 2; i++) {
        wire_task_t t = s_task(i);
        wire_pack_task(w, &t);
    }
    s_add_packer_seed(w);
    wire_begin(w, WIRE_VERDICTS, 3);
    msgpack_pack_uint64(&w->pk, 1);
    wire_pack_str(w, "w", 1);
    msgpack_pack_array(&w->pk, 2);
    for (uint64_t i = 0; i < 2; i++) {
        wire_verdict_t v = { .task = s_task(i), .t_verified = 9, .verdict = 1, .reason = 8, .id = s_id };
        wire_pack_verdict(w, &v);
    }
    s_add_packer_seed(w);
    wire_begin(w, WIRE_COMMITTED, 3);
    msgpack_pack_uint64(&w->pk, 1);
    msgpack_pack_uint64(&w->pk, 2);
    msgpack_pack_array(&w->pk, 2);
    wire_result_t r = { .key = 1, .index = 2, .verdict = 0, .reason = 0, .duplicate = true };
    wire_pack_result(w, &r);
    wire_pack_result(w, &r);
    s_add_packer_seed(w);
    wire_begin(w, WIRE_REFUSE, 1);
    msgpack_pack_array(&w->pk, 1);
    wire_refusal_t rf = { .cseq = 1, .reason = 15 };
    wire_pack_refusal(w, &rf);
    s_add_packer_seed(w);
    wire_begin(w, WIRE_DONE, 2);
    msgpack_pack_array(&w->pk, 2);
    msgpack_pack_uint64(&w->pk, 1);
    msgpack_pack_uint64(&w->pk, 2);
    msgpack_pack_uint64(&w->pk, 2);
    s_add_packer_seed(w);
    wire_begin(w, WIRE_SINK_HELLO, 4);
    wire_pack_str(w, "s", 1);
    msgpack_pack_uint64(&w->pk, 1);
    msgpack_pack_uint64(&w->pk, 1);
    msgpack_pack_uint64(&w->pk, 1);
    s_add_packer_seed(w);
    wire_begin(w, WIRE_ERROR, 2);
    msgpack_pack_uint8(&w->pk, 3);
    wire_pack_str(w, "shape", 5);
    s_add_packer_seed(w);
    wire_begin(w, WIRE_PING, 0);
    s_add_packer_seed(w);
    /* A log entry value, as logdb stores it. */
    wire_begin(w, WIRE_PING, 0);
    msgpack_sbuffer_clear(&w->sb);
    msgpack_pack_array(&w->pk, 15);
    msgpack_pack_uint8(&w->pk, 1);
    msgpack_pack_uint64(&w->pk, 0);
    msgpack_pack_uint64(&w->pk, 0);
    msgpack_pack_bin_with_body(&w->pk, s_big, 32);
    msgpack_pack_bin_with_body(&w->pk, s_id, 32);
    msgpack_pack_uint8(&w->pk, 0);
    msgpack_pack_uint8(&w->pk, 0);
    msgpack_pack_str_with_body(&w->pk, "p", 1);
    msgpack_pack_uint64(&w->pk, 1);
    msgpack_pack_str_with_body(&w->pk, "w", 1);
    for (int i = 0; i < 4; i++)
        msgpack_pack_uint64(&w->pk, 1700000000000000ull);
    msgpack_pack_bin_with_body(&w->pk, s_att, s_att_len);
    s_add_packer_seed(w);
}

static unsigned s_fuzz_bad;   /* decoder results outside the at_err range */

static void s_rc(at_err rc)
{
    if ((int) rc < 0 || (int) rc >= AT_ERR_COUNT_)
        s_fuzz_bad++;
}

/*  Runs every item decoder and accessor on o (and one level into arrays). */
static void s_poke(const msgpack_object *o, int depth)
{
    union { wire_submit_t s; wire_task_t t; wire_verdict_t v; wire_result_t r; wire_refusal_t f; } out;
    uint64_t u;
    bool b;
    const char *p;
    const uint8_t *bp;
    size_t n;
    s_rc(wire_u64(o, &u));
    s_rc(wire_bool(o, &b));
    s_rc(wire_str(o, &p, &n, WIRE_NAME_MAX));
    if (wire_bin(o, &bp, &n, AT_ENCODED_MAX) == AT_OK) {
        attestation_t a;
        s_rc(attestation_decode(&a, bp, n));
    }
    s_rc(wire_submit_decode(o, &out.s));
    s_rc(wire_task_decode(o, &out.t));
    s_rc(wire_verdict_decode(o, &out.v));
    s_rc(wire_result_decode(o, &out.r));
    s_rc(wire_refusal_decode(o, &out.f));
    const msgpack_object *items;
    if (depth < 2 && wire_array(o, &items, &n, WIRE_RESULTS_MAX, true) == AT_OK)
        for (size_t i = 0; i < n; i++)
            s_poke(&items[i], depth + 1);
}

/*  judge: also run the full worker judgement (decode, Ed25519, time). */
static void s_fuzz_one(const uint8_t *buf, size_t len, bool judge)
{
    wire_msg_t m;
    at_err rc = wire_parse(&m, buf, len);
    s_rc(rc);
    if (rc == AT_OK) {
        for (size_t i = 0; i < m.nf; i++)
            s_poke(&m.f[i], 0);
        wire_msg_done(&m);
    }
    attestation_t a;
    s_rc(attestation_decode(&a, buf, len));
    logdb_entry_t e;
    s_rc(logdb_entry_decode(&e, buf, len));
    uint8_t id[AT_ID_BYTES];
    if (judge)
        s_rc(attestation_judge(buf, len, 1700000100, 60, id));
}

/*  Applies one random mutation to buf (len in/out, capacity cap). */
static void s_mutate(uint64_t *rs, uint8_t *buf, size_t *len, size_t cap)
{
    static const uint8_t interesting[] = { 0x00, 0x01, 0x7f, 0x80, 0x90, 0x9f, 0xc0, 0xc1, 0xc2, 0xc3,
                                           0xc4, 0xc5, 0xc6, 0xcc, 0xcf, 0xd9, 0xda, 0xdb, 0xdc, 0xdd,
                                           0xde, 0xdf, 0xe0, 0xff };
    uint64_t r = check_rand(rs);
    size_t at = *len ? (size_t) (r >> 16) % *len : 0;
    switch (r % 7) {
    case 0: if (*len) buf[at] ^= (uint8_t) (1u << ((r >> 8) % 8)); break;           /* bit flip */
    case 1: if (*len) buf[at] = (uint8_t) (r >> 40); break;                        /* random byte */
    case 2: if (*len) buf[at] = interesting[(r >> 40) % sizeof interesting]; break; /* msgpack tag */
    case 3: *len = at; break;                                                       /* truncate */
    case 4: if (*len < cap) {                                                       /* insert */
                memmove(buf + at + 1, buf + at, *len - at);
                buf[at] = (uint8_t) (r >> 40);
                (*len)++;
            }
            break;
    case 5: if (*len) {                                                             /* delete */
                memmove(buf + at, buf + at + 1, *len - at - 1);
                (*len)--;
            }
            break;
    default: if (*len) {                                                            /* big length */
                size_t k = at + 4 < *len ? 4 : *len - at;
                memset(buf + at, 0xff, k);
            }
            break;
    }
}

static void test_fuzz(wire_packer_t *w)
{
    s_build_seeds(w);
    const char *env = getenv("FUZZ_ITERATIONS");
    unsigned long iters = env ? strtoul(env, NULL, 10) : 200000;
    uint64_t rs = 0x5EED0F4775E57ull;    /* fixed: every run is the same run */
    static uint8_t buf[8192];
    unsigned long ok_parses = 0;
    for (unsigned long it = 0; it < iters; it++) {
        size_t which = check_rand(&rs) % s_nseeds;
        const seed_t *sd = &s_seeds[which];
        size_t len = sd->len < sizeof buf ? sd->len : sizeof buf;
        memcpy(buf, sd->data, len);
        int muts = 1 + (int) (check_rand(&rs) % 4);
        for (int k = 0; k < muts; k++)
            s_mutate(&rs, buf, &len, sizeof buf);
        /* Decoders must not read past len: give ASan an exact-size copy. */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        s_fuzz_one(exact, len, which == 0);     /* seed 0 is the attestation */
        wire_msg_t m;
        if (wire_parse(&m, exact, len) == AT_OK) {
            ok_parses++;
            wire_msg_done(&m);
        }
        free(exact);
    }
    /* The pristine seeds still decode, and the mutations reached past the parser. */
    for (size_t i = 0; i < s_nseeds; i++)
        s_fuzz_one(s_seeds[i].data, s_seeds[i].len, true);
    CHECK(s_fuzz_bad == 0);
    CHECK(iters < 1000 || ok_parses > iters / 100);
    printf("test_wire: fuzz: %lu iterations, %lu mutated messages still parsed\n", iters, ok_parses);
    for (size_t i = 0; i < s_nseeds; i++)
        free(s_seeds[i].data);
}

int main(void)
{
    CHECK_ERR(at_crypto_init(), AT_OK);
    s_make_attestation();
    wire_packer_t w;
    wire_packer_init(&w);
    test_empty_messages(&w);
    test_frontend(&w);
    test_submit(&w);
    test_results(&w);
    test_backend(&w);
    test_sink(&w);
    test_type_names();
    test_message_rejections(&w);
    test_batch_bounds(&w);
    test_item_rejections(&w);
    test_bounded(&w);
    test_fuzz(&w);
    wire_packer_destroy(&w);
    return check_done("test_wire");
}
