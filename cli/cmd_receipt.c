/*  cmd_receipt.c: `attest verify-receipt FILE|DIR... --log-key KEY`: checks
 *  receipts (cli/receipt.h) offline, with the log's public key alone, and
 *  prints what each proves, one line per file (--json: one JSON object per
 *  line); a directory stands for every *.json file in it (as written by
 *  attest submit --receipts). Exit 0 when every receipt verifies (and there
 *  was at least one), 1 otherwise, 2 for usage.
 */
#include "receipt.h"
#include "commands.h"
#include "config.h"
#include "jsonl.h"
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

#define S_RECEIPT_MAX (1u << 20)

static const cfg_def_t s_defs[] = {
    CFG_STR_NAMED("log-key", NULL, "the log's public key (attest keygen --log; attest up: DATA/keys/log.pub)"),
    CFG_BOOL_NAMED("json", "false", "one JSON object per receipt"),
};

/*  The file's bytes, NUL-terminated, in a malloc'ed buffer; NULL on error. */
static char *s_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = malloc(S_RECEIPT_MAX + 1);
    *len = buf ? fread(buf, 1, S_RECEIPT_MAX + 1, f) : 0;
    bool bad = !buf || ferror(f) || *len > S_RECEIPT_MAX;
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

static void s_print(const char *path, at_err rc, const receipt_info_t *r, bool json)
{
    char hex[65], when[32] = "";
    if (rc == AT_OK) {
        sodium_bin2hex(hex, sizeof hex, r->id, sizeof r->id);
        time_t t = (time_t) r->checkpoint_time;
        struct tm tm;
        if (r->checkpoint_time && gmtime_r(&t, &tm))
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    if (json) {
        json_t *o = rc ? json_pack("{s:s, s:b, s:s}", "file", path, "verified", 0, "error", at_strerror(rc))
                       : json_pack("{s:s, s:b, s:s, s:I, s:s, s:s, s:I, s:s, s:I}", "file", path, "verified", 1,
                                   "id", hex, "index", (json_int_t) r->index, "verdict",
                                   r->verdict ? "invalid" : "valid", "reason", at_strerror(r->reason), "tree_size",
                                   (json_int_t) r->tree_size, "origin", r->origin, "checkpoint_time",
                                   (json_int_t) r->checkpoint_time);
        jsonl_print(stdout, o);
        json_decref(o);
    } else if (rc) {
        printf("%s: NOT VERIFIED: %s\n", path, at_strerror(rc));
    } else {
        printf("%s: verified: id %s is entry %" PRIu64 " (%s%s) of log '%s', in its checkpoint of size %" PRIu64
               "%s%s\n", path, hex, r->index, r->verdict ? "invalid: " : "valid",
               r->verdict ? at_strerror(r->reason) : "", r->origin, r->tree_size, *when ? " signed " : "", when);
    }
}

/*  Verifies one file; returns 1 when it does not verify. */
static int s_verify_file(const char *path, const note_verifier_t *v, bool json)
{
    size_t len;
    char *text = s_read(path, &len);
    receipt_info_t r;
    at_err rc = text ? receipt_verify(text, len, v, &r) : AT_ERR_IO;
    if (!text)
        fprintf(stderr, "attest verify-receipt: cannot read %s: %s\n", path, strerror(errno));
    s_print(path, rc, &r, json);
    free(text);
    return rc != AT_OK;
}

/*  Verifies path, or every *.json in it when it is a directory; counts the
 *  files seen in *seen. Returns how many did not verify. */
static int s_verify_path(const char *path, const note_verifier_t *v, bool json, size_t *seen)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        (*seen)++;
        return s_verify_file(path, v, json);
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "attest verify-receipt: cannot read directory %s: %s\n", path, strerror(errno));
        return 1;
    }
    int bad = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, de->d_name);
        (*seen)++;
        bad += s_verify_file(file, v, json);
    }
    closedir(d);
    return bad;
}

static int s_run(const cfg_t *cfg, void *unused)
{
    (void) unused;
    note_verifier_t v;
    const char *key = cfg_str(cfg, "log-key");
    if (!*key) {
        fprintf(stderr, "attest verify-receipt: --log-key is required\n");
        return 2;
    }
    if (note_verifier_load(&v, key) != AT_OK) {
        fprintf(stderr, "attest verify-receipt: --log-key %s is not a log public key (attest keygen --log)\n", key);
        return 2;
    }
    size_t nfiles = cfg_npositional(cfg);
    if (nfiles == 0) {
        fprintf(stderr, "attest verify-receipt: name at least one receipt file\n");
        return 2;
    }
    int bad = 0;
    size_t seen = 0;
    for (size_t i = 0; i < nfiles; i++)
        bad += s_verify_path(cfg_positional(cfg, i), &v, cfg_bool(cfg, "json"), &seen);
    if (seen == 0)
        fprintf(stderr, "attest verify-receipt: no receipt found\n");
    fprintf(stderr, "attest verify-receipt: %zu receipts, %d not verified\n", seen, bad);
    return bad || seen == 0 ? 1 : 0;
}

int cmd_verify_receipt(int argc, char **argv)
{
    const cfg_app_t app = {
        .prog = "attest verify-receipt",
        .summary = "Usage: attest verify-receipt FILE|DIR... --log-key KEY [--json]\n\n"
                   "Checks receipts (attest submit --receipts) offline with the log's public key alone: the\n"
                   "checkpoint's signature, and the entry's inclusion proof under the checkpoint's root.",
        .defs = s_defs,
        .ndefs = sizeof s_defs / sizeof s_defs[0],
        .fn = s_run,
        .positionals = "FILE|DIR...",
    };
    return cfg_run(&app, argc, argv);
}
