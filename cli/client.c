/*  client.c: the producer client library (see client.h and wire.h, frontend).
 *
 *  One DEALER socket to the broker's ROUTER frontend. The client says HELLO
 *  and holds no credit until WELCOME arrives; while there is no WELCOME it
 *  says HELLO again every second (the broker may not be up yet). The socket
 *  has ZMQ_IMMEDIATE set, so a HELLO is not queued for a connection that does
 *  not exist yet: a HELLO that cannot be sent is retried after 50 ms, and the
 *  broker does not find a pile of stale HELLOs when it comes up.
 *
 *  Pending table: a ring of slots indexed by cseq modulo its capacity (a power
 *  of two), covering cseqs [lo, next_cseq). Outcomes normally arrive in cseq
 *  order, but refusals may come out of order: a slot whose outcome arrived is
 *  freed at once, and lo moves past freed slots. The ring doubles when the
 *  range reaches its capacity; the range is bounded by the credit the broker
 *  grants, since every submission consumes one credit.
 *
 *  Batching: the cseqs in (sent, next_cseq) are submitted but not yet sent.
 *  They go out as SUBMIT messages of at most max_batch items when a batch is
 *  full, when credit runs out, and before the client waits on the socket (in
 *  pump, flush and submit waiting for credit), so latency stays low.
 *
 *  Sends use ZMQ_DONTWAIT; a SUBMIT that cannot be sent (high-water mark, no
 *  connection) stays unsent and is retried at the next pump.
 *
 *  Details client.h leaves open: at_client_pump returns as soon as it has
 *  handled the messages that arrived (it does not sit out the whole timeout),
 *  and a negative timeout waits until something arrives. The outcome callback
 *  runs inside submit/pump/flush and must not call them (no re-entrancy); the
 *  pending slot is freed before the callback runs.
 *
 *  Broker restart: the client notices that the broker no longer knows it (an
 *  ERROR "protocol", the answer to anything but HELLO from an unknown
 *  connection), or that the broker is silent (nothing received for
 *  S_SILENCE_US although it PINGs every second when nothing arrives; then it
 *  says BYE first, so that a broker that is merely slow forgets the old
 *  session cleanly). It drops its credit and says HELLO again. On the new
 *  WELCOME every pending attestation (sent or not) is resubmitted in cseq
 *  order before any new one: they form a backlog that the new credit pays
 *  for first (`unfunded` still need credit, `funded` have it and wait to be
 *  sent), so at_client_submit waits for credit until the whole backlog is
 *  funded. The pending table keeps each until its outcome arrives. What the
 *  old broker had already committed comes back as an ACK with duplicate =
 *  true and the existing index (the sink's dedup by id); it is not logged
 *  twice.
 */
#include "client.h"
#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "wire.h"
#include <czmq.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define S_WAIT_NOTICE_US 2000000u   /* say what a submit waits for after this */
#define S_HELLO_IVL_US 1000000u       /* re-send HELLO while no WELCOME */
#define S_HELLO_RETRY_US 50000u       /* HELLO could not be sent (not connected yet) */
#define S_PING_IVL_US 1000000u        /* PING when nothing was sent, or received, for this long */
#define S_SILENCE_US 5000000u         /* nothing received for this long: the broker is gone */
#define S_RING_INITIAL 64
#define S_HWM 10000

typedef struct {
    uint64_t cseq;                    /* 0: slot empty */
    uint8_t *att;
    size_t att_len;
    void *user;
    uint64_t submit_us;
} s_slot_t;

struct at_client_t {
    zsock_t *sock;
    void *handle;                     /* the libzmq socket behind sock */
    char producer[WIRE_NAME_MAX + 1];
    uint8_t instance[WIRE_INSTANCE_BYTES];   /* random, for the client's lifetime: a rejoin's HELLO supersedes
                                                the old session at once (protocol.md 5.1) */
    bool connected;
    uint64_t credit;
    uint64_t max_batch;
    at_ack_fn *fn;
    void *fn_arg;
    s_slot_t *ring;
    size_t ring_cap;                  /* power of two */
    uint64_t lo;                      /* lowest cseq that may still be pending */
    uint64_t next_cseq;
    uint64_t sent;                    /* cseqs <= sent have been sent */
    uint64_t linger_us;               /* how long a partial batch may wait for company */
    bool want_ids;                    /* compute each outcome's attestation id */
    uint64_t unsent_since;            /* mono us the oldest unsent item was added; 0: none */
    size_t npending;
    bool rejoin;                      /* the broker forgot us: resubmit all at the next WELCOME */
    uint64_t resend_end;              /* pending cseqs below this are the resubmission backlog */
    uint64_t unfunded;                /* backlog items not sent and without credit yet */
    uint64_t funded;                  /* backlog items not sent, with credit */
    uint64_t sessions;                /* WELCOMEs that started a session */
    uint64_t last_send_us;
    uint64_t last_recv_us;
    uint64_t last_ping_us;
    uint64_t next_hello_us;
    uint64_t malformed;               /* bad messages from the broker */
    char endpoint[256];               /* the broker's, for messages */
    bool no_sink;                     /* the broker said admission is closed (ERROR no_sink), no credit since */
    char no_sink_text[256];           /* its words */
    wire_out_t out;                   /* counts and logs failed sends (CLI-SEND) */
    wire_items_t batch;               /* the SUBMIT being built */
};

typedef int (s_handler_fn)(at_client_t *self, const wire_msg_t *m);

/* --------------------------------------------------------------------------
 * Pending table */

static s_slot_t *s_slot(at_client_t *self, uint64_t cseq)
{
    if (cseq < self->lo || cseq >= self->next_cseq)
        return NULL;
    s_slot_t *s = &self->ring[cseq & (self->ring_cap - 1)];
    return s->cseq == cseq ? s : NULL;
}

static void s_ring_grow(at_client_t *self)
{
    size_t cap = self->ring_cap * 2;
    s_slot_t *ring = at_calloc(cap, sizeof *ring);
    for (uint64_t c = self->lo; c < self->next_cseq; c++) {
        s_slot_t *s = &self->ring[c & (self->ring_cap - 1)];
        if (s->cseq == c)
            ring[c & (cap - 1)] = *s;
    }
    free(self->ring);
    self->ring = ring;
    self->ring_cap = cap;
}

/*  Frees the slot and moves lo past slots that are done. */
static void s_slot_free(at_client_t *self, s_slot_t *s)
{
    free(s->att);
    memset(s, 0, sizeof *s);
    self->npending--;
    while (self->lo < self->next_cseq && self->ring[self->lo & (self->ring_cap - 1)].cseq != self->lo)
        self->lo++;
}

static uint64_t s_slot_add(at_client_t *self, const uint8_t *att, size_t len, void *user)
{
    if (self->next_cseq - self->lo >= self->ring_cap)
        s_ring_grow(self);
    uint64_t cseq = self->next_cseq++;
    s_slot_t *s = &self->ring[cseq & (self->ring_cap - 1)];
    s->cseq = cseq;
    s->att = at_malloc(len);
    memcpy(s->att, att, len);
    s->att_len = len;
    s->user = user;
    s->submit_us = at_clock_mono_us();
    self->npending++;
    return cseq;
}

/* --------------------------------------------------------------------------
 * Sending */

/*  rc of a wire_send_*: notes the time of a successful send. */
static int s_sent(at_client_t *self, int rc)
{
    if (rc == 0)
        self->last_send_us = at_clock_mono_us();
    return rc;
}

static void s_send_hello(at_client_t *self)
{
    int rc = s_sent(self, wire_send_hello(&self->out, self->producer, strlen(self->producer), self->instance));
    self->next_hello_us = at_clock_mono_us() + (rc == 0 ? S_HELLO_IVL_US : S_HELLO_RETRY_US);
}

static void s_send_simple(at_client_t *self, wire_type type)
{
    (void) s_sent(self, wire_send_empty(&self->out, NULL, type));
}

/*  Picks the next unsent cseqs for one SUBMIT (at most max_batch): skips
 *  backlog cseqs whose outcome came before the restart, and stops at a
 *  backlog item that has no credit yet. Sets *last to the last cseq looked
 *  at and *nfund to the backlog items taken. */
static size_t s_pick_batch(at_client_t *self, uint64_t *picked, uint64_t *last, uint64_t *nfund)
{
    size_t n = 0;
    *last = self->sent;
    *nfund = 0;
    for (uint64_t c = self->sent + 1; c < self->next_cseq && n < self->max_batch; c++) {
        bool backlog = c < self->resend_end;
        s_slot_t *s = s_slot(self, c);
        if (!s) {
            assert(backlog);   /* outside the backlog, unsent cseqs cannot have an outcome */
            *last = c;
            continue;
        }
        if (backlog && *nfund == self->funded)
            break;   /* wait for credit */
        *nfund += backlog;
        picked[n++] = c;
        *last = c;
    }
    return n;
}

/*  Sends one SUBMIT of up to max_batch unsent items; false if no progress. */
static bool s_send_one_batch(at_client_t *self)
{
    uint64_t picked[WIRE_BATCH_MAX], last, nfund;
    size_t n = s_pick_batch(self, picked, &last, &nfund);
    if (n == 0) {
        bool progress = last > self->sent;
        self->sent = last;
        return progress;
    }
    wire_items_clear(&self->batch);
    for (size_t i = 0; i < n; i++) {
        s_slot_t *s = s_slot(self, picked[i]);
        wire_submit_t item = { .cseq = picked[i], .att = s->att, .att_len = s->att_len };
        wire_items_submit(&self->batch, &item);
    }
    if (s_sent(self, wire_send_submit(&self->out, &self->batch)) != 0)
        return false;   /* logged by the wire_out_t; retried at the next pump */
    self->sent = last;
    self->funded -= nfund;
    return true;
}

/*  Sends the full batches, and the partial one too when forced or when its
 *  oldest item has lingered linger_us: like Nagle's algorithm, a producer
 *  that submits one attestation at a time still sends batches, so that the
 *  broker (and every hop after it) is woken once per batch, not per
 *  attestation. */
static void s_send_batches(at_client_t *self, bool force)
{
    uint64_t unsent = self->next_cseq - 1 - self->sent;
    if (!force && unsent < self->max_batch && self->unsent_since
        && at_clock_mono_us() - self->unsent_since < self->linger_us)
        return;
    while (self->connected && self->sent + 1 < self->next_cseq)
        if (!s_send_one_batch(self))
            break;
    self->unsent_since = self->sent + 1 < self->next_cseq ? at_clock_mono_us() : 0;
}

/*  Milliseconds until the partial batch is due (INT_MAX if none). */
static int s_linger_ms(const at_client_t *self)
{
    if (!self->unsent_since || !self->connected)
        return INT32_MAX;
    uint64_t due = self->unsent_since + self->linger_us, now = at_clock_mono_us();
    return due <= now ? 0 : (int) ((due - now + 999) / 1000);
}

void at_client_set_ids(at_client_t *self, bool on) { self->want_ids = on; }

void at_client_set_linger(at_client_t *self, int linger_us)
{
    self->linger_us = linger_us < 0 ? 0 : (uint64_t) linger_us;
}

/*  The broker does not know us any more (it restarted, or forgot us after
 *  producer-timeout-ms), or is silent: drop the credit it gave, say HELLO
 *  again, and resubmit everything pending at the next WELCOME. */
static void s_rejoin(at_client_t *self, const char *why, bool say_bye)
{
    if (!self->connected)
        return;
    at_log_warn("CLI-REJOIN", "%s: %s: saying HELLO again; %zu pending attestations will be resubmitted",
                self->producer, why, self->npending);
    if (say_bye)
        s_send_simple(self, WIRE_BYE);   /* a live but slow broker forgets the old session cleanly */
    self->connected = false;
    self->no_sink = false;   /* whatever the old session was told */
    self->rejoin = true;
    self->credit = 0;
    self->next_hello_us = 0;
}

/*  Credit from the broker pays for the resubmission backlog first. */
static void s_add_credit(at_client_t *self, uint64_t n)
{
    if (n > 0)
        self->no_sink = false;   /* credit: admission is open again */
    uint64_t take = n < self->unfunded ? n : self->unfunded;
    self->unfunded -= take;
    self->funded += take;
    n -= take;
    self->credit = n > UINT64_MAX - self->credit ? UINT64_MAX : self->credit + n;
}

/*  HELLO while not welcomed; PING when nothing was sent or received for a
 *  second; a broker silent for S_SILENCE_US is taken for gone. */
static void s_heartbeat(at_client_t *self)
{
    uint64_t now = at_clock_mono_us();
    /* (Messages waiting in the socket are not silence: the caller may not
     * have pumped for a while.) */
    if (self->connected && now - self->last_recv_us >= S_SILENCE_US && !(zsock_events(self->sock) & ZMQ_POLLIN))
        s_rejoin(self, "broker silent", true);
    if (!self->connected) {
        if (now >= self->next_hello_us)
            s_send_hello(self);
    } else if (now - self->last_send_us >= S_PING_IVL_US
               || (now - self->last_recv_us >= S_PING_IVL_US && now - self->last_ping_us >= S_PING_IVL_US)) {
        self->last_ping_us = now;
        s_send_simple(self, WIRE_PING);
    }
}

/* --------------------------------------------------------------------------
 * Receiving: one handler per message type; each returns outcomes delivered */

static void s_malformed(at_client_t *self, const char *what, at_err rc)
{
    self->malformed++;
    at_log_limited(AT_LOG_WARN, "CLI-MALFORMED", "broker sent a bad %s (%s); %llu bad messages so far", what,
                   at_strerror(rc), (unsigned long long) self->malformed);
}

static int s_on_welcome(at_client_t *self, const wire_msg_t *m)
{
    uint64_t credit = m->u.welcome.credit, max_batch = m->u.welcome.max_batch;
    if (self->connected) {
        /* A WELCOME answering a repeated HELLO to the same broker (HELLO
         * goes out only while not connected): its credit is a new grant. */
        at_log_debug("CLI-WELCOME", "repeated WELCOME: credit %llu added", (unsigned long long) credit);
        s_add_credit(self, credit);
        return 0;
    }
    self->connected = true;
    self->sessions++;
    self->max_batch = max_batch == 0 ? 1 : max_batch > WIRE_BATCH_MAX ? WIRE_BATCH_MAX : max_batch;
    if (self->rejoin) {
        /* A new session: everything pending goes again, in cseq order,
         * before anything new, paid for by the new broker's credit. */
        self->rejoin = false;
        self->sent = self->lo - 1;
        self->resend_end = self->next_cseq;
        self->unfunded = self->npending;
        self->funded = 0;
        self->credit = 0;
        at_log_info("CLI-REJOIN", "%s: welcomed again (session %llu): resubmitting %zu attestations", self->producer,
                    (unsigned long long) self->sessions, self->npending);
    }
    s_add_credit(self, credit);
    at_log_debug("CLI-WELCOME", "welcomed: credit %llu, max_batch %llu", (unsigned long long) credit,
                 (unsigned long long) self->max_batch);
    return 0;
}

static int s_on_credit(at_client_t *self, const wire_msg_t *m)
{
    uint64_t n = m->u.amount;
    if (!self->connected)
        at_log_limited(AT_LOG_WARN, "CLI-PROTOCOL", "CREDIT before WELCOME ignored");
    else
        s_add_credit(self, n);
    return 0;
}

/*  REVOKE [credit]: the broker wants unspent credit back for others. Give
 *  back what is not spent (credit already assigned to submissions, sent or
 *  lingering, stays) and say how much in RELEASE; what was sent before is
 *  covered, since it reaches the broker first. */
static int s_on_revoke(at_client_t *self, const wire_msg_t *m)
{
    uint64_t n = m->u.amount;
    if (!self->connected)
        return 0;
    uint64_t give = n < self->credit ? n : self->credit;
    self->credit -= give;
    if (s_sent(self, wire_send_amount(&self->out, NULL, WIRE_RELEASE, give)) != 0)
        self->credit += give;   /* not given back after all (logged by the wire_out_t) */
    return 0;
}

static void s_deliver(at_client_t *self, s_slot_t *s, at_ack_t *ack)
{
    ack->cseq = s->cseq;
    memset(ack->id, 0, AT_ID_BYTES);
    attestation_t a;
    if (self->want_ids && attestation_decode(&a, s->att, s->att_len) == AT_OK)
        attestation_id(&a, ack->id);
    ack->submit_us = s->submit_us;
    ack->ack_us = at_clock_mono_us();
    ack->user = s->user;
    s_slot_free(self, s);
    if (self->fn)
        self->fn(ack, self->fn_arg);
}

/*  An outcome for a cseq that is not pending (unknown, or not yet sent). */
static s_slot_t *s_outcome_slot(at_client_t *self, uint64_t cseq, const char *what)
{
    s_slot_t *s = cseq <= self->sent ? s_slot(self, cseq) : NULL;
    if (!s)
        at_log_limited(AT_LOG_WARN, "CLI-UNKNOWN-CSEQ", "%s for cseq %llu, which is not pending: ignored", what,
                       (unsigned long long) cseq);
    return s;
}

static int s_on_ack(at_client_t *self, const wire_msg_t *m)
{
    int delivered = 0;
    at_err rc = AT_OK;
    for (size_t i = 0; i < m->u.ack.n; i++) {
        wire_result_t r;
        if ((rc = wire_result_at(&m->u.ack, i, &r)) != AT_OK)
            break;
        s_slot_t *s = s_outcome_slot(self, r.key, "ACK");
        if (!s)
            continue;
        at_ack_t ack = { .refused = false, .index = r.index, .verdict = r.verdict, .reason = r.reason,
                         .duplicate = r.duplicate };
        s_deliver(self, s, &ack);
        delivered++;
    }
    if (rc)
        s_malformed(self, "ACK", rc);
    return delivered;
}

static int s_on_refuse(at_client_t *self, const wire_msg_t *m)
{
    int delivered = 0;
    at_err rc = AT_OK;
    for (size_t i = 0; i < m->u.refuse.n; i++) {
        wire_refusal_t r;
        if ((rc = wire_refusal_at(&m->u.refuse, i, &r)) != AT_OK)
            break;
        s_slot_t *s = s_outcome_slot(self, r.cseq, "REFUSE");
        if (!s)
            continue;
        if (r.reason != AT_ERR_NO_CREDIT && self->connected)
            s_add_credit(self, 1);   /* a refusal returns the credit, unless there was none */
        at_ack_t ack = { .refused = true, .reason = r.reason };
        s_deliver(self, s, &ack);
        delivered++;
    }
    if (rc)
        s_malformed(self, "REFUSE", rc);
    return delivered;
}

static int s_on_error(at_client_t *self, const wire_msg_t *m)
{
    uint8_t reason = m->u.error.reason;
    const char *text = m->u.error.text;
    size_t len = m->u.error.text_len;
    if (reason == AT_ERR_NO_SINK) {
        /* A notice, not a refusal (protocol.md 5.10): admission is closed
         * until the broker has a sink; its CREDIT will say it is open. */
        if (!self->no_sink)
            at_log_debug("CLI-NO-SINK", "the broker at %s: %.*s", self->endpoint, (int) len, text);
        snprintf(self->no_sink_text, sizeof self->no_sink_text, "%.*s", (int) len, text);
        self->no_sink = self->connected;
        return 0;
    }
    if (reason == AT_ERR_PROTOCOL) {
        /* "say HELLO first": the broker does not know this connection (it
         * restarted, or timed us out). While not connected this is the
         * answer to something sent before our new HELLO: nothing to do. */
        s_rejoin(self, "the broker does not know us", false);
        return 0;
    }
    at_log_limited(AT_LOG_WARN, "CLI-BROKER-ERROR", "broker error %s: %.*s", at_strerror(reason), (int) len,
                   text);
    return 0;
}

static int s_on_pong(at_client_t *self, const wire_msg_t *m)
{
    (void) self;
    (void) m;
    return 0;
}

static s_handler_fn *const s_handlers[WIRE_TYPE_MAX_] = {
    [WIRE_WELCOME] = s_on_welcome, [WIRE_CREDIT] = s_on_credit, [WIRE_ACK] = s_on_ack,
    [WIRE_REFUSE] = s_on_refuse,   [WIRE_ERROR] = s_on_error,   [WIRE_PONG] = s_on_pong,
    [WIRE_REVOKE] = s_on_revoke,
};

/*  Receives one message if one is ready; returns outcomes delivered, or -1
 *  when nothing was ready. */
static int s_recv_one(at_client_t *self)
{
    wire_msg_t m;
    at_err rc = wire_recv(self->handle, false, &m);
    if (rc == AT_ERR_BUSY)
        return -1;
    int delivered = 0;
    self->last_recv_us = at_clock_mono_us();   /* any message is a sign of life */
    if (rc != AT_OK)
        s_malformed(self, m.type ? wire_type_name(m.type) : "message", rc);
    else if (s_handlers[m.type])
        delivered = s_handlers[m.type](self, &m);
    else
        s_malformed(self, wire_type_name(m.type), AT_ERR_UNKNOWN_TYPE);
    wire_msg_done(&m);
    return delivered;
}

/* --------------------------------------------------------------------------
 * Public API */

at_client_t *at_client_new(const char *endpoint, const char *producer)
{
    return at_client_new_curve(endpoint, producer, NULL, NULL);
}

at_client_t *at_client_new_curve(const char *endpoint, const char *producer, const curve_keys_t *keys,
                                 const char *server_key)
{
    assert(endpoint && producer);
    size_t plen = strlen(producer);
    if (plen == 0 || plen > WIRE_NAME_MAX)
        return NULL;
    at_client_t *self = at_calloc(1, sizeof *self);
    memcpy(self->producer, producer, plen);
    randombytes_buf(self->instance, sizeof self->instance);
    snprintf(self->endpoint, sizeof self->endpoint, "%s", endpoint);
    self->sock = zsock_new(ZMQ_DEALER);
    if (!self->sock) {
        at_log_error("CLI-CONNECT", "cannot create a socket: %s", zmq_strerror(zmq_errno()));
        free(self);
        return NULL;
    }
    wire_socket_defaults(self->sock, S_HWM);
    zsock_set_immediate(self->sock, 1);
    if (keys)
        curve_client(self->sock, keys, server_key);
    if (zsock_connect(self->sock, "%s", endpoint) != 0) {
        at_log_error("CLI-CONNECT", "cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&self->sock);
        free(self);
        return NULL;
    }
    self->handle = zsock_resolve(self->sock);
    wire_out_init(&self->out, self->handle, "CLI-SEND");
    self->out.peer = "the broker";
    self->out.again_level = AT_LOG_DEBUG;   /* not connected yet, or the pipe full: retried */
    wire_items_init(&self->batch, WIRE_SUBMIT);
    self->ring_cap = S_RING_INITIAL;
    self->ring = at_calloc(self->ring_cap, sizeof *self->ring);
    self->lo = self->next_cseq = 1;
    self->max_batch = 1;
    self->linger_us = AT_CLIENT_LINGER_US;
    self->want_ids = true;
    s_send_hello(self);
    return self;
}

void at_client_destroy(at_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    at_client_t *self = *self_p;
    if (self->connected) {
        s_send_simple(self, WIRE_BYE);
        zsock_set_linger(self->sock, 200);   /* give BYE a chance to leave */
    }
    zsock_destroy(&self->sock);
    for (size_t i = 0; i < self->ring_cap; i++)
        free(self->ring[i].att);
    free(self->ring);
    wire_out_destroy(&self->out);
    wire_items_destroy(&self->batch);
    free(self);
    *self_p = NULL;
}

void at_client_set_handler(at_client_t *self, at_ack_fn *fn, void *arg)
{
    self->fn = fn;
    self->fn_arg = arg;
}

/*  Milliseconds until the next heartbeat or HELLO is due (at least 1). */
static int s_timer_ms(const at_client_t *self)
{
    uint64_t now = at_clock_mono_us();
    uint64_t due = self->next_hello_us;
    if (self->connected) {
        due = self->last_send_us + S_PING_IVL_US;
        uint64_t quiet = (self->last_recv_us > self->last_ping_us ? self->last_recv_us : self->last_ping_us)
                         + S_PING_IVL_US;
        if (quiet < due)
            due = quiet;
    }
    return due <= now ? 1 : (int) ((due - now + 999) / 1000);
}

int at_client_pump(at_client_t *self, int timeout_ms) { return at_client_pump_fd(self, timeout_ms, -1, NULL); }

int at_client_pump_fd(at_client_t *self, int timeout_ms, int fd, bool *fd_ready)
{
    /* negative: until something arrives */
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : at_clock_mono_us() + (uint64_t) timeout_ms * 1000u;
    int delivered = 0;
    if (fd_ready)
        *fd_ready = false;
    for (;;) {
        s_send_batches(self, false);
        s_heartbeat(self);
        int got = 0, r;
        while ((r = s_recv_one(self)) >= 0) {
            got = 1;
            delivered += r;
        }
        uint64_t now = at_clock_mono_us();
        if (got || now >= deadline || zsys_interrupted)
            break;
        int timer = s_timer_ms(self);   /* at most about a second */
        int linger = s_linger_ms(self);
        if (linger < timer)
            timer = linger;
        uint64_t wait = (deadline - now + 999) / 1000;
        zmq_pollitem_t items[2] = { { .socket = self->handle, .events = ZMQ_POLLIN },
                                    { .socket = NULL, .fd = fd, .events = ZMQ_POLLIN } };
        int rc = zmq_poll(items, fd >= 0 ? 2 : 1, wait < (uint64_t) timer ? (long) wait : timer);
        if (rc < 0 && zmq_errno() != EINTR)
            break;
        if (rc > 0 && fd >= 0 && (items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR))) {
            if (fd_ready)
                *fd_ready = true;
            while ((r = s_recv_one(self)) >= 0)
                delivered += r;
            break;
        }
    }
    s_send_batches(self, false);   /* outcomes may have brought credit-freed work */
    return delivered;
}

/*  Milliseconds left before deadline_us (-1 when there is none). */
static int s_left_ms(uint64_t deadline_us, bool forever)
{
    if (forever)
        return 1000;
    uint64_t now = at_clock_mono_us();
    return now >= deadline_us ? 0 : (int) ((deadline_us - now + 999) / 1000);
}

/*  Why a submit waits for credit: the broker does not answer, it has no
 *  sink (it said so), or it answers and grants nothing (its pipeline is
 *  full). */
typedef enum { S_WAIT_NONE, S_WAIT_BROKER, S_WAIT_NO_SINK, S_WAIT_FULL } s_wait_t;

static s_wait_t s_wait_cause(const at_client_t *self)
{
    return !self->connected ? S_WAIT_BROKER : self->no_sink ? S_WAIT_NO_SINK : S_WAIT_FULL;
}

/*  Credit has not come for a while: say what we are waiting for, and again
 *  whenever the cause changes, so that a person sees it within seconds, not
 *  at the timeout. */
static void s_say_waiting(const at_client_t *self, s_wait_t cause)
{
    if (cause == S_WAIT_BROKER)
        at_log_warn("CLI-WAIT", "waiting for the broker at %s: no answer to HELLO (is it running, and is"
                    " --broker its frontend?)", self->endpoint);
    else if (cause == S_WAIT_NO_SINK)
        at_log_warn("CLI-WAIT", "waiting: the broker at %s has no sink (%s); it admits again once the sink is"
                    " back", self->endpoint, self->no_sink_text);
    else
        at_log_warn("CLI-WAIT", "waiting: the broker at %s has granted no credit for %u s: its pipeline is full"
                    " (attestations wait for the workers and the sink; see its BRK-STATS)", self->endpoint,
                    S_WAIT_NOTICE_US / 1000000u);
}

at_err at_client_submit(at_client_t *self, const uint8_t *att, size_t len, void *user, int timeout_ms,
                        uint64_t *cseq)
{
    if (len > AT_ENCODED_MAX)
        return AT_ERR_OVERSIZE;
    bool forever = timeout_ms < 0;
    uint64_t deadline = at_clock_mono_us() + (uint64_t) (forever ? 0 : timeout_ms) * 1000u;
    if (self->credit == 0)
        at_client_pump(self, 0);
    uint64_t since = at_clock_mono_us();
    s_wait_t said = S_WAIT_NONE;
    while (self->credit == 0) {
        if (zsys_interrupted)
            return AT_ERR_INTERRUPTED;
        int left = s_left_ms(deadline, forever);
        if (left == 0)
            return AT_ERR_BUSY;
        if (at_clock_mono_us() - since >= S_WAIT_NOTICE_US && s_wait_cause(self) != said) {
            said = s_wait_cause(self);
            s_say_waiting(self, said);
        }
        at_client_pump(self, left < 500 ? left : 500);
    }
    if (zsys_interrupted)
        return AT_ERR_INTERRUPTED;
    uint64_t c = s_slot_add(self, att, len, user);
    self->credit--;
    if (cseq)
        *cseq = c;
    if (!self->unsent_since)
        self->unsent_since = at_clock_mono_us();
    if (self->next_cseq - 1 - self->sent >= self->max_batch || self->credit == 0)
        s_send_batches(self, true);
    return AT_OK;
}

void at_client_send(at_client_t *self)
{
    s_send_batches(self, true);
}

at_err at_client_flush(at_client_t *self, int timeout_ms)
{
    bool forever = timeout_ms < 0;
    uint64_t deadline = at_clock_mono_us() + (uint64_t) (forever ? 0 : timeout_ms) * 1000u;
    s_send_batches(self, true);
    while (self->npending > 0) {
        if (zsys_interrupted)
            return AT_ERR_INTERRUPTED;
        int left = s_left_ms(deadline, forever);
        if (left == 0)
            return AT_ERR_TIMEOUT;
        at_client_pump(self, left);
    }
    return AT_OK;
}

size_t at_client_pending(const at_client_t *self) { return self->npending; }
uint64_t at_client_credit(const at_client_t *self) { return self->credit; }
bool at_client_connected(const at_client_t *self) { return self->connected; }
const char *at_client_no_sink(const at_client_t *self) { return self->no_sink ? self->no_sink_text : NULL; }
