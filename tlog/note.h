/*  note.h: C2SP signed notes with Ed25519 keys, the format of the log's
 *  checkpoints (and of Go's golang.org/x/mod/sumdb/note, which the tests
 *  check against).
 *
 *  A note is a text: the body (UTF-8, every line ending in "\n", no other
 *  control characters), an empty line, then one or more signature lines
 *      "\u2014 <key name> <base64(key ID (4 bytes, big-endian) || signature (64))>\n"
 *  The signature is Ed25519 over the body bytes. For an Ed25519 key the key
 *  ID is the first 4 bytes of SHA-256(key name || "\n" || 0x01 || public
 *  key), and the keys are written as
 *      verifier: "<name>+<key ID, 8 hex digits>+<base64(0x01 || public key)>"
 *      signer:   "PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || 32-byte seed)>"
 *  A key name is 1..NOTE_NAME_MAX bytes, without "+", spaces or control
 *  characters.
 *
 *  The signer keeps the secret key in sodium_malloc'ed memory and wipes it
 *  on destroy; nothing here logs a secret.
 */
#ifndef AT_NOTE_H
#define AT_NOTE_H
#include "at_err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTE_NAME_MAX 128
#define NOTE_KEY_TEXT_MAX 256       /* longest signer or verifier key text, with its NUL */
#define NOTE_SIG_LINE_MAX (NOTE_NAME_MAX + 4 + 96 + 2)   /* one signature line */
#define NOTE_PUB_BYTES 32

typedef struct note_signer_t note_signer_t;

typedef struct {
    char name[NOTE_NAME_MAX + 1];
    uint32_t key_id;
    uint8_t pub[NOTE_PUB_BYTES];
} note_verifier_t;

/*  A new random key pair named name, as key texts (NUL-terminated; caps
 *  at least NOTE_KEY_TEXT_MAX). AT_ERR_CONFIG for a bad name. */
at_err note_keygen(const char *name, char *skey, size_t skey_cap, char *vkey, size_t vkey_cap)
    __attribute__((warn_unused_result));

/*  A signer from its key text, or from a file holding it (one line; the
 *  file must not be readable by group or others: AT_ERR_CONFIG, logged,
 *  otherwise). NULL with *err set (AT_ERR_CONFIG for a malformed key,
 *  AT_ERR_IO when the file cannot be read). The caller owns the signer. */
note_signer_t *note_signer_parse(const char *skey, at_err *err);
note_signer_t *note_signer_load(const char *path, at_err *err);
void note_signer_destroy(note_signer_t **self_p);
/*  The signer's verifier (name, key ID, public key). */
void note_signer_verifier(const note_signer_t *self, note_verifier_t *out);

/*  Signs: writes body, "\n" and the signature line to out[0..cap) and sets
 *  *len. AT_ERR_SHAPE when body is not a valid note body (empty, not ending
 *  in "\n", a control character, an empty line...), AT_ERR_OVERSIZE when it does not
 *  fit cap (body_len + NOTE_SIG_LINE_MAX + 1 always does). */
at_err note_sign(const note_signer_t *self, const char *body, size_t body_len, char *out, size_t cap,
                 size_t *len) __attribute__((warn_unused_result));

/*  A verifier from its key text or from a file holding it (one line,
 *  trailing whitespace ignored). AT_ERR_CONFIG when malformed (wrong
 *  algorithm byte, key ID that does not match name and key), AT_ERR_IO. */
at_err note_verifier_parse(note_verifier_t *out, const char *vkey) __attribute__((warn_unused_result));
at_err note_verifier_load(note_verifier_t *out, const char *path) __attribute__((warn_unused_result));
/*  The verifier's key text; returns its length, 0 when cap is too small. */
size_t note_verifier_format(const note_verifier_t *v, char *out, size_t cap);

/*  True when text[0..len) is valid UTF-8 without control characters
 *  (below U+0020) other than "\n": what a note may hold. */
bool note_text_ok(const char *text, size_t len);

/*  Opens note[0..len): true (AT_OK) when it is well formed and one of its
 *  signature lines is by v (same name and key ID) and verifies; *body_len
 *  is then the length of the body (which begins the note). Signature lines
 *  by other keys are ignored (a cosigned checkpoint carries several).
 *  AT_ERR_SHAPE: not a note; AT_ERR_NOT_FOUND: no signature by v;
 *  AT_ERR_SIGNATURE: v's signature does not verify. */
at_err note_open(const note_verifier_t *v, const char *note, size_t len, size_t *body_len)
    __attribute__((warn_unused_result));

#endif
