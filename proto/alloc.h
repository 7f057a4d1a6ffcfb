/*  alloc.h: allocation that never returns NULL.
 *
 *  Out of memory is not an error a caller can handle usefully here: every
 *  length read off the wire or disk is bounded before anything is allocated,
 *  so running out means the machine is out of memory. These helpers print a
 *  line to stderr naming the size and abort(), in every build (unlike an
 *  assert, which -DNDEBUG removes). Use them instead of malloc + assert.
 *
 *  Ownership: the caller owns what they return and frees it with free().
 *  at_realloc(p, n) follows realloc (p may be NULL; on success p is invalid).
 *  A zero size allocates one byte, so the result is never NULL.
 */
#ifndef AT_ALLOC_H
#define AT_ALLOC_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void at_alloc_fail_(const char *what, size_t n)
{
    fprintf(stderr, "attest: out of memory (%s of %zu bytes); aborting\n", what, n);
    fflush(stderr);
    abort();
}

static inline void *at_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        at_alloc_fail_("malloc", n);
    return p;
}

/*  Zeroed; n * size is checked for overflow by calloc itself. */
static inline void *at_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        at_alloc_fail_("calloc", n * size);
    return p;
}

static inline void *at_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        at_alloc_fail_("realloc", n);
    return q;
}

static inline char *at_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = at_malloc(n);
    memcpy(p, s, n);
    return p;
}

#endif
