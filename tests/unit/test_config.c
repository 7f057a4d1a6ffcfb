/*  test_config.c: the settings table (proto/config.[ch]).
 *
 *  Covers: defaults; --name value and --name=value; bool flags; positionals;
 *  bounds and type errors; unknown flags; a missing value; --help; a ZPL file
 *  via --config (both spellings) with flags winning over the file; an unknown
 *  key, a bad value and a missing file as errors. Errors print their reason
 *  to stderr, which is expected output here.
 */
#include "check.h"
#include "config.h"
#include <stdlib.h>
#include <unistd.h>

static const cfg_def_t s_defs[] = {
    { "port", CFG_INT, "5555", 1, 65535, "port to listen on" },
    { "name", CFG_STR, "w1", 0, 0, "instance name" },
    { "verbose", CFG_BOOL, "false", 0, 0, "log at debug level" },
    { "batch", CFG_INT, "64", 1, 1024, "items per batch" },
    { "offset", CFG_INT, "0", -100, 100, "a signed setting" },
    { "label", CFG_STR, NULL, 0, 0, "empty by default" },
};
#define NDEFS (sizeof s_defs / sizeof s_defs[0])

/*  Parses argv (NULL-terminated, argv[0] included) into a new cfg. */
static cfg_t *s_parse(at_err *rc, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    cfg_t *c = cfg_new("test", "test summary", s_defs, NDEFS);
    *rc = cfg_parse(c, argc, argv);
    return c;
}

/*  Expects argv to be refused. */
static void s_refused(char **argv, int line)
{
    at_err rc;
    cfg_t *c = s_parse(&rc, argv);
    check_err_at(rc, AT_ERR_CONFIG, __FILE__, line, argv[1] ? argv[1] : "(no args)");
    cfg_destroy(&c);
}
#define REFUSED(...) s_refused((char *[]) { "test", __VA_ARGS__, NULL }, __LINE__)

static void test_defaults(void)
{
    at_err rc;
    cfg_t *c = s_parse(&rc, (char *[]) { "test", NULL });
    CHECK_ERR(rc, AT_OK);
    CHECK(cfg_int(c, "port") == 5555 && cfg_int(c, "batch") == 64 && cfg_int(c, "offset") == 0);
    CHECK(strcmp(cfg_str(c, "name"), "w1") == 0 && strcmp(cfg_str(c, "label"), "") == 0);
    CHECK(!cfg_bool(c, "verbose"));
    CHECK(!cfg_is_set(c, "port") && !cfg_is_set(c, "verbose"));
    CHECK(!cfg_help_requested(c) && cfg_npositional(c) == 0 && cfg_positional(c, 0) == NULL);
    cfg_destroy(&c);
    CHECK(c == NULL);
    cfg_destroy(&c);                                     /* safe twice */
}

static void test_flags(void)
{
    at_err rc;
    cfg_t *c = s_parse(&rc, (char *[]) { "test", "--port", "6000", "--name=alpha", "--verbose", "in.jsonl",
                                         "--batch=1024", "--offset", "-100", "out", NULL });
    CHECK_ERR(rc, AT_OK);
    CHECK(cfg_int(c, "port") == 6000 && cfg_is_set(c, "port"));
    CHECK(strcmp(cfg_str(c, "name"), "alpha") == 0);
    CHECK(cfg_bool(c, "verbose") && cfg_is_set(c, "verbose"));
    CHECK(cfg_int(c, "batch") == 1024 && cfg_int(c, "offset") == -100);
    CHECK(cfg_npositional(c) == 2);
    CHECK(strcmp(cfg_positional(c, 0), "in.jsonl") == 0 && strcmp(cfg_positional(c, 1), "out") == 0);
    cfg_destroy(&c);

    /* Bool spellings; the last flag wins; an empty string value. */
    const char *vals[] = { "--verbose=true", "--verbose=1", "--verbose=false", "--verbose=0" };
    const bool want[] = { true, true, false, false };
    for (int i = 0; i < 4; i++) {
        c = s_parse(&rc, (char *[]) { "test", (char *) vals[i], NULL });
        CHECK_ERR(rc, AT_OK);
        CHECK(cfg_bool(c, "verbose") == want[i]);
        cfg_destroy(&c);
    }
    c = s_parse(&rc, (char *[]) { "test", "--port=1", "--port", "65535", "--label=", "--verbose", "false", NULL });
    CHECK_ERR(rc, AT_OK);
    CHECK(cfg_int(c, "port") == 65535 && strcmp(cfg_str(c, "label"), "") == 0 && cfg_is_set(c, "label"));
    CHECK(cfg_bool(c, "verbose"));                       /* a bool flag takes no separate value */
    CHECK(cfg_npositional(c) == 1 && strcmp(cfg_positional(c, 0), "false") == 0);
    cfg_destroy(&c);
    /* "--" alone and "-x" are positionals, not flags. */
    c = s_parse(&rc, (char *[]) { "test", "--", "-x", NULL });
    CHECK_ERR(rc, AT_OK);
    CHECK(cfg_npositional(c) == 2);
    cfg_destroy(&c);
}

static void test_flag_errors(void)
{
    REFUSED("--port", "0");                    /* below min */
    REFUSED("--port", "65536");                /* above max */
    REFUSED("--port=-1");
    REFUSED("--offset", "-101");
    REFUSED("--port", "12ab");                 /* not a number */
    REFUSED("--port", "");
    REFUSED("--port=");
    REFUSED("--port", "99999999999999999999999");   /* overflows */
    REFUSED("--port");                         /* missing value */
    REFUSED("--name");
    REFUSED("--verbose=maybe");
    REFUSED("--verbose=");
    REFUSED("--nope");                         /* unknown */
    REFUSED("--nope=1");
    REFUSED("--por", "1");                     /* no prefix matching */
    REFUSED("--portx=1");
    REFUSED("--config");                       /* needs a file */
}

static void test_help(void)
{
    at_err rc;
    fflush(stdout);
    cfg_t *c = s_parse(&rc, (char *[]) { "test", "--help", NULL });
    CHECK_ERR(rc, AT_OK);
    CHECK(cfg_help_requested(c));
    cfg_destroy(&c);
    c = s_parse(&rc, (char *[]) { "test", "-h", NULL });
    CHECK_ERR(rc, AT_OK);
    CHECK(cfg_help_requested(c));
    cfg_destroy(&c);
}

/*  Writes text to a new temporary file; returns its path (static buffer). */
static const char *s_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/attest-test-config-XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return "/nonexistent";
    size_t n = strlen(text);
    CHECK(write(fd, text, n) == (ssize_t) n);
    close(fd);
    return path;
}

static void test_file(void)
{
    const char *path = s_file("#   A comment\n"
                              "port = 6001\n"
                              "name = \"from-file\"\n"
                              "verbose = true\n"
                              "offset = -7\n");
    char arg[128];
    at_err rc;
    cfg_t *c = s_parse(&rc, (char *[]) { "test", "--config", (char *) path, NULL });
    CHECK_ERR(rc, AT_OK);
    CHECK(cfg_int(c, "port") == 6001 && cfg_is_set(c, "port"));
    CHECK(strcmp(cfg_str(c, "name"), "from-file") == 0);
    CHECK(cfg_bool(c, "verbose") && cfg_int(c, "offset") == -7);
    CHECK(cfg_int(c, "batch") == 64 && !cfg_is_set(c, "batch"));     /* default kept */
    cfg_destroy(&c);

    /* Flags win over the file, wherever --config appears. */
    snprintf(arg, sizeof arg, "--config=%s", path);
    c = s_parse(&rc, (char *[]) { "test", "--port", "7001", arg, "--verbose=false", NULL });
    CHECK_ERR(rc, AT_OK);
    CHECK(cfg_int(c, "port") == 7001 && !cfg_bool(c, "verbose"));
    CHECK(strcmp(cfg_str(c, "name"), "from-file") == 0 && cfg_int(c, "offset") == -7);
    cfg_destroy(&c);
    unlink(path);

    path = s_file("port = 6001\nbogus = 1\n");
    c = s_parse(&rc, (char *[]) { "test", "--config", (char *) path, NULL });
    CHECK_ERR(rc, AT_ERR_CONFIG);                                     /* unknown key */
    cfg_destroy(&c);
    unlink(path);

    path = s_file("port = 70000\n");
    c = s_parse(&rc, (char *[]) { "test", "--config", (char *) path, NULL });
    CHECK_ERR(rc, AT_ERR_CONFIG);                                     /* out of bounds */
    cfg_destroy(&c);
    /* ...but a flag for the same key means the file's value is not used. */
    c = s_parse(&rc, (char *[]) { "test", "--config", (char *) path, "--port", "80", NULL });
    CHECK_ERR(rc, AT_OK);
    CHECK(cfg_int(c, "port") == 80);
    cfg_destroy(&c);
    unlink(path);

    path = s_file("verbose = sometimes\n");
    c = s_parse(&rc, (char *[]) { "test", "--config", (char *) path, NULL });
    CHECK_ERR(rc, AT_ERR_CONFIG);
    cfg_destroy(&c);
    unlink(path);

    REFUSED("--config", "/nonexistent/attest.conf");
}

static int s_ran;
static int s_main(const cfg_t *cfg)
{
    s_ran++;
    return (int) cfg_int(cfg, "batch") == 7 ? 42 : 1;
}

/*  cfg_run: runs the command only when the arguments parse and --help was
 *  not asked, and passes on its result. */
static void test_run(void)
{
    char *ok[] = { "prog", "--batch", "7", NULL };
    char *help[] = { "prog", "--help", NULL };
    char *bad[] = { "prog", "--no-such-flag", NULL };
    size_t n = sizeof s_defs / sizeof s_defs[0];
    s_ran = 0;
    CHECK(cfg_run("prog", "summary", s_defs, n, 3, ok, s_main) == 42 && s_ran == 1);
    CHECK(cfg_run("prog", "summary", s_defs, n, 2, help, s_main) == 0 && s_ran == 1);
    CHECK(cfg_run("prog", "summary", s_defs, n, 2, bad, s_main) == 2 && s_ran == 1);
}

int main(void)
{
    test_run();
    test_defaults();
    test_flags();
    test_flag_errors();
    test_help();
    test_file();
    return check_done("test_config");
}
