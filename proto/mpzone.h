/*  mpzone.h: per-thread msgpack zones, reused between decodes.
 *
 *  msgpack_unpack_next() creates a zone for every call: a malloc and a free
 *  of an 8 KiB chunk per decoded attestation or message, on every hop. A
 *  decode here borrows a zone that belongs to the calling thread instead
 *  and gives it back cleared, so that in steady state no memory is
 *  allocated. Each thread has MPZONE_SLOTS zones, enough for a message and
 *  an attestation decoded while the message is alive; a deeper nesting
 *  gets a fresh zone (allocated and freed as before). A thread's zones are
 *  freed when it exits.
 */
#ifndef AT_MPZONE_H
#define AT_MPZONE_H
#include "at_err.h"
#include <msgpack.h>
#include <stddef.h>

#define MPZONE_SLOTS 2
#define MPZONE_CHUNK 16384            /* chunk size of a zone (a large message takes more chunks) */

/*  Borrows a zone of the calling thread; NULL only when out of memory. */
msgpack_zone *mpzone_take(void);
/*  Returns a zone from mpzone_take, releasing what was decoded into it. */
void mpzone_give(msgpack_zone *zone);

/*  Decodes exactly one msgpack object filling buf[0..len) into *out, with
 *  objects in a borrowed zone (*zone_p; give it back with mpzone_give,
 *  also on failure). AT_ERR_MSGPACK (malformed or truncated) or
 *  AT_ERR_TRAILING (bytes after the object). The input must already have
 *  passed at_msgpack_bounded. Strings and binaries in *out point into buf. */
at_err mpzone_unpack(const uint8_t *buf, size_t len, msgpack_object *out, msgpack_zone **zone_p);

#endif
