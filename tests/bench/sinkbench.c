/*  sinkbench.c: the sink's log work per entry, without its messaging
 *  (docs/performance.md 10): `sinkbench DIR N [BATCH]` appends N entries
 *  shaped like `attest bench`'s (the same schema, subjects, data, 32-byte
 *  producer and worker keys: about 451 bytes stored each) to the log in
 *  DIR (a new one, or an existing one continued: then the figures are the
 *  cost per entry at that log's size), BATCH per durable transaction (default 300, about the sink's group
 *  commit at saturation), through revoke_append and logdb_commit with a log
 *  signer set, exactly the calls the sink makes (sink.c s_commit_batch):
 *  hash chain, ids, find indexes, Merkle tiles and a signed checkpoint per
 *  commit. The entries are made before the clock starts (dummy signatures:
 *  the store does not verify them).
 *
 *  Prints one line: CPU (user + system) and wall time per entry over the
 *  append/commit loop (s_run) alone, and the bytes the process wrote
 *  (/proc/self/io wchar: LMDB's page writes) per entry and per commit.
 *  Under valgrind, `--tool=callgrind --toggle-collect=s_run` counts the
 *  loop's instructions alone; divide by N.
 */
#include "attestation.h"
#include "clock.h"
#include "logdb.h"
#include <sys/stat.h>
#include "note.h"
#include "revoke.h"
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define S_SLOT 512   /* every entry's attestation fits */

typedef struct {
    uint8_t *att;             /* n slots of S_SLOT */
    size_t *att_len;
    uint8_t (*id)[AT_ID_BYTES];
    uint8_t pkey[ENTRY_KEY_BYTES], wkey[ENTRY_KEY_BYTES];
    uint64_t n;
} s_set_t;

/*  The attestation of item i as cli/gen.c makes them (random nonce and
 *  signature bytes instead of a signature). */
static void s_make(s_set_t *s, uint64_t i, const uint8_t attester[AT_KEY_BYTES], uint64_t now_s)
{
    char subject[64], data[96];
    uint8_t nonce[AT_NONCE_BYTES], sig[AT_SIG_BYTES];
    int sl = snprintf(subject, sizeof subject, "pkg:demo/artifact-%" PRIu64, i);
    int dl = snprintf(data, sizeof data, "{\"digest\":\"sha256:%016" PRIx64 "\",\"builder\":\"ci-%" PRIu64 "\"}",
                      i * 2654435761u, i % 7);
    randombytes_buf(nonce, sizeof nonce);
    randombytes_buf(sig, sizeof sig);
    attestation_t a = { .version = AT_VERSION, .schema = "https://attest.dev/schema/build/v1", .attester = attester,
                        .subject = subject, .subject_len = (size_t) sl, .data = (const uint8_t *) data,
                        .data_len = (size_t) dl, .issued_at = now_s, .nonce = nonce, .signature = sig };
    a.schema_len = strlen(a.schema);
    if (attestation_encode(&a, s->att + i * S_SLOT, S_SLOT, &s->att_len[i]) != AT_OK)
        abort();
    attestation_id(&a, s->id[i]);
}

static s_set_t *s_set_new(uint64_t n)
{
    s_set_t *s = calloc(1, sizeof *s);
    s->att = malloc(n * S_SLOT);
    s->att_len = calloc(n, sizeof *s->att_len);
    s->id = calloc(n, AT_ID_BYTES);
    if (!s->att || !s->att_len || !s->id)
        abort();
    s->n = n;
    uint8_t attester[AT_KEY_BYTES];
    randombytes_buf(attester, sizeof attester);
    randombytes_buf(s->pkey, sizeof s->pkey);
    randombytes_buf(s->wkey, sizeof s->wkey);
    for (uint64_t i = 0; i < n; i++)
        s_make(s, i, attester, at_clock_wall_s());
    return s;
}

/*  Entry i as the sink's s_commit_one fills it. */
static at_err s_append(logdb_t *db, const s_set_t *s, uint64_t base, uint64_t i, uint64_t now_us)
{
    logdb_entry_t e = { .seq = base + i, .verdict = 0, .reason = 0, .producer = "bench-1", .producer_len = 7,
                        .cseq = i + 1, .worker = "w0/0", .worker_len = 4, .t_received = now_us - 9000,
                        .t_dispatched = now_us - 4000, .t_verified = now_us - 1000, .t_committed = now_us,
                        .att = s->att + i * S_SLOT, .att_len = s->att_len[i], .producer_key = s->pkey,
                        .producer_key_len = ENTRY_KEY_BYTES, .worker_key = s->wkey,
                        .worker_key_len = ENTRY_KEY_BYTES, .epoch = 4385587545772226387ull };
    memcpy(e.id, s->id[i], AT_ID_BYTES);
    return revoke_append(db, &e);
}

/*  The measured loop: batches of `batch` appends, each a durable commit. */
__attribute__((noinline)) static at_err s_run(logdb_t *db, const s_set_t *s, uint64_t base, uint64_t batch,
                                              uint64_t *commits)
{
    at_err rc = AT_OK;
    for (uint64_t i = 0; i < s->n && rc == AT_OK; i += batch) {
        uint64_t end = i + batch < s->n ? i + batch : s->n, now = at_clock_wall_us();
        rc = logdb_begin(db);
        for (uint64_t j = i; j < end && rc == AT_OK; j++)
            rc = s_append(db, s, base, j, now);
        rc = rc ? rc : logdb_commit(db, base + end);
        (*commits)++;
    }
    return rc;
}

static uint64_t s_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u
         + (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/*  Bytes written by this process so far (wchar), 0 when unknown. */
static uint64_t s_wchar(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    uint64_t v = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "wchar: %" SCNu64, &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

static note_signer_t *s_signer(void)
{
    char skey[NOTE_KEY_TEXT_MAX], vkey[NOTE_KEY_TEXT_MAX];
    at_err rc;
    if (note_keygen("sinkbench.example/log", skey, sizeof skey, vkey, sizeof vkey) != AT_OK)
        return NULL;
    note_signer_t *signer = note_signer_parse(skey, &rc);
    sodium_memzero(skey, sizeof skey);
    return signer;
}

int main(int argc, char **argv)
{
    if ((argc != 3 && argc != 4) || at_crypto_init() != AT_OK) {
        fprintf(stderr, "usage: sinkbench DIR N [BATCH]\n");
        return 2;
    }
    uint64_t n = strtoull(argv[2], NULL, 10), batch = argc == 4 ? strtoull(argv[3], NULL, 10) : 300;
    if (n == 0 || batch == 0)
        return 2;
    s_set_t *set = s_set_new(n);
    note_signer_t *signer = s_signer();
    at_err rc;
    char data[4200];
    struct stat sb;
    snprintf(data, sizeof data, "%s/data.mdb", argv[1]);
    uint64_t have = stat(data, &sb) == 0 ? (uint64_t) sb.st_size : 0;
    logdb_t *db = logdb_open(argv[1], false, have + n * 2000 + (64u << 20), &rc);
    if (!db || !signer || logdb_set_signer(db, signer, "sinkbench.example/log", LOGDB_CHECKPOINTS_DEFAULT) != AT_OK)
        return 1;
    logdb_state_t st;   /* an existing log is continued: the figures are the cost at its size */
    if (logdb_state(db, &st) != AT_OK)
        return 1;
    uint64_t commits = 0, w0 = s_wchar(), c0 = s_cpu_us(), t0 = at_clock_mono_us();
    rc = s_run(db, set, st.next_index, batch, &commits);
    uint64_t t1 = at_clock_mono_us(), c1 = s_cpu_us(), w1 = s_wchar();
    logdb_destroy(&db);
    note_signer_destroy(&signer);
    if (rc) {
        fprintf(stderr, "sinkbench: %s\n", at_strerror(rc));
        return 1;
    }
    printf("sinkbench: from=%" PRIu64 " n=%" PRIu64 " batch=%" PRIu64 " cpu_us_per_entry=%.3f wall_us_per_entry=%.3f"
           " written_bytes_per_entry=%.0f written_kb_per_commit=%.1f\n",
           st.next_index, n, batch, (double) (c1 - c0) / (double) n, (double) (t1 - t0) / (double) n,
           (double) (w1 - w0) / (double) n, (double) (w1 - w0) / 1024.0 / (double) commits);
    return 0;
}
