/*  broker.h: the broker: admission, sequencing and credit-based dispatch.
 *
 *  Frontend (ROUTER): producers say HELLO, receive credit, SUBMIT batches,
 *  and get ACKs (relayed from the sink's COMMITTED reports) or REFUSEs.
 *  Backend (ROUTER): workers announce credit with READY and return it with
 *  DONE; the sink registers with SINK_HELLO and reports COMMITTED.
 *  Every admitted attestation gets the next sequence number and waits in a
 *  ring of pipeline-window slots until the sink reports it committed; so
 *  the broker never holds, and never dispatches, more than pipeline-window
 *  sequence numbers beyond the sink's committed watermark.
 */
#ifndef AT_BROKER_H
#define AT_BROKER_H
#include "at_err.h"
#include "curve.h"
#include "settings.h"

typedef struct broker_t broker_t;

/*  Binds the sockets; NULL (after logging why) on failure. `set` is
 *  borrowed and must outlive the broker. keys: the broker's CURVE key pair
 *  (copied): CURVE and the ZAP allowlists of set->allow-* on both
 *  listeners; NULL: plaintext (--insecure). */
broker_t *broker_new(const broker_settings_t *set, const curve_keys_t *keys);
void broker_destroy(broker_t **self_p);
/*  Runs until SIGINT/SIGTERM; AT_OK on a clean stop. */
at_err broker_run(broker_t *self);

#endif
