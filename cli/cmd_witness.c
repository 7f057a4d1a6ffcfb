/*  cmd_witness.c: `attest witness`, a witness of the log (C2SP
 *  tlog-cosignature v1; protocol.md 14.8).
 *
 *  Every --interval-ms it fetches the log server's /checkpoint with the
 *  receipt fetcher (receipt.h), which checks the log's signature and that
 *  the checkpoint is consistent with the one it holds (same root at the
 *  same size, or a consistency proof built from the server's tiles and
 *  verified; a smaller size is a rollback). The first checkpoint it holds
 *  is the one in --state: the last this witness cosigned, kept across
 *  restarts. A checkpoint it has not cosigned yet in this run is written to
 *  --state first, atomically (temporary file, fsync, rename, fsync of the
 *  directory), and only then cosigned and POSTed to the log server's
 *  /cosignature as "<tree size>\n<cosignature line>\n": after a crash at
 *  any point the state holds a checkpoint at least as new as every
 *  cosignature that left, and every later one must extend it. So the
 *  witness never cosigns two checkpoints that are not consistent.
 *
 *  A checkpoint that is not consistent (a fork, a rollback) or not signed
 *  by the log key is refused, logged WIT-INCONSISTENT or WIT-SIGNATURE,
 *  never cosigned, and the state does not move: the witness keeps refusing
 *  while the log server shows it. Exit status: with --once 0 when it
 *  cosigned, 1 otherwise; in the loop (until SIGINT or SIGTERM) 1 when any
 *  checkpoint was refused.
 */
#include "commands.h"
#include "config.h"
#include "cosig.h"
#include "log.h"
#include "note.h"
#include "receipt.h"
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_STATE_MAX 8192          /* a checkpoint note, as the fetcher bounds it */
#define S_REPLY_MAX 512           /* the part of a refusal's text that is logged */

static const cfg_def_t s_defs[] = {
    CFG_STR_NAMED("log-url", NULL, "the log server's base URL (attest log serve), e.g. http://127.0.0.1:5558"),
    CFG_STR_NAMED("log-key", NULL, "the log's verifier key file (attest keygen --log: NAME.pub)"),
    CFG_STR_NAMED("key", NULL, "this witness's signer key file (attest keygen --witness: NAME.key, mode 0600)"),
    CFG_STR_NAMED("state", NULL, "file holding the last checkpoint cosigned (written atomically; keep it)"),
    CFG_INT_NAMED("interval-ms", "1000", 10, 3600000, "how often to fetch the checkpoint"),
    CFG_BOOL_NAMED("once", "false", "fetch, check and cosign once, then exit (0: cosigned)"),
    CFG_STR_NAMED("log-level", "info", "debug, info, warn or error"),
};

typedef struct {
    receipt_fetcher_t *f;
    note_verifier_t log_key;
    note_signer_t *key;
    note_verifier_t me;            /* this witness's cosignature verifier */
    CURL *post;
    char url[600];                 /* <log-url>/cosignature */
    const char *state;
    bool cosigned;                 /* cosigned once in this run... */
    uint64_t cosigned_size;        /* ...the checkpoint of this size, last */
    unsigned refused;
} s_witness_t;

typedef struct {
    char text[S_REPLY_MAX];
    size_t len;
} s_reply_t;

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void) sig;
    s_stop = 1;
}

/* ---------------------------------------------------------------- state */

static at_err s_fsync_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    bool ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    return ok ? AT_OK : AT_ERR_IO;
}

/*  Writes the checkpoint to the state file: temporary file, fsync, rename. */
static at_err s_save_state(const char *path, const char *note, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%.4090s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && write(fd, note, len) == (ssize_t) len && fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (ok && (rename(tmp, path) != 0 || s_fsync_dir(path) != AT_OK))
        ok = false, saved = errno;
    if (!ok) {
        at_log_limited(AT_LOG_ERROR, "WIT-STATE", "cannot write %s: %s: not cosigning", path, strerror(saved));
        unlink(tmp);
        return AT_ERR_IO;
    }
    return AT_OK;
}

/*  The last cosigned checkpoint, from the state file, held by the fetcher;
 *  none (a first start) when the file does not exist. */
static at_err s_load_state(s_witness_t *w)
{
    FILE *f = fopen(w->state, "re");
    if (!f && errno == ENOENT) {
        at_log_warn("WIT-STATE", "%s: no state yet: the first checkpoint fetched is taken as it is", w->state);
        return AT_OK;
    }
    if (!f) {
        at_log_error("WIT-STATE", "%s: %s", w->state, strerror(errno));
        return AT_ERR_IO;
    }
    char buf[S_STATE_MAX];
    size_t n = fread(buf, 1, sizeof buf, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    at_err err = failed ? AT_ERR_IO : receipt_fetcher_hold(w->f, buf, n);
    if (err) {
        at_log_error("WIT-STATE", "%s: not a checkpoint signed by the log key (%s): refusing to start (a witness "
                     "must not forget what it cosigned; remove the file only for a new log)", w->state,
                     at_strerror(err));
        return AT_ERR_CORRUPT;
    }
    checkpoint_t cp;
    size_t len;
    receipt_checkpoint(w->f, &cp, &len);
    at_log_info("WIT-STATE", "%s: last cosigned the checkpoint of tree size %" PRIu64, w->state, cp.size);
    return AT_OK;
}

/* ---------------------------------------------------------------- cosigning */

static size_t s_collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
    s_reply_t *r = arg;
    size_t n = size * nmemb, room = sizeof r->text - 1 - r->len;
    memcpy(r->text + r->len, ptr, n < room ? n : room);
    r->len += n < room ? n : room;
    r->text[r->len] = '\0';
    return n;
}

/*  POSTs "<size>\n<line>" to /cosignature. AT_ERR_DENIED for a 403. */
static at_err s_post(s_witness_t *w, uint64_t size, const char *line)
{
    char body[32 + COSIG_LINE_MAX];
    s_reply_t reply = { "", 0 };
    int n = snprintf(body, sizeof body, "%" PRIu64 "\n%s", size, line);
    curl_easy_setopt(w->post, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(w->post, CURLOPT_POSTFIELDSIZE, (long) n);
    curl_easy_setopt(w->post, CURLOPT_WRITEDATA, &reply);
    CURLcode rc = curl_easy_perform(w->post);
    long status = 0;
    curl_easy_getinfo(w->post, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status == 200)
        return AT_OK;
    reply.text[strcspn(reply.text, "\n")] = '\0';
    at_log_limited(AT_LOG_ERROR, "WIT-POST", "POST %s (tree size %" PRIu64 "): %s%s%s", w->url, size,
                   rc != CURLE_OK ? curl_easy_strerror(rc) : "refused: ", rc != CURLE_OK ? "" : reply.text,
                   status == 403 ? " (is this witness's NAME.pub in the server's --witness-keys?)" : "");
    return status == 403 ? AT_ERR_DENIED : AT_ERR_IO;
}

static at_err s_cosign(s_witness_t *w, const char *note, size_t len, const checkpoint_t *cp)
{
    size_t body_len, line_len;
    char line[COSIG_LINE_MAX];
    at_err err = note_open(&w->log_key, note, len, &body_len);   /* the fetcher opened it: cannot fail */
    if (err == AT_OK)
        err = cosig_sign(w->key, note, body_len, (uint64_t) time(NULL), line, sizeof line, &line_len);
    if (err) {
        at_log_limited(AT_LOG_ERROR, "WIT-COSIGN", "cannot cosign the checkpoint of tree size %" PRIu64 ": %s",
                       cp->size, at_strerror(err));
        return err;
    }
    if ((err = s_post(w, cp->size, line)))
        return err;
    at_log_info("WIT-COSIGNED", "cosigned the checkpoint of tree size %" PRIu64 " of %s", cp->size, cp->origin);
    w->cosigned = true;
    w->cosigned_size = cp->size;
    return AT_OK;
}

/*  One round: fetch, check, save, cosign. */
static at_err s_step(s_witness_t *w)
{
    checkpoint_t held;
    size_t len;
    memset(&held, 0, sizeof held);
    bool had = receipt_checkpoint(w->f, &held, &len) != NULL;
    at_err err = receipt_refresh(w->f);
    if (err == AT_ERR_CORRUPT || err == AT_ERR_SIGNATURE) {
        w->refused++;
        if (err == AT_ERR_SIGNATURE)
            at_log_limited(AT_LOG_ERROR, "WIT-SIGNATURE", "the checkpoint of %s is not signed by the log key: not "
                           "cosigned", w->url);
        else
            at_log_limited(AT_LOG_ERROR, "WIT-INCONSISTENT", "the log's checkpoint is not consistent with the one "
                           "of tree size %" PRIu64 " last held (a fork or a rollback): not cosigned, refusing",
                           had ? held.size : 0);
        return err;
    }
    if (err) {
        at_log_limited(AT_LOG_WARN, "WIT-FETCH", "cannot fetch the log's checkpoint: %s", at_strerror(err));
        return err;
    }
    checkpoint_t cp;
    const char *note = receipt_checkpoint(w->f, &cp, &len);
    if (w->cosigned && cp.size == w->cosigned_size)
        return AT_OK;   /* cosigned already */
    if ((err = s_save_state(w->state, note, len)))
        return err;
    return s_cosign(w, note, len, &cp);
}

/* ---------------------------------------------------------------- command */

static at_err s_open(s_witness_t *w, const cfg_t *cfg)
{
    at_err err;
    const char *url = cfg_str(cfg, "log-url");
    w->state = cfg_str(cfg, "state");
    if (note_verifier_load(&w->log_key, cfg_str(cfg, "log-key")) != AT_OK
        || !(w->key = note_signer_load(cfg_str(cfg, "key"), &err)))
        return AT_ERR_CONFIG;
    cosig_signer_verifier(w->key, &w->me);
    snprintf(w->url, sizeof w->url, "%.500s%scosignature", url, url[strlen(url) - 1] == '/' ? "" : "/");
    if (!(w->f = receipt_fetcher_new(url, &w->log_key)) || !(w->post = curl_easy_init()))
        return AT_ERR_IO;
    curl_easy_setopt(w->post, CURLOPT_URL, w->url);
    curl_easy_setopt(w->post, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(w->post, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(w->post, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(w->post, CURLOPT_NOSIGNAL, 1L);
    return s_load_state(w);
}

static void s_close(s_witness_t *w)
{
    receipt_fetcher_destroy(&w->f);
    note_signer_destroy(&w->key);
    if (w->post)
        curl_easy_cleanup(w->post);
}

static void s_sleep_ms(int64_t ms)
{
    for (int64_t slept = 0; slept < ms && !s_stop; slept += 50)
        usleep((useconds_t) ((ms - slept < 50 ? ms - slept : 50) * 1000));
}

static int s_run(const cfg_t *cfg, void *unused)
{
    (void) unused;
    const char *need[] = { "log-url", "log-key", "key", "state" };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!*cfg_str(cfg, need[i])) {
            fprintf(stderr, "attest witness: --%s is required (attest witness --help)\n", need[i]);
            return 2;
        }
    s_witness_t w = { 0 };
    at_err err = s_open(&w, cfg);
    if (err) {
        s_close(&w);
        return 1;
    }
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    at_log_info("WIT-START", "witness %s (cosignature key ID %08" PRIx32 ") of the log %s at %s; cosignatures to %s",
                w.me.name, w.me.key_id, w.log_key.name, cfg_str(cfg, "log-url"), w.url);
    bool once = cfg_bool(cfg, "once");
    do {
        err = s_step(&w);
        if (!once)
            s_sleep_ms(cfg_int(cfg, "interval-ms"));
    } while (!once && !s_stop);
    if (!once)
        at_log_info("WIT-STOP", "stopping; %u checkpoint(s) refused", w.refused);
    s_close(&w);
    return once ? (err ? 1 : 0) : (w.refused ? 1 : 0);
}

int cmd_witness(int argc, char **argv)
{
    const cfg_app_t app = {
        .prog = "attest witness",
        .summary = "Usage: attest witness --log-url URL --log-key LOG.pub --key WITNESS.key --state FILE\n"
                   "                      [--interval-ms 1000] [--once]\n\n"
                   "Witnesses a log (C2SP tlog-cosignature): fetches its checkpoint every interval,\n"
                   "checks the log's signature and that it extends the checkpoint last cosigned\n"
                   "(kept in --state across restarts), then cosigns it and sends the cosignature\n"
                   "to the log server (POST /cosignature), which serves it on /checkpoint. A fork\n"
                   "or a rollback is refused (WIT-INCONSISTENT), never cosigned. Runs until Ctrl-C;\n"
                   "exit 1 when a checkpoint was refused. With --once: one round, exit 0 when\n"
                   "cosigned.",
        .defs = s_defs,
        .ndefs = sizeof s_defs / sizeof s_defs[0],
        .log_component = "witness",
        .fn = s_run,
    };
    return cfg_run(&app, argc, argv);
}
