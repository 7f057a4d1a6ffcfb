/*  tiles.h: the log's Merkle tree as C2SP tiles in LMDB, and its signed
 *  checkpoints: the "tiles" and "checkpoints" databases of store/logdb.h.
 *
 *  The writer (the sink, through logdb) keeps the rightmost tile of every
 *  level in memory, with the hashes of the complete subtrees inside it (a
 *  stack of at most 8 per level), so that appending a leaf costs its leaf
 *  hash and, amortised, one node hash, and the root of the tree is a fold
 *  of at most 64 hashes. A tile that fills is written at once (it never
 *  changes again); the partial ones are rewritten at each commit
 *  (tiles_write), in the batch's own transaction, so tree and entries are
 *  always committed together. After an aborted batch, tiles_load from the
 *  committed state.
 *
 *  Readers get stored tiles as they are (tiles_get: serving a tile is a
 *  read) and checkpoints as stored.
 *
 *  Nothing else of the log is known here; logdb owns the environment, the
 *  transactions and meta "tree_size".
 */
#ifndef AT_TILES_H
#define AT_TILES_H
#include "at_err.h"
#include "merkle.h"
#include "note.h"
#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TILES_LEVELS 8          /* tile levels 0..7: 256^8 = 2^64 leaves */

typedef struct tiles_t tiles_t;

tiles_t *tiles_new(void);
void tiles_destroy(tiles_t **self_p);

/*  Opens the databases in txn, creating them when create. *present false
 *  (and 0 returned) when they do not exist and !create. LMDB code. */
int tiles_open(tiles_t *self, MDB_txn *txn, bool create, bool *present) __attribute__((warn_unused_result));

/*  Writer: the in-memory state of the tree of `size` leaves stored in txn
 *  (its rightmost tiles). AT_ERR_CORRUPT when a stored tile does not have
 *  the width the size implies; AT_ERR_DB. */
at_err tiles_load(tiles_t *self, MDB_txn *txn, uint64_t size) __attribute__((warn_unused_result));
/*  Writer: appends the leaf leaf[0..len) (its leaf hash); a tile that
 *  fills is put into txn now. AT_ERR_DB or AT_ERR_MAP_FULL: the batch is
 *  unusable (abort, then tiles_load). */
at_err tiles_add(tiles_t *self, MDB_txn *txn, const void *leaf, size_t len) __attribute__((warn_unused_result));
/*  Writer: puts the partial tiles changed since the last write into txn. */
at_err tiles_write(tiles_t *self, MDB_txn *txn) __attribute__((warn_unused_result));
/*  Writer: leaves in the tree (committed or not), and its root. */
uint64_t tiles_size(const tiles_t *self);
void tiles_root(const tiles_t *self, uint8_t out[MERKLE_HASH_BYTES]);

/*  Writer: puts into txn the checkpoint of the current tree signed by
 *  signer (origin, size, root, time_s), and deletes the oldest stored ones
 *  beyond keep. AT_ERR_CONFIG when the origin is invalid; AT_ERR_DB,
 *  AT_ERR_MAP_FULL. */
at_err tiles_checkpoint(tiles_t *self, MDB_txn *txn, const note_signer_t *signer, const char *origin,
                        uint64_t keep, uint64_t time_s) __attribute__((warn_unused_result));
/*  The size of the newest stored checkpoint in txn; 0 when none. */
uint64_t tiles_checkpoint_newest(tiles_t *self, MDB_txn *txn);

/*  Reader: the stored tile (level, n): hashes borrowed from txn, *width
 *  its hashes. AT_ERR_NOT_FOUND, AT_ERR_CORRUPT (a size not a multiple of
 *  32 or above 256 hashes), AT_ERR_DB. */
at_err tiles_get(tiles_t *self, MDB_txn *txn, unsigned level, uint64_t n, const uint8_t **hashes, size_t *width)
    __attribute__((warn_unused_result));
/*  Reader: the checkpoint of size exactly `size` (0: the newest), or with
 *  covering the oldest one of size > index `size`. The note borrowed from
 *  txn. AT_ERR_NOT_FOUND, AT_ERR_DB. */
at_err tiles_checkpoint_get(tiles_t *self, MDB_txn *txn, uint64_t size, bool covering, const char **note,
                            size_t *len, uint64_t *at_size) __attribute__((warn_unused_result));

#endif
