/*  sink.h: the sink, the last stage of the pipeline.
 *
 *  Workers PUSH verdicts (VERDICTS) to the sink's PULL socket, in any order.
 *  The sink restores sequence order in a reorder buffer (reorder.h), appends
 *  the contiguous ready prefix to the LMDB log (logdb.h) in durable group
 *  commits, and only after a commit succeeds reports the results to the
 *  broker (COMMITTED) over a DEALER, which acknowledges the producers.
 *  SINK_HELLO, sent at start and every heartbeat-ms, tells the broker the
 *  committed watermark (next_seq, next_index); SINK_WELCOME gives the epoch
 *  under which verdicts are accepted.
 *
 *  Group commit: a transaction is written when the ready prefix reaches
 *  commit-max, when its oldest verdict has waited commit-delay-us, or when
 *  the PULL socket has no more input right now. A full LMDB map is doubled
 *  (up to map-size-mb, SNK-MAP-GROW) and the batch run again at once. A
 *  failed commit (e.g. the map full at its maximum) keeps the verdicts and
 *  is retried after 100 ms; the watermark never advances past what is
 *  durable.
 *
 *  Gap report: when the ready prefix has been held back for gap-ms by a
 *  missing seq while later verdicts are buffered, the sink sends the broker
 *  GAP with the seqs of its window it does not hold from there, and the
 *  broker dispatches them again at once instead of after redeliver-ms. At
 *  most one GAP per gap-ms, only for the adopted epoch. After a disruption
 *  of the link to the broker (no SINK_WELCOME for two heartbeats: a pause,
 *  a partition) the same GAP probes a lost tail with nothing buffered
 *  after it, backing off, for about 12 s.
 *
 *  Spot audit (audit.h): a sample of the committed verdicts is re-judged by
 *  an audit thread. On a disagreement the sink logs and counts it, records
 *  it in the log's "audit" database, drops the worker's buffered and
 *  further verdicts, and sends QUARANTINE to the broker (again whenever it
 *  adopts a new broker epoch). The quarantine set is reloaded from the
 *  "audit" database at start.
 */
#ifndef AT_SINK_H
#define AT_SINK_H
#include "config.h"
#include "curve.h"
#include <stddef.h>

typedef struct sink_t sink_t;

/*  The settings of attest-sink, filled once by cfg_bind from the table that
 *  sink_settings() returns. Strings are borrowed from the cfg_t. */
typedef struct {
    const char *log_dir, *verdicts, *broker, *log_level, *metrics;
    const char *audit_sample;     /* percentage 0..100, two decimals at most (audit.h) */
    int64_t clock_skew_s;         /* the audit's clock skew: the workers' clock-skew-s */
    int64_t pipeline_window;      /* reorder window; must equal the broker's pipeline-window */
    int64_t commit_max, commit_delay_us, commit_delay_max_us, batch_us;
    int64_t id_filter_mb, heartbeat_ms;
    int64_t gap_ms;               /* a hole holding the prefix back this long is reported (GAP); 0: off */
    int64_t map_size_mb;          /* the log's maximum: the map doubles on demand up to it */
    int64_t map_initial_mb;       /* the map at start */
    const char *curve_secret, *broker_key, *allow_workers;
    const char *log_key, *origin;  /* the log's signer key file (note.h) and checkpoint origin */
    int64_t checkpoints_kept;
    bool insecure;
} sink_settings_t;

/*  The settings table of attest-sink (static; binds sink_settings_t). */
const cfg_def_t *sink_settings(size_t *count);
/*  One-line summary for --help. */
extern const char *const sink_summary;

/*  Opens the log and the sockets as `s` says (read here only, not kept; its
 *  strings need not outlive the call). keys: the sink's CURVE key pair and
 *  broker_key the broker's public key (Z85), both copied: CURVE on both
 *  links, the PULL admitting the keys of s->allow_workers; keys NULL:
 *  plaintext. Returns NULL after logging why on failure. */
sink_t *sink_new(const sink_settings_t *s, const curve_keys_t *keys, const char *broker_key);

/*  Runs until SIGINT/SIGTERM; on the signal commits the ready prefix, logs
 *  a summary and returns 0. Returns 2 when the broker refused the sink's
 *  configuration (ERROR config: its pipeline-window differs, logged as
 *  SNK-WINDOW-MISMATCH), 1 on another fatal error. */
int sink_run(sink_t *self);

/*  Closes the sockets and the log; sets *self_p to NULL; safe twice. */
void sink_destroy(sink_t **self_p);

#endif
