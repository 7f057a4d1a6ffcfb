/*  fuzz_jsonl.c: the JSON-lines parser of `attest submit` (cli/jsonl.h).
 *
 *  The input is one line. Its first byte picks whether a signing key is
 *  given (odd: the fixed test key below; even: none), the rest is the line.
 *  Oracle: a line that parses yields an attestation that decodes, and
 *  printing it back as JSON (what `attest log` does) and parsing that again
 *  gives the same bytes: export and re-import agree.
 */
#include "fuzz.h"
#include "jsonl.h"
#include <sodium.h>
#include <string.h>

static uint8_t s_sk[AT_SECRET_BYTES];

static void s_init(void)
{
    static int ready;
    if (ready)
        return;
    FUZZ_CHECK(at_crypto_init() == AT_OK);
    uint8_t pk[AT_KEY_BYTES], seed[32];
    memset(seed, 7, sizeof seed);
    crypto_sign_ed25519_seed_keypair(pk, s_sk, seed);
    ready = 1;
}

/*  The attestation as `attest log` prints it, parsed again. */
static void s_reimport(const uint8_t *att, size_t len)
{
    attestation_t a;
    FUZZ_CHECK(attestation_decode(&a, att, len) == AT_OK);
    json_t *o = json_object();
    jsonl_add_attestation(o, &a);
    char *text = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&text, &tlen);
    FUZZ_CHECK(f != NULL);
    jsonl_print(f, o);
    FUZZ_CHECK(fclose(f) == 0);
    json_decref(o);
    uint8_t again[AT_ENCODED_MAX];
    size_t again_len = 0;
    char err[JSONL_ERR_MAX];
    at_err rc = jsonl_parse_attestation(text, tlen, NULL, again, &again_len, err);
    if (rc != AT_OK)
        fprintf(stderr, "re-import failed: %s\n  line: %s", err, text);
    FUZZ_CHECK(rc == AT_OK && again_len == len && !memcmp(again, att, len));
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_init();
    if (size == 0)
        return 0;
    const uint8_t *sk = (data[0] & 1) ? s_sk : NULL;
    uint8_t att[AT_ENCODED_MAX];
    size_t att_len = 0;
    char err[JSONL_ERR_MAX];
    err[0] = '\0';
    at_err rc = jsonl_parse_attestation((const char *) data + 1, size - 1, sk, att, &att_len, err);
    if (rc != AT_OK) {
        FUZZ_CHECK(err[0] != '\0');
        return 0;
    }
    s_reimport(att, att_len);
    return 0;
}
