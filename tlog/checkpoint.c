/*  checkpoint.c: the C2SP tlog-checkpoint body with Attest's time line
 *  (see checkpoint.h).
 *
 *  One spelling per value: the size and the time are canonical decimals
 *  (no sign, no leading zero but for "0", at most 2^64 - 1), the root is
 *  strict base64 with padding of exactly 32 bytes. Every line ends in
 *  "\n" and none is empty; after the three fixed lines, a line "time N"
 *  (or one that begins "time ") must be a well-formed time line and may
 *  appear once, and other lines are skipped. The origin is valid UTF-8 of
 *  1..CHECKPOINT_ORIGIN_MAX bytes with no control character (nor DEL).
 */
#include "checkpoint.h"
#include "note.h"
#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define S_B64 sodium_base64_VARIANT_ORIGINAL
#define S_ROOT_B64_LEN 44
#define S_TIME "time"

static bool s_origin_ok(const char *origin, size_t len)
{
    if (len == 0 || len > CHECKPOINT_ORIGIN_MAX || !note_text_ok(origin, len))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) origin[i] < 0x20 || origin[i] == 0x7f)
            return false;
    return true;
}

size_t checkpoint_format(const checkpoint_t *c, char *out, size_t cap)
{
    char root[sodium_base64_ENCODED_LEN(MERKLE_HASH_BYTES, S_B64)], buf[CHECKPOINT_BODY_MAX];
    size_t olen = strnlen(c->origin, sizeof c->origin);
    if (!s_origin_ok(c->origin, olen))
        return 0;
    sodium_bin2base64(root, sizeof root, c->root, MERKLE_HASH_BYTES, S_B64);
    int n = snprintf(buf, sizeof buf, "%.*s\n%" PRIu64 "\n%s\n", (int) olen, c->origin, c->size, root);
    if (n > 0 && c->time)
        n += snprintf(buf + n, sizeof buf - (size_t) n, S_TIME " %" PRIu64 "\n", c->time);
    if (n <= 0 || (size_t) n >= cap)
        return 0;
    memcpy(out, buf, (size_t) n + 1);
    return (size_t) n;
}

/*  A canonical decimal of 1..20 digits that fits 64 bits. */
static bool s_decimal(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 20 || (s[0] == '0' && len > 1))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned) (s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/*  The next line of [*p, end) (without its "\n") in line/len; false at the end. */
static bool s_next_line(const char **p, const char *end, const char **line, size_t *len)
{
    if (*p >= end)
        return false;
    const char *nl = memchr(*p, '\n', (size_t) (end - *p));   /* the body ends in "\n" */
    *line = *p;
    *len = (size_t) (nl - *p);
    *p = nl + 1;
    return true;
}

static at_err s_extensions(checkpoint_t *out, const char *p, const char *end)
{
    const char *line;
    size_t len, tlen = sizeof S_TIME - 1;
    bool have_time = false;
    while (s_next_line(&p, end, &line, &len)) {
        if (len == 0)
            return AT_ERR_SHAPE;
        if (len < tlen || memcmp(line, S_TIME, tlen) != 0 || (len > tlen && line[tlen] != ' '))
            continue;   /* not a time line: an extension this reader does not know */
        if (have_time || len == tlen || !s_decimal(line + tlen + 1, len - tlen - 1, &out->time))
            return AT_ERR_SHAPE;
        have_time = true;
    }
    return AT_OK;
}

at_err checkpoint_parse(checkpoint_t *out, const char *body, size_t len)
{
    const char *p = body, *end = body + len, *line;
    size_t llen, root_len = 0;
    memset(out, 0, sizeof *out);
    if (len == 0 || body[len - 1] != '\n' || !note_text_ok(body, len) || !s_next_line(&p, end, &line, &llen))
        return AT_ERR_SHAPE;
    if (llen > CHECKPOINT_ORIGIN_MAX)
        return AT_ERR_OVERSIZE;
    if (!s_origin_ok(line, llen))
        return AT_ERR_SHAPE;
    memcpy(out->origin, line, llen);
    if (!s_next_line(&p, end, &line, &llen) || !s_decimal(line, llen, &out->size))
        return AT_ERR_SHAPE;
    if (!s_next_line(&p, end, &line, &llen) || llen != S_ROOT_B64_LEN
        || sodium_base642bin(out->root, sizeof out->root, line, llen, NULL, &root_len, NULL, S_B64) != 0
        || root_len != MERKLE_HASH_BYTES)
        return AT_ERR_SHAPE;
    return s_extensions(out, p, end);
}
