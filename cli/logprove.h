/*  logprove.h: the proofs of the `attest log` tool, built from a read
 *  snapshot of the log (store/logdb.h "tree" section) with tlog/merkle.h,
 *  and their encodings: JSON, the C2SP tlog-proof text
 *  (c2sp.org/tlog-proof@v1) and RFC 9162's InclusionProofDataV2 /
 *  ConsistencyProofDataV2 TransItems (protocol.md section 14, "Proofs").
 *  Also the tree audit of `attest log verify`: the Merkle tree recomputed
 *  from the entries, compared tile by tile with the stored one.
 *
 *  Every call runs inside a read snapshot (logdb_read_begin) and whatever
 *  it returns that points into the log (entry bytes, note texts) borrows
 *  from that snapshot: valid until logdb_read_end.
 */
#ifndef AT_LOGPROVE_H
#define AT_LOGPROVE_H
#include "at_err.h"
#include "checkpoint.h"
#include "logdb.h"
#include "merkle.h"
#include "note.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGPROVE_ERR_MAX 256
#define LOGPROVE_LOG_ID_MAX 20      /* DER OID 2.25.<128 bits>: 1 + 19 bytes */
/*  Longest RFC 9162 TransItem written here: type, log id, two u64, the path. */
#define LOGPROVE_RFC9162_MAX (2 + 1 + LOGPROVE_LOG_ID_MAX + 16 + 2 + 2 * MERKLE_PROOF_MAX * (1 + MERKLE_HASH_BYTES))
#define LOGPROVE_RFC9162_INCLUSION 0x0106   /* VersionedTransType inclusion_proof_v2 */
#define LOGPROVE_RFC9162_CONSISTENCY 0x0105 /* VersionedTransType consistency_proof_v2 */

/*  An inclusion proof of entry `index` in the tree of `size` leaves. */
typedef struct {
    uint64_t index, size;
    uint8_t leaf_hash[MERKLE_HASH_BYTES];
    uint8_t root[MERKLE_HASH_BYTES];
    merkle_hash_t proof[MERKLE_PROOF_MAX];
    size_t len;
    const uint8_t *entry;       /* the leaf: the entry's stored bytes (borrowed) */
    size_t entry_len;
    const char *note;           /* the stored checkpoint of this size (borrowed), or NULL */
    size_t note_len;
} logprove_inclusion_t;

/*  A consistency proof from old_size to new_size. */
typedef struct {
    uint64_t old_size, new_size;
    uint8_t old_root[MERKLE_HASH_BYTES], new_root[MERKLE_HASH_BYTES];
    merkle_hash_t proof[2 * MERKLE_PROOF_MAX];
    size_t len;
    const char *old_note, *new_note;   /* stored checkpoints of these sizes (borrowed), or NULL */
    size_t old_note_len, new_note_len;
} logprove_consistency_t;

/*  The tree of the snapshot: its size and root (logdb_tree), and the newest
 *  stored checkpoint (note NULL when none). AT_ERR_NOT_FOUND when the log
 *  has no tree (written before it; the sink integrates it on open). */
typedef struct {
    uint64_t size;
    uint8_t root[MERKLE_HASH_BYTES];
    const char *note;
    size_t note_len;
    uint64_t note_size;
} logprove_head_t;
at_err logprove_head(logdb_t *db, logprove_head_t *out) __attribute__((warn_unused_result));

/*  Builds and checks (merkle_verify_inclusion against the root computed from
 *  the stored hashes, and against the stored checkpoint's root when there is
 *  one of that size) the proof. AT_ERR_RANGE: index >= size or size beyond
 *  the tree; AT_ERR_NOT_FOUND: no such entry; AT_ERR_CORRUPT: the stored
 *  hashes or checkpoint disagree (err says which); others from logdb. err
 *  (LOGPROVE_ERR_MAX) gets a message for a person on failure. */
at_err logprove_inclusion(logdb_t *db, uint64_t index, uint64_t size, logprove_inclusion_t *out, char *err)
    __attribute__((warn_unused_result));
/*  The same for a consistency proof, 0 < old_size <= new_size <= tree size. */
at_err logprove_consistency(logdb_t *db, uint64_t old_size, uint64_t new_size, logprove_consistency_t *out,
                            char *err) __attribute__((warn_unused_result));

/*  JSON renderings (the caller owns the object): hashes in base64 (and
 *  *_hex), notes as text or null; see docs/protocol-14-proofs.md. */
json_t *logprove_inclusion_json(const logprove_inclusion_t *p);
json_t *logprove_consistency_json(const logprove_consistency_t *p);
/*  A checkpoint note as JSON: origin, size, root (base64), root_hex, time,
 *  note. NULL when the note's body is not a checkpoint. */
json_t *logprove_checkpoint_json(const char *note, size_t len);

/*  The C2SP tlog-proof text of p (which must carry its checkpoint note):
 *  returns a malloc'ed NUL-terminated string the caller frees, or NULL when
 *  p->note is NULL. */
char *logprove_c2sp(const logprove_inclusion_t *p);

/*  RFC 9162 TransItems, written to out (LOGPROVE_RFC9162_MAX bytes); return
 *  the length. The log id is the DER content of the OID 2.25.<the first 16
 *  bytes of SHA-256(origin) as an unsigned integer> (the log has no
 *  assigned OID; see protocol-14-proofs.md). */
size_t logprove_rfc9162_inclusion(const logprove_inclusion_t *p, const char *origin, uint8_t *out);
size_t logprove_rfc9162_consistency(const logprove_consistency_t *p, const char *origin, uint8_t *out);
size_t logprove_log_id(const char *origin, uint8_t out[LOGPROVE_LOG_ID_MAX]);

/*  A checkpoint note: its body parsed into *out (origin, size, root, time)
 *  and, when v is not NULL, its signature by v checked (note_open).
 *  AT_ERR_SHAPE: not a note or not a checkpoint; AT_ERR_NOT_FOUND: no
 *  signature by v; AT_ERR_SIGNATURE: v's signature does not verify. */
at_err logprove_open(const note_verifier_t *v, const char *note, size_t len, checkpoint_t *out)
    __attribute__((warn_unused_result));

/*  The tree audit. logprove_audit_tree recomputes every leaf hash of entries
 *  [0, size) from the stored bytes, every stored hash of levels 8 * L from
 *  them, compares each tile (L, N) of the tree of `size` with the stored
 *  one (width included) and the root with `root` (the checkpoint's or
 *  logdb_tree's; NULL: not compared). logprove_audit_range checks only the leaf hashes of
 *  entries [from, to) against the level-0 tiles. On a mismatch: false,
 *  *at = the first bad entry index (or the first leaf of the bad tile), and
 *  a message naming it in problem (LOGPROVE_ERR_MAX). */
typedef struct {
    uint64_t leaves;    /* leaf hashes checked */
    uint64_t tiles;     /* stored tiles compared */
} logprove_audit_t;
bool logprove_audit_tree(logdb_t *db, uint64_t size, const uint8_t root[MERKLE_HASH_BYTES], logprove_audit_t *st,
                         uint64_t *at, char *problem);
bool logprove_audit_range(logdb_t *db, uint64_t from, uint64_t to, logprove_audit_t *st, uint64_t *at,
                          char *problem);

#endif
