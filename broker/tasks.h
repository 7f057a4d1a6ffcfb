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
 */
#ifndef AT_TASKS_H
#define AT_TASKS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { TASK_FREE = 0, TASK_QUEUED, TASK_DISPATCHED, TASK_VERIFIED, TASK_ACKED } task_state;

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
} task_t;

typedef void(tasks_released_fn)(void *ctx, struct worker_t *worker);

typedef struct tasks_t tasks_t;

/*  A ring of `window` slots (>= 1). `released` may be NULL. Aborts on
 *  out of memory. */
tasks_t *tasks_new(uint64_t window, tasks_released_fn *released, void *ctx);
/*  Frees the ring and every attestation it holds; NULLs *self_p. */
void tasks_destroy(tasks_t **self_p);

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
 *  that matches: held by `worker` (when not NULL; DISPATCHED only), or in
 *  its state for longer than older_than_us at now_mono (when not 0), or
 *  every one (worker NULL and older_than_us 0). Returns how many. */
size_t tasks_requeue_worker(tasks_t *self, const struct worker_t *worker);
size_t tasks_requeue_older(tasks_t *self, uint64_t now_mono, uint64_t older_than_us);
size_t tasks_requeue_all(tasks_t *self);

#endif
