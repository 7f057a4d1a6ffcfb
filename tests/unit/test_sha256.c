/*  test_sha256.c: tlog/sha256.h (libcrypto) gives what libsodium's
 *  crypto_hash_sha256 gives, for every length 0..2000 of random, all-0x00
 *  and all-0xff bytes, in one piece and cut into random parts (empty ones
 *  included); the FIPS 180-2 answers; the Merkle leaf and node hashes
 *  built on it against their definitions; and the same from four threads
 *  at once, each with its own context (run under TSan and LSan in CI).
 */
#include "check.h"
#include "merkle.h"
#include "sha256.h"
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#define S_MAX 2000

static bool s_same(const uint8_t *in, size_t len)
{
    uint8_t mine[SHA256_BYTES], theirs[crypto_hash_sha256_BYTES];
    sha256_digest(in, len, mine);
    crypto_hash_sha256(theirs, in, len);
    return memcmp(mine, theirs, SHA256_BYTES) == 0;
}

/*  in[0..len) cut at up to three random places (parts may be empty). */
static bool s_same_parts(const uint8_t *in, size_t len)
{
    size_t cut[4] = { 0, 0, 0, len };
    for (int i = 0; i < 3; i++)
        cut[i] = len ? randombytes_uniform((uint32_t) len + 1) : 0;
    for (int i = 0; i < 3; i++)   /* sort the three cuts */
        for (int j = i + 1; j < 3; j++)
            if (cut[j] < cut[i]) {
                size_t t = cut[i];
                cut[i] = cut[j];
                cut[j] = t;
            }
    sha256_part_t parts[4] = { { in, cut[0] } };
    for (int i = 1; i < 4; i++)
        parts[i] = (sha256_part_t) { cut[i] > cut[i - 1] ? in + cut[i - 1] : NULL, cut[i] - cut[i - 1] };
    uint8_t mine[SHA256_BYTES], theirs[crypto_hash_sha256_BYTES];
    sha256_parts(parts, 4, mine);
    crypto_hash_sha256(theirs, in, len);
    return memcmp(mine, theirs, SHA256_BYTES) == 0;
}

static void s_every_length(void)
{
    static uint8_t rnd[S_MAX], zeros[S_MAX], ones[S_MAX];
    randombytes_buf(rnd, sizeof rnd);
    memset(ones, 0xff, sizeof ones);
    unsigned bad = 0;
    for (size_t len = 0; len <= S_MAX; len++)
        bad += !s_same(rnd, len) + !s_same(zeros, len) + !s_same(ones, len) + !s_same_parts(rnd, len);
    CHECK(bad == 0);
    CHECK(s_same(NULL, 0));
    sha256_part_t none[1] = { { NULL, 0 } };
    uint8_t a[SHA256_BYTES], b[SHA256_BYTES];
    sha256_parts(none, 1, a);
    sha256_parts(NULL, 0, b);
    CHECK(s_same(NULL, 0) && memcmp(a, b, SHA256_BYTES) == 0);
}

/*  FIPS 180-2 appendix B (one block, two blocks) and the empty message. */
static void s_known_answers(void)
{
    static const char *const v[][2] = {
        { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t want[SHA256_BYTES], got[SHA256_BYTES];
        CHECK(check_unhex(v[i][1], want, sizeof want) == SHA256_BYTES);
        sha256_digest(v[i][0], strlen(v[i][0]), got);
        CHECK(memcmp(got, want, SHA256_BYTES) == 0);
    }
}

/*  leaf = SHA-256(0x00 || leaf), node = SHA-256(0x01 || left || right). */
static void s_merkle(void)
{
    uint8_t leaf[600], buf[1 + 600], got[MERKLE_HASH_BYTES], want[MERKLE_HASH_BYTES];
    randombytes_buf(leaf, sizeof leaf);
    unsigned bad = 0;
    for (size_t len = 0; len <= sizeof leaf; len += 7) {
        buf[0] = 0;
        memcpy(buf + 1, leaf, len);
        merkle_leaf_hash(leaf, len, got);
        crypto_hash_sha256(want, buf, 1 + len);
        bad += memcmp(got, want, MERKLE_HASH_BYTES) != 0;
    }
    CHECK(bad == 0);
    buf[0] = 1;
    memcpy(buf + 1, leaf, 2 * MERKLE_HASH_BYTES);
    merkle_node_hash(leaf, leaf + MERKLE_HASH_BYTES, got);
    crypto_hash_sha256(want, buf, 1 + 2 * MERKLE_HASH_BYTES);
    CHECK(memcmp(got, want, MERKLE_HASH_BYTES) == 0);
    merkle_node_hash(leaf, leaf + MERKLE_HASH_BYTES, leaf);   /* out may be an input (merkle.c does it) */
    CHECK(memcmp(leaf, want, MERKLE_HASH_BYTES) == 0);
}

/*  Each thread: its own context, created on its first hash and freed when
 *  it exits; returns the number of mismatches. */
static void *s_thread(void *arg)
{
    (void) arg;
    uint8_t in[700];
    size_t bad = 0;
    for (int i = 0; i < 400; i++) {
        size_t len = randombytes_uniform(sizeof in + 1);
        randombytes_buf(in, len);
        bad += !s_same(in, len) + !s_same_parts(in, len);
    }
    return (void *) bad;
}

static void s_threads(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, s_thread, NULL) == 0);
    for (int i = 0; i < 4; i++) {
        void *bad = (void *) 1;
        CHECK(pthread_join(t[i], &bad) == 0 && bad == NULL);
    }
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    s_known_answers();
    s_every_length();
    s_merkle();
    s_threads();
    return check_done("test_sha256");
}
