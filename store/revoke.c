/*  revoke.c: the revocation judgement and its status index (see revoke.h).
 *
 *  Every entry the sink appends passes through revoke_append, so the common
 *  case (not a revocation) must cost next to nothing: a worker-invalid entry
 *  is not looked at, and the schema string is searched for in the first
 *  bytes of the encoding (where the schema sits, after the array header and
 *  the version) before anything is decoded.
 */
#include "revoke.h"
#include "attestation.h"
#include <string.h>

#define S_VALID 0     /* entry verdicts (tlog/entry.h; the wire's WIRE_VALID, WIRE_INVALID) */
#define S_INVALID 1

/*  The schema starts after the array header (1..5 bytes), the version (1..9)
 *  and the string header (1..5); an encoding whose first bytes do not hold
 *  the schema's text cannot be a revocation. */
#define S_SCHEMA_WINDOW (5 + 9 + 5 + REVOKE_SCHEMA_LEN)

bool revoke_is(const attestation_t *a)
{
    return a->schema_len == REVOKE_SCHEMA_LEN && memcmp(a->schema, REVOKE_SCHEMA, REVOKE_SCHEMA_LEN) == 0;
}

bool revoke_is_reason(int reason)
{
    return reason >= AT_ERR_REVOKE_UNKNOWN && reason <= AT_ERR_REVOKE_SUBJECT;
}

/*  True when the first bytes of att hold the schema's text. */
static bool s_may_be(const uint8_t *att, size_t att_len)
{
    size_t window = att_len < S_SCHEMA_WINDOW ? att_len : S_SCHEMA_WINDOW;
    for (size_t i = 0; i + REVOKE_SCHEMA_LEN <= window; i++)
        if (att[i] == 'a' && memcmp(att + i, REVOKE_SCHEMA, REVOKE_SCHEMA_LEN) == 0)
            return true;
    return false;
}

/*  A revocation, decoded into *a; false for anything else. */
static bool s_revocation(const uint8_t *att, size_t att_len, attestation_t *a)
{
    return s_may_be(att, att_len) && attestation_decode(a, att, att_len) == AT_OK && revoke_is(a);
}

/*  The subject as an id: exactly 64 lowercase hex digits. */
static bool s_subject_id(const attestation_t *a, uint8_t id[AT_ID_BYTES])
{
    if (a->subject_len != 2 * AT_ID_BYTES)
        return false;
    for (size_t i = 0; i < 2 * AT_ID_BYTES; i++) {
        char c = a->subject[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        if (i % 2 == 0)
            id[i / 2] = (uint8_t) (v << 4);
        else
            id[i / 2] |= (uint8_t) v;
    }
    return true;
}

/*  The target's valid entry before `at`: AT_OK with *index, or the
 *  judgement's reason (AT_ERR_REVOKE_*) in *reason and AT_OK, or a read error. */
static at_err s_target(logdb_t *log, uint64_t at, const attestation_t *rev, revoke_judgement_t *out)
{
    uint64_t index, by;
    at_err err = logdb_lookup_id(log, out->target, &index);
    if (err == AT_ERR_NOT_FOUND || (err == AT_OK && index >= at)) {
        out->reason = AT_ERR_REVOKE_UNKNOWN;
        return AT_OK;
    }
    logdb_entry_t t;
    if (err != AT_OK || (err = logdb_get(log, index, &t, NULL, NULL)) != AT_OK)
        return err == AT_ERR_NOT_FOUND ? AT_ERR_CORRUPT : err;
    attestation_t ta;
    if (t.verdict != S_VALID)
        out->reason = AT_ERR_REVOKE_UNKNOWN;   /* the latest entry with the id is the valid one, if any */
    else if (attestation_decode(&ta, t.att, t.att_len) != AT_OK)
        return AT_ERR_CORRUPT;   /* a valid entry holds a decodable attestation */
    else if (revoke_is(&ta))
        out->reason = AT_ERR_REVOKE_SUBJECT;
    else if (memcmp(ta.attester, rev->attester, AT_KEY_BYTES) != 0)
        out->reason = AT_ERR_REVOKE_KEY;
    else if ((err = logdb_revoked(log, out->target, &out->target_index, &by)) == AT_OK && by < at)
        out->reason = AT_ERR_REVOKE_TWICE;
    else if (err != AT_OK && err != AT_ERR_NOT_FOUND)
        return err;
    out->target_index = index;
    return AT_OK;
}

at_err revoke_judge(logdb_t *log, uint64_t at, const uint8_t *att, size_t att_len, uint8_t verdict, uint8_t reason,
                    revoke_judgement_t *out)
{
    memset(out, 0, sizeof *out);
    out->verdict = verdict;
    out->reason = reason;
    attestation_t a;
    if (verdict != S_VALID || !s_revocation(att, att_len, &a))
        return AT_OK;
    out->revocation = true;
    at_err err = AT_OK;
    if (!s_subject_id(&a, out->target))
        out->reason = AT_ERR_REVOKE_SUBJECT;
    else
        err = s_target(log, at, &a, out);
    if (out->reason != AT_OK)
        out->verdict = S_INVALID;
    return err;
}

at_err revoke_append(logdb_t *log, logdb_entry_t *e)
{
    revoke_judgement_t j;
    at_err err = revoke_judge(log, REVOKE_AT_END, e->att, e->att_len, e->verdict, e->reason, &j);
    if (err != AT_OK)
        return err;
    e->verdict = j.verdict;
    e->reason = j.reason;
    if ((err = logdb_append(log, e)) != AT_OK)
        return err;
    if (j.revocation && j.verdict == S_VALID)
        err = logdb_revoked_put(log, j.target, j.target_index, e->index);
    return err;
}
