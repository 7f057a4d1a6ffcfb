/*  reorder.h: the sink's reorder buffer, restoring sequence order.
 *
 *  Verdicts come back from the workers in any order; the log must be written
 *  in sequence order. The buffer is a fixed ring of `window` slots indexed by
 *  seq % window. `base` is the next sequence number expected (the sink's
 *  next_seq); a slot holds one verdict with base <= seq < base + window.
 *  The ready prefix is the run of filled slots starting at base: those can be
 *  committed, in order, and then popped, which advances base.
 *
 *  Memory is bounded: the slot array (window * ~300 bytes: two names of
 *  WIRE_NAME_MAX, the id, two CURVE keys, a few u64) is allocated once in reorder_new; a
 *  filled slot also holds a copy of its attestation (at most AT_ENCODED_MAX
 *  bytes, typically ~250), freed when the slot is popped. So at most
 *  window * (230 + AT_ENCODED_MAX) bytes, ~9 MB for the default window of
 *  16384 with typical attestations and ~30 MB at worst. REORDER_WINDOW_MAX
 *  caps the window.
 *
 *  Not thread-safe: one owner.
 */
#ifndef AT_REORDER_H
#define AT_REORDER_H
#include "attestation.h"
#include "wire.h"
#include <stddef.h>
#include <stdint.h>

#define REORDER_WINDOW_MAX (1u << 18)

typedef enum {
    REORDER_OK = 0,            /* stored */
    REORDER_OUT_OF_WINDOW,     /* seq >= base + window: refused */
    REORDER_BEHIND,            /* seq < base: already committed (or skipped) */
    REORDER_ALREADY,           /* the slot is filled: refused, not overwritten */
    REORDER_TOO_LARGE          /* a field exceeds its bound: refused */
} reorder_rc;

/*  One verdict. As an argument of reorder_put, the pointers are borrowed for
 *  the call only (the bytes are copied). As filled by reorder_peek, they
 *  borrow from the slot and stay valid until the next pop or reset. */
typedef struct {
    uint64_t seq;
    uint64_t cseq;
    uint64_t t_received, t_dispatched, t_verified;
    uint8_t verdict, reason;
    uint8_t id[AT_ID_BYTES];
    const char *producer;      /* at most WIRE_NAME_MAX bytes, not NUL-terminated */
    size_t producer_len;
    const char *worker;        /* at most WIRE_NAME_MAX bytes, not NUL-terminated */
    size_t worker_len;
    const uint8_t *att;        /* at most AT_ENCODED_MAX bytes */
    size_t att_len;
    const uint8_t *producer_key, *worker_key;   /* WIRE_KEY_BYTES each, or length 0 (plaintext) */
    size_t producer_key_len, worker_key_len;
} reorder_item_t;

typedef struct reorder_t reorder_t;

/*  A ring of `window` slots (1..REORDER_WINDOW_MAX) starting at `base`.
 *  Returns NULL when window is out of range. Aborts when out of memory. */
reorder_t *reorder_new(size_t window, uint64_t base);
/*  Frees the buffer and sets *self_p to NULL; safe on NULL and twice. */
void reorder_destroy(reorder_t **self_p);

/*  Stores a copy of *item in the slot for item->seq. */
reorder_rc reorder_put(reorder_t *self, const reorder_item_t *item);

/*  Number of filled slots in the contiguous prefix starting at base. */
size_t reorder_ready(const reorder_t *self);
/*  Number of filled slots in the whole window. */
size_t reorder_filled(const reorder_t *self);
uint64_t reorder_base(const reorder_t *self);
size_t reorder_window(const reorder_t *self);

/*  Fills *out with the i-th ready slot (seq = base + i); i must be below
 *  reorder_ready(). Returns -1 (and leaves *out alone) otherwise. Pointers
 *  in *out borrow from the buffer until the next pop or reset. */
int reorder_peek(const reorder_t *self, size_t i, reorder_item_t *out);
/*  Just the id of the i-th ready item (borrowed as for reorder_peek), or
 *  NULL when i >= ready. */
const uint8_t *reorder_peek_id(const reorder_t *self, size_t i);

/*  What the buffer misses: every empty slot of the window from the end of
 *  the ready prefix (base + reorder_ready()) to base + window, as
 *  ascending, disjoint ranges (the holes below the highest filled slot,
 *  then the run above it), at most max_ranges of them and max_seqs seqs in
 *  all (cut there). Returns how many ranges were written; 0 only when the
 *  whole window is ready. O(window). */
size_t reorder_missing(const reorder_t *self, wire_range_t *out, size_t max_ranges, uint64_t max_seqs);

/*  Frees the first n ready slots and advances base by n. n is clamped to
 *  reorder_ready(). Returns the number popped. */
size_t reorder_pop(reorder_t *self, size_t n);

/*  Empties every filled slot whose worker is worker[0..len) (a quarantined
 *  worker's verdicts: the broker dispatches those tasks again); the ready
 *  prefix ends at the first emptied slot. Returns how many were emptied.
 *  O(window). */
size_t reorder_drop_worker(reorder_t *self, const char *worker, size_t len);
/*  The same for the verdicts whose authenticated worker key is key. */
size_t reorder_drop_worker_key(reorder_t *self, const uint8_t key[WIRE_KEY_BYTES]);

/*  Empties every slot and sets base to new_base. */
void reorder_reset(reorder_t *self, uint64_t new_base);

#endif
