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

/*  Holes (idtab_skip): every third index of [first, first + n) has no id;
 *  the others are found, counted and sorted; across growth and drops. */
static void s_holes(uint64_t first, size_t n)
{
    idtab_t *t = idtab_new(16);
    uint8_t id[AT_ID_BYTES];
    size_t ids = 0;
    for (size_t k = 0; k < n; k++) {
        s_id_of(k, id);
        if (k % 3 == 0) {
            idtab_skip(t, first + k);
        } else {
            idtab_put(t, id, first + k);
            ids++;
        }
    }
    CHECK(idtab_count(t) == ids);
    bool all = true;
    for (size_t k = 0; k < n; k++)
        all &= k % 3 == 0 ? s_absent(t, k) : s_has(t, k, first + k);
    CHECK(all);
    idtab_entry_t *sorted = idtab_sorted(t);
    bool ordered = true;
    for (size_t i = 0; i < ids; i++) {
        ordered &= i == 0 || memcmp(sorted[i - 1].id, sorted[i].id, AT_ID_BYTES) < 0;
        ordered &= (sorted[i].index_plus_1 - 1 - first) % 3 != 0;
    }
    CHECK(ordered);
    free(sorted);
    idtab_drop_below(t, first + n / 2);
    size_t left = 0;
    for (size_t k = n / 2; k < n; k++)
        left += k % 3 != 0;
    CHECK(idtab_count(t) == left);
    CHECK(n / 2 <= 1 || s_absent(t, 1));   /* dropped */
    size_t kept = n / 2 + (n / 2 % 3 == 0);   /* the first non-hole left */
    CHECK(kept >= n || s_has(t, kept, first + kept));
    idtab_skip(t, first + n);   /* and on after the drop */
    s_id_of(n + 1, id);
    idtab_put(t, id, first + n + 1);
    CHECK(idtab_count(t) == left + 1 && s_has(t, n + 1, first + n + 1) && s_absent(t, n));
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
    s_holes(0, 3);
    s_holes(77, 5000);
    s_holes(UINT64_C(0xffffffff) - 1000, 3000);
    return check_done("test_idtab");
}
