/*  mklog.c: writes a synthetic log for benchmarks (scripts/bench-find.sh):
 *  `mklog DIR N ATTESTERS` appends N entries in batches of 4096 through the
 *  store library, as the sink would (the find indexes included), with
 *  attestations by ATTESTERS keys round-robin, 20 schemas and a subject
 *  each. The signatures are dummies (the entries say valid): this is a
 *  fixture for reading the log, not for `attest log verify`. Prints the hex
 *  key of attester 0 on the last line.
 */
#include "attestation.h"
#include "clock.h"
#include "logdb.h"
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_BATCH 4096

static void s_key(uint64_t a, uint8_t key[AT_KEY_BYTES])
{
    crypto_generichash(key, AT_KEY_BYTES, (const uint8_t *) &a, sizeof a, (const uint8_t *) "mklog", 5);
}

static at_err s_append(logdb_t *db, uint64_t i, uint64_t attesters, uint64_t t_us)
{
    uint8_t key[AT_KEY_BYTES], nonce[AT_NONCE_BYTES] = { 0 }, sig[AT_SIG_BYTES] = { 0 }, enc[AT_ENCODED_MAX];
    char schema[32], subject[48];
    s_key(i % attesters, key);
    memcpy(nonce, &i, sizeof i);
    snprintf(schema, sizeof schema, "bench/schema-%u", (unsigned) (i % 20));
    snprintf(subject, sizeof subject, "urn:bench:subject:%" PRIu64, i);
    attestation_t a = { .version = 1, .schema = schema, .schema_len = strlen(schema), .attester = key,
                        .subject = subject, .subject_len = strlen(subject), .data = (const uint8_t *) "{}",
                        .data_len = 2, .issued_at = t_us / 1000000u, .nonce = nonce, .signature = sig };
    size_t len;
    at_err rc = attestation_encode(&a, enc, sizeof enc, &len);
    if (rc)
        return rc;
    logdb_entry_t e = { .seq = i + 1, .producer = "bench", .producer_len = 5, .cseq = i, .worker = "w1",
                        .worker_len = 2, .t_received = t_us, .t_dispatched = t_us + 50, .t_verified = t_us + 120,
                        .t_committed = t_us + 900, .att = enc, .att_len = len };
    attestation_id(&a, e.id);
    return logdb_append(db, &e);
}

int main(int argc, char **argv)
{
    if (argc != 4 || at_crypto_init() != AT_OK) {
        fprintf(stderr, "usage: mklog DIR N ATTESTERS\n");
        return 2;
    }
    uint64_t n = strtoull(argv[2], NULL, 10), attesters = strtoull(argv[3], NULL, 10);
    at_err rc;
    logdb_t *db = logdb_open(argv[1], false, (n * 700 + (64u << 20)), &rc);
    if (!db || attesters == 0)
        return 1;
    uint64_t t0 = at_clock_mono_us(), wall = at_clock_wall_us() - n * 10;
    for (uint64_t i = 0; i < n && rc == AT_OK; i += S_BATCH) {
        rc = logdb_begin(db);
        for (uint64_t j = i; j < i + S_BATCH && j < n && rc == AT_OK; j++)
            rc = s_append(db, j, attesters, wall + j * 10);
        rc = rc ? rc : logdb_commit(db, (i + S_BATCH < n ? i + S_BATCH : n) + 1);
    }
    logdb_destroy(&db);
    if (rc) {
        fprintf(stderr, "mklog: %s\n", at_strerror(rc));
        return 1;
    }
    uint8_t key[AT_KEY_BYTES];
    char hex[2 * AT_KEY_BYTES + 1];
    s_key(0, key);
    sodium_bin2hex(hex, sizeof hex, key, sizeof key);
    fprintf(stderr, "mklog: %" PRIu64 " entries in %.1f s\n", n, (double) (at_clock_mono_us() - t0) / 1e6);
    printf("%s\n", hex);
    return 0;
}
