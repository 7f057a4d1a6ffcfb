/*  metrics.h: a small registry of Prometheus metrics, served over HTTP.
 *
 *  A registry holds families (one metric name, its help, its type) and each
 *  family holds series (one value per label value; a family has at most one
 *  label name). Values are unsigned 64-bit integers updated with relaxed
 *  atomics, so the owning thread (the broker's or the sink's event loop, or
 *  any of a worker's verifier threads) writes without a lock while the HTTP
 *  thread reads. A family may have a divisor: values are kept in small units
 *  (e.g. microseconds) and shown divided by it (e.g. seconds), exactly.
 *
 *  Families whose label values come and go (e.g. one series per connected
 *  worker) are replaced as a whole by metrics_publish(), under the
 *  registry's mutex, so a scrape never sees half a snapshot.
 *
 *  metrics_serve() starts a libmicrohttpd daemon with its own thread that
 *  answers GET /metrics with the text exposition format 0.0.4 (# HELP and
 *  # TYPE lines, escaped label values and help text), GET /healthz with 200
 *  "ok" (the process is alive and answers), GET /readyz with 200 "ready" or
 *  503 "not ready: REASON" (see metrics_ready_when), 404 for any other
 *  path and 405 for any other method; connections are bounded (16 at once,
 *  8 per client address) and time out after 10 s of silence.
 *
 *      metrics_t *m = metrics_new();
 *      metrics_series_t *done = metrics_counter(m, "attest_x_done_total", "Tasks done.");
 *      if (metrics_serve(m, "127.0.0.1:9100") != AT_OK) ...
 *      metrics_add(done, 1);              // from the owning thread
 *      metrics_destroy(&m);               // stops the HTTP thread first
 *
 *  Registration (metrics_family, metrics_series, metrics_histogram) is
 *  meant for start-up; it is thread-safe but allocates. Names are checked
 *  there: a bad metric name is a programmer's mistake and aborts.
 */
#ifndef AT_METRICS_H
#define AT_METRICS_H
#include "at_err.h"
#include <stddef.h>
#include <stdint.h>

typedef struct metrics_t metrics_t;
typedef struct metrics_family_t metrics_family_t;
typedef struct metrics_series_t metrics_series_t;

typedef enum { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM } metrics_type;

/*  A registry with nothing in it, not serving. Aborts when out of memory. */
metrics_t *metrics_new(void);

/*  Stops the HTTP daemon (if any), frees every family and series; sets
 *  *self_p to NULL; safe twice and on NULL. */
void metrics_destroy(metrics_t **self_p);

/*  Separates the values of a family with several labels in one label
 *  value string: label_name "verdict,reason" and label value
 *  "invalid" METRICS_SEP "signature" render verdict="invalid",reason="signature". */
#define METRICS_SEP "\x1f"

/*  Defines a counter or gauge family. `name` must match
 *  [a-zA-Z_:][a-zA-Z0-9_:]* and not be defined yet; `label_name`
 *  ([a-zA-Z_][a-zA-Z0-9_]*, not "le"; or several such joined by commas, whose
 *  values are then joined by METRICS_SEP) is NULL for a family without labels;
 *  `divisor` (1, 10, 100, ...: a power of ten) divides every value on output,
 *  which is printed exactly (1500000 with divisor 1000000 is "1.5"). A bad
 *  name, a bad divisor or a name defined twice aborts with a message, even
 *  in a release build. The strings are copied. The family
 *  belongs to the registry. */
metrics_family_t *metrics_family(metrics_t *self, const char *name, metrics_type type, const char *help,
                                 const char *label_name, uint64_t divisor);

/*  Adds a series to a family: `label_value` is NULL exactly when the family
 *  has no label name; any bytes are allowed (escaped on output). Returns the
 *  existing series when that label value is there already. The series
 *  belongs to the registry. */
metrics_series_t *metrics_series(metrics_family_t *fam, const char *label_value);

/*  Shorthands: an unlabelled counter or gauge family with its one series. */
metrics_series_t *metrics_counter(metrics_t *self, const char *name, const char *help);
metrics_series_t *metrics_gauge(metrics_t *self, const char *name, const char *help);

/*  A histogram: `bounds` are the upper bounds of the buckets, strictly
 *  increasing, in the units of metrics_observe (shown divided by divisor);
 *  the +Inf bucket is added. At most 32 bounds. */
metrics_series_t *metrics_histogram(metrics_t *self, const char *name, const char *help, const uint64_t *bounds,
                                    size_t nbounds, uint64_t divisor);

/*  /readyz answers 200 while gauge's value is above 0, else 503 with
 *  why_not (static text). Without it, /readyz is always 200. */
void metrics_ready_when(metrics_t *self, metrics_series_t *gauge, const char *why_not);

/*  Updates (relaxed atomics; any thread). All accept NULL and then do
 *  nothing, so call sites need no "metrics enabled?" test. */
void metrics_set(metrics_series_t *s, uint64_t value);
void metrics_add(metrics_series_t *s, uint64_t n);
uint64_t metrics_get(const metrics_series_t *s);   /* 0 for NULL */
void metrics_observe(metrics_series_t *histogram, uint64_t value);

/*  Replaces every series of a labelled family by the n given (label value,
 *  value) pairs, atomically as seen by a scrape. The strings are copied.
 *  When the label values are the same as last time, in the same order,
 *  only the values are written (no allocation). */
void metrics_publish(metrics_family_t *fam, size_t n, const char *const *label_values, const uint64_t *values);

/*  Called on the HTTP thread at every scrape, under the registry's mutex,
 *  before the text is written: a chance to set values read from atomics the
 *  caller keeps elsewhere. One hook per registry; NULL removes it. */
typedef void (metrics_scrape_fn)(void *arg);
void metrics_on_scrape(metrics_t *self, metrics_scrape_fn *fn, void *arg);

/*  The exposition text as a scrape sees it; the caller frees it. After the
 *  registry's families it always holds attest_build_info{version,commit}
 *  and the standard process_* metrics (process_cpu_seconds_total,
 *  process_resident_memory_bytes, process_virtual_memory_bytes,
 *  process_start_time_seconds, process_open_fds, process_max_fds), read
 *  from /proc/self at that moment. */
char *metrics_render(metrics_t *self, size_t *len_p);

/*  Starts serving GET /metrics. `address` is "HOST:PORT", ":PORT" (every
 *  interface), "PORT" (every interface), "[V6]:PORT"; PORT 0 picks a free
 *  port (see metrics_port). "" and "0" mean off: AT_OK and nothing started.
 *  Returns AT_ERR_CONFIG for an unreadable address, AT_ERR_IO when the
 *  daemon cannot start (e.g. the port is taken), after logging why with
 *  event id `event` (e.g. "BRK-METRICS"; a literal). At most once. */
at_err metrics_serve(metrics_t *self, const char *address, const char *event)
    __attribute__((warn_unused_result));

/*  The TCP port being served; 0 when not serving. */
int metrics_port(const metrics_t *self);

/*  True when `address` asks for metrics (not "" nor "0"). */
int metrics_wanted(const char *address);

#endif
