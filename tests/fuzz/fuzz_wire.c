/*  fuzz_wire.c: every wire message (proto/wire.h).
 *
 *  Any bytes go through wire_decode as one body frame; when the message
 *  decodes, every item of its batch is decoded with its wire_*_at function,
 *  as the broker, the sink, the workers and the client do. Oracles: a
 *  failed decode says why (m.why); a decoded message has a known type; each
 *  item either decodes within its bounds or returns a code.
 */
#include "fuzz.h"
#include "wire.h"
#include <string.h>

static void s_submit(const wire_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        wire_submit_t s;
        if (wire_submit_at(l, i, &s) == AT_OK)
            FUZZ_CHECK(s.att_len <= AT_ENCODED_MAX);
    }
}

static void s_tasks(const wire_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        wire_task_t t;
        if (wire_task_at(l, i, &t) == AT_OK)
            FUZZ_CHECK(t.producer_len <= WIRE_NAME_MAX && t.att_len <= AT_ENCODED_MAX);
    }
}

static void s_verdicts(const wire_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        wire_verdict_t v;
        if (wire_verdict_at(l, i, &v) == AT_OK)
            FUZZ_CHECK(v.verdict <= WIRE_INVALID && v.id != NULL && v.task.producer_len <= WIRE_NAME_MAX);
    }
}

static void s_results(const wire_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        wire_result_t r;
        if (wire_result_at(l, i, &r) == AT_OK)
            FUZZ_CHECK(r.verdict <= WIRE_INVALID);
    }
}

static void s_refusals(const wire_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        wire_refusal_t r;
        (void) !wire_refusal_at(l, i, &r);
    }
}

static void s_seqs(const wire_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        uint64_t seq;
        (void) !wire_seq_at(l, i, &seq);
    }
}

/*  A decoded GAP was checked whole: every range reads, ascending and
 *  disjoint, and the counts add up to g->seqs within the bound. */
static void s_gap(const wire_gap_t *g)
{
    uint64_t end = 0, seqs = 0;
    FUZZ_CHECK(g->ranges.n >= 1 && g->ranges.n <= WIRE_GAP_RANGES_MAX);
    for (size_t i = 0; i < g->ranges.n; i++) {
        wire_range_t r;
        FUZZ_CHECK(wire_range_at(&g->ranges, i, &r) == AT_OK);
        FUZZ_CHECK(r.count >= 1 && (i == 0 || r.first >= end));
        end = r.first + r.count;
        seqs += r.count;
    }
    FUZZ_CHECK(seqs == g->seqs && seqs <= WIRE_GAP_SEQS_MAX);
}

/*  Walks the batch of a decoded message, if it has one. */
static void s_items(const wire_msg_t *m)
{
    switch (m->type) {
    case WIRE_SUBMIT: s_submit(&m->u.submit); break;
    case WIRE_TASKS: s_tasks(&m->u.tasks.items); break;
    case WIRE_POISON: s_tasks(&m->u.poison.items); break;
    case WIRE_VERDICTS: s_verdicts(&m->u.verdicts.items); break;
    case WIRE_ACK: s_results(&m->u.ack); break;
    case WIRE_COMMITTED: s_results(&m->u.committed.results); break;
    case WIRE_REFUSE: s_refusals(&m->u.refuse); break;
    case WIRE_DONE: s_seqs(&m->u.done.seqs); break;
    case WIRE_GAP: s_gap(&m->u.gap); break;
    case WIRE_HELLO: FUZZ_CHECK(m->u.hello.name_len >= 1 && m->u.hello.name_len <= WIRE_NAME_MAX); break;
    case WIRE_READY: FUZZ_CHECK(m->u.ready.worker_len >= 1 && m->u.ready.worker_len <= WIRE_NAME_MAX); break;
    case WIRE_ERROR: FUZZ_CHECK(m->u.error.text_len <= WIRE_TEXT_MAX); break;
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wire_msg_t m;
    at_err rc = wire_decode(&m, data, size);
    if (rc == AT_OK) {
        FUZZ_CHECK(m.type > 0 && m.type < WIRE_TYPE_MAX_ && strcmp(wire_type_name(m.type), "unknown") != 0);
        s_items(&m);
    } else {
        FUZZ_CHECK(m.why != NULL);
    }
    wire_msg_done(&m);
    return 0;
}
