/*  tasks.h: the broker's task ring and dispatch queue.
 *
 *  Every admitted attestation becomes a task with the next sequence number
 *  and waits in a ring of `window` slots (slot = seq % window) until the
 *  sink reports it committed. The module owns the ring, the queue of tasks
 *  waiting for a worker, and each task's state:
 *
 *      QUEUED -> DISPATCHED -> VERIFIED -> ACKED -> (slot freed)
 *         ^          |            |
 *         +----------+------------+  requeue (worker gone, new sink, redelivery)
 *
 *  The ring never holds more than `window` sequence numbers beyond the
 *  lowest unacknowledged one (its base): tasks_full() says when it is full,
 *  and tasks_admit() refuses then, whatever credit says. Slots are freed
 *  from the base only, so acknowledgements above a missing one (a lost
 *  COMMITTED) do not make room.
 *
 *  A task records who produced it and which worker holds it as opaque
 *  pointers that this module never dereferences. When a DISPATCHED task
 *  leaves its worker without a DONE (requeued, or acknowledged while the
 *  worker still held it), the `released` callback given to tasks_new is
 *  called with that worker, so the worker registry can keep its count.
 *
 *  Poison (tasks_set_poison). Each task counts the deliveries in a row that
 *  ended because the worker holding it died, disconnected or was dropped
 *  (tasks_requeue_worker with charge; a DONE resets the count). A task with
 *  a count above 0 is a suspect: the caller dispatches it alone, to a
 *  worker that holds nothing, and sends that worker nothing more until it
 *  reports (tasks_holds_suspect), so that the next death is charged to the
 *  suspect only and innocent tasks that shared a batch with it are cleared
 *  by their DONE. At `poison-deliveries` the task is not requeued but
 *  becomes TASK_POISON: the caller sends it to the sink (POISON, logged
 *  invalid with reason poison) and calls tasks_poison_sent, which makes it
 *  VERIFIED; every later requeue of it (redelivery, a new sink) makes it
 *  TASK_POISON again, never QUEUED: it is never dispatched to a worker
 *  again.
 *
 *      DISPATCHED --(worker gone, charged, count reaches N)--> POISON
 *      POISON --(tasks_poison_sent)--> VERIFIED --(requeue)--> POISON
 *
 *  Gap-directed redispatch (tasks_gap). The sink reports seqs it misses
 *  while later ones are in its buffer (GAP): each that is DISPATCHED or
 *  VERIFIED, and has been so for at least the caller's min_age_us (so at
 *  most once per that interval), goes back to the front of the queue at
 *  once; QUEUED, ACKED and free ones are left alone. That is not a death of
 *  the worker holding it: nothing is charged. A DISPATCHED task is released
 *  from its worker (the `released` callback, as any requeue) and remembers
 *  it in moved_from; should that worker die or be dropped before the task's
 *  next DONE, the death is charged to the task then, exactly as if it had
 *  still held it (tasks_requeue_worker), so that a poison message moved
 *  away from a worker it killed still reaches poison-deliveries. Such a
 *  task is not moved by a GAP again while DISPATCHED until a DONE clears
 *  moved_from (one remembered worker), and a DISPATCHED suspect is never
 *  moved (it runs alone so that the next death is charged to it; moved, a
 *  poison would kill another worker before the death is counted: one
 *  death more than poison-deliveries). A VERIFIED one (its verdict was
 *  lost on the way to the sink) may be, every min_age_us. The old worker's
 *  DONE for it is then late (tasks_verified returns false).
 */
#ifndef AT_TASKS_H
#define AT_TASKS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { TASK_FREE = 0, TASK_QUEUED, TASK_DISPATCHED, TASK_VERIFIED, TASK_ACKED, TASK_POISON } task_state;

struct producer_t;   /* admission.h: opaque here */
struct worker_t;     /* workers.h: opaque here */

/*  One slot of the ring. Callers read the fields; only tasks.c writes them. */
typedef struct {
    uint8_t state;
    uint64_t seq;
    struct producer_t *producer;
    uint64_t cseq;
    uint64_t t_received, t_dispatched;   /* wall-clock us */
    uint64_t t_state;                    /* monotonic us of the last state change */
    struct worker_t *worker;             /* while DISPATCHED */
    uint8_t *att;                        /* owned by the ring */
    uint32_t att_len;
    uint16_t failures;                   /* deliveries in a row ended by the worker's death (no DONE) */
    bool poison;                         /* judged poison: goes to the sink, never to a worker again */
    struct worker_t *moved_from;         /* a GAP took it from this worker before its DONE (tasks_gap) */
} task_t;

typedef void(tasks_released_fn)(void *ctx, struct worker_t *worker);

typedef struct tasks_t tasks_t;

/*  A ring of `window` slots (>= 1). `released` may be NULL. Aborts on
 *  out of memory. */
tasks_t *tasks_new(uint64_t window, tasks_released_fn *released, void *ctx);
/*  Frees the ring and every attestation it holds; NULLs *self_p. */
void tasks_destroy(tasks_t **self_p);

/*  After `deliveries` charged deliveries in a row without a DONE a task is
 *  poison (0, the default: never). */
void tasks_set_poison(tasks_t *self, uint32_t deliveries);

uint64_t tasks_window(const tasks_t *self);
uint64_t tasks_base(const tasks_t *self);       /* lowest seq not yet freed */
uint64_t tasks_next_seq(const tasks_t *self);   /* next seq to assign */
uint64_t tasks_held(const tasks_t *self);       /* next_seq - base */
uint64_t tasks_queued(const tasks_t *self);     /* entries in the queue (stale ones included) */
bool tasks_full(const tasks_t *self);

/*  Numbering starts at seq. Only while the ring is empty (asserted). */
void tasks_restart_at(tasks_t *self, uint64_t seq);

/*  Admits a task at the next seq and queues it; copies att. NULL when the
 *  ring is full (nothing changed). */
task_t *tasks_admit(tasks_t *self, struct producer_t *producer, uint64_t cseq, uint64_t t_received,
                    const uint8_t *att, size_t att_len);

/*  The task of seq if it is in the ring, else NULL. */
task_t *tasks_get(tasks_t *self, uint64_t seq);

/*  Next task waiting for a worker (stale queue entries skipped); NULL if none. */
task_t *tasks_pop(tasks_t *self);
/*  Puts a popped task back at the front of the queue (its send failed). */
void tasks_unpop(tasks_t *self, task_t *t);
/*  The popped task was sent to worker at wall time now. */
void tasks_dispatched(tasks_t *self, task_t *t, struct worker_t *worker, uint64_t now_wall, uint64_t now_mono);

/*  The worker reported seq done. Returns true (and sets *waited to the time
 *  since dispatch) when the task was DISPATCHED to that worker; it is then
 *  VERIFIED. False for late or foreign reports. */
bool tasks_verified(tasks_t *self, uint64_t seq, const struct worker_t *worker, uint64_t now_mono,
                    uint64_t *waited);

/*  The sink committed seq. Returns the task, now ACKED, or NULL when seq is
 *  not in the ring or was already acknowledged. */
task_t *tasks_ack(tasks_t *self, uint64_t seq);

/*  Frees ACKED slots at the base, calling freed(ctx, producer) for each
 *  (may be NULL); returns how many. Only freed slots make room: credit for
 *  a new attestation is returned here, not at the acknowledgement. */
typedef void(tasks_freed_fn)(void *ctx, struct producer_t *producer);
uint64_t tasks_advance(tasks_t *self, tasks_freed_fn *freed, void *ctx);

/*  Requeues (at the front, in seq order) every DISPATCHED or VERIFIED task
 *  that matches: held by `worker` (DISPATCHED only; and with `charge`, a
 *  task a GAP moved away from `worker` before its DONE is charged too, not
 *  requeued: tasks_gap), or in its state for
 *  longer than older_than_us at now_mono and outside [held_from, held_to)
 *  (the seqs the sink says it holds: not redelivered), or every one.
 *  Returns how many
 *  (poison tasks included: those become TASK_POISON, not QUEUED).
 *  tasks_requeue_worker with `charge` counts the delivery against each task
 *  (the worker died, disconnected or was dropped while holding it); a task
 *  that reaches the poison count becomes TASK_POISON. */
size_t tasks_requeue_worker(tasks_t *self, const struct worker_t *worker, bool charge);
size_t tasks_requeue_older(tasks_t *self, uint64_t now_mono, uint64_t older_than_us, uint64_t held_from,
                           uint64_t held_to);
size_t tasks_requeue_all(tasks_t *self);

/*  GAP: the sink misses seqs first .. first + count - 1 (clipped to the
 *  ring). Each DISPATCHED or VERIFIED one in its state for at least
 *  min_age_us at now_mono goes back to the front of the queue (in seq
 *  order; a poison one becomes TASK_POISON), uncharged; a DISPATCHED one
 *  already moved once and not reported since, or a DISPATCHED suspect, is
 *  left with its worker (see above). Returns how many. */
size_t tasks_gap(tasks_t *self, uint64_t first, uint64_t count, uint64_t now_mono, uint64_t min_age_us);

/*  Tasks in the ring whose count is above 0 and that are not poison (cheap). */
uint64_t tasks_suspects(const tasks_t *self);
/*  True when `worker` holds a DISPATCHED suspect (scans the ring, so only
 *  when tasks_suspects() > 0; false at once otherwise). */
bool tasks_holds_suspect(const tasks_t *self, const struct worker_t *worker);

/*  Tasks waiting to be sent to the sink as POISON (cheap). */
uint64_t tasks_poison_pending(const tasks_t *self);
/*  Tasks judged poison since tasks_new. */
uint64_t tasks_poison_count(const tasks_t *self);
/*  Fills out with up to max TASK_POISON tasks in seq order; returns how
 *  many. They stay TASK_POISON until tasks_poison_sent. */
size_t tasks_poisoned(tasks_t *self, task_t **out, size_t max);
/*  t (TASK_POISON) went to the sink at now_mono: VERIFIED, sent again as
 *  POISON after redeliver-ms like any verified task is redelivered. */
void tasks_poison_sent(tasks_t *self, task_t *t, uint64_t now_mono);

#endif
