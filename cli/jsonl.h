/*  jsonl.h: attestations and log entries as JSON (one object per line), and
 *  the attester key file, for the `attest` tool.
 *
 *  Input: one attestation per line, a JSON object with these fields:
 *
 *    field       type                 required  meaning
 *    ----------  -------------------  --------  ------------------------------------------
 *    schema      string               yes       1..128 bytes of UTF-8
 *    subject     string               yes       1..256 bytes of UTF-8
 *    data        string               no        the claim as UTF-8 text (0..1024 bytes)
 *    data_b64    string               no        the claim as standard base64 with padding
 *                                               (RFC 4648 section 4), 0..1024 bytes decoded;
 *                                               at most one of data / data_b64; default empty
 *    issued_at   integer              no        Unix seconds (0..2^64-1); default: now
 *    expires_at  integer or null      no        Unix seconds (0..2^64-1), > issued_at;
 *                                               null/absent: never
 *    nonce       string, 32 hex       no        16 bytes; default: random
 *    attester    string, 64 hex       no (*)    Ed25519 public key
 *    signature   string, 128 hex      no (*)    Ed25519 signature over the signing bytes
 *
 *  (*) attester and signature go together. If BOTH are present the
 *  attestation is submitted exactly as given, never re-signed (a bad
 *  signature is the verifier's business: it is logged as invalid). If BOTH
 *  are absent it is signed with the secret key of `attest submit --key`, and
 *  attester is that key's public half. One without the other is an error.
 *  Hex is case-insensitive. Any other field is an error that names it.
 *
 *  Output (`attest log`): one object per log entry with the fields
 *    index, seq, id (hex), verdict ("valid"/"invalid"), reason (at_strerror
 *    name, "ok" when valid), producer, cseq, worker, t_received,
 *    t_dispatched, t_verified, t_committed (wall-clock microseconds),
 *    prev_hash (hex), then the attestation: schema, subject, data (text when
 *    the bytes are valid UTF-8) or data_b64, issued_at, expires_at (integer
 *    or null), nonce, attester, signature (hex). If the stored attestation
 *    does not decode, the attestation fields are replaced by
 *    "attestation_b64" and "decode_error" (an at_strerror name).
 *
 *  Key file (`attest keygen`): {"public": 64 hex, "secret": 128 hex}, the
 *  secret in libsodium's Ed25519 layout (seed followed by public key).
 */
#ifndef AT_JSONL_H
#define AT_JSONL_H
#include "at_err.h"
#include "attestation.h"
#include "logdb.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONL_ERR_MAX 256

/*  Parses one JSON line into an encoded attestation, signing it with sk (a
 *  64-byte Ed25519 secret key, or NULL when none was given) unless the line
 *  carries attester and signature. out has room for AT_ENCODED_MAX bytes;
 *  *out_len is set on success. On failure returns AT_ERR_CONFIG (bad JSON,
 *  unknown or missing field, wrong type) or the attestation_check code, and
 *  writes a message for a person into err (JSONL_ERR_MAX bytes). */
at_err jsonl_parse_attestation(const char *line, size_t len, const uint8_t *sk, uint8_t *out, size_t *out_len,
                               char *err) __attribute__((warn_unused_result));

/*  Adds the fields of a (decoded) attestation to obj. */
void jsonl_add_attestation(json_t *obj, const attestation_t *a);

/*  A log entry with its attestation, as a new JSON object (caller owns it). */
json_t *jsonl_entry(const logdb_entry_t *e);

/*  Lower-case hex of n bytes as a new JSON string. */
json_t *jsonl_hex(const uint8_t *bin, size_t n);

/*  Decodes exactly n bytes of hex; false if s is not that. */
bool jsonl_unhex(const char *s, uint8_t *bin, size_t n);

/*  Writes a key file (mode 0600; fails if it exists unless force). Returns
 *  AT_OK or AT_ERR_IO with the reason in err. */
at_err jsonl_write_keyfile(const char *path, const uint8_t pk[AT_KEY_BYTES], const uint8_t sk[AT_SECRET_BYTES],
                           bool force, char *err) __attribute__((warn_unused_result));

/*  Reads a key file into sk (and checks that its public key matches).
 *  AT_OK, or AT_ERR_IO / AT_ERR_CONFIG with the reason in err. */
at_err jsonl_read_keyfile(const char *path, uint8_t sk[AT_SECRET_BYTES], char *err)
    __attribute__((warn_unused_result));

/*  Prints obj compactly on one line to f (with a newline). Every integer
 *  the tool prints is unsigned (indices, sequence numbers, times): a
 *  json_integer holds a u64's bits (json_integer((json_int_t) u)) and is
 *  printed as the u64, so values above INT64_MAX are not negative;
 *  jsonl_parse_attestation reads them back. */
void jsonl_print(FILE *f, const json_t *obj);
/*  The same, indented by two spaces per level (`attest log get`). */
void jsonl_print_pretty(FILE *f, const json_t *obj);

#endif
