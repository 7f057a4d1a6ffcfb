/*  credit.h: admission credit shared fairly between producers.
 *
 *  The broker holds at most `capacity` attestations that are admitted and not
 *  yet committed (its task ring; the same number bounds the sink's reorder
 *  buffer). Each producer has an account: `granted` (credit it may still
 *  spend) and `held` (its attestations in the pipeline). The pool keeps
 *      sum(granted + held) <= capacity
 *  and gives each of n active producers at most limit = min(max_window,
 *  capacity / n), so a bursting producer can occupy its share and no more.
 *  Grants are made in steps of at least limit/4 (or whatever fills the
 *  limit) to keep CREDIT messages few.
 */
#ifndef AT_CREDIT_H
#define AT_CREDIT_H
#include <stdbool.h>
#include <stdint.h>

/*  An account lives in its owner's struct; only credit.c reads or writes
 *  its fields (use the accessors below). */
typedef struct {
    uint64_t granted;
    uint64_t held;
    bool active;
    bool idle;              /* asked to give back its grant for idleness: no top-ups until it submits */
} credit_account_t;

typedef struct credit_t credit_t;

credit_t *credit_new(uint64_t capacity, uint64_t max_window);
void credit_destroy(credit_t **self_p);

/*  Admission opens and closes (closed: no grants, e.g. before the sink is known). */
void credit_set_open(credit_t *self, bool open);

void credit_join(credit_t *self, credit_account_t *a);
/*  The producer leaves: its unspent grant returns to the pool; what it holds
 *  is released later by credit_release as usual. */
void credit_leave(credit_t *self, credit_account_t *a);

/*  Spends one credit for an admitted attestation; false when none is left. */
bool credit_take(credit_t *self, credit_account_t *a);
/*  Undoes a take (the attestation was refused after all). */
void credit_refund(credit_t *self, credit_account_t *a);
/*  n attestations of this account left the pipeline (committed). */
void credit_release(credit_t *self, credit_account_t *a, uint64_t n);

/*  The producer gave back n of its grant (RELEASE); returns what was taken
 *  (at most what it was granted). */
uint64_t credit_return(credit_t *self, credit_account_t *a, uint64_t n);
/*  What to ask the account to give back (REVOKE), 0 for nothing: when the
 *  pool cannot fill a step, an account idle (by the caller's judgement)
 *  gives back all but a reserve of limit/16 and is marked idle; any account
 *  above the limit (more producers joined since it was granted) gives back
 *  the excess, as far as it is unspent. */
uint64_t credit_reclaim(credit_t *self, credit_account_t *a, bool idle);
/*  Grants what the account may have now; returns the amount (0: nothing to send). */
uint64_t credit_topup(credit_t *self, credit_account_t *a);

/*  An account's unspent grant, what it holds in the pipeline, and whether
 *  it was last asked to give back for idleness. */
uint64_t credit_granted(const credit_account_t *a);
uint64_t credit_held(const credit_account_t *a);
bool credit_is_idle(const credit_account_t *a);

uint64_t credit_limit(const credit_t *self);
uint64_t credit_in_use(const credit_t *self);   /* sum of granted + held */
uint64_t credit_active(const credit_t *self);

#endif
