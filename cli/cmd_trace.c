/*  cmd_trace.c: `attest trace ID|INDEX [--log-dir DIR] [--log-key PUB] [--json]`:
 *  everything the log knows about one attestation, in one view, read from
 *  one read snapshot of the LMDB log (no cluster needed):
 *    entry        id, index, verdict and reason, the attestation's schema,
 *                 attester, subject, issued_at, expires_at
 *    lineage      producer and its authenticated CURVE key, cseq, broker
 *                 seq and epoch (entry format 3), the worker and its key
 *                 (format 2)
 *    stages       t_received, t_dispatched, t_verified, t_committed and
 *                 the durations between them
 *    same id      the other entries with the id (invalid copies, and the
 *                 valid one when this is a copy)
 *    audit        the spot audit's recorded disagreement about the index
 *    checkpoint   the oldest stored checkpoint whose tree holds the entry,
 *                 its signature checked with the log's public key, and an
 *                 inclusion proof of the entry's leaf built from the
 *                 snapshot's tiles and checked against the signed root
 *    status       valid, invalid (reason), revoked at index N by entry M
 *                 (logdb_revoked; the revocation's own checkpoint and proof
 *                 checked too), or expired since T by the clock of the
 *                 newest checkpoint (now when there is none)
 *  Human-readable "key: value" sections by default, one JSON object with
 *  --json (fields in docs/ops-trace.md). Exit status: 0 found (and every
 *  check that ran passed), 1 not found, ambiguous prefix, unreadable log, or
 *  a check that FAILED (signature, proof, size), 2 bad usage.
 */
#include "alloc.h"
#include "attestation.h"
#include "checkpoint.h"
#include "clock.h"
#include "commands.h"
#include "config.h"
#include "jsonl.h"
#include "logdb.h"
#include "logfind.h"
#include "merkle.h"
#include "note.h"
#include "wire.h"
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_COPIES_MAX 64        /* other entries with the id shown */
#define S_PATH_MAX 4096

static const cfg_def_t s_defs[] = {
    CFG_STR_ALIAS_NAMED("log-dir", "dir", "attest-data/log", "log directory (the sink's --log-dir; holds data.mdb)"),
    CFG_STR_NAMED("log-key", "", "the log's public key file (NAME.pub of 'attest keygen --log') to check the "
                                 "checkpoint's signature with (default: DIR/../keys/log.pub when it exists)"),
    CFG_BOOL_NAMED("json", "false", "one JSON object with every field, for tools"),
};

/*  A stored checkpoint, opened and parsed. */
typedef struct {
    bool found;
    const char *note;          /* borrowed from the snapshot */
    size_t note_len;
    uint64_t size;             /* the size it is stored under */
    checkpoint_t body;
    bool parsed;
    const char *sig;           /* what became of its signature, for a person */
    bool sig_checked, sig_ok;
} s_cp_t;

/*  The inclusion proof of the entry in the covering checkpoint's tree. */
typedef struct {
    bool built, checked;
    uint64_t index, size;      /* leaf index in the tree of size */
    at_err err;                /* why it was not built */
    uint8_t leaf[MERKLE_HASH_BYTES];
    merkle_hash_t hashes[MERKLE_PROOF_MAX];
    size_t len;
} s_proof_t;

typedef struct {
    const cfg_t *cfg;
    logdb_t *db;
    uint64_t index;
    logdb_entry_t e;
    const uint8_t *raw;        /* the stored value (the leaf), borrowed */
    size_t raw_len;
    attestation_t a;
    at_err att_err;
    uint64_t copies[S_COPIES_MAX];   /* other entries with the id, ascending */
    size_t ncopies;
    uint64_t copies_total;
    bool has_valid_copy;       /* this entry is invalid and the id's valid entry is */
    uint64_t valid_copy;       /* ... at this index */
    bool audited;
    logdb_audit_t audit;
    char audit_worker[ENTRY_NAME_MAX + 1];
    bool has_key;
    note_verifier_t key;
    char key_path[S_PATH_MAX];
    char key_text[NOTE_KEY_TEXT_MAX];
    s_cp_t cp, newest;         /* covering, newest (the expiry clock) */
    s_proof_t proof;
    bool revoked;
    uint64_t revoked_by;       /* the revocation's index */
    uint8_t revoked_by_id[AT_ID_BYTES];
    logdb_entry_t rev;         /* the revocation's entry */
    attestation_t rev_a;
    bool rev_a_ok;
    s_cp_t rev_cp;             /* the checkpoint that first covers it */
    s_proof_t rev_proof;
    bool expired, clock_is_cp;
    uint64_t clock_s;          /* the expiry clock, unix seconds */
    bool failed;               /* a check failed: exit 1 */
} s_trace_t;

/* ------------------------------------------------------------ small helpers */

/*  "2026-12-02T01:02:03Z" for unix seconds (32 bytes). */
static void s_utc_s(uint64_t s, char out[32])
{
    struct tm tm;
    time_t t = (time_t) s;
    if (s > (uint64_t) 253402300799u || !gmtime_r(&t, &tm))   /* after 9999-12-31 */
        snprintf(out, 32, "(beyond year 9999)");
    else
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *s_verdict(uint8_t v)
{
    return v == WIRE_VALID ? "valid" : "invalid";
}

/*  A CURVE key in Z85, "-" when the entry names none. */
static void s_z85(const uint8_t *key, size_t len, char out[48])
{
    if (len != ENTRY_KEY_BYTES || !zmq_z85_encode(out, key, ENTRY_KEY_BYTES))
        snprintf(out, 48, "-");
}

static void s_hex(const uint8_t *bin, size_t n, char *out, size_t cap)
{
    sodium_bin2hex(out, cap, bin, n);
}

/*  b - a in us, signed (the stamps come from three processes, maybe three
 *  hosts whose clocks disagree). */
static int64_t s_delta(uint64_t a, uint64_t b)
{
    return b >= a ? (int64_t) (b - a) : -(int64_t) (a - b);
}

static json_t *s_json_delta(int64_t d)
{
    /* jsonl_print writes integers as u64: a negative one as a real */
    return d >= 0 ? json_integer(d) : json_real((double) d);
}

/* ------------------------------------------------------------ finding the entry */

/*  The entry named by arg: an index (decimal digits, fewer than 64) or an
 *  id or a unique prefix of one (hex). Returns the exit status. */
static int s_resolve(s_trace_t *t, const char *arg)
{
    size_t n = strlen(arg);
    if (n && n < 2 * AT_ID_BYTES && strspn(arg, "0123456789") == n) {
        errno = 0;
        t->index = strtoull(arg, NULL, 10);
        if (errno || t->index >= logdb_count(t->db)) {
            fprintf(stderr, "attest trace: no entry at index %s (the log has %" PRIu64 " entries)\n", arg,
                    logdb_count(t->db));
            return 1;
        }
        return 0;
    }
    uint8_t id[AT_ID_BYTES];
    at_err rc = logdb_lookup_prefix(t->db, arg, id, &t->index);
    if (rc == AT_ERR_RANGE) {
        fprintf(stderr, "attest trace: want a log INDEX (decimal) or an attestation ID (up to %d hex digits, a "
                        "unique prefix will do), got '%s'\n", 2 * AT_ID_BYTES, arg);
        return 2;
    }
    if (rc == AT_ERR_DUPLICATE)
        fprintf(stderr, "attest trace: the prefix %s is ambiguous (more than one id begins so): give more digits\n",
                arg);
    else if (rc == AT_ERR_NOT_FOUND)
        fprintf(stderr, "attest trace: no entry with id %s\n", arg);
    else if (rc)
        fprintf(stderr, "attest trace: looking up %s: %s (run 'attest log verify')\n", arg, at_strerror(rc));
    return rc ? 1 : 0;
}

static int s_load_entry(s_trace_t *t)
{
    at_err rc = logdb_get(t->db, t->index, &t->e, &t->raw, &t->raw_len);
    if (rc) {
        fprintf(stderr, "attest trace: entry %" PRIu64 ": %s (run 'attest log verify')\n", t->index,
                at_strerror(rc));
        return 1;
    }
    t->att_err = attestation_decode(&t->a, t->e.att, t->e.att_len);
    return 0;
}

/*  The other entries with the id: its invalid entries (a scan: the ids
 *  index holds the latest only) and the valid one, which is the latest. */
static int s_load_copies(s_trace_t *t)
{
    uint64_t found[S_COPIES_MAX];
    int64_t n = logdb_find_invalid(t->db, t->e.id, 0, found, S_COPIES_MAX);
    if (n < 0) {
        fprintf(stderr, "attest trace: scanning for copies: %s (run 'attest log verify')\n", at_strerror((int) -n));
        return 1;
    }
    for (int64_t i = 0; i < n && i < S_COPIES_MAX; i++)
        if (found[i] != t->index)
            t->copies[t->ncopies++] = found[i];
    t->copies_total = (uint64_t) n - (t->e.verdict != WIRE_VALID);
    uint64_t latest;
    logdb_entry_t v;
    if (logdb_lookup_id(t->db, t->e.id, &latest) == AT_OK && latest != t->index
        && logdb_get(t->db, latest, &v, NULL, NULL) == AT_OK && v.verdict == WIRE_VALID) {
        if (t->ncopies < S_COPIES_MAX)
            t->copies[t->ncopies++] = latest;
        t->copies_total++;
        t->has_valid_copy = true;
        t->valid_copy = latest;
    }
    return 0;
}

static int s_audit_fn(const logdb_audit_t *a, void *arg)
{
    s_trace_t *t = arg;
    if (a->index < t->index)
        return 0;
    if (a->index == t->index) {
        t->audited = true;
        t->audit = *a;
        size_t n = a->worker_len < ENTRY_NAME_MAX ? a->worker_len : ENTRY_NAME_MAX;
        memcpy(t->audit_worker, a->worker, n);
        t->audit_worker[n] = '\0';
        t->audit.worker = t->audit_worker;
        t->audit.worker_len = n;
    }
    return 1;   /* in index order: nothing further is ours */
}

static int s_load_audit(s_trace_t *t)
{
    at_err rc = logdb_audit_each(t->db, s_audit_fn, t);
    if (rc) {
        fprintf(stderr, "attest trace: the audit database: %s\n", at_strerror(rc));
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ the log's key */

/*  --log-key, else DIR/../keys/log.pub when it exists. Returns the exit
 *  status (2: an explicit key that cannot be used). */
static int s_load_key(s_trace_t *t)
{
    const char *given = cfg_str(t->cfg, "log-key");
    struct stat st;
    if (*given)
        snprintf(t->key_path, sizeof t->key_path, "%s", given);
    else
        snprintf(t->key_path, sizeof t->key_path, "%s/../keys/log.pub", cfg_str(t->cfg, "log-dir"));
    if (!*given && stat(t->key_path, &st) != 0) {
        t->key_path[0] = '\0';
        return 0;
    }
    at_err rc = note_verifier_load(&t->key, t->key_path);
    if (rc) {
        fprintf(stderr, "attest trace: %s log key %s: %s (want the verifier text NAME+KEYID+BASE64 of 'attest "
                        "keygen --log', the .pub file)\n", *given ? "--log-key:" : "the default", t->key_path,
                at_strerror(rc));
        if (*given)
            return 2;
        t->key_path[0] = '\0';
        return 0;
    }
    t->has_key = true;
    char real[PATH_MAX];
    if (realpath(t->key_path, real))
        snprintf(t->key_path, sizeof t->key_path, "%s", real);
    if (!note_verifier_format(&t->key, t->key_text, sizeof t->key_text))
        snprintf(t->key_text, sizeof t->key_text, "%s", t->key.name);
    return 0;
}

/* ------------------------------------------------------------ checkpoints */

/*  The body of a note (up to its empty line), unchecked. */
static bool s_note_body(const char *note, size_t len, size_t *body_len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (note[i] == '\n' && note[i + 1] == '\n') {
            *body_len = i + 1;
            return true;
        }
    return false;
}

/*  Opens cp's note: checks its signature when there is a key, and parses
 *  the body. A signature or size that does not check marks t failed. */
static void s_open_cp(s_trace_t *t, s_cp_t *cp)
{
    size_t body_len = 0;
    bool have_body;
    if (!t->has_key) {
        cp->sig = "not checked: no --log-key";
        have_body = s_note_body(cp->note, cp->note_len, &body_len);
    } else {
        at_err rc = note_open(&t->key, cp->note, cp->note_len, &body_len);
        cp->sig_checked = true;
        cp->sig_ok = rc == AT_OK;
        cp->sig = rc == AT_OK ? "checked" : rc == AT_ERR_SIGNATURE ? "BAD: the signature does not verify"
                : rc == AT_ERR_NOT_FOUND ? "BAD: not signed by this key" : "BAD: not a signed note";
        have_body = rc == AT_OK || s_note_body(cp->note, cp->note_len, &body_len);
        t->failed |= rc != AT_OK;
    }
    cp->parsed = have_body && checkpoint_parse(&cp->body, cp->note, body_len) == AT_OK;
    if (cp->parsed && cp->body.size != cp->size) {
        cp->sig = "BAD: the signed size is not the size it is stored under";
        t->failed = true;
    }
    if (!cp->parsed)
        t->failed = true;
}

/*  The covering checkpoint (none: fine, the log may have no signer) and
 *  the newest one. Returns the exit status (1: a read error). */
static int s_load_checkpoints(s_trace_t *t)
{
    s_cp_t *cp = &t->cp, *nw = &t->newest;
    at_err rc = logdb_checkpoint_covering(t->db, t->index, &cp->note, &cp->note_len, &cp->size);
    at_err rc2 = logdb_checkpoint(t->db, 0, &nw->note, &nw->note_len, &nw->size);
    cp->found = rc == AT_OK;
    nw->found = rc2 == AT_OK;
    if ((rc && rc != AT_ERR_NOT_FOUND) || (rc2 && rc2 != AT_ERR_NOT_FOUND)) {
        fprintf(stderr, "attest trace: reading the checkpoints: %s\n",
                at_strerror(rc && rc != AT_ERR_NOT_FOUND ? rc : rc2));
        return 1;
    }
    if (cp->found)
        s_open_cp(t, cp);
    if (nw->found)
        s_open_cp(t, nw);
    return 0;
}

/*  The inclusion proof of leaf `index` (the stored bytes raw) in cp's
 *  tree, from the snapshot's tiles, checked against cp's signed root. */
static void s_prove_in(s_trace_t *t, const s_cp_t *cp, uint64_t index, const uint8_t *raw, size_t raw_len,
                       s_proof_t *p)
{
    if (!cp->found || !cp->parsed)
        return;
    p->index = index;
    p->size = cp->size;
    merkle_leaf_hash(raw, raw_len, p->leaf);
    merkle_reader_t r = logdb_merkle_reader(t->db);
    p->err = merkle_prove_inclusion(&r, index, cp->size, p->hashes, &p->len);
    p->built = p->err == AT_OK;
    p->checked = p->built && merkle_verify_inclusion(index, cp->size, p->leaf, p->hashes, p->len, cp->body.root);
    t->failed |= !p->checked;
}

/* ------------------------------------------------------------ status */

/*  The revocation's entry at index by, and its own covering checkpoint
 *  and proof ("revoked as of checkpoint S" takes the two proofs). */
static at_err s_load_revocation(s_trace_t *t, uint64_t by)
{
    const uint8_t *raw;
    size_t raw_len;
    at_err rc = logdb_get(t->db, by, &t->rev, &raw, &raw_len);
    if (rc)
        return rc;
    t->revoked = true;
    t->revoked_by = by;
    memcpy(t->revoked_by_id, t->rev.id, AT_ID_BYTES);
    t->rev_a_ok = attestation_decode(&t->rev_a, t->rev.att, t->rev.att_len) == AT_OK;
    s_cp_t *cp = &t->rev_cp;
    rc = logdb_checkpoint_covering(t->db, by, &cp->note, &cp->note_len, &cp->size);
    if (rc == AT_ERR_NOT_FOUND)
        return AT_OK;
    if (rc)
        return rc;
    cp->found = true;
    s_open_cp(t, cp);
    s_prove_in(t, cp, by, raw, raw_len, &t->rev_proof);
    return AT_OK;
}

static int s_status(s_trace_t *t)
{
    uint64_t target, by;
    at_err rc = t->e.verdict == WIRE_VALID ? logdb_revoked(t->db, t->e.id, &target, &by) : AT_ERR_NOT_FOUND;
    if (rc == AT_OK)
        rc = s_load_revocation(t, by);
    if (rc && rc != AT_ERR_NOT_FOUND) {
        fprintf(stderr, "attest trace: the revocation index: %s\n", at_strerror(rc));
        return 1;
    }
    t->clock_is_cp = t->newest.found && t->newest.parsed && t->newest.body.time > 0;
    t->clock_s = t->clock_is_cp ? t->newest.body.time : at_clock_wall_s();
    t->expired = t->att_err == AT_OK && t->a.has_expires && t->a.expires_at <= t->clock_s;
    return 0;
}

static const char *s_state(const s_trace_t *t)
{
    return t->e.verdict != WIRE_VALID ? "invalid" : t->revoked ? "revoked" : t->expired ? "expired" : "valid";
}

/* ------------------------------------------------------------ human output */

static void s_kv(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_kv(const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  %-14s ", key);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

static void s_human_when(const char *key, uint64_t s)
{
    char utc[32];
    s_utc_s(s, utc);
    s_kv(key, "%s (%" PRIu64 ")", utc, s);
}

static void s_human_entry(const s_trace_t *t)
{
    const logdb_entry_t *e = &t->e;
    char hex[2 * AT_KEY_BYTES + 1];
    s_hex(e->id, AT_ID_BYTES, hex, sizeof hex);
    printf("entry\n");
    s_kv("id:", "%s", hex);
    s_kv("index:", "%" PRIu64, e->index);
    s_kv("verdict:", "%s (%s)", s_verdict(e->verdict), at_strerror(e->reason));
    if (t->att_err) {
        s_kv("attestation:", "does not decode: %s", at_strerror(t->att_err));
        return;
    }
    s_hex(t->a.attester, AT_KEY_BYTES, hex, sizeof hex);
    s_kv("schema:", "%.*s", (int) t->a.schema_len, t->a.schema);
    s_kv("attester:", "%s", hex);
    s_kv("subject:", "%.*s", (int) t->a.subject_len, t->a.subject);
    s_human_when("issued_at:", t->a.issued_at);
    if (t->a.has_expires)
        s_human_when("expires_at:", t->a.expires_at);
    else
        s_kv("expires_at:", "never");
}

static void s_human_lineage(const s_trace_t *t)
{
    const logdb_entry_t *e = &t->e;
    char pk[48], wk[48];
    s_z85(e->producer_key, e->producer_key_len, pk);
    s_z85(e->worker_key, e->worker_key_len, wk);
    printf("lineage\n");
    s_kv("producer:", "%.*s", (int) e->producer_len, e->producer);
    s_kv("producer_key:", "%s%s", pk, e->producer_key_len ? "" : " (entry format 1 or --insecure: no key)");
    s_kv("cseq:", "%" PRIu64, e->cseq);
    s_kv("broker seq:", "%" PRIu64, e->seq);
    if (e->format >= 3)
        s_kv("broker epoch:", "%" PRIu64, e->epoch);
    else
        s_kv("broker epoch:", "unknown (entry format %u has none)", (unsigned) e->format);
    s_kv("worker:", "%.*s", (int) e->worker_len, e->worker);
    s_kv("worker_key:", "%s", wk);
}

static void s_human_stage(const char *key, uint64_t us, const char *what, uint64_t from)
{
    char iso[32];
    logfind_iso(us, iso);
    if (what)
        s_kv(key, "%s  %-11s %+.3f ms", iso, what, (double) s_delta(from, us) / 1000.0);
    else
        s_kv(key, "%s", iso);
}

static void s_human_stages(const s_trace_t *t)
{
    const logdb_entry_t *e = &t->e;
    printf("stages (UTC; durations from the previous stage)\n");
    s_human_stage("t_received:", e->t_received, NULL, 0);
    s_human_stage("t_dispatched:", e->t_dispatched, "queue wait", e->t_received);
    s_human_stage("t_verified:", e->t_verified, "verify", e->t_dispatched);
    s_human_stage("t_committed:", e->t_committed, "commit", e->t_verified);
    s_kv("total:", "%+.3f ms (received to committed)", (double) s_delta(e->t_received, e->t_committed) / 1000.0);
}

static void s_human_copies(const s_trace_t *t)
{
    printf("same id\n");
    if (!t->copies_total)
        s_kv("other entries:", "none");
    for (size_t i = 0; i < t->ncopies; i++) {
        logdb_entry_t c;
        char key[32];
        snprintf(key, sizeof key, "index %" PRIu64 ":", t->copies[i]);
        if (logdb_get(t->db, t->copies[i], &c, NULL, NULL) == AT_OK)
            s_kv(key, "%s (%s), from producer %.*s", s_verdict(c.verdict), at_strerror(c.reason),
                 (int) c.producer_len, c.producer);
    }
    if (t->copies_total > t->ncopies)
        s_kv("...", "%" PRIu64 " in all, the first %d shown", t->copies_total, S_COPIES_MAX);
}

static void s_human_audit(const s_trace_t *t)
{
    const logdb_audit_t *a = &t->audit;
    printf("audit\n");
    if (!t->audited) {
        s_kv("disagreement:", "none recorded");
        return;
    }
    char iso[32];
    logfind_iso(a->t_audited, iso);
    s_kv("disagreement:", "worker %s said %s (%s), the audit %s (%s)", t->audit_worker, s_verdict(a->got_verdict),
         at_strerror(a->got_reason), s_verdict(a->expected_verdict), at_strerror(a->expected_reason));
    s_kv("audited at:", "%s", iso);
}

static void s_human_proof(const s_cp_t *cp, const s_proof_t *p)
{
    char leaf[2 * MERKLE_HASH_BYTES + 1];
    if (!cp->parsed) {
        s_kv("proof:", "not built: the checkpoint does not parse");
        return;
    }
    if (!p->built) {
        s_kv("proof:", "FAILED: cannot be built from the tiles: %s", at_strerror(p->err));
        return;
    }
    s_hex(p->leaf, MERKLE_HASH_BYTES, leaf, sizeof leaf);
    s_kv("leaf hash:", "%s", leaf);
    s_kv("proof:", "%s: %zu hash%s, leaf %" PRIu64 " in the tree of size %" PRIu64 "%s",
         p->checked ? "checked" : "FAILED (does not lead to the checkpoint's root)", p->len, p->len == 1 ? "" : "es",
         p->index, p->size, cp->sig_ok ? "" : " (the root's signature is not checked)");
}

static void s_human_checkpoint(const s_trace_t *t)
{
    const s_cp_t *cp = &t->cp;
    printf("checkpoint (the first stored that covers the entry)\n");
    if (!cp->found) {
        s_kv("checkpoint:", "none stored covers index %" PRIu64 " (no log-key on the sink, or pruned)", t->index);
        return;
    }
    s_kv("size:", "%" PRIu64, cp->size);
    if (cp->parsed) {
        char root[2 * MERKLE_HASH_BYTES + 1];
        s_hex(cp->body.root, MERKLE_HASH_BYTES, root, sizeof root);
        s_kv("origin:", "%s", cp->body.origin);
        if (cp->body.time)
            s_human_when("time:", cp->body.time);
        else
            s_kv("time:", "none (no time line)");
        s_kv("root:", "%s", root);
    } else {
        s_kv("body:", "FAILED: not a checkpoint body");
    }
    if (t->has_key)
        s_kv("signature:", "%s (key %s from %s)", cp->sig, t->key_text, t->key_path);
    else
        s_kv("signature:", "%s", cp->sig);
    s_human_proof(cp, &t->proof);
}

/*  The revocation, and where the log first signed it. */
static void s_human_revocation(const s_trace_t *t)
{
    char hex[2 * AT_ID_BYTES + 1], iso[32];
    s_hex(t->revoked_by_id, AT_ID_BYTES, hex, sizeof hex);
    logfind_iso(t->rev.t_committed, iso);
    s_kv("status:", "revoked at index %" PRIu64 " by entry %s", t->revoked_by, hex);
    s_kv("revoked at:", "%s (the revocation's commit)", iso);
    if (t->rev_a_ok && t->rev_a.data_len)
        s_kv("its reason:", "%.*s", (int) t->rev_a.data_len, (const char *) t->rev_a.data);
    if (!t->rev_cp.found) {
        s_kv("revocation:", "no stored checkpoint covers index %" PRIu64, t->revoked_by);
        return;
    }
    s_kv("revoked as of:", "checkpoint size %" PRIu64 ", signature %s", t->rev_cp.size, t->rev_cp.sig);
    s_human_proof(&t->rev_cp, &t->rev_proof);
}

static void s_human_status(const s_trace_t *t)
{
    char utc[32];
    printf("status\n");
    if (t->e.verdict != WIRE_VALID) {
        s_kv("status:", "invalid (%s)", at_strerror(t->e.reason));
        if (t->has_valid_copy)
            s_kv("id claimed:", "by the valid entry at index %" PRIu64, t->valid_copy);
    } else if (t->revoked) {
        s_human_revocation(t);
    } else if (t->expired) {
        s_utc_s(t->a.expires_at, utc);
        s_kv("status:", "expired since %s", utc);
    } else {
        s_kv("status:", "valid");
    }
    s_utc_s(t->clock_s, utc);
    s_kv("clock:", "%s (%s)", utc, t->clock_is_cp ? "the newest checkpoint's time" : "now: no checkpoint with a time");
    if (t->revoked && t->expired)
        s_kv("also:", "expired");
    if (t->audited)
        s_kv("note:", "the spot audit disagrees with this verdict (see audit)");
}

static void s_human(const s_trace_t *t)
{
    s_human_entry(t);
    s_human_lineage(t);
    s_human_stages(t);
    s_human_copies(t);
    s_human_audit(t);
    s_human_checkpoint(t);
    s_human_status(t);
}

/* ------------------------------------------------------------ JSON output */

static json_t *s_json_utc(uint64_t s)
{
    char utc[32];
    s_utc_s(s, utc);
    return json_string(utc);
}

static json_t *s_json_key(const uint8_t *key, size_t len, bool hex)
{
    char z85[48];
    if (len != ENTRY_KEY_BYTES)
        return json_null();
    if (hex)
        return jsonl_hex(key, len);
    s_z85(key, len, z85);
    return json_string(z85);
}

static json_t *s_json_lineage(const logdb_entry_t *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "producer", json_stringn(e->producer_len ? e->producer : "", e->producer_len));
    json_object_set_new(o, "producer_key", s_json_key(e->producer_key, e->producer_key_len, false));
    json_object_set_new(o, "producer_key_hex", s_json_key(e->producer_key, e->producer_key_len, true));
    json_object_set_new(o, "cseq", json_integer((json_int_t) e->cseq));
    json_object_set_new(o, "seq", json_integer((json_int_t) e->seq));
    json_object_set_new(o, "epoch", e->format >= 3 ? json_integer((json_int_t) e->epoch) : json_null());
    json_object_set_new(o, "worker", json_stringn(e->worker_len ? e->worker : "", e->worker_len));
    json_object_set_new(o, "worker_key", s_json_key(e->worker_key, e->worker_key_len, false));
    json_object_set_new(o, "worker_key_hex", s_json_key(e->worker_key, e->worker_key_len, true));
    return o;
}

static json_t *s_json_stages(const logdb_entry_t *e)
{
    static const char *const names[] = { "t_received", "t_dispatched", "t_verified", "t_committed" };
    const uint64_t ts[] = { e->t_received, e->t_dispatched, e->t_verified, e->t_committed };
    json_t *o = json_object();
    for (int i = 0; i < 4; i++) {
        char iso[32], key[32];
        logfind_iso(ts[i], iso);
        snprintf(key, sizeof key, "%s_utc", names[i]);
        json_object_set_new(o, names[i], json_integer((json_int_t) ts[i]));
        json_object_set_new(o, key, json_string(iso));
    }
    json_object_set_new(o, "queue_us", s_json_delta(s_delta(e->t_received, e->t_dispatched)));
    json_object_set_new(o, "verify_us", s_json_delta(s_delta(e->t_dispatched, e->t_verified)));
    json_object_set_new(o, "commit_us", s_json_delta(s_delta(e->t_verified, e->t_committed)));
    json_object_set_new(o, "total_us", s_json_delta(s_delta(e->t_received, e->t_committed)));
    return o;
}

static json_t *s_json_copies(const s_trace_t *t)
{
    json_t *a = json_array();
    for (size_t i = 0; i < t->ncopies; i++) {
        logdb_entry_t c;
        if (logdb_get(t->db, t->copies[i], &c, NULL, NULL) != AT_OK)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "index", json_integer((json_int_t) c.index));
        json_object_set_new(o, "verdict", json_string(s_verdict(c.verdict)));
        json_object_set_new(o, "reason", json_string(at_strerror(c.reason)));
        json_object_set_new(o, "producer", json_stringn(c.producer_len ? c.producer : "", c.producer_len));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *s_json_audit(const s_trace_t *t)
{
    if (!t->audited)
        return json_null();
    const logdb_audit_t *a = &t->audit;
    json_t *o = json_object();
    json_object_set_new(o, "worker", json_string(t->audit_worker));
    json_object_set_new(o, "got_verdict", json_string(s_verdict(a->got_verdict)));
    json_object_set_new(o, "got_reason", json_string(at_strerror(a->got_reason)));
    json_object_set_new(o, "expected_verdict", json_string(s_verdict(a->expected_verdict)));
    json_object_set_new(o, "expected_reason", json_string(at_strerror(a->expected_reason)));
    json_object_set_new(o, "t_audited", json_integer((json_int_t) a->t_audited));
    return o;
}

static json_t *s_json_signature(const s_trace_t *t, const s_cp_t *cp)
{
    json_t *o = json_object();
    json_object_set_new(o, "checked", json_boolean(cp->sig_checked));
    json_object_set_new(o, "ok", json_boolean(cp->sig_ok));
    json_object_set_new(o, "status", json_string(cp->sig));
    json_object_set_new(o, "key", t->has_key ? json_string(t->key_text) : json_null());
    json_object_set_new(o, "key_file", t->has_key ? json_string(t->key_path) : json_null());
    return o;
}

static json_t *s_json_checkpoint(const s_trace_t *t, const s_cp_t *cp)
{
    if (!cp->found)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "size", json_integer((json_int_t) cp->size));
    json_object_set_new(o, "parsed", json_boolean(cp->parsed));
    if (cp->parsed) {
        json_object_set_new(o, "origin", json_string(cp->body.origin));
        json_object_set_new(o, "time", json_integer((json_int_t) cp->body.time));
        json_object_set_new(o, "time_utc", cp->body.time ? s_json_utc(cp->body.time) : json_null());
        json_object_set_new(o, "root", jsonl_hex(cp->body.root, MERKLE_HASH_BYTES));
    }
    json_object_set_new(o, "signature", s_json_signature(t, cp));
    json_object_set_new(o, "note", json_stringn(cp->note, cp->note_len));
    return o;
}

static json_t *s_json_proof(const s_cp_t *cp, const s_proof_t *p)
{
    if (!cp->found)
        return json_null();
    json_t *o = json_object(), *h = json_array();
    json_object_set_new(o, "index", json_integer((json_int_t) p->index));
    json_object_set_new(o, "size", json_integer((json_int_t) cp->size));
    json_object_set_new(o, "checked", json_boolean(p->checked));
    if (!p->built) {
        json_object_set_new(o, "error", json_string(cp->parsed ? at_strerror(p->err) : "checkpoint"));
        json_decref(h);
        return o;
    }
    json_object_set_new(o, "leaf_hash", jsonl_hex(p->leaf, MERKLE_HASH_BYTES));
    for (size_t i = 0; i < p->len; i++)
        json_array_append_new(h, jsonl_hex(p->hashes[i], MERKLE_HASH_BYTES));
    json_object_set_new(o, "hashes", h);
    return o;
}

/*  The revocation's entry, checkpoint and proof; null when not revoked. */
static json_t *s_json_revocation(const s_trace_t *t)
{
    char iso[32];
    if (!t->revoked)
        return json_null();
    json_t *o = json_object();
    logfind_iso(t->rev.t_committed, iso);
    json_object_set_new(o, "index", json_integer((json_int_t) t->revoked_by));
    json_object_set_new(o, "id", jsonl_hex(t->revoked_by_id, AT_ID_BYTES));
    json_object_set_new(o, "t_committed", json_integer((json_int_t) t->rev.t_committed));
    json_object_set_new(o, "t_committed_utc", json_string(iso));
    json_t *data = t->rev_a_ok ? json_stringn(t->rev_a.data_len ? (const char *) t->rev_a.data : "",
                                              t->rev_a.data_len) : NULL;
    json_object_set_new(o, "data", data ? data : json_null());
    json_object_set_new(o, "checkpoint", s_json_checkpoint(t, &t->rev_cp));
    json_object_set_new(o, "proof", s_json_proof(&t->rev_cp, &t->rev_proof));
    return o;
}

static json_t *s_json_status(const s_trace_t *t)
{
    json_t *o = json_object();
    bool exp = t->att_err == AT_OK && t->a.has_expires;
    json_object_set_new(o, "status", json_string(s_state(t)));
    json_object_set_new(o, "reason", json_string(at_strerror(t->e.reason)));
    json_object_set_new(o, "expired", json_boolean(t->expired));
    json_object_set_new(o, "expired_since", t->expired ? json_integer((json_int_t) t->a.expires_at) : json_null());
    json_object_set_new(o, "expires_at", exp ? json_integer((json_int_t) t->a.expires_at) : json_null());
    json_object_set_new(o, "clock", json_string(t->clock_is_cp ? "checkpoint" : "now"));
    json_object_set_new(o, "clock_time", json_integer((json_int_t) t->clock_s));
    json_object_set_new(o, "clock_checkpoint_size",
                        t->clock_is_cp ? json_integer((json_int_t) t->newest.size) : json_null());
    json_object_set_new(o, "revoked", json_boolean(t->revoked));
    json_object_set_new(o, "revoked_at_index", t->revoked ? json_integer((json_int_t) t->revoked_by) : json_null());
    json_object_set_new(o, "revoked_by_id", t->revoked ? jsonl_hex(t->revoked_by_id, AT_ID_BYTES) : json_null());
    json_object_set_new(o, "revocation", s_json_revocation(t));
    json_object_set_new(o, "valid_entry_index",
                        t->has_valid_copy ? json_integer((json_int_t) t->valid_copy) : json_null());
    json_object_set_new(o, "audit_disagrees", json_boolean(t->audited));
    return o;
}

static json_t *s_json(const s_trace_t *t)
{
    json_t *o = json_object(), *entry = jsonl_entry(&t->e);
    logfind_add_human(entry, &t->e);
    if (t->att_err == AT_OK) {
        json_object_set_new(entry, "issued_at_utc", s_json_utc(t->a.issued_at));
        json_object_set_new(entry, "expires_at_utc", t->a.has_expires ? s_json_utc(t->a.expires_at) : json_null());
    }
    json_object_set_new(o, "id", jsonl_hex(t->e.id, AT_ID_BYTES));
    json_object_set_new(o, "index", json_integer((json_int_t) t->index));
    json_object_set_new(o, "entry", entry);
    json_object_set_new(o, "lineage", s_json_lineage(&t->e));
    json_object_set_new(o, "stages", s_json_stages(&t->e));
    json_object_set_new(o, "same_id", s_json_copies(t));
    json_object_set_new(o, "same_id_total", json_integer((json_int_t) t->copies_total));
    json_object_set_new(o, "audit", s_json_audit(t));
    json_object_set_new(o, "checkpoint", s_json_checkpoint(t, &t->cp));
    json_object_set_new(o, "proof", s_json_proof(&t->cp, &t->proof));
    json_object_set_new(o, "status", s_json_status(t));
    json_object_set_new(o, "checks_passed", json_boolean(!t->failed));
    return o;
}

/* ------------------------------------------------------------ main */

static logdb_t *s_open(const char *dir)
{
    char path[S_PATH_MAX];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "attest trace: cannot read the log at %s: %s (pass --log-dir, the sink's --log-dir)\n", path,
                strerror(errno));
        return NULL;
    }
    at_err err;
    logdb_t *db = logdb_open(dir, true, 0, &err);
    if (!db)
        fprintf(stderr, "attest trace: cannot open the log at %s: %s\n", dir, at_strerror(err));
    return db;
}

/*  Everything about the entry arg names, in t->db's read snapshot. */
static int s_trace(s_trace_t *t, const char *arg)
{
    int code = s_resolve(t, arg);
    if (!code)
        code = s_load_entry(t);
    if (!code)
        code = s_load_copies(t);
    if (!code)
        code = s_load_audit(t);
    if (!code)
        code = s_load_checkpoints(t);
    if (code)
        return code;
    s_prove_in(t, &t->cp, t->index, t->raw, t->raw_len, &t->proof);
    if ((code = s_status(t)))
        return code;
    if (cfg_bool(t->cfg, "json")) {
        json_t *o = s_json(t);
        jsonl_print_pretty(stdout, o);
        json_decref(o);
    } else {
        s_human(t);
    }
    if (fflush(stdout) != 0)
        return 1;
    if (t->failed)
        fprintf(stderr, "attest trace: a check FAILED (see checkpoint): the log or its checkpoint is not what was "
                        "signed, or the key is not the log's\n");
    return t->failed ? 1 : 0;
}

static int s_run(const cfg_t *cfg, void *unused)
{
    (void) unused;
    if (cfg_npositional(cfg) != 1) {
        fprintf(stderr, "attest trace: usage: attest trace ID|INDEX [--log-dir DIR] [--log-key PUB] [--json]\n");
        return 2;
    }
    s_trace_t *t = at_calloc(1, sizeof *t);   /* proofs and paths: too big for the stack */
    t->cfg = cfg;
    int code = s_load_key(t);
    if (!code && !(t->db = s_open(cfg_str(cfg, "log-dir"))))
        code = 1;
    if (!code && logdb_read_begin(t->db) != AT_OK) {
        fprintf(stderr, "attest trace: cannot read the log\n");
        code = 1;
    } else if (!code) {
        code = s_trace(t, cfg_positional(cfg, 0));
        logdb_read_end(t->db);
    }
    logdb_destroy(&t->db);
    free(t);
    return code;
}

int cmd_trace(int argc, char **argv)
{
    const cfg_app_t app = {
        .prog = "attest trace",
        .summary = "Usage: attest trace ID|INDEX [--log-dir DIR] [--log-key PUB] [--json]\n\n"
                   "Everything the log knows about one attestation: the entry and its attestation,\n"
                   "its lineage (producer and its key, cseq, broker seq, worker and its key), the\n"
                   "stage timestamps and durations, the other entries with its id, the spot\n"
                   "audit's disagreement, the first checkpoint that covers it with the signature\n"
                   "and an inclusion proof checked, and its status (valid, invalid, revoked,\n"
                   "expired). ID is an attestation id or a unique prefix (hex), INDEX a log index.\n"
                   "Reads the log only (no cluster needed). Exit status: 0 found, 1 not found,\n"
                   "ambiguous, or a check failed, 2 bad usage. Fields: docs/ops-trace.md.",
        .defs = s_defs,
        .ndefs = sizeof s_defs / sizeof s_defs[0],
        .positionals = "ID|INDEX",
        .fn = s_run,
    };
    return cfg_run(&app, argc, argv);
}
