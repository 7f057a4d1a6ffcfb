/*  test_tasks.c: the broker's task ring and dispatch queue (broker/tasks.c).
 *
 *  Covers: admission up to the window and not one more; queue order and
 *  stale entries; dispatch, DONE and acknowledgement; slots freed only from
 *  the base (a lost COMMITTED never makes room); the three requeues and the
 *  released callback; renumbering an empty ring; poison: a task whose
 *  worker dies holding it N times in a row becomes TASK_POISON (never
 *  queued again, redelivered as poison), a DONE resets the count, uncharged
 *  requeues do not count, suspects are found by worker; redelivery skips
 *  the seqs the sink holds.
 */
#include "check.h"
#include "tasks.h"

/* Workers and producers are opaque to the ring: any distinct addresses do. */
static char s_w1, s_w2, s_p;
#define W1 ((struct worker_t *) &s_w1)
#define W2 ((struct worker_t *) &s_w2)
#define P ((struct producer_t *) &s_p)

static int s_released_w1, s_released_w2, s_freed;

static void s_released(void *ctx, struct worker_t *w)
{
    (void) ctx;
    if (w == W1)
        s_released_w1++;
    else if (w == W2)
        s_released_w2++;
}

static void s_on_freed(void *ctx, struct producer_t *p)
{
    (void) ctx;
    CHECK(p == P);
    s_freed++;
}

static const uint8_t s_att[3] = { 1, 2, 3 };

static void test_window_bound(void)
{
    tasks_t *t = tasks_new(4, NULL, NULL);
    for (uint64_t i = 0; i < 4; i++)
        CHECK(tasks_admit(t, P, i, 0, s_att, sizeof s_att) != NULL);
    CHECK(tasks_full(t));
    CHECK(tasks_admit(t, P, 9, 0, s_att, sizeof s_att) == NULL);   /* never past the window */
    CHECK(tasks_held(t) == 4 && tasks_next_seq(t) == 4);
    /* A COMMITTED that acknowledges all but the lowest frees nothing. */
    for (uint64_t seq = 1; seq < 4; seq++)
        CHECK(tasks_ack(t, seq) != NULL);
    s_freed = 0;
    CHECK(tasks_advance(t, s_on_freed, NULL) == 0 && s_freed == 0);
    CHECK(tasks_full(t));
    CHECK(tasks_admit(t, P, 10, 0, s_att, sizeof s_att) == NULL);
    CHECK(tasks_ack(t, 2) == NULL);        /* already acknowledged */
    CHECK(tasks_ack(t, 0) != NULL);
    CHECK(tasks_advance(t, s_on_freed, NULL) == 4 && s_freed == 4);
    CHECK(tasks_held(t) == 0 && tasks_base(t) == 4);
    task_t *x = tasks_admit(t, P, 11, 0, s_att, sizeof s_att);
    CHECK(x && x->seq == 4 && x->cseq == 11 && x->att_len == 3 && x->att[2] == 3);
    CHECK(tasks_ack(t, 99) == NULL);       /* not in the ring */
    tasks_destroy(&t);
    CHECK(t == NULL);
    tasks_destroy(&t);
}

static void test_dispatch_done_ack(void)
{
    tasks_t *t = tasks_new(16, s_released, NULL);
    for (uint64_t i = 0; i < 3; i++)
        tasks_admit(t, P, 100 + i, 50, s_att, sizeof s_att);
    task_t *a = tasks_pop(t), *b = tasks_pop(t);
    CHECK(a && a->seq == 0 && b && b->seq == 1);
    tasks_dispatched(t, a, W1, 1000, 10);
    tasks_unpop(t, b);                              /* send failed: back in front */
    CHECK(tasks_pop(t) == b);
    tasks_dispatched(t, b, W2, 1000, 10);
    uint64_t waited = 0;
    CHECK(!tasks_verified(t, 0, W2, 30, &waited));  /* not its task */
    CHECK(tasks_verified(t, 0, W1, 30, &waited) && waited == 20);
    CHECK(a->state == TASK_VERIFIED && a->t_dispatched == 1000);
    CHECK(!tasks_verified(t, 0, W1, 40, &waited));  /* a late second DONE */
    s_released_w2 = 0;
    CHECK(tasks_ack(t, 1) == b && s_released_w2 == 1);   /* acked while W2 held it */
    /* A queued task acknowledged (a new sink answered it) is skipped by pop. */
    CHECK(tasks_ack(t, 2) != NULL);
    CHECK(tasks_pop(t) == NULL);
    tasks_destroy(&t);
}

static void test_requeues(void)
{
    tasks_t *t = tasks_new(16, s_released, NULL);
    for (uint64_t i = 0; i < 6; i++)
        tasks_admit(t, P, i, 0, s_att, sizeof s_att);
    for (uint64_t i = 0; i < 6; i++)
        tasks_dispatched(t, tasks_pop(t), i % 2 ? W2 : W1, 0, 100);
    uint64_t w;
    CHECK(tasks_verified(t, 4, W1, 200, &w));       /* 4 is VERIFIED */
    s_released_w1 = s_released_w2 = 0;
    CHECK(tasks_requeue_worker(t, W1, false) == 2); /* 0 and 2; not the verified 4 */
    CHECK(s_released_w1 == 2 && s_released_w2 == 0);
    CHECK(tasks_pop(t)->seq == 0 && tasks_pop(t)->seq == 2 && tasks_pop(t) == NULL);
    /* 1, 3, 5 dispatched at 100, 4 verified at 200: older than 150 at 300 are 1, 3, 5. */
    CHECK(tasks_requeue_older(t, 300, 150, 0, 0) == 3);
    CHECK(s_released_w2 == 3);
    CHECK(tasks_pop(t)->seq == 1 && tasks_pop(t)->seq == 3 && tasks_pop(t)->seq == 5);
    CHECK(tasks_requeue_all(t) == 1);               /* only 4 was still in flight */
    CHECK(tasks_pop(t)->seq == 4);
    tasks_destroy(&t);
}

/*  Redelivery skips the seqs the sink says it holds (SINK_HELLO held). */
static void test_requeue_held(void)
{
    tasks_t *t = tasks_new(16, NULL, NULL);
    for (uint64_t i = 0; i < 6; i++)
        tasks_admit(t, P, i, 0, s_att, sizeof s_att);
    uint64_t w;
    for (uint64_t i = 0; i < 6; i++) {
        tasks_dispatched(t, tasks_pop(t), W1, 0, 100);
        CHECK(tasks_verified(t, i, W1, 100, &w));
    }
    /* The sink holds 1..3 (a full disk): only 0, 4 and 5 are sent again. */
    CHECK(tasks_requeue_older(t, 1000, 100, 1, 4) == 3);
    CHECK(tasks_pop(t)->seq == 0 && tasks_pop(t)->seq == 4 && tasks_pop(t)->seq == 5 && tasks_pop(t) == NULL);
    CHECK(tasks_get(t, 2)->state == TASK_VERIFIED);
    /* Once the sink no longer vouches for them they go too. */
    CHECK(tasks_requeue_older(t, 1000, 100, 0, 0) == 3);
    CHECK(tasks_pop(t)->seq == 1);
    tasks_destroy(&t);
}

static void test_restart_and_compaction(void)
{
    tasks_t *t = tasks_new(4, NULL, NULL);
    tasks_restart_at(t, 1000);
    CHECK(tasks_base(t) == 1000 && tasks_next_seq(t) == 1000);
    /* Tasks acknowledged while queued leave stale entries; once the deque
     * (2 x window) is full it is rebuilt from the ring. */
    for (int round = 0; round < 2; round++) {
        for (uint64_t i = 0; i < 4; i++)
            tasks_admit(t, P, i, 0, s_att, sizeof s_att);
        for (uint64_t i = 0; i < 4; i++)
            CHECK(tasks_ack(t, tasks_base(t) + i) != NULL);
        CHECK(tasks_advance(t, NULL, NULL) == 4);
    }
    CHECK(tasks_queued(t) == 8);
    task_t *x = tasks_admit(t, P, 42, 0, s_att, sizeof s_att);
    CHECK(x && x->seq == 1008);
    CHECK(tasks_queued(t) == 1);               /* rebuilt: only the live one */
    CHECK(tasks_pop(t) == x && tasks_pop(t) == NULL);
    tasks_destroy(&t);
}

/*  Dispatches the queued task of seq to w and checks it is that one. */
static task_t *s_dispatch(tasks_t *t, uint64_t seq, struct worker_t *w, uint64_t mono)
{
    task_t *x = tasks_pop(t);
    CHECK(x && x->seq == seq);
    if (x)
        tasks_dispatched(t, x, w, 1000, mono);
    return x;
}

static void test_poison(void)
{
    tasks_t *t = tasks_new(16, s_released, NULL);
    tasks_set_poison(t, 3);
    tasks_admit(t, P, 7, 0, s_att, sizeof s_att);    /* seq 0: the poison */
    tasks_admit(t, P, 8, 0, s_att, sizeof s_att);    /* seq 1: innocent, shares the first batch */
    s_dispatch(t, 0, W1, 10);
    s_dispatch(t, 1, W1, 10);
    CHECK(tasks_suspects(t) == 0 && !tasks_holds_suspect(t, W1));
    CHECK(tasks_requeue_worker(t, W1, true) == 2);   /* W1 died: both charged once */
    CHECK(tasks_get(t, 0)->failures == 1 && tasks_get(t, 1)->failures == 1 && tasks_suspects(t) == 2);
    /* The innocent one, dispatched alone this time, is reported: its count starts again. */
    s_dispatch(t, 0, W2, 20);
    s_dispatch(t, 1, W1, 20);
    CHECK(tasks_holds_suspect(t, W1) && tasks_holds_suspect(t, W2));
    uint64_t waited;
    CHECK(tasks_verified(t, 1, W1, 30, &waited));
    CHECK(tasks_get(t, 1)->failures == 0 && tasks_suspects(t) == 1 && !tasks_holds_suspect(t, W1));
    /* Uncharged requeues (the sink was lost, a redelivery, a new sink) do not count. */
    CHECK(tasks_requeue_worker(t, W2, false) == 1 && tasks_get(t, 0)->failures == 1);
    s_dispatch(t, 0, W2, 40);
    CHECK(tasks_requeue_older(t, 100, 10, 0, 0) == 2 && tasks_get(t, 0)->failures == 1);   /* 0, and the verified 1 */
    CHECK(tasks_pop(t)->seq == 0 && tasks_pop(t)->seq == 1);
    task_t *x = tasks_get(t, 0);
    tasks_dispatched(t, x, W2, 1000, 110);
    tasks_dispatched(t, tasks_get(t, 1), W1, 1000, 110);
    CHECK(tasks_verified(t, 1, W1, 120, &waited));
    CHECK(tasks_requeue_worker(t, W2, true) == 1 && x->failures == 2 && !x->poison && x->state == TASK_QUEUED);
    CHECK(tasks_poison_pending(t) == 0 && tasks_poison_count(t) == 0);
    s_dispatch(t, 0, W2, 130);
    /* The third death in a row: poison, not queued again. */
    CHECK(tasks_requeue_worker(t, W2, true) == 1);
    CHECK(x->poison && x->state == TASK_POISON && tasks_pop(t) == NULL && tasks_queued(t) == 0);
    CHECK(tasks_poison_pending(t) == 1 && tasks_poison_count(t) == 1 && tasks_suspects(t) == 0);
    task_t *out[4];
    CHECK(tasks_poisoned(t, out, 4) == 1 && out[0] == x);
    tasks_poison_sent(t, x, 140);
    CHECK(x->state == TASK_VERIFIED && tasks_poison_pending(t) == 0 && tasks_poisoned(t, out, 4) == 0);
    /* A POISON lost on the way: redelivery sends it to the sink again, never to a worker. */
    CHECK(tasks_requeue_older(t, 300, 100, 0, 0) == 2);    /* 0 (sent at 140) and 1 (verified at 120) */
    CHECK(x->state == TASK_POISON && tasks_poison_pending(t) == 1);
    CHECK(tasks_pop(t)->seq == 1 && tasks_pop(t) == NULL);
    CHECK(tasks_requeue_all(t) == 0);               /* nothing in flight: 0 waits for the sink, 1 for a worker */
    /* The sink's COMMITTED acknowledges it like any verdict. */
    CHECK(tasks_ack(t, 0) == x && tasks_poison_pending(t) == 0);
    CHECK(tasks_ack(t, 1) != NULL);
    CHECK(tasks_advance(t, NULL, NULL) == 2 && tasks_held(t) == 0);
    CHECK(tasks_suspects(t) == 0 && tasks_poison_count(t) == 1);
    tasks_destroy(&t);
}

static void test_poison_first_death(void)
{
    tasks_t *t = tasks_new(4, NULL, NULL);
    tasks_set_poison(t, 1);                          /* poison-deliveries 1: the first death */
    tasks_admit(t, P, 1, 0, s_att, sizeof s_att);
    s_dispatch(t, 0, W1, 10);
    CHECK(tasks_requeue_worker(t, W1, true) == 1 && tasks_get(t, 0)->state == TASK_POISON);
    /* Acknowledged while still waiting for the sink (answered from the log). */
    CHECK(tasks_ack(t, 0) != NULL && tasks_poison_pending(t) == 0);
    CHECK(tasks_advance(t, NULL, NULL) == 1);
    tasks_restart_at(t, 50);                         /* the counters are back to 0 */
    /* Without tasks_set_poison a task is never poison. */
    tasks_t *u = tasks_new(4, NULL, NULL);
    tasks_admit(u, P, 1, 0, s_att, sizeof s_att);
    for (int i = 0; i < 50; i++) {
        s_dispatch(u, 0, W1, 10);
        CHECK(tasks_requeue_worker(u, W1, true) == 1);
    }
    CHECK(tasks_get(u, 0)->failures == 50 && tasks_get(u, 0)->state == TASK_QUEUED && tasks_poison_count(u) == 0);
    tasks_destroy(&u);
    tasks_destroy(&t);
}

int main(void)
{
    test_window_bound();
    test_dispatch_done_ack();
    test_requeues();
    test_requeue_held();
    test_restart_and_compaction();
    test_poison();
    test_poison_first_death();
    return check_done("test_tasks");
}
