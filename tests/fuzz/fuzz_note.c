/*  fuzz_note.c: signed notes and checkpoint bodies (tlog/note.h,
 *  tlog/checkpoint.h): what a verifier does with a checkpoint or a receipt
 *  fetched from anywhere.
 *
 *  Any bytes go through note_open (with the Go documentation's example
 *  verifier key), checkpoint_parse, and, as a NUL-terminated text, the two
 *  key parsers. Oracles: a note that opens has a body ending in "\n" right
 *  before the blank line; a checkpoint that parses formats again (its origin
 *  is valid) and the formatted body parses to the same fields; any input
 *  note_sign accepts as a body, once signed, opens with the signer's key to
 *  exactly that body. Witness cosignatures (tlog/cosig.h) likewise: any
 *  bytes as a cosignature line, and any body cosigned then verified.
 */
#include "checkpoint.h"
#include "cosig.h"
#include "fuzz.h"
#include "note.h"
#include <string.h>

#define S_SKEY "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define S_KEY_INPUT_MAX 512
#define S_SIGN_MAX 4096

static void s_checkpoint(const uint8_t *data, size_t size)
{
    checkpoint_t c, d;
    char body[CHECKPOINT_BODY_MAX];
    if (checkpoint_parse(&c, (const char *) data, size) != AT_OK)
        return;
    size_t n = checkpoint_format(&c, body, sizeof body);
    FUZZ_CHECK(n > 0 && checkpoint_parse(&d, body, n) == AT_OK);
    FUZZ_CHECK(memcmp(&c, &d, sizeof c) == 0);
}

static void s_keys(const uint8_t *data, size_t size)
{
    char text[S_KEY_INPUT_MAX + 1], out[NOTE_KEY_TEXT_MAX];
    note_verifier_t v, w;
    at_err err;
    size_t n = size < S_KEY_INPUT_MAX ? size : S_KEY_INPUT_MAX;
    memcpy(text, data, n);
    text[n] = '\0';
    if (note_verifier_parse(&v, text) == AT_OK) {   /* formats back and parses to the same key */
        FUZZ_CHECK(note_verifier_format(&v, out, sizeof out) > 0 && note_verifier_parse(&w, out) == AT_OK);
        FUZZ_CHECK(memcmp(&v, &w, sizeof v) == 0);
    }
    note_signer_t *s = note_signer_parse(text, &err);
    FUZZ_CHECK((s != NULL) == (err == AT_OK));
    note_signer_destroy(&s);
}

static void s_sign_open(const note_signer_t *s, const note_verifier_t *v, const uint8_t *data, size_t size)
{
    static char note[S_SIGN_MAX + NOTE_SIG_LINE_MAX + 1];
    size_t len = 0, body_len = 0;
    if (size > S_SIGN_MAX || note_sign(s, (const char *) data, size, note, sizeof note, &len) != AT_OK)
        return;
    FUZZ_CHECK(note_open(v, note, len, &body_len) == AT_OK && body_len == size);
    FUZZ_CHECK(memcmp(note, data, size) == 0);
}

/*  Witness cosignatures: any bytes as a cosignature line over a fixed body
 *  (never crashes; a line that verifies is one cosig_sign could have
 *  written), and any bytes cosigned as a body verify when they are a body. */
static void s_cosig(const note_signer_t *s, const uint8_t *data, size_t size)
{
    static const char body[] = "attest.test/fuzz\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    note_verifier_t w;
    cosig_signer_verifier(s, &w);
    uint64_t t = 0;
    at_err err = cosig_verify(&w, body, sizeof body - 1, (const char *) data, size, &t);
    FUZZ_CHECK(err != AT_OK || t <= COSIG_TIME_MAX);
    char line[COSIG_LINE_MAX];
    size_t len = 0;
    if (size <= S_SIGN_MAX && cosig_sign(s, (const char *) data, size, 1700000000, line, sizeof line, &len) == AT_OK)
        FUZZ_CHECK(cosig_verify(&w, (const char *) data, size, line, len, &t) == AT_OK && t == 1700000000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static note_signer_t *signer;
    static note_verifier_t v;
    if (!signer) {
        at_err err;
        signer = note_signer_parse(S_SKEY, &err);
        FUZZ_CHECK(signer != NULL);
        note_signer_verifier(signer, &v);
    }
    size_t body_len = 0;
    if (note_open(&v, (const char *) data, size, &body_len) == AT_OK) {
        FUZZ_CHECK(body_len > 0 && body_len < size && data[body_len - 1] == '\n' && data[body_len] == '\n');
        s_checkpoint(data, body_len);
    }
    s_checkpoint(data, size);
    s_keys(data, size);
    s_sign_open(signer, &v, data, size);
    s_cosig(signer, data, size);
    return 0;
}
