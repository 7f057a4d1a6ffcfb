/*  cmd_status.c: `attest status` (one screen, or --json) and `attest top`
 *  (the same, refreshed every second until Ctrl-C, like `redis-cli --stat`).
 *
 *  Everything shown comes from the daemons' metrics endpoints (scrape.h):
 *  the broker's (admission, queue, credit, workers with their in-flight
 *  tasks, congestion window and rate, the age of the oldest uncommitted
 *  attestation, errors) and the sink's (registration and epoch, commits,
 *  verdicts, errors). Rates are differences between two scrapes: status
 *  scrapes twice, rate-ms apart; top uses the previous refresh. Exit status
 *  1 when the broker's endpoint cannot be read (the sink's absence is shown,
 *  not fatal), 2 for bad usage.
 */
#include "commands.h"
#include "clock.h"
#include "config.h"
#include "scrape.h"
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *broker, *sink;
    int64_t timeout_ms, rate_ms, interval_ms, count;
    bool json;
} s_settings_t;

#define T_ s_settings_t
#define S_COMMON                                                                                           \
    CFG_STR_AT(T_, broker, "broker-metrics", "127.0.0.1:9100", "the broker's metrics endpoint HOST:PORT"), \
    CFG_STR_AT(T_, sink, "sink-metrics", "127.0.0.1:9101", "the sink's metrics endpoint HOST:PORT (empty: none)"), \
    CFG_INT_AT(T_, timeout_ms, "timeout-ms", "1000", 10, 60000, "give up on an endpoint after this long")
static const cfg_def_t s_status_defs[] = {
    S_COMMON,
    CFG_INT_AT(T_, rate_ms, "rate-ms", "500", 0, 10000, "scrape twice this far apart to show rates (0: no rates)"),
    CFG_BOOL_AT(T_, json, "json", "false", "print one JSON object instead of the screen"),
};
static const cfg_def_t s_top_defs[] = {
    S_COMMON,
    CFG_INT_AT(T_, interval_ms, "interval-ms", "1000", 100, 60000, "time between refreshes"),
    CFG_INT_AT(T_, count, "count", "0", 0, 1000000, "stop after this many screens (0: until Ctrl-C)"),
};
#undef T_

typedef struct {
    scrape_t *b, *s;          /* NULL: not reachable */
    char bwhy[128], swhy[128];
    double t;                 /* monotonic seconds of the scrape */
} s_view_t;

typedef struct {
    const s_view_t *cur, *prev;   /* prev may be NULL: no rates */
} s_pair_t;

static void s_view_take(s_view_t *v, const s_settings_t *o)
{
    memset(v, 0, sizeof *v);
    v->b = scrape_fetch(o->broker, (int) o->timeout_ms, v->bwhy, sizeof v->bwhy);
    if (*o->sink)
        v->s = scrape_fetch(o->sink, (int) o->timeout_ms, v->swhy, sizeof v->swhy);
    else
        snprintf(v->swhy, sizeof v->swhy, "not asked for");
    v->t = (double) at_clock_mono_us() / 1e6;
}

static void s_view_free(s_view_t *v)
{
    scrape_destroy(&v->b);
    scrape_destroy(&v->s);
}

static double s_get(const scrape_t *s, const char *name)
{
    double v = 0;
    if (s)
        (void) scrape_value(s, name, NULL, NULL, &v);
    return v;
}

/*  An unlabelled sample's value as written ("-" when absent). */
static const char *s_text(const scrape_t *s, const char *name)
{
    for (size_t i = 0; s && i < scrape_count(s); i++) {
        const scrape_sample_t *x = scrape_at(s, i);
        if (strcmp(x->name, name) == 0 && !*x->labels)
            return x->text;
    }
    return "-";
}

/*  Per second, between the two views; -1 when unknown. A counter that went
 *  down (a restart) gives -1 too. */
static double s_rate(const s_pair_t *p, bool broker, const char *name, const char *label, const char *value)
{
    if (!p->prev || p->cur->t <= p->prev->t)
        return -1;
    const scrape_t *a = broker ? p->prev->b : p->prev->s, *b = broker ? p->cur->b : p->cur->s;
    double x, y;
    if (!a || !b || !scrape_value(a, name, label, value, &x) || !scrape_value(b, name, label, value, &y) || y < x)
        return -1;
    return (y - x) / (p->cur->t - p->prev->t);
}

/* ------------------------------------------------------------- JSON */

/*  A count as a JSON integer, anything else as a real. */
static json_t *s_num(double v)
{
    if (v == (double) (json_int_t) v && v > -9e15 && v < 9e15)
        return json_integer((json_int_t) v);
    return json_real(v);
}

/*  An unlabelled integer sample, exactly as written (epochs are 64-bit). */
static json_t *s_exact(const scrape_t *s, const char *name)
{
    for (size_t i = 0; s && i < scrape_count(s); i++) {
        const scrape_sample_t *x = scrape_at(s, i);
        if (strcmp(x->name, name) == 0 && !*x->labels)
            return json_integer((json_int_t) strtoull(x->text, NULL, 10));
    }
    return json_null();
}

static json_t *s_json_workers(const s_pair_t *p)
{
    json_t *arr = json_array();
    const scrape_t *b = p->cur->b;
    for (size_t i = 0; b && i < scrape_count(b); i++) {
        const scrape_sample_t *s = scrape_at(b, i);
        char id[128];
        if (strcmp(s->name, "attest_broker_worker_inflight") != 0 || !scrape_label(s, "worker", id, sizeof id))
            continue;
        double window = 0, done = 0;
        (void) scrape_value(b, "attest_broker_worker_window", "worker", id, &window);
        (void) scrape_value(b, "attest_broker_worker_done_total", "worker", id, &done);
        double rate = s_rate(p, true, "attest_broker_worker_done_total", "worker", id);
        json_array_append_new(arr, json_pack("{s:s, s:o, s:o, s:o, s:o}", "id", id, "inflight", s_num(s->value),
                                             "window", s_num(window), "done", s_num(done),
                                             "rate", rate < 0 ? json_null() : json_real(rate)));
    }
    return arr;
}

static json_t *s_json_broker(const s_pair_t *p, const char *address)
{
    const scrape_t *b = p->cur->b;
    json_t *o = json_pack("{s:s, s:b}", "address", address, "reachable", b != NULL);
    if (!b) {
        json_object_set_new(o, "error", json_string(p->cur->bwhy));
        return o;
    }
    static const char *const gauges[][2] = {
        { "producers", "attest_broker_producers" },
        { "workers", "attest_broker_workers" }, { "queue_depth", "attest_broker_queue_depth" },
        { "held", "attest_broker_held" }, { "credit_outstanding", "attest_broker_outstanding_credit" },
        { "worker_credit", "attest_broker_worker_credit" }, { "uncommitted", "attest_broker_uncommitted" },
        { "oldest_uncommitted_age_seconds", "attest_broker_oldest_uncommitted_age_seconds" },
        { "admitted", "attest_broker_admitted_total" }, { "acked", "attest_broker_acked_total" },
    };
    for (size_t i = 0; i < sizeof gauges / sizeof gauges[0]; i++)
        json_object_set_new(o, gauges[i][0], s_num(s_get(b, gauges[i][1])));
    json_object_set_new(o, "epoch", s_exact(b, "attest_broker_epoch"));
    json_object_set_new(o, "sink_up", json_boolean(s_get(b, "attest_broker_sink_up") > 0));
    json_object_set_new(o, "worker_list", s_json_workers(p));
    json_object_set_new(o, "errors", json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
                                               "refused", s_num(scrape_sum(b, "attest_broker_refused_total")),
                                               "malformed", s_num(s_get(b, "attest_broker_malformed_total")),
                                               "redispatched", s_num(s_get(b, "attest_broker_redispatched_total")),
                                               "duplicates", s_num(s_get(b, "attest_broker_duplicates_total")),
                                               "sink_lost", s_num(s_get(b, "attest_broker_sink_lost_total")),
                                               "workers_quarantined",
                                               s_num(s_get(b, "attest_broker_workers_quarantined"))));
    return o;
}

static json_t *s_json_verdicts(const scrape_t *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < scrape_count(s); i++) {
        const scrape_sample_t *x = scrape_at(s, i);
        char verdict[32], reason[64];
        if (strcmp(x->name, "attest_verdicts_total") == 0 && scrape_label(x, "verdict", verdict, sizeof verdict)
            && scrape_label(x, "reason", reason, sizeof reason))
            json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "verdict", verdict, "reason", reason,
                                                 "count", s_num(x->value)));
    }
    return arr;
}

static json_t *s_json_sink(const s_pair_t *p, const char *address)
{
    const scrape_t *s = p->cur->s;
    json_t *o = json_pack("{s:s, s:b}", "address", address, "reachable", s != NULL);
    if (!s) {
        json_object_set_new(o, "error", json_string(p->cur->swhy));
        return o;
    }
    double rate = s_rate(p, false, "attest_sink_committed_total", NULL, NULL);
    json_object_set_new(o, "registered", json_boolean(s_get(s, "attest_sink_registered") > 0));
    json_object_set_new(o, "epoch", s_exact(s, "attest_sink_epoch"));
    json_object_set_new(o, "entries", s_num(s_get(s, "attest_sink_log_entries")));
    json_object_set_new(o, "committed", s_num(s_get(s, "attest_sink_committed_total")));
    json_object_set_new(o, "commit_rate", rate < 0 ? json_null() : json_real(rate));
    json_object_set_new(o, "verdicts", s_json_verdicts(s));
    json_object_set_new(o, "errors", json_pack("{s:o, s:o, s:o, s:o}",
                                               "malformed", s_num(s_get(s, "attest_sink_malformed_total")),
                                               "stale", s_num(s_get(s, "attest_sink_stale_total")),
                                               "audit_disagreements", s_num(s_get(s, "attest_audit_disagreements_total")),
                                               "quarantined_dropped",
                                               s_num(s_get(s, "attest_sink_quarantined_dropped_total"))));
    return o;
}

static void s_print_json(const s_pair_t *p, const s_settings_t *o, FILE *out)
{
    json_t *root = json_pack("{s:o, s:o}", "broker", s_json_broker(p, o->broker), "sink", s_json_sink(p, o->sink));
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    fprintf(out, "%s\n", text ? text : "{}");
    free(text);
    json_decref(root);
}

/* ------------------------------------------------------------- screen */

static void s_rate_text(double r, char *buf, size_t cap)
{
    if (r < 0)
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.1f/s", r);
}

static void s_print_workers(const s_pair_t *p, FILE *out)
{
    const scrape_t *b = p->cur->b;
    fprintf(out, "  %-24s %9s %9s %11s %12s\n", "WORKER", "IN-FLIGHT", "WINDOW", "RATE", "DONE");
    for (size_t i = 0; i < scrape_count(b); i++) {
        const scrape_sample_t *s = scrape_at(b, i);
        char id[128], rate[32];
        if (strcmp(s->name, "attest_broker_worker_inflight") != 0 || !scrape_label(s, "worker", id, sizeof id))
            continue;
        double window = 0, done = 0;
        (void) scrape_value(b, "attest_broker_worker_window", "worker", id, &window);
        (void) scrape_value(b, "attest_broker_worker_done_total", "worker", id, &done);
        s_rate_text(s_rate(p, true, "attest_broker_worker_done_total", "worker", id), rate, sizeof rate);
        fprintf(out, "  %-24s %9.0f %9.0f %11s %12.0f\n", id, s->value, window, rate, done);
    }
}

static void s_print_broker(const s_pair_t *p, const s_settings_t *o, FILE *out)
{
    const scrape_t *b = p->cur->b;
    bool sink_up = s_get(b, "attest_broker_sink_up") > 0;
    fprintf(out, "broker     %s: up, epoch %s; admission %s\n", o->broker, s_text(b, "attest_broker_epoch"),
            sink_up ? "open (sink up)" : "CLOSED (no sink registered, or it is silent)");
    fprintf(out, "producers  %.0f connected; credit outstanding %.0f; admitted %.0f, acknowledged %.0f\n",
            s_get(b, "attest_broker_producers"), s_get(b, "attest_broker_outstanding_credit"),
            s_get(b, "attest_broker_admitted_total"), s_get(b, "attest_broker_acked_total"));
    fprintf(out, "queue      %.0f waiting for a worker; %.0f held (admitted, not committed); "
                 "oldest uncommitted %.1f s\n", s_get(b, "attest_broker_queue_depth"), s_get(b, "attest_broker_held"),
            s_get(b, "attest_broker_oldest_uncommitted_age_seconds"));
    fprintf(out, "workers    %.0f threads registered; worker credit %.0f\n", s_get(b, "attest_broker_workers"),
            s_get(b, "attest_broker_worker_credit"));
    s_print_workers(p, out);
    fprintf(out, "errors     refused %.0f, malformed %.0f, redispatched %.0f, duplicates %.0f, sink lost %.0f, "
                 "workers quarantined %.0f\n", scrape_sum(b, "attest_broker_refused_total"),
            s_get(b, "attest_broker_malformed_total"), s_get(b, "attest_broker_redispatched_total"),
            s_get(b, "attest_broker_duplicates_total"), s_get(b, "attest_broker_sink_lost_total"),
            s_get(b, "attest_broker_workers_quarantined"));
}

static void s_print_sink(const s_pair_t *p, const s_settings_t *o, FILE *out)
{
    const scrape_t *s = p->cur->s, *b = p->cur->b;
    if (!s) {
        fprintf(out, "sink       %s: not reachable (%s)\n", *o->sink ? o->sink : "-", p->cur->swhy);
        return;
    }
    const char *epoch = s_text(s, "attest_sink_epoch");
    bool registered = s_get(s, "attest_sink_registered") > 0;
    char rate[32];
    s_rate_text(s_rate(p, false, "attest_sink_committed_total", NULL, NULL), rate, sizeof rate);
    fprintf(out, "sink       %s: %s, epoch %s%s\n", o->sink, registered ? "registered" : "NOT registered", epoch,
            b && registered && strcmp(epoch, s_text(b, "attest_broker_epoch")) != 0
                ? " (not the broker's: another broker?)" : "");
    fprintf(out, "commits    %s; %.0f entries in the log\n", rate, s_get(s, "attest_sink_log_entries"));
    fprintf(out, "verdicts  ");
    for (size_t i = 0; i < scrape_count(s); i++) {
        const scrape_sample_t *x = scrape_at(s, i);
        char verdict[32], reason[64];
        if (strcmp(x->name, "attest_verdicts_total") == 0 && scrape_label(x, "verdict", verdict, sizeof verdict)
            && scrape_label(x, "reason", reason, sizeof reason))
            fprintf(out, " %s/%s %.0f", verdict, reason, x->value);
    }
    fprintf(out, "\nsink errs  malformed %.0f, stale %.0f, audit disagreements %.0f, quarantined dropped %.0f\n",
            s_get(s, "attest_sink_malformed_total"), s_get(s, "attest_sink_stale_total"),
            s_get(s, "attest_audit_disagreements_total"), s_get(s, "attest_sink_quarantined_dropped_total"));
}

/*  The screen; false (after a line on stderr) when the broker is not reachable. */
static bool s_show(const s_pair_t *p, const s_settings_t *o, FILE *out)
{
    if (o->json)
        s_print_json(p, o, out);
    if (!p->cur->b) {
        fprintf(stderr, "attest: the broker's metrics at %s are not reachable (%s): is attest-broker running "
                        "with --metrics %s? (attest up serves it there by default)\n", o->broker, p->cur->bwhy,
                o->broker);
        return false;
    }
    if (!o->json) {
        s_print_broker(p, o, out);
        s_print_sink(p, o, out);
    }
    return true;
}

static int s_status(const cfg_t *cfg, void *settings)
{
    (void) cfg;
    const s_settings_t *o = settings;
    s_view_t a, b;
    s_view_take(&a, o);
    s_pair_t p = { &a, NULL };
    if (a.b && o->rate_ms > 0) {
        usleep((useconds_t) o->rate_ms * 1000);
        s_view_take(&b, o);
        p = (s_pair_t) { &b, &a };
    }
    int rc = s_show(&p, o, stdout) ? 0 : 1;
    if (p.prev)
        s_view_free(&b);
    s_view_free(&a);
    return rc;
}

static volatile sig_atomic_t s_stop;
static void s_on_sigint(int sig)
{
    (void) sig;
    s_stop = 1;
}

static int s_top(const cfg_t *cfg, void *settings)
{
    (void) cfg;
    const s_settings_t *o = settings;
    signal(SIGINT, s_on_sigint);
    s_view_t views[2];
    int cur = 0, rc = 0;
    bool have_prev = false;
    for (int64_t n = 0; !s_stop && (o->count == 0 || n < o->count); n++) {
        if (n)
            usleep((useconds_t) o->interval_ms * 1000);
        s_view_take(&views[cur], o);
        s_pair_t p = { &views[cur], have_prev ? &views[1 - cur] : NULL };
        fputs("\033[H\033[2J", stdout);
        rc = s_show(&p, o, stdout) ? 0 : 1;
        fflush(stdout);
        if (have_prev)
            s_view_free(&views[1 - cur]);
        have_prev = true;
        cur = 1 - cur;
    }
    if (have_prev)
        s_view_free(&views[1 - cur]);
    return rc;
}

int cmd_status(int argc, char **argv)
{
    s_settings_t settings = { 0 };
    const cfg_app_t app = {
        .prog = "attest status",
        .summary = "attest status: one screen about a running cluster, read from the daemons'\n"
                   "metrics endpoints: admission, sink and epoch, workers (in flight, window,\n"
                   "rate), producers, queue, credit, commit rate, oldest uncommitted age, errors.\n\n"
                   "Usage: attest status [--broker-metrics HOST:PORT] [--sink-metrics HOST:PORT] [--json]\n"
                   "Exit status: 0 shown, 1 the broker's endpoint is not reachable, 2 bad usage.",
        .defs = s_status_defs,
        .ndefs = sizeof s_status_defs / sizeof s_status_defs[0],
        .settings = &settings,
        .fn = s_status,
    };
    return cfg_run(&app, argc, argv);
}

int cmd_top(int argc, char **argv)
{
    s_settings_t settings = { 0 };
    const cfg_app_t app = {
        .prog = "attest top",
        .summary = "attest top: attest status, refreshed every interval (rates between refreshes)\n"
                   "until Ctrl-C.\n\n"
                   "Usage: attest top [--broker-metrics HOST:PORT] [--sink-metrics HOST:PORT] [--count N]\n"
                   "Exit status: 0, or 1 when the broker's endpoint was not reachable at the last refresh.",
        .defs = s_top_defs,
        .ndefs = sizeof s_top_defs / sizeof s_top_defs[0],
        .settings = &settings,
        .fn = s_top,
    };
    return cfg_run(&app, argc, argv);
}
