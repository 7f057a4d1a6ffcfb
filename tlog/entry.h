/*  entry.h: the value codec of one log entry, and the hash that chains them.
 *
 *  An entry is stored in the log's "entries" database (store/logdb.h) as a
 *  msgpack array of 18 (format 3, written since the broker epoch was added):
 *    [format=3, index, seq, prev_hash bin32, id bin32, verdict, reason,
 *     producer str, cseq, worker str, t_received, t_dispatched, t_verified,
 *     t_committed, attestation bin, producer_key bin 0|32, worker_key bin 0|32,
 *     epoch]
 *  producer_key and worker_key are the CURVE public keys the broker and the
 *  sink authenticated (empty when the cluster ran --insecure); epoch is the
 *  broker epoch under which seq was assigned (protocol 9), so (epoch, seq)
 *  names the broker's numbering of the attestation. Entries of format 1 (the
 *  first 15 fields, no keys) and format 2 (the first 17, no epoch) stay
 *  readable: the decoder accepts all three and gives older entries empty
 *  keys and epoch 0 (unknown); the chain and the tree hash the stored bytes
 *  whatever the format.
 *  hash(entry) = BLAKE2b-256 of the value bytes exactly as stored; the log
 *  chains entries by storing hash(entry i) as prev_hash of entry i + 1.
 *
 *  The codec is stateless and allocates nothing in steady state: the encoder
 *  writes into the caller's buffer, the decoder borrows from the caller's.
 *  The sink encodes (through logdb_append); the attest tool and the tests
 *  decode and hash, e.g. to audit the chain of a log they read raw.
 */
#ifndef AT_ENTRY_H
#define AT_ENTRY_H
#include "at_err.h"
#include "attestation.h"
#include <stddef.h>
#include <stdint.h>

#define ENTRY_FORMAT 3          /* written */
#define ENTRY_FIELDS 18
#define ENTRY_FORMAT_2_FIELDS 17
#define ENTRY_FORMAT_1_FIELDS 15
#define ENTRY_KEY_BYTES 32      /* a CURVE public key */
#define ENTRY_HASH_BYTES 32
#define ENTRY_NAME_MAX 64       /* producer and worker names; the wire's WIRE_NAME_MAX */
/*  Longest encoding (exact; test_entry checks it): array header 3 (18 > 15), format 1
 *  and verdict 1 (fixints), reason 2, eight u64 at 9 (epoch included), two
 *  bin32 at 34, two names at 2 + ENTRY_NAME_MAX, the attestation at
 *  3 + AT_ENCODED_MAX, two keys at 34. */
#define ENTRY_ENCODED_MAX (3 + 1 + 1 + 2 + 8 * 9 + 2 * 34 + 2 * (2 + ENTRY_NAME_MAX) + 3 + AT_ENCODED_MAX + 2 * 34)

typedef struct {
    uint64_t index, seq;
    uint8_t prev_hash[ENTRY_HASH_BYTES];
    uint8_t id[AT_ID_BYTES];
    uint8_t verdict, reason;
    const char *producer;       /* borrowed */
    size_t producer_len;
    uint64_t cseq;
    const char *worker;         /* borrowed */
    size_t worker_len;
    uint64_t t_received, t_dispatched, t_verified, t_committed;
    const uint8_t *att;         /* borrowed */
    size_t att_len;
    const uint8_t *producer_key, *worker_key;   /* borrowed; ENTRY_KEY_BYTES or length 0 */
    size_t producer_key_len, worker_key_len;
    uint64_t epoch;             /* the broker epoch of seq; 0 (unknown) in formats 1 and 2 */
    uint8_t format;             /* decoded: 1, 2 or 3 (the encoder writes ENTRY_FORMAT) */
} entry_t;

/*  Encodes e into out[0..cap) and sets *len. AT_ERR_OVERSIZE when a name is
 *  longer than ENTRY_NAME_MAX, the attestation longer than AT_ENCODED_MAX,
 *  a key neither 0 nor ENTRY_KEY_BYTES long,
 *  or the encoding does not fit cap (ENTRY_ENCODED_MAX always does);
 *  AT_ERR_RANGE when verdict > 1. Nothing of e is kept. */
at_err entry_encode(const entry_t *e, uint8_t *out, size_t cap, size_t *len) __attribute__((warn_unused_result));

/*  Decodes exactly one entry filling buf[0..len) into *out (zeroed first).
 *  producer, worker and att point into buf: borrowed for as long as buf
 *  lives. Codes: AT_ERR_MSGPACK (malformed, truncated), AT_ERR_TRAILING,
 *  AT_ERR_SHAPE (not an array of 15, 17 or 18), AT_ERR_VERSION (format
 *  not 1 of 15 fields, 2 of 17 or 3 of 18), AT_ERR_TYPE,
 *  AT_ERR_OVERSIZE, AT_ERR_RANGE (a field's value or size). */
at_err entry_decode(entry_t *out, const uint8_t *buf, size_t len) __attribute__((warn_unused_result));

/*  hash(entry): BLAKE2b-256 of value[0..len), the bytes as stored. */
void entry_hash(const uint8_t *value, size_t len, uint8_t out[ENTRY_HASH_BYTES]);

#endif
