/*  logserve.h: `attest log serve`, a read-only HTTP server of the log's
 *  Merkle tree in the C2SP tlog-tiles API (docs/protocol-14-serve.md):
 *
 *    GET /checkpoint                  the newest signed checkpoint note
 *    GET /tile/<L>/<N>[.p/<W>]        stored hashes (tlog/merkle.h paths)
 *    GET /tile/entries/<N>[.p/<W>]    entry bundles: for each entry a
 *                                     big-endian uint16 length, then its
 *                                     stored value bytes (the leaf)
 *    GET /healthz                     200 "ok"
 *    POST /cosignature                with witness keys (protocol.md 14.8): a
 *                                     witness's cosignature, "<size>\n<line>\n";
 *                                     200, 400, 403 (not allowlisted), 404
 *
 *  With witness keys, /checkpoint carries the stored cosignatures of its
 *  size after the log's signature line (cosigstore.h).
 *
 *  Nothing beyond the newest checkpoint's tree size is ever served, so
 *  every byte a client gets is covered by a signed checkpoint. Full tiles
 *  and bundles are immutable (cached for a year), partial ones briefly, the
 *  checkpoint not at all. Every request runs in one short LMDB read
 *  transaction of its own, begun and ended inside the request (nothing is
 *  held between requests), so the sink, the log's one writer, is never
 *  blocked and LMDB can reuse the pages it frees.
 *
 *  Threads: libmicrohttpd's own pool. One logdb_t is shared, and each
 *  request's read transaction is taken under a mutex: a logdb_t holds one
 *  transaction at a time, and LMDB forbids opening one environment twice
 *  in a process (so not a logdb per thread). The response body is copied
 *  out of the snapshot before the transaction ends; the network I/O runs
 *  outside the mutex.
 *
 *  Bad input (a malformed path, another method, garbage on the socket) is
 *  a status code, a counter and a rate-limited log line, never a crash.
 */
#ifndef AT_LOGSERVE_H
#define AT_LOGSERVE_H
#include "at_err.h"
#include <stdint.h>

typedef struct {
    const char *dir;              /* the log directory (holds data.mdb); borrowed */
    const char *listen;           /* HOST:PORT, :PORT, [V6]:PORT; PORT 0 picks a free one; borrowed */
    int64_t threads;              /* libmicrohttpd thread pool size, >= 1 */
    int64_t connections;          /* open connections at most (all threads) */
    int64_t connections_per_ip;   /* 0: no limit per client address */
    int64_t timeout_s;            /* an idle connection is closed after this */
    int64_t partial_max_age_s;    /* Cache-Control max-age of partial tiles and bundles */
    const char *metrics;          /* "" : none; else Prometheus /metrics on this address; borrowed */
    const char *witness_keys;     /* "" or NULL: no witnesses; else the allowlist directory (cosigstore.h) */
    const char *cosignatures;     /* with witness_keys: where accepted cosignatures are kept; borrowed */
} logserve_opts_t;

typedef struct logserve_t logserve_t;

/*  Opens the log read-only and starts serving. NULL with *err set (and the
 *  reason logged) when the log cannot be opened (AT_ERR_DB, AT_ERR_NOT_FOUND),
 *  the address is not one (AT_ERR_CONFIG) or cannot be bound (AT_ERR_IO).
 *  opts is copied; its strings must outlive the server. */
logserve_t *logserve_new(const logserve_opts_t *opts, at_err *err);
/*  Stops the HTTP threads (requests in progress finish first), closes the
 *  log, sets *self_p to NULL; safe twice and on NULL. */
void logserve_destroy(logserve_t **self_p);
/*  The TCP port served (the one picked when the address asked for 0). */
int logserve_port(const logserve_t *self);

/*  The `attest log serve` command: argv[0] is "serve", then its options
 *  (--help lists them). Serves until SIGINT or SIGTERM, then exits 0; 1
 *  when it cannot start, 2 on a usage error. */
int logserve_main(int argc, char **argv);

#endif
