/*  test_config.c: the settings table (proto/config.[ch]).
 *
 *  Covers: defaults; --name value and --name=value; bool flags; positionals
 *  (kept when accepted, refused by default); bounds and type errors; unknown
 *  flags; a missing value; --help and --version; a ZPL file via --config
 *  (both spellings) with flags winning over the file; an unknown key, a bad
 *  value and a missing file as errors; binding to a settings struct; old
 *  names (aliases) as flags and keys; short names (-n, -k, -f, -o);
 *  endpoint settings (HOST:PORT, :PORT); cfg_run's exit codes; and that the
 *  programmer errors (an unknown name, a wrong type, a bad default, two
 *  entries bound to one field) abort in every build. Errors print their
 *  reason to stderr, which is expected output here.
 */
#include "check.h"
#include "config.h"
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const cfg_def_t s_defs[] = {
    CFG_INT_NAMED("port", "5555", 1, 65535, "port to listen on"),
    CFG_STR_NAMED("name", "w1", "instance name"),
    CFG_BOOL_NAMED("verbose", "false", "log at debug level"),
    CFG_INT_NAMED("batch", "64", 1, 1024, "items per batch"),
    CFG_INT_NAMED("offset", "0", -100, 100, "a signed setting"),
    CFG_STR_NAMED("label", NULL, "empty by default"),
};
#define NDEFS (sizeof s_defs / sizeof s_defs[0])

/*  Parses argv (NULL-terminated, argv[0] included) into a new cfg. */
static cfg_t *s_parse(at_err *rc, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    cfg_t *c = cfg_new("test", "test summary", s_defs, NDEFS);
    cfg_accept_positionals(c, "FILE...");
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
    CHECK(!cfg_bool(c, "verbose") && cfg_npositional(c) == 0);   /* "--flag false": its value */
    cfg_destroy(&c);
    c = s_parse(&rc, (char *[]) { "test", "--verbose", "true", "--verbose", "1", NULL });
    CHECK_ERR(rc, AT_OK);
    CHECK(cfg_bool(c, "verbose"));                       /* only true/false are taken as its value */
    CHECK(cfg_npositional(c) == 1 && strcmp(cfg_positional(c, 0), "1") == 0);
    cfg_destroy(&c);
    /* "--" alone, "-" and "-1" are positionals, not flags; "-x" (a letter
     * that is no short name) is an unknown option. */
    c = s_parse(&rc, (char *[]) { "test", "--", "-", "-1", NULL });
    CHECK_ERR(rc, AT_OK);
    CHECK(cfg_npositional(c) == 3 && strcmp(cfg_positional(c, 2), "-1") == 0);
    cfg_destroy(&c);
    REFUSED("-x");
}

/*  Short names: -X value, -X alone for a bool, errors, the --help line, and
 *  the table checks (a non-letter, 'h', a letter used twice abort). */
static const cfg_def_t s_short_defs[] = {
    CFG_INT_NAMED_SHORT("n", 'n', "10", 0, 100, "how many"),
    CFG_STR_NAMED_SHORT("key", 'k', NULL, "key file"),
    CFG_BOOL_NAMED_SHORT("follow", 'f', "false", "keep going"),
    CFG_STR_NAMED_SHORT("out", 'o', NULL, "output file"),
    CFG_STR_NAMED("format", "human", "no short name"),
};

static cfg_t *s_parse_short(at_err *rc, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    cfg_t *c = cfg_new("short", "short summary", s_short_defs, sizeof s_short_defs / sizeof s_short_defs[0]);
    cfg_accept_positionals(c, "ARG");
    *rc = cfg_parse(c, argc, argv);
    return c;
}

static void test_short(void)
{
    at_err rc;
    cfg_t *c = s_parse_short(&rc, (char *[]) { "t", "-n", "5", "-k", "a.key", "-f", "-o", "x.jsonl", "-3", NULL });
    CHECK_ERR(rc, AT_OK);
    CHECK(cfg_int(c, "n") == 5 && strcmp(cfg_str(c, "key"), "a.key") == 0 && cfg_bool(c, "follow"));
    CHECK(strcmp(cfg_str(c, "out"), "x.jsonl") == 0 && cfg_is_set(c, "n") && cfg_is_set(c, "follow"));
    CHECK(cfg_npositional(c) == 1 && strcmp(cfg_positional(c, 0), "-3") == 0);
    cfg_destroy(&c);
    c = s_parse_short(&rc, (char *[]) { "t", "-f", "false", "-n", "7", "--n", "8", NULL });
    CHECK_ERR(rc, AT_OK);
    CHECK(!cfg_bool(c, "follow") && cfg_int(c, "n") == 8);   /* the last one wins, either spelling */
    cfg_destroy(&c);
    char *bad[][4] = { { "t", "-n", NULL }, { "t", "-n", "101", NULL }, { "t", "-n", "x", NULL },
                       { "t", "-F", NULL }, { "t", "-z", "1", NULL } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = s_parse_short(&rc, bad[i]);
        check_err_at(rc, AT_ERR_CONFIG, __FILE__, __LINE__, bad[i][1]);
        cfg_destroy(&c);
    }
    c = s_parse_short(&rc, (char *[]) { "t", NULL });
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    cfg_usage(c, mem);
    fclose(mem);
    CHECK(strstr(text, "-n, --n N") && strstr(text, "-k, --key TEXT") && strstr(text, "-f, --follow")
          && strstr(text, "-h, --help") && strstr(text, "  --format TEXT"));
    free(text);
    cfg_destroy(&c);
}

/*  Endpoint settings: HOST:PORT and :PORT stored in full, bad ones refused. */
static const cfg_def_t s_ep_defs[] = {
    CFG_ENDPOINT_NAMED("bind", ENDPOINT_BIND, "tcp://*:5555", "bound"),
    CFG_ENDPOINT_NAMED("peer", ENDPOINT_CONNECT, "", "connected; empty: off"),
};

static void test_endpoint_settings(void)
{
    char *argv[] = { "t", "--bind", ":7000", "--peer", "10.0.0.2:7001", NULL };
    cfg_t *c = cfg_new("ep", "ep", s_ep_defs, 2);
    CHECK_ERR(cfg_parse(c, 5, argv), AT_OK);
    CHECK(strcmp(cfg_str(c, "bind"), "tcp://*:7000") == 0 && strcmp(cfg_str(c, "peer"), "tcp://10.0.0.2:7001") == 0);
    cfg_destroy(&c);
    char *argv2[] = { "t", "--peer=:7001", NULL };
    c = cfg_new("ep", "ep", s_ep_defs, 2);
    CHECK_ERR(cfg_parse(c, 2, argv2), AT_OK);
    CHECK(strcmp(cfg_str(c, "peer"), "tcp://127.0.0.1:7001") == 0 && strcmp(cfg_str(c, "bind"), "tcp://*:5555") == 0);
    cfg_destroy(&c);
    char *argv3[] = { "t", "--bind", "localhost", NULL };
    c = cfg_new("ep", "ep", s_ep_defs, 2);
    CHECK_ERR(cfg_parse(c, 3, argv3), AT_ERR_CONFIG);
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

/* ------------------------------------------------------------ binding */

typedef struct {
    int64_t port, credit, offset;
    const char *name, *label;
    bool verbose;
} s_bound_t;

#define B_ s_bound_t
static const cfg_def_t s_bound_defs[] = {
    CFG_INT_AT(B_, port, "port", "5555", 1, 65535, "port to listen on"),
    CFG_STR_AT(B_, name, "name", "w1", "instance name"),
    CFG_BOOL_AT(B_, verbose, "verbose", "false", "log at debug level"),
    CFG_INT_ALIAS_AT(B_, credit, "credit", "window", "512", 1, 4096, "credit granted"),
    CFG_INT_AT(B_, offset, "offset", "0", -100, 100, "a signed setting"),
    CFG_STR_ALIAS_AT(B_, label, "label", "tag", NULL, "empty by default"),
    CFG_INT_NAMED("unbound", "9", 0, 10, "read by name only"),
};
#undef B_
#define NBOUND (sizeof s_bound_defs / sizeof s_bound_defs[0])

static cfg_t *s_parse_bound(at_err *rc, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    cfg_t *c = cfg_new("test", "test summary", s_bound_defs, NBOUND);
    *rc = cfg_parse(c, argc, argv);
    return c;
}

static void test_bind(void)
{
    at_err rc;
    s_bound_t s;
    memset(&s, 0xa5, sizeof s);
    cfg_t *c = s_parse_bound(&rc, (char *[]) { "test", NULL });
    CHECK_ERR(rc, AT_OK);
    cfg_bind(c, &s);                                     /* defaults */
    CHECK(s.port == 5555 && s.credit == 512 && s.offset == 0 && !s.verbose);
    CHECK(strcmp(s.name, "w1") == 0 && strcmp(s.label, "") == 0);
    CHECK(cfg_int(c, "unbound") == 9);                   /* unbound entries still read by name */
    cfg_destroy(&c);

    c = s_parse_bound(&rc, (char *[]) { "test", "--port=6000", "--verbose", "--name", "beta", "--offset=-100",
                                        "--credit", "4096", "--label=x", NULL });
    CHECK_ERR(rc, AT_OK);
    cfg_bind(c, &s);
    CHECK(s.port == 6000 && s.verbose && s.offset == -100 && s.credit == 4096);
    CHECK(strcmp(s.name, "beta") == 0 && strcmp(s.label, "x") == 0);
    CHECK(s.name == cfg_str(c, "name"));                 /* borrowed from the cfg, not copied */
    CHECK(cfg_int(c, "port") == 6000 && cfg_bool(c, "verbose"));   /* by name agrees */
    cfg_destroy(&c);
}

static void test_alias(void)
{
    at_err rc;
    s_bound_t s;
    cfg_t *c = s_parse_bound(&rc, (char *[]) { "test", "--window", "64", "--tag=old", NULL });
    CHECK_ERR(rc, AT_OK);
    cfg_bind(c, &s);
    CHECK(s.credit == 64 && strcmp(s.label, "old") == 0 && cfg_is_set(c, "credit"));
    cfg_log(c);                                          /* warns (once each) that window and tag are old names */
    cfg_destroy(&c);
    c = s_parse_bound(&rc, (char *[]) { "test", "--window=5000", NULL });
    CHECK_ERR(rc, AT_ERR_CONFIG);                        /* the alias has the same bounds */
    cfg_destroy(&c);

    const char *path = s_file("window = 100\n");
    char arg[128];
    snprintf(arg, sizeof arg, "--config=%s", path);
    c = s_parse_bound(&rc, (char *[]) { "test", arg, NULL });
    CHECK_ERR(rc, AT_OK);                                /* the old name as a key in a file */
    CHECK(cfg_int(c, "credit") == 100);
    cfg_destroy(&c);
    c = s_parse_bound(&rc, (char *[]) { "test", arg, "--credit", "7", NULL });
    CHECK_ERR(rc, AT_OK);                                /* a flag under the new name wins over the old key */
    CHECK(cfg_int(c, "credit") == 7);
    cfg_destroy(&c);
    unlink(path);
}

/*  --help shows the type, default and bounds of each key, and the aliases. */
static void test_usage_text(void)
{
    char buf[4096] = { 0 };
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    cfg_t *c = cfg_new("test", "test summary", s_bound_defs, NBOUND);
    cfg_usage(c, f);
    fclose(f);
    cfg_destroy(&c);
    CHECK(strstr(buf, "--port N") && strstr(buf, "port to listen on (default: 5555; 1..65535)\n"));
    CHECK(strstr(buf, "--name TEXT") && strstr(buf, "instance name (default: w1)\n"));
    CHECK(strstr(buf, "--label TEXT") && strstr(buf, "(default: \"\")\n"));
    CHECK(strstr(buf, "--verbose ") && strstr(buf, "(default: false)\n"));
    CHECK(strstr(buf, "--offset N") && strstr(buf, "(default: 0; -100..100)\n"));
    CHECK(strstr(buf, "--window N") && strstr(buf, "deprecated: old name of --credit"));
    CHECK(strstr(buf, "--tag TEXT") && strstr(buf, "deprecated: old name of --label"));
    CHECK(strstr(buf, "--version"));
}

static void test_positionals_refused(void)
{
    at_err rc;
    cfg_t *c = s_parse_bound(&rc, (char *[]) { "test", "/etc/attest/broker.conf", NULL });
    CHECK_ERR(rc, AT_ERR_CONFIG);                        /* a stray path: not silently defaults */
    cfg_destroy(&c);
    c = s_parse_bound(&rc, (char *[]) { "test", "--port", "80", "extra", NULL });
    CHECK_ERR(rc, AT_ERR_CONFIG);
    cfg_destroy(&c);
    c = s_parse_bound(&rc, (char *[]) { "test", "--verbose", "maybe", NULL });
    CHECK_ERR(rc, AT_ERR_CONFIG);                        /* not a bool value, so a stray argument */
    cfg_destroy(&c);
    c = s_parse_bound(&rc, (char *[]) { "test", "--port", "80", NULL });
    CHECK_ERR(rc, AT_OK);                                /* a flag's value is not a positional */
    cfg_destroy(&c);
}

/*  Runs fn in a child; true when the child died of SIGABRT. */
static bool s_aborts(void (*fn)(void))
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return false;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static cfg_t *s_plain(void) { return cfg_new("test", "summary", s_bound_defs, NBOUND); }
static void s_unknown_int(void) { cfg_t *c = s_plain(); (void) cfg_int(c, "no-such"); }
static void s_unknown_str(void) { cfg_t *c = s_plain(); (void) cfg_str(c, "nam"); }
static void s_unknown_set(void) { cfg_t *c = s_plain(); (void) cfg_is_set(c, "no-such"); }
static void s_by_alias(void) { cfg_t *c = s_plain(); (void) cfg_int(c, "window"); }
static void s_wrong_type(void) { cfg_t *c = s_plain(); (void) cfg_int(c, "name"); }
static void s_bad_default(void)
{
    static const cfg_def_t bad[] = { CFG_INT_NAMED("n", "70000", 1, 65535, "default out of bounds") };
    (void) cfg_new("test", "summary", bad, 1);
}
static void s_shared_field(void)
{
    static const cfg_def_t twice[] = {
        CFG_INT_AT(s_bound_t, port, "a", "1", 0, 9, "a"),
        CFG_INT_AT(s_bound_t, port, "b", "1", 0, 9, "b"),
    };
    s_bound_t s;
    cfg_t *c = cfg_new("test", "summary", twice, 2);
    cfg_bind(c, &s);
}
static void s_short_twice(void)
{
    static const cfg_def_t twice[] = { CFG_INT_NAMED_SHORT("a", 'n', "1", 0, 9, "a"),
                                       CFG_INT_NAMED_SHORT("b", 'n', "1", 0, 9, "b") };
    (void) cfg_new("test", "summary", twice, 2);
}
static void s_short_h(void)
{
    static const cfg_def_t h[] = { CFG_INT_NAMED_SHORT("a", 'h', "1", 0, 9, "a") };
    (void) cfg_new("test", "summary", h, 1);
}
static void s_short_digit(void)
{
    static const cfg_def_t d[] = { CFG_INT_NAMED_SHORT("a", '1', "1", 0, 9, "a") };
    (void) cfg_new("test", "summary", d, 1);
}
static void s_fine(void) { cfg_t *c = s_plain(); (void) cfg_int(c, "port"); cfg_destroy(&c); }

/*  Programmer errors abort whether or not NDEBUG is defined. */
static void test_programmer_errors(void)
{
    CHECK(s_aborts(s_unknown_int));
    CHECK(s_aborts(s_unknown_str));                      /* no prefix matching */
    CHECK(s_aborts(s_unknown_set));
    CHECK(s_aborts(s_by_alias));                         /* code uses the new name */
    CHECK(s_aborts(s_wrong_type));
    CHECK(s_aborts(s_bad_default));
    CHECK(s_aborts(s_shared_field));
    CHECK(s_aborts(s_short_twice));
    CHECK(s_aborts(s_short_h));                          /* -h is --help */
    CHECK(s_aborts(s_short_digit));                      /* -1 stays a positional */
    CHECK(!s_aborts(s_fine));                            /* the harness itself can tell */
}

/* ------------------------------------------------------------ cfg_run */

static int s_ran;
static s_bound_t s_run_settings;
static int s_main(const cfg_t *cfg, void *settings)
{
    s_ran++;
    const s_bound_t *s = settings;
    return s == &s_run_settings && s->port == 7 && cfg_int(cfg, "port") == 7 ? 42 : 1;
}

static int s_run(const char *positionals, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    const cfg_app_t app = { .prog = "prog", .summary = "summary", .defs = s_bound_defs, .ndefs = NBOUND,
                            .positionals = positionals, .settings = &s_run_settings, .fn = s_main };
    return cfg_run(&app, argc, argv);
}

/*  cfg_run: runs the command only when the arguments parse and neither
 *  --help nor --version was asked, binds the settings, and passes on the
 *  command's result; usage errors are 2. */
static void test_run(void)
{
    s_ran = 0;
    fflush(stdout);
    CHECK(s_run(NULL, (char *[]) { "prog", "--port", "7", NULL }) == 42 && s_ran == 1);
    CHECK(s_run(NULL, (char *[]) { "prog", "--help", NULL }) == 0 && s_ran == 1);
    CHECK(s_run(NULL, (char *[]) { "prog", "--version", NULL }) == 0 && s_ran == 1);
    CHECK(s_run(NULL, (char *[]) { "prog", "--no-such-flag", NULL }) == 2 && s_ran == 1);
    CHECK(s_run(NULL, (char *[]) { "prog", "--port", "0", NULL }) == 2 && s_ran == 1);
    CHECK(s_run(NULL, (char *[]) { "prog", "stray", NULL }) == 2 && s_ran == 1);
    CHECK(s_run("ARG", (char *[]) { "prog", "--port", "7", "arg", NULL }) == 42 && s_ran == 2);
}

static void test_version(void)
{
    char buf[256] = { 0 };
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    cfg_print_version("attest-x", f);
    fclose(f);
    CHECK(strncmp(buf, "attest-x ", 9) == 0 && strchr(buf, '(') && strstr(buf, ")\n"));
    CHECK(buf[9] >= '0' && buf[9] <= '9');               /* "attest-x 0.1.0 (abc1234)" */
}

/*  "did you mean": a close name, a unique prefix, nothing for a far word. */
static void test_suggest(void)
{
    const char *names[] = { "broker", "key", "producer", "pipeline-window", "timeout-ms" };
    size_t n = sizeof names / sizeof names[0];
    const char *s = cfg_suggest("brokr", 5, names, n);
    CHECK(s && strcmp(s, "broker") == 0);
    s = cfg_suggest("prodcuer", 8, names, n);
    CHECK(s && strcmp(s, "producer") == 0);
    s = cfg_suggest("pipe", 4, names, n);
    CHECK(s && strcmp(s, "pipeline-window") == 0);
    CHECK(cfg_suggest("zzzzzz", 6, names, n) == NULL);
    CHECK(cfg_suggest("x", 1, names, n) == NULL);
}

int main(void)
{
    test_suggest();
    test_run();
    test_version();
    test_bind();
    test_alias();
    test_usage_text();
    test_positionals_refused();
    test_programmer_errors();
    test_defaults();
    test_flags();
    test_short();
    test_endpoint_settings();
    test_flag_errors();
    test_help();
    test_file();
    return check_done("test_config");
}
