/*  audit.c: the spot audit's queue and thread (see audit.h).
 *
 *  Two rings under one mutex: `queue` (sampled entries, each slot with room
 *  for the largest attestation, so nothing is allocated after start) and
 *  `found` (disagreements). The thread sleeps on a condition variable while
 *  the queue is empty, takes one entry at a time, judges it unlocked, and
 *  records what it found.
 */
#include "audit.h"
#include "alloc.h"
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t index, t_verified;
    uint8_t verdict, reason;
    uint8_t id[AT_ID_BYTES];
    char worker[WIRE_NAME_MAX];
    size_t worker_len;
    uint8_t att[AT_ENCODED_MAX];
    size_t att_len;
} s_item_t;

struct audit_t {
    uint32_t bp;
    uint64_t skew_s;
    uint64_t rng;                  /* xorshift64 state (the sink's loop only) */
    pthread_t thread;
    bool running, stop;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    s_item_t *queue;               /* AUDIT_QUEUE slots */
    size_t q_head, q_len;
    audit_finding_t found[AUDIT_FINDINGS];
    size_t f_head, f_len;
    audit_stats_t st;
};

bool audit_parse_sample(const char *text, uint32_t *bp)
{
    uint32_t whole = 0, frac = 0;
    int digits = 0, fdigits = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
        whole = whole * 10 + (uint32_t) (*p - '0');
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9' && fdigits < 2; p++, fdigits++)
            frac = frac * 10 + (uint32_t) (*p - '0');
    if (digits == 0 || *p || (fdigits == 0 && p[-1] == '.'))
        return false;
    if (fdigits == 1)
        frac *= 10;
    uint32_t v = whole * 100 + frac;
    if (v > AUDIT_BP_MAX)
        return false;
    *bp = v;
    return true;
}

/*  Re-judges one entry; true when the worker's judgement stands. It is
 *  compared with the verdict the WORKER gave (the sink's reorder item, not
 *  the entry as logged): a revocation the worker judged valid and the sink
 *  then logged invalid in log order (revoke_unknown .. revoke_subject,
 *  store/revoke.h) is the sink's judgement, never held against the worker. */
static bool s_agrees(const audit_t *self, const s_item_t *it, audit_finding_t *f)
{
    uint8_t id[AT_ID_BYTES];
    at_err rc = attestation_judge(it->att, it->att_len, it->t_verified / 1000000u, self->skew_s, id);
    uint8_t verdict = rc == AT_OK ? WIRE_VALID : WIRE_INVALID;
    bool id_differs = sodium_memcmp(id, it->id, AT_ID_BYTES) != 0;
    if (verdict == it->verdict && (uint8_t) rc == it->reason && !id_differs)
        return true;
    *f = (audit_finding_t) { .index = it->index, .got_verdict = it->verdict, .got_reason = it->reason,
                             .expected_verdict = verdict, .expected_reason = (uint8_t) rc,
                             .id_differs = id_differs, .worker_len = it->worker_len };
    memcpy(f->worker, it->worker, it->worker_len);
    f->worker[it->worker_len] = 0;
    return false;
}

static void s_found(audit_t *self, const audit_finding_t *f)
{
    self->st.disagreements++;
    if (self->f_len == AUDIT_FINDINGS) {
        self->st.findings_dropped++;
        return;
    }
    self->found[(self->f_head + self->f_len++) % AUDIT_FINDINGS] = *f;
}

static void *s_thread(void *arg)
{
    audit_t *self = arg;
    s_item_t *it = at_calloc(1, sizeof *it);
    pthread_mutex_lock(&self->lock);
    while (!self->stop) {
        if (self->q_len == 0) {
            pthread_cond_wait(&self->wake, &self->lock);
            continue;
        }
        *it = self->queue[self->q_head];
        self->q_head = (self->q_head + 1) % AUDIT_QUEUE;
        self->q_len--;
        pthread_mutex_unlock(&self->lock);
        audit_finding_t f;
        bool ok = s_agrees(self, it, &f);
        pthread_mutex_lock(&self->lock);
        self->st.checked++;
        if (!ok)
            s_found(self, &f);
    }
    pthread_mutex_unlock(&self->lock);
    free(it);
    return NULL;
}

audit_t *audit_new(uint32_t bp, uint64_t skew_s)
{
    audit_t *self = at_calloc(1, sizeof *self);
    self->bp = bp > AUDIT_BP_MAX ? AUDIT_BP_MAX : bp;
    self->skew_s = skew_s;
    randombytes_buf(&self->rng, sizeof self->rng);
    self->rng |= 1;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->wake, NULL);
    if (self->bp == 0)
        return self;
    self->queue = at_calloc(AUDIT_QUEUE, sizeof *self->queue);
    if (pthread_create(&self->thread, NULL, s_thread, self) != 0)
        abort();
    self->running = true;
    return self;
}

void audit_destroy(audit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    audit_t *self = *self_p;
    if (self->running) {
        pthread_mutex_lock(&self->lock);
        self->stop = true;
        pthread_cond_signal(&self->wake);
        pthread_mutex_unlock(&self->lock);
        pthread_join(self->thread, NULL);
    }
    pthread_mutex_destroy(&self->lock);
    pthread_cond_destroy(&self->wake);
    free(self->queue);
    free(self);
    *self_p = NULL;
}

bool audit_pick(audit_t *self)
{
    if (self->bp == 0)
        return false;
    uint64_t x = self->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    self->rng = x;
    return (x >> 11) % AUDIT_BP_MAX < self->bp;
}

void audit_offer(audit_t *self, const audit_item_t *item)
{
    if (!self->running)
        return;
    pthread_mutex_lock(&self->lock);
    self->st.sampled++;
    if (self->q_len == AUDIT_QUEUE) {
        self->st.dropped++;
        pthread_mutex_unlock(&self->lock);
        return;
    }
    s_item_t *s = &self->queue[(self->q_head + self->q_len++) % AUDIT_QUEUE];
    s->index = item->index;
    s->t_verified = item->t_verified;
    s->verdict = item->verdict;
    s->reason = item->reason;
    memcpy(s->id, item->id, AT_ID_BYTES);
    s->worker_len = item->worker_len < WIRE_NAME_MAX ? item->worker_len : WIRE_NAME_MAX;
    memcpy(s->worker, item->worker, s->worker_len);
    s->att_len = item->att_len < AT_ENCODED_MAX ? item->att_len : AT_ENCODED_MAX;
    memcpy(s->att, item->att, s->att_len);
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
}

size_t audit_findings(audit_t *self, audit_finding_t *out, size_t max)
{
    pthread_mutex_lock(&self->lock);
    size_t n = 0;
    for (; n < max && self->f_len; n++, self->f_len--) {
        out[n] = self->found[self->f_head];
        self->f_head = (self->f_head + 1) % AUDIT_FINDINGS;
    }
    pthread_mutex_unlock(&self->lock);
    return n;
}

void audit_stats(audit_t *self, audit_stats_t *out)
{
    pthread_mutex_lock(&self->lock);
    *out = self->st;
    pthread_mutex_unlock(&self->lock);
}
