/*  settings.h: the broker's settings, bound once at start (see config.h).
 *
 *  Every key of attest-broker's --help and config file is a field here,
 *  parsed and checked against its bounds once; nothing looks a setting up
 *  by name after start-up.
 */
#ifndef AT_BROKER_SETTINGS_H
#define AT_BROKER_SETTINGS_H
#include "config.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *frontend, *backend;
    int64_t pipeline_window;        /* admitted and not yet committed (the task ring) */
    int64_t producer_window;        /* most credit one producer may hold */
    int64_t max_batch;
    int64_t dispatch_chunk;
    int64_t target_latency_ms;
    int64_t batch_us, saturated_batch_us;
    int64_t heartbeat_ms, worker_timeout_ms, sink_timeout_ms;
    int64_t credit_idle_ms, producer_timeout_ms;
    int64_t redeliver_ms;
    int64_t gap_ms;                 /* GAP: redispatch what the sink misses, at most once per this per task */
    int64_t poison_deliveries;      /* worker deaths in a row after which a task is poison */
    int64_t stats_ms;
    const char *metrics;
    const char *log_level;
    const char *curve_secret;       /* this broker's secret certificate ("": none) */
    const char *allow_producers, *allow_workers, *allow_sink;   /* allowlist directories */
    bool insecure;
} broker_settings_t;

/*  The table bound to broker_settings_t (static; *n gets its length). */
const cfg_def_t *broker_settings_table(size_t *n);

#endif
