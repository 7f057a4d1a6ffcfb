/*  audit.h: the sink's spot audit of worker verdicts.
 *
 *  A worker with a valid registration can still lie (a bug, a bad host, a
 *  compromised machine). The sink re-judges a random sample of the verdicts
 *  it has committed (audit-sample, a percentage, kept in basis points: 1 =
 *  0.01%) with attestation_judge at the entry's own t_verified and the
 *  configured clock skew, which is exactly the judgement the worker had to
 *  make, so an honest worker never disagrees.
 *
 *  Off the commit path: the commit loop only draws a random number per
 *  committed entry (audit_pick) and copies the sampled ones into a bounded
 *  queue (audit_offer, AUDIT_QUEUE entries, a mutex held for a memcpy);
 *  one audit thread judges them. When the queue is full a sample is
 *  dropped and counted: the commit path never waits for the audit. A
 *  disagreement becomes a finding, which the sink's loop takes with
 *  audit_findings (findings beyond AUDIT_FINDINGS pending are counted and
 *  dropped, the disagreement counter still counts them).
 *
 *  Thread-safety: audit_pick and audit_offer from one thread (the sink's
 *  loop), audit_findings and audit_stats from any; the audit thread is
 *  private.
 */
#ifndef AT_AUDIT_H
#define AT_AUDIT_H
#include "attestation.h"
#include "wire.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_QUEUE 1024        /* sampled entries waiting for the audit thread */
#define AUDIT_FINDINGS 256      /* disagreements waiting for the sink's loop */
#define AUDIT_BP_MAX 10000      /* basis points: 100% */

typedef struct audit_t audit_t;

/*  A committed entry to audit: every pointer is borrowed for the call. */
typedef struct {
    uint64_t index, t_verified;
    uint8_t verdict, reason;            /* as the worker judged it (before the sink's revocation
                                           judgement, store/revoke.h, which the audit leaves alone) */
    const uint8_t *id;                  /* AT_ID_BYTES, as the worker computed it */
    const char *worker;                 /* <= WIRE_NAME_MAX bytes */
    size_t worker_len;
    const uint8_t *att;                 /* <= AT_ENCODED_MAX bytes */
    size_t att_len;
} audit_item_t;

/*  A disagreement: the audit's judgement differs from the worker's. */
typedef struct {
    uint64_t index;
    uint8_t got_verdict, got_reason;            /* the worker's */
    uint8_t expected_verdict, expected_reason;  /* the audit's */
    bool id_differs;                            /* the worker's id was not the attestation's */
    char worker[WIRE_NAME_MAX + 1];
    size_t worker_len;
} audit_finding_t;

typedef struct {
    uint64_t sampled;          /* offered to the queue */
    uint64_t dropped;          /* not audited: the queue was full */
    uint64_t checked;          /* re-judged */
    uint64_t disagreements;    /* of those, judged otherwise */
    uint64_t findings_dropped; /* disagreements not handed over: too many pending */
} audit_stats_t;

/*  Parses an audit-sample value: a percentage 0..100 with at most two
 *  decimals ("1", "0.5", "12.25") into basis points. false when it is not
 *  one. */
bool audit_parse_sample(const char *text, uint32_t *bp);

/*  An audit of bp basis points of the entries (0: off, no thread) at clock
 *  skew skew_s. Aborts when out of memory or when the thread cannot start. */
audit_t *audit_new(uint32_t bp, uint64_t skew_s);
/*  Stops the thread (samples still queued are not audited); safe twice. */
void audit_destroy(audit_t **self_p);

/*  The sampling draw for one committed entry: true for about bp/10000 of
 *  the calls. No lock, a few instructions. */
bool audit_pick(audit_t *self);
/*  Queues a copy of *item for the audit thread, or drops and counts it
 *  when the queue is full. Never blocks. */
void audit_offer(audit_t *self, const audit_item_t *item);
/*  Takes up to max pending findings into out; returns how many. */
size_t audit_findings(audit_t *self, audit_finding_t *out, size_t max);
void audit_stats(audit_t *self, audit_stats_t *out);

#endif
