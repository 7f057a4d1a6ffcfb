/*  sinklink.h: the broker's session with the sink, and its epoch.
 *
 *  The broker picks a random epoch at start; verdicts and COMMITTED carry
 *  it, so that the sink drops what a previous broker dispatched and the
 *  broker ignores what a previous sink instance reports.
 *
 *  The sink says SINK_HELLO (at start and as a heartbeat) with its
 *  instance name, its committed watermark (next_seq) and the broker epoch
 *  it has adopted. The broker answers SINK_WELCOME [epoch, first_seq].
 *
 *  Confirmation. Numbering (and admission) start only when a SINK_HELLO
 *  carrying our epoch (so sent after the sink adopted it, and with it a
 *  final watermark) reports the next_seq we offered. Until the sink has
 *  adopted our epoch it may still commit verdicts of a previous broker,
 *  moving its watermark; starting behind it would give new attestations
 *  sequence numbers the log already holds. Nothing is admitted before, so
 *  moving the start is free.
 *
 *  A new sink instance after confirmation may have lost what it had not
 *  committed: every task in flight must be dispatched again (the sink
 *  answers those it already holds from its log).
 *
 *  A sink silent for sink-timeout-ms (no SINK_HELLO heartbeat, no
 *  COMMITTED) is taken for lost: sinklink_check says so once, and the
 *  broker closes admission until the sink speaks again (the plan's
 *  `recovered`).
 *
 *  What the sink holds: each SINK_HELLO of our epoch says how many verdicts
 *  the sink holds in order from its watermark and has not committed yet
 *  (`held`; a full disk makes it grow). While the sink is up, the broker
 *  does not redeliver those seqs (sinklink_held): the sink has them.
 *
 *  The module decides; the caller acts on the returned plan.
 */
#ifndef AT_SINKLINK_H
#define AT_SINKLINK_H
#include "wire.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sinklink_t sinklink_t;

/*  What the caller must do after a SINK_HELLO, in this order. */
typedef struct {
    bool registered;       /* a new sink instance: log it and top up producers */
    bool renumber;         /* nothing admitted yet: numbering starts at `start` */
    uint64_t start;
    bool requeue;          /* a replacement sink: requeue every task in flight */
    bool confirmed;        /* admission opens now */
    bool recovered;        /* the sink was lost and speaks again: admission reopens */
    wire_sink_welcome_t welcome;   /* the SINK_WELCOME to send back */
} sinklink_plan_t;

/*  epoch: nonzero; use sinklink_random_epoch() outside tests. timeout_us:
 *  silence after which the sink is taken for lost. */
sinklink_t *sinklink_new(uint64_t epoch, uint64_t timeout_us);
void sinklink_destroy(sinklink_t **self_p);
uint64_t sinklink_random_epoch(void);

/*  SINK_HELLO h from rid at now; next_seq is the broker's next sequence
 *  number (its ring empty when not yet confirmed). Returns the plan. */
sinklink_plan_t sinklink_hello(sinklink_t *self, const uint8_t *rid, size_t rid_len, const wire_sink_hello_t *h,
                               uint64_t next_seq, uint64_t now);

/*  True when a COMMITTED from rid with this epoch is from the current sink
 *  and for the current epoch (else it is stale and must be ignored). */
bool sinklink_accepts(const sinklink_t *self, const uint8_t *rid, size_t rid_len, uint64_t epoch);

/*  A COMMITTED from the current sink: a sign of life. */
void sinklink_seen(sinklink_t *self, uint64_t now);
/*  True once when the registered sink has been silent past the timeout
 *  (the caller closes admission and says so); false otherwise. */
bool sinklink_check(sinklink_t *self, uint64_t now);
/*  The sink is registered, confirmed and not lost: admission may be open. */
bool sinklink_up(const sinklink_t *self);
/*  The seqs [*from, *to) the sink said it holds in its latest SINK_HELLO of
 *  our epoch; false (and an empty range) unless the sink is up. */
bool sinklink_held(const sinklink_t *self, uint64_t *from, uint64_t *to);
uint64_t sinklink_silent_us(const sinklink_t *self, uint64_t now);

/*  True when rid is the registered sink's connection (for QUARANTINE). */
bool sinklink_is_sink(const sinklink_t *self, const uint8_t *rid, size_t rid_len);
uint64_t sinklink_epoch(const sinklink_t *self);
bool sinklink_confirmed(const sinklink_t *self);
bool sinklink_registered(const sinklink_t *self);
const char *sinklink_instance(const sinklink_t *self);   /* "" before the first */
const wire_peer_t *sinklink_peer(const sinklink_t *self);

#endif
