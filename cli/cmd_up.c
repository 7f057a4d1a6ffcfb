/*  cmd_up.c: `attest up`: the embedded local cluster, supervised until Ctrl-C,
 *  with the log server (attest log serve) beside it unless --log-listen off.
 *  It says "ready" only once the sink has registered with the broker and
 *  every worker has connected (read off the broker's metrics); when that
 *  takes longer than --ready-timeout-ms it says what is still missing and
 *  keeps waiting (a crash loop is the supervisor's to stop). */
#include "clock.h"
#include "cluster.h"
#include "commands.h"
#include "config.h"
#include <czmq.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *data_dir, *log_level, *broker_args, *sink_args, *worker_args, *log_listen;
    int64_t workers, threads, frontend_port, backend_port, sink_port, metrics_port, ready_timeout_ms;
    bool insecure;
} s_up_settings_t;

#define U_ s_up_settings_t
static const cfg_def_t s_settings[] = {
    CFG_STR_AT(U_, data_dir, "data-dir", "attest-data", "where the log (DIR/log) and process logs live"),
    CFG_INT_AT(U_, workers, "workers", "2", 0, 64, "worker processes"),
    CFG_INT_AT(U_, threads, "threads", "1", 0, 64, "verifier threads per worker (0: one per core)"),
    CFG_INT_AT(U_, frontend_port, "frontend-port", "5555", 0, 65535, "producers connect here (0: any free port)"),
    CFG_INT_AT(U_, backend_port, "backend-port", "5556", 0, 65535, "workers and the sink connect here"),
    CFG_INT_AT(U_, sink_port, "sink-port", "5557", 0, 65535, "workers send verdicts here"),
    CFG_INT_AT(U_, metrics_port, "metrics-port", "9100", 0, 65535,
               "metrics on 127.0.0.1: broker PORT, sink PORT+1, worker i PORT+2+i (0: off)"),
    CFG_STR_AT(U_, log_listen, "log-listen", "auto",
               "the log server (attest log serve) on HOST:PORT; auto: 127.0.0.1:<sink-port + 1>; off: none"),
    CFG_INT_AT(U_, ready_timeout_ms, "ready-timeout-ms", "20000", 0, 3600000,
               "say what is missing when the sink has not registered or a worker has not connected by then "
               "(the cluster keeps running and waiting)"),
    CFG_STR_AT(U_, log_level, "log-level", "info", "log level of the processes"),
    CFG_STR_AT(U_, broker_args, "broker-args", "", "extra flags for the broker, e.g. \"--pipeline-window 8192\""),
    CFG_STR_AT(U_, sink_args, "sink-args", "", "extra flags for the sink, e.g. \"--commit-delay-us 5000\""),
    CFG_BOOL_AT(U_, insecure, "insecure", "false", "plaintext on every link (default: CURVE, keys in DIR/keys)"),
    CFG_STR_AT(U_, worker_args, "worker-args", "", "extra flags for every worker, e.g. \"--credit 128\""),
};
#undef U_

typedef struct {
    bool done;                   /* "ready" (or that it cannot be seen) said */
    bool warned;                 /* "not ready after ..." said */
    uint64_t since_us;           /* mono us of the start */
    uint64_t timeout_us;
} s_ready_t;

/*  Called every turn of the supervision loop until the cluster is ready:
 *  says "ready" once it is, and what is missing once ready-timeout-ms has
 *  passed without. */
static void s_ready_poll(const cluster_t *c, s_ready_t *r)
{
    if (r->done)
        return;
    if (!cluster_metrics_port(c)) {
        fprintf(stderr, "attest up: started; metrics are off, so whether the sink has registered and the workers "
                        "have connected is not checked\n");
        r->done = true;
        return;
    }
    char why[512];
    double s = (double) (at_clock_mono_us() - r->since_us) / 1e6;
    if (cluster_ready(c, why, sizeof why)) {
        fprintf(stderr, "attest up: ready after %.1f s: %s\n", s, why);
        r->done = true;
    } else if (!r->warned && r->timeout_us && at_clock_mono_us() - r->since_us >= r->timeout_us) {
        fprintf(stderr, "attest up: not ready after %.1f s: %s; still waiting (see the children's lines above; "
                        "Ctrl-C stops)\n", s, why);
        r->warned = true;
    }
}

/*  Where producers connect, with which keys, and where metrics and the log
 *  server are. */
static void s_banner(const cluster_t *c, bool insecure)
{
    fprintf(stderr, "attest up: producers connect to %s; the log is %s\n", cluster_frontend(c), cluster_log_dir(c));
    if (insecure)
        fprintf(stderr, "attest up: WARNING: --insecure: every link is plaintext and unauthenticated\n"
                        "attest up: try 'attest submit --insecure --broker %s --key KEYFILE < lines.jsonl'; "
                        "Ctrl-C stops\n", cluster_frontend(c));
    else
        fprintf(stderr, "attest up: CURVE on every link; keys in %s\n"
                        "attest up: try 'attest submit --broker %s --curve-secret %s/producer_secret --broker-key %s/broker"
                        " --key KEYFILE < lines.jsonl'; Ctrl-C stops\n", cluster_keys_dir(c), cluster_frontend(c),
                cluster_keys_dir(c), cluster_keys_dir(c));
    int mp = cluster_metrics_port(c);
    if (mp)
        fprintf(stderr, "attest up: metrics on http://127.0.0.1:%d/metrics (broker), :%d (sink), :%d.. (workers); "
                        "'attest status' or 'attest top' shows the cluster\n", mp, mp + 1, mp + 2);
    if (*cluster_log_url(c))
        fprintf(stderr, "attest up: the log server (tlog-tiles) on %s: /checkpoint, /tile/L/N, /tile/entries/N\n",
                cluster_log_url(c));
}

static int s_up(const cfg_t *cfg, void *settings)
{
    (void) cfg;
    const s_up_settings_t *s = settings;
    zsys_init();
    zsys_set_logstream(NULL);
    cluster_opts_t o = { .data_dir = s->data_dir,
                         .frontend_port = (int) s->frontend_port,
                         .backend_port = (int) s->backend_port,
                         .sink_port = (int) s->sink_port,
                         .workers = (int) s->workers,
                         .threads = (int) s->threads,
                         .log_level = s->log_level,
                         .broker_args = s->broker_args,
                         .sink_args = s->sink_args,
                         .worker_args = s->worker_args,
                         .insecure = s->insecure,
                         .metrics_port = (int) s->metrics_port,
                         .log_server = strcmp(s->log_listen, "off") != 0,
                         .log_listen = strcmp(s->log_listen, "auto") != 0 ? s->log_listen : NULL };
    s_ready_t ready = { .since_us = at_clock_mono_us(), .timeout_us = (uint64_t) s->ready_timeout_ms * 1000 };
    cluster_t *c = cluster_start(&o);
    if (!c)
        return 1;
    s_banner(c, s->insecure);
    int code = 0;
    while (!zsys_interrupted) {
        s_ready_poll(c, &ready);
        usleep(200000);
        if (!zsys_interrupted && cluster_supervise(c) < 0) {
            code = 1;
            break;
        }
    }
    fprintf(stderr, "attest up: stopping\n");
    cluster_stop(&c);
    return code;
}

int cmd_up(int argc, char **argv)
{
    s_up_settings_t settings;
    const cfg_app_t app = {
        .prog = "attest up",
        .summary = "attest up: runs broker, sink, workers and the log server on loopback,\n"
                   "restarts any that exit, and stops them cleanly on Ctrl-C.\n\nUsage: attest up [options]",
        .defs = s_settings,
        .ndefs = sizeof s_settings / sizeof s_settings[0],
        .settings = &settings,
        .fn = s_up,
    };
    return cfg_run(&app, argc, argv);
}
