/*  broker.h: the broker: admission, sequencing and credit-based dispatch.
 *
 *  Frontend (ROUTER): producers say HELLO, receive credit, SUBMIT batches,
 *  and get ACKs (relayed from the sink's COMMITTED reports) or REFUSEs.
 *  Backend (ROUTER): workers announce credit with READY and return it with
 *  DONE; the sink registers with SINK_HELLO and reports COMMITTED.
 *  Every admitted attestation gets the next sequence number and waits in a
 *  ring of `window` slots until the sink reports it committed; so the broker
 *  never holds, and never dispatches, more than `window` sequence numbers
 *  beyond the sink's committed watermark.
 */
#ifndef AT_BROKER_H
#define AT_BROKER_H
#include "at_err.h"
#include "config.h"

typedef struct broker_t broker_t;

extern const cfg_def_t broker_settings[];
extern const size_t broker_nsettings;

/*  Binds the sockets; NULL (after logging why) on failure. */
broker_t *broker_new(const cfg_t *cfg);
void broker_destroy(broker_t **self_p);
/*  Runs until SIGINT/SIGTERM. */
at_err broker_run(broker_t *self);

#endif
