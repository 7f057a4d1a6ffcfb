/*  logdb.h: the LMDB log, shared by the sink (writer) and the tools (readers).
 *  Part of the store library (store/: logdb, idtab, entry), which the sink,
 *  the attest tool and the tests link; the protocol (proto/) knows nothing
 *  of it.
 *
 *  Layout (one LMDB environment, a directory holding data.mdb and lock.mdb):
 *    "entries": key u64 big-endian log index (0, 1, 2, ... contiguous)
 *               value: one entry as encoded by tlog/entry.h (a msgpack
 *               array of 15 fields, format 1)
 *    "ids":     key 32-byte attestation id -> value u64 big-endian index of
 *               the latest entry with that id (the valid one when there is
 *               one: see logdb_append), for every entry below meta "ids_upto"
 *    "audit":   key u64 big-endian log index -> value: the spot audit's
 *               disagreement with the verdict stored at that index (the sink
 *               writes it, see logdb_audit_record): got_verdict u8,
 *               got_reason u8, expected_verdict u8, expected_reason u8,
 *               t_audited u64 big-endian (wall us), then the worker's name
 *               (0..64 bytes, the rest of the value)
 *    "by_attester", "by_schema", "by_subject_1024" (or "by_subject" in
 *               a log from before it): the find indexes
 *               (store/findex.h): MDB_DUPSORT|MDB_DUPFIXED, key = u32
 *               big-endian index >> 14 (a bucket of 16384 entries; >> 10,
 *               1024 entries, in by_subject_1024), then the
 *               first 8 bytes of the attester key or of BLAKE2b-128 of the
 *               schema or subject; values = u64 big-endian
 *               indices of the entries whose attestation has it (candidates:
 *               check the entry), written at commit in the batch's txn, for
 *               every entry at or above meta "find_from"
 *    "meta":    "format" -> "attest-log-v1"; "next_index", "next_seq",
 *               "ids_upto", "find_from" (absent = 0) -> u64 big-endian;
 *               "head" -> 32 bytes, hash of the last entry
 *  There is no time index: t_committed does not decrease along the log
 *  (one writer, the wall clock read per batch), so logdb_time_search
 *  bisects the entries.
 *  The "ids" database is written in bulk: once LOGDB_IDS_FLUSH ids are
 *  pending they are sorted and written in key order, a step of
 *  LOGDB_IDS_STEP_MIN..LOGDB_IDS_STEP per commit (four per entry of the
 *  batch); random 32-byte keys inserted a few at a time would rewrite a leaf
 *  page per entry. Ids of entries [ids_upto, next_index) (about two flushes'
 *  worth at most) may be missing from "ids" and are found by reading those
 *  entries: the writer keeps them in memory, readers load them once per
 *  snapshot.
 *  Hash chain: hash(entry) = entry_hash() = BLAKE2b-256 of the value bytes exactly as stored;
 *  entry 0 has prev_hash = 32 zero bytes, entry i+1 has prev_hash = hash(entry i),
 *  and meta "head" = hash(last entry).
 */
#ifndef AT_LOGDB_H
#define AT_LOGDB_H
#include "at_err.h"
#include "attestation.h"
#include "entry.h"
#include "merkle.h"
#include "note.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGDB_FORMAT ENTRY_FORMAT
#define LOGDB_HASH_BYTES ENTRY_HASH_BYTES
#define LOGDB_IDS_FLUSH 32768   /* pending ids that start a flush cycle */
#define LOGDB_IDS_STEP 2048     /* most ids written per commit during a cycle */
#define LOGDB_IDS_STEP_MIN 256  /* least ids written per commit during a cycle */
#define LOGDB_FILTER_MB_DEFAULT 4  /* writer's id filter: ~0.1% false positives at 1M ids, ~1% at 2.8M */

/*  One entry of the log (fields and borrowing: entry_t in entry.h). */
typedef entry_t logdb_entry_t;

typedef struct {
    uint64_t next_index;
    uint64_t next_seq;
    uint64_t ids_upto;          /* entries below this have their id in "ids" */
    uint8_t head[LOGDB_HASH_BYTES];
} logdb_state_t;

typedef struct logdb_t logdb_t;

/*  Opens (creating when !readonly) the log in directory dir. map_size in
 *  bytes (0 = keep the file's); LMDB raises it to what the file already
 *  holds. Returns NULL and sets *err on failure, after logging why. */
logdb_t *logdb_open(const char *dir, bool readonly, uint64_t map_size, at_err *err);
void logdb_destroy(logdb_t **self_p);

/*  The map's size and use, in bytes. */
typedef struct {
    uint64_t map_size;    /* the map now (it grows: logdb_grow) */
    uint64_t used;        /* pages up to the last one in use, times page_size */
    uint64_t page_size;
} logdb_map_usage_t;
at_err logdb_map_usage(logdb_t *self, logdb_map_usage_t *out) __attribute__((warn_unused_result));

/*  Writer, outside a batch (no transaction open in this process): doubles
 *  the map, to at most max_size bytes, after a batch failed with
 *  AT_ERR_MAP_FULL; then run the batch again. Sets *new_size to the map's
 *  size (grown or not). AT_ERR_MAP_FULL when the map is at max_size
 *  already; AT_ERR_DB when LMDB refuses. Readers in other processes adopt
 *  the new size at their next snapshot. */
at_err logdb_grow(logdb_t *self, uint64_t max_size, uint64_t *new_size) __attribute__((warn_unused_result));

/*  The committed state (reads a fresh snapshot). */
at_err logdb_state(logdb_t *self, logdb_state_t *out) __attribute__((warn_unused_result));

/*  Writer: one write transaction per batch. Between begin and commit,
 *  lookups see the batch's own appends. */
at_err logdb_begin(logdb_t *self) __attribute__((warn_unused_result));
/*  The index of the latest entry with this id, which is the valid one when
 *  there is one (nothing is appended after it): AT_OK with *index set, or
 *  AT_ERR_NOT_FOUND. Inside a write txn or not. */
at_err logdb_lookup_id(logdb_t *self, const uint8_t id[AT_ID_BYTES], uint64_t *index)
    __attribute__((warn_unused_result));
/*  Resizes the writer's id filter (a Bloom filter of every id in the log,
 *  which spares the index lookup of almost every new id) to mb MiB and
 *  refills it: one walk over the "ids" database. Not during a batch. */
at_err logdb_set_id_filter_mb(logdb_t *self, unsigned mb) __attribute__((warn_unused_result));
/*  How many ids the writer's filter holds with about 1% false positives
 *  (12 bits per id); beyond that, appends look more and more ids up in
 *  the index. */
uint64_t logdb_id_filter_capacity(const logdb_t *self);
/*  A hint that e with this id will soon be appended: starts loading the
 *  memory its duplicate check and index insertion touch (a cache miss each
 *  otherwise). Call it a few entries ahead. */
void logdb_prefetch_id(const logdb_t *self, const uint8_t id[AT_ID_BYTES]);
/*  Appends e at the next index: sets e->index and e->prev_hash, and stores
 *  entry_encode(e). The id claim rule (protocol.md section 12): only a valid
 *  entry (verdict 0) claims its id. AT_ERR_DUPLICATE (nothing written;
 *  logdb_lookup_id gives the entry to answer with) when a VALID entry with
 *  e->id is already in the log or the batch, whatever e's verdict, or when
 *  e is invalid and the latest entry with its id is an invalid one with the
 *  same attestation bytes (a retry). Otherwise e is appended: a valid e after
 *  invalid copies, or an invalid e with other bytes. AT_ERR_OVERSIZE or AT_ERR_RANGE when e does not encode: nothing
 *  is written and the batch may go on. Any other error (AT_ERR_MAP_FULL, DB)
 *  leaves the batch unusable: call logdb_abort. */
at_err logdb_append(logdb_t *self, logdb_entry_t *e) __attribute__((warn_unused_result));
/*  Records next_seq and commits durably. On failure the batch is aborted;
 *  the cause is named: AT_ERR_MAP_FULL (the map; logdb_grow), AT_ERR_NO_SPACE
 *  (the filesystem is full: ENOSPC, or LMDB's EIO of a short write while
 *  little space is left), AT_ERR_QUOTA (EDQUOT), AT_ERR_IO (another system
 *  error), AT_ERR_DB (LMDB's own). The first three are not logged here. */
at_err logdb_commit(logdb_t *self, uint64_t next_seq) __attribute__((warn_unused_result));
void logdb_abort(logdb_t *self);

/*  Reader: a read snapshot; entries returned by get borrow from it until
 *  logdb_read_end. raw/raw_len (optional) receive the stored value bytes. */
at_err logdb_read_begin(logdb_t *self) __attribute__((warn_unused_result));
void logdb_read_end(logdb_t *self);
at_err logdb_get(logdb_t *self, uint64_t index, logdb_entry_t *out, const uint8_t **raw, size_t *raw_len)
    __attribute__((warn_unused_result));
/*  Invalid entries with this id (the index holds the latest only): scans
 *  the current read snapshot's entries [from, count) (O(n), for the tools) and writes up
 *  to max of their indices to out. Returns how many were found (may exceed
 *  max) or a negative -at_err on a read error. */
int64_t logdb_find_invalid(logdb_t *self, const uint8_t id[AT_ID_BYTES], uint64_t from, uint64_t *out, size_t max);
/*  Number of entries in the current read snapshot. */
uint64_t logdb_count(logdb_t *self);

/*  One recorded disagreement of the spot audit (the "audit" database). */
typedef struct {
    uint64_t index;                 /* of the entry audited */
    uint8_t got_verdict, got_reason;            /* as the worker judged it (stored in the entry) */
    uint8_t expected_verdict, expected_reason;  /* the audit's judgement */
    uint64_t t_audited;             /* wall-clock us */
    const char *worker;             /* borrowed (from the caller, or the read snapshot); <= ENTRY_NAME_MAX */
    size_t worker_len;
} logdb_audit_t;

/*  Writer, outside a batch: records a disagreement in its own durable write
 *  transaction (an index recorded twice keeps the last). Nothing of a is
 *  kept. Errors: AT_ERR_DB, AT_ERR_MAP_FULL. */
at_err logdb_audit_record(logdb_t *self, const logdb_audit_t *a) __attribute__((warn_unused_result));
/*  Calls fn on every recorded disagreement in index order (in the current
 *  read snapshot, or a temporary one), stopping when fn returns non-zero.
 *  a->worker borrows from the snapshot for the call only. A log written
 *  before the audit existed has none (AT_OK). AT_ERR_CORRUPT for a record
 *  that does not decode. */
typedef int(logdb_audit_fn)(const logdb_audit_t *a, void *arg);
at_err logdb_audit_each(logdb_t *self, logdb_audit_fn *fn, void *arg) __attribute__((warn_unused_result));

/*  Quarantine lifts (meta key "lift:" + the worker's identity, value u64
 *  big-endian: the log's next_index when the lift was recorded). A worker
 *  is quarantined by a recorded disagreement at index i unless a lift of
 *  its identity was recorded at a next_index above i; the disagreements
 *  themselves stay (the audit trail).
 *  logdb_lift_record: writer, outside a batch, in its own durable write
 *  transaction; *at gets the next_index recorded. Errors: AT_ERR_DB,
 *  AT_ERR_MAP_FULL, AT_ERR_RANGE (an empty identity or one longer than
 *  ENTRY_NAME_MAX + 4).
 *  logdb_lift_at: the recorded lift of ident (current read snapshot or a
 *  temporary one): AT_OK with *at, AT_ERR_NOT_FOUND when there is none. */
#define LOGDB_IDENT_MAX (ENTRY_NAME_MAX + 4)
at_err logdb_lift_record(logdb_t *self, const char *ident, size_t len, uint64_t *at)
    __attribute__((warn_unused_result));
at_err logdb_lift_at(logdb_t *self, const char *ident, size_t len, uint64_t *at) __attribute__((warn_unused_result));

/* ---------------------------------------------------------------- find */

typedef enum { LOGDB_BY_ATTESTER = 0, LOGDB_BY_SCHEMA = 1, LOGDB_BY_SUBJECT = 2, LOGDB_BY_COUNT_ = 3 } logdb_by_t;
#define LOGDB_REINDEX_SLICE 262144   /* entries indexed per transaction by logdb_reindex */

/*  In a read snapshot: true when the log has the find indexes; *from is the
 *  first index they cover (the entries below must be scanned), the count of
 *  entries when there are none. */
bool logdb_find_indexed(logdb_t *self, uint64_t *from);
/*  Calls fn on the index of every entry at or above find_from whose field
 *  `by` MAY be value[0..len) (the attester's 32 bytes, the schema's or the
 *  subject's bytes), ascending, until fn returns non-zero: the caller
 *  checks each against the entry (hash collisions). Only the index buckets
 *  holding [from, to) are read: fn may see indices a little outside it.
 *  AT_ERR_NOT_FOUND when the log has no find indexes; AT_ERR_DB,
 *  AT_ERR_CORRUPT. */
typedef int(logdb_index_fn)(uint64_t index, void *arg);
at_err logdb_find_each(logdb_t *self, logdb_by_t by, const void *value, size_t len, uint64_t from, uint64_t to,
                       logdb_index_fn *fn, void *arg) __attribute__((warn_unused_result));
/*  The first index whose t_committed is >= t_us (the count when none), by
 *  bisection of the snapshot's entries. */
at_err logdb_time_search(logdb_t *self, uint64_t t_us, uint64_t *index) __attribute__((warn_unused_result));
/*  The id that begins with the hex digits hex (1..64, any case; an odd
 *  count allowed), in *id, and the index logdb_lookup_id gives for it. In a
 *  read snapshot. AT_ERR_RANGE: not hex; AT_ERR_NOT_FOUND; AT_ERR_DUPLICATE:
 *  ambiguous (two ids or more begin so; *id is one of them). */
at_err logdb_lookup_prefix(logdb_t *self, const char *hex, uint8_t id[AT_ID_BYTES], uint64_t *index)
    __attribute__((warn_unused_result));
/*  Writer, outside a batch: indexes the entries below find_from (a log
 *  written before the find indexes), LOGDB_REINDEX_SLICE per transaction
 *  from the top down, lowering find_from after each. *done = entries
 *  indexed. */
at_err logdb_reindex(logdb_t *self, uint64_t *done) __attribute__((warn_unused_result));

/* ---------------------------------------------------------------- tree */
/*  The Merkle tree over the entries (tlog/merkle.h; protocol.md section
 *  14), kept in the same write transaction as the entries, so the tree
 *  always covers exactly the committed entries:
 *    "tiles":       key u8 tile level L then u64 big-endian tile number N
 *                   (9 bytes) -> the tile's W stored hashes of level 8 * L
 *                   (W * 32 bytes; W = 256 once full, then never rewritten)
 *    "checkpoints": key u64 big-endian tree size -> the signed checkpoint
 *                   note (tlog/note.h, tlog/checkpoint.h) of that size; the
 *                   newest LOGDB_CHECKPOINTS_DEFAULT (logdb_set_signer) kept
 *    meta "tree_size" (u64 BE): leaves in the tree, = next_index once the
 *                   tree exists (a log written before it is integrated when
 *                   the writer opens it, see logdb_set_signer)
 *  The leaf of entry i is its value bytes exactly as stored.
 */
#define LOGDB_CHECKPOINTS_DEFAULT 100000

/*  Writer, outside a batch: from now on every commit that grows the tree
 *  stores a checkpoint of the new size signed by signer for origin (both
 *  borrowed: they must outlive self), keeping the newest `keep`
 *  (>= 1). Without a signer the tree is still kept but no checkpoint is
 *  written. Integrates a log that has entries but no tree first (one
 *  pass over the entries, logged), and writes a checkpoint of the current
 *  size when the newest stored is older. AT_ERR_DB, AT_ERR_MAP_FULL,
 *  AT_ERR_CORRUPT (the stored tree does not match the entries' count). */
at_err logdb_set_signer(logdb_t *self, const note_signer_t *signer, const char *origin, uint64_t keep)
    __attribute__((warn_unused_result));
/*  The root of the tree after the last commit (writer) or in the read
 *  snapshot (reader): *size leaves and their root hash. */
at_err logdb_tree(logdb_t *self, uint64_t *size, uint8_t root[LOGDB_HASH_BYTES]) __attribute__((warn_unused_result));
/*  Reader, in a snapshot: the stored tile (level L, number n): *hashes
 *  borrows the snapshot (until logdb_read_end), *width is its number of
 *  hashes (1..256). AT_ERR_NOT_FOUND when it does not exist (yet). */
at_err logdb_tile(logdb_t *self, unsigned level, uint64_t n, const uint8_t **hashes, size_t *width)
    __attribute__((warn_unused_result));
/*  Reader, in a snapshot: a merkle_reader_t (tlog/merkle.h) that reads the
 *  snapshot's stored hashes from its tiles. Valid until logdb_read_end. */
merkle_reader_t logdb_merkle_reader(logdb_t *self);
/*  Reader, in a snapshot: the checkpoint of tree size `size` (0 = the
 *  newest; see also logdb_checkpoint_covering), the note text borrowed from
 *  the snapshot, *at_size its size. AT_ERR_NOT_FOUND: none stored (no
 *  signer yet, or pruned). */
at_err logdb_checkpoint(logdb_t *self, uint64_t size, const char **note, size_t *len, uint64_t *at_size)
    __attribute__((warn_unused_result));
/*  Reader, in a snapshot: the oldest stored checkpoint whose tree contains
 *  entry index (size > index). AT_ERR_NOT_FOUND when none does. */
at_err logdb_checkpoint_covering(logdb_t *self, uint64_t index, const char **note, size_t *len, uint64_t *at_size)
    __attribute__((warn_unused_result));

/* ---------------------------------------------------------------- revoked */
/*  The status index of revocations (store/revoke.h; protocol.md 14):
 *    "revoked": key 32-byte attestation id of a revoked target -> value
 *               u64 big-endian index of the target's (valid) entry, then
 *               u64 big-endian index of the valid revocation's entry
 *               (16 bytes); written in the batch's transaction when the
 *               revocation is appended, never rewritten
 *  A log written before revocations existed has none (readers: not found).
 */
#define LOGDB_REVOKED_BYTES 16

/*  Whether the target id is revoked: AT_OK with *target_index (its valid
 *  entry) and *by_index (the revocation's entry) set, AT_ERR_NOT_FOUND when
 *  it is not, AT_ERR_CORRUPT for a record of the wrong size, AT_ERR_DB. In
 *  the writer's batch (which sees its own records) or a read snapshot, or
 *  a temporary snapshot when no transaction is open. */
at_err logdb_revoked(logdb_t *self, const uint8_t id[AT_ID_BYTES], uint64_t *target_index, uint64_t *by_index)
    __attribute__((warn_unused_result));
/*  Writer, in a batch, after logdb_append of the revocation: records that
 *  the target id (entry target_index) is revoked by entry by_index.
 *  store/revoke.c calls it; it judges nothing. AT_ERR_DB, AT_ERR_MAP_FULL
 *  (the batch is then unusable: logdb_abort). */
at_err logdb_revoked_put(logdb_t *self, const uint8_t id[AT_ID_BYTES], uint64_t target_index, uint64_t by_index)
    __attribute__((warn_unused_result));

/*  The same as entry_decode() and entry_hash() (tlog/entry.h), under the
 *  names older callers use. */
at_err logdb_entry_decode(logdb_entry_t *out, const uint8_t *buf, size_t len) __attribute__((warn_unused_result));
void logdb_hash(const uint8_t *value, size_t len, uint8_t out[LOGDB_HASH_BYTES]);

#endif
