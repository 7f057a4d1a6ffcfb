/*  wire.c: parsing and building the protocol's messages. */
#include "wire.h"
#include "mpzone.h"
#include <czmq.h>
#include <string.h>

/*  Number of fields after [version, type], plus one, by type; 0 = not a type. */
#define A(n) ((n) + 1)
static const uint8_t s_arity[WIRE_TYPE_MAX_] = {
    [WIRE_HELLO] = A(1), [WIRE_WELCOME] = A(2), [WIRE_SUBMIT] = A(1), [WIRE_CREDIT] = A(1),
    [WIRE_ACK] = A(1), [WIRE_REFUSE] = A(1), [WIRE_PING] = A(0), [WIRE_PONG] = A(0),
    [WIRE_ERROR] = A(2), [WIRE_BYE] = A(0), [WIRE_REVOKE] = A(1), [WIRE_RELEASE] = A(1),
    [WIRE_READY] = A(2), [WIRE_TASKS] = A(2), [WIRE_DONE] = A(2), [WIRE_HEARTBEAT] = A(0), [WIRE_LEAVE] = A(0),
    [WIRE_LEAVE_OK] = A(0),
    [WIRE_SINK_HELLO] = A(4), [WIRE_SINK_WELCOME] = A(2), [WIRE_COMMITTED] = A(3),
    [WIRE_VERDICTS] = A(3),
};

static const char *s_names[WIRE_TYPE_MAX_] = {
    [WIRE_HELLO] = "HELLO", [WIRE_WELCOME] = "WELCOME", [WIRE_SUBMIT] = "SUBMIT",
    [WIRE_CREDIT] = "CREDIT", [WIRE_ACK] = "ACK", [WIRE_REFUSE] = "REFUSE", [WIRE_PING] = "PING",
    [WIRE_PONG] = "PONG", [WIRE_ERROR] = "ERROR", [WIRE_BYE] = "BYE", [WIRE_REVOKE] = "REVOKE",
    [WIRE_RELEASE] = "RELEASE", [WIRE_READY] = "READY",
    [WIRE_TASKS] = "TASKS", [WIRE_DONE] = "DONE", [WIRE_HEARTBEAT] = "HEARTBEAT",
    [WIRE_LEAVE] = "LEAVE", [WIRE_LEAVE_OK] = "LEAVE_OK",
    [WIRE_SINK_HELLO] = "SINK_HELLO", [WIRE_SINK_WELCOME] = "SINK_WELCOME",
    [WIRE_COMMITTED] = "COMMITTED", [WIRE_VERDICTS] = "VERDICTS",
};

const char *wire_type_name(int type)
{
    if (type < 0 || type >= WIRE_TYPE_MAX_ || !s_names[type])
        return "unknown";
    return s_names[type];
}

static at_err s_check_header(const msgpack_object *root, uint8_t *type)
{
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size < 2)
        return AT_ERR_SHAPE;
    const msgpack_object *a = root->via.array.ptr;
    if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return AT_ERR_TYPE;
    if (a[0].via.u64 != WIRE_VERSION)
        return AT_ERR_VERSION;
    if (a[1].via.u64 >= WIRE_TYPE_MAX_ || s_arity[a[1].via.u64] == 0)
        return AT_ERR_UNKNOWN_TYPE;
    *type = (uint8_t) a[1].via.u64;
    if (root->via.array.size != (uint32_t) s_arity[*type] - 1 + 2)
        return AT_ERR_SHAPE;
    return AT_OK;
}

at_err wire_parse(wire_msg_t *m, const void *data, size_t len)
{
    if (len > WIRE_FRAME_MAX)
        return AT_ERR_OVERSIZE;
    if (!at_msgpack_bounded(data, len))
        return AT_ERR_MSGPACK;
    at_err rc = mpzone_unpack(data, len, &m->root, &m->zone);
    if (rc == AT_OK)
        rc = s_check_header(&m->root, &m->type);
    if (rc) {
        mpzone_give(m->zone);
        m->zone = NULL;
        return rc;
    }
    m->f = m->root.via.array.ptr + 2;
    m->nf = m->root.via.array.size - 2;
    return AT_OK;
}

void wire_msg_done(wire_msg_t *m)
{
    mpzone_give(m->zone);
    m->zone = NULL;
}

at_err wire_u64(const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return AT_ERR_TYPE;
    *out = o->via.u64;
    return AT_OK;
}

at_err wire_bool(const msgpack_object *o, bool *out)
{
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return AT_ERR_TYPE;
    *out = o->via.boolean;
    return AT_OK;
}

at_err wire_str(const msgpack_object *o, const char **p, size_t *n, size_t max)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return AT_ERR_TYPE;
    if (o->via.str.size > max)
        return AT_ERR_OVERSIZE;
    *p = o->via.str.ptr;
    *n = o->via.str.size;
    return AT_OK;
}

at_err wire_bin(const msgpack_object *o, const uint8_t **p, size_t *n, size_t max)
{
    if (o->type != MSGPACK_OBJECT_BIN)
        return AT_ERR_TYPE;
    if (o->via.bin.size > max)
        return AT_ERR_OVERSIZE;
    *p = (const uint8_t *) o->via.bin.ptr;
    *n = o->via.bin.size;
    return AT_OK;
}

at_err wire_array(const msgpack_object *o, const msgpack_object **items, size_t *n, size_t max, bool allow_empty)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return AT_ERR_TYPE;
    if (o->via.array.size > max)
        return AT_ERR_OVERSIZE;
    if (o->via.array.size == 0 && !allow_empty)
        return AT_ERR_SHAPE;
    *items = o->via.array.ptr;
    *n = o->via.array.size;
    return AT_OK;
}

static at_err s_item(const msgpack_object *o, size_t want, const msgpack_object **f)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return AT_ERR_TYPE;
    if (o->via.array.size != want)
        return AT_ERR_SHAPE;
    *f = o->via.array.ptr;
    return AT_OK;
}

static at_err s_u8(const msgpack_object *o, uint8_t *out)
{
    uint64_t v;
    at_err rc = wire_u64(o, &v);
    if (rc)
        return rc;
    if (v > 255)
        return AT_ERR_RANGE;
    *out = (uint8_t) v;
    return AT_OK;
}

at_err wire_submit_decode(const msgpack_object *o, wire_submit_t *out)
{
    const msgpack_object *f;
    at_err rc;
    if ((rc = s_item(o, 2, &f))) return rc;
    if ((rc = wire_u64(&f[0], &out->cseq))) return rc;
    return wire_bin(&f[1], &out->att, &out->att_len, AT_ENCODED_MAX);
}

static at_err s_task_fields(const msgpack_object *f, wire_task_t *out)
{
    at_err rc;
    if ((rc = wire_u64(&f[0], &out->seq))) return rc;
    if ((rc = wire_str(&f[1], &out->producer, &out->producer_len, WIRE_NAME_MAX))) return rc;
    if ((rc = wire_u64(&f[2], &out->cseq))) return rc;
    if ((rc = wire_u64(&f[3], &out->t_received))) return rc;
    return wire_u64(&f[4], &out->t_dispatched);
}

at_err wire_task_decode(const msgpack_object *o, wire_task_t *out)
{
    const msgpack_object *f;
    at_err rc;
    if ((rc = s_item(o, 6, &f))) return rc;
    if ((rc = s_task_fields(f, out))) return rc;
    return wire_bin(&f[5], &out->att, &out->att_len, AT_ENCODED_MAX);
}

at_err wire_verdict_decode(const msgpack_object *o, wire_verdict_t *out)
{
    const msgpack_object *f;
    at_err rc;
    size_t idlen;
    if ((rc = s_item(o, 10, &f))) return rc;
    if ((rc = s_task_fields(f, &out->task))) return rc;
    if ((rc = wire_u64(&f[5], &out->t_verified))) return rc;
    if ((rc = s_u8(&f[6], &out->verdict))) return rc;
    if ((rc = s_u8(&f[7], &out->reason))) return rc;
    if ((rc = wire_bin(&f[8], &out->id, &idlen, AT_ID_BYTES))) return rc;
    if (idlen != AT_ID_BYTES || out->verdict > WIRE_INVALID)
        return AT_ERR_RANGE;
    return wire_bin(&f[9], &out->task.att, &out->task.att_len, AT_ENCODED_MAX);
}

at_err wire_result_decode(const msgpack_object *o, wire_result_t *out)
{
    const msgpack_object *f;
    at_err rc;
    if ((rc = s_item(o, 5, &f))) return rc;
    if ((rc = wire_u64(&f[0], &out->key))) return rc;
    if ((rc = wire_u64(&f[1], &out->index))) return rc;
    if ((rc = s_u8(&f[2], &out->verdict))) return rc;
    if ((rc = s_u8(&f[3], &out->reason))) return rc;
    return wire_bool(&f[4], &out->duplicate);
}

at_err wire_refusal_decode(const msgpack_object *o, wire_refusal_t *out)
{
    const msgpack_object *f;
    at_err rc;
    if ((rc = s_item(o, 2, &f))) return rc;
    if ((rc = wire_u64(&f[0], &out->cseq))) return rc;
    return s_u8(&f[1], &out->reason);
}

void wire_packer_init(wire_packer_t *w)
{
    msgpack_sbuffer_init(&w->sb);
    msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
}

void wire_packer_destroy(wire_packer_t *w)
{
    msgpack_sbuffer_destroy(&w->sb);
}

void wire_begin(wire_packer_t *w, wire_type type, size_t nfields)
{
    msgpack_sbuffer_clear(&w->sb);
    msgpack_pack_array(&w->pk, (size_t) 2 + nfields);
    msgpack_pack_uint8(&w->pk, WIRE_VERSION);
    msgpack_pack_uint8(&w->pk, (uint8_t) type);
}

void wire_pack_str(wire_packer_t *w, const char *s, size_t n)
{
    msgpack_pack_str_with_body(&w->pk, s, n);
}

void wire_pack_submit(wire_packer_t *w, const wire_submit_t *s)
{
    msgpack_pack_array(&w->pk, 2);
    msgpack_pack_uint64(&w->pk, s->cseq);
    msgpack_pack_bin_with_body(&w->pk, s->att, s->att_len);
}

static void s_pack_task_fields(wire_packer_t *w, const wire_task_t *t)
{
    msgpack_pack_uint64(&w->pk, t->seq);
    msgpack_pack_str_with_body(&w->pk, t->producer, t->producer_len);
    msgpack_pack_uint64(&w->pk, t->cseq);
    msgpack_pack_uint64(&w->pk, t->t_received);
    msgpack_pack_uint64(&w->pk, t->t_dispatched);
}

void wire_pack_task(wire_packer_t *w, const wire_task_t *t)
{
    msgpack_pack_array(&w->pk, 6);
    s_pack_task_fields(w, t);
    msgpack_pack_bin_with_body(&w->pk, t->att, t->att_len);
}

void wire_pack_verdict(wire_packer_t *w, const wire_verdict_t *v)
{
    msgpack_pack_array(&w->pk, 10);
    s_pack_task_fields(w, &v->task);
    msgpack_pack_uint64(&w->pk, v->t_verified);
    msgpack_pack_uint8(&w->pk, v->verdict);
    msgpack_pack_uint8(&w->pk, v->reason);
    msgpack_pack_bin_with_body(&w->pk, v->id, AT_ID_BYTES);
    msgpack_pack_bin_with_body(&w->pk, v->task.att, v->task.att_len);
}

void wire_pack_result(wire_packer_t *w, const wire_result_t *r)
{
    msgpack_pack_array(&w->pk, 5);
    msgpack_pack_uint64(&w->pk, r->key);
    msgpack_pack_uint64(&w->pk, r->index);
    msgpack_pack_uint8(&w->pk, r->verdict);
    msgpack_pack_uint8(&w->pk, r->reason);
    if (r->duplicate)
        msgpack_pack_true(&w->pk);
    else
        msgpack_pack_false(&w->pk);
}

void wire_pack_refusal(wire_packer_t *w, const wire_refusal_t *r)
{
    msgpack_pack_array(&w->pk, 2);
    msgpack_pack_uint64(&w->pk, r->cseq);
    msgpack_pack_uint8(&w->pk, r->reason);
}

int wire_send(void *handle, const wire_packer_t *w, const void *rid, size_t rid_len, int flags)
{
    if (rid && zmq_send(handle, rid, rid_len, flags | ZMQ_SNDMORE) < 0)
        return -1;
    return zmq_send(handle, w->sb.data, w->sb.size, flags) < 0 ? -1 : 0;
}

void wire_socket_defaults(void *zsock, int hwm)
{
    zsock_set_maxmsgsize(zsock, (int) WIRE_FRAME_MAX);
    zsock_set_linger(zsock, 0);
    zsock_set_sndhwm(zsock, hwm);
    zsock_set_rcvhwm(zsock, hwm);
    /* ZMTP heartbeats: a connection whose peer stops answering (a host gone,
     * a partition) is closed after WIRE_ZMTP_TIMEOUT_MS and the connecting
     * side reconnects at once. Without them a TCP connection that lost
     * packets for a while sits in exponential retransmission backoff long
     * after the network has healed. */
    zsock_set_heartbeat_ivl(zsock, WIRE_ZMTP_HEARTBEAT_MS);
    zsock_set_heartbeat_timeout(zsock, WIRE_ZMTP_TIMEOUT_MS);
    zsock_set_heartbeat_ttl(zsock, WIRE_ZMTP_TIMEOUT_MS);
}
