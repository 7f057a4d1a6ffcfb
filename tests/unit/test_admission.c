/*  test_admission.c: producer sessions, credit and ACKs (broker/admission.c),
 *  together with the task ring (broker/tasks.c) as the broker uses them.
 *
 *  Covers: nothing granted while closed; HELLO, take, refund; ACKs gathered
 *  per producer; credit returned only when the ring frees a slot, so that a
 *  COMMITTED acknowledging all but the lowest seq of a full window cannot
 *  let one more attestation in; a producer that leaves with attestations in
 *  flight is kept until they are committed; REVOKE of an idle producer's
 *  grant; silence; a HELLO of the same instance and key on a new connection
 *  supersedes the old session (its grant is free at once), and nothing else does.
 */
#include "admission.h"
#include "check.h"
#include "tasks.h"

typedef struct {
    uint64_t credit, revoke;
    size_t acks, ack_msgs;
} s_sent_t;

static int s_credit(void *ctx, producer_t *p, uint64_t n)
{
    (void) p;
    ((s_sent_t *) ctx)->credit += n;
    return 0;
}

static int s_revoke(void *ctx, producer_t *p, uint64_t n)
{
    (void) p;
    ((s_sent_t *) ctx)->revoke += n;
    return 0;
}

static void s_acks(void *ctx, producer_t *p, const wire_items_t *acks)
{
    (void) p;
    s_sent_t *s = ctx;
    s->acks += wire_items_count(acks);
    s->ack_msgs++;
}

static void s_freed(void *ctx, struct producer_t *p) { admission_freed(ctx, p); }

static const uint8_t R1[] = { 1 }, R2[] = { 2 }, R3[] = { 3 }, R4[] = { 4 };

/*  A HELLO from rid (one byte) with an optional instance and key. */
static producer_t *s_hello(admission_t *a, const uint8_t *rid, const char *name, const uint8_t *instance,
                           const uint8_t *key, uint64_t now, uint64_t *grant)
{
    admission_hello_t h = { rid, 1, name, strlen(name), instance, key };
    return admission_hello(a, &h, now, grant);
}
static const uint8_t s_att[2] = { 9, 9 };

/*  Admits like the broker: credit first, then a ring slot. */
static bool s_submit(admission_t *a, tasks_t *t, producer_t *p, uint64_t cseq)
{
    if (!admission_take(a, p, 0))
        return false;
    if (!tasks_admit(t, p, cseq, 0, s_att, sizeof s_att)) {
        admission_refund(a, p);
        return false;
    }
    return true;
}

/*  The sink commits seq: ACK gathered, slot freed as the broker does. */
static void s_commit(admission_t *a, tasks_t *t, uint64_t seq, s_sent_t *sent)
{
    task_t *x = tasks_ack(t, seq);
    if (x) {
        wire_result_t r = { x->cseq, seq, 0, 0, false };
        admission_ack(a, x->producer, &r);
    }
    admission_flush_acks(a, s_acks, sent);
    tasks_advance(t, s_freed, a);
    admission_reap(a);
    admission_topup(a, s_credit, sent);
}

static void test_window_never_exceeded(void)
{
    admission_t *a = admission_new(64, 64, 1000000, 30000000);
    tasks_t *t = tasks_new(64, NULL, NULL);
    uint64_t grant;
    producer_t *p = s_hello(a, R1, "p1", NULL, NULL, 0, &grant);
    CHECK(grant == 0);                       /* closed: no sink yet */
    CHECK(!s_submit(a, t, p, 1));
    admission_set_open(a, true);
    s_sent_t sent = { 0 };
    admission_topup(a, s_credit, &sent);
    CHECK(sent.credit == 64);
    for (uint64_t i = 0; i < 64; i++)
        CHECK(s_submit(a, t, p, i));
    CHECK(!s_submit(a, t, p, 64));           /* credit spent */
    /* COMMITTED acknowledges all but the lowest seq. */
    sent = (s_sent_t) { 0 };
    for (uint64_t seq = 1; seq < 64; seq++)
        s_commit(a, t, seq, &sent);
    CHECK(sent.acks == 63);
    CHECK(sent.credit == 0);                 /* nothing freed: no credit back */
    CHECK(!s_submit(a, t, p, 65));
    CHECK(tasks_held(t) == 64);
    s_commit(a, t, 0, &sent);
    CHECK(sent.acks == 64 && sent.credit == 64);
    CHECK(s_submit(a, t, p, 66));
    tasks_destroy(&t);
    admission_destroy(&a);
    CHECK(a == NULL);
}

static void test_leave_with_inflight(void)
{
    admission_t *a = admission_new(100, 50, 1000000, 30000000);
    tasks_t *t = tasks_new(100, NULL, NULL);
    admission_set_open(a, true);
    uint64_t grant;
    producer_t *p = s_hello(a, R1, "p1", NULL, NULL, 0, &grant);
    CHECK(grant == 50 && admission_sessions(a) == 1);
    CHECK(admission_find(a, R1, 1, 1) == p && admission_find(a, R2, 1, 1) == NULL);
    CHECK(strcmp(producer_name(p), "p1") == 0 && producer_peer(p)->rid[0] == 1);
    for (uint64_t i = 0; i < 3; i++)
        CHECK(s_submit(a, t, p, i));
    admission_leave(a, p, "bye");
    CHECK(admission_sessions(a) == 0 && admission_find(a, R1, 1, 2) == NULL);
    s_sent_t sent = { 0 };
    s_commit(a, t, 0, &sent);
    CHECK(sent.acks == 0);                   /* no session: nobody to tell */
    s_commit(a, t, 1, &sent);
    s_commit(a, t, 2, &sent);                /* the last: the producer is freed (ASan checks) */
    CHECK(admission_in_use(a) == 0);
    tasks_destroy(&t);
    admission_destroy(&a);
}

static void test_reclaim_and_expiry(void)
{
    admission_t *a = admission_new(100, 100, 1000000, 30000000);
    admission_set_open(a, true);
    uint64_t grant;
    producer_t *p1 = s_hello(a, R1, "idle", NULL, NULL, 0, &grant);
    CHECK(grant == 100);
    producer_t *p2 = s_hello(a, R2, "busy", NULL, NULL, 0, &grant);
    CHECK(grant == 0 && p2 != p1);           /* the pool is empty */
    s_sent_t sent = { 0 };
    CHECK(admission_reclaim(a, 2000000, s_revoke, &sent) == 1);   /* p1 idle for 2 s */
    CHECK(sent.revoke > 0 && producer_idle(p1));
    CHECK(admission_reclaim(a, 2050000, s_revoke, &sent) == 0);   /* within 100 ms: no scan */
    uint64_t back = admission_release(a, p1, sent.revoke);
    CHECK(back == sent.revoke);
    admission_topup(a, s_credit, &sent);
    CHECK(sent.credit > 0 && admission_granted(a) <= 100);
    admission_find(a, R2, 1, 20000000);      /* p2 speaks; p1 stays silent */
    admission_expire(a, 31000000);
    CHECK(admission_sessions(a) == 1 && admission_find(a, R2, 1, 31000000) == p2);
    admission_destroy(&a);
}

static void test_supersede(void)
{
    admission_t *a = admission_new(100, 100, 1000000, 30000000);
    tasks_t *t = tasks_new(100, NULL, NULL);
    admission_set_open(a, true);
    uint8_t inst[WIRE_INSTANCE_BYTES], other[WIRE_INSTANCE_BYTES], k1[WIRE_KEY_BYTES], k2[WIRE_KEY_BYTES];
    memset(inst, 7, sizeof inst);
    memset(other, 8, sizeof other);
    memset(k1, 1, sizeof k1);
    memset(k2, 2, sizeof k2);
    uint64_t grant;
    producer_t *p = s_hello(a, R1, "p", inst, k1, 0, &grant);
    CHECK(grant == 100 && producer_key(p) && producer_key(p)[0] == 1);
    CHECK(s_submit(a, t, p, 1) && s_submit(a, t, p, 2));
    /* The same instance under another key, another instance, no instance: new sessions, no credit left. */
    CHECK(s_hello(a, R2, "p", inst, k2, 1, &grant) != p && grant == 0);
    CHECK(s_hello(a, R3, "p", other, k1, 1, &grant) != p && grant == 0);
    CHECK(s_hello(a, R4, "p", NULL, k1, 1, &grant) != p && grant == 0);
    CHECK(admission_sessions(a) == 4 && admission_superseded(a) == 0);
    /* A repeated HELLO on the same connection refreshes it. */
    CHECK(s_hello(a, R1, "p", inst, k1, 2, &grant) == p && admission_sessions(a) == 4);
    /* The same instance and key on a new connection: p's unspent 98 go back to the pool at once and the
     * new session gets its share of four (25); p's two attestations stay in the pipeline (held by the old
     * producer until committed). */
    uint8_t R5[] = { 5 };
    producer_t *q = s_hello(a, R5, "p", inst, k1, 3, &grant);
    CHECK(grant == 25 && admission_superseded(a) == 1 && admission_sessions(a) == 4);
    CHECK(admission_find(a, R1, 1, 3) == NULL && admission_find(a, R5, 1, 3) == q);
    CHECK(admission_in_use(a) == 2 + 25);
    s_sent_t sent = { 0 };
    s_commit(a, t, 0, &sent);
    s_commit(a, t, 1, &sent);                /* the old producer's two: no ACK, credit back to the pool */
    CHECK(sent.acks == 0 && admission_in_use(a) <= 100);
    /* Plaintext (no key on either side) supersedes too. */
    uint8_t R6[] = { 6 }, R7[] = { 7 };
    CHECK(s_hello(a, R6, "x", other, NULL, 4, &grant) != NULL);
    producer_t *r7 = s_hello(a, R7, "x", other, NULL, 5, &grant);   /* (R6's, holding nothing, is freed) */
    CHECK(admission_superseded(a) == 2);
    CHECK(admission_find(a, R6, 1, 5) == NULL && admission_find(a, R7, 1, 5) == r7);
    tasks_destroy(&t);
    admission_destroy(&a);
}

static void test_unreachable(void)
{
    admission_t *a = admission_new(100, 100, 1000000, 30000000);
    tasks_t *t = tasks_new(100, NULL, NULL);
    admission_set_open(a, true);
    uint64_t grant;
    producer_t *p = s_hello(a, R1, "dead", NULL, NULL, 0, &grant);
    CHECK(grant == 100 && s_submit(a, t, p, 1));
    producer_t *q = s_hello(a, R2, "alive", NULL, NULL, 0, &grant);
    CHECK(grant == 0);
    CHECK(admission_drop_unreachable(a) == 0);
    admission_unreachable(a, p);
    admission_unreachable(a, p);             /* twice: one session ended */
    CHECK(admission_sessions(a) == 2);       /* marked only: callbacks may be iterating */
    CHECK(admission_drop_unreachable(a) == 1);
    CHECK(admission_sessions(a) == 1 && admission_find(a, R1, 1, 1) == NULL && admission_find(a, R2, 1, 1) == q);
    CHECK(admission_in_use(a) == 1);         /* p's one attestation still held, its 99 unspent back */
    s_sent_t sent = { 0 };
    admission_topup(a, s_credit, &sent);
    CHECK(sent.credit == 99);
    s_commit(a, t, 0, &sent);                /* p's attestation: no ACK, p freed (ASan) */
    CHECK(sent.acks == 0);
    tasks_destroy(&t);
    admission_destroy(&a);
}

int main(void)
{
    test_window_never_exceeded();
    test_leave_with_inflight();
    test_reclaim_and_expiry();
    test_supersede();
    test_unreachable();
    return check_done("test_admission");
}
