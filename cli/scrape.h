/*  scrape.h: reads a daemon's Prometheus metrics endpoint (for `attest
 *  status` and `attest top`).
 *
 *  scrape_fetch sends "GET /metrics" over plain HTTP/1.0 to HOST:PORT and
 *  parses the text exposition format into samples (name, label text,
 *  value); # lines are skipped, a line that does not parse is skipped too
 *  (a scrape is advice for a human, not an input the tool trusts). Lookups
 *  are linear: a daemon exports a few hundred samples.
 *
 *      char why[128];
 *      scrape_t *s = scrape_fetch("127.0.0.1:9100", 1000, why, sizeof why);
 *      double depth;
 *      if (s && scrape_value(s, "attest_broker_queue_depth", NULL, NULL, &depth)) ...
 *      scrape_destroy(&s);
 */
#ifndef AT_SCRAPE_H
#define AT_SCRAPE_H
#include <stdbool.h>
#include <stddef.h>

typedef struct scrape_t scrape_t;

typedef struct {
    const char *name;     /* e.g. attest_broker_worker_inflight */
    const char *labels;   /* the text between { and }, "" when none */
    double value;
    const char *text;     /* the value as written (exact for 64-bit integers such as an epoch) */
} scrape_sample_t;

/*  Fetches and parses http://ADDRESS/metrics (ADDRESS "HOST:PORT"), giving
 *  up after timeout_ms. NULL when it cannot (why[] says: "connection
 *  refused", "timed out", "HTTP 404", ...). The result belongs to the caller. */
scrape_t *scrape_fetch(const char *address, int timeout_ms, char *why, size_t whycap);
/*  Parses exposition text (for scrape_fetch, and tests). Never NULL. */
scrape_t *scrape_parse(const char *text);
void scrape_destroy(scrape_t **self_p);

size_t scrape_count(const scrape_t *self);
const scrape_sample_t *scrape_at(const scrape_t *self, size_t i);   /* borrowed */

/*  The value of the first sample called name whose label `label` equals
 *  `value` (label NULL: the first sample called name). False if none. */
bool scrape_value(const scrape_t *self, const char *name, const char *label, const char *value, double *out);
/*  The sum of every sample called name (0 when none). */
double scrape_sum(const scrape_t *self, const char *name);
/*  Copies the value of label `label` of sample s into out; false if absent. */
bool scrape_label(const scrape_sample_t *s, const char *label, char *out, size_t cap);

#endif
