/*  checkpoint.h: the body of a C2SP tlog-checkpoint, which the log signs as
 *  a note (note.h):
 *      "<origin>\n<tree size, decimal>\n<base64 of the root hash>\n"
 *  followed by Attest's one extension line
 *      "time <unix seconds>\n"
 *  (the sink's wall clock when it signed: readers judge expiry against it,
 *  protocol.md section 14). Readers ignore extension lines they do not
 *  know; a checkpoint without a time line parses with time 0.
 *
 *  The origin is 1..CHECKPOINT_ORIGIN_MAX bytes of printable UTF-8, no
 *  control characters; by convention a schema-less URL ("example.com/log").
 */
#ifndef AT_CHECKPOINT_H
#define AT_CHECKPOINT_H
#include "at_err.h"
#include "merkle.h"
#include <stddef.h>
#include <stdint.h>

#define CHECKPOINT_ORIGIN_MAX 255
#define CHECKPOINT_BODY_MAX (CHECKPOINT_ORIGIN_MAX + 1 + 21 + 45 + 26 + 64)

typedef struct {
    char origin[CHECKPOINT_ORIGIN_MAX + 1];
    uint64_t size;
    uint8_t root[MERKLE_HASH_BYTES];
    uint64_t time;              /* unix seconds; 0 = no time line */
} checkpoint_t;

/*  Writes the body of c to out[0..cap) (NUL-terminated) and returns its
 *  length; 0 when the origin is not valid or cap is too small
 *  (CHECKPOINT_BODY_MAX always fits). */
size_t checkpoint_format(const checkpoint_t *c, char *out, size_t cap);
/*  Parses a body (the part note_open returns). AT_ERR_SHAPE: fewer than
 *  three lines, a size that is not a canonical decimal, a root that is not
 *  base64 of 32 bytes, a malformed time line; AT_ERR_OVERSIZE: origin too
 *  long. */
at_err checkpoint_parse(checkpoint_t *out, const char *body, size_t len) __attribute__((warn_unused_result));

#endif
