/*  check.h: the few helpers every C unit test shares (header only).
 *
 *  CHECK(cond) counts a check and, when it fails, prints file:line and the
 *  expression and remembers the failure; the test keeps going so that one run
 *  shows every broken case. CHECK_ERR(got, want) compares at_err codes and
 *  prints both names. check_done() prints "<name>: N checks passed" and
 *  returns main()'s exit status: failure when a check failed or when no
 *  check ran at all. Every C unit test uses these, none defines its own.
 */
#ifndef AT_TEST_CHECK_H
#define AT_TEST_CHECK_H
#include "at_err.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static unsigned s_checks, s_failures;

static inline void check_at(int ok, const char *file, int line, const char *expr)
{
    s_checks++;
    if (!ok) {
        s_failures++;
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, expr);
    }
}

static inline void check_err_at(int got, int want, const char *file, int line, const char *expr)
{
    s_checks++;
    if (got != want) {
        s_failures++;
        fprintf(stderr, "%s:%d: %s: got %s (%d), want %s (%d)\n", file, line, expr, at_strerror(got), got,
                at_strerror(want), want);
    }
}

#define CHECK(cond) check_at(!!(cond), __FILE__, __LINE__, #cond)
#define CHECK_ERR(got, want) check_err_at((int) (got), (int) (want), __FILE__, __LINE__, #got)

static inline int check_done(const char *name)
{
    if (s_checks == 0) {
        fprintf(stderr, "%s: no check ran\n", name);
        return 1;
    }
    if (s_failures) {
        fprintf(stderr, "%s: %u of %u checks FAILED\n", name, s_failures, s_checks);
        return 1;
    }
    printf("%s: %u checks passed\n", name, s_checks);
    return 0;
}

/*  Decodes hex into out (capacity cap); returns the length, or -1. */
static inline long check_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t) v;
    }
    return (long) (n / 2);
}

/*  Deterministic xorshift64* generator for the fuzz loops. */
static inline uint64_t check_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif
