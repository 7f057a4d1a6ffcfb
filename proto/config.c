/*  config.c: flags and ZPL config files against a table of settings.
 *
 *  Each value is kept as text (for cfg_log and cfg_str) and, for ints and
 *  bools, as a number parsed once when it is set, so lookups never parse.
 *  Errors in what the user gave are printed and returned; errors in what the
 *  program asks for (an unknown name) abort, since tests catch them.
 */
#include "config.h"
#include "alloc.h"
#include "at_version.h"
#include "log.h"
#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_DEFS 64
#define S_MAX_POS 32

struct cfg_t {
    const char *prog;
    const char *summary;
    const cfg_def_t *defs;
    size_t ndefs;
    char *values[S_MAX_DEFS];
    int64_t num[S_MAX_DEFS];      /* CFG_INT value, or CFG_BOOL as 0/1 */
    bool set[S_MAX_DEFS];
    bool by_alias[S_MAX_DEFS];    /* given under its deprecated name */
    const char *pos[S_MAX_POS];
    size_t npos;
    const char *positionals;      /* NULL: refused */
    bool help;
};

static void s_abort(const char *prog, const char *what, const char *name)
{
    fprintf(stderr, "%s: programmer error: %s '%s'\n", prog, what, name);
    fflush(stderr);
    abort();
}

/*  How a setting is named in a message: "--name" on the command line, "key
 *  'name'" in a file (the file's user wrote no flag). Static buffer. */
static const char *s_what(const cfg_def_t *d, const char *origin)
{
    static char buf[96];
    bool flag = origin && strcmp(origin, "command line") == 0;
    snprintf(buf, sizeof buf, flag ? "--%s" : "key '%s'", d->name);
    return buf;
}

/*  Parses value for entry d into *num; prints why not when origin is set. */
static bool s_convert(const char *prog, const cfg_def_t *d, const char *value, const char *origin, int64_t *num)
{
    if (d->type == CFG_INT) {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) {
            fprintf(stderr, "%s: %s: %s wants a whole number, got '%s'\n", prog, origin, s_what(d, origin), value);
            return false;
        }
        if (v < d->min || v > d->max) {
            fprintf(stderr, "%s: %s: %s must be between %lld and %lld, got %lld\n", prog, origin, s_what(d, origin),
                    (long long) d->min, (long long) d->max, v);
            return false;
        }
        *num = v;
    } else if (d->type == CFG_BOOL) {
        bool t = strcmp(value, "true") == 0 || strcmp(value, "1") == 0;
        if (!t && strcmp(value, "false") && strcmp(value, "0")) {
            fprintf(stderr, "%s: %s: %s wants true or false, got '%s'\n", prog, origin, s_what(d, origin), value);
            return false;
        }
        *num = t;
    }
    return true;
}

static bool s_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/*  Short names: letters, not 'h' (--help), each used once. */
static void s_check_shorts(const char *prog, const cfg_def_t *defs, size_t ndefs)
{
    for (size_t i = 0; i < ndefs; i++) {
        char c = defs[i].short_name;
        if (c && (!s_letter(c) || c == 'h'))
            s_abort(prog, "short name is not a letter or is 'h', of setting", defs[i].name);
        for (size_t j = i + 1; j < ndefs && c; j++)
            if (defs[j].short_name == c)
                s_abort(prog, "short name used twice, the second by", defs[j].name);
    }
}

cfg_t *cfg_new(const char *prog, const char *summary, const cfg_def_t *defs, size_t ndefs)
{
    if (ndefs > S_MAX_DEFS)
        s_abort(prog, "too many settings in the table of", prog);
    s_check_shorts(prog, defs, ndefs);
    cfg_t *self = at_calloc(1, sizeof *self);
    self->prog = prog;
    self->summary = summary;
    self->defs = defs;
    self->ndefs = ndefs;
    for (size_t i = 0; i < ndefs; i++) {
        self->values[i] = at_strdup(defs[i].defval ? defs[i].defval : "");
        if (!s_convert(prog, &defs[i], self->values[i], "default", &self->num[i]))
            s_abort(prog, "bad default of setting", defs[i].name);
    }
    return self;
}

void cfg_destroy(cfg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cfg_t *self = *self_p;
    for (size_t i = 0; i < self->ndefs; i++)
        free(self->values[i]);
    free(self);
    *self_p = NULL;
}

void cfg_accept_positionals(cfg_t *self, const char *usage) { self->positionals = usage ? usage : ""; }

static bool s_is(const char *want, const char *name, size_t len)
{
    return want && strlen(want) == len && memcmp(want, name, len) == 0;
}

/*  Index of the entry named (or aliased) name[0..len), -1 if none. */
static int s_find(const cfg_t *self, const char *name, size_t len, bool *alias)
{
    for (size_t i = 0; i < self->ndefs; i++) {
        *alias = s_is(self->defs[i].alias, name, len);
        if (*alias || s_is(self->defs[i].name, name, len))
            return (int) i;
    }
    return -1;
}

static int s_index(const cfg_t *self, const char *name, cfg_type type)
{
    bool alias;
    int i = s_find(self, name, strlen(name), &alias);
    if (i < 0 || alias)
        s_abort(self->prog, "no setting named", name);
    if (self->defs[i].type != type)
        s_abort(self->prog, "wrong type asked of setting", name);
    return i;
}

/*  An endpoint setting's value in full (endpoint.h) into buf; prints why
 *  not. */
static bool s_endpoint(const char *prog, const cfg_def_t *d, const char *value, const char *origin, char *buf,
                       size_t cap)
{
    if (endpoint_normalise(value, (endpoint_use) d->endpoint, buf, cap) == AT_OK)
        return true;
    fprintf(stderr, "%s: %s: %s wants an endpoint (tcp://HOST:PORT, HOST:PORT or :PORT), got '%s'\n", prog, origin,
            s_what(d, origin), value);
    return false;
}

/*  Checks and stores one value; prints the reason on failure. */
static at_err s_set(cfg_t *self, int i, bool alias, const char *value, const char *origin)
{
    char full[512];
    if (!s_convert(self->prog, &self->defs[i], value, origin, &self->num[i]))
        return AT_ERR_CONFIG;
    if (self->defs[i].endpoint) {
        if (!s_endpoint(self->prog, &self->defs[i], value, origin, full, sizeof full))
            return AT_ERR_CONFIG;
        value = full;
    }
    free(self->values[i]);
    self->values[i] = at_strdup(value);
    self->set[i] = true;
    self->by_alias[i] = alias;
    return AT_OK;
}

/*  Levenshtein distance of a[0..n) and b, capped at 9 (names are short). */
static size_t s_distance(const char *a, size_t n, const char *b)
{
    size_t m = strlen(b), row[64];
    if (n >= 63 || m >= 63)
        return 9;
    for (size_t j = 0; j <= m; j++)
        row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[m] < 9 ? row[m] : 9;
}

const char *cfg_suggest(const char *word, size_t len, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t best_d = len / 3 + 1 < 3 ? len / 3 + 1 : 3;   /* at most a third of the word wrong */
    for (size_t i = 0; i < n; i++) {
        size_t d = s_distance(word, len, names[i]);
        if (d < best_d || (d <= best_d && !best && strncmp(names[i], word, len) == 0)) {
            best_d = d;
            best = names[i];
        }
    }
    for (size_t i = 0; i < n && !best; i++)   /* a unique prefix: "--pipe" for pipeline-window */
        if (len >= 3 && strncmp(names[i], word, len) == 0)
            best = names[i];
    return best;
}

/*  ", did you mean '--NAME'?" for an unknown name, or "" (static buffer). */
static const char *s_did_you_mean(const cfg_t *self, const char *word, size_t len, const char *dashes)
{
    static char buf[96];
    const char *names[2 * S_MAX_DEFS] = { NULL };
    size_t owner[2 * S_MAX_DEFS] = { 0 }, n = 0;
    for (size_t i = 0; i < self->ndefs; i++) {
        owner[n] = i;
        names[n++] = self->defs[i].name;
        if (self->defs[i].alias) {
            owner[n] = i;
            names[n++] = self->defs[i].alias;   /* close to an old name: suggest the new one */
        }
    }
    const char *best = cfg_suggest(word, len, names, n);
    if (!best)
        return "";
    for (size_t k = 0; k < n; k++)
        if (names[k] == best)
            best = self->defs[owner[k]].name;
    snprintf(buf, sizeof buf, "; did you mean '%s%s'?", dashes, best);
    return buf;
}

static at_err s_load_file(cfg_t *self, const char *path, bool *flag_set)
{
    FILE *f = fopen(path, "r");
    if (!f) {   /* a missing file is not a malformed one: say which */
        fprintf(stderr, "%s: cannot read config file '%s': %s\n", self->prog, path, strerror(errno));
        return AT_ERR_CONFIG;
    }
    fclose(f);
    zconfig_t *root = zconfig_load(path);
    if (!root) {
        fprintf(stderr, "%s: config file '%s' is not valid ZPL (key = \"value\" lines, '#' comments; see"
                " deploy/*.conf)\n", self->prog, path);
        return AT_ERR_CONFIG;
    }
    at_err rc = AT_OK;
    for (zconfig_t *item = zconfig_child(root); item && rc == AT_OK; item = zconfig_next(item)) {
        const char *name = zconfig_name(item);
        bool alias;
        int i = s_find(self, name, strlen(name), &alias);
        if (i < 0) {
            fprintf(stderr, "%s: %s: unknown key '%s'%s (see --help)\n", self->prog, path, name,
                    s_did_you_mean(self, name, strlen(name), ""));
            rc = AT_ERR_CONFIG;
        } else if (!flag_set[i]) {
            const char *v = zconfig_value(item);
            rc = s_set(self, i, alias, v ? v : "", path);
        }
    }
    zconfig_destroy(&root);
    return rc;
}

/*  "--flag true" and "--flag false" give a bool flag its value; any other
 *  word after a bool flag is the next argument. */
static bool s_bool_word(const char *arg) { return arg && (strcmp(arg, "true") == 0 || strcmp(arg, "false") == 0); }

/*  The value of option `shown` (entry i, or --config when i < 0) at
 *  argv[*k]: `value` when given inline, else the next argument (for a bool:
 *  the next "true"/"false", else true); consumes it. NULL after printing
 *  why. */
static const char *s_flag_value(const cfg_t *self, int argc, char **argv, int *k, int i, const char *value,
                                const char *shown)
{
    if (!value && i >= 0 && self->defs[i].type == CFG_BOOL)
        value = s_bool_word(*k + 1 < argc ? argv[*k + 1] : NULL) ? argv[++*k] : "true";
    if (!value) {
        if (*k + 1 >= argc) {
            fprintf(stderr, "%s: option '%s' needs a value\n", self->prog, shown);
            return NULL;
        }
        value = argv[++*k];
    }
    return value;
}

/*  Handles one "--name[=value]" at argv[*k]; may consume argv[*k+1]. */
static at_err s_parse_flag(cfg_t *self, int argc, char **argv, int *k, bool *flag_set, const char **config)
{
    const char *arg = argv[*k] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t) (eq - arg) : strlen(arg);
    bool is_config = s_is("config", arg, len), alias = false;
    int i = is_config ? -1 : s_find(self, arg, len, &alias);
    if (!is_config && i < 0) {
        fprintf(stderr, "%s: unknown option '--%.*s'%s (try --help)\n", self->prog, (int) len, arg,
                s_did_you_mean(self, arg, len, "--"));
        return AT_ERR_CONFIG;
    }
    char shown[80];
    snprintf(shown, sizeof shown, "--%.*s", (int) (len < 64 ? len : 64), arg);
    const char *value = s_flag_value(self, argc, argv, k, i, eq ? eq + 1 : NULL, shown);
    if (!value)
        return AT_ERR_CONFIG;
    if (is_config) {
        *config = value;
        return AT_OK;
    }
    flag_set[i] = true;
    return s_set(self, i, alias, value, "command line");
}

/*  "-X" with X a letter. */
static bool s_is_short(const char *arg) { return arg[0] == '-' && s_letter(arg[1]) && arg[2] == 0; }

/*  Handles one "-X" at argv[*k] (s_is_short); may consume argv[*k+1]. */
static at_err s_parse_short(cfg_t *self, int argc, char **argv, int *k, bool *flag_set)
{
    char c = argv[*k][1];
    size_t i = 0;
    while (i < self->ndefs && self->defs[i].short_name != c)
        i++;
    if (i == self->ndefs) {
        fprintf(stderr, "%s: unknown option '-%c' (try --help)\n", self->prog, c);
        return AT_ERR_CONFIG;
    }
    const char *value = s_flag_value(self, argc, argv, k, (int) i, NULL, argv[*k]);
    if (!value)
        return AT_ERR_CONFIG;
    flag_set[i] = true;
    return s_set(self, (int) i, false, value, "command line");
}

/*  --help, -h or --version: prints its text and stops the parse. */
static bool s_help_flag(cfg_t *self, const char *arg)
{
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
        cfg_usage(self, stdout);
    else if (strcmp(arg, "--version") == 0)
        cfg_print_version(self->prog, stdout);
    else
        return false;
    return self->help = true;
}

at_err cfg_parse(cfg_t *self, int argc, char **argv)
{
    bool flag_set[S_MAX_DEFS] = { false };
    const char *config = NULL;
    for (int k = 1; k < argc; k++) {
        if (s_help_flag(self, argv[k])) {
            return AT_OK;
        } else if (strncmp(argv[k], "--", 2) == 0 && argv[k][2]) {
            if (s_parse_flag(self, argc, argv, &k, flag_set, &config) != AT_OK)
                return AT_ERR_CONFIG;
        } else if (s_is_short(argv[k])) {
            if (s_parse_short(self, argc, argv, &k, flag_set) != AT_OK)
                return AT_ERR_CONFIG;
        } else if (!self->positionals) {
            fprintf(stderr, "%s: unexpected argument '%s' (a settings file needs --config; try --help)\n",
                    self->prog, argv[k]);
            return AT_ERR_CONFIG;
        } else if (self->npos < S_MAX_POS) {
            self->pos[self->npos++] = argv[k];
        } else {
            fprintf(stderr, "%s: too many arguments\n", self->prog);
            return AT_ERR_CONFIG;
        }
    }
    if (config)
        return s_load_file(self, config, flag_set);
    return AT_OK;
}

bool cfg_help_requested(const cfg_t *self) { return self->help; }

/*  Aborts when two bound entries share a field (e.g. a table written
 *  without offsets, whose offsets are all 0). */
static void s_check_offsets(const cfg_t *self)
{
    for (size_t i = 0; i < self->ndefs; i++)
        for (size_t j = i + 1; j < self->ndefs && self->defs[i].offset != CFG_NO_FIELD; j++)
            if (self->defs[j].offset == self->defs[i].offset)
                s_abort(self->prog, "two settings bound to one field, the second is", self->defs[j].name);
}

void cfg_bind(const cfg_t *self, void *settings)
{
    s_check_offsets(self);
    for (size_t i = 0; i < self->ndefs; i++) {
        const cfg_def_t *d = &self->defs[i];
        if (d->offset == CFG_NO_FIELD)
            continue;
        char *field = (char *) settings + d->offset;
        if (d->type == CFG_INT)
            memcpy(field, &self->num[i], sizeof(int64_t));
        else if (d->type == CFG_BOOL)
            *(bool *) field = self->num[i] != 0;
        else
            *(const char **) field = self->values[i];
    }
}

int64_t cfg_int(const cfg_t *self, const char *name) { return self->num[s_index(self, name, CFG_INT)]; }
const char *cfg_str(const cfg_t *self, const char *name) { return self->values[s_index(self, name, CFG_STR)]; }
bool cfg_bool(const cfg_t *self, const char *name) { return self->num[s_index(self, name, CFG_BOOL)] != 0; }

bool cfg_is_set(const cfg_t *self, const char *name)
{
    bool alias;
    int i = s_find(self, name, strlen(name), &alias);
    if (i < 0 || alias)
        s_abort(self->prog, "no setting named", name);
    return self->set[i];
}

size_t cfg_npositional(const cfg_t *self) { return self->npos; }
const char *cfg_positional(const cfg_t *self, size_t i) { return i < self->npos ? self->pos[i] : NULL; }

static const char *const s_type_arg[] = { [CFG_INT] = " N", [CFG_STR] = " TEXT", [CFG_BOOL] = "" };

/*  " (default: D; MIN..MAX)" for one entry. */
static void s_print_default(const cfg_def_t *d, FILE *out)
{
    const char *def = d->defval && *d->defval ? d->defval : "\"\"";
    if (d->type == CFG_INT)
        fprintf(out, " (default: %s; %lld..%lld)", def, (long long) d->min, (long long) d->max);
    else
        fprintf(out, " (default: %s)", def);
}

void cfg_usage(const cfg_t *self, FILE *out)
{
    fprintf(out, "%s\n\nOptions (each is also a key in the --config file):\n", self->summary);
    char left[64];
    for (size_t i = 0; i < self->ndefs; i++) {
        const cfg_def_t *d = &self->defs[i];
        if (d->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s", d->short_name, d->name, s_type_arg[d->type]);
        else
            snprintf(left, sizeof left, "--%s%s", d->name, s_type_arg[d->type]);
        fprintf(out, "  %-26s %s", left, d->help);
        s_print_default(d, out);
        fprintf(out, "\n");
    }
    for (size_t i = 0; i < self->ndefs; i++) {
        const cfg_def_t *d = &self->defs[i];
        if (!d->alias)
            continue;
        snprintf(left, sizeof left, "--%s%s", d->alias, s_type_arg[d->type]);
        fprintf(out, "  %-26s deprecated: old name of --%s, accepted until the next release\n", left, d->name);
    }
    fprintf(out, "  %-26s %s\n  %-26s %s\n  %-26s %s\n", "--config FILE", "read settings from a ZPL file (flags win)",
            "-h, --help", "show this help", "--version", "show the version");
    if (self->positionals && *self->positionals)
        fprintf(out, "\nArguments: %s\n", self->positionals);
}

void cfg_print_version(const char *prog, FILE *out)
{
    fprintf(out, "%s %s (%s)\n", prog, AT_VERSION, AT_GIT_COMMIT);
}

void cfg_log(const cfg_t *self)
{
    for (size_t i = 0; i < self->ndefs; i++)
        at_log_debug("CFG", "%s = %s%s", self->defs[i].name, self->values[i], self->set[i] ? "" : " (default)");
    for (size_t i = 0; i < self->ndefs; i++)
        if (self->by_alias[i])
            at_log_warn("CFG-DEPRECATED", "'%s' is the old name of '%s' and goes away in the next release; "
                        "rename it", self->defs[i].alias, self->defs[i].name);
}

/*  The part of cfg_run after a successful parse. */
static int s_run_parsed(const cfg_app_t *app, cfg_t *cfg)
{
    if (app->log_component && at_log_setup(app->log_component, cfg_str(cfg, "log-level")) != 0)
        return 2;
    if (app->settings)
        cfg_bind(cfg, app->settings);
    cfg_log(cfg);
    return app->fn(cfg, app->settings);
}

int cfg_run(const cfg_app_t *app, int argc, char **argv)
{
    cfg_t *cfg = cfg_new(app->prog, app->summary, app->defs, app->ndefs);
    if (app->positionals)
        cfg_accept_positionals(cfg, app->positionals);
    int code = 2;
    if (cfg_parse(cfg, argc, argv) == AT_OK)
        code = cfg_help_requested(cfg) ? 0 : s_run_parsed(app, cfg);
    cfg_destroy(&cfg);
    return code;
}
