/*  test_workers.c: the worker registry and the dispatch choice (broker/workers.c).
 *
 *  Covers: registration and lookup by routing id; an even share of a small
 *  queue over idle workers; the chunk and congestion-window limits; no
 *  dribbling to a busy worker; credit returned by DONE; the window shrinking
 *  for a slow worker and growing for a fast one; drain and stop-at-once;
 *  silence; a failed send. The window and distance (protocol.md 8.2): a
 *  worker 100 ms away whose own time is short is not cut and ends up
 *  holding its bandwidth-delay product; saturated there (held_us unknown),
 *  its queueing part is cut but the bdp stays; a slow near worker is still
 *  cut to the minimum; the rtt estimate (least sample over one to two
 *  periods, kept while no samples come) and a held_us above the round trip;
 *  a repeated READY that keeps what the worker holds; a worker blocked on
 *  the sink kept and given nothing.
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
    CHECK(!workers_done(ws, a, 16, 16, 1000, 0, 16, 100));
    CHECK(worker_cap(a) == 68 && worker_inflight(a) == 48 && worker_credit(a) == 512 - 64 + 16);
    /* A report that waited past the target cuts it by a quarter, once per target interval. */
    CHECK(!workers_done(ws, a, 16, 16, 50000, 0, 16, 30000));
    CHECK(worker_cap(a) == 51);
    CHECK(!workers_done(ws, a, 16, 16, 50000, 0, 16, 30001));
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
    CHECK(workers_done(ws, a, 4, 4, 10, 0, 4, 10));               /* reported all: remove */
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

/*  A worker thread DONE every 10 ms with 40 tasks (4,000/s), each round
 *  trip rtt_us + held_us; held_us sent as `said` (0: unknown). Returns the
 *  time after the last. */
static uint64_t s_steady(workers_t *ws, worker_t *w, uint64_t from, uint64_t ms, uint64_t rtt_us, uint64_t held_us,
                         uint64_t said)
{
    uint64_t now = from;
    for (uint64_t t = 0; t < ms; t += 10) {
        now += 10000;
        workers_done(ws, w, 40, 40, rtt_us + held_us, said, 40, now);
    }
    return now;
}

static void test_distance(void)
{
    workers_t *ws = workers_new(128, 20000, 60000000);
    bool r;
    worker_t *far = workers_ready(ws, R1, 2, "far", 3, 1024, 0, &r);
    worker_t *near = workers_ready(ws, R2, 2, "near", 4, 1024, 0, &r);
    /* 100 ms away, 2 ms of its own: the round trip (102 ms) is far above the
     * target, but it is the network's: the window grows, never cut. */
    uint64_t now = s_steady(ws, far, 0, 2000, 100000, 2000, 2000);
    CHECK(worker_rtt_us(far) == 100000);
    CHECK(worker_rate(far) > 3600 && worker_rate(far) < 4400);
    CHECK(worker_cap(far) == 1024);   /* bdp (~400) + room, up to its credit */
    /* Saturated there: the tasks queue 40 ms inside it, behind other unread
     * TASKS (held_us unknown): its own time is the round trip less the rtt
     * estimate, 40 ms > 20: room is cut to the minimum, but the window keeps
     * the bandwidth-delay product so that it stays busy. */
    now = s_steady(ws, far, now, 3000, 100000, 40000, 0);
    CHECK(worker_rtt_us(far) == 100000);   /* no samples: the estimate is kept */
    uint64_t bdp = worker_rate(far) * 100000 / 1000000;
    CHECK(bdp > 360 && bdp < 440);
    CHECK(worker_cap(far) == bdp + WORKERS_CAP_MIN);
    /* A slow worker on the same switch: 50 ms of its own per report, known:
     * cut to the minimum, as before (its rate is small, its bdp 0). */
    s_steady(ws, near, 0, 2000, 100, 50000, 50000);
    CHECK(worker_rtt_us(near) == 100);
    CHECK(worker_cap(near) == WORKERS_CAP_MIN);
    workers_destroy(&ws);
}

static void test_rtt_estimate(void)
{
    workers_t *ws = workers_new(128, 20000, 60000000);
    bool r;
    worker_t *w = workers_ready(ws, R1, 2, "w", 1, 512, 0, &r);
    CHECK(worker_rtt_us(w) == 0);
    workers_done(ws, w, 1, 1, 60000, 1000, 1, 1000);          /* 59 ms */
    CHECK(worker_rtt_us(w) == 59000);
    workers_done(ws, w, 1, 1, 53000, 3000, 1, 2000);          /* 50 ms: the least */
    workers_done(ws, w, 1, 1, 90000, 1000, 1, 3000);          /* a queue on the way: ignored */
    CHECK(worker_rtt_us(w) == 50000);
    workers_done(ws, w, 1, 1, 90000, 0, 1, 4000);             /* held not known: no sample */
    CHECK(worker_rtt_us(w) == 50000);
    /* The path got longer (80 ms): the old least is forgotten after one to two periods. */
    workers_done(ws, w, 1, 1, 81000, 1000, 1, 1000000 + 5000);
    CHECK(worker_rtt_us(w) == 50000);
    workers_done(ws, w, 1, 1, 81000, 1000, 1, 2000000 + 6000);
    CHECK(worker_rtt_us(w) == 80000);
    /* Shorter again: at once. */
    workers_done(ws, w, 1, 1, 11000, 1000, 1, 2000000 + 7000);
    CHECK(worker_rtt_us(w) == 10000);
    /* held_us above the round trip (a worker's clock or a liar): sample 0, no underflow. */
    workers_done(ws, w, 1, 1, 5000, 9000, 1, 2000000 + 8000);
    CHECK(worker_rtt_us(w) == 0);
    /* READY again in the same session keeps what was learnt (protocol 6.1:
     * a repeated READY is the same worker); a new session forgets the path. */
    uint64_t rate = worker_rate(w);
    CHECK(workers_ready(ws, R1, 2, "w", 1, 512, 2000000 + 9000, &r) == w && r && worker_rate(w) == rate);
    workers_remove(ws, w, "test", 0);
    w = workers_ready(ws, R1, 2, "w", 1, 512, 2000000 + 10000, &r);
    CHECK(!r && worker_rtt_us(w) == 0 && worker_rate(w) == 0 && worker_cap(w) == WORKERS_CAP_START);
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
    CHECK(!workers_done(ws, a, 40, 40, 10, 0, 40, 300));
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
    test_distance();
    test_rtt_estimate();
    test_ready_again();
    test_blocked();
    return check_done("test_workers");
}
