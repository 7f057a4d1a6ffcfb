/*  gen.h: generates sets of signed attestations for the demo and the
 *  benchmark (before any timing starts). */
#ifndef AT_GEN_H
#define AT_GEN_H
#include "attestation.h"
#include <stddef.h>
#include <stdint.h>

typedef enum { GEN_VALID = 0, GEN_BAD_SIGNATURE = 1, GEN_EXPIRED = 2 } gen_kind;

typedef struct {
    size_t n;
    uint8_t *arena;              /* all encodings back to back */
    size_t *off, *len;           /* item i is arena[off[i] .. off[i]+len[i]) */
    uint8_t *kind;               /* gen_kind of item i */
    uint8_t (*id)[AT_ID_BYTES];  /* id of item i */
    uint8_t attester[AT_KEY_BYTES];   /* the public key that signed them all */
} gen_set_t;

/*  n attestations from one fresh attester key: about bad_per_mille of them
 *  with a corrupted signature and expired_per_mille already expired, spread
 *  evenly. Signs on `threads` threads. */
gen_set_t *gen_make(size_t n, unsigned bad_per_mille, unsigned expired_per_mille, int threads);
void gen_destroy(gen_set_t **self_p);

/*  Measures verifications per second with `threads` threads verifying the
 *  set for about `ms` milliseconds, nothing else running. */
double gen_verify_rate(const gen_set_t *set, int threads, int ms);

#endif
