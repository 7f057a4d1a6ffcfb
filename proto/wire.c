/*  wire.c: decoding every protocol message, and building batches (wire.h).
 *
 *  A message is parsed once into msgpack objects held in a zone of the
 *  calling thread (mpzone.h: no allocation in steady state), its header is
 *  checked against a table of field counts, and a decoder per type checks
 *  every field and the shape of the batch, filling the tagged union. Batch
 *  items stay msgpack objects until a receiver asks for one by index
 *  (wire_*_at), so a receiver that only needs some of them pays for those.
 *  The codes returned are those receivers answer with (table in wire.h).
 *
 *  Batches being built are packed straight into the wire_items_t buffer;
 *  wire_io.c puts the message header in front of it when sending.
 */
#include "wire_int.h"
#include "alloc.h"
#include "mpzone.h"
#include <assert.h>
#include <string.h>

typedef at_err (*s_decode_fn)(wire_msg_t *m, const msgpack_object *f);

static at_err s_bad(wire_msg_t *m, at_err rc, const char *why)
{
    m->why = why;
    return rc;
}

static at_err s_list(const msgpack_object *o, wire_list_t *l, size_t max, bool allow_empty)
{
    const msgpack_object *items = NULL;
    size_t n = 0;
    at_err rc = wire_int_array(o, &items, &n, max, allow_empty);
    l->items_ = items;
    l->n = rc == AT_OK ? n : 0;
    return rc;
}

/* ---- one decoder per message type (f: the fields after version and type) ---- */

static at_err s_dec_none(wire_msg_t *m, const msgpack_object *f)
{
    (void) m;
    (void) f;
    return AT_OK;
}

static at_err s_dec_hello(wire_msg_t *m, const msgpack_object *f)
{
    wire_hello_t *h = &m->u.hello;
    if (mpfield_name(&f[0], &h->name, &h->name_len, WIRE_NAME_MAX) || h->name_len == 0)
        return s_bad(m, AT_ERR_TYPE, "HELLO needs a producer name of 1..64 bytes of UTF-8 without control characters");
    h->instance = NULL;
    if (m->nfields_ > 1) {
        size_t n;
        if (mpfield_bin(&f[1], &h->instance, &n, WIRE_INSTANCE_BYTES) || n != WIRE_INSTANCE_BYTES)
            return s_bad(m, AT_ERR_TYPE, "HELLO's instance must be bin of 16 bytes");
    }
    return AT_OK;
}

static at_err s_dec_welcome(wire_msg_t *m, const msgpack_object *f)
{
    if (mpfield_u64(&f[0], &m->u.welcome.credit) || mpfield_u64(&f[1], &m->u.welcome.max_batch))
        return s_bad(m, AT_ERR_TYPE, "WELCOME needs [credit uint, max_batch uint]");
    return AT_OK;
}

static at_err s_dec_submit(wire_msg_t *m, const msgpack_object *f)
{
    at_err rc = s_list(&f[0], &m->u.submit, WIRE_BATCH_MAX, false);
    return rc ? s_bad(m, rc, "SUBMIT batch is not an array of 1..max_batch items") : AT_OK;
}

static at_err s_dec_amount(wire_msg_t *m, const msgpack_object *f)
{
    if (mpfield_u64(&f[0], &m->u.amount))
        return s_bad(m, AT_ERR_TYPE, m->type == WIRE_RELEASE ? "RELEASE needs an unsigned integer"
                                     : m->type == WIRE_REVOKE ? "REVOKE needs an unsigned integer"
                                                              : "CREDIT needs an unsigned integer");
    return AT_OK;
}

static at_err s_dec_results(wire_msg_t *m, const msgpack_object *f)
{
    at_err rc = s_list(&f[0], m->type == WIRE_ACK ? &m->u.ack : &m->u.refuse, WIRE_RESULTS_MAX, true);
    return rc ? s_bad(m, rc, "ACK/REFUSE needs an array of at most 8192 items") : AT_OK;
}

static at_err s_dec_error(wire_msg_t *m, const msgpack_object *f)
{
    uint64_t reason;
    wire_error_t *e = &m->u.error;
    if (mpfield_u64(&f[0], &reason))
        return s_bad(m, AT_ERR_TYPE, "ERROR reason is not an unsigned integer");
    if (reason > 255)
        return s_bad(m, AT_ERR_RANGE, "ERROR reason beyond 255");
    e->reason = (uint8_t) reason;
    at_err rc = mpfield_str(&f[1], &e->text, &e->text_len, WIRE_TEXT_MAX);
    return rc ? s_bad(m, rc, "ERROR text is not a str of at most 1024 bytes") : AT_OK;
}

static at_err s_dec_ready(wire_msg_t *m, const msgpack_object *f)
{
    wire_ready_t *r = &m->u.ready;
    if (mpfield_name(&f[0], &r->worker, &r->worker_len, WIRE_NAME_MAX) || r->worker_len == 0
        || mpfield_u64(&f[1], &r->credit) || r->credit > WIRE_READY_CREDIT_MAX)
        return s_bad(m, AT_ERR_TYPE, "READY needs [worker_id str (1..64 bytes of UTF-8 without control characters), credit uint]");
    return AT_OK;
}

static at_err s_dec_tasks(wire_msg_t *m, const msgpack_object *f)
{
    bool poison = m->type == WIRE_POISON;
    wire_tasks_t *t = poison ? &m->u.poison : &m->u.tasks;
    if (mpfield_u64(&f[0], &t->epoch))
        return s_bad(m, AT_ERR_TYPE, poison ? "POISON epoch is not an unsigned integer"
                                            : "TASKS epoch is not an unsigned integer");
    at_err rc = s_list(&f[1], &t->items, WIRE_BATCH_MAX, false);
    return rc ? s_bad(m, rc, poison ? "POISON needs an array of 1..1024 tasks" : "TASKS needs an array of 1..1024 tasks")
              : AT_OK;
}

static at_err s_dec_done(wire_msg_t *m, const msgpack_object *f)
{
    wire_done_t *d = &m->u.done;
    if (s_list(&f[0], &d->seqs, WIRE_BATCH_MAX, true) || mpfield_u64(&f[1], &d->credit)
        || d->credit > WIRE_BATCH_MAX || mpfield_u64(&f[2], &d->held_us))
        return s_bad(m, AT_ERR_TYPE, "DONE needs [[seq...], credit, held_us]");
    return AT_OK;
}

static at_err s_dec_blocked(wire_msg_t *m, const msgpack_object *f)
{
    if (mpfield_u64(&f[0], &m->u.blocked_ms))
        return s_bad(m, AT_ERR_TYPE, "BLOCKED needs [blocked_ms uint]");
    return AT_OK;
}

static at_err s_dec_sink_hello(wire_msg_t *m, const msgpack_object *f)
{
    wire_sink_hello_t *h = &m->u.sink_hello;
    if (mpfield_name(&f[0], &h->instance, &h->instance_len, WIRE_NAME_MAX) || mpfield_u64(&f[1], &h->next_seq)
        || mpfield_u64(&f[2], &h->next_index) || mpfield_u64(&f[3], &h->epoch) || mpfield_u64(&f[4], &h->window)
        || mpfield_u64(&f[5], &h->held))
        return s_bad(m, AT_ERR_TYPE, "SINK_HELLO needs [instance (UTF-8, no control characters), next_seq, next_index, epoch, window, held]");
    return AT_OK;
}

static at_err s_dec_sink_welcome(wire_msg_t *m, const msgpack_object *f)
{
    if (mpfield_u64(&f[0], &m->u.sink_welcome.epoch) || mpfield_u64(&f[1], &m->u.sink_welcome.first_seq))
        return s_bad(m, AT_ERR_TYPE, "SINK_WELCOME needs [epoch uint, first_seq uint]");
    return AT_OK;
}

static at_err s_dec_committed(wire_msg_t *m, const msgpack_object *f)
{
    wire_committed_t *c = &m->u.committed;
    if (mpfield_u64(&f[0], &c->epoch) || mpfield_u64(&f[1], &c->next_seq))
        return s_bad(m, AT_ERR_TYPE, "COMMITTED needs [epoch uint, next_seq uint, results]");
    at_err rc = s_list(&f[2], &c->results, WIRE_RESULTS_MAX, true);
    return rc ? s_bad(m, rc, "COMMITTED results are not an array of at most 8192 items") : AT_OK;
}

static at_err s_dec_quarantine(wire_msg_t *m, const msgpack_object *f)
{
    wire_quarantine_t *q = &m->u.quarantine;
    if (mpfield_name(&f[0], &q->worker, &q->worker_len, WIRE_NAME_MAX) || q->worker_len == 0)
        return s_bad(m, AT_ERR_TYPE, "QUARANTINE needs [worker_id str 1..64, UTF-8 without control characters]");
    return AT_OK;
}

static at_err s_dec_verdicts(wire_msg_t *m, const msgpack_object *f)
{
    wire_verdicts_t *v = &m->u.verdicts;
    if (mpfield_u64(&f[0], &v->epoch))
        return s_bad(m, AT_ERR_TYPE, "VERDICTS epoch is not an unsigned integer");
    at_err rc = mpfield_name(&f[1], &v->worker, &v->worker_len, WIRE_NAME_MAX);
    if (rc)
        return s_bad(m, rc, "VERDICTS worker id is not a str of at most 64 bytes of UTF-8 without control characters");
    rc = s_list(&f[2], &v->items, WIRE_BATCH_MAX, false);
    return rc ? s_bad(m, rc, "VERDICTS needs an array of 1..1024 verdicts") : AT_OK;
}

/*  One GAP range [first, count] (TYPE, RANGE: see wire.h). */
static at_err s_range(const msgpack_object *o, wire_range_t *out)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2)
        return AT_ERR_TYPE;
    const msgpack_object *f = o->via.array.ptr;
    if (mpfield_u64(&f[0], &out->first) || mpfield_u64(&f[1], &out->count))
        return AT_ERR_TYPE;
    if (out->count == 0 || out->first + out->count < out->first)
        return AT_ERR_RANGE;
    return AT_OK;
}

/*  GAP [epoch, ranges]: every range is checked here (at most 256 of them),
 *  ascending and disjoint, and their seqs counted against the bound, so
 *  that a receiver acts on a message known to be whole. */
static at_err s_dec_gap(wire_msg_t *m, const msgpack_object *f)
{
    wire_gap_t *g = &m->u.gap;
    if (mpfield_u64(&f[0], &g->epoch))
        return s_bad(m, AT_ERR_TYPE, "GAP epoch is not an unsigned integer");
    at_err rc = s_list(&f[1], &g->ranges, WIRE_GAP_RANGES_MAX, false);
    if (rc)
        return s_bad(m, rc, "GAP needs an array of 1..256 ranges");
    const msgpack_object *items = g->ranges.items_;
    uint64_t end = 0;
    g->seqs = 0;
    for (size_t i = 0; i < g->ranges.n; i++) {
        wire_range_t r;
        if ((rc = s_range(&items[i], &r)) != AT_OK)
            return s_bad(m, rc, rc == AT_ERR_TYPE ? "GAP range is not [first uint, count uint]"
                                                  : "GAP range has a count of 0 or ends past 2^64");
        if (i > 0 && r.first < end)
            return s_bad(m, AT_ERR_RANGE, "GAP ranges are not ascending and disjoint");
        end = r.first + r.count;
        g->seqs += r.count;
        if (g->seqs > WIRE_GAP_SEQS_MAX)
            return s_bad(m, AT_ERR_OVERSIZE, "GAP names more than 262144 seqs");
    }
    return AT_OK;
}

/*  Number of fields after [version, type], plus one (0 = not a type), how
 *  many more trailing fields are optional, and the decoder (which reads
 *  m->nfields_ when optional fields exist). */
#define T(n, fn) { (n) + 1, 0, fn }
#define T_OPT(n, opt, fn) { (n) + 1, opt, fn }
static const struct {
    uint8_t arity;
    uint8_t optional;
    s_decode_fn decode;
} s_types[WIRE_TYPE_MAX_] = {
    [WIRE_HELLO] = T_OPT(1, 1, s_dec_hello), [WIRE_WELCOME] = T(2, s_dec_welcome), [WIRE_SUBMIT] = T(1, s_dec_submit),
    [WIRE_CREDIT] = T(1, s_dec_amount), [WIRE_ACK] = T(1, s_dec_results), [WIRE_REFUSE] = T(1, s_dec_results),
    [WIRE_PING] = T(0, s_dec_none), [WIRE_PONG] = T(0, s_dec_none), [WIRE_ERROR] = T(2, s_dec_error),
    [WIRE_BYE] = T(0, s_dec_none), [WIRE_REVOKE] = T(1, s_dec_amount), [WIRE_RELEASE] = T(1, s_dec_amount),
    [WIRE_READY] = T(2, s_dec_ready), [WIRE_TASKS] = T(2, s_dec_tasks), [WIRE_DONE] = T(3, s_dec_done),
    [WIRE_HEARTBEAT] = T(0, s_dec_none), [WIRE_LEAVE] = T(0, s_dec_none), [WIRE_LEAVE_OK] = T(0, s_dec_none),
    [WIRE_BLOCKED] = T(1, s_dec_blocked),
    [WIRE_SINK_HELLO] = T(6, s_dec_sink_hello), [WIRE_SINK_WELCOME] = T(2, s_dec_sink_welcome),
    [WIRE_COMMITTED] = T(3, s_dec_committed), [WIRE_QUARANTINE] = T(1, s_dec_quarantine),
    [WIRE_POISON] = T(2, s_dec_tasks), [WIRE_GAP] = T(2, s_dec_gap), [WIRE_VERDICTS] = T(3, s_dec_verdicts),
};
#undef T
#undef T_OPT

static const char *s_names[WIRE_TYPE_MAX_] = {
    [WIRE_HELLO] = "HELLO", [WIRE_WELCOME] = "WELCOME", [WIRE_SUBMIT] = "SUBMIT",
    [WIRE_CREDIT] = "CREDIT", [WIRE_ACK] = "ACK", [WIRE_REFUSE] = "REFUSE", [WIRE_PING] = "PING",
    [WIRE_PONG] = "PONG", [WIRE_ERROR] = "ERROR", [WIRE_BYE] = "BYE", [WIRE_REVOKE] = "REVOKE",
    [WIRE_RELEASE] = "RELEASE", [WIRE_READY] = "READY",
    [WIRE_TASKS] = "TASKS", [WIRE_DONE] = "DONE", [WIRE_HEARTBEAT] = "HEARTBEAT",
    [WIRE_LEAVE] = "LEAVE", [WIRE_LEAVE_OK] = "LEAVE_OK", [WIRE_BLOCKED] = "BLOCKED",
    [WIRE_SINK_HELLO] = "SINK_HELLO", [WIRE_SINK_WELCOME] = "SINK_WELCOME",
    [WIRE_COMMITTED] = "COMMITTED", [WIRE_QUARANTINE] = "QUARANTINE", [WIRE_POISON] = "POISON", [WIRE_GAP] = "GAP",
    [WIRE_VERDICTS] = "VERDICTS",
};

const char *wire_type_name(int type)
{
    if (type < 0 || type >= WIRE_TYPE_MAX_ || !s_names[type])
        return "unknown";
    return s_names[type];
}

at_err wire_int_header(const msgpack_object *root, uint8_t *type)
{
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size < 2)
        return AT_ERR_SHAPE;
    const msgpack_object *a = root->via.array.ptr;
    if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return AT_ERR_TYPE;
    if (a[0].via.u64 != WIRE_VERSION)
        return AT_ERR_VERSION;
    if (a[1].via.u64 >= WIRE_TYPE_MAX_ || s_types[a[1].via.u64].arity == 0)
        return AT_ERR_UNKNOWN_TYPE;
    *type = (uint8_t) a[1].via.u64;
    uint32_t fields = root->via.array.size - 2, min = (uint32_t) s_types[*type].arity - 1;
    if (fields < min || fields > min + s_types[*type].optional)
        return AT_ERR_SHAPE;
    return AT_OK;
}

at_err wire_int_unpack(const void *data, size_t len, msgpack_object *root, msgpack_zone **zone_p)
{
    *zone_p = NULL;
    if (len > WIRE_FRAME_MAX)
        return AT_ERR_OVERSIZE;
    if (!at_msgpack_bounded(data, len))
        return AT_ERR_MSGPACK;
    return mpzone_unpack(data, len, root, zone_p);
}

static const char *s_header_why(at_err rc)
{
    switch (rc) {
    case AT_ERR_OVERSIZE: return "frame larger than 4 MiB";
    case AT_ERR_MSGPACK: return "not one well-formed msgpack object";
    case AT_ERR_TRAILING: return "bytes after the message";
    case AT_ERR_SHAPE: return "not [version, type, fields...] with the type's number of fields";
    case AT_ERR_TYPE: return "version or type is not an unsigned integer";
    case AT_ERR_VERSION: return "unknown protocol version";
    case AT_ERR_UNKNOWN_TYPE: return "unknown message type";
    default: return "message could not be parsed";
    }
}

/*  Parses and decodes data into *m, whose private parts are initialised. */
at_err wire_int_decode(wire_msg_t *m, const void *data, size_t len)
{
    msgpack_object root;
    m->size = len;
    at_err rc = wire_int_unpack(data, len, &root, &m->zone_);
    uint8_t type = 0;
    if (rc == AT_OK)
        rc = wire_int_header(&root, &type);
    m->type = type;
    if (rc == AT_OK) {
        m->nfields_ = root.via.array.size - 2;
        rc = s_types[type].decode(m, root.via.array.ptr + 2);
    } else {
        m->why = s_header_why(rc);
    }
    if (rc != AT_OK) {
        mpzone_give(m->zone_);
        m->zone_ = NULL;
    }
    return rc;
}

at_err wire_decode(wire_msg_t *m, const void *data, size_t len)
{
    memset(m, 0, sizeof *m);
    return wire_int_decode(m, data, len);
}

/* ---- fields ---- */

at_err wire_int_bool(const msgpack_object *o, bool *out)
{
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return AT_ERR_TYPE;
    *out = o->via.boolean;
    return AT_OK;
}

at_err wire_int_array(const msgpack_object *o, const msgpack_object **items, size_t *n, size_t max,
                      bool allow_empty)
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

/* ---- items ---- */

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
    at_err rc = mpfield_u64(o, &v);
    if (rc)
        return rc;
    if (v > 255)
        return AT_ERR_RANGE;
    *out = (uint8_t) v;
    return AT_OK;
}

at_err wire_int_submit(const msgpack_object *o, wire_submit_t *out)
{
    const msgpack_object *f;
    at_err rc;
    if ((rc = s_item(o, 2, &f))) return rc;
    if ((rc = mpfield_u64(&f[0], &out->cseq))) return rc;
    return mpfield_bin(&f[1], &out->att, &out->att_len, AT_ENCODED_MAX);
}

/*  The producer's authenticated key: a bin of 0 or WIRE_KEY_BYTES. */
static at_err s_key(const msgpack_object *f, wire_task_t *out)
{
    at_err rc = mpfield_bin(f, &out->producer_key, &out->producer_key_len, WIRE_KEY_BYTES);
    if (rc == AT_OK && out->producer_key_len != 0 && out->producer_key_len != WIRE_KEY_BYTES)
        return AT_ERR_RANGE;
    return rc;
}

static at_err s_task_fields(const msgpack_object *f, wire_task_t *out)
{
    at_err rc;
    if ((rc = mpfield_u64(&f[0], &out->seq))) return rc;
    if ((rc = mpfield_name(&f[1], &out->producer, &out->producer_len, WIRE_NAME_MAX))) return rc;
    if ((rc = mpfield_u64(&f[2], &out->cseq))) return rc;
    if ((rc = mpfield_u64(&f[3], &out->t_received))) return rc;
    return mpfield_u64(&f[4], &out->t_dispatched);
}

at_err wire_int_task(const msgpack_object *o, wire_task_t *out)
{
    const msgpack_object *f;
    at_err rc;
    if ((rc = s_item(o, 7, &f))) return rc;
    if ((rc = s_task_fields(f, out))) return rc;
    if ((rc = mpfield_bin(&f[5], &out->att, &out->att_len, AT_ENCODED_MAX))) return rc;
    return s_key(&f[6], out);
}

at_err wire_int_verdict(const msgpack_object *o, wire_verdict_t *out)
{
    const msgpack_object *f;
    at_err rc;
    size_t idlen;
    if ((rc = s_item(o, 11, &f))) return rc;
    if ((rc = s_task_fields(f, &out->task))) return rc;
    if ((rc = mpfield_u64(&f[5], &out->t_verified))) return rc;
    if ((rc = s_u8(&f[6], &out->verdict))) return rc;
    if ((rc = s_u8(&f[7], &out->reason))) return rc;
    if ((rc = mpfield_bin(&f[8], &out->id, &idlen, AT_ID_BYTES))) return rc;
    if (idlen != AT_ID_BYTES || out->verdict > WIRE_INVALID)
        return AT_ERR_RANGE;
    if ((rc = mpfield_bin(&f[9], &out->task.att, &out->task.att_len, AT_ENCODED_MAX))) return rc;
    return s_key(&f[10], &out->task);
}

at_err wire_int_result(const msgpack_object *o, wire_result_t *out)
{
    const msgpack_object *f;
    at_err rc;
    if ((rc = s_item(o, 5, &f))) return rc;
    if ((rc = mpfield_u64(&f[0], &out->key))) return rc;
    if ((rc = mpfield_u64(&f[1], &out->index))) return rc;
    if ((rc = s_u8(&f[2], &out->verdict))) return rc;
    if (out->verdict > WIRE_INVALID) return AT_ERR_RANGE;   /* as in a verdict (wire.h); found by fuzz_wire */
    if ((rc = s_u8(&f[3], &out->reason))) return rc;
    return wire_int_bool(&f[4], &out->duplicate);
}

at_err wire_int_refusal(const msgpack_object *o, wire_refusal_t *out)
{
    const msgpack_object *f;
    at_err rc;
    if ((rc = s_item(o, 2, &f))) return rc;
    if ((rc = mpfield_u64(&f[0], &out->cseq))) return rc;
    return s_u8(&f[1], &out->reason);
}

static const msgpack_object *s_at(const wire_list_t *l, size_t i)
{
    assert(i < l->n);
    return (const msgpack_object *) l->items_ + i;
}

at_err wire_submit_at(const wire_list_t *l, size_t i, wire_submit_t *out)
{
    memset(out, 0, sizeof *out);
    return wire_int_submit(s_at(l, i), out);
}

at_err wire_task_at(const wire_list_t *l, size_t i, wire_task_t *out) { return wire_int_task(s_at(l, i), out); }
at_err wire_verdict_at(const wire_list_t *l, size_t i, wire_verdict_t *out) { return wire_int_verdict(s_at(l, i), out); }
at_err wire_result_at(const wire_list_t *l, size_t i, wire_result_t *out) { return wire_int_result(s_at(l, i), out); }
at_err wire_refusal_at(const wire_list_t *l, size_t i, wire_refusal_t *out) { return wire_int_refusal(s_at(l, i), out); }
at_err wire_seq_at(const wire_list_t *l, size_t i, uint64_t *out) { return mpfield_u64(s_at(l, i), out); }
at_err wire_range_at(const wire_list_t *l, size_t i, wire_range_t *out) { return s_range(s_at(l, i), out); }

/* ---- packing items ---- */

void wire_int_pack_submit(msgpack_packer *pk, const wire_submit_t *s)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, s->cseq);
    msgpack_pack_bin_with_body(pk, s->att, s->att_len);
}

static void s_pack_task_fields(msgpack_packer *pk, const wire_task_t *t)
{
    msgpack_pack_uint64(pk, t->seq);
    msgpack_pack_str_with_body(pk, t->producer, t->producer_len);
    msgpack_pack_uint64(pk, t->cseq);
    msgpack_pack_uint64(pk, t->t_received);
    msgpack_pack_uint64(pk, t->t_dispatched);
}

static void s_pack_key(msgpack_packer *pk, const wire_task_t *t)
{
    assert(t->producer_key_len == 0 || t->producer_key_len == WIRE_KEY_BYTES);
    msgpack_pack_bin_with_body(pk, t->producer_key_len ? t->producer_key : (const uint8_t *) "", t->producer_key_len);
}

void wire_int_pack_task(msgpack_packer *pk, const wire_task_t *t)
{
    msgpack_pack_array(pk, 7);
    s_pack_task_fields(pk, t);
    msgpack_pack_bin_with_body(pk, t->att, t->att_len);
    s_pack_key(pk, t);
}

void wire_int_pack_verdict(msgpack_packer *pk, const wire_verdict_t *v)
{
    msgpack_pack_array(pk, 11);
    s_pack_task_fields(pk, &v->task);
    msgpack_pack_uint64(pk, v->t_verified);
    msgpack_pack_uint8(pk, v->verdict);
    msgpack_pack_uint8(pk, v->reason);
    msgpack_pack_bin_with_body(pk, v->id, AT_ID_BYTES);
    msgpack_pack_bin_with_body(pk, v->task.att, v->task.att_len);
    s_pack_key(pk, &v->task);
}

void wire_int_pack_result(msgpack_packer *pk, const wire_result_t *r)
{
    msgpack_pack_array(pk, 5);
    msgpack_pack_uint64(pk, r->key);
    msgpack_pack_uint64(pk, r->index);
    msgpack_pack_uint8(pk, r->verdict);
    msgpack_pack_uint8(pk, r->reason);
    if (r->duplicate)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void wire_int_pack_refusal(msgpack_packer *pk, const wire_refusal_t *r)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, r->cseq);
    msgpack_pack_uint8(pk, r->reason);
}

size_t wire_int_list_max(wire_type kind)
{
    switch (kind) {
    case WIRE_SUBMIT: case WIRE_TASKS: case WIRE_POISON: case WIRE_VERDICTS: case WIRE_DONE: return WIRE_BATCH_MAX;
    case WIRE_ACK: case WIRE_REFUSE: case WIRE_COMMITTED: return WIRE_RESULTS_MAX;
    case WIRE_GAP: return WIRE_GAP_RANGES_MAX;
    default: return 0;
    }
}

/* ---- wire_items_t ---- */

static int s_items_write(void *data, const char *buf, size_t len)
{
    wire_items_t *l = data;
    if (l->size_ + len > l->cap_) {
        size_t cap = l->cap_ ? l->cap_ : 4096;
        while (cap < l->size_ + len)
            cap *= 2;
        l->buf_ = at_realloc(l->buf_, cap);
        l->cap_ = cap;
    }
    memcpy(l->buf_ + l->size_, buf, len);
    l->size_ += len;
    return 0;
}

void wire_items_init(wire_items_t *l, wire_type kind)
{
    assert(wire_int_list_max(kind) > 0);
    memset(l, 0, sizeof *l);
    l->kind_ = (uint8_t) kind;
}

void wire_items_destroy(wire_items_t *l)
{
    free(l->buf_);
    memset(l, 0, sizeof *l);
}

void wire_items_clear(wire_items_t *l)
{
    l->size_ = 0;
    l->n = 0;
}

size_t wire_items_count(const wire_items_t *l) { return l->n; }

/*  A packer appending to l, after checking the item kind. */
static msgpack_packer s_packer(wire_items_t *l, bool ok_kind)
{
    assert(ok_kind);
    (void) ok_kind;
    msgpack_packer pk;
    msgpack_packer_init(&pk, l, s_items_write);
    l->n++;
    return pk;
}

void wire_items_submit(wire_items_t *l, const wire_submit_t *s)
{
    msgpack_packer pk = s_packer(l, l->kind_ == WIRE_SUBMIT);
    wire_int_pack_submit(&pk, s);
}

void wire_items_task(wire_items_t *l, const wire_task_t *t)
{
    msgpack_packer pk = s_packer(l, l->kind_ == WIRE_TASKS || l->kind_ == WIRE_POISON);
    wire_int_pack_task(&pk, t);
}

void wire_items_verdict(wire_items_t *l, const wire_verdict_t *v)
{
    msgpack_packer pk = s_packer(l, l->kind_ == WIRE_VERDICTS);
    wire_int_pack_verdict(&pk, v);
}

void wire_items_result(wire_items_t *l, const wire_result_t *r)
{
    msgpack_packer pk = s_packer(l, l->kind_ == WIRE_ACK || l->kind_ == WIRE_COMMITTED);
    wire_int_pack_result(&pk, r);
}

void wire_items_refusal(wire_items_t *l, const wire_refusal_t *r)
{
    msgpack_packer pk = s_packer(l, l->kind_ == WIRE_REFUSE);
    wire_int_pack_refusal(&pk, r);
}

void wire_items_seq(wire_items_t *l, uint64_t seq)
{
    msgpack_packer pk = s_packer(l, l->kind_ == WIRE_DONE);
    msgpack_pack_uint64(&pk, seq);
}

void wire_items_range(wire_items_t *l, const wire_range_t *r)
{
    assert(r->count > 0);
    msgpack_packer pk = s_packer(l, l->kind_ == WIRE_GAP);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, r->first);
    msgpack_pack_uint64(&pk, r->count);
}
