/*  log.c: leveled, rate-limited logging to stderr (thread-safe). */
#include "log.h"
#include "clock.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define S_LIMIT_SLOTS 64
#define S_LIMIT_BURST 5

static const char *s_component = "attest";
static at_log_level s_level = AT_LOG_INFO;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *s_level_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

typedef struct {
    const char *event;      /* event ids are literals: compared by content */
    uint64_t second;
    unsigned count;
    unsigned suppressed;
} s_limit_t;
static s_limit_t s_limits[S_LIMIT_SLOTS];

void at_log_init(const char *component, at_log_level level)
{
    s_component = component;
    s_level = level;
}

void at_log_set_level(at_log_level level) { s_level = level; }
int at_log_enabled(at_log_level level) { return level >= s_level; }

int at_log_level_parse(const char *name)
{
    static const char *names[] = { "debug", "info", "warn", "error" };
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

int at_log_setup(const char *component, const char *level_name)
{
    int level = at_log_level_parse(level_name);
    if (level < 0) {
        fprintf(stderr, "%s: --log-level must be debug, info, warn or error, not '%s'\n", component, level_name);
        return -1;
    }
    at_log_init(component, (at_log_level) level);
    return 0;
}

static void s_vlog(at_log_level level, const char *event, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    uint64_t us = at_clock_wall_us();
    time_t secs = (time_t) (us / 1000000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03uZ %s %s %s %s\n", stamp, (unsigned) ((us / 1000u) % 1000u),
            s_component, s_level_names[level], event, msg);
}

void at_log(at_log_level level, const char *event, const char *fmt, ...)
{
    if (level < s_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&s_lock);
    s_vlog(level, event, fmt, ap);
    pthread_mutex_unlock(&s_lock);
    va_end(ap);
}

/*  Returns the slot for an event id, or the last slot when all are taken. */
static s_limit_t *s_limit_slot(const char *event)
{
    for (int i = 0; i < S_LIMIT_SLOTS; i++) {
        if (!s_limits[i].event) {
            s_limits[i].event = event;
            return &s_limits[i];
        }
        if (strcmp(s_limits[i].event, event) == 0)
            return &s_limits[i];
    }
    return &s_limits[S_LIMIT_SLOTS - 1];
}

static void s_line(at_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_line(at_log_level level, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vlog(level, event, fmt, ap);
    va_end(ap);
}

void at_log_limited(at_log_level level, const char *event, const char *fmt, ...)
{
    if (level < s_level)
        return;
    uint64_t now = at_clock_mono_us() / 1000000u;
    pthread_mutex_lock(&s_lock);
    s_limit_t *slot = s_limit_slot(event);
    if (slot->second != now) {
        if (slot->suppressed)
            s_line(level, event, "%u similar lines suppressed in the last second", slot->suppressed);
        slot->second = now;
        slot->count = 0;
        slot->suppressed = 0;
    }
    if (slot->count++ < S_LIMIT_BURST) {
        va_list ap;
        va_start(ap, fmt);
        s_vlog(level, event, fmt, ap);
        va_end(ap);
    } else {
        slot->suppressed++;
    }
    pthread_mutex_unlock(&s_lock);
}
