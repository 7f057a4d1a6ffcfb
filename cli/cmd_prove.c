/*  cmd_prove.c: the proof subcommands of `attest log` (see cmd_prove.h),
 *  over the proofs of cli/logprove.h:
 *
 *    checkpoint [--size N] [--json]      the newest (or size-N) signed checkpoint note
 *    prove INDEX|ID [--size N]           inclusion proof of an entry (human text,
 *          [--json | --format c2sp|rfc9162 [--base64]]
 *    consistency OLD NEW                 consistency proof between two tree sizes
 *          [--json | --format rfc9162 [--base64]]
 *    verify (tree part)                  the tree recomputed from the entries, the
 *          [--log-key PUB] [--since CHECKPOINT_FILE] [--from I --to J]
 *                                        newest checkpoint's root and signature, and
 *                                        consistency with a checkpoint saved earlier
 *
 *  The log's public key: --log-key FILE, else DIR/../keys/log.pub when it
 *  exists (where `attest up` writes it); without one, or when the key found
 *  beside the log did not sign the checkpoint, the signature is not checked
 *  and verify says so; a key given that did not sign it fails. Encodings:
 *  docs/protocol-14-proofs.md; operators' notes: docs/ops-proofs.md.
 */
#include "cmd_prove.h"
#include "alloc.h"
#include "logprove.h"
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_NOTE_FILE_MAX 65536

typedef enum { S_TEXT, S_JSON, S_C2SP, S_RFC9162 } s_format_t;

/*  --json / --format: which output. -1 on a usage error (printed). */
static int s_format(const cfg_t *cfg, const char *cmd, bool c2sp_ok)
{
    const char *f = cfg_str(cfg, "format");
    if (cfg_bool(cfg, "json") || !strcmp(f, "json"))
        return S_JSON;
    if (!*f || !strcmp(f, "text"))
        return S_TEXT;
    if (!strcmp(f, "rfc9162"))
        return S_RFC9162;
    if (!strcmp(f, "c2sp") && c2sp_ok)
        return S_C2SP;
    fprintf(stderr, "attest log %s: --format is %s, got '%s'%s\n", cmd,
            c2sp_ok ? "text, json, c2sp or rfc9162" : "text, json or rfc9162", f,
            !c2sp_ok && !strcmp(f, "c2sp") ? " (C2SP defines no consistency proof encoding)" : "");
    return -1;
}

static void s_hex(const uint8_t h[MERKLE_HASH_BYTES], char out[2 * MERKLE_HASH_BYTES + 1])
{
    sodium_bin2hex(out, 2 * MERKLE_HASH_BYTES + 1, h, MERKLE_HASH_BYTES);
}

/*  The log's public key into *v: --log-key, else DIR/../keys/log.pub if it
 *  exists. *path names the file used (or ""). Returns S_KEY_GIVEN or
 *  S_KEY_FOUND when one is loaded, 0 when there is none, -1 when the file
 *  does not load (printed). */
enum { S_KEY_GIVEN = 1, S_KEY_FOUND = 2 };
static int s_log_key(const cfg_t *cfg, note_verifier_t *v, char *path, size_t cap)
{
    const char *given = cfg_str(cfg, "log-key");
    if (*given)
        snprintf(path, cap, "%s", given);
    else {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", cfg_str(cfg, "log-dir"));
        size_t n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
            dir[--n] = '\0';
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        snprintf(path, cap, "%s/keys/log.pub", slash ? (slash == dir ? "" : dir) : ".");
        struct stat st;
        if (stat(path, &st) != 0) {
            *path = '\0';
            return 0;
        }
    }
    at_err rc = note_verifier_load(v, path);
    if (rc) {
        fprintf(stderr, "attest log: the log key %s: %s (want the verifier key text 'name+keyid+base64' that "
                        "'attest keygen --log' writes to NAME.pub)\n", path, at_strerror(rc));
        return -1;
    }
    return *given ? S_KEY_GIVEN : S_KEY_FOUND;
}

/*  Opens a note with the key when there is one. A key only found beside the
 *  log (not given) that did not sign the note is not an error: the note is
 *  read unchecked and *checked says so (a restored log, a re-keyed sink). */
static at_err s_open_note(int have_key, const note_verifier_t *v, const char *note, size_t len, checkpoint_t *c,
                          bool *checked)
{
    *checked = false;
    at_err rc = logprove_open(have_key ? v : NULL, note, len, c);
    if (rc == AT_ERR_NOT_FOUND && have_key == S_KEY_FOUND)
        return logprove_open(NULL, note, len, c);
    *checked = have_key && rc == AT_OK;
    return rc;
}

static const char *s_open_err(at_err rc)
{
    return rc == AT_ERR_SIGNATURE ? "the log's signature does not verify"
         : rc == AT_ERR_NOT_FOUND ? "it carries no signature by this key (another log, or another key)"
         : "it is not a checkpoint note";
}

/*  Writes bytes raw (refused on a terminal) or as one base64 line. */
static int s_binary(const cfg_t *cfg, const char *cmd, const uint8_t *b, size_t len)
{
    if (cfg_bool(cfg, "base64")) {
        char s[sodium_base64_ENCODED_LEN(LOGPROVE_RFC9162_MAX, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(s, sizeof s, b, len, sodium_base64_VARIANT_ORIGINAL);
        printf("%s\n", s);
        return 0;
    }
    if (isatty(STDOUT_FILENO)) {
        fprintf(stderr, "attest log %s: the RFC 9162 encoding is binary: redirect it to a file or add --base64\n",
                cmd);
        return 2;
    }
    return fwrite(b, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
}

/*  The origin line of a note (for the RFC 9162 log id). */
static bool s_origin(const char *note, size_t len, char out[CHECKPOINT_ORIGIN_MAX + 1])
{
    checkpoint_t c;
    if (!note || logprove_open(NULL, note, len, &c) != AT_OK)
        return false;
    memcpy(out, c.origin, sizeof c.origin);
    return true;
}

static int s_print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        at_alloc_fail_("json_dumps", 0);   /* jansson fails only for want of memory here */
    printf("%s\n", s);
    free(s);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* --------------------------------------------------------------------------
 * checkpoint */

int prove_checkpoint(logdb_t *db, const cfg_t *cfg)
{
    uint64_t size = (uint64_t) cfg_int(cfg, "size"), at;
    const char *note;
    size_t len;
    at_err rc = logdb_checkpoint(db, size, &note, &len, &at);
    if (rc == AT_OK && size && at != size)
        rc = AT_ERR_NOT_FOUND;
    if (rc == AT_ERR_NOT_FOUND) {
        fprintf(stderr, "attest log checkpoint: no checkpoint %s stored (the sink signs one per commit once it has "
                        "a log key: its setting log-key)\n", size ? "of that size" : "is");
        return 1;
    }
    if (rc) {
        fprintf(stderr, "attest log checkpoint: %s\n", at_strerror(rc));
        return 1;
    }
    note_verifier_t v;
    char path[4096];
    int key = s_log_key(cfg, &v, path, sizeof path);
    checkpoint_t c;
    bool checked;
    if (key < 0)
        return 1;
    if (key && (rc = s_open_note(key, &v, note, len, &c, &checked)) != AT_OK) {
        fprintf(stderr, "attest log checkpoint: the checkpoint of size %" PRIu64 " does not open with %s: %s\n", at,
                path, s_open_err(rc));
        return 1;
    }
    if (key && !checked)
        fprintf(stderr, "attest log checkpoint: warning: not signed by the key beside the log (%s); pass the log's "
                        "key with --log-key\n", path);
    if (cfg_bool(cfg, "json") || !strcmp(cfg_str(cfg, "format"), "json")) {
        json_t *o = logprove_checkpoint_json(note, len);
        if (!o) {
            fprintf(stderr, "attest log checkpoint: the stored note is not a checkpoint (run 'attest log verify')\n");
            return 1;
        }
        return s_print_json(o);
    }
    return fwrite(note, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
}

/* --------------------------------------------------------------------------
 * prove */

/*  INDEX (decimal) or an attestation id / unique prefix (hex). */
static int s_index(logdb_t *db, const char *arg, uint64_t *index)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (!errno && end != arg && !*end && *arg != '-') {
        *index = v;
        return 0;
    }
    uint8_t id[AT_ID_BYTES];
    at_err rc = logdb_lookup_prefix(db, arg, id, index);
    if (rc == AT_OK)
        return 0;
    if (rc == AT_ERR_RANGE)
        fprintf(stderr, "attest log prove: want an INDEX or an attestation id (hex, a unique prefix will do), "
                        "got '%s'\n", arg);
    else if (rc == AT_ERR_DUPLICATE)
        fprintf(stderr, "attest log prove: the prefix %s is ambiguous (more than one id begins so): give more "
                        "digits\n", arg);
    else
        fprintf(stderr, "attest log prove: no entry with id %s%s%s\n", arg, rc == AT_ERR_NOT_FOUND ? "" : ": ",
                rc == AT_ERR_NOT_FOUND ? "" : at_strerror(rc));
    return rc == AT_ERR_RANGE ? 2 : 1;
}

static void s_print_hashes(const merkle_hash_t *proof, size_t len)
{
    char hex[2 * MERKLE_HASH_BYTES + 1];
    for (size_t i = 0; i < len; i++) {
        s_hex(proof[i], hex);
        printf("    %s\n", hex);
    }
}

static void s_print_checkpoint_line(const char *what, const char *note, size_t len, uint64_t size,
                                    const logprove_head_t *h)
{
    checkpoint_t c;
    if (note && logprove_open(NULL, note, len, &c) == AT_OK)
        printf("  %scheckpoint: the stored one of size %" PRIu64 " (origin %s, time %" PRIu64 "), same root\n", what,
               size, c.origin, c.time);
    else if (h->note)
        printf("  %scheckpoint: none stored of size %" PRIu64 " (the newest is of size %" PRIu64 ")\n", what, size,
               h->note_size);
    else
        printf("  %scheckpoint: none stored (the sink has no log key)\n", what);
}

static int s_inclusion_text(const logprove_inclusion_t *p, const logprove_head_t *h)
{
    char leaf[2 * MERKLE_HASH_BYTES + 1], root[2 * MERKLE_HASH_BYTES + 1];
    s_hex(p->leaf_hash, leaf);
    s_hex(p->root, root);
    printf("entry %" PRIu64 " is in the tree of size %" PRIu64 "\n", p->index, p->size);
    printf("  leaf hash: %s (SHA-256 of 0x00 and the entry's %zu stored bytes)\n", leaf, p->entry_len);
    printf("  root:      %s\n", root);
    s_print_checkpoint_line("", p->note, p->note_len, p->size, h);
    printf("  proof: %zu hash%s, from the leaf's sibling up:\n", p->len, p->len == 1 ? "" : "es");
    s_print_hashes(p->proof, p->len);
    printf("  checked: the proof leads from the leaf hash to the root\n");
    return fflush(stdout) == 0 ? 0 : 1;
}

/*  The tree size to prove against: --size, else the newest checkpoint's,
 *  else the tree's. */
static uint64_t s_default_size(const cfg_t *cfg, const logprove_head_t *h)
{
    if (cfg_is_set(cfg, "size"))
        return (uint64_t) cfg_int(cfg, "size");
    return h->note ? h->note_size : h->size;
}

static int s_head(logdb_t *db, const char *cmd, logprove_head_t *h)
{
    at_err rc = logprove_head(db, h);
    if (rc == AT_ERR_NOT_FOUND)
        fprintf(stderr, "attest log %s: the log has no Merkle tree yet (a log written before it: the sink builds "
                        "it when it opens the log)\n", cmd);
    else if (rc)
        fprintf(stderr, "attest log %s: reading the tree: %s\n", cmd, at_strerror(rc));
    return rc ? 1 : 0;
}

static int s_inclusion_out(const cfg_t *cfg, int format, const logprove_inclusion_t *p, const logprove_head_t *h)
{
    if (format == S_JSON)
        return s_print_json(logprove_inclusion_json(p));
    if (format == S_TEXT)
        return s_inclusion_text(p, h);
    if (format == S_C2SP) {
        char *s = logprove_c2sp(p);
        if (!s) {
            fprintf(stderr, "attest log prove: the C2SP proof carries the checkpoint of its size, and none of size "
                            "%" PRIu64 " is stored: prove against a checkpointed size (--size, 'attest log "
                            "checkpoint')\n", p->size);
            return 1;
        }
        int code = fputs(s, stdout) >= 0 && fflush(stdout) == 0 ? 0 : 1;
        free(s);
        return code;
    }
    char origin[CHECKPOINT_ORIGIN_MAX + 1];
    if (!s_origin(p->note, p->note_len, origin) && !s_origin(h->note, h->note_len, origin)) {
        fprintf(stderr, "attest log prove: the RFC 9162 log id comes from the log's origin, and no checkpoint is "
                        "stored\n");
        return 1;
    }
    uint8_t b[LOGPROVE_RFC9162_MAX];
    return s_binary(cfg, "prove", b, logprove_rfc9162_inclusion(p, origin, b));
}

int prove_inclusion(logdb_t *db, const cfg_t *cfg)
{
    int format = s_format(cfg, "prove", true), code;
    uint64_t index;
    logprove_head_t h;
    if (format < 0)
        return 2;
    if ((code = s_index(db, cfg_positional(cfg, 1), &index)) != 0 || (code = s_head(db, "prove", &h)) != 0)
        return code;
    logprove_inclusion_t *p = at_malloc(sizeof *p);
    char err[LOGPROVE_ERR_MAX];
    at_err rc = logprove_inclusion(db, index, s_default_size(cfg, &h), p, err);
    if (rc)
        fprintf(stderr, "attest log prove: %s\n", err);
    code = rc ? (rc == AT_ERR_RANGE ? 2 : 1) : s_inclusion_out(cfg, format, p, &h);
    free(p);
    return code;
}

/* --------------------------------------------------------------------------
 * consistency */

static bool s_size_arg(const char *arg, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    *out = v;
    return !errno && end != arg && !*end && *arg != '-';
}

static int s_consistency_text(const logprove_consistency_t *p, const logprove_head_t *h)
{
    char a[2 * MERKLE_HASH_BYTES + 1], b[2 * MERKLE_HASH_BYTES + 1];
    s_hex(p->old_root, a);
    s_hex(p->new_root, b);
    printf("the tree of size %" PRIu64 " extends the tree of size %" PRIu64 "\n", p->new_size, p->old_size);
    printf("  old root: %s\n", a);
    printf("  new root: %s\n", b);
    s_print_checkpoint_line("old ", p->old_note, p->old_note_len, p->old_size, h);
    s_print_checkpoint_line("new ", p->new_note, p->new_note_len, p->new_size, h);
    printf("  proof: %zu hash%s:\n", p->len, p->len == 1 ? "" : "es");
    s_print_hashes(p->proof, p->len);
    printf("  checked: the proof leads from the old root to the new one\n");
    return fflush(stdout) == 0 ? 0 : 1;
}

static int s_consistency_out(const cfg_t *cfg, int format, const logprove_consistency_t *p,
                             const logprove_head_t *h)
{
    if (format == S_JSON)
        return s_print_json(logprove_consistency_json(p));
    if (format == S_TEXT)
        return s_consistency_text(p, h);
    char origin[CHECKPOINT_ORIGIN_MAX + 1];
    if (!s_origin(h->note, h->note_len, origin)) {
        fprintf(stderr, "attest log consistency: the RFC 9162 log id comes from the log's origin, and no "
                        "checkpoint is stored\n");
        return 1;
    }
    uint8_t b[LOGPROVE_RFC9162_MAX];
    return s_binary(cfg, "consistency", b, logprove_rfc9162_consistency(p, origin, b));
}

int prove_consistency(logdb_t *db, const cfg_t *cfg)
{
    int format = s_format(cfg, "consistency", false), code;
    uint64_t old_size, new_size;
    logprove_head_t h;
    if (format < 0)
        return 2;
    if (!s_size_arg(cfg_positional(cfg, 1), &old_size) || !s_size_arg(cfg_positional(cfg, 2), &new_size)) {
        fprintf(stderr, "attest log consistency: want two tree sizes OLD NEW (decimal), got '%s' '%s'\n",
                cfg_positional(cfg, 1), cfg_positional(cfg, 2));
        return 2;
    }
    if ((code = s_head(db, "consistency", &h)) != 0)
        return code;
    logprove_consistency_t *p = at_malloc(sizeof *p);
    char err[LOGPROVE_ERR_MAX];
    at_err rc = logprove_consistency(db, old_size, new_size, p, err);
    if (rc)
        fprintf(stderr, "attest log consistency: %s\n", err);
    code = rc ? (rc == AT_ERR_RANGE ? 2 : 1) : s_consistency_out(cfg, format, p, &h);
    free(p);
    return code;
}

/* --------------------------------------------------------------------------
 * verify: the tree */

typedef struct {
    logdb_t *db;
    const cfg_t *cfg;
    logprove_head_t head;
    checkpoint_t cp;            /* the newest checkpoint's body (when head.note) */
    note_verifier_t key;
    int have_key;               /* s_log_key's answer */
    bool checked;               /* the newest checkpoint's signature was checked */
    char key_path[4096];
} s_tree_t;

static int s_fail(uint64_t at, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_fail(uint64_t at, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("verify: FAILED at index %" PRIu64 ": %s\n", at, msg);
    return 1;
}

/*  The newest checkpoint: its body, its root against the stored tiles', its
 *  signature when there is a key. */
static int s_verify_checkpoint(s_tree_t *t)
{
    if (!t->head.note) {
        if (t->have_key == S_KEY_GIVEN)
            return s_fail(t->head.size, "checkpoints: none stored, but a log key was given (%s)", t->key_path);
        printf("verify: checkpoint: none stored (the sink has no log key); nothing signed to check\n");
        return 0;
    }
    at_err rc = s_open_note(t->have_key, &t->key, t->head.note, t->head.note_len, &t->cp, &t->checked);
    if (rc)
        return s_fail(t->head.note_size, "checkpoint of size %" PRIu64 ": %s%s%s", t->head.note_size,
                      s_open_err(rc), t->have_key ? " with " : "", t->have_key ? t->key_path : "");
    if (t->cp.size != t->head.note_size)
        return s_fail(t->head.note_size, "checkpoint: stored under size %" PRIu64 " but says %" PRIu64,
                      t->head.note_size, t->cp.size);
    uint8_t root[MERKLE_HASH_BYTES];
    merkle_reader_t r = logdb_merkle_reader(t->db);
    if (t->cp.size > t->head.size || merkle_root(&r, t->cp.size, root) != AT_OK
        || sodium_memcmp(root, t->cp.root, MERKLE_HASH_BYTES) != 0)
        return s_fail(t->cp.size, "checkpoint of size %" PRIu64 ": its root is not the tree's root at that size",
                      t->cp.size);
    char hex[2 * MERKLE_HASH_BYTES + 1];
    s_hex(t->cp.root, hex);
    char sig[4096 + NOTE_NAME_MAX + 16];
    if (t->checked)
        snprintf(sig, sizeof sig, "ok, by %s (%s)", t->key.name, t->key_path);
    else if (t->have_key)
        snprintf(sig, sizeof sig, "NOT CHECKED (the key beside the log, %s, did not sign it: pass the log's key "
                                  "with --log-key)", t->key_path);
    else
        snprintf(sig, sizeof sig, "NOT CHECKED (no --log-key given and no DIR/../keys/log.pub)");
    printf("verify: checkpoint: size=%" PRIu64 " root=%s origin=%s time=%" PRIu64 " root=ok signature=%s\n",
           t->cp.size, hex, t->cp.origin, t->cp.time, sig);
    return 0;
}

static int s_read_file(const char *path, char *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "attest log verify: --since %s: %s\n", path, strerror(errno));
        return 1;
    }
    *len = fread(buf, 1, cap, f);
    bool bad = ferror(f) || *len == cap;
    fclose(f);
    if (bad)
        fprintf(stderr, "attest log verify: --since %s: cannot read it, or larger than %d bytes\n", path, (int) cap);
    return bad ? 1 : 0;
}

/*  --since FILE: the saved checkpoint opens (signature checked with the
 *  key), is of the same origin, and the newest tree extends it. */
static int s_verify_since(s_tree_t *t, const char *path)
{
    char *buf = at_malloc(S_NOTE_FILE_MAX);
    size_t len;
    checkpoint_t old;
    at_err rc = AT_OK;
    bool checked = false;
    int code = s_read_file(path, buf, S_NOTE_FILE_MAX, &len);
    if (code == 0 && (rc = s_open_note(t->have_key, &t->key, buf, len, &old, &checked)) != AT_OK)
        code = s_fail(0, "--since %s: %s", path, s_open_err(rc));
    free(buf);
    if (code)
        return code;
    uint64_t new_size = t->head.note ? t->cp.size : t->head.size;
    if (t->head.note && strcmp(old.origin, t->cp.origin) != 0)
        return s_fail(0, "--since %s: a checkpoint of another log (origin %s, this log's is %s)", path, old.origin,
                      t->cp.origin);
    if (old.size > new_size)
        return s_fail(new_size, "--since %s: the saved checkpoint has %" PRIu64 " entries, the log only %" PRIu64
                      ": the log was truncated or replaced", path, old.size, new_size);
    if (old.size == 0) {
        printf("verify: since: the saved checkpoint %s is of the empty tree, which every tree extends\n", path);
        return 0;
    }
    logprove_consistency_t *p = at_malloc(sizeof *p);
    char err[LOGPROVE_ERR_MAX];
    if ((rc = logprove_consistency(t->db, old.size, new_size, p, err)) != AT_OK)
        code = s_fail(old.size, "--since %s: %s", path, err);
    if (code == 0 && !merkle_verify_consistency(old.size, new_size, old.root, p->new_root, p->proof, p->len))
        code = s_fail(old.size, "--since %s: the saved root of size %" PRIu64 " is NOT a prefix of today's tree: "
                      "the log was rewritten since that checkpoint", path, old.size);
    if (code == 0)
        printf("verify: since: the tree of size %" PRIu64 " extends the saved checkpoint of size %" PRIu64
               " (%s; consistency proof of %zu hashes checked; signature %s)\n", new_size, old.size, path, p->len,
               checked ? "ok" : "NOT CHECKED");
    free(p);
    return code;
}

static int s_verify_tiles(s_tree_t *t, uint64_t from, uint64_t to, uint64_t n)
{
    logprove_audit_t st = { 0, 0 };
    uint64_t at = 0;
    char problem[LOGPROVE_ERR_MAX];
    bool whole = from == 0 && to == n;
    if (t->head.size != n)
        return s_fail(t->head.size < n ? t->head.size : n, "tree: it has %" PRIu64 " leaves, the log %" PRIu64
                      " entries", t->head.size, n);
    bool ok = whole ? logprove_audit_tree(t->db, n, t->head.root, &st, &at, problem)
                    : logprove_audit_range(t->db, from, to, &st, &at, problem);
    if (!ok)
        return s_fail(at, "tree: %s", problem);
    char hex[2 * MERKLE_HASH_BYTES + 1];
    s_hex(t->head.root, hex);
    if (whole)
        printf("verify: tree: size=%" PRIu64 " root=%s recomputed from the entries: leaves=%" PRIu64 " tiles=%" PRIu64
               " all equal to the stored ones\n", n, hex, st.leaves, st.tiles);
    else
        printf("verify: tree: the leaf hashes of entries [%" PRIu64 ", %" PRIu64 ") equal the stored level-0 tiles\n",
               from, to);
    return 0;
}

/*  logdb_tree refused the stored tree: the audit (without a root to compare)
 *  names the first bad tile when it can. */
static int s_tree_unreadable(logdb_t *db, at_err rc, uint64_t n)
{
    logprove_audit_t st = { 0, 0 };
    uint64_t at = 0;
    char problem[LOGPROVE_ERR_MAX];
    if (rc == AT_ERR_CORRUPT && !logprove_audit_tree(db, n, NULL, &st, &at, problem))
        return s_fail(at, "tree: %s", problem);
    return s_fail(0, "tree: the stored tree cannot be read: %s", at_strerror(rc));
}

int prove_verify_tree(logdb_t *db, const cfg_t *cfg, uint64_t from, uint64_t to, uint64_t n)
{
    s_tree_t *t = at_calloc(1, sizeof *t);
    t->db = db;
    t->cfg = cfg;
    const char *since = cfg_str(cfg, "since");
    int code = (t->have_key = s_log_key(cfg, &t->key, t->key_path, sizeof t->key_path)) < 0 ? 1 : 0;
    at_err rc = code ? AT_OK : logprove_head(db, &t->head);
    if (code == 0 && rc == AT_ERR_NOT_FOUND) {
        if (t->have_key == S_KEY_GIVEN || *since)
            code = s_fail(0, "tree: the log has no Merkle tree (nothing to check the %s against)",
                          *since ? "saved checkpoint" : "log key");
        else
            fprintf(stderr, "verify: tree: none (a log written before the tree: the sink builds it when it opens "
                            "the log); nothing signed to check\n");   /* stderr: stdout stays the entries' summary */
    } else if (code == 0 && rc)
        code = s_tree_unreadable(db, rc, n);
    else if (code == 0 && (code = s_verify_tiles(t, from, to, n)) == 0 && (code = s_verify_checkpoint(t)) == 0
             && *since)
        code = s_verify_since(t, since);
    free(t);
    return code;
}
