/*  test_tasks.c: the broker's task ring and dispatch queue (broker/tasks.c).
 *
 *  Covers: admission up to the window and not one more; queue order and
 *  stale entries; dispatch, DONE and acknowledgement; slots freed only from
 *  the base (a lost COMMITTED never makes room); the three requeues and the
 *  released callback; renumbering an empty ring; poison: a task whose
 *  worker dies holding it N times in a row becomes TASK_POISON (never
 *  queued again, redelivered as poison), a DONE resets the count, uncharged
 *  requeues do not count, suspects are found by worker; redelivery skips
 *  the seqs the sink holds; GAP (tasks_gap): only DISPATCHED or VERIFIED
 *  tasks old enough are redispatched, at the front and in seq order, at
 *  most once per min_age, uncharged, released from their worker (whose
 *  later DONE is late); a worker a GAP moved a task away from is charged
 *  with it if it dies before the task's DONE (so poison still counts every
 *  death), once, and not when the task came back to it.
 */
#include "check.h"
#include "tasks.h"

/* Workers and producers are opaque to the ring: any distinct addresses do. */
static char s_w1, s_w2, s_w3, s_p;
#define W1 ((struct worker_t *) &s_w1)
#define W2 ((struct worker_t *) &s_w2)
#define W3 ((struct worker_t *) &s_w3)
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

/*  GAP: what is taken, in which order, and how often. */
static void test_gap(void)
{
    tasks_t *t = tasks_new(16, s_released, NULL);
    tasks_set_poison(t, 5);
    for (uint64_t i = 0; i < 8; i++)
        tasks_admit(t, P, 100 + i, 0, s_att, sizeof s_att);
    /* 0..3 to W1 at 100, 4 to W2 at 100 and verified at 150; 5 to W2 at 900; 6, 7 stay queued. */
    for (uint64_t i = 0; i < 5; i++)
        s_dispatch(t, i, i < 4 ? W1 : W2, 100);
    s_dispatch(t, 5, W2, 900);
    uint64_t waited;
    CHECK(tasks_verified(t, 4, W2, 150, &waited));
    CHECK(tasks_ack(t, 3) != NULL);                 /* 3 acknowledged: ignored */
    s_released_w1 = s_released_w2 = 0;
    /* At 1000 with min age 500: 0, 1, 2 (dispatched), 4 (verified); not 3 (acked), 5 (too young), 6, 7 (queued). */
    CHECK(tasks_gap(t, 0, 8, 1000, 500) == 4);
    CHECK(s_released_w1 == 3 && s_released_w2 == 0);   /* the dispatched ones leave W1's count */
    CHECK(tasks_suspects(t) == 0 && tasks_get(t, 0)->failures == 0);   /* not a death: nothing charged */
    CHECK(tasks_get(t, 0)->moved_from == W1 && tasks_get(t, 4)->moved_from == NULL);
    CHECK(tasks_get(t, 5)->state == TASK_DISPATCHED && tasks_get(t, 5)->worker == W2);
    /* At the front of the queue, in seq order, before the ones that were waiting. */
    uint64_t order[] = { 0, 1, 2, 4, 6, 7 };
    for (size_t i = 0; i < 6; i++)
        CHECK(tasks_pop(t)->seq == order[i]);
    CHECK(tasks_pop(t) == NULL);
    for (size_t i = 0; i < 6; i++)
        tasks_unpop(t, tasks_get(t, order[5 - i]));
    /* The same GAP again at once: they are queued, nothing happens. */
    CHECK(tasks_gap(t, 0, 8, 1001, 500) == 0);
    for (size_t i = 0; i < 4; i++)
        s_dispatch(t, order[i], W2, 1100);
    /* Once per min age: not at 1500, and a DISPATCHED one moved before is not moved again before its DONE. */
    CHECK(tasks_gap(t, 0, 5, 1500, 500) == 0);
    CHECK(tasks_gap(t, 4, 1, 1700, 500) == 1);      /* 4 was never moved while held: it may go */
    CHECK(tasks_gap(t, 0, 3, 5000, 500) == 0);      /* 0..2: moved once, not reported since */
    /* W1's late DONE for 0 is late; W2's counts and clears the move. */
    CHECK(!tasks_verified(t, 0, W1, 5000, &waited));
    CHECK(tasks_verified(t, 0, W2, 5000, &waited) && tasks_get(t, 0)->moved_from == NULL);
    /* A verified one may go every min age (its verdict was lost on the way). */
    CHECK(tasks_gap(t, 0, 1, 5400, 500) == 0 && tasks_gap(t, 0, 1, 5500, 500) == 1);
    /* Ranges are clipped to the ring; a count that would wrap does not. */
    CHECK(tasks_gap(t, 100, 5, 9000, 0) == 0);
    CHECK(tasks_gap(t, 2, UINT64_MAX, 9000, 0) == 1);   /* 5 only: 2 moved and held, 3 acked, 4, 6, 7 queued */
    CHECK(tasks_get(t, 5)->state == TASK_QUEUED && tasks_get(t, 5)->moved_from == W2);
    tasks_destroy(&t);
}

/*  The death of a worker a GAP took tasks from is still charged to them. */
static void test_gap_poison(void)
{
    tasks_t *t = tasks_new(16, s_released, NULL);
    tasks_set_poison(t, 3);
    tasks_admit(t, P, 1, 0, s_att, sizeof s_att);   /* 0: the poison */
    tasks_admit(t, P, 2, 0, s_att, sizeof s_att);   /* 1: innocent */
    s_dispatch(t, 0, W1, 10);
    s_dispatch(t, 1, W1, 10);
    /* W1 crashed on 0; before the broker notices, a GAP moves both to W2, which crashes too. */
    CHECK(tasks_gap(t, 0, 2, 500, 200) == 2);
    s_dispatch(t, 0, W2, 510);
    s_dispatch(t, 1, W2, 510);
    /* W1 is dropped first: charged to both (they left it without a DONE), not requeued (W2 holds them). */
    CHECK(tasks_requeue_worker(t, W1, true) == 0);
    CHECK(tasks_get(t, 0)->failures == 1 && tasks_get(t, 1)->failures == 1 && tasks_suspects(t) == 2);
    CHECK(tasks_get(t, 0)->state == TASK_DISPATCHED && tasks_get(t, 0)->worker == W2);
    CHECK(tasks_get(t, 0)->moved_from == NULL);
    CHECK(tasks_requeue_worker(t, W1, true) == 0 && tasks_get(t, 0)->failures == 1);   /* once */
    CHECK(tasks_holds_suspect(t, W2));
    CHECK(tasks_requeue_worker(t, W2, true) == 2);   /* the second death */
    CHECK(tasks_get(t, 0)->failures == 2 && tasks_get(t, 1)->failures == 2);
    /* The innocent one alone on W1: reported, cleared. The suspect 0 alone on W3 is not taken by a GAP. */
    s_dispatch(t, 0, W3, 600);
    uint64_t waited;
    task_t *x = tasks_pop(t);
    CHECK(x && x->seq == 1);
    tasks_dispatched(t, x, W1, 1000, 600);
    CHECK(tasks_verified(t, 1, W1, 610, &waited) && tasks_get(t, 1)->failures == 0);
    /* W3 crashed on 0: the suspect stays with it, so that its death is charged to it alone. */
    CHECK(tasks_gap(t, 0, 1, 900, 200) == 0 && tasks_get(t, 0)->worker == W3);
    CHECK(tasks_requeue_worker(t, W3, true) == 1);   /* the third death: poison */
    CHECK(x->failures == 0);
    task_t *p = tasks_get(t, 0);
    CHECK(p->poison && p->state == TASK_POISON && tasks_poison_pending(t) == 1 && tasks_poison_count(t) == 1);
    CHECK(tasks_pop(t) == NULL && tasks_suspects(t) == 0);
    tasks_destroy(&t);
}

/*  A task moved while queued gets poison from a late-charged death: its stale queue entry is never dispatched. */
static void test_gap_poison_queued(void)
{
    tasks_t *t = tasks_new(8, s_released, NULL);
    tasks_set_poison(t, 1);
    tasks_admit(t, P, 1, 0, s_att, sizeof s_att);
    s_dispatch(t, 0, W1, 10);
    CHECK(tasks_gap(t, 0, 1, 500, 200) == 1 && tasks_get(t, 0)->state == TASK_QUEUED);
    CHECK(tasks_requeue_worker(t, W1, true) == 0);     /* W1 died before the task was dispatched again */
    task_t *p = tasks_get(t, 0);
    CHECK(p->poison && p->state == TASK_POISON && tasks_poison_pending(t) == 1);
    CHECK(tasks_pop(t) == NULL);
    tasks_destroy(&t);
}

/*  A move without a death charges nothing; a task back with its old worker is charged once. */
static void test_gap_uncharged(void)
{
    tasks_t *t = tasks_new(8, s_released, NULL);
    tasks_set_poison(t, 5);
    tasks_admit(t, P, 1, 0, s_att, sizeof s_att);
    s_dispatch(t, 0, W1, 10);
    CHECK(tasks_gap(t, 0, 1, 500, 200) == 1);
    s_dispatch(t, 0, W2, 510);
    CHECK(tasks_requeue_worker(t, W1, false) == 0);   /* W1 re-sent READY (a restart): not charged */
    CHECK(tasks_get(t, 0)->failures == 0 && tasks_get(t, 0)->moved_from == NULL);
    CHECK(tasks_requeue_worker(t, W2, false) == 1);   /* requeued, uncharged */
    s_dispatch(t, 0, W1, 600);
    CHECK(tasks_gap(t, 0, 1, 900, 200) == 1);          /* moved from W1 ... */
    s_dispatch(t, 0, W1, 910);                         /* ... and back to W1 */
    CHECK(tasks_get(t, 0)->moved_from == NULL);
    CHECK(tasks_requeue_worker(t, W1, true) == 1 && tasks_get(t, 0)->failures == 1);   /* one death, once */
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
    test_gap();
    test_gap_poison();
    test_gap_poison_queued();
    test_gap_uncharged();
    return check_done("test_tasks");
}
