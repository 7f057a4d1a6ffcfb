/*  test_cosig.c: witness cosignatures (tlog/cosig.[ch], C2SP tlog-cosignature v1).
 *
 *  Covers: the example cosignature line of the C2SP spec (its key ID and its
 *  timestamp, 1679315147, the "time" of the spec's example message; the
 *  spec publishes no public key, so its signature cannot be checked); a
 *  cosignature by Go's sumdb/note example key recomputed here from the
 *  spec's bytes with libsodium alone (message "cosignature/v1\ntime T\n" ||
 *  body, key ID SHA-256(name || "\n" || 0x04 || key)[:4], timestamp u64 BE)
 *  and compared byte for byte with cosig_sign's; the vkey text (type 0x04)
 *  round trip and a table of vkeys refused; a table of tampered lines and
 *  bodies with the code cosig_verify must give; a cosigned note still opens
 *  with the log's key (note_open skips the cosignature).
 */
#include "check.h"
#include "cosig.h"
#include "note.h"
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#define GO_SKEY "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define SPEC_LINE "\xe2\x80\x94 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlr" \
                  "DJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
#define BODY "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
#define T0 1679315147u

static void test_spec_example(void)
{
    const char *b64 = strchr(SPEC_LINE + 4, ' ') + 1;
    uint8_t raw[128];
    size_t len = 0;
    CHECK(sodium_base642bin(raw, sizeof raw, b64, strlen(b64), NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL)
          == 0);
    CHECK(len == COSIG_RAW_BYTES);
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = t << 8 | raw[4 + i];
    CHECK(t == T0);
    CHECK(raw[0] == 0x8d && raw[1] == 0x66 && raw[2] == 0xcf && raw[3] == 0x3f);
    /* A verifier of that name but another key: the line is not its (key ID differs). */
    note_verifier_t v = { .name = "witness.example.com/w1", .key_id = 0x01020304u };
    CHECK_ERR(cosig_verify(&v, BODY, strlen(BODY), SPEC_LINE, strlen(SPEC_LINE), NULL), AT_ERR_NOT_FOUND);
    v.key_id = 0x8d66cf3fu;   /* its key ID, a wrong key: a bad signature by "that" key */
    CHECK_ERR(cosig_verify(&v, BODY, strlen(BODY), SPEC_LINE, strlen(SPEC_LINE), NULL), AT_ERR_SIGNATURE);
}

/*  The cosignature line of BODY at T0 by GO_SKEY's key, from the spec alone. */
static void s_expected(char *line, size_t cap, uint8_t pub[32])
{
    uint8_t seedkey[33], sk[crypto_sign_SECRETKEYBYTES], h[32], raw[COSIG_RAW_BYTES];
    const char *b64 = GO_SKEY + strlen("PRIVATE+KEY+PeterNeumann+c74f20a3+");   /* base64 may hold "+" */
    size_t len = 0;
    sodium_base642bin(seedkey, sizeof seedkey, b64, strlen(b64), NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL);
    crypto_sign_seed_keypair(pub, sk, seedkey + 1);
    uint8_t idin[14 + 32] = "PeterNeumann\n\x04";
    memcpy(idin + 14, pub, 32);
    crypto_hash_sha256(h, idin, 14 + 32);
    memcpy(raw, h, 4);
    for (int i = 0; i < 8; i++)
        raw[4 + i] = (uint8_t) ((uint64_t) T0 >> (56 - 8 * i));
    char msg[256];
    int n = snprintf(msg, sizeof msg, "cosignature/v1\ntime %u\n%s", T0, BODY);
    crypto_sign_detached(raw + 12, NULL, (const uint8_t *) msg, (size_t) n, sk);
    char enc[sodium_base64_ENCODED_LEN(COSIG_RAW_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(enc, sizeof enc, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    snprintf(line, cap, "\xe2\x80\x94 PeterNeumann %s\n", enc);
    sodium_memzero(sk, sizeof sk);
}

static void test_sign_matches_spec(void)
{
    at_err err;
    note_signer_t *s = note_signer_parse(GO_SKEY, &err);
    char want[COSIG_LINE_MAX], line[COSIG_LINE_MAX];
    uint8_t pub[32];
    size_t len = 0;
    uint64_t t = 0;
    CHECK(s != NULL);
    if (!s)
        return;
    s_expected(want, sizeof want, pub);
    CHECK_ERR(cosig_sign(s, BODY, strlen(BODY), T0, line, sizeof line, &len), AT_OK);
    CHECK(len == strlen(want) && strcmp(line, want) == 0);
    note_verifier_t v;
    cosig_signer_verifier(s, &v);
    CHECK(memcmp(v.pub, pub, 32) == 0 && v.key_id == cosig_key_id("PeterNeumann", pub) && v.key_id != 0xc74f20a3u);
    CHECK_ERR(cosig_verify(&v, BODY, strlen(BODY), line, len, &t), AT_OK);
    CHECK(t == T0);
    CHECK_ERR(cosig_verify(&v, BODY, strlen(BODY), line, len - 1, NULL), AT_OK);   /* without its "\n" */
    CHECK_ERR(cosig_sign(s, BODY, strlen(BODY), T0, line, len, &len), AT_ERR_OVERSIZE);
    CHECK_ERR(cosig_sign(s, BODY, strlen(BODY), (uint64_t) INT64_MAX + 1, line, sizeof line, &len), AT_ERR_RANGE);
    CHECK_ERR(cosig_sign(s, "a\nb\n", 4, T0, line, sizeof line, &len), AT_ERR_SHAPE);          /* 2 lines */
    CHECK_ERR(cosig_sign(s, "a\n\nb\nc\n", 7, T0, line, sizeof line, &len), AT_ERR_SHAPE);    /* empty line */
    CHECK_ERR(cosig_sign(s, "a\nb\nc", 5, T0, line, sizeof line, &len), AT_ERR_SHAPE);        /* no final "\n" */
    CHECK_ERR(cosig_sign(s, BODY, strlen(BODY), INT64_MAX, line, sizeof line, &len), AT_OK);
    CHECK_ERR(cosig_verify(&v, BODY, strlen(BODY), line, len, &t), AT_OK);
    CHECK(t == (uint64_t) INT64_MAX);
    note_signer_destroy(&s);
}

static void test_vkeys(void)
{
    at_err err;
    note_signer_t *s = note_signer_parse(GO_SKEY, &err);
    note_verifier_t v, back;
    char text[NOTE_KEY_TEXT_MAX], bad[NOTE_KEY_TEXT_MAX];
    if (!s)
        return;
    cosig_signer_verifier(s, &v);
    size_t n = cosig_verifier_format(&v, text, sizeof text);
    CHECK(n > 0 && n == strlen(text) && strncmp(text, "PeterNeumann+", 13) == 0);
    CHECK(cosig_verifier_format(&v, text, n) == 0);   /* no room for the NUL */
    n = cosig_verifier_format(&v, text, sizeof text);
    CHECK_ERR(cosig_verifier_parse(&back, text), AT_OK);
    CHECK(memcmp(&back, &v, sizeof v) == 0);
    char hex[9];
    snprintf(hex, sizeof hex, "%08" PRIx32, v.key_id);
    CHECK(memcmp(text + 13, hex, 8) == 0);
    char b64[45];
    CHECK(strlen(text) == 22 + 44);
    memcpy(b64, text + 22, 44);
    b64[44] = '\0';
    struct { const char *what; char text[NOTE_KEY_TEXT_MAX]; } cases[8];
    snprintf(cases[0].text, sizeof cases[0].text, "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
    cases[0].what = "a note key (type 0x01)";
    snprintf(cases[1].text, sizeof cases[1].text, "PeterNeumann+%08" PRIx32 "+%s", v.key_id ^ 1u, b64);
    cases[1].what = "key ID of another key";
    snprintf(cases[2].text, sizeof cases[2].text, "Peter Neumann+%s+%s", hex, b64);
    cases[2].what = "a space in the name";
    snprintf(cases[3].text, sizeof cases[3].text, "+%s+%s", hex, b64);
    cases[3].what = "empty name";
    snprintf(cases[4].text, sizeof cases[4].text, "PeterNeumann+%s+%.43s", hex, b64);
    cases[4].what = "base64 cut short";
    snprintf(cases[5].text, sizeof cases[5].text, "PeterNeumann+%.7s+%s", hex, b64);
    cases[5].what = "7 hex digits";
    snprintf(cases[6].text, sizeof cases[6].text, "PeterNeumann+%s", hex);
    cases[6].what = "no key";
    snprintf(cases[7].text, sizeof cases[7].text, "PeterNeumann+%s+%sA", hex, b64);
    cases[7].what = "trailing base64";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(bad, sizeof bad, "%s", cases[i].text);
        if (cosig_verifier_parse(&back, bad) != AT_ERR_CONFIG)
            fprintf(stderr, "vkey case %zu (%s) accepted\n", i, cases[i].what);
        CHECK_ERR(cosig_verifier_parse(&back, bad), AT_ERR_CONFIG);
    }
    note_signer_destroy(&s);
}

/*  Flips bit `bit` of the base64-decoded byte at `at` of a line and
 *  re-encodes it. */
static void s_tamper_raw(const char *line, size_t at, char *out, size_t cap)
{
    const char *sp = strchr(line + 4, ' ') + 1;
    uint8_t raw[COSIG_RAW_BYTES];
    size_t len;
    sodium_base642bin(raw, sizeof raw, sp, strcspn(sp, "\n"), NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL);
    raw[at] ^= 0x01;
    char enc[sodium_base64_ENCODED_LEN(COSIG_RAW_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(enc, sizeof enc, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap, "%.*s%s\n", (int) (sp - line), line, enc);
}

static void test_tampering(void)
{
    at_err err;
    note_signer_t *s = note_signer_parse(GO_SKEY, &err);
    char line[COSIG_LINE_MAX];
    size_t len = 0;
    note_verifier_t v;
    if (!s)
        return;
    cosig_signer_verifier(s, &v);
    CHECK_ERR(cosig_sign(s, BODY, strlen(BODY), T0, line, sizeof line, &len), AT_OK);
    struct { const char *what, *body; char line[COSIG_LINE_MAX + 64]; at_err want; } c[12];
    size_t k = 0;
    c[k].what = "a byte of the signature"; c[k].body = BODY; s_tamper_raw(line, 40, c[k].line, sizeof c[k].line);
    c[k++].want = AT_ERR_SIGNATURE;
    c[k].what = "the timestamp"; c[k].body = BODY; s_tamper_raw(line, 11, c[k].line, sizeof c[k].line);
    c[k++].want = AT_ERR_SIGNATURE;
    c[k].what = "the key ID"; c[k].body = BODY; s_tamper_raw(line, 0, c[k].line, sizeof c[k].line);
    c[k++].want = AT_ERR_NOT_FOUND;
    c[k].what = "the tree size";
    c[k].body = "example.com/behind-the-sofa\n20852164\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    snprintf(c[k].line, sizeof c[k].line, "%s", line); c[k++].want = AT_ERR_SIGNATURE;
    c[k].what = "an extension line added"; c[k].body = BODY "time 5\n";
    snprintf(c[k].line, sizeof c[k].line, "%s", line); c[k++].want = AT_ERR_SIGNATURE;
    c[k].what = "another name"; c[k].body = BODY;
    snprintf(c[k].line, sizeof c[k].line, "\xe2\x80\x94 PeterNeumanN %s", strchr(line + 4, ' ') + 1);
    c[k++].want = AT_ERR_NOT_FOUND;
    c[k].what = "no em dash"; c[k].body = BODY; snprintf(c[k].line, sizeof c[k].line, "- %s", line + 4);
    c[k++].want = AT_ERR_SHAPE;
    c[k].what = "no space"; c[k].body = BODY; snprintf(c[k].line, sizeof c[k].line, "\xe2\x80\x94 PeterNeumann");
    c[k++].want = AT_ERR_SHAPE;
    c[k].what = "base64 cut (not 76 bytes)"; c[k].body = BODY;
    snprintf(c[k].line, sizeof c[k].line, "%.*s\n", (int) (len - 1 - 4), line); c[k++].want = AT_ERR_SIGNATURE;
    c[k].what = "not base64"; c[k].body = BODY; snprintf(c[k].line, sizeof c[k].line, "%.*s!\n", (int) (len - 2), line);
    c[k++].want = AT_ERR_SHAPE;
    c[k].what = "a body of 2 lines"; c[k].body = "example.com/behind-the-sofa\n20852163\n";
    snprintf(c[k].line, sizeof c[k].line, "%s", line); c[k++].want = AT_ERR_SHAPE;
    c[k].what = "the untampered line"; c[k].body = BODY; snprintf(c[k].line, sizeof c[k].line, "%s", line);
    c[k++].want = AT_OK;
    for (size_t i = 0; i < k; i++) {
        at_err got = cosig_verify(&v, c[i].body, strlen(c[i].body), c[i].line, strlen(c[i].line), NULL);
        if (got != c[i].want)
            fprintf(stderr, "tamper case %zu (%s)\n", i, c[i].what);
        CHECK_ERR(got, c[i].want);
    }
    note_signer_destroy(&s);
}

/*  A checkpoint signed by the log and cosigned by a witness: note_open with
 *  the log key still accepts it (the cosignature is another key's line). */
static void test_cosigned_note(void)
{
    char skey[NOTE_KEY_TEXT_MAX], vkey[NOTE_KEY_TEXT_MAX], note[1024], line[COSIG_LINE_MAX];
    note_verifier_t logv, wv;
    at_err err;
    size_t len = 0, llen = 0, body_len = 0;
    CHECK_ERR(note_keygen("example.com/behind-the-sofa", skey, sizeof skey, vkey, sizeof vkey), AT_OK);
    note_signer_t *log = note_signer_parse(skey, &err), *w = note_signer_parse(GO_SKEY, &err);
    CHECK(log && w);
    if (!log || !w)
        return;
    CHECK_ERR(note_verifier_parse(&logv, vkey), AT_OK);
    cosig_signer_verifier(w, &wv);
    CHECK_ERR(note_sign(log, BODY, strlen(BODY), note, sizeof note, &len), AT_OK);
    CHECK_ERR(cosig_sign(w, BODY, strlen(BODY), T0, line, sizeof line, &llen), AT_OK);
    memcpy(note + len, line, llen + 1);
    CHECK_ERR(note_open(&logv, note, len + llen, &body_len), AT_OK);
    CHECK(body_len == strlen(BODY));
    /* The witness's key as a note verifier (0x01 key ID) finds no note signature in it. */
    note_verifier_t as_note;
    note_signer_verifier(w, &as_note);
    CHECK_ERR(note_open(&as_note, note, len + llen, &body_len), AT_ERR_NOT_FOUND);
    note_signer_destroy(&log);
    note_signer_destroy(&w);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_spec_example();
    test_sign_matches_spec();
    test_vkeys();
    test_tampering();
    test_cosigned_note();
    return check_done("test_cosig");
}
