/*  test_wire.c: every protocol message (proto/wire.h).
 *
 *  Round trips: each message type is sent with its wire_send_* over a real
 *  libzmq socket pair (inproc PAIR, and DEALER -> ROUTER for routing ids),
 *  received with wire_recv and its fields compared; also frames, counters
 *  and send failures. Then the rejections, built byte by byte or with
 *  msgpack here: the header (version, type, field count, trailing bytes,
 *  truncation, frame size), every message's bad fields and batch shapes
 *  with the code each gives (the table in wire.h), and batch items of the
 *  wrong shape or type. Last, a deterministic mutation fuzz loop (fixed
 *  seed) feeds corrupted messages, attestations and log entries to every
 *  decoder and asserts only that each returns a valid at_err; the
 *  ASan/UBSan build catches memory and undefined-behaviour errors.
 *  FUZZ_ITERATIONS in the environment overrides the number of iterations.
 */
#include "attestation.h"
#include "check.h"
#include "logdb.h"
#include "wire.h"
#include <errno.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <zmq.h>

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

/*  A msgpack packer for hand-made (often malformed) messages. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} tpk_t;

static void t_begin(tpk_t *w, int type, size_t nfields)
{
    msgpack_sbuffer_clear(&w->sb);
    msgpack_pack_array(&w->pk, 2 + nfields);
    msgpack_pack_uint8(&w->pk, WIRE_VERSION);
    msgpack_pack_uint8(&w->pk, (uint8_t) type);
}

/* ---- sockets ---------------------------------------------------------------- */

static void *s_ctx, *s_a, *s_b, *s_dealer, *s_router;

static void *s_socket(int type, const char *ep, bool bind)
{
    void *s = zmq_socket(s_ctx, type);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    CHECK((bind ? zmq_bind(s, ep) : zmq_connect(s, ep)) == 0);
    return s;
}

static void s_sockets(void)
{
    s_ctx = zmq_ctx_new();
    s_a = s_socket(ZMQ_PAIR, "inproc://pair", true);
    s_b = s_socket(ZMQ_PAIR, "inproc://pair", false);
    s_router = s_socket(ZMQ_ROUTER, "inproc://router", true);
    int one = 1;
    zmq_setsockopt(s_router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    s_dealer = s_socket(ZMQ_DEALER, "inproc://router", false);
}

static void s_close_sockets(void)
{
    zmq_close(s_a);
    zmq_close(s_b);
    zmq_close(s_router);
    zmq_close(s_dealer);
    zmq_ctx_term(s_ctx);
}

static bool s_wait(void *handle)
{
    zmq_pollitem_t it = { handle, 0, ZMQ_POLLIN, 0 };
    return zmq_poll(&it, 1, 2000) == 1;
}

/*  Receives the next message on handle; true when it decoded as type. */
static bool s_recv(void *handle, bool router, wire_msg_t *m, wire_type type)
{
    CHECK(s_wait(handle));
    at_err rc = wire_recv(handle, router, m);
    CHECK_ERR(rc, AT_OK);
    CHECK(m->type == type);
    if (rc != AT_OK || m->type != type) {
        fprintf(stderr, "  wanted %s, got %s (%s)\n", wire_type_name(type), wire_type_name(m->type),
                m->why ? m->why : "");
        if (rc != AT_ERR_BUSY)
            wire_msg_done(m);
        return false;
    }
    return true;
}

/*  The raw bytes of the next message on handle. */
static size_t s_raw(void *handle, uint8_t *buf, size_t cap)
{
    CHECK(s_wait(handle));
    int n = zmq_recv(handle, buf, cap, 0);
    CHECK(n >= 0 && (size_t) n <= cap);
    return n < 0 ? 0 : (size_t) n;
}

static bool s_str_is(const char *p, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(p, want, n) == 0;
}

/* ---- round trips ------------------------------------------------------------ */

static wire_task_t s_task(uint64_t i)
{
    return (wire_task_t) { .seq = 1000 + i, .producer = "producer-1", .producer_len = 10, .cseq = 50 + i,
                           .t_received = 1700000000000000ull + i, .t_dispatched = 1700000000000100ull + i,
                           .att = s_att, .att_len = s_att_len,
                           .producer_key = i % 2 ? s_att : NULL, .producer_key_len = i % 2 ? WIRE_KEY_BYTES : 0 };
}

static bool s_task_is(const wire_task_t *t, uint64_t i)
{
    wire_task_t want = s_task(i);
    return t->seq == want.seq && s_str_is(t->producer, t->producer_len, "producer-1")
        && t->cseq == want.cseq && t->t_received == want.t_received && t->t_dispatched == want.t_dispatched
        && t->att_len == s_att_len && memcmp(t->att, s_att, s_att_len) == 0
        && t->producer_key_len == want.producer_key_len
        && (!want.producer_key_len || memcmp(t->producer_key, s_att, WIRE_KEY_BYTES) == 0);
}

static void test_rt_empty(wire_out_t *o)
{
    static const wire_type empty[] = { WIRE_PING, WIRE_PONG, WIRE_BYE, WIRE_HEARTBEAT, WIRE_LEAVE, WIRE_LEAVE_OK };
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        wire_msg_t m;
        CHECK(wire_send_empty(o, NULL, empty[i]) == 0);
        if (s_recv(s_b, false, &m, empty[i])) {
            CHECK(m.size == 3 && m.rid == NULL && m.rid_len == 0);
            wire_msg_done(&m);
            wire_msg_done(&m);   /* safe twice */
        }
    }
}

static void test_rt_frontend(wire_out_t *o)
{
    wire_msg_t m;
    CHECK(wire_send_hello(o, "producer-1", 10, NULL) == 0);
    if (s_recv(s_b, false, &m, WIRE_HELLO)) {
        CHECK(s_str_is(m.u.hello.name, m.u.hello.name_len, "producer-1"));
        CHECK(m.u.hello.instance == NULL);
        wire_msg_done(&m);
    }
    uint8_t inst[WIRE_INSTANCE_BYTES];
    for (size_t i = 0; i < sizeof inst; i++)
        inst[i] = (uint8_t) (i * 7 + 1);
    CHECK(wire_send_hello(o, "producer-2", 10, inst) == 0);
    if (s_recv(s_b, false, &m, WIRE_HELLO)) {
        CHECK(s_str_is(m.u.hello.name, m.u.hello.name_len, "producer-2"));
        CHECK(m.u.hello.instance && memcmp(m.u.hello.instance, inst, sizeof inst) == 0);
        wire_msg_done(&m);
    }
    wire_welcome_t wl = { .credit = 4096, .max_batch = WIRE_BATCH_MAX };
    CHECK(wire_send_welcome(o, NULL, &wl) == 0);
    if (s_recv(s_b, false, &m, WIRE_WELCOME)) {
        CHECK(m.u.welcome.credit == 4096 && m.u.welcome.max_batch == WIRE_BATCH_MAX);
        wire_msg_done(&m);
    }
    static const wire_type amounts[] = { WIRE_CREDIT, WIRE_REVOKE, WIRE_RELEASE };
    for (size_t i = 0; i < 3; i++) {
        CHECK(wire_send_amount(o, NULL, amounts[i], UINT64_MAX - i) == 0);
        if (s_recv(s_b, false, &m, amounts[i])) {
            CHECK(m.u.amount == UINT64_MAX - i);
            wire_msg_done(&m);
        }
    }
    CHECK(wire_send_error(o, NULL, AT_ERR_FRAMES, "two frames expected") == 0);
    if (s_recv(s_b, false, &m, WIRE_ERROR)) {
        CHECK(m.u.error.reason == AT_ERR_FRAMES && s_str_is(m.u.error.text, m.u.error.text_len, "two frames expected"));
        wire_msg_done(&m);
    }
    char longtext[WIRE_TEXT_MAX + 100];
    memset(longtext, 'x', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = 0;
    CHECK(wire_send_error(o, NULL, AT_ERR_SHAPE, longtext) == 0);   /* cut at WIRE_TEXT_MAX */
    if (s_recv(s_b, false, &m, WIRE_ERROR)) {
        CHECK(m.u.error.text_len == WIRE_TEXT_MAX);
        wire_msg_done(&m);
    }
}

static void test_rt_submit(wire_out_t *o)
{
    wire_items_t items;
    wire_items_init(&items, WIRE_SUBMIT);
    for (int round = 0; round < 2; round++) {      /* the second reuses the buffer */
        wire_items_clear(&items);
        for (uint64_t i = 0; i < 3; i++) {
            wire_submit_t s = { .cseq = 100 + i + round, .att = s_att, .att_len = s_att_len };
            wire_items_submit(&items, &s);
        }
        CHECK(wire_items_count(&items) == 3);
        CHECK(wire_send_submit(o, &items) == 0);
        wire_msg_t m;
        if (!s_recv(s_b, false, &m, WIRE_SUBMIT))
            continue;
        CHECK(m.u.submit.n == 3);
        for (size_t i = 0; i < m.u.submit.n; i++) {
            wire_submit_t s;
            CHECK_ERR(wire_submit_at(&m.u.submit, i, &s), AT_OK);
            CHECK(s.cseq == 100 + i + (uint64_t) round && s.att_len == s_att_len
                  && memcmp(s.att, s_att, s_att_len) == 0);
            attestation_t a;
            CHECK_ERR(attestation_decode(&a, s.att, s.att_len), AT_OK);
            CHECK_ERR(attestation_verify(&a), AT_OK);
        }
        wire_msg_done(&m);
    }
    wire_items_destroy(&items);
}

static const wire_result_t s_results[3] = {
    { .key = 7, .index = 0, .verdict = WIRE_VALID, .reason = 0, .duplicate = false },
    { .key = 8, .index = 1, .verdict = WIRE_INVALID, .reason = AT_ERR_SIGNATURE, .duplicate = false },
    { .key = 9, .index = 0, .verdict = WIRE_VALID, .reason = 0, .duplicate = true },
};

static bool s_results_are(const wire_list_t *l)
{
    bool ok = l->n == 3;
    for (size_t i = 0; ok && i < 3; i++) {
        wire_result_t r;
        const wire_result_t *w = &s_results[i];
        ok = wire_result_at(l, i, &r) == AT_OK && r.key == w->key && r.index == w->index && r.verdict == w->verdict
          && r.reason == w->reason && r.duplicate == w->duplicate;
    }
    return ok;
}

static void test_rt_results(wire_out_t *o)
{
    wire_items_t ack, com, ref;
    wire_items_init(&ack, WIRE_ACK);
    wire_items_init(&com, WIRE_COMMITTED);
    wire_items_init(&ref, WIRE_REFUSE);
    for (size_t i = 0; i < 3; i++) {
        wire_items_result(&ack, &s_results[i]);
        wire_items_result(&com, &s_results[i]);
    }
    wire_refusal_t rf[2] = { { .cseq = 1, .reason = AT_ERR_BUSY }, { .cseq = 2, .reason = AT_ERR_OVERSIZE } };
    wire_items_refusal(&ref, &rf[0]);
    wire_items_refusal(&ref, &rf[1]);
    wire_msg_t m;
    CHECK(wire_send_ack(o, NULL, &ack) == 0);
    if (s_recv(s_b, false, &m, WIRE_ACK)) {
        CHECK(s_results_are(&m.u.ack));
        wire_msg_done(&m);
    }
    CHECK(wire_send_committed(o, 5, 10, &com) == 0);
    if (s_recv(s_b, false, &m, WIRE_COMMITTED)) {
        CHECK(m.u.committed.epoch == 5 && m.u.committed.next_seq == 10 && s_results_are(&m.u.committed.results));
        wire_msg_done(&m);
    }
    CHECK(wire_send_refuse(o, NULL, &ref) == 0);
    if (s_recv(s_b, false, &m, WIRE_REFUSE)) {
        CHECK(m.u.refuse.n == 2);
        for (size_t i = 0; i < m.u.refuse.n; i++) {
            wire_refusal_t r;
            CHECK_ERR(wire_refusal_at(&m.u.refuse, i, &r), AT_OK);
            CHECK(r.cseq == rf[i].cseq && r.reason == rf[i].reason);
        }
        wire_msg_done(&m);
    }
    wire_items_clear(&ack);                     /* an empty ACK and COMMITTED are valid */
    CHECK(wire_send_ack(o, NULL, &ack) == 0);
    if (s_recv(s_b, false, &m, WIRE_ACK)) {
        CHECK(m.u.ack.n == 0);
        wire_msg_done(&m);
    }
    wire_items_destroy(&ack);
    wire_items_destroy(&com);
    wire_items_destroy(&ref);
}

static void test_rt_backend(wire_out_t *o)
{
    wire_msg_t m;
    CHECK(wire_send_ready(o, "worker-7", 8, 32) == 0);
    if (s_recv(s_b, false, &m, WIRE_READY)) {
        CHECK(s_str_is(m.u.ready.worker, m.u.ready.worker_len, "worker-7") && m.u.ready.credit == 32);
        wire_msg_done(&m);
    }
    CHECK(wire_send_blocked(o, 1500) == 0);
    if (s_recv(s_b, false, &m, WIRE_BLOCKED)) {
        CHECK(m.u.blocked_ms == 1500 && strcmp(wire_type_name(m.type), "BLOCKED") == 0);
        wire_msg_done(&m);
    }
    wire_items_t tasks, seqs;
    wire_items_init(&tasks, WIRE_TASKS);
    wire_items_init(&seqs, WIRE_DONE);
    for (uint64_t i = 0; i < 2; i++) {
        wire_task_t t = s_task(i);
        wire_items_task(&tasks, &t);
    }
    CHECK(wire_send_tasks(o, NULL, 3, &tasks) == 0);
    if (s_recv(s_b, false, &m, WIRE_TASKS)) {
        CHECK(m.u.tasks.epoch == 3 && m.u.tasks.items.n == 2);
        for (size_t i = 0; i < m.u.tasks.items.n; i++) {
            wire_task_t t;
            CHECK_ERR(wire_task_at(&m.u.tasks.items, i, &t), AT_OK);
            CHECK(s_task_is(&t, i));
        }
        wire_msg_done(&m);
    }
    for (uint64_t i = 0; i < 3; i++)
        wire_items_seq(&seqs, 1000 + i);
    CHECK(wire_send_done(o, &seqs, 3, UINT64_MAX) == 0);
    if (s_recv(s_b, false, &m, WIRE_DONE)) {
        CHECK(m.u.done.seqs.n == 3 && m.u.done.credit == 3 && m.u.done.held_us == UINT64_MAX);
        for (size_t i = 0; i < m.u.done.seqs.n; i++) {
            uint64_t seq = 0;
            CHECK_ERR(wire_seq_at(&m.u.done.seqs, i, &seq), AT_OK);
            CHECK(seq == 1000 + i);
        }
        wire_msg_done(&m);
    }
    wire_items_destroy(&tasks);
    wire_items_destroy(&seqs);
}

static void test_rt_sink(wire_out_t *o)
{
    wire_msg_t m;
    wire_sink_hello_t h = { .instance = "sink-a", .instance_len = 6, .next_seq = 12, .next_index = 9, .epoch = 77,
                            .window = 8192, .held = 300 };
    CHECK(wire_send_sink_hello(o, &h) == 0);
    if (s_recv(s_b, false, &m, WIRE_SINK_HELLO)) {
        const wire_sink_hello_t *g = &m.u.sink_hello;
        CHECK(s_str_is(g->instance, g->instance_len, "sink-a") && g->next_seq == 12 && g->next_index == 9
              && g->epoch == 77 && g->window == 8192 && g->held == 300);
        wire_msg_done(&m);
    }
    wire_sink_welcome_t w = { .epoch = 4, .first_seq = 12 };
    CHECK(wire_send_sink_welcome(o, NULL, &w) == 0);
    if (s_recv(s_b, false, &m, WIRE_SINK_WELCOME)) {
        CHECK(m.u.sink_welcome.epoch == 4 && m.u.sink_welcome.first_seq == 12);
        wire_msg_done(&m);
    }
    wire_items_t vs;
    wire_items_init(&vs, WIRE_VERDICTS);
    for (uint64_t i = 0; i < 2; i++) {
        wire_verdict_t v = { .task = s_task(i), .t_verified = 1700000000000200ull + i,
                             .verdict = (uint8_t) i, .reason = i ? AT_ERR_EXPIRED : AT_OK, .id = s_id };
        wire_items_verdict(&vs, &v);
    }
    CHECK(wire_send_verdicts(o, 4, "worker-7", 8, &vs) == 0);
    if (s_recv(s_b, false, &m, WIRE_VERDICTS)) {
        const wire_verdicts_t *g = &m.u.verdicts;
        CHECK(g->epoch == 4 && s_str_is(g->worker, g->worker_len, "worker-7") && g->items.n == 2);
        for (size_t i = 0; i < g->items.n; i++) {
            wire_verdict_t v;
            CHECK_ERR(wire_verdict_at(&g->items, i, &v), AT_OK);
            CHECK(s_task_is(&v.task, i) && v.t_verified == 1700000000000200ull + i);
            CHECK(v.verdict == i && v.reason == (i ? AT_ERR_EXPIRED : AT_OK) && memcmp(v.id, s_id, 32) == 0);
        }
        wire_msg_done(&m);
    }
    wire_items_destroy(&vs);
    /* POISON: TASKS' items, broker to sink (protocol.md 7.6). */
    wire_items_t ps;
    wire_items_init(&ps, WIRE_POISON);
    for (uint64_t i = 0; i < 2; i++) {
        wire_task_t t = s_task(i);
        wire_items_task(&ps, &t);
    }
    CHECK(wire_send_poison(o, NULL, 5, &ps) == 0);
    if (s_recv(s_b, false, &m, WIRE_POISON)) {
        CHECK(m.u.poison.epoch == 5 && m.u.poison.items.n == 2);
        for (size_t i = 0; i < m.u.poison.items.n; i++) {
            wire_task_t t;
            CHECK_ERR(wire_task_at(&m.u.poison.items, i, &t), AT_OK);
            CHECK(s_task_is(&t, i));
        }
        wire_msg_done(&m);
    }
    wire_items_destroy(&ps);
    /* GAP: ranges of missing seqs, sink to broker (protocol.md 7.7). */
    wire_items_t gs;
    wire_items_init(&gs, WIRE_GAP);
    const wire_range_t rs[] = { { 10, 2 }, { 15, 64 }, { UINT64_MAX - 1, 1 } };
    for (size_t i = 0; i < 3; i++)
        wire_items_range(&gs, &rs[i]);
    CHECK(wire_send_gap(o, 9, &gs) == 0);
    if (s_recv(s_b, false, &m, WIRE_GAP)) {
        CHECK(m.u.gap.epoch == 9 && m.u.gap.ranges.n == 3 && m.u.gap.seqs == 67);
        for (size_t i = 0; i < m.u.gap.ranges.n; i++) {
            wire_range_t r;
            CHECK_ERR(wire_range_at(&m.u.gap.ranges, i, &r), AT_OK);
            CHECK(r.first == rs[i].first && r.count == rs[i].count);
        }
        wire_msg_done(&m);
    }
    wire_items_destroy(&gs);
}

/*  DEALER -> ROUTER and back: the routing id, replies to a peer, frames. */
static void test_rt_router(void)
{
    wire_out_t d, r;
    wire_out_init(&d, s_dealer, "TEST-SEND");
    wire_out_init(&r, s_router, "TEST-SEND");
    wire_msg_t m;
    CHECK(wire_send_hello(&d, "p", 1, NULL) == 0);
    uint8_t rid[WIRE_RID_MAX];
    size_t rid_len = 0;
    if (s_recv(s_router, true, &m, WIRE_HELLO)) {
        CHECK(m.rid != NULL && m.rid_len > 0 && m.rid_len <= WIRE_RID_MAX);
        rid_len = m.rid_len;
        memcpy(rid, m.rid, rid_len);
        wire_msg_done(&m);
    }
    wire_peer_t peer = { .rid = rid, .rid_len = rid_len, .name = "p" };
    wire_welcome_t wl = { .credit = 1, .max_batch = 2 };
    CHECK(wire_send_welcome(&r, &peer, &wl) == 0);
    if (s_recv(s_dealer, false, &m, WIRE_WELCOME)) {
        CHECK(m.u.welcome.credit == 1 && m.u.welcome.max_batch == 2);
        wire_msg_done(&m);
    }
    CHECK(r.sent == 1 && d.sent == 1 && r.failures == 0);
    /* A peer that is not there (ROUTER_MANDATORY): counted, errno EHOSTUNREACH. */
    wire_peer_t gone = { .rid = (const uint8_t *) "nobody", .rid_len = 6, .name = "nobody" };
    errno = 0;
    CHECK(wire_send_empty(&r, &gone, WIRE_PONG) == -1 && errno == EHOSTUNREACH);
    CHECK(r.failures == 1 && r.again == 0 && r.sent == 1);
    /* Two body frames: FRAMES, drained whole, with the rid for the ERROR reply. */
    zmq_send(s_dealer, "\x92\x01\x07", 3, ZMQ_SNDMORE);
    zmq_send(s_dealer, "x", 1, 0);
    CHECK(s_wait(s_router));
    CHECK_ERR(wire_recv(s_router, true, &m), AT_ERR_FRAMES);
    CHECK(m.rid_len == rid_len && memcmp(m.rid, rid, rid_len) == 0 && m.why != NULL);
    wire_msg_done(&m);
    CHECK_ERR(wire_recv(s_router, true, &m), AT_ERR_BUSY);   /* nothing left of it */
    /* A bad body on a ROUTER: the type (once readable) and the rid are set. */
    zmq_send(s_dealer, "\x93\x01\x01\xa0", 4, 0);            /* HELLO "" */
    CHECK(s_wait(s_router));
    CHECK_ERR(wire_recv(s_router, true, &m), AT_ERR_TYPE);
    CHECK(m.type == WIRE_HELLO && m.rid_len == rid_len && m.size == 4 && m.why != NULL);
    wire_msg_done(&m);
    wire_out_destroy(&d);
    wire_out_destroy(&r);
}

static void test_rt_frames_pair(void)
{
    wire_msg_t m;
    CHECK_ERR(wire_recv(s_b, false, &m), AT_ERR_BUSY);
    zmq_send(s_a, "\x92\x01\x07", 3, ZMQ_SNDMORE);
    zmq_send(s_a, "\x92\x01\x07", 3, ZMQ_SNDMORE);
    zmq_send(s_a, "\x92\x01\x07", 3, 0);
    CHECK(s_wait(s_b));
    CHECK_ERR(wire_recv(s_b, false, &m), AT_ERR_FRAMES);
    CHECK(m.rid == NULL && m.type == 0);
    wire_msg_done(&m);
    CHECK_ERR(wire_recv(s_b, false, &m), AT_ERR_BUSY);
}

static void test_type_names(void)
{
    CHECK(strcmp(wire_type_name(WIRE_HELLO), "HELLO") == 0);
    CHECK(strcmp(wire_type_name(WIRE_VERDICTS), "VERDICTS") == 0);
    CHECK(strcmp(wire_type_name(WIRE_POISON), "POISON") == 0);
    CHECK(strcmp(wire_type_name(WIRE_GAP), "GAP") == 0);
    CHECK(strcmp(wire_type_name(0), "unknown") == 0);
    CHECK(strcmp(wire_type_name(WIRE_REVOKE), "REVOKE") == 0);
    CHECK(strcmp(wire_type_name(WIRE_RELEASE), "RELEASE") == 0);
    CHECK(strcmp(wire_type_name(13), "unknown") == 0);
    CHECK(strcmp(wire_type_name(-1), "unknown") == 0);
    CHECK(strcmp(wire_type_name(WIRE_TYPE_MAX_), "unknown") == 0);
}

/* ---- rejections of whole messages ------------------------------------------ */

/*  Decodes buf; returns the code and, in *type (may be NULL), m.type. */
static at_err s_decode_raw(const void *buf, size_t len, uint8_t *type)
{
    wire_msg_t m;
    at_err rc = wire_decode(&m, buf, len);
    if (type)
        *type = m.type;
    CHECK(rc == AT_OK || m.why != NULL);
    wire_msg_done(&m);
    return rc;
}

static at_err s_parse_raw(const void *buf, size_t len) { return s_decode_raw(buf, len, NULL); }

#define RAW(s) s_parse_raw(s, sizeof(s) - 1)

static void test_message_rejections(tpk_t *w)
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
    CHECK_ERR(RAW("\x94\x01\x01\xa1p\xa1q"), AT_ERR_TYPE);            /* HELLO with a str where the instance goes */
    CHECK_ERR(RAW("\x95\x01\x01\xa1p\xc0\xc0"), AT_ERR_SHAPE);       /* HELLO with three */
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
    uint8_t type = 99;
    CHECK_ERR(s_decode_raw("\x92\x01\x01", 3, &type), AT_ERR_SHAPE);   /* the type is known: set */
    CHECK(type == WIRE_HELLO);
    CHECK_ERR(s_decode_raw("\x92\x02\x01", 3, &type), AT_ERR_VERSION);
    CHECK(type == 0);
    /* HELLO's optional instance: bin 16 or nothing; a fourth field is too many. */
    CHECK_ERR(RAW("\x94\x01\x01\xa1p\xc4\x02" "ab"), AT_ERR_TYPE);
    CHECK_ERR(RAW("\x94\x01\x01\xa1p\xa2" "ab"), AT_ERR_TYPE);
    CHECK_ERR(RAW("\x94\x01\x01\xa1p\xc4\x10" "0123456789abcdef"), AT_OK);
    CHECK_ERR(RAW("\x95\x01\x01\xa1p\xc4\x10" "0123456789abcdef\x01"), AT_ERR_SHAPE);

    /* Truncating a real message at every length. */
    t_begin(w, WIRE_SUBMIT, 1);
    msgpack_pack_array(&w->pk, 1);
    msgpack_pack_array(&w->pk, 2);
    msgpack_pack_uint8(&w->pk, 1);
    msgpack_pack_bin_with_body(&w->pk, s_att, s_att_len);
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

/*  Every message's bad fields, with the code the table in wire.h gives. */
typedef struct {
    const char *what;
    const char *bytes;
    size_t len;
    at_err want;
} raw_case_t;

#define C(what, s, want) { what, s, sizeof(s) - 1, want }
static const raw_case_t s_field_cases[] = {
    C("HELLO ok", "\x93\x01\x01\xa1p", AT_OK),
    C("HELLO empty name", "\x93\x01\x01\xa0", AT_ERR_TYPE),
    C("HELLO bin name", "\x93\x01\x01\xc4\x01p", AT_ERR_TYPE),
    C("HELLO int name", "\x93\x01\x01\x05", AT_ERR_TYPE),
    C("HELLO UTF-8 name", "\x93\x01\x01\xa3p\xc3\xa9", AT_OK),                  /* "pé" */
    C("HELLO name with BEL", "\x93\x01\x01\xa2p\x07", AT_ERR_TYPE),
    C("HELLO name with DEL", "\x93\x01\x01\xa2p\x7f", AT_ERR_TYPE),
    C("HELLO name with C1 U+0085", "\x93\x01\x01\xa3p\xc2\x85", AT_ERR_TYPE),
    C("HELLO name not UTF-8", "\x93\x01\x01\xa2p\xff", AT_ERR_TYPE),
    C("HELLO name overlong '/'", "\x93\x01\x01\xa2\xc0\xaf", AT_ERR_TYPE),
    C("HELLO name a surrogate", "\x93\x01\x01\xa3\xed\xa0\x80", AT_ERR_TYPE),
    C("HELLO name truncated sequence", "\x93\x01\x01\xa2p\xe2", AT_ERR_TYPE),
    C("WELCOME ok", "\x94\x01\x02\x01\x02", AT_OK),
    C("WELCOME str credit", "\x94\x01\x02\xa1x\x01", AT_ERR_TYPE),
    C("WELCOME negative max_batch", "\x94\x01\x02\x01\xff", AT_ERR_TYPE),
    C("SUBMIT not an array", "\x93\x01\x03\x05", AT_ERR_TYPE),
    C("SUBMIT empty", "\x93\x01\x03\x90", AT_ERR_SHAPE),
    C("SUBMIT a bad item is not a message error", "\x93\x01\x03\x91\x05", AT_OK),
    C("CREDIT str", "\x93\x01\x04\xa1x", AT_ERR_TYPE),
    C("REVOKE nil", "\x93\x01\x0b\xc0", AT_ERR_TYPE),
    C("RELEASE str", "\x93\x01\x0c\xa3""all", AT_ERR_TYPE),
    C("RELEASE 0", "\x93\x01\x0c\x00", AT_OK),
    C("ACK not an array", "\x93\x01\x05\x05", AT_ERR_TYPE),
    C("ACK empty", "\x93\x01\x05\x90", AT_OK),
    C("REFUSE nil", "\x93\x01\x06\xc0", AT_ERR_TYPE),
    C("ERROR ok", "\x94\x01\x09\x03\xa1x", AT_OK),
    C("ERROR str reason", "\x94\x01\x09\xa1x\xa0", AT_ERR_TYPE),
    C("ERROR reason 256", "\x94\x01\x09\xcd\x01\x00\xa0", AT_ERR_RANGE),
    C("ERROR int text", "\x94\x01\x09\x01\x01", AT_ERR_TYPE),
    C("READY ok", "\x94\x01\x14\xa1w\x01", AT_OK),
    C("READY credit 65536", "\x94\x01\x14\xa1w\xce\x00\x01\x00\x00", AT_OK),
    C("READY int id", "\x94\x01\x14\x05\x01", AT_ERR_TYPE),
    C("READY empty id", "\x94\x01\x14\xa0\x01", AT_ERR_TYPE),
    C("READY id with a newline", "\x94\x01\x14\xa2w\n\x01", AT_ERR_TYPE),
    C("READY id not UTF-8", "\x94\x01\x14\xa2w\x80\x01", AT_ERR_TYPE),
    C("READY str credit", "\x94\x01\x14\xa1w\xa2""10", AT_ERR_TYPE),
    C("READY credit 65537", "\x94\x01\x14\xa1w\xce\x00\x01\x00\x01", AT_ERR_TYPE),
    C("READY negative credit", "\x94\x01\x14\xa1w\xff", AT_ERR_TYPE),
    C("TASKS str epoch", "\x94\x01\x15\xa1""e\x91\x05", AT_ERR_TYPE),
    C("TASKS empty", "\x94\x01\x15\x01\x90", AT_ERR_SHAPE),
    C("TASKS not an array", "\x94\x01\x15\x01\x05", AT_ERR_TYPE),
    C("POISON str epoch", "\x94\x01\x22\xa1""e\x91\x05", AT_ERR_TYPE),
    C("POISON empty", "\x94\x01\x22\x01\x90", AT_ERR_SHAPE),
    C("POISON wrong field count", "\x93\x01\x22\x01", AT_ERR_SHAPE),
    C("GAP ok", "\x94\x01\x23\x03\x91\x92\x0a\x02", AT_OK),
    C("GAP two ranges, adjacent", "\x94\x01\x23\x03\x92\x92\x0a\x02\x92\x0c\x01", AT_OK),
    C("GAP no range", "\x94\x01\x23\x03\x90", AT_ERR_SHAPE),
    C("GAP str epoch", "\x94\x01\x23\xa1""e\x91\x92\x0a\x02", AT_ERR_TYPE),
    C("GAP ranges not an array", "\x94\x01\x23\x03\x05", AT_ERR_TYPE),
    C("GAP range not an array", "\x94\x01\x23\x03\x91\x0a", AT_ERR_TYPE),
    C("GAP range of three", "\x94\x01\x23\x03\x91\x93\x0a\x02\x00", AT_ERR_TYPE),
    C("GAP range of one", "\x94\x01\x23\x03\x91\x91\x0a", AT_ERR_TYPE),
    C("GAP str first", "\x94\x01\x23\x03\x91\x92\xa1x\x02", AT_ERR_TYPE),
    C("GAP negative count", "\x94\x01\x23\x03\x91\x92\x0a\xff", AT_ERR_TYPE),
    C("GAP count 0", "\x94\x01\x23\x03\x91\x92\x0a\x00", AT_ERR_RANGE),
    C("GAP range past 2^64", "\x94\x01\x23\x03\x91\x92\xcf\xff\xff\xff\xff\xff\xff\xff\xff\x02",
      AT_ERR_RANGE),
    C("GAP ranges overlapping", "\x94\x01\x23\x03\x92\x92\x0a\x05\x92\x0c\x01", AT_ERR_RANGE),
    C("GAP ranges descending", "\x94\x01\x23\x03\x92\x92\x0a\x01\x92\x05\x01", AT_ERR_RANGE),
    C("GAP without epoch", "\x93\x01\x23\x91\x92\x0a\x02", AT_ERR_SHAPE),
    C("DONE ok", "\x95\x01\x16\x90\x00\x00", AT_OK),
    C("DONE a bad seq is not a message error", "\x95\x01\x16\x91\xa1x\x00\x00", AT_OK),
    C("DONE credit 1024", "\x95\x01\x16\x90\xcd\x04\x00\x00", AT_OK),
    C("DONE credit 1025", "\x95\x01\x16\x90\xcd\x04\x01\x00", AT_ERR_TYPE),
    C("DONE credit 5000", "\x95\x01\x16\x90\xcd\x13\x88\x00", AT_ERR_TYPE),
    C("DONE seqs not an array", "\x95\x01\x16\x07\x00\x00", AT_ERR_TYPE),
    C("DONE str credit", "\x95\x01\x16\x90\xa1x\x00", AT_ERR_TYPE),
    C("DONE held_us 2^64-1", "\x95\x01\x16\x90\x00\xcf\xff\xff\xff\xff\xff\xff\xff\xff", AT_OK),
    C("DONE str held_us", "\x95\x01\x16\x90\x00\xa1x", AT_ERR_TYPE),
    C("DONE negative held_us", "\x95\x01\x16\x90\x00\xff", AT_ERR_TYPE),
    C("DONE without held_us (the old shape)", "\x94\x01\x16\x90\x00", AT_ERR_SHAPE),
    C("BLOCKED ok", "\x93\x01\x1a\xcd\x05\xdc", AT_OK),
    C("BLOCKED 0", "\x93\x01\x1a\x00", AT_OK),
    C("BLOCKED str", "\x93\x01\x1a\xa1x", AT_ERR_TYPE),
    C("BLOCKED negative", "\x93\x01\x1a\xff", AT_ERR_TYPE),
    C("BLOCKED no field", "\x92\x01\x1a", AT_ERR_SHAPE),
    C("SINK_HELLO ok", "\x98\x01\x1e\xa1s\x01\x01\x01\xcd\x40\x00\x00", AT_OK),
    C("SINK_HELLO empty instance", "\x98\x01\x1e\xa0\x01\x01\x01\x01\x00", AT_OK),
    C("SINK_HELLO int instance", "\x98\x01\x1e\x05\x01\x01\x01\x01\x00", AT_ERR_TYPE),
    C("SINK_HELLO str next_seq", "\x98\x01\x1e\xa1s\xa1x\x01\x01\x01\x00", AT_ERR_TYPE),
    C("SINK_HELLO nil epoch", "\x98\x01\x1e\xa1s\x01\x01\xc0\x01\x00", AT_ERR_TYPE),
    C("SINK_HELLO str window", "\x98\x01\x1e\xa1s\x01\x01\x01\xa1x\x00", AT_ERR_TYPE),
    C("SINK_HELLO str held", "\x98\x01\x1e\xa1s\x01\x01\x01\x01\xa1x", AT_ERR_TYPE),
    C("SINK_HELLO without held (the old five fields)", "\x97\x01\x1e\xa1s\x01\x01\x01\x01", AT_ERR_SHAPE),
    C("SINK_HELLO without window (the old four fields)", "\x96\x01\x1e\xa1s\x01\x01\x01", AT_ERR_SHAPE),
    C("SINK_WELCOME nil first_seq", "\x94\x01\x1f\x01\xc0", AT_ERR_TYPE),
    C("COMMITTED ok", "\x95\x01\x20\x01\x01\x90", AT_OK),
    C("QUARANTINE ok", "\x93\x01\x21\xa4""liar", AT_OK),
    C("QUARANTINE empty worker", "\x93\x01\x21\xa0", AT_ERR_TYPE),
    C("QUARANTINE worker not a str", "\x93\x01\x21\x05", AT_ERR_TYPE),
    C("QUARANTINE worker not UTF-8", "\x93\x01\x21\xa1\xfe", AT_ERR_TYPE),
    C("QUARANTINE two fields", "\x94\x01\x21\xa1x\x01", AT_ERR_SHAPE),
    C("COMMITTED str epoch", "\x95\x01\x20\xa1""e\x01\x90", AT_ERR_TYPE),
    C("COMMITTED results not an array", "\x95\x01\x20\x01\x01\x05", AT_ERR_TYPE),
    C("VERDICTS str epoch", "\x95\x01\x28\xa1""e\xa1w\x91\x05", AT_ERR_TYPE),
    C("VERDICTS int worker", "\x95\x01\x28\x01\x05\x91\x05", AT_ERR_TYPE),
    C("VERDICTS worker with ESC", "\x95\x01\x28\x01\xa2w\x1b\x91\x05", AT_ERR_RANGE),
    C("VERDICTS empty", "\x95\x01\x28\x01\xa1w\x90", AT_ERR_SHAPE),
    C("VERDICTS not an array", "\x95\x01\x28\x01\xa1w\x05", AT_ERR_TYPE),
    C("VERDICTS a bad item is not a message error", "\x95\x01\x28\x01\xa1w\x91\x05", AT_OK),
};
#undef C

static const uint8_t s_big[AT_ENCODED_MAX + 1];
static const char s_long_name[] = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";  /* 65 */

static void s_check_built(tpk_t *w, const char *what, wire_type type, at_err want)
{
    uint8_t got_type = 0;
    at_err rc = s_decode_raw(w->sb.data, w->sb.size, &got_type);
    CHECK_ERR(rc, want);
    CHECK(got_type == type);
    if (rc != want || got_type != type)
        fprintf(stderr, "  case: %s\n", what);
}

/*  A batch message of n copies of one valid item (the bounds of each type). */
static void s_batch(tpk_t *w, wire_type type, size_t n)
{
    t_begin(w, type, type == WIRE_COMMITTED || type == WIRE_DONE ? 3 : type == WIRE_SUBMIT || type == WIRE_ACK ? 1 : 2);
    if (type == WIRE_TASKS || type == WIRE_COMMITTED)
        msgpack_pack_uint8(&w->pk, 1);
    if (type == WIRE_COMMITTED)
        msgpack_pack_uint8(&w->pk, 1);
    msgpack_pack_array(&w->pk, n);
    for (size_t i = 0; i < n; i++) {
        if (type == WIRE_DONE) {
            msgpack_pack_uint64(&w->pk, i);
            continue;
        }
        msgpack_pack_array(&w->pk, 2);
        msgpack_pack_uint8(&w->pk, 1);
        msgpack_pack_bin_with_body(&w->pk, s_big, 4);
    }
    if (type == WIRE_DONE) {
        msgpack_pack_uint8(&w->pk, 0);
        msgpack_pack_uint8(&w->pk, 0);
    }
}

static void test_field_rejections(tpk_t *w)
{
    for (size_t i = 0; i < sizeof s_field_cases / sizeof s_field_cases[0]; i++) {
        const raw_case_t *c = &s_field_cases[i];
        uint8_t type = 0;
        at_err rc = s_decode_raw(c->bytes, c->len, &type);
        CHECK_ERR(rc, c->want);
        CHECK(type == (uint8_t) c->bytes[2]);   /* every case has a readable header */
        if (rc != c->want)
            fprintf(stderr, "  case: %s\n", c->what);
    }
    /* Names and texts one past their bound. */
    t_begin(w, WIRE_HELLO, 1);
    msgpack_pack_str_with_body(&w->pk, s_long_name, 65);
    s_check_built(w, "HELLO 65-byte name", WIRE_HELLO, AT_ERR_TYPE);
    t_begin(w, WIRE_READY, 2);
    msgpack_pack_str_with_body(&w->pk, s_long_name, 65);
    msgpack_pack_uint8(&w->pk, 1);
    s_check_built(w, "READY 65-byte id", WIRE_READY, AT_ERR_TYPE);
    t_begin(w, WIRE_SINK_HELLO, 6);
    msgpack_pack_str_with_body(&w->pk, s_long_name, 65);
    for (int i = 0; i < 5; i++)
        msgpack_pack_uint8(&w->pk, 1);
    s_check_built(w, "SINK_HELLO 65-byte instance", WIRE_SINK_HELLO, AT_ERR_TYPE);
    t_begin(w, WIRE_VERDICTS, 3);
    msgpack_pack_uint8(&w->pk, 1);
    msgpack_pack_str_with_body(&w->pk, s_long_name, 65);
    msgpack_pack_array(&w->pk, 1);
    msgpack_pack_nil(&w->pk);
    s_check_built(w, "VERDICTS 65-byte worker", WIRE_VERDICTS, AT_ERR_OVERSIZE);
    static char text[WIRE_TEXT_MAX + 1];
    memset(text, 't', sizeof text);
    t_begin(w, WIRE_ERROR, 2);
    msgpack_pack_uint8(&w->pk, 1);
    msgpack_pack_str_with_body(&w->pk, text, WIRE_TEXT_MAX);
    s_check_built(w, "ERROR 1024-byte text", WIRE_ERROR, AT_OK);
    t_begin(w, WIRE_ERROR, 2);
    msgpack_pack_uint8(&w->pk, 1);
    msgpack_pack_str_with_body(&w->pk, text, WIRE_TEXT_MAX + 1);
    s_check_built(w, "ERROR 1025-byte text", WIRE_ERROR, AT_ERR_OVERSIZE);
}

/*  A GAP of n ranges of `count` seqs each, one seq apart. */
static void s_gap(tpk_t *w, size_t n, uint64_t count)
{
    t_begin(w, WIRE_GAP, 2);
    msgpack_pack_uint8(&w->pk, 1);
    msgpack_pack_array(&w->pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_array(&w->pk, 2);
        msgpack_pack_uint64(&w->pk, i * (count + 1));
        msgpack_pack_uint64(&w->pk, count);
    }
}

static void test_gap_bounds(tpk_t *w)
{
    s_gap(w, WIRE_GAP_RANGES_MAX, 1);
    s_check_built(w, "GAP of 256 ranges", WIRE_GAP, AT_OK);
    s_gap(w, WIRE_GAP_RANGES_MAX + 1, 1);
    s_check_built(w, "GAP of 257 ranges", WIRE_GAP, AT_ERR_OVERSIZE);
    s_gap(w, 1, WIRE_GAP_SEQS_MAX);
    s_check_built(w, "GAP of 262144 seqs", WIRE_GAP, AT_OK);
    s_gap(w, 1, WIRE_GAP_SEQS_MAX + 1);
    s_check_built(w, "GAP of 262145 seqs in one range", WIRE_GAP, AT_ERR_OVERSIZE);
    s_gap(w, 4, WIRE_GAP_SEQS_MAX / 4);
    s_check_built(w, "GAP of 262144 seqs in four ranges", WIRE_GAP, AT_OK);
    s_gap(w, 5, WIRE_GAP_SEQS_MAX / 4);
    s_check_built(w, "GAP of 327680 seqs in five ranges", WIRE_GAP, AT_ERR_OVERSIZE);
    s_gap(w, 2, UINT64_MAX / 2);   /* counts that would wrap a sum: the bound is checked at each range */
    s_check_built(w, "GAP of two huge ranges", WIRE_GAP, AT_ERR_OVERSIZE);
}

static void test_batch_bounds(tpk_t *w)
{
    static const struct { wire_type type; size_t n; at_err want; } cases[] = {
        { WIRE_SUBMIT, 1, AT_OK }, { WIRE_SUBMIT, WIRE_BATCH_MAX, AT_OK },
        { WIRE_SUBMIT, WIRE_BATCH_MAX + 1, AT_ERR_OVERSIZE },
        { WIRE_TASKS, WIRE_BATCH_MAX, AT_OK }, { WIRE_TASKS, WIRE_BATCH_MAX + 1, AT_ERR_OVERSIZE },
        { WIRE_DONE, 0, AT_OK }, { WIRE_DONE, WIRE_BATCH_MAX, AT_OK }, { WIRE_DONE, WIRE_BATCH_MAX + 1, AT_ERR_TYPE },
        { WIRE_ACK, WIRE_RESULTS_MAX, AT_OK }, { WIRE_ACK, WIRE_RESULTS_MAX + 1, AT_ERR_OVERSIZE },
        { WIRE_COMMITTED, 0, AT_OK }, { WIRE_COMMITTED, WIRE_RESULTS_MAX, AT_OK },
        { WIRE_COMMITTED, WIRE_RESULTS_MAX + 1, AT_ERR_OVERSIZE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_batch(w, cases[i].type, cases[i].n);
        CHECK(w->sb.size <= WIRE_FRAME_MAX);
        wire_msg_t m;
        at_err rc = wire_decode(&m, w->sb.data, w->sb.size);
        CHECK_ERR(rc, cases[i].want);
        if (rc == AT_OK) {
            size_t n = cases[i].type == WIRE_SUBMIT ? m.u.submit.n : cases[i].type == WIRE_TASKS ? m.u.tasks.items.n
                     : cases[i].type == WIRE_DONE ? m.u.done.seqs.n : cases[i].type == WIRE_ACK ? m.u.ack.n
                     : m.u.committed.results.n;
            CHECK(n == cases[i].n);
        }
        if (rc != cases[i].want)
            fprintf(stderr, "  case %zu: %s of %zu\n", i, wire_type_name(cases[i].type), cases[i].n);
        wire_msg_done(&m);
    }
}

/* ---- rejections of batch items ------------------------------------------------ */

typedef at_err (*item_decoder_t)(const wire_list_t *l, void *out);
static at_err d_submit(const wire_list_t *l, void *out) { return wire_submit_at(l, 0, out); }
static at_err d_task(const wire_list_t *l, void *out) { return wire_task_at(l, 0, out); }
static at_err d_verdict(const wire_list_t *l, void *out) { return wire_verdict_at(l, 0, out); }
static at_err d_result(const wire_list_t *l, void *out) { return wire_result_at(l, 0, out); }
static at_err d_refusal(const wire_list_t *l, void *out) { return wire_refusal_at(l, 0, out); }

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
static void s_task_key(msgpack_packer *pk, size_t n) { msgpack_pack_bin_with_body(pk, s_big, n); }
static void i_task_ok(msgpack_packer *pk) { msgpack_pack_array(pk, 7); s_task_fields(pk, "p", 1); msgpack_pack_bin_with_body(pk, s_big, 10); s_task_key(pk, 32); }
static void i_task_nokey(msgpack_packer *pk) { msgpack_pack_array(pk, 7); s_task_fields(pk, "p", 1); msgpack_pack_bin_with_body(pk, s_big, 10); s_task_key(pk, 0); }
static void i_task_key31(msgpack_packer *pk) { msgpack_pack_array(pk, 7); s_task_fields(pk, "p", 1); msgpack_pack_bin_with_body(pk, s_big, 10); s_task_key(pk, 31); }
static void i_task_key33(msgpack_packer *pk) { msgpack_pack_array(pk, 7); s_task_fields(pk, "p", 1); msgpack_pack_bin_with_body(pk, s_big, 10); s_task_key(pk, 33); }
static void i_task_6(msgpack_packer *pk) { msgpack_pack_array(pk, 6); s_task_fields(pk, "p", 1); msgpack_pack_bin_with_body(pk, s_big, 10); }
static void i_task_5(msgpack_packer *pk) { msgpack_pack_array(pk, 5); s_task_fields(pk, "p", 1); }
static void i_task_long_producer(msgpack_packer *pk) { msgpack_pack_array(pk, 7); s_task_fields(pk, s_long_name, 65); msgpack_pack_bin_with_body(pk, s_big, 10); s_task_key(pk, 0); }
static void i_task_producer_bin(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 7);
    msgpack_pack_uint64(pk, 1);
    msgpack_pack_bin_with_body(pk, "p", 1);
    msgpack_pack_uint64(pk, 2);
    msgpack_pack_uint64(pk, 3);
    msgpack_pack_uint64(pk, 4);
    msgpack_pack_bin_with_body(pk, s_big, 10);
    s_task_key(pk, 0);
}
static void s_verdict(msgpack_packer *pk, uint64_t verdict, uint64_t reason, size_t idlen, bool id_as_str)
{
    msgpack_pack_array(pk, 11);
    s_task_fields(pk, "p", 1);
    msgpack_pack_uint64(pk, 5);
    msgpack_pack_uint64(pk, verdict);
    msgpack_pack_uint64(pk, reason);
    if (id_as_str)
        msgpack_pack_str_with_body(pk, s_big, idlen);
    else
        msgpack_pack_bin_with_body(pk, s_big, idlen);
    msgpack_pack_bin_with_body(pk, s_big, 10);
    s_task_key(pk, 32);
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
static void i_result_verdict_2(msgpack_packer *pk) { s_result(pk, 2, 0, 0); }      /* found by fuzz_wire */
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
    { "task 6 fields (no producer_key)", i_task_6, d_task, AT_ERR_SHAPE },
    { "task producer_key empty", i_task_nokey, d_task, AT_OK },
    { "task producer_key 31 bytes", i_task_key31, d_task, AT_ERR_RANGE },
    { "task producer_key 33 bytes", i_task_key33, d_task, AT_ERR_OVERSIZE },
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
    { "result verdict 2", i_result_verdict_2, d_result, AT_ERR_RANGE },
    { "result 6 fields", i_result_6, d_result, AT_ERR_SHAPE },
    { "result not an array", i_not_array, d_result, AT_ERR_TYPE },
    { "refusal ok", i_refusal_ok, d_refusal, AT_OK },
    { "refusal reason str", i_refusal_reason_str, d_refusal, AT_ERR_TYPE },
    { "refusal reason 300", i_refusal_reason_300, d_refusal, AT_ERR_RANGE },
    { "refusal as result", i_result_ok, d_refusal, AT_ERR_SHAPE },
};

static void test_item_rejections(tpk_t *w)
{
    union { wire_submit_t s; wire_task_t t; wire_verdict_t v; wire_result_t r; wire_refusal_t f; } out;
    for (size_t i = 0; i < sizeof s_item_cases / sizeof s_item_cases[0]; i++) {
        const item_case_t *c = &s_item_cases[i];
        wire_msg_t m;
        t_begin(w, WIRE_ACK, 1);      /* any list: the items are decoded alone, by index */
        msgpack_pack_array(&w->pk, 1);
        c->build(&w->pk);
        CHECK_ERR(wire_decode(&m, w->sb.data, w->sb.size), AT_OK);
        if (m.u.ack.n == 1) {
            at_err rc = c->decode(&m.u.ack, &out);
            CHECK_ERR(rc, c->want);
            if (rc != c->want)
                fprintf(stderr, "  case: %s\n", c->what);
        }
        wire_msg_done(&m);
    }
    /* A SUBMIT item whose cseq reads but whose attestation does not names its cseq. */
    t_begin(w, WIRE_SUBMIT, 1);
    msgpack_pack_array(&w->pk, 2);
    i_submit_att_str(&w->pk);
    i_submit_1(&w->pk);
    wire_msg_t m;
    CHECK_ERR(wire_decode(&m, w->sb.data, w->sb.size), AT_OK);
    wire_submit_t s;
    CHECK_ERR(wire_submit_at(&m.u.submit, 0, &s), AT_ERR_TYPE);
    CHECK(s.cseq == 1);
    CHECK_ERR(wire_submit_at(&m.u.submit, 1, &s), AT_ERR_SHAPE);
    CHECK(s.cseq == 0);
    wire_msg_done(&m);
}

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

static void test_bounded(tpk_t *w)
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

/*  The message just sent on s_a, as bytes, becomes a seed. */
static void s_add_sent_seed(void)
{
    static uint8_t buf[65536];
    size_t n = s_raw(s_b, buf, sizeof buf);
    s_add_seed(buf, n);
}

/*  Valid messages of every shape (sent by wire_send_*), an attestation and a log entry. */
static void s_build_seeds(wire_out_t *o, tpk_t *w)
{
    s_add_seed(s_att, s_att_len);
    wire_items_t sub, tasks, vs, com, ref, seqs;
    wire_items_init(&sub, WIRE_SUBMIT);
    wire_items_init(&tasks, WIRE_TASKS);
    wire_items_init(&vs, WIRE_VERDICTS);
    wire_items_init(&com, WIRE_COMMITTED);
    wire_items_init(&ref, WIRE_REFUSE);
    wire_items_init(&seqs, WIRE_DONE);
    wire_items_t gap;
    wire_items_init(&gap, WIRE_GAP);
    for (uint64_t i = 0; i < 2; i++) {
        wire_range_t g = { 10 * i, 3 };
        wire_items_range(&gap, &g);
        wire_submit_t s = { .cseq = i, .att = s_att, .att_len = s_att_len };
        wire_task_t t = s_task(i);
        wire_verdict_t v = { .task = s_task(i), .t_verified = 9, .verdict = 1, .reason = 8, .id = s_id };
        wire_result_t r = { .key = 1, .index = 2, .verdict = 0, .reason = 0, .duplicate = true };
        wire_refusal_t rf = { .cseq = 1, .reason = 15 };
        wire_items_submit(&sub, &s);
        wire_items_task(&tasks, &t);
        wire_items_verdict(&vs, &v);
        wire_items_result(&com, &r);
        wire_items_refusal(&ref, &rf);
        wire_items_seq(&seqs, i + 1);
    }
    wire_sink_hello_t h = { .instance = "s", .instance_len = 1, .next_seq = 1, .next_index = 1, .epoch = 1,
                            .window = 64 };
    CHECK(wire_send_submit(o, &sub) == 0); s_add_sent_seed();
    CHECK(wire_send_tasks(o, NULL, 1, &tasks) == 0); s_add_sent_seed();
    CHECK(wire_send_verdicts(o, 1, "w", 1, &vs) == 0); s_add_sent_seed();
    CHECK(wire_send_committed(o, 1, 2, &com) == 0); s_add_sent_seed();
    CHECK(wire_send_refuse(o, NULL, &ref) == 0); s_add_sent_seed();
    CHECK(wire_send_done(o, &seqs, 2, 1500) == 0); s_add_sent_seed();
    CHECK(wire_send_sink_hello(o, &h) == 0); s_add_sent_seed();
    CHECK(wire_send_error(o, NULL, AT_ERR_SHAPE, "shape") == 0); s_add_sent_seed();
    CHECK(wire_send_ready(o, "w", 1, 5) == 0); s_add_sent_seed();
    CHECK(wire_send_empty(o, NULL, WIRE_PING) == 0); s_add_sent_seed();
    CHECK(wire_send_gap(o, 1, &gap) == 0); s_add_sent_seed();
    wire_items_destroy(&gap);
    wire_items_destroy(&sub);
    wire_items_destroy(&tasks);
    wire_items_destroy(&vs);
    wire_items_destroy(&com);
    wire_items_destroy(&ref);
    wire_items_destroy(&seqs);
    /* A log entry value, as logdb stores it. */
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
    s_add_seed(w->sb.data, w->sb.size);
}

static unsigned s_fuzz_bad;   /* decoder results outside the at_err range */

static void s_rc(at_err rc)
{
    if ((int) rc < 0 || (int) rc >= AT_ERR_COUNT_)
        s_fuzz_bad++;
}

/*  Runs every item decoder on every item of l (and the attestation decoder on each attestation). */
static void s_poke(const wire_list_t *l)
{
    union { wire_submit_t s; wire_task_t t; wire_verdict_t v; wire_result_t r; wire_refusal_t f; wire_range_t g; } out;
    uint64_t u;
    for (size_t i = 0; i < l->n; i++) {
        attestation_t a;
        if (wire_submit_at(l, i, &out.s) == AT_OK)
            s_rc(attestation_decode(&a, out.s.att, out.s.att_len));
        s_rc(wire_task_at(l, i, &out.t));
        s_rc(wire_verdict_at(l, i, &out.v));
        s_rc(wire_result_at(l, i, &out.r));
        s_rc(wire_refusal_at(l, i, &out.f));
        s_rc(wire_seq_at(l, i, &u));
        s_rc(wire_range_at(l, i, &out.g));
    }
}

/*  The batch of a decoded message, if it has one. */
static const wire_list_t *s_list_of(const wire_msg_t *m)
{
    switch (m->type) {
    case WIRE_SUBMIT: return &m->u.submit;
    case WIRE_ACK: return &m->u.ack;
    case WIRE_REFUSE: return &m->u.refuse;
    case WIRE_TASKS: return &m->u.tasks.items;
    case WIRE_POISON: return &m->u.poison.items;
    case WIRE_DONE: return &m->u.done.seqs;
    case WIRE_COMMITTED: return &m->u.committed.results;
    case WIRE_VERDICTS: return &m->u.verdicts.items;
    case WIRE_GAP: return &m->u.gap.ranges;
    default: return NULL;
    }
}

/*  judge: also run the full worker judgement (decode, Ed25519, time). Returns
 *  true when buf decoded as a message. */
static bool s_fuzz_one(const uint8_t *buf, size_t len, bool judge)
{
    wire_msg_t m;
    at_err rc = wire_decode(&m, buf, len);
    s_rc(rc);
    if (rc == AT_OK && s_list_of(&m))
        s_poke(s_list_of(&m));
    wire_msg_done(&m);
    attestation_t a;
    s_rc(attestation_decode(&a, buf, len));
    logdb_entry_t e;
    s_rc(logdb_entry_decode(&e, buf, len));
    uint8_t id[AT_ID_BYTES];
    if (judge)
        s_rc(attestation_judge(buf, len, 1700000100, 60, id));
    return rc == AT_OK;
}

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

static void test_fuzz(wire_out_t *o, tpk_t *w)
{
    s_build_seeds(o, w);
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
        ok_parses += s_fuzz_one(exact, len, which == 0);     /* seed 0 is the attestation */
        free(exact);
    }
    /* The pristine seeds still decode, and the mutations reached past the parser. */
    unsigned seeds_ok = 0;
    for (size_t i = 0; i < s_nseeds; i++)
        seeds_ok += s_fuzz_one(s_seeds[i].data, s_seeds[i].len, true);
    CHECK(seeds_ok == s_nseeds - 2);     /* all but the attestation and the log entry are messages */
    CHECK(s_fuzz_bad == 0);
    CHECK(iters < 1000 || ok_parses > iters / 100);
    printf("test_wire: fuzz: %lu iterations, %lu mutated messages still decoded\n", iters, ok_parses);
    for (size_t i = 0; i < s_nseeds; i++)
        free(s_seeds[i].data);
}

int main(void)
{
    CHECK_ERR(at_crypto_init(), AT_OK);
    s_make_attestation();
    s_sockets();
    wire_out_t o;
    wire_out_init(&o, s_a, "TEST-SEND");
    tpk_t w;
    msgpack_sbuffer_init(&w.sb);
    msgpack_packer_init(&w.pk, &w.sb, msgpack_sbuffer_write);
    test_rt_empty(&o);
    test_rt_frontend(&o);
    test_rt_submit(&o);
    test_rt_results(&o);
    test_rt_backend(&o);
    test_rt_sink(&o);
    test_rt_router();
    test_rt_frames_pair();
    CHECK(o.failures == 0 && o.sent > 20);
    test_type_names();
    test_message_rejections(&w);
    test_field_rejections(&w);
    test_batch_bounds(&w);
    test_gap_bounds(&w);
    test_item_rejections(&w);
    test_bounded(&w);
    test_fuzz(&o, &w);
    wire_out_destroy(&o);
    msgpack_sbuffer_destroy(&w.sb);
    s_close_sockets();
    return check_done("test_wire");
}
