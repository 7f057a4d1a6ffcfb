/*  wire.h: every message on every socket (see docs/protocol.md).
 *
 *  A message is exactly one ZeroMQ frame holding one msgpack array:
 *      [ 1 (protocol version), type, field... ]
 *  On a ROUTER socket the frame is preceded by the peer's routing id. The
 *  number of fields is fixed per type; batches are arrays of item arrays.
 *
 *  Frontend (producer DEALER -> broker ROUTER):
 *    HELLO     P->B [1, 1, producer str<=64]
 *    WELCOME   B->P [1, 2, credit uint, max_batch uint]
 *    SUBMIT    P->B [1, 3, [[cseq uint, attestation bin], ...]]
 *    CREDIT    B->P [1, 4, credit uint]                      (added to what is held)
 *    ACK       B->P [1, 5, [[cseq, index, verdict, reason, duplicate bool], ...]]
 *    REFUSE    B->P [1, 6, [[cseq, reason], ...]]            (not logged; credit returned)
 *    PING      P->B [1, 7]          PONG  B->P [1, 8]
 *    ERROR     B->* [1, 9, reason uint, text str]            (message could not be taken)
 *    BYE       P->B [1, 10]
 *  Backend (worker or sink DEALER -> broker ROUTER):
 *    READY     W->B [1, 20, worker_id str<=64, credit uint]
 *    TASKS     B->W [1, 21, epoch uint, [[seq, producer str, cseq, t_received, t_dispatched, attestation bin], ...]]
 *    DONE      W->B [1, 22, [seq, ...], credit uint]
 *    HEARTBEAT W<->B [1, 23]
 *    LEAVE     W->B [1, 24]                                  (drain: send me nothing more)
 *    LEAVE_OK  B->W [1, 25]                                  (every TASKS for you was sent before this)
 *    SINK_HELLO   S->B [1, 30, instance str<=64, next_seq uint, next_index uint,
 *                          epoch uint (the broker epoch the sink has adopted; 0: none)]
 *    SINK_WELCOME B->S [1, 31, epoch uint, first_seq uint]
 *    COMMITTED    S->B [1, 32, epoch uint, next_seq uint, [[seq, index, verdict, reason, duplicate bool], ...]]
 *  Sink PULL (worker PUSH):
 *    VERDICTS  W->S [1, 40, epoch uint, worker_id str<=64,
 *                    [[seq, producer str, cseq, t_received, t_dispatched, t_verified,
 *                      verdict uint, reason uint, id bin32, attestation bin], ...]]
 *  verdict: 0 = valid, 1 = invalid; reason: an at_err code (0 when valid).
 *  Times are wall-clock microseconds since the Unix epoch.
 */
#ifndef AT_WIRE_H
#define AT_WIRE_H
#include "at_err.h"
#include "attestation.h"
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION 1
#define WIRE_NAME_MAX 64
#define WIRE_BATCH_MAX 1024          /* items in SUBMIT, TASKS, DONE, VERDICTS */
#define WIRE_RESULTS_MAX 8192        /* items in ACK, REFUSE, COMMITTED */
#define WIRE_FRAME_MAX (4u << 20)    /* ZMQ_MAXMSGSIZE on every receiving socket */
#define WIRE_ZMTP_HEARTBEAT_MS 1000  /* ZMTP PING interval on every connection */
#define WIRE_ZMTP_TIMEOUT_MS 4000    /* no traffic this long: the connection is dropped */

typedef enum {
    WIRE_HELLO = 1, WIRE_WELCOME = 2, WIRE_SUBMIT = 3, WIRE_CREDIT = 4, WIRE_ACK = 5,
    WIRE_REFUSE = 6, WIRE_PING = 7, WIRE_PONG = 8, WIRE_ERROR = 9, WIRE_BYE = 10,
    WIRE_REVOKE = 11, WIRE_RELEASE = 12,
    WIRE_READY = 20, WIRE_TASKS = 21, WIRE_DONE = 22, WIRE_HEARTBEAT = 23, WIRE_LEAVE = 24,
    WIRE_LEAVE_OK = 25,
    WIRE_SINK_HELLO = 30, WIRE_SINK_WELCOME = 31, WIRE_COMMITTED = 32,
    WIRE_VERDICTS = 40,
    WIRE_TYPE_MAX_ = 41
} wire_type;

enum { WIRE_VALID = 0, WIRE_INVALID = 1 };

/*  A parsed message. Fields borrow from the frame that was parsed: keep the
 *  frame alive until wire_msg_done(). */
typedef struct {
    msgpack_object root;
    msgpack_zone *zone;          /* borrowed from the thread (mpzone.h) */
    uint8_t type;
    const msgpack_object *f;     /* the fields after version and type */
    size_t nf;
} wire_msg_t;

/*  Parses and checks version, type and field count. On failure *m needs no
 *  wire_msg_done(). Codes: AT_ERR_OVERSIZE, MSGPACK, TRAILING, SHAPE, TYPE,
 *  VERSION, UNKNOWN_TYPE. */
at_err wire_parse(wire_msg_t *m, const void *data, size_t len) __attribute__((warn_unused_result));
void wire_msg_done(wire_msg_t *m);
const char *wire_type_name(int type);

/*  Field accessors: AT_ERR_TYPE on a wrong type, AT_ERR_OVERSIZE past max. */
at_err wire_u64(const msgpack_object *o, uint64_t *out) __attribute__((warn_unused_result));
at_err wire_bool(const msgpack_object *o, bool *out) __attribute__((warn_unused_result));
at_err wire_str(const msgpack_object *o, const char **p, size_t *n, size_t max) __attribute__((warn_unused_result));
at_err wire_bin(const msgpack_object *o, const uint8_t **p, size_t *n, size_t max) __attribute__((warn_unused_result));
/*  An array of at most max elements (AT_ERR_SHAPE when empty and !allow_empty). */
at_err wire_array(const msgpack_object *o, const msgpack_object **items, size_t *n, size_t max,
                  bool allow_empty) __attribute__((warn_unused_result));

/*  Batch items. Decoders borrow from the message; packers write one item. */
typedef struct {
    uint64_t cseq;
    const uint8_t *att;
    size_t att_len;
} wire_submit_t;

typedef struct {
    uint64_t seq;
    const char *producer;
    size_t producer_len;
    uint64_t cseq;
    uint64_t t_received, t_dispatched;
    const uint8_t *att;
    size_t att_len;
} wire_task_t;

typedef struct {
    wire_task_t task;
    uint64_t t_verified;
    uint8_t verdict;
    uint8_t reason;
    const uint8_t *id;           /* AT_ID_BYTES */
} wire_verdict_t;

/*  One line of ACK (key = cseq) or COMMITTED (key = seq). */
typedef struct {
    uint64_t key;
    uint64_t index;
    uint8_t verdict;
    uint8_t reason;
    bool duplicate;
} wire_result_t;

typedef struct {
    uint64_t cseq;
    uint8_t reason;
} wire_refusal_t;

at_err wire_submit_decode(const msgpack_object *o, wire_submit_t *out) __attribute__((warn_unused_result));
at_err wire_task_decode(const msgpack_object *o, wire_task_t *out) __attribute__((warn_unused_result));
at_err wire_verdict_decode(const msgpack_object *o, wire_verdict_t *out) __attribute__((warn_unused_result));
at_err wire_result_decode(const msgpack_object *o, wire_result_t *out) __attribute__((warn_unused_result));
at_err wire_refusal_decode(const msgpack_object *o, wire_refusal_t *out) __attribute__((warn_unused_result));

/*  A reusable message builder. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} wire_packer_t;

void wire_packer_init(wire_packer_t *w);
void wire_packer_destroy(wire_packer_t *w);
/*  Starts a message of `type` with `nfields` fields after version and type. */
void wire_begin(wire_packer_t *w, wire_type type, size_t nfields);
void wire_pack_submit(wire_packer_t *w, const wire_submit_t *s);
void wire_pack_task(wire_packer_t *w, const wire_task_t *t);
void wire_pack_verdict(wire_packer_t *w, const wire_verdict_t *v);
void wire_pack_result(wire_packer_t *w, const wire_result_t *r);
void wire_pack_refusal(wire_packer_t *w, const wire_refusal_t *r);
void wire_pack_str(wire_packer_t *w, const char *s, size_t n);

/*  Sends the built message on a libzmq socket handle, preceded by a routing
 *  id frame when rid is not NULL (ROUTER sockets). Returns 0, or -1 with
 *  errno set (EAGAIN when flags has ZMQ_DONTWAIT and the pipe is full,
 *  EHOSTUNREACH for a gone peer on a ROUTER with ROUTER_MANDATORY). */
int wire_send(void *handle, const wire_packer_t *w, const void *rid, size_t rid_len, int flags);

/*  Applies the project's defaults to a new CZMQ socket: ZMQ_MAXMSGSIZE =
 *  WIRE_FRAME_MAX, linger 0, high-water marks, and ZMTP heartbeats
 *  (WIRE_ZMTP_HEARTBEAT_MS / WIRE_ZMTP_TIMEOUT_MS). */
void wire_socket_defaults(void *zsock, int hwm);

#endif
