/*  fuzz_attestation.c: the attestation decoder (proto/attestation.h).
 *
 *  Any bytes go through attestation_decode and attestation_judge (decode,
 *  signature, time at a fixed "now"). Oracles: the two agree on whether the
 *  bytes decode; a decoded attestation passes attestation_check, re-encodes,
 *  and the re-encoding decodes to the same fields, the same id and the same
 *  judgement (the signature and id cover the fields, not the encoding);
 *  the find index's field walk (store/findex.c) indexes every attestation
 *  that decodes.
 */
#include "attestation.h"
#include "findex.h"
#include "fuzz.h"
#include <string.h>

#define S_NOW 1700000000u
#define S_SKEW 300u

static void s_same(const attestation_t *a, const attestation_t *b)
{
    FUZZ_CHECK(a->version == b->version && a->issued_at == b->issued_at && a->has_expires == b->has_expires);
    FUZZ_CHECK(!a->has_expires || a->expires_at == b->expires_at);
    FUZZ_CHECK(a->schema_len == b->schema_len && !memcmp(a->schema, b->schema, a->schema_len));
    FUZZ_CHECK(a->subject_len == b->subject_len && !memcmp(a->subject, b->subject, a->subject_len));
    FUZZ_CHECK(a->data_len == b->data_len && (!a->data_len || !memcmp(a->data, b->data, a->data_len)));
    FUZZ_CHECK(!memcmp(a->attester, b->attester, AT_KEY_BYTES) && !memcmp(a->nonce, b->nonce, AT_NONCE_BYTES));
    FUZZ_CHECK(!memcmp(a->signature, b->signature, AT_SIG_BYTES));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready)
        ready = at_crypto_init() == AT_OK ? 1 : (abort(), 0);
    attestation_t a;
    uint8_t id[AT_ID_BYTES], id2[AT_ID_BYTES];
    at_err rc = attestation_decode(&a, data, size);
    at_err judged = attestation_judge(data, size, S_NOW, S_SKEW, id);
    static findex_t *fx;
    if (!fx)
        fx = findex_new();
    findex_clear(fx);
    findex_add(fx, 7, data, size);   /* any bytes: no crash; a decodable attestation is indexed */
    FUZZ_CHECK(rc != AT_OK || findex_pending(fx) == 1);
    FUZZ_CHECK((rc == AT_OK) == (judged == AT_OK || judged == AT_ERR_SIGNATURE || judged == AT_ERR_EXPIRED ||
                                 judged == AT_ERR_NOT_YET_VALID));
    if (rc != AT_OK)
        return 0;
    FUZZ_CHECK(attestation_check(&a) == AT_OK);
    uint8_t enc[AT_ENCODED_MAX];
    size_t len = 0;
    FUZZ_CHECK(attestation_encode(&a, enc, sizeof enc, &len) == AT_OK && len <= AT_ENCODED_MAX);
    attestation_t b;
    FUZZ_CHECK(attestation_decode(&b, enc, len) == AT_OK);
    s_same(&a, &b);
    FUZZ_CHECK(attestation_judge(enc, len, S_NOW, S_SKEW, id2) == judged && !memcmp(id, id2, sizeof id));
    attestation_id(&b, id2);
    FUZZ_CHECK(!memcmp(id, id2, sizeof id));
    return 0;
}
