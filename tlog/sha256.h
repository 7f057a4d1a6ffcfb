/*  sha256.h: SHA-256, the hash of the transparency log: the Merkle tree's
 *  leaf and node hashes, the empty tree's root, note key IDs (tlog/note.c,
 *  tlog/cosig.c) and the C2SP log ID (cli/logprove.c). Every SHA-256 the
 *  log computes goes through here.
 *
 *  It is OpenSSL's libcrypto (EVP, the default provider), which uses the
 *  CPU's SHA extensions (x86 SHA-NI, ARMv8 SHA2) when it has them and
 *  tuned assembly otherwise: on this project's 2-core test machine a
 *  451-byte leaf costs about a quarter of libsodium's portable code
 *  (performance.md 10), and the sink hashes every entry as a leaf. The
 *  output is plain SHA-256 (FIPS 180-4): test_sha256 checks it against
 *  libsodium's on random inputs.
 *
 *  Thread-safe: the algorithm is fetched once per process, and each thread
 *  keeps one digest context of its own, reused by every call (so a hash
 *  allocates nothing after a thread's first) and freed when the thread
 *  exits. A failure inside libcrypto (out of memory, no SHA-256 in the
 *  provider) is not something a caller can handle: it is printed to
 *  stderr and aborts, like proto/alloc.h. Nothing here needs an init call.
 */
#ifndef AT_SHA256_H
#define AT_SHA256_H
#include <stddef.h>
#include <stdint.h>

#define SHA256_BYTES 32

/*  out = SHA-256(in[0..len)); in may be NULL when len is 0. */
void sha256_digest(const void *in, size_t len, uint8_t out[SHA256_BYTES]);

/*  One piece of a message hashed by sha256_parts (borrowed for the call). */
typedef struct {
    const void *p;
    size_t len;
} sha256_part_t;

/*  out = SHA-256 of the concatenation of parts[0..n), without copying them
 *  together (e.g. 0x00 || leaf bytes). A part of length 0 may have p NULL. */
void sha256_parts(const sha256_part_t *parts, size_t n, uint8_t out[SHA256_BYTES]);

#endif
