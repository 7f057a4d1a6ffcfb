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
} verifier_opts_t;

typedef struct {
    uint64_t tasks, valid, invalid, malformed;
} verifier_stats_t;

/*  Runs a verifier until zsys_interrupted; then says LEAVE and returns.
 *  Suitable as a pthread start routine argument holder: see worker/main.c. */
void verifier_run(const verifier_opts_t *opts, verifier_stats_t *stats);

#endif
