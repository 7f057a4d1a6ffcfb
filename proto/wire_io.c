/*  wire_io.c: receiving and sending protocol messages on libzmq sockets (wire.h).
 *
 *  wire_recv takes the frames of one message (the routing id first on a
 *  ROUTER), keeps them in the wire_msg_t so that decoded fields can borrow
 *  from the body, and decodes it (wire.c). A message of the wrong number of
 *  frames is drained whole and reported as AT_ERR_FRAMES.
 *
 *  wire_send_* pack the message header (and any scalar fields) into a
 *  buffer on the stack; a message with a batch is one frame of header,
 *  batch array header and the items already packed in a wire_items_t (one
 *  memcpy of the items, into the frame libzmq sends). Every failure is
 *  counted in the wire_out_t and logged here, rate-limited.
 */
#include "wire_int.h"
#include "log.h"
#include "mpzone.h"
#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <string.h>

/* ---- receiving ---- */

/*  Reads and drops the rest of a multipart message. */
static void s_drain(void *handle)
{
    zmq_msg_t junk;
    zmq_msg_init(&junk);
    int more = 1;
    while (more && zmq_msg_recv(&junk, handle, 0) >= 0)
        more = zmq_msg_more(&junk);
    zmq_msg_close(&junk);
}

static at_err s_frames(wire_msg_t *m, void *handle, const zmq_msg_t *last)
{
    if (zmq_msg_more(last))
        s_drain(handle);
    m->why = "a message is exactly one frame";
    return AT_ERR_FRAMES;
}

at_err wire_recv(void *handle, bool router, wire_msg_t *m)
{
    memset(m, 0, sizeof *m);
    zmq_msg_t *first = &m->frames_[0];
    zmq_msg_init(first);
    if (zmq_msg_recv(first, handle, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(first);
        return AT_ERR_BUSY;
    }
    m->nframes_ = 1;
    zmq_msg_t *body = first;
    if (router) {
        m->rid = zmq_msg_data(first);
        m->rid_len = zmq_msg_size(first) < WIRE_RID_MAX ? zmq_msg_size(first) : WIRE_RID_MAX;
        if (!zmq_msg_more(first))
            return s_frames(m, handle, first);
        body = &m->frames_[1];
        zmq_msg_init(body);
        m->nframes_ = 2;
        if (zmq_msg_recv(body, handle, 0) < 0)   /* the frames of a message arrive together */
            return s_frames(m, handle, first);
    }
    m->size = zmq_msg_size(body);
    m->user_id = zmq_msg_gets(body, "User-Id");
    if (zmq_msg_more(body))
        return s_frames(m, handle, body);
    return wire_int_decode(m, zmq_msg_data(body), zmq_msg_size(body));
}

void wire_msg_done(wire_msg_t *m)
{
    mpzone_give(m->zone_);
    m->zone_ = NULL;
    for (int i = 0; i < m->nframes_; i++)
        zmq_msg_close(&m->frames_[i]);
    m->nframes_ = 0;
}

/* ---- sending ---- */

#define S_HEAD_MAX (WIRE_TEXT_MAX + 128)   /* header and scalar fields of any message */
#define S_TAIL_MAX 32                      /* uints after the batch (DONE's credit and held_us) */

/*  A message being packed: head, then the items of a wire_items_t, then tail. */
typedef struct {
    uint8_t head[S_HEAD_MAX];
    size_t head_len;
    uint8_t tail[S_TAIL_MAX];
    size_t tail_len;
    bool in_tail;
    wire_type type;
    msgpack_packer pk;
} s_msg_t;

static int s_write(void *data, const char *buf, size_t len)
{
    s_msg_t *s = data;
    uint8_t *dst = s->in_tail ? s->tail : s->head;
    size_t *n = s->in_tail ? &s->tail_len : &s->head_len;
    size_t cap = s->in_tail ? S_TAIL_MAX : S_HEAD_MAX;
    assert(*n + len <= cap);   /* the fields are bounded: cannot happen */
    if (*n + len > cap)
        return -1;
    memcpy(dst + *n, buf, len);
    *n += len;
    return 0;
}

static void s_begin(s_msg_t *s, wire_type type, size_t nfields)
{
    s->head_len = s->tail_len = 0;
    s->in_tail = false;
    s->type = type;
    msgpack_packer_init(&s->pk, s, s_write);
    msgpack_pack_array(&s->pk, 2 + nfields);
    msgpack_pack_uint8(&s->pk, WIRE_VERSION);
    msgpack_pack_uint8(&s->pk, (uint8_t) type);
}

/*  The batch's array header; what is packed after this goes after the items. */
static void s_items(s_msg_t *s, const wire_items_t *items, wire_type kind)
{
    assert(items->kind_ == kind && items->n <= wire_int_list_max(kind));
    (void) kind;
    msgpack_pack_array(&s->pk, items->n);
}

static int s_transmit(wire_out_t *o, const wire_peer_t *to, const s_msg_t *s, const wire_items_t *items)
{
    if (to && zmq_send(o->handle, to->rid, to->rid_len, o->flags | ZMQ_SNDMORE) < 0)
        return -1;
    size_t nitems = items ? items->size_ : 0;
    if (nitems == 0 && s->tail_len == 0)
        return zmq_send(o->handle, s->head, s->head_len, o->flags) < 0 ? -1 : 0;
    zmq_msg_t msg;
    if (zmq_msg_init_size(&msg, s->head_len + nitems + s->tail_len) != 0)
        return -1;
    uint8_t *p = zmq_msg_data(&msg);
    memcpy(p, s->head, s->head_len);
    if (nitems)
        memcpy(p + s->head_len, items->buf_, nitems);
    if (s->tail_len)
        memcpy(p + s->head_len + nitems, s->tail, s->tail_len);
    if (zmq_msg_send(&msg, o->handle, o->flags) < 0) {
        int e = errno;
        zmq_msg_close(&msg);
        errno = e;
        return -1;
    }
    return 0;
}

static int s_send(wire_out_t *o, const wire_peer_t *to, const s_msg_t *s, const wire_items_t *items)
{
    if (s_transmit(o, to, s, items) == 0) {
        o->sent++;
        return 0;
    }
    int e = errno;
    o->failures++;
    o->again += e == EAGAIN;
    int level = s->type == WIRE_ERROR ? AT_LOG_DEBUG : e == EAGAIN ? o->again_level : o->level;
    const char *peer = to ? (to->name ? to->name : "peer") : o->peer;
    at_log_limited((at_log_level) level, o->event, "%s not sent to %s: %s", wire_type_name(s->type), peer,
                   zmq_strerror(e));
    errno = e;
    return -1;
}

void wire_out_init(wire_out_t *o, void *handle, const char *event)
{
    memset(o, 0, sizeof *o);
    o->handle = handle;
    o->event = event;
    o->peer = "peer";
    o->flags = ZMQ_DONTWAIT;
    o->level = AT_LOG_WARN;
    o->again_level = AT_LOG_WARN;
}

void wire_out_destroy(wire_out_t *o)
{
    o->handle = NULL;
}

static void s_str(s_msg_t *s, const char *p, size_t n)
{
    msgpack_pack_str_with_body(&s->pk, p, n);
}

int wire_send_hello(wire_out_t *o, const char *name, size_t len, const uint8_t *instance)
{
    s_msg_t s;
    s_begin(&s, WIRE_HELLO, instance ? 2 : 1);
    s_str(&s, name, len < WIRE_NAME_MAX ? len : WIRE_NAME_MAX);
    if (instance)
        msgpack_pack_bin_with_body(&s.pk, instance, WIRE_INSTANCE_BYTES);
    return s_send(o, NULL, &s, NULL);
}

int wire_send_welcome(wire_out_t *o, const wire_peer_t *to, const wire_welcome_t *m)
{
    s_msg_t s;
    s_begin(&s, WIRE_WELCOME, 2);
    msgpack_pack_uint64(&s.pk, m->credit);
    msgpack_pack_uint64(&s.pk, m->max_batch);
    return s_send(o, to, &s, NULL);
}

int wire_send_submit(wire_out_t *o, const wire_items_t *items)
{
    s_msg_t s;
    s_begin(&s, WIRE_SUBMIT, 1);
    s_items(&s, items, WIRE_SUBMIT);
    return s_send(o, NULL, &s, items);
}

int wire_send_amount(wire_out_t *o, const wire_peer_t *to, wire_type type, uint64_t n)
{
    assert(type == WIRE_CREDIT || type == WIRE_REVOKE || type == WIRE_RELEASE);
    s_msg_t s;
    s_begin(&s, type, 1);
    msgpack_pack_uint64(&s.pk, n);
    return s_send(o, to, &s, NULL);
}

int wire_send_ack(wire_out_t *o, const wire_peer_t *to, const wire_items_t *results)
{
    s_msg_t s;
    s_begin(&s, WIRE_ACK, 1);
    s_items(&s, results, WIRE_ACK);
    return s_send(o, to, &s, results);
}

int wire_send_refuse(wire_out_t *o, const wire_peer_t *to, const wire_items_t *refusals)
{
    s_msg_t s;
    s_begin(&s, WIRE_REFUSE, 1);
    s_items(&s, refusals, WIRE_REFUSE);
    return s_send(o, to, &s, refusals);
}

int wire_send_error(wire_out_t *o, const wire_peer_t *to, at_err reason, const char *text)
{
    size_t len = text ? strlen(text) : 0;
    s_msg_t s;
    s_begin(&s, WIRE_ERROR, 2);
    msgpack_pack_uint8(&s.pk, (uint8_t) reason);
    s_str(&s, text ? text : "", len < WIRE_TEXT_MAX ? len : WIRE_TEXT_MAX);
    return s_send(o, to, &s, NULL);
}

int wire_send_empty(wire_out_t *o, const wire_peer_t *to, wire_type type)
{
    assert(type == WIRE_PING || type == WIRE_PONG || type == WIRE_BYE || type == WIRE_HEARTBEAT
           || type == WIRE_LEAVE || type == WIRE_LEAVE_OK);
    s_msg_t s;
    s_begin(&s, type, 0);
    return s_send(o, to, &s, NULL);
}

int wire_send_ready(wire_out_t *o, const char *worker, size_t len, uint64_t credit)
{
    s_msg_t s;
    s_begin(&s, WIRE_READY, 2);
    s_str(&s, worker, len < WIRE_NAME_MAX ? len : WIRE_NAME_MAX);
    msgpack_pack_uint64(&s.pk, credit);
    return s_send(o, NULL, &s, NULL);
}

int wire_send_tasks(wire_out_t *o, const wire_peer_t *to, uint64_t epoch, const wire_items_t *tasks)
{
    s_msg_t s;
    s_begin(&s, WIRE_TASKS, 2);
    msgpack_pack_uint64(&s.pk, epoch);
    s_items(&s, tasks, WIRE_TASKS);
    return s_send(o, to, &s, tasks);
}

int wire_send_done(wire_out_t *o, const wire_items_t *seqs, uint64_t credit, uint64_t held_us)
{
    s_msg_t s;
    s_begin(&s, WIRE_DONE, 3);
    s_items(&s, seqs, WIRE_DONE);
    s.in_tail = true;
    msgpack_pack_uint64(&s.pk, credit);
    msgpack_pack_uint64(&s.pk, held_us);
    return s_send(o, NULL, &s, seqs);
}

int wire_send_blocked(wire_out_t *o, uint64_t blocked_ms)
{
    s_msg_t s;
    s_begin(&s, WIRE_BLOCKED, 1);
    msgpack_pack_uint64(&s.pk, blocked_ms);
    return s_send(o, NULL, &s, NULL);
}

int wire_send_sink_hello(wire_out_t *o, const wire_sink_hello_t *m)
{
    s_msg_t s;
    s_begin(&s, WIRE_SINK_HELLO, 6);
    s_str(&s, m->instance, m->instance_len < WIRE_NAME_MAX ? m->instance_len : WIRE_NAME_MAX);
    msgpack_pack_uint64(&s.pk, m->next_seq);
    msgpack_pack_uint64(&s.pk, m->next_index);
    msgpack_pack_uint64(&s.pk, m->epoch);
    msgpack_pack_uint64(&s.pk, m->window);
    msgpack_pack_uint64(&s.pk, m->held);
    return s_send(o, NULL, &s, NULL);
}

int wire_send_sink_welcome(wire_out_t *o, const wire_peer_t *to, const wire_sink_welcome_t *m)
{
    s_msg_t s;
    s_begin(&s, WIRE_SINK_WELCOME, 2);
    msgpack_pack_uint64(&s.pk, m->epoch);
    msgpack_pack_uint64(&s.pk, m->first_seq);
    return s_send(o, to, &s, NULL);
}

int wire_send_committed(wire_out_t *o, uint64_t epoch, uint64_t next_seq, const wire_items_t *results)
{
    s_msg_t s;
    s_begin(&s, WIRE_COMMITTED, 3);
    msgpack_pack_uint64(&s.pk, epoch);
    msgpack_pack_uint64(&s.pk, next_seq);
    s_items(&s, results, WIRE_COMMITTED);
    return s_send(o, NULL, &s, results);
}

int wire_send_quarantine(wire_out_t *o, const char *worker, size_t len)
{
    s_msg_t s;
    s_begin(&s, WIRE_QUARANTINE, 1);
    s_str(&s, worker, len < WIRE_NAME_MAX ? len : WIRE_NAME_MAX);
    return s_send(o, NULL, &s, NULL);
}

int wire_send_poison(wire_out_t *o, const wire_peer_t *to, uint64_t epoch, const wire_items_t *tasks)
{
    s_msg_t s;
    s_begin(&s, WIRE_POISON, 2);
    msgpack_pack_uint64(&s.pk, epoch);
    s_items(&s, tasks, WIRE_POISON);
    return s_send(o, to, &s, tasks);
}

int wire_send_verdicts(wire_out_t *o, uint64_t epoch, const char *worker, size_t len, const wire_items_t *verdicts)
{
    s_msg_t s;
    s_begin(&s, WIRE_VERDICTS, 3);
    msgpack_pack_uint64(&s.pk, epoch);
    s_str(&s, worker, len < WIRE_NAME_MAX ? len : WIRE_NAME_MAX);
    s_items(&s, verdicts, WIRE_VERDICTS);
    return s_send(o, NULL, &s, verdicts);
}

int wire_send_gap(wire_out_t *o, uint64_t epoch, const wire_items_t *ranges)
{
    s_msg_t s;
    s_begin(&s, WIRE_GAP, 2);
    msgpack_pack_uint64(&s.pk, epoch);
    s_items(&s, ranges, WIRE_GAP);
    return s_send(o, NULL, &s, ranges);
}

static void s_socket_common(void *zsock, int hwm)
{
    zsock_set_maxmsgsize(zsock, (int) WIRE_FRAME_MAX);
    zsock_set_linger(zsock, 0);
    zsock_set_sndhwm(zsock, hwm);
    zsock_set_rcvhwm(zsock, hwm);
    zsock_set_connect_timeout(zsock, WIRE_CONNECT_TIMEOUT_MS);
}

void wire_socket_stream(void *zsock, int hwm)
{
    s_socket_common(zsock, hwm);
    zsock_set_tcp_keepalive(zsock, 1);
    zsock_set_tcp_keepalive_idle(zsock, 5);
    zsock_set_tcp_keepalive_intvl(zsock, 1);
    zsock_set_tcp_keepalive_cnt(zsock, 3);
    zsock_set_tcp_maxrt(zsock, WIRE_TCP_MAXRT_MS);
}

void wire_socket_defaults(void *zsock, int hwm)
{
    s_socket_common(zsock, hwm);
    /* ZMTP heartbeats: a connection whose peer stops answering (a host gone,
     * a partition) is closed after WIRE_ZMTP_TIMEOUT_MS and the connecting
     * side reconnects at once. Without them a TCP connection that lost
     * packets for a while sits in exponential retransmission backoff long
     * after the network has healed. */
    zsock_set_heartbeat_ivl(zsock, WIRE_ZMTP_HEARTBEAT_MS);
    zsock_set_heartbeat_timeout(zsock, WIRE_ZMTP_TIMEOUT_MS);
    zsock_set_heartbeat_ttl(zsock, WIRE_ZMTP_TIMEOUT_MS);
    /* But libzmq starts the heartbeat timeout only when it has written a
     * PING, and it cannot while the connection's TCP send buffer is full
     * (a producer with a backlog, cut off): such a connection then waits
     * for TCP's retransmission backoff, measured at 7-8 s after a 7 s
     * partition healed. TCP_USER_TIMEOUT drops it once data has gone
     * unacknowledged for WIRE_TCP_MAXRT_MS, whatever is queued. */
    zsock_set_tcp_maxrt(zsock, WIRE_TCP_MAXRT_MS);
}
