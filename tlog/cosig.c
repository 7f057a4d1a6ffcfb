/*  cosig.c: C2SP tlog-cosignature v1 with Ed25519 (see cosig.h).
 *
 *  The signing key is a note signer (note.h), which keeps the secret in
 *  sodium_malloc'ed memory and never hands it out; so cosig_sign has the
 *  note signer sign the cosigned message as a note body (it is one: the two
 *  header lines and the checkpoint's, each ending in "\n", none empty) and
 *  takes the 64-byte Ed25519 signature out of the signature line it wrote:
 *  a note signature is pure Ed25519 over exactly the body bytes, which is
 *  what the cosignature needs over the message. The secret never leaves
 *  note.c.
 *
 *  A witness vkey (type 0x04) is checked for the name rules by note.c as
 *  well: the same name and key written as a type 0x01 note key must parse.
 *  base64 is libsodium's strict original variant, as in note.c.
 */
#include "cosig.h"
#include "alloc.h"
#include "log.h"
#include "sha256.h"
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_EM_DASH "\xe2\x80\x94 "
#define S_DASH_LEN (sizeof S_EM_DASH - 1)
#define S_NOTE_ALG 0x01
#define S_NOTE_SIG_BYTES (4 + crypto_sign_BYTES)
#define S_RAW_MAX 512          /* decoded signature of any key, as note.c bounds it */
#define S_HEADER_MAX 48        /* "cosignature/v1\ntime <20 digits>\n" */
#define S_B64 sodium_base64_VARIANT_ORIGINAL

static uint32_t s_be32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void s_put_be(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t) (v >> (8 * (bytes - 1 - i)));
}

static uint32_t s_key_id(const char *name, uint8_t alg, const uint8_t pub[NOTE_PUB_BYTES])
{
    uint8_t h[SHA256_BYTES];
    const sha256_part_t parts[4] = { { name, strlen(name) }, { "\n", 1 }, { &alg, 1 }, { pub, NOTE_PUB_BYTES } };
    sha256_parts(parts, 4, h);
    return s_be32(h);
}

uint32_t cosig_key_id(const char *name, const uint8_t pub[NOTE_PUB_BYTES])
{
    return s_key_id(name, COSIG_ALG, pub);
}

void cosig_signer_verifier(const note_signer_t *signer, note_verifier_t *out)
{
    note_signer_verifier(signer, out);
    out->key_id = cosig_key_id(out->name, out->pub);
}

static bool s_hex8(const char *s, uint32_t *out)
{
    char buf[9];
    if (strspn(s, "0123456789abcdefABCDEF") < 8)
        return false;
    memcpy(buf, s, 8);
    buf[8] = '\0';
    *out = (uint32_t) strtoul(buf, NULL, 16);
    return true;
}

/*  True when name is a valid key name: note.c must accept it in a note key. */
static bool s_name_ok(const char *name, const uint8_t pub[NOTE_PUB_BYTES])
{
    note_verifier_t as_note, back;
    char text[NOTE_KEY_TEXT_MAX];
    memset(&as_note, 0, sizeof as_note);
    memcpy(as_note.name, name, strlen(name) + 1);
    memcpy(as_note.pub, pub, NOTE_PUB_BYTES);
    as_note.key_id = s_key_id(name, S_NOTE_ALG, pub);
    return note_verifier_format(&as_note, text, sizeof text) > 0 && note_verifier_parse(&back, text) == AT_OK;
}

at_err cosig_verifier_parse(note_verifier_t *out, const char *vkey)
{
    const char *plus = strchr(vkey, '+');
    size_t name_len = plus ? (size_t) (plus - vkey) : 0;
    uint32_t id;
    if (name_len == 0 || name_len > NOTE_NAME_MAX || strlen(plus + 1) < 10 || plus[9] != '+'
        || !s_hex8(plus + 1, &id))
        return AT_ERR_CONFIG;
    uint8_t raw[1 + NOTE_PUB_BYTES];
    size_t raw_len = 0;
    const char *b64 = plus + 10;
    if (sodium_base642bin(raw, sizeof raw, b64, strlen(b64), NULL, &raw_len, NULL, S_B64) != 0
        || raw_len != sizeof raw || raw[0] != COSIG_ALG)
        return AT_ERR_CONFIG;
    note_verifier_t v;
    memset(&v, 0, sizeof v);
    memcpy(v.name, vkey, name_len);
    memcpy(v.pub, raw + 1, NOTE_PUB_BYTES);
    v.key_id = cosig_key_id(v.name, v.pub);
    if (v.key_id != id || !s_name_ok(v.name, v.pub))
        return AT_ERR_CONFIG;
    *out = v;
    return AT_OK;
}

/*  Reads a one-line text file into buf (NUL-terminated, trailing white
 *  space cut); logs why not. */
static at_err s_read_line_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        at_log_error("COSIG-KEY-FILE", "%s: %s", path, strerror(errno));
        return AT_ERR_IO;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    bool more = fgetc(f) != EOF, failed = ferror(f) != 0;
    fclose(f);
    if (failed || more) {
        at_log_error("COSIG-KEY-FILE", "%s: %s", path, failed ? "cannot be read" : "longer than a key text");
        return failed ? AT_ERR_IO : AT_ERR_CONFIG;
    }
    while (n > 0 && strchr("\n\r\t ", buf[n - 1]))
        n--;
    buf[n] = '\0';
    return AT_OK;
}

at_err cosig_verifier_load(note_verifier_t *out, const char *path)
{
    char buf[NOTE_KEY_TEXT_MAX + 1];
    at_err rc = s_read_line_file(path, buf, sizeof buf);
    if (rc == AT_OK && (rc = cosig_verifier_parse(out, buf)) != AT_OK)
        at_log_error("COSIG-KEY-FILE", "%s: not a witness verifier key (name+keyid+base64(0x04 || key), as "
                     "made by `attest keygen --witness`)", path);
    return rc;
}

size_t cosig_verifier_format(const note_verifier_t *v, char *out, size_t cap)
{
    uint8_t raw[1 + NOTE_PUB_BYTES] = { COSIG_ALG };
    char b64[sodium_base64_ENCODED_LEN(sizeof raw, S_B64)];
    memcpy(raw + 1, v->pub, NOTE_PUB_BYTES);
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, S_B64);
    int n = snprintf(out, cap, "%s+%08" PRIx32 "+%s", v->name, v->key_id, b64);
    return n < 0 || (size_t) n >= cap ? 0 : (size_t) n;
}

/*  A checkpoint body: a note body (note.c checks the rest) of at least
 *  three lines, ending in "\n". */
static bool s_body_ok(const char *body, size_t len)
{
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += body[i] == '\n';
    return len > 0 && body[len - 1] == '\n' && lines >= 3;
}

/*  The signed message "cosignature/v1\ntime T\n" || body, malloc'ed. */
static char *s_message(uint64_t time, const char *body, size_t body_len, size_t *len)
{
    char *msg = at_malloc(S_HEADER_MAX + body_len);
    int n = snprintf(msg, S_HEADER_MAX, "cosignature/v1\ntime %" PRIu64 "\n", time);
    memcpy(msg + n, body, body_len);
    *len = (size_t) n + body_len;
    return msg;
}

/*  The Ed25519 signature of msg by signer, through note_sign (see the top). */
static at_err s_ed25519(const note_signer_t *signer, const char *msg, size_t msg_len, uint8_t sig[crypto_sign_BYTES])
{
    note_verifier_t v;
    note_signer_verifier(signer, &v);
    size_t cap = msg_len + NOTE_SIG_LINE_MAX + 1, out_len = 0, raw_len = 0;
    char *out = at_malloc(cap);
    at_err err = note_sign(signer, msg, msg_len, out, cap, &out_len);
    size_t b64_at = msg_len + 1 + S_DASH_LEN + strlen(v.name) + 1;   /* body "\n" "— " name " " */
    uint8_t raw[S_NOTE_SIG_BYTES];
    if (err == AT_OK
        && (out_len <= b64_at || sodium_base642bin(raw, sizeof raw, out + b64_at, out_len - b64_at - 1, NULL,
                                                   &raw_len, NULL, S_B64) != 0 || raw_len != sizeof raw))
        err = AT_ERR_CORRUPT;   /* cannot be: note_sign wrote this line */
    if (err == AT_OK)
        memcpy(sig, raw + 4, crypto_sign_BYTES);
    free(out);
    return err;
}

at_err cosig_sign(const note_signer_t *signer, const char *body, size_t body_len, uint64_t time, char *line,
                  size_t cap, size_t *len)
{
    if (!s_body_ok(body, body_len))
        return AT_ERR_SHAPE;
    if (time > COSIG_TIME_MAX)
        return AT_ERR_RANGE;
    note_verifier_t v;
    cosig_signer_verifier(signer, &v);
    size_t msg_len;
    char *msg = s_message(time, body, body_len, &msg_len);
    uint8_t raw[COSIG_RAW_BYTES];
    at_err err = s_ed25519(signer, msg, msg_len, raw + 12);
    free(msg);
    if (err)
        return err;
    s_put_be(raw, v.key_id, 4);
    s_put_be(raw + 4, time, 8);
    char b64[sodium_base64_ENCODED_LEN(COSIG_RAW_BYTES, S_B64)];
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, S_B64);
    int n = snprintf(line, cap, S_EM_DASH "%s %s\n", v.name, b64);
    if (n < 0 || (size_t) n >= cap)
        return AT_ERR_OVERSIZE;
    *len = (size_t) n;
    return AT_OK;
}

/*  Splits "— <name> <base64>" into the name and the decoded bytes. */
static at_err s_split(const char *line, size_t len, const char **name, size_t *name_len, uint8_t *raw,
                      size_t *raw_len)
{
    if (len < S_DASH_LEN || memcmp(line, S_EM_DASH, S_DASH_LEN) != 0)
        return AT_ERR_SHAPE;
    line += S_DASH_LEN, len -= S_DASH_LEN;
    const char *sp = memchr(line, ' ', len);
    if (!sp)
        return AT_ERR_SHAPE;
    *name = line;
    *name_len = (size_t) (sp - line);
    size_t b64_len = len - *name_len - 1;
    if (*name_len == 0 || b64_len == 0 || b64_len > sodium_base64_ENCODED_LEN(S_RAW_MAX, S_B64)
        || sodium_base642bin(raw, S_RAW_MAX, sp + 1, b64_len, NULL, raw_len, NULL, S_B64) != 0 || *raw_len < 5)
        return AT_ERR_SHAPE;
    return AT_OK;
}

at_err cosig_verify(const note_verifier_t *v, const char *body, size_t body_len, const char *line, size_t len,
                    uint64_t *time)
{
    if (len && line[len - 1] == '\n')
        len--;
    const char *name;
    size_t name_len, raw_len = 0;
    uint8_t raw[S_RAW_MAX];
    at_err err = s_split(line, len, &name, &name_len, raw, &raw_len);
    if (err)
        return err;
    if (!s_body_ok(body, body_len))
        return AT_ERR_SHAPE;
    if (name_len != strlen(v->name) || memcmp(name, v->name, name_len) != 0 || s_be32(raw) != v->key_id)
        return AT_ERR_NOT_FOUND;
    uint64_t t = 0;
    for (unsigned i = 0; i < 8 && raw_len == COSIG_RAW_BYTES; i++)
        t = t << 8 | raw[4 + i];
    if (raw_len != COSIG_RAW_BYTES || t > COSIG_TIME_MAX)
        return AT_ERR_SIGNATURE;
    size_t msg_len;
    char *msg = s_message(t, body, body_len, &msg_len);
    bool ok = crypto_sign_verify_detached(raw + 12, (const uint8_t *) msg, msg_len, v->pub) == 0;
    free(msg);
    if (!ok)
        return AT_ERR_SIGNATURE;
    if (time)
        *time = t;
    return AT_OK;
}
