/*  test_tasks.c: the broker's task ring and dispatch queue (broker/tasks.c).
 *
 *  Covers: admission up to the window and not one more; queue order and
 *  stale entries; dispatch, DONE and acknowledgement; slots freed only from
 *  the base (a lost COMMITTED never makes room); the three requeues and the
 *  released callback; renumbering an empty ring.
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
    CHECK(tasks_requeue_worker(t, W1) == 2);        /* 0 and 2; not the verified 4 */
    CHECK(s_released_w1 == 2 && s_released_w2 == 0);
    CHECK(tasks_pop(t)->seq == 0 && tasks_pop(t)->seq == 2 && tasks_pop(t) == NULL);
    /* 1, 3, 5 dispatched at 100, 4 verified at 200: older than 150 at 300 are 1, 3, 5. */
    CHECK(tasks_requeue_older(t, 300, 150) == 3);
    CHECK(s_released_w2 == 3);
    CHECK(tasks_pop(t)->seq == 1 && tasks_pop(t)->seq == 3 && tasks_pop(t)->seq == 5);
    CHECK(tasks_requeue_all(t) == 1);               /* only 4 was still in flight */
    CHECK(tasks_pop(t)->seq == 4);
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

int main(void)
{
    test_window_bound();
    test_dispatch_done_ack();
    test_requeues();
    test_restart_and_compaction();
    return check_done("test_tasks");
}
