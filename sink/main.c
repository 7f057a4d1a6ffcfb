/*  main.c: attest-sink, orders verdicts and writes them to the log.
 *  The settings are bound once into a sink_settings_t by cfg_run.
 *  Exit codes: 0 clean stop (signal) or --help/--version; 1 runtime failure
 *  (e.g. the log directory cannot be created, a port is taken); 2 bad usage
 *  or configuration, including a pipeline-window the broker refused.
 *  systemd (Type=notify): READY=1 once the log is open and the sockets are
 *  made (the verdicts socket bound), STOPPING=1 after the loop ends. */
#include "attestation.h"
#include "audit.h"
#include "config.h"
#include "log.h"
#include "notify.h"
#include "sink.h"
#include <stdio.h>

/*  After the settings are parsed, bound and logged (cfg_run). */
static int s_main(const cfg_t *cfg, void *settings)
{
    (void) cfg;
    uint32_t bp;
    const sink_settings_t *s = settings;
    if (!audit_parse_sample(s->audit_sample, &bp)) {
        at_log_error("SNK-START", "audit-sample: want a percentage 0..100 with at most two decimals, got '%s'",
                     s->audit_sample);
        return 2;
    }
    if (at_crypto_init() != AT_OK) {
        at_log_error("SNK-START", "libsodium failed to initialise");
        return 1;
    }
    curve_keys_t keys;
    char broker_key[1][CURVE_Z85_LEN + 1];
    const char *names[1] = { "broker-key" }, *paths[1] = { s->broker_key };
    int urc = curve_require("attest-sink", s->curve_secret, s->insecure, &keys);
    if (urc == 0 && keys.sec[0])
        urc = curve_require_peers("attest-sink", false, 1, names, paths, broker_key);
    if (urc == 0 && keys.sec[0] && !*s->allow_workers) {
        fprintf(stderr, "attest-sink: CURVE needs allow-workers DIR (a directory of worker public "
                "certificates), or --insecure\n");
        urc = 2;
    }
    if (urc != 0)
        return urc;
    sink_t *sink = sink_new(settings, keys.sec[0] ? &keys : NULL, broker_key[0]);
    curve_keys_wipe(&keys);
    if (!sink)
        return 1;
    notify_ready("log open, verdicts socket bound");
    int rc = sink_run(sink);
    notify_stopping();
    sink_destroy(&sink);
    return rc == 0 || rc == 2 ? rc : 1;   /* 2: the broker refused our configuration */
}

int main(int argc, char **argv)
{
    static char summary[512];
    snprintf(summary, sizeof summary, "%s\n\nUsage: attest-sink [--config FILE] [options]\n"
             "Exit status: 0 stopped by SIGINT/SIGTERM, 1 runtime failure, 2 bad usage or configuration\n"
             "(also: the broker refused the sink's pipeline-window).", sink_summary);
    sink_settings_t settings;
    cfg_app_t app = {
        .prog = "attest-sink",
        .summary = summary,
        .log_component = "sink",
        .settings = &settings,
        .fn = s_main,
    };
    app.defs = sink_settings(&app.ndefs);
    return cfg_run(&app, argc, argv);
}
