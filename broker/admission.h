/*  admission.h: producer sessions, their credit, and the ACKs owed to them.
 *
 *  A producer is known by the routing id of its connection (one session per
 *  connection); HELLO opens a session, BYE or producer-timeout-ms of
 *  silence closes it. Each session has a credit account in a pool shared
 *  fairly between producers (credit.h): admission spends one credit per
 *  admitted attestation and gets it back when the sink commits it.
 *
 *  Credit granted and not spent is capacity nobody else can use. When the
 *  pool runs short, admission_reclaim asks it back (REVOKE): from
 *  producers idle for credit-idle-ms, all but a small reserve; from
 *  producers above their share since more joined, the excess. The producer
 *  answers RELEASE with what it had not yet spent. A REVOKE unanswered for
 *  5 s is asked again.
 *
 *  Acknowledgements from one COMMITTED are gathered per producer
 *  (admission_ack) and sent as one ACK each (admission_flush_acks). A
 *  producer that left while attestations of its were in the pipeline is
 *  kept, without a session, until the last of them is committed.
 *
 *  The module decides; the caller sends: every call that needs a message
 *  sent takes a callback.
 */
#ifndef AT_ADMISSION_H
#define AT_ADMISSION_H
#include "wire.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct producer_t producer_t;
typedef struct admission_t admission_t;

/*  capacity: the pipeline window; producer_window: most credit one
 *  producer may hold; idle_us: credit-idle-ms; timeout_us:
 *  producer-timeout-ms. Admission starts closed (no grants). */
admission_t *admission_new(uint64_t capacity, uint64_t producer_window, uint64_t idle_us, uint64_t timeout_us);
/*  Frees every producer, with or without a session; NULLs *self_p. */
void admission_destroy(admission_t **self_p);

/*  Admission opens once the sink is confirmed (closed: nothing granted). */
void admission_set_open(admission_t *self, bool open);

/*  A HELLO, as admission_hello needs it; every pointer borrowed for the call. */
typedef struct {
    const uint8_t *rid;         /* the connection's routing id */
    size_t rid_len;
    const char *name;           /* 1..WIRE_NAME_MAX bytes, checked by the decoder */
    size_t name_len;
    const uint8_t *instance;    /* WIRE_INSTANCE_BYTES, or NULL: the producer's lifetime id */
    const uint8_t *key;         /* WIRE_KEY_BYTES: the authenticated CURVE key, or NULL (plaintext) */
} admission_hello_t;

/*  HELLO: opens a session for the connection (or refreshes the existing
 *  one) and returns it, with the credit to announce in WELCOME in *grant.
 *  A new session whose instance and key are those of another session ends
 *  that one first (it is the same producer back on a new connection, after
 *  its old one died: protocol.md 5.1), so its unspent credit is free for
 *  the new session at once instead of after producer-timeout-ms. */
producer_t *admission_hello(admission_t *self, const admission_hello_t *h, uint64_t now, uint64_t *grant);
/*  The session of rid, or NULL. Any message from it counts as a sign of life. */
producer_t *admission_find(admission_t *self, const uint8_t *rid, size_t rid_len, uint64_t now);

/*  Spends one credit for an attestation of p; false when p has none. */
bool admission_take(admission_t *self, producer_t *p, uint64_t now);
/*  Undoes a take (the attestation was refused after all). */
void admission_refund(admission_t *self, producer_t *p);
/*  RELEASE n: p gives back unspent credit; returns what was taken. */
uint64_t admission_release(admission_t *self, producer_t *p, uint64_t n);
/*  BYE: the session ends (logged with why); p may live on without one. */
void admission_leave(admission_t *self, producer_t *p, const char *why);

/*  One attestation of p was committed with result r (r->key is its cseq):
 *  if p still has a session, r joins p's pending ACK. */
void admission_ack(admission_t *self, producer_t *p, const wire_result_t *r);
/*  The slot of one attestation of p was freed (tasks_advance): its credit
 *  returns to the pool. Credit follows the ring, not the ACKs, so a lost or
 *  partial COMMITTED can never let admission past the window. */
void admission_freed(admission_t *self, producer_t *p);
/*  Frees the producers without a session that hold nothing now. */
void admission_reap(admission_t *self);

typedef int(admission_credit_fn)(void *ctx, producer_t *p, uint64_t n);
typedef void(admission_acks_fn)(void *ctx, producer_t *p, const wire_items_t *acks);

/*  Sends every pending ACK through send (one call per producer). */
void admission_flush_acks(admission_t *self, admission_acks_fn *send, void *ctx);
/*  Grants each producer what it may have now; send(ctx, p, n) for each
 *  grant (a CREDIT message). */
void admission_topup(admission_t *self, admission_credit_fn *send, void *ctx);
/*  At most every 100 ms: asks unspent credit back when the pool is short,
 *  through revoke(ctx, p, n), which returns 0 when the REVOKE was sent.
 *  Returns how many REVOKEs were sent. */
size_t admission_reclaim(admission_t *self, uint64_t now, admission_credit_fn *revoke, void *ctx);
/*  A send to p failed with EHOSTUNREACH: its connection is gone (the
 *  ROUTER has no pipe for that routing id any more, and a producer that
 *  reconnects gets a new one), so nothing sent to it can arrive and its
 *  REVOKEs can never be answered. Marks p; admission_drop_unreachable ends
 *  its session. Safe inside the callbacks of admission_topup,
 *  admission_reclaim and admission_flush_acks. */
void admission_unreachable(admission_t *self, producer_t *p);
/*  Ends the sessions marked unreachable (logged "connection gone"); their
 *  unspent credit returns to the pool. Returns how many. */
size_t admission_drop_unreachable(admission_t *self);

/*  Ends the sessions silent for longer than the producer timeout. */
void admission_expire(admission_t *self, uint64_t now);

const char *producer_name(const producer_t *p);
/*  The producer's authenticated CURVE public key (WIRE_KEY_BYTES), from
 *  the User-Id of its HELLO; NULL in plaintext. Borrowed while p lives. */
const uint8_t *producer_key(const producer_t *p);
/*  Where to send to p (borrowed; valid while p lives). */
const wire_peer_t *producer_peer(const producer_t *p);
bool producer_idle(const producer_t *p);   /* last asked back for idleness */

size_t admission_sessions(const admission_t *self);
uint64_t admission_superseded(const admission_t *self); /* sessions ended by a HELLO of the same instance */
uint64_t admission_granted(const admission_t *self);   /* granted, unspent, over all sessions */
uint64_t admission_in_use(const admission_t *self);    /* granted + held */

#endif
