/*  cmd_log.c: `attest log [--log-dir DIR] SUBCOMMAND`: reads, exports and
 *  verifies the LMDB log through the logdb read API (see logdb.h).
 *
 *    count                     number of entries
 *    get INDEX|ID-PREFIX       one entry as pretty JSON (with committed_at and
 *                              stages); a negative INDEX counts from the end
 *    id HEX                    the valid entry with that attestation id (or a
 *                              unique prefix of it), else its invalid entries
 *                              (which claim no id: protocol.md 12); a revoked
 *                              one says by which entry (get too: s_add_status)
 *    tail [--n N] [--follow]   the last N entries as JSON lines (--format table: a
 *                              table); --follow keeps printing new entries (polls
 *                              every 200 ms) until Ctrl-C
 *    find [filters]            entries matching every filter (cli/logfind.h)
 *    reindex                   builds the find indexes of an older log (a writer:
 *                              the sink must be stopped)
 *    unquarantine IDENT        lifts a worker's quarantine (a writer: s_unquarantine)
 *    rejected                  invalid entries as JSON lines
 *    export [--out FILE]       every entry as JSON lines
 *    verify [--from I]         audits the log from index I (see s_verify_entry)
 *    verify --worker ID        every entry that worker judged, re-judged, and the
 *                              spot audit's recorded disagreements about it
 *    serve [--listen ADDR]     the tlog-tiles HTTP server (cli/logserve.h: its
 *                              own options table, dispatched before ours)
 *    checkpoint, prove, consistency, and verify's tree checks (--log-key,
 *    --since FILE, --to J): cmd_prove.c (cmd_prove.h)
 *
 *  Entries are rendered by jsonl_entry (field list in jsonl.h). Flags may be
 *  given before or after the subcommand.
 */
#include "alloc.h"
#include "attestation.h"
#include "clock.h"
#include "cmd_prove.h"
#include "commands.h"
#include "config.h"
#include "jsonl.h"
#include "logdb.h"
#include "logfind.h"
#include "logserve.h"
#include "revoke.h"
#include "wire.h"
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define S_FOLLOW_POLL_MS 200
#define S_PROGRESS_US 1000000u

static const cfg_def_t s_defs[] = {
    CFG_STR_ALIAS_NAMED("log-dir", "dir", "attest-data/log", "log directory (the sink's --log-dir; holds data.mdb)"),
    CFG_INT_NAMED_SHORT("n", 'n', "10", 0, INT64_MAX, "tail: how many entries"),
    CFG_BOOL_NAMED_SHORT("follow", 'f', "false", "tail: keep printing new entries until Ctrl-C"),
    CFG_STR_NAMED_SHORT("out", 'o', NULL, "export: file to write (default: standard output)"),
    CFG_INT_NAMED("clock-skew-s", "300", 0, 86400, "verify: the clock skew the workers allowed (their --clock-skew-s)"),
    CFG_INT_NAMED("from", "0", 0, INT64_MAX, "verify: first index to check (the chain link into it is checked too)"),
    CFG_STR_NAMED("worker", "", "verify: list and re-judge the entries this worker judged, and the audit's "
                                "disagreements; find: entries this worker judged"),
    CFG_STR_NAMED("producer", "", "find: entries from this producer"),
    CFG_STR_NAMED("attester", "", "find: entries whose attestation has this attester key (64 hex)"),
    CFG_STR_NAMED("schema", "", "find: entries with this schema"),
    CFG_STR_NAMED("subject", "", "find: entries with this subject"),
    CFG_STR_NAMED("reason", "", "find: entries with this reason (ok, signature, expired, ...)"),
    CFG_STR_NAMED("since", "", "find: committed at or after TIME (ISO 8601 UTC, or an age: 90s, 10m, 2h, 1d); "
                               "verify: a checkpoint FILE saved earlier, which today's log must extend"),
    CFG_STR_NAMED("until", "", "find: committed at or before TIME (as --since)"),
    CFG_INT_NAMED("limit", "0", 0, INT64_MAX, "find: at most N entries (0: all)"),
    CFG_STR_NAMED("format", "", "find, tail: table or json (JSON lines); find's default is table, tail's json; "
                                "prove: text, json, c2sp (C2SP tlog-proof) or rfc9162; consistency: text, json or "
                                "rfc9162"),
    CFG_INT_NAMED("to", "0", 0, INT64_MAX, "verify: stop before this index (with --from: re-verify [from, to))"),
    CFG_INT_NAMED("size", "0", 0, INT64_MAX, "checkpoint, prove: the tree size (default: the newest checkpoint's)"),
    CFG_BOOL_NAMED("json", "false", "checkpoint, prove, consistency: JSON output (= --format json)"),
    CFG_BOOL_NAMED("base64", "false", "prove, consistency --format rfc9162: base64 text, not raw bytes"),
    CFG_STR_NAMED("log-key", "", "checkpoint, verify: the log's public key file (default: DIR/../keys/log.pub "
                                 "if it exists)"),
};

typedef struct {
    const cfg_t *cfg;
    logdb_t *db;
    const char *dir;
    const char *arg;            /* the subcommand's argument, if any */
} s_log_t;

typedef int (s_sub_fn)(s_log_t *self);

static volatile sig_atomic_t s_stop;
static bool s_table;            /* tail --format table */
static void s_on_signal(int sig) { (void) sig; s_stop = 1; }

/*  Calls fn on entries [from, to) of one read snapshot; stops on non-zero. */
typedef int (s_visit_fn)(const logdb_entry_t *e, void *arg);
static int s_walk(s_log_t *self, uint64_t from, uint64_t to, s_visit_fn *fn, void *arg)
{
    int code = 0;
    for (uint64_t i = from; i < to && code == 0 && !s_stop; i++) {
        logdb_entry_t e;
        at_err rc = logdb_get(self->db, i, &e, NULL, NULL);
        if (rc) {
            fprintf(stderr, "attest log: entry %" PRIu64 ": %s (run 'attest log verify')\n", i, at_strerror(rc));
            return 1;
        }
        code = fn(&e, arg);
    }
    return code;
}

static int s_print_line(const logdb_entry_t *e, void *arg)
{
    json_t *o = jsonl_entry(e);
    if (arg == stdout && s_table) {
        logfind_table_row(stdout, e);
        json_decref(o);
        return ferror(stdout) ? 1 : 0;
    }
    jsonl_print(arg, o);
    json_decref(o);
    return ferror((FILE *) arg) ? 1 : 0;
}

static int s_print_rejected(const logdb_entry_t *e, void *arg)
{
    return e->verdict == WIRE_VALID ? 0 : s_print_line(e, arg);
}

/*  The revocation at index by: its index, id and reason (its data, when
 *  UTF-8) as a new JSON object. */
static json_t *s_revocation_json(s_log_t *self, uint64_t by)
{
    logdb_entry_t r;
    attestation_t a;
    json_t *o = json_pack("{s:I}", "index", (json_int_t) by);
    if (logdb_get(self->db, by, &r, NULL, NULL) != AT_OK)
        return o;
    json_object_set_new(o, "id", jsonl_hex(r.id, AT_ID_BYTES));
    json_t *why = attestation_decode(&a, r.att, r.att_len) == AT_OK && a.data_len
                      ? json_stringn((const char *) a.data, a.data_len) : NULL;   /* NULL: not UTF-8 */
    if (why)
        json_object_set_new(o, "reason", why);
    return o;
}

/*  A valid revocation: "revokes" {index, id} of its target (from the
 *  status index, which records the target's entry). */
static void s_add_revokes(s_log_t *self, json_t *o, const logdb_entry_t *e)
{
    attestation_t a;
    uint8_t target[AT_ID_BYTES];
    uint64_t target_index, by;
    char hex[2 * AT_ID_BYTES + 1];
    if (e->verdict != WIRE_VALID || attestation_decode(&a, e->att, e->att_len) != AT_OK || !revoke_is(&a)
        || a.subject_len != 2 * AT_ID_BYTES)
        return;
    memcpy(hex, a.subject, 2 * AT_ID_BYTES);
    hex[2 * AT_ID_BYTES] = 0;
    if (!jsonl_unhex(hex, target, AT_ID_BYTES) || logdb_revoked(self->db, target, &target_index, &by) != AT_OK
        || by != e->index)
        return;
    json_object_set_new(o, "revokes", json_pack("{s:I, s:s}", "index", (json_int_t) target_index, "id", hex));
}

/*  "status": valid, invalid or revoked, and for a revoked entry
 *  "revoked_by" {index, id, reason} (the status index, logdb_revoked).
 *  *by is set to the revocation's index, UINT64_MAX when not revoked. */
static void s_add_status(s_log_t *self, json_t *o, const logdb_entry_t *e, uint64_t *by)
{
    uint64_t target;
    *by = UINT64_MAX;
    at_err rc = e->verdict == WIRE_VALID ? logdb_revoked(self->db, e->id, &target, by) : AT_ERR_NOT_FOUND;
    if (rc != AT_OK && rc != AT_ERR_NOT_FOUND)
        fprintf(stderr, "attest log: the revocation index: %s\n", at_strerror(rc));
    json_object_set_new(o, "status", json_string(rc == AT_OK ? "revoked" : e->verdict == WIRE_VALID ? "valid"
                                                                                                     : "invalid"));
    if (rc == AT_OK)
        json_object_set_new(o, "revoked_by", s_revocation_json(self, *by));
    else
        *by = UINT64_MAX;
}

static int s_print_pretty(s_log_t *self, uint64_t index)
{
    logdb_entry_t e;
    at_err rc = logdb_get(self->db, index, &e, NULL, NULL);
    if (rc == AT_ERR_NOT_FOUND) {
        fprintf(stderr, "attest log: no entry at index %" PRIu64 " (the log has %" PRIu64 " entries)\n", index,
                logdb_count(self->db));
        return 1;
    }
    if (rc) {
        fprintf(stderr, "attest log: entry %" PRIu64 ": %s (run 'attest log verify')\n", index, at_strerror(rc));
        return 1;
    }
    json_t *o = jsonl_entry(&e);
    logfind_add_human(o, &e);
    uint64_t by;
    s_add_status(self, o, &e, &by);
    s_add_revokes(self, o, &e);
    jsonl_print_pretty(stdout, o);
    const char *rid = json_string_value(json_object_get(json_object_get(o, "revoked_by"), "id"));   /* NULL-safe */
    if (by != UINT64_MAX)
        fprintf(stderr, "attest log: entry %" PRIu64 ": revoked at index %" PRIu64 " by entry %.16s\n", index, by,
                rid ? rid : "?");
    json_decref(o);
    return 0;
}

/* --------------------------------------------------------------------------
 * Subcommands (each runs inside a read snapshot) */

static int s_count(s_log_t *self)
{
    printf("%" PRIu64 "\n", logdb_count(self->db));
    return 0;
}

static int s_id_arg(s_log_t *self, const char *cmd);

/*  INDEX (negative: from the end, -1 the last entry) or an id prefix. */
static int s_get(s_log_t *self)
{
    char *end;
    errno = 0;
    long long index = strtoll(self->arg, &end, 10);
    if (errno || end == self->arg || *end) {
        if (strspn(self->arg, "0123456789abcdefABCDEF") == strlen(self->arg))
            return s_id_arg(self, "get");
        fprintf(stderr, "attest log get: want an INDEX (negative counts from the end) or an id prefix (hex), got '%s'\n",
                self->arg);
        return 2;
    }
    uint64_t count = logdb_count(self->db);
    if (index < 0 && (uint64_t) -index > count) {
        fprintf(stderr, "attest log get: %lld is before the first entry (the log has %" PRIu64 " entries)\n", index,
                count);
        return 1;
    }
    return s_print_pretty(self, index < 0 ? count - (uint64_t) -index : (uint64_t) index);
}

#define S_ID_INVALID_MAX 64   /* invalid copies of one id printed */

/*  No valid entry holds the id: its invalid entries (the index knows the
 *  latest only), found by a scan of the log. */
static int s_id_invalid(s_log_t *self, const uint8_t id[AT_ID_BYTES])
{
    uint64_t at[S_ID_INVALID_MAX];
    int64_t n = logdb_find_invalid(self->db, id, 0, at, S_ID_INVALID_MAX);
    if (n < 0) {
        fprintf(stderr, "attest log id: %s (run 'attest log verify')\n", at_strerror((int) -n));
        return 1;
    }
    if (n == 0) {
        fprintf(stderr, "attest log id: no entry with id %s\n", self->arg);
        return 1;
    }
    fprintf(stderr, "attest log id: no valid entry with id %s; %" PRId64 " invalid entr%s (invalid entries claim no id)%s\n",
            self->arg, n, n == 1 ? "y" : "ies", n > S_ID_INVALID_MAX ? ", the first 64 shown" : "");
    int code = 0;
    for (int64_t i = 0; i < n && i < S_ID_INVALID_MAX && code == 0; i++)
        code = s_print_pretty(self, at[i]);
    return code;
}

static int s_id(s_log_t *self)
{
    return s_id_arg(self, "id");
}

/*  The argument as an id or a unique prefix of one. */
static int s_id_arg(s_log_t *self, const char *cmd)
{
    uint8_t id[AT_ID_BYTES];
    uint64_t index;
    at_err rc = logdb_lookup_prefix(self->db, self->arg, id, &index);
    if (rc == AT_ERR_RANGE) {
        fprintf(stderr, "attest log %s: want an attestation id (up to %d hex digits, a unique prefix will do), "
                        "got '%s'\n", cmd, 2 * AT_ID_BYTES, self->arg);
        return 2;
    }
    if (rc == AT_ERR_DUPLICATE) {
        fprintf(stderr, "attest log %s: the prefix %s is ambiguous (more than one id begins so): give more digits\n",
                cmd, self->arg);
        return 1;
    }
    logdb_entry_t e;
    if (rc == AT_ERR_NOT_FOUND) {
        fprintf(stderr, "attest log %s: no entry with id %s\n", cmd, self->arg);
        return 1;
    }
    if (rc == AT_OK)
        rc = logdb_get(self->db, index, &e, NULL, NULL);
    if (rc) {
        fprintf(stderr, "attest log %s: %s (run 'attest log verify')\n", cmd, at_strerror(rc));
        return 1;
    }
    /* The latest entry with the id: the valid one if there is one. */
    return e.verdict == WIRE_VALID ? s_print_pretty(self, index) : s_id_invalid(self, id);
}

/*  Re-reads the log every 200 ms and prints entries from *next on. */
static int s_follow(s_log_t *self, uint64_t next)
{
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!s_stop) {
        logdb_read_end(self->db);
        struct timespec ts = { 0, S_FOLLOW_POLL_MS * 1000000L };
        nanosleep(&ts, NULL);
        if (s_stop || logdb_read_begin(self->db) != AT_OK)
            return s_stop ? 0 : 1;
        uint64_t count = logdb_count(self->db);
        if (s_walk(self, next, count, s_print_line, stdout))
            return s_stop ? 0 : 1;
        next = count > next ? count : next;
    }
    return 0;
}

static int s_tail(s_log_t *self)
{
    uint64_t count = logdb_count(self->db), n = (uint64_t) cfg_int(self->cfg, "n");
    uint64_t from = count > n ? count - n : 0;
    const char *format = cfg_str(self->cfg, "format");
    if (*format && strcmp(format, "json") && strcmp(format, "table")) {
        fprintf(stderr, "attest log tail: --format is table or json, got '%s'\n", format);
        return 2;
    }
    if ((s_table = !strcmp(format, "table")))
        logfind_table_header(stdout);
    if (cfg_bool(self->cfg, "follow"))
        setvbuf(stdout, NULL, _IOLBF, 0);
    int code = s_walk(self, from, count, s_print_line, stdout);
    if (code == 0 && cfg_bool(self->cfg, "follow"))
        code = s_follow(self, count);
    return code;
}

static int s_find(s_log_t *self)
{
    return logfind_run(self->db, self->cfg);
}

/*  Runs as the writer (not in a read snapshot): the sink must be stopped. */
static logdb_t *s_open(const char *dir);

/*  `unquarantine IDENT`: lifts the spot audit's quarantine of a worker
 *  (after it was fixed): the identity as SNK-QUARANTINE and `verify
 *  --worker` name it, "key:<Z85>" with CURVE, else the worker id. A lift is
 *  recorded at the log's next_index (logdb.h); the disagreements stay. The
 *  sink reads it at start; the broker forgets its quarantines on SIGHUP
 *  (the sink tells it again of those still in force). */
typedef struct {
    const char *ident;
    size_t hits;
    uint64_t last;
} s_lift_t;

static int s_lift_count(const logdb_audit_t *a, void *arg)
{
    s_lift_t *l = arg;
    if (a->worker_len == strlen(l->ident) && memcmp(a->worker, l->ident, a->worker_len) == 0) {
        l->hits++;
        l->last = a->index;
    }
    return 0;
}

static int s_unquarantine(const char *dir, const char *ident)
{
    logdb_t *db = s_open(dir);
    if (!db)
        return 1;
    logdb_destroy(&db);
    at_err err;
    if (!(db = logdb_open(dir, false, 0, &err))) {
        fprintf(stderr, "attest log unquarantine: cannot open the log at %s as its writer: %s%s\n", dir,
                at_strerror(err), err == AT_ERR_BUSY ? " (stop the sink first: one writer per log)" : "");
        return 1;
    }
    s_lift_t l = { ident, 0, 0 };
    uint64_t lifted = 0, at = 0;
    err = logdb_audit_each(db, s_lift_count, &l);
    bool was_lifted = err == AT_OK && logdb_lift_at(db, ident, strlen(ident), &lifted) == AT_OK && lifted > l.last;
    if (err == AT_OK && l.hits && !was_lifted)
        err = logdb_lift_record(db, ident, strlen(ident), &at);
    logdb_destroy(&db);
    if (err) {
        fprintf(stderr, "attest log unquarantine: %s\n", at_strerror(err));
        return 1;
    }
    if (!l.hits) {
        fprintf(stderr, "attest log unquarantine: '%s' is not quarantined: the log records no disagreement about it"
                        " (the identity is what SNK-QUARANTINE names: key:<Z85> with CURVE, else the worker id)\n",
                ident);
        return 1;
    }
    if (was_lifted)
        printf("unquarantine: %s: already lifted at index %" PRIu64 " (after its last disagreement, at %" PRIu64 ")\n",
               ident, lifted, l.last);
    else
        printf("unquarantine: %s: lifted at index %" PRIu64 " (%zu recorded disagreements kept); start the sink, "
               "then SIGHUP the broker so that it forgets the quarantine\n", ident, at, l.hits);
    return 0;
}

static int s_reindex(const char *dir, const char *unused)
{
    (void) unused;
    logdb_t *db = s_open(dir);   /* a reader's checks and messages first: never create a log here */
    if (!db)
        return 1;
    logdb_destroy(&db);
    at_err err;
    db = logdb_open(dir, false, 0, &err);
    if (!db) {
        fprintf(stderr, "attest log reindex: cannot open the log at %s as its writer: %s%s\n", dir, at_strerror(err),
                err == AT_ERR_BUSY ? " (stop the sink first: one writer per log)" : "");
        return 1;
    }
    uint64_t done = 0, t0 = at_clock_mono_us();
    err = logdb_reindex(db, &done);
    logdb_destroy(&db);
    if (err) {
        fprintf(stderr, "attest log reindex: %s (run 'attest log verify')\n", at_strerror(err));
        return 1;
    }
    printf("reindex: %" PRIu64 " entries indexed in %.1f s; the find indexes cover the whole log\n", done,
           (double) (at_clock_mono_us() - t0) / 1e6);
    return 0;
}

static int s_rejected(s_log_t *self)
{
    return s_walk(self, 0, logdb_count(self->db), s_print_rejected, stdout);
}

static int s_export(s_log_t *self)
{
    const char *path = cfg_str(self->cfg, "out");
    FILE *out = *path ? fopen(path, "w") : stdout;
    if (!out) {
        fprintf(stderr, "attest log export: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    uint64_t count = logdb_count(self->db);
    int code = s_walk(self, 0, count, s_print_line, out);
    if ((out != stdout && fclose(out) != 0) || (out == stdout && fflush(out) != 0))
        code = 1;
    if (code == 0 && out != stdout)
        fprintf(stderr, "attest log export: %" PRIu64 " entries written to %s\n", count, path);
    else if (code)
        fprintf(stderr, "attest log export: failed%s%s\n", *path ? " writing " : "", path);
    return code;
}

/* --------------------------------------------------------------------------
 * verify */

typedef struct {
    uint64_t n, valid, invalid;
    uint64_t keyed;                   /* entries naming both authenticated keys (format 2, CURVE) */
    uint64_t revocations;             /* valid revocations (store/revoke.h) */
    uint8_t prev[LOGDB_HASH_BYTES];   /* hash of the previous stored value */
    uint64_t last_seq;                /* seq of the previous entry */
    char problem[256];
} s_verify_t;

static bool s_problem(s_verify_t *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool s_problem(s_verify_t *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->problem, sizeof v->problem, fmt, ap);
    va_end(ap);
    return false;
}

/*  The id claim rule (protocol.md section 12). Every entry's id is found by
 *  logdb_lookup_id (the "ids" database below meta ids_upto, the entries
 *  themselves above it), at the latest entry with that id: the entry itself,
 *  or, for an invalid entry only, a later copy. No two valid entries share
 *  an id, and nothing follows the valid one. */
static bool s_verify_id(s_log_t *self, s_verify_t *v, const logdb_entry_t *e, uint64_t i)
{
    uint64_t j;
    at_err rc = logdb_lookup_id(self->db, e->id, &j);
    if (rc == AT_ERR_NOT_FOUND)
        return s_problem(v, "ids: the entry's id is missing from the ids index");
    if (rc)
        return s_problem(v, "ids: lookup failed: %s", at_strerror(rc));
    if (j == i)
        return true;
    logdb_entry_t other;
    bool same = logdb_get(self->db, j, &other, NULL, NULL) == AT_OK && !memcmp(other.id, e->id, AT_ID_BYTES);
    if (!same)
        return s_problem(v, "ids: the ids index maps the entry's id to index %" PRIu64, j);
    if (e->verdict == WIRE_VALID && other.verdict == WIRE_VALID)
        return s_problem(v, "ids: duplicate id, also at index %" PRIu64 " (two valid entries)", j);
    if (j < i)
        return s_problem(v, "ids: the ids index maps the id to index %" PRIu64 ", not to its latest entry", j);
    if (e->verdict == WIRE_VALID)
        return s_problem(v, "ids: duplicate id, also at index %" PRIu64 " (a copy after the valid entry)", j);
    return true;
}

/*  A revocation is judged again in log order, at its own index
 *  (store/revoke.h): *verdict and *reason become the judgement the log must
 *  hold; a valid one must be in the status index as the target's
 *  revocation. */
static bool s_verify_revocation(s_log_t *self, s_verify_t *v, const logdb_entry_t *e, uint64_t i, uint8_t *verdict,
                                int *reason)
{
    revoke_judgement_t j;
    at_err rc = revoke_judge(self->db, i, e->att, e->att_len, *verdict, (uint8_t) *reason, &j);
    if (rc)
        return s_problem(v, "revocation: reading its target failed: %s", at_strerror(rc));
    *verdict = j.verdict;
    *reason = j.reason;
    if (!j.revocation || j.verdict != WIRE_VALID || e->verdict != WIRE_VALID)
        return true;
    uint64_t target, by;
    rc = logdb_revoked(self->db, j.target, &target, &by);
    if (rc != AT_OK || target != j.target_index || by != i)
        return s_problem(v, "revocations: the status index does not record this revocation of entry %" PRIu64
                         " (%s)", j.target_index, rc ? at_strerror(rc) : "another entry is recorded");
    v->revocations++;
    return true;
}

/*  A fresh judgement of e, its id in id. An entry logged invalid with reason
 *  poison is the broker's verdict (workers died verifying it, protocol.md
 *  8.5): it is not judged again (that could crash this tool too); only its
 *  id is computed. */
static int s_judge_entry(s_log_t *self, const logdb_entry_t *e, uint8_t id[AT_ID_BYTES])
{
    if (e->verdict == WIRE_INVALID && e->reason == AT_ERR_POISON) {
        attestation_t a;
        at_err rc = attestation_decode(&a, e->att, e->att_len);
        memset(id, 0, AT_ID_BYTES);
        if (rc != AT_OK)
            return rc;
        attestation_id(&a, id);
        return AT_ERR_POISON;
    }
    return attestation_judge(e->att, e->att_len, e->t_verified / 1000000u,
                             (uint64_t) cfg_int(self->cfg, "clock-skew-s"), id);
}

/*  One entry: stored index, chain link, id, ids index, verdict. */
static bool s_verify_entry(s_log_t *self, s_verify_t *v, uint64_t i)
{
    logdb_entry_t e;
    const uint8_t *raw;
    size_t raw_len;
    at_err rc = logdb_get(self->db, i, &e, &raw, &raw_len);
    if (rc == AT_ERR_NOT_FOUND)
        return s_problem(v, "entries: entry missing (the log says it has %" PRIu64 " entries)", v->n);
    if (rc)
        return s_problem(v, "entries: the entry does not decode: %s", at_strerror(rc));
    if (e.index != i)
        return s_problem(v, "entries: stored index is %" PRIu64, e.index);
    if (i > 0 && e.seq <= v->last_seq)   /* one writer, in broker order (two sinks on one log break it) */
        return s_problem(v, "order: seq %" PRIu64 " is not above the previous entry's seq %" PRIu64, e.seq,
                         v->last_seq);
    v->last_seq = e.seq;
    if (sodium_memcmp(e.prev_hash, v->prev, LOGDB_HASH_BYTES) != 0)
        return s_problem(v, "chain: prev_hash is not the hash of entry %" PRIu64 "%s", i - 1,
                         i ? "" : " (entry 0 must have zeroes)");
    entry_hash(raw, raw_len, v->prev);
    uint8_t id[AT_ID_BYTES];
    int reason = s_judge_entry(self, &e, id);
    if (sodium_memcmp(id, e.id, AT_ID_BYTES) != 0)
        return s_problem(v, "ids: the stored id is not the attestation's id");
    if (!s_verify_id(self, v, &e, i))
        return false;
    uint8_t verdict = reason ? WIRE_INVALID : WIRE_VALID;
    if (!s_verify_revocation(self, v, &e, i, &verdict, &reason))
        return false;
    if (e.verdict != verdict || e.reason != reason)
        return s_problem(v, "verdicts: stored %s (%s) but a fresh judgement gives %s (%s)",
                         e.verdict == WIRE_VALID ? "valid" : "invalid", at_strerror(e.reason),
                         reason ? "invalid" : "valid", at_strerror(reason));
    /* Both keys come from CURVE links of one cluster: both or neither. */
    if ((e.producer_key_len == 0) != (e.worker_key_len == 0))
        return s_problem(v, "lineage: the entry names a %s key but no %s key", e.producer_key_len ? "producer" : "worker",
                         e.producer_key_len ? "worker" : "producer");
    v->keyed += e.producer_key_len != 0;
    verdict == WIRE_VALID ? v->valid++ : v->invalid++;
    return true;
}

/*  An entry that can be read and decoded, or the problem with it. */
static bool s_verify_present(s_log_t *self, s_verify_t *v, uint64_t i)
{
    logdb_entry_t e;
    at_err rc = logdb_get(self->db, i, &e, NULL, NULL);
    if (rc == AT_ERR_NOT_FOUND)
        return s_problem(v, "entries: entry missing (the log says it has %" PRIu64 " entries)", v->n);
    if (rc)
        return s_problem(v, "entries: the entry does not decode: %s", at_strerror(rc));
    return true;
}

/*  The id lookups of every entry read the entries not yet in the ids index
 *  (from ids_upto to the end) first: one missing or corrupt there would make
 *  every lookup fail, and be reported at the wrong index. So these are
 *  checked first, and a problem is reported at its own index in *at. */
static bool s_verify_tail(s_log_t *self, s_verify_t *v, const logdb_state_t *st, uint64_t *at)
{
    for (uint64_t i = st->ids_upto; i < v->n; i++)
        if (!s_verify_present(self, v, i)) {
            *at = i;
            return false;
        }
    return true;
}

/*  Meta head and the absence of entries past the end. */
static bool s_verify_end(s_log_t *self, s_verify_t *v, const logdb_state_t *st, uint64_t *at)
{
    *at = v->n;
    if (logdb_get(self->db, v->n, NULL, NULL, NULL) != AT_ERR_NOT_FOUND)
        return s_problem(v, "entries: an entry exists past next_index %" PRIu64, v->n);
    if (sodium_memcmp(st->head, v->prev, LOGDB_HASH_BYTES) != 0)
        return v->n ? s_problem(v, "chain: meta head is not the hash of the last entry (index %" PRIu64 ")", v->n - 1)
                    : s_problem(v, "chain: meta head of an empty log is not zeroes");
    return true;
}

/*  Opens a snapshot whose count matches *st (the state is read apart). */
static bool s_consistent_snapshot(s_log_t *self, logdb_state_t *st)
{
    for (int tries = 0; tries < 20; tries++) {
        logdb_read_end(self->db);
        if (logdb_state(self->db, st) != AT_OK || logdb_read_begin(self->db) != AT_OK)
            return false;
        if (logdb_count(self->db) == st->next_index)
            return true;
    }
    return false;
}

/*  --from: the chain is checked from the link into `from`, so v->prev is
 *  the hash of the entry before it. */
static bool s_verify_start(s_log_t *self, s_verify_t *v, uint64_t from)
{
    if (from == 0)
        return true;
    if (from >= v->n)
        return s_problem(v, "--from %" PRIu64 " is not below the %" PRIu64 " entries of the log", from, v->n);
    const uint8_t *raw;
    size_t raw_len;
    logdb_entry_t prev;
    at_err rc = logdb_get(self->db, from - 1, &prev, &raw, &raw_len);
    if (rc)
        return s_problem(v, "entries: entry %" PRIu64 ": %s", from - 1, at_strerror(rc));
    entry_hash(raw, raw_len, v->prev);
    v->last_seq = prev.seq;
    return true;
}

static int s_verify_worker(s_log_t *self, const char *worker);
static int s_verify_report(s_log_t *self, const s_verify_t *v, uint64_t from, uint64_t to);

static int s_verify(s_log_t *self)
{
    s_verify_t v;
    memset(&v, 0, sizeof v);
    logdb_state_t st;
    if (!s_consistent_snapshot(self, &st)) {
        fprintf(stderr, "attest log verify: cannot read a consistent snapshot of the log\n");
        return 1;
    }
    if (*cfg_str(self->cfg, "worker"))
        return s_verify_worker(self, cfg_str(self->cfg, "worker"));
    v.n = st.next_index;
    uint64_t from = (uint64_t) cfg_int(self->cfg, "from"), to = (uint64_t) cfg_int(self->cfg, "to");
    to = cfg_is_set(self->cfg, "to") && to < v.n ? to : v.n;
    uint64_t at = v.n, last = at_clock_mono_us();
    bool ok = s_verify_tail(self, &v, &st, &at);
    if (ok && !(ok = s_verify_start(self, &v, from)))
        at = from;
    if (ok && to < from && !(ok = s_problem(&v, "--to %" PRIu64 " is below --from %" PRIu64, to, from)))
        at = to;
    for (uint64_t i = from; i < to && ok; i++) {
        if (!(ok = s_verify_entry(self, &v, i)))
            at = i;
        if (at_clock_mono_us() - last >= S_PROGRESS_US) {
            last = at_clock_mono_us();
            fprintf(stderr, "verify: %" PRIu64 "/%" PRIu64 " entries checked\n", i + 1, v.n);
        }
    }
    if (ok && to == v.n)
        ok = s_verify_end(self, &v, &st, &at);
    if (!ok) {
        printf("verify: FAILED at index %" PRIu64 ": %s\n", at, v.problem);
        return 1;
    }
    return s_verify_report(self, &v, from, to);
}

/*  The entries passed: says so, then the tree's checks (cmd_prove.c). */
static int s_verify_report(s_log_t *self, const s_verify_t *v, uint64_t from, uint64_t to)
{
    if (from || to < v->n)
        printf("verify: checked entries [%" PRIu64 ", %" PRIu64 ") (the chain link into them included)\n", from, to);
    printf("verify: entries=%" PRIu64 " valid=%" PRIu64 " invalid=%" PRIu64 " chain=ok ids=ok verdicts=ok\n",
           to - from, v->valid, v->invalid);
    if (v->revocations)
        printf("verify: revocations: %" PRIu64 " valid, each judged again in log order and in the status index\n",
               v->revocations);
    if (v->keyed)
        printf("verify: lineage: %" PRIu64 " entries name the producer's and the worker's authenticated keys, %" PRIu64
               " (format 1 or --insecure) name none\n", v->keyed, to - from - v->keyed);
    return prove_verify_tree(self->db, self->cfg, from, to, v->n);
}

/* --------------------------------------------------------------------------
 * verify --worker */

typedef struct {
    s_log_t *log;
    const char *worker;
    uint64_t judged, disagree, recorded;
} s_worker_t;

/*  One entry of the worker's, re-judged as s_verify_entry does. */
static int s_worker_entry(const logdb_entry_t *e, void *arg)
{
    s_worker_t *w = arg;
    char z85[48] = "";
    if (e->worker_key_len == WIRE_KEY_BYTES) {
        memcpy(z85, "key:", 4);
        zmq_z85_encode(z85 + 4, e->worker_key, WIRE_KEY_BYTES);
    }
    bool by_key = strncmp(w->worker, "key:", 4) == 0;   /* the quarantine's identity with CURVE */
    if (by_key ? strcmp(z85, w->worker) != 0
               : e->worker_len != strlen(w->worker) || memcmp(e->worker, w->worker, e->worker_len) != 0)
        return 0;
    uint8_t id[AT_ID_BYTES];
    int reason = attestation_judge(e->att, e->att_len, e->t_verified / 1000000u,
                                   (uint64_t) cfg_int(w->log->cfg, "clock-skew-s"), id);
    /* A revocation the worker judged valid may be logged invalid by the sink (store/revoke.h). */
    bool sinks = reason == AT_OK && revoke_is_reason(e->reason);
    bool agree = sodium_memcmp(id, e->id, AT_ID_BYTES) == 0
              && (sinks || (e->reason == reason && e->verdict == (reason ? WIRE_INVALID : WIRE_VALID)));
    w->judged++;
    w->disagree += !agree;
    printf("entry %" PRIu64 ": seq %" PRIu64 ", judged %s (%s), re-judged %s (%s)%s\n", e->index, e->seq,
           e->verdict == WIRE_VALID ? "valid" : "invalid", at_strerror(e->reason), reason ? "invalid" : "valid",
           at_strerror(reason), agree ? "" : ": DISAGREES");
    return ferror(stdout) ? 1 : 0;
}

static int s_worker_audit(const logdb_audit_t *a, void *arg)
{
    s_worker_t *w = arg;
    if (a->worker_len != strlen(w->worker) || memcmp(a->worker, w->worker, a->worker_len) != 0)
        return 0;
    w->recorded++;
    printf("audit: index %" PRIu64 ": the worker said %s (%s), the audit %s (%s), at %" PRIu64 " us\n", a->index,
           a->got_verdict == WIRE_VALID ? "valid" : "invalid", at_strerror(a->got_reason),
           a->expected_verdict == WIRE_VALID ? "valid" : "invalid", at_strerror(a->expected_reason), a->t_audited);
    return 0;
}

/*  Every entry the worker judged (a scan of the log), re-judged, then the
 *  disagreements the sink's spot audit recorded about it. Exit status 1
 *  when any entry disagrees or any disagreement is recorded. */
static int s_verify_worker(s_log_t *self, const char *worker)
{
    s_worker_t w = { .log = self, .worker = worker };
    if (s_walk(self, (uint64_t) cfg_int(self->cfg, "from"), logdb_count(self->db), s_worker_entry, &w))
        return 1;
    at_err rc = logdb_audit_each(self->db, s_worker_audit, &w);
    if (rc) {
        fprintf(stderr, "attest log verify: the audit database: %s\n", at_strerror(rc));
        return 1;
    }
    printf("verify: worker %s: judged=%" PRIu64 " disagree=%" PRIu64 " audit_disagreements=%" PRIu64 "\n", worker,
           w.judged, w.disagree, w.recorded);
    return w.disagree || w.recorded ? 1 : 0;
}

/* --------------------------------------------------------------------------
 * Proofs (cmd_prove.c) */

static int s_checkpoint(s_log_t *self) { return prove_checkpoint(self->db, self->cfg); }
static int s_prove(s_log_t *self) { return prove_inclusion(self->db, self->cfg); }
static int s_consistency(s_log_t *self) { return prove_consistency(self->db, self->cfg); }

/* --------------------------------------------------------------------------
 * Dispatch */

typedef struct {
    const char *name;
    size_t nargs;
    s_sub_fn *run;              /* in one read snapshot */
    int (*write)(const char *dir, const char *arg);   /* or as the log's writer (the sink stopped) */
    const char *usage;
} s_sub_t;

static const s_sub_t s_subs[] = {
    { "count", 0, s_count, NULL, "count" },
    { "get", 1, s_get, NULL, "get INDEX|ID-PREFIX" },
    { "id", 1, s_id, NULL, "id HEX" },
    { "tail", 0, s_tail, NULL, "tail [--n N] [--follow] [--format table|json]" },
    { "find", 0, s_find, NULL, "find [--attester HEX] [--schema S] [--subject S] [--producer P] [--worker W] "
                         "[--reason R] [--since T] [--until T] [--limit N] [--format table|json]" },
    { "reindex", 0, NULL, s_reindex, "reindex" },
    { "unquarantine", 1, NULL, s_unquarantine, "unquarantine IDENT" },
    { "rejected", 0, s_rejected, NULL, "rejected" },
    { "export", 0, s_export, NULL, "export [--out FILE]" },
    { "verify", 0, s_verify, NULL, "verify [--from I] [--to J] [--log-key PUB] [--since CHECKPOINT_FILE] [--worker ID]" },
    { "checkpoint", 0, s_checkpoint, NULL, "checkpoint [--size N] [--json] [--log-key PUB]" },
    { "prove", 1, s_prove, NULL, "prove INDEX|ID [--size N] [--json | --format c2sp|rfc9162 [--base64]]" },
    { "consistency", 2, s_consistency, NULL, "consistency OLD NEW [--json | --format rfc9162 [--base64]]" },
};
#define S_NSUBS (sizeof s_subs / sizeof s_subs[0])

static const s_sub_t *s_find_sub(const cfg_t *cfg)
{
    const char *name = cfg_positional(cfg, 0);
    if (!name) {
        fprintf(stderr, "attest log: which subcommand? count, get, id, tail, find, rejected, export, verify, "
                        "checkpoint, prove, consistency, serve, reindex or unquarantine (try --help)\n");
        return NULL;
    }
    for (size_t i = 0; i < S_NSUBS; i++) {
        if (strcmp(name, s_subs[i].name) != 0)
            continue;
        if (cfg_npositional(cfg) != 1 + s_subs[i].nargs) {
            fprintf(stderr, "attest log: usage: attest log [--log-dir DIR] %s\n", s_subs[i].usage);
            return NULL;
        }
        return &s_subs[i];
    }
    fprintf(stderr, "attest log: unknown subcommand '%s' (try --help)\n", name);
    return NULL;
}

static logdb_t *s_open(const char *dir)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &st) != 0) {
        int e = errno;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/log/data.mdb", dir);
        if (e == EACCES)
            fprintf(stderr, "attest log: permission denied reading %s: run as a user who may read the log\n", path);
        else if (stat(sub, &st) == 0)
            fprintf(stderr, "attest log: no log at %s, but there is one in %s/log: did you mean --log-dir %s/log?\n",
                    dir, dir, dir);
        else
            fprintf(stderr, "attest log: no log at %s (%s): start the pipeline with 'attest up' or pass --log-dir\n",
                    dir, strerror(e));
        return NULL;
    }
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "attest log: permission denied reading %s: run as a user who may read the log\n", path);
        return NULL;
    }
    at_err err;
    logdb_t *db = logdb_open(dir, true, 0, &err);
    if (!db)
        fprintf(stderr, "attest log: cannot open the log at %s: %s (is it an Attest log? is it readable?)\n", dir,
                at_strerror(err));
    return db;
}

static int s_run(const cfg_t *cfg, void *unused)
{
    (void) unused;
    const s_sub_t *sub = s_find_sub(cfg);
    if (!sub)
        return 2;
    s_log_t self = { .cfg = cfg, .dir = cfg_str(cfg, "log-dir"), .arg = cfg_positional(cfg, 1) };
    if (sub->write)
        return sub->write(self.dir, self.arg);
    self.db = s_open(self.dir);
    if (!self.db)
        return 1;
    int code = 1;
    if (logdb_read_begin(self.db) == AT_OK) {
        code = sub->run(&self);
        logdb_read_end(self.db);
    }
    logdb_destroy(&self.db);
    return code;
}

/*  Where "serve" is the subcommand (the first positional: flags before it
 *  take a value unless written --name=value or a bool), or -1. */
static int s_serve_at(int argc, char **argv)
{
    static const char *const bools[] = { "--follow", "-f", "--help", "-h", "--version" };
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] != '-')
            return strcmp(argv[i], "serve") == 0 ? i : -1;
        bool takes_value = !strchr(argv[i], '=');
        for (size_t b = 0; b < sizeof bools / sizeof bools[0]; b++)
            takes_value = takes_value && strcmp(argv[i], bools[b]) != 0;
        i += takes_value;
    }
    return -1;
}

/*  `attest log [flags] serve [flags]`: the server, with its own table. */
static int s_serve(int argc, char **argv, int at)
{
    char **args = at_calloc((size_t) argc + 1, sizeof *args);
    args[0] = argv[at];
    for (int i = 1, k = 1; i < argc; i++)
        if (i != at)
            args[k++] = argv[i];
    int code = logserve_main(argc - 1, args);
    free(args);
    return code;
}

int cmd_log(int argc, char **argv)
{
    int serve = s_serve_at(argc, argv);
    if (serve > 0)
        return s_serve(argc, argv, serve);
    const cfg_app_t app = {
        .prog = "attest log",
        .summary = "Usage: attest log [--log-dir DIR] SUBCOMMAND [options]\n\n"
                         "Subcommands:\n"
                         "  count                     number of entries\n"
                         "  get INDEX|ID-PREFIX       one entry as pretty JSON (-1: the last one)\n"
                         "  id HEX                    the valid entry with that attestation id (a unique\n"
                         "                            prefix will do), else its invalid entries\n"
                         "  tail [--n N] [--follow]   the last N entries as JSON lines (--format table);\n"
                         "                            --follow keeps printing new ones until Ctrl-C\n"
                         "  find [filters]            entries matching --attester --schema --subject\n"
                         "                            --producer --worker --reason --since --until\n"
                         "                            (all given must hold), --limit N, --format table|json\n"
                         "  reindex                   build the find indexes of an older log (sink stopped)\n"
                         "  unquarantine IDENT        lift the spot audit's quarantine of a fixed worker\n"
                         "                            (sink stopped; then SIGHUP the broker)\n"
                         "  rejected                  invalid entries as JSON lines\n"
                         "  export [--out FILE]       every entry as JSON lines\n"
                         "  verify [--from I] [--to J] check indices, hash chain, ids index, verdicts, the\n"
                         "                            Merkle tree and the newest checkpoint (--log-key PUB:\n"
                         "                            its signature); --since FILE: the log extends that\n"
                         "                            saved checkpoint\n"
                         "  checkpoint [--size N]     the newest (or size-N) signed checkpoint (--json)\n"
                         "  prove INDEX|ID [--size N] inclusion proof (--json, --format c2sp|rfc9162)\n"
                         "  consistency OLD NEW       consistency proof (--json, --format rfc9162)\n"
                         "  verify --worker ID        list and re-judge every entry ID judged, and the\n"
                         "                            spot audit's disagreements about it (exit 1 if any)\n"
                         "  serve [--listen ADDR]     serve checkpoint, tiles and entry bundles over HTTP\n"
                         "                            (tlog-tiles; 'attest log serve --help' lists its options)",
        .defs = s_defs,
        .ndefs = sizeof s_defs / sizeof s_defs[0],
        .positionals = "SUBCOMMAND [ARG...]",
        .fn = s_run,
    };
    return cfg_run(&app, argc, argv);
}
