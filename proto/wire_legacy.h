/*  wire_legacy.h: the msgpack-level wire API from before proto/wire had one
 *  codec per message, kept ONLY so that broker/broker.c builds until it is
 *  converted to wire.h (it is included by wire.h when WIRE_LEGACY_API is
 *  defined, which CMakeLists.txt does for attest-broker alone). Delete this
 *  file, wire_legacy.c and the define once the broker uses wire_recv and
 *  wire_send_*.
 *
 *  wire_parse checks the header only (version, type, field count) and fills
 *  m->f / m->nf; the accessors and item decoders read msgpack objects; the
 *  packer builds a message that wire_send sends (rid: ROUTER peer or NULL).
 */
#ifndef AT_WIRE_LEGACY_H
#define AT_WIRE_LEGACY_H
#include "wire.h"
#include <msgpack.h>

at_err wire_parse(wire_msg_t *m, const void *data, size_t len) __attribute__((warn_unused_result));

at_err wire_u64(const msgpack_object *o, uint64_t *out) __attribute__((warn_unused_result));
at_err wire_bool(const msgpack_object *o, bool *out) __attribute__((warn_unused_result));
at_err wire_str(const msgpack_object *o, const char **p, size_t *n, size_t max) __attribute__((warn_unused_result));
at_err wire_bin(const msgpack_object *o, const uint8_t **p, size_t *n, size_t max) __attribute__((warn_unused_result));
at_err wire_array(const msgpack_object *o, const msgpack_object **items, size_t *n, size_t max,
                  bool allow_empty) __attribute__((warn_unused_result));

at_err wire_submit_decode(const msgpack_object *o, wire_submit_t *out) __attribute__((warn_unused_result));
at_err wire_task_decode(const msgpack_object *o, wire_task_t *out) __attribute__((warn_unused_result));
at_err wire_verdict_decode(const msgpack_object *o, wire_verdict_t *out) __attribute__((warn_unused_result));
at_err wire_result_decode(const msgpack_object *o, wire_result_t *out) __attribute__((warn_unused_result));
at_err wire_refusal_decode(const msgpack_object *o, wire_refusal_t *out) __attribute__((warn_unused_result));

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} wire_packer_t;

void wire_packer_init(wire_packer_t *w);
void wire_packer_destroy(wire_packer_t *w);
void wire_begin(wire_packer_t *w, wire_type type, size_t nfields);
void wire_pack_submit(wire_packer_t *w, const wire_submit_t *s);
void wire_pack_task(wire_packer_t *w, const wire_task_t *t);
void wire_pack_verdict(wire_packer_t *w, const wire_verdict_t *v);
void wire_pack_result(wire_packer_t *w, const wire_result_t *r);
void wire_pack_refusal(wire_packer_t *w, const wire_refusal_t *r);
void wire_pack_str(wire_packer_t *w, const char *s, size_t n);
int wire_send(void *handle, const wire_packer_t *w, const void *rid, size_t rid_len, int flags);

#endif
