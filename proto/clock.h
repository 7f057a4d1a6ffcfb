/*  clock.h: time sources. Stage timestamps are wall-clock microseconds since
 *  the Unix epoch (comparable across hosts that run NTP); intervals use the
 *  monotonic clock. */
#ifndef AT_CLOCK_H
#define AT_CLOCK_H
#include <stdint.h>

uint64_t at_clock_wall_us(void);   /* CLOCK_REALTIME, microseconds */
uint64_t at_clock_mono_us(void);   /* CLOCK_MONOTONIC, microseconds */
uint64_t at_clock_wall_s(void);    /* CLOCK_REALTIME, seconds */

#endif
