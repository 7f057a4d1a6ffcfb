/*  cmd_submit.c: `attest submit`: reads attestations as JSON lines (see
 *  jsonl.h), signs those that are not signed with --key, submits them to the
 *  broker through the client library and prints one JSON line per outcome:
 *      {"line": n, "cseq": c, "id": hex, "index": i, "verdict": "valid"|"invalid",
 *       "reason": name, "duplicate": bool}
 *      {"line": n, "refused": true, "reason": name}
 *      {"line": n, "error": "..."}          (the line could not be used)
 *      {"line": n, "id": hex, "unacknowledged": true}   (at the end, for each
 *                                            line submitted but not answered)
 *  A summary goes to stderr. Exit 0 when every line was acknowledged (valid
 *  or invalid), 1 when any line failed to parse, was refused or timed out,
 *  or when the broker did not answer HELLO within --connect-timeout-ms (then
 *  no line is read), 130 when interrupted (SIGINT/SIGTERM).
 *
 *  --receipts DIR (with --log-url and --log-key) writes, for every
 *  acknowledged attestation, its receipt (cli/receipt.h) to DIR/<id>.json,
 *  fetched from the log server and verified, and adds "receipt": path (or
 *  "receipt_error": name) to its output line.
 *
 *  --signed-out FILE appends every attestation exactly as submitted (signed,
 *  with its nonce and issued_at) as a pre-signed JSON line, before it is
 *  sent: resubmitting that file after an interruption gives the same ids, so
 *  what was already logged comes back as duplicates instead of being logged
 *  twice (lines signed with --key get a new nonce and time on every run).
 */
#include "client.h"
#include "cluster.h"
#include "alloc.h"
#include "clock.h"
#include "log.h"
#include "commands.h"
#include "config.h"
#include "jsonl.h"
#include "receipt.h"
#include "wire.h"
#include <czmq.h>
#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_LINE_MAX (1u << 20)
#define S_READ_CHUNK 65536

static const cfg_def_t s_defs[] = {
    CFG_ENDPOINT_NAMED("broker", ENDPOINT_CONNECT, "tcp://127.0.0.1:5555", "broker frontend endpoint (HOST:PORT too)"),
    CFG_STR_NAMED_SHORT("key", 'k', NULL, "key file (attest keygen) to sign lines that carry no signature"),
    CFG_STR_NAMED("producer", NULL, "producer name shown in the log (default: submit-<pid>)"),
    CFG_STR_NAMED("curve-secret", NULL, "this producer's CURVE secret certificate (attest keygen --curve); "
                  "required unless --insecure (attest up: DATA/keys/producer_secret)"),
    CFG_STR_NAMED("broker-key", NULL, "the broker's public certificate (attest up: DATA/keys/broker)"),
    CFG_BOOL_NAMED("insecure", "false", "plaintext: for a broker run --insecure"),
    CFG_STR_NAMED("input", "-", "file of JSON lines ('-' = standard input)"),
    CFG_STR_NAMED("signed-out", NULL,
                  "append each attestation as submitted (pre-signed JSON line) to FILE, for an exact resubmission"),
    CFG_STR_NAMED("receipts", NULL, "write each acknowledged attestation's verified receipt to DIR/<id>.json"),
    CFG_STR_NAMED("log-url", NULL, "the log server (attest log serve) receipts are fetched from, e.g. "
                  "http://127.0.0.1:8080 (attest up prints it)"),
    CFG_STR_NAMED("log-key", NULL, "the log's public key (attest keygen --log; attest up: DATA/keys/log.pub)"),
    CFG_INT_NAMED("timeout-ms", "30000", 0, 86400000,
                  "how long to wait for broker credit for a line, and at the end for outstanding acknowledgements"),
    CFG_INT_NAMED("connect-timeout-ms", "5000", 0, 86400000,
                  "how long to wait at the start for the broker to answer HELLO, else exit 1 (0: no separate wait)"),
};

typedef struct {
    at_client_t *client;
    FILE *in;
    bool has_key;
    uint8_t sk[AT_SECRET_BYTES];
    int timeout_ms;
    FILE *signed_out;           /* --signed-out, or NULL */
    receipt_fetcher_t *receipts;   /* --receipts, or NULL */
    const char *receipts_dir;
    uint64_t receipt_errors;
    zhashx_t *pending;          /* line number -> hex id, for every line submitted and not answered */
    uint64_t lines, submitted, valid, invalid, refused, errors;
} s_submit_t;

static void s_free_item(void **item)
{
    free(*item);
    *item = NULL;
}

static int s_cmp_lines(const char *a, const char *b)
{
    unsigned long long x = strtoull(a, NULL, 10), y = strtoull(b, NULL, 10);
    return x < y ? -1 : x > y;
}

static void s_line_key(uint64_t line, char key[24])
{
    snprintf(key, 24, "%llu", (unsigned long long) line);
}

/*  Fetches, verifies and writes the receipt of an acknowledged attestation;
 *  notes the outcome in its output line o. */
static void s_receipt(s_submit_t *self, const at_ack_t *ack, json_t *o)
{
    char *text = NULL, hex[2 * AT_ID_BYTES + 1], path[4096];
    at_err rc = receipt_need(self->receipts, ack->index, self->timeout_ms, 5);
    if (rc == AT_OK)
        rc = receipt_build(self->receipts, ack->index, ack->id, &text);
    sodium_bin2hex(hex, sizeof hex, ack->id, AT_ID_BYTES);
    snprintf(path, sizeof path, "%s/%s.json", self->receipts_dir, hex);
    FILE *f = rc == AT_OK ? fopen(path, "w") : NULL;
    if (rc == AT_OK && (!f || fputs(text, f) < 0 || fputc('\n', f) < 0))
        rc = AT_ERR_IO;
    if (f && fclose(f) != 0)
        rc = AT_ERR_IO;
    free(text);
    if (rc == AT_OK) {
        json_object_set_new(o, "receipt", json_string(path));
        return;
    }
    self->receipt_errors++;
    json_object_set_new(o, "receipt_error", json_string(at_strerror(rc)));
}

static void s_on_ack(const at_ack_t *ack, void *arg)
{
    s_submit_t *self = arg;
    char key[24];
    s_line_key((uint64_t) (uintptr_t) ack->user, key);
    zhashx_delete(self->pending, key);
    json_t *o = json_object();
    json_object_set_new(o, "line", json_integer((json_int_t) (uintptr_t) ack->user));
    if (ack->refused) {
        self->refused++;
        json_object_set_new(o, "refused", json_true());
    } else {
        json_object_set_new(o, "cseq", json_integer((json_int_t) ack->cseq));
        json_object_set_new(o, "id", jsonl_hex(ack->id, AT_ID_BYTES));
        json_object_set_new(o, "index", json_integer((json_int_t) ack->index));
        json_object_set_new(o, "verdict", json_string(ack->verdict == WIRE_VALID ? "valid" : "invalid"));
        ack->verdict == WIRE_VALID ? self->valid++ : self->invalid++;
    }
    json_object_set_new(o, "reason", json_string(at_strerror(ack->reason)));
    if (!ack->refused)
        json_object_set_new(o, "duplicate", json_boolean(ack->duplicate));
    if (!ack->refused && self->receipts)
        s_receipt(self, ack, o);
    jsonl_print(stdout, o);
    json_decref(o);
}

static void s_line_error(s_submit_t *self, uint64_t line, const char *msg)
{
    self->errors++;
    json_t *o = json_pack("{s:I, s:s}", "line", (json_int_t) line, "error", msg);
    jsonl_print(stdout, o);
    json_decref(o);
    fprintf(stderr, "attest submit: line %llu: %s\n", (unsigned long long) line, msg);
}

/*  True when reading the input now would block. */
static bool s_input_idle(FILE *in)
{
    struct pollfd p = { .fd = fileno(in), .events = POLLIN };
    return poll(&p, 1, 0) == 0;
}

/*  The attestation as a pre-signed JSON line in --signed-out, and its id
 *  remembered until it is answered. */
static void s_note(s_submit_t *self, const uint8_t *att, size_t att_len)
{
    attestation_t a;
    if (attestation_decode(&a, att, att_len) != AT_OK)
        return;   /* cannot happen: jsonl_parse_attestation encoded it */
    uint8_t id[AT_ID_BYTES];
    char hex[2 * AT_ID_BYTES + 1], key[24];
    attestation_id(&a, id);
    sodium_bin2hex(hex, sizeof hex, id, sizeof id);
    s_line_key(self->lines, key);
    zhashx_update(self->pending, key, at_strdup(hex));
    if (!self->signed_out)
        return;
    json_t *o = json_object();
    jsonl_add_attestation(o, &a);
    jsonl_print(self->signed_out, o);
    json_decref(o);
    fflush(self->signed_out);
}

/*  The line's error when no credit came within timeout-ms, naming why:
 *  the broker has no sink (it said so), its pipeline stayed full, or it
 *  stopped answering. */
static void s_no_credit(s_submit_t *self, const char *broker)
{
    char why[800];
    const char *no_sink = at_client_no_sink(self->client);
    if (no_sink)
        snprintf(why, sizeof why, "no credit from the broker at %s within %d ms: it has no sink (%s); stopping",
                 broker, self->timeout_ms, no_sink);
    else
        snprintf(why, sizeof why, "no credit from the broker at %s within %d ms: %s (see --timeout-ms); stopping",
                 broker, self->timeout_ms,
                 at_client_connected(self->client) ? "it answers, but its pipeline stayed full" : "it stopped answering");
    s_line_error(self, self->lines, why);
}

/*  Parses and submits one line; false to stop reading. */
static bool s_submit_line(s_submit_t *self, const char *line, size_t len, const char *broker)
{
    char err[JSONL_ERR_MAX];
    uint8_t att[AT_ENCODED_MAX];
    size_t att_len;
    if (len > S_LINE_MAX) {
        s_line_error(self, self->lines, "line too long");
        return true;
    }
    if (jsonl_parse_attestation(line, len, self->has_key ? self->sk : NULL, att, &att_len, err) != AT_OK) {
        s_line_error(self, self->lines, err);
        return true;
    }
    s_note(self, att, att_len);
    at_err rc = at_client_submit(self->client, att, att_len, (void *) (uintptr_t) self->lines, self->timeout_ms, NULL);
    if (rc == AT_ERR_BUSY) {
        char key[24];
        s_line_key(self->lines, key);
        zhashx_delete(self->pending, key);   /* not sent */
        s_no_credit(self, broker);
        return false;
    }
    if (rc) {
        char key[24];
        s_line_key(self->lines, key);
        zhashx_delete(self->pending, key);   /* not sent */
        s_line_error(self, self->lines, at_strerror(rc));
        return rc != AT_ERR_INTERRUPTED;
    }
    self->submitted++;
    return true;
}

/*  True when s[0..n) holds only spaces, tabs and CR/LF. Length-aware: a NUL
 *  byte is content (the JSON parser then reports the line), not an end. */
static bool s_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/*  Waits until the input has something to read, serving the connection
 *  meanwhile: outcomes are printed as they come, heartbeats keep the
 *  session, and a REVOKE is answered, however long the input stays quiet
 *  (e.g. `tail -f events | attest submit`). */
static void s_wait_input(s_submit_t *self, int fd)
{
    if (!s_input_idle(self->in))
        return;
    at_client_send(self->client);   /* nothing more to batch now: send */
    bool ready = false;
    while (!ready && !zsys_interrupted)
        at_client_pump_fd(self->client, 1000, fd, &ready);
}

/*  Reads the input with read(2) into a line buffer (not stdio, whose
 *  buffer a poll cannot see) and submits each complete line. */
static void s_read_all(s_submit_t *self, const char *broker)
{
    int fd = fileno(self->in);
    size_t cap = S_LINE_MAX + S_READ_CHUNK, used = 0;
    char *buf = at_malloc(cap + 1);
    bool eof = false, skipping = false, stop = false;
    while (!stop && !zsys_interrupted) {
        size_t start = 0;
        char *nl;
        while (!stop && (nl = memchr(buf + start, '\n', used - start))) {
            size_t len = (size_t) (nl - (buf + start)) + 1;
            *nl = '\0';
            if (skipping)
                skipping = false;   /* the end of a line already reported too long */
            else {
                self->lines++;
                stop = !s_blank(buf + start, len - 1) && !s_submit_line(self, buf + start, len - 1, broker);
            }
            start += len;
        }
        memmove(buf, buf + start, used - start);
        used -= start;
        if (stop)
            break;
        if (used > S_LINE_MAX) {
            if (!skipping) {
                self->lines++;
                s_line_error(self, self->lines, "line too long");
            }
            skipping = true;
            used = 0;
        }
        if (eof) {
            buf[used] = '\0';
            if (used && !skipping && !s_blank(buf, used)) {
                self->lines++;
                s_submit_line(self, buf, used, broker);
            }
            break;
        }
        s_wait_input(self, fd);
        if (zsys_interrupted)
            break;   /* the read would block: CZMQ's handler restarts it */
        ssize_t n = read(fd, buf + used, cap - used);
        if (n == 0)
            eof = true;
        else if (n > 0)
            used += (size_t) n;
        else if (errno != EINTR && errno != EAGAIN) {
            if (!zsys_interrupted)
                fprintf(stderr, "attest submit: error reading input: %s\n", strerror(errno));
            break;
        }
    }
    free(buf);
}

/*  Every line submitted and not answered, with its id, in line order. */
static void s_list_unanswered(s_submit_t *self)
{
    zlistx_t *keys = zhashx_keys(self->pending);
    if (!keys)
        abort();
    zlistx_set_comparator(keys, (zlistx_comparator_fn *) s_cmp_lines);
    zlistx_sort(keys);
    for (const char *k = zlistx_first(keys); k; k = zlistx_next(keys)) {
        json_t *o = json_pack("{s:I, s:s, s:b}", "line", (json_int_t) strtoull(k, NULL, 10), "id",
                              (const char *) zhashx_lookup(self->pending, k), "unacknowledged", 1);
        jsonl_print(stdout, o);
        json_decref(o);
    }
    zlistx_destroy(&keys);
}

static int s_finish(s_submit_t *self)
{
    at_err rc = zsys_interrupted ? AT_ERR_INTERRUPTED : at_client_flush(self->client, self->timeout_ms);
    size_t outstanding = zhashx_size(self->pending);
    s_list_unanswered(self);
    if (rc == AT_ERR_TIMEOUT)
        fprintf(stderr, "attest submit: %zu attestations not acknowledged within %d ms\n", outstanding,
                self->timeout_ms);
    fprintf(stderr, "attest submit: lines=%llu submitted=%llu valid=%llu invalid=%llu refused=%llu errors=%llu "
            "unacknowledged=%zu\n", (unsigned long long) self->lines, (unsigned long long) self->submitted,
            (unsigned long long) self->valid, (unsigned long long) self->invalid, (unsigned long long) self->refused,
            (unsigned long long) self->errors, outstanding);
    if (self->receipts)
        fprintf(stderr, "attest submit: receipts written to %s, %llu failed\n", self->receipts_dir,
                (unsigned long long) self->receipt_errors);
    if (zsys_interrupted) {
        fprintf(stderr, "attest submit: interrupted; the unacknowledged lines are listed above%s\n",
                self->signed_out ? " (resubmit the --signed-out file: what was logged comes back as a duplicate)"
                                 : "");
        return 130;
    }
    return (self->errors || self->refused || outstanding || self->receipt_errors || rc != AT_OK) ? 1 : 0;
}

/*  Waits up to timeout_ms (0: not at all) for the broker to answer HELLO,
 *  saying after 2 s what it waits for. 0 when it answered (or on SIGINT,
 *  which the caller reports), 1 after saying that it did not: a broker that
 *  is not there is told apart from one that answers but grants no credit. */
static int s_connect(s_submit_t *self, const char *broker, int timeout_ms)
{
    uint64_t start = at_clock_mono_us(), end = start + (uint64_t) timeout_ms * 1000;
    bool said = false;
    while (timeout_ms && !at_client_connected(self->client) && !zsys_interrupted && at_clock_mono_us() < end) {
        at_client_pump(self->client, 100);
        if (!said && at_clock_mono_us() - start >= 2000000u && !at_client_connected(self->client)) {
            at_log_warn("CLI-WAIT", "waiting for the broker at %s: no answer to HELLO yet (--connect-timeout-ms %d)",
                        broker, timeout_ms);
            said = true;
        }
    }
    if (!timeout_ms || at_client_connected(self->client) || zsys_interrupted)
        return 0;
    fprintf(stderr, "attest submit: the broker at %s did not answer HELLO within %d ms: is it running, and is --broker "
                    "its frontend? (with CURVE: is --broker-key its certificate, and our key in its allow-producers?)\n",
            broker, timeout_ms);
    return 1;
}

static int s_open_receipts(s_submit_t *self, const cfg_t *cfg)
{
    const char *dir = cfg_str(cfg, "receipts"), *url = cfg_str(cfg, "log-url"), *key = cfg_str(cfg, "log-key");
    if (!*dir)
        return 0;
    note_verifier_t v;
    if (!*url || !*key) {
        fprintf(stderr, "attest submit: --receipts needs --log-url and --log-key\n");
        return 1;
    }
    if (note_verifier_load(&v, key) != AT_OK) {
        fprintf(stderr, "attest submit: --log-key %s is not a log public key (attest keygen --log)\n", key);
        return 1;
    }
    if (zsys_dir_create("%s", dir) != 0) {
        fprintf(stderr, "attest submit: cannot create --receipts %s: %s\n", dir, strerror(errno));
        return 1;
    }
    self->receipts_dir = dir;
    self->receipts = receipt_fetcher_new(url, &v);
    return self->receipts ? 0 : 1;
}

static int s_open(s_submit_t *self, const cfg_t *cfg)
{
    char err[JSONL_ERR_MAX];
    const char *key = cfg_str(cfg, "key"), *input = cfg_str(cfg, "input");
    if (*key) {
        if (jsonl_read_keyfile(key, self->sk, err) != AT_OK) {
            fprintf(stderr, "attest submit: %s\n", err);
            return 1;
        }
        self->has_key = true;
    }
    const char *signed_out = cfg_str(cfg, "signed-out");
    if (*signed_out && !(self->signed_out = fopen(signed_out, "a"))) {
        fprintf(stderr, "attest submit: cannot open --signed-out %s: %s\n", signed_out, strerror(errno));
        return 1;
    }
    if (s_open_receipts(self, cfg) != 0)
        return 1;
    self->in = strcmp(input, "-") == 0 ? stdin : fopen(input, "r");
    if (!self->in) {
        fprintf(stderr, "attest submit: cannot open input %s: %s\n", input, strerror(errno));
        return 1;
    }
    return 0;
}

static int s_run(const cfg_t *cfg, void *unused)
{
    (void) unused;
    s_submit_t self = { .timeout_ms = (int) cfg_int(cfg, "timeout-ms"), .pending = zhashx_new() };
    if (!self.pending)
        abort();
    zhashx_set_destructor(self.pending, s_free_item);
    if (strlen(cfg_str(cfg, "producer")) > WIRE_NAME_MAX) {
        fprintf(stderr, "attest submit: --producer must be 1..%d bytes\n", WIRE_NAME_MAX);
        return 2;
    }
    char producer[WIRE_NAME_MAX + 1];
    if (*cfg_str(cfg, "producer"))
        snprintf(producer, sizeof producer, "%s", cfg_str(cfg, "producer"));
    else
        snprintf(producer, sizeof producer, "submit-%ld", (long) getpid());
    cluster_creds_t creds;
    int code = cluster_creds_load("attest submit", cfg_str(cfg, "curve-secret"), cfg_str(cfg, "broker-key"),
                                  cfg_bool(cfg, "insecure"), &creds);
    if (code == 0)
        code = s_open(&self, cfg);
    if (code == 0) {
        self.client = cluster_client(&creds, cfg_str(cfg, "broker"), producer);
        if (!self.client) {
            fprintf(stderr, "attest submit: cannot connect to '%s' (want e.g. tcp://127.0.0.1:5555)\n",
                    cfg_str(cfg, "broker"));
            code = 1;
        }
    }
    if (code == 0)
        code = s_connect(&self, cfg_str(cfg, "broker"), (int) cfg_int(cfg, "connect-timeout-ms"));
    if (code == 0) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        at_client_set_handler(self.client, s_on_ack, &self);
        s_read_all(&self, cfg_str(cfg, "broker"));
        code = s_finish(&self);
    }
    at_client_destroy(&self.client);
    if (self.in && self.in != stdin)
        fclose(self.in);
    if (self.signed_out)
        fclose(self.signed_out);
    zhashx_destroy(&self.pending);
    receipt_fetcher_destroy(&self.receipts);
    sodium_memzero(self.sk, sizeof self.sk);
    return code;
}

int cmd_submit(int argc, char **argv)
{
    const cfg_app_t app = {
        .prog = "attest submit",
        .summary = "Usage: attest submit [--broker ENDPOINT] [--key FILE] [--producer NAME] [--input FILE]\n"
                         "                     [--signed-out FILE] [--timeout-ms N] [--connect-timeout-ms N]\n"
                         "                     [--receipts DIR --log-url URL --log-key FILE]\n\n"
                         "Reads attestations as JSON lines, submits them and prints one JSON line per outcome.\n"
                         "Line fields: schema, subject, data | data_b64, issued_at, expires_at, nonce, and\n"
                         "attester + signature (pre-signed: sent as given) or neither (signed with --key).\n"
                         "Input goes in --input or on standard input; there are no positional arguments.",
        .defs = s_defs,
        .ndefs = sizeof s_defs / sizeof s_defs[0],
        .fn = s_run,
    };
    return cfg_run(&app, argc, argv);
}
