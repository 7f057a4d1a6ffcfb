/*  wire_int.h: what the files of proto/wire share, private to proto/.
 *
 *  wire.c decodes (whole messages and batch items, from msgpack objects)
 *  and packs batch items; wire_io.c receives and sends on sockets and packs
 *  message headers. Only these files see msgpack.
 */
#ifndef AT_WIRE_INT_H
#define AT_WIRE_INT_H
#include "wire.h"
#include "mpfield.h"
#include <msgpack.h>

/*  Field readers: AT_ERR_TYPE on a wrong type, OVERSIZE past max. */
at_err wire_int_bool(const msgpack_object *o, bool *out);
/*  An array of at most max elements: TYPE, OVERSIZE, SHAPE when empty and !allow_empty. */
at_err wire_int_array(const msgpack_object *o, const msgpack_object **items, size_t *n, size_t max,
                      bool allow_empty);

/*  Version, known type and field count of a parsed root. */
at_err wire_int_header(const msgpack_object *root, uint8_t *type);
/*  Bounds, msgpack pre-check and unpack into a thread zone (*zone_p set
 *  also on failure; give it back with mpzone_give). */
at_err wire_int_unpack(const void *data, size_t len, msgpack_object *root, msgpack_zone **zone_p);

/*  Parses and decodes data into *m (its private parts already set up):
 *  the body of wire_decode and wire_recv. */
at_err wire_int_decode(wire_msg_t *m, const void *data, size_t len);

/*  Item decoders on one msgpack object. */
at_err wire_int_submit(const msgpack_object *o, wire_submit_t *out);
at_err wire_int_task(const msgpack_object *o, wire_task_t *out);
at_err wire_int_verdict(const msgpack_object *o, wire_verdict_t *out);
at_err wire_int_result(const msgpack_object *o, wire_result_t *out);
at_err wire_int_refusal(const msgpack_object *o, wire_refusal_t *out);

/*  Item packers. */
void wire_int_pack_submit(msgpack_packer *pk, const wire_submit_t *s);
void wire_int_pack_task(msgpack_packer *pk, const wire_task_t *t);
void wire_int_pack_verdict(msgpack_packer *pk, const wire_verdict_t *v);
void wire_int_pack_result(msgpack_packer *pk, const wire_result_t *r);
void wire_int_pack_refusal(msgpack_packer *pk, const wire_refusal_t *r);

/*  Most items of a list of this message type (0: not a list message). */
size_t wire_int_list_max(wire_type kind);

#endif
