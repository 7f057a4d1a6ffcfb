/*  fuzz_entry.c: the log entry decoder (tlog/entry.h).
 *
 *  Any bytes go through entry_decode (what `attest log` and verify do with
 *  a value read off disk). Oracle: a decoded entry re-encodes within
 *  ENTRY_ENCODED_MAX and the re-encoding decodes to the same fields.
 */
#include "entry.h"
#include "fuzz.h"
#include <string.h>

/*  memcmp that allows an empty field's NULL pointer. */
static int s_eq(const void *a, const void *b, size_t n) { return n == 0 || memcmp(a, b, n) == 0; }

static void s_same(const entry_t *a, const entry_t *b)
{
    FUZZ_CHECK(a->index == b->index && a->seq == b->seq && a->cseq == b->cseq);
    FUZZ_CHECK(a->verdict == b->verdict && a->reason == b->reason);
    FUZZ_CHECK(a->t_received == b->t_received && a->t_dispatched == b->t_dispatched);
    FUZZ_CHECK(a->t_verified == b->t_verified && a->t_committed == b->t_committed);
    FUZZ_CHECK(!memcmp(a->prev_hash, b->prev_hash, ENTRY_HASH_BYTES) && !memcmp(a->id, b->id, AT_ID_BYTES));
    FUZZ_CHECK(a->producer_len == b->producer_len && s_eq(a->producer, b->producer, a->producer_len));
    FUZZ_CHECK(a->worker_len == b->worker_len && s_eq(a->worker, b->worker, a->worker_len));
    FUZZ_CHECK(a->att_len == b->att_len && s_eq(a->att, b->att, a->att_len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    entry_t e, f;
    if (entry_decode(&e, data, size) != AT_OK)
        return 0;
    uint8_t enc[ENTRY_ENCODED_MAX], h[ENTRY_HASH_BYTES];
    size_t len = 0;
    FUZZ_CHECK(entry_encode(&e, enc, sizeof enc, &len) == AT_OK && len <= ENTRY_ENCODED_MAX);
    FUZZ_CHECK(entry_decode(&f, enc, len) == AT_OK);
    s_same(&e, &f);
    entry_hash(data, size, h);
    return 0;
}
