/*  attestation.h: the attestation format, version 1.
 *
 *  An attestation is an attester's Ed25519 signature over a claim about a
 *  subject under a schema. On the wire and in the log it is a msgpack array of
 *  exactly nine elements:
 *
 *      [ version      uint    = 1
 *        schema       str     1..128 bytes
 *        attester     bin     32 bytes   Ed25519 public key
 *        subject      str     1..256 bytes
 *        data         bin     0..1024 bytes, opaque
 *        issued_at    uint    Unix seconds
 *        expires_at   uint or nil   Unix seconds, > issued_at
 *        nonce        bin     16 bytes
 *        signature    bin     64 bytes   Ed25519 over the signing bytes ]
 *
 *  The signing bytes are independent of msgpack encoding choices:
 *      "attest/v1\0"                  10 bytes, domain separation
 *      version                        u8
 *      len(schema)  u16 big-endian, schema
 *      attester                       32 bytes
 *      len(subject) u16 big-endian, subject
 *      len(data)    u32 big-endian, data
 *      issued_at                      u64 big-endian
 *      has_expires                    u8 (0 or 1)
 *      expires_at                     u64 big-endian (0 when absent)
 *      nonce                          16 bytes
 *  The attestation id is BLAKE2b-256 (libsodium crypto_generichash, no key)
 *  of the signing bytes.
 */
#ifndef AT_ATTESTATION_H
#define AT_ATTESTATION_H
#include "at_err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AT_VERSION 1
#define AT_SCHEMA_MAX 128
#define AT_SUBJECT_MAX 256
#define AT_DATA_MAX 1024
#define AT_KEY_BYTES 32
#define AT_SECRET_BYTES 64
#define AT_NONCE_BYTES 16
#define AT_SIG_BYTES 64
#define AT_ID_BYTES 32
/*  Largest valid encoding; anything longer is refused before decoding.
 *  Every field at its maximum takes 1554 bytes with the smallest msgpack
 *  headers and 64-bit times, and 1582 with the largest headers (array32,
 *  str32/bin32, uint64 version), so 1600 admits every valid attestation. */
#define AT_ENCODED_MAX 1600
/*  Largest signing-bytes buffer. */
#define AT_SIGNING_MAX (10 + 1 + 2 + AT_SCHEMA_MAX + 32 + 2 + AT_SUBJECT_MAX + 4 + AT_DATA_MAX + 8 + 1 + 8 + 16)

typedef struct {
    uint8_t version;
    const char *schema;        /* borrowed; not NUL-terminated */
    size_t schema_len;
    const uint8_t *attester;   /* borrowed; AT_KEY_BYTES */
    const char *subject;       /* borrowed; not NUL-terminated */
    size_t subject_len;
    const uint8_t *data;       /* borrowed; may be NULL when data_len is 0 */
    size_t data_len;
    uint64_t issued_at;
    bool has_expires;
    uint64_t expires_at;
    const uint8_t *nonce;      /* borrowed; AT_NONCE_BYTES */
    const uint8_t *signature;  /* borrowed; AT_SIG_BYTES */
} attestation_t;

/*  Strict decode of buf[0..len). Pointers in *out borrow from buf. Rejects
 *  with a specific code: AT_ERR_OVERSIZE, AT_ERR_MSGPACK, AT_ERR_TRAILING,
 *  AT_ERR_SHAPE, AT_ERR_TYPE, AT_ERR_VERSION, AT_ERR_RANGE. */
at_err attestation_decode(attestation_t *out, const uint8_t *buf, size_t len)
    __attribute__((warn_unused_result));

/*  Checks the field bounds of an attestation built in memory. */
at_err attestation_check(const attestation_t *a) __attribute__((warn_unused_result));

/*  Encodes into out (capacity cap, at least AT_ENCODED_MAX is always enough);
 *  sets *len. Returns AT_ERR_RANGE/OVERSIZE if the fields are out of bounds. */
at_err attestation_encode(const attestation_t *a, uint8_t *out, size_t cap, size_t *len)
    __attribute__((warn_unused_result));

/*  Writes the signing bytes into out (AT_SIGNING_MAX bytes); returns length. */
size_t attestation_signing_bytes(const attestation_t *a, uint8_t *out);

/*  The attestation id: BLAKE2b-256 of the signing bytes. */
void attestation_id(const attestation_t *a, uint8_t id[AT_ID_BYTES]);

/*  Signs with an Ed25519 secret key (libsodium layout, 64 bytes) into sig. */
void attestation_sign(const attestation_t *a, const uint8_t sk[AT_SECRET_BYTES], uint8_t sig[AT_SIG_BYTES]);

/*  AT_OK or AT_ERR_SIGNATURE; never says why a signature failed. */
at_err attestation_verify(const attestation_t *a) __attribute__((warn_unused_result));

/*  Time validity at `now` (Unix seconds): AT_ERR_NOT_YET_VALID when issued_at
 *  > now + skew; AT_ERR_EXPIRED when expires_at <= now. */
at_err attestation_check_time(const attestation_t *a, uint64_t now, uint64_t skew)
    __attribute__((warn_unused_result));

/*  Full judgement as a worker makes it: decode, signature, time. Fills id
 *  (zeroes when the bytes do not decode). */
at_err attestation_judge(const uint8_t *buf, size_t len, uint64_t now, uint64_t skew,
                         uint8_t id[AT_ID_BYTES]) __attribute__((warn_unused_result));

/*  Pre-check for every msgpack decoder: false when the first object in
 *  buf[0..len) declares more array/map elements than the remaining bytes
 *  could hold (each element takes at least one byte), or uses the never-used
 *  byte 0xc1. msgpack-c allocates count * sizeof(msgpack_object) as soon as it
 *  reads a container header, so without this a 5-byte frame could make it
 *  allocate ~100 GB. Such input is truncated or invalid anyway: callers report
 *  AT_ERR_MSGPACK. O(len), no allocation. */
bool at_msgpack_bounded(const uint8_t *buf, size_t len);

/*  Must be called once per process before any crypto; returns AT_ERR_IO on failure. */
at_err at_crypto_init(void) __attribute__((warn_unused_result));

#endif
