/*  test_sinklink.c: the sink session and epoch rules (broker/sinklink.c).
 *
 *  Covers: a first sink renumbers the (empty) ring; confirmation only with
 *  our epoch and the watermark we offered; a watermark that moved before
 *  confirmation is offered again; a replacement sink after confirmation
 *  requeues what is in flight; COMMITTED accepted only from the current
 *  sink and epoch; what the sink says it holds.
 */
#include "check.h"
#include "sinklink.h"

static wire_sink_hello_t s_hello(const char *inst, uint64_t next_seq, uint64_t epoch)
{
    return (wire_sink_hello_t) { inst, strlen(inst), next_seq, next_seq, epoch, 16384, 0 };
}

static const uint8_t R1[] = { 7, 1 }, R2[] = { 7, 2 };

static void test_confirm(void)
{
    sinklink_t *s = sinklink_new(77, 5000000);
    CHECK(sinklink_epoch(s) == 77 && !sinklink_registered(s));
    wire_sink_hello_t h = s_hello("i1", 500, 0);   /* not adopted yet */
    sinklink_plan_t p = sinklink_hello(s, R1, 2, &h, 0, 1);
    CHECK(p.registered && p.renumber && p.start == 500 && !p.confirmed && !p.requeue);
    CHECK(p.welcome.epoch == 77 && p.welcome.first_seq == 500);
    /* The sink adopted our epoch but committed more of the old one: offer that. */
    h = s_hello("i1", 520, 77);
    p = sinklink_hello(s, R1, 2, &h, 500, 2);
    CHECK(!p.registered && p.renumber && p.start == 520 && !p.confirmed && p.welcome.first_seq == 520);
    /* A heartbeat that does not carry our epoch confirms nothing. */
    h = s_hello("i1", 520, 5);
    p = sinklink_hello(s, R1, 2, &h, 520, 3);
    CHECK(!p.confirmed && !p.renumber && p.welcome.first_seq == 520);
    h = s_hello("i1", 520, 77);
    p = sinklink_hello(s, R1, 2, &h, 520, 4);
    CHECK(p.confirmed && !p.renumber && sinklink_confirmed(s) && p.welcome.first_seq == 520);
    /* Later heartbeats change nothing. */
    h = s_hello("i1", 600, 77);
    p = sinklink_hello(s, R1, 2, &h, 700, 5);
    CHECK(!p.confirmed && !p.registered && !p.renumber && !p.requeue);
    sinklink_destroy(&s);
    CHECK(s == NULL);
    sinklink_destroy(&s);
}

static void test_replacement_and_commits(void)
{
    sinklink_t *s = sinklink_new(9, 5000000);
    wire_sink_hello_t h = s_hello("i1", 0, 9);
    sinklink_hello(s, R1, 2, &h, 0, 1);
    sinklink_plan_t p = sinklink_hello(s, R1, 2, &h, 0, 2);
    CHECK(p.confirmed);
    CHECK(sinklink_accepts(s, R1, 2, 9));
    CHECK(!sinklink_accepts(s, R1, 2, 8));           /* another epoch */
    CHECK(!sinklink_accepts(s, R2, 2, 9));           /* another connection */
    /* A new instance after confirmation: requeue in flight, keep numbering. */
    h = s_hello("i2", 40, 0);
    p = sinklink_hello(s, R2, 2, &h, 100, 3);
    CHECK(p.registered && p.requeue && !p.renumber && p.welcome.first_seq == 40);
    CHECK(strcmp(sinklink_instance(s), "i2") == 0);
    CHECK(sinklink_accepts(s, R2, 2, 9) && !sinklink_accepts(s, R1, 2, 9));
    sinklink_destroy(&s);
}

/*  What the sink holds (SINK_HELLO held): only of our epoch, only while it is up. */
static void test_held(void)
{
    sinklink_t *s = sinklink_new(9, 5000000);
    uint64_t from, to;
    wire_sink_hello_t h = s_hello("i1", 0, 9);
    sinklink_hello(s, R1, 2, &h, 0, 1000000);
    sinklink_hello(s, R1, 2, &h, 0, 1000001);       /* confirmed, holds nothing */
    CHECK(!sinklink_held(s, &from, &to) && from == to);
    h = s_hello("i1", 100, 9);
    h.held = 50;
    sinklink_hello(s, R1, 2, &h, 200, 1500000);
    CHECK(sinklink_held(s, &from, &to) && from == 100 && to == 150);
    h.held = 1u << 30;                               /* never beyond the window */
    sinklink_hello(s, R1, 2, &h, 200, 1600000);
    CHECK(sinklink_held(s, &from, &to) && from == 100 && to == 100 + 16384);
    CHECK(sinklink_check(s, 7000000) && !sinklink_held(s, &from, &to));   /* lost: it vouches for nothing */
    h = s_hello("i1", 100, 5);                       /* another epoch's buffer */
    h.held = 50;
    sinklink_hello(s, R1, 2, &h, 200, 7100000);
    CHECK(!sinklink_held(s, &from, &to));
    sinklink_destroy(&s);
}

static void test_lost_and_back(void)
{
    sinklink_t *s = sinklink_new(9, 5000000);
    CHECK(!sinklink_check(s, 100000000));        /* no sink yet: nothing to lose */
    wire_sink_hello_t h = s_hello("i1", 0, 9);
    sinklink_hello(s, R1, 2, &h, 0, 1000000);
    sinklink_hello(s, R1, 2, &h, 0, 1000001);
    CHECK(sinklink_up(s));
    sinklink_seen(s, 3000000);                    /* a COMMITTED */
    CHECK(!sinklink_check(s, 8000000));          /* 5 s exactly: not yet */
    CHECK(sinklink_check(s, 8000001) && !sinklink_up(s));
    CHECK(!sinklink_check(s, 9000000));          /* said once */
    sinklink_plan_t p = sinklink_hello(s, R1, 2, &h, 0, 9500000);
    CHECK(p.recovered && !p.registered && sinklink_up(s));
    sinklink_destroy(&s);
}

int main(void)
{
    test_confirm();
    test_replacement_and_commits();
    test_lost_and_back();
    test_held();
    return check_done("test_sinklink");
}
