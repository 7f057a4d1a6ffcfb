/*  gen.c: signed attestation sets and the verification-rate probe. */
#include "gen.h"
#include "alloc.h"
#include "clock.h"
#include <assert.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_SLOT 512   /* every generated encoding fits */

typedef struct {
    gen_set_t *set;
    const uint8_t *sk, *pk;
    size_t from, to;
    unsigned bad, expired;
    uint64_t now;
} s_job_t;

static gen_kind s_kind_of(size_t i, unsigned bad, unsigned expired)
{
    /* Spread evenly: item i is bad when floor((i+1)*bad/1000) steps up. */
    if (bad && ((i + 1) * bad) / 1000 != (i * bad) / 1000)
        return GEN_BAD_SIGNATURE;
    if (expired && ((i + 551) * expired) / 1000 != ((i + 550) * expired) / 1000)
        return GEN_EXPIRED;
    return GEN_VALID;
}

static void s_make_one(s_job_t *j, size_t i)
{
    gen_set_t *s = j->set;
    char subject[64], data[96];
    uint8_t nonce[AT_NONCE_BYTES], sig[AT_SIG_BYTES];
    gen_kind kind = s_kind_of(i, j->bad, j->expired);
    int sl = snprintf(subject, sizeof subject, "pkg:demo/artifact-%zu", i);
    int dl = snprintf(data, sizeof data, "{\"digest\":\"sha256:%016zx\",\"builder\":\"ci-%zu\"}", i * 2654435761u,
                      i % 7);
    randombytes_buf(nonce, sizeof nonce);
    attestation_t a = { .version = AT_VERSION, .schema = "https://attest.dev/schema/build/v1", .attester = j->pk,
                        .subject = subject, .subject_len = (size_t) sl, .data = (const uint8_t *) data,
                        .data_len = (size_t) dl, .issued_at = j->now, .nonce = nonce, .signature = sig };
    a.schema_len = strlen(a.schema);
    if (kind == GEN_EXPIRED) {
        a.issued_at = j->now - 7200;
        a.has_expires = true;
        a.expires_at = j->now - 3600;
    }
    attestation_sign(&a, j->sk, sig);
    if (kind == GEN_BAD_SIGNATURE)
        sig[i % AT_SIG_BYTES] ^= 0x01;
    attestation_id(&a, s->id[i]);
    s->kind[i] = (uint8_t) kind;
    s->off[i] = i * S_SLOT;
    at_err rc = attestation_encode(&a, s->arena + s->off[i], S_SLOT, &s->len[i]);
    assert(rc == AT_OK);
    (void) rc;
}

static void *s_worker(void *arg)
{
    s_job_t *j = arg;
    for (size_t i = j->from; i < j->to; i++)
        s_make_one(j, i);
    return NULL;
}

gen_set_t *gen_make(size_t n, unsigned bad_per_mille, unsigned expired_per_mille, int threads)
{
    gen_set_t *s = at_calloc(1, sizeof *s);
    s->n = n;
    s->arena = at_malloc(n * S_SLOT + 1);
    s->off = at_calloc(n + 1, sizeof *s->off);
    s->len = at_calloc(n + 1, sizeof *s->len);
    s->kind = at_calloc(n + 1, 1);
    s->id = at_calloc(n + 1, AT_ID_BYTES);
    uint8_t pk[AT_KEY_BYTES], sk[AT_SECRET_BYTES];
    crypto_sign_keypair(pk, sk);
    memcpy(s->attester, pk, AT_KEY_BYTES);
    if (threads < 1)
        threads = 1;
    pthread_t tid[64];
    s_job_t jobs[64];
    if (threads > 64)
        threads = 64;
    for (int t = 0; t < threads; t++) {
        jobs[t] = (s_job_t) { s, sk, pk, n * (size_t) t / (size_t) threads, n * (size_t) (t + 1) / (size_t) threads,
                              bad_per_mille, expired_per_mille, at_clock_wall_s() };
        pthread_create(&tid[t], NULL, s_worker, &jobs[t]);
    }
    for (int t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    sodium_memzero(sk, sizeof sk);
    return s;
}

void gen_destroy(gen_set_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gen_set_t *s = *self_p;
    free(s->arena);
    free(s->off);
    free(s->len);
    free(s->kind);
    free(s->id);
    free(s);
    *self_p = NULL;
}

typedef struct {
    const gen_set_t *set;
    size_t start;
    uint64_t until;
    uint64_t count;
} s_probe_t;

static void *s_probe(void *arg)
{
    s_probe_t *p = arg;
    size_t i = p->start;
    uint8_t id[AT_ID_BYTES];
    while (at_clock_mono_us() < p->until) {
        for (int k = 0; k < 64; k++) {
            at_err rc = attestation_judge(p->set->arena + p->set->off[i], p->set->len[i], at_clock_wall_s(), 300, id);
            (void) rc;
            i = (i + 1) % p->set->n;
            p->count++;
        }
    }
    return NULL;
}

double gen_verify_rate(const gen_set_t *set, int threads, int ms)
{
    pthread_t tid[256];
    s_probe_t probes[256];
    if (threads > 256)
        threads = 256;
    uint64_t t0 = at_clock_mono_us();
    for (int t = 0; t < threads; t++) {
        probes[t] = (s_probe_t) { set, set->n * (size_t) t / (size_t) threads, t0 + (uint64_t) ms * 1000, 0 };
        pthread_create(&tid[t], NULL, s_probe, &probes[t]);
    }
    uint64_t total = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        total += probes[t].count;
    }
    double secs = (double) (at_clock_mono_us() - t0) / 1e6;
    return (double) total / secs;
}
