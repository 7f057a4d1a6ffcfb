/*  cluster.c: start, supervise and stop a local cluster of real processes.
 *  Makes the cluster's CURVE keys and allowlists unless told insecure. */
#include "cluster.h"
#include "client.h"
#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "note.h"
#include "scrape.h"
#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <czmq.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*  The broker's pipeline-window flag (old name --window: an alias for one release). */
#define S_BROKER_WINDOW_FLAG "--pipeline-window"
#define S_MAX_PROCS 128
#define S_MAX_ARGS 48

typedef struct {
    char name[32];               /* broker, sink, worker-3 */
    char role[16];
    char *argv[S_MAX_ARGS];
    pid_t pid;
    uint64_t peak_kb;
    int restarts;
    int fails;                   /* exits in a row, each soon after its start */
    uint64_t started_us;         /* mono us of the last start */
    uint64_t restart_at_us;      /* exited: mono us of the next start (pid is 0 meanwhile) */
} s_proc_t;

#define S_RESTART_MAX 8               /* exits in a row before `attest up` gives up */
#define S_BACKOFF_MIN_US 200000u      /* first restart after 0.2 s, then doubling */
#define S_BACKOFF_MAX_US 10000000u    /* ... up to 10 s */
#define S_STABLE_US 30000000u         /* a process that ran this long starts a fresh count */

struct cluster_t {
    cluster_opts_t o;
    char data_dir[512];
    char log_dir[600];
    char front[64], back[64], sinkep[64];
    char log_listen[300], log_url[320];   /* the log server's; "" when none */
    s_proc_t procs[S_MAX_PROCS];
    int nprocs;
    int nworkers;
    char keys[640];              /* data_dir/keys, "" when insecure */
    char log_key[700], log_pub[700];   /* data_dir/keys/log.key and log.pub: the log's note key pair */
    cluster_creds_t creds;
};

const char *cluster_bindir(void)
{
    static char dir[1024];
    if (!*dir) {
        char exe[1024];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        snprintf(dir, sizeof dir, "%s", n > 0 ? dirname(exe) : ".");
    }
    return dir;
}

static int s_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof a) == 0
        && getsockname(fd, (struct sockaddr *) &a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/*  Splits extra (space-separated) into argv slots; returns the new argc. */
static int s_add_args(s_proc_t *p, int argc, const char *extra)
{
    if (!extra)
        return argc;
    char *copy = at_strdup(extra), *save = NULL;
    for (char *tok = strtok_r(copy, " ", &save); tok && argc < S_MAX_ARGS - 1; tok = strtok_r(NULL, " ", &save))
        p->argv[argc++] = at_strdup(tok);
    free(copy);
    return argc;
}

/*  A worker's metrics address from --worker-args: HOST:PORT (or :PORT)
 *  with the port moved up by the worker's number, so that each worker of
 *  `--worker-args "--metrics :9200"` gets its own (9200, 9201, ...). */
static char *s_worker_metrics(const char *value, int i)
{
    const char *colon = strrchr(value, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || !end || *end || port <= 0 || port + i > 65535)
        return at_strdup(value);   /* not HOST:PORT (or off): as given, the worker says what is wrong */
    char *out = NULL;
    if (asprintf(&out, "%.*s:%ld", (int) (colon - value), value, port + i) < 0)
        abort();
    return out;
}

/*  --worker-args for worker i: as s_add_args, with --metrics moved per worker. */
static int s_add_worker_args(s_proc_t *p, int argc, const char *extra, int i)
{
    int first = argc;
    argc = s_add_args(p, argc, extra);
    for (int k = first; k + 1 < argc; k++) {
        if (strcmp(p->argv[k], "--metrics") != 0)
            continue;
        char *moved = s_worker_metrics(p->argv[k + 1], i);
        free(p->argv[k + 1]);
        p->argv[k + 1] = moved;
    }
    return argc;
}

static int s_arg(s_proc_t *p, int argc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int s_arg(s_proc_t *p, int argc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (argc >= S_MAX_ARGS - 1 || vasprintf(&p->argv[argc], fmt, ap) < 0)
        abort();                /* too many arguments (a bug) or out of memory */
    va_end(ap);
    return argc + 1;
}

static void s_spawn(cluster_t *self, s_proc_t *p)
{
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);   /* Ctrl-C reaches `attest`, which stops us in order */
        if (self->o.to_files) {
            char path[700];
            snprintf(path, sizeof path, "%s/%s.log", self->data_dir, p->name);
            int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 2);
                close(fd);
            }
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, 0);
            close(devnull);
        }
        execv(p->argv[0], p->argv);
        fprintf(stderr, "attest: cannot run %s: %s\n", p->argv[0], strerror(errno));
        _exit(127);
    }
    p->pid = pid;
    p->started_us = at_clock_mono_us();
    p->restart_at_us = 0;
}

/*  The last lines of a child's log file (to_files), quoted on our stderr:
 *  the child's own words for why it stopped. */
static void s_quote_log(const cluster_t *self, const s_proc_t *p)
{
    if (!self->o.to_files)
        return;   /* its stderr is ours: the reason is just above */
    char path[700], line[512], last[4][512] = { { 0 } };
    snprintf(path, sizeof path, "%s/%s.log", self->data_dir, p->name);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    int n = 0;
    while (fgets(line, sizeof line, f))
        snprintf(last[n++ % 4], sizeof last[0], "%s", line);
    fclose(f);
    for (int i = n > 4 ? n - 4 : 0; i < n; i++)
        fprintf(stderr, "  %s: %s", p->name, last[i % 4]);
    fprintf(stderr, "  (all of it in %s)\n", path);
}

/*  "status 2" or "signal 9" of a wait status. */
static void s_status_text(int status, char *buf, size_t len)
{
    snprintf(buf, len, "%s %d", WIFSIGNALED(status) ? "signal" : "status",
             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

static s_proc_t *s_new_proc(cluster_t *self, const char *role, const char *name, int *argc)
{
    assert(self->nprocs < S_MAX_PROCS);
    s_proc_t *p = &self->procs[self->nprocs++];
    snprintf(p->role, sizeof p->role, "%s", role);
    snprintf(p->name, sizeof p->name, "%s", name);
    *argc = s_arg(p, 0, "%s/attest-%s", cluster_bindir(), role);
    *argc = s_arg(p, *argc, "--log-level");
    *argc = s_arg(p, *argc, "%s", self->o.log_level ? self->o.log_level : "info");
    return p;
}

/*  The CURVE flags of a process: each "%s" in the pairs is the keys dir. */
static int s_key_args(cluster_t *self, s_proc_t *p, int argc, const char *const *pairs, size_t n)
{
    if (!*self->keys)
        return s_arg(p, argc, "--insecure");
    for (size_t i = 0; i + 1 < n; i += 2) {
        argc = s_arg(p, argc, "%s", pairs[i]);
        argc = s_arg(p, argc, "%s/%s", self->keys, pairs[i + 1]);
    }
    return argc;
}

/*  --metrics 127.0.0.1:PORT+offset when metrics are on. */
static int s_metrics_arg(cluster_t *self, s_proc_t *p, int argc, int offset)
{
    if (!self->o.metrics_port)
        return argc;
    argc = s_arg(p, argc, "--metrics");
    return s_arg(p, argc, "127.0.0.1:%d", self->o.metrics_port + offset);
}

int cluster_add_worker(cluster_t *self, const char *extra_args)
{
    char name[32];
    int i = self->nworkers++, argc;
    snprintf(name, sizeof name, "worker-%d", i);
    s_proc_t *p = s_new_proc(self, "worker", name, &argc);
    argc = s_arg(p, argc, "--broker");
    argc = s_arg(p, argc, "%s", self->back);
    argc = s_arg(p, argc, "--sink");
    argc = s_arg(p, argc, "%s", self->sinkep);
    argc = s_arg(p, argc, "--threads");
    argc = s_arg(p, argc, "%d", self->o.threads);
    argc = s_arg(p, argc, "--id");
    argc = s_arg(p, argc, "w%d", i);
    static const char *const keys[] = { "--curve-secret", "worker_secret", "--broker-key", "broker",
                                         "--sink-key", "sink" };
    argc = s_key_args(self, p, argc, keys, 6);
    argc = s_metrics_arg(self, p, argc, 2 + i);
    argc = s_add_worker_args(p, argc, self->o.worker_args, i);
    argc = s_add_args(p, argc, extra_args);
    p->argv[argc] = NULL;
    s_spawn(self, p);
    return i;
}

static void s_start_broker(cluster_t *self)
{
    int argc;
    s_proc_t *p = s_new_proc(self, "broker", "broker", &argc);
    argc = s_arg(p, argc, "--frontend");
    argc = s_arg(p, argc, "tcp://127.0.0.1:%d", self->o.frontend_port);
    argc = s_arg(p, argc, "--backend");
    argc = s_arg(p, argc, "tcp://127.0.0.1:%d", self->o.backend_port);
    if (self->o.window) {
        argc = s_arg(p, argc, S_BROKER_WINDOW_FLAG);
        argc = s_arg(p, argc, "%d", self->o.window);
    }
    static const char *const keys[] = { "--curve-secret", "broker_secret", "--allow-producers", "producers",
                                         "--allow-workers", "workers", "--allow-sink", "sinks" };
    argc = s_key_args(self, p, argc, keys, 8);
    argc = s_metrics_arg(self, p, argc, 0);
    argc = s_add_args(p, argc, self->o.broker_args);
    p->argv[argc] = NULL;
    s_spawn(self, p);
}

static void s_start_sink(cluster_t *self)
{
    int argc;
    s_proc_t *p = s_new_proc(self, "sink", "sink", &argc);
    argc = s_arg(p, argc, "--log-dir");
    argc = s_arg(p, argc, "%s", self->log_dir);
    argc = s_arg(p, argc, "--verdicts");
    argc = s_arg(p, argc, "tcp://127.0.0.1:%d", self->o.sink_port);
    argc = s_arg(p, argc, "--broker");
    argc = s_arg(p, argc, "%s", self->back);
    if (self->o.window) {
        argc = s_arg(p, argc, "--pipeline-window");
        argc = s_arg(p, argc, "%d", self->o.window);
    }
    static const char *const keys[] = { "--curve-secret", "sink_secret", "--broker-key", "broker",
                                         "--allow-workers", "workers" };
    argc = s_key_args(self, p, argc, keys, 6);
    argc = s_arg(p, argc, "--log-key");
    argc = s_arg(p, argc, "%s", self->log_key);
    argc = s_metrics_arg(self, p, argc, 1);
    argc = s_add_args(p, argc, self->o.sink_args);
    p->argv[argc] = NULL;
    s_spawn(self, p);
}

/*  `attest log serve` on the log, a child like the others (restarted when
 *  it exits). Only reads the log: started after the sink has created it. */
static void s_start_logserve(cluster_t *self)
{
    assert(self->nprocs < S_MAX_PROCS);
    s_proc_t *p = &self->procs[self->nprocs++];
    snprintf(p->role, sizeof p->role, "logserve");
    snprintf(p->name, sizeof p->name, "logserve");
    int argc = s_arg(p, 0, "%s/attest", cluster_bindir());
    static const char *const fixed[] = { "log", "serve", "--log-level" };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        argc = s_arg(p, argc, "%s", fixed[i]);
    argc = s_arg(p, argc, "%s", self->o.log_level ? self->o.log_level : "info");
    argc = s_arg(p, argc, "--log-dir");
    argc = s_arg(p, argc, "%s", self->log_dir);
    argc = s_arg(p, argc, "--listen");
    argc = s_arg(p, argc, "%s", self->log_listen);
    p->argv[argc] = NULL;
    s_spawn(self, p);
}

/*  Waits until a TCP connect to the port succeeds (the process bound it). */
static bool s_wait_port(int port, int timeout_ms)
{
    uint64_t end = at_clock_mono_us() + (uint64_t) timeout_ms * 1000;
    while (at_clock_mono_us() < end) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        bool ok = fd >= 0 && connect(fd, (struct sockaddr *) &a, sizeof a) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return true;
        usleep(20000);
    }
    return false;
}

/*  True when nothing listens on 127.0.0.1:port (we can bind it). */
static bool s_port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/*  Another process on one of our ports would take our workers' and
 *  producers' connections (another cluster's sink, say): refuse to start. */
static bool s_ports_free(const cluster_t *self)
{
    const int ports[3] = { self->o.frontend_port, self->o.backend_port, self->o.sink_port };
    const char *what[3] = { "frontend", "backend", "sink" };
    for (int i = 0; i < 3; i++)
        if (!s_port_free(ports[i])) {
            fprintf(stderr, "attest: port %d (%s) is in use by another process (another `attest up`?): "
                            "stop it or choose other ports (--frontend-port, --backend-port, --sink-port)\n",
                    ports[i], what[i]);
            return false;
        }
    return true;
}

/*  Metrics are a convenience: when one of their ports is taken (another
 *  cluster's), say so and run without them rather than not at all. */
static void s_metrics_ports(cluster_t *self)
{
    int n = 2 + self->o.workers;
    for (int i = 0; self->o.metrics_port && i < n; i++)
        if (self->o.metrics_port + i > 65535 || !s_port_free(self->o.metrics_port + i)) {
            fprintf(stderr, "attest: metrics port %d is in use (another `attest up`?): metrics off; "
                            "choose others with --metrics-port\n", self->o.metrics_port + i);
            self->o.metrics_port = 0;
        }
}

/*  The log server's address: as given, or 127.0.0.1 on the port after the
 *  sink's (a free one when that is taken). Returns its port, 0 if unknown. */
static int s_log_address(cluster_t *self)
{
    const char *given = self->o.log_listen;
    if (given && *given) {
        snprintf(self->log_listen, sizeof self->log_listen, "%s", given);
        const char *colon = strrchr(given, ':');
        snprintf(self->log_url, sizeof self->log_url, "http://%s%s", given[0] == ':' ? "127.0.0.1" : "", given);
        return colon ? atoi(colon + 1) : 0;
    }
    int port = self->o.sink_port + 1;
    if (port > 65535 || !s_port_free(port))
        port = s_free_port();
    snprintf(self->log_listen, sizeof self->log_listen, "127.0.0.1:%d", port);
    snprintf(self->log_url, sizeof self->log_url, "http://127.0.0.1:%d", port);
    return port;
}

/*  A process did not bind in time: say why, in its own words when it
 *  exited (status 2: it refused its arguments; 1: it failed at run time). */
static void s_not_started(cluster_t *self, s_proc_t *p, const char *what)
{
    int status;
    if (p->pid > 0 && waitpid(p->pid, &status, WNOHANG) == p->pid) {
        char how[32];
        s_status_text(status, how, sizeof how);
        p->pid = 0;
        fprintf(stderr, "attest: the %s exited (%s)%s\n", p->name, how,
                WIFEXITED(status) && WEXITSTATUS(status) == 2 ? ": it refused its arguments or configuration"
                : WIFEXITED(status) && WEXITSTATUS(status) == 1 ? ": it failed (a port in use? the log locked?)"
                                                                 : "");
        s_quote_log(self, p);
        return;
    }
    fprintf(stderr, "attest: the %s is running but did not bind %s within 5 s\n", p->name, what);
    s_quote_log(self, p);
}

/*  keys/NAME (kept if it exists) and its public certificate in keys/DIR. */
static at_err s_key(const cluster_t *self, const char *name, const char *allow_dir)
{
    char path[1024], secret[1100], err[CURVE_ERR_MAX];
    snprintf(path, sizeof path, "%s/%s", self->keys, name);
    snprintf(secret, sizeof secret, "%s_secret", path);
    if (!zsys_file_exists(secret) && curve_keygen(path, true, NULL, err) != AT_OK) {
        fprintf(stderr, "attest: %s\n", err);
        return AT_ERR_IO;
    }
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        fprintf(stderr, "attest: %s: not a CURVE certificate\n", path);
        return AT_ERR_IO;
    }
    snprintf(path, sizeof path, "%s/%s", self->keys, allow_dir);
    mkdir(path, 0750);
    snprintf(path, sizeof path, "%s/%s/%s", self->keys, allow_dir, name);
    int rc = zcert_save_public(cert, path);
    zcert_destroy(&cert);
    if (rc != 0)
        fprintf(stderr, "attest: cannot write %s: %s\n", path, strerror(errno));
    return rc == 0 ? AT_OK : AT_ERR_IO;
}

/*  The cluster's keys and allowlists in data_dir/keys, and the producer's
 *  credentials. */
static at_err s_make_keys(cluster_t *self)
{
    snprintf(self->keys, sizeof self->keys, "%s/keys", self->data_dir);
    mkdir(self->keys, 0700);
    if (s_key(self, "broker", "brokers") || s_key(self, "sink", "sinks") || s_key(self, "worker", "workers")
        || s_key(self, "producer", "producers"))
        return AT_ERR_IO;
    char path[1024], err[CURVE_ERR_MAX];
    snprintf(path, sizeof path, "%s/producer", self->keys);
    if (curve_load_secret(path, &self->creds.keys, err) != AT_OK) {
        fprintf(stderr, "attest: %s\n", err);
        return AT_ERR_IO;
    }
    snprintf(path, sizeof path, "%s/broker", self->keys);
    if (curve_load_public(path, self->creds.server_key, err) != AT_OK) {
        fprintf(stderr, "attest: %s\n", err);
        return AT_ERR_IO;
    }
    self->creds.curve = true;
    return AT_OK;
}

/*  Writes text and a newline to a new file of this mode. */
static at_err s_write_new(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) {
        fprintf(stderr, "attest: cannot create %s: %s\n", path, strerror(errno));
        return AT_ERR_IO;
    }
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t) len && write(fd, "\n", 1) == 1;
    return close(fd) == 0 && ok ? AT_OK : AT_ERR_IO;
}

/*  The log's note key pair in data_dir/keys (kept if it exists), whatever
 *  the CURVE setting: the sink signs every checkpoint with it. */
static at_err s_make_log_key(cluster_t *self)
{
    char dir[600], skey[NOTE_KEY_TEXT_MAX], vkey[NOTE_KEY_TEXT_MAX];
    snprintf(dir, sizeof dir, "%s/keys", self->data_dir);
    mkdir(dir, 0700);
    snprintf(self->log_key, sizeof self->log_key, "%s/log.key", dir);
    snprintf(self->log_pub, sizeof self->log_pub, "%s/log.pub", dir);
    if (zsys_file_exists(self->log_key))
        return AT_OK;
    if (note_keygen(CLUSTER_LOG_ORIGIN, skey, sizeof skey, vkey, sizeof vkey) != AT_OK)
        return AT_ERR_IO;
    at_err rc = s_write_new(self->log_key, skey, 0600);
    sodium_memzero(skey, sizeof skey);
    if (rc == AT_OK) {
        unlink(self->log_pub);
        rc = s_write_new(self->log_pub, vkey, 0644);
    }
    return rc;
}

const char *cluster_log_pub(const cluster_t *self) { return self->log_pub; }

int cluster_creds_load(const char *prog, const char *secret, const char *broker_key, bool insecure,
                       cluster_creds_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = curve_require(prog, secret, insecure, &out->keys);
    if (rc != 0 || !out->keys.sec[0])
        return rc;
    const char *names[1] = { "broker-key" }, *paths[1] = { broker_key };
    char key[1][CURVE_Z85_LEN + 1];
    if ((rc = curve_require_peers(prog, false, 1, names, paths, key)) != 0) {
        curve_keys_wipe(&out->keys);
        return rc;
    }
    memcpy(out->server_key, key[0], sizeof out->server_key);
    out->curve = true;
    return 0;
}

struct at_client_t *cluster_client(const cluster_creds_t *creds, const char *endpoint, const char *name)
{
    return at_client_new_curve(endpoint, name, creds->curve ? &creds->keys : NULL, creds->server_key);
}

const cluster_creds_t *cluster_producer_creds(const cluster_t *self) { return &self->creds; }
const char *cluster_keys_dir(const cluster_t *self) { return self->keys; }

cluster_t *cluster_start(const cluster_opts_t *opts)
{
    cluster_t *self = at_calloc(1, sizeof *self);
    self->o = *opts;
    snprintf(self->data_dir, sizeof self->data_dir, "%s", opts->data_dir);
    snprintf(self->log_dir, sizeof self->log_dir, "%s/log", self->data_dir);
    mkdir(self->data_dir, 0750);
    if (!self->o.frontend_port)
        self->o.frontend_port = s_free_port();
    if (!self->o.backend_port)
        self->o.backend_port = s_free_port();
    if (!self->o.sink_port)
        self->o.sink_port = s_free_port();
    snprintf(self->front, sizeof self->front, "tcp://127.0.0.1:%d", self->o.frontend_port);
    snprintf(self->back, sizeof self->back, "tcp://127.0.0.1:%d", self->o.backend_port);
    snprintf(self->sinkep, sizeof self->sinkep, "tcp://127.0.0.1:%d", self->o.sink_port);
    if (!s_ports_free(self)) {
        free(self);
        return NULL;
    }
    if ((!opts->insecure && s_make_keys(self) != AT_OK) || s_make_log_key(self) != AT_OK) {
        cluster_stop(&self);
        return NULL;
    }
    s_metrics_ports(self);
    s_start_broker(self);
    if (!s_wait_port(self->o.backend_port, 5000) || !s_wait_port(self->o.frontend_port, 1000)) {
        s_not_started(self, &self->procs[self->nprocs - 1], "its ports");
        cluster_stop(&self);
        return NULL;
    }
    s_start_sink(self);
    if (!s_wait_port(self->o.sink_port, 5000)) {
        s_not_started(self, &self->procs[self->nprocs - 1], "its verdicts port");
        cluster_stop(&self);
        return NULL;
    }
    for (int i = 0; i < opts->workers; i++)
        cluster_add_worker(self, NULL);
    if (opts->log_server) {
        int port = s_log_address(self);
        s_start_logserve(self);
        s_proc_t *p = &self->procs[self->nprocs - 1];
        if (port > 0 && !s_wait_port(port, 5000))   /* a convenience: the cluster runs on without it */
            s_not_started(self, p, "its port");
        if (p->pid == 0)
            self->log_url[0] = 0;
    }
    return self;
}

static void s_read_peak(s_proc_t *p)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int) p->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        unsigned long long kb;
        if (sscanf(line, "VmHWM: %llu kB", &kb) == 1 && kb > p->peak_kb)
            p->peak_kb = kb;
    }
    fclose(f);
}

uint64_t cluster_peak_rss_kb(const cluster_t *self, const char *role)
{
    uint64_t best = 0;
    for (int i = 0; i < self->nprocs; i++) {
        s_proc_t *p = (s_proc_t *) &self->procs[i];
        if (strcmp(p->role, role) != 0)
            continue;
        if (p->pid > 0)
            s_read_peak(p);
        if (p->peak_kb > best)
            best = p->peak_kb;
    }
    return best;
}

/*  utime + stime of one process, in microseconds (0 if it is gone). */
static uint64_t s_cpu_us(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');   /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (ut + st) * 1000000ull / (uint64_t) sysconf(_SC_CLK_TCK);
}

uint64_t cluster_cpu_us(const cluster_t *self, const char *role)
{
    uint64_t sum = 0;
    for (int i = 0; i < self->nprocs; i++)
        if (self->procs[i].pid > 0 && strcmp(self->procs[i].role, role) == 0)
            sum += s_cpu_us(self->procs[i].pid);
    return sum;
}

/*  One child exited with status: schedules its restart with exponential
 *  backoff, or returns false when the cluster must stop (bad usage, exit 2,
 *  which a restart cannot fix; or S_RESTART_MAX quick exits in a row). */
static bool s_child_exited(cluster_t *self, s_proc_t *p, int status, uint64_t now)
{
    char how[32];
    s_status_text(status, how, sizeof how);
    p->pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
        fprintf(stderr, "attest: %s exited with status 2 (bad usage or configuration): not restarting it; "
                        "stopping the cluster\n", p->name);
        s_quote_log(self, p);
        return false;
    }
    p->fails = now - p->started_us >= S_STABLE_US ? 1 : p->fails + 1;
    if (p->fails > S_RESTART_MAX) {
        fprintf(stderr, "attest: %s exited %d times in a row, each soon after its start (last: %s): giving up; "
                        "stopping the cluster\n", p->name, p->fails, how);
        s_quote_log(self, p);
        return false;
    }
    uint64_t delay = S_BACKOFF_MIN_US << (p->fails - 1);
    if (delay > S_BACKOFF_MAX_US)
        delay = S_BACKOFF_MAX_US;
    p->restart_at_us = now + delay;
    fprintf(stderr, "attest: %s exited (%s): restarting it in %.1f s (try %d of %d)\n", p->name, how,
            (double) delay / 1e6, p->fails, S_RESTART_MAX);
    s_quote_log(self, p);
    return true;
}

int cluster_supervise(cluster_t *self)
{
    int restarted = 0;
    uint64_t now = at_clock_mono_us();
    for (int i = 0; i < self->nprocs; i++) {
        s_proc_t *p = &self->procs[i];
        if (p->pid <= 0) {
            if (p->restart_at_us && now >= p->restart_at_us) {
                p->restarts++;
                s_spawn(self, p);
                restarted++;
            }
            continue;
        }
        s_read_peak(p);
        int status;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid && !s_child_exited(self, p, status, now))
            return -1;
    }
    return restarted;
}

static void s_signal_all(cluster_t *self, const char *role, int sig)
{
    for (int i = 0; i < self->nprocs; i++)
        if (self->procs[i].pid > 0 && (!role || strcmp(self->procs[i].role, role) == 0))
            kill(self->procs[i].pid, sig);
}

/*  Waits for the role's processes to exit, up to timeout_ms; then kills. */
static void s_reap(cluster_t *self, const char *role, int timeout_ms)
{
    uint64_t end = at_clock_mono_us() + (uint64_t) timeout_ms * 1000;
    for (int i = 0; i < self->nprocs; i++) {
        s_proc_t *p = &self->procs[i];
        if (p->pid <= 0 || (role && strcmp(p->role, role) != 0))
            continue;
        s_read_peak(p);
        while (waitpid(p->pid, NULL, WNOHANG) == 0) {
            if (at_clock_mono_us() > end) {
                kill(p->pid, SIGKILL);
                waitpid(p->pid, NULL, 0);
                break;
            }
            usleep(10000);
        }
        p->pid = 0;
    }
}

void cluster_stop(cluster_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cluster_t *self = *self_p;
    /* Workers first (they drain), then the sink (it commits what is ready),
     * then the broker. */
    s_signal_all(self, "worker", SIGTERM);
    s_reap(self, "worker", 5000);
    s_signal_all(self, "sink", SIGTERM);
    s_reap(self, "sink", 5000);
    s_signal_all(self, NULL, SIGTERM);
    s_reap(self, NULL, 5000);
    for (int i = 0; i < self->nprocs; i++)
        for (int k = 0; self->procs[i].argv[k]; k++)
            free(self->procs[i].argv[k]);
    curve_keys_wipe(&self->creds.keys);
    free(self);
    *self_p = NULL;
}

const char *cluster_frontend(const cluster_t *self) { return self->front; }
const char *cluster_backend(const cluster_t *self) { return self->back; }
const char *cluster_sink_endpoint(const cluster_t *self) { return self->sinkep; }
int cluster_metrics_port(const cluster_t *self) { return self->o.metrics_port; }

/*  Appends ", wI" (or "wI" first) to the list in out while it fits. */
static void s_list_add(char *out, size_t cap, size_t *used, int i)
{
    if (*used >= cap)
        return;
    int n = snprintf(out + *used, cap - *used, "%sw%d", *used ? ", " : "", i);
    *used += n > 0 ? (size_t) n : 0;
}

/*  True when the scrape holds a broker series for a thread of worker i
 *  (label worker="wI/T"). */
static bool s_worker_seen(const scrape_t *s, int i)
{
    char want[24], label[96];
    int wl = snprintf(want, sizeof want, "w%d/", i);
    for (size_t k = 0; k < scrape_count(s); k++) {
        const scrape_sample_t *x = scrape_at(s, k);
        if (strcmp(x->name, "attest_broker_worker_inflight") == 0 && scrape_label(x, "worker", label, sizeof label)
            && strncmp(label, want, (size_t) wl) == 0)
            return true;
    }
    return false;
}

/*  How many of the worker processes the broker has registered; the others
 *  are listed in missing. */
static int s_workers_seen(const cluster_t *self, const scrape_t *s, char *missing, size_t cap)
{
    int n = 0;
    size_t used = 0;
    missing[0] = 0;
    for (int i = 0; i < self->nworkers; i++) {
        if (s_worker_seen(s, i))
            n++;
        else
            s_list_add(missing, cap, &used, i);
    }
    return n;
}

bool cluster_ready(const cluster_t *self, char *why, size_t cap)
{
    char addr[32], err[128], missing[256];
    if (!self->o.metrics_port) {
        snprintf(why, cap, "metrics are off, so readiness cannot be seen");
        return false;
    }
    snprintf(addr, sizeof addr, "127.0.0.1:%d", self->o.metrics_port);
    scrape_t *s = scrape_fetch(addr, 500, err, sizeof err);
    if (!s) {
        snprintf(why, cap, "the broker's metrics on %s do not answer (%s)", addr, err);
        return false;
    }
    double up = 0;
    bool sink = scrape_value(s, "attest_broker_sink_up", NULL, NULL, &up) && up > 0;
    int seen = s_workers_seen(self, s, missing, sizeof missing);
    scrape_destroy(&s);
    bool workers = seen == self->nworkers;
    snprintf(why, cap, "%s; %d of %d workers connected to the broker%s%s%s",
             sink ? "the sink is registered with the broker"
                  : "the sink has not registered with the broker (attest_broker_sink_up 0: admission closed)",
             seen, self->nworkers, workers ? "" : " (missing: ", workers ? "" : missing, workers ? "" : ")");
    return sink && workers;
}

const char *cluster_log_dir(const cluster_t *self) { return self->log_dir; }
const char *cluster_log_url(const cluster_t *self) { return self->log_url; }
