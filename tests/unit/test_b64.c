/*  test_b64.c: proto/b64.h writes what libsodium's constant-time encoder
 *  writes, for every length 0..700 of random bytes and all-0x00/0xff
 *  inputs, and refuses a buffer one byte short without writing to it.
 */
#include "b64.h"
#include "check.h"
#include <sodium.h>
#include <string.h>

static void s_same_as_sodium(const uint8_t *in, size_t len)
{
    char mine[B64_ENCODED_LEN(700)], theirs[sodium_base64_ENCODED_LEN(700, sodium_base64_VARIANT_ORIGINAL)];
    size_t n = b64_encode(mine, sizeof mine, in, len);
    sodium_bin2base64(theirs, sizeof theirs, in, len, sodium_base64_VARIANT_ORIGINAL);
    CHECK(n == strlen(theirs) && strcmp(mine, theirs) == 0);
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    static uint8_t rnd[700], zeros[700], ones[700];
    randombytes_buf(rnd, sizeof rnd);
    memset(ones, 0xff, sizeof ones);
    unsigned bad = 0;
    for (size_t len = 0; len <= sizeof rnd; len++) {
        unsigned before = s_failures;
        s_same_as_sodium(rnd, len);
        s_same_as_sodium(zeros, len);
        s_same_as_sodium(ones, len);
        bad += s_failures != before;
    }
    CHECK(bad == 0);
    CHECK(B64_ENCODED_LEN(0) == sodium_base64_ENCODED_LEN(0, sodium_base64_VARIANT_ORIGINAL));
    CHECK(B64_ENCODED_LEN(1000) == sodium_base64_ENCODED_LEN(1000, sodium_base64_VARIANT_ORIGINAL));
    /* RFC 4648 section 10 vectors. */
    static const char *const v[][2] = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
                                        { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" } };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[16];
        CHECK(b64_encode(out, sizeof out, (const uint8_t *) v[i][0], strlen(v[i][0])) == strlen(v[i][1]));
        CHECK(strcmp(out, v[i][1]) == 0);
    }
    /* One byte short: 0, nothing written. */
    char small[9];
    memset(small, 'x', sizeof small);
    CHECK(b64_encode(small, 8, (const uint8_t *) "foobar", 6) == 0 && small[0] == 'x');
    CHECK(b64_encode(small, 9, (const uint8_t *) "foobar", 6) == 8 && strcmp(small, "Zm9vYmFy") == 0);
    return check_done("test_b64");
}
