/*  wire.h: one codec per protocol message (see docs/protocol.md).
 *
 *  A message is exactly one ZeroMQ frame holding one msgpack array:
 *      [ 1 (protocol version), type, field... ]
 *  On a ROUTER socket the frame is preceded by the peer's routing id. The
 *  number of fields is fixed per type; batches are arrays of item arrays.
 *
 *  Frontend (producer DEALER -> broker ROUTER):
 *    HELLO     P->B [1, 1, producer str 1..64]
 *    WELCOME   B->P [1, 2, credit uint, max_batch uint]
 *    SUBMIT    P->B [1, 3, [[cseq uint, attestation bin], ...]]
 *    CREDIT    B->P [1, 4, credit uint]                      (added to what is held)
 *    ACK       B->P [1, 5, [[cseq, index, verdict, reason, duplicate bool], ...]]
 *    REFUSE    B->P [1, 6, [[cseq, reason], ...]]            (not logged; credit returned)
 *    PING      P->B [1, 7]          PONG  B->P [1, 8]
 *    ERROR     B->* [1, 9, reason uint, text str]            (message could not be taken)
 *    BYE       P->B [1, 10]
 *    REVOKE    B->P [1, 11, credit uint]   RELEASE P->B [1, 12, credit uint]
 *  Backend (worker or sink DEALER -> broker ROUTER):
 *    READY     W->B [1, 20, worker_id str 1..64, credit uint]
 *    TASKS     B->W [1, 21, epoch uint, [[seq, producer str, cseq, t_received, t_dispatched, attestation bin,
 *                                         producer_key bin 0|32], ...]]
 *    DONE      W->B [1, 22, [seq, ...], credit uint, held_us uint]  (held_us: how long the worker held
 *                                          these tasks, from their TASKS' arrival; 0: not known)
 *    HEARTBEAT W<->B [1, 23]
 *    LEAVE     W->B [1, 24]                                  (drain: send me nothing more)
 *    LEAVE_OK  B->W [1, 25]                                  (every TASKS for you was sent before this)
 *    BLOCKED   W->B [1, 26, blocked_ms uint]                 (alive, but a send to the sink has been
 *                                                             blocked this long: a HEARTBEAT that says why)
 *    SINK_HELLO   S->B [1, 30, instance str<=64, next_seq uint, next_index uint,
 *                          epoch uint (the broker epoch the sink has adopted; 0: none),
 *                          window uint (the sink's pipeline-window; must equal the broker's),
 *                          held uint (verdicts it holds in order from next_seq, not yet committed)]
 *    SINK_WELCOME B->S [1, 31, epoch uint, first_seq uint]
 *    COMMITTED    S->B [1, 32, epoch uint, next_seq uint, [[seq, index, verdict, reason, duplicate bool], ...]]
 *    QUARANTINE   S->B [1, 33, worker_id str 1..64]         (the spot audit caught it lying)
 *    POISON       B->S [1, 34, epoch uint, [[seq, producer str, cseq, t_received, t_dispatched, attestation bin,
 *                                            producer_key bin 0|32], ...]]  (TASKS' items: log them invalid, poison)
 *    GAP          S->B [1, 35, epoch uint, [[first uint, count uint], ...]]  (seqs the sink does not hold while
 *                          its ready prefix is held back: 1..WIRE_GAP_RANGES_MAX ranges, ascending and disjoint,
 *                          at most WIRE_GAP_SEQS_MAX seqs in all)
 *  Sink PULL (worker PUSH):
 *    VERDICTS  W->S [1, 40, epoch uint, worker_id str<=64,
 *                    [[seq, producer str, cseq, t_received, t_dispatched, t_verified,
 *                      verdict uint, reason uint, id bin32, attestation bin, producer_key bin 0|32], ...]]
 *  producer_key: the producer's CURVE public key as the broker authenticated it
 *  (zap.h), empty in plaintext; the worker copies it from TASKS to VERDICTS.
 *  verdict: 0 = valid, 1 = invalid; reason: an at_err code (0 when valid).
 *  Times are wall-clock microseconds since the Unix epoch.
 *
 *  Receiving: wire_recv (or wire_decode on bytes in hand) checks the frames,
 *  the header (version, type, field count) and every field of the message,
 *  and the shape of its batch (an array within the type's bounds); the items
 *  of a batch are decoded one at a time by index with wire_*_at(). The
 *  decoded fields borrow from the received frame until wire_msg_done().
 *  Sending: a wire_out_t wraps a socket; wire_send_* encode and send one
 *  message and count and log a failure in one place. Batches are built in a
 *  wire_items_t first. Programs never see msgpack.
 *
 *  What a failed decode returns (the code a receiver answers in ERROR; m->why
 *  says what is wrong, m->type is set once the header could be read):
 *    frames          AT_ERR_FRAMES (wrong number of frames; all are drained)
 *    any message     AT_ERR_OVERSIZE (frame > WIRE_FRAME_MAX), MSGPACK, TRAILING,
 *                    SHAPE (root not an array of >= 2), TYPE (version or type not
 *                    a uint), VERSION, UNKNOWN_TYPE, SHAPE (wrong field count)
 *    HELLO           AT_ERR_TYPE for any bad name (not a str, empty, > 64 bytes)
 *    WELCOME         AT_ERR_TYPE (a field not a uint)
 *    SUBMIT          AT_ERR_TYPE (batch not an array), OVERSIZE (> WIRE_BATCH_MAX
 *                    items; the broker also bounds it by its max-batch), SHAPE (empty);
 *                    bad items are not a message error (wire_submit_at: refusals)
 *    CREDIT, REVOKE, RELEASE   AT_ERR_TYPE (not a uint)
 *    ACK, REFUSE     AT_ERR_TYPE (not an array), OVERSIZE (> WIRE_RESULTS_MAX)
 *    ERROR           AT_ERR_TYPE (reason not a uint, text not a str), RANGE (reason
 *                    > 255), OVERSIZE (text > WIRE_TEXT_MAX)
 *    READY           AT_ERR_TYPE for anything bad (id not a str, empty, > 64 bytes,
 *                    credit not a uint or > WIRE_READY_CREDIT_MAX)
 *    TASKS           AT_ERR_TYPE (epoch not a uint, batch not an array), OVERSIZE
 *                    (> WIRE_BATCH_MAX), SHAPE (empty)
 *    DONE            AT_ERR_TYPE for anything bad (seqs not an array or > WIRE_BATCH_MAX,
 *                    credit not a uint or > WIRE_BATCH_MAX, held_us not a uint); a seq that is not a uint
 *                    is not a message error (wire_seq_at)
 *    BLOCKED         AT_ERR_TYPE (blocked_ms not a uint)
 *    SINK_HELLO      AT_ERR_TYPE for anything bad (instance not a str or > 64 bytes,
 *                    a number not a uint)
 *    SINK_WELCOME    AT_ERR_TYPE (a field not a uint)
 *    COMMITTED       AT_ERR_TYPE (a number not a uint, not an array), OVERSIZE
 *                    (> WIRE_RESULTS_MAX)
 *    QUARANTINE      AT_ERR_TYPE (worker id not a str, empty, > 64 bytes)
 *    POISON          as TASKS
 *    GAP             AT_ERR_TYPE (epoch not a uint, ranges not an array, a range not
 *                    [uint, uint]), OVERSIZE (> WIRE_GAP_RANGES_MAX ranges, > WIRE_GAP_SEQS_MAX
 *                    seqs in all), SHAPE (no range), RANGE (a count of 0, first + count past
 *                    2^64, a range not above the one before it); every range is checked at
 *                    decode time, so wire_range_at cannot fail on a decoded GAP
 *    VERDICTS        AT_ERR_TYPE (epoch not a uint, worker not a str, not an array),
 *                    OVERSIZE (worker > 64 bytes, > WIRE_BATCH_MAX items), SHAPE (empty)
 *  These are the codes the broker answered with before there was one codec.
 *  A receiver that must check the sender first (an unknown producer gets
 *  ERROR protocol whatever it sent) can look at m->type when decoding failed.
 */
#ifndef AT_WIRE_H
#define AT_WIRE_H
#include "at_err.h"
#include "attestation.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define WIRE_VERSION 1
#define WIRE_NAME_MAX 64
#define WIRE_TEXT_MAX 1024           /* ERROR text */
#define WIRE_BATCH_MAX 1024          /* items in SUBMIT, TASKS, DONE, VERDICTS */
#define WIRE_RESULTS_MAX 8192        /* items in ACK, REFUSE, COMMITTED */
#define WIRE_READY_CREDIT_MAX (WIRE_BATCH_MAX * 64)
#define WIRE_GAP_RANGES_MAX 256      /* ranges in one GAP */
#define WIRE_GAP_SEQS_MAX (1u << 18) /* seqs in one GAP, all ranges together (the largest pipeline-window) */
#define WIRE_KEY_BYTES 32            /* a CURVE public key (producer_key) */
#define WIRE_INSTANCE_BYTES 16       /* HELLO's instance: a producer's random id for its lifetime */
#define WIRE_RID_MAX 256             /* routing id bytes kept from a ROUTER frame */
#define WIRE_FRAME_MAX (4u << 20)    /* ZMQ_MAXMSGSIZE on every receiving socket */
#define WIRE_ZMTP_HEARTBEAT_MS 1000  /* ZMTP PING interval on every connection */
#define WIRE_ZMTP_TIMEOUT_MS 4000    /* no traffic this long: the connection is dropped */
#define WIRE_CONNECT_TIMEOUT_MS 1000 /* a TCP connect not done by then is tried again (ZMQ_CONNECT_TIMEOUT) */
#define WIRE_TCP_MAXRT_MS 4000       /* verdict path: data unacknowledged this long drops the connection */

typedef enum {
    WIRE_HELLO = 1, WIRE_WELCOME = 2, WIRE_SUBMIT = 3, WIRE_CREDIT = 4, WIRE_ACK = 5,
    WIRE_REFUSE = 6, WIRE_PING = 7, WIRE_PONG = 8, WIRE_ERROR = 9, WIRE_BYE = 10,
    WIRE_REVOKE = 11, WIRE_RELEASE = 12,
    WIRE_READY = 20, WIRE_TASKS = 21, WIRE_DONE = 22, WIRE_HEARTBEAT = 23, WIRE_LEAVE = 24,
    WIRE_LEAVE_OK = 25, WIRE_BLOCKED = 26,
    WIRE_SINK_HELLO = 30, WIRE_SINK_WELCOME = 31, WIRE_COMMITTED = 32, WIRE_QUARANTINE = 33,
    WIRE_POISON = 34, WIRE_GAP = 35,
    WIRE_VERDICTS = 40,
    WIRE_TYPE_MAX_ = 41
} wire_type;

enum { WIRE_VALID = 0, WIRE_INVALID = 1 };

const char *wire_type_name(int type);

/* ---- batch items (decoded ones borrow from the message) ---- */

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
    const uint8_t *producer_key; /* WIRE_KEY_BYTES, or NULL with producer_key_len 0 (plaintext) */
    size_t producer_key_len;
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

/*  One range of a GAP: the seqs first .. first + count - 1 (count >= 1). */
typedef struct {
    uint64_t first, count;
} wire_range_t;

/* ---- per-message structs: decoded fields borrow from the frame until wire_msg_done ---- */

typedef struct {
    const char *name;           /* 1..64 bytes */
    size_t name_len;
    const uint8_t *instance;    /* WIRE_INSTANCE_BYTES, or NULL: the optional second field (5.1) */
} wire_hello_t;
typedef struct { uint64_t credit, max_batch; } wire_welcome_t;
typedef struct { uint8_t reason; const char *text; size_t text_len; } wire_error_t;          /* text <= 1024 */
typedef struct { const char *worker; size_t worker_len; uint64_t credit; } wire_ready_t;     /* worker 1..64 */
typedef struct {
    const char *instance;
    size_t instance_len;
    uint64_t next_seq, next_index, epoch;
    uint64_t window;   /* the sink's pipeline-window */
    uint64_t held;     /* verdicts held for seqs next_seq .. next_seq + held - 1, not yet committed */
} wire_sink_hello_t;
typedef struct { uint64_t epoch, first_seq; } wire_sink_welcome_t;
typedef struct { const char *worker; size_t worker_len; } wire_quarantine_t;              /* worker 1..64 */

/*  A batch inside a received message: checked for shape at decode time and
 *  decoded one item at a time with the wire_*_at() functions. Opaque. */
typedef struct { const void *items_; size_t n; } wire_list_t;

typedef struct { uint64_t epoch; wire_list_t items; } wire_tasks_t;                  /* wire_task_t, 1..WIRE_BATCH_MAX */
typedef struct { wire_list_t seqs; uint64_t credit, held_us; } wire_done_t;          /* u64, 0..WIRE_BATCH_MAX */
typedef struct { uint64_t epoch, next_seq; wire_list_t results; } wire_committed_t;  /* wire_result_t, 0..WIRE_RESULTS_MAX */
typedef struct { uint64_t epoch; const char *worker; size_t worker_len; wire_list_t items; } wire_verdicts_t;  /* 1..WIRE_BATCH_MAX */
/*  GAP: ranges of wire_range_t (1..WIRE_GAP_RANGES_MAX), seqs their counts summed. */
typedef struct { uint64_t epoch; wire_list_t ranges; uint64_t seqs; } wire_gap_t;

/*  A received, decoded message (tagged union). */
typedef struct {
    uint8_t type;                /* wire_type; 0 when even the header could not be read */
    const uint8_t *rid;          /* ROUTER sockets: the peer's routing id (borrowed), else NULL */
    size_t rid_len;              /* <= WIRE_RID_MAX */
    size_t size;                 /* bytes of the body frame */
    const char *why;             /* on a decode error: a static text saying what is wrong */
    const char *user_id;         /* the ZAP User-Id of the sender's connection ("<role>:<z85 key>",
                                    zap.h), borrowed like the fields; NULL in plaintext */
    union {
        wire_hello_t hello;
        wire_welcome_t welcome;
        wire_list_t submit;      /* SUBMIT: wire_submit_t, 1..WIRE_BATCH_MAX */
        uint64_t amount;         /* CREDIT, REVOKE, RELEASE */
        uint64_t blocked_ms;     /* BLOCKED */
        wire_list_t ack;         /* ACK: wire_result_t (key = cseq), 0..WIRE_RESULTS_MAX */
        wire_list_t refuse;      /* REFUSE: wire_refusal_t, 0..WIRE_RESULTS_MAX */
        wire_error_t error;
        wire_ready_t ready;
        wire_tasks_t tasks;
        wire_tasks_t poison;     /* POISON: the same shape as TASKS */
        wire_done_t done;
        wire_sink_hello_t sink_hello;
        wire_sink_welcome_t sink_welcome;
        wire_committed_t committed;
        wire_quarantine_t quarantine;
        wire_verdicts_t verdicts;
        wire_gap_t gap;
    } u;
    /* private */
    struct msgpack_zone *zone_;       /* borrowed from the thread (mpzone.h) */
    uint32_t nfields_;                /* fields after [version, type] */
    zmq_msg_t frames_[2];             /* rid and body (wire_recv) */
    uint8_t nframes_;
} wire_msg_t;

/*  Receives one message without waiting from a libzmq socket handle.
 *  router: the socket is a ROUTER (the first frame is the routing id).
 *    AT_OK          a well-formed message in m->type / m->u (batches checked
 *                   for shape only);
 *    AT_ERR_BUSY    nothing was ready (m needs no wire_msg_done);
 *    another code   the message was bad (see the table above); m->why says
 *                   what, m->rid/rid_len are valid (for an ERROR reply) and
 *                   m->type is set if the header could be read.
 *  After AT_OK or an error (not BUSY), call wire_msg_done(m). */
at_err wire_recv(void *handle, bool router, wire_msg_t *m) __attribute__((warn_unused_result));
/*  The same from bytes in hand (tests, fuzzing): data must stay alive until
 *  wire_msg_done(m), which must be called whatever the result. */
at_err wire_decode(wire_msg_t *m, const void *data, size_t len) __attribute__((warn_unused_result));
/*  Releases the frames and the decode zone; safe twice. */
void wire_msg_done(wire_msg_t *m);

/*  Batch items by index (i < list->n, asserted); the results borrow from the
 *  message. Codes: AT_ERR_TYPE (item not an array, a field of the wrong
 *  type), SHAPE (wrong number of fields), OVERSIZE (a string or binary
 *  beyond its bound), RANGE (u8 field > 255, verdict > 1, id not 32 bytes).
 *  wire_submit_at fills out->cseq before it looks at the attestation, so a
 *  refusal can name the cseq when only the attestation is bad (0 otherwise). */
at_err wire_submit_at(const wire_list_t *l, size_t i, wire_submit_t *out) __attribute__((warn_unused_result));
at_err wire_task_at(const wire_list_t *l, size_t i, wire_task_t *out) __attribute__((warn_unused_result));
at_err wire_verdict_at(const wire_list_t *l, size_t i, wire_verdict_t *out) __attribute__((warn_unused_result));
at_err wire_result_at(const wire_list_t *l, size_t i, wire_result_t *out) __attribute__((warn_unused_result));
at_err wire_refusal_at(const wire_list_t *l, size_t i, wire_refusal_t *out) __attribute__((warn_unused_result));
at_err wire_seq_at(const wire_list_t *l, size_t i, uint64_t *out) __attribute__((warn_unused_result));
/*  A range of a GAP (checked when the message was decoded: AT_OK there). */
at_err wire_range_at(const wire_list_t *l, size_t i, wire_range_t *out) __attribute__((warn_unused_result));

/* ---- building ---- */

/*  A list of batch items being built (for SUBMIT, TASKS, POISON, VERDICTS,
 *  ACK, COMMITTED, REFUSE, DONE, GAP). One kind per list (asserted). Owns its buffer,
 *  which grows as needed and is kept by wire_items_clear for reuse; the
 *  items are copied into it (packed), so the arguments are borrowed for the
 *  call only. */
typedef struct {
    char *buf_;
    size_t size_, cap_;
    uint8_t kind_;
    size_t n;                    /* items added since the last clear */
} wire_items_t;

void wire_items_init(wire_items_t *l, wire_type kind);
void wire_items_destroy(wire_items_t *l);
void wire_items_clear(wire_items_t *l);
void wire_items_submit(wire_items_t *l, const wire_submit_t *s);
void wire_items_task(wire_items_t *l, const wire_task_t *t);            /* TASKS or POISON */
void wire_items_verdict(wire_items_t *l, const wire_verdict_t *v);
void wire_items_result(wire_items_t *l, const wire_result_t *r);     /* ACK or COMMITTED */
void wire_items_refusal(wire_items_t *l, const wire_refusal_t *r);
void wire_items_seq(wire_items_t *l, uint64_t seq);                  /* DONE */
/*  GAP: the caller adds ranges ascending and disjoint, at most
 *  WIRE_GAP_SEQS_MAX seqs in all (a receiver refuses anything else). */
void wire_items_range(wire_items_t *l, const wire_range_t *r);
size_t wire_items_count(const wire_items_t *l);

/*  An outgoing socket: the libzmq handle, and the one place where send
 *  failures are counted and logged (rate-limited, event id `event`, naming
 *  the message type and the peer). The handle is borrowed. */
typedef struct {
    void *handle;
    const char *event;           /* e.g. "BRK-SEND" */
    const char *peer;            /* printable peer of a DEALER/PUSH socket for the log ("broker") */
    int flags;                   /* ZMQ_DONTWAIT by default */
    int level;                   /* at_log_level of a failure (AT_LOG_WARN) */
    int again_level;             /* ... of an EAGAIN failure (AT_LOG_WARN); a sender that retries lowers it */
    uint64_t sent, failures;     /* counters */
    uint64_t again;              /* failures with EAGAIN (included in failures) */
} wire_out_t;

void wire_out_init(wire_out_t *o, void *handle, const char *event);
void wire_out_destroy(wire_out_t *o);

/*  The peer of a ROUTER send: routing id and a printable name for the log;
 *  NULL on DEALER/PUSH sockets. */
typedef struct { const uint8_t *rid; size_t rid_len; const char *name; } wire_peer_t;

/*  Each returns 0, or -1 with errno set (after counting and logging): EAGAIN
 *  when the pipe is full under ZMQ_DONTWAIT (or a send timeout passed),
 *  EHOSTUNREACH for a gone peer on a ROUTER_MANDATORY socket. Batch sizes
 *  beyond the type's maximum are a programmer's error (asserted). */
/*  instance: WIRE_INSTANCE_BYTES, or NULL for a HELLO without one. */
int wire_send_hello(wire_out_t *o, const char *name, size_t len, const uint8_t *instance);
int wire_send_welcome(wire_out_t *o, const wire_peer_t *to, const wire_welcome_t *m);
int wire_send_submit(wire_out_t *o, const wire_items_t *items);
int wire_send_amount(wire_out_t *o, const wire_peer_t *to, wire_type type, uint64_t n);  /* CREDIT, REVOKE, RELEASE */
int wire_send_ack(wire_out_t *o, const wire_peer_t *to, const wire_items_t *results);
int wire_send_refuse(wire_out_t *o, const wire_peer_t *to, const wire_items_t *refusals);
/*  text is cut at WIRE_TEXT_MAX bytes; failures are logged at debug only. */
int wire_send_error(wire_out_t *o, const wire_peer_t *to, at_err reason, const char *text);
int wire_send_empty(wire_out_t *o, const wire_peer_t *to, wire_type type);  /* PING PONG BYE HEARTBEAT LEAVE LEAVE_OK */
int wire_send_ready(wire_out_t *o, const char *worker, size_t len, uint64_t credit);
int wire_send_tasks(wire_out_t *o, const wire_peer_t *to, uint64_t epoch, const wire_items_t *tasks);
int wire_send_done(wire_out_t *o, const wire_items_t *seqs, uint64_t credit, uint64_t held_us);
int wire_send_blocked(wire_out_t *o, uint64_t blocked_ms);
int wire_send_sink_hello(wire_out_t *o, const wire_sink_hello_t *m);
int wire_send_sink_welcome(wire_out_t *o, const wire_peer_t *to, const wire_sink_welcome_t *m);
int wire_send_committed(wire_out_t *o, uint64_t epoch, uint64_t next_seq, const wire_items_t *results);
int wire_send_quarantine(wire_out_t *o, const char *worker, size_t len);
int wire_send_poison(wire_out_t *o, const wire_peer_t *to, uint64_t epoch, const wire_items_t *tasks);
int wire_send_verdicts(wire_out_t *o, uint64_t epoch, const char *worker, size_t len, const wire_items_t *verdicts);
int wire_send_gap(wire_out_t *o, uint64_t epoch, const wire_items_t *ranges);

/*  Applies the project's defaults to a new CZMQ socket: ZMQ_MAXMSGSIZE =
 *  WIRE_FRAME_MAX, linger 0, high-water marks, a connect timeout
 *  (WIRE_CONNECT_TIMEOUT_MS: after a partition the next attempt is at most
 *  that far off, not at the end of the kernel's SYN backoff), and ZMTP
 *  heartbeats (WIRE_ZMTP_HEARTBEAT_MS / WIRE_ZMTP_TIMEOUT_MS). */
void wire_socket_defaults(void *zsock, int hwm);

/*  The same for the verdict path (a worker's PUSH, the sink's PULL), but
 *  without ZMTP heartbeats. libzmq 4.3.4 aborts the process at
 *  stream_engine_base.cpp:331 (!_io_error; zeromq/libzmq#4364, #4767) when
 *  a connection whose input is stopped at the receive high-water mark (the
 *  sink's PULL, 64 messages per worker: full whenever the sink is slower
 *  than its workers, or paused) is closed by its peer and the engine then
 *  writes, as heartbeats make it do; and a worker's heartbeat timeout
 *  closed its connection to a paused sink, losing the verdicts queued on
 *  it. Instead: TCP keepalive (an idle connection to a host that is gone is
 *  found in about 8 s) and TCP_USER_TIMEOUT (WIRE_TCP_MAXRT_MS: a connection
 *  whose data stays unacknowledged that long, a partition, is dropped and
 *  made again rather than left in retransmission backoff after the network
 *  heals). */
void wire_socket_stream(void *zsock, int hwm);


#endif
