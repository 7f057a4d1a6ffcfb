/*  merkle.h: the Merkle tree of the log (RFC 6962 / RFC 9162 section 2.1),
 *  its proofs, and the C2SP tlog-tiles naming of its stored hashes.
 *
 *  Part of the tlog library (tlog/: merkle, note, checkpoint, sha256), the
 *  transparency-log formats, which depends on libsodium and libcrypto (its
 *  SHA-256, tlog/sha256.h) only: the sink (store/tiles.c) builds the tree,
 *  the attest tool and the producer library prove and verify with it.
 *
 *  Hashes (SHA-256, tlog/sha256.h):
 *    leaf hash  = SHA-256(0x00 || leaf bytes)
 *    node hash  = SHA-256(0x01 || left || right)
 *    MTH(D[0:n]) as RFC 9162 2.1.1: the left subtree is the largest power
 *    of two smaller than n.
 *  "Stored hashes" are the hashes of complete subtrees: (level, n) covers
 *  leaves [n << level, (n + 1) << level). Proofs are built from stored
 *  hashes only, read through a merkle_reader_t, so the same code proves
 *  from the sink's in-memory tiles, from tiles in LMDB or from tiles
 *  fetched over HTTP.
 *
 *  Tiles (C2SP tlog-tiles): tile (L, N) holds the stored hashes of level
 *  8 * L with n in [256 * N, 256 * N + W), W = 256 for a full tile and
 *  1..255 for the partial (rightmost) one; its path is
 *  "tile/<L>/<N>[.p/<W>]" with N written as 3-digit groups, every group
 *  but the last prefixed by "x" (1234067 -> "x001/x234/067"), and the
 *  entry bundle of leaves [256 * N, 256 * N + W) is
 *  "tile/entries/<N>[.p/<W>]".
 *
 *  Everything here is stateless and allocates nothing.
 */
#ifndef AT_MERKLE_H
#define AT_MERKLE_H
#include "at_err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_BYTES 32
#define MERKLE_TILE_HEIGHT 8        /* levels per tile */
#define MERKLE_TILE_WIDTH 256       /* hashes in a full tile */
#define MERKLE_PROOF_MAX 64         /* longest inclusion proof; a consistency proof has at most 2 * 64 */
#define MERKLE_TILE_PATH_MAX 96     /* longest tile path with its NUL */

typedef uint8_t merkle_hash_t[MERKLE_HASH_BYTES];

void merkle_leaf_hash(const void *leaf, size_t len, uint8_t out[MERKLE_HASH_BYTES]);
void merkle_node_hash(const uint8_t left[MERKLE_HASH_BYTES], const uint8_t right[MERKLE_HASH_BYTES],
                      uint8_t out[MERKLE_HASH_BYTES]);

/*  Reads the stored hash (level, n) into out. The callers only ask for
 *  complete subtrees inside the tree they prove against. Returns AT_OK, or
 *  the reader's own error (AT_ERR_NOT_FOUND, AT_ERR_DB, AT_ERR_IO,
 *  AT_ERR_CORRUPT), which the proof functions pass on. */
typedef at_err(merkle_read_fn)(void *arg, unsigned level, uint64_t n, uint8_t out[MERKLE_HASH_BYTES]);
typedef struct {
    merkle_read_fn *read;
    void *arg;
} merkle_reader_t;

/*  MTH of leaves [lo, hi), lo < hi, from the stored hashes of its complete
 *  subtrees (at most 2 * 64 reads). lo must be a multiple of a power of
 *  two >= hi - lo, as every subtree of MTH and of the proofs is;
 *  AT_ERR_RANGE otherwise. merkle_root is MTH(D[0:size]); the root
 *  of the empty tree (size 0) is SHA-256 of nothing. */
at_err merkle_range_hash(const merkle_reader_t *r, uint64_t lo, uint64_t hi, uint8_t out[MERKLE_HASH_BYTES])
    __attribute__((warn_unused_result));
at_err merkle_root(const merkle_reader_t *r, uint64_t size, uint8_t out[MERKLE_HASH_BYTES])
    __attribute__((warn_unused_result));

/*  Inclusion proof of leaf index in the tree of size (RFC 9162 2.1.3.1,
 *  PATH(m, D[n])): writes *len hashes (<= MERKLE_PROOF_MAX) to proof, from
 *  the leaf's sibling up. AT_ERR_RANGE when index >= size. */
at_err merkle_prove_inclusion(const merkle_reader_t *r, uint64_t index, uint64_t size,
                              merkle_hash_t proof[MERKLE_PROOF_MAX], size_t *len) __attribute__((warn_unused_result));
/*  Consistency proof from old_size to new_size (RFC 9162 2.1.4.1,
 *  PROOF(m, D[n])), 0 < old_size <= new_size: *len hashes (<= 2 *
 *  MERKLE_PROOF_MAX; none when the sizes are equal). AT_ERR_RANGE
 *  otherwise. */
at_err merkle_prove_consistency(const merkle_reader_t *r, uint64_t old_size, uint64_t new_size,
                                merkle_hash_t proof[2 * MERKLE_PROOF_MAX], size_t *len)
    __attribute__((warn_unused_result));

/*  Verification (RFC 9162 2.1.3.2 and 2.1.4.2); the roots are compared in
 *  constant time. True only when the proof checks. */
bool merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf_hash[MERKLE_HASH_BYTES],
                             const merkle_hash_t *proof, size_t len, const uint8_t root[MERKLE_HASH_BYTES]);
bool merkle_verify_consistency(uint64_t old_size, uint64_t new_size, const uint8_t old_root[MERKLE_HASH_BYTES],
                               const uint8_t new_root[MERKLE_HASH_BYTES], const merkle_hash_t *proof, size_t len);

/*  Stored hash (level, n) from the hashes of its tile: level = 8 * L + k
 *  with k < 8, and the tile's hashes tile[0..width) (those of level 8 * L
 *  from 256 * N); computes the root of the 2^k of them it covers. false
 *  when they are not all inside the tile. */
bool merkle_hash_from_tile(unsigned level, uint64_t n, uint64_t tile_n, const merkle_hash_t *tile, size_t width,
                           uint8_t out[MERKLE_HASH_BYTES]);

/*  Tile paths (see above). level MERKLE_TILE_ENTRIES names the entry
 *  bundle. width 256 = a full tile (no ".p/"). Returns the length written
 *  (< cap), or 0 when it does not fit or width is not 1..256. */
#define MERKLE_TILE_ENTRIES (-1)
size_t merkle_tile_path(char *out, size_t cap, int level, uint64_t n, unsigned width);
/*  Parses a path as written by merkle_tile_path (without a leading "/"):
 *  *level (MERKLE_TILE_ENTRIES for entries), *n, *width (256 when full).
 *  Strict: every group 3 digits, "x" on all but the last, no leading
 *  zeroes beyond the groups' own, width 1..255 after ".p/". false when
 *  the path is not one. */
bool merkle_tile_parse(const char *path, int *level, uint64_t *n, unsigned *width);

#endif
