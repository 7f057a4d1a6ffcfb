/*  log.h: one line per notable event, on stderr.
 *
 *  Every line has a level, a component name (set once per process), a stable
 *  event id (e.g. "BRK-CREDIT") and a message:
 *      2026-11-26T19:31:02.123Z broker WARN BRK-CREDIT worker w1: verdict without credit
 *  The level is checked before formatting. at_log_limited() lets through at
 *  most `burst` lines per event id per second and reports how many it
 *  suppressed, so a peer sending garbage cannot flood the log.
 */
#ifndef AT_LOG_H
#define AT_LOG_H

typedef enum { AT_LOG_DEBUG = 0, AT_LOG_INFO = 1, AT_LOG_WARN = 2, AT_LOG_ERROR = 3 } at_log_level;

/*  Sets the component name shown on every line (not copied: pass a literal). */
void at_log_init(const char *component, at_log_level level);
void at_log_set_level(at_log_level level);
/*  "debug", "info", "warn", "error" -> level; -1 if unknown. */
int at_log_level_parse(const char *name);
int at_log_enabled(at_log_level level);
/*  at_log_init with a level given by name; prints an error and returns -1
 *  when the name is not a level. */
int at_log_setup(const char *component, const char *level_name);

void at_log(at_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*  Rate-limited: at most 5 lines per second for each event id. */
void at_log_limited(at_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define at_log_debug(ev, ...) do { if (at_log_enabled(AT_LOG_DEBUG)) at_log(AT_LOG_DEBUG, ev, __VA_ARGS__); } while (0)
#define at_log_info(ev, ...)  at_log(AT_LOG_INFO, ev, __VA_ARGS__)
#define at_log_warn(ev, ...)  at_log(AT_LOG_WARN, ev, __VA_ARGS__)
#define at_log_error(ev, ...) at_log(AT_LOG_ERROR, ev, __VA_ARGS__)

#endif
