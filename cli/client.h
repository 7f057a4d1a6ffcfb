/*  client.h: the producer client library.
 *
 *  A producer connects to the broker's frontend, says HELLO with its name,
 *  and submits encoded attestations against the credit the broker grants.
 *  Submissions are batched (one SUBMIT message carries up to max_batch
 *  attestations). Each submitted attestation ends in exactly one outcome,
 *  delivered to the caller's callback: an acknowledgement carrying its log
 *  index and verdict (once it is durably in the log), or a refusal with a
 *  reason (it is not in the log).
 *
 *  The library is single-threaded: the caller drives it by calling submit,
 *  pump or flush; callbacks run inside those calls. The client keeps a copy
 *  of every unacknowledged attestation (bounded by the broker's credit).
 *
 *  Broker restart: when the broker no longer knows the client (ERROR
 *  "protocol") or is silent for 5 s, the client says HELLO again and
 *  resubmits every unacknowledged attestation, in cseq order and under its
 *  cseq, before any new one (docs/protocol.md 5.11). Each still ends in
 *  exactly one outcome; one the old broker had got committed comes back with
 *  duplicate = true. at_client_connected() is false until the new WELCOME.
 */
#ifndef AT_CLIENT_H
#define AT_CLIENT_H
#include "at_err.h"
#include "attestation.h"
#include "curve.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct at_client_t at_client_t;

typedef struct {
    uint64_t cseq;               /* the client's number for this attestation (1, 2, ...) */
    uint8_t id[AT_ID_BYTES];     /* attestation id (zeroes if the bytes did not decode, or
                                    at_client_set_ids turned ids off) */
    bool refused;                /* true: refused at admission, not in the log */
    uint64_t index;              /* log index (when !refused) */
    uint8_t verdict;             /* WIRE_VALID or WIRE_INVALID (when !refused) */
    uint8_t reason;              /* at_err code: why invalid or why refused; 0 if valid */
    bool duplicate;              /* the id was already in the log at index: either submitted twice,
                                    or resubmitted after a broker restart (then it is this very
                                    attestation, committed before the restart); index, verdict and
                                    reason are the existing entry's */
    uint64_t submit_us;          /* monotonic time of at_client_submit */
    uint64_t ack_us;             /* monotonic time the outcome arrived */
    void *user;                  /* as passed to at_client_submit */
} at_ack_t;

typedef void(at_ack_fn)(const at_ack_t *ack, void *arg);

/*  Connects to the broker frontend endpoint (e.g. "tcp://127.0.0.1:5555").
 *  producer is a name of 1..64 bytes, shown in the log's lineage. Never NULL
 *  for valid arguments; the connection is made in the background. */
at_client_t *at_client_new(const char *endpoint, const char *producer);
/*  The same over CURVE: keys is the producer's key pair, server_key the
 *  broker's public key in Z85 (both copied into the socket; keys NULL:
 *  plaintext, as at_client_new). The broker refuses the handshake unless
 *  the key is in its allow-producers list (or that says any). */
at_client_t *at_client_new_curve(const char *endpoint, const char *producer, const curve_keys_t *keys,
                                 const char *server_key);
void at_client_destroy(at_client_t **self_p);

/*  Registers the outcome callback (may be NULL to ignore outcomes). */
void at_client_set_handler(at_client_t *self, at_ack_fn *fn, void *arg);

/*  Submits one encoded attestation (copied). Waits up to timeout_ms for
 *  credit (-1: forever; 0: not at all), pumping the connection meanwhile.
 *  Returns AT_OK and sets *cseq (may be NULL); AT_ERR_BUSY when no credit
 *  came in time (backpressure: try again later); AT_ERR_OVERSIZE when len
 *  exceeds AT_ENCODED_MAX; AT_ERR_INTERRUPTED on SIGINT/SIGTERM. */
at_err at_client_submit(at_client_t *self, const uint8_t *att, size_t len, void *user, int timeout_ms,
                        uint64_t *cseq) __attribute__((warn_unused_result));

/*  Sends what is batched and handles incoming messages for up to timeout_ms
 *  (0: only what is ready). Returns the number of outcomes delivered. */
int at_client_pump(at_client_t *self, int timeout_ms);
/*  The same, and also returns when fd (a file descriptor the caller reads,
 *  e.g. its input) becomes readable, setting *fd_ready (may be NULL): a
 *  producer that waits for its input keeps the connection served meanwhile
 *  (outcomes, heartbeats, REVOKE). fd < 0: as at_client_pump. */
int at_client_pump_fd(at_client_t *self, int timeout_ms, int fd, bool *fd_ready);

/*  Sends what is batched now, without waiting for the linger to pass: for
 *  a producer that knows it has nothing more to submit for a while (the
 *  end of a burst, input gone quiet). Does not wait for outcomes. */
void at_client_send(at_client_t *self);

/*  Waits until every submitted attestation has its outcome, or timeout_ms
 *  passes (-1: no limit). AT_OK, AT_ERR_TIMEOUT or AT_ERR_INTERRUPTED. */
at_err at_client_flush(at_client_t *self, int timeout_ms) __attribute__((warn_unused_result));

/*  A partial batch waits up to linger_us for more submissions before it is
 *  sent (default AT_CLIENT_LINGER_US; 0: send at once). A full batch, a
 *  batch that uses the last credit, and at_client_flush send at once. */
#define AT_CLIENT_LINGER_US 500
void at_client_set_linger(at_client_t *self, int linger_us);

/*  Whether outcomes carry the attestation id (default: on). Computing it
 *  costs a decode and a BLAKE2b hash per attestation in the producer; a
 *  producer that keys outcomes by cseq or its user pointer can turn it off. */
void at_client_set_ids(at_client_t *self, bool on);

/*  Submitted and not yet acknowledged or refused. */
size_t at_client_pending(const at_client_t *self);
/*  Credit currently held (attestations that may be sent now). */
uint64_t at_client_credit(const at_client_t *self);
/*  True once the broker has answered HELLO. */
bool at_client_connected(const at_client_t *self);
/*  While the broker says admission is closed because it has no sink
 *  (ERROR no_sink, docs/protocol.md 5.10) and has granted no credit since:
 *  its words (borrowed, valid until the next call into the client); else
 *  NULL. A submit waiting for credit names this cause (CLI-WAIT). */
const char *at_client_no_sink(const at_client_t *self);

#endif
