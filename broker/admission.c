/*  admission.c: producer sessions, credit and ACK buffers (see admission.h).
 *
 *  Sessions are kept in a hash keyed by the hex of the routing id; producers
 *  that left with attestations still in the pipeline move to a list and are
 *  freed once they hold nothing.
 */
#include "admission.h"
#include "alloc.h"
#include "credit.h"
#include "log.h"
#include <czmq.h>
#include <sodium.h>

#define S_RID_MAX 256
#define S_KEY_MAX (2 * S_RID_MAX + 1)
#define S_RECLAIM_US 100000u       /* reclaim scan period */
#define S_REVOKE_AGAIN_US 5000000u /* an unanswered REVOKE is asked again after this */

struct producer_t {
    char name[WIRE_NAME_MAX + 1];
    char key[S_KEY_MAX];
    uint8_t curve_key[WIRE_KEY_BYTES];   /* authenticated public key (has_curve_key) */
    bool has_curve_key;
    uint8_t instance[WIRE_INSTANCE_BYTES];   /* has_instance */
    bool has_instance;
    uint8_t rid[S_RID_MAX];
    wire_peer_t peer;
    credit_account_t acct;
    uint64_t last_seen;
    uint64_t last_submit;       /* mono us of its last SUBMIT (or of its HELLO) */
    uint64_t revoke_sent;       /* mono us of an unanswered REVOKE; 0: none */
    bool gone;                  /* no session: kept until it holds nothing */
    bool unreachable;           /* a send found its connection gone: end the session */
    wire_items_t acks;          /* pending ACK items */
};

struct admission_t {
    credit_t *credit;
    zhashx_t *sessions;         /* hex routing id -> producer_t */
    zlistx_t *gone;             /* producers without a session that still hold attestations */
    uint64_t idle_us, timeout_us;
    uint64_t last_reclaim;
    uint64_t superseded;
    size_t unreachable;         /* sessions marked unreachable */
};

static void s_key(const uint8_t *rid, size_t len, char *key)
{
    sodium_bin2hex(key, S_KEY_MAX, rid, len < S_RID_MAX ? len : S_RID_MAX);
}

static void s_free(producer_t **p_p)
{
    if (*p_p) {
        wire_items_destroy(&(*p_p)->acks);
        free(*p_p);
        *p_p = NULL;
    }
}

admission_t *admission_new(uint64_t capacity, uint64_t producer_window, uint64_t idle_us, uint64_t timeout_us)
{
    admission_t *self = at_calloc(1, sizeof *self);
    self->credit = credit_new(capacity, producer_window);
    credit_set_open(self->credit, false);
    self->sessions = zhashx_new();
    self->gone = zlistx_new();
    if (!self->sessions || !self->gone)
        abort();
    self->idle_us = idle_us;
    self->timeout_us = timeout_us;
    return self;
}

void admission_destroy(admission_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    admission_t *self = *self_p;
    for (producer_t *p = zhashx_first(self->sessions); p; p = zhashx_next(self->sessions))
        s_free(&p);
    zhashx_destroy(&self->sessions);
    for (producer_t *p = zlistx_first(self->gone); p; p = zlistx_next(self->gone))
        s_free(&p);
    zlistx_destroy(&self->gone);
    credit_destroy(&self->credit);
    free(self);
    *self_p = NULL;
}

void admission_set_open(admission_t *self, bool open) { credit_set_open(self->credit, open); }

static producer_t *s_join(admission_t *self, const admission_hello_t *h, const char *key)
{
    producer_t *p = at_calloc(1, sizeof *p);
    memcpy(p->name, h->name, h->name_len < WIRE_NAME_MAX ? h->name_len : WIRE_NAME_MAX);
    snprintf(p->key, sizeof p->key, "%s", key);
    p->peer.rid_len = h->rid_len < S_RID_MAX ? h->rid_len : S_RID_MAX;
    memcpy(p->rid, h->rid, p->peer.rid_len);
    p->peer.rid = p->rid;
    p->peer.name = p->name;
    p->has_instance = h->instance != NULL;
    if (h->instance)
        memcpy(p->instance, h->instance, WIRE_INSTANCE_BYTES);
    p->has_curve_key = h->key != NULL;
    if (h->key)
        memcpy(p->curve_key, h->key, WIRE_KEY_BYTES);
    wire_items_init(&p->acks, WIRE_ACK);
    credit_join(self->credit, &p->acct);
    zhashx_insert(self->sessions, key, p);
    at_log_info("BRK-PRODUCER", "producer %s joined (%zu active)", p->name, zhashx_size(self->sessions));
    return p;
}

/*  The session of the same producer instance as h (same instance id, same
 *  authenticated key or both plaintext), or NULL. A linear scan: HELLOs
 *  that open a session are rare next to the other messages. */
static producer_t *s_same_instance(admission_t *self, const admission_hello_t *h)
{
    if (!h->instance)
        return NULL;
    for (producer_t *p = zhashx_first(self->sessions); p; p = zhashx_next(self->sessions)) {
        if (!p->has_instance || memcmp(p->instance, h->instance, WIRE_INSTANCE_BYTES) != 0)
            continue;
        if (p->has_curve_key != (h->key != NULL))
            continue;
        if (h->key && sodium_memcmp(p->curve_key, h->key, WIRE_KEY_BYTES) != 0)
            continue;
        return p;
    }
    return NULL;
}

producer_t *admission_hello(admission_t *self, const admission_hello_t *h, uint64_t now, uint64_t *grant)
{
    char key[S_KEY_MAX];
    s_key(h->rid, h->rid_len, key);
    producer_t *p = zhashx_lookup(self->sessions, key);
    if (!p) {
        producer_t *old = s_same_instance(self, h);
        if (old) {
            self->superseded++;
            admission_leave(self, old, "superseded: the same producer said HELLO on a new connection");
        }
        p = s_join(self, h, key);
    }
    p->last_seen = p->last_submit = now;
    *grant = credit_topup(self->credit, &p->acct);
    return p;
}

producer_t *admission_find(admission_t *self, const uint8_t *rid, size_t rid_len, uint64_t now)
{
    char key[S_KEY_MAX];
    s_key(rid, rid_len, key);
    producer_t *p = zhashx_lookup(self->sessions, key);
    if (p)
        p->last_seen = now;
    return p;
}

bool admission_take(admission_t *self, producer_t *p, uint64_t now)
{
    p->last_submit = now;
    return credit_take(self->credit, &p->acct);
}

void admission_refund(admission_t *self, producer_t *p) { credit_refund(self->credit, &p->acct); }

uint64_t admission_release(admission_t *self, producer_t *p, uint64_t n)
{
    p->revoke_sent = 0;
    return credit_return(self->credit, &p->acct, n);
}

void admission_leave(admission_t *self, producer_t *p, const char *why)
{
    at_log_info("BRK-PRODUCER", "producer %s left (%s), %" PRIu64 " in flight", p->name, why,
                credit_held(&p->acct));
    credit_leave(self->credit, &p->acct);
    zhashx_delete(self->sessions, p->key);
    p->gone = true;
    if (credit_held(&p->acct) == 0)
        s_free(&p);
    else
        zlistx_add_end(self->gone, p);
}

void admission_ack(admission_t *self, producer_t *p, const wire_result_t *r)
{
    (void) self;
    if (!p->gone)
        wire_items_result(&p->acks, r);
}

void admission_freed(admission_t *self, producer_t *p) { credit_release(self->credit, &p->acct, 1); }

void admission_reap(admission_t *self)
{
    producer_t *p = zlistx_first(self->gone);
    while (p) {
        if (credit_held(&p->acct) == 0) {
            zlistx_delete(self->gone, zlistx_cursor(self->gone));
            s_free(&p);
            p = zlistx_first(self->gone);
        } else {
            p = zlistx_next(self->gone);
        }
    }
}

void admission_flush_acks(admission_t *self, admission_acks_fn *send, void *ctx)
{
    for (producer_t *p = zhashx_first(self->sessions); p; p = zhashx_next(self->sessions)) {
        if (wire_items_count(&p->acks) == 0)
            continue;
        send(ctx, p, &p->acks);
        wire_items_clear(&p->acks);
    }
}

void admission_topup(admission_t *self, admission_credit_fn *send, void *ctx)
{
    for (producer_t *p = zhashx_first(self->sessions); p; p = zhashx_next(self->sessions)) {
        uint64_t n = credit_topup(self->credit, &p->acct);
        if (n)
            send(ctx, p, n);
    }
}

size_t admission_reclaim(admission_t *self, uint64_t now, admission_credit_fn *revoke, void *ctx)
{
    if (now - self->last_reclaim < S_RECLAIM_US)
        return 0;
    self->last_reclaim = now;
    size_t sent = 0;
    for (producer_t *p = zhashx_first(self->sessions); p; p = zhashx_next(self->sessions)) {
        if (p->revoke_sent && now - p->revoke_sent < S_REVOKE_AGAIN_US)
            continue;
        uint64_t n = credit_reclaim(self->credit, &p->acct, now - p->last_submit >= self->idle_us);
        if (n && revoke(ctx, p, n) == 0) {
            p->revoke_sent = now;
            sent++;
        }
    }
    return sent;
}

void admission_unreachable(admission_t *self, producer_t *p)
{
    if (p->gone || p->unreachable)
        return;
    p->unreachable = true;
    self->unreachable++;
}

typedef bool(s_match_fn)(const admission_t *self, const producer_t *p, uint64_t now);

/*  Ends every session that match(p) says must end; returns how many. */
static size_t s_leave_where(admission_t *self, s_match_fn *match, uint64_t now, const char *why)
{
    size_t n = 0;
    producer_t *p = zhashx_first(self->sessions);
    while (p) {
        if (match(self, p, now)) {
            admission_leave(self, p, why);
            n++;
            p = zhashx_first(self->sessions);   /* the hash changed: start again */
        } else {
            p = zhashx_next(self->sessions);
        }
    }
    return n;
}

static bool s_is_unreachable(const admission_t *self, const producer_t *p, uint64_t now)
{
    (void) self;
    (void) now;
    return p->unreachable;
}

static bool s_is_silent(const admission_t *self, const producer_t *p, uint64_t now)
{
    return now - p->last_seen > self->timeout_us;
}

size_t admission_drop_unreachable(admission_t *self)
{
    if (self->unreachable == 0)
        return 0;
    self->unreachable = 0;
    return s_leave_where(self, s_is_unreachable, 0, "connection gone");
}

void admission_expire(admission_t *self, uint64_t now) { (void) s_leave_where(self, s_is_silent, now, "silent"); }

const char *producer_name(const producer_t *p) { return p->name; }

const uint8_t *producer_key(const producer_t *p) { return p->has_curve_key ? p->curve_key : NULL; }
const wire_peer_t *producer_peer(const producer_t *p) { return &p->peer; }
bool producer_idle(const producer_t *p) { return credit_is_idle(&p->acct); }
size_t admission_sessions(const admission_t *self) { return zhashx_size(self->sessions); }
uint64_t admission_superseded(const admission_t *self) { return self->superseded; }
uint64_t admission_in_use(const admission_t *self) { return credit_in_use(self->credit); }

uint64_t admission_granted(const admission_t *self)
{
    uint64_t granted = 0;
    for (producer_t *p = zhashx_first(self->sessions); p; p = zhashx_next(self->sessions))
        granted += credit_granted(&p->acct);
    return granted;
}
