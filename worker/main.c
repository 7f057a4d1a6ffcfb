/*  main.c: attest-worker: N verifier threads, each an independent worker. */
#include "verifier.h"
#include "worker_metrics.h"
#include "attestation.h"
#include "config.h"
#include "wire.h"
#include "log.h"
#include "alloc.h"
#include <czmq.h>
#include <stdint.h>
#include <pthread.h>
#include <unistd.h>

static const cfg_def_t s_settings[] = {
    { "broker", CFG_STR, "tcp://127.0.0.1:5556", 0, 0, "broker backend endpoint" },
    { "sink", CFG_STR, "tcp://127.0.0.1:5557", 0, 0, "sink verdicts endpoint" },
    { "threads", CFG_INT, "0", 0, 256, "verifier threads (0: one per core)" },
    { "window", CFG_INT, "512", 1, WIRE_BATCH_MAX, "credit each thread grants the broker" },
    { "chunk", CFG_INT, "128", 1, WIRE_BATCH_MAX, "most verdicts reported per message" },
    { "report-us", CFG_INT, "10000", 0, 10000000, "while busy, report verdicts at least this often (0: per chunk only)" },
    { "clock-skew-s", CFG_INT, "300", 0, 86400, "how far in the future issued_at may be" },
    { "heartbeat-ms", CFG_INT, "1000", 50, 60000, "heartbeat interval when idle" },
    { "id", CFG_STR, "", 0, 0, "worker name in the log (default: host-pid)" },
    { "drain-timeout-ms", CFG_INT, "10000", 0, 600000, "on SIGTERM, longest wait for the broker's LEAVE_OK before stopping at once" },
    { "test-delay-us", CFG_INT, "0", 0, 10000000, "TEST ONLY: extra delay per task" },
    { "sim-verify-us", CFG_INT, "0", 0, 10000000, "TEST ONLY: sleep this long instead of verifying" },
    { "log-level", CFG_STR, "info", 0, 0, "debug, info, warn or error" },
    { "metrics", CFG_STR, "", 0, 0, "serve Prometheus metrics at http://ADDR/metrics: HOST:PORT or :PORT (empty or 0: off)" },
};

typedef struct {
    verifier_opts_t opts;
    verifier_stats_t stats;
    pthread_t thread;
} s_thread_t;

static volatile sig_atomic_t s_signals;   /* (below) */

/*  The thread's result is verifier_run's at_err (read back by pthread_join).
 *  A verifier that failed asks the others to stop at once: the worker then
 *  exits 1 instead of running with fewer threads than configured. */
static void *s_thread_main(void *arg)
{
    s_thread_t *t = arg;
    at_err rc = verifier_run(&t->opts, &t->stats);
    if (rc != AT_OK)
        s_signals = 2;
    return (void *) (intptr_t) rc;
}

/*  SIGINT/SIGTERM: the first asks every verifier to drain, the second to
 *  stop at once (see verifier.h). CZMQ's own handler is turned off. */
static volatile sig_atomic_t s_signals;

static void s_on_signal(int sig)
{
    (void) sig;
    if (s_signals < 2)
        s_signals++;
}

static void s_install_signals(void)
{
    zsys_handler_set(NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void s_fill_opts(const cfg_t *cfg, verifier_opts_t *o, const char *base, int i)
{
    o->broker = cfg_str(cfg, "broker");
    o->sink = cfg_str(cfg, "sink");
    snprintf(o->id, sizeof o->id, "%s/%d", base, i);
    o->window = (uint64_t) cfg_int(cfg, "window");
    o->chunk = (uint64_t) cfg_int(cfg, "chunk");
    o->report_us = (uint64_t) cfg_int(cfg, "report-us");
    o->skew_s = (uint64_t) cfg_int(cfg, "clock-skew-s");
    o->heartbeat_ms = (uint64_t) cfg_int(cfg, "heartbeat-ms");
    o->test_delay_us = (uint64_t) cfg_int(cfg, "test-delay-us");
    o->sim_verify_us = (uint64_t) cfg_int(cfg, "sim-verify-us");
    o->drain_ms = (uint64_t) cfg_int(cfg, "drain-timeout-ms");
    o->signals = &s_signals;
}

static int s_run(const cfg_t *cfg)
{
    int n = (int) cfg_int(cfg, "threads");
    if (n == 0)
        n = (int) sysconf(_SC_NPROCESSORS_ONLN);
    char base[48];
    if (*cfg_str(cfg, "id"))
        snprintf(base, sizeof base, "%.40s", cfg_str(cfg, "id"));
    else {
        char host[32] = "host";
        gethostname(host, sizeof host - 1);
        snprintf(base, sizeof base, "%.31s-%d", host, (int) getpid());
    }
    s_thread_t *threads = at_calloc((size_t) n, sizeof *threads);
    at_err mrc;
    worker_metrics_t *metrics = worker_metrics_new(cfg_str(cfg, "metrics"), &threads[0].stats, sizeof *threads,
                                                   (size_t) n, &mrc);
    if (mrc != AT_OK) {
        free(threads);
        return 1;
    }
    at_log_info("WRK-START", "worker %s: %d verifier threads, broker %s, sink %s", base, n, cfg_str(cfg, "broker"),
                cfg_str(cfg, "sink"));
    /* Exit status 1 when a thread cannot start (the started ones are told to
     * stop at once and joined) or a verifier failed (cannot connect). */
    int started = 0, rc = 0;
    for (; started < n; started++) {
        s_fill_opts(cfg, &threads[started].opts, base, started);
        if (pthread_create(&threads[started].thread, NULL, s_thread_main, &threads[started]) != 0) {
            at_log_error("WRK-THREAD", "cannot start thread %d: stopping the %d started", started, started);
            s_signals = 2;
            rc = 1;
            break;
        }
    }
    verifier_stats_t total = { 0 };
    for (int i = 0; i < started; i++) {
        void *ret = NULL;
        pthread_join(threads[i].thread, &ret);
        if ((intptr_t) ret != AT_OK) {
            rc = 1;
            s_signals = 2;   /* the others stop at once too */
        }
        total.tasks += threads[i].stats.tasks;
        total.valid += threads[i].stats.valid;
        total.invalid += threads[i].stats.invalid;
        total.malformed += threads[i].stats.malformed;
    }
    at_log_info("WRK-STOP", "worker %s stopped: tasks=%" PRIu64 " valid=%" PRIu64 " invalid=%" PRIu64
                " malformed=%" PRIu64, base, total.tasks, total.valid, total.invalid, total.malformed);
    worker_metrics_destroy(&metrics);
    free(threads);
    return rc;
}

int main(int argc, char **argv)
{
    cfg_t *cfg = cfg_new("attest-worker",
                         "attest-worker: verifies attestations dispatched by the broker and sends\n"
                         "verdicts to the sink. Stateless: start as many as you like, anywhere.\n\n"
                         "Usage: attest-worker [--config FILE] [options]",
                         s_settings, sizeof s_settings / sizeof s_settings[0]);
    int rc = 2;
    if (cfg_parse(cfg, argc, argv) == AT_OK) {
        rc = 0;
        if (!cfg_help_requested(cfg)) {
            if (at_log_setup("worker", cfg_str(cfg, "log-level")) != 0)
                rc = 2;
            else if (at_crypto_init() != AT_OK)
                rc = 1;
            else {
                zsys_init();
                zsys_set_logstream(NULL);
                s_install_signals();
                cfg_log(cfg);
                rc = s_run(cfg);
            }
        }
    }
    cfg_destroy(&cfg);
    return rc;
}
