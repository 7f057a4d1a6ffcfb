/*  test_credit.c: admission credit accounting (broker/credit.c).
 *
 *  The invariant under test: the sum over producers of granted + held
 *  never exceeds the capacity, each producer's share is at most
 *  min(max_window, capacity / active), and nothing is granted while
 *  admission is closed.
 */
#include "check.h"
#include "credit.h"

static void test_closed_and_open(void)
{
    credit_t *c = credit_new(1000, 400);
    credit_account_t a = { 0 };
    credit_set_open(c, false);
    credit_join(c, &a);
    CHECK(credit_topup(c, &a) == 0);           /* closed: no sink yet */
    CHECK(!credit_take(c, &a));
    credit_set_open(c, true);
    CHECK(credit_topup(c, &a) == 400);         /* limited by max_window */
    CHECK(credit_in_use(c) == 400);
    CHECK(credit_topup(c, &a) == 0);           /* already at its limit */
    credit_destroy(&c);
    CHECK(c == NULL);
    credit_destroy(&c);                        /* safe twice */
}

static void test_take_release_refund(void)
{
    credit_t *c = credit_new(100, 100);
    credit_account_t a = { 0 };
    credit_join(c, &a);
    CHECK(credit_topup(c, &a) == 100);
    for (int i = 0; i < 100; i++)
        CHECK(credit_take(c, &a));
    CHECK(!credit_take(c, &a));                /* spent: the 101st is refused */
    CHECK(a.held == 100 && a.granted == 0);
    credit_refund(c, &a);                      /* refused after all: credit back */
    CHECK(a.held == 99 && a.granted == 1);
    CHECK(credit_in_use(c) == 100);
    credit_release(c, &a, 10);                 /* 10 committed */
    CHECK(a.held == 89 && credit_in_use(c) == 90);
    CHECK(credit_topup(c, &a) == 0);           /* 10 < 25, a quarter of the limit: wait */
    credit_release(c, &a, 20);
    CHECK(credit_topup(c, &a) == 30);          /* a step's worth: grant up to the limit */
    CHECK(a.held + a.granted == 100);
    CHECK(credit_in_use(c) <= 100);
    credit_destroy(&c);
}

/*  A second producer joins while the first holds everything: the first is
 *  not topped up past its new share, and the newcomer gets what is freed. */
static void test_fair_share(void)
{
    credit_t *c = credit_new(1000, 1000);
    credit_account_t a = { 0 }, b = { 0 };
    credit_join(c, &a);
    CHECK(credit_topup(c, &a) == 1000);
    for (int i = 0; i < 1000; i++)
        CHECK(credit_take(c, &a));
    credit_join(c, &b);
    CHECK(credit_limit(c) == 500);
    CHECK(credit_topup(c, &b) == 0);           /* nothing free yet */
    credit_release(c, &a, 600);                /* a's attestations commit */
    CHECK(credit_topup(c, &a) == 0);           /* a holds 400 of its 500: under a step */
    uint64_t nb = credit_topup(c, &b);
    CHECK(nb == 500);                          /* b gets its full share */
    CHECK(credit_in_use(c) == 900);
    CHECK(a.held + a.granted <= 500 || a.granted == 0);
    CHECK(credit_in_use(c) <= 1000);
    credit_destroy(&c);
}

/*  Leaving returns unspent credit; held attestations are released later. */
static void test_leave(void)
{
    credit_t *c = credit_new(1000, 1000);
    credit_account_t a = { 0 }, b = { 0 };
    credit_join(c, &a);
    credit_join(c, &b);
    CHECK(credit_topup(c, &a) == 500);
    CHECK(credit_topup(c, &b) == 500);
    for (int i = 0; i < 200; i++)
        CHECK(credit_take(c, &a));
    credit_leave(c, &a);
    CHECK(credit_active(c) == 1);
    CHECK(credit_in_use(c) == 700);            /* a's 300 unspent came back */
    CHECK(!credit_take(c, &a));                /* a left */
    CHECK(credit_topup(c, &a) == 0);
    credit_release(c, &a, 200);                /* a's attestations commit after it left */
    CHECK(credit_in_use(c) == 500);
    CHECK(credit_topup(c, &b) == 500);         /* alone now: b may use the whole capacity */
    CHECK(credit_in_use(c) == 1000);
    credit_destroy(&c);
}

/*  Credit asked back (REVOKE) from a producer above its share or idle, and
 *  given back (RELEASE), goes to the others; an idle producer keeps a
 *  reserve and gets no top-ups until it spends. */
static void test_reclaim(void)
{
    credit_t *c = credit_new(1000, 1000);
    credit_account_t a = { 0 }, b = { 0 }, d = { 0 }, e = { 0 };
    credit_join(c, &a);
    CHECK(credit_topup(c, &a) == 1000);
    credit_join(c, &b);
    CHECK(credit_topup(c, &b) == 0);              /* the pool is empty */
    CHECK(credit_reclaim(c, &a, false) == 500);   /* a is above its new share of 500 */
    CHECK(!a.idle);
    CHECK(credit_return(c, &a, 500) == 500);
    CHECK(credit_topup(c, &b) == 500);
    CHECK(credit_in_use(c) == 1000);

    credit_join(c, &d);                            /* limit 333, step 83, reserve 20 */
    CHECK(credit_reclaim(c, &a, true) == 480);    /* idle: all but the reserve */
    CHECK(a.idle);
    CHECK(credit_return(c, &a, 480) == 480);
    CHECK(a.granted == 20);
    CHECK(credit_topup(c, &a) == 0);              /* idle: no top-up */
    CHECK(credit_topup(c, &d) == 333);
    CHECK(credit_reclaim(c, &b, false) == 0);     /* b has 500 > 333, but 147 are free: not short */
    CHECK(credit_return(c, &b, 0) == 0);          /* a RELEASE of 0 changes nothing */
    CHECK(credit_return(c, &d, 9999) == 333);     /* a RELEASE is clipped to the grant */
    CHECK(credit_topup(c, &d) == 333);            /* (and d, not idle, is topped up again) */
    CHECK(credit_take(c, &a));                     /* a submits from its reserve ... */
    CHECK(!a.idle);                                /* ... and is no longer idle */
    CHECK(credit_in_use(c) == 20 + 500 + 333);
    credit_join(c, &e);                            /* limit 250, step 62 */
    CHECK(credit_topup(c, &e) == 147);            /* what is free */
    CHECK(credit_reclaim(c, &b, false) == 250);   /* now short: b gives back its excess over 250 */
    CHECK(!b.idle);
    credit_destroy(&c);
}

/*  Many producers and random events: the invariant always holds. */
static void test_invariant_random(void)
{
    enum { N = 16 };
    credit_t *c = credit_new(4096, 1024);
    credit_account_t acct[N] = { { 0 } };
    uint64_t rng = 12345;
    unsigned violations = 0;
    for (int step = 0; step < 200000; step++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        credit_account_t *a = &acct[(rng >> 33) % N];
        switch ((rng >> 40) % 7) {
        case 0: if (!a->active && a->held == 0) credit_join(c, a); break;   /* a new session */
        case 1: if (a->active && (rng >> 50) % 8 == 0) credit_leave(c, a); break;
        case 2: credit_topup(c, a); break;
        case 3: credit_take(c, a); break;
        case 4: if (a->held) credit_release(c, a, 1 + (rng >> 20) % a->held); break;
        case 5: if (a->held && a->active) credit_refund(c, a); break;
        case 6: {
            uint64_t ask = credit_reclaim(c, a, (rng >> 52) & 1);
            CHECK(ask <= a->granted);
            credit_return(c, a, ask - ask / ((rng >> 54) % 3 + 1) / 2);   /* gives back some or all */
            break;
        }
        }
        uint64_t sum = 0;
        for (int i = 0; i < N; i++)
            sum += acct[i].granted + acct[i].held;
        violations += sum != credit_in_use(c) || sum > 4096;
    }
    CHECK(violations == 0);
    credit_destroy(&c);
}

int main(void)
{
    test_closed_and_open();
    test_take_release_refund();
    test_fair_share();
    test_leave();
    test_reclaim();
    test_invariant_random();
    return check_done("test_credit");
}
