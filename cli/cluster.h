/*  cluster.h: a local cluster of real processes (broker, sink, workers and,
 *  when asked, the log server) on loopback, started from the executables beside `attest`, supervised, and
 *  stopped cleanly. Used by `attest up`, `attest demo` and `attest bench`.
 *
 *  Secure by default: unless opts->insecure, cluster_start makes CURVE key
 *  pairs in data_dir/keys (broker, sink, worker, producer; kept when they
 *  exist, so a restart on the same data directory reuses them) and the
 *  allowlist directories keys/producers, keys/workers, keys/sinks holding
 *  the public certificates, and runs every link with CURVE. With insecure,
 *  every process gets --insecure (plaintext; each warns).
 */
#ifndef AT_CLUSTER_H
#define AT_CLUSTER_H
#include "at_err.h"
#include "curve.h"
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    const char *data_dir;        /* the log lives in data_dir/log; process logs beside it */
    int frontend_port;           /* 0: pick a free port */
    int backend_port;
    int sink_port;
    int workers;                 /* worker processes */
    int threads;                 /* verifier threads per worker (0: one per core) */
    int window;                  /* broker/sink pipeline-window (0: default) */
    const char *log_level;       /* children's log level (NULL: info) */
    bool to_files;               /* children's stderr to data_dir/<name>.log, not ours */
    const char *worker_args;     /* extra worker flags, space-separated (may be NULL) */
    const char *broker_args;     /* extra broker flags (may be NULL) */
    const char *sink_args;       /* extra sink flags (may be NULL) */
    bool insecure;               /* plaintext on every link (no keys) */
    int metrics_port;            /* 0: no metrics; else broker on 127.0.0.1:P, sink P+1, worker i P+2+i */
    bool log_server;             /* also run `attest log serve` on the log (cli/logserve.h) */
    const char *log_listen;      /* its HOST:PORT; NULL or "": 127.0.0.1:<sink port + 1> (or a free port) */
} cluster_opts_t;

/*  What a producer needs to reach the cluster's frontend. */
typedef struct {
    bool curve;                  /* false: plaintext (insecure cluster) */
    curve_keys_t keys;           /* the producer key pair (keys/producer) */
    char server_key[CURVE_Z85_LEN + 1];   /* the broker's public key */
} cluster_creds_t;

typedef struct cluster_t cluster_t;

/*  Starts broker, sink and workers; waits until the broker accepts
 *  connections. NULL with a message on stderr on failure. */
cluster_t *cluster_start(const cluster_opts_t *opts);
/*  SIGTERM to every process, then SIGKILL after a grace period. */
void cluster_stop(cluster_t **self_p);

const char *cluster_frontend(const cluster_t *self);   /* tcp://127.0.0.1:PORT */
const char *cluster_backend(const cluster_t *self);
const char *cluster_sink_endpoint(const cluster_t *self);
const char *cluster_log_dir(const cluster_t *self);
/*  The producer's credentials (borrowed; valid while the cluster lives). */
const cluster_creds_t *cluster_producer_creds(const cluster_t *self);
/*  Credentials of a producer of a cluster run elsewhere (attest submit,
 *  attest bench --broker): curve_require on secret (or insecure), then the
 *  broker's public certificate broker_key. 0, or 2 after printing why. */
int cluster_creds_load(const char *prog, const char *secret, const char *broker_key, bool insecure,
                       cluster_creds_t *out);
/*  at_client_new_curve with these credentials (plaintext when !creds->curve). */
struct at_client_t;
struct at_client_t *cluster_client(const cluster_creds_t *creds, const char *endpoint, const char *name);
/*  data_dir/keys ("" when insecure). */
const char *cluster_keys_dir(const cluster_t *self);
/*  The log's public note key, DATA/keys/log.pub (attest verify-receipt --log-key). */
const char *cluster_log_pub(const cluster_t *self);
/*  The name (and checkpoint origin) of the log key a cluster makes. */
#define CLUSTER_LOG_ORIGIN "attest.local/log"
/*  The broker's metrics port (sink: +1, worker i: +2+i); 0 when metrics are
 *  off (not asked for, or the ports were in use: said on stderr). */
int cluster_metrics_port(const cluster_t *self);

/*  One look at whether the cluster is ready, through the broker's metrics
 *  (127.0.0.1:cluster_metrics_port): the sink registered and confirmed
 *  (attest_broker_sink_up 1) and every worker process with a verifier
 *  thread registered (a series labelled worker="wI/..."; cluster_add_worker
 *  names worker i wI). True when ready; why[] then says what is up, else
 *  what is missing ("the sink has not registered with the broker", "1 of 2
 *  workers connected to the broker (missing: w1)", the metrics not
 *  answering). False too when metrics are off (nothing to look at). Waits
 *  at most 500 ms for the scrape. */
bool cluster_ready(const cluster_t *self, char *why, size_t cap);

/*  The log server's base URL ("http://127.0.0.1:5558"); "" when there is none. */
const char *cluster_log_url(const cluster_t *self);

/*  Starts one more worker with extra flags (may be NULL); returns its index. */
int cluster_add_worker(cluster_t *self, const char *extra_args);

/*  Call every few hundred ms: restarts processes that exited, each after a
 *  backoff that doubles from 0.2 s to 10 s while it keeps exiting soon after
 *  its start. Returns how many it restarted, or -1 (after saying why on
 *  stderr, with the last lines of the child's log) when the cluster should
 *  stop: a child exited with status 2 (bad usage or configuration, which a
 *  restart cannot fix) or exited 8 times in a row. */
int cluster_supervise(cluster_t *self);

/*  Peak resident memory (VmHWM) in kB of the broker, the sink, or the
 *  largest worker; 0 if unknown. */
uint64_t cluster_peak_rss_kb(const cluster_t *self, const char *role);
/*  CPU time (user + system) in microseconds used so far by the live
 *  processes of a role ("broker", "sink", "worker"), summed. */
uint64_t cluster_cpu_us(const cluster_t *self, const char *role);
/*  Directory holding attest-broker, attest-sink, attest-worker. */
const char *cluster_bindir(void);

#endif
