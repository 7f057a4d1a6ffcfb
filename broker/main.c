/*  main.c: attest-broker. */
#include "broker.h"
#include "attestation.h"
#include "log.h"
#include <czmq.h>

int main(int argc, char **argv)
{
    cfg_t *cfg = cfg_new("attest-broker",
                         "attest-broker: admits attestations from producers, numbers them, and\n"
                         "dispatches them to verifier workers against the credit they grant.\n\n"
                         "Usage: attest-broker [--config FILE] [options]",
                         broker_settings, broker_nsettings);
    if (cfg_parse(cfg, argc, argv) != AT_OK) {
        cfg_destroy(&cfg);
        return 2;
    }
    if (cfg_help_requested(cfg)) {
        cfg_destroy(&cfg);
        return 0;
    }
    if (at_log_setup("broker", cfg_str(cfg, "log-level")) != 0) {
        cfg_destroy(&cfg);
        return 2;
    }
    if (at_crypto_init() != AT_OK) {
        at_log_error("BRK-INIT", "libsodium failed to initialise");
        return 1;
    }
    zsys_init();
    zsys_set_logstream(NULL);
    cfg_log(cfg);
    broker_t *broker = broker_new(cfg);
    int rc = 1;
    if (broker) {
        rc = broker_run(broker) == AT_OK ? 0 : 1;
        broker_destroy(&broker);
    }
    cfg_destroy(&cfg);
    return rc;
}
