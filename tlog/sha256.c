/*  sha256.c: SHA-256 through OpenSSL's libcrypto (see sha256.h).
 *
 *  EVP_Digest and SHA256() would fetch the algorithm or allocate a context
 *  on every call (SHA256() in OpenSSL 3 does both), which costs as much as
 *  hashing a Merkle node itself. Here the algorithm is fetched once
 *  (pthread_once) and shared, which OpenSSL allows across threads, and each
 *  thread reuses one EVP_MD_CTX, kept in a __thread pointer for speed and
 *  registered under a pthread key whose destructor frees it at thread exit
 *  (the pattern of proto/mpzone.c).
 */
#include "sha256.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static EVP_MD *s_md;
static pthread_key_t s_key;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static __thread EVP_MD_CTX *s_ctx;

static void s_fail(const char *what)
{
    fprintf(stderr, "attest: libcrypto: %s failed; aborting\n", what);
    fflush(stderr);
    abort();
}

static void s_free_ctx(void *ctx) { EVP_MD_CTX_free(ctx); }

static void s_init(void)
{
    /* No atexit teardown of libcrypto (when this is its first use): a
     * thread may still be hashing while the process exits. */
    (void) OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
    s_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    if (!s_md)
        s_fail("fetching SHA2-256");
    if (pthread_key_create(&s_key, s_free_ctx) != 0)
        s_fail("pthread_key_create");
}

/*  This thread's context, initialised for a new digest. */
static EVP_MD_CTX *s_begin(void)
{
    EVP_MD_CTX *ctx = s_ctx;
    if (!ctx) {
        pthread_once(&s_once, s_init);   /* also orders this thread after the fetch */
        if (!(ctx = EVP_MD_CTX_new()))
            s_fail("EVP_MD_CTX_new");
        (void) pthread_setspecific(s_key, ctx);
        s_ctx = ctx;
    }
    if (EVP_DigestInit_ex2(ctx, s_md, NULL) != 1)
        s_fail("EVP_DigestInit_ex2");
    return ctx;
}

static void s_update(EVP_MD_CTX *ctx, const void *p, size_t len)
{
    if (len && EVP_DigestUpdate(ctx, p, len) != 1)
        s_fail("EVP_DigestUpdate");
}

static void s_end(EVP_MD_CTX *ctx, uint8_t out[SHA256_BYTES])
{
    if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
        s_fail("EVP_DigestFinal_ex");
}

void sha256_digest(const void *in, size_t len, uint8_t out[SHA256_BYTES])
{
    EVP_MD_CTX *ctx = s_begin();
    s_update(ctx, in, len);
    s_end(ctx, out);
}

void sha256_parts(const sha256_part_t *parts, size_t n, uint8_t out[SHA256_BYTES])
{
    EVP_MD_CTX *ctx = s_begin();
    for (size_t i = 0; i < n; i++)
        s_update(ctx, parts[i].p, parts[i].len);
    s_end(ctx, out);
}
