/*  cosig.h: witness cosignatures of checkpoints, C2SP tlog-cosignature
 *  (cosignature/v1, Ed25519).
 *
 *  A cosignature is one more signature line on a checkpoint note (note.h):
 *      "\u2014 <witness name> <base64(key ID (4) || timestamp (u64 BE, 8) || signature (64))>\n"
 *  The signature is Ed25519 over the message
 *      "cosignature/v1\ntime <timestamp, decimal>\n" || the checkpoint body
 *  and the key ID is the first 4 bytes of SHA-256(name || "\n" || 0x04 ||
 *  public key): 0x04, not note.h's 0x01, so a cosignature is never taken
 *  for a note signature by the same key, nor the reverse.
 *
 *  Keys. A witness signs with an ordinary note signer key (note.h,
 *  "PRIVATE+KEY+name+id+base64(0x01 || seed)": `attest keygen --witness`),
 *  as Go's transparency-dev note.NewSignerForCosignatureV1 accepts; its
 *  verifier key, which logs and clients are given, is the C2SP vkey of type
 *  0x04:  "<name>+<key ID by the 0x04 rule, 8 hex>+<base64(0x04 || public key)>".
 *  A witness verifier is a note_verifier_t whose key_id is the cosignature
 *  key ID; it must not be passed to note_open.
 */
#ifndef AT_COSIG_H
#define AT_COSIG_H
#include "at_err.h"
#include "note.h"
#include <stddef.h>
#include <stdint.h>

#define COSIG_ALG 0x04
#define COSIG_RAW_BYTES (4 + 8 + 64)   /* key ID || timestamp || signature */
/*  A cosignature line with its "\n" and a NUL: "— " (4 bytes), the name, a
 *  space, 104 base64 characters. */
#define COSIG_LINE_MAX (4 + NOTE_NAME_MAX + 1 + 104 + 1 + 1)
#define COSIG_TIME_MAX INT64_MAX       /* the spec's bound on the timestamp */

/*  The cosignature key ID of (name, public key). */
uint32_t cosig_key_id(const char *name, const uint8_t pub[NOTE_PUB_BYTES]);

/*  The witness verifier of a signer: its name and public key, the key ID by
 *  the 0x04 rule. */
void cosig_signer_verifier(const note_signer_t *signer, note_verifier_t *out);

/*  A witness verifier from its vkey text (type 0x04), or from a file holding
 *  it (one line; trailing white space ignored). AT_ERR_CONFIG: malformed,
 *  another type (a 0x01 note key included), or a key ID that does not match
 *  name and key; AT_ERR_IO: the file cannot be read (logged). */
at_err cosig_verifier_parse(note_verifier_t *out, const char *vkey) __attribute__((warn_unused_result));
at_err cosig_verifier_load(note_verifier_t *out, const char *path) __attribute__((warn_unused_result));
/*  The vkey text of a witness verifier; its length, 0 when cap is too small
 *  (NOTE_KEY_TEXT_MAX always fits). */
size_t cosig_verifier_format(const note_verifier_t *v, char *out, size_t cap);

/*  Cosigns the checkpoint body[0..body_len) at `time` (unix seconds): writes
 *  the cosignature line, with its "\n" and a NUL, to line (cap >=
 *  COSIG_LINE_MAX) and sets *len (without the NUL). AT_ERR_SHAPE: body is not
 *  a note body of at least 3 lines; AT_ERR_RANGE: time > COSIG_TIME_MAX;
 *  AT_ERR_OVERSIZE: cap too small. */
at_err cosig_sign(const note_signer_t *signer, const char *body, size_t body_len, uint64_t time, char *line,
                  size_t cap, size_t *len) __attribute__((warn_unused_result));

/*  Checks the cosignature line[0..len) (its "\n" optional) by the witness v
 *  over the checkpoint body[0..body_len). AT_OK with *time set (may be
 *  NULL); AT_ERR_SHAPE: not a signature line, or body has fewer than 3
 *  lines; AT_ERR_NOT_FOUND: the line is another key's (name or key ID
 *  differ); AT_ERR_SIGNATURE: v's, but not 76 bytes, a timestamp beyond
 *  COSIG_TIME_MAX, or a signature that does not verify. */
at_err cosig_verify(const note_verifier_t *v, const char *body, size_t body_len, const char *line, size_t len,
                    uint64_t *time) __attribute__((warn_unused_result));

#endif
