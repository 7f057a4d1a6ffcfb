/*  main.c: attest-worker: N verifier threads, each an independent worker.
 *  The settings table binds every key to a field of worker_settings_t,
 *  parsed once by cfg_run; each thread's verifier_opts_t is filled from it.
 *  systemd (Type=notify): READY=1 once a verifier has heard from the
 *  broker, STOPPING=1 on the stop request (s_until_stopped).
 *  Exit codes: 0 clean stop (signal) or --help/--version; 1 runtime failure;
 *  2 bad usage or configuration. */
#include "verifier.h"
#include "alloc.h"
#include "worker_metrics.h"
#include "attestation.h"
#include "config.h"
#include "wire.h"
#include "log.h"
#include "utf8.h"
#include "notify.h"
#include "alloc.h"
#include <czmq.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

/*  The settings of attest-worker, bound once from s_settings. */
typedef struct {
    const char *broker, *sink, *id, *log_level, *metrics;
    const char *curve_secret, *broker_key, *sink_key;
    const char *test_crash_subject;
    bool insecure;
    int64_t threads, credit, chunk, report_us, clock_skew_s, heartbeat_ms, drain_timeout_ms;
    int64_t test_delay_us, sim_verify_us;
    bool test_lie;
} worker_settings_t;

#define W_ worker_settings_t
static const cfg_def_t s_settings[] = {
    CFG_ENDPOINT_AT(W_, broker, "broker", ENDPOINT_CONNECT, "tcp://127.0.0.1:5556",
                    "broker backend endpoint (HOST:PORT too)"),
    CFG_ENDPOINT_AT(W_, sink, "sink", ENDPOINT_CONNECT, "tcp://127.0.0.1:5557", "sink verdicts endpoint (HOST:PORT too)"),
    CFG_INT_AT(W_, threads, "threads", "0", 0, 256, "verifier threads (0: one per core)"),
    CFG_INT_ALIAS_AT(W_, credit, "credit", "window", "4096", 1, 16384,
                     "credit each verifier thread grants the broker (tasks it may hold; to stay busy it must"
                     " cover its rate x (round trip to the broker + target-latency-ms))"),
    CFG_INT_AT(W_, chunk, "chunk", "128", 1, WIRE_BATCH_MAX, "most verdicts reported per message"),
    CFG_INT_AT(W_, report_us, "report-us", "10000", 0, 10000000,
               "while busy, report verdicts at least this often (0: per chunk only)"),
    CFG_INT_AT(W_, clock_skew_s, "clock-skew-s", "300", 0, 86400, "how far in the future issued_at may be"),
    CFG_INT_AT(W_, heartbeat_ms, "heartbeat-ms", "1000", 50, 60000,
               "longest silence towards the broker: HEARTBEAT when idle, BLOCKED while the sink takes no verdicts"),
    CFG_STR_AT(W_, id, "id", "", "worker name in the log, <= 40 bytes of UTF-8, no control characters (empty: host-pid)"),
    CFG_INT_AT(W_, drain_timeout_ms, "drain-timeout-ms", "10000", 0, 600000,
               "on SIGTERM, longest wait for the broker's LEAVE_OK before stopping at once"),
    CFG_INT_AT(W_, test_delay_us, "test-delay-us", "0", 0, 10000000, "TEST ONLY: extra delay per task"),
    CFG_INT_AT(W_, sim_verify_us, "sim-verify-us", "0", 0, 10000000, "TEST ONLY: sleep this long instead of verifying"),
    CFG_BOOL_AT(W_, test_lie, "test-lie", "false",
                "TEST ONLY: lie, judging every bad signature valid (the sink's audit must quarantine this worker)"),
    CFG_STR_AT(W_, test_crash_subject, "test-crash-subject", "",
               "TEST ONLY: abort() when verifying an attestation with this subject (a poison message; empty: never)"),
    CFG_STR_AT(W_, log_level, "log-level", "info", "debug, info, warn or error"),
    CFG_STR_AT(W_, metrics, "metrics", "",
               "serve Prometheus metrics at http://ADDR/metrics: HOST:PORT or :PORT (empty or 0: off)"),
    CFG_STR_AT(W_, curve_secret, "curve-secret", "",
               "this worker's CURVE secret certificate (attest keygen --curve); required unless --insecure"),
    CFG_STR_AT(W_, broker_key, "broker-key", "", "the broker's public certificate"),
    CFG_STR_AT(W_, sink_key, "sink-key", "", "the sink's public certificate"),
    CFG_BOOL_AT(W_, insecure, "insecure", "false", "plaintext, no authentication (warned; attest_insecure 1)"),
};
#undef W_

typedef struct {
    verifier_opts_t opts;
    verifier_stats_t stats;
    pthread_t thread;
} s_thread_t;

static atomic_int s_signals;   /* (below) */

/*  The thread's result is verifier_run's at_err (read back by pthread_join).
 *  A verifier that failed asks the others to stop at once: the worker then
 *  exits 1 instead of running with fewer threads than configured. */
static void *s_thread_main(void *arg)
{
    s_thread_t *t = arg;
    at_err rc = verifier_run(&t->opts, &t->stats);
    if (rc != AT_OK)
        atomic_store(&s_signals, 2);
    return (void *) (intptr_t) rc;
}

/*  SIGINT/SIGTERM: the first asks every verifier to drain, the second to
 *  stop at once (see verifier.h). CZMQ's own handler is turned off. The
 *  count is an atomic_int: written by the handler and by failing threads,
 *  read by every verifier thread (lock-free, so async-signal-safe too). */
static void s_on_signal(int sig)
{
    (void) sig;
    int n = atomic_load(&s_signals);
    if (n < 2)
        atomic_store(&s_signals, n + 1);
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

/*  The main thread while the verifiers run: tells systemd READY=1 once one
 *  of them has heard from the broker (the worker is connected), and returns
 *  when a stop was asked for (a signal, or a verifier that failed), telling
 *  systemd STOPPING=1. */
static void s_until_stopped(const s_thread_t *threads, int n, const char *base)
{
    bool ready = false;
    while (atomic_load(&s_signals) == 0) {
        for (int i = 0; !ready && i < n; i++)
            if (atomic_load(&threads[i].stats.heard_us) != 0) {
                char status[96];
                snprintf(status, sizeof status, "worker %s connected to the broker", base);
                notify_ready(status);
                ready = true;
            }
        usleep(50000);
    }
    notify_stopping();
}

/*  The keys, loaded once at start and shared read-only by the threads. */
static curve_keys_t s_keys;
static char s_peer_keys[2][CURVE_Z85_LEN + 1];

static void s_fill_opts(const worker_settings_t *s, verifier_opts_t *o, const char *base, int i)
{
    o->curve = s_keys.sec[0] != '\0';
    o->keys = &s_keys;
    o->broker_key = s_peer_keys[0];
    o->sink_key = s_peer_keys[1];
    o->broker = s->broker;
    o->sink = s->sink;
    snprintf(o->id, sizeof o->id, "%s/%d", base, i);
    o->window = (uint64_t) s->credit;
    o->chunk = (uint64_t) s->chunk;
    o->report_us = (uint64_t) s->report_us;
    o->skew_s = (uint64_t) s->clock_skew_s;
    o->heartbeat_ms = (uint64_t) s->heartbeat_ms;
    o->test_delay_us = (uint64_t) s->test_delay_us;
    o->sim_verify_us = (uint64_t) s->sim_verify_us;
    o->test_lie = s->test_lie;
    o->test_crash_subject = *s->test_crash_subject ? s->test_crash_subject : NULL;
    o->drain_ms = (uint64_t) s->drain_timeout_ms;
    o->signals = &s_signals;
}

static int s_run(const worker_settings_t *s)
{
    int n = (int) s->threads;
    if (n == 0)
        n = (int) sysconf(_SC_NPROCESSORS_ONLN);
    char base[48];
    if (*s->id)
        snprintf(base, sizeof base, "%.40s", s->id);
    else {
        char host[32] = "host";
        gethostname(host, sizeof host - 1);
        snprintf(base, sizeof base, "%.31s-%d", host, (int) getpid());
    }
    s_thread_t *threads = at_calloc((size_t) n, sizeof *threads);
    at_err mrc;
    worker_metrics_t *metrics = worker_metrics_new(s->metrics, &threads[0].stats, sizeof *threads,
                                                   (size_t) n, &mrc);
    if (mrc != AT_OK) {
        free(threads);
        return 1;
    }
    worker_metrics_set_insecure(metrics, s_keys.sec[0] == '\0');
    at_log_info("WRK-START", "worker %s: %d verifier threads, broker %s, sink %s (settings: CFG lines at"
                " --log-level debug)", base, n, s->broker, s->sink);
    if (*s->test_crash_subject)
        at_log_warn("WRK-CRASH", "worker %s: TEST ONLY test-crash-subject is on: an attestation with subject '%s'"
                    " makes this process abort", base, s->test_crash_subject);
    if (s->test_lie)
        at_log_warn("WRK-LIE", "worker %s: TEST ONLY test-lie is on: every bad signature is judged valid", base);
    /* Exit status 1 when a thread cannot start (the started ones are told to
     * stop at once and joined) or a verifier failed (cannot connect). */
    int started = 0, rc = 0;
    for (; started < n; started++) {
        s_fill_opts(s, &threads[started].opts, base, started);
        threads[started].opts.verify_seconds = worker_metrics_verify_seconds(metrics);
        if (pthread_create(&threads[started].thread, NULL, s_thread_main, &threads[started]) != 0) {
            at_log_error("WRK-THREAD", "cannot start thread %d: stopping the %d started", started, started);
            atomic_store(&s_signals, 2);
            rc = 1;
            break;
        }
    }
    s_until_stopped(threads, started, base);
    verifier_stats_t total = { 0 };
    for (int i = 0; i < started; i++) {
        void *ret = NULL;
        pthread_join(threads[i].thread, &ret);
        if ((intptr_t) ret != AT_OK) {
            rc = 1;
            atomic_store(&s_signals, 2);   /* the others stop at once too */
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

/*  After the settings are parsed, bound and logged (cfg_run). */
static int s_main(const cfg_t *cfg, void *settings)
{
    (void) cfg;
    if (at_crypto_init() != AT_OK) {
        at_log_error("WRK-START", "libsodium failed to initialise");
        return 1;
    }
    zsys_init();
    zsys_set_logstream(NULL);
    const worker_settings_t *s = settings;
    if (strlen(s->id) > 40 || !utf8_name_ok(s->id, strlen(s->id))) {
        fprintf(stderr, "attest-worker: --id '%s': a worker id is at most 40 bytes of UTF-8 without control"
                        " characters (each thread adds /N; protocol.md 4)\n", s->id);
        return 2;
    }
    int urc = curve_require("attest-worker", s->curve_secret, s->insecure, &s_keys);
    const char *names[2] = { "broker-key", "sink-key" }, *paths[2] = { s->broker_key, s->sink_key };
    if (urc == 0 && s_keys.sec[0])
        urc = curve_require_peers("attest-worker", false, 2, names, paths, s_peer_keys);
    if (urc != 0)
        return urc;
    s_install_signals();
    int rc = s_run(settings);
    curve_keys_wipe(&s_keys);
    return rc;
}

int main(int argc, char **argv)
{
    worker_settings_t settings;
    const cfg_app_t app = {
        .prog = "attest-worker",
        .summary = "attest-worker: verifies attestations dispatched by the broker and sends\n"
                   "verdicts to the sink. Stateless: start as many as you like, anywhere.\n\n"
                   "Usage: attest-worker [--config FILE] [options]\n"
                   "Exit status: 0 stopped by SIGINT/SIGTERM, 1 runtime failure, 2 bad usage.",
        .defs = s_settings,
        .ndefs = sizeof s_settings / sizeof s_settings[0],
        .log_component = "worker",
        .settings = &settings,
        .fn = s_main,
    };
    return cfg_run(&app, argc, argv);
}
