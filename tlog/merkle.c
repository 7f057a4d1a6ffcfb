/*  merkle.c: skeleton, implemented on branch h-merkle (see merkle.h). */
#include "merkle.h"
#include <sodium.h>
#include <string.h>

void merkle_leaf_hash(const void *leaf, size_t len, uint8_t out[MERKLE_HASH_BYTES])
{
    crypto_hash_sha256_state st;
    uint8_t z = 0;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &z, 1);
    crypto_hash_sha256_update(&st, leaf, len);
    crypto_hash_sha256_final(&st, out);
}

void merkle_node_hash(const uint8_t left[MERKLE_HASH_BYTES], const uint8_t right[MERKLE_HASH_BYTES],
                      uint8_t out[MERKLE_HASH_BYTES])
{
    uint8_t b[1 + 2 * MERKLE_HASH_BYTES];
    b[0] = 1;
    memcpy(b + 1, left, MERKLE_HASH_BYTES);
    memcpy(b + 1 + MERKLE_HASH_BYTES, right, MERKLE_HASH_BYTES);
    crypto_hash_sha256(out, b, sizeof b);
}

at_err merkle_range_hash(const merkle_reader_t *r, uint64_t lo, uint64_t hi, uint8_t out[MERKLE_HASH_BYTES])
{ (void) r; (void) lo; (void) hi; (void) out; return AT_ERR_PROTOCOL; }
at_err merkle_root(const merkle_reader_t *r, uint64_t size, uint8_t out[MERKLE_HASH_BYTES])
{ (void) r; (void) size; (void) out; return AT_ERR_PROTOCOL; }
at_err merkle_prove_inclusion(const merkle_reader_t *r, uint64_t index, uint64_t size,
                              merkle_hash_t proof[MERKLE_PROOF_MAX], size_t *len)
{ (void) r; (void) index; (void) size; (void) proof; (void) len; return AT_ERR_PROTOCOL; }
at_err merkle_prove_consistency(const merkle_reader_t *r, uint64_t old_size, uint64_t new_size,
                                merkle_hash_t proof[2 * MERKLE_PROOF_MAX], size_t *len)
{ (void) r; (void) old_size; (void) new_size; (void) proof; (void) len; return AT_ERR_PROTOCOL; }
bool merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf_hash[MERKLE_HASH_BYTES],
                             const merkle_hash_t *proof, size_t len, const uint8_t root[MERKLE_HASH_BYTES])
{ (void) index; (void) size; (void) leaf_hash; (void) proof; (void) len; (void) root; return false; }
bool merkle_verify_consistency(uint64_t old_size, uint64_t new_size, const uint8_t old_root[MERKLE_HASH_BYTES],
                               const uint8_t new_root[MERKLE_HASH_BYTES], const merkle_hash_t *proof, size_t len)
{ (void) old_size; (void) new_size; (void) old_root; (void) new_root; (void) proof; (void) len; return false; }
bool merkle_hash_from_tile(unsigned level, uint64_t n, uint64_t tile_n, const merkle_hash_t *tile, size_t width,
                           uint8_t out[MERKLE_HASH_BYTES])
{ (void) level; (void) n; (void) tile_n; (void) tile; (void) width; (void) out; return false; }
size_t merkle_tile_path(char *out, size_t cap, int level, uint64_t n, unsigned width)
{ (void) out; (void) cap; (void) level; (void) n; (void) width; return 0; }
bool merkle_tile_parse(const char *path, int *level, uint64_t *n, unsigned *width)
{ (void) path; (void) level; (void) n; (void) width; return false; }
