/*  mpfield.h: the msgpack field accessors every codec shares (wire.c,
 *  attestation.c, tlog/entry.c): one checked read of an unsigned integer,
 *  a string or a binary from a decoded msgpack object. Header only.
 *
 *  Codes: AT_ERR_TYPE for a field of another msgpack type, AT_ERR_OVERSIZE
 *  for a string or binary longer than max, AT_ERR_RANGE for a name that is
 *  not UTF-8 or holds a control character (mpfield_name). The pointers borrow from the
 *  object (and so from the buffer it was unpacked from).
 */
#ifndef AT_MPFIELD_H
#define AT_MPFIELD_H
#include "at_err.h"
#include "utf8.h"
#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

static inline at_err mpfield_u64(const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return AT_ERR_TYPE;
    *out = o->via.u64;
    return AT_OK;
}

static inline at_err mpfield_str(const msgpack_object *o, const char **p, size_t *n, size_t max)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return AT_ERR_TYPE;
    if (o->via.str.size > max)
        return AT_ERR_OVERSIZE;
    *p = o->via.str.ptr;
    *n = o->via.str.size;
    return AT_OK;
}

/*  A name a peer gives itself (utf8.h): a str of at most max bytes, valid
 *  UTF-8 without control characters; AT_ERR_RANGE otherwise. */
static inline at_err mpfield_name(const msgpack_object *o, const char **p, size_t *n, size_t max)
{
    at_err rc = mpfield_str(o, p, n, max);
    if (rc == AT_OK && !utf8_name_ok(*p, *n))
        return AT_ERR_RANGE;
    return rc;
}

static inline at_err mpfield_bin(const msgpack_object *o, const uint8_t **p, size_t *n, size_t max)
{
    if (o->type != MSGPACK_OBJECT_BIN)
        return AT_ERR_TYPE;
    if (o->via.bin.size > max)
        return AT_ERR_OVERSIZE;
    *p = (const uint8_t *) o->via.bin.ptr;
    *n = o->via.bin.size;
    return AT_OK;
}

#endif
