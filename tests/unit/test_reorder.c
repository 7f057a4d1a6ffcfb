/*  test_reorder.c: unit tests of the sink's reorder buffer (sink/reorder.c).
 *  Returns non-zero when a check fails (check.h). */
#include "check.h"
#include "reorder.h"
#include <stdio.h>
#include <string.h>

/*  An item whose contents are derived from seq (and a tag), to check copies. */
static reorder_item_t s_item(uint64_t seq, uint8_t tag, uint8_t *att, size_t att_len)
{
    reorder_item_t it;
    memset(&it, 0, sizeof it);
    it.seq = seq;
    it.cseq = seq * 10 + tag;
    it.t_received = 1000 + seq;
    it.t_dispatched = 2000 + seq;
    it.t_verified = 3000 + seq;
    it.verdict = (uint8_t) (seq & 1);
    it.reason = tag;
    memset(it.id, (int) (seq & 0xff), AT_ID_BYTES);
    it.producer = "producer-a";
    it.producer_len = 10;
    it.worker = "w1";
    it.worker_len = 2;
    memset(att, tag, att_len);
    it.att = att;
    it.att_len = att_len;
    return it;
}

static reorder_rc s_put(reorder_t *r, uint64_t seq, uint8_t tag)
{
    uint8_t att[64];
    reorder_item_t it = s_item(seq, tag, att, sizeof att);
    return reorder_put(r, &it);
}

static void test_in_order(void)
{
    reorder_t *r = reorder_new(8, 100);
    CHECK(r != NULL);
    CHECK(reorder_ready(r) == 0);
    for (uint64_t s = 100; s < 105; s++) {
        CHECK(s_put(r, s, 1) == REORDER_OK);
        CHECK(reorder_ready(r) == s - 99);
    }
    reorder_item_t out;
    CHECK(reorder_peek(r, 3, &out) == 0);
    CHECK(out.seq == 103 && out.cseq == 1031 && out.t_verified == 3103);
    CHECK(out.verdict == 1 && out.reason == 1 && out.id[0] == 103);
    CHECK(out.producer_len == 10 && memcmp(out.producer, "producer-a", 10) == 0);
    CHECK(out.worker_len == 2 && memcmp(out.worker, "w1", 2) == 0);
    CHECK(out.att_len == 64 && out.att[0] == 1 && out.att[63] == 1);
    CHECK(reorder_peek(r, 5, &out) == -1);
    CHECK(reorder_peek_id(r, 3) != NULL && reorder_peek_id(r, 3)[0] == 103);
    CHECK(reorder_peek_id(r, 5) == NULL);
    reorder_destroy(&r);
    CHECK(r == NULL);
    reorder_destroy(&r);   /* safe twice */
}

static void test_out_of_order(void)
{
    reorder_t *r = reorder_new(8, 0);
    CHECK(s_put(r, 2, 1) == REORDER_OK);
    CHECK(s_put(r, 1, 1) == REORDER_OK);
    CHECK(s_put(r, 4, 1) == REORDER_OK);
    CHECK(reorder_ready(r) == 0);
    CHECK(reorder_filled(r) == 3);
    CHECK(s_put(r, 0, 1) == REORDER_OK);
    CHECK(reorder_ready(r) == 3);       /* 0,1,2; 3 is the gap */
    CHECK(s_put(r, 3, 1) == REORDER_OK);
    CHECK(reorder_ready(r) == 5);       /* the gap closed: 0..4 */
    reorder_item_t out;
    for (size_t i = 0; i < 5; i++)
        CHECK(reorder_peek(r, i, &out) == 0 && out.seq == i);
    reorder_destroy(&r);
}

static void test_bounds(void)
{
    reorder_t *r = reorder_new(8, 50);
    CHECK(s_put(r, 58, 1) == REORDER_OUT_OF_WINDOW);
    CHECK(s_put(r, UINT64_MAX, 1) == REORDER_OUT_OF_WINDOW);
    CHECK(s_put(r, 57, 1) == REORDER_OK);
    CHECK(s_put(r, 49, 1) == REORDER_BEHIND);
    CHECK(s_put(r, 0, 1) == REORDER_BEHIND);
    CHECK(reorder_filled(r) == 1 && reorder_ready(r) == 0);

    uint8_t big[AT_ENCODED_MAX + 1];
    reorder_item_t it = s_item(50, 1, big, sizeof big);
    CHECK(reorder_put(r, &it) == REORDER_TOO_LARGE);
    char name[WIRE_NAME_MAX + 1];
    memset(name, 'n', sizeof name);
    it = s_item(50, 1, big, AT_ENCODED_MAX);
    it.producer = name;
    it.producer_len = WIRE_NAME_MAX + 1;
    CHECK(reorder_put(r, &it) == REORDER_TOO_LARGE);
    it.producer_len = WIRE_NAME_MAX;
    CHECK(reorder_put(r, &it) == REORDER_OK);
    reorder_item_t out;
    CHECK(reorder_peek(r, 0, &out) == 0 && out.att_len == AT_ENCODED_MAX && out.producer_len == WIRE_NAME_MAX);
    CHECK(out.producer[WIRE_NAME_MAX - 1] == 'n' && out.att[AT_ENCODED_MAX - 1] == 1);

    CHECK(reorder_new(0, 0) == NULL);
    CHECK(reorder_new(REORDER_WINDOW_MAX + 1, 0) == NULL);
    reorder_destroy(&r);
}

static void test_duplicate(void)
{
    reorder_t *r = reorder_new(4, 0);
    CHECK(s_put(r, 1, 7) == REORDER_OK);
    CHECK(s_put(r, 1, 9) == REORDER_ALREADY);
    CHECK(s_put(r, 0, 7) == REORDER_OK);
    CHECK(s_put(r, 0, 9) == REORDER_ALREADY);
    CHECK(reorder_filled(r) == 2 && reorder_ready(r) == 2);
    reorder_item_t out;
    CHECK(reorder_peek(r, 1, &out) == 0);
    CHECK(out.reason == 7 && out.att[0] == 7 && out.cseq == 17);   /* not overwritten */
    reorder_destroy(&r);
}

static void test_pop(void)
{
    reorder_t *r = reorder_new(4, 10);
    for (uint64_t s = 10; s < 14; s++)
        CHECK(s_put(r, s, 1) == REORDER_OK);
    CHECK(reorder_ready(r) == 4);
    CHECK(s_put(r, 14, 1) == REORDER_OUT_OF_WINDOW);   /* full window */
    CHECK(reorder_pop(r, 3) == 3);
    CHECK(reorder_base(r) == 13 && reorder_ready(r) == 1 && reorder_filled(r) == 1);
    reorder_item_t out;
    CHECK(reorder_peek(r, 0, &out) == 0 && out.seq == 13);
    CHECK(s_put(r, 12, 1) == REORDER_BEHIND);
    CHECK(s_put(r, 14, 2) == REORDER_OK);              /* slots freed by the pop */
    CHECK(s_put(r, 16, 2) == REORDER_OK);
    CHECK(s_put(r, 17, 2) == REORDER_OUT_OF_WINDOW);
    CHECK(reorder_ready(r) == 2);
    CHECK(reorder_pop(r, 100) == 2);                   /* clamped to ready */
    CHECK(reorder_base(r) == 15 && reorder_ready(r) == 0 && reorder_filled(r) == 1);
    CHECK(reorder_pop(r, 1) == 0);
    CHECK(s_put(r, 15, 3) == REORDER_OK);
    CHECK(reorder_ready(r) == 2);
    reorder_destroy(&r);
}

/*  Many windows' worth of sequence numbers, delivered in shuffled blocks. */
static void test_wrap(void)
{
    const size_t window = 16;
    reorder_t *r = reorder_new(window, 5);
    uint64_t next_put = 5, expect = 5;
    int bad = 0;
    for (int round = 0; round < 40; round++) {
        /* put 12 in reverse order, so nothing is ready until the first */
        for (uint64_t k = 12; k-- > 0;)
            if (s_put(r, next_put + k, (uint8_t) round) != REORDER_OK)
                bad++;
        next_put += 12;
        reorder_item_t out;
        size_t n = reorder_ready(r);
        for (size_t i = 0; i < n; i++)
            if (reorder_peek(r, i, &out) != 0 || out.seq != expect + i || out.cseq != out.seq * 10 + (uint8_t) round)
                bad++;
        expect += reorder_pop(r, n);
    }
    CHECK(bad == 0);
    CHECK(expect == 5 + 40 * 12);
    CHECK(reorder_base(r) == expect && reorder_filled(r) == 0);
    reorder_destroy(&r);
}

static void test_reset(void)
{
    reorder_t *r = reorder_new(8, 0);
    CHECK(s_put(r, 0, 1) == REORDER_OK);
    CHECK(s_put(r, 5, 1) == REORDER_OK);
    CHECK(reorder_ready(r) == 1 && reorder_filled(r) == 2);
    reorder_reset(r, 1000);
    CHECK(reorder_base(r) == 1000 && reorder_ready(r) == 0 && reorder_filled(r) == 0);
    CHECK(s_put(r, 5, 1) == REORDER_BEHIND);
    CHECK(s_put(r, 1005, 2) == REORDER_OK);            /* same slot as 5 before: was cleared */
    CHECK(s_put(r, 1000, 2) == REORDER_OK);
    CHECK(reorder_ready(r) == 1 && reorder_filled(r) == 2);
    reorder_reset(r, 0);
    CHECK(s_put(r, 0, 3) == REORDER_OK && reorder_ready(r) == 1);
    reorder_destroy(&r);
}

/*  What is missing, for GAP: ascending ranges from the end of the ready
 *  prefix to the end of the window (the holes, then the run above the
 *  highest filled slot), cut at max_ranges and max_seqs; across the ring's
 *  wrap; nothing when the whole window is ready. */
static void test_missing(void)
{
    reorder_t *r = reorder_new(16, 10);
    wire_range_t g[8];
    CHECK(reorder_missing(r, g, 8, 1000) == 1 && g[0].first == 10 && g[0].count == 16);   /* empty: all */
    CHECK(s_put(r, 10, 1) == REORDER_OK && s_put(r, 11, 1) == REORDER_OK);
    CHECK(reorder_missing(r, g, 8, 1000) == 1 && g[0].first == 12 && g[0].count == 14);   /* after the prefix */
    /* 10, 11 ready; 12, 13 missing; 14; 15 missing; 16, 17; 18..20 missing; 21; 22.. nothing. */
    uint64_t put[] = { 14, 16, 17, 21 };
    for (size_t i = 0; i < 4; i++)
        CHECK(s_put(r, put[i], 1) == REORDER_OK);
    CHECK(reorder_ready(r) == 2 && reorder_filled(r) == 6);
    CHECK(reorder_missing(r, g, 8, 1000) == 4);
    CHECK(g[0].first == 12 && g[0].count == 2 && g[1].first == 15 && g[1].count == 1);
    CHECK(g[2].first == 18 && g[2].count == 3 && g[3].first == 22 && g[3].count == 4);   /* 22..25: to the end */
    CHECK(reorder_missing(r, g, 2, 1000) == 2 && g[1].first == 15);   /* at most max_ranges */
    CHECK(reorder_missing(r, g, 8, 3) == 2 && g[0].count == 2 && g[1].first == 15 && g[1].count == 1);
    CHECK(reorder_missing(r, g, 8, 1) == 1 && g[0].first == 12 && g[0].count == 1);   /* cut at max_seqs */
    /* Committing the prefix and filling 12, 13 moves the first hole to 15; across the wrap (slot 21 % 16). */
    CHECK(reorder_pop(r, 2) == 2);
    CHECK(s_put(r, 12, 1) == REORDER_OK && s_put(r, 13, 1) == REORDER_OK);
    CHECK(reorder_ready(r) == 3);                             /* 12, 13, 14 */
    CHECK(s_put(r, 27, 1) == REORDER_OK);                     /* base 12 + 15: the last slot of the ring */
    CHECK(reorder_missing(r, g, 8, 1000) == 3);
    CHECK(g[0].first == 15 && g[0].count == 1 && g[1].first == 18 && g[1].count == 3);
    CHECK(g[2].first == 22 && g[2].count == 5);                /* nothing above 27, the window's last */
    for (uint64_t s = 15; s < 28; s++)
        (void) s_put(r, s, 1);
    CHECK(reorder_ready(r) == 16 && reorder_missing(r, g, 8, 1000) == 0);   /* the whole window ready */
    reorder_destroy(&r);
}

int main(void)
{
    test_in_order();
    test_out_of_order();
    test_bounds();
    test_duplicate();
    test_pop();
    test_wrap();
    test_reset();
    test_missing();
    return check_done("test_reorder");
}
