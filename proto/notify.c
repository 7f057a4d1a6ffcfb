/*  notify.c: sd_notify(3) wrappers (see notify.h). */
#include "notify.h"
#include "clock.h"
#include "log.h"
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

static uint64_t s_watchdog_us;   /* the unit's watchdog interval; 0: off */
static bool s_watchdog_known;
static uint64_t s_last_ping_us;

static void s_send(const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0)
        at_log_debug("NOTIFY", "sd_notify(\"%s\") failed: %s", state, strerror(-rc));
}

void notify_ready(const char *status)
{
    char state[512];
    if (status)
        snprintf(state, sizeof state, "READY=1\nSTATUS=%s", status);
    else
        snprintf(state, sizeof state, "READY=1");
    s_send(state);
}

void notify_stopping(void) { s_send("STOPPING=1"); }

void notify_watchdog(void)
{
    if (!s_watchdog_known) {
        uint64_t usec = 0;
        s_watchdog_known = true;
        if (sd_watchdog_enabled(0, &usec) > 0)
            s_watchdog_us = usec;
    }
    if (!s_watchdog_us)
        return;
    uint64_t now = at_clock_mono_us();
    if (s_last_ping_us && now - s_last_ping_us < s_watchdog_us / 2)
        return;
    s_last_ping_us = now;
    s_send("WATCHDOG=1");
}
