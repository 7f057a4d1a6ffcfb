/*  config.c: flags and ZPL config files against a table of settings. */
#include "config.h"
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
    bool set[S_MAX_DEFS];
    const char *pos[S_MAX_POS];
    size_t npos;
    bool help;
};

cfg_t *cfg_new(const char *prog, const char *summary, const cfg_def_t *defs, size_t ndefs)
{
    assert(ndefs <= S_MAX_DEFS);
    cfg_t *self = calloc(1, sizeof *self);
    assert(self);
    self->prog = prog;
    self->summary = summary;
    self->defs = defs;
    self->ndefs = ndefs;
    for (size_t i = 0; i < ndefs; i++)
        self->values[i] = strdup(defs[i].defval ? defs[i].defval : "");
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

static int s_find(const cfg_t *self, const char *name, size_t len)
{
    for (size_t i = 0; i < self->ndefs; i++)
        if (strlen(self->defs[i].name) == len && memcmp(self->defs[i].name, name, len) == 0)
            return (int) i;
    return -1;
}

static int s_index(const cfg_t *self, const char *name)
{
    int i = s_find(self, name, strlen(name));
    assert(i >= 0 && "unknown setting name: programmer error");
    return i;
}

/*  Checks and stores one value; prints the reason on failure. */
static at_err s_set(cfg_t *self, int i, const char *value, const char *origin)
{
    const cfg_def_t *d = &self->defs[i];
    if (d->type == CFG_INT) {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) {
            fprintf(stderr, "%s: %s: --%s wants a whole number, got '%s'\n", self->prog, origin, d->name, value);
            return AT_ERR_CONFIG;
        }
        if (v < d->min || v > d->max) {
            fprintf(stderr, "%s: %s: --%s must be between %lld and %lld, got %lld\n", self->prog, origin,
                    d->name, (long long) d->min, (long long) d->max, v);
            return AT_ERR_CONFIG;
        }
    } else if (d->type == CFG_BOOL) {
        if (strcmp(value, "true") && strcmp(value, "false") && strcmp(value, "1") && strcmp(value, "0")) {
            fprintf(stderr, "%s: %s: --%s wants true or false, got '%s'\n", self->prog, origin, d->name, value);
            return AT_ERR_CONFIG;
        }
    }
    free(self->values[i]);
    self->values[i] = strdup(value);
    self->set[i] = true;
    return AT_OK;
}

static at_err s_load_file(cfg_t *self, const char *path, bool *flag_set)
{
    zconfig_t *root = zconfig_load(path);
    if (!root) {
        fprintf(stderr, "%s: cannot read config file '%s' (missing or not ZPL)\n", self->prog, path);
        return AT_ERR_CONFIG;
    }
    at_err rc = AT_OK;
    for (zconfig_t *item = zconfig_child(root); item && rc == AT_OK; item = zconfig_next(item)) {
        const char *name = zconfig_name(item);
        int i = s_find(self, name, strlen(name));
        if (i < 0) {
            fprintf(stderr, "%s: %s: unknown key '%s' (see --help)\n", self->prog, path, name);
            rc = AT_ERR_CONFIG;
        } else if (!flag_set[i]) {
            const char *v = zconfig_value(item);
            rc = s_set(self, i, v ? v : "", path);
        }
    }
    zconfig_destroy(&root);
    return rc;
}

/*  Handles one "--name[=value]" at argv[*k]; may consume argv[*k+1]. */
static at_err s_parse_flag(cfg_t *self, int argc, char **argv, int *k, bool *flag_set, const char **config)
{
    const char *arg = argv[*k] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t) (eq - arg) : strlen(arg);
    if (len == 4 && memcmp(arg, "help", 4) == 0) {
        self->help = true;
        return AT_OK;
    }
    bool is_config = len == 6 && memcmp(arg, "config", 6) == 0;
    int i = is_config ? -1 : s_find(self, arg, len);
    if (!is_config && i < 0) {
        fprintf(stderr, "%s: unknown option '--%.*s' (try --help)\n", self->prog, (int) len, arg);
        return AT_ERR_CONFIG;
    }
    const char *value = eq ? eq + 1 : NULL;
    if (!value && i >= 0 && self->defs[i].type == CFG_BOOL)
        value = "true";
    if (!value) {
        if (*k + 1 >= argc) {
            fprintf(stderr, "%s: option '--%.*s' needs a value\n", self->prog, (int) len, arg);
            return AT_ERR_CONFIG;
        }
        value = argv[++*k];
    }
    if (is_config) {
        *config = value;
        return AT_OK;
    }
    flag_set[i] = true;
    return s_set(self, i, value, "command line");
}

at_err cfg_parse(cfg_t *self, int argc, char **argv)
{
    bool flag_set[S_MAX_DEFS] = { false };
    const char *config = NULL;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
            self->help = true;
        } else if (strncmp(argv[k], "--", 2) == 0 && argv[k][2]) {
            if (s_parse_flag(self, argc, argv, &k, flag_set, &config) != AT_OK)
                return AT_ERR_CONFIG;
        } else if (self->npos < S_MAX_POS) {
            self->pos[self->npos++] = argv[k];
        } else {
            fprintf(stderr, "%s: too many arguments\n", self->prog);
            return AT_ERR_CONFIG;
        }
    }
    if (self->help) {
        cfg_usage(self, stdout);
        return AT_OK;
    }
    if (config)
        return s_load_file(self, config, flag_set);
    return AT_OK;
}

bool cfg_help_requested(const cfg_t *self) { return self->help; }

int64_t cfg_int(const cfg_t *self, const char *name)
{
    int i = s_index(self, name);
    assert(self->defs[i].type == CFG_INT);
    return strtoll(self->values[i], NULL, 10);
}

const char *cfg_str(const cfg_t *self, const char *name) { return self->values[s_index(self, name)]; }

bool cfg_bool(const cfg_t *self, const char *name)
{
    const char *v = self->values[s_index(self, name)];
    return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

bool cfg_is_set(const cfg_t *self, const char *name) { return self->set[s_index(self, name)]; }
size_t cfg_npositional(const cfg_t *self) { return self->npos; }
const char *cfg_positional(const cfg_t *self, size_t i) { return i < self->npos ? self->pos[i] : NULL; }

void cfg_usage(const cfg_t *self, FILE *out)
{
    fprintf(out, "%s\n\nOptions (each is also a key in the --config file):\n", self->summary);
    for (size_t i = 0; i < self->ndefs; i++) {
        const cfg_def_t *d = &self->defs[i];
        char left[64];
        snprintf(left, sizeof left, "--%s%s", d->name,
                 d->type == CFG_INT ? " N" : d->type == CFG_STR ? " TEXT" : "");
        fprintf(out, "  %-26s %s", left, d->help);
        if (d->defval && *d->defval)
            fprintf(out, " (default: %s)", d->defval);
        fprintf(out, "\n");
    }
    fprintf(out, "  %-26s %s\n  %-26s %s\n", "--config FILE", "read settings from a ZPL file (flags win)",
            "--help", "show this help");
}

int cfg_run(const char *prog, const char *summary, const cfg_def_t *defs, size_t ndefs, int argc, char **argv,
            cfg_main_fn *fn)
{
    cfg_t *cfg = cfg_new(prog, summary, defs, ndefs);
    int code = cfg_parse(cfg, argc, argv) == AT_OK ? 0 : 2;
    if (code == 0 && !cfg_help_requested(cfg))
        code = fn(cfg);
    cfg_destroy(&cfg);
    return code;
}

void cfg_log(const cfg_t *self)
{
    for (size_t i = 0; i < self->ndefs; i++)
        at_log_info("CFG", "%s = %s%s", self->defs[i].name, self->values[i], self->set[i] ? "" : " (default)");
}
