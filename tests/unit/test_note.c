/*  test_note.c: signed notes and checkpoints (tlog/note.[ch], tlog/checkpoint.[ch]).
 *
 *  Covers: the example key pair and signed note of Go's sumdb/note
 *  documentation (Ed25519 is deterministic, so signing its text must give
 *  its note byte for byte); keygen, then the key texts parse back to the
 *  same key, and a note signed with it opens; a table of malformed key
 *  texts (wrong algorithm byte, key ID of another key, bad names, bad
 *  base64...) refused with AT_ERR_CONFIG; a table of malformed or
 *  mis-signed notes with the code each must give; bodies note_sign
 *  refuses and the output bound; key files (a signer file readable by
 *  others is refused); and checkpoint bodies formatted and parsed, with a
 *  table of bodies checkpoint_parse refuses.
 */
#include "check.h"
#include "checkpoint.h"
#include "note.h"
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define GO_SKEY "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define GO_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define GO_TEXT "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
#define GO_SIG "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
#define GO_NOTE GO_TEXT "\n" GO_SIG

static void test_go_vector(void)
{
    at_err err = AT_ERR_IO;
    note_signer_t *s = note_signer_parse(GO_SKEY, &err);
    note_verifier_t v, sv;
    char out[1024], vtext[NOTE_KEY_TEXT_MAX];
    size_t len = 0, body_len = 0;
    CHECK_ERR(err, AT_OK);
    CHECK(s != NULL);
    CHECK_ERR(note_verifier_parse(&v, GO_VKEY), AT_OK);
    CHECK(strcmp(v.name, "PeterNeumann") == 0 && v.key_id == 0xc74f20a3u);
    if (!s)
        return;
    note_signer_verifier(s, &sv);
    CHECK(memcmp(&sv, &v, sizeof v) == 0);
    CHECK(note_verifier_format(&v, vtext, sizeof vtext) == strlen(GO_VKEY) && strcmp(vtext, GO_VKEY) == 0);
    CHECK(note_verifier_format(&v, vtext, strlen(GO_VKEY)) == 0);   /* no room for the NUL */
    CHECK_ERR(note_sign(s, GO_TEXT, strlen(GO_TEXT), out, sizeof out, &len), AT_OK);
    CHECK(len == strlen(GO_NOTE) && memcmp(out, GO_NOTE, len) == 0);
    CHECK_ERR(note_open(&v, GO_NOTE, strlen(GO_NOTE), &body_len), AT_OK);
    CHECK(body_len == strlen(GO_TEXT));
    note_signer_destroy(&s);
    CHECK(s == NULL);
    note_signer_destroy(&s);   /* safe twice */
}

static void test_keygen_round_trip(void)
{
    char skey[NOTE_KEY_TEXT_MAX], vkey[NOTE_KEY_TEXT_MAX], again[NOTE_KEY_TEXT_MAX], note[512];
    const char *body = "attest.local/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    note_verifier_t v, sv;
    at_err err;
    size_t len, body_len = 0;
    CHECK_ERR(note_keygen("attest.local/log", skey, sizeof skey, vkey, sizeof vkey), AT_OK);
    CHECK(strncmp(skey, "PRIVATE+KEY+attest.local/log+", 29) == 0 && strlen(skey) == 29 + 8 + 1 + 44);
    CHECK(strncmp(vkey, "attest.local/log+", 17) == 0 && strcmp(vkey + 17 + 8, skey + 29 + 8) != 0);
    note_signer_t *s = note_signer_parse(skey, &err);
    CHECK(s != NULL);
    CHECK_ERR(note_verifier_parse(&v, vkey), AT_OK);
    if (!s)
        return;
    note_signer_verifier(s, &sv);
    CHECK(memcmp(&sv, &v, sizeof v) == 0);
    CHECK(note_verifier_format(&v, again, sizeof again) > 0 && strcmp(again, vkey) == 0);
    CHECK_ERR(note_sign(s, body, strlen(body), note, sizeof note, &len), AT_OK);
    CHECK(note[len] == '\0' && len == strlen(note));
    CHECK_ERR(note_open(&v, note, len, &body_len), AT_OK);
    CHECK(body_len == strlen(body) && memcmp(note, body, body_len) == 0);
    note_signer_destroy(&s);
    char skey2[NOTE_KEY_TEXT_MAX], vkey2[NOTE_KEY_TEXT_MAX];
    CHECK_ERR(note_keygen("attest.local/log", skey2, sizeof skey2, vkey2, sizeof vkey2), AT_OK);
    CHECK(strcmp(skey, skey2) != 0);   /* random */
    CHECK_ERR(note_keygen("bad name", skey2, sizeof skey2, vkey2, sizeof vkey2), AT_ERR_CONFIG);
    CHECK_ERR(note_keygen("", skey2, sizeof skey2, vkey2, sizeof vkey2), AT_ERR_CONFIG);
    CHECK_ERR(note_keygen("a+b", skey2, sizeof skey2, vkey2, sizeof vkey2), AT_ERR_CONFIG);
    CHECK_ERR(note_keygen("ok", skey2, 10, vkey2, sizeof vkey2), AT_ERR_CONFIG);
    sodium_memzero(skey, sizeof skey);
}

/*  A key text made of name, key ID and base64 of (alg || 32 bytes from the Go vector's). */
static void s_key(char *out, size_t cap, bool private, const char *name, uint8_t alg, size_t nkey, bool fix_id)
{
    uint8_t raw[64] = { 0 }, pub[32];
    note_verifier_t v;
    if (note_verifier_parse(&v, GO_VKEY) != AT_OK)
        return;
    memcpy(pub, v.pub, 32);
    if (private) {   /* the Go vector's seed */
        size_t n = 0;
        (void) sodium_base642bin(raw, sizeof raw, "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", 44, NULL, &n, NULL,
                                 sodium_base64_VARIANT_ORIGINAL);
        memcpy(pub, raw + 1, 32);
    }
    raw[0] = alg;
    memcpy(raw + 1, pub, 32);
    char b64[128];
    sodium_bin2base64(b64, sizeof b64, raw, nkey + 1, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap, "%s%s+%s+%s", private ? "PRIVATE+KEY+" : "", name, fix_id ? "c74f20a3" : "c74f20a4", b64);
}

static void test_bad_keys(void)
{
    char k[256];
    note_verifier_t v;
    at_err err;
    /* Sanity: the builder makes the good keys. */
    s_key(k, sizeof k, false, "PeterNeumann", 1, 32, true);
    CHECK(strcmp(k, GO_VKEY) == 0);
    s_key(k, sizeof k, true, "PeterNeumann", 1, 32, true);
    CHECK(strcmp(k, GO_SKEY) == 0);
    static const struct {
        const char *name;
        uint8_t alg;
        size_t nkey;
        bool fix_id;
    } cases[] = {
        { "PeterNeumann", 2, 32, true },    /* wrong algorithm byte */
        { "PeterNeumann", 0, 32, true },
        { "PeterNeumann", 1, 32, false },   /* key ID of another key */
        { "PeterNeumann", 1, 31, true },    /* short key */
        { "PeterNeumann", 1, 33, true },    /* long key */
        { "PeterNeumanm", 1, 32, true },    /* other name: the ID does not match */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int priv = 0; priv <= 1; priv++) {
            s_key(k, sizeof k, priv, cases[i].name, cases[i].alg, cases[i].nkey, cases[i].fix_id);
            if (priv) {
                note_signer_t *s = note_signer_parse(k, &err);
                CHECK(s == NULL);
                CHECK_ERR(err, AT_ERR_CONFIG);
                note_signer_destroy(&s);
            } else
                CHECK_ERR(note_verifier_parse(&v, k), AT_ERR_CONFIG);
        }
    static const char *const texts[] = {
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a3+",
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",     /* 7 hex digits */
        "PeterNeumann+c74f20a3x+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",   /* 9 */
        "PeterNeumann+c74f20g3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",    /* not hex */
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",     /* truncated base64 */
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=",   /* extra padding */
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW",    /* URL-safe alphabet */
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n",  /* parse takes no newline */
        " PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",                /* empty name */
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",   /* space in the name */
        "Peter\xc2\xa0Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",   /* U+00A0 */
        "Peter\xffNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",       /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        CHECK_ERR(note_verifier_parse(&v, texts[i]), AT_ERR_CONFIG);
        note_signer_t *s = note_signer_parse(texts[i], &err);   /* none is a signer key either */
        CHECK(s == NULL && err == AT_ERR_CONFIG);
        note_signer_destroy(&s);
    }
    CHECK_ERR(note_verifier_parse(&v, GO_SKEY), AT_ERR_CONFIG);   /* a signer key is not a verifier key */
    /* Upper-case hex is read (Go's strconv reads it); the format writes lower case. */
    CHECK_ERR(note_verifier_parse(&v, "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"), AT_OK);
    note_signer_t *s = note_signer_parse("PRIVATE+KEY+PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", &err);
    CHECK(s == NULL && err == AT_ERR_CONFIG);   /* a public key as a seed: the ID does not match */
    s = note_signer_parse("private+key+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", &err);
    CHECK(s == NULL && err == AT_ERR_CONFIG);
    CHECK_ERR(note_verifier_parse(&v, GO_SKEY + 12), AT_ERR_CONFIG);   /* the seed is not the public key */
}

/*  A second key ("Other") whose signature a note may carry. */
static char s_other_sig[256];

static void s_make_other(void)
{
    char skey[NOTE_KEY_TEXT_MAX], vkey[NOTE_KEY_TEXT_MAX], out[512];
    size_t len = 0;
    at_err err;
    if (note_keygen("Other", skey, sizeof skey, vkey, sizeof vkey) != AT_OK)
        return;
    note_signer_t *s = note_signer_parse(skey, &err);
    if (s && note_sign(s, GO_TEXT, strlen(GO_TEXT), out, sizeof out, &len) == AT_OK)
        snprintf(s_other_sig, sizeof s_other_sig, "%.*s", (int) (len - strlen(GO_TEXT) - 2), out + strlen(GO_TEXT) + 1);
    note_signer_destroy(&s);
}

static void test_bad_notes(void)
{
    note_verifier_t v;
    size_t body_len = 7;
    char buf[16384];
    s_make_other();
    CHECK(strncmp(s_other_sig, "\xe2\x80\x94 Other ", 10) == 0);
    CHECK_ERR(note_verifier_parse(&v, GO_VKEY), AT_OK);
    static const struct {
        const char *note;
        at_err want;
    } cases[] = {
        { "", AT_ERR_SHAPE },
        { "\n", AT_ERR_SHAPE },
        { "\n\n", AT_ERR_SHAPE },
        { GO_TEXT, AT_ERR_SHAPE },                                  /* no signature */
        { GO_TEXT "\n", AT_ERR_SHAPE },                             /* blank line, no signature */
        { GO_TEXT GO_SIG, AT_ERR_SHAPE },                           /* no blank line */
        { "If you think\n\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
          AT_ERR_SHAPE },                                           /* no final newline */
        { GO_TEXT "\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
          AT_ERR_SHAPE },                                           /* hyphen, not em dash */
        { GO_TEXT "\n\xe2\x80\x94PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
          AT_ERR_SHAPE },                                           /* no space after the dash */
        { GO_TEXT "\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n",
          AT_ERR_SHAPE },                                           /* truncated base64 */
        { GO_TEXT "\n\xe2\x80\x94 PeterNeumann\n", AT_ERR_SHAPE },                 /* no signature */
        { GO_TEXT "\n\xe2\x80\x94 PeterNeumann \n", AT_ERR_SHAPE },
        { GO_TEXT "\n\xe2\x80\x94 PeterNeumann x08go/Zw==\n", AT_ERR_SHAPE },     /* 4 bytes: no signature */
        { GO_TEXT "\n\xe2\x80\x94  x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
          AT_ERR_SHAPE },                                           /* empty name */
        { GO_TEXT "\n" GO_SIG "\n", AT_ERR_SHAPE },                 /* blank line at the end */
        { GO_TEXT "\n" GO_SIG "trailer\n", AT_ERR_SHAPE },          /* a line that is not a signature */
        { "If you\x01 think\n\n" GO_SIG, AT_ERR_SHAPE },            /* control character */
        { "If you\r think\n\n" GO_SIG, AT_ERR_SHAPE },
        { "If you \xc0\xaf think\n\n" GO_SIG, AT_ERR_SHAPE },       /* overlong UTF-8 */
        { "If you \xed\xa0\x80 think\n\n" GO_SIG, AT_ERR_SHAPE },   /* surrogate */
        { "If you think\n\n" GO_SIG, AT_ERR_SIGNATURE },            /* another text */
        { "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is!\n\n" GO_SIG,
          AT_ERR_SIGNATURE },                                       /* one byte flipped */
        { GO_TEXT "\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAA=\n",
          AT_ERR_SIGNATURE },                                       /* signature byte flipped */
        { GO_TEXT "\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1A==\n",
          AT_ERR_SIGNATURE },                                       /* our key ID, short signature */
        { GO_TEXT "\n\xe2\x80\x94 PeterNeumann x08govZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
          AT_ERR_NOT_FOUND },                                       /* another key ID */
        { GO_TEXT "\n\xe2\x80\x94 PeterNeumanm x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
          AT_ERR_NOT_FOUND },                                       /* another name */
        { GO_NOTE, AT_OK },
        { GO_NOTE GO_SIG, AT_OK },                                  /* the same signature twice */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        at_err rc = note_open(&v, cases[i].note, strlen(cases[i].note), &body_len);
        if (rc != cases[i].want)
            fprintf(stderr, "note case %zu\n", i);
        CHECK_ERR(rc, cases[i].want);
    }
    CHECK(body_len == strlen(GO_TEXT));
    /* Other keys' signatures: alone, not found; around ours, ignored. */
    snprintf(buf, sizeof buf, "%s\n%s\n", GO_TEXT, s_other_sig);
    CHECK_ERR(note_open(&v, buf, strlen(buf), &body_len), AT_ERR_NOT_FOUND);
    snprintf(buf, sizeof buf, "%s\n%s\n%s%s\n", GO_TEXT, s_other_sig, GO_SIG, s_other_sig);
    CHECK_ERR(note_open(&v, buf, strlen(buf), &body_len), AT_OK);
    /* An embedded NUL is a control character. */
    memcpy(buf, GO_NOTE, sizeof GO_NOTE);
    buf[3] = '\0';
    CHECK_ERR(note_open(&v, buf, sizeof GO_NOTE - 1, &body_len), AT_ERR_SHAPE);
    /* At most 100 signature lines. */
    size_t n = snprintf(buf, sizeof buf, "%s\n", GO_TEXT);
    for (int i = 0; i < 100; i++)
        n += (size_t) snprintf(buf + n, sizeof buf - n, "%s\n", s_other_sig);
    CHECK_ERR(note_open(&v, buf, n, &body_len), AT_ERR_NOT_FOUND);
    n += (size_t) snprintf(buf + n, sizeof buf - n, "%s", GO_SIG);
    CHECK_ERR(note_open(&v, buf, n, &body_len), AT_ERR_SHAPE);
}

static void test_sign_refuses(void)
{
    at_err err;
    note_signer_t *s = note_signer_parse(GO_SKEY, &err);
    char out[1024], name[NOTE_NAME_MAX + 1], skey[NOTE_KEY_TEXT_MAX], vkey[NOTE_KEY_TEXT_MAX];
    size_t len = 99;
    if (!s)
        return;
    static const char *const bodies[] = { "", "no newline", "\n", "a\n\nb\n", "a\n\n", "tab\there\n", "bad \xff\n" };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        CHECK_ERR(note_sign(s, bodies[i], strlen(bodies[i]), out, sizeof out, &len), AT_ERR_SHAPE);
    CHECK(len == 99);
    size_t need = strlen(GO_NOTE);
    CHECK_ERR(note_sign(s, GO_TEXT, strlen(GO_TEXT), out, need - 1, &len), AT_ERR_OVERSIZE);
    CHECK_ERR(note_sign(s, GO_TEXT, strlen(GO_TEXT), out, need, &len), AT_OK);
    CHECK(len == need);
    note_signer_destroy(&s);
    /* The longest name: the bound the header promises holds. */
    memset(name, 'n', NOTE_NAME_MAX);
    name[NOTE_NAME_MAX] = '\0';
    CHECK_ERR(note_keygen(name, skey, sizeof skey, vkey, sizeof vkey), AT_OK);
    CHECK(strlen(skey) < NOTE_KEY_TEXT_MAX && strlen(vkey) < NOTE_KEY_TEXT_MAX);
    s = note_signer_parse(skey, &err);
    CHECK(s != NULL);
    if (s) {
        CHECK_ERR(note_sign(s, GO_TEXT, strlen(GO_TEXT), out, strlen(GO_TEXT) + NOTE_SIG_LINE_MAX + 1, &len), AT_OK);
        CHECK(len <= strlen(GO_TEXT) + NOTE_SIG_LINE_MAX + 1);
    }
    note_signer_destroy(&s);
    name[0] = '+';
    CHECK_ERR(note_keygen(name, skey, sizeof skey, vkey, sizeof vkey), AT_ERR_CONFIG);
    CHECK(note_signer_parse("PRIVATE+KEY+" "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
                            "+00000000+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", &err) == NULL);   /* 129 bytes */
}

static void s_write(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    CHECK(f != NULL && chmod(path, mode) == 0);
}

static void test_files(void)
{
    char dir[] = "/tmp/test_note_XXXXXX", path[128];
    note_verifier_t v;
    at_err err = AT_OK;
    if (!mkdtemp(dir))
        return;
    snprintf(path, sizeof path, "%s/log.key", dir);
    s_write(path, GO_SKEY "\n", 0644);
    note_signer_t *s = note_signer_load(path, &err);
    CHECK(s == NULL && err == AT_ERR_CONFIG);   /* readable by others: refused */
    CHECK(chmod(path, 0640) == 0);
    s = note_signer_load(path, &err);
    CHECK(s == NULL && err == AT_ERR_CONFIG);
    CHECK(chmod(path, 0600) == 0);
    s = note_signer_load(path, &err);
    CHECK(s != NULL && err == AT_OK);
    note_signer_destroy(&s);
    s_write(path, "PRIVATE+KEY+junk\n", 0600);
    s = note_signer_load(path, &err);
    CHECK(s == NULL && err == AT_ERR_CONFIG);
    s = note_signer_load("/nonexistent/log.key", &err);
    CHECK(s == NULL && err == AT_ERR_IO);
    snprintf(path, sizeof path, "%s/log.pub", dir);
    s_write(path, GO_VKEY "\r\n \n", 0644);   /* trailing white space ignored; public needs no mode */
    CHECK_ERR(note_verifier_load(&v, path), AT_OK);
    CHECK(v.key_id == 0xc74f20a3u);
    s_write(path, GO_VKEY "\n" GO_VKEY "\n", 0644);   /* one line */
    CHECK_ERR(note_verifier_load(&v, path), AT_ERR_CONFIG);
    CHECK_ERR(note_verifier_load(&v, dir), AT_ERR_IO);
    CHECK_ERR(note_verifier_load(&v, "/nonexistent/log.pub"), AT_ERR_IO);
    unlink(path);
    snprintf(path, sizeof path, "%s/log.key", dir);
    unlink(path);
    rmdir(dir);
}

#define ROOT_B64 "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs="

static void test_checkpoint_format(void)
{
    checkpoint_t c, back;
    char out[CHECKPOINT_BODY_MAX];
    memset(&c, 0, sizeof c);
    snprintf(c.origin, sizeof c.origin, "attest.local/log");
    c.size = 1234;
    c.root[0] = 0xde, c.root[1] = 0xad, c.root[2] = 0xbe, c.root[3] = 0xef;
    for (int i = 4; i < 32; i++)
        c.root[i] = (uint8_t) (i - 4);
    size_t n = checkpoint_format(&c, out, sizeof out);
    CHECK(n == strlen(out) && strcmp(out, "attest.local/log\n1234\n" ROOT_B64 "\n") == 0);
    c.time = 1764640000;
    n = checkpoint_format(&c, out, sizeof out);
    CHECK(strcmp(out, "attest.local/log\n1234\n" ROOT_B64 "\ntime 1764640000\n") == 0);
    CHECK_ERR(checkpoint_parse(&back, out, n), AT_OK);
    CHECK(memcmp(&back, &c, sizeof c) == 0);
    CHECK(checkpoint_format(&c, out, n) == 0 && checkpoint_format(&c, out, n + 1) == n);
    /* The widest body fits CHECKPOINT_BODY_MAX. */
    memset(c.origin, 'o', CHECKPOINT_ORIGIN_MAX);
    c.origin[CHECKPOINT_ORIGIN_MAX] = '\0';
    c.size = c.time = UINT64_MAX;
    n = checkpoint_format(&c, out, sizeof out);
    CHECK(n > 0 && n < CHECKPOINT_BODY_MAX);
    CHECK_ERR(checkpoint_parse(&back, out, n), AT_OK);
    CHECK(memcmp(&back, &c, sizeof c) == 0);
    static const char *const bad_origins[] = { "", "tab\there", "del\x7f", "nl\nx", "bad\xff" };
    for (size_t i = 0; i < sizeof bad_origins / sizeof bad_origins[0]; i++) {
        snprintf(c.origin, sizeof c.origin, "%s", bad_origins[i]);
        CHECK(checkpoint_format(&c, out, sizeof out) == 0);
    }
}

static void test_checkpoint_parse(void)
{
    static const struct {
        const char *body;
        at_err want;
        uint64_t size, time;
    } cases[] = {
        { "o\n0\n" ROOT_B64 "\n", AT_OK, 0, 0 },
        { "o\n18446744073709551615\n" ROOT_B64 "\n", AT_OK, UINT64_MAX, 0 },
        { "o\n7\n" ROOT_B64 "\ntime 0\n", AT_OK, 7, 0 },
        { "o\n7\n" ROOT_B64 "\ntime 42\n", AT_OK, 7, 42 },
        { "o\n7\n" ROOT_B64 "\nfuture ext\ntime 42\nmore\n", AT_OK, 7, 42 },   /* unknown lines ignored */
        { "o\n7\n" ROOT_B64 "\ntimely 5\n", AT_OK, 7, 0 },                     /* not a time line */
        { "\xc3\xa9t\xc3\xa9.example/log\n7\n" ROOT_B64 "\n", AT_OK, 7, 0 },  /* UTF-8 origin */
        { "", AT_ERR_SHAPE, 0, 0 },
        { "o\n7\n", AT_ERR_SHAPE, 0, 0 },                                      /* two lines */
        { "o\n7\n" ROOT_B64, AT_ERR_SHAPE, 0, 0 },                             /* no final newline */
        { "\n7\n" ROOT_B64 "\n", AT_ERR_SHAPE, 0, 0 },                         /* empty origin */
        { "o\n07\n" ROOT_B64 "\n", AT_ERR_SHAPE, 0, 0 },                       /* leading zero */
        { "o\n00\n" ROOT_B64 "\n", AT_ERR_SHAPE, 0, 0 },
        { "o\n+7\n" ROOT_B64 "\n", AT_ERR_SHAPE, 0, 0 },
        { "o\n-1\n" ROOT_B64 "\n", AT_ERR_SHAPE, 0, 0 },
        { "o\n 7\n" ROOT_B64 "\n", AT_ERR_SHAPE, 0, 0 },
        { "o\n\n" ROOT_B64 "\n", AT_ERR_SHAPE, 0, 0 },
        { "o\n18446744073709551616\n" ROOT_B64 "\n", AT_ERR_SHAPE, 0, 0 },    /* 2^64 */
        { "o\n99999999999999999999\n" ROOT_B64 "\n", AT_ERR_SHAPE, 0, 0 },
        { "o\n7\n3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGg==\n", AT_ERR_SHAPE, 0, 0 },   /* 31 bytes */
        { "o\n7\n3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhsc\n", AT_ERR_SHAPE, 0, 0 },   /* 33 bytes */
        { "o\n7\n3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs\n", AT_ERR_SHAPE, 0, 0 },    /* no padding */
        { "o\n7\n3q2-7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=\n", AT_ERR_SHAPE, 0, 0 },   /* URL-safe */
        { "o\n7\n3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhv=\n", AT_ERR_SHAPE, 0, 0 },   /* stray bits */
        { "o\n7\n" ROOT_B64 "\ntime\n", AT_ERR_SHAPE, 0, 0 },
        { "o\n7\n" ROOT_B64 "\ntime \n", AT_ERR_SHAPE, 0, 0 },
        { "o\n7\n" ROOT_B64 "\ntime 012\n", AT_ERR_SHAPE, 0, 0 },
        { "o\n7\n" ROOT_B64 "\ntime 1 2\n", AT_ERR_SHAPE, 0, 0 },
        { "o\n7\n" ROOT_B64 "\ntime 1\ntime 1\n", AT_ERR_SHAPE, 0, 0 },       /* twice */
        { "o\n7\n" ROOT_B64 "\n\n", AT_ERR_SHAPE, 0, 0 },                      /* empty line */
        { "o\x01\n7\n" ROOT_B64 "\n", AT_ERR_SHAPE, 0, 0 },
        { "o\x7f\n7\n" ROOT_B64 "\n", AT_ERR_SHAPE, 0, 0 },
        { "o\n7\n" ROOT_B64 "\next\xff\n", AT_ERR_SHAPE, 0, 0 },              /* not UTF-8 */
    };
    checkpoint_t c;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        at_err rc = checkpoint_parse(&c, cases[i].body, strlen(cases[i].body));
        if (rc != cases[i].want)
            fprintf(stderr, "checkpoint case %zu\n", i);
        CHECK_ERR(rc, cases[i].want);
        if (rc == AT_OK)
            CHECK(c.size == cases[i].size && c.time == cases[i].time);
    }
    char body[400];
    int n = snprintf(body, sizeof body, "%0256d\n7\n" ROOT_B64 "\n", 1);   /* origin of 256 bytes */
    CHECK_ERR(checkpoint_parse(&c, body, (size_t) n), AT_ERR_OVERSIZE);
    n = snprintf(body, sizeof body, "%0255d\n7\n" ROOT_B64 "\n", 1);
    CHECK_ERR(checkpoint_parse(&c, body, (size_t) n), AT_OK);
    CHECK(strlen(c.origin) == 255);
    CHECK_ERR(checkpoint_parse(&c, "o\n7\n" ROOT_B64 "\n", 4 + 44), AT_ERR_SHAPE);   /* length excludes the last "\n" */
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_go_vector();
    test_keygen_round_trip();
    test_bad_keys();
    test_bad_notes();
    test_sign_refuses();
    test_files();
    test_checkpoint_format();
    test_checkpoint_parse();
    return check_done("test_note");
}
