/*  config.h: one table of settings per executable, read from flags and a file.
 *
 *  Every setting has a name, a type, a default, bounds and a line of help
 *  (in the spirit of Redis's static_configs[]). The same name is a flag
 *  (`--name value`, `--name=value`, or for a bool `--name` alone, `--name true`
 *  or `--name false`) and a key in
 *  a ZPL config file (CZMQ zconfig format, keys at top level) given with
 *  `--config FILE`. Flags win over the file, the file over defaults. Values
 *  are checked against their bounds and parsed once, when they are read; an
 *  unknown flag or key, or a stray positional argument, is an error that
 *  names it. --help prints the table with types, defaults and bounds;
 *  --version prints the program's version.
 *
 *  Binding: a table entry may name a field of a settings struct (its offset,
 *  via the CFG_*_AT macros); cfg_bind() then fills the struct once, so hot
 *  paths read a typed field instead of looking a name up. Field types:
 *  CFG_INT -> int64_t, CFG_STR -> const char * (borrowed from the cfg_t,
 *  valid while it lives), CFG_BOOL -> bool. Entries made with CFG_*_NAMED
 *  are not bound and are read with cfg_int/cfg_str/cfg_bool by name.
 *
 *  Endpoints: a CFG_STR entry made with CFG_ENDPOINT_* is an endpoint to
 *  bind or to connect to; HOST:PORT and :PORT are accepted and stored
 *  normalised to tcp://... (endpoint.h), so the effective value logged and
 *  bound is always a full endpoint; anything else is a usage error.
 *
 *  Short flags: an entry may have a one-letter short name, given as `-X
 *  value` (or `-X` alone for a bool, as for the long form); --help shows
 *  "-X, --name". `-h` is --help. An unknown `-X` (a letter) is an error that
 *  names it; anything else starting with '-' ("-", "-1") is a positional.
 *
 *  Renames: an entry may carry an alias, the old name, accepted as a flag or
 *  key for one release; --help lists it as deprecated and cfg_log() warns
 *  once when it was used.
 *
 *  Programmer errors (an unknown name passed to cfg_int, a wrong type, a bad
 *  default in a table) abort() in every build after printing the name.
 */
#ifndef AT_CONFIG_H
#define AT_CONFIG_H
#include "at_err.h"
#include "endpoint.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { CFG_INT, CFG_STR, CFG_BOOL } cfg_type;

/*  offset of an entry that is not bound to a settings struct field. */
#define CFG_NO_FIELD ((size_t) -1)

typedef struct {
    const char *name;
    cfg_type type;
    const char *defval;       /* as text; NULL means empty string */
    int64_t min, max;         /* bounds for CFG_INT */
    const char *help;
    size_t offset;            /* offsetof the field in the settings struct, or CFG_NO_FIELD */
    const char *alias;        /* old name, accepted for one release; NULL if none */
    int endpoint;             /* CFG_STR only: 0, or ENDPOINT_BIND / ENDPOINT_CONNECT (endpoint.h) */
    char short_name;          /* a letter: also accepted as -X; 0 if none ('h' is --help) */
} cfg_def_t;

/*  Table entries. T is the settings struct type, F the field; the field's type
 *  is checked at compile time (int64_t, const char *, bool). */
#define CFG_FIELD_(T, F, ctype) _Generic(((T *) 0)->F, ctype: offsetof(T, F))
#define CFG_INT_ALIAS_AT(T, F, name_, alias_, def, lo, hi, help_)                                        \
    { .name = (name_), .type = CFG_INT, .defval = (def), .min = (lo), .max = (hi), .help = (help_),      \
      .offset = CFG_FIELD_(T, F, int64_t), .alias = (alias_) }
#define CFG_STR_ALIAS_AT(T, F, name_, alias_, def, help_)                                                \
    { .name = (name_), .type = CFG_STR, .defval = (def), .help = (help_),                                \
      .offset = CFG_FIELD_(T, F, const char *), .alias = (alias_) }
#define CFG_BOOL_ALIAS_AT(T, F, name_, alias_, def, help_)                                               \
    { .name = (name_), .type = CFG_BOOL, .defval = (def), .help = (help_),                               \
      .offset = CFG_FIELD_(T, F, bool), .alias = (alias_) }
#define CFG_INT_AT(T, F, name_, def, lo, hi, help_) CFG_INT_ALIAS_AT(T, F, name_, NULL, def, lo, hi, help_)
#define CFG_STR_AT(T, F, name_, def, help_) CFG_STR_ALIAS_AT(T, F, name_, NULL, def, help_)
#define CFG_BOOL_AT(T, F, name_, def, help_) CFG_BOOL_ALIAS_AT(T, F, name_, NULL, def, help_)
/*  An endpoint setting; use is ENDPOINT_BIND or ENDPOINT_CONNECT. */
#define CFG_ENDPOINT_AT(T, F, name_, use, def, help_)                                                    \
    { .name = (name_), .type = CFG_STR, .defval = (def), .help = (help_),                                \
      .offset = CFG_FIELD_(T, F, const char *), .endpoint = (use) }
#define CFG_ENDPOINT_NAMED(name_, use, def, help_)                                                       \
    { .name = (name_), .type = CFG_STR, .defval = (def), .help = (help_), .offset = CFG_NO_FIELD,         \
      .endpoint = (use) }
/*  Entries read by name only (not bound). */
#define CFG_INT_NAMED(name_, def, lo, hi, help_)                                                         \
    { .name = (name_), .type = CFG_INT, .defval = (def), .min = (lo), .max = (hi), .help = (help_),      \
      .offset = CFG_NO_FIELD }
#define CFG_INT_ALIAS_NAMED(name_, alias_, def, lo, hi, help_)                                          \
    { .name = (name_), .type = CFG_INT, .defval = (def), .min = (lo), .max = (hi), .help = (help_),      \
      .offset = CFG_NO_FIELD, .alias = (alias_) }
#define CFG_STR_ALIAS_NAMED(name_, alias_, def, help_)                                                  \
    { .name = (name_), .type = CFG_STR, .defval = (def), .help = (help_), .offset = CFG_NO_FIELD,         \
      .alias = (alias_) }
#define CFG_STR_NAMED(name_, def, help_)                                                                 \
    { .name = (name_), .type = CFG_STR, .defval = (def), .help = (help_), .offset = CFG_NO_FIELD }
#define CFG_BOOL_NAMED(name_, def, help_)                                                                \
    { .name = (name_), .type = CFG_BOOL, .defval = (def), .help = (help_), .offset = CFG_NO_FIELD }
/*  The same with a short name (a char literal, e.g. 'n'). */
#define CFG_INT_NAMED_SHORT(name_, short_, def, lo, hi, help_)                                           \
    { .name = (name_), .type = CFG_INT, .defval = (def), .min = (lo), .max = (hi), .help = (help_),      \
      .offset = CFG_NO_FIELD, .short_name = (short_) }
#define CFG_STR_NAMED_SHORT(name_, short_, def, help_)                                                   \
    { .name = (name_), .type = CFG_STR, .defval = (def), .help = (help_), .offset = CFG_NO_FIELD,        \
      .short_name = (short_) }
#define CFG_BOOL_NAMED_SHORT(name_, short_, def, help_)                                                  \
    { .name = (name_), .type = CFG_BOOL, .defval = (def), .help = (help_), .offset = CFG_NO_FIELD,       \
      .short_name = (short_) }

typedef struct cfg_t cfg_t;

/*  `defs` and `prog` are borrowed and must outlive the cfg (use static
 *  tables). Aborts when a default does not satisfy its own entry, or when
 *  a short name is not a letter, is 'h' or is used twice. */
cfg_t *cfg_new(const char *prog, const char *summary, const cfg_def_t *defs, size_t ndefs);
void cfg_destroy(cfg_t **self_p);

/*  By default a positional argument is an error. This lets cfg_parse keep
 *  them; `usage` (borrowed) names them in --help, e.g. "COMMAND [ARG]". */
void cfg_accept_positionals(cfg_t *self, const char *usage);

/*  Parses argv (argv[0] is skipped). Returns AT_OK; AT_ERR_CONFIG after
 *  printing the reason to stderr; or AT_OK with cfg_help_requested() true
 *  when --help or --version was given (its text has then been printed to
 *  stdout and the program should exit 0). */
at_err cfg_parse(cfg_t *self, int argc, char **argv) __attribute__((warn_unused_result));
bool cfg_help_requested(const cfg_t *self);

/*  Fills `settings` from every bound entry (see above). Call after a
 *  successful cfg_parse; strings stay valid while the cfg lives. */
void cfg_bind(const cfg_t *self, void *settings);

/*  Lookups by name (cheap: values are parsed once). An unknown name or a
 *  wrong type aborts. */
int64_t cfg_int(const cfg_t *self, const char *name);
const char *cfg_str(const cfg_t *self, const char *name);   /* borrowed */
bool cfg_bool(const cfg_t *self, const char *name);
/*  True when the setting was given by a flag or the file. */
bool cfg_is_set(const cfg_t *self, const char *name);

size_t cfg_npositional(const cfg_t *self);
const char *cfg_positional(const cfg_t *self, size_t i);    /* borrowed */

/*  One line per setting: "  --name TYPE  help (default: D; MIN..MAX)", then
 *  one "deprecated" line per alias. */
void cfg_usage(const cfg_t *self, FILE *out);
/*  The name among names[0..n) closest to word[0..len) (a small edit
 *  distance, or a unique prefix), for "did you mean ...?"; NULL if none is
 *  close. */
const char *cfg_suggest(const char *word, size_t len, const char *const *names, size_t n);

/*  "<prog> <version> (<git commit>)" and a newline. */
void cfg_print_version(const char *prog, FILE *out);
/*  Logs the effective configuration at debug level, one CFG line per
 *  setting (the daemons' one start-up line at info says what matters), and
 *  warns once for each deprecated name that was used. */
void cfg_log(const cfg_t *self);

/*  The one main path of every executable. */
typedef int(cfg_main_fn)(const cfg_t *cfg, void *settings);
typedef struct {
    const char *prog;           /* "attest-sink", "attest bench" */
    const char *summary;        /* first lines of --help */
    const cfg_def_t *defs;
    size_t ndefs;
    const char *positionals;    /* NULL: positionals are a usage error; else their usage */
    const char *log_component;  /* non-NULL: at_log_setup(it, the "log-level" setting) first */
    void *settings;             /* non-NULL: filled by cfg_bind before fn runs */
    cfg_main_fn *fn;            /* gets the cfg and app->settings */
} cfg_app_t;

/*  Parses argv against app->defs. --help or --version: prints, returns 0.
 *  A usage error (unknown option, bad value, stray positional, bad
 *  log-level): prints why, returns 2. Otherwise sets up logging when asked,
 *  binds the settings, logs them (cfg_log) and returns what fn returns. */
int cfg_run(const cfg_app_t *app, int argc, char **argv);

#endif
