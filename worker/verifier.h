/*  verifier.h: one verifier thread of a worker process.
 *
 *  Each verifier is an independent worker as the broker sees it: its own
 *  DEALER to the broker (READY with a credit window, TASKS in, DONE with
 *  credit back) and its own PUSH to the sink (VERDICTS). No state is shared
 *  between verifiers, so no thread wakes another: batches go straight from
 *  the network to the CPU and back.
 */
#ifndef AT_VERIFIER_H
#define AT_VERIFIER_H
#include "at_err.h"
#include "curve.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *broker;          /* backend endpoint */
    const char *sink;            /* verdicts endpoint */
    char id[65];                 /* worker id shown in the log */
    uint64_t window;             /* credit announced to the broker */
    uint64_t chunk;              /* most verdicts per VERDICTS/DONE pair */
    uint64_t report_us;          /* report at least this often while busy (0: per chunk) */
    uint64_t skew_s;             /* allowed clock skew for issued_at */
    uint64_t heartbeat_ms;
    uint64_t test_delay_us;      /* test only: extra sleep per task */
    uint64_t sim_verify_us;      /* test only: sleep instead of verifying */
    bool test_lie;               /* test only: judge every bad signature valid */
    const char *test_crash_subject; /* test only: abort() on an attestation with this subject (NULL: never) */
    uint64_t drain_ms;           /* longest a drain may take before stopping at once */
    const atomic_int *signals;   /* stop requests so far: 1 = drain, 2 = stop now */
    bool curve;                  /* CURVE on both links (else plaintext) */
    const curve_keys_t *keys;    /* this worker's key pair (when curve; shared, read only) */
    const char *broker_key;      /* the broker's and the sink's public keys, Z85 (when curve) */
    const char *sink_key;
    struct metrics_series_t *verify_seconds; /* histogram of one task's judging time (NULL: none); borrowed */
} verifier_opts_t;

/*  Written by the verifier's thread, read by the metrics thread at any time:
 *  atomics (the increments cost nothing next to a signature check). */
typedef struct {
    _Atomic uint64_t tasks, valid, invalid, malformed;
    _Atomic uint64_t busy_us;    /* time spent judging tasks, microseconds */
    _Atomic uint64_t heard_us;   /* monotonic us of the last message from the broker (0: none yet) */
    _Atomic uint64_t registrations;     /* READY messages sent */
    _Atomic uint64_t reg_ignored;       /* "unknown worker" errors ignored while a READY was outstanding */
    _Atomic uint64_t blocked_reports;   /* BLOCKED messages sent */
    _Atomic uint64_t sink_blocked_us;   /* time spent in VERDICTS sends that had to wait (ended ones) */
    _Atomic uint64_t blocked_since_us;  /* monotonic us a VERDICTS send reported blocked began (0: none) */
} verifier_stats_t;

/*  Runs a verifier until it is asked to stop (*opts->signals > 0). The first
 *  request starts a drain: the verifier says LEAVE (send me nothing more) and
 *  keeps working until the broker's LEAVE_OK arrives; ZeroMQ keeps order on
 *  the broker->worker pipe, so by then every task sent to it has arrived and
 *  has been judged and reported (VERDICTS + DONE). Then it returns. A second
 *  request, or a drain longer than drain_ms, stops it at once (it says LEAVE
 *  again, and the broker requeues what it still held); *signals >= 2 before
 *  the start makes it stop at once too.
 *  Returns AT_OK after a stop request, AT_ERR_IO when it could not create or
 *  connect its sockets (an invalid endpoint such as "bogus://x"; a valid one
 *  whose host is unreachable is not an error: ZeroMQ keeps reconnecting),
 *  logged WRK-CONNECT. Run by one thread each: see worker/main.c. */
at_err verifier_run(const verifier_opts_t *opts, verifier_stats_t *stats) __attribute__((warn_unused_result));

#endif
