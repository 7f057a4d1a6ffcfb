/*  idtab.h: an in-memory map from attestation id to log index.
 *
 *  Open addressing with linear probing; ids are BLAKE2b outputs, so their
 *  first eight bytes are a good hash. Grows by doubling when half full.
 *  Used by logdb for the ids not yet written to the "ids" database.
 */
#ifndef AT_IDTAB_H
#define AT_IDTAB_H
#include "attestation.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t id[AT_ID_BYTES];
    uint64_t index_plus_1;       /* 0: empty slot */
} idtab_entry_t;

typedef struct idtab_t idtab_t;

idtab_t *idtab_new(size_t capacity_hint);
void idtab_destroy(idtab_t **self_p);

/*  Adds or replaces. */
void idtab_put(idtab_t *self, const uint8_t id[AT_ID_BYTES], uint64_t index);
bool idtab_get(const idtab_t *self, const uint8_t id[AT_ID_BYTES], uint64_t *index);
size_t idtab_count(const idtab_t *self);
void idtab_clear(idtab_t *self);
/*  Removes every entry whose index is >= from. */
void idtab_drop_from(idtab_t *self, uint64_t from);
/*  Removes every entry whose index is < below. */
void idtab_drop_below(idtab_t *self, uint64_t below);
/*  The used entries sorted by id, in a new array of idtab_count() items
 *  (caller frees). */
idtab_entry_t *idtab_sorted(const idtab_t *self);

#endif
