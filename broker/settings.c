/*  settings.c: the broker's settings table (see settings.h). */
#include "settings.h"
#include "wire.h"

#define T broker_settings_t
static const cfg_def_t s_table[] = {
    CFG_ENDPOINT_AT(T, frontend, "frontend", ENDPOINT_BIND, "tcp://*:5555",
                    "endpoint producers connect to (ROUTER, bound; HOST:PORT or :PORT too)"),
    CFG_ENDPOINT_AT(T, backend, "backend", ENDPOINT_BIND, "tcp://*:5556",
                    "endpoint workers and the sink connect to (ROUTER, bound; HOST:PORT or :PORT too)"),
    CFG_INT_ALIAS_AT(T, pipeline_window, "pipeline-window", "window", "16384", 64, 1 << 18,
                     "attestations admitted and not yet committed (the task ring); must equal the sink's"),
    CFG_INT_AT(T, producer_window, "producer-window", "4096", 1, 1 << 22, "most credit one producer may hold"),
    CFG_INT_AT(T, max_batch, "max-batch", "256", 1, WIRE_BATCH_MAX, "attestations per SUBMIT a producer may send"),
    CFG_INT_AT(T, dispatch_chunk, "dispatch-chunk", "128", 1, WIRE_BATCH_MAX, "most tasks sent to one worker per turn"),
    CFG_INT_AT(T, target_latency_ms, "target-latency-ms", "20", 1, 60000,
               "longest a task should wait inside a worker; sizes each worker's congestion window"),
    CFG_INT_AT(T, batch_us, "batch-us", "300", 0, 100000,
               "while busy, wake at most once per this many microseconds (0: per message)"),
    CFG_INT_AT(T, saturated_batch_us, "saturated-batch-us", "1000", 0, 100000,
               "the same while tasks wait for worker credit (the workers are the bottleneck)"),
    CFG_INT_AT(T, heartbeat_ms, "heartbeat-ms", "1000", 50, 60000, "heartbeat interval"),
    CFG_INT_AT(T, worker_timeout_ms, "worker-timeout-ms", "5000", 100, 600000,
               "silence after which a worker is dropped and its tasks redispatched"),
    CFG_INT_AT(T, sink_timeout_ms, "sink-timeout-ms", "5000", 100, 600000,
               "silence after which the sink is taken for lost: admission closes until it is back"),
    CFG_INT_AT(T, credit_idle_ms, "credit-idle-ms", "1000", 10, 3600000,
               "a producer that submitted nothing this long gives back its unspent credit when others need it"),
    CFG_INT_AT(T, producer_timeout_ms, "producer-timeout-ms", "30000", 100, 3600000,
               "silence after which a producer's unspent credit is reclaimed"),
    CFG_INT_AT(T, redeliver_ms, "redeliver-ms", "10000", 100, 3600000,
               "a task dispatched or verified this long without being committed is dispatched again"),
    CFG_INT_AT(T, gap_ms, "gap-ms", "200", 0, 60000,
               "a task the sink reports missing (GAP) and dispatched or verified this long is dispatched again at once;"
               " at most once per this per task (0: GAP ignored)"),
    CFG_INT_AT(T, poison_deliveries, "poison-deliveries", "5", 1, 1000,
               "a task whose worker died holding it this many times in a row is logged invalid (poison)"),
    CFG_INT_AT(T, stats_ms, "stats-ms", "10000", 0, 3600000, "period of the statistics log line (0: never)"),
    CFG_STR_AT(T, metrics, "metrics", "",
               "serve Prometheus metrics at http://ADDR/metrics: HOST:PORT or :PORT (empty or 0: off)"),
    CFG_STR_AT(T, log_level, "log-level", "info", "debug, info, warn or error"),
    CFG_STR_AT(T, curve_secret, "curve-secret", "",
               "this broker's CURVE secret certificate (attest keygen --curve); required unless --insecure"),
    CFG_STR_AT(T, allow_producers, "allow-producers", "",
               "directory of producer public certificates allowed on the frontend, or 'any'"),
    CFG_STR_AT(T, allow_workers, "allow-workers", "", "directory of worker public certificates allowed on the backend"),
    CFG_STR_AT(T, allow_sink, "allow-sink", "", "directory of the sink's public certificate(s) allowed on the backend"),
    CFG_BOOL_AT(T, insecure, "insecure", "false", "plaintext, no authentication (warned; attest_insecure 1)"),
};
#undef T

const cfg_def_t *broker_settings_table(size_t *n)
{
    *n = sizeof s_table / sizeof s_table[0];
    return s_table;
}
