/*  cmd_demo.c: `attest demo`: the quick start's main job. Starts a local
 *  cluster, feeds it a stream of signed attestations (a few forged or
 *  expired), waits for every acknowledgement, then audits the log and shows
 *  a few entries and where the log lives. */
#include "client.h"
#include "clock.h"
#include "cluster.h"
#include "commands.h"
#include "config.h"
#include "gen.h"
#include "wire.h"
#include <czmq.h>
#include <unistd.h>

typedef struct {
    const char *data_dir;
    int64_t n, workers, threads;
    bool insecure;
} s_demo_settings_t;

#define D_ s_demo_settings_t
static const cfg_def_t s_settings[] = {
    CFG_STR_AT(D_, data_dir, "data-dir", "attest-data", "where the log (DIR/log) and process logs live"),
    CFG_INT_AT(D_, n, "n", "20000", 1, 10000000, "attestations to submit"),
    CFG_INT_AT(D_, workers, "workers", "2", 1, 64, "worker processes"),
    CFG_INT_AT(D_, threads, "threads", "1", 1, 64, "verifier threads per worker"),
    CFG_BOOL_AT(D_, insecure, "insecure", "false", "plaintext on every link (default: CURVE, keys in DIR/keys)"),
};
#undef D_

typedef struct {
    uint64_t valid, invalid, refused, dup;
    uint64_t by_reason[AT_ERR_COUNT_];
} s_tally_t;

static void s_on_ack(const at_ack_t *ack, void *arg)
{
    s_tally_t *t = arg;
    if (ack->refused)
        t->refused++;
    else if (ack->verdict == WIRE_VALID)
        t->valid++;
    else
        t->invalid++;
    t->dup += ack->duplicate;
    if (ack->reason < AT_ERR_COUNT_)
        t->by_reason[ack->reason]++;
}

static int s_submit(const cluster_creds_t *creds, const char *endpoint, const gen_set_t *set, s_tally_t *t)
{
    at_client_t *c = cluster_client(creds, endpoint, "demo-producer");
    at_client_set_handler(c, s_on_ack, t);
    at_err rc = AT_OK;
    for (size_t i = 0; i < set->n && rc == AT_OK; i++) {
        rc = at_client_submit(c, set->arena + set->off[i], set->len[i], NULL, 30000, NULL);
        if (isatty(2) && i % 1000 == 0)
            fprintf(stderr, "\rdemo: submitted %zu/%zu, acknowledged %" PRIu64, i, set->n,
                    t->valid + t->invalid + t->refused);
    }
    if (rc == AT_OK)
        rc = at_client_flush(c, 60000);
    if (isatty(2))
        fprintf(stderr, "\r%60s\r", "");
    at_client_destroy(&c);
    if (rc)
        fprintf(stderr, "demo: submission stopped: %s\n", at_strerror(rc));
    return rc == AT_OK ? 0 : 1;
}

static int s_demo(const cfg_t *cfg, void *settings)
{
    (void) cfg;
    const s_demo_settings_t *s = settings;
    zsys_init();
    zsys_set_logstream(NULL);
    const char *dir = s->data_dir;
    size_t n = (size_t) s->n;
    printf("demo: starting a local cluster (broker, sink, %d workers) in %s/\n", (int) s->workers, dir);
    cluster_opts_t o = { .data_dir = dir, .workers = (int) s->workers, .threads = (int) s->threads,
                         .to_files = true, .insecure = s->insecure };
    cluster_t *c = cluster_start(&o);
    if (!c)
        return 1;
    printf("demo: signing %zu attestations (1%% with a forged signature, 0.5%% expired)\n", n);
    fflush(stdout);
    gen_set_t *set = gen_make(n, 10, 5, 2);
    s_tally_t t = { 0 };
    uint64_t t0 = at_clock_mono_us();
    int rc = s_submit(cluster_producer_creds(c), cluster_frontend(c), set, &t);
    double secs = (double) (at_clock_mono_us() - t0) / 1e6;
    char log_dir[600];
    snprintf(log_dir, sizeof log_dir, "%s", cluster_log_dir(c));
    cluster_stop(&c);
    gen_destroy(&set);
    printf("demo: %zu submitted in %.2f s (%.0f/s): %" PRIu64 " valid, %" PRIu64 " invalid (%" PRIu64
           " bad signature, %" PRIu64 " expired), %" PRIu64 " refused, %" PRIu64 " duplicates\n",
           n, secs, (double) n / secs, t.valid, t.invalid, t.by_reason[AT_ERR_SIGNATURE], t.by_reason[AT_ERR_EXPIRED],
           t.refused, t.dup);
    printf("demo: auditing the log (indices, hash chain, ids, every verdict re-checked):\n");
    fflush(stdout);
    char *verify[] = { "log", "--log-dir", log_dir, "verify", NULL };
    int vrc = cmd_log(4, verify);
    fflush(stdout);
    printf("demo: the last 3 entries:\n");
    fflush(stdout);
    char *tail[] = { "log", "--log-dir", log_dir, "tail", "--n", "3", NULL };
    cmd_log(6, tail);
    fflush(stdout);
    printf("demo: the log lives in %s (LMDB). Explore it with:\n"
           "  build/bin/attest log --log-dir %s count | tail --n 5 | rejected | get INDEX | verify\n"
           "  prove it to others: build/bin/attest trace INDEX --log-dir %s; attest log checkpoint | prove INDEX;\n"
           "  the log's public key is %s/keys/log.pub\n"
           "  process logs: %s/*.log; run the pipeline yourself: build/bin/attest up --data-dir %s\n",
           log_dir, log_dir, log_dir, dir, dir, dir);
    return rc || vrc || t.refused ? 1 : 0;
}

int cmd_demo(int argc, char **argv)
{
    s_demo_settings_t settings;
    const cfg_app_t app = {
        .prog = "attest demo",
        .summary = "attest demo: starts a local cluster, submits signed attestations, waits for\n"
                   "every acknowledgement, audits the log and shows where it lives.\n\n"
                   "Usage: attest demo [options]",
        .defs = s_settings,
        .ndefs = sizeof s_settings / sizeof s_settings[0],
        .settings = &settings,
        .fn = s_demo,
    };
    return cfg_run(&app, argc, argv);
}
