/*  idtab.h: an in-memory map from attestation id to log index, for a
 *  contiguous run of indices [lo, hi) (the log's newest entries).
 *
 *  The ids are kept in index order in a ring (32 bytes each, written
 *  sequentially); a hash table of 8-byte slots (a 32-bit tag of the id and
 *  the low 32 bits of the index) finds them, with open addressing and
 *  linear probing. Ids are BLAKE2b outputs, so their first eight bytes are
 *  a good hash. A put touches one slot, not a 40-byte entry in a table of
 *  several megabytes: the sink does one per appended entry. Both grow by
 *  doubling. Used by logdb for the ids not yet written to the "ids"
 *  database.
 */
#ifndef AT_IDTAB_H
#define AT_IDTAB_H
#include "attestation.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t id[AT_ID_BYTES];
    uint64_t index_plus_1;
} idtab_entry_t;

typedef struct idtab_t idtab_t;

idtab_t *idtab_new(size_t capacity_hint);
void idtab_destroy(idtab_t **self_p);

/*  Adds the id of the entry at index, which must be the next one: the
 *  table's hi (any index when it is empty). Ids are expected to be unique;
 *  a repeated id (invalid copies, the id claim rule of logdb.h) is kept, and
 *  idtab_get finds its highest index: the latest entry with the id. */
void idtab_put(idtab_t *self, const uint8_t id[AT_ID_BYTES], uint64_t index);
/*  Starts loading the slot where id's probe begins (a hint; no effect). */
void idtab_prefetch(const idtab_t *self, const uint8_t id[AT_ID_BYTES]);
bool idtab_get(const idtab_t *self, const uint8_t id[AT_ID_BYTES], uint64_t *index);
size_t idtab_count(const idtab_t *self);
void idtab_clear(idtab_t *self);
/*  Removes every entry whose index is >= from. */
void idtab_drop_from(idtab_t *self, uint64_t from);
/*  Removes every entry whose index is < below. */
void idtab_drop_below(idtab_t *self, uint64_t below);
/*  The entries sorted by id, in a new array of idtab_count() items (caller
 *  frees). */
idtab_entry_t *idtab_sorted(const idtab_t *self);

#endif
