/*  cmd_note.c: `attest note verify --key PUB FILE` and `attest note sign
 *  --key KEY FILE`: signed notes (tlog/note.h) from the command line, the
 *  format of the log's checkpoints.
 *
 *  verify opens the note in FILE with the verifier key in PUB (a NAME.pub
 *  made by `attest keygen --log`, or any Go sumdb/note verifier key) and,
 *  when a signature by that key verifies, prints the body and exits 0;
 *  otherwise it says why on stderr and exits 1. sign signs the body in
 *  FILE with the signer key in KEY (NAME.key, mode 0600) and prints the
 *  note. FILE "-" is standard input; it is read up to S_FILE_MAX bytes.
 *  Operators use them to check a checkpoint they fetched or saved, and the
 *  Go interoperability test uses them to cross-check both directions.
 */
#include "alloc.h"
#include "commands.h"
#include "config.h"
#include "note.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define S_FILE_MAX (1u << 20)

static const cfg_def_t s_defs[] = {
    CFG_STR_NAMED_SHORT("key", 'k', NULL, "verify: the verifier key file (NAME.pub); sign: the signer key (NAME.key)"),
};

/*  The whole of path ("-": stdin) in a new buffer the caller frees. */
static char *s_slurp(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "attest note: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = at_malloc(S_FILE_MAX + 1);
    size_t n = fread(buf, 1, S_FILE_MAX + 1, f);
    bool bad = ferror(f) != 0;
    if (f != stdin)
        fclose(f);
    if (bad || n > S_FILE_MAX) {
        fprintf(stderr, "attest note: %s: %s\n", path, bad ? "read error" : "longer than 1 MiB");
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int s_verify(const char *key, const char *path)
{
    note_verifier_t v;
    size_t len = 0, body_len = 0;
    if (note_verifier_load(&v, key) != AT_OK)
        return 1;   /* logged */
    char *note = s_slurp(path, &len);
    if (!note)
        return 1;
    at_err rc = note_open(&v, note, len, &body_len);
    if (rc == AT_OK)
        fwrite(note, 1, body_len, stdout);
    else if (rc == AT_ERR_SHAPE)
        fprintf(stderr, "attest note: %s: not a signed note\n", path);
    else if (rc == AT_ERR_NOT_FOUND)
        fprintf(stderr, "attest note: %s: no signature by %s+%08x\n", path, v.name, (unsigned) v.key_id);
    else
        fprintf(stderr, "attest note: %s: the signature by %s+%08x does not verify\n", path, v.name,
                (unsigned) v.key_id);
    free(note);
    return rc == AT_OK ? 0 : 1;
}

static int s_sign(const char *key, const char *path)
{
    at_err err;
    size_t len = 0, out_len = 0;
    note_signer_t *signer = note_signer_load(key, &err);
    if (!signer)
        return 1;   /* logged */
    char *body = s_slurp(path, &len);
    char *out = body ? at_malloc(len + NOTE_SIG_LINE_MAX + 1) : NULL;
    if (body && (err = note_sign(signer, body, len, out, len + NOTE_SIG_LINE_MAX + 1, &out_len)) != AT_OK)
        fprintf(stderr, "attest note: %s: not a note body (non-empty lines of UTF-8, each ending in a newline, "
                "no control characters): %s\n", path, at_strerror(err));
    else if (body)
        fwrite(out, 1, out_len, stdout);
    note_signer_destroy(&signer);
    free(out);
    free(body);
    return body && err == AT_OK ? 0 : 1;
}

static int s_run(const cfg_t *cfg, void *unused)
{
    (void) unused;
    const char *sub = cfg_positional(cfg, 0), *key = cfg_str(cfg, "key");
    bool verify = sub && strcmp(sub, "verify") == 0, sign = sub && strcmp(sub, "sign") == 0;
    if (!verify && !sign) {
        fprintf(stderr, "attest note: which subcommand? verify or sign (try --help)\n");
        return 2;
    }
    if (cfg_npositional(cfg) != 2 || !*key) {
        fprintf(stderr, "attest note: usage: attest note %s --key %s FILE\n", sub, verify ? "PUB" : "KEY");
        return 2;
    }
    return verify ? s_verify(key, cfg_positional(cfg, 1)) : s_sign(key, cfg_positional(cfg, 1));
}

int cmd_note(int argc, char **argv)
{
    const cfg_app_t app = {
        .prog = "attest note",
        .summary = "Usage: attest note verify --key PUB FILE\n"
                   "       attest note sign --key KEY FILE\n\n"
                   "Signed notes (C2SP signed-note, Ed25519; the format of the log's checkpoints\n"
                   "and of Go's golang.org/x/mod/sumdb/note). FILE - is standard input.\n"
                   "  verify   checks the note in FILE against the verifier key in PUB (NAME.pub\n"
                   "           from `attest keygen --log`); prints its body and exits 0 when a\n"
                   "           signature by that key verifies, else says why and exits 1.\n"
                   "           Signatures by other keys (cosigners) are ignored.\n"
                   "  sign     signs the body in FILE with the signer key in KEY (NAME.key, mode\n"
                   "           0600) and prints the note.",
        .defs = s_defs,
        .ndefs = sizeof s_defs / sizeof s_defs[0],
        .positionals = "verify|sign FILE",
        .fn = s_run,
    };
    return cfg_run(&app, argc, argv);
}
