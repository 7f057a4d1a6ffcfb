/*  findex.h: the log's secondary ("find") indexes, by attester, schema and
 *  subject, kept in LMDB beside the entries (store/logdb.h, protocol.md
 *  section 12).
 *
 *  Each is an MDB_DUPSORT|MDB_DUPFIXED database: key (12 bytes) = the
 *  bucket, u32 big-endian (index >> the index's shift), then 8 bytes: the
 *  first 8 of the attester's key, or of BLAKE2b-128 (unkeyed) of the
 *  schema's or the subject's UTF-8 bytes; values = u64
 *  big-endian log indices, sorted. Different values may share a hash (a
 *  collision): a reader checks every candidate against the entry itself.
 *
 *  Why buckets: keyed by the hash alone, every commit would insert at random
 *  places in the whole tree and rewrite a leaf page per entry, a cost that
 *  grows with the log. With the bucket first, a commit only writes into the
 *  newest bucket's key range, at the right edge of the tree. Attesters and
 *  schemas repeat, so their new indices land at the end of a few keys'
 *  duplicates: 16384-entry buckets (shift 14), 62 lookups for 1,000,000
 *  entries. Subjects are mostly unique: a commit inserts each as a new key
 *  at a random place of the bucket's range and dirties up to every leaf of
 *  it, so the subject index of a log created now is FINDEX_SUBJECT_DB, with
 *  1024-entry buckets (shift 10: about 11 leaves each; 977 lookups for
 *  1,000,000 entries). A log whose subject index is "by_subject" (written
 *  before) keeps its 16384-entry buckets. A new name rather than a new
 *  meaning for the old one: a binary from before it sees no subject index
 *  in a new log and scans (or, as a writer, creates "by_subject" and moves
 *  find_from up), so it never reads one layout as the other.
 *
 *  An attestation is indexed when its encoding begins as a version 1
 *  attestation does (an array of 9, version 1, schema str, attester bin 32,
 *  subject str; headers of any width): a walk of five headers, not a
 *  decode. Every attestation that decodes is indexed (fuzz_attestation
 *  checks it).
 *
 *  The writer adds the fields of each appended entry to a batch kept in
 *  memory (findex_add) and writes the batch at commit, in the commit's own
 *  write transaction (findex_write), sorted by key: every key's new indices
 *  are written by one MDB_MULTIPLE put and, since indices only grow, land
 *  at the end of the key's duplicates. Nothing else of the log is known
 *  here; logdb owns the environment and the transactions.
 */
#ifndef AT_FINDEX_H
#define AT_FINDEX_H
#include "at_err.h"
#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { FINDEX_ATTESTER = 0, FINDEX_SCHEMA = 1, FINDEX_SUBJECT = 2, FINDEX_COUNT_ = 3 } findex_by_t;

#define FINDEX_BUCKET_SHIFT 14   /* 16384 entries per bucket: by_attester, by_schema, by_subject */
#define FINDEX_SUBJECT_SHIFT 10  /* 1024 entries per bucket in FINDEX_SUBJECT_DB */
#define FINDEX_SUBJECT_DB "by_subject_1024"
#define FINDEX_HASH_BYTES 8
#define FINDEX_KEY_BYTES (4 + FINDEX_HASH_BYTES)

typedef struct findex_t findex_t;

findex_t *findex_new(void);
void findex_destroy(findex_t **self_p);

/*  Opens the databases in txn; creates them when create. *present is false
 *  (and 0 returned) when they do not exist and !create, or when create
 *  made them now (*created true). Returns an LMDB code. */
int findex_open(findex_t *self, MDB_txn *txn, bool create, bool *present, bool *created)
    __attribute__((warn_unused_result));

/*  The hash part of the key of a field's bytes: the first 8 bytes of an
 *  attester's key itself (an Ed25519 public key is as good as a hash), of
 *  BLAKE2b-128 of the others. */
void findex_hash(findex_by_t by, const void *value, size_t len, uint8_t out[FINDEX_HASH_BYTES]);

/*  Writer: notes the entry at index with its encoded attestation (which
 *  need not decode: then nothing is noted). Nothing of att is kept. */
void findex_add(findex_t *self, uint64_t index, const uint8_t *att, size_t att_len);
/*  Writes the noted items into txn and forgets them. Returns an LMDB code
 *  (0 on success); on failure the caller aborts txn (the items are gone). */
int findex_write(findex_t *self, MDB_txn *txn);
/*  Forgets the noted items (an aborted batch). */
void findex_clear(findex_t *self);
size_t findex_pending(const findex_t *self);

/*  Reader: calls fn on every index stored under the hash of value[0..len)
 *  in txn, in the buckets of indices [from, to) (so some outside it too),
 *  ascending, until fn returns non-zero. Candidates only (see above).
 *  AT_ERR_DB on a read error, AT_ERR_CORRUPT for a bad value size. */
typedef int(findex_fn)(uint64_t index, void *arg);
at_err findex_each(findex_t *self, MDB_txn *txn, findex_by_t by, const void *value, size_t len, uint64_t from,
                   uint64_t to, findex_fn *fn, void *arg) __attribute__((warn_unused_result));

#endif
