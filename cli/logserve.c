/*  logserve.c: the read-only tlog-tiles server (see logserve.h).
 *
 *  One request is: route by method and path (a table of exact paths, then
 *  tile paths parsed strictly by merkle_tile_parse); under the mutex, one
 *  read snapshot in which the newest checkpoint's tree size bounds what may
 *  be served and the body is copied into one malloc'd buffer; the snapshot
 *  ended; the buffer handed to libmicrohttpd (MHD_RESPMEM_MUST_FREE) with
 *  its headers. Every answer is counted by kind and status.
 */
#include "logserve.h"
#include "alloc.h"
#include "config.h"
#include "cosigstore.h"
#include "log.h"
#include "logdb.h"
#include "merkle.h"
#include "metrics.h"
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define S_CONN_MEMORY (32 * 1024)   /* per connection: request line and headers must fit */
#define S_IMMUTABLE "public, max-age=31536000, immutable"
#define S_TEXT "text/plain; charset=utf-8"
#define S_BINARY "application/octet-stream"
#define S_BUNDLE_ENTRY_MAX 0xffff   /* an entry bundle's uint16 length prefix */
#define S_POST_MAX (21 + COSIG_LINE_MAX)   /* a POST /cosignature body: "<size>\n<line>\n" */

typedef enum { S_K_CHECKPOINT, S_K_TILE, S_K_ENTRIES, S_K_HEALTHZ, S_K_COSIGNATURE, S_K_OTHER, S_KINDS } s_kind;
static const char *const s_kind_names[S_KINDS] = { "checkpoint", "tile", "entries", "healthz", "cosignature",
                                                   "other" };
static const unsigned s_statuses[] = { 200, 400, 403, 404, 405, 500, 503 };
#define S_STATUSES (sizeof s_statuses / sizeof s_statuses[0])

struct logserve_t {
    logserve_opts_t o;
    logdb_t *db;
    pthread_mutex_t lock;          /* around each request's read transaction (db holds one) */
    struct MHD_Daemon *daemon;
    int port;
    char partial_cache[64];        /* Cache-Control of partial tiles and bundles */
    metrics_t *metrics;            /* NULL when --metrics is off */
    metrics_series_t *requests[S_KINDS][S_STATUSES];
    metrics_series_t *bytes[S_KINDS];
    metrics_series_t *bad, *http_errors;
    cosigstore_t *cosigs;          /* NULL without --witness-keys */
};

/*  A POST /cosignature request body, gathered over libmicrohttpd's calls
 *  (the connection's *con_cls until answered; freed by s_completed). */
typedef struct {
    size_t len;
    bool over;                     /* longer than S_POST_MAX: refused */
    char buf[S_POST_MAX];
} s_post_t;

static int s_answered;             /* *con_cls once a request's answer is queued */

/*  One answer. body (malloc'd, handed to MHD) or text (static). */
typedef struct {
    unsigned status;
    uint8_t *body;
    size_t len;
    const char *text;
    const char *type;              /* Content-Type */
    const char *cache;             /* Cache-Control */
    uint64_t size;                 /* a checkpoint's tree size (cosignatures to attach) */
} s_reply_t;

/*  A parsed tile path. */
typedef struct {
    int level;                     /* MERKLE_TILE_ENTRIES for a bundle */
    uint64_t n;
    unsigned width;                /* 256: full */
} s_tile_req_t;

/* ---------------------------------------------------------------- replies */

static void s_text(s_reply_t *r, unsigned status, const char *text)
{
    *r = (s_reply_t) { .status = status, .text = text, .len = strlen(text), .type = S_TEXT, .cache = "no-store" };
}

static void s_body(s_reply_t *r, const void *data, size_t len, const char *type, const char *cache)
{
    *r = (s_reply_t) { .status = MHD_HTTP_OK, .body = at_malloc(len ? len : 1), .len = len, .type = type,
                       .cache = cache };
    memcpy(r->body, data, len);
}

/*  The URL as a log line may show it: at most 64 bytes, printable ASCII. */
static void s_printable(const char *url, char *out, size_t cap)
{
    size_t i = 0;
    for (; url[i] && i + 1 < cap; i++)
        out[i] = url[i] >= 0x20 && url[i] < 0x7f ? url[i] : '?';
    out[i] = 0;
    if (url[i] && cap > 4)
        memcpy(out + cap - 4, "...", 4);
}

static void s_bad(logserve_t *self, s_reply_t *r, unsigned status, const char *method, const char *url,
                  const char *why)
{
    char shown[65], verb[17];
    s_printable(url, shown, sizeof shown);
    s_printable(method, verb, sizeof verb);
    metrics_add(self->bad, 1);
    at_log_limited(AT_LOG_WARN, "LSV-BADREQ", "%s %s: %s", verb, shown, why);
    s_text(r, status, status == MHD_HTTP_NOT_FOUND ? "not found: try /checkpoint, /tile/L/N, /tile/entries/N\n"
                                                   : "method not allowed: GET or HEAD\n");
}

/* ---------------------------------------------------------------- snapshot */

/*  The newest checkpoint (its note borrowed from the snapshot) and its tree
 *  size, which bounds what may be served; false with r set when there is
 *  none or it cannot be read. */
static bool s_newest(logserve_t *self, s_reply_t *r, const char **note, size_t *len, uint64_t *size)
{
    at_err err = logdb_checkpoint(self->db, 0, note, len, size);
    if (err == AT_ERR_NOT_FOUND)
        s_text(r, MHD_HTTP_NOT_FOUND, "no checkpoint yet: the log has no signed tree head to serve\n");
    else if (err)
        s_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the log cannot be read now\n");
    return err == AT_OK;
}

static bool s_newest_size(logserve_t *self, s_reply_t *r, uint64_t *size)
{
    const char *note;
    size_t len;
    return s_newest(self, r, &note, &len, size);
}

/*  True when the tile's hashes (or the bundle's entries) are all inside the
 *  tree of `size` leaves: 256 * n + width <= the stored hashes of level
 *  8 * L that tree has, floor(size / 256^L). */
static bool s_covered(uint64_t size, int level, uint64_t n, unsigned width)
{
    unsigned shift = level == MERKLE_TILE_ENTRIES ? 0 : (unsigned) level * MERKLE_TILE_HEIGHT;
    uint64_t have = shift >= 64 ? 0 : size >> shift;
    return width <= have && n <= (have - width) / MERKLE_TILE_WIDTH;
}

static void s_checkpoint(logserve_t *self, const s_tile_req_t *q, s_reply_t *r)
{
    (void) q;
    const char *note;
    size_t len;
    uint64_t size;
    if (s_newest(self, r, &note, &len, &size)) {
        s_body(r, note, len, S_TEXT, "no-cache");
        r->size = size;
    }
}

/*  The store lacks what the checkpoint covers: the log is damaged. */
static void s_missing(s_reply_t *r, const s_tile_req_t *q, uint64_t at, at_err err)
{
    at_log_limited(AT_LOG_ERROR, "LSV-MISSING", "%s %d/%llu: item %llu below the checkpoint's size is missing or "
                   "short (%s): run 'attest log verify'", q->level == MERKLE_TILE_ENTRIES ? "bundle" : "tile",
                   q->level, (unsigned long long) q->n, (unsigned long long) at, at_strerror(err));
    s_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "the log is damaged here\n");
}

static void s_tile(logserve_t *self, const s_tile_req_t *q, s_reply_t *r)
{
    uint64_t size;
    if (!s_newest_size(self, r, &size))
        return;
    if (!s_covered(size, q->level, q->n, q->width)) {
        s_text(r, MHD_HTTP_NOT_FOUND, "not found: beyond the newest checkpoint's tree\n");
        return;
    }
    const uint8_t *hashes;
    size_t stored;
    at_err err = logdb_tile(self->db, (unsigned) q->level, q->n, &hashes, &stored);
    if (err == AT_OK && stored < q->width)
        err = AT_ERR_CORRUPT;
    if (err) {
        s_missing(r, q, q->n, err);
        return;
    }
    /* Tiles only grow: the first width hashes of the stored tile are the partial tile of that width. */
    s_body(r, hashes, (size_t) q->width * MERKLE_HASH_BYTES, S_BINARY,
           q->width == MERKLE_TILE_WIDTH ? S_IMMUTABLE : self->partial_cache);
}

static void s_entries(logserve_t *self, const s_tile_req_t *q, s_reply_t *r)
{
    uint64_t size;
    if (!s_newest_size(self, r, &size))
        return;
    if (!s_covered(size, q->level, q->n, q->width)) {
        s_text(r, MHD_HTTP_NOT_FOUND, "not found: beyond the newest checkpoint's tree\n");
        return;
    }
    const uint8_t *raw[MERKLE_TILE_WIDTH];
    size_t len[MERKLE_TILE_WIDTH], total = 0;
    uint64_t first = q->n * MERKLE_TILE_WIDTH;
    for (unsigned i = 0; i < q->width; i++) {
        at_err err = logdb_get(self->db, first + i, NULL, &raw[i], &len[i]);
        if (err == AT_OK && len[i] > S_BUNDLE_ENTRY_MAX)
            err = AT_ERR_OVERSIZE;
        if (err) {
            s_missing(r, q, first + i, err);
            return;
        }
        total += 2 + len[i];
    }
    *r = (s_reply_t) { .status = MHD_HTTP_OK, .body = at_malloc(total), .len = total, .type = S_BINARY,
                       .cache = q->width == MERKLE_TILE_WIDTH ? S_IMMUTABLE : self->partial_cache };
    uint8_t *p = r->body;
    for (unsigned i = 0; i < q->width; i++) {
        *p++ = (uint8_t) (len[i] >> 8);
        *p++ = (uint8_t) len[i];
        memcpy(p, raw[i], len[i]);
        p += len[i];
    }
}

typedef void(s_serve_fn)(logserve_t *self, const s_tile_req_t *q, s_reply_t *r);

/*  fn in one read transaction of its own, begun and ended here. */
static void s_in_snapshot(logserve_t *self, s_serve_fn *fn, const s_tile_req_t *q, s_reply_t *r)
{
    pthread_mutex_lock(&self->lock);
    at_err err = logdb_read_begin(self->db);
    if (err == AT_OK) {
        fn(self, q, r);
        logdb_read_end(self->db);
    }
    pthread_mutex_unlock(&self->lock);
    if (err) {
        at_log_limited(AT_LOG_ERROR, "LSV-READ", "cannot begin a read transaction: %s", at_strerror(err));
        s_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the log cannot be read now\n");
    }
}

/* ---------------------------------------------------------------- cosignatures */

/*  The body of a stored checkpoint note: every byte up to its last blank
 *  line (the log signs it with one signature line); 0 when there is none. */
static size_t s_note_body_len(const char *note, size_t len)
{
    for (size_t i = len; i >= 2; i--)
        if (note[i - 2] == '\n' && note[i - 1] == '\n')
            return i - 1;
    return 0;
}

/*  Appends the stored cosignatures of the checkpoint in r (14.8). */
static void s_attach(logserve_t *self, s_reply_t *r)
{
    if (!self->cosigs || r->status != MHD_HTTP_OK || !r->body)
        return;
    size_t body_len = s_note_body_len((const char *) r->body, r->len);
    char extra[COSIGSTORE_ATTACH_MAX];
    size_t n = body_len ? cosigstore_attach(self->cosigs, r->size, (const char *) r->body, body_len, extra,
                                            sizeof extra) : 0;
    if (n == 0)
        return;
    r->body = at_realloc(r->body, r->len + n);
    memcpy(r->body + r->len, extra, n);
    r->len += n;
}

/*  The body of the stored checkpoint of tree size `size` (malloc'd), read
 *  in a snapshot of its own. */
static at_err s_stored_body(logserve_t *self, uint64_t size, char **body, size_t *body_len)
{
    const char *note = NULL;
    size_t len = 0;
    uint64_t at = 0;
    pthread_mutex_lock(&self->lock);
    at_err err = logdb_read_begin(self->db);
    if (err == AT_OK) {
        err = logdb_checkpoint(self->db, size, &note, &len, &at);   /* size 0 asks for the newest */
        if (err == AT_OK && at != size)
            err = AT_ERR_NOT_FOUND;
        size_t n = err ? 0 : s_note_body_len(note, len);
        if (err == AT_OK && n == 0)
            err = AT_ERR_CORRUPT;
        if (err == AT_OK) {
            *body = at_malloc(n);
            memcpy(*body, note, n);
            *body_len = n;
        }
        logdb_read_end(self->db);
    }
    pthread_mutex_unlock(&self->lock);
    return err;
}

/*  "<tree size, canonical decimal>\n<cosignature line>\n". */
static bool s_parse_post(const s_post_t *p, uint64_t *size, const char **line, size_t *line_len)
{
    const char *nl = p->over || p->len == 0 ? NULL : memchr(p->buf, '\n', p->len);
    size_t digits = nl ? (size_t) (nl - p->buf) : 0;
    if (digits == 0 || digits > 20 || (digits > 1 && p->buf[0] == '0') || p->buf[p->len - 1] != '\n')
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < digits; i++) {
        unsigned d = (unsigned) ((unsigned char) p->buf[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *size = v;
    *line = nl + 1;
    *line_len = p->len - digits - 1;
    return *line_len > 1 && !memchr(*line, '\n', *line_len - 1);
}

static void s_refuse(s_reply_t *r, unsigned status, const char *text, uint64_t size, const char *witness,
                     at_err err)
{
    at_log_limited(AT_LOG_WARN, "LSV-COSIG-REFUSED", "POST /cosignature (tree size %" PRIu64 ", witness %s): %u %s",
                   size, witness ? witness : "?", status, err ? at_strerror(err) : "malformed body");
    s_text(r, status, text);
}

/*  POST /cosignature: verified against an allowlisted witness key and the
 *  stored checkpoint of its size, then stored (cosigstore.h). */
static void s_cosignature(logserve_t *self, const s_post_t *p, s_reply_t *r)
{
    uint64_t size = 0;
    const char *line, *witness = NULL;
    size_t line_len, body_len;
    char *body = NULL;
    if (!s_parse_post(p, &size, &line, &line_len)) {
        s_refuse(r, MHD_HTTP_BAD_REQUEST, "bad request: the body is \"<tree size>\\n<cosignature line>\\n\"\n", size,
                 NULL, AT_OK);
        return;
    }
    at_err err = s_stored_body(self, size, &body, &body_len);
    if (err == AT_OK)
        err = cosigstore_put(self->cosigs, size, body, body_len, line, line_len, &witness);
    free(body);
    if (err == AT_OK) {
        at_log_debug("LSV-COSIG", "witness %s cosigned the checkpoint of tree size %" PRIu64, witness, size);
        s_text(r, MHD_HTTP_OK, "ok\n");
    } else if (err == AT_ERR_NOT_FOUND)
        s_refuse(r, MHD_HTTP_NOT_FOUND, "no checkpoint of that tree size is stored\n", size, witness, err);
    else if (err == AT_ERR_DENIED)
        s_refuse(r, MHD_HTTP_FORBIDDEN, "forbidden: no allowlisted witness key has this name and key ID\n", size,
                 witness, err);
    else if (err == AT_ERR_SHAPE || err == AT_ERR_SIGNATURE)
        s_refuse(r, MHD_HTTP_BAD_REQUEST, "bad request: not a cosignature of the checkpoint of that size\n", size,
                 witness, err);
    else
        s_refuse(r, err == AT_ERR_IO ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_SERVICE_UNAVAILABLE,
                 "cannot take it now\n", size, witness, err);
}

/* ---------------------------------------------------------------- routing */

static void s_healthz(logserve_t *self, const s_tile_req_t *q, s_reply_t *r)
{
    (void) self;
    (void) q;
    s_text(r, MHD_HTTP_OK, "ok\n");
    r->cache = "no-cache";
}

static const struct {
    const char *path;
    s_kind kind;
    s_serve_fn *fn;
    bool snapshot;
} s_routes[] = {
    { "/checkpoint", S_K_CHECKPOINT, s_checkpoint, true },
    { "/healthz", S_K_HEALTHZ, s_healthz, false },
};

static s_kind s_route(logserve_t *self, const char *method, const char *url, s_reply_t *r)
{
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        s_bad(self, r, MHD_HTTP_METHOD_NOT_ALLOWED, method, url, "method not allowed");
        return S_K_OTHER;
    }
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++)
        if (strcmp(url, s_routes[i].path) == 0) {
            if (s_routes[i].snapshot)
                s_in_snapshot(self, s_routes[i].fn, NULL, r);
            else
                s_routes[i].fn(self, NULL, r);
            if (s_routes[i].kind == S_K_CHECKPOINT)
                s_attach(self, r);   /* outside the snapshot: file reads and signature checks */
            return s_routes[i].kind;
        }
    s_tile_req_t q;
    if (url[0] != '/' || !merkle_tile_parse(url + 1, &q.level, &q.n, &q.width)) {
        s_bad(self, r, MHD_HTTP_NOT_FOUND, method, url, "not a path of the tlog-tiles API");
        return S_K_OTHER;
    }
    bool bundle = q.level == MERKLE_TILE_ENTRIES;
    s_in_snapshot(self, bundle ? s_entries : s_tile, &q, r);
    return bundle ? S_K_ENTRIES : S_K_TILE;
}

static void s_count(logserve_t *self, s_kind kind, const s_reply_t *r)
{
    for (size_t i = 0; i < S_STATUSES; i++)
        if (s_statuses[i] == r->status)
            metrics_add(self->requests[kind][i], 1);
    metrics_add(self->bytes[kind], r->len);
}

static enum MHD_Result s_send(struct MHD_Connection *conn, s_reply_t *r)
{
    struct MHD_Response *resp = r->body ? MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE)
                                        : MHD_create_response_from_buffer(r->len, (void *) r->text,
                                                                          MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(r->body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, r->cache);
    if (r->status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/*  POST /cosignature: the body is gathered (bounded) over the calls, then
 *  answered at the last one (no more upload data). */
static enum MHD_Result s_on_post(logserve_t *self, struct MHD_Connection *conn, const char *upload,
                                 size_t *upload_len, void **con_cls)
{
    s_post_t *p = *con_cls;
    if (!p) {
        *con_cls = at_calloc(1, sizeof *p);
        return MHD_YES;
    }
    if (*upload_len) {
        if (p->len + *upload_len > S_POST_MAX) {
            p->over = true;
        } else {
            memcpy(p->buf + p->len, upload, *upload_len);
            p->len += *upload_len;
        }
        *upload_len = 0;
        return MHD_YES;
    }
    s_reply_t r;
    s_cosignature(self, p, &r);
    free(p);
    *con_cls = &s_answered;
    s_count(self, S_K_COSIGNATURE, &r);
    return s_send(conn, &r);
}

static enum MHD_Result s_on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                    const char *version, const char *upload, size_t *upload_len, void **con_cls)
{
    (void) version;
    logserve_t *self = cls;
    if (*con_cls == &s_answered) {
        *upload_len = 0;   /* a request body is ignored: the answer is queued at the first call */
        return MHD_YES;
    }
    if (self->cosigs && strcmp(method, MHD_HTTP_METHOD_POST) == 0 && strcmp(url, "/cosignature") == 0)
        return s_on_post(self, conn, upload, upload_len, con_cls);
    if (*upload_len) {
        *upload_len = 0;
        return MHD_YES;
    }
    *con_cls = &s_answered;
    s_reply_t r;
    s_kind kind = s_route(self, method, url, &r);
    s_count(self, kind, &r);
    return s_send(conn, &r);
}

/*  A request's end, answered or not: frees a POST body gathered. */
static void s_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void) cls;
    (void) conn;
    (void) toe;
    if (*con_cls && *con_cls != &s_answered)
        free(*con_cls);
    *con_cls = NULL;
}

/*  libmicrohttpd's own complaints (a malformed request, a connection it
 *  dropped): counted, rate limited. */
static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    logserve_t *self = cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\r\n")] = 0;
    metrics_add(self->http_errors, 1);
    at_log_limited(AT_LOG_WARN, "LSV-HTTP", "http: %s", line);
}

/* ---------------------------------------------------------------- start */

/*  "HOST:PORT", ":PORT" (every interface), "[V6]:PORT" -> an address to bind. */
static struct addrinfo *s_resolve(const char *address)
{
    const char *colon = strrchr(address, ':');
    if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) || strlen(colon + 1) > 5
        || atoi(colon + 1) > 65535)
        return NULL;
    char host[256];
    size_t hlen = (size_t) (colon - address);
    const char *h = address;
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen >= sizeof host)
        return NULL;
    memcpy(host, h, hlen);
    host[hlen] = 0;
    struct addrinfo hints = { .ai_family = *host ? AF_UNSPEC : AF_INET, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    return getaddrinfo(*host ? host : NULL, colon + 1, &hints, &res) == 0 ? res : NULL;
}

static at_err s_start_http(logserve_t *self)
{
    struct addrinfo *ai = s_resolve(self->o.listen);
    if (!ai) {
        at_log_error("LSV-START", "--listen '%s' is not HOST:PORT, :PORT or [V6]:PORT", self->o.listen);
        return AT_ERR_CONFIG;
    }
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    self->daemon = MHD_start_daemon(flags, 0, NULL, NULL, s_on_request, self,
                                    MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, self,
                                    MHD_OPTION_NOTIFY_COMPLETED, s_completed, self,
                                    MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                    MHD_OPTION_THREAD_POOL_SIZE, (unsigned) self->o.threads,
                                    MHD_OPTION_CONNECTION_LIMIT, (unsigned) self->o.connections,
                                    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) self->o.connections_per_ip,
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) self->o.timeout_s,
                                    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) S_CONN_MEMORY,
                                    MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!self->daemon) {
        at_log_error("LSV-START", "cannot serve on %s (the port taken? an address of this host?)", self->o.listen);
        return AT_ERR_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? (int) info->port : 0;
    return AT_OK;
}

/*  The server's Prometheus families, every series made at start. */
static at_err s_start_metrics(logserve_t *self)
{
    if (!metrics_wanted(self->o.metrics))
        return AT_OK;
    self->metrics = metrics_new();
    metrics_family_t *req = metrics_family(self->metrics, "attest_logserve_requests_total", METRICS_COUNTER,
                                           "Requests answered, by kind of resource and HTTP status.", "kind,status", 1);
    metrics_family_t *bytes = metrics_family(self->metrics, "attest_logserve_response_bytes_total", METRICS_COUNTER,
                                             "Bytes of response bodies, by kind of resource.", "kind", 1);
    for (size_t k = 0; k < S_KINDS; k++) {
        for (size_t i = 0; i < S_STATUSES; i++) {
            char label[64];
            snprintf(label, sizeof label, "%s" METRICS_SEP "%u", s_kind_names[k], s_statuses[i]);
            self->requests[k][i] = metrics_series(req, label);
        }
        self->bytes[k] = metrics_series(bytes, s_kind_names[k]);
    }
    self->bad = metrics_counter(self->metrics, "attest_logserve_bad_requests_total",
                                "Requests for no resource of the API (malformed paths) or with another method.");
    self->http_errors = metrics_counter(self->metrics, "attest_logserve_http_errors_total",
                                        "Errors libmicrohttpd logged: malformed HTTP, dropped connections.");
    return metrics_serve(self->metrics, self->o.metrics, "LSV-METRICS");
}

/*  The witness allowlist and the cosignature store, when asked for. */
static at_err s_start_cosigs(logserve_t *self)
{
    bool keys = self->o.witness_keys && *self->o.witness_keys, store = self->o.cosignatures && *self->o.cosignatures;
    if (!keys && !store)
        return AT_OK;
    if (!keys || !store) {
        at_log_error("LSV-START", "--witness-keys DIR and --cosignatures DIR go together (the allowlist of "
                     "witness keys, where their cosignatures are kept)");
        return AT_ERR_CONFIG;
    }
    at_err err;
    self->cosigs = cosigstore_new(self->o.witness_keys, self->o.cosignatures, &err);
    if (self->cosigs)
        at_log_info("LSV-WITNESS", "%zu witness key(s) from %s; cosignatures kept in %s: POST /cosignature",
                    cosigstore_witnesses(self->cosigs), self->o.witness_keys, self->o.cosignatures);
    return err;
}

logserve_t *logserve_new(const logserve_opts_t *opts, at_err *err)
{
    assert(opts->threads >= 1 && opts->connections >= 1);
    logserve_t *self = at_calloc(1, sizeof *self);
    self->o = *opts;
    pthread_mutex_init(&self->lock, NULL);
    snprintf(self->partial_cache, sizeof self->partial_cache, "public, max-age=%lld",
             (long long) opts->partial_max_age_s);
    struct stat st;
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", opts->dir);
    if (stat(path, &st) != 0) {
        at_log_error("LSV-START", "no log at %s (%s): pass the sink's --log-dir", opts->dir, strerror(errno));
        *err = AT_ERR_NOT_FOUND;
    } else if ((self->db = logdb_open(opts->dir, true, 0, err)) != NULL && (*err = s_start_metrics(self)) == AT_OK
               && (*err = s_start_cosigs(self)) == AT_OK) {
        *err = s_start_http(self);
    }
    if (*err) {
        logserve_destroy(&self);
        return NULL;
    }
    return self;
}

void logserve_destroy(logserve_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    logserve_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon(self->daemon);   /* joins the threads: no request runs after this */
    cosigstore_destroy(&self->cosigs);
    metrics_destroy(&self->metrics);
    logdb_destroy(&self->db);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

int logserve_port(const logserve_t *self) { return self ? self->port : 0; }

/* ---------------------------------------------------------------- command */

#define O_ logserve_opts_t
static const cfg_def_t s_defs[] = {
    CFG_STR_ALIAS_AT(O_, dir, "log-dir", "dir", "attest-data/log",
                     "log directory (the sink's --log-dir; holds data.mdb)"),
    CFG_STR_AT(O_, listen, "listen", "127.0.0.1:5558", "HOST:PORT to serve on (:PORT every interface; port 0: any)"),
    CFG_INT_AT(O_, threads, "threads", "2", 1, 64, "HTTP threads (libmicrohttpd's pool)"),
    CFG_INT_AT(O_, connections, "connections", "256", 1, 65536, "open connections at most; more wait in the backlog"),
    CFG_INT_AT(O_, connections_per_ip, "connections-per-ip", "0", 0, 65536,
               "open connections per client address at most (0: no limit; behind a proxy keep 0)"),
    CFG_INT_AT(O_, timeout_s, "timeout-s", "30", 1, 3600, "an idle connection is closed after this many seconds"),
    CFG_INT_AT(O_, partial_max_age_s, "partial-max-age-s", "10", 0, 86400,
               "Cache-Control max-age of partial tiles and bundles (full ones: a year, immutable)"),
    CFG_STR_AT(O_, metrics, "metrics", "", "serve Prometheus /metrics on HOST:PORT (empty: off)"),
    CFG_STR_AT(O_, witness_keys, "witness-keys", "",
               "directory of witness verifier keys (attest keygen --witness: NAME.pub) whose cosignatures are "
               "taken (POST /cosignature) and served on /checkpoint (empty: none)"),
    CFG_STR_AT(O_, cosignatures, "cosignatures", "",
               "directory where accepted cosignatures are kept (with --witness-keys)"),
    CFG_STR_NAMED("log-level", "info", "debug, info, warn or error"),
};
#undef O_

static int s_serve(const cfg_t *cfg, void *settings)
{
    (void) cfg;
    const logserve_opts_t *o = settings;
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);   /* before the threads start: they inherit it */
    at_err err;
    logserve_t *s = logserve_new(o, &err);
    if (!s)
        return err == AT_ERR_CONFIG ? 2 : 1;
    at_log_info("LSV-START", "serving the log %s on http://%s (port %d): /checkpoint, /tile/L/N, /tile/entries/N",
                o->dir, o->listen, logserve_port(s));
    int sig = 0;
    sigwait(&stop, &sig);
    at_log_info("LSV-STOP", "signal %d: stopping", sig);
    logserve_destroy(&s);
    return 0;
}

int logserve_main(int argc, char **argv)
{
    logserve_opts_t settings;
    const cfg_app_t app = {
        .prog = "attest log serve",
        .summary = "attest log serve: serves the log's checkpoint, Merkle tree tiles and entry\n"
                   "bundles over HTTP (the C2SP tlog-tiles API), read-only, until Ctrl-C.\n\n"
                   "With --witness-keys DIR --cosignatures DIR it also takes witness cosignatures\n"
                   "(POST /cosignature, from `attest witness`) and appends them to /checkpoint.\n\n"
                   "Usage: attest log serve [--log-dir DIR] [--listen HOST:PORT] [options]",
        .defs = s_defs,
        .ndefs = sizeof s_defs / sizeof s_defs[0],
        .log_component = "logserve",
        .settings = &settings,
        .fn = s_serve,
    };
    return cfg_run(&app, argc, argv);
}
