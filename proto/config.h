/*  config.h: one table of settings per executable, read from flags and a file.
 *
 *  Every setting has a name, a type, a default, bounds and a line of help. The
 *  same name is a flag (`--name value`, `--name=value`, or `--name` alone for
 *  a bool) and a key in a ZPL config file (CZMQ zconfig format, keys at top
 *  level) given with `--config FILE`. Flags win over the file, the file over
 *  defaults. --help prints the table. Values are checked against their bounds;
 *  an unknown flag or key is an error that names it.
 */
#ifndef AT_CONFIG_H
#define AT_CONFIG_H
#include "at_err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { CFG_INT, CFG_STR, CFG_BOOL } cfg_type;

typedef struct {
    const char *name;
    cfg_type type;
    const char *defval;       /* as text; NULL means empty string */
    int64_t min, max;         /* bounds for CFG_INT */
    const char *help;
} cfg_def_t;

typedef struct cfg_t cfg_t;

/*  `defs` is borrowed and must outlive the cfg (use a static table). */
cfg_t *cfg_new(const char *prog, const char *summary, const cfg_def_t *defs, size_t ndefs);
void cfg_destroy(cfg_t **self_p);

/*  Parses argv (argv[0] is skipped). Non-flag arguments are kept as
 *  positionals. Returns AT_OK; AT_ERR_CONFIG after printing the reason to
 *  stderr; or AT_OK with cfg_help_requested() true when --help was given
 *  (the usage has then been printed to stdout). */
at_err cfg_parse(cfg_t *self, int argc, char **argv) __attribute__((warn_unused_result));
bool cfg_help_requested(const cfg_t *self);

int64_t cfg_int(const cfg_t *self, const char *name);
const char *cfg_str(const cfg_t *self, const char *name);   /* borrowed */
bool cfg_bool(const cfg_t *self, const char *name);
/*  True when the setting was given by a flag or the file. */
bool cfg_is_set(const cfg_t *self, const char *name);

size_t cfg_npositional(const cfg_t *self);
const char *cfg_positional(const cfg_t *self, size_t i);    /* borrowed */

void cfg_usage(const cfg_t *self, FILE *out);
/*  Logs the effective configuration, one line per setting. */
void cfg_log(const cfg_t *self);

/*  The usual main of a command: parses argv against defs, prints the usage
 *  on --help, and otherwise runs fn with the settings. Returns 2 on a usage
 *  error, 0 after --help, else what fn returns. */
typedef int(cfg_main_fn)(const cfg_t *cfg);
int cfg_run(const char *prog, const char *summary, const cfg_def_t *defs, size_t ndefs, int argc, char **argv,
            cfg_main_fn *fn);

#endif
