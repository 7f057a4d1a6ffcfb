/*  main.c: attest-broker.
 *  Exit codes: 0 clean stop (signal), --help or --version; 1 runtime
 *  failure (e.g. an endpoint cannot be bound); 2 bad usage or configuration. */
#include "attestation.h"
#include "broker.h"
#include "log.h"
#include <czmq.h>

static int s_main(const cfg_t *cfg, void *settings)
{
    (void) cfg;
    if (at_crypto_init() != AT_OK) {
        at_log_error("BRK-INIT", "libsodium failed to initialise");
        return 1;
    }
    zsys_init();
    zsys_set_logstream(NULL);
    broker_t *broker = broker_new(settings);
    if (!broker)
        return 1;
    int rc = broker_run(broker) == AT_OK ? 0 : 1;
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
