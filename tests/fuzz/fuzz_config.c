/*  fuzz_config.c: the settings parser (proto/config.h): flags and ZPL files.
 *
 *  Input layout: the bytes before the first NUL are the command line, one
 *  argument per '\n'-separated piece (argv[0] is added); if there is a NUL,
 *  the bytes after it are written to a temporary file that is passed as
 *  `--config FILE` after the other arguments. The table below has one entry
 *  of each type, bound and by name, with an alias. Oracles: a parse that
 *  succeeds leaves every int within its bounds and every bool 0/1, and the
 *  bound struct agrees with the lookups by name. An input whose command
 *  line has its own --config is skipped (it could name a FIFO and block).
 *  CZMQ 4.2.1's zconfig_load leaks the zfile_t of a file that is not ZPL:
 *  tests/fuzz/lsan.supp suppresses exactly that (see docs/fuzzing.md).
 */
#include "config.h"
#include "fuzz.h"
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#define S_MAX_ARGS 64

typedef struct {
    int64_t count;
    const char *name;
    bool fast;
} s_settings_t;

static const cfg_def_t s_defs[] = {
    CFG_INT_ALIAS_AT(s_settings_t, count, "count", "old-count", "5", -3, 1000, "an int"),
    CFG_STR_AT(s_settings_t, name, "name", "x", "a string"),
    CFG_BOOL_AT(s_settings_t, fast, "fast", "false", "a bool"),
    CFG_INT_NAMED("limit", "0", 0, INT64_MAX, "an int read by name"),
    CFG_BOOL_NAMED("loud", "true", "a bool read by name"),
};

/*  Splits data[0..n) at '\n' into argv[1..] (copied into buf); returns argc. */
static int s_argv(const uint8_t *data, size_t n, char *buf, char **argv)
{
    int argc = 0;
    argv[argc++] = "fuzz";
    memcpy(buf, data, n);
    buf[n] = '\0';
    for (char *p = buf; argc < S_MAX_ARGS - 2;) {
        argv[argc++] = p;
        char *nl = memchr(p, '\n', (size_t) (buf + n - p));
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return argc;
}

/*  Writes the file part to a new temporary file; its path goes into path. */
static bool s_file(const uint8_t *data, size_t n, char *path, size_t cap)
{
    snprintf(path, cap, "/tmp/attest-fuzz-config-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return false;
    bool ok = write(fd, data, n) == (ssize_t) n;
    close(fd);
    return ok;
}

static void s_check(const cfg_t *cfg)
{
    s_settings_t s;
    cfg_bind(cfg, &s);
    FUZZ_CHECK(s.count >= -3 && s.count <= 1000 && s.count == cfg_int(cfg, "count"));
    FUZZ_CHECK(s.name != NULL && strcmp(s.name, cfg_str(cfg, "name")) == 0);
    FUZZ_CHECK(s.fast == cfg_bool(cfg, "fast") && cfg_int(cfg, "limit") >= 0);
    (void) cfg_bool(cfg, "loud");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t args = nul ? (size_t) (nul - data) : size;
    /* a --config of the input's own could name /dev/stdin and block: the
       file comes only from the bytes after the NUL */
    if (memmem(data, args, "--config", 8))
        return 0;
    char *buf = malloc(args + 1), *argv[S_MAX_ARGS], path[64];
    FUZZ_CHECK(buf != NULL);
    int argc = s_argv(data, args, buf, argv);
    bool file = nul && s_file(nul + 1, size - args - 1, path, sizeof path);
    if (file) {
        argv[argc++] = "--config";
        argv[argc++] = path;
    }
    cfg_t *cfg = cfg_new("fuzz", "config fuzz target", s_defs, sizeof s_defs / sizeof s_defs[0]);
    if (cfg_parse(cfg, argc, argv) == AT_OK && !cfg_help_requested(cfg))
        s_check(cfg);
    cfg_destroy(&cfg);
    if (file)
        unlink(path);
    free(buf);
    return 0;
}
