/*  test_workers.c: the worker registry and the dispatch choice (broker/workers.c).
 *
 *  Covers: registration and lookup by routing id; an even share of a small
 *  queue over idle workers; the chunk and congestion-window limits; no
 *  dribbling to a busy worker; credit returned by DONE; the window shrinking
 *  for a slow worker and growing for a fast one; drain and stop-at-once;
 *  silence; a failed send; a repeated READY that keeps what the worker
 *  holds; a worker blocked on the sink kept and given nothing.
 */
#include "check.h"
#include "workers.h"

typedef struct {
    worker_t *who[64];
    size_t max[64];
    size_t n;
    size_t give;     /* how many of max to "send" (SIZE_MAX: all) */
} s_log_t;

static size_t s_send(void *ctx, worker_t *w, size_t max)
{
    s_log_t *l = ctx;
    if (l->n < 64) {
        l->who[l->n] = w;
        l->max[l->n++] = max;
    }
    return l->give < max ? l->give : max;
}

static const uint8_t R1[] = { 0, 1 }, R2[] = { 0, 2 };

static void test_register_and_share(void)
{
    workers_t *ws = workers_new(128, 20000, 5000000);
    bool restarted;
    worker_t *a = workers_ready(ws, R1, 2, "a/0", 3, 512, 0, &restarted);
    CHECK(!restarted && workers_count(ws) == 1);
    worker_t *b = workers_ready(ws, R2, 2, "b/0", 3, 512, 0, &restarted);
    CHECK(workers_find(ws, R1, 2, 1) == a && workers_find(ws, R2, 2, 1) == b);
    CHECK(strcmp(worker_id(a), "a/0") == 0 && worker_peer(a)->rid_len == 2);
    CHECK(worker_cap(a) == WORKERS_CAP_START);
    s_log_t l = { .give = SIZE_MAX };
    CHECK(workers_dispatch(ws, 10, s_send, &l) == 10);   /* a burst of 10: 5 each */
    CHECK(l.n == 2 && l.max[0] == 5 && l.max[1] == 5 && l.who[0] != l.who[1]);
    CHECK(worker_inflight(a) == 5 && worker_credit(a) == 507);
    /* A long queue: each gets at most its congestion window (64 at start). */
    l.n = 0;
    CHECK(workers_dispatch(ws, 10000, s_send, &l) == 2 * (64 - 5));
    CHECK(worker_inflight(a) == 64 && worker_inflight(b) == 64);
    workers_destroy(&ws);
    CHECK(ws == NULL);
}

static void test_done_and_window(void)
{
    workers_t *ws = workers_new(16, 20000, 5000000);
    bool r;
    worker_t *a = workers_ready(ws, R1, 2, "a", 1, 512, 0, &r);
    s_log_t l = { .give = SIZE_MAX };
    workers_dispatch(ws, 1000, s_send, &l);
    CHECK(worker_inflight(a) == 64);   /* chunks of 16 up to the window */
    CHECK(l.n == 4 && l.max[0] == 16);
    /* Fast reports grow the window by a quarter of what was reported. */
    CHECK(!workers_done(ws, a, 16, 16, 1000, 16, 100));
    CHECK(worker_cap(a) == 68 && worker_inflight(a) == 48 && worker_credit(a) == 512 - 64 + 16);
    /* A report that waited past the target cuts it by a quarter, once per target interval. */
    CHECK(!workers_done(ws, a, 16, 16, 50000, 16, 30000));
    CHECK(worker_cap(a) == 51);
    CHECK(!workers_done(ws, a, 16, 16, 50000, 16, 30001));
    CHECK(worker_cap(a) == 51);
    /* No dribbling: holding a chunk already, it gets a full chunk or nothing. */
    l.n = 0;
    CHECK(workers_dispatch(ws, 1000, s_send, &l) == 32);   /* room 51-16=35: two chunks; 3 left < 16: none */
    CHECK(worker_inflight(a) == 48);
    workers_destroy(&ws);
}

static void test_drain_and_expiry(void)
{
    workers_t *ws = workers_new(16, 20000, 5000000);
    bool r, at_once;
    worker_t *a = workers_ready(ws, R1, 2, "a", 1, 512, 0, &r);
    worker_t *b = workers_ready(ws, R2, 2, "b", 1, 512, 0, &r);
    s_log_t l = { .give = SIZE_MAX };
    workers_dispatch(ws, 8, s_send, &l);                      /* 4 each */
    CHECK(!workers_leave(ws, a, &at_once) && !at_once);        /* drain starts: LEAVE_OK */
    CHECK(worker_draining(a) && worker_credit(a) == 0);
    l.n = 0;
    workers_dispatch(ws, 8, s_send, &l);
    for (size_t i = 0; i < l.n; i++)
        CHECK(l.who[i] == b);                                  /* nothing more for a */
    CHECK(workers_done(ws, a, 4, 4, 10, 4, 10));               /* reported all: remove */
    workers_remove(ws, a, "drained", 0);
    CHECK(workers_count(ws) == 1 && workers_find(ws, R1, 2, 0) == NULL);
    CHECK(!workers_leave(ws, b, &at_once));
    CHECK(workers_leave(ws, b, &at_once) && at_once);          /* a second LEAVE: at once */
    workers_remove(ws, b, "stopped", 0);
    /* Silence. */
    worker_t *c = workers_ready(ws, R1, 2, "c", 1, 8, 0, &r);
    const char *why = NULL;
    CHECK(workers_expired(ws, 1000, &why) == NULL);
    CHECK(workers_expired(ws, 5000001, &why) == c && strcmp(why, "silent") == 0);
    /* A failed send: no more dispatch until it speaks again. */
    workers_send_failed(c);
    l.n = 0;
    CHECK(workers_dispatch(ws, 8, s_send, &l) == 0 && l.n == 0);
    workers_ready(ws, R1, 2, "c", 1, 8, 10, &r);
    CHECK(r);                                                  /* the same connection again */
    CHECK(workers_dispatch(ws, 8, s_send, &l) == 8);
    workers_released(c);
    CHECK(worker_inflight(c) == 7);
    workers_destroy(&ws);
}

static void test_ready_again(void)
{
    workers_t *ws = workers_new(16, 20000, 5000000);
    bool again, at_once;
    worker_t *a = workers_ready(ws, R1, 2, "a", 1, 100, 0, &again);
    CHECK(!again);
    s_log_t l = { .give = SIZE_MAX };
    CHECK(workers_dispatch(ws, 40, s_send, &l) == 40);
    CHECK(worker_inflight(a) == 40 && worker_credit(a) == 60);
    /* READY again, many times: the same worker, nothing requeued, credit = grant - held. */
    for (int i = 0; i < 100; i++)
        CHECK(workers_ready(ws, R1, 2, "a", 1, 100, 1 + (uint64_t) i, &again) == a && again);
    CHECK(workers_count(ws) == 1 && worker_inflight(a) == 40 && worker_credit(a) == 60);
    CHECK(worker_cap(a) == WORKERS_CAP_START);
    /* A smaller grant: credit and window follow it down. */
    workers_ready(ws, R1, 2, "a", 1, 30, 200, &again);
    CHECK(worker_credit(a) == 0 && worker_cap(a) == 30);
    CHECK(!workers_done(ws, a, 40, 40, 10, 40, 300));
    CHECK(worker_inflight(a) == 0 && worker_credit(a) == 40);
    /* READY again ends a drain, still keeping what it holds. */
    workers_ready(ws, R1, 2, "a", 1, 100, 400, &again);
    l.n = 0;
    CHECK(workers_dispatch(ws, 10, s_send, &l) == 10);
    CHECK(!workers_leave(ws, a, &at_once) && worker_draining(a));
    workers_ready(ws, R1, 2, "a", 1, 100, 500, &again);
    CHECK(again && !worker_draining(a) && worker_inflight(a) == 10 && worker_credit(a) == 90);
    workers_destroy(&ws);
}

static void test_blocked(void)
{
    workers_t *ws = workers_new(16, 20000, 5000000);
    bool r;
    worker_t *a = workers_ready(ws, R1, 2, "a", 1, 512, 0, &r);
    worker_t *b = workers_ready(ws, R2, 2, "b", 1, 512, 0, &r);
    s_log_t l = { .give = SIZE_MAX };
    workers_dispatch(ws, 8, s_send, &l);
    CHECK(worker_inflight(a) == 4 && worker_blocked_ms(a) == 0);
    /* BLOCKED: kept (a sign of life via workers_find), no more tasks. */
    CHECK(workers_find(ws, R1, 2, 4000000) == a);
    CHECK(workers_blocked(ws, a, 1500, 4000000));
    CHECK(!workers_blocked(ws, a, 1700, 4200000));      /* the same episode */
    CHECK(worker_blocked_ms(a) == 1700);
    l.n = 0;
    CHECK(workers_dispatch(ws, 8, s_send, &l) == 8);
    for (size_t i = 0; i < l.n; i++)
        CHECK(l.who[i] == b);
    CHECK(worker_inflight(a) == 4);
    /* Still heard from: not silent while b, heard at 0, is. */
    const char *why = NULL;
    CHECK(workers_expired(ws, 5000001, &why) == b);
    /* Moves again: about 2.5 s blocked in all (from 2.5 s, by its first report). */
    CHECK(workers_unblocked(a, 5000000) == 2500);
    CHECK(workers_unblocked(a, 5000001) == 0 && worker_blocked_ms(a) == 0);
    /* A blocked time off the wire beyond the clock is bounded. */
    CHECK(workers_blocked(ws, a, UINT64_MAX, 6000000));
    CHECK(workers_unblocked(a, 7000000) == 6999);   /* since 1 us: the start of the clock */
    workers_destroy(&ws);
}

int main(void)
{
    test_register_and_share();
    test_done_and_window();
    test_drain_and_expiry();
    test_ready_again();
    test_blocked();
    return check_done("test_workers");
}
