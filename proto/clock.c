/*  clock.c: time sources. */
#include "clock.h"
#include <time.h>

static uint64_t s_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

uint64_t at_clock_wall_us(void) { return s_us(CLOCK_REALTIME); }
uint64_t at_clock_mono_us(void) { return s_us(CLOCK_MONOTONIC); }
uint64_t at_clock_wall_s(void) { return (uint64_t) time(NULL); }
