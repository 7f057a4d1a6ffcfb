/*  main.c: attest-broker.
 *  systemd (Type=notify): READY=1 once both sockets are bound, STOPPING=1
 *  when the loop ends; the loop sends the WATCHDOG=1 keep-alives.
 *  Exit codes: 0 clean stop (signal), --help or --version; 1 runtime
 *  failure (e.g. an endpoint cannot be bound); 2 bad usage or configuration. */
#include "attestation.h"
#include "broker.h"
#include "curve.h"
#include "log.h"
#include "notify.h"
#include <czmq.h>

/*  CURVE needs the three allowlists (exit 2 naming the one missing). */
static int s_check_allow(const broker_settings_t *set)
{
    const char *names[3] = { "allow-producers", "allow-workers", "allow-sink" };
    const char *dirs[3] = { set->allow_producers, set->allow_workers, set->allow_sink };
    for (int i = 0; i < 3; i++) {
        if (!*dirs[i]) {
            fprintf(stderr, "attest-broker: CURVE needs %s DIR (a directory of public certificates%s), "
                    "or --insecure\n", names[i], i == 0 ? ", or 'any'" : "");
            return 2;
        }
    }
    return 0;
}

static int s_main(const cfg_t *cfg, void *settings)
{
    (void) cfg;
    const broker_settings_t *set = settings;
    curve_keys_t keys;
    int urc = curve_require("attest-broker", set->curve_secret, set->insecure, &keys);
    if (urc == 0 && keys.sec[0])
        urc = s_check_allow(set);
    if (urc != 0)
        return urc;
    if (at_crypto_init() != AT_OK) {
        at_log_error("BRK-INIT", "libsodium failed to initialise");
        return 1;
    }
    zsys_init();
    zsys_set_logstream(NULL);
    broker_t *broker = broker_new(settings, keys.sec[0] ? &keys : NULL);
    curve_keys_wipe(&keys);
    if (!broker)
        return 1;
    notify_ready("bound: producers connect to the frontend, workers and the sink to the backend");
    int rc = broker_run(broker) == AT_OK ? 0 : 1;
    notify_stopping();
    broker_destroy(&broker);
    return rc;
}

int main(int argc, char **argv)
{
    broker_settings_t set;
    cfg_app_t app = {
        .prog = "attest-broker",
        .summary = "attest-broker: admits attestations from producers, numbers them, and\n"
                   "dispatches them to verifier workers against the credit they grant.\n\n"
                   "Usage: attest-broker [--config FILE] [options]",
        .log_component = "broker",
        .settings = &set,
        .fn = s_main,
    };
    app.defs = broker_settings_table(&app.ndefs);
    return cfg_run(&app, argc, argv);
}
