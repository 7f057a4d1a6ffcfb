/*  cmd_bench.c: `attest bench`: a measured run against a local cluster.
 *
 *  Pre-generates N signed attestations (1% with a bad signature) before any
 *  timing, measures the verification limit of W*T threads in this process
 *  with nothing else running, starts the cluster, submits from K producer
 *  threads (optionally paced to --rate), then stops the cluster, reads the
 *  log back and prints exactly one summary line. lost, dup and order come
 *  from the log, not from counters.
 *
 *  --receipts: the cluster also runs its log server, and one more thread
 *  fetches and verifies the receipt (cli/receipt.h) of every acknowledged
 *  attestation as the acknowledgements arrive, as a producer that wants
 *  receipts would; the summary line then adds receipts=, receipt_failures=
 *  and the latency from submission to verified receipt in hand
 *  (rcpt_p50_ms, rcpt_p99_ms).
 */
#include "client.h"
#include "alloc.h"
#include "clock.h"
#include "cluster.h"
#include "commands.h"
#include "config.h"
#include "gen.h"
#include "logdb.h"
#include "receipt.h"
#include "wire.h"
#include <czmq.h>
#include <sodium.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <unistd.h>

static const cfg_def_t s_settings[] = {
    CFG_INT_NAMED_SHORT("n", 'n', "100000", 1, 100000000, "attestations to submit"),
    CFG_INT_NAMED("producers", "2", 1, 64, "producer threads, one client connection each"),
    CFG_INT_NAMED("workers", "2", 1, 64, "worker processes"),
    CFG_INT_NAMED("threads", "1", 1, 64, "verifier threads per worker"),
    CFG_INT_NAMED("rate", "0", 0, 10000000, "total offered rate per second (0: as fast as admitted)"),
    CFG_INT_ALIAS_NAMED("pipeline-window", "window", "0", 0, 1 << 22, "the broker's and the sink's pipeline-window (0: their default)"),
    CFG_INT_NAMED("linger-us", "500", 0, 1000000, "how long a producer's partial batch waits for more (client linger)"),
    CFG_INT_NAMED("sim-verify-us", "0", 0, 10000000, "TEST ONLY: workers sleep this long instead of verifying"),
    CFG_INT_NAMED("slow-workers", "0", 0, 64, "how many of the workers are slowed down"),
    CFG_INT_NAMED("slow-delay-us", "2000", 0, 10000000, "extra delay per task of a slow worker"),
    CFG_STR_NAMED("worker-args", "", "extra flags for every worker, e.g. \"--credit 128 --chunk 32\""),
    CFG_STR_NAMED("broker-args", "", "extra flags for the broker, e.g. \"--batch-us 500\""),
    CFG_STR_NAMED("sink-args", "", "extra flags for the sink, e.g. \"--commit-delay-us 2000\""),
    CFG_ENDPOINT_NAMED("broker", ENDPOINT_CONNECT, "",
                       "use a running cluster at this frontend endpoint, HOST:PORT too (with --log-dir)"),
    CFG_STR_NAMED("log-dir", "", "log directory of the running cluster given by --broker"),
    CFG_STR_NAMED("data-dir", "", "data directory of the local cluster (default: a temporary one)"),
    CFG_BOOL_NAMED("keep", "false", "keep the temporary data directory"),
    CFG_STR_NAMED("history", "", "write every attestation's outcome to this file (see --help)"),
    CFG_STR_NAMED("name-prefix", "bench", "producer k is named PREFIX-k"),
    CFG_BOOL_NAMED("progress", "true", "progress bar on a terminal"),
    CFG_BOOL_NAMED("receipts", "false", "also fetch and verify every acknowledged attestation's receipt from the log"
                   " server, and report the latency to receipt in hand"),
    CFG_BOOL_NAMED("insecure", "false", "plaintext on every link (default: CURVE, keys made in the data directory)"),
    CFG_STR_NAMED("curve-secret", "", "with --broker: the producers' CURVE secret certificate"),
    CFG_STR_NAMED("broker-key", "", "with --broker: the broker's public certificate"),
};

/*  What happened to one attestation, for --history. */
typedef struct {
    uint64_t cseq, index;
    uint8_t state;               /* 0 no outcome (timed out), 1 acknowledged, 2 refused */
    uint8_t verdict, reason;
    bool duplicate;
    uint64_t submit_us, ack_us;  /* wall clock (us since the epoch) of the submission and the outcome */
} s_outcome_t;

typedef struct {
    int k, nprod;
    const gen_set_t *set;
    const char *endpoint;
    const cluster_creds_t *creds;
    double rate;                 /* this producer's share; 0 = unpaced */
    uint32_t *lat_us;
    atomic_uint_fast64_t *progress;
    uint64_t acked, refused;
    uint64_t t_first, t_last;
    uint64_t cpu_us;             /* this thread's CPU time */
    uint64_t wall_offset;        /* wall clock minus monotonic clock, us */
    int linger_us;
    at_err err;
    const char *prefix;
    s_outcome_t *out;            /* per item, shared (each item has one producer) */
    struct s_rcpt *rcpt;         /* --receipts: acknowledged items are queued to it; NULL otherwise */
} s_prod_t;

/*  --receipts: the acknowledged items, in the order their ACKs arrived,
 *  for the receipt thread (each item is queued at most once, so n slots
 *  never fill). */
typedef struct s_rcpt {
    size_t *queue;
    atomic_size_t tail;          /* slots [0, tail) hold items; written by the producers */
    pthread_mutex_t lock;        /* serialises producers' writes to queue/tail */
    atomic_bool done;            /* every producer finished: drain and stop */
    const gen_set_t *set;
    const s_outcome_t *out;
    uint64_t *submit_mono;       /* per item, monotonic us of the submission */
    uint32_t *lat_us;            /* per receipt: submission to verified receipt in hand */
    size_t got, failed;
    uint64_t cpu_us;             /* the receipt thread's CPU time */
    receipt_fetcher_t *fetcher;
} s_rcpt_t;

static void s_on_ack(const at_ack_t *ack, void *arg)
{
    s_prod_t *p = arg;
    size_t i = (size_t) (uintptr_t) ack->user;
    uint64_t lat = ack->ack_us - ack->submit_us;
    p->lat_us[i] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t) lat;
    if (ack->refused)
        p->refused++;
    else
        p->acked++;
    p->out[i] = (s_outcome_t) { ack->cseq, ack->index, (uint8_t) (ack->refused ? 2 : 1), ack->verdict, ack->reason,
                                ack->duplicate, ack->submit_us + p->wall_offset, ack->ack_us + p->wall_offset };
    p->t_last = ack->ack_us;
    if (p->rcpt && !ack->refused) {
        p->rcpt->submit_mono[i] = ack->submit_us;
        pthread_mutex_lock(&p->rcpt->lock);
        size_t t = atomic_load(&p->rcpt->tail);
        p->rcpt->queue[t] = i;
        atomic_store(&p->rcpt->tail, t + 1);
        pthread_mutex_unlock(&p->rcpt->lock);
    }
    atomic_fetch_add(p->progress, 1);
}

/*  One receipt: fetched, verified (receipt_build checks the proof), timed. */
static void s_rcpt_one(s_rcpt_t *rc, size_t item)
{
    char *json = NULL;
    uint64_t index = rc->out[item].index;
    at_err err = receipt_need(rc->fetcher, index, 30000, 1);
    if (err == AT_OK)
        err = receipt_build(rc->fetcher, index, rc->set->id[item], &json);
    if (err != AT_OK) {
        if (rc->failed++ < 5)
            fprintf(stderr, "bench: receipt of entry %" PRIu64 ": %s\n", index, at_strerror(err));
        return;
    }
    free(json);
    uint64_t lat = at_clock_mono_us() - rc->submit_mono[item];
    rc->lat_us[rc->got++] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t) lat;
}

static uint64_t s_thread_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return 0;
    return (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u
           + (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/*  Takes what was acknowledged every millisecond, as a producer that
 *  batches would: one checkpoint fetch then serves every ACK of a commit. */
static void *s_receipts(void *arg)
{
    s_rcpt_t *rc = arg;
    size_t head = 0;
    for (;;) {
        bool done = atomic_load(&rc->done);
        size_t tail = atomic_load(&rc->tail);
        while (head < tail)
            s_rcpt_one(rc, rc->queue[head++]);
        if (done && head == atomic_load(&rc->tail))
            break;
        usleep(1000);
    }
    rc->cpu_us = s_thread_cpu_us();
    return NULL;
}

/*  Waits until target, handling acknowledgements as they arrive, in ticks
 *  of a millisecond: a paced producer wakes about once per tick (or per
 *  incoming message) and submits what fell due meanwhile in one go, as a
 *  real producer that batches would, not once per attestation (at tens of
 *  thousands per second those wake-ups alone would take a good part of a
 *  core). Latency is measured from the actual submission. */
static void s_pace(at_client_t *c, uint64_t target)
{
    if (at_clock_mono_us() >= target)
        return;
    at_client_send(c);   /* the burst that fell due is complete: send it now */
    while (at_clock_mono_us() < target)
        at_client_pump(c, 1);
}

static void *s_producer(void *arg)
{
    s_prod_t *p = arg;
    char name[32];
    snprintf(name, sizeof name, "%.20s-%d", p->prefix, p->k);
    at_client_t *c = cluster_client(p->creds, p->endpoint, name);
    at_client_set_handler(c, s_on_ack, p);
    at_client_set_ids(c, false);   /* outcomes are keyed by item number */
    at_client_set_linger(c, p->linger_us);
    /* Pace from the moment the broker has answered: a schedule started
     * before would submit the time spent connecting as one burst. */
    uint64_t give_up = at_clock_mono_us() + 10000000u;
    while (!at_client_connected(c) && at_clock_mono_us() < give_up && !zsys_interrupted)
        at_client_pump(c, 10);
    p->t_first = at_clock_mono_us();
    uint64_t j = 0;
    for (size_t i = (size_t) p->k; i < p->set->n && !zsys_interrupted; i += (size_t) p->nprod, j++) {
        if (p->rate > 0)
            s_pace(c, p->t_first + (uint64_t) ((double) j * 1e6 / p->rate));
        at_err rc = at_client_submit(c, p->set->arena + p->set->off[i], p->set->len[i], (void *) (uintptr_t) i, 60000,
                                     NULL);
        if (rc) {
            p->err = rc;
            break;
        }
    }
    if (!p->err)
        p->err = at_client_flush(c, 120000);
    at_client_destroy(&c);
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) == 0)
        p->cpu_us = (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u
                    + (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    return NULL;
}

static void s_progress(atomic_uint_fast64_t *done, uint64_t n, uint64_t t0)
{
    uint64_t d = atomic_load(done);
    double secs = (double) (at_clock_mono_us() - t0) / 1e6;
    int bar = (int) (40.0 * (double) d / (double) n);
    fprintf(stderr, "\r[%.*s%*s] %3d%% %" PRIu64 "/%" PRIu64 " %8.0f/s ", bar, "########################################",
            40 - bar, "", (int) (100.0 * (double) d / (double) n), d, n, secs > 0 ? (double) d / secs : 0.0);
}

typedef struct {
    uint64_t committed, valid, invalid, lost, dup, wrong;
    bool order_ok;
} s_audit_t;

static const gen_set_t *s_sort_set;
static int s_cmp_id(const void *a, const void *b)
{
    return memcmp(s_sort_set->id[*(const size_t *) a], s_sort_set->id[*(const size_t *) b], AT_ID_BYTES);
}

static int s_find(const gen_set_t *set, const size_t *sorted, const uint8_t *id)
{
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(set->id[sorted[mid]], id, AT_ID_BYTES);
        if (c == 0)
            return (int) sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/*  Reads the whole log back and compares it with what was submitted. */
static at_err s_audit(const char *dir, const gen_set_t *set, int nprod, s_audit_t *a)
{
    at_err err;
    logdb_t *db = logdb_open(dir, true, 0, &err);
    if (!db)
        return err;
    size_t *sorted = at_calloc(set->n, sizeof *sorted);
    uint8_t *seen = at_calloc(set->n, 1);
    uint64_t *last_cseq = at_calloc((size_t) nprod, sizeof *last_cseq);
    for (size_t i = 0; i < set->n; i++)
        sorted[i] = i;
    s_sort_set = set;
    qsort(sorted, set->n, sizeof *sorted, s_cmp_id);
    memset(a, 0, sizeof *a);
    a->order_ok = true;
    if ((err = logdb_read_begin(db)) == AT_OK) {
        uint64_t n = logdb_count(db), last_seq = 0;
        for (uint64_t idx = 0; idx < n && err == AT_OK; idx++) {
            logdb_entry_t e;
            if ((err = logdb_get(db, idx, &e, NULL, NULL)) != AT_OK)
                break;
            if (idx > 0 && e.seq <= last_seq)
                a->order_ok = false;
            last_seq = e.seq;
            int i = s_find(set, sorted, e.id);
            if (i < 0)
                continue;   /* not ours (an earlier run in the same log) */
            a->committed++;
            if (seen[i]++)
                a->dup++;
            if (e.verdict == WIRE_VALID)
                a->valid++;
            else
                a->invalid++;
            if ((set->kind[i] == GEN_VALID) != (e.verdict == WIRE_VALID))
                a->wrong++;
            int k = i % nprod;
            if (e.cseq <= last_cseq[k])
                a->order_ok = false;
            last_cseq[k] = e.cseq;
        }
        logdb_read_end(db);
    }
    for (size_t i = 0; i < set->n; i++)
        a->lost += seen[i] == 0;
    free(sorted);
    free(seen);
    free(last_cseq);
    logdb_destroy(&db);
    return err;
}

static int s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

static int s_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb;
    (void) flag;
    (void) ftw;
    return remove(path);
}

typedef struct {
    const cfg_t *cfg;
    gen_set_t *set;
    cluster_t *cluster;
    char data_dir[256];
    char log_dir[512];
    const char *endpoint;
    cluster_creds_t creds;       /* the producers' */
    uint32_t *lat;
    s_outcome_t *out;            /* per item: what the producer was told */
    uint64_t t0, t1;
    uint64_t acked, refused;
    uint64_t rss[3];             /* peak kB: broker, sink, largest worker */
    uint64_t cpu0[3], cpu1[3];   /* CPU us of broker, sink, workers at start and end */
    uint64_t prod_cpu_us;        /* the producer threads' CPU */
    s_rcpt_t *rcpt;              /* --receipts */
    at_err err;
} s_run_t;

static cluster_t *s_start_cluster(s_run_t *r)
{
    const cfg_t *cfg = r->cfg;
    static char wargs[256];
    snprintf(wargs, sizeof wargs, "%s", cfg_str(cfg, "worker-args"));
    if (cfg_int(cfg, "sim-verify-us"))
        snprintf(wargs + strlen(wargs), sizeof wargs - strlen(wargs), " --sim-verify-us %" PRId64,
                 cfg_int(cfg, "sim-verify-us"));
    int workers = (int) cfg_int(cfg, "workers"), slow = (int) cfg_int(cfg, "slow-workers");
    if (slow > workers)
        slow = workers;
    const char *bargs = cfg_str(cfg, "broker-args"), *sargs = cfg_str(cfg, "sink-args");
    cluster_opts_t o = { .data_dir = r->data_dir, .workers = workers - slow, .threads = (int) cfg_int(cfg, "threads"),
                         .window = (int) cfg_int(cfg, "pipeline-window"), .log_level = "warn", .to_files = true,
                         .worker_args = *wargs ? wargs : NULL, .broker_args = *bargs ? bargs : NULL,
                         .sink_args = *sargs ? sargs : NULL, .insecure = cfg_bool(cfg, "insecure"),
                         .log_server = cfg_bool(cfg, "receipts") };
    cluster_t *c = cluster_start(&o);
    char extra[64];
    snprintf(extra, sizeof extra, "--test-delay-us %" PRId64, cfg_int(cfg, "slow-delay-us"));
    for (int i = 0; c && i < slow; i++)
        cluster_add_worker(c, extra);
    return c;
}

/*  VmHWM is a peak, but sampling while running also keeps it for
 *  processes that exit before the end. */
static void s_sample_rss(s_run_t *r)
{
    r->rss[0] = cluster_peak_rss_kb(r->cluster, "broker");
    r->rss[1] = cluster_peak_rss_kb(r->cluster, "sink");
    r->rss[2] = cluster_peak_rss_kb(r->cluster, "worker");
}

static const char *s_roles[3] = { "broker", "sink", "worker" };

static void s_sample_cpu(const s_run_t *r, uint64_t *cpu)
{
    for (int i = 0; i < 3; i++)
        cpu[i] = r->cluster ? cluster_cpu_us(r->cluster, s_roles[i]) : 0;
}

static void s_submit_all(s_run_t *r)
{
    int nprod = (int) cfg_int(r->cfg, "producers");
    s_prod_t *prods = at_calloc((size_t) nprod, sizeof *prods);
    pthread_t *tids = at_calloc((size_t) nprod, sizeof *tids);
    bool *joined = at_calloc((size_t) nprod, sizeof *joined);   /* a thread is joined once, never again */
    atomic_uint_fast64_t progress = 0;
    double rate = (double) cfg_int(r->cfg, "rate") / nprod;
    s_sample_cpu(r, r->cpu0);
    r->t0 = at_clock_mono_us();
    for (int k = 0; k < nprod; k++) {
        prods[k] = (s_prod_t) { .k = k, .nprod = nprod, .set = r->set, .endpoint = r->endpoint, .creds = &r->creds, .rate = rate,
                                .lat_us = r->lat, .progress = &progress, .err = AT_OK,
                                .prefix = cfg_str(r->cfg, "name-prefix"), .out = r->out,
                                .linger_us = (int) cfg_int(r->cfg, "linger-us"),
                                .wall_offset = at_clock_wall_us() - at_clock_mono_us(), .rcpt = r->rcpt };
        pthread_create(&tids[k], NULL, s_producer, &prods[k]);
    }
    pthread_t rtid;
    if (r->rcpt)
        pthread_create(&rtid, NULL, s_receipts, r->rcpt);
    bool tty = cfg_bool(r->cfg, "progress") && isatty(2);
    while (atomic_load(&progress) < r->set->n && !zsys_interrupted) {
        bool running = false;
        for (int k = 0; k < nprod; k++) {
            if (!joined[k] && pthread_tryjoin_np(tids[k], NULL) == 0)
                joined[k] = true;
            running |= !joined[k];
        }
        if (tty)
            s_progress(&progress, r->set->n, r->t0);
        if (!running)
            break;
        usleep(200000);
        if (r->cluster)
            s_sample_rss(r);
    }
    for (int k = 0; k < nprod; k++) {
        if (!joined[k])
            pthread_join(tids[k], NULL);
        r->prod_cpu_us += prods[k].cpu_us;
        r->acked += prods[k].acked;
        r->refused += prods[k].refused;
        if (prods[k].t_last > r->t1)
            r->t1 = prods[k].t_last;
        if (prods[k].err && !r->err)
            r->err = prods[k].err;
    }
    if (r->rcpt) {
        atomic_store(&r->rcpt->done, true);
        pthread_join(rtid, NULL);
    }
    s_sample_cpu(r, r->cpu1);
    if (tty) {
        s_progress(&progress, r->set->n, r->t0);
        fprintf(stderr, "\n");
    }
    free(prods);
    free(tids);
    free(joined);
}

/*  --history: one line per attestation with what its producer was told, so
 *  that a checker can compare the producers' history with the log:
 *      # attester HEX producers PREFIX-0..PREFIX-(K-1)
 *      item producer cseq outcome index verdict reason duplicate submit_us ack_us
 *  outcome: acked (index/verdict/reason/duplicate as acknowledged), refused
 *  (reason), or timeout (no outcome before the bench gave up). submit_us
 *  and ack_us: wall-clock microseconds of the submission and of the outcome
 *  (0 without one), comparable with the log's stage timestamps on the same
 *  host (scripts/latency-stages.py). */
static int s_write_history(const s_run_t *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    char hex[2 * AT_KEY_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, r->set->attester, AT_KEY_BYTES);
    int nprod = (int) cfg_int(r->cfg, "producers");
    const char *prefix = cfg_str(r->cfg, "name-prefix");
    fprintf(f, "# attester %s producers %s-0..%s-%d\n", hex, prefix, prefix, nprod - 1);
    static const char *names[] = { "timeout", "acked", "refused" };
    for (size_t i = 0; i < r->set->n; i++) {
        const s_outcome_t *o = &r->out[i];
        fprintf(f, "%zu %s-%d %" PRIu64 " %s %" PRIu64 " %u %u %d %" PRIu64 " %" PRIu64 "\n", i, prefix,
                (int) (i % (size_t) nprod), o->cseq, names[o->state], o->index, o->verdict, o->reason,
                o->duplicate ? 1 : 0, o->submit_us, o->ack_us);
    }
    return fclose(f) == 0 ? 0 : -1;
}

/*  Where the CPU went while submitting, per attestation, on stderr (a
 *  worker that was restarted meanwhile is counted from its restart). With
 *  verification at verify_limit, the workers' surplus over 1e6 * W*T /
 *  verify_limit is their own overhead. */
static void s_report_cpu(const s_run_t *r, double verify_limit, int vthreads)
{
    if (!r->cluster && !r->cpu1[0])
        return;
    double n = (double) r->set->n, us[3];
    for (int i = 0; i < 3; i++)
        us[i] = r->cpu1[i] >= r->cpu0[i] ? (double) (r->cpu1[i] - r->cpu0[i]) / n : 0.0;
    double secs = r->t1 > r->t0 ? (double) (r->t1 - r->t0) / 1e6 : 0.0;
    char vonly[64] = "";
    if (!cfg_int(r->cfg, "sim-verify-us") && verify_limit > 0)
        snprintf(vonly, sizeof vonly, " (verification alone %.2f us)", 1e6 * vthreads / verify_limit);
    fprintf(stderr,
            "bench: cpu per attestation: broker %.2f us, sink %.2f us, workers %.2f us%s,"
            " producers %.2f us; %.2f CPU-s in %.2f s\n",
            us[0], us[1], us[2], vonly, (double) r->prod_cpu_us / n,
            (us[0] + us[1] + us[2]) * n / 1e6 + (double) r->prod_cpu_us / 1e6, secs);
}

/*  Peak memory in MB, or "n/a" for a cluster bench did not start (it
 *  cannot see those processes). */
static const char *s_mb(const s_run_t *r, uint64_t kb, char buf[16])
{
    if (!r->cluster && kb == 0)
        return "n/a";
    snprintf(buf, 16, "%.1f", (double) kb / 1024.0);
    return buf;
}

/*  The receipts part of the summary (a second line). */
static void s_report_receipts(s_rcpt_t *rc)
{
    double p50 = 0, p99 = 0;
    if (rc->got) {
        qsort(rc->lat_us, rc->got, sizeof *rc->lat_us, s_cmp_u32);
        size_t i99 = rc->got * 99 / 100 < rc->got ? rc->got * 99 / 100 : rc->got - 1;
        p50 = rc->lat_us[rc->got / 2] / 1000.0;
        p99 = rc->lat_us[i99] / 1000.0;
    }
    printf("bench: receipts=%zu receipt_failures=%zu rcpt_p50_ms=%.2f rcpt_p99_ms=%.2f rcpt_cpu_us=%.2f\n", rc->got,
           rc->failed, p50, p99, rc->got ? (double) rc->cpu_us / (double) rc->got : 0.0);
}

/*  --receipts: the receipt thread's state, fetching from the cluster's log server. */
static s_rcpt_t *s_rcpt_new(const s_run_t *r)
{
    note_verifier_t v;
    if (!r->cluster || !*cluster_log_url(r->cluster) || note_verifier_load(&v, cluster_log_pub(r->cluster)) != AT_OK) {
        fprintf(stderr, "bench: --receipts needs the local cluster's log server and log key\n");
        return NULL;
    }
    s_rcpt_t *rc = at_calloc(1, sizeof *rc);
    size_t n = r->set->n;
    rc->queue = at_calloc(n, sizeof *rc->queue);
    rc->submit_mono = at_calloc(n, sizeof *rc->submit_mono);
    rc->lat_us = at_calloc(n, sizeof *rc->lat_us);
    rc->set = r->set;
    rc->out = r->out;
    pthread_mutex_init(&rc->lock, NULL);
    if (!(rc->fetcher = receipt_fetcher_new(cluster_log_url(r->cluster), &v)))
        abort();
    return rc;
}

static void s_rcpt_destroy(s_rcpt_t **rc_p)
{
    s_rcpt_t *rc = *rc_p;
    if (!rc)
        return;
    receipt_fetcher_destroy(&rc->fetcher);
    pthread_mutex_destroy(&rc->lock);
    free(rc->queue);
    free(rc->submit_mono);
    free(rc->lat_us);
    free(rc);
    *rc_p = NULL;
}

static void s_report(s_run_t *r, const s_audit_t *a, double verify_limit)
{
    char mb[3][16];
    size_t n = r->set->n;
    qsort(r->lat, n, sizeof *r->lat, s_cmp_u32);
    size_t i99 = n * 99 / 100 < n ? n * 99 / 100 : n - 1;
    double p50 = r->lat[n / 2] / 1000.0, p99 = r->lat[i99] / 1000.0;
    const uint64_t *rss = r->rss;
    double secs = r->t1 > r->t0 ? (double) (r->t1 - r->t0) / 1e6 : 1e-9;
    double rate = (double) a->committed / secs;
    if (a->wrong)
        fprintf(stderr, "bench: %" PRIu64 " verdicts differ from what was generated\n", a->wrong);
    if (r->err)
        fprintf(stderr, "bench: a producer stopped early: %s\n", at_strerror(r->err));
    printf("bench: n=%zu committed=%" PRIu64 " valid=%" PRIu64 " invalid=%" PRIu64 " lost=%" PRIu64 " dup=%" PRIu64
           " order=%s rate=%.0f/s verify_limit=%.0f/s ratio=%.3f p50_ms=%.2f p99_ms=%.2f broker_rss_mb=%s"
           " sink_rss_mb=%s worker_rss_mb=%s\n",
           n, a->committed, a->valid, a->invalid, a->lost, a->dup, a->order_ok ? "ok" : "BROKEN", rate, verify_limit,
           verify_limit > 0 ? rate / verify_limit : 0.0, p50, p99, s_mb(r, rss[0], mb[0]), s_mb(r, rss[1], mb[1]),
           s_mb(r, rss[2], mb[2]));
    if (r->rcpt)
        s_report_receipts(r->rcpt);
    fflush(stdout);
}

static int s_bench(const cfg_t *cfg, void *unused)
{
    (void) unused;
    zsys_init();
    zsys_set_logstream(NULL);
    s_run_t r = { .cfg = cfg };
    if (*cfg_str(cfg, "broker") && !*cfg_str(cfg, "log-dir")) {
        fprintf(stderr, "attest bench: --broker needs --log-dir, the running cluster's log directory (bench reads"
                        " the log back to check every attestation)\n");
        return 2;
    }
    if (*cfg_str(cfg, "broker") && access(cfg_str(cfg, "log-dir"), R_OK) != 0) {
        fprintf(stderr, "attest bench: --log-dir %s: %s (the running cluster's log directory)\n", cfg_str(cfg, "log-dir"),
                strerror(errno));
        return 1;
    }
    size_t n = (size_t) cfg_int(cfg, "n");
    int vthreads = (int) (cfg_int(cfg, "workers") * cfg_int(cfg, "threads"));
    fprintf(stderr, "bench: generating %zu signed attestations...\n", n);
    /* Simulated verification judges nothing: no bad signatures then. */
    r.set = gen_make(n, cfg_int(cfg, "sim-verify-us") ? 0 : 10, 0, (int) sysconf(_SC_NPROCESSORS_ONLN));
    double limit = cfg_int(cfg, "sim-verify-us") ? vthreads * 1e6 / (double) cfg_int(cfg, "sim-verify-us")
                                                 : gen_verify_rate(r.set, vthreads, 2000);
    fprintf(stderr, "bench: verify_limit with %d threads: %.0f/s\n", vthreads, limit);
    r.lat = at_calloc(n, sizeof *r.lat);
    r.out = at_calloc(n, sizeof *r.out);
    if (*cfg_str(cfg, "broker")) {
        r.endpoint = cfg_str(cfg, "broker");
        snprintf(r.log_dir, sizeof r.log_dir, "%s", cfg_str(cfg, "log-dir"));
        int crc = cluster_creds_load("attest bench", cfg_str(cfg, "curve-secret"), cfg_str(cfg, "broker-key"),
                                     cfg_bool(cfg, "insecure"), &r.creds);
        if (crc != 0)
            return crc;
    } else {
        if (*cfg_str(cfg, "data-dir"))
            snprintf(r.data_dir, sizeof r.data_dir, "%s", cfg_str(cfg, "data-dir"));
        else if (!mkdtemp(strcpy(r.data_dir, "/tmp/attest-bench-XXXXXX")))
            return 1;
        r.cluster = s_start_cluster(&r);
        if (!r.cluster)
            return 1;
        r.endpoint = cluster_frontend(r.cluster);
        r.creds = *cluster_producer_creds(r.cluster);
        snprintf(r.log_dir, sizeof r.log_dir, "%s", cluster_log_dir(r.cluster));
    }
    if (cfg_bool(cfg, "receipts") && !(r.rcpt = s_rcpt_new(&r))) {
        cluster_stop(&r.cluster);
        return 1;
    }
    s_submit_all(&r);
    s_report_cpu(&r, limit, vthreads);
    if (r.cluster) {
        s_sample_rss(&r);
        cluster_stop(&r.cluster);
    }
    if (*cfg_str(cfg, "history") && s_write_history(&r, cfg_str(cfg, "history")) != 0)
        r.err = AT_ERR_IO;
    s_audit_t a;
    at_err err = s_audit(r.log_dir, r.set, (int) cfg_int(cfg, "producers"), &a);
    if (err)
        fprintf(stderr, "bench: cannot read the log at %s: %s\n", r.log_dir, at_strerror(err));
    else
        s_report(&r, &a, limit);
    if (*r.data_dir && !*cfg_str(cfg, "data-dir") && !cfg_bool(cfg, "keep"))
        nftw(r.data_dir, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    else if (*r.data_dir)
        fprintf(stderr, "bench: data kept in %s\n", r.data_dir);
    bool ok = !err && a.lost == 0 && a.dup == 0 && a.order_ok && a.wrong == 0 && !r.err
              && (!r.rcpt || (r.rcpt->failed == 0 && r.rcpt->got == r.acked));
    s_rcpt_destroy(&r.rcpt);
    free(r.lat);
    free(r.out);
    gen_destroy(&r.set);
    return ok ? 0 : 1;
}

int cmd_bench(int argc, char **argv)
{
    const cfg_app_t app = {
        .prog = "attest bench",
        .summary = "attest bench: measures the pipeline on a local cluster and prints one line:\n"
                   "bench: n=N committed=C valid=V invalid=I lost=L dup=D order=ok rate=R/s\n"
                   "       verify_limit=X/s ratio=Q p50_ms=A p99_ms=B broker_rss_mb=M1 sink_rss_mb=M2 worker_rss_mb=M3\n"
                   "Exit status 0 only if nothing was lost, duplicated, reordered or misjudged.\n\n"
                   "Usage: attest bench [options]",
        .defs = s_settings,
        .ndefs = sizeof s_settings / sizeof s_settings[0],
        .fn = s_bench,
    };
    return cfg_run(&app, argc, argv);
}
