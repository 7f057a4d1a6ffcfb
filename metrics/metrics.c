/*  metrics.c: Prometheus registry and its HTTP endpoint (see metrics.h).
 *
 *  Families and series are singly linked lists in definition order, guarded
 *  by one mutex for structure (registration, publish, scrape); values are
 *  _Atomic uint64_t accessed with relaxed ordering, so the hot path of an
 *  owner thread is one uncontended atomic store or add. A histogram keeps
 *  one non-cumulative count per bucket and a sum; a scrape adds the counts
 *  up, so _count always equals the +Inf bucket.
 */
#include "metrics.h"
#include "at_version.h"
#include "log.h"
#include <dirent.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <assert.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_BOUNDS_MAX 32
#define S_CONN_LIMIT 16
#define S_CONN_PER_IP 8
#define S_CONN_TIMEOUT_S 10
#define S_CONN_MEMORY (32 * 1024)
#define S_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_series_t {
    metrics_family_t *family;
    char *label_value;                     /* NULL: no label */
    _Atomic uint64_t value;                /* counter, gauge; histogram: sum */
    _Atomic uint64_t *buckets;             /* histogram: nbounds + 1 counts */
    metrics_series_t *next;
};

struct metrics_family_t {
    metrics_t *owner;
    char *name, *help, *label_name;
    metrics_type type;
    uint64_t divisor;
    uint64_t *bounds;                      /* histogram */
    size_t nbounds;
    metrics_series_t *series, *last;
    size_t nseries;
    metrics_family_t *next;
};

struct metrics_t {
    pthread_mutex_t lock;
    metrics_family_t *families, *last;
    metrics_scrape_fn *hook;
    void *hook_arg;
    metrics_series_t *ready;    /* /readyz: ready while its value is above 0 (NULL: always) */
    const char *ready_why;      /* the 503 text when not (static) */
    struct MHD_Daemon *daemon;
    int port;
    const char *event;
};

typedef struct {
    char *data;
    size_t len, cap;
} s_buf_t;

static void *s_alloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

static char *s_strdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        abort();
    return p;
}

/* ---------------------------------------------------------------- names */

/*  A programmer's mistake that would break the exposition: stop, even in a
 *  release build (registration happens once, at start-up). */
static void s_require(bool ok, const char *what, const char *name)
{
    if (!ok) {
        fprintf(stderr, "metrics: %s: '%s'\n", what, name ? name : "(null)");
        abort();
    }
}

static bool s_valid_name(const char *name, bool colon)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++) {
        bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || (colon && *p == ':');
        if (!alpha && !(p > name && *p >= '0' && *p <= '9'))
            return false;
    }
    return true;
}

/*  "a" or "a,b,c": each a label name, none "le". */
static bool s_valid_labels(const char *names)
{
    char one[64];
    for (const char *p = names;;) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n >= sizeof one)
            return false;
        memcpy(one, p, n);
        one[n] = 0;
        if (!s_valid_name(one, false) || strcmp(one, "le") == 0)
            return false;
        if (!p[n])
            return true;
        p += n + 1;
    }
}

static metrics_family_t *s_find(metrics_t *self, const char *name)
{
    for (metrics_family_t *f = self->families; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

/* --------------------------------------------------------- registration */

metrics_t *metrics_new(void)
{
    metrics_t *self = s_alloc(1, sizeof *self);
    pthread_mutex_init(&self->lock, NULL);
    return self;
}

static void s_series_free(metrics_series_t *s)
{
    while (s) {
        metrics_series_t *next = s->next;
        free(s->label_value);
        free(s->buckets);
        free(s);
        s = next;
    }
}

void metrics_destroy(metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    metrics_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    for (metrics_family_t *f = self->families; f;) {
        metrics_family_t *next = f->next;
        s_series_free(f->series);
        free(f->name);
        free(f->help);
        free(f->label_name);
        free(f->bounds);
        free(f);
        f = next;
    }
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static metrics_family_t *s_family_new(metrics_t *self, const char *name, metrics_type type, const char *help,
                                      const char *label_name, uint64_t divisor)
{
    s_require(s_valid_name(name, true), "bad metric name", name);
    s_require(!label_name || s_valid_labels(label_name), "bad label name", label_name);
    uint64_t d = divisor;
    while (d >= 10 && d % 10 == 0)
        d /= 10;
    s_require(d == 1, "divisor is not a power of ten", name);
    metrics_family_t *f = s_alloc(1, sizeof *f);
    f->owner = self;
    f->name = s_strdup(name);
    f->help = s_strdup(help);
    f->label_name = label_name ? s_strdup(label_name) : NULL;
    f->type = type;
    f->divisor = divisor;
    s_require(!s_find(self, name), "metric defined twice", name);
    if (self->last)
        self->last->next = f;
    else
        self->families = f;
    self->last = f;
    return f;
}

metrics_family_t *metrics_family(metrics_t *self, const char *name, metrics_type type, const char *help,
                                 const char *label_name, uint64_t divisor)
{
    assert(type != METRICS_HISTOGRAM && "use metrics_histogram");
    pthread_mutex_lock(&self->lock);
    metrics_family_t *f = s_family_new(self, name, type, help, label_name, divisor);
    pthread_mutex_unlock(&self->lock);
    return f;
}

/*  Appends a series; the caller holds the lock. */
static metrics_series_t *s_series_add(metrics_family_t *fam, const char *label_value)
{
    metrics_series_t *s = s_alloc(1, sizeof *s);
    s->family = fam;
    s->label_value = label_value ? s_strdup(label_value) : NULL;
    if (fam->type == METRICS_HISTOGRAM)
        s->buckets = s_alloc(fam->nbounds + 1, sizeof *s->buckets);
    if (fam->last)
        fam->last->next = s;
    else
        fam->series = s;
    fam->last = s;
    fam->nseries++;
    return s;
}

metrics_series_t *metrics_series(metrics_family_t *fam, const char *label_value)
{
    assert(!label_value == !fam->label_name && "label value without label name, or the reverse");
    pthread_mutex_lock(&fam->owner->lock);
    metrics_series_t *s = fam->series;
    while (s && !(s->label_value == label_value
                  || (s->label_value && label_value && strcmp(s->label_value, label_value) == 0)))
        s = s->next;
    if (!s)
        s = s_series_add(fam, label_value);
    pthread_mutex_unlock(&fam->owner->lock);
    return s;
}

metrics_series_t *metrics_counter(metrics_t *self, const char *name, const char *help)
{
    return metrics_series(metrics_family(self, name, METRICS_COUNTER, help, NULL, 1), NULL);
}

metrics_series_t *metrics_gauge(metrics_t *self, const char *name, const char *help)
{
    return metrics_series(metrics_family(self, name, METRICS_GAUGE, help, NULL, 1), NULL);
}

metrics_series_t *metrics_histogram(metrics_t *self, const char *name, const char *help, const uint64_t *bounds,
                                    size_t nbounds, uint64_t divisor)
{
    assert(nbounds <= S_BOUNDS_MAX);
    for (size_t i = 1; i < nbounds; i++)
        assert(bounds[i] > bounds[i - 1] && "histogram bounds must increase");
    pthread_mutex_lock(&self->lock);
    metrics_family_t *f = s_family_new(self, name, METRICS_HISTOGRAM, help, NULL, divisor);
    f->bounds = s_alloc(nbounds, sizeof *f->bounds);
    memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
    f->nbounds = nbounds;
    metrics_series_t *s = s_series_add(f, NULL);
    pthread_mutex_unlock(&self->lock);
    return s;
}

void metrics_ready_when(metrics_t *self, metrics_series_t *gauge, const char *why_not)
{
    pthread_mutex_lock(&self->lock);
    self->ready = gauge;
    self->ready_why = why_not;
    pthread_mutex_unlock(&self->lock);
}

/*  /readyz: 200 "ready" or 503 with the reason (the scrape hook runs first,
 *  as for /metrics, so gauges it computes are fresh). */
static bool s_is_ready(metrics_t *self, const char **why)
{
    pthread_mutex_lock(&self->lock);
    if (self->hook)
        self->hook(self->hook_arg);
    bool ready = !self->ready || atomic_load_explicit(&self->ready->value, memory_order_relaxed) > 0;
    *why = self->ready_why ? self->ready_why : "not ready";
    pthread_mutex_unlock(&self->lock);
    return ready;
}

void metrics_on_scrape(metrics_t *self, metrics_scrape_fn *fn, void *arg)
{
    pthread_mutex_lock(&self->lock);
    self->hook = fn;
    self->hook_arg = arg;
    pthread_mutex_unlock(&self->lock);
}

/* -------------------------------------------------------------- updates */

void metrics_set(metrics_series_t *s, uint64_t value)
{
    if (s)
        atomic_store_explicit(&s->value, value, memory_order_relaxed);
}

void metrics_add(metrics_series_t *s, uint64_t n)
{
    if (s)
        atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

uint64_t metrics_get(const metrics_series_t *s)
{
    return s ? atomic_load_explicit(&s->value, memory_order_relaxed) : 0;
}

void metrics_observe(metrics_series_t *h, uint64_t value)
{
    if (!h)
        return;
    const metrics_family_t *f = h->family;
    assert(f->type == METRICS_HISTOGRAM);
    size_t i = 0;
    while (i < f->nbounds && value > f->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->value, value, memory_order_relaxed);
}

/*  True when the family's series carry exactly these label values in order. */
static bool s_same_labels(const metrics_family_t *fam, size_t n, const char *const *labels)
{
    if (fam->nseries != n)
        return false;
    const metrics_series_t *s = fam->series;
    for (size_t i = 0; i < n; i++, s = s->next)
        if (strcmp(s->label_value, labels[i] ? labels[i] : "") != 0)
            return false;
    return true;
}

void metrics_publish(metrics_family_t *fam, size_t n, const char *const *label_values, const uint64_t *values)
{
    assert(fam->label_name && fam->type != METRICS_HISTOGRAM);
    pthread_mutex_lock(&fam->owner->lock);
    if (!s_same_labels(fam, n, label_values)) {
        s_series_free(fam->series);
        fam->series = fam->last = NULL;
        fam->nseries = 0;
        for (size_t i = 0; i < n; i++)
            s_series_add(fam, label_values[i] ? label_values[i] : "");
    }
    metrics_series_t *s = fam->series;
    for (size_t i = 0; i < n; i++, s = s->next)
        atomic_store_explicit(&s->value, values[i], memory_order_relaxed);
    pthread_mutex_unlock(&fam->owner->lock);
}

/* ------------------------------------------------------------ rendering */

static void s_put(s_buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p)
            abort();
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

static void s_puts(s_buf_t *b, const char *s) { s_put(b, s, strlen(s)); }

/*  Help text escapes \ and newline; label values also escape ". */
static void s_put_escaped(s_buf_t *b, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            s_puts(b, "\\\\");
        else if (*s == '\n')
            s_puts(b, "\\n");
        else if (quote && *s == '"')
            s_puts(b, "\\\"");
        else
            s_put(b, s, 1);
    }
}

/*  value / divisor, exactly, as a decimal without trailing zeros. */
static void s_put_number(s_buf_t *b, uint64_t value, uint64_t divisor)
{
    char text[64];
    if (divisor == 1) {
        snprintf(text, sizeof text, "%" PRIu64, value);
        s_puts(b, text);
        return;
    }
    char f[24];   /* the fraction, digits long, without trailing zeros */
    int digits = 0;
    for (uint64_t d = divisor; d > 1 && digits < 20; d /= 10)
        digits++;
    uint64_t frac = value % divisor;
    for (int k = digits - 1; k >= 0; k--, frac /= 10)
        f[k] = (char) ('0' + frac % 10);
    int len = digits;
    while (len > 0 && f[len - 1] == '0')
        len--;
    f[len] = 0;
    snprintf(text, sizeof text, "%" PRIu64 "%s%s", value / divisor, len ? "." : "", f);
    s_puts(b, text);
}

/*  a="x",b="y": names "a,b" paired with values "x" METRICS_SEP "y" (a
 *  missing value is ""). */
static void s_put_labels(s_buf_t *b, const char *names, const char *values)
{
    const char *v = values;
    for (const char *n = names; *n;) {
        size_t nl = strcspn(n, ",");
        s_put(b, n, nl);
        s_puts(b, "=\"");
        size_t vl = strcspn(v, METRICS_SEP);
        char *one = strndup(v, vl);
        if (!one)
            abort();
        s_put_escaped(b, one, true);
        free(one);
        s_puts(b, "\"");
        v += vl + (v[vl] != 0);
        n += nl;
        if (*n == ',') {
            s_puts(b, ",");
            n++;
        }
    }
}

/*  name{label="value",le="x"} v */
static void s_put_sample(s_buf_t *b, const metrics_family_t *f, const char *suffix, const metrics_series_t *s,
                         const char *le, uint64_t value, uint64_t divisor)
{
    s_puts(b, f->name);
    s_puts(b, suffix);
    bool labelled = s->label_value != NULL;
    if (labelled || le) {
        s_puts(b, "{");
        if (labelled)
            s_put_labels(b, f->label_name, s->label_value);
        if (le) {
            s_puts(b, labelled ? ",le=\"" : "le=\"");
            s_puts(b, le);
            s_puts(b, "\"");
        }
        s_puts(b, "}");
    }
    s_puts(b, " ");
    s_put_number(b, value, divisor);
    s_puts(b, "\n");
}

static void s_render_histogram(s_buf_t *b, const metrics_family_t *f, const metrics_series_t *s)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= f->nbounds; i++) {
        cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        s_buf_t le = { 0 };
        if (i < f->nbounds)
            s_put_number(&le, f->bounds[i], f->divisor);
        else
            s_puts(&le, "+Inf");
        s_put_sample(b, f, "_bucket", s, le.data, cum, 1);
        free(le.data);
    }
    s_put_sample(b, f, "_sum", s, NULL, atomic_load_explicit(&s->value, memory_order_relaxed), f->divisor);
    s_put_sample(b, f, "_count", s, NULL, cum, 1);
}

static void s_render_family(s_buf_t *b, const metrics_family_t *f)
{
    static const char *const types[] = { "counter", "gauge", "histogram" };
    s_puts(b, "# HELP ");
    s_puts(b, f->name);
    s_puts(b, " ");
    s_put_escaped(b, f->help, false);
    s_puts(b, "\n# TYPE ");
    s_puts(b, f->name);
    s_puts(b, " ");
    s_puts(b, types[f->type]);
    s_puts(b, "\n");
    for (const metrics_series_t *s = f->series; s; s = s->next) {
        if (f->type == METRICS_HISTOGRAM)
            s_render_histogram(b, f, s);
        else
            s_put_sample(b, f, "", s, NULL, atomic_load_explicit(&s->value, memory_order_relaxed), f->divisor);
    }
}

/* ------------------------------------ build_info and process_* (standard) */

static void s_put_family_head(s_buf_t *b, const char *name, const char *type, const char *help)
{
    char line[256];
    snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    s_puts(b, line);
}

static void s_put_value(s_buf_t *b, const char *name, const char *type, const char *help, double v)
{
    char line[128];
    s_put_family_head(b, name, type, help);
    snprintf(line, sizeof line, "%s %.17g\n", name, v);
    s_puts(b, line);
}

/*  Fields 14, 15 (utime, stime in ticks), 22 (starttime in ticks since
 *  boot), 23 (vsize bytes), 24 (rss pages) of /proc/self/stat; false when
 *  unreadable. */
static bool s_proc_stat(double *cpu_s, double *start_ticks, double *vsize, double *rss_pages)
{
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return false;
    char text[1024];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    const char *p = strrchr(text, ')');   /* the command name may hold spaces */
    unsigned long long ut, st, start, vs;
    long long rss;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
                            "%llu %llu %lld", &ut, &st, &start, &vs, &rss) != 5)
        return false;
    double hz = (double) sysconf(_SC_CLK_TCK);
    *cpu_s = (double) (ut + st) / hz;
    *start_ticks = (double) start / hz;
    *vsize = (double) vs;
    *rss_pages = (double) rss;
    return true;
}

/*  Seconds since the epoch at boot (btime in /proc/stat); 0 when unknown. */
static double s_boot_time(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long bt = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %llu", &bt) == 1)
            break;
    fclose(f);
    return (double) bt;
}

static double s_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    double n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1;   /* the directory's own descriptor */
}

/*  attest_build_info and the standard process_* metrics (as the official
 *  client libraries name them), computed at each scrape from /proc/self. */
static void s_render_standard(s_buf_t *b)
{
    s_put_family_head(b, "attest_build_info", "gauge", "Version and git commit of this executable (always 1).");
    s_puts(b, "attest_build_info{version=\"" AT_VERSION "\",commit=\"" AT_GIT_COMMIT "\"} 1\n");
    double cpu, start, vsize, rss;
    if (s_proc_stat(&cpu, &start, &vsize, &rss)) {
        s_put_value(b, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
                    cpu);
        s_put_value(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                    rss * (double) sysconf(_SC_PAGESIZE));
        s_put_value(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", vsize);
        s_put_value(b, "process_start_time_seconds", "gauge",
                    "Start time of the process since unix epoch in seconds.", s_boot_time() + start);
    }
    double fds = s_open_fds();
    if (fds >= 0)
        s_put_value(b, "process_open_fds", "gauge", "Number of open file descriptors.", fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        s_put_value(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                    rl.rlim_cur == RLIM_INFINITY ? -1.0 : (double) rl.rlim_cur);
}

char *metrics_render(metrics_t *self, size_t *len_p)
{
    s_buf_t b = { 0 };
    s_puts(&b, "");
    pthread_mutex_lock(&self->lock);
    if (self->hook)
        self->hook(self->hook_arg);
    for (const metrics_family_t *f = self->families; f; f = f->next)
        s_render_family(&b, f);
    pthread_mutex_unlock(&self->lock);
    s_render_standard(&b);
    if (len_p)
        *len_p = b.len;
    return b.data;
}

/* -------------------------------------------------------------- serving */

static enum MHD_Result s_reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len, bool owned)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, owned ? MHD_RESPMEM_MUST_FREE
                                                                              : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, status == MHD_HTTP_OK ? S_CONTENT_TYPE
                                                                                     : "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result s_on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                    const char *version, const char *upload, size_t *upload_len, void **con_cls)
{
    (void) version;
    (void) upload;
    (void) con_cls;
    metrics_t *self = cls;
    static char not_found[] = "not found: try /metrics, /healthz or /readyz\n";
    static char ok[] = "ok\n", ready[] = "ready\n";
    static char not_allowed[] = "method not allowed\n";
    if (*upload_len) {
        *upload_len = 0;   /* a body is ignored: the reply is already queued */
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return s_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed, sizeof not_allowed - 1, false);
    if (strcmp(url, "/healthz") == 0)   /* alive: the process answers */
        return s_reply(conn, MHD_HTTP_OK, ok, sizeof ok - 1, false);
    if (strcmp(url, "/readyz") == 0) {
        const char *why;
        if (s_is_ready(self, &why))
            return s_reply(conn, MHD_HTTP_OK, ready, sizeof ready - 1, false);
        char *text = NULL;
        int n = asprintf(&text, "not ready: %s\n", why);
        return n < 0 ? MHD_NO : s_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text, (size_t) n, true);
    }
    if (strcmp(url, "/metrics") != 0)
        return s_reply(conn, MHD_HTTP_NOT_FOUND, not_found, sizeof not_found - 1, false);
    size_t len;
    char *text = metrics_render(self, &len);
    return s_reply(conn, MHD_HTTP_OK, text, len, true);
}

static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    const metrics_t *self = cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    at_log_limited(AT_LOG_WARN, self->event, "http: %s", line);
}

/*  "HOST:PORT", ":PORT", "PORT", "[V6]:PORT" -> host (NULL: any) and port. */
static bool s_split(const char *address, char *host, size_t hostcap, char *port, size_t portcap)
{
    const char *colon = strrchr(address, ':');
    const char *p = colon ? colon + 1 : address;
    size_t hlen = colon ? (size_t) (colon - address) : 0;
    const char *h = address;
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (!*p || strlen(p) >= portcap || hlen >= hostcap || strspn(p, "0123456789") != strlen(p) || atoi(p) > 65535)
        return false;
    memcpy(host, h, hlen);
    host[hlen] = 0;
    if (strcmp(host, "*") == 0)
        host[0] = 0;
    snprintf(port, portcap, "%s", p);
    return true;
}

static struct addrinfo *s_resolve(const char *address)
{
    char host[256], port[8];
    if (!s_split(address, host, sizeof host, port, sizeof port))
        return NULL;
    /* every interface (no host) means IPv4 0.0.0.0; "[::]:PORT" asks for IPv6 */
    struct addrinfo hints = { .ai_family = *host ? AF_UNSPEC : AF_INET, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    if (getaddrinfo(*host ? host : NULL, port, &hints, &res) != 0)
        return NULL;
    return res;
}

int metrics_wanted(const char *address)
{
    return address && *address && strcmp(address, "0") != 0;
}

at_err metrics_serve(metrics_t *self, const char *address, const char *event)
{
    assert(!self->daemon && "metrics_serve called twice");
    self->event = event ? event : "METRICS";
    if (!metrics_wanted(address))
        return AT_OK;
    struct addrinfo *all = s_resolve(address);
    if (!all) {
        at_log_error(self->event, "metrics address '%s' is not HOST:PORT, :PORT or PORT", address);
        return AT_ERR_CONFIG;
    }
    struct addrinfo *ai = all;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    self->daemon = MHD_start_daemon(flags, 0, NULL, NULL, s_on_request, self,
                                    MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, self,
                                    MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                    MHD_OPTION_CONNECTION_LIMIT, (unsigned) S_CONN_LIMIT,
                                    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) S_CONN_PER_IP,
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) S_CONN_TIMEOUT_S,
                                    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) S_CONN_MEMORY,
                                    MHD_OPTION_END);
    freeaddrinfo(all);
    if (!self->daemon) {
        at_log_error(self->event, "cannot serve metrics on %s (port taken?)", address);
        return AT_ERR_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? (int) info->port : 0;
    at_log_info(self->event, "metrics on http://%s/metrics (port %d)", address, self->port);
    return AT_OK;
}

int metrics_port(const metrics_t *self) { return self ? self->port : 0; }
