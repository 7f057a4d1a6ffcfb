/*  test_idtab.c: the id -> index map of the log's newest entries. */
#include "check.h"
#include "idtab.h"
#include <sodium.h>
#include <stdlib.h>

static void s_id_of(uint64_t k, uint8_t id[AT_ID_BYTES])
{
    crypto_generichash(id, AT_ID_BYTES, (const uint8_t *) &k, sizeof k, NULL, 0);
}

static bool s_has(const idtab_t *t, uint64_t k, uint64_t want)
{
    uint8_t id[AT_ID_BYTES];
    uint64_t got = 0;
    s_id_of(k, id);
    return idtab_get(t, id, &got) && got == want;
}

static bool s_absent(const idtab_t *t, uint64_t k)
{
    uint8_t id[AT_ID_BYTES];
    uint64_t got;
    s_id_of(k, id);
    return !idtab_get(t, id, &got);
}

/*  Fills [first, first + n) with the ids of keys 0..n-1, then checks. */
static void s_run(uint64_t first, size_t n)
{
    idtab_t *t = idtab_new(16);   /* small: forces both kinds of growth */
    uint8_t id[AT_ID_BYTES];
    for (size_t k = 0; k < n; k++) {
        s_id_of(k, id);
        idtab_put(t, id, first + k);
    }
    CHECK(idtab_count(t) == n);
    bool all = true;
    for (size_t k = 0; k < n; k++)
        all &= s_has(t, k, first + k);
    CHECK(all);
    CHECK(s_absent(t, n) && s_absent(t, n + 1000));

    idtab_entry_t *sorted = idtab_sorted(t);
    bool ordered = true;
    for (size_t i = 1; i < n; i++)
        ordered &= memcmp(sorted[i - 1].id, sorted[i].id, AT_ID_BYTES) < 0;
    CHECK(ordered);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += sorted[i].index_plus_1 - 1 - first;
    CHECK(sum == (uint64_t) n * (n - 1) / 2);
    free(sorted);

    /* drop the oldest quarter and the newest quarter */
    idtab_drop_below(t, first + n / 4);
    idtab_drop_from(t, first + 3 * n / 4);
    CHECK(idtab_count(t) == 3 * n / 4 - n / 4);
    CHECK(s_absent(t, 0) && s_absent(t, n / 4 - 1) && s_absent(t, 3 * n / 4) && s_absent(t, n - 1));
    if (n >= 4)
        CHECK(s_has(t, n / 4, first + n / 4) && s_has(t, 3 * n / 4 - 1, first + 3 * n / 4 - 1));

    /* appending goes on from the new end */
    s_id_of(n + 7, id);
    idtab_put(t, id, first + 3 * n / 4);
    CHECK(s_has(t, n + 7, first + 3 * n / 4));

    idtab_clear(t);
    CHECK(idtab_count(t) == 0 && s_absent(t, n / 2));
    s_id_of(1, id);
    idtab_put(t, id, 99);   /* an empty table starts anywhere */
    CHECK(s_has(t, 1, 99) && idtab_count(t) == 1);
    idtab_destroy(&t);
    CHECK(t == NULL);
    idtab_destroy(&t);   /* safe twice */
}

/*  Ids that share their first eight bytes still come out fully sorted. */
static void s_same_prefix(void)
{
    idtab_t *t = idtab_new(16);
    uint8_t id[AT_ID_BYTES];
    for (int k = 0; k < 50; k++) {
        memset(id, 0xab, sizeof id);
        id[8] = (uint8_t) (200 - k);   /* put in descending order */
        id[31] = (uint8_t) k;
        idtab_put(t, id, (uint64_t) k);
    }
    memset(id, 0x01, sizeof id);   /* and one that sorts first */
    idtab_put(t, id, 50);
    idtab_entry_t *sorted = idtab_sorted(t);
    bool ordered = true;
    for (size_t i = 1; i < 51; i++)
        ordered &= memcmp(sorted[i - 1].id, sorted[i].id, AT_ID_BYTES) < 0;
    CHECK(ordered);
    CHECK(sorted[0].index_plus_1 == 51 && sorted[1].index_plus_1 == 50 && sorted[50].index_plus_1 == 1);
    free(sorted);
    idtab_destroy(&t);
}

/*  A repeated id: idtab_get finds the highest index, also after the
 *  highest is dropped (drop_from) and the lower ones (drop_below). */
static void s_repeated(void)
{
    idtab_t *t = idtab_new(16);
    uint8_t id[AT_ID_BYTES];
    for (uint64_t i = 0; i < 100; i++) {
        s_id_of(i % 10 == 3 ? 3 : i, id);
        idtab_put(t, id, 1000 + i);
    }
    CHECK(s_has(t, 3, 1093) && idtab_count(t) == 100);
    idtab_drop_from(t, 1090);
    CHECK(s_has(t, 3, 1083));
    idtab_drop_below(t, 1084);
    CHECK(s_absent(t, 3) && s_has(t, 85, 1085));
    idtab_destroy(&t);
}

int main(void)
{
    s_same_prefix();
    if (sodium_init() < 0)
        return 1;
    s_run(0, 1);
    s_run(5, 1000);
    s_run(123456, 100000);
    s_run(UINT64_C(0xffffffff) - 3000, 10000);   /* indices cross a 2^32 boundary */
    s_run(UINT64_C(1) << 40, 5000);
    s_repeated();
    return check_done("test_idtab");
}
