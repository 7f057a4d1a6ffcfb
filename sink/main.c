/*  main.c: attest-sink, orders verdicts and writes them to the log.
 *  Exit codes: 0 clean stop (signal) or --help; 1 runtime failure;
 *  2 bad configuration. */
#include "attestation.h"
#include "config.h"
#include "log.h"
#include "sink.h"
#include <stdio.h>

int main(int argc, char **argv)
{
    size_t ndefs;
    const cfg_def_t *defs = sink_settings(&ndefs);
    cfg_t *cfg = cfg_new("attest-sink", sink_summary, defs, ndefs);
    if (cfg_parse(cfg, argc, argv) != AT_OK) {
        cfg_destroy(&cfg);
        return 2;
    }
    if (cfg_help_requested(cfg)) {
        cfg_destroy(&cfg);
        return 0;
    }
    int level = at_log_level_parse(cfg_str(cfg, "log-level"));
    if (level < 0) {
        fprintf(stderr, "attest-sink: --log-level must be debug, info, warn or error\n");
        cfg_destroy(&cfg);
        return 2;
    }
    at_log_init("sink", (at_log_level) level);
    if (at_crypto_init() != AT_OK) {
        at_log_error("SNK-START", "libsodium failed to initialise");
        cfg_destroy(&cfg);
        return 1;
    }
    cfg_log(cfg);
    sink_t *sink = sink_new(cfg);
    cfg_destroy(&cfg);
    if (!sink)
        return 1;
    int rc = sink_run(sink);
    sink_destroy(&sink);
    return rc;
}
