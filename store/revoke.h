/*  revoke.h: revocations, judged by the log's writer in log order
 *  (protocol.md 14, "Revocation").
 *
 *  A revocation is an ordinary attestation (proto/attestation.h) under the
 *  reserved schema REVOKE_SCHEMA whose subject is the target's attestation
 *  id as 64 lowercase hex digits, signed by the target's attester key (its
 *  attester field is the target's attester). Its data may hold a free-form
 *  reason (UTF-8, shown by the tools). Workers verify it like any other
 *  attestation; the sink then judges it against the log, in log order, in
 *  the batch's write transaction (so a revocation later in a batch sees a
 *  target earlier in it). A revocation the worker judged valid stays valid
 *  only when, in this order:
 *    its subject is 64 lowercase hex digits          else AT_ERR_REVOKE_SUBJECT
 *    that id has a valid entry in the log before it  else AT_ERR_REVOKE_UNKNOWN
 *    that entry is not itself a revocation           else AT_ERR_REVOKE_SUBJECT
 *    its attester key is the target's attester key   else AT_ERR_REVOKE_KEY
 *    the target is not revoked already               else AT_ERR_REVOKE_TWICE
 *  and is then logged invalid with that reason. A valid revocation is
 *  recorded in the log's status index (logdb_revoked). A revocation the
 *  worker judged invalid (signature, time) is logged as the worker judged
 *  it: the sink only narrows valid to invalid, never the reverse.
 *  Expiry is not the writer's business: readers judge it (protocol.md 14).
 *
 *  Stateless; everything it reads and writes is the log's, in the
 *  caller's transaction.
 */
#ifndef AT_REVOKE_H
#define AT_REVOKE_H
#include "at_err.h"
#include "logdb.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REVOKE_SCHEMA "attest/revocation/v1"
#define REVOKE_SCHEMA_LEN 20
#define REVOKE_AT_END UINT64_MAX   /* revoke_judge: after every entry of the transaction */

/*  True when a (decoded) attestation is a revocation: its schema is REVOKE_SCHEMA. */
bool revoke_is(const attestation_t *a);
/*  True for the reasons only the revocation judgement gives (27..30): a
 *  worker never gives them, so the spot audit and `attest log verify
 *  --worker` do not hold them against the worker. */
bool revoke_is_reason(int reason);

/*  The outcome of judging one entry. */
typedef struct {
    bool revocation;              /* the entry is a revocation the worker judged valid */
    uint8_t target[AT_ID_BYTES];  /* when revocation and subject is well-formed */
    uint64_t target_index;        /* when the target was found valid */
    uint8_t verdict, reason;      /* the verdict as the log must hold it */
} revoke_judgement_t;

/*  Judges the attestation att[0..att_len) that a worker judged (verdict,
 *  reason), as if at log index `at` (entries at or after it are not seen;
 *  REVOKE_AT_END for the writer appending now), in the open transaction of
 *  log (the writer's batch or a read snapshot). Anything but a revocation
 *  judged valid comes back unchanged. AT_OK, or a read error of the log
 *  (AT_ERR_DB, AT_ERR_CORRUPT) with *out unusable. */
at_err revoke_judge(logdb_t *log, uint64_t at, const uint8_t *att, size_t att_len, uint8_t verdict, uint8_t reason,
                    revoke_judgement_t *out) __attribute__((warn_unused_result));

/*  Writer, in a batch: logdb_append(log, e) with e's verdict and reason
 *  judged first (revoke_judge at REVOKE_AT_END; e->verdict and e->reason
 *  are set to the outcome, which the caller acknowledges), and a valid
 *  revocation recorded in the status index in the same transaction. Returns
 *  what logdb_append returns (AT_ERR_DUPLICATE: nothing written), or a read
 *  or write error of the log (the batch is then unusable: logdb_abort). */
at_err revoke_append(logdb_t *log, logdb_entry_t *e) __attribute__((warn_unused_result));

#endif
