/*  test_revoke.c: revocations judged in log order (store/revoke.[ch]) and
 *  the status index (logdb_revoked), on a real log in a temporary directory.
 *
 *  One table of appends in three batches, each with the worker's verdict
 *  and the verdict the log must hold: the right key (valid, and recorded),
 *  a wrong key (revoke_key), an unknown target (revoke_unknown), a target
 *  logged invalid (revoke_unknown), twice (revoke_twice), bad subjects (not
 *  hex, upper-case hex: revoke_subject), a revocation of a revocation
 *  (revoke_subject), target and revocation in the same batch, a revocation
 *  the worker judged invalid (left alone), a schema that only looks like
 *  the reserved one (not a revocation), the bytes of a revocation logged
 *  revoke_unknown again once its target is in (valid now: an invalid entry
 *  claims no id), and an exact retry of an invalid one (a duplicate). Then:
 *  the status index read back in a read-only snapshot; an aborted batch
 *  records nothing; revoke_judge replayed at each entry's own index gives
 *  every stored verdict (what `attest log verify` does).
 */
#include "check.h"
#include "logdb.h"
#include "revoke.h"
#include <ftw.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_KEYS 2
#define S_SLOTS 32

static char s_tmp[64];
static char s_dir[128];
static uint8_t s_pk[S_KEYS][AT_KEY_BYTES], s_sk[S_KEYS][AT_SECRET_BYTES];

/*  One attestation built for the table (slot i is row i's). */
typedef struct {
    uint8_t att[AT_ENCODED_MAX];
    size_t len;
    uint8_t id[AT_ID_BYTES];
    uint64_t index;
} s_slot_t;
static s_slot_t s_slots[S_SLOTS];

typedef enum {
    S_PLAIN,       /* an ordinary attestation */
    S_REVOKE,      /* a revocation of row `target` */
    S_NOT_HEX,     /* a revocation whose subject is not an id */
    S_UPPER,       /* a revocation of row `target` in upper-case hex */
    S_LOOKALIKE,   /* schema "attest/revocation/v1x", subject row target's id */
    S_SAME,        /* the bytes of row `target` again */
} s_kind_t;

typedef struct {
    int batch;
    s_kind_t kind;
    int key, target;
    uint8_t worker_verdict, worker_reason;
    at_err want_rc;                 /* revoke_append's answer */
    uint8_t want_verdict, want_reason;
} s_case_t;

#define V 0, AT_OK
#define BAD_SIG 1, AT_ERR_SIGNATURE

static const s_case_t s_cases[] = {
    /* batch 0: a target and its revocation in one transaction */
    { 0, S_PLAIN, 0, -1, V, AT_OK, V },                                        /* 0 */
    { 0, S_REVOKE, 0, 0, V, AT_OK, V },                                        /* 1 revokes 0 */
    /* batch 1 */
    { 1, S_REVOKE, 0, 0, V, AT_OK, 1, AT_ERR_REVOKE_TWICE },                   /* 2 */
    { 1, S_PLAIN, 0, -1, V, AT_OK, V },                                        /* 3 */
    { 1, S_REVOKE, 1, 3, V, AT_OK, 1, AT_ERR_REVOKE_KEY },                     /* 4 wrong key */
    { 1, S_REVOKE, 0, 12, V, AT_OK, 1, AT_ERR_REVOKE_UNKNOWN },                /* 5 target not yet in */
    { 1, S_PLAIN, 0, -1, BAD_SIG, AT_OK, BAD_SIG },                            /* 6 */
    { 1, S_REVOKE, 0, 6, V, AT_OK, 1, AT_ERR_REVOKE_UNKNOWN },                 /* 7 target invalid */
    { 1, S_NOT_HEX, 0, -1, V, AT_OK, 1, AT_ERR_REVOKE_SUBJECT },               /* 8 */
    { 1, S_UPPER, 0, 3, V, AT_OK, 1, AT_ERR_REVOKE_SUBJECT },                  /* 9 */
    { 1, S_REVOKE, 0, 1, V, AT_OK, 1, AT_ERR_REVOKE_SUBJECT },                 /* 10 revokes a revocation */
    { 1, S_REVOKE, 0, 3, BAD_SIG, AT_OK, BAD_SIG },                            /* 11 the worker's verdict stands */
    { 1, S_PLAIN, 0, -1, V, AT_OK, V },                                        /* 12 */
    { 1, S_LOOKALIKE, 0, 3, V, AT_OK, V },                                     /* 13 not a revocation */
    /* batch 2 */
    { 2, S_SAME, 0, 5, V, AT_OK, V },                                          /* 14 row 5's bytes: valid now */
    { 2, S_SAME, 0, 2, V, AT_ERR_DUPLICATE, 0, 0 },                            /* 15 row 2 retried */
    { 2, S_REVOKE, 1, 12, V, AT_OK, 1, AT_ERR_REVOKE_KEY },                    /* 16 wrong key, revoked target */
};
#define S_NCASES (sizeof s_cases / sizeof s_cases[0])

static void s_hex(const uint8_t *id, char out[2 * AT_ID_BYTES + 1], bool upper)
{
    sodium_bin2hex(out, 2 * AT_ID_BYTES + 1, id, AT_ID_BYTES);
    for (size_t i = 0; upper && out[i]; i++)
        if (out[i] >= 'a' && out[i] <= 'f')
            out[i] = (char) (out[i] - 'a' + 'A');
}

static void s_build(s_slot_t *s, const char *schema, const char *subject, int key)
{
    uint8_t nonce[AT_NONCE_BYTES], sig[AT_SIG_BYTES];
    randombytes_buf(nonce, sizeof nonce);
    attestation_t a = { .version = AT_VERSION, .schema = schema, .schema_len = strlen(schema),
                        .attester = s_pk[key], .subject = subject, .subject_len = strlen(subject),
                        .data = (const uint8_t *) "key compromised", .data_len = 15,
                        .issued_at = 1700000000, .nonce = nonce, .signature = sig };
    attestation_sign(&a, s_sk[key], sig);
    CHECK_ERR(attestation_encode(&a, s->att, sizeof s->att, &s->len), AT_OK);
    attestation_id(&a, s->id);
}

static void s_make(size_t i)
{
    const s_case_t *c = &s_cases[i];
    char hex[2 * AT_ID_BYTES + 1] = "";
    if (c->target >= 0)
        s_hex(s_slots[c->target].id, hex, c->kind == S_UPPER);
    switch (c->kind) {
    case S_PLAIN: s_build(&s_slots[i], "attest/demo/v1", "host-1", c->key); break;
    case S_NOT_HEX: s_build(&s_slots[i], REVOKE_SCHEMA, "not-an-id", c->key); break;
    case S_LOOKALIKE: s_build(&s_slots[i], REVOKE_SCHEMA "x", hex, c->key); break;
    case S_SAME: s_slots[i] = s_slots[c->target]; break;
    default: s_build(&s_slots[i], REVOKE_SCHEMA, hex, c->key); break;
    }
}

static logdb_entry_t s_entry(size_t i)
{
    const s_case_t *c = &s_cases[i];
    logdb_entry_t e;
    memset(&e, 0, sizeof e);
    e.seq = i;
    memcpy(e.id, s_slots[i].id, AT_ID_BYTES);
    e.verdict = c->worker_verdict;
    e.reason = c->worker_reason;
    e.producer = "p";
    e.producer_len = 1;
    e.worker = "w";
    e.worker_len = 1;
    e.att = s_slots[i].att;
    e.att_len = s_slots[i].len;
    return e;
}

/*  Every row of one batch, appended through revoke_append, then committed. */
static void s_run_batch(logdb_t *db, int batch)
{
    CHECK_ERR(logdb_begin(db), AT_OK);
    for (size_t i = 0; i < S_NCASES; i++) {
        if (s_cases[i].batch != batch)
            continue;
        logdb_entry_t e = s_entry(i);
        at_err rc = revoke_append(db, &e);
        check_err_at(rc, s_cases[i].want_rc, __FILE__, __LINE__, "revoke_append of a row");
        s_slots[i].index = rc == AT_OK ? e.index : UINT64_MAX;
        if (rc != AT_OK)
            continue;
        if (e.verdict != s_cases[i].want_verdict || e.reason != s_cases[i].want_reason)
            fprintf(stderr, "row %zu: logged %d (%s), want %d (%s)\n", i, e.verdict, at_strerror(e.reason),
                    s_cases[i].want_verdict, at_strerror(s_cases[i].want_reason));
        CHECK(e.verdict == s_cases[i].want_verdict && e.reason == s_cases[i].want_reason);
    }
    CHECK_ERR(logdb_commit(db, S_NCASES), AT_OK);
}

static void s_expect_revoked(logdb_t *db, int target, int by)
{
    uint64_t t = 0, b = 0;
    CHECK_ERR(logdb_revoked(db, s_slots[target].id, &t, &b), AT_OK);
    CHECK(t == s_slots[target].index && b == s_slots[by].index);
}

static void s_expect_not_revoked(logdb_t *db, int target)
{
    uint64_t t, b;
    CHECK_ERR(logdb_revoked(db, s_slots[target].id, &t, &b), AT_ERR_NOT_FOUND);
}

/*  What `attest log verify` does: every entry re-judged at its own index
 *  (the worker's verdict taken from the table) gives what is stored. */
static void s_replay(logdb_t *db)
{
    CHECK_ERR(logdb_read_begin(db), AT_OK);
    for (size_t i = 0; i < S_NCASES; i++) {
        if (s_slots[i].index == UINT64_MAX)
            continue;
        logdb_entry_t e;
        CHECK_ERR(logdb_get(db, s_slots[i].index, &e, NULL, NULL), AT_OK);
        revoke_judgement_t j;
        CHECK_ERR(revoke_judge(db, s_slots[i].index, e.att, e.att_len, s_cases[i].worker_verdict,
                               s_cases[i].worker_reason, &j), AT_OK);
        CHECK(j.verdict == e.verdict && j.reason == e.reason);
        CHECK(j.revocation == (s_cases[i].worker_verdict == 0 && s_cases[i].kind != S_PLAIN
                               && s_cases[i].kind != S_LOOKALIKE));
    }
    logdb_read_end(db);
}

static void test_table(void)
{
    at_err err;
    logdb_t *db = logdb_open(s_dir, false, 16u << 20, &err);
    CHECK(db != NULL);
    if (!db)
        return;
    /* Targets first (row 5 revokes row 12), then revocations in row order, then copies. */
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < S_NCASES; i++)
            if ((pass == 0) == (s_cases[i].kind == S_PLAIN) && (pass == 2) == (s_cases[i].kind == S_SAME))
                s_make(i);
    for (int b = 0; b < 3; b++)
        s_run_batch(db, b);
    s_expect_revoked(db, 0, 1);
    s_expect_revoked(db, 12, 14);
    s_expect_not_revoked(db, 3);   /* wrong key (4), upper case (9), the worker said invalid (11) */
    s_expect_not_revoked(db, 6);
    /* An aborted batch records nothing. */
    CHECK_ERR(logdb_begin(db), AT_OK);
    char hex[2 * AT_ID_BYTES + 1];
    s_hex(s_slots[3].id, hex, false);
    s_build(&s_slots[S_SLOTS - 2], REVOKE_SCHEMA, hex, 0);
    logdb_entry_t e = { .seq = 100, .producer = "p", .producer_len = 1, .worker = "w", .worker_len = 1,
                        .att = s_slots[S_SLOTS - 2].att, .att_len = s_slots[S_SLOTS - 2].len };
    memcpy(e.id, s_slots[S_SLOTS - 2].id, AT_ID_BYTES);
    CHECK_ERR(revoke_append(db, &e), AT_OK);
    CHECK(e.verdict == 0);
    uint64_t t, b;
    CHECK_ERR(logdb_revoked(db, s_slots[3].id, &t, &b), AT_OK);   /* the batch sees its own record */
    logdb_abort(db);
    s_expect_not_revoked(db, 3);
    logdb_destroy(&db);
    /* Read-only, from a fresh open. */
    db = logdb_open(s_dir, true, 0, &err);
    CHECK(db != NULL);
    if (!db)
        return;
    s_expect_revoked(db, 0, 1);
    s_expect_revoked(db, 12, 14);
    s_expect_not_revoked(db, 3);
    s_replay(db);
    logdb_destroy(&db);
}

static void test_names(void)
{
    CHECK(strcmp(at_strerror(AT_ERR_REVOKE_UNKNOWN), "revoke_unknown") == 0);
    CHECK(strcmp(at_strerror(AT_ERR_REVOKE_KEY), "revoke_key") == 0);
    CHECK(strcmp(at_strerror(AT_ERR_REVOKE_TWICE), "revoke_twice") == 0);
    CHECK(strcmp(at_strerror(AT_ERR_REVOKE_SUBJECT), "revoke_subject") == 0);
    CHECK(at_err_from_name("revoke_subject") == 30 && at_err_from_name("revoke_unknown") == 27);
    CHECK(revoke_is_reason(AT_ERR_REVOKE_UNKNOWN) && revoke_is_reason(AT_ERR_REVOKE_SUBJECT));
    CHECK(!revoke_is_reason(AT_ERR_SIGNATURE) && !revoke_is_reason(AT_ERR_DENIED) && !revoke_is_reason(AT_OK));
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb;
    (void) flag;
    (void) ftw;
    return remove(path);
}

int main(void)
{
    CHECK_ERR(at_crypto_init(), AT_OK);
    for (int k = 0; k < S_KEYS; k++)
        crypto_sign_keypair(s_pk[k], s_sk[k]);
    snprintf(s_tmp, sizeof s_tmp, "/tmp/attest-test-revoke-XXXXXX");
    if (!mkdtemp(s_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(s_dir, sizeof s_dir, "%s/log", s_tmp);
    test_names();
    test_table();
    CHECK(nftw(s_tmp, s_rm, 16, FTW_DEPTH | FTW_PHYS) == 0);
    return check_done("test_revoke");
}
