/*  shabench.c: SHA-256 of a Merkle leaf and of a node, libsodium against
 *  OpenSSL's libcrypto (performance.md 10): `shabench [LEAF_BYTES [ITERS]]`
 *  prints, for a leaf of LEAF_BYTES + 1 bytes (0x00 || entry; default 451,
 *  the mean entry of `attest bench`) and a node (65 bytes), the best of 7
 *  rounds of ITERS hashes (default 200000) in ns per hash, for:
 *    sodium        crypto_hash_sha256 (init, update, final: the old code)
 *    tlog          tlog/sha256.h, the log's (one fetched EVP_MD, a reused
 *                  per-thread EVP_MD_CTX)
 *    EVP_Digest    a context allocated per call, the algorithm fetched once
 *    SHA256()      OpenSSL 3's one-shot: a fetch and a context per call
 *  Under valgrind libcrypto cannot use SHA-NI (valgrind does not decode it)
 *  and falls back to its SSSE3/AVX code: time it natively.
 */
#include "merkle.h"
#include "sha256.h"
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static EVP_MD *s_md;

static void s_sodium(const uint8_t *in, size_t len, uint8_t out[32])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, in, len);
    crypto_hash_sha256_final(&st, out);
}

static void s_tlog(const uint8_t *in, size_t len, uint8_t out[32]) { sha256_digest(in, len, out); }

static void s_evp_digest(const uint8_t *in, size_t len, uint8_t out[32])
{
    if (EVP_Digest(in, len, out, NULL, s_md, NULL) != 1)
        abort();
}

static void s_oneshot(const uint8_t *in, size_t len, uint8_t out[32])
{
    if (!SHA256(in, len, out))
        abort();
}

typedef void s_fn(const uint8_t *in, size_t len, uint8_t out[32]);

static double s_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec * 1e-9;
}

/*  Best of 7 rounds, ns per hash; each hash feeds the next input. */
static double s_time(s_fn *fn, uint8_t *buf, size_t len, long iters)
{
    uint8_t out[32];
    double best = 1e30;
    for (int r = 0; r < 7; r++) {
        double t0 = s_now();
        for (long i = 0; i < iters; i++) {
            fn(buf, len, out);
            buf[1] ^= out[0];
        }
        double ns = (s_now() - t0) * 1e9 / (double) iters;
        best = ns < best ? ns : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    size_t leaf = argc > 1 ? strtoul(argv[1], NULL, 10) : 451;
    long iters = argc > 2 ? strtol(argv[2], NULL, 10) : 200000;
    if (sodium_init() < 0 || leaf > 65536 || iters <= 0 || !(s_md = EVP_MD_fetch(NULL, "SHA2-256", NULL))) {
        fprintf(stderr, "usage: shabench [LEAF_BYTES [ITERS]]\n");
        return 2;
    }
    static uint8_t buf[1 + 65536];
    randombytes_buf(buf, sizeof buf);
    const struct {
        const char *name;
        s_fn *fn;
    } v[] = { { "sodium", s_sodium }, { "tlog", s_tlog }, { "EVP_Digest", s_evp_digest }, { "SHA256()", s_oneshot } };
    const size_t lens[2] = { 1 + leaf, 1 + 2 * MERKLE_HASH_BYTES };
    const char *what[2] = { "leaf", "node" };
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
            uint8_t out[32], ref[32];
            s_sodium(buf, lens[l], ref);
            v[i].fn(buf, lens[l], out);
            if (memcmp(out, ref, 32) != 0) {
                fprintf(stderr, "shabench: %s disagrees with libsodium\n", v[i].name);
                return 1;
            }
            printf("shabench: %s %zu bytes %-10s %8.1f ns\n", what[l], lens[l], v[i].name,
                   s_time(v[i].fn, buf, lens[l], iters));
        }
    }
    EVP_MD_free(s_md);
    return 0;
}
