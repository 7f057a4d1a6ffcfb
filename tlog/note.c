/*  note.c: C2SP signed notes with Ed25519 keys (see note.h).
 *
 *  Key texts are split at their first "+" signs (the base64 key data may
 *  itself hold "+"), the key ID is checked against the name and public key,
 *  and base64 is libsodium's strict original variant (padding required, no
 *  stray bits), so a key or signature has exactly one accepted spelling.
 *  The signer's Ed25519 secret lives in sodium_malloc'ed memory that is
 *  read-only after creation and wiped by sodium_free; a secret read from a
 *  file passes through a stack buffer that is wiped before returning.
 *
 *  note_open checks the whole note first (valid UTF-8, no control character
 *  but newline), splits it at the last blank line, then reads every
 *  signature line (at most S_SIGS_MAX, each of bounded length) so that a
 *  malformed line anywhere makes the note malformed, as Go's note.Open does;
 *  only lines whose name and key ID are the verifier's are verified.
 *  Nothing here logs but the refusal of a signer file whose mode is too
 *  open, and never a secret.
 */
#include "note.h"
#include "alloc.h"
#include "log.h"
#include "sha256.h"
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_ALG_ED25519 0x01
#define S_KEY_BYTES (1 + NOTE_PUB_BYTES)   /* algorithm byte || key */
#define S_SIG_BYTES (4 + crypto_sign_BYTES)
#define S_SIGS_MAX 100                     /* signature lines in one note */
#define S_SIG_RAW_MAX 512                  /* decoded signature of any key */
#define S_EM_DASH "\xe2\x80\x94 "
#define S_PRIVATE "PRIVATE+KEY+"
#define S_B64 sodium_base64_VARIANT_ORIGINAL

struct note_signer_t {
    note_verifier_t v;
    unsigned char *sk;   /* crypto_sign_SECRETKEYBYTES, sodium_malloc'ed, read-only */
};

/*  The code point at s[0..n) in *cp; its length, 0 when not UTF-8 (overlong
 *  forms, surrogates and values over U+10FFFF are not). */
static size_t s_utf8_next(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, v = c & 0x1fu, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        len = 3, v = c & 0x0fu, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, v = c & 0x07u, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/*  Unicode white space (Go's unicode.IsSpace, which Go's note package
 *  refuses in a key name). */
static bool s_is_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0d) || cp == ' ' || cp == 0x85 || cp == 0xa0 || cp == 0x1680
        || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f
        || cp == 0x3000;
}

bool note_text_ok(const char *text, size_t len)
{
    const uint8_t *s = (const uint8_t *) text;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = s_utf8_next(s + i, len - i, &cp);
        if (n == 0 || (cp < 0x20 && cp != '\n'))
            return false;
        i += n;
    }
    return true;
}

static bool s_name_ok(const char *name, size_t len, size_t max)
{
    const uint8_t *s = (const uint8_t *) name;
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = s_utf8_next(s + i, len - i, &cp);
        if (n == 0 || cp < 0x20 || cp == 0x7f || cp == '+' || s_is_space(cp))
            return false;
        i += n;
    }
    return true;
}

static uint32_t s_key_id(const char *name, size_t name_len, const uint8_t pub[NOTE_PUB_BYTES])
{
    uint8_t h[SHA256_BYTES], alg = S_ALG_ED25519;
    const sha256_part_t parts[4] = { { name, name_len }, { "\n", 1 }, { &alg, 1 }, { pub, NOTE_PUB_BYTES } };
    sha256_parts(parts, 4, h);
    return (uint32_t) h[0] << 24 | (uint32_t) h[1] << 16 | (uint32_t) h[2] << 8 | h[3];
}

static bool s_b64_decode(const char *b64, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    return sodium_base642bin(out, cap, b64, len, NULL, out_len, NULL, S_B64) == 0;
}

static bool s_hex8(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char c = s[i];
        unsigned d = (c >= '0' && c <= '9') ? (unsigned) (c - '0')
                   : (c >= 'a' && c <= 'f') ? (unsigned) (c - 'a' + 10)
                   : (c >= 'A' && c <= 'F') ? (unsigned) (c - 'A' + 10) : 16u;
        if (d > 15)
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/*  "<name>+<8 hex>+<base64(0x01 || 32 bytes)>" at text[0..len): the name
 *  into v->name, the key ID into v->key_id and the 32 key bytes into key.
 *  The caller checks the key ID. */
static at_err s_key_fields(const char *text, size_t len, note_verifier_t *v, uint8_t key[NOTE_PUB_BYTES])
{
    const char *plus = memchr(text, '+', len);
    if (!plus)
        return AT_ERR_CONFIG;
    size_t name_len = (size_t) (plus - text), rest = len - name_len - 1;
    if (!s_name_ok(text, name_len, NOTE_NAME_MAX) || rest < 9 || plus[9] != '+' || !s_hex8(plus + 1, &v->key_id))
        return AT_ERR_CONFIG;
    uint8_t raw[S_KEY_BYTES];
    size_t raw_len = 0;
    bool ok = s_b64_decode(plus + 10, rest - 9, raw, sizeof raw, &raw_len) && raw_len == S_KEY_BYTES
           && raw[0] == S_ALG_ED25519;
    if (ok) {
        memcpy(v->name, text, name_len);
        v->name[name_len] = '\0';
        memcpy(key, raw + 1, NOTE_PUB_BYTES);
    }
    sodium_memzero(raw, sizeof raw);
    return ok ? AT_OK : AT_ERR_CONFIG;
}

static size_t s_key_text(const char *prefix, const note_verifier_t *v, const uint8_t key[NOTE_PUB_BYTES], char *out,
                         size_t cap)
{
    uint8_t raw[S_KEY_BYTES] = { S_ALG_ED25519 };
    char b64[sodium_base64_ENCODED_LEN(S_KEY_BYTES, S_B64)];
    memcpy(raw + 1, key, NOTE_PUB_BYTES);
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, S_B64);
    int n = snprintf(out, cap, "%s%s+%08x+%s", prefix, v->name, (unsigned) v->key_id, b64);
    sodium_memzero(raw, sizeof raw);
    sodium_memzero(b64, sizeof b64);
    if (n < 0 || (size_t) n >= cap) {
        if (cap)
            sodium_memzero(out, cap);
        return 0;
    }
    return (size_t) n;
}

/*  sodium_malloc and randombytes need libsodium initialised (sodium_malloc
 *  aborts as misuse otherwise); sodium_init is idempotent and thread-safe,
 *  so the signer does it itself rather than trust every caller to. */
static void s_sodium_init(void)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "attest: libsodium failed to initialise; aborting\n");
        abort();
    }
}

/*  A signer from its seed: the key pair in sodium_malloc'ed memory. */
static note_signer_t *s_signer_new(const note_verifier_t *named, const uint8_t seed[crypto_sign_SEEDBYTES])
{
    s_sodium_init();
    note_signer_t *self = at_calloc(1, sizeof *self);
    self->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!self->sk) {
        fprintf(stderr, "attest: out of memory (note signer); aborting\n");
        abort();
    }
    self->v = *named;
    crypto_sign_seed_keypair(self->v.pub, self->sk, seed);
    sodium_mprotect_readonly(self->sk);
    self->v.key_id = s_key_id(self->v.name, strlen(self->v.name), self->v.pub);
    return self;
}

static note_signer_t *s_signer_from(const char *text, size_t len, at_err *err)
{
    note_verifier_t v;
    uint8_t seed[crypto_sign_SEEDBYTES];
    size_t plen = sizeof S_PRIVATE - 1;
    *err = AT_ERR_CONFIG;
    memset(&v, 0, sizeof v);
    if (len < plen || memcmp(text, S_PRIVATE, plen) != 0 || s_key_fields(text + plen, len - plen, &v, seed) != AT_OK)
        return NULL;
    note_signer_t *self = s_signer_new(&v, seed);
    sodium_memzero(seed, sizeof seed);
    if (self->v.key_id != v.key_id) {   /* the ID names another key */
        note_signer_destroy(&self);
        return NULL;
    }
    *err = AT_OK;
    return self;
}

at_err note_keygen(const char *name, char *skey, size_t skey_cap, char *vkey, size_t vkey_cap)
{
    note_verifier_t v;
    uint8_t seed[crypto_sign_SEEDBYTES];
    memset(&v, 0, sizeof v);
    if (!name || !s_name_ok(name, strlen(name), NOTE_NAME_MAX) || skey_cap < NOTE_KEY_TEXT_MAX
        || vkey_cap < NOTE_KEY_TEXT_MAX)
        return AT_ERR_CONFIG;
    memcpy(v.name, name, strlen(name) + 1);
    s_sodium_init();
    randombytes_buf(seed, sizeof seed);
    note_signer_t *self = s_signer_new(&v, seed);
    note_verifier_t pub = self->v;
    size_t sn = s_key_text(S_PRIVATE, &pub, seed, skey, skey_cap);
    size_t vn = note_verifier_format(&pub, vkey, vkey_cap);
    sodium_memzero(seed, sizeof seed);
    note_signer_destroy(&self);
    if (sn == 0 || vn == 0)   /* cannot be: NOTE_KEY_TEXT_MAX holds the longest name's texts */
        abort();
    return AT_OK;
}

note_signer_t *note_signer_parse(const char *skey, at_err *err)
{
    return s_signer_from(skey, strlen(skey), err);
}

/*  Reads a one-line key file into buf (NUL-terminated, trailing white space
 *  cut). A private one must be a regular file of mode 0600 or stricter. */
static at_err s_read_key_file(const char *path, bool private, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        at_log_error("NOTE-KEY-FILE", "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return AT_ERR_IO;
    }
    if (private && (!S_ISREG(st.st_mode) || (st.st_mode & 077))) {
        at_log_error("NOTE-KEY-MODE", "%s: a signer key file must be a regular file of mode 0600 (it is %04o)",
                     path, (unsigned) (st.st_mode & 07777));
        close(fd);
        return AT_ERR_CONFIG;
    }
    ssize_t n = read(fd, buf, cap);
    int read_errno = errno;
    close(fd);
    if (n < 0) {
        at_log_error("NOTE-KEY-FILE", "%s: %s", path, strerror(read_errno));
        return AT_ERR_IO;
    }
    if ((size_t) n >= cap) {
        at_log_error("NOTE-KEY-FILE", "%s: longer than a key text (%d bytes)", path, (int) cap - 1);
        return AT_ERR_CONFIG;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    buf[n] = '\0';
    *len = (size_t) n;
    return AT_OK;
}

note_signer_t *note_signer_load(const char *path, at_err *err)
{
    char buf[NOTE_KEY_TEXT_MAX + 1];
    size_t len = 0;
    note_signer_t *self = NULL;
    *err = s_read_key_file(path, true, buf, sizeof buf, &len);
    if (*err == AT_OK && !(self = s_signer_from(buf, len, err)))
        at_log_error("NOTE-KEY-FILE", "%s: not a signer key (PRIVATE+KEY+name+keyid+base64, as made by "
                     "`attest keygen --log`)", path);
    sodium_memzero(buf, sizeof buf);
    return self;
}

void note_signer_destroy(note_signer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    note_signer_t *self = *self_p;
    sodium_free(self->sk);   /* wipes it */
    sodium_memzero(self, sizeof *self);
    free(self);
    *self_p = NULL;
}

void note_signer_verifier(const note_signer_t *self, note_verifier_t *out)
{
    *out = self->v;
}

/*  A body a note can carry: non-empty lines, each ending in "\n". */
static bool s_body_ok(const char *body, size_t len)
{
    if (len == 0 || body[len - 1] != '\n' || body[0] == '\n' || !note_text_ok(body, len))
        return false;
    for (size_t i = 1; i < len; i++)
        if (body[i] == '\n' && body[i - 1] == '\n')
            return false;
    return true;
}

at_err note_sign(const note_signer_t *self, const char *body, size_t body_len, char *out, size_t cap, size_t *len)
{
    if (!s_body_ok(body, body_len))
        return AT_ERR_SHAPE;
    uint8_t sig[S_SIG_BYTES];
    char b64[sodium_base64_ENCODED_LEN(S_SIG_BYTES, S_B64)];
    sig[0] = (uint8_t) (self->v.key_id >> 24);
    sig[1] = (uint8_t) (self->v.key_id >> 16);
    sig[2] = (uint8_t) (self->v.key_id >> 8);
    sig[3] = (uint8_t) self->v.key_id;
    crypto_sign_detached(sig + 4, NULL, (const uint8_t *) body, body_len, self->sk);
    sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, S_B64);
    size_t name_len = strlen(self->v.name), b64_len = strlen(b64);
    size_t total = body_len + 1 + (sizeof S_EM_DASH - 1) + name_len + 1 + b64_len + 1;
    if (total > cap)
        return AT_ERR_OVERSIZE;
    char *p = out;
    memmove(p, body, body_len);   /* body may already be in out */
    p += body_len;
    *p++ = '\n';
    memcpy(p, S_EM_DASH, sizeof S_EM_DASH - 1);
    p += sizeof S_EM_DASH - 1;
    memcpy(p, self->v.name, name_len);
    p += name_len;
    *p++ = ' ';
    memcpy(p, b64, b64_len);
    p += b64_len;
    *p++ = '\n';
    if (total < cap)
        *p = '\0';
    *len = total;
    return AT_OK;
}

static at_err s_verifier_from(note_verifier_t *out, const char *text, size_t len)
{
    note_verifier_t v;
    memset(&v, 0, sizeof v);
    if (s_key_fields(text, len, &v, v.pub) != AT_OK || s_key_id(v.name, strlen(v.name), v.pub) != v.key_id)
        return AT_ERR_CONFIG;
    *out = v;
    return AT_OK;
}

at_err note_verifier_parse(note_verifier_t *out, const char *vkey)
{
    return s_verifier_from(out, vkey, strlen(vkey));
}

at_err note_verifier_load(note_verifier_t *out, const char *path)
{
    char buf[NOTE_KEY_TEXT_MAX + 1];
    size_t len = 0;
    at_err rc = s_read_key_file(path, false, buf, sizeof buf, &len);
    if (rc == AT_OK && (rc = s_verifier_from(out, buf, len)) != AT_OK)
        at_log_error("NOTE-KEY-FILE", "%s: not a verifier key (name+keyid+base64, as made by "
                     "`attest keygen --log`)", path);
    return rc;
}

size_t note_verifier_format(const note_verifier_t *v, char *out, size_t cap)
{
    return s_key_text("", v, v->pub, out, cap);
}

/*  One signature line "— <name> <base64>" (without its "\n"), checked;
 *  AT_OK with *mine true when it is by v, then AT_ERR_SIGNATURE unless it
 *  verifies over text. */
static at_err s_sig_line(const note_verifier_t *v, const char *line, size_t len, const char *text, size_t text_len,
                         bool *mine)
{
    size_t dash = sizeof S_EM_DASH - 1;
    *mine = false;
    if (len < dash || len > NOTE_SIG_LINE_MAX + S_SIG_RAW_MAX || memcmp(line, S_EM_DASH, dash) != 0)
        return AT_ERR_SHAPE;
    line += dash, len -= dash;
    const char *sp = memchr(line, ' ', len);
    if (!sp)
        return AT_ERR_SHAPE;
    size_t name_len = (size_t) (sp - line), b64_len = len - name_len - 1;
    uint8_t raw[S_SIG_RAW_MAX];
    size_t raw_len = 0;
    if (!s_name_ok(line, name_len, len) || b64_len == 0 || !s_b64_decode(sp + 1, b64_len, raw, sizeof raw, &raw_len)
        || raw_len < 5)
        return AT_ERR_SHAPE;
    uint32_t id = (uint32_t) raw[0] << 24 | (uint32_t) raw[1] << 16 | (uint32_t) raw[2] << 8 | raw[3];
    if (id != v->key_id || name_len != strlen(v->name) || memcmp(line, v->name, name_len) != 0)
        return AT_OK;
    *mine = true;
    if (raw_len != S_SIG_BYTES
        || crypto_sign_verify_detached(raw + 4, (const uint8_t *) text, text_len, v->pub) != 0)
        return AT_ERR_SIGNATURE;
    return AT_OK;
}

at_err note_open(const note_verifier_t *v, const char *note, size_t len, size_t *body_len)
{
    if (!note_text_ok(note, len) || len < 2 || note[len - 1] != '\n')
        return AT_ERR_SHAPE;
    size_t split = len - 2;   /* the last "\n\n": the body's end and the blank line */
    while (split > 0 && !(note[split] == '\n' && note[split + 1] == '\n'))
        split--;
    if (note[split] != '\n' || note[split + 1] != '\n' || split + 2 == len)
        return AT_ERR_SHAPE;
    size_t text_len = split + 1, nsigs = 0;
    bool found = false;
    for (size_t i = split + 2; i < len; nsigs++) {
        const char *nl = memchr(note + i, '\n', len - i);   /* found: the note ends in "\n" */
        bool mine = false;
        if (nsigs == S_SIGS_MAX)
            return AT_ERR_SHAPE;
        at_err rc = s_sig_line(v, note + i, (size_t) (nl - (note + i)), note, text_len, &mine);
        if (rc != AT_OK && !(rc == AT_ERR_SIGNATURE && found))   /* a repeat after a good one is ignored */
            return rc;
        found = found || mine;
        i = (size_t) (nl - note) + 1;
    }
    if (!found)
        return AT_ERR_NOT_FOUND;
    *body_len = text_len;
    return AT_OK;
}
