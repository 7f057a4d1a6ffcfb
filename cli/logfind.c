/*  logfind.c: `attest log find` and the human rendering of entries (see
 *  logfind.h).
 *
 *  The plan: --since/--until narrow the index range by bisection on
 *  t_committed (logdb_time_search); the most selective filter that has an
 *  index (attester, then subject, then schema) gives the candidates, the
 *  entries below the log's find_from (a log written before the indexes)
 *  are scanned, and every candidate is checked against every filter on the
 *  entry itself (the indexes are keyed by hashes). With no indexed filter
 *  the range is scanned. Output is in index order.
 */
#include "logfind.h"
#include "attestation.h"
#include "clock.h"
#include "jsonl.h"
#include "wire.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    logdb_t *db;
    const char *producer, *schema, *subject, *reason, *worker;   /* NULL: not filtered */
    bool has_attester;
    uint8_t attester[AT_KEY_BYTES];
    uint64_t since_us, until_us;   /* t_committed within [since, until] */
    uint64_t lo, hi;               /* index range */
    uint64_t limit, found, looked;
    bool json;
    int code;                      /* exit status once something failed */
} s_find_t;

/* ------------------------------------------------------------ rendering */

void logfind_iso(uint64_t us, char out[32])
{
    time_t s = (time_t) (us / 1000000u);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%06uZ", (unsigned) (us % 1000000u));
}

static void s_ms(uint64_t a, uint64_t b, char *out, size_t cap)
{
    double ms = b > a ? (double) (b - a) / 1000.0 : 0.0;
    snprintf(out, cap, ms < 1 ? "%.2f ms" : ms < 10 ? "%.1f ms" : "%.0f ms", ms);
}

void logfind_stages(const logdb_entry_t *e, char out[96])
{
    char q[24], v[24], c[24];
    s_ms(e->t_received, e->t_dispatched, q, sizeof q);
    s_ms(e->t_dispatched, e->t_verified, v, sizeof v);
    s_ms(e->t_verified, e->t_committed, c, sizeof c);
    snprintf(out, 96, "queue %s, verify %s, commit %s", q, v, c);
}

void logfind_add_human(json_t *obj, const logdb_entry_t *e)
{
    char iso[32], st[96];
    logfind_iso(e->t_committed, iso);
    logfind_stages(e, st);
    json_object_set_new(obj, "committed_at", json_string(iso));
    json_object_set_new(obj, "stages", json_string(st));
}

void logfind_table_header(FILE *f)
{
    fprintf(f, "%-9s %-27s %-7s %-14s %-16s %-12s %-12s %-20s %-24s %s\n", "INDEX", "COMMITTED (UTC)", "VERDICT",
            "REASON", "PRODUCER", "WORKER", "ID", "SCHEMA", "SUBJECT", "STAGES");
}

void logfind_table_row(FILE *f, const logdb_entry_t *e)
{
    char iso[32], st[96], id[2 * AT_ID_BYTES + 1];
    logfind_iso(e->t_committed, iso);
    logfind_stages(e, st);
    for (int i = 0; i < 6; i++)
        snprintf(id + 2 * i, 3, "%02x", e->id[i]);
    attestation_t a;
    bool ok = attestation_decode(&a, e->att, e->att_len) == AT_OK;
    fprintf(f, "%-9" PRIu64 " %-27s %-7s %-14s %-16.*s %-12.*s %-12s %-20.*s %-24.*s %s\n", e->index, iso,
            e->verdict == WIRE_VALID ? "valid" : "invalid", at_strerror(e->reason), (int) e->producer_len,
            e->producer, (int) e->worker_len, e->worker, id, ok ? (int) a.schema_len : 1, ok ? a.schema : "-",
            ok ? (int) a.subject_len : 1, ok ? a.subject : "-", st);
}

/* ------------------------------------------------------------ times */

static bool s_parse_age(const char *s, uint64_t now_us, uint64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return false;
    double unit = !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600
                : !strcmp(end, "d") ? 86400 : 0;
    if (unit == 0)
        return false;
    double ago = v * unit * 1e6;
    *out = ago >= (double) now_us ? 0 : now_us - (uint64_t) ago;
    return true;
}

/*  YYYY-MM-DD[(T| )HH:MM[:SS[.ffffff]]][Z|+00:00], UTC. */
static bool s_parse_iso(const char *s, uint64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3)
        return false;
    const char *p = s + n;
    double frac = 0;
    if (*p == 'T' || *p == ' ') {
        if (sscanf(p + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &n) != 2)
            return false;
        p += 1 + n;
        if (*p == ':' && sscanf(p + 1, "%2d%n", &tm.tm_sec, &n) == 1)
            p += 1 + n;
        if (*p == '.') {
            char *end;
            frac = strtod(p, &end);
            p = end;
        }
    }
    if (*p && strcmp(p, "Z") && strcmp(p, "+00:00"))
        return false;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59
        || tm.tm_sec > 60 || tm.tm_year < 1970)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t < 0)
        return false;
    *out = (uint64_t) t * 1000000u + (uint64_t) (frac * 1e6);
    return true;
}

bool logfind_parse_time(const char *s, uint64_t now_us, uint64_t *out_us)
{
    return s_parse_iso(s, out_us) || s_parse_age(s, now_us, out_us);
}

/* ------------------------------------------------------------ matching */

static bool s_str_is(const char *want, const char *p, size_t n)
{
    return !want || (strlen(want) == n && memcmp(want, p, n) == 0);
}

static bool s_match(const s_find_t *f, const logdb_entry_t *e)
{
    if (e->t_committed < f->since_us || e->t_committed > f->until_us)
        return false;
    if (!s_str_is(f->producer, e->producer, e->producer_len) || !s_str_is(f->worker, e->worker, e->worker_len))
        return false;
    if (f->reason && strcmp(f->reason, at_strerror(e->reason)) != 0)
        return false;
    if (!f->has_attester && !f->schema && !f->subject)
        return true;
    attestation_t a;
    if (attestation_decode(&a, e->att, e->att_len) != AT_OK)
        return false;
    return (!f->has_attester || memcmp(a.attester, f->attester, AT_KEY_BYTES) == 0)
        && s_str_is(f->schema, a.schema, a.schema_len) && s_str_is(f->subject, a.subject, a.subject_len);
}

static void s_print(s_find_t *f, const logdb_entry_t *e)
{
    if (f->json) {
        json_t *o = jsonl_entry(e);
        jsonl_print(stdout, o);
        json_decref(o);
    } else {
        if (f->found == 0)
            logfind_table_header(stdout);
        logfind_table_row(stdout, e);
    }
    f->found++;
}

/*  One candidate index: 0 to go on, 1 to stop (past the range, the limit,
 *  or an error in f->code). */
static int s_visit(uint64_t index, void *arg)
{
    s_find_t *f = arg;
    if (index < f->lo)
        return 0;
    if (index >= f->hi)
        return 1;
    logdb_entry_t e;
    at_err rc = logdb_get(f->db, index, &e, NULL, NULL);
    f->looked++;
    if (rc) {
        fprintf(stderr, "attest log find: entry %" PRIu64 ": %s (run 'attest log verify')\n", index,
                at_strerror(rc));
        f->code = 1;
        return 1;
    }
    if (s_match(f, &e))
        s_print(f, &e);
    return f->limit && f->found >= f->limit ? 1 : ferror(stdout) ? (f->code = 1) : 0;
}

static int s_scan(s_find_t *f, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++)
        if (s_visit(i, f))
            return 1;
    return 0;
}

/* ------------------------------------------------------------ the plan */

/*  The indexed filter to use, or false. */
static bool s_pick(const s_find_t *f, logdb_by_t *by, const void **v, size_t *len)
{
    if (f->has_attester) {
        *by = LOGDB_BY_ATTESTER, *v = f->attester, *len = AT_KEY_BYTES;
    } else if (f->subject) {
        *by = LOGDB_BY_SUBJECT, *v = f->subject, *len = strlen(f->subject);
    } else if (f->schema) {
        *by = LOGDB_BY_SCHEMA, *v = f->schema, *len = strlen(f->schema);
    } else {
        return false;
    }
    return true;
}

static const char *const s_by_names[] = { "by_attester index", "by_schema index", "by_subject index" };

static int s_execute(s_find_t *f, const char **how)
{
    logdb_by_t by;
    const void *v;
    size_t len;
    uint64_t find_from;
    bool indexed = logdb_find_indexed(f->db, &find_from);
    if (!s_pick(f, &by, &v, &len)) {
        *how = "scan";
        return s_scan(f, f->lo, f->hi);
    }
    *how = s_by_names[by];
    if (find_from > f->lo)
        fprintf(stderr, "attest log find: entries below %" PRIu64 " are not in the find index (%s): scanning %" PRIu64
                        " entries; 'attest log reindex' (with the sink stopped) builds it\n", find_from,
                indexed ? "written before it existed" : "this log has none",
                (find_from < f->hi ? find_from : f->hi) - f->lo);
    if (s_scan(f, f->lo, find_from < f->hi ? find_from : f->hi) || !indexed || find_from >= f->hi)
        return 0;
    at_err rc = logdb_find_each(f->db, by, v, len, f->lo > find_from ? f->lo : find_from, f->hi, s_visit, f);
    if (rc) {
        fprintf(stderr, "attest log find: the %s: %s (run 'attest log verify')\n", *how, at_strerror(rc));
        f->code = 1;
    }
    return 0;
}

static const char *s_opt(const cfg_t *cfg, const char *name)
{
    const char *s = cfg_str(cfg, name);
    return s && *s ? s : NULL;
}

/*  --since/--until into f->since_us/until_us and the index range. */
static int s_range(s_find_t *f, const cfg_t *cfg)
{
    uint64_t now = at_clock_wall_us();
    const char *since = s_opt(cfg, "since"), *until = s_opt(cfg, "until");
    f->since_us = 0;
    f->until_us = UINT64_MAX;
    if ((since && !logfind_parse_time(since, now, &f->since_us))
        || (until && !logfind_parse_time(until, now, &f->until_us))) {
        fprintf(stderr, "attest log find: --since/--until take an ISO 8601 UTC time (2026-12-01T22:00:00Z, "
                        "2026-12-01) or an age (90s, 10m, 2h, 1d), got '%s'\n",
                since && !logfind_parse_time(since, now, &f->since_us) ? since : until);
        return 2;
    }
    f->lo = 0;
    f->hi = logdb_count(f->db);
    at_err rc = since ? logdb_time_search(f->db, f->since_us, &f->lo) : AT_OK;
    if (!rc && until && f->until_us < UINT64_MAX)
        rc = logdb_time_search(f->db, f->until_us + 1, &f->hi);
    if (rc) {
        fprintf(stderr, "attest log find: %s (run 'attest log verify')\n", at_strerror(rc));
        return 1;
    }
    return 0;
}

static bool s_reason_known(const char *name)
{
    for (int r = 0; r < AT_ERR_COUNT_; r++)
        if (strcmp(name, at_strerror(r)) == 0)
            return true;
    return false;
}

static int s_setup(s_find_t *f, logdb_t *db, const cfg_t *cfg)
{
    *f = (s_find_t) { .db = db, .producer = s_opt(cfg, "producer"), .schema = s_opt(cfg, "schema"),
                      .subject = s_opt(cfg, "subject"), .reason = s_opt(cfg, "reason"),
                      .worker = s_opt(cfg, "worker"), .limit = (uint64_t) cfg_int(cfg, "limit") };
    const char *format = cfg_str(cfg, "format"), *att = s_opt(cfg, "attester");
    if (*format && strcmp(format, "table") && strcmp(format, "json")) {
        fprintf(stderr, "attest log find: --format is table or json, got '%s'\n", format);
        return 2;
    }
    f->json = !strcmp(format, "json");
    if (f->reason && !s_reason_known(f->reason)) {
        fprintf(stderr, "attest log find: --reason takes a reason name (ok, signature, expired, not_yet_valid, "
                        "msgpack, ...: protocol.md section 10), got '%s'\n", f->reason);
        return 2;
    }
    if (att && !(f->has_attester = jsonl_unhex(att, f->attester, AT_KEY_BYTES))) {
        fprintf(stderr, "attest log find: --attester wants a public key of 64 hex digits, got '%s'\n", att);
        return 2;
    }
    return s_range(f, cfg);
}

int logfind_run(logdb_t *db, const cfg_t *cfg)
{
    s_find_t f;
    int code = s_setup(&f, db, cfg);
    if (code)
        return code;
    uint64_t t0 = at_clock_mono_us();
    const char *how = "scan";
    if (f.lo < f.hi)
        s_execute(&f, &how);
    if (fflush(stdout) != 0)
        f.code = 1;
    fprintf(stderr, "find: %" PRIu64 " entr%s (%s, %" PRIu64 " read, %.1f ms)\n", f.found, f.found == 1 ? "y" : "ies",
            strcmp(how, "scan") ? how : "scan", f.looked, (double) (at_clock_mono_us() - t0) / 1000.0);
    return f.code;
}
