/*  logfind.h: `attest log find` (filters over the log, answered from the
 *  find indexes of store/logdb.h where a filter has one) and the human
 *  rendering of entries that get, tail and find share: ISO 8601 UTC times
 *  and the stage durations (queue = dispatched - received, verify =
 *  verified - dispatched, commit = committed - verified).
 *
 *  Filters (all given ones must hold): --producer NAME, --attester HEX,
 *  --schema S, --subject S, --reason NAME (an at_strerror name, "ok" for
 *  valid entries), --worker ID, --since/--until TIME (t_committed; ISO 8601
 *  UTC such as 2026-12-01T22:00:00Z or a date, or an age such as 90s, 10m,
 *  2h, 1d), --limit N (0: all), --format table|json.
 */
#ifndef AT_LOGFIND_H
#define AT_LOGFIND_H
#include "config.h"
#include "logdb.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*  Runs the find in db's current read snapshot with the options of cfg;
 *  returns the exit status (0 found or not, 1 read error, 2 bad usage). */
int logfind_run(logdb_t *db, const cfg_t *cfg);

/*  Parses TIME as --since/--until take it into wall-clock us (now_us for
 *  ages). false when it is neither. */
bool logfind_parse_time(const char *s, uint64_t now_us, uint64_t *out_us);

/*  "2026-12-01T22:00:00.123456Z" for wall-clock us into out (32 bytes). */
void logfind_iso(uint64_t us, char out[32]);
/*  "queue 1.2 ms, verify 0.04 ms, commit 3.1 ms" into out (96 bytes). */
void logfind_stages(const logdb_entry_t *e, char out[96]);
/*  Adds "committed_at" (ISO 8601) and "stages" to an entry's JSON object. */
void logfind_add_human(json_t *obj, const logdb_entry_t *e);

/*  The table's header line and one entry's row. */
void logfind_table_header(FILE *f);
void logfind_table_row(FILE *f, const logdb_entry_t *e);

#endif
