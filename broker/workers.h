/*  workers.h: the worker registry, congestion windows and the dispatch choice.
 *
 *  A worker (one verifier thread) is known by the routing id of its
 *  connection. READY registers it with the credit it grants (the most
 *  tasks it will hold); DONE reports tasks judged and returns credit;
 *  LEAVE starts a drain (no more dispatch; it is removed once it has
 *  reported everything it holds); worker-timeout-ms of silence removes it.
 *
 *  Congestion control per worker (protocol.md 8.2): a worker may hold at
 *  most `cap` tasks, cap = min(credit announced, bdp + room). The round
 *  trip of a DONE (dispatch to DONE) is the network's plus the worker's
 *  own time, which DONE reports (held_us, when the worker knows it): the
 *  network round trip `rtt` is estimated as the least (round trip -
 *  held_us) over the last one to two WORKERS_RTT_PERIOD_US, and `rate` is
 *  the worker's completion rate, so bdp = rate x rtt is what is in flight
 *  on the wire when it is kept busy. `room` covers its own queueing and
 *  verification, AIMD against target-latency-ms applied to the worker's
 *  own time (held_us, else round trip - rtt): cut by a quarter (at most
 *  once per rtt + target) when above, grown by a quarter of what was
 *  reported when not. A worker 100 ms away so holds its 100 ms of work
 *  more than a near one, and a slow one only what it can finish in the
 *  target time, so it neither starves the others nor holds back the sink's
 *  watermark.
 *
 *  Blocked workers: a worker whose VERDICTS wait on a slow or stopped sink
 *  says BLOCKED instead of HEARTBEAT (protocol.md 6.7). It stays registered
 *  with what it holds, and gets no more tasks until its next DONE or
 *  HEARTBEAT says it moves again.
 *
 *  Dispatch (workers_dispatch) is round robin over the workers with credit
 *  and room under their cap (and not blocked). Each gets at most dispatch-chunk tasks and at
 *  most an even share of the queue, so that a small burst is spread over
 *  idle workers; a worker that was served moves to the end of the rota. A
 *  worker that still holds a chunk of work gets its next tasks as a full
 *  chunk, so that TASKS, VERDICTS and DONE stay large under load.
 *
 *  The module decides who gets how many; the caller sends, through a
 *  callback, and says how many went out.
 *
 *  Quarantine: the sink's spot audit names a worker whose verdict it found
 *  wrong (QUARANTINE). Its identity joins the quarantine set for the life
 *  of the broker: the caller removes its live sessions (requeueing what
 *  they held), and a READY with that identity is refused. A worker's
 *  identity is, for now, the worker_id it says in READY (s_identity in
 *  workers.c: the one line to change to the authenticated CURVE key).
 */
#ifndef AT_WORKERS_H
#define AT_WORKERS_H
#include "wire.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct worker_t worker_t;
typedef struct workers_t workers_t;

#define WORKERS_CAP_START 64   /* a new worker's congestion window */
#define WORKERS_CAP_MIN 4
#define WORKERS_RTT_PERIOD_US 1000000u   /* the rtt estimate: least sample of this period and the last */
#define WORKERS_RATE_MIN_US 50000u       /* the rate is averaged over intervals of at least this (and rtt) */

/*  chunk: dispatch-chunk; target_us: target-latency-ms; timeout_us:
 *  worker-timeout-ms. */
workers_t *workers_new(size_t chunk, uint64_t target_us, uint64_t timeout_us);
void workers_destroy(workers_t **self_p);

/*  READY: registers rid with the credit it grants. A READY from rid while
 *  it is registered (*again is then true) changes nothing but its credit
 *  (the new grant less what it holds) and ends a drain: it keeps the tasks
 *  it holds (it still reports them), and the line is logged rate-limited
 *  (BRK-WORKER-AGAIN), so that repeated READYs cause no requeue storm. */
worker_t *workers_ready(workers_t *self, const uint8_t *rid, size_t rid_len, const char *id, size_t id_len,
                        uint64_t credit, uint64_t now, bool *again);
/*  The worker of rid, or NULL. A found worker counts as seen at now. */
worker_t *workers_find(workers_t *self, const uint8_t *rid, size_t rid_len, uint64_t now);

/*  DONE: `verified` of the `reported` items were tasks it held, the
 *  longest waited max_wait_us (dispatch to now); the worker says it held
 *  them held_us (0: not known); it grants `credit` more. Returns true when
 *  the worker was draining and has now reported everything: the caller
 *  must then call workers_remove. */
bool workers_done(workers_t *self, worker_t *w, size_t verified, size_t reported, uint64_t max_wait_us,
                  uint64_t held_us, uint64_t credit, uint64_t now);
/*  BLOCKED: w is alive, and its VERDICTS have waited blocked_ms for the
 *  sink. It is kept (the message counts as a heartbeat) and gets no tasks
 *  until workers_unblocked. Returns true for the first BLOCKED of an
 *  episode (the caller logs it). */
bool workers_blocked(workers_t *self, worker_t *w, uint64_t blocked_ms, uint64_t now);
/*  DONE or HEARTBEAT: not blocked (any more). Returns about how long it was
 *  blocked, in ms (at least 1), or 0 when it was not. */
uint64_t workers_unblocked(worker_t *w, uint64_t now);

/*  LEAVE. Returns true when the worker must be removed now (it was draining
 *  already, which means "stop at once", or holds nothing); otherwise the
 *  drain started and the caller sends LEAVE_OK. *at_once tells which. */
bool workers_leave(workers_t *self, worker_t *w, bool *at_once);
/*  Forgets the worker (logged with why and the number of its tasks the
 *  caller requeued first with tasks_requeue_worker). */
void workers_remove(workers_t *self, worker_t *w, const char *why, size_t requeued);

/*  A task it held left it without a DONE (requeued or acknowledged). */
void workers_released(worker_t *w);
/*  A send to w failed: it is gone or stuck; no more dispatch until it
 *  speaks again. */
void workers_send_failed(worker_t *w);

/*  Sends to one worker: returns how many tasks went out (0..max). */
typedef size_t(workers_send_fn)(void *ctx, worker_t *w, size_t max);
/*  Offers up to `queued` tasks to the workers; returns how many went out. */
size_t workers_dispatch(workers_t *self, size_t queued, workers_send_fn *send, void *ctx);

/*  The first worker that is silent past the timeout or drained, with the
 *  reason in *why; NULL when none. Call until NULL, removing each. */
worker_t *workers_expired(workers_t *self, uint64_t now, const char **why);

/*  Iteration in dispatch order (for heartbeats and metrics). */
worker_t *workers_first(workers_t *self);
worker_t *workers_next(workers_t *self);

/*  Adds the identity id[0..len) to the quarantine set; true when it was
 *  not there yet (logged). */
bool workers_quarantine(workers_t *self, const char *id, size_t len);
/*  True when a READY with this identity must be refused. */
bool workers_quarantined(const workers_t *self, const char *id, size_t len);
/*  A live worker with this identity, or NULL (call until NULL, removing each). */
worker_t *workers_find_identity(workers_t *self, const char *id, size_t len);
size_t workers_quarantined_count(const workers_t *self);
/*  Forgets every quarantined identity (SIGHUP, after an operator lifted a
 *  quarantine in the log: the sink names again, at its next heartbeat,
 *  those still in force). Returns how many were forgotten. */
size_t workers_quarantine_clear(workers_t *self);

/*  The identity the quarantine knows w by (see workers.c s_identity);
 *  NULL or "": its worker_id. Copied. */
void workers_set_identity(worker_t *w, const char *ident);
const char *worker_id(const worker_t *w);
const wire_peer_t *worker_peer(const worker_t *w);   /* borrowed */
uint64_t worker_inflight(const worker_t *w);
uint64_t worker_credit(const worker_t *w);
uint64_t worker_cap(const worker_t *w);
uint64_t worker_rtt_us(const worker_t *w);           /* network round trip estimate (0: none yet) */
uint64_t worker_rate(const worker_t *w);             /* tasks per second it completes (smoothed) */
uint64_t worker_reported(const worker_t *w);         /* items in its DONEs, late ones too */
bool worker_draining(const worker_t *w);
uint64_t worker_blocked_ms(const worker_t *w);       /* the blocked time it reported last; 0: not blocked */
size_t workers_count(const workers_t *self);

#endif
