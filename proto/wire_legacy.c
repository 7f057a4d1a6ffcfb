/*  wire_legacy.c: the msgpack-level API of wire_legacy.h, for the broker
 *  until it is converted to wire.h (then delete this file). Thin wrappers
 *  over the codec's internals (wire_int.h) and the old packer.
 */
#include "wire_legacy.h"
#include "mpzone.h"
#include "wire_int.h"
#include <string.h>

at_err wire_parse(wire_msg_t *m, const void *data, size_t len)
{
    memset(m, 0, sizeof *m);
    msgpack_object root;
    at_err rc = wire_int_unpack(data, len, &root, &m->zone_);
    if (rc == AT_OK)
        rc = wire_int_header(&root, &m->type);
    if (rc) {
        mpzone_give(m->zone_);
        m->zone_ = NULL;
        return rc;
    }
    m->f = root.via.array.ptr + 2;
    m->nf = root.via.array.size - 2;
    return AT_OK;
}

at_err wire_u64(const msgpack_object *o, uint64_t *out) { return wire_int_u64(o, out); }
at_err wire_bool(const msgpack_object *o, bool *out) { return wire_int_bool(o, out); }
at_err wire_str(const msgpack_object *o, const char **p, size_t *n, size_t max) { return wire_int_str(o, p, n, max); }
at_err wire_bin(const msgpack_object *o, const uint8_t **p, size_t *n, size_t max) { return wire_int_bin(o, p, n, max); }
at_err wire_array(const msgpack_object *o, const msgpack_object **items, size_t *n, size_t max, bool allow_empty)
{
    return wire_int_array(o, items, n, max, allow_empty);
}

at_err wire_submit_decode(const msgpack_object *o, wire_submit_t *out) { return wire_int_submit(o, out); }
at_err wire_task_decode(const msgpack_object *o, wire_task_t *out) { return wire_int_task(o, out); }
at_err wire_verdict_decode(const msgpack_object *o, wire_verdict_t *out) { return wire_int_verdict(o, out); }
at_err wire_result_decode(const msgpack_object *o, wire_result_t *out) { return wire_int_result(o, out); }
at_err wire_refusal_decode(const msgpack_object *o, wire_refusal_t *out) { return wire_int_refusal(o, out); }

void wire_packer_init(wire_packer_t *w)
{
    msgpack_sbuffer_init(&w->sb);
    msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
}

void wire_packer_destroy(wire_packer_t *w) { msgpack_sbuffer_destroy(&w->sb); }

void wire_begin(wire_packer_t *w, wire_type type, size_t nfields)
{
    msgpack_sbuffer_clear(&w->sb);
    msgpack_pack_array(&w->pk, (size_t) 2 + nfields);
    msgpack_pack_uint8(&w->pk, WIRE_VERSION);
    msgpack_pack_uint8(&w->pk, (uint8_t) type);
}

void wire_pack_str(wire_packer_t *w, const char *s, size_t n) { msgpack_pack_str_with_body(&w->pk, s, n); }
void wire_pack_submit(wire_packer_t *w, const wire_submit_t *s) { wire_int_pack_submit(&w->pk, s); }
void wire_pack_task(wire_packer_t *w, const wire_task_t *t) { wire_int_pack_task(&w->pk, t); }
void wire_pack_verdict(wire_packer_t *w, const wire_verdict_t *v) { wire_int_pack_verdict(&w->pk, v); }
void wire_pack_result(wire_packer_t *w, const wire_result_t *r) { wire_int_pack_result(&w->pk, r); }
void wire_pack_refusal(wire_packer_t *w, const wire_refusal_t *r) { wire_int_pack_refusal(&w->pk, r); }

int wire_send(void *handle, const wire_packer_t *w, const void *rid, size_t rid_len, int flags)
{
    if (rid && zmq_send(handle, rid, rid_len, flags | ZMQ_SNDMORE) < 0)
        return -1;
    return zmq_send(handle, w->sb.data, w->sb.size, flags) < 0 ? -1 : 0;
}
